package command

import (
	"context"
	"fmt"
	"net/url"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/spf13/cobra"

	"github.com/offsetctl/offsetctl/cmd/offsetctl/internal/command/views"
	"github.com/offsetctl/offsetctl/internal/pgcluster"
	"github.com/offsetctl/offsetctl/internal/realstack"
	"github.com/offsetctl/offsetctl/internal/redact"
	"github.com/offsetctl/offsetctl/internal/sandbox"
)

// Databases `sandbox up` creates on a --postgres server.
const (
	sandboxSourceDB = "offsetctl_sandbox_source"
	sandboxSinkDB   = "offsetctl_sandbox_sink"
)

type sandboxUpOptions struct {
	deps           *Deps
	g              *globalOptions
	connectVersion string
	pipeline       bool
	postgres       string
	connectAddr    string
	kafkaPort      int
	real           bool
	rows           int
	rate           float64

	// ready, when set (tests), receives the running sandbox once the
	// environment lines are printed.
	ready func(*sandbox.Sandbox)
}

func newSandboxCmd(deps *Deps, g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sandbox",
		Short: "Run a local Kafka and Kafka Connect emulator to try offsetctl on",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newSandboxUpCmd(deps, g))
	return cmd
}

func newSandboxUpCmd(deps *Deps, g *globalOptions) *cobra.Command {
	o := &sandboxUpOptions{deps: deps, g: g}
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Start the sandbox and keep it running until interrupted",
		Long: `Start a throwaway world in this process: Kafka (franz-go's kfake, on a loopback port,
with Connect's internal topics), a Kafka Connect REST emulator that answers as the
chosen Kafka Connect release does, and — unless --pipeline=false — a small CDC
pipeline: a Debezium-shaped PostgreSQL source streaming public.customers to a topic,
and a JDBC-shaped sink upserting it into a second database.

The pipeline starts alive: public.customers gets --rows customers (its id has a
default, so "INSERT INTO customers (email) VALUES ('me@example.com')" works), the
source's initial snapshot streams them to the sink before the environment lines are
printed, and a trickle of about --rate changes a second (inserts, status updates, a
few deletes) keeps going, so "offsetctl offsets show" and a first "plan" have
something real to show. Debezium's signalling table public.debezium_signal is there
and named in the source's signal.data.collection, so a reconcile block with
repair = "snapshot_signal" and signal_table = "public.debezium_signal" works as is.
--rows 0 --rate 0 starts the pipeline empty and still.

The environment lines to export are printed on standard output, everything else on
standard error, so "offsetctl sandbox up > sandbox.env &" followed by
"source sandbox.env" points the other commands at it. Ctrl-C stops it; all state is
thrown away (except the two databases on a --postgres server).

With --real it starts the real thing instead, as the test suite's real tier does:
Apache Kafka 4.3 (KRaft) and a distributed Kafka Connect worker with Debezium 3.6's
PostgreSQL source and JDBC sink, on a throwaway PostgreSQL with wal_level=logical. That
needs Java 17+, Maven (to fetch the pinned jars once into test/realstack/.cache) and
this repository's checkout as the working directory.`,
		Example: `  offsetctl sandbox up
  offsetctl sandbox up --connect-version 3.5 --pipeline=false
  offsetctl sandbox up --rows 100000 --rate 20
  offsetctl sandbox up --postgres postgres://postgres@localhost:5432/postgres > sandbox.env &
  offsetctl sandbox up --real > realstack.env &`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			if o.real {
				if cmd.Flags().Changed("connect-version") || cmd.Flags().Changed("postgres") || cmd.Flags().Changed("pipeline") ||
					cmd.Flags().Changed("rows") || cmd.Flags().Changed("rate") {
					return flagErrorf("--real runs Kafka 4.3 with its own PostgreSQL and pipeline: --connect-version, --postgres, --pipeline, --rows and --rate do not apply")
				}
				return sandboxUpRealRun(ctx, o)
			}
			if o.rows < 0 || o.rate < 0 {
				return flagErrorf("--rows and --rate cannot be negative")
			}
			return sandboxUpRun(ctx, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.connectVersion, "connect-version", "3.8", "Kafka Connect release to emulate: 3.4, 3.5, 3.6, 3.7 or 3.8")
	f.BoolVar(&o.pipeline, "pipeline", true, "also run the PostgreSQL source → Kafka → PostgreSQL sink pipeline")
	f.StringVar(&o.postgres, "postgres", "", "PostgreSQL server URL for the pipeline's databases (created there as "+sandboxSourceDB+" and "+sandboxSinkDB+"); default: a throwaway cluster")
	f.StringVar(&o.connectAddr, "connect-addr", "127.0.0.1:0", "address of the Kafka Connect REST listener")
	f.IntVar(&o.kafkaPort, "kafka-port", 0, "loopback port of the Kafka broker (0: any free port)")
	f.IntVar(&o.rows, "rows", 1000, "customers in the source table when the pipeline starts (an existing table on --postgres is kept)")
	f.Float64Var(&o.rate, "rate", 1, "changes a second the pipeline's trickle makes to the source table (0: none)")
	f.BoolVar(&o.real, "real", false, "start real Kafka, Kafka Connect and Debezium (Java 17+ and Maven; run from the repository)")
	return cmd
}

func sandboxUpRun(ctx context.Context, o *sandboxUpOptions) error {
	v := views.NewSandbox(o.deps.Streams, o.g.JSON)
	logf := v.Logf
	quiet := func(string, ...any) {}
	var sourceURL, sinkURL string
	var pgEnv []string
	if o.pipeline {
		admin := o.postgres
		if admin == "" {
			logf("starting a throwaway PostgreSQL cluster ...")
			cl, err := pgcluster.Start(ctx, pgcluster.Options{Settings: map[string]string{"wal_level": "logical"}})
			if err != nil {
				return withHint(fmt.Errorf("starting PostgreSQL for the sandbox pipeline: %w", err),
					"Pass --postgres URL to use a running server, or --pipeline=false to run without one.")
			}
			defer cl.Stop()
			admin = cl.URL("postgres")
			pgEnv = cl.Env()
		}
		var err error
		if sourceURL, err = ensureDatabase(ctx, admin, sandboxSourceDB); err != nil {
			return err
		}
		if sinkURL, err = ensureDatabase(ctx, admin, sandboxSinkDB); err != nil {
			return err
		}
	}
	sb, err := sandbox.Start(ctx, sandbox.Options{ConnectVersion: o.connectVersion, Logf: quiet, ConnectAddr: o.connectAddr, KafkaPort: o.kafkaPort})
	if err != nil {
		return fmt.Errorf("starting the sandbox: %w", err)
	}
	defer sb.Close()
	env := &views.SandboxEnv{ConnectURL: sb.ConnectURL(), ConnectVersion: sb.ConnectVersion(),
		BootstrapServers: sb.BootstrapServers(), OffsetsTopic: sb.OffsetsTopic(), Env: map[string]string{}}
	env.Set("OFFSETCTL_CONNECT_URL", sb.ConnectURL())
	env.Set("OFFSETCTL_BOOTSTRAP_SERVERS", strings.Join(sb.BootstrapServers(), ","))
	env.Set("OFFSETCTL_OFFSETS_TOPIC", sb.OffsetsTopic())
	if o.pipeline {
		p, err := sb.StartPipeline(ctx, sandbox.PipelineOptions{SourceDB: sourceURL, SinkDB: sinkURL, SnapshotMode: "initial",
			SeedRows: o.rows, Signals: true})
		if err != nil {
			return fmt.Errorf("starting the sandbox pipeline: %w", err)
		}
		if o.rows > 0 {
			logf("streaming the %d seeded customers to the sink ...", o.rows)
			wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
			err := p.WaitSinkCaughtUp(wctx)
			cancel()
			if err != nil {
				return fmt.Errorf("waiting for the seeded customers to reach the sink: %w", err)
			}
		}
		if o.rate > 0 {
			tctx, cancel := context.WithCancel(ctx)
			done := make(chan struct{})
			defer func() { cancel(); <-done }()
			go func() {
				defer close(done)
				if err := p.Trickle(tctx, o.rate, uint64(time.Now().UnixNano())); err != nil {
					logf("the trickle of changes stopped: %v", err)
				}
			}()
		}
		env.SourceConnector, env.SinkConnector, env.Topic = p.SourceConnector(), p.SinkConnector(), p.Topic()
		for _, kv := range pgEnv {
			k, v, _ := strings.Cut(kv, "=")
			env.Set(k, v)
		}
		env.Set("SOURCE_DATABASE_URL", redact.WithoutPassword(sourceURL))
		env.Set("SINK_DATABASE_URL", redact.WithoutPassword(sinkURL))
	}
	if err := v.Env(env); err != nil {
		return err
	}
	logf("Kafka Connect %s (emulated) at %s", sb.ConnectVersion(), sb.ConnectURL())
	logf("Kafka at %s; offsets topic %s (%d partitions)", strings.Join(sb.BootstrapServers(), ","), sb.OffsetsTopic(), sb.OffsetsPartitions())
	if o.pipeline {
		logf("pipeline: public.customers → %s → %s → %s → public.customers (sink group connect-%s)",
			env.SourceConnector, env.Topic, env.SinkConnector, env.SinkConnector)
		logf("source table: %d seeded customers, about %g changes a second; signalling table public.debezium_signal", o.rows, o.rate)
		if redact.WithoutPassword(o.postgres) != o.postgres {
			logf("the database URLs above leave the password out: export PGPASSWORD to use them")
		}
	}
	logf("running; press Ctrl-C to stop and throw it all away")
	if o.ready != nil {
		o.ready(sb)
	}
	<-ctx.Done()
	logf("stopping the sandbox")
	return nil
}

// ensureDatabase creates database name on the server of admin unless it
// exists, and returns its URL.
func ensureDatabase(ctx context.Context, admin, name string) (string, error) {
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return "", withHint(fmt.Errorf("connecting to PostgreSQL at %s: %w", redact.WithoutPassword(admin), err),
			"Check --postgres (a URL such as postgres://user@host:5432/postgres) and PGPASSWORD.")
	}
	defer conn.Close(context.Background())
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return "", fmt.Errorf("looking for database %s: %w", name, err)
	}
	if !exists {
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
			return "", fmt.Errorf("creating database %s for the sandbox: %w", name, err)
		}
	}
	u, err := url.Parse(admin)
	if err != nil {
		return "", fmt.Errorf("reading the PostgreSQL URL: %w", err)
	}
	u.Path = "/" + name
	return u.String(), nil
}

// sandboxUpRealRun starts the real stack (internal/realstack) and prints the
// same environment lines as the emulated sandbox.
func sandboxUpRealRun(ctx context.Context, o *sandboxUpOptions) error {
	v := views.NewSandbox(o.deps.Streams, o.g.JSON)
	logf := v.Logf
	if ok, why := realstack.Available(); !ok {
		return withHint(fmt.Errorf("the real stack cannot start here: %s", why), "Install Java 17+ and Maven, and run offsetctl from the repository's checkout.")
	}
	logf("starting the real stack (first run: fetches the pinned jars from Maven Central) ...")
	st, err := realstack.Start(ctx, realstack.Options{Logf: logf})
	if err != nil {
		return fmt.Errorf("starting the real stack: %w", err)
	}
	defer st.Close()
	env := &views.SandboxEnv{ConnectURL: st.ConnectURL(), ConnectVersion: "real",
		BootstrapServers: []string{st.BootstrapServers()}, OffsetsTopic: st.OffsetsTopic(), Env: map[string]string{},
		SourceConnector: st.SourceConnector(), SinkConnector: st.SinkConnector()}
	env.Set("OFFSETCTL_CONNECT_URL", st.ConnectURL())
	env.Set("OFFSETCTL_BOOTSTRAP_SERVERS", st.BootstrapServers())
	env.Set("OFFSETCTL_OFFSETS_TOPIC", st.OffsetsTopic())
	env.Set("SOURCE_DATABASE_URL", redact.WithoutPassword(st.SourceDB()))
	env.Set("SINK_DATABASE_URL", redact.WithoutPassword(st.SinkDB()))
	if err := v.Env(env); err != nil {
		return err
	}
	logf("real Kafka Connect at %s, Kafka at %s; connectors %s and %s; logs in %s",
		st.ConnectURL(), st.BootstrapServers(), st.SourceConnector(), st.SinkConnector(), st.LogDir())
	logf("running; press Ctrl-C to stop and throw it all away")
	<-ctx.Done()
	logf("stopping the real stack")
	return nil
}
