package reconcile

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/offsetctl/offsetctl/internal/pgtest"
	"github.com/offsetctl/offsetctl/pkg/state"
	"github.com/offsetctl/offsetctl/pkg/state/local"
)

// BenchmarkRepair times Repair of DRIFT drifted rows (a third missing, a
// third extra, a third mismatched) in a table of ROWS rows (defaults 10,000
// and 1,000,000; env OFFSETCTL_REPAIR_ROWS, OFFSETCTL_REPAIR_DRIFT), with the
// before-images journalled in the state per batch as apply writes them
// (pkg/state/local: appended to the state's journal and fsynced; the journal
// is folded into the state file when the lock is released, timed on its own
// line) and the after-images (the xmin of each row version written, by
// RETURNING) for the rollback's check, beside
// two hand-written equivalents (INSERT ... SELECT, UPDATE ... FROM, DELETE
// over the same key lists, one transaction, no before-images): from the
// source table in the same database, and from it as a postgres_fdw foreign
// table (the hand-written repair between two databases). Each of
// OFFSETCTL_REPAIR_REPEAT rounds (default 5) resets the sink tables and times
// all three; the medians are compared. Run it with bench/repair.sh; it
// prints a Markdown table.
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
INSERT INTO d.customers SELECT %[1]d + i, 'extra', 'x', 0, timestamptz '2026-06-01', NULL FROM generate_series(1, %[4]d) i;
CREATE TABLE d.hand (LIKE s.customers INCLUDING ALL);
INSERT INTO d.hand SELECT * FROM d.customers;
CREATE TABLE d.fdw (LIKE s.customers INCLUDING ALL);
INSERT INTO d.fdw SELECT * FROM d.customers;
ALTER TABLE s.customers SET (autovacuum_enabled = false); ALTER TABLE d.customers SET (autovacuum_enabled = false);
ALTER TABLE d.hand SET (autovacuum_enabled = false); ALTER TABLE d.fdw SET (autovacuum_enabled = false);`, rows, 2*third, third, drift-2*third)
	start := time.Now()
	pgtest.Exec(b, u, setup)
	// Settled tables, as in production: vacuumed (visibility map set),
	// analysed, and no autovacuum starting in the middle of a measurement;
	// written out, so that no checkpoint does it then.
	pgtest.Exec(b, u, "VACUUM ANALYZE s.customers, d.customers, d.hand, d.fdw")
	pgtest.Exec(b, u, "CHECKPOINT")
	build := time.Since(start)
	// The source table seen from the sink as a foreign table (postgres_fdw,
	// over a connection to the same database): the hand-written repair
	// between two databases.
	cfg, err := pgx.ParseConfig(u)
	if err != nil {
		b.Fatal(err)
	}
	pgtest.Exec(b, u, fmt.Sprintf(`CREATE EXTENSION postgres_fdw;
CREATE SERVER src FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host %s, port '%d', dbname %s, fetch_size '10000');
CREATE USER MAPPING FOR CURRENT_USER SERVER src OPTIONS (user %s);
CREATE SCHEMA fs; IMPORT FOREIGN SCHEMA s FROM SERVER src INTO fs;`, quoteLiteral(cfg.Host), cfg.Port, quoteLiteral(cfg.Database), quoteLiteral(cfg.User)))
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

	all := append(append(append([]int64{}, miss...), mism...), extra...)
	b.ResetTimer()
	// Each round puts the sink tables back into their drifted state (from a
	// copy), then times the repair and the two hand-written equivalents, in
	// turns first. The medians of REPEAT rounds are compared: the machine's
	// speed drifts from minute to minute.
	pgtest.Exec(b, u, "CREATE TABLE d.drifted AS SELECT * FROM d.customers")
	repeat := envInt("OFFSETCTL_REPAIR_REPEAT", 5)
	var repairs, verifies, unlocks, hands, fdws []time.Duration
	var res *RepairResult
	runRepair := func() {
		// offsetctl's repair as apply runs it: two sink connections (a
		// batch writes while the one before commits), and the images
		// journalled: the operation in the state (local file backend,
		// locked), the before-images of each batch written (appended to
		// the state's journal and fsynced) before the batch commits, the
		// after-images recorded, the state written once more at the end;
		// after the verification, the journal folded into the state file
		// as apply's unlock does (timed on its own).
		be := local.New(filepath.Join(b.TempDir(), "offsetctl.state.json"), local.WithVersion("bench"))
		lock, err := be.Lock(ctx, state.LockInfo{Operation: "apply", Who: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		st := state.New("00000000-0000-4000-8000-000000000001")
		serial := st.Begin(state.Operation{Name: "customers", Kind: state.KindReconcile, Started: time.Now()}).Serial
		if err := be.Write(ctx, st, lock); err != nil {
			b.Fatal(err)
		}
		record := func(after bool, ims []RowImage) {
			op, _ := st.BySerial(serial)
			for _, im := range ims {
				img := state.Image{Row: &state.RowImage{Database: "sink", Table: "d.customers", Key: im.KeyJSON, Row: im.Row, Xmin: im.Xmin}}
				if after {
					op.After = append(op.After, img)
				} else {
					op.BeforeImages = append(op.BeforeImages, img)
				}
			}
		}
		// Connected before the clock starts, as the hand-written
		// repair's session is (apply connects to the source and the sink
		// before the operation starts; its second sink connection comes
		// from the sink's pool).
		src, sink, sink2 := pgtest.Conn(b, u), pgtest.Conn(b, u), pgtest.Conn(b, u)
		start := time.Now()
		res, err = Repair(ctx, src, sink, spec, RepairSet{Missing: r.Missing, Extra: r.Extra, Mismatched: r.Mismatched},
			RepairOptions{DeleteExtra: true, SecondSink: sink2, Images: func(ctx context.Context, _ int, ims []RowImage) error {
				record(false, ims)
				return be.Write(ctx, st, lock)
			}, After: func(_ context.Context, _ int, ims []RowImage) error {
				record(true, ims)
				return nil
			}})
		if err == nil {
			err = be.Write(ctx, st, lock)
		}
		repairs = append(repairs, time.Since(start))
		if err != nil {
			b.Fatal(err)
		}
		if res.Changed() != int64(len(all)) {
			b.Fatalf("repair changed %d rows, want %d: %+v", res.Changed(), len(all), res)
		}
		start = time.Now()
		v, err := Verify(ctx, pgtest.Conn(b, u), pgtest.Conn(b, u), spec, res.Repaired)
		if err != nil || !v.Converged() || !v.TableEqual() {
			b.Fatalf("verify: %+v %v", v, err)
		}
		verifies = append(verifies, time.Since(start))
		start = time.Now()
		if err := be.Unlock(ctx, lock); err != nil {
			b.Fatal(err)
		}
		unlocks = append(unlocks, time.Since(start))
	}
	// The hand-written equivalent over the same keys: from the source
	// table in the same database, or through postgres_fdw.
	hand := func(table, from string, into *[]time.Duration) func() {
		return func() {
			conn := pgtest.Conn(b, u)
			// postgres_fdw connects to the source at its first use in a
			// session: before the clock starts, as offsetctl's connections.
			if _, err := conn.Exec(ctx, "SELECT FROM "+from+" WHERE id = 0"); err != nil {
				b.Fatal(err)
			}
			start := time.Now()
			tx, err := conn.Begin(ctx)
			if err != nil {
				b.Fatal(err)
			}
			for _, q := range []struct {
				sql  string
				keys []int64
			}{
				{"INSERT INTO " + table + " SELECT * FROM " + from + " WHERE id = ANY($1)", miss},
				{"UPDATE " + table + " h SET name = s.name, email = s.email, balance = s.balance, updated_at = s.updated_at, meta = s.meta FROM " + from +
					" s WHERE h.id = s.id AND h.id = ANY($1) AND s.id = ANY($1)", mism},
				{"DELETE FROM " + table + " WHERE id = ANY($1)", extra},
			} {
				if _, err := tx.Exec(ctx, q.sql, q.keys); err != nil {
					b.Fatal(err)
				}
			}
			if err := tx.Commit(ctx); err != nil {
				b.Fatal(err)
			}
			*into = append(*into, time.Since(start))
		}
	}
	methods := []func(){runRepair, hand("d.hand", "s.customers", &hands), hand("d.fdw", "fs.customers", &fdws)}
	for round := 0; round < repeat*b.N; round++ {
		if round > 0 {
			pgtest.Exec(b, u, `TRUNCATE d.customers, d.hand, d.fdw;
INSERT INTO d.customers SELECT * FROM d.drifted; INSERT INTO d.hand SELECT * FROM d.drifted; INSERT INTO d.fdw SELECT * FROM d.drifted;`)
			pgtest.Exec(b, u, "VACUUM ANALYZE d.customers, d.hand, d.fdw")
			pgtest.Exec(b, u, "CHECKPOINT") // no dirty pages written during a measurement
		}
		warm(b, u, all)
		for i := range methods {
			methods[(round+i)%len(methods)]()
		}
	}
	b.StopTimer()
	fmt.Printf("\n### Repair of %d drifted rows in a %d-row table\n\n", drift, rows)
	fmt.Printf("Build %.1f s; compare (plan) %.2f s: %d missing, %d extra, %d mismatched. %d rounds, the three methods in turns first; medians, each round's time in brackets.\n\n",
		build.Seconds(), cmp.Seconds(), len(miss), len(extra), len(mism), len(repairs))
	fmt.Printf("| what | seconds | rows/s | ratio |\n|---|---:|---:|---:|\n")
	n := float64(len(all))
	mh, mf, mr := median(hands), median(fdws), median(repairs)
	fmt.Printf("| hand-written INSERT ... SELECT / UPDATE ... FROM / DELETE, same database, one transaction, no before-images %s | %.3f | %.0f | 1.00 |\n", seconds(hands), mh.Seconds(), n/mh.Seconds())
	fmt.Printf("| the same over postgres_fdw (source table as a foreign table) %s | %.3f | %.0f | %.2f |\n", seconds(fdws), mf.Seconds(), n/mf.Seconds(), mf.Seconds()/mh.Seconds())
	fmt.Printf("| offsetctl repair (source rows over a second connection, COPY to a temp table, optimistic hash checks, %d batches, before-images journalled in the state per batch) %s | %.3f | %.0f | %.2f (%.2f× postgres_fdw) |\n",
		res.Batches, seconds(repairs), mr.Seconds(), n/mr.Seconds(), mr.Seconds()/mh.Seconds(), mr.Seconds()/mf.Seconds())
	fmt.Printf("| offsetctl verification (repaired keys + whole-table checksums) %s | %.3f | | |\n", seconds(verifies), median(verifies).Seconds())
	fmt.Printf("| the state's journal folded into the state file at unlock, after the verification %s | %.3f | | |\n\n", seconds(unlocks), median(unlocks).Seconds())
}

// quoteLiteral quotes s as an SQL string literal.
func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// warm reads every table once, and the rows of every drifted key through the
// index, so that neither method pays for the other's first touch.
func warm(b *testing.B, u string, keys []int64) {
	for _, t := range []string{"s.customers", "d.customers", "d.hand", "d.fdw"} {
		var n int64
		if err := pgtest.Conn(b, u).QueryRow(context.Background(), "SELECT count(*) FILTER (WHERE id = ANY($1)) + sum(length(t::text)) FROM "+t+" t", keys).Scan(&n); err != nil {
			b.Fatal(err)
		}
	}
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func seconds(ds []time.Duration) string {
	var parts []string
	for _, d := range ds {
		parts = append(parts, fmt.Sprintf("%.3f", d.Seconds()))
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}
