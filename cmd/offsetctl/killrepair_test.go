package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/offsetctl/offsetctl/internal/killtest"
	"github.com/offsetctl/offsetctl/internal/pgtest"
	"github.com/offsetctl/offsetctl/pkg/state"
)

// TestSignalsInARepairBatch stops a repair inside its first batch (its rows
// written, not committed) and sends SIGKILL, SIGINT or SIGTERM there. After
// each: the sink holds the first batch whole or not at all; state show
// works; a SIGKILL leaves the lock information naming the dead process,
// which force-unlock clears; a SIGINT or SIGTERM ends the run by itself and
// releases the lock. The next apply makes the sink equal to the source
// (diff exits 0), and rollback then puts back exactly the sink as it was:
// nothing lost, nothing doubled.
func TestSignalsInARepairBatch(t *testing.T) {
	bin := killtest.Build(t)
	var mu sync.Mutex
	var rows []string
	for _, batch := range []int{1, 2} {
		for _, sig := range []syscall.Signal{syscall.SIGKILL, syscall.SIGINT, syscall.SIGTERM} {
			t.Run(fmt.Sprintf("batch%d/%s", batch, killtest.SigName(sig)), func(t *testing.T) {
				row := killRepair(t, bin, batch, sig)
				mu.Lock()
				rows = append(rows, row)
				mu.Unlock()
			})
		}
	}
	t.Log("\n| step | signal | interrupted apply | status after | sink after | lock left | next apply | rollback |\n|---|---|---|---|---|---|---|---|\n" + strings.Join(rows, "\n"))
}

func killRepair(t *testing.T, bin string, batch int, sig syscall.Signal) string {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	src, dst := pgtest.NewDB(t), pgtest.NewDB(t)
	pgtest.Exec(t, src, `CREATE TABLE customers (id bigint PRIMARY KEY, email text)`)
	pgtest.Exec(t, dst, `CREATE TABLE customers (id bigint PRIMARY KEY, email text)`)
	pgtest.Exec(t, src, `INSERT INTO customers SELECT g, 'user'||g||'@example.com' FROM generate_series(1, 3000) g`)
	// The sink misses 2,000 rows and has 300 stale ones: several batches.
	pgtest.Exec(t, dst, `INSERT INTO customers SELECT g, CASE WHEN g <= 300 THEN 'stale'||g ELSE 'user'||g||'@example.com' END FROM generate_series(1, 1000) g`)
	dump := func(u string) string {
		var s string
		if err := pgtest.Conn(t, u).QueryRow(ctx, `SELECT count(*) || ':' || md5(coalesce(string_agg(id || '|' || email, ',' ORDER BY id), '')) FROM customers`).Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	count := func(u string) int {
		var n int
		if err := pgtest.Conn(t, u).QueryRow(ctx, `SELECT count(*) FROM customers`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	original, want := dump(dst), dump(src)
	dir := t.TempDir()
	hcl := fmt.Sprintf(`
database "source" {
  url = %q
}
database "sink" {
  url = %q
}
reconcile "customers" {
  source      = database.source
  sink        = database.sink
  table       = "public.customers"
  repair      = "upsert"
  max_changes = 10000
  reason      = "INC-6: the sink missed rows"
}
`, src, dst)
	if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(hcl), 0o644); err != nil {
		t.Fatal(err)
	}
	r := killtest.Runner{Bin: bin, Dir: dir}
	run := func(args ...string) (string, string, error) { return r.Run(ctx, args...) }
	if out, errs, err := run("plan", "-out", "plan.json", "-no-color"); err != nil {
		t.Fatalf("plan: %v\n%s%s", err, out, errs)
	}
	k := r.SignalAt(t, ctx, killtest.At{Step: "repair-batch", Nth: batch}, sig, "apply", "plan.json", "-auto-approve", "-no-color")
	pid, exit := k.PID, k.Exit
	// Give PostgreSQL a moment to end a dead client's transaction.
	time.Sleep(200 * time.Millisecond)
	n := count(dst)
	st := readState(t, ctx, dir)
	if len(st.Operations) == 0 {
		t.Fatalf("after %s the state has no operation\n%s", killtest.SigName(sig), k.Stderr)
	}
	status := st.Operations[0].Status
	sink := fmt.Sprintf("%d rows (was 1000, source 3000)", n)
	if show, errs, err := run("state", "show", "1", "-no-color"); err != nil || !strings.Contains(show, "customers") || !strings.Contains(show, string(status)) {
		t.Errorf("state show after %s: %v\n%s%s", killtest.SigName(sig), err, show, errs)
	}
	lockInfo, _ := os.ReadFile(filepath.Join(dir, "offsetctl.state.json.lock"))
	lock := "released"
	if sig == syscall.SIGKILL {
		if status != state.StatusInProgress {
			t.Errorf("after SIGKILL the operation is %s, want in_progress", status)
		}
		if batch == 1 && n != 1000 {
			t.Errorf("after SIGKILL in the first batch the sink has %d rows: the uncommitted batch survived", n)
		}
		if batch == 2 && (n <= 1000 || n >= 3000) {
			t.Errorf("after SIGKILL in the second batch the sink has %d rows: want the first batch committed, the second not", n)
		}
		if !bytes.Contains(lockInfo, []byte(fmt.Sprintf(`"pid": %d`, pid))) {
			t.Errorf("after SIGKILL the lock information does not name the dead process %d:\n%s", pid, lockInfo)
		}
		id := between(string(lockInfo), `"id": "`, `"`)
		if out, errs, err := run("force-unlock", "-force", id, "-no-color"); err != nil {
			t.Errorf("force-unlock %s: %v\n%s%s", id, err, out, errs)
		}
		lock = "names dead pid, force-unlock cleared it"
	} else {
		if exit == "killed" {
			t.Errorf("%s: the process did not exit by itself", killtest.SigName(sig))
		}
		if len(bytes.TrimSpace(lockInfo)) != 0 {
			t.Errorf("after %s the lock information is left:\n%s", killtest.SigName(sig), lockInfo)
		}
		if status == state.StatusInProgress {
			t.Errorf("after %s the operation is still in_progress:\n%s", killtest.SigName(sig), k.Stderr)
		}
	}
	out, errs, err := run("apply", "plan.json", "-auto-approve", "-no-color")
	next := "finished it"
	if err != nil {
		next = "exit≠0: " + killtest.FirstLine(errs)
		// A plan whose sink moved is refused as stale: plan again.
		if _, _, perr := run("plan", "-out", "plan2.json", "-no-color"); perr == nil {
			if out2, errs2, err2 := run("apply", "plan2.json", "-auto-approve", "-no-color"); err2 == nil {
				next += "; a new plan finished it"
			} else {
				t.Errorf("apply of a new plan after %s: %v\n%s%s", killtest.SigName(sig), err2, out2, errs2)
			}
		}
	}
	_ = out
	if got := dump(dst); got != want {
		t.Errorf("after %s and the next apply the sink differs from the source: %s, want %s", killtest.SigName(sig), got, want)
	}
	rb := "restored the sink exactly"
	if out, errs, err := run("rollback", "-auto-approve", "-no-color"); err != nil {
		t.Errorf("rollback after %s: %v\n%s%s", killtest.SigName(sig), err, out, errs)
	}
	if got := dump(dst); got != original {
		t.Errorf("after %s, apply and rollback the sink is not what it was: %s, want %s", killtest.SigName(sig), got, original)
		rb = "did NOT restore the sink"
	}
	return fmt.Sprintf("| repair-batch %d (uncommitted) | %s | %s | %s | %s | %s | %s | %s |", batch, killtest.SigName(sig), exit, status, sink, lock, next, rb)
}

func between(s, from, to string) string {
	i := strings.Index(s, from)
	if i < 0 {
		return ""
	}
	s = s[i+len(from):]
	if j := strings.Index(s, to); j >= 0 {
		return s[:j]
	}
	return s
}
