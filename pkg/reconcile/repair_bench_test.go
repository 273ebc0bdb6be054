package reconcile

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/offsetctl/offsetctl/internal/pgtest"
)

// BenchmarkRepair times Repair of DRIFT drifted rows (a third missing, a
// third extra, a third mismatched) in a table of ROWS rows (defaults 10,000
// and 1,000,000; env OFFSETCTL_REPAIR_ROWS, OFFSETCTL_REPAIR_DRIFT), with the
// before-images written to a file and fsynced per batch as apply writes the
// state and the after-images (RETURNING) for the rollback's check, beside the
// hand-written equivalent in the same database (INSERT ...
// SELECT, UPDATE ... FROM, DELETE over the same key lists, one transaction,
// no before-images). Run it with bench/repair.sh; it prints a Markdown table.
func BenchmarkRepair(b *testing.B) {
	rows := envInt("OFFSETCTL_REPAIR_ROWS", 1000000)
	drift := envInt("OFFSETCTL_REPAIR_DRIFT", 10000)
	ctx := context.Background()
	u := pgtest.NewDB(b)
	third := drift / 3
	setup := fmt.Sprintf(`CREATE SCHEMA s; CREATE SCHEMA d;
CREATE TABLE s.customers (id bigint PRIMARY KEY, name text, email text, balance numeric(12,2), updated_at timestamptz, meta jsonb);
INSERT INTO s.customers SELECT i, 'name ' || i, md5(i::text) || '@example.com', (i %% 100000) / 100.0,
  timestamptz '2026-01-01' + i * interval '1 second', jsonb_build_object('n', i) FROM generate_series(1, %[1]d) i;
CREATE TABLE d.customers (LIKE s.customers INCLUDING ALL);
INSERT INTO d.customers SELECT * FROM s.customers;
CREATE TEMP TABLE pick AS SELECT id FROM s.customers ORDER BY md5(id::text) LIMIT %[2]d;
DELETE FROM d.customers WHERE id IN (SELECT id FROM pick ORDER BY id LIMIT %[3]d);
UPDATE d.customers SET email = 'changed-' || email WHERE id IN (SELECT id FROM pick ORDER BY id OFFSET %[3]d);
INSERT INTO d.customers SELECT %[1]d + i, 'extra', 'x', 0, now(), NULL FROM generate_series(1, %[4]d) i;
CREATE TABLE d.hand (LIKE s.customers INCLUDING ALL);
INSERT INTO d.hand SELECT * FROM d.customers;
ANALYZE s.customers; ANALYZE d.customers; ANALYZE d.hand;`, rows, 2*third, third, drift-2*third)
	start := time.Now()
	pgtest.Exec(b, u, setup)
	build := time.Since(start)
	spec := Spec{Table: "s.customers", SinkTable: "d.customers"}
	start = time.Now()
	r, err := Compare(ctx, pgtest.Conn(b, u), pgtest.Conn(b, u), spec)
	if err != nil {
		b.Fatal(err)
	}
	cmp := time.Since(start)
	keys := func(l []Diff) []int64 {
		out := make([]int64, len(l))
		for i, d := range l {
			out[i], _ = strconv.ParseInt(d.Key[0], 10, 64)
		}
		return out
	}
	miss, mism, extra := keys(r.Missing), keys(r.Mismatched), keys(r.Extra)

	// Warm both sides alike: every table read once, and the rows of every
	// drifted key through the index, so that neither method pays for the
	// other's first touch.
	all := append(append(append([]int64{}, miss...), mism...), extra...)
	for _, t := range []string{"s.customers", "d.customers", "d.hand"} {
		var n int64
		if err := pgtest.Conn(b, u).QueryRow(ctx, "SELECT count(*) FILTER (WHERE id = ANY($1)) + sum(length(t::text)) FROM "+t+" t", all).Scan(&n); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	var repair, verify, hand time.Duration
	var res *RepairResult
	for i := 0; i < b.N; i++ {
		// offsetctl's repair, with the before-images made durable per batch.
		f, err := os.Create(filepath.Join(b.TempDir(), "images.json"))
		if err != nil {
			b.Fatal(err)
		}
		start = time.Now()
		res, err = Repair(ctx, pgtest.Conn(b, u), pgtest.Conn(b, u), spec, RepairSet{Missing: r.Missing, Extra: r.Extra, Mismatched: r.Mismatched},
			RepairOptions{DeleteExtra: true, Images: func(_ context.Context, _ int, ims []RowImage) error {
				data, err := json.Marshal(ims)
				if err != nil {
					return err
				}
				if _, err := f.Write(data); err != nil {
					return err
				}
				return f.Sync()
			}, After: func(_ context.Context, _ int, ims []RowImage) error {
				_, err := json.Marshal(ims) // apply keeps them for the rollback's check
				return err
			}})
		repair = time.Since(start)
		f.Close()
		if err != nil {
			b.Fatal(err)
		}
		start = time.Now()
		v, err := Verify(ctx, pgtest.Conn(b, u), pgtest.Conn(b, u), spec, res.Repaired)
		if err != nil || !v.Converged() || !v.TableEqual() {
			b.Fatalf("verify: %+v %v", v, err)
		}
		verify = time.Since(start)

		// The hand-written equivalent over the same keys, same database.
		conn := pgtest.Conn(b, u)
		start = time.Now()
		tx, err := conn.Begin(ctx)
		if err != nil {
			b.Fatal(err)
		}
		for _, q := range []struct {
			sql  string
			keys []int64
		}{
			{"INSERT INTO d.hand SELECT * FROM s.customers WHERE id = ANY($1)", miss},
			{"UPDATE d.hand h SET name = s.name, email = s.email, balance = s.balance, updated_at = s.updated_at, meta = s.meta FROM s.customers s WHERE h.id = s.id AND h.id = ANY($1)", mism},
			{"DELETE FROM d.hand WHERE id = ANY($1)", extra},
		} {
			if _, err := tx.Exec(ctx, q.sql, q.keys); err != nil {
				b.Fatal(err)
			}
		}
		if err := tx.Commit(ctx); err != nil {
			b.Fatal(err)
		}
		hand = time.Since(start)
	}
	b.StopTimer()
	fmt.Printf("\n### Repair of %d drifted rows in a %d-row table\n\n", drift, rows)
	fmt.Printf("Build %.1f s; compare (plan) %.2f s: %d missing, %d extra, %d mismatched.\n\n", build.Seconds(), cmp.Seconds(), len(miss), len(extra), len(mism))
	fmt.Printf("| what | seconds | rows/s | ratio |\n|---|---:|---:|---:|\n")
	n := float64(len(miss) + len(mism) + len(extra))
	fmt.Printf("| hand-written INSERT ... SELECT / UPDATE ... FROM / DELETE, same database, one transaction, no before-images | %.3f | %.0f | 1.00 |\n", hand.Seconds(), n/hand.Seconds())
	fmt.Printf("| offsetctl repair (COPY to a temp table, optimistic hash checks, %d batches, before-images fsynced per batch, after-images by RETURNING) | %.3f | %.0f | %.2f |\n", res.Batches, repair.Seconds(), n/repair.Seconds(), repair.Seconds()/hand.Seconds())
	fmt.Printf("| offsetctl verification (repaired keys + whole-table checksums) | %.3f | | |\n\n", verify.Seconds())
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}
