package command

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/offsetctl/offsetctl/cmd/offsetctl/internal/command/views"
	"github.com/offsetctl/offsetctl/internal/pgtest"
)

// manyTablesDBs is a source and a sink database with the tables public.a,
// public.b, public.nokey (no key) on both sides and audit.events on the
// source only.
func manyTablesDBs(t *testing.T) (src, dst string) {
	t.Helper()
	src, dst = pgtest.NewDB(t), pgtest.NewDB(t)
	for _, u := range []string{src, dst} {
		pgtest.Exec(t, u, `CREATE TABLE public.a (id int PRIMARY KEY, v text); INSERT INTO public.a SELECT g, 'x' FROM generate_series(1, 10) g`)
		pgtest.Exec(t, u, `CREATE TABLE public.b (id int PRIMARY KEY, v text); INSERT INTO public.b SELECT g, 'y' FROM generate_series(1, 10) g`)
		pgtest.Exec(t, u, `CREATE TABLE public.nokey (v text); INSERT INTO public.nokey VALUES ('z')`)
	}
	pgtest.Exec(t, src, `CREATE SCHEMA audit; CREATE TABLE audit.events (id int PRIMARY KEY)`)
	return src, dst
}

// TestDiffManyTables: --schema, --table patterns and --exclude find the
// tables in the source; a table that cannot be compared is reported and the
// others are compared; the exit is 1 at the end.
func TestDiffManyTables(t *testing.T) {
	src, dst := manyTablesDBs(t)
	pgtest.Exec(t, dst, `DELETE FROM public.b WHERE id = 3`)

	code, out, errOut := runCLI(t, "", "diff", "--source", src, "--sink", dst, "--mode", "counts", "--schema", "public", "--exclude", "public.nokey")
	if code != ExitChanges || !strings.Contains(out, "public.a") || !strings.Contains(out, "public.b") || strings.Contains(out, "nokey") || strings.Contains(out, "audit") {
		t.Errorf("--schema public --exclude: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, errOut = runCLI(t, "", "diff", "--source", src, "--sink", dst, "--table", "public.*", "--table", "audit.events", "-json")
	if code != ExitError || !strings.Contains(errOut, "2 of 4 tables could not be compared") {
		t.Fatalf("a table without a key and one missing in the sink: exit %d\n%s\n%s", code, out, errOut)
	}
	var doc struct {
		Failed []views.DiffFailure `json:"failed"`
		Tables []struct {
			MissingCount int64 `json:"missing_count"`
		} `json:"tables"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("-json: %v\n%s", err, out)
	}
	if len(doc.Tables) != 2 || doc.Tables[1].MissingCount != 1 || len(doc.Failed) != 2 ||
		doc.Failed[0].Table != "audit.events" || doc.Failed[1].Table != "public.nokey" {
		t.Errorf("JSON: %+v", doc)
	}
	code, out, _ = runCLI(t, "", "diff", "--source", src, "--sink", dst, "--table", "public.*", "--markdown")
	if code != ExitError || !strings.Contains(out, "#### Not compared") || !strings.Contains(out, "| public.nokey |") {
		t.Errorf("markdown: exit %d\n%s", code, out)
	}
	if code, _, errOut = runCLI(t, "", "diff", "--source", src, "--sink", dst, "--table", "public.*", "--sink-table", "x"); code != ExitError || !strings.Contains(errOut, "cannot be combined") {
		t.Errorf("--sink-table with a pattern: exit %d\n%s", code, errOut)
	}
}

// TestCheckManyTables: check finds tables as diff does, through the same
// selection (tableFilter): --schema, --table patterns and --exclude look in
// the source of the configuration's reconcile blocks; tables with a block
// keep its settings, the others are compared with the defaults; one table
// that cannot be checked (no key, missing) is reported, the others go on,
// and the exit is 1 at the end.
func TestCheckManyTables(t *testing.T) {
	src, dst := manyTablesDBs(t)
	pgtest.Exec(t, dst, `UPDATE public.b SET v = 'changed' WHERE id = 3`)
	dir := writeConfig(t, fmt.Sprintf(`database "source" {
  url = %q
}

database "sink" {
  url = %q
}

reconcile "a" {
  source = database.source
  sink   = database.sink
  table  = "public.a"

  check {
    mode = "counts"
  }
}
`, src, dst))
	verdicts := func(out string) map[string]string {
		t.Helper()
		var r views.CheckResult
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("-json: %v\n%s", err, out)
		}
		got := map[string]string{}
		for _, tb := range r.Tables {
			got[tb.Table] = tb.Block + " " + tb.Mode + " " + tb.Verdict
		}
		return got
	}
	for _, c := range []struct {
		args []string
		code int
		want map[string]string
	}{
		{nil, ExitOK, map[string]string{"public.a": "reconcile.a counts healthy"}},
		{[]string{"--schema", "public"}, ExitError, map[string]string{"public.a": "reconcile.a counts healthy",
			"public.b": "reconcile.found_public_b checksum drift", "public.nokey": "reconcile.found_public_nokey checksum error"}},
		{[]string{"--schema", "public", "--exclude", "public.nokey"}, ExitChanges, map[string]string{"public.a": "reconcile.a counts healthy",
			"public.b": "reconcile.found_public_b checksum drift"}},
		{[]string{"--table", "public.*", "--table", "audit.events", "--exclude", "public.nokey", "--mode", "rows"}, ExitError, map[string]string{
			"public.a": "reconcile.a rows healthy", "public.b": "reconcile.found_public_b rows drift", "audit.events": "reconcile.found_audit_events rows error"}},
		{[]string{"--table", "a"}, ExitOK, map[string]string{"public.a": "reconcile.a counts healthy"}},
		{[]string{"--table", "public.ghost"}, ExitError, map[string]string{"public.ghost": "reconcile.found_public_ghost checksum error"}},
		{[]string{"--table", "nothing.*"}, ExitError, map[string]string{"(no table)": "  error"}},
	} {
		code, out, errOut := runCLI(t, dir, append([]string{"check", "-json"}, c.args...)...)
		if got := verdicts(out); code != c.code || fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("check %v: exit %d, tables %v; want exit %d, %v\n%s", c.args, code, got, c.code, c.want, errOut)
		}
	}
}
