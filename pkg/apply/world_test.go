package apply_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/offsetctl/offsetctl/internal/sandbox"
	"github.com/offsetctl/offsetctl/pkg/apply"
	"github.com/offsetctl/offsetctl/pkg/config"
	"github.com/offsetctl/offsetctl/pkg/connect"
	"github.com/offsetctl/offsetctl/pkg/offsets"
	"github.com/offsetctl/offsetctl/pkg/plan"
	"github.com/offsetctl/offsetctl/pkg/state"
	"github.com/offsetctl/offsetctl/pkg/state/local"
)

// world is one sandbox with a proxy in front of its REST API, the clients
// apply uses, and a state file.
type world struct {
	t       *testing.T
	sb      *sandbox.Sandbox
	proxy   *proxy
	clients *clients
	dir     string
	kcl     *kgo.Client
	adm     *kadm.Client
}

const testGrace = 100 * time.Millisecond

func newWorld(t *testing.T, version string) *world {
	t.Helper()
	ctx := context.Background()
	sb, err := sandbox.Start(ctx, sandbox.Options{ConnectVersion: version, TaskShutdownTimeout: testGrace, OffsetsPartitions: 5})
	if err != nil {
		t.Fatalf("starting the sandbox: %v", err)
	}
	t.Cleanup(sb.Close)
	px := newProxy(t, sb.ConnectURL())
	kcl, err := kgo.NewClient(kgo.SeedBrokers(sb.BootstrapServers()...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kcl.Close)
	w := &world{t: t, sb: sb, proxy: px, dir: t.TempDir(), kcl: kcl, adm: kadm.NewClient(kcl)}
	w.clients = &clients{url: px.url, kcl: kcl}
	return w
}

func newKafkaClient(t *testing.T, sb *sandbox.Sandbox) *kgo.Client {
	t.Helper()
	kcl, err := kgo.NewClient(kgo.SeedBrokers(sb.BootstrapServers()...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kcl.Close)
	return kcl
}

// clients implements plan.Clients on the sandbox, through the proxy.
type clients struct {
	url string
	kcl *kgo.Client
	// timeout bounds each Connect request (10 s when zero).
	timeout time.Duration
}

func (c *clients) Connect(*config.Connect) (*connect.Client, error) {
	timeout := c.timeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	return connect.New(connect.Config{URL: c.url, RetryBackoff: 20 * time.Millisecond, Timeout: timeout})
}

func (c *clients) Kafka(*config.Kafka) (*kgo.Client, error) { return c.kcl, nil }

var _ plan.Clients = (*clients)(nil)

// proxy forwards to the sandbox's REST API, records every answer, and can
// cut the connection (Connect unreachable).
type proxy struct {
	url string
	cut atomic.Bool
	// after, when set, runs after a request was answered by the sandbox
	// and before the answer goes back to the client; it returns whether
	// to stay installed.
	after atomic.Pointer[func(method, path string) bool]
	mu    sync.Mutex
	seen  []string // "METHOD path status"
}

func newProxy(t *testing.T, target string) *proxy {
	u, _ := url.Parse(target)
	rp := httputil.NewSingleHostReverseProxy(u)
	p := &proxy{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if p.cut.Load() {
			hj, ok := rw.(http.Hijacker)
			if ok {
				if c, _, err := hj.Hijack(); err == nil {
					c.Close()
					return
				}
			}
			rw.WriteHeader(http.StatusBadGateway)
			return
		}
		rec := &statusRecorder{ResponseWriter: rw, status: 200}
		rp.ServeHTTP(rec, r)
		if f := p.after.Load(); f != nil && !(*f)(r.Method, r.URL.Path) {
			p.after.CompareAndSwap(f, nil)
		}
		p.mu.Lock()
		p.seen = append(p.seen, fmt.Sprintf("%s %s %d", r.Method, r.URL.Path, rec.status))
		p.mu.Unlock()
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	p.url = "http://" + ln.Addr().String()
	return p
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) { s.status = code; s.ResponseWriter.WriteHeader(code) }

func (p *proxy) calls(prefix string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, s := range p.seen {
		if strings.HasPrefix(s, prefix) {
			out = append(out, s)
		}
	}
	return out
}

// connectClient is a direct client for test setup and assertions.
func (w *world) cc() *connect.Client {
	c, err := connect.New(connect.Config{URL: w.sb.ConnectURL(), RetryBackoff: 20 * time.Millisecond})
	if err != nil {
		w.t.Fatal(err)
	}
	return c
}

// createTopic makes a topic with n partitions holding count records each.
func (w *world) createTopic(name string, partitions int32, count int) {
	w.t.Helper()
	ctx := context.Background()
	if _, err := w.adm.CreateTopic(ctx, partitions, 1, nil, name); err != nil {
		w.t.Fatal(err)
	}
	var recs []*kgo.Record
	for p := int32(0); p < partitions; p++ {
		for i := 0; i < count; i++ {
			recs = append(recs, &kgo.Record{Topic: name, Partition: p, Value: []byte(fmt.Sprint(i))})
		}
	}
	prod, err := kgo.NewClient(kgo.SeedBrokers(w.sb.BootstrapServers()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		w.t.Fatal(err)
	}
	defer prod.Close()
	if err := prod.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		w.t.Fatal(err)
	}
}

// createConnector creates a connector (inert classes run no work) and waits
// until it runs.
func (w *world) createConnector(name string, cfg map[string]string) {
	w.t.Helper()
	ctx := context.Background()
	cfg["name"] = name
	if _, _, err := w.cc().PutConfig(ctx, name, cfg); err != nil {
		w.t.Fatalf("creating %s: %v", name, err)
	}
	if _, err := w.cc().WaitForState(ctx, name, connect.StateRunning, connect.WaitOptions{Interval: 10 * time.Millisecond, Timeout: 10 * time.Second}); err != nil {
		w.t.Fatal(err)
	}
}

// setOffsets writes offsets through the REST API (stop, PATCH, resume to
// the state given).
func (w *world) setOffsets(name string, body string, leave connect.State) {
	w.t.Helper()
	ctx := context.Background()
	cc := w.cc()
	if err := cc.Stop(ctx, name); err != nil {
		w.t.Fatal(err)
	}
	var offs connect.ConnectorOffsets
	if err := jsonUnmarshal(body, &offs); err != nil {
		w.t.Fatal(err)
	}
	if _, err := cc.AlterOffsets(ctx, name, offs); err != nil {
		w.t.Fatalf("setting offsets of %s: %v", name, err)
	}
	w.setState(name, leave)
}

func (w *world) setState(name string, s connect.State) {
	w.t.Helper()
	ctx := context.Background()
	cc := w.cc()
	var err error
	switch s {
	case connect.StateRunning:
		err = cc.Resume(ctx, name)
	case connect.StatePaused:
		if err = cc.Resume(ctx, name); err == nil {
			if _, err = cc.WaitForState(ctx, name, connect.StateRunning, connect.WaitOptions{Interval: 10 * time.Millisecond, Timeout: 10 * time.Second}); err == nil {
				err = cc.Pause(ctx, name)
			}
		}
	case connect.StateStopped:
		err = cc.Stop(ctx, name)
	}
	if err != nil {
		w.t.Fatal(err)
	}
	if _, err := cc.WaitForState(ctx, name, s, connect.WaitOptions{Interval: 10 * time.Millisecond, Timeout: 10 * time.Second}); err != nil {
		w.t.Fatal(err)
	}
}

// sinkOffsets returns a sink's committed offsets by "topic[p]" (-1 none),
// read through the REST API.
func (w *world) sinkOffsets(name string) map[string]int64 {
	w.t.Helper()
	got, err := w.cc().Offsets(context.Background(), name)
	if err != nil {
		w.t.Fatal(err)
	}
	out := map[string]int64{}
	for _, o := range got.Offsets {
		var p struct {
			T string `json:"kafka_topic"`
			P int32  `json:"kafka_partition"`
		}
		var v struct {
			O int64 `json:"kafka_offset"`
		}
		if err := jsonUnmarshal(string(o.Partition), &p); err != nil {
			w.t.Fatal(err)
		}
		if err := jsonUnmarshal(string(o.Offset), &v); err != nil {
			w.t.Fatal(err)
		}
		out[fmt.Sprintf("%s[%d]", p.T, p.P)] = v.O
	}
	return out
}

// sourceOffsets returns a source's offsets as "partition=offset" lines.
func (w *world) sourceOffsets(name string) string {
	w.t.Helper()
	got, err := w.cc().Offsets(context.Background(), name)
	if err != nil {
		w.t.Fatal(err)
	}
	var lines []string
	for _, o := range got.Offsets {
		lines = append(lines, string(o.Partition)+"="+string(o.Offset))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func (w *world) connectorState(name string) string {
	w.t.Helper()
	st, err := w.cc().Status(context.Background(), name)
	if err != nil {
		w.t.Fatal(err)
	}
	s := string(st.Connector.State)
	for _, t := range st.Tasks {
		if t.State != st.Connector.State {
			s += fmt.Sprintf(" (task %d %s)", t.ID, t.State)
		}
	}
	return s
}

// config loads an HCL configuration with the sandbox's addresses.
func (w *world) config(hcl string) *config.Config {
	w.t.Helper()
	head := fmt.Sprintf(`
connect "sb" { url = %q }
kafka "sb" {
  brokers       = [%q]
  offsets_topic = %q
}
`, w.proxy.url, w.sb.BootstrapServers()[0], w.sb.OffsetsTopic())
	dir := filepath.Join(w.dir, "cfg")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		w.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(head+hcl), 0o644); err != nil {
		w.t.Fatal(err)
	}
	cfg, diags := config.Load(dir, config.Options{})
	if diags.HasErrors() {
		w.t.Fatalf("configuration: %v", diags)
	}
	return cfg
}

// observe re-observes as planning does.
func (w *world) observe(ctx context.Context, cfg *config.Config, addrs []string) (map[string]*plan.ConnectorObservation, error) {
	return w.planner().Observe(ctx, cfg, addrs)
}

func (w *world) planner() *plan.Planner {
	return &plan.Planner{Clients: w.clients, Codecs: offsets.NewRegistry(), Version: "test",
		Now: func() time.Time { return time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC) }}
}

// plan makes a plan against the current state.
func (w *world) plan(cfg *config.Config, b state.Backend) *plan.Plan {
	w.t.Helper()
	ctx := context.Background()
	opts := plan.Options{}
	if st, err := b.Read(ctx); err == nil {
		opts.State = plan.StateRef{Lineage: st.Lineage, Serial: st.Serial}
		opts.Applied = func(name string) (uint64, string, bool) {
			op, ok := st.LastApplied(name)
			if !ok {
				return 0, "", false
			}
			return op.Serial, op.BlockHash, true
		}
	}
	p, err := w.planner().Plan(ctx, cfg, opts)
	if err != nil {
		w.t.Fatalf("planning: %v", err)
	}
	if _, err := plan.Marshal(p); err != nil {
		w.t.Fatal(err)
	}
	return p
}

func (w *world) backend() *local.Backend {
	n := 0
	return local.New(filepath.Join(w.dir, "state.json"), local.WithIDGenerator(func() (string, error) {
		n++
		return fmt.Sprintf("lock-%d", n), nil
	}))
}

// applier builds an Applier with short waits; events are collected.
func (w *world) applier(b state.Backend, hook func(apply.Point) error, events *[]apply.Event) *apply.Applier {
	w.t.Helper()
	ids := 0
	a, err := apply.New(apply.Options{
		Backend: b, Clients: w.clients, Observe: w.observe,
		Observer: apply.ObserverFunc(func(e apply.Event) {
			if events != nil {
				*events = append(*events, e)
			}
		}),
		NewID: func() (string, error) { ids++; return fmt.Sprintf("lineage-%d", ids), nil },
		Who:   "tester", Host: "testhost",
		GracePeriod: testGrace, PollInterval: 10 * time.Millisecond, WaitTimeout: 10 * time.Second,
		RunningWatch: 150 * time.Millisecond, Hook: hook,
	})
	if err != nil {
		w.t.Fatal(err)
	}
	return a
}

func lock(t *testing.T, b state.Backend) string {
	t.Helper()
	id, err := b.Lock(context.Background(), state.LockInfo{Operation: "apply", Who: "tester"})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func readState(t *testing.T, b state.Backend) *state.State {
	t.Helper()
	st, err := b.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func statuses(st *state.State) string {
	var parts []string
	for _, op := range st.Operations {
		s := fmt.Sprintf("%d %s %s", op.Serial, op.Kind, op.Status)
		if op.RolledBackBy != 0 {
			s += fmt.Sprintf(" by %d", op.RolledBackBy)
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}
