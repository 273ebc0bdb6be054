package command

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/offsetctl/offsetctl/internal/mariadbtest"
	"github.com/offsetctl/offsetctl/internal/pgtest"
)

// TestReconcileMariaDBSourceThroughTheCLI: a reconcile block whose source
// database is MariaDB. Drift in the PostgreSQL sink is planned (keys, no row
// values, no URL in the plan file), apply repairs and verifies it, diff
// finds no drift, and rollback puts the sink back exactly as it was.
func TestReconcileMariaDBSourceThroughTheCLI(t *testing.T) { testReconcileThroughTheCLI(t, false) }

// TestReconcileMySQLSourceThroughTheCLI is the same with a MySQL source
// (OFFSETCTL_MYSQL_URL).
func TestReconcileMySQLSourceThroughTheCLI(t *testing.T) { testReconcileThroughTheCLI(t, true) }

func testReconcileThroughTheCLI(t *testing.T, mysql bool) {
	src := mariadbtest.SourceDB(t, mysql)
	dst := pgtest.NewDB(t)
	mariadbtest.Exec(t, src, `CREATE TABLE customers (id bigint PRIMARY KEY, email varchar(100), status enum('active','closed'), balance decimal(10,2), updated_at datetime(3));
		INSERT INTO customers SELECT seq, CONCAT('user', seq, '@example.com'), 'active', seq * 0.5, TIMESTAMP '2026-11-01 10:00:00.125' + INTERVAL seq MINUTE FROM `+mariadbtest.Seq(mysql, 50))
	pgtest.Exec(t, dst, `CREATE TABLE customers (id bigint PRIMARY KEY, email text, status text, balance numeric(10,2), updated_at timestamptz(3));
		INSERT INTO customers SELECT g, 'user'||g||'@example.com', 'active', g * 0.5, timestamptz '2026-11-01 10:00:00.125+00' + g * interval '1 minute' FROM generate_series(1, 50) g;
		DELETE FROM customers WHERE id IN (7, 8);
		UPDATE customers SET email = 'secret-personal@example.com' WHERE id = 9;
		UPDATE customers SET updated_at = updated_at + interval '1 hour' WHERE id = 10;
		INSERT INTO customers VALUES (99, 'orphan@example.com', 'active', 0, now())`)
	dump := func() string {
		var s string
		if err := pgtest.Conn(t, dst).QueryRow(context.Background(), `SELECT string_agg(c::text, ',' ORDER BY id) FROM customers c`).Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	before := dump()
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
  table        = "customers"
  repair       = "upsert"
  delete_extra = true
  max_changes  = 10
  reason       = "INC-10: the JDBC sink missed rows"
}
`, src, dst))
	state := filepath.Join(t.TempDir(), "state.json")
	planFile := filepath.Join(t.TempDir(), "plan.json")
	code, out, errOut := runCLI(t, dir, "plan", "-state", state, "-out", planFile)
	if code != 0 {
		t.Fatalf("plan: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"2 rows to insert", "2 to update", "1 to delete"} {
		if !strings.Contains(out, want) {
			t.Errorf("plan lacks %q:\n%s", want, out)
		}
	}
	if data, _ := readFile(planFile); strings.Contains(data, "secret-personal") || strings.Contains(data, src) || strings.Contains(data, "127.0.0.1") {
		t.Fatalf("the plan file holds a row value or a database URL")
	}
	if code, out, errOut = runCLI(t, dir, "apply", planFile, "-state", state); code != 0 {
		t.Fatalf("apply: exit %d\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(out+errOut, "checksums equal") {
		t.Errorf("apply does not report the verification:\n%s\n%s", out, errOut)
	}
	if code, out, errOut = runCLI(t, "", "diff", "--source", src, "--sink", dst, "--table", "customers"); code != 0 {
		t.Fatalf("diff after repair: exit %d\n%s\n%s", code, out, errOut)
	}
	if code, out, errOut = runCLI(t, dir, "rollback", "-state", state, "-auto-approve"); code != 0 {
		t.Fatalf("rollback: exit %d\n%s\n%s", code, out, errOut)
	}
	if got := dump(); got != before {
		t.Fatalf("after rollback the sink is not what it was:\n%s\n%s", got, before)
	}
}
