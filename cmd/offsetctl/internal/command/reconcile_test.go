package command

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/offsetctl/offsetctl/internal/pgtest"
)

// TestReconcileThroughTheCLI: drift between two databases is planned, the
// plan file holds keys but no row values, apply repairs it, diff finds no
// drift, and rollback puts the sink back as it was.
func TestReconcileThroughTheCLI(t *testing.T) {
	src, dst := pgtest.NewDB(t), pgtest.NewDB(t)
	for _, u := range []string{src, dst} {
		pgtest.Exec(t, u, `CREATE TABLE customers (id bigint PRIMARY KEY, email text, status text)`)
		pgtest.Exec(t, u, `INSERT INTO customers SELECT g, 'user'||g||'@example.com', 'active' FROM generate_series(1, 50) g`)
	}
	pgtest.Exec(t, dst, `DELETE FROM customers WHERE id IN (7, 8)`)
	pgtest.Exec(t, dst, `UPDATE customers SET email = 'secret-personal@example.com' WHERE id = 9`)
	pgtest.Exec(t, dst, `INSERT INTO customers VALUES (99, 'orphan@example.com', 'active')`)
	dump := func(u string) string {
		var s string
		if err := pgtest.Conn(t, u).QueryRow(context.Background(), `SELECT string_agg(format('%s|%s|%s', id, email, status), ',' ORDER BY id) FROM customers`).Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	before := dump(dst)
	dir := writeConfig(t, fmt.Sprintf(`
database "source" {
  url = %q
}

database "sink" {
  url = %q
}

reconcile "customers" {
  source       = database.source
  sink         = database.sink
  table        = "public.customers"
  repair       = "upsert"
  delete_extra = true
  max_changes  = 10
  reason       = "INC-9: the sink drifted"
}
`, src, dst))
	state := filepath.Join(t.TempDir(), "state.json")
	planFile := filepath.Join(t.TempDir(), "plan.json")
	code, out, errOut := runCLI(t, dir, "plan", "-state", state, "-out", planFile)
	if code != 0 {
		t.Fatalf("plan: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"2 rows to insert", "1 to update", "1 to delete"} {
		if !strings.Contains(out, want) {
			t.Errorf("plan lacks %q:\n%s", want, out)
		}
	}
	if data, _ := readFile(planFile); strings.Contains(data, "secret-personal") || strings.Contains(data, src) {
		t.Fatalf("the plan file holds a row value or a database URL")
	}
	if code, out, errOut = runCLI(t, dir, "apply", planFile, "-state", state); code != 0 {
		t.Fatalf("apply: exit %d\n%s\n%s", code, out, errOut)
	}
	if got, want := dump(dst), dump(src); got != want {
		t.Fatalf("after the repair the sink differs from the source:\n%s\n%s", got, want)
	}
	if code, out, errOut = runCLI(t, "", "diff", "--source", src, "--sink", dst, "--table", "customers"); code != 0 {
		t.Fatalf("diff after repair: exit %d\n%s\n%s", code, out, errOut)
	}
	if code, out, errOut = runCLI(t, dir, "rollback", "-state", state, "-auto-approve"); code != 0 {
		t.Fatalf("rollback: exit %d\n%s\n%s", code, out, errOut)
	}
	if got := dump(dst); got != before {
		t.Fatalf("after rollback the sink is not what it was:\n%s\n%s", got, before)
	}
}

func readFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	return string(b), err
}
