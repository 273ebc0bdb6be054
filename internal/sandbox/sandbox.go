package sandbox

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Defaults of Options.
const (
	DefaultOffsetsTopic      = "connect-offsets"
	DefaultOffsetsPartitions = 25
	DefaultConfigTopic       = "connect-configs"
	DefaultStatusTopic       = "connect-status"
	defaultStatusPartitions  = 5
	defaultFetchMaxWait      = 250 * time.Millisecond
)

// Options shape a sandbox. The zero value is a Kafka Connect 3.8 worker on
// a loopback port with the standard internal topic names.
type Options struct {
	// ConnectVersion is the Kafka Connect release to emulate: "3.4" to "3.8"
	// (or "3.N.P"); empty means 3.8.
	ConnectVersion string
	// Logf receives one line per notable event; nil discards them.
	Logf func(format string, args ...any)
	// ConnectAddr is the REST listener's address; empty means 127.0.0.1:0.
	ConnectAddr string
	// KafkaPort is the broker's loopback port; 0 picks a free one.
	KafkaPort int
	// OffsetsTopic and OffsetsPartitions name and size the source offsets
	// topic (compacted); defaults connect-offsets and 25.
	OffsetsTopic      string
	OffsetsPartitions int32
	// TaskShutdownTimeout is task.shutdown.graceful.timeout.ms: how long a
	// stop waits for a task before abandoning it; default 5s.
	TaskShutdownTimeout time.Duration
	// ExactlyOnceSource emulates a worker with
	// exactly.once.source.support=enabled as far as others can see it: the
	// leader writes a task-count record (tasks-fencing-NAME) to the config
	// topic each time it starts a source connector's tasks.
	ExactlyOnceSource bool
}

// Sandbox is a running Kafka (kfake) plus Kafka Connect REST emulator.
type Sandbox struct {
	opts      Options
	version   connectVersion
	logf      func(string, ...any)
	cluster   *kfake.Cluster
	clusterID string
	seeds     []string
	adm       *kadm.Client
	admCl     *kgo.Client
	store     *offsetStore
	worker    *worker
	http      *http.Server
	url       string
	faults    *Faults

	closeOnce sync.Once
	mu        sync.Mutex
	pipelines []*Pipeline
}

// Start starts Kafka, creates the Connect internal topics and serves the
// Connect REST API. The caller must Close the sandbox.
func Start(ctx context.Context, opts Options) (*Sandbox, error) {
	v, err := parseConnectVersion(opts.ConnectVersion)
	if err != nil {
		return nil, err
	}
	if opts.OffsetsTopic == "" {
		opts.OffsetsTopic = DefaultOffsetsTopic
	}
	if opts.OffsetsPartitions <= 0 {
		opts.OffsetsPartitions = DefaultOffsetsPartitions
	}
	if opts.TaskShutdownTimeout <= 0 {
		opts.TaskShutdownTimeout = 5 * time.Second
	}
	if opts.ConnectAddr == "" {
		opts.ConnectAddr = "127.0.0.1:0"
	}
	logf := opts.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	s := &Sandbox{opts: opts, version: v, logf: logf, clusterID: newClusterID()}
	ok := false
	defer func() {
		if !ok {
			s.Close()
		}
	}()
	kopts := []kfake.Opt{kfake.NumBrokers(1), kfake.ClusterID(s.clusterID)}
	if opts.KafkaPort != 0 {
		kopts = append(kopts, kfake.Ports(opts.KafkaPort))
	}
	s.cluster, err = kfake.NewCluster(kopts...)
	if err != nil {
		return nil, fmt.Errorf("starting the in-process Kafka (kfake): %w", err)
	}
	s.seeds = s.cluster.ListenAddrs()
	compact := map[string]string{"cleanup.policy": "compact"}
	for _, t := range []struct {
		name string
		n    int32
	}{{opts.OffsetsTopic, opts.OffsetsPartitions}, {DefaultConfigTopic, 1}, {DefaultStatusTopic, defaultStatusPartitions}} {
		if err := s.cluster.CreateTopic(t.name, t.n, compact); err != nil {
			return nil, fmt.Errorf("creating the Connect topic %s: %w", t.name, err)
		}
	}
	s.admCl, err = kgo.NewClient(kgo.SeedBrokers(s.seeds...))
	if err != nil {
		return nil, fmt.Errorf("creating a Kafka admin client: %w", err)
	}
	s.adm = kadm.NewClient(s.admCl)
	s.store, err = newOffsetStore(s.seeds, opts.OffsetsTopic, opts.OffsetsPartitions, s.adm)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", opts.ConnectAddr)
	if err != nil {
		return nil, fmt.Errorf("listening for the Connect REST API on %s: %w", opts.ConnectAddr, err)
	}
	addr := ln.Addr().(*net.TCPAddr)
	workerID := addr.IP.String() + ":" + strconv.Itoa(addr.Port)
	s.url = "http://" + workerID
	s.worker = newWorker(s, v, workerID, s.store, s.adm, logf, opts.TaskShutdownTimeout)
	s.worker.internal, err = kgo.NewClient(kgo.SeedBrokers(s.seeds...), kgo.ProducerLinger(0))
	if err != nil {
		return nil, fmt.Errorf("creating the config and status topic writer: %w", err)
	}
	s.faults = &Faults{w: s.worker}
	s.http = &http.Server{Handler: newRESTHandler(s), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logf("Connect REST server stopped: %v", err)
		}
	}()
	ok = true
	logf("sandbox up: Kafka Connect %s at %s, Kafka at %v", v.full, s.url, s.seeds)
	return s, nil
}

func newClusterID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// ConnectURL is the base URL of the Connect REST API.
func (s *Sandbox) ConnectURL() string { return s.url }

// BootstrapServers are the broker addresses (host:port).
func (s *Sandbox) BootstrapServers() []string { return append([]string(nil), s.seeds...) }

// OffsetsTopic is the source offsets topic.
func (s *Sandbox) OffsetsTopic() string { return s.opts.OffsetsTopic }

// OffsetsPartitions is the offsets topic's partition count.
func (s *Sandbox) OffsetsPartitions() int32 { return s.opts.OffsetsPartitions }

// ConnectVersion is the emulated release, e.g. "3.8.0".
func (s *Sandbox) ConnectVersion() string { return s.version.full }

// ClusterID is the Kafka cluster id GET / reports.
func (s *Sandbox) ClusterID() string { return s.clusterID }

// Kafka returns the in-process broker, for tests that need its controls.
func (s *Sandbox) Kafka() *kfake.Cluster { return s.cluster }

// Faults returns the fault switches.
func (s *Sandbox) Faults() *Faults { return s.faults }

// Close stops the pipelines, every task (source tasks commit their offsets
// one last time), the REST server and Kafka. It is safe to call twice.
func (s *Sandbox) Close() {
	s.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if s.http != nil {
			_ = s.http.Shutdown(ctx)
		}
		if s.worker != nil {
			s.worker.shutdown(ctx)
		}
		s.mu.Lock()
		pls := s.pipelines
		s.pipelines = nil
		s.mu.Unlock()
		for _, p := range pls {
			p.close()
		}
		if s.worker != nil {
			s.worker.closeOwnStores()
		}
		if s.store != nil {
			s.store.close()
		}
		if s.worker != nil && s.worker.internal != nil {
			_ = s.worker.internal.Flush(ctx)
			s.worker.internal.Close()
		}
		if s.admCl != nil {
			s.admCl.Close()
		}
		if s.cluster != nil {
			s.cluster.Close()
		}
	})
}
