package command

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/offsetctl/offsetctl/cmd/offsetctl/internal/command/views"
	"github.com/offsetctl/offsetctl/internal/pgtest"
)

// TestDiffManyTables: --schema, --table patterns and --exclude find the
// tables in the source; a table that cannot be compared is reported and the
// others are compared; the exit is 1 at the end.
func TestDiffManyTables(t *testing.T) {
	src, dst := pgtest.NewDB(t), pgtest.NewDB(t)
	for _, u := range []string{src, dst} {
		pgtest.Exec(t, u, `CREATE TABLE public.a (id int PRIMARY KEY, v text); INSERT INTO public.a SELECT g, 'x' FROM generate_series(1, 10) g`)
		pgtest.Exec(t, u, `CREATE TABLE public.b (id int PRIMARY KEY, v text); INSERT INTO public.b SELECT g, 'y' FROM generate_series(1, 10) g`)
		pgtest.Exec(t, u, `CREATE TABLE public.nokey (v text); INSERT INTO public.nokey VALUES ('z')`)
	}
	pgtest.Exec(t, src, `CREATE SCHEMA audit; CREATE TABLE audit.events (id int PRIMARY KEY)`)
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
