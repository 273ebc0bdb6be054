package command

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/offsetctl/offsetctl/internal/numfmt"
	"github.com/offsetctl/offsetctl/internal/redact"
	"github.com/offsetctl/offsetctl/pkg/reconcile"
)

// diffFormatVersion is the format_version of `offsetctl diff -json`.
const diffFormatVersion = 1

// diffOptions are the flags of `offsetctl diff`.
type diffOptions struct {
	Source, Sink       string
	Tables, SinkTables []string
	Key                []string
	Columns, Ignore    []string
	Where              string
	Precision          string
	Mode               string
	By                 string
	ShowValues         bool
	Markdown           bool
	Settle             time.Duration
	MaxKeys            int
	StatementTimeout   time.Duration
	LockTimeout        time.Duration
	RateLimit          int
	Parallel           int

	specs []reconcile.Spec // built from the flags by validate
}

func newDiffCmd(deps *Deps, g *globalOptions) *cobra.Command {
	return newDiffCmdF(deps, g, nil)
}

// newDiffCmdF builds the command; runF, when not nil, replaces the run
// function so flag parsing can be tested without a database.
func newDiffCmdF(deps *Deps, g *globalOptions, runF func(context.Context, *diffOptions) error) *cobra.Command {
	o := &diffOptions{}
	cmd := &cobra.Command{
		Use:   "diff --source URL --sink URL --table TABLE [--table TABLE...]",
		Short: "Compare source and sink tables in PostgreSQL: counts, checksums or rows",
		Long: `diff compares tables of a source database with their copies in a sink database, without
a configuration file, and reports the drift.

Modes:
  counts    row counts of each table on both sides (table | source | sink | diff | status)
  checksum  row counts and order-independent checksums of the whole table, and per partition
            with --by UNIT:COLUMN (UNIT hour, day, week, month or year, in UTC) or --by range:N (N key ranges)
  rows      (the default) the keys of rows missing in the sink, extra in the sink, and present
            on both sides with different content, naming the columns that differ

Rows are compared by value: timestamps in UTC at the coarser precision of the two columns (or
--timestamp-precision), numerics by value (1.0 = 1.00), json by content; NULL, '' and 'NULL'
are all different. Keys are shown; row values only with --show-values, as they may be personal
data (not with --markdown, whose report goes to tickets and pull requests).

Each side is read in one read-only, repeatable-read transaction (application_name offsetctl)
with a statement and a lock timeout, so diff never blocks writers; --rate-limit slows it down
further. Connections: --source and --sink take a URL or a libpq keyword string (service=NAME
works). The source defaults to OFFSETCTL_SOURCE_URL, then to the libpq PG* variables; the sink
must be named, with --sink or OFFSETCTL_SINK_URL (the PG* variables fill in only what its string
leaves out). diff refuses to compare a table with itself: when both connections reach the same
database of the same server (told by the server, not by the URL), give a different --sink-table.

Exit status: 0 no drift, 2 drift found, 1 error.`,
		Example: `  offsetctl diff --source postgres://ro@src/shop --sink postgres://ro@sink/shop --table customers
  offsetctl diff --mode counts --table customers --table orders --table order_lines
  offsetctl diff --table public.customers --sink-table sink.customers --ignore __op,__source_ts_ms \
      --timestamp-precision ms --where "updated_at >= '2026-11-01'" --settle 30s
  offsetctl diff --mode checksum --by day:updated_at --table customers --markdown`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := o.validate(g); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return diffRun(cmd.Context(), deps, g, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Source, "source", "", "source database URL or libpq string (env OFFSETCTL_SOURCE_URL, then PG* variables)")
	f.StringVar(&o.Sink, "sink", "", "sink database URL or libpq string (required: this or env OFFSETCTL_SINK_URL; never the PG* variables alone)")
	f.StringArrayVar(&o.Tables, "table", nil, "source table, [SCHEMA.]NAME (repeatable)")
	f.StringArrayVar(&o.SinkTables, "sink-table", nil, "sink table of the --table in the same position (default: the same name)")
	f.StringSliceVar(&o.Key, "key", nil, "key columns, comma-separated (default: the source table's primary key)")
	f.StringSliceVar(&o.Columns, "columns", nil, "compare only these columns; SOURCE=SINK maps a renamed column")
	f.StringSliceVar(&o.Ignore, "ignore", nil, "columns left out of the comparison, comma-separated")
	f.StringVar(&o.Where, "where", "", "filter applied on both sides: one reviewed SQL boolean expression (no ';', comments or parameters)")
	f.StringVar(&o.Precision, "timestamp-precision", "", "compare timestamps at s, ms or us (default: the coarser of the two columns)")
	f.StringVar(&o.Mode, "mode", "rows", "counts, checksum or rows")
	f.StringVar(&o.By, "by", "", "checksum partitions: UNIT:COLUMN (hour, day, week, month, year) or range:N")
	f.BoolVar(&o.ShowValues, "show-values", false, "show the values of differing rows (may be personal data)")
	f.BoolVar(&o.Markdown, "markdown", false, "print Markdown (for a ticket or a pull request) instead of text")
	f.DurationVar(&o.Settle, "settle", 0, "re-check differing rows after this delay and report only those still different")
	f.IntVar(&o.MaxKeys, "max-keys", 1000, "keys listed per kind of difference and table (counts stay exact)")
	f.DurationVar(&o.StatementTimeout, "statement-timeout", 30*time.Minute, "statement_timeout of every query")
	f.DurationVar(&o.LockTimeout, "lock-timeout", 5*time.Second, "lock_timeout of every query")
	f.IntVar(&o.RateLimit, "rate-limit", 0, "maximum rows read per second on each side (0: no limit)")
	f.IntVar(&o.Parallel, "parallel", 0, "parallel workers each side's queries may use besides their own backend (0: one core per database)")
	return cmd
}

// validate checks the flags and builds one Spec per table, before any I/O.
func (o *diffOptions) validate(g *globalOptions) error {
	if len(o.Tables) == 0 {
		return flagErrorf("at least one --table is required")
	}
	if len(o.SinkTables) > 0 && len(o.SinkTables) != len(o.Tables) {
		return flagErrorf("%d --sink-table for %d --table: give one per --table, in the same order", len(o.SinkTables), len(o.Tables))
	}
	if g.JSON && o.Markdown {
		return flagErrorf("-json and --markdown cannot be combined")
	}
	if o.ShowValues && o.Markdown {
		// Markdown is for tickets and pull requests, where row values
		// (personal data) do not belong; it lists keys only.
		return flagErrorf("--show-values cannot be combined with --markdown: the Markdown report is for tickets and pull requests and lists keys only; drop --markdown to see the values in the terminal (or -json to keep them in a file)")
	}
	mode := reconcile.Mode(o.Mode)
	var part *reconcile.Partition
	if o.By != "" {
		kind, arg, ok := strings.Cut(o.By, ":")
		switch {
		case !ok || arg == "":
			return flagErrorf("--by %q: want UNIT:COLUMN (UNIT one of hour, day, week, month, year) or range:N", o.By)
		case kind == "hour" || kind == "day" || kind == "week" || kind == "month" || kind == "year":
			part = &reconcile.Partition{By: kind, Column: arg}
		case kind == "range":
			n, err := strconv.Atoi(arg)
			if err != nil {
				return flagErrorf("--by %q: N must be a number", o.By)
			}
			part = &reconcile.Partition{By: "range", Ranges: n}
		default:
			return flagErrorf("--by %q: want UNIT:COLUMN (UNIT one of hour, day, week, month, year) or range:N", o.By)
		}
		if mode != reconcile.ModeChecksum {
			return flagErrorf("--by needs --mode checksum")
		}
	}
	if o.MaxKeys < 1 {
		return flagErrorf("--max-keys must be at least 1")
	}
	if o.RateLimit < 0 || o.Parallel < 0 || o.Settle < 0 || o.StatementTimeout <= 0 || o.LockTimeout <= 0 {
		return flagErrorf("--rate-limit, --parallel and --settle cannot be negative; --statement-timeout and --lock-timeout must be positive")
	}
	o.specs = nil
	for i, t := range o.Tables {
		s := reconcile.Spec{
			Table: t, Key: o.Key, Columns: o.Columns, Ignore: o.Ignore, Where: o.Where,
			TimestampPrecision: reconcile.Precision(o.Precision), Mode: mode, Partition: part,
			Settle: o.Settle, ShowValues: o.ShowValues, MaxKeys: o.MaxKeys,
			StatementTimeout: o.StatementTimeout, LockTimeout: o.LockTimeout, RateLimit: o.RateLimit, Parallel: o.Parallel,
		}
		if len(o.SinkTables) > 0 {
			s.SinkTable = o.SinkTables[i]
		}
		if err := s.Validate(); err != nil {
			var se *reconcile.SpecError
			if errors.As(err, &se) {
				return flagErrorf("%s", diffFlagMessage(se))
			}
			return flagErrorf("%v", err)
		}
		o.specs = append(o.specs, s)
	}
	return nil
}

// diffFlagMessage words a spec error with the flag that carries the field.
func diffFlagMessage(se *reconcile.SpecError) string {
	flag := map[string]string{
		"table": "--table", "sink_table": "--sink-table", "key": "--key", "columns": "--columns",
		"timestamp_precision": "--timestamp-precision", "where": "--where", "mode": "--mode", "partition": "--by", "parallel": "--parallel",
	}[se.Field]
	if flag == "" {
		return se.Error()
	}
	return flag + ": " + se.Msg
}

// diffRun connects to both databases, compares each table and prints the
// report.
func diffRun(ctx context.Context, deps *Deps, g *globalOptions, o *diffOptions) error {
	start := deps.Now()
	// Keep the client small on the machines it runs on (often a database
	// host): the live heap is tens of MiB at most, so a soft limit makes the
	// garbage collector return memory early. GOMEMLIMIT overrides it.
	if deps.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(24 << 20)
	}
	srcDSN := diffFirstNonEmpty(o.Source, deps.Getenv("OFFSETCTL_SOURCE_URL"))
	dstDSN := diffFirstNonEmpty(o.Sink, deps.Getenv("OFFSETCTL_SINK_URL"))
	if strings.TrimSpace(dstDSN) == "" {
		// The PG* variables would make the sink the source's database: a
		// comparison that always finds no drift.
		return withHint(errors.New("no sink database: neither --sink nor OFFSETCTL_SINK_URL is set"),
			"Name the sink with --sink postgres://USER@HOST:PORT/DATABASE (or a libpq string such as service=NAME), or export OFFSETCTL_SINK_URL. The PG* variables are used for the source only, so that the sink is never silently the source's database.")
	}
	src, err := diffConnectPG(ctx, "source", srcDSN, g.Timeout)
	if err != nil {
		return err
	}
	defer src.Close(context.WithoutCancel(ctx))
	dst, err := diffConnectPG(ctx, "sink", dstDSN, g.Timeout)
	if err != nil {
		return err
	}
	defer dst.Close(context.WithoutCancel(ctx))

	var results []*reconcile.Result
	for _, spec := range o.specs {
		bar := newDiffProgress(deps, spec.Table)
		if bar != nil {
			spec.Progress = bar.update
		}
		r, err := reconcile.Compare(ctx, src, dst, spec)
		bar.done()
		if err != nil {
			err = fmt.Errorf("comparing %s: %w", spec.Table, err)
			var se *reconcile.SpecError
			switch {
			case errors.As(err, &se):
				return withHint(err, "Check "+diffFlagMessage(&reconcile.SpecError{Field: se.Field})+"; the filter runs on both sides, read-only.")
			case errors.Is(err, reconcile.ErrSameTable):
				return withHint(err, "Check --sink (or OFFSETCTL_SINK_URL): it reaches the source's database. To compare two tables of one database, give --sink-table.")
			case errors.Is(err, reconcile.ErrNotComparable):
				return withHint(err, "Choose the key with --key, leave columns out with --ignore, or map renamed columns with --columns SOURCE=SINK.")
			}
			return err
		}
		results = append(results, r)
	}
	elapsed := deps.Now().Sub(start)
	var werr error
	switch {
	case g.JSON:
		werr = writeDiffJSON(deps.Streams.Out, o, results)
	case o.Markdown:
		werr = writeDiffMarkdown(deps.Streams.Out, o, results)
	default:
		werr = writeDiffText(deps.Streams.Out, o, results, elapsed)
	}
	if werr != nil {
		return werr
	}
	for _, r := range results {
		if r.Drift() {
			return changesPresent()
		}
	}
	return nil
}

func diffFirstNonEmpty(v ...string) string {
	for _, s := range v {
		if s != "" {
			return s
		}
	}
	return ""
}

// connectPG opens one side's connection. An empty dsn means the libpq PG*
// variables. No password ever reaches an error message.
func diffConnectPG(ctx context.Context, what, dsn string, timeout time.Duration) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, withHint(fmt.Errorf("the %s connection string is not valid: %s", what, redact.Secret(err.Error(), diffPasswordOf(dsn))),
			"Give --"+what+" as postgres://USER@HOST:PORT/DATABASE or as a libpq string (host=... dbname=... or service=NAME); put the password in PGPASSWORD or ~/.pgpass rather than on the command line.")
	}
	cfg.RuntimeParams["application_name"] = "offsetctl"
	if timeout > 0 {
		cfg.ConnectTimeout = timeout
	}
	where := fmt.Sprintf("%s@%s:%d/%s", cfg.User, cfg.Host, cfg.Port, cfg.Database)
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		msg := redact.Secret(err.Error(), cfg.Password)
		return nil, withHint(fmt.Errorf("connecting to the %s database %s: %s", what, where, msg),
			"Check --"+what+" (or OFFSETCTL_"+strings.ToUpper(what)+"_URL, PG* variables), that the server is up, and that this user may connect.")
	}
	return conn, nil
}

func diffPasswordOf(dsn string) string {
	if cfg, err := pgx.ParseConfig(dsn); err == nil {
		return cfg.Password
	}
	// An unparseable string: hide whatever follows "password=" or "user:".
	if i := strings.Index(dsn, "password="); i >= 0 {
		rest := dsn[i+len("password="):]
		if j := strings.IndexAny(rest, " &"); j >= 0 {
			rest = rest[:j]
		}
		return rest
	}
	return ""
}

// diffProgress draws a progress bar on stderr when it is a terminal.
type diffProgress struct {
	bar *progressbar.ProgressBar
	max int64
}

func newDiffProgress(deps *Deps, table string) *diffProgress {
	if !deps.Streams.ErrTTY {
		return nil
	}
	bar := progressbar.NewOptions64(-1,
		progressbar.OptionSetWriter(deps.Streams.Err),
		progressbar.OptionSetDescription(table),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("rows"),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSetWidth(30),
	)
	return &diffProgress{bar: bar, max: -1}
}

func (p *diffProgress) update(ev reconcile.Progress) {
	if ev.RowsTotal > 0 && ev.RowsTotal != p.max && ev.RowsHashed <= ev.RowsTotal {
		p.max = ev.RowsTotal
		p.bar.ChangeMax64(ev.RowsTotal)
	}
	desc := ev.Phase
	if ev.CellsLeft > 0 {
		desc = fmt.Sprintf("%s, %d cells left", ev.Phase, ev.CellsLeft)
	}
	p.bar.Describe(desc)
	_ = p.bar.Set64(ev.RowsHashed)
}

func (p *diffProgress) done() {
	if p != nil {
		_ = p.bar.Finish()
	}
}

// JSON output.

type diffJSON struct {
	FormatVersion    int                 `json:"format_version"`
	OffsetctlVersion string              `json:"offsetctl_version"`
	Mode             string              `json:"mode"`
	Drift            bool                `json:"drift"`
	Filter           string              `json:"filter,omitempty"`
	Tables           []*reconcile.Result `json:"tables"`
}

// writeDiffJSON writes the report as encoding/json's indented encoding of
// diffJSON would, but streamed: one differing row at a time, so that listing
// a million keys does not hold their whole document in memory as well.
func writeDiffJSON(w io.Writer, o *diffOptions, results []*reconcile.Result) error {
	out := diffJSON{FormatVersion: diffFormatVersion, OffsetctlVersion: Version, Mode: o.Mode, Filter: o.Where, Tables: []*reconcile.Result{}}
	for _, r := range results {
		out.Drift = out.Drift || r.Drift()
	}
	env, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return err
	}
	const empty = `"tables": []`
	at := bytes.LastIndex(env, []byte(empty))
	if at < 0 || len(results) == 0 {
		_, err := w.Write(append(env, '\n'))
		return err
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	bw.Write(env[:at+len(empty)-1])
	for i, r := range results {
		bw.WriteString("\n    ")
		if err := writeResultJSON(bw, r); err != nil {
			return err
		}
		if i < len(results)-1 {
			bw.WriteByte(',')
		}
	}
	bw.WriteString("\n  ")
	bw.Write(env[at+len(empty)-1:])
	bw.WriteByte('\n')
	return bw.Flush()
}

// writeResultJSON writes one table's result, indented as an element of
// "tables", with its lists of differing rows written row by row.
func writeResultJSON(w *bufio.Writer, r *reconcile.Result) error {
	bare := *r
	bare.Missing, bare.Extra, bare.Mismatched = nil, nil, nil
	b, err := json.MarshalIndent(&bare, "    ", "  ")
	if err != nil {
		return err
	}
	// The lists come right before "missing_count", which every result has.
	const next = "\n      \"missing_count\":"
	at := bytes.Index(b, []byte(next))
	if at < 0 {
		return fmt.Errorf("internal error: no missing_count in a diff result")
	}
	w.Write(b[:at])
	for _, l := range []struct {
		name string
		rows []reconcile.Diff
	}{{"missing", r.Missing}, {"extra", r.Extra}, {"mismatched", r.Mismatched}} {
		if len(l.rows) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n      %q: [", l.name)
		for i := range l.rows {
			d, err := json.MarshalIndent(&l.rows[i], "        ", "  ")
			if err != nil {
				return err
			}
			w.WriteString("\n        ")
			w.Write(d)
			if i < len(l.rows)-1 {
				w.WriteByte(',')
			}
		}
		w.WriteString("\n      ],")
	}
	_, err = w.Write(b[at:])
	return err
}

// Text output.

func diffStatus(drift bool) string {
	if drift {
		return "MISMATCH"
	}
	return "OK"
}

func diffPairName(r *reconcile.Result) string {
	if r.Source == r.Sink {
		return r.Source.String()
	}
	return r.Source.String() + " → " + r.Sink.String()
}

// table renders rows as aligned columns; numeric columns (right) are
// right-aligned.
func diffTable(w io.Writer, indent string, head []string, right []bool, rows [][]string) {
	width := make([]int, len(head))
	for _, r := range append([][]string{head}, rows...) {
		for i, c := range r {
			width[i] = max(width[i], len([]rune(c)))
		}
	}
	for _, r := range append([][]string{head}, rows...) {
		var b strings.Builder
		b.WriteString(indent)
		for i, c := range r {
			pad := strings.Repeat(" ", width[i]-len([]rune(c)))
			if i > 0 {
				b.WriteString("  ")
			}
			if right[i] {
				b.WriteString(pad + c)
			} else if i < len(r)-1 {
				b.WriteString(c + pad)
			} else {
				b.WriteString(c)
			}
		}
		fmt.Fprintln(w, b.String())
	}
}

func diffPlural(n int64, one, many string) string {
	if n == 1 {
		return numfmt.Thousands(n) + " " + one
	}
	return numfmt.Thousands(n) + " " + many
}

func writeDiffText(w io.Writer, o *diffOptions, results []*reconcile.Result, elapsed time.Duration) error {
	drifted := 0
	for _, r := range results {
		if r.Drift() {
			drifted++
		}
	}
	switch reconcile.Mode(o.Mode) {
	case reconcile.ModeCounts:
		var rows [][]string
		for _, r := range results {
			rows = append(rows, []string{diffPairName(r), numfmt.Thousands(r.SourceRows), numfmt.Thousands(r.SinkRows), numfmt.Signed(r.SinkRows - r.SourceRows), diffStatus(r.Drift())})
		}
		diffTable(w, "", []string{"TABLE", "SOURCE", "SINK", "DIFF", "STATUS"}, []bool{false, true, true, true, false}, rows)
	case reconcile.ModeChecksum:
		var rows [][]string
		for _, r := range results {
			rows = append(rows, []string{diffPairName(r), numfmt.Thousands(r.SourceRows), numfmt.Thousands(r.SinkRows), r.SourceChecksum.Hex(), r.SinkChecksum.Hex(), diffStatus(r.Drift())})
		}
		diffTable(w, "", []string{"TABLE", "SOURCE ROWS", "SINK ROWS", "SOURCE CHECKSUM", "SINK CHECKSUM", "STATUS"}, []bool{false, true, true, false, false, false}, rows)
		for _, r := range results {
			if len(r.Partitions) == 0 {
				continue
			}
			fmt.Fprintf(w, "\n%s by %s:\n", diffPairName(r), diffPartitionTitle(o))
			var prow [][]string
			for i, p := range r.Partitions {
				prow = append(prow, []string{diffPartitionLabel(o, r, i), numfmt.Thousands(p.Source.Rows), numfmt.Thousands(p.Sink.Rows), p.Source.Hex(), p.Sink.Hex(), diffStatus(!p.Equal())})
			}
			diffTable(w, "  ", []string{"PARTITION", "SOURCE ROWS", "SINK ROWS", "SOURCE CHECKSUM", "SINK CHECKSUM", "STATUS"}, []bool{false, true, true, false, false, false}, prow)
		}
	default:
		for i, r := range results {
			if i > 0 {
				fmt.Fprintln(w)
			}
			diffWriteRowsText(w, o, r)
		}
	}
	fmt.Fprintln(w)
	took := ""
	if elapsed > 0 {
		took = " in " + elapsed.Round(10*time.Millisecond).String()
	}
	if drifted == 0 {
		fmt.Fprintf(w, "No drift: %s compared%s.\n", diffPlural(int64(len(results)), "table", "tables"), took)
		return nil
	}
	fmt.Fprintf(w, "Drift found in %d of %s%s.\n", drifted, diffPlural(int64(len(results)), "table", "tables"), took)
	return nil
}

func diffPartitionTitle(o *diffOptions) string {
	kind, arg, _ := strings.Cut(o.By, ":")
	if kind == "day" {
		return "day of " + arg + " (UTC)"
	}
	return arg + " key ranges"
}

// diffPartitionLabel names partition i: the day, or the key range from its
// lower bound to the next partition's.
func diffPartitionLabel(o *diffOptions, r *reconcile.Result, i int) string {
	p := r.Partitions[i].Partition
	if !strings.HasPrefix(o.By, "range:") || strings.HasPrefix(p, "<") {
		return p
	}
	if i+1 < len(r.Partitions) {
		return "[" + p + ", " + r.Partitions[i+1].Partition + ")"
	}
	return "[" + p + ", …)"
}

func diffKeyLabel(r *reconcile.Result) string {
	if len(r.KeyColumns) == 1 {
		return r.KeyColumns[0]
	}
	return "(" + strings.Join(r.KeyColumns, ", ") + ")"
}

func diffWriteRowsText(w io.Writer, o *diffOptions, r *reconcile.Result) {
	fmt.Fprintf(w, "%s\n", diffPairName(r))
	cols := numfmt.Thousands(int64(len(r.Columns))) + " compared"
	if len(r.Renamed) > 0 {
		var ren []string
		for _, c := range r.Columns {
			if d, ok := r.Renamed[c]; ok {
				ren = append(ren, c+" → "+d)
			}
		}
		cols += " (" + strings.Join(ren, ", ") + ")"
	}
	if len(r.Ignored) > 0 {
		cols += "; ignored: " + strings.Join(r.Ignored, ", ")
	}
	lines := [][2]string{{"key", diffKeyLabel(r)}, {"columns", cols}}
	if len(r.TimestampPrecision) > 0 {
		var ts []string
		for _, c := range r.Columns {
			if d, ok := r.TimestampPrecision[c]; ok {
				ts = append(ts, fmt.Sprintf("%s at %s", c, diffDigitsName(d)))
			}
		}
		lines = append(lines, [2]string{"timestamps", strings.Join(ts, ", ") + ", in UTC"})
	}
	if o.Where != "" {
		lines = append(lines, [2]string{"filter", o.Where})
	}
	lines = append(lines, [2]string{"rows", fmt.Sprintf("%s in the source, %s in the sink", numfmt.Thousands(r.SourceRows), numfmt.Thousands(r.SinkRows))})
	if r.SourceChecksum != nil {
		lines = append(lines, [2]string{"checksums", fmt.Sprintf("%s source, %s sink", r.SourceChecksum.Hex(), r.SinkChecksum.Hex())})
	}
	for _, l := range lines {
		fmt.Fprintf(w, "  %-11s %s\n", l[0]+":", l[1])
	}
	section := func(title string, n int64, list []reconcile.Diff, withCols bool) {
		if n == 0 {
			return
		}
		fmt.Fprintf(w, "\n  %s (%s):\n", title, diffPlural(n, "row", "rows"))
		for _, d := range list {
			line := "    " + diffKeyLabel(r) + "=" + d.Key.String()
			if withCols && len(d.Columns) > 0 {
				line += "  differs in " + strings.Join(d.Columns, ", ")
			}
			fmt.Fprintln(w, line)
			if o.ShowValues {
				diffWriteValues(w, r, d)
			}
		}
		if int64(len(list)) < n {
			fmt.Fprintf(w, "    … and %s more (raise --max-keys to list them)\n", numfmt.Thousands(n-int64(len(list))))
		}
	}
	section("Missing in the sink", r.MissingCount, r.Missing, false)
	section("Extra in the sink", r.ExtraCount, r.Extra, false)
	section("Different", r.MismatchedCount, r.Mismatched, true)
	fmt.Fprintln(w)
	summary := fmt.Sprintf("  %s missing, %s extra, %s different", numfmt.Thousands(r.MissingCount), numfmt.Thousands(r.ExtraCount), numfmt.Thousands(r.MismatchedCount))
	if r.Settled > 0 {
		summary += fmt.Sprintf(" (%s settled when checked again after %s)", diffPlural(r.Settled, "row", "rows"), o.Settle)
	}
	fmt.Fprintln(w, summary+".")
}

func diffDigitsName(d int) string {
	switch d {
	case 0:
		return "seconds"
	case 3:
		return "milliseconds"
	case 6:
		return "microseconds"
	}
	return fmt.Sprintf("%d fractional digits", d)
}

func diffWriteValues(w io.Writer, r *reconcile.Result, d reconcile.Diff) {
	show := func(v *string) string {
		if v == nil {
			return "NULL"
		}
		return strconv.Quote(*v)
	}
	for _, c := range r.Columns {
		sv, inS := d.SourceValues[c]
		dv, inD := d.SinkValues[c]
		switch {
		case d.SourceValues != nil && d.SinkValues != nil:
			if !diffContains(d.Columns, c) {
				continue
			}
			fmt.Fprintf(w, "      %s: %s in the source, %s in the sink\n", c, show(sv), show(dv))
		case inS:
			fmt.Fprintf(w, "      %s: %s\n", c, show(sv))
		case inD:
			fmt.Fprintf(w, "      %s: %s\n", c, show(dv))
		}
	}
}

func diffContains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Markdown output.

func diffMdEscape(s string) string {
	r := strings.NewReplacer("|", `\|`, "`", "\\`", "*", `\*`, "_", `\_`, "<", "&lt;", ">", "&gt;")
	return r.Replace(s)
}

func writeDiffMarkdown(w io.Writer, o *diffOptions, results []*reconcile.Result) error {
	drift := false
	for _, r := range results {
		drift = drift || r.Drift()
	}
	title := "no drift"
	if drift {
		title = "drift found"
	}
	fmt.Fprintf(w, "### offsetctl diff (%s): %s\n\n", o.Mode, title)
	if o.Where != "" {
		fmt.Fprintf(w, "Filter: `%s`\n\n", strings.ReplaceAll(o.Where, "`", "'"))
	}
	switch reconcile.Mode(o.Mode) {
	case reconcile.ModeCounts:
		fmt.Fprintln(w, "| table | source | sink | diff | status |")
		fmt.Fprintln(w, "|---|--:|--:|--:|---|")
		for _, r := range results {
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", diffMdEscape(diffPairName(r)), numfmt.Thousands(r.SourceRows), numfmt.Thousands(r.SinkRows), numfmt.Signed(r.SinkRows-r.SourceRows), diffStatus(r.Drift()))
		}
	case reconcile.ModeChecksum:
		fmt.Fprintln(w, "| table | source rows | sink rows | source checksum | sink checksum | status |")
		fmt.Fprintln(w, "|---|--:|--:|---|---|---|")
		for _, r := range results {
			fmt.Fprintf(w, "| %s | %s | %s | `%s` | `%s` | %s |\n", diffMdEscape(diffPairName(r)), numfmt.Thousands(r.SourceRows), numfmt.Thousands(r.SinkRows), r.SourceChecksum.Hex(), r.SinkChecksum.Hex(), diffStatus(r.Drift()))
		}
		for _, r := range results {
			if len(r.Partitions) == 0 {
				continue
			}
			fmt.Fprintf(w, "\n#### %s by %s\n\n", diffMdEscape(diffPairName(r)), diffMdEscape(diffPartitionTitle(o)))
			fmt.Fprintln(w, "| partition | source rows | sink rows | status |")
			fmt.Fprintln(w, "|---|--:|--:|---|")
			for i, p := range r.Partitions {
				fmt.Fprintf(w, "| %s | %s | %s | %s |\n", diffMdEscape(diffPartitionLabel(o, r, i)), numfmt.Thousands(p.Source.Rows), numfmt.Thousands(p.Sink.Rows), diffStatus(!p.Equal()))
			}
		}
	default:
		fmt.Fprintln(w, "| table | source rows | sink rows | missing | extra | different | status |")
		fmt.Fprintln(w, "|---|--:|--:|--:|--:|--:|---|")
		for _, r := range results {
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s |\n", diffMdEscape(diffPairName(r)), numfmt.Thousands(r.SourceRows), numfmt.Thousands(r.SinkRows),
				numfmt.Thousands(r.MissingCount), numfmt.Thousands(r.ExtraCount), numfmt.Thousands(r.MismatchedCount), diffStatus(r.Drift()))
		}
		for _, r := range results {
			if !r.Drift() {
				continue
			}
			fmt.Fprintf(w, "\n<details><summary>%s: keys of the differing rows</summary>\n\n", diffMdEscape(diffPairName(r)))
			fmt.Fprintf(w, "| kind | %s | differing columns |\n|---|---|---|\n", diffMdEscape(diffKeyLabel(r)))
			for _, l := range []struct {
				kind string
				list []reconcile.Diff
			}{{"missing", r.Missing}, {"extra", r.Extra}, {"different", r.Mismatched}} {
				for _, d := range l.list {
					fmt.Fprintf(w, "| %s | `%s` | %s |\n", l.kind, strings.ReplaceAll(d.Key.String(), "`", "'"), diffMdEscape(strings.Join(d.Columns, ", ")))
				}
			}
			if r.Truncated {
				fmt.Fprintln(w, "\nThe list is cut at --max-keys; the counts above are exact.")
			}
			fmt.Fprintln(w, "\n</details>")
		}
	}
	return nil
}
