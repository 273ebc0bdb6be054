package command

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/client_golang/prometheus/push"
	"github.com/spf13/cobra"

	"github.com/offsetctl/offsetctl/cmd/offsetctl/internal/command/views"
	"github.com/offsetctl/offsetctl/pkg/config"
	"github.com/offsetctl/offsetctl/pkg/mysqlurl"
	"github.com/offsetctl/offsetctl/pkg/reconcile"
	"github.com/offsetctl/offsetctl/pkg/state"
)

// checkOptions are the flags of `offsetctl check`.
type checkOptions struct {
	deps *Deps
	g    *globalOptions
	cfg  configOptions

	mode          string
	tables        []string
	schemas       []string
	excludes      []string
	settle        time.Duration
	markdown      bool
	metricsFile   string
	pushURL       string
	listen        string
	interval      time.Duration
	jitter        float64
	maxConcurrent int
	rateLimit     int
	stmtTimeout   time.Duration
	lockTimeout   time.Duration
	backupDir     string
	record        bool
	loc           stateLocation

	// listening, when set (tests), receives the address --listen serves on.
	listening func(addr string)
	// checked, when set (tests), receives each finished run in --listen mode.
	checked func(*views.CheckResult)
}

func newCheckCmd(deps *Deps, g *globalOptions) *cobra.Command {
	o := &checkOptions{deps: deps, g: g}
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Detect drift on a schedule: compare the reconcile blocks' tables, check their connectors, export metrics",
		Long: `check runs the configuration's reconcile blocks as a drift detector and reports, for
each table, whether the sink still holds what the source holds, and for the connectors a
block names (connectors = [...]), their state, failed tasks and lag: a sink's group lag
per partition, and for a Debezium PostgreSQL source with a source_database, how far its
stored LSN is behind pg_current_wal_lsn(). It changes nothing.

A block's source database is PostgreSQL or MariaDB/MySQL (a mysql:// or mariadb://
URL, as diff takes); its sink is PostgreSQL. A MariaDB/MySQL source is read in one
READ ONLY transaction WITH CONSISTENT SNAPSHOT and compared as diff compares it.

Each reconcile block's check { } block sets the mode (counts, checksum — the default —
or rows) and its thresholds: max_rows_different, max_lag_records, max_lag_seconds,
max_failed_tasks.

Lag-aware: when rows differ on a block that names its connectors, the table is compared
again, the source first: its snapshot's position is recorded (PostgreSQL: the WAL position,
pg_current_wal_insert_lsn() in the snapshot's first statement; MariaDB: the binlog file:pos
of the consistent snapshot, binlog_snapshot_file and binlog_snapshot_position, with
@@gtid_binlog_pos; MySQL: the binlog position read just after the snapshot began), check
waits up to --settle until each source connector's stored position (lsn_proc, else lsn;
for a Debezium MariaDB/MySQL source, file and pos) is past it and each sink connector's
group has committed the end offsets its topics had then, and only then reads the sink.
Binlog positions are ordered by file number then pos: after a failover to another
server they do not compare. A Debezium MariaDB/MySQL connector stores the start of the
last transaction it sent until a later binlog event moves it: the rows of the source's
last transaction stay in flight until then. Rows that still differ are drift when the pipeline got
there, in flight when it did not (the report says which connector was behind). An idle Debezium source moves its stored position only
with heartbeat.interval.ms: without it, a quiet pipeline's differing rows stay in flight.
Per row, in the rows mode, the differing rows' source rows are then read again: one
changed after the snapshot (the sink may already hold it newer) is in flight as well. Drift
is confirmed by a second such pass: only rows that differ in both are drift (a row inserted
and deleted again on the source differs in one pass only). The
counts and checksum modes keep no keys: there such a row counts as different, so give a busy
table --mode rows (or check { mode = "rows" }).

Many tables in one run, as diff does: --schema S checks every table of schema S of
the blocks' source databases (a MariaDB/MySQL source: S is its URL's database, and an
unqualified name is in it), --table takes names and patterns (--table 'public.*'),
--exclude leaves tables out. Tables with a reconcile block are checked with its settings;
the others found on a block's source are compared with its sink's table of the same name
(for a MariaDB/MySQL source, the sink's table of that name on its search_path), with
--mode (else checksum) and no row allowed to differ.

Tables are compared one after the other (--max-concurrent to allow more), each side in
one read-only, repeatable-read transaction on one backend per database, with
--rate-limit rows a second at most: a check never piles load on a database. A table
that cannot be checked (missing, no key) is reported and the others go on; the run
then exits 1.

Metrics (Prometheus): --metrics-file FILE writes them atomically for node_exporter's
textfile collector; --push-url sends them to a Pushgateway; --listen ADDR serves
/metrics and checks again every --interval (with --jitter), never two runs at once.
Metrics carry table names and counts, never row values.

Exit status: 0 healthy, 2 drift or a threshold crossed, 1 error. With --listen, check
runs until interrupted.`,
		Example: `  offsetctl check
  offsetctl check --mode counts --schema public --metrics-file /var/lib/node_exporter/textfile/offsetctl.prom
  offsetctl check --table 'public.*' --exclude public.audit_log --markdown
  offsetctl check --listen :9464 --interval 15m`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.validate(); err != nil {
				return err
			}
			return checkRun(cmd.Context(), cmd, o)
		},
	}
	addConfigFlags(cmd, &o.cfg)
	addStateFlag(cmd, &o.loc)
	f := cmd.Flags()
	f.BoolVar(&o.record, "record", false, "record the result in the state's history (kind check), as offsetctl readiness reads it")
	f.StringVar(&o.mode, "mode", "", "counts, checksum or rows for every block (default: each block's check { mode }, else checksum)")
	f.StringArrayVar(&o.tables, "table", nil, "check this table, or the tables matching this pattern like public.*, of the blocks and of their source databases (repeatable)")
	f.StringArrayVar(&o.schemas, "schema", nil, "check every table of this schema of the blocks' source databases (repeatable)")
	f.StringArrayVar(&o.excludes, "exclude", nil, "leave out the tables matching this pattern (repeatable)")
	f.DurationVar(&o.settle, "settle", time.Minute, "when rows differ on a block tied to its connectors: how long to wait for the pipeline to deliver every change up to the source's snapshot before the table is compared again")
	f.BoolVar(&o.markdown, "markdown", false, "print Markdown instead of text")
	f.StringVar(&o.metricsFile, "metrics-file", "", "write the metrics to this file atomically (node_exporter textfile collector: *.prom)")
	f.StringVar(&o.pushURL, "push-url", "", "push the metrics to this Prometheus Pushgateway (job offsetctl_check)")
	f.StringVar(&o.listen, "listen", "", "serve /metrics on this address and check every --interval until interrupted")
	f.DurationVar(&o.interval, "interval", 15*time.Minute, "with --listen: time between two checks")
	f.Float64Var(&o.jitter, "jitter", 0.1, "with --listen: spread each interval by up to this fraction, at random")
	f.IntVar(&o.maxConcurrent, "max-concurrent", 1, "tables compared at the same time")
	f.IntVar(&o.rateLimit, "rate-limit", 0, "maximum rows read per second on each side (0: no limit)")
	f.DurationVar(&o.stmtTimeout, "statement-timeout", 30*time.Minute, "statement_timeout of every comparison query")
	f.DurationVar(&o.lockTimeout, "lock-timeout", 5*time.Second, "lock_timeout of every comparison query (how long one waits for a table lock another session holds)")
	f.StringVar(&o.backupDir, "backup-dir", "", "report the age of the newest offsets backup in this directory (offsetctl offsets backup --dir)")
	return cmd
}

func (o *checkOptions) validate() error {
	switch o.mode {
	case "", "counts", "checksum", "rows":
	default:
		return flagErrorf("--mode is counts, checksum or rows, not %q", o.mode)
	}
	if o.g.JSON && o.markdown {
		return flagErrorf("-json and --markdown cannot be combined")
	}
	if o.maxConcurrent < 1 || o.rateLimit < 0 || o.settle < 0 || o.interval <= 0 || o.jitter < 0 || o.jitter >= 1 {
		return flagErrorf("--max-concurrent must be at least 1, --rate-limit and --settle not negative, --interval positive, --jitter in [0, 1)")
	}
	if o.stmtTimeout <= 0 || o.lockTimeout <= 0 {
		return flagErrorf("--statement-timeout and --lock-timeout must be positive")
	}
	return o.filter().validate()
}

func checkRun(ctx context.Context, cmd *cobra.Command, o *checkOptions) error {
	cfg, _, err := loadConfig(o.deps, o.cfg.chdir, o.cfg.in, false)
	if err != nil {
		return err
	}
	if len(cfg.Reconciles) == 0 {
		return withHint(errors.New("no reconcile block to check"), "check runs the configuration's reconcile blocks, and finds more tables with --schema and --table patterns on their databases: declare one per source and sink.")
	}
	if o.listen != "" {
		return checkListen(ctx, o, cfg)
	}
	r := checkOnce(ctx, o, cfg)
	if err := checkPublish(ctx, o, r); err != nil {
		return err
	}
	if o.record {
		o.loc.parsed(cmd)
		backend, err := stateFor(cmd.Context(), o.deps, &o.loc, cfg)
		if err != nil {
			return err
		}
		defer backend.Close()
		if _, err := recordOperation(ctx, o.deps, backend, checkOperation(r)); err != nil {
			return err
		}
	}
	if err := views.NewCheck(o.deps.Streams, o.g.JSON, o.markdown).Result(r); err != nil {
		return err
	}
	if c := checkExit(r); c != ExitOK {
		return &exitError{code: c}
	}
	return nil
}

// filter is the table selection of --table, --schema and --exclude.
func (o *checkOptions) filter() tableFilter {
	return tableFilter{tables: o.tables, schemas: o.schemas, excludes: o.excludes}
}

// selectBlocks returns the blocks to check. Without --table, --schema and
// --exclude: every reconcile block. With them, for each source and sink
// pair the reconcile blocks name, as diff does: the blocks whose table the
// filter keeps, then the source's other tables it keeps (found in the
// source, checked with the defaults: --mode or checksum, no row may
// differ), and every plain --table, found or not, so that its absence is
// reported. A source whose tables cannot be listed is a failed line; the
// others go on.
func (o *checkOptions) selectBlocks(ctx context.Context, clients *configClients, cfg *config.Config) ([]*config.Reconcile, []views.CheckTable) {
	f := o.filter()
	if len(o.tables) == 0 && len(o.schemas) == 0 && len(o.excludes) == 0 {
		return cfg.Reconciles, nil
	}
	type pair struct{ source, sink *config.Database }
	var pairs []pair
	for _, b := range cfg.Reconciles {
		if b.Source != nil && b.Sink != nil && !slices.Contains(pairs, pair{b.Source, b.Sink}) {
			pairs = append(pairs, pair{b.Source, b.Sink})
		}
	}
	var out []*config.Reconcile
	var failed []views.CheckTable
	for _, b := range cfg.Reconciles {
		if (b.Source == nil || b.Sink == nil) && f.keep(b.Table) {
			out = append(out, b) // reported as such by checkBlock
		}
	}
	for _, p := range pairs {
		pf, names, err := f.sourceTables(ctx, clients, p.source)
		if err != nil {
			failed = append(failed, views.CheckTable{Block: p.source.Addr(), Table: "(tables of " + p.source.Addr() + ")", Verdict: checkError, Error: err.Error()})
			continue
		}
		covered := map[string]bool{}
		for _, b := range cfg.Reconciles {
			if b.Source == p.source && b.Sink == p.sink && pf.keep(b.Table) {
				out = append(out, b)
				covered[pf.qualify(b.Table)] = true
			}
		}
		for _, n := range pf.selectTables(names) {
			if covered[pf.qualify(n)] {
				continue
			}
			n = pf.qualify(n)
			covered[n] = true
			sinkTable := n
			if pf.schema != "" {
				// A MariaDB database is rarely the sink's schema: the sink's
				// table of that name on its search_path.
				_, sinkTable, _ = strings.Cut(n, ".")
			}
			out = append(out, &config.Reconcile{Name: "found_" + strings.NewReplacer(".", "_", "-", "_").Replace(n),
				Source: p.source, Sink: p.sink, Table: n, SinkTable: sinkTable})
		}
	}
	if len(out) == 0 && len(failed) == 0 {
		failed = append(failed, views.CheckTable{Table: "(no table)", Verdict: checkError,
			Error: "no reconcile block's table and no source table matches --table, --schema and --exclude: check the patterns (schema.table, like public.*)"})
	}
	return out, failed
}

// sourceTables returns the filter for a source database (its schema: public
// for PostgreSQL, the URL's database for MariaDB/MySQL) and, when the
// selection needs them, the source's tables.
func (f tableFilter) sourceTables(ctx context.Context, clients *configClients, d *config.Database) (tableFilter, []string, error) {
	if mysqlurl.Is(d.URL.Value()) {
		db, err := clients.MySQLDatabase(ctx, d)
		if err != nil {
			return f, nil, fmt.Errorf("connecting to %s: %w", d.Addr(), err)
		}
		schema, names, err := listMySQLTables(ctx, db)
		if err != nil {
			return f, nil, err
		}
		f.schema = schema
		if !f.discovers() {
			names = nil
		}
		return f, names, nil
	}
	if !f.discovers() {
		return f, nil, nil
	}
	pool, err := clients.Database(ctx, d)
	if err != nil {
		return f, nil, fmt.Errorf("connecting to %s: %w", d.Addr(), err)
	}
	names, err := listTables(ctx, pool)
	return f, names, err
}

// checkOnce runs every block once: its table, then its connectors. It never
// fails as a whole: what could not be checked is in the result.
func checkOnce(ctx context.Context, o *checkOptions, cfg *config.Config) *views.CheckResult {
	start := o.deps.Now()
	clients := newConfigClients(cfg, o.g.Timeout)
	defer clients.Close()
	blocks, failed := o.selectBlocks(ctx, clients, cfg)
	obs := &checkObserver{clients: clients, now: o.deps.Now}
	r := &views.CheckResult{FormatVersion: views.CheckFormat, OffsetctlVersion: Version, StartedAt: start.UTC(), Tables: make([]views.CheckTable, len(blocks))}
	sem := make(chan struct{}, o.maxConcurrent)
	var wg sync.WaitGroup
	conns := make([][]views.CheckConn, len(blocks))
	for i, b := range blocks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			r.Tables[i], conns[i] = o.checkBlock(ctx, obs, b)
		}()
	}
	wg.Wait()
	r.Tables = append(r.Tables, failed...)
	for _, c := range conns {
		r.Connectors = append(r.Connectors, c...)
	}
	if o.backupDir != "" {
		r.Backup = newestBackup(o.backupDir, o.deps.Now())
	}
	r.Duration = o.deps.Now().Sub(start)
	r.DurationSeconds = r.Duration.Seconds()
	summarizeCheck(r)
	return r
}

// checkBlock compares one block's table and checks its connectors. When
// rows differ on a block tied to its connectors, the table is compared again
// lag-aware: the source's snapshot is taken first, check waits (up to
// --settle) for the pipeline to deliver every change up to it, and only then
// reads the sink. Rows that still differ are drift when the pipeline got
// there, in flight when it did not.
func (o *checkOptions) checkBlock(ctx context.Context, obs *checkObserver, b *config.Reconcile) (views.CheckTable, []views.CheckConn) {
	chk := b.Check
	if chk == nil {
		chk = &config.Check{Mode: "checksum"}
	}
	mode := chk.Mode
	if o.mode != "" {
		mode = o.mode
	}
	t := views.CheckTable{Block: b.Addr(), Table: b.Table, SinkTable: b.SinkTable, Mode: mode, MaxRowsDiff: chk.MaxRowsDifferent}
	spec := reconcile.Spec{
		Table: b.Table, SinkTable: b.SinkTable, Key: b.Key, Columns: b.Columns, Ignore: b.IgnoreColumns, Where: b.Where,
		TimestampPrecision: reconcile.Precision(b.TimestampPrecision), Mode: reconcile.Mode(mode), MaxKeys: 1,
		StatementTimeout: o.stmtTimeout, LockTimeout: o.lockTimeout, RateLimit: o.rateLimit,
	}
	compare := func() *reconcile.Result {
		res, err := obs.compare(ctx, b, spec)
		if err != nil {
			t.Verdict, t.Error = checkError, err.Error()
			return nil
		}
		fillCheckTable(&t, res)
		t.Verdict = checkHealthy
		if t.RowsDifferent > chk.MaxRowsDifferent {
			t.Verdict = checkDrift
		}
		return res
	}
	compare()
	if t.Verdict == checkDrift && len(b.Connectors) > 0 {
		var seen caughtUp
		spec.BeforeSinkSnapshot = func(ctx context.Context, pos reconcile.SnapshotPosition) error {
			seen = obs.waitPipeline(ctx, b, pos, o.settle)
			return nil
		}
		// Per row, in the rows mode: a row changed on the source after the
		// snapshot may already be newer in the sink; it is in flight.
		spec.RecheckSource, spec.MaxKeys = true, checkRecheckKeys
		t.Settled = true
		first := compare()
		if t.Verdict == checkDrift && seen.ok {
			// One pass cannot tell drift from a row that changed and
			// changed back on the source after its snapshot (inserted
			// and deleted again: the sink, read later, may hold the
			// insert and not yet the delete). A second pass, whose sink
			// read waits for the pipeline to deliver the source's newer
			// snapshot, can: drift is what both passes found.
			changed := t.ChangedSince
			second := compare()
			t.ChangedSince += changed
			if t.Verdict == checkDrift && seen.ok && first != nil && second != nil && spec.Mode == reconcile.ModeRows {
				was, now := first.DifferingKeys(), second.DifferingKeys()
				both := int64(0)
				for k := range now {
					if was[k] {
						both++
					}
				}
				if transient := int64(len(now)) - both; transient > 0 {
					t.ChangedSince += transient
					if both <= chk.MaxRowsDifferent {
						t.Verdict = checkHealthy // in flight, below
					}
				}
			}
		}
		t.Pipeline = seen.evidence
		switch {
		case t.Verdict == checkDrift && !seen.ok:
			t.Verdict = checkInFlight
		case t.ChangedSince > 0:
			t.Pipeline += fmt.Sprintf("; %d differing rows changed on the source after its snapshot, or differed in one of two passes only: in flight", t.ChangedSince)
			if t.Verdict == checkHealthy {
				t.Verdict = checkInFlight
			}
		}
	}
	return t, obs.connectors(ctx, b, chk)
}

// checkRecheckKeys bounds the differing keys a lag-aware comparison in the
// rows mode keeps and re-reads on the source; more stay counted as they are.
const checkRecheckKeys = 10000

// fillCheckTable copies a comparison's counts (never its rows) into the
// table's line.
func fillCheckTable(t *views.CheckTable, res *reconcile.Result) {
	t.SourceRows, t.SinkRows = res.SourceRows, res.SinkRows
	t.Missing, t.Extra, t.Mismatched = res.MissingCount, res.ExtraCount, res.MismatchedCount
	t.RowsRead = res.Stats.RowsHashed + res.Stats.RowsStreamed
	if res.Mode == reconcile.ModeCounts {
		t.RowsRead = res.SourceRows + res.SinkRows // scanned by count(*)
	}
	t.Queries = res.Stats.Queries
	t.ChangedSince = res.ChangedSince
	if p := res.SourceSnapshot; p.Binlog {
		t.SnapshotBinlog = p.String()
	} else {
		t.SnapshotLSN = p.String()
	}
	t.DurationSeconds = res.Stats.Elapsed.Seconds()
	countDiff := res.SourceRows - res.SinkRows
	if countDiff < 0 {
		countDiff = -countDiff
	}
	switch res.Mode {
	case reconcile.ModeCounts:
		t.RowsDifferent = countDiff
	case reconcile.ModeChecksum:
		t.ChecksumDiffers = res.Drift()
		t.RowsDifferent = countDiff
		if t.ChecksumDiffers && t.RowsDifferent == 0 {
			t.RowsDifferent = 1 // equal counts, different content: at least one row
		}
	default:
		t.RowsDifferent = res.MissingCount + res.ExtraCount + res.MismatchedCount
	}
}

// checkOperation is the check as the state's history records it: one step
// per table and connector with its verdict and counts, never row values.
func checkOperation(r *views.CheckResult) state.Operation {
	op := state.Operation{Name: "check", Kind: state.KindCheck, Status: state.StatusApplied, Started: r.StartedAt,
		Finished: r.StartedAt.Add(r.Duration)}
	if r.Verdict != checkHealthy && r.Verdict != checkInFlight {
		op.Status, op.Error = state.StatusFailed, r.Verdict
	}
	step := func(name, target, verdict, msg string) {
		st := state.StepDone
		if verdict != checkHealthy && verdict != checkInFlight {
			st = state.StepFailed
		}
		op.Steps = append(op.Steps, state.Step{Name: name, Target: target, Status: st, Started: r.StartedAt, Finished: op.Finished, Message: verdict + ": " + msg})
	}
	for _, t := range r.Tables {
		msg := fmt.Sprintf("%s, %d rows different of %d allowed", t.Mode, t.RowsDifferent, t.MaxRowsDiff)
		if t.Error != "" {
			msg = t.Error
		}
		step("check table", t.Table, t.Verdict, msg)
	}
	for _, c := range r.Connectors {
		step("check connector", c.Connector, c.Verdict, fmt.Sprintf("%s, %d of %d tasks failed, lag %s", c.State, c.FailedTasks, c.Tasks, c.LagText()))
	}
	return op
}

// checkPublish writes the metrics file and pushes to the Pushgateway.
func checkPublish(ctx context.Context, o *checkOptions, r *views.CheckResult) error {
	if o.metricsFile == "" && o.pushURL == "" {
		return nil
	}
	reg, err := checkRegistry(r)
	if err != nil {
		return err
	}
	if o.metricsFile != "" {
		if err := writeMetricsFile(o.metricsFile, reg); err != nil {
			return withHint(err, "Check that the directory of --metrics-file exists and is writable (node_exporter's --collector.textfile.directory).")
		}
	}
	if o.pushURL != "" {
		if err := push.New(o.pushURL, "offsetctl_check").Gatherer(reg).PushContext(ctx); err != nil {
			return withHint(fmt.Errorf("pushing the check's metrics to %s: %w", o.pushURL, err), "Check --push-url: the Pushgateway's base URL, like http://pushgateway:9091.")
		}
	}
	return nil
}

// checkListen serves /metrics and checks every interval (with jitter), one
// run at a time, until ctx ends.
func checkListen(ctx context.Context, o *checkOptions, cfg *config.Config) error {
	v := views.NewCheck(o.deps.Streams, o.g.JSON, o.markdown)
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return withHint(fmt.Errorf("listening on %s: %w", o.listen, err), "Choose a free address with --listen, like :9464.")
	}
	latest := &latestGatherer{}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(latest, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Shutdown(context.WithoutCancel(ctx))
	v.Serving(ln.Addr().String(), len(cfg.Reconciles), o.interval)
	if o.listening != nil {
		o.listening(ln.Addr().String())
	}
	rnd := rand.New(rand.NewPCG(uint64(o.deps.Now().UnixNano()), 1))
	for {
		r := checkOnce(ctx, o, cfg)
		if ctx.Err() != nil {
			return nil
		}
		reg, err := checkRegistry(r)
		if err != nil {
			return err
		}
		latest.set(reg)
		if err := checkPublish(ctx, o, r); err != nil {
			v.Warn(err.Error())
		}
		v.Checked(r)
		if o.checked != nil {
			o.checked(r)
		}
		wait := o.interval
		if o.jitter > 0 {
			wait += time.Duration((rnd.Float64()*2 - 1) * o.jitter * float64(o.interval))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

// Verdicts of a table or a whole check run.
const (
	checkHealthy  = "healthy"
	checkDrift    = "drift"     // rows differ beyond the threshold, the pipeline caught up
	checkInFlight = "in_flight" // rows differ, but the pipeline has not caught up yet
	checkLag      = "threshold" // a connector threshold (lag, failed tasks) is crossed
	checkError    = "error"     // the table or a connector could not be checked
)

// summarizeCheck sets the run's verdict from its tables and connectors.
func summarizeCheck(r *views.CheckResult) {
	rank := map[string]int{checkHealthy: 0, checkInFlight: 1, checkLag: 2, checkDrift: 3, checkError: 4}
	v := checkHealthy
	worst := func(x string) {
		if rank[x] > rank[v] {
			v = x
		}
	}
	for _, t := range r.Tables {
		worst(t.Verdict)
	}
	for _, c := range r.Connectors {
		worst(c.Verdict)
	}
	r.Verdict = v
}
