package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/offsetctl/offsetctl/internal/killtest"
	"github.com/offsetctl/offsetctl/internal/pgtest"
)

// TestSIGINTDuringPlanAndDiffLeavesNothing interrupts offsetctl plan (of a
// reconcile block) and offsetctl diff while their comparison query waits
// for a table the test holds locked (ACCESS EXCLUSIVE, in an open
// transaction), and checks that nothing is left behind in either database
// while the lock is still held: no session of offsetctl's in
// pg_stat_activity (so no open transaction and no query still waiting: a
// client that only closed its socket would leave its backend waiting for
// the lock), no prepared transaction, no temporary table in the catalogs.
// The command ends by itself, with exit 1. (diff runs with --lock-timeout
// 10m, so a query left waiting would stay; plan's comparison has the 5 s
// default lock_timeout, which would also end a forgotten wait: there the
// test proves the exit and the catalogs more than the cancel. Sending
// SIGKILL instead makes the diff case fail, naming the backend left
// waiting for the lock.)
func TestSIGINTDuringPlanAndDiffLeavesNothing(t *testing.T) {
	bin := killtest.Build(t)
	for _, tc := range []struct {
		name   string
		locked string // the side the test holds locked
		args   func(src, dst string) []string
	}{
		{"plan", "source", func(string, string) []string { return []string{"plan", "-no-color"} }},
		{"diff", "sink", func(src, dst string) []string {
			return []string{"diff", "--source", src, "--sink", dst, "--table", "public.customers", "--lock-timeout", "10m", "-no-color"}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			src, dst := pgtest.NewDB(t), pgtest.NewDB(t)
			pgtest.Exec(t, src, `CREATE TABLE customers (id bigint PRIMARY KEY, email text)`)
			pgtest.Exec(t, dst, `CREATE TABLE customers (id bigint PRIMARY KEY, email text)`)
			pgtest.Exec(t, src, `INSERT INTO customers SELECT g, 'user'||g||'@example.com' FROM generate_series(1, 2000) g`)
			pgtest.Exec(t, dst, `INSERT INTO customers SELECT g, 'user'||g||'@example.com' FROM generate_series(1, 1500) g`)
			dir := t.TempDir()
			hcl := fmt.Sprintf(`
database "source" { url = %q }
database "sink" { url = %q }
reconcile "customers" {
  source = database.source
  sink   = database.sink
  table  = "public.customers"
  reason = "INC-7: is the sink complete?"
}
`, src, dst)
			if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(hcl), 0o644); err != nil {
				t.Fatal(err)
			}
			lockedURL := map[string]string{"source": src, "sink": dst}[tc.locked]

			// The lock holder; the test's own sessions are left out of
			// what is counted.
			holder, err := pgx.Connect(ctx, lockedURL)
			if err != nil {
				t.Fatal(err)
			}
			defer holder.Close(context.Background())
			tx, err := holder.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback(context.Background())
			if _, err := tx.Exec(ctx, `LOCK TABLE customers IN ACCESS EXCLUSIVE MODE`); err != nil {
				t.Fatal(err)
			}
			watch := map[string]*pgx.Conn{}
			var ours []int32
			for side, u := range map[string]string{"source": src, "sink": dst} {
				c, err := pgx.Connect(ctx, u)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close(context.Background())
				watch[side] = c
				ours = append(ours, int32(c.PgConn().PID()))
			}
			// and whatever else was connected before offsetctl started
			// (pgtest's connections).
			for _, c := range watch {
				var pids []int32
				if err := c.QueryRow(ctx, `SELECT coalesce(array_agg(pid), '{}') FROM pg_stat_activity WHERE datname = current_database()`).Scan(&pids); err != nil {
					t.Fatal(err)
				}
				ours = append(ours, pids...)
			}
			others := func(side string) []string {
				t.Helper()
				rows, err := watch[side].Query(ctx, `SELECT pid, coalesce(state, ''), coalesce(wait_event_type, ''), xact_start IS NOT NULL, left(query, 80)
					FROM pg_stat_activity WHERE datname = current_database() AND pid <> ALL($1) AND backend_type = 'client backend'`, ours)
				if err != nil {
					t.Fatal(err)
				}
				defer rows.Close()
				var out []string
				for rows.Next() {
					var pid int32
					var st, wait, q string
					var inTx bool
					if err := rows.Scan(&pid, &st, &wait, &inTx, &q); err != nil {
						t.Fatal(err)
					}
					out = append(out, fmt.Sprintf("pid %d %s wait=%s in_transaction=%v: %s", pid, st, wait, inTx, q))
				}
				if err := rows.Err(); err != nil {
					t.Fatal(err)
				}
				return out
			}

			r := killtest.Runner{Bin: bin, Dir: dir}
			p := r.Start(t, ctx, tc.args(src, dst))
			for waiting := false; !waiting; {
				if p.Ended() {
					s := p.Signal(t, syscall.SIGINT)
					t.Fatalf("offsetctl %s ended (%s) before it waited for the lock:\n%s%s", tc.name, s.Exit, s.Stdout, s.Stderr)
				}
				for _, s := range others(tc.locked) {
					waiting = waiting || strings.Contains(s, "wait=Lock")
				}
				select {
				case <-ctx.Done():
					t.Fatalf("offsetctl %s never waited for the locked %s table:\n%s", tc.name, tc.locked, p.Stderr())
				case <-time.After(20 * time.Millisecond):
				}
			}
			s := p.Signal(t, syscall.SIGINT)
			t.Logf("offsetctl %s after SIGINT: %s\n%s%s", tc.name, s.Exit, s.Stdout, s.Stderr)
			if s.Exit != "exit 1" {
				t.Errorf("offsetctl %s after SIGINT: %s, want exit 1", tc.name, s.Exit)
			}

			// The lock is still held: a session offsetctl left would still
			// be waiting for it. A session whose client said goodbye ends
			// a moment later: wait up to 30 s for that.
			for _, side := range []string{"source", "sink"} {
				var left []string
				for deadline := time.Now().Add(30 * time.Second); ; {
					if left = others(side); len(left) == 0 || time.Now().After(deadline) {
						break
					}
					time.Sleep(20 * time.Millisecond)
				}
				if len(left) > 0 {
					t.Errorf("after SIGINT, offsetctl's sessions are left on the %s:\n%s", side, strings.Join(left, "\n"))
				}
				var prepared, temp int
				if err := watch[side].QueryRow(ctx, `SELECT count(*) FROM pg_prepared_xacts WHERE database = current_database()`).Scan(&prepared); err != nil {
					t.Fatal(err)
				}
				if err := watch[side].QueryRow(ctx, `SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname LIKE 'pg_temp%'`).Scan(&temp); err != nil {
					t.Fatal(err)
				}
				if prepared != 0 || temp != 0 {
					t.Errorf("after SIGINT the %s holds %d prepared transaction(s) and %d temporary relation(s)", side, prepared, temp)
				}
			}
		})
	}
}
