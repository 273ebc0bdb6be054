package realstack

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"text/template"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/offsetctl/offsetctl/internal/faultproxy"
	"github.com/offsetctl/offsetctl/internal/pgcluster"
)

// Names the stack gives to what it creates. They are fixed so that recorded
// fixtures (key bytes, partitions, group names) stay comparable across runs.
const (
	SourceConnectorName = "pg-customers"           // Debezium PostgreSQL source
	SinkConnectorName   = "jdbc-customers"         // Debezium JDBC sink
	TopicPrefix         = "shop"                   // Debezium topic.prefix, the offset partition's "server"
	CustomersTopic      = "shop.public.customers"  // the change topic between source and sink
	SourceDBName        = "shop"                   // database holding public.customers
	SinkDBName          = "warehouse"              // database the sink writes public.customers into
	SlotName            = "offsetctl_shop"         // the source's replication slot
	PublicationName     = "offsetctl_shop"         // the source's publication
	WorkerGroupID       = "offsetctl-realstack"    // the Connect cluster's group.id
	OffsetsTopicName    = "connect-offsets"        // the worker's offset.storage.topic
	ConfigTopicName     = "connect-configs"        // the worker's config.storage.topic
	StatusTopicName     = "connect-status"         // the worker's status.storage.topic
	OffsetsPartitions   = 25                       // partitions of the offsets topic (Kafka's default)
	SinkGroupID         = "connect-jdbc-customers" // the sink's consumer group
)

// SeedCustomers is how many rows public.customers holds when Start returns:
// SeedCustomers-1 rows taken by Debezium's initial snapshot and one streamed
// row (the highest id) that proves streaming works.
const SeedCustomers = 4

// Options shape a stack. The zero value is what tests want.
type Options struct {
	// Logf receives progress lines; nil discards them.
	Logf func(format string, args ...any)
	// OffsetFlushInterval is the worker's offset.flush.interval.ms (how often
	// source offsets and sink consumer positions are committed). Default 1 s.
	OffsetFlushInterval time.Duration
	// BrokerHeapMiB and ConnectHeapMiB cap the two JVMs' heaps. Defaults 384
	// and 512.
	BrokerHeapMiB, ConnectHeapMiB int
	// PluginDiscovery is the worker's plugin.discovery (service_load by
	// default: every plugin it needs ships ServiceLoader manifests).
	PluginDiscovery string
	// ExactlyOnceSource starts the worker with
	// exactly.once.source.support=enabled (default disabled). The shared
	// stack of Get never does; a test that needs it starts a stack of its
	// own.
	ExactlyOnceSource bool
}

// Phase is one timed step of Start.
type Phase struct {
	Name string
	Took time.Duration
}

// Stack is a running real stack. Close ends every process it started.
type Stack struct {
	dir    string // holds Kafka's data, configs and logs
	logDir string
	java   jvm
	// toolsLog4j configures Kafka's command-line tools (warnings to stderr).
	toolsLog4j string
	pg         *pgcluster.Cluster
	broker     *proc
	connect    *proc
	brokerPt   int
	restPort   int
	// kafkaProxy forwards to the broker's PROXIED listener, which
	// advertises the proxy's own address.
	kafkaProxy *faultproxy.Proxy
	logf       func(string, ...any)
	timings    []Phase

	mu        sync.Mutex
	keepLogs  bool
	closeOnce sync.Once

	// The MariaDB server, started on first use (Stack.MariaDB).
	mariaOnce sync.Once
	maria     *MariaDB
	mariaErr  error
}

// ConnectURL is the worker's REST base URL, e.g. http://127.0.0.1:41234.
func (s *Stack) ConnectURL() string { return "http://127.0.0.1:" + strconv.Itoa(s.restPort) }

// BootstrapServers is the broker's client listener, host:port.
func (s *Stack) BootstrapServers() string { return "127.0.0.1:" + strconv.Itoa(s.brokerPt) }

// KafkaProxy is a fault proxy in front of the broker: a listener of its
// own whose advertised address is the proxy's, so that a client
// bootstrapped at ProxiedBootstrapServers reaches the broker only through
// it (metadata, produce, fetch, everything). It speaks Kafka's framing
// (faultproxy.KafkaRequest). Tests that set faults clear them when done.
func (s *Stack) KafkaProxy() *faultproxy.Proxy { return s.kafkaProxy }

// ProxiedBootstrapServers is the address of KafkaProxy, host:port.
func (s *Stack) ProxiedBootstrapServers() string { return s.kafkaProxy.Addr() }

// OffsetsTopic is the worker's source offsets topic.
func (s *Stack) OffsetsTopic() string { return OffsetsTopicName }

// SourceDB is the URL of the database Debezium captures (public.customers).
func (s *Stack) SourceDB() string { return s.pg.URL(SourceDBName) }

// SinkDB is the URL of the database the JDBC sink writes into.
func (s *Stack) SinkDB() string { return s.pg.URL(SinkDBName) }

// SourceConnector and SinkConnector are the two connectors' names.
func (s *Stack) SourceConnector() string { return SourceConnectorName }

// SinkConnector is the JDBC sink's connector name.
func (s *Stack) SinkConnector() string { return SinkConnectorName }

// LogDir holds one log file per process (broker.log, connect.log,
// kafka-storage.log, and postgres.log once the stack is closed with logs
// kept).
func (s *Stack) LogDir() string { return s.logDir }

// Timings lists how long each phase of Start took.
func (s *Stack) Timings() []Phase { return append([]Phase(nil), s.timings...) }

// ConsumerGroupsTool is the main class of `kafka-consumer-groups`.
const ConsumerGroupsTool = "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand"

// RunTool runs one of Kafka's command-line tools (a main class on the
// stack's class path, e.g. ConsumerGroupsTool) against this stack's broker;
// args follow the main class, so pass --bootstrap-server BootstrapServers()
// yourself. It returns the tool's standard output; logging (warnings only)
// and errors go to stderr, quoted in the error when the tool fails.
func (s *Stack) RunTool(ctx context.Context, mainClass string, args ...string) ([]byte, error) {
	argv := s.java.args(128, mainClass, args...)
	for i, a := range argv {
		if strings.HasPrefix(a, "-Dlog4j2.configurationFile=") {
			argv[i] = "-Dlog4j2.configurationFile=" + s.toolsLog4j
		}
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = javaEnv()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("running %s: %w\n%s", mainClass, err, bytes.TrimSpace(stderr.Bytes()))
	}
	return out, nil
}

// KeepLogs makes Close leave the log directory in place.
func (s *Stack) KeepLogs() {
	s.mu.Lock()
	s.keepLogs = true
	s.mu.Unlock()
}

// SourceConnectorConfig is the Debezium PostgreSQL source's configuration on
// this stack (a fresh copy each call).
func (s *Stack) SourceConnectorConfig() map[string]string {
	return map[string]string{
		"connector.class":             "io.debezium.connector.postgresql.PostgresConnector",
		"tasks.max":                   "1",
		"database.hostname":           "127.0.0.1",
		"database.port":               strconv.Itoa(s.pg.Port),
		"database.user":               s.pg.User,
		"database.password":           "unused-trust-auth",
		"database.dbname":             SourceDBName,
		"topic.prefix":                TopicPrefix,
		"plugin.name":                 "pgoutput",
		"slot.name":                   SlotName,
		"publication.name":            PublicationName,
		"publication.autocreate.mode": "filtered",
		"table.include.list":          "public.customers",
		"snapshot.mode":               "initial",
	}
}

// SinkConnectorConfig is the Debezium JDBC sink's configuration on this
// stack (a fresh copy each call).
func (s *Stack) SinkConnectorConfig() map[string]string {
	return map[string]string{
		"connector.class":          "io.debezium.connector.jdbc.JdbcSinkConnector",
		"tasks.max":                "1",
		"topics":                   CustomersTopic,
		"connection.url":           fmt.Sprintf("jdbc:postgresql://127.0.0.1:%d/%s", s.pg.Port, SinkDBName),
		"connection.username":      s.pg.User,
		"connection.password":      "unused-trust-auth",
		"connection.pool.min_size": "1",
		"connection.pool.max_size": "4",
		"insert.mode":              "upsert",
		"primary.key.mode":         "record_key",
		"delete.enabled":           "true",
		"schema.evolution":         "basic",
		"collection.name.format":   "customers",
	}
}

// Start brings the whole stack up and returns when a row inserted into the
// source table has reached the sink database and the source has committed a
// streaming offset. On error everything started is ended again and the logs
// are kept; the error names their folder.
func Start(ctx context.Context, opts Options) (*Stack, error) {
	logf := opts.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	if opts.OffsetFlushInterval <= 0 {
		opts.OffsetFlushInterval = time.Second
	}
	if opts.BrokerHeapMiB <= 0 {
		opts.BrokerHeapMiB = 384
	}
	if opts.ConnectHeapMiB <= 0 {
		opts.ConnectHeapMiB = 512
	}
	if opts.PluginDiscovery == "" {
		opts.PluginDiscovery = "service_load"
	}
	s := &Stack{logf: logf}
	step := time.Now()
	phase := func(name string) {
		now := time.Now()
		s.timings = append(s.timings, Phase{name, now.Sub(step)})
		logf("%s: %s", name, now.Sub(step).Round(time.Millisecond))
		step = now
	}
	fail := func(err error) (*Stack, error) {
		if s.dir == "" {
			return nil, err
		}
		s.KeepLogs()
		s.Close()
		return nil, fmt.Errorf("%w\n(real-stack logs kept in %s)", err, s.logDir)
	}

	// Artifacts.
	java, err := findJava()
	if err != nil {
		return nil, err
	}
	if _, err := javaVersion(java); err != nil {
		return nil, err
	}
	root, err := moduleRoot()
	if err != nil {
		return nil, err
	}
	cache := cacheDir(root)
	if err := ensureFetched(ctx, root, cache, logf); err != nil {
		return nil, err
	}
	s.java = jvm{java: java, lib: filepath.Join(cache, "lib"), log4j: filepath.Join(root, "test", "realstack", "log4j2.properties")}
	s.toolsLog4j = filepath.Join(root, "test", "realstack", "log4j2-tools.properties")
	phase("fetch")

	s.dir, err = os.MkdirTemp("", "offsetctl-realstack-")
	if err != nil {
		return nil, fmt.Errorf("creating a folder for the real stack: %w", err)
	}
	s.logDir = filepath.Join(s.dir, "logs")
	if err := os.Mkdir(s.logDir, 0o755); err != nil {
		return fail(err)
	}

	// PostgreSQL and the broker's storage format run side by side.
	ports, err := freePorts(4)
	if err != nil {
		return fail(err)
	}
	brokerPort, ctrlPort, restPort, proxiedPort := ports[0], ports[1], ports[2], ports[3]
	s.brokerPt, s.restPort = brokerPort, restPort
	// The proxy listens first: its address is advertised.
	s.kafkaProxy, err = faultproxy.Listen("127.0.0.1:0", "127.0.0.1:"+strconv.Itoa(proxiedPort))
	if err != nil {
		return fail(err)
	}
	s.kafkaProxy.SetProtocol(faultproxy.Kafka)
	vars := templateVars{
		BrokerPort:            brokerPort,
		ControllerPort:        ctrlPort,
		RestPort:              restPort,
		ProxiedPort:           proxiedPort,
		ProxiedAdvertised:     s.kafkaProxy.Addr(),
		DataDir:               filepath.Join(s.dir, "kafka-data"),
		BootstrapServers:      s.BootstrapServers(),
		GroupID:               WorkerGroupID,
		OffsetsTopic:          OffsetsTopicName,
		ConfigTopic:           ConfigTopicName,
		StatusTopic:           StatusTopicName,
		OffsetFlushIntervalMs: opts.OffsetFlushInterval.Milliseconds(),
		PluginPath:            filepath.Join(cache, "plugins"),
		PluginDiscovery:       opts.PluginDiscovery,
		ExactlyOnceSource:     "disabled",
	}
	if opts.ExactlyOnceSource {
		vars.ExactlyOnceSource = "enabled"
	}
	brokerProps := filepath.Join(s.dir, "broker.properties")
	connectProps := filepath.Join(s.dir, "connect-distributed.properties")
	for _, f := range []struct{ tmpl, out string }{{"broker.properties", brokerProps}, {"connect-distributed.properties", connectProps}} {
		if err := renderTemplate(filepath.Join(root, "test", "realstack", f.tmpl), f.out, vars); err != nil {
			return fail(err)
		}
	}
	env := javaEnv()
	var (
		wg        sync.WaitGroup
		pgErr     error
		formatErr error
	)
	wg.Add(2)
	go func() {
		defer wg.Done()
		s.pg, pgErr = pgcluster.Start(ctx, pgcluster.Options{Settings: map[string]string{"wal_level": "logical"}})
		if pgErr == nil {
			pgErr = seedDatabases(ctx, s.pg)
		}
	}()
	go func() {
		defer wg.Done()
		formatErr = runOnce(ctx, "kafka-storage format", filepath.Join(s.logDir, "kafka-storage.log"), s.dir,
			s.java.args(128, "kafka.tools.StorageTool", "format", "--cluster-id", newClusterID(), "--config", brokerProps, "--ignore-formatted"), env)
	}()
	wg.Wait()
	if pgErr != nil {
		return fail(fmt.Errorf("starting the real stack's PostgreSQL: %w", pgErr))
	}
	if formatErr != nil {
		return fail(fmt.Errorf("formatting the Kafka broker's storage: %w", formatErr))
	}
	phase("postgres+format")

	// Broker.
	s.broker, err = startProc("kafka broker", filepath.Join(s.logDir, "broker.log"), s.dir,
		s.java.args(opts.BrokerHeapMiB, "kafka.Kafka", brokerProps), env)
	if err != nil {
		return fail(err)
	}
	if err := s.waitBroker(ctx, 90*time.Second); err != nil {
		return fail(err)
	}
	phase("broker")

	// Connect worker.
	s.connect, err = startProc("connect worker", filepath.Join(s.logDir, "connect.log"), s.dir,
		s.java.args(opts.ConnectHeapMiB, "org.apache.kafka.connect.cli.ConnectDistributed", connectProps), env)
	if err != nil {
		return fail(err)
	}
	if err := s.waitConnect(ctx, 120*time.Second); err != nil {
		return fail(err)
	}
	phase("connect")

	// Connectors, and rows flowing.
	if err := s.startPipeline(ctx, 150*time.Second); err != nil {
		return fail(err)
	}
	phase("rows flowing")
	return s, nil
}

// Close ends the worker, the broker and PostgreSQL, and removes the stack's
// folder (but keeps the logs when KeepLogs was called). Safe to call twice.
func (s *Stack) Close() {
	s.closeOnce.Do(func() {
		// Everything is thrown away: no clean shutdown needed.
		s.connect.kill(0)
		s.broker.kill(0)
		if s.kafkaProxy != nil {
			_ = s.kafkaProxy.Close()
		}
		s.mu.Lock()
		keep := s.keepLogs
		s.mu.Unlock()
		s.closeMariaDB(keep)
		if s.pg != nil {
			if keep {
				if b, err := os.ReadFile(filepath.Join(s.pg.Dir, "postgres.log")); err == nil {
					_ = os.WriteFile(filepath.Join(s.logDir, "postgres.log"), b, 0o644)
				}
			}
			s.pg.Stop()
		}
		if s.dir == "" {
			return
		}
		if keep {
			_ = os.RemoveAll(filepath.Join(s.dir, "kafka-data"))
			return
		}
		_ = os.RemoveAll(s.dir)
	})
}

// templateVars fill test/realstack/*.properties.
type templateVars struct {
	BrokerPort, ControllerPort, RestPort int
	ProxiedPort                          int    // the broker's PROXIED listener
	ProxiedAdvertised                    string // what it advertises: the fault proxy
	DataDir                              string
	BootstrapServers                     string
	GroupID                              string
	OffsetsTopic, ConfigTopic            string
	StatusTopic                          string
	OffsetFlushIntervalMs                int64
	PluginPath                           string
	PluginDiscovery                      string
	ExactlyOnceSource                    string // enabled or disabled
}

func renderTemplate(src, dst string, vars templateVars) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return fmt.Errorf("reading the property template: %w", err)
	}
	t, err := template.New(filepath.Base(src)).Option("missingkey=error").Parse(string(b))
	if err != nil {
		return fmt.Errorf("parsing the property template %s: %w", src, err)
	}
	var out bytes.Buffer
	if err := t.Execute(&out, vars); err != nil {
		return fmt.Errorf("filling the property template %s: %w", src, err)
	}
	return os.WriteFile(dst, out.Bytes(), 0o644)
}

// javaEnv is the test binary's environment without variables that would
// change the JVMs' class path or options behind the stack's back.
func javaEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		switch name {
		case "CLASSPATH", "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "JDK_JAVA_OPTIONS", "KAFKA_OPTS", "KAFKA_HEAP_OPTS", "KAFKA_LOG4J_OPTS":
			continue
		}
		env = append(env, kv)
	}
	return env
}

// newClusterID returns a Kafka cluster id: 16 random bytes in URL-safe
// base64 without padding, like Kafka's Uuid.randomUuid, which likewise never
// returns an id starting with '-' (the storage tool would read it as an
// option).
func newClusterID() string {
	for {
		var b [16]byte
		_, _ = rand.Read(b[:])
		if id := base64.RawURLEncoding.EncodeToString(b[:]); id[0] != '-' {
			return id
		}
	}
}

// freePorts reserves n distinct free loopback ports (held open together so
// they differ, then released for the JVMs to bind).
func freePorts(n int) ([]int, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	ports := make([]int, n)
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("finding a free port: %w", err)
		}
		ls = append(ls, l)
		ports[i] = l.Addr().(*net.TCPAddr).Port
	}
	return ports, nil
}

// seedDatabases creates the source database with public.customers (the
// snapshot rows) and the empty sink database.
func seedDatabases(ctx context.Context, pg *pgcluster.Cluster) error {
	admin, err := pgx.Connect(ctx, pg.URL("postgres"))
	if err != nil {
		return fmt.Errorf("connecting to the throwaway cluster: %w", err)
	}
	defer admin.Close(context.Background())
	for _, db := range []string{SourceDBName, SinkDBName} {
		if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{db}.Sanitize()); err != nil {
			return fmt.Errorf("creating database %s: %w", db, err)
		}
	}
	src, err := pgx.Connect(ctx, pg.URL(SourceDBName))
	if err != nil {
		return fmt.Errorf("connecting to the source database: %w", err)
	}
	defer src.Close(context.Background())
	if _, err := src.Exec(ctx, `CREATE TABLE public.customers (
		id integer PRIMARY KEY,
		name text NOT NULL,
		email text NOT NULL)`); err != nil {
		return fmt.Errorf("creating public.customers: %w", err)
	}
	for id := 1; id < SeedCustomers; id++ {
		if err := insertCustomer(ctx, src, id); err != nil {
			return err
		}
	}
	return nil
}

var customerNames = []string{"Ada", "Grace", "Edsger", "Barbara", "Donald", "Frances", "Alan", "Margaret"}

// insertCustomer inserts customer id with a name and e-mail derived from it.
func insertCustomer(ctx context.Context, c *pgx.Conn, id int) error {
	name := customerNames[(id-1)%len(customerNames)]
	if id > len(customerNames) {
		name += " " + strconv.Itoa(id)
	}
	email := strings.ToLower(strings.ReplaceAll(name, " ", ".")) + "@example.com"
	if _, err := c.Exec(ctx, "INSERT INTO public.customers (id, name, email) VALUES ($1, $2, $3)", id, name, email); err != nil {
		return fmt.Errorf("inserting customer %d: %w", id, err)
	}
	return nil
}

// waitBroker waits until the broker answers a metadata request.
func (s *Stack) waitBroker(ctx context.Context, limit time.Duration) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(s.BootstrapServers()))
	if err != nil {
		return fmt.Errorf("creating a Kafka client: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	return poll(ctx, limit, "the Kafka broker to answer on "+s.BootstrapServers(), s.broker, func(ctx context.Context) (bool, error) {
		m, err := adm.BrokerMetadata(ctx)
		if err != nil {
			return false, err
		}
		return len(m.Brokers) == 1 && m.Controller >= 0, nil
	})
}

// waitConnect waits until the worker's REST API answers and lists both
// Debezium connector classes.
func (s *Stack) waitConnect(ctx context.Context, limit time.Duration) error {
	return poll(ctx, limit, "the Connect worker's REST API on "+s.ConnectURL(), s.connect, func(ctx context.Context) (bool, error) {
		code, body, err := s.do(ctx, "GET", "/connector-plugins", nil)
		if err != nil {
			return false, err
		}
		if code != 200 {
			return false, fmt.Errorf("GET /connector-plugins answered %d", code)
		}
		for _, class := range []string{"io.debezium.connector.postgresql.PostgresConnector", "io.debezium.connector.jdbc.JdbcSinkConnector"} {
			if !bytes.Contains(body, []byte(class)) {
				return false, fmt.Errorf("the worker does not list %s (plugin path problem?)", class)
			}
		}
		return true, nil
	})
}

// startPipeline creates both connectors and waits for rows to flow: the
// snapshot rows, then one streamed row, in the sink database, and a
// committed streaming offset of the source.
func (s *Stack) startPipeline(ctx context.Context, limit time.Duration) error {
	for _, c := range []struct {
		name string
		cfg  map[string]string
	}{{SourceConnectorName, s.SourceConnectorConfig()}, {SinkConnectorName, s.SinkConnectorConfig()}} {
		code, body, err := s.do(ctx, "POST", "/connectors", map[string]any{"name": c.name, "config": c.cfg})
		if err != nil {
			return fmt.Errorf("creating connector %s: %w", c.name, err)
		}
		if code != 201 {
			return fmt.Errorf("creating connector %s: the worker answered %d: %s", c.name, code, body)
		}
	}
	deadline, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	sink, err := pgx.Connect(deadline, s.SinkDB())
	if err != nil {
		return fmt.Errorf("connecting to the sink database: %w", err)
	}
	defer sink.Close(context.Background())
	countSink := func(ctx context.Context) (int, error) {
		var n int
		err := sink.QueryRow(ctx, "SELECT count(*) FROM public.customers").Scan(&n)
		return n, err
	}
	if err := poll(deadline, limit, "the snapshot rows to reach the sink database", s.connect, func(ctx context.Context) (bool, error) {
		if err := s.connectorsHealthy(ctx); err != nil {
			return false, err
		}
		n, err := countSink(ctx)
		return n == SeedCustomers-1, err
	}); err != nil {
		return err
	}
	src, err := pgx.Connect(deadline, s.SourceDB())
	if err != nil {
		return fmt.Errorf("connecting to the source database: %w", err)
	}
	defer src.Close(context.Background())
	if err := insertCustomer(deadline, src, SeedCustomers); err != nil {
		return err
	}
	if err := poll(deadline, limit, "a streamed row to reach the sink database", s.connect, func(ctx context.Context) (bool, error) {
		if err := s.connectorsHealthy(ctx); err != nil {
			return false, err
		}
		n, err := countSink(ctx)
		return n == SeedCustomers, err
	}); err != nil {
		return err
	}
	return poll(deadline, limit, "the source to commit a streaming offset", s.connect, func(ctx context.Context) (bool, error) {
		code, body, err := s.do(ctx, "GET", "/connectors/"+SourceConnectorName+"/offsets", nil)
		if err != nil {
			return false, err
		}
		if code != 200 {
			return false, fmt.Errorf("GET offsets answered %d: %s", code, body)
		}
		return bytes.Contains(body, []byte(`"lsn_proc"`)), nil
	})
}

// connectorsHealthy fails fast (as a permanent error) when a connector or
// task has FAILED, quoting its trace.
func (s *Stack) connectorsHealthy(ctx context.Context) error {
	for _, name := range []string{SourceConnectorName, SinkConnectorName} {
		code, body, err := s.do(ctx, "GET", "/connectors/"+name+"/status", nil)
		if err != nil || code != 200 {
			continue // not known yet: keep waiting
		}
		var st struct {
			Connector struct{ State, Trace string }
			Tasks     []struct {
				ID    int
				State string
				Trace string
			}
		}
		if json.Unmarshal(body, &st) != nil {
			continue
		}
		if st.Connector.State == "FAILED" {
			return permanent(fmt.Errorf("connector %s FAILED: %s", name, firstLine([]byte(st.Connector.Trace))))
		}
		for _, t := range st.Tasks {
			if t.State == "FAILED" {
				return permanent(fmt.Errorf("task %d of connector %s FAILED: %s", t.ID, name, traceHead(t.Trace)))
			}
		}
	}
	return nil
}

// traceHead keeps the first lines of a Java stack trace, including the
// deepest "Caused by".
func traceHead(trace string) string {
	lines := strings.Split(trace, "\n")
	out := []string{strings.TrimSpace(lines[0])}
	for _, l := range lines[1:] {
		if strings.HasPrefix(l, "Caused by:") {
			out = append(out, strings.TrimSpace(l))
		}
	}
	return strings.Join(out, " / ")
}

type permanentError struct{ error }

func (e permanentError) Unwrap() error { return e.error }

func permanent(err error) error { return permanentError{err} }

// poll calls check until it reports true, a permanent error, the process
// watched dies, or limit passes. The last transient error is quoted on
// time-out.
func poll(ctx context.Context, limit time.Duration, what string, watch *proc, check func(context.Context) (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	var last error
	for {
		if watch != nil {
			if dead, err := watch.exited(); dead {
				return fmt.Errorf("waiting for %s: the %s process ended (%v); see %s", what, watch.name, err, watch.logPath)
			}
		}
		cctx, ccancel := context.WithTimeout(ctx, 10*time.Second)
		ok, err := check(cctx)
		ccancel()
		if ok && err == nil {
			return nil
		}
		var pe permanentError
		if errors.As(err, &pe) {
			return fmt.Errorf("waiting for %s: %w", what, pe.error)
		}
		if err != nil {
			last = err
		}
		select {
		case <-ctx.Done():
			if last != nil {
				return fmt.Errorf("waiting for %s: gave up after %s: %w", what, limit, last)
			}
			return fmt.Errorf("waiting for %s: gave up after %s", what, limit)
		case <-time.After(250 * time.Millisecond):
		}
	}
}
