package command

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/spf13/cobra"

	"github.com/offsetctl/offsetctl/cmd/offsetctl/internal/command/views"
	"github.com/offsetctl/offsetctl/internal/redact"
	"github.com/offsetctl/offsetctl/pkg/mysqlurl"
	"github.com/offsetctl/offsetctl/pkg/reconcile"
)

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
	Schemas, Excludes  []string

	specs    []reconcile.Spec // built from the flags by validate
	template reconcile.Spec   // with --schema or a --table pattern: the spec of every table found
	expand   bool             // the tables are found in the source after connecting
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
		Short: "Compare source and sink tables (PostgreSQL or MariaDB/MySQL source, PostgreSQL sink): counts, checksums or rows",
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

A MariaDB or MySQL source is named by a mysql:// or mariadb:// URL (password from MYSQL_PWD,
?password_file=PATH or ?password_env=NAME; ?ssl-mode=, ?socket=); it is read in one START
TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY with a statement timeout, and compared with its
PostgreSQL sink through one canonical text per value that both databases compute and hash, as
Debezium's JDBC sink maps the types. Column pairs that cannot be compared exactly (JSON against
jsonb, a DOUBLE against real) are refused by name. --settle, --show-values and --by range are
not available with such a source yet.

Many tables in one run: --table takes patterns (--table 'public.*'), --schema S compares
every table of a source schema, --exclude leaves tables out; they are found in the source
(a MariaDB/MySQL source: in its URL's database, the schema of its unqualified names).
A table that cannot be compared (missing on a side, no key) is reported with its reason
and the others are still compared; the run then exits 1.

Exit status: 0 no drift, 2 drift found, 1 error.`,
		Example: `  offsetctl diff --source postgres://ro@src/shop --sink postgres://ro@sink/shop --table customers
  offsetctl diff --source "mysql://ro@mariadb/shop?password_env=SRC_PW" --sink postgres://ro@sink/shop --table customers
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
	f.StringArrayVar(&o.Tables, "table", nil, "source table, [SCHEMA.]NAME, or a pattern like public.* (repeatable)")
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
	f.StringArrayVar(&o.Schemas, "schema", nil, "compare every table of this source schema (repeatable)")
	f.StringArrayVar(&o.Excludes, "exclude", nil, "leave out the tables matching this pattern, like public.audit_* (repeatable)")
	f.IntVar(&o.Parallel, "parallel", 0, "parallel workers each side's queries may use besides their own backend (0: one core per database)")
	return cmd
}

// validate checks the flags and builds one Spec per table, before any I/O.
func (o *diffOptions) validate(g *globalOptions) error {
	if len(o.Tables) == 0 && len(o.Schemas) == 0 {
		return flagErrorf("at least one --table is required (or --schema)")
	}
	if err := o.filter().validate(); err != nil {
		return err
	}
	o.expand = o.filter().discovers()
	if o.expand && len(o.SinkTables) > 0 {
		return flagErrorf("--sink-table names the sink table of each --table; it cannot be combined with --schema, --exclude or a --table pattern")
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
	tables := o.Tables
	if o.expand {
		tables = []string{"public.offsetctl_pattern_placeholder"} // only to check the other flags
	}
	for i, t := range tables {
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
		if o.expand {
			s.Table = ""
			o.template = s
			break
		}
		o.specs = append(o.specs, s)
	}
	return nil
}

// filter is the table selection of --table, --schema and --exclude.
func (o *diffOptions) filter() tableFilter {
	return tableFilter{tables: o.Tables, schemas: o.Schemas, excludes: o.Excludes}
}

// expandTables lists the source's base tables that --table patterns and
// --schema select and --exclude does not, sorted, and builds their specs.
// A MariaDB/MySQL source (mySrc) lists the tables of its URL's database,
// the schema of its unqualified names.
func (o *diffOptions) expandTables(ctx context.Context, src *pgx.Conn, mySrc *sql.DB) error {
	f := o.filter()
	var names []string
	var err error
	if mySrc != nil {
		f.schema, names, err = listMySQLTables(ctx, mySrc)
	} else {
		names, err = listTables(ctx, src)
	}
	if err != nil {
		return err
	}
	o.specs = nil
	for _, n := range f.selectTables(names) {
		s := o.template
		s.Table = n
		o.specs = append(o.specs, s)
	}
	if len(o.specs) == 0 {
		return withHint(errors.New("no source table matches --table, --schema and --exclude"), "Check the patterns: they match schema.table names of the source, like public.*.")
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
	if mysqlurl.Is(dstDSN) {
		return withHint(fmt.Errorf("the sink %s is a MariaDB/MySQL database: offsetctl compares a MariaDB/MySQL source only against a PostgreSQL sink", mysqlurl.Redact(dstDSN)),
			"Give --sink as a postgres:// URL or a libpq string.")
	}
	// A MariaDB/MySQL source (mysql:// or mariadb://) is compared with
	// CompareMySQL; a PostgreSQL one with Compare.
	var mySrc *sql.DB
	var src *pgx.Conn
	if mysqlurl.Is(srcDSN) {
		var err error
		if mySrc, err = diffConnectMySQL(ctx, deps, srcDSN, g.Timeout); err != nil {
			return err
		}
		defer mySrc.Close()
	} else {
		var err error
		if src, err = diffConnectPG(ctx, "source", srcDSN, g.Timeout); err != nil {
			return err
		}
		defer src.Close(context.WithoutCancel(ctx))
	}
	dst, err := diffConnectPG(ctx, "sink", dstDSN, g.Timeout)
	if err != nil {
		return err
	}
	defer dst.Close(context.WithoutCancel(ctx))

	if o.expand {
		if err := o.expandTables(ctx, src, mySrc); err != nil {
			return err
		}
	}
	v := views.NewDiff(deps.Streams, g.JSON, views.DiffReport{Mode: o.Mode, Where: o.Where, By: o.By, Settle: o.Settle,
		ShowValues: o.ShowValues, Markdown: o.Markdown, OffsetctlVersion: Version})
	var results []*reconcile.Result
	var failed []views.DiffFailure
	for _, spec := range o.specs {
		bar := v.Progress(spec.Table)
		if bar != nil {
			spec.Progress = bar.Update
		}
		var r *reconcile.Result
		if mySrc != nil {
			r, err = reconcile.CompareMySQL(ctx, mySrc, dst, spec)
		} else {
			r, err = reconcile.Compare(ctx, src, dst, spec)
		}
		bar.Done()
		if err != nil && len(o.specs) > 1 && ctx.Err() == nil {
			// One table that cannot be compared does not stop the others.
			failed = append(failed, views.DiffFailure{Table: spec.Table, Error: err.Error()})
			continue
		}
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
	if err := v.Report(results, failed, elapsed); err != nil {
		return err
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d of %d tables could not be compared (listed above)", len(failed), len(o.specs))
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
	cancelOnTheServer(cfg)
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

// diffConnectMySQL opens a MariaDB/MySQL source (a pool from which the
// comparison pins one connection). No password reaches an error message.
func diffConnectMySQL(ctx context.Context, deps *Deps, dsn string, timeout time.Duration) (*sql.DB, error) {
	o := mysqlurl.Options{Getenv: deps.Getenv}
	cfg, err := mysqlurl.Parse(dsn, o)
	if err != nil {
		return nil, withHint(fmt.Errorf("the source URL is not valid: %w", err),
			"Give --source as mysql://USER@HOST:PORT/DATABASE (or mariadb://); put the password in MYSQL_PWD, or name a file with ?password_file=PATH or a variable with ?password_env=NAME, rather than on the command line.")
	}
	if timeout > 0 {
		cfg.Timeout = timeout
	}
	db, err := mysqlurl.OpenConfig(ctx, cfg, mysqlurl.Redact(dsn))
	if err != nil {
		return nil, withHint(errors.New(redact.Secret(err.Error(), cfg.Passwd)),
			"Check --source (or OFFSETCTL_SOURCE_URL), that the server is up, and that this user may connect and read the table.")
	}
	return db, nil
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
