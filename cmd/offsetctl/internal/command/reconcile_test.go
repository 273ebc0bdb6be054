package command

import (
	"context"
	"encoding/json"
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

// TestReconcileIncompleteThroughTheCLI: a row the plan repairs changes in
// the source between plan and apply, so apply leaves it alone (stale) and
// the sink still differs. apply must not say "verified": it exits 4
// (ExitIncomplete), says what still differs by counts and keys (never row
// values), the state records the operation as incomplete, -json carries
// the same, and rollback still undoes what the repair wrote.
func TestReconcileIncompleteThroughTheCLI(t *testing.T) {
	for _, mode := range []string{"text", "json"} {
		t.Run(mode, func(t *testing.T) {
			src, dst := pgtest.NewDB(t), pgtest.NewDB(t)
			for _, u := range []string{src, dst} {
				pgtest.Exec(t, u, `CREATE TABLE customers (id bigint PRIMARY KEY, email text, status text)`)
				pgtest.Exec(t, u, `INSERT INTO customers SELECT g, 'user'||g||'@example.com', 'active' FROM generate_series(1, 50) g`)
			}
			pgtest.Exec(t, dst, `DELETE FROM customers WHERE id IN (7, 8)`)
			pgtest.Exec(t, dst, `UPDATE customers SET email = 'secret-personal@example.com' WHERE id = 9`)
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
  reason       = "INC-10: the sink drifted"
}
`, src, dst))
			st := filepath.Join(t.TempDir(), "state.json")
			planFile := filepath.Join(t.TempDir(), "plan.json")
			if code, out, errOut := runCLI(t, dir, "plan", "-state", st, "-out", planFile); code != 0 {
				t.Fatalf("plan: exit %d\n%s\n%s", code, out, errOut)
			}
			// Between plan and apply, the source row 9 changes again.
			pgtest.Exec(t, src, `UPDATE customers SET email = 'moved-personal@example.com' WHERE id = 9`)
			args := []string{"apply", planFile, "-state", st}
			if mode == "json" {
				args = append(args, "-json")
			}
			code, out, errOut := runCLI(t, dir, args...)
			if code != ExitIncomplete {
				t.Fatalf("apply: exit %d, want %d\n%s\n%s", code, ExitIncomplete, out, errOut)
			}
			for _, v := range []string{"moved-personal", "secret-personal", "user9@"} {
				if strings.Contains(out+errOut, v) {
					t.Fatalf("apply printed a row value (%s):\n%s\n%s", v, out, errOut)
				}
			}
			if mode == "text" {
				if strings.Contains(out, "verified.") || !strings.Contains(out, "NOT verified") {
					t.Errorf("the summary claims or lacks verification:\n%s", out)
				}
				goldens.Assert(t, "apply_stdout", []byte(out))
				goldens.Assert(t, "apply_stderr", []byte(errOut))
			} else {
				checkIncompleteJSON(t, out)
			}
			if got, want := dump(dst), strings.Replace(dump(src), "moved-personal@example.com", "secret-personal@example.com", 1); got != want {
				t.Fatalf("the sink is not repaired but for the stale row:\n%s\n%s", got, want)
			}
			// The state file holds an incomplete operation (format_version 3)
			// with its risk classes (4), which an older offsetctl refuses
			// with "upgrade offsetctl".
			if data, err := readFile(st); err != nil || !strings.Contains(data, `"format_version": 4`) || !strings.Contains(data, `"status": "incomplete"`) ||
				!strings.Contains(data, `"risk_classes": [`) || !strings.Contains(data, `"repair_rows"`) {
				t.Fatalf("state file (%v):\n%s", err, data)
			}
			code, list, errOut := runCLI(t, "", "state", "list", "-state", st)
			if code != 0 || !strings.Contains(list, "reconcile  incomplete") {
				t.Fatalf("state list: exit %d\n%s\n%s", code, list, errOut)
			}
			if code, out, errOut = runCLI(t, dir, "rollback", "-state", st, "-auto-approve"); code != 0 {
				t.Fatalf("rollback: exit %d\n%s\n%s", code, out, errOut)
			}
			if got := dump(dst); got != before {
				t.Fatalf("after rollback the sink is not what it was:\n%s\n%s", got, before)
			}
		})
	}
}

// checkIncompleteJSON checks apply -json's stream of an incomplete repair:
// the repair_report and the summary say it, with counts and keys.
func checkIncompleteJSON(t *testing.T, out string) {
	t.Helper()
	var report, summary map[string]any
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("not JSON: %s", line)
		}
		switch rec["type"] {
		case "repair_report":
			report = rec
		case "summary":
			summary = rec
		}
	}
	rem, _ := report["remaining"].(map[string]any)
	if report["status"] != "incomplete" || rem == nil || rem["mismatched"] != 1.0 || rem["missing"] != 0.0 || rem["extra"] != 0.0 || rem["stale"] != 1.0 ||
		fmt.Sprint(rem["mismatched_keys"]) != "[9]" || fmt.Sprint(rem["stale_keys"]) != "[9]" {
		t.Errorf("repair_report: %v", report)
	}
	ops, _ := summary["operations"].([]any)
	if summary["ok"] != false || fmt.Sprint(summary["incomplete"]) != "[1]" || len(ops) != 1 {
		t.Fatalf("summary: %v", summary)
	}
	op := ops[0].(map[string]any)
	if op["status"] != "incomplete" || !strings.Contains(fmt.Sprint(op["incomplete"]), "1 mismatched (key 9)") {
		t.Errorf("summary operation: %v", op)
	}
}
