package command

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/offsetctl/offsetctl/internal/iostreams"
	"github.com/offsetctl/offsetctl/internal/pgcluster"
	"github.com/offsetctl/offsetctl/internal/sandbox"
	"github.com/offsetctl/offsetctl/pkg/connect"
)

type demoOptions struct {
	deps *Deps
	g    *globalOptions
	rows int
	keep string
}

func newDemoCmd(deps *Deps, g *globalOptions) *cobra.Command {
	o := &demoOptions{deps: deps, g: g}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "A guided tour on the sandbox: a CDC pipeline, its offsets, a backup, and surgery on it",
		Long: `Start the sandbox (a throwaway PostgreSQL, an embedded Kafka and a Kafka Connect
emulator running a Debezium-shaped source and a JDBC-shaped sink), then run offsetctl's
commands against it the way an operator would, explaining what each shows.

Nothing outside this process is touched, and everything is thrown away at the end.
Needs PostgreSQL's server binaries (Debian package postgresql); no network.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return demoRun(cmd.Context(), o) },
	}
	cmd.Flags().IntVar(&o.rows, "rows", 100, "customers to stream through the pipeline")
	cmd.Flags().StringVar(&o.keep, "keep", "", "keep the demo's files (configuration, plans, backups, state) in this directory")
	return cmd
}

// demo narrates: headings, commentary and the real output of the commands.
type demo struct {
	ctx   context.Context
	out   io.Writer
	deps  *Deps
	env   map[string]string
	dir   string
	color bool
}

func (d *demo) heading(s string) {
	line := "━━ " + s + " " + strings.Repeat("━", max(0, 78-len([]rune(s))-4))
	if d.color {
		line = "\x1b[1m" + line + "\x1b[0m"
	}
	fmt.Fprintf(d.out, "\n%s\n", line)
}

func (d *demo) say(format string, args ...any) {
	fmt.Fprintf(d.out, format+"\n", args...)
}

// run runs an offsetctl command in this process against the sandbox and
// shows it as the operator would type it.
func (d *demo) run(args ...string) (int, error) {
	shown := make([]string, len(args))
	for i, a := range args {
		shown[i] = strings.ReplaceAll(a, d.dir+string(filepath.Separator), "")
	}
	prompt := "$ offsetctl " + strings.Join(shown, " ")
	if d.color {
		prompt = "\x1b[36m" + prompt + "\x1b[0m"
	}
	fmt.Fprintf(d.out, "\n%s\n", prompt)
	midway := false
	w := indent{w: d.out, strip: d.dir + string(filepath.Separator), midway: &midway}
	streams := &iostreams.Streams{In: strings.NewReader(""), Out: w, Err: w}
	deps := &Deps{Streams: streams, Now: d.deps.Now, Getenv: func(k string) string {
		if v, ok := d.env[k]; ok {
			return v
		}
		return d.deps.Getenv(k)
	}}
	code := run(d.ctx, deps, args)
	if midway {
		fmt.Fprintln(d.out)
	}
	fmt.Fprintln(d.out)
	if d.ctx.Err() != nil {
		return code, d.ctx.Err()
	}
	return code, nil
}

// indent writes every line with two leading spaces, so command output
// stands apart from the narration, and shows the demo's own files by name.
type indent struct {
	w      io.Writer
	strip  string
	midway *bool
}

func (i indent) Write(p []byte) (int, error) {
	var b strings.Builder
	for _, line := range strings.SplitAfter(strings.ReplaceAll(string(p), i.strip, ""), "\n") {
		if line == "" {
			continue
		}
		if !*i.midway && line != "\n" {
			b.WriteString("  ")
		}
		b.WriteString(line)
		*i.midway = !strings.HasSuffix(line, "\n")
	}
	if _, err := io.WriteString(i.w, b.String()); err != nil {
		return 0, err
	}
	return len(p), nil
}

func demoRun(ctx context.Context, o *demoOptions) error {
	start := time.Now()
	out := o.deps.Streams.Out
	dir := o.keep
	if dir == "" {
		tmp, err := os.MkdirTemp("", "offsetctl-demo-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	d := &demo{ctx: ctx, out: out, deps: o.deps, dir: dir, color: o.deps.Streams.Color}
	d.say("offsetctl demo: a CDC pipeline on the sandbox, its offsets, and surgery on them.")
	d.say("Everything runs in this process and is thrown away at the end.")

	d.heading("1. A healthy pipeline")
	d.say("Starting a throwaway PostgreSQL (source and sink databases), an embedded Kafka,")
	d.say("and a Kafka Connect 3.8 emulator with two connectors:")
	cl, err := pgcluster.Start(ctx, pgcluster.Options{Settings: map[string]string{"wal_level": "logical"}})
	if err != nil {
		return withHint(fmt.Errorf("starting PostgreSQL for the demo: %w", err), "make demo installs the postgresql package when it runs as root.")
	}
	defer cl.Stop()
	srcURL, err := ensureDatabase(ctx, cl.URL("postgres"), sandboxSourceDB)
	if err != nil {
		return err
	}
	sinkURL, err := ensureDatabase(ctx, cl.URL("postgres"), sandboxSinkDB)
	if err != nil {
		return err
	}
	sb, err := sandbox.Start(ctx, sandbox.Options{TaskShutdownTimeout: time.Second})
	if err != nil {
		return fmt.Errorf("starting the sandbox: %w", err)
	}
	defer sb.Close()
	pipe, err := sb.StartPipeline(ctx, sandbox.PipelineOptions{SourceDB: srcURL, SinkDB: sinkURL})
	if err != nil {
		return fmt.Errorf("starting the sandbox pipeline: %w", err)
	}
	d.env = map[string]string{
		"OFFSETCTL_CONNECT_URL":       sb.ConnectURL(),
		"OFFSETCTL_BOOTSTRAP_SERVERS": strings.Join(sb.BootstrapServers(), ","),
		"OFFSETCTL_OFFSETS_TOPIC":     sb.OffsetsTopic(),
	}
	d.say("  %s reads public.customers' changes from PostgreSQL (Debezium-shaped) into topic %s;", pipe.SourceConnector(), pipe.Topic())
	d.say("  %s consumes that topic as group %s and upserts the rows into the sink database.", pipe.SinkConnector(), pipe.SinkGroup())
	if _, err := pipe.InsertN(ctx, o.rows); err != nil {
		return err
	}
	if err := pipe.WaitSinkCaughtUp(ctx); err != nil {
		return err
	}
	if err := pipe.WaitSourceCaughtUp(ctx); err != nil {
		return err
	}
	if err := waitSourceOffsets(ctx, sb.ConnectURL(), pipe.SourceConnector()); err != nil {
		return err
	}
	sinkRows, err := pipe.SinkRows(ctx)
	if err != nil {
		return err
	}
	d.say("Inserted %d customers in the source; the sink table now has %d rows.", o.rows, len(sinkRows))

	if _, err := d.run("connectors"); err != nil {
		return err
	}
	d.say("Both connectors run. The worker is Kafka Connect 3.8, so offsetctl changes offsets through")
	d.say("its REST API (stop, PATCH /offsets, resume); on workers older than 3.6 it writes the offsets")
	d.say("topic and the sink's consumer group directly, byte for byte as Connect would.")

	if _, err := d.run("offsets", "show", pipe.SourceConnector(), pipe.SinkConnector()); err != nil {
		return err
	}
	d.say("The source's position is a Debezium PostgreSQL offset: lsn_proc is where it resumes in the WAL")
	d.say("(shown as X/Y like pg_current_wal_lsn(), with the exact 64-bit value), txId and ts_usec say")
	d.say("which transaction it last sent. The sink's position is its consumer group's committed offset:")
	d.say("equal to the log end, so its lag is 0.")

	backup := filepath.Join(dir, "offsets-before.json")
	if code, err := d.run("offsets", "backup", "--all", "-o", backup); err != nil || code != 0 {
		return demoFailed(err, code, "offsets backup")
	}
	d.say("The runbook's golden rule: never touch offsets without a backup. This one holds every record's")
	d.say("exact key bytes and where it was read, with a checksum; a restore verifies both.")

	d.heading("Done")
	d.say("The tour took %.1f s. Next: `offsetctl sandbox up` gives you the same world to try things by hand.", time.Since(start).Seconds())
	return nil
}

func demoFailed(err error, code int, what string) error {
	if err != nil {
		return err
	}
	return fmt.Errorf("the demo's %s step exited %d (see above)", what, code)
}

// waitSourceOffsets waits until the source connector has committed offsets
// (it flushes them every offset.flush.interval.ms).
func waitSourceOffsets(ctx context.Context, url, name string) error {
	c, err := connect.New(connect.Config{URL: url})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	for {
		got, err := c.Offsets(ctx, name)
		if err == nil && len(got.Offsets) > 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the source connector %s committed no offsets within 20 s", name)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
