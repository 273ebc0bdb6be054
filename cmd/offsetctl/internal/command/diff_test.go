package command

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/offsetctl/offsetctl/internal/iostreams"
	"github.com/offsetctl/offsetctl/internal/mariadbtest"
	"github.com/offsetctl/offsetctl/internal/pgtest"
	"github.com/offsetctl/offsetctl/internal/realstack"
)

// TestMain gives this package's tests a PostgreSQL server (offsetctl diff
// needs one). It is the package's only TestMain: other command tests that
// need PostgreSQL can call pgtest.NewDB too.
// A MariaDB server is started on first use, for the diffs whose source is
// MariaDB.
func TestMain(m *testing.M) {
	os.Exit(pgtest.Run(func() int { return mariadbtest.Run(func() int { return realstack.Run(m) }) }))
}

// runDiff runs offsetctl with args; errTTY makes stderr a terminal.
func runDiff(t *testing.T, env map[string]string, errTTY bool, args ...string) (int, string, string) {
	t.Helper()
	s, _, out, errOut := iostreams.Test()
	s.ErrTTY = errTTY
	deps := &Deps{Streams: s, Getenv: func(k string) string { return env[k] }, Now: func() time.Time { return time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC) }}
	code := run(context.Background(), deps, append([]string{}, args...))
	return code, out.String(), errOut.String()
}

// diffFixture creates a source and a sink database with a few tables that
// drifted in known ways, and returns their URLs.
func diffFixture(t *testing.T) (string, string) {
	t.Helper()
	src, dst := pgtest.NewDB(t), pgtest.NewDB(t)
	pgtest.Exec(t, src, `CREATE TABLE customers (id bigint PRIMARY KEY, name text, email text, balance numeric(12,2), updated_at timestamptz, meta jsonb);
		INSERT INTO customers SELECT i, 'name ' || i, 'u' || i || '@example.com', i * 1.5, timestamptz '2026-11-01 00:00:00.123456+00' + i * interval '6 hours', jsonb_build_object('i', i, 'tag', 't' || (i % 3))
		FROM generate_series(1, 20) i;
		CREATE TABLE orders (id int PRIMARY KEY, customer_id bigint, total numeric);
		INSERT INTO orders SELECT i, i % 20 + 1, i * 10 FROM generate_series(1, 30) i;
		CREATE TABLE "Odd ""Name"" tbl" (tenant text, "Ünï" int, v text, PRIMARY KEY (tenant, "Ünï"));
		INSERT INTO "Odd ""Name"" tbl" VALUES ('a b', 1, 'x'), ('it''s', 2, 'y');
		CREATE TABLE nokey (id int, v text)`)
	pgtest.Exec(t, dst, `CREATE SCHEMA sink;
		CREATE TABLE sink.customers (id bigint PRIMARY KEY, name text, email text, balance numeric(14,4), updated_at timestamp(3), meta jsonb, __op text);
		INSERT INTO sink.customers SELECT i, 'name ' || i, 'u' || i || '@example.com', i * 1.5, timestamp '2026-11-01 00:00:00.123456' + i * interval '6 hours', jsonb_build_object('tag', 't' || (i % 3), 'i', i), 'c'
		FROM generate_series(1, 20) i;
		DELETE FROM sink.customers WHERE id IN (4, 17);
		INSERT INTO sink.customers (id, name) VALUES (21, 'ghost');
		UPDATE sink.customers SET email = 'changed@example.com', balance = 0 WHERE id = 9;
		UPDATE sink.customers SET name = NULL WHERE id = 12;
		CREATE TABLE orders (id int PRIMARY KEY, customer_id bigint, total numeric);
		INSERT INTO orders SELECT i, i % 20 + 1, i * 10.0 FROM generate_series(1, 30) i;
		CREATE TABLE "Odd ""Name"" tbl" (tenant text, "Ünï" int, v text, PRIMARY KEY (tenant, "Ünï"));
		INSERT INTO "Odd ""Name"" tbl" VALUES ('a b', 1, 'x'), ('it''s', 2, 'z'), ('ü', 3, 'new');
		CREATE TABLE nokey (id text, v text);
		CREATE TABLE public.customers (id bigint PRIMARY KEY, name text)`)
	return src, dst
}

func TestDiffOutputs(t *testing.T) {
	src, dst := diffFixture(t)
	base := []string{"diff", "--source", src, "--sink", dst}
	cust := []string{"--table", "customers", "--sink-table", "sink.customers", "--ignore", "__op"}
	tests := []struct {
		name     string
		args     []string
		wantCode int
	}{
		{"rows", cust, ExitChanges},
		{"rows_json", append([]string{"-json"}, cust...), ExitChanges},
		{"rows_markdown", append([]string{"--markdown"}, cust...), ExitChanges},
		{"rows_show_values", append([]string{"--show-values", "--max-keys", "1"}, cust...), ExitChanges},
		{"rows_where", append([]string{"--where", "id < 10 AND name <> 'it''s; fine'"}, cust...), ExitChanges},
		{"rows_precision_seconds", append([]string{"--timestamp-precision", "s", "--columns", "id,updated_at"}, cust...), ExitChanges},
		{"rows_no_drift", []string{"--table", "orders"}, ExitOK},
		{"rows_quoted_names", []string{"--table", `"Odd ""Name"" tbl"`}, ExitChanges},
		{"counts", []string{"--mode", "counts", "--table", "customers", "--table", "orders", "--table", `"Odd ""Name"" tbl"`, "--sink-table", "sink.customers", "--sink-table", "orders", "--sink-table", `"Odd ""Name"" tbl"`}, ExitChanges},
		{"counts_markdown", []string{"--markdown", "--mode", "counts", "--table", "customers", "--table", "orders", "--sink-table", "sink.customers", "--sink-table", "orders"}, ExitChanges},
		{"checksum_by_day", append([]string{"--mode", "checksum", "--by", "day:updated_at"}, cust...), ExitChanges},
		{"checksum_by_range", append([]string{"--mode", "checksum", "--by", "range:3"}, cust...), ExitChanges},
		{"checksum_json", []string{"-json", "--mode", "checksum", "--table", "orders"}, ExitOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runDiff(t, nil, false, append(append([]string{}, base...), tt.args...)...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.wantCode, out, errOut)
			}
			if errOut != "" {
				t.Errorf("stderr not empty: %s", errOut)
			}
			goldens.Assert(t, "stdout", []byte(out))
			if strings.HasSuffix(tt.name, "json") {
				var v map[string]any
				if err := json.Unmarshal([]byte(out), &v); err != nil || v["format_version"] != float64(1) {
					t.Errorf("JSON without format_version 1: %v", err)
				}
			}
		})
	}
}

func TestDiffEnvironmentAndProgress(t *testing.T) {
	src, dst := diffFixture(t)
	env := map[string]string{"OFFSETCTL_SOURCE_URL": src, "OFFSETCTL_SINK_URL": dst}
	code, out, errOut := runDiff(t, env, true, "diff", "--table", "orders")
	if code != ExitOK || !strings.Contains(out, "No drift: 1 table compared.") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	// A terminal on stderr gets a progress bar there, never on stdout.
	if !strings.Contains(errOut, "rows") {
		t.Errorf("no progress bar on a terminal stderr: %q", errOut)
	}
}

func TestDiffErrors(t *testing.T) {
	src, dst := diffFixture(t)
	u, _ := url.Parse(dst)
	u.User = url.UserPassword("nobody", "hunter2-s3cret")
	u.Host = "127.0.0.1:1" // nothing listens there
	unreachable := u.String()
	tests := []struct {
		name    string
		args    []string
		wantErr []string
		usage   bool
	}{
		{"no table", []string{"diff", "--source", src, "--sink", dst}, []string{"at least one --table is required"}, true},
		{"sink tables do not pair", []string{"diff", "--source", src, "--sink", dst, "--table", "a", "--table", "b", "--sink-table", "x"}, []string{"1 --sink-table for 2 --table"}, true},
		{"by without checksum", []string{"diff", "--source", src, "--sink", dst, "--table", "a", "--by", "day:x"}, []string{"--by needs --mode checksum"}, true},
		{"bad mode", []string{"diff", "--source", src, "--sink", dst, "--table", "a", "--mode", "fast"}, []string{"--mode: unknown mode"}, true},
		{"unknown by unit", []string{"diff", "--source", src, "--sink", dst, "--table", "a", "--mode", "checksum", "--by", "minute:x"}, []string{`--by "minute:x": want UNIT:COLUMN (UNIT one of hour, day, week, month, year) or range:N`}, true},
		{"negative parallel", []string{"diff", "--source", src, "--sink", dst, "--table", "a", "--parallel", "-1"}, []string{"--parallel and --settle cannot be negative"}, true},
		{"too many workers", []string{"diff", "--source", src, "--sink", dst, "--table", "a", "--parallel", "5000"}, []string{"--parallel: at most 1024 parallel workers per side"}, true},
		{"where with semicolon", []string{"diff", "--source", src, "--sink", dst, "--table", "orders", "--where", "true; DROP TABLE orders"}, []string{"--where: ';' is not allowed"}, true},
		{"json and markdown", []string{"diff", "-json", "--markdown", "--table", "orders"}, []string{"cannot be combined"}, true},
		{"show-values and markdown", []string{"diff", "--source", src, "--sink", dst, "--show-values", "--markdown", "--table", "orders"},
			[]string{"--show-values cannot be combined with --markdown", "drop --markdown to see the values"}, true},
		{"unreachable", []string{"diff", "--source", unreachable, "--sink", dst, "--table", "orders"}, []string{"connecting to the source database nobody@127.0.0.1:1/", "Check --source"}, false},
		{"unparseable URL", []string{"diff", "--source", "postgres://nobody:hunter2-s3cret@localhost:notaport/db", "--sink", dst, "--table", "orders"}, []string{"the source connection string is not valid", "Give --source as"}, false},
		{"missing table", []string{"diff", "--source", src, "--sink", dst, "--table", "nope"}, []string{"comparing nope: source table nope does not exist"}, false},
		{"no key", []string{"diff", "--source", src, "--sink", dst, "--table", "nokey"}, []string{"source table public.nokey has no primary key", "--key"}, false},
		{"incompatible mapping", []string{"diff", "--source", src, "--sink", dst, "--table", "nokey", "--key", "id"}, []string{`column "id" has type integer in the source and text in the sink`}, false},
		{"columns only on one side", []string{"diff", "--source", src, "--sink", dst, "--table", "customers"}, []string{`only in source public.customers: "email", "balance", "updated_at", "meta"`, "--ignore"}, false},
		{"bad where", []string{"diff", "--source", src, "--sink", dst, "--table", "orders", "--where", "no_such_column > 1"}, []string{"where: the filter does not work on the source table public.orders", `column "no_such_column" does not exist`, "Check --where"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runDiff(t, nil, false, tt.args...)
			if code != ExitError {
				t.Fatalf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr does not contain %q:\n%s", w, errOut)
				}
			}
			if strings.Contains(errOut, "hunter2-s3cret") || strings.Contains(out, "hunter2-s3cret") {
				t.Errorf("the password was printed:\n%s", errOut)
			}
			if got := strings.Contains(errOut, "Usage:"); got != tt.usage {
				t.Errorf("usage printed: %v, want %v", got, tt.usage)
			}
			if out != "" {
				t.Errorf("stdout not empty on error: %s", out)
			}
		})
	}
}

// TestDiffSinkIsNeverTheSource: the sink is never defaulted (the PG*
// variables would make it the source's database), and a source and sink
// that reach one table of one database — however they are spelled — are
// refused rather than reported as "No drift".
func TestDiffSinkIsNeverTheSource(t *testing.T) {
	src, dst := diffFixture(t)
	cfg, err := pgx.ParseConfig(src)
	if err != nil {
		t.Fatal(err)
	}
	// The source's database in libpq keywords rather than a URL.
	srcKeywords := fmt.Sprintf("host=%s port=%d user=%s dbname=%s", cfg.Host, cfg.Port, cfg.User, cfg.Database)
	tests := []struct {
		name       string
		pgDatabase string // PGDATABASE for the process, as an operator's shell would have it
		env        map[string]string
		args       []string
		wantCode   int
		wantErr    []string
	}{
		{"PG variables only", cfg.Database, nil, []string{"--table", "customers"}, ExitError,
			[]string{"no sink database: neither --sink nor OFFSETCTL_SINK_URL is set", "Name the sink with --sink"}},
		{"source named, sink not", "", nil, []string{"--source", src, "--table", "orders"}, ExitError,
			[]string{"no sink database", "OFFSETCTL_SINK_URL"}},
		{"sink is the source", "", nil, []string{"--source", src, "--sink", src, "--table", "orders"}, ExitError,
			[]string{"the source and the sink are the same table public.orders of one database", "Check --sink (or OFFSETCTL_SINK_URL)", "--sink-table"}},
		{"sink is the source, spelled differently", cfg.Database, map[string]string{"OFFSETCTL_SINK_URL": srcKeywords}, []string{"--table", "customers", "--sink-table", "public.customers"}, ExitError,
			[]string{"the source and the sink are the same table public.customers of one database"}},
		{"two tables of one database", "", nil, []string{"--source", dst, "--sink", dst, "--mode", "counts", "--table", "sink.customers", "--sink-table", "public.customers"}, ExitChanges, nil},
		{"sink from the environment", cfg.Database, map[string]string{"OFFSETCTL_SINK_URL": dst}, []string{"--table", "orders"}, ExitOK, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.pgDatabase != "" {
				t.Setenv("PGDATABASE", tt.pgDatabase)
			}
			code, out, errOut := runDiff(t, tt.env, false, append([]string{"diff"}, tt.args...)...)
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.wantCode, out, errOut)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr does not contain %q:\n%s", w, errOut)
				}
			}
			if tt.wantCode == ExitError && (out != "" || strings.Contains(errOut, "Usage:")) {
				t.Errorf("stdout or usage on a refusal:\n%s\n%s", out, errOut)
			}
		})
	}
}

func TestDiffFlags(t *testing.T) {
	var got *diffOptions
	s, _, _, _ := iostreams.Test()
	deps := &Deps{Streams: s, Getenv: func(string) string { return "" }, Now: time.Now}
	g := &globalOptions{}
	cmd := newDiffCmdF(deps, g, func(_ context.Context, o *diffOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"--table", "a", "--table", "s.b", "--sink-table", "x", "--sink-table", "y.z", "--key", "k1,k2", "--columns", "a,b=c", "--ignore", "__op,__ts", "--timestamp-precision", "ms", "--settle", "2s", "--mode", "checksum", "--by", "range:8", "--parallel", "2"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if len(got.specs) != 2 {
		t.Fatalf("specs %+v", got.specs)
	}
	sp := got.specs[1]
	if sp.Table != "s.b" || sp.SinkTable != "y.z" || strings.Join(sp.Key, ",") != "k1,k2" || strings.Join(sp.Columns, ",") != "a,b=c" ||
		strings.Join(sp.Ignore, ",") != "__op,__ts" || sp.TimestampPrecision != "ms" || sp.Settle != 2*time.Second || sp.Partition.Ranges != 8 || sp.MaxKeys != 1000 || sp.Parallel != 2 {
		t.Errorf("spec %+v", sp)
	}
}

func TestDiffHelp(t *testing.T) {
	code, out, errOut := runDiff(t, nil, false, "diff", "--help")
	if code != ExitOK || errOut != "" {
		t.Fatalf("exit %d, stderr %s", code, errOut)
	}
	// Only the command's own part: the global flags belong to root.go.
	own, _, _ := strings.Cut(out, "Global Flags:")
	goldens.Assert(t, "stdout", []byte(own))
}
