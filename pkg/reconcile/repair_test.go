package reconcile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/offsetctl/offsetctl/internal/pgtest"
)

// The customers case of the runbook: the source keeps microseconds, the sink
// milliseconds and an extra __op column the pipeline writes.
const (
	repairSrc = `CREATE SCHEMA s;
CREATE TABLE s.customers (id bigint PRIMARY KEY, email text NOT NULL, status text, updated_at timestamptz NOT NULL);
INSERT INTO s.customers SELECT i, 'user' || i || '@example.com', CASE WHEN i % 3 = 0 THEN NULL ELSE 'active' END,
  timestamptz '2026-11-01 00:00:00.123456+00' + i * interval '1 minute 0.000321 second' FROM generate_series(1, 200) i;`
	repairDst = `CREATE SCHEMA d;
CREATE TABLE d.customers (id bigint PRIMARY KEY, email text NOT NULL, status text, updated_at timestamp(3) NOT NULL, __op text DEFAULT 'r');
INSERT INTO d.customers (id, email, status, updated_at, __op) SELECT id, email, status, updated_at AT TIME ZONE 'UTC', 'c' FROM s.customers;`
	// drift: 5 missing, 3 extra, 4 mismatched (email, status, updated_at).
	repairDrift = `DELETE FROM d.customers WHERE id IN (3, 50, 51, 52, 199);
INSERT INTO d.customers VALUES (1001, 'ghost1@example.com', 'x', '2026-01-01', 'c'), (1002, 'ghost2@example.com', NULL, '2026-01-01', 'c'), (1003, 'o''brien@example.com', 'x', '2026-01-01', 'c');
UPDATE d.customers SET email = 'changed@example.com' WHERE id = 7;
UPDATE d.customers SET status = NULL WHERE id = 8;
UPDATE d.customers SET updated_at = updated_at + interval '1 second' WHERE id = 100;
UPDATE d.customers SET email = 'x', status = 'gone' WHERE id = 150;`
)

func repairSpec() Spec {
	return Spec{Table: "s.customers", SinkTable: "d.customers", Ignore: []string{"__op"}, TimestampPrecision: PrecisionMillisecond}
}

// setupRepair makes a database with the customers tables and the drift and
// returns its URL and the comparison's result.
func setupRepair(t *testing.T) (string, *Result) {
	t.Helper()
	u := pgtest.NewDB(t)
	pgtest.Exec(t, u, repairSrc+repairDst+repairDrift)
	r, err := Compare(context.Background(), pgtest.Conn(t, u), pgtest.Conn(t, u), repairSpec())
	if err != nil {
		t.Fatalf("Compare: %v", err)
	}
	if r.MissingCount != 5 || r.ExtraCount != 3 || r.MismatchedCount != 4 {
		t.Fatalf("drift = %d missing, %d extra, %d mismatched; want 5, 3, 4", r.MissingCount, r.ExtraCount, r.MismatchedCount)
	}
	return u, r
}

func setOf(r *Result) RepairSet {
	return RepairSet{Missing: r.Missing, Extra: r.Extra, Mismatched: r.Mismatched}
}

// dump is the sink table's exact content: every row's text, in key order.
func dump(t *testing.T, u, table string) string {
	t.Helper()
	var out string
	err := pgtest.Conn(t, u).QueryRow(context.Background(), "SELECT coalesce(string_agg(c::text, E'\\n' ORDER BY c.id), '') FROM "+table+" c").Scan(&out)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// sinkSessions runs a repair test with one sink connection and with two
// (RepairOptions.SecondSink: a batch writes while the one before commits).
func sinkSessions(t *testing.T, test func(t *testing.T, second func(u string) *pgx.Conn)) {
	t.Run("one sink session", func(t *testing.T) { test(t, func(string) *pgx.Conn { return nil }) })
	t.Run("two sink sessions", func(t *testing.T) { test(t, func(u string) *pgx.Conn { return pgtest.Conn(t, u) }) })
}

// inOrder returns a callback for Images or After that fails the test unless
// its batches come one after the other from 1 (with grouped, as Images may
// get them, a call may carry two batches: the next call's batch is then two
// on), each with its images in key order after those before, and appends
// what it gets to *to.
func inOrder(t *testing.T, to *[]RowImage, grouped bool) func(context.Context, int, []RowImage) error {
	next := 1
	return func(_ context.Context, batch int, im []RowImage) error {
		if batch != next && !(grouped && batch == next+1) {
			t.Errorf("batch %d handed on, want %d", batch, next)
		}
		for i := range im {
			if p := len(*to) + i; p > 0 {
				var prev RowImage
				if i > 0 {
					prev = im[i-1]
				} else {
					prev = (*to)[p-1]
				}
				if keyInt(t, prev.Key) >= keyInt(t, im[i].Key) {
					t.Errorf("batch %d: image of key %s after %s", batch, im[i].Key, prev.Key)
				}
			}
		}
		next = batch + 1
		*to = append(*to, im...)
		return nil
	}
}

func keyInt(t *testing.T, k Key) int {
	n, err := strconv.Atoi(k[0])
	if err != nil {
		t.Fatalf("key %s: %v", k, err)
	}
	return n
}

func TestRepairUpsertVerifyRestore(t *testing.T) {
	sinkSessions(t, testRepairUpsertVerifyRestore)
}

func testRepairUpsertVerifyRestore(t *testing.T, second func(string) *pgx.Conn) {
	ctx := context.Background()
	u, r := setupRepair(t)
	before := dump(t, u, "d.customers")
	var images, after []RowImage
	sink, sink2 := pgtest.Conn(t, u), second(u)
	res, err := Repair(ctx, pgtest.Conn(t, u), sink, repairSpec(), setOf(r), RepairOptions{
		DeleteExtra: true, BatchSize: 4, SecondSink: sink2,
		Images: inOrder(t, &images, true), After: inOrder(t, &after, false),
	})
	if err != nil {
		t.Fatalf("Repair: %v", err)
	}
	for _, c := range []*pgx.Conn{sink, sink2} {
		var left *string
		if c != nil {
			if err := c.QueryRow(ctx, "SELECT to_regclass('pg_temp.offsetctl_repair')::text").Scan(&left); err != nil || left != nil {
				t.Errorf("the repair's temporary table is left in a sink session: %v %v", left, err)
			}
		}
	}
	// Batches of 1 (a quarter of the batch size, the first), 2 (twice
	// that), 4, 3 and 2 (the last two share what is left).
	if res.Inserted != 5 || res.Updated != 4 || res.Deleted != 3 || len(res.Stale) != 0 || res.Batches != 5 {
		t.Fatalf("repair = %+v; want 5 inserted, 4 updated, 3 deleted in 5 batches, none stale", res)
	}
	if len(images) != 12 {
		t.Fatalf("%d before-images, want 12", len(images))
	}
	var absent int
	for _, im := range images {
		if im.Row == nil {
			absent++
		}
	}
	if absent != 5 {
		t.Errorf("%d images of absent rows, want the 5 inserted ones", absent)
	}
	v, err := Verify(ctx, pgtest.Conn(t, u), pgtest.Conn(t, u), repairSpec(), res.Repaired)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if !v.Converged() || !v.TableEqual() || v.Keys != 12 {
		t.Fatalf("verification = %+v; want 12 keys converged and equal checksums", v)
	}
	// Inserted rows get the sink's default for the column the comparison
	// ignores; the value columns come from the source at the sink's
	// precision.
	var op, ts string
	if err := pgtest.Conn(t, u).QueryRow(ctx, "SELECT __op, updated_at::text FROM d.customers WHERE id = 3").Scan(&op, &ts); err != nil {
		t.Fatal(err)
	}
	if op != "r" || !strings.HasSuffix(ts, ".124") && !strings.HasSuffix(ts, ".123") {
		t.Errorf("inserted row 3: __op %q, updated_at %q", op, ts)
	}

	if len(after) != 12 {
		t.Fatalf("%d after-images, want 12", len(after))
	}
	for _, a := range after {
		if a.Row != nil || (a.Xmin == "") != (a.Key[0] == "1001" || a.Key[0] == "1002" || a.Key[0] == "1003") {
			t.Errorf("after-image of %s: row %s, xmin %q; want the xmin of written rows, nothing for deleted ones", a.Key, a.Row, a.Xmin)
		}
	}
	// A row the repair deleted is back: the restore refuses and changes
	// nothing. (Rows written since: TestRestoreRefusesRowsWrittenSince.)
	pgtest.Exec(t, u, "INSERT INTO d.customers VALUES (1002, 'again@example.com', NULL, '2026-01-01', 'c')")
	restoreRefused(t, u, images, after, "id=1002")
	pgtest.Exec(t, u, "DELETE FROM d.customers WHERE id = 1002")

	n, err := RestoreRows(ctx, pgtest.Conn(t, u), "d.customers", images, RepairOptions{Expect: after})
	if err != nil {
		t.Fatalf("RestoreRows: %v", err)
	}
	if n != 12 {
		t.Errorf("restored %d rows, want 12", n)
	}
	if got := dump(t, u, "d.customers"); got != before {
		t.Errorf("after restore the sink differs from before the repair:\n--- before\n%s\n--- after\n%s", before, got)
	}
}

func TestRepairWithoutDeleteExtraSkipsExtra(t *testing.T) {
	u, r := setupRepair(t)
	res, err := Repair(context.Background(), pgtest.Conn(t, u), pgtest.Conn(t, u), repairSpec(), setOf(r), RepairOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Deleted != 0 || res.Skipped != 3 || res.Inserted != 5 || res.Updated != 4 {
		t.Fatalf("repair = %+v; want 3 extra skipped, 5 inserted, 4 updated", res)
	}
	var n int
	_ = pgtest.Conn(t, u).QueryRow(context.Background(), "SELECT count(*) FROM d.customers WHERE id > 1000").Scan(&n)
	if n != 3 {
		t.Errorf("%d extra rows left, want 3", n)
	}
}

func TestRepairStaleRowsAreNotOverwritten(t *testing.T) {
	ctx := context.Background()
	u, r := setupRepair(t)
	// After the plan: the source row 7 changes, the sink row 8 changes, a
	// sink row for missing key 50 appears, extra row 1001 changes.
	pgtest.Exec(t, u, `UPDATE s.customers SET email = 'new7@example.com' WHERE id = 7;
UPDATE d.customers SET email = 'hand@example.com' WHERE id = 8;
INSERT INTO d.customers VALUES (50, 'late@example.com', NULL, '2026-01-01', 'c');
UPDATE d.customers SET status = 'y' WHERE id = 1001;`)
	res, err := Repair(ctx, pgtest.Conn(t, u), pgtest.Conn(t, u), repairSpec(), setOf(r), RepairOptions{DeleteExtra: true})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, s := range res.Stale {
		got[s.Key.String()] = string(s.Kind) + ": " + s.Why
	}
	want := map[string]string{
		"7":    "mismatched: the source row changed",
		"8":    "mismatched: the sink row changed",
		"50":   "missing: a sink row with this key appeared",
		"1001": "extra: the sink row changed",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("stale = %v\nwant    %v", got, want)
	}
	if res.Inserted != 4 || res.Updated != 2 || res.Deleted != 2 {
		t.Errorf("repair = %+v; want 4 inserted, 2 updated, 2 deleted", res)
	}
	var e7, e8 string
	_ = pgtest.Conn(t, u).QueryRow(ctx, "SELECT (SELECT email FROM d.customers WHERE id = 7), (SELECT email FROM d.customers WHERE id = 8)").Scan(&e7, &e8)
	if e7 != "changed@example.com" || e8 != "hand@example.com" {
		t.Errorf("stale rows were written: 7 = %q, 8 = %q", e7, e8)
	}
}

// A sink row another session changes while the repair's statement waits for
// it is left alone: the statement found it as planned, but the version it
// would write over is not that one.
func TestRepairRowChangedWhileTheStatementWaits(t *testing.T) {
	ctx := context.Background()
	u, r := setupRepair(t)
	other := pgtest.Conn(t, u)
	tx, err := other.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	// Mismatched row 8 and extra row 1001 change in a transaction that
	// commits while the repair waits for their locks.
	if _, err := tx.Exec(ctx, "UPDATE d.customers SET email = 'other@example.com' WHERE id = 8; UPDATE d.customers SET status = 'z' WHERE id = 1001"); err != nil {
		t.Fatal(err)
	}
	type outcome struct {
		res *RepairResult
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		res, err := Repair(ctx, pgtest.Conn(t, u), pgtest.Conn(t, u), repairSpec(), setOf(r), RepairOptions{DeleteExtra: true})
		done <- outcome{res, err}
	}()
	// Wait until the repair is blocked on the other session's locks.
	for i := 0; ; i++ {
		var waiting bool
		if err := pgtest.Conn(t, u).QueryRow(ctx, "SELECT count(*) > 0 FROM pg_stat_activity WHERE application_name = 'offsetctl' AND wait_event_type = 'Lock'").Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting {
			break
		}
		if i == 400 {
			t.Fatal("the repair never waited for the locked rows")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	o := <-done
	if o.err != nil {
		t.Fatal(o.err)
	}
	got := map[string]string{}
	for _, s := range o.res.Stale {
		got[s.Key.String()] = string(s.Kind) + ": " + s.Why
	}
	want := map[string]string{"8": "mismatched: the sink row changed", "1001": "extra: the sink row changed"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("stale = %v\nwant    %v", got, want)
	}
	var e8, s1001 string
	if err := pgtest.Conn(t, u).QueryRow(ctx, "SELECT (SELECT email FROM d.customers WHERE id = 8), (SELECT status FROM d.customers WHERE id = 1001)").Scan(&e8, &s1001); err != nil {
		t.Fatal(err)
	}
	if e8 != "other@example.com" || s1001 != "z" {
		t.Errorf("the other session's changes were overwritten: 8 = %q, 1001 = %q", e8, s1001)
	}
}

// TestRestoreRefusesRowsWrittenSince: a restore refuses (and changes nothing)
// when a repaired row was written since the repair, even with the values it
// had (a new row version); after-images of format_version 1 states (whole
// rows) are still checked by value.
func TestRestoreRefusesRowsWrittenSince(t *testing.T) {
	ctx := context.Background()
	u, r := setupRepair(t)
	var images, after []RowImage
	if _, err := Repair(ctx, pgtest.Conn(t, u), pgtest.Conn(t, u), repairSpec(), setOf(r), RepairOptions{DeleteExtra: true,
		Images: func(_ context.Context, _ int, im []RowImage) error { images = append(images, im...); return nil },
		After:  func(_ context.Context, _ int, im []RowImage) error { after = append(after, im...); return nil },
	}); err != nil {
		t.Fatal(err)
	}
	// The same expectations as whole rows, as format_version 1 recorded them.
	var byRow []RowImage
	for _, a := range after {
		if a.Xmin != "" {
			var row string
			if err := pgtest.Conn(t, u).QueryRow(ctx, "SELECT row_to_json(c)::text FROM d.customers c WHERE id = $1", a.Key[0]).Scan(&row); err != nil {
				t.Fatal(err)
			}
			a.Xmin, a.Row = "", json.RawMessage(row)
		}
		byRow = append(byRow, a)
	}
	pgtest.Exec(t, u, "UPDATE d.customers SET status = status WHERE id = 7")
	restoreRefused(t, u, images, after, "id=7")
	pgtest.Exec(t, u, "UPDATE d.customers SET status = 'newer' WHERE id = 7")
	restoreRefused(t, u, images, byRow, "id=7")
	pgtest.Exec(t, u, "UPDATE d.customers SET status = 'active' WHERE id = 7")
	if _, err := RestoreRows(ctx, pgtest.Conn(t, u), "d.customers", images, RepairOptions{Expect: byRow}); err != nil {
		t.Fatalf("restore with format_version 1 after-images, rows as the repair left them: %v", err)
	}
}

// restoreRefused checks that RestoreRows refuses because the repaired row of
// key changed since the repair, and changes nothing.
func restoreRefused(t *testing.T, u string, images, expect []RowImage, key string) {
	t.Helper()
	before := dump(t, u, "d.customers")
	_, err := RestoreRows(context.Background(), pgtest.Conn(t, u), "d.customers", images, RepairOptions{Expect: expect})
	if err == nil || !strings.Contains(err.Error(), "1 repaired row(s) changed since the repair ({"+key+"})") || !strings.Contains(err.Error(), "nothing was put back") {
		t.Fatalf("restore = %v, want a refusal for the changed row %s", err, key)
	}
	if dump(t, u, "d.customers") != before {
		t.Fatal("a refused restore changed the sink")
	}
}

func TestRepairCrashThenRerun(t *testing.T) {
	sinkSessions(t, testRepairCrashThenRerun)
}

func testRepairCrashThenRerun(t *testing.T, second func(string) *pgx.Conn) {
	ctx := context.Background()
	u, r := setupRepair(t)
	crash := errors.New("crash")
	var images []RowImage
	opts := RepairOptions{DeleteExtra: true, BatchSize: 5, SecondSink: second(u),
		Images: func(_ context.Context, _ int, im []RowImage) error { images = append(images, im...); return nil },
		BeforeCommit: func(b int) error {
			if b == 2 {
				return crash
			}
			return nil
		}}
	res, err := Repair(ctx, pgtest.Conn(t, u), pgtest.Conn(t, u), repairSpec(), setOf(r), opts)
	if !errors.Is(err, crash) {
		t.Fatalf("Repair = %v, want the crash", err)
	}
	if res.Changed() != 2 {
		t.Fatalf("first run committed %d rows, want the 2 of batch 1 (a quarter of the batch size, rounded up)", res.Changed())
	}
	// Nothing of batch 2 (crashed before its commit) nor of batch 3
	// (written meanwhile on the second session) stayed.
	if v, err := Verify(ctx, pgtest.Conn(t, u), pgtest.Conn(t, u), repairSpec(), setOf(r).Keys()); err != nil || len(v.Differing) != 10 {
		t.Fatalf("after the crash: %d keys differ, want 10 (%v)", len(v.Differing), err)
	}
	opts.BeforeCommit = nil
	res, err = Repair(ctx, pgtest.Conn(t, u), pgtest.Conn(t, u), repairSpec(), setOf(r), opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.Already != 2 || res.Changed() != 10 || len(res.Stale) != 0 {
		t.Fatalf("rerun = %+v; want 2 already repaired, 10 changed, none stale", res)
	}
	v, err := Verify(ctx, pgtest.Conn(t, u), pgtest.Conn(t, u), repairSpec(), setOf(r).Keys())
	if err != nil {
		t.Fatal(err)
	}
	if !v.Converged() || !v.TableEqual() {
		t.Fatalf("after the rerun: %+v", v)
	}
}

// TestRepairRecordsReadyBatchesTogether: with two sink sessions, a batch
// whose successor has run its statements by the time it commits records the
// before-images of both in one call, before either commits.
func TestRepairRecordsReadyBatchesTogether(t *testing.T) {
	ctx := context.Background()
	u, r := setupRepair(t)
	// Batches of at most 4: [3], [7 8], [50 51 52 100], [150 199 1001],
	// [1002 1003]; the odd ones on the first sink session, the even ones on
	// the second. Batch 2's update waits for row 7, locked here until batch 3
	// (on the first session, free once batch 1 committed) ran its
	// statements: batch 2 then finds batch 3 ready.
	tx, err := pgtest.Conn(t, u).Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "SELECT FROM d.customers WHERE id = 7 FOR UPDATE"); err != nil {
		t.Fatal(err)
	}
	var images, after []RowImage
	var calls []string
	record := inOrder(t, &images, true)
	res, err := Repair(ctx, pgtest.Conn(t, u), pgtest.Conn(t, u), repairSpec(), setOf(r), RepairOptions{
		DeleteExtra: true, BatchSize: 4, SecondSink: pgtest.Conn(t, u),
		Images: func(ctx context.Context, b int, im []RowImage) error {
			var keys []string
			for _, i := range im {
				keys = append(keys, i.Key[0])
			}
			calls = append(calls, fmt.Sprintf("%d: %s", b, strings.Join(keys, " ")))
			return record(ctx, b, im)
		},
		After: inOrder(t, &after, false),
		prepared: func(b int) {
			if b == 3 {
				_ = tx.Rollback(ctx)
			}
		},
	})
	if err != nil {
		t.Fatalf("Repair: %v", err)
	}
	if res.Inserted != 5 || res.Updated != 4 || res.Deleted != 3 || res.Batches != 5 {
		t.Fatalf("repair = %+v; want 5 inserted, 4 updated, 3 deleted in 5 batches", res)
	}
	// Batch 5 may be ready when batch 4 commits, or not.
	got := strings.Join(calls, "; ")
	if want := "1: 3; 2: 7 8 50 51 52 100; 4: 150 199 1001"; got != want+"; 5: 1002 1003" && got != want+" 1002 1003" {
		t.Errorf("before-images recorded as\n%s\nwant batches 2 and 3 together:\n%s", strings.Join(calls, "\n"), strings.ReplaceAll(want, "; ", "\n"))
	}
	if len(after) != 12 {
		t.Errorf("%d after-images, want 12", len(after))
	}
	v, err := Verify(ctx, pgtest.Conn(t, u), pgtest.Conn(t, u), repairSpec(), res.Repaired)
	if err != nil || !v.Converged() || !v.TableEqual() {
		t.Fatalf("verify: %+v %v", v, err)
	}
}

func TestRepairRefusals(t *testing.T) {
	ctx := context.Background()
	u, r := setupRepair(t)
	before := dump(t, u, "d.customers")

	t.Run("no update privilege", func(t *testing.T) {
		role := "repair_ro_" + strings.ReplaceAll(strings.TrimPrefix(t.Name(), "TestRepairRefusals/"), " ", "_")
		pgtest.Exec(t, u, fmt.Sprintf(`CREATE ROLE %[1]s LOGIN PASSWORD 'pw';
GRANT USAGE ON SCHEMA s, d TO %[1]s; GRANT SELECT ON s.customers TO %[1]s; GRANT SELECT, INSERT, DELETE ON d.customers TO %[1]s;`, role))
		t.Cleanup(func() { pgtest.Exec(t, u, fmt.Sprintf("DROP OWNED BY %[1]s; DROP ROLE %[1]s", role)) })
		pu, _ := url.Parse(u)
		pu.User = url.UserPassword(role, "pw")
		_, err := Repair(ctx, pgtest.Conn(t, u), pgtest.Conn(t, pu.String()), repairSpec(), setOf(r), RepairOptions{DeleteExtra: true})
		if err == nil || !strings.Contains(err.Error(), "lacks UPDATE") || !strings.Contains(err.Error(), "nothing was written") {
			t.Fatalf("Repair = %v, want a missing UPDATE privilege", err)
		}
	})
	t.Run("no key", func(t *testing.T) {
		pgtest.Exec(t, u, "CREATE TABLE s.nokey (a int, b text); CREATE TABLE d.nokey (a int, b text)")
		_, err := Repair(ctx, pgtest.Conn(t, u), pgtest.Conn(t, u), Spec{Table: "s.nokey", SinkTable: "d.nokey"}, RepairSet{}, RepairOptions{})
		if !errors.Is(err, ErrNotComparable) || !strings.Contains(err.Error(), "no primary key") {
			t.Fatalf("Repair = %v, want no key", err)
		}
	})
	t.Run("key of the wrong arity", func(t *testing.T) {
		_, err := Repair(ctx, pgtest.Conn(t, u), pgtest.Conn(t, u), repairSpec(), RepairSet{Missing: []Diff{{Key: Key{"1", "2"}, SourceHash: "00"}}}, RepairOptions{})
		if err == nil || !strings.Contains(err.Error(), "plan again") {
			t.Fatalf("Repair = %v", err)
		}
	})
	t.Run("images not saved", func(t *testing.T) {
		_, err := Repair(ctx, pgtest.Conn(t, u), pgtest.Conn(t, u), repairSpec(), setOf(r), RepairOptions{DeleteExtra: true,
			Images: func(context.Context, int, []RowImage) error { return errors.New("disk full") }})
		if err == nil || !strings.Contains(err.Error(), "disk full") {
			t.Fatalf("Repair = %v", err)
		}
	})
	if got := dump(t, u, "d.customers"); got != before {
		t.Errorf("a refused repair changed the sink")
	}
}

// TestRepairOddValues: values that text formats escape (tabs, newlines,
// backslashes, quotes, a literal \N), empty strings beside NULLs, arrays and
// bytea reach the sink exactly as the source has them.
func TestRepairOddValues(t *testing.T) {
	ctx := context.Background()
	u := pgtest.NewDB(t)
	// Rows 1, 3 and 4 missing, 2 and 5 different, 6 equal.
	const drift = `INSERT INTO d.t SELECT * FROM s.t WHERE id IN (2, 6);
INSERT INTO d.t VALUES (5, 'other', '{b}', 'y', '1');
UPDATE d.t SET s = 'changed' WHERE id = 2;`
	pgtest.Exec(t, u, `CREATE SCHEMA s; CREATE SCHEMA d;
CREATE TABLE s.t (id int PRIMARY KEY, s text, a text[], b bytea, j jsonb);
INSERT INTO s.t VALUES (1, '', '{}', '', '""'), (2, NULL, NULL, NULL, NULL), (3, E'tab\there\nnew line\r', '{"x,y","{}",NULL}', '\x00ff0a09', '{"k": "v\\n"}'),
  (4, E'back\\slash and \\N', ARRAY[E'\\N', ''], '\\N', '[1, "\\u0000x"]'), (5, 'quote" ''single'' ünïcødé  ', '{a}', 'x', 'null'), (6, 'same', '{}', '', '{}');
CREATE TABLE d.t (LIKE s.t INCLUDING ALL);`+drift)
	spec := Spec{Table: "s.t", SinkTable: "d.t"}
	r, err := Compare(ctx, pgtest.Conn(t, u), pgtest.Conn(t, u), spec)
	if err != nil {
		t.Fatal(err)
	}
	if r.MissingCount != 3 || r.MismatchedCount != 2 {
		t.Fatalf("drift %d missing, %d mismatched; want 3 and 2", r.MissingCount, r.MismatchedCount)
	}
	sinkSessions(t, func(t *testing.T, second func(string) *pgx.Conn) {
		res, err := Repair(ctx, pgtest.Conn(t, u), pgtest.Conn(t, u), spec, setOf(r), RepairOptions{BatchSize: 2, SecondSink: second(u)})
		if err != nil {
			t.Fatal(err)
		}
		if res.Inserted != 3 || res.Updated != 2 || len(res.Stale) != 0 {
			t.Fatalf("repair = %+v; want 3 inserted, 2 updated", res)
		}
		if got, want := dump(t, u, "d.t"), dump(t, u, "s.t"); got != want {
			t.Fatalf("sink after the repair:\n%s\nsource:\n%s", got, want)
		}
		pgtest.Exec(t, u, "TRUNCATE d.t; "+drift) // as it was, for the next run
	})
}

func TestRepairCompositeTextKey(t *testing.T) {
	ctx := context.Background()
	u := pgtest.NewDB(t)
	pgtest.Exec(t, u, `CREATE SCHEMA s; CREATE SCHEMA d;
CREATE TABLE s.t (region text, code text, n numeric(10,2), doc jsonb, PRIMARY KEY (region, code));
CREATE TABLE d."T x" (region text, code text, n numeric(10,2), doc json, PRIMARY KEY (region, code));
INSERT INTO s.t VALUES ('eu', 'a', 1.5, '{"a":1,"b":2}'), ('eu', 'b''q', 2, NULL), ('us', 'a', 3, '[]');
INSERT INTO d."T x" VALUES ('eu', 'a', 1.5, '{"b":2,"a":1}'), ('eu', 'b''q', 9, NULL), ('zz', 'z', 0, NULL);`)
	spec := Spec{Table: "s.t", SinkTable: `d."T x"`}
	r, err := Compare(ctx, pgtest.Conn(t, u), pgtest.Conn(t, u), spec)
	if err != nil {
		t.Fatal(err)
	}
	if r.MissingCount != 1 || r.ExtraCount != 1 || r.MismatchedCount != 1 {
		t.Fatalf("drift %d/%d/%d", r.MissingCount, r.ExtraCount, r.MismatchedCount)
	}
	var images, after []RowImage
	res, err := Repair(ctx, pgtest.Conn(t, u), pgtest.Conn(t, u), spec, setOf(r), RepairOptions{DeleteExtra: true,
		Images: func(_ context.Context, _ int, im []RowImage) error { images = append(images, im...); return nil },
		After:  func(_ context.Context, _ int, im []RowImage) error { after = append(after, im...); return nil }})
	if err != nil {
		t.Fatal(err)
	}
	if res.Changed() != 3 {
		t.Fatalf("changed %d", res.Changed())
	}
	v, err := Verify(ctx, pgtest.Conn(t, u), pgtest.Conn(t, u), spec, res.Repaired)
	if err != nil || !v.Converged() || !v.TableEqual() {
		t.Fatalf("verify: %+v %v", v, err)
	}
	var keyObj map[string]string
	if err := json.Unmarshal(images[0].KeyJSON, &keyObj); err != nil || keyObj["region"] == "" {
		t.Fatalf("key image %s: %v", images[0].KeyJSON, err)
	}
	for _, a := range after {
		if (a.Xmin == "") != (a.Key[0] == "zz") {
			t.Errorf("after-image of %s: xmin %q", a.Key, a.Xmin)
		}
	}
	if _, err := RestoreRows(ctx, pgtest.Conn(t, u), `d."T x"`, images, RepairOptions{Expect: after}); err != nil {
		t.Fatal(err)
	}
	r2, err := Compare(ctx, pgtest.Conn(t, u), pgtest.Conn(t, u), spec)
	if err != nil || r2.MissingCount != 1 || r2.ExtraCount != 1 || r2.MismatchedCount != 1 {
		t.Fatalf("after restore: %v %v", r2, err)
	}
}

func TestSnapshotSignals(t *testing.T) {
	sigs, err := SnapshotSignals("public.customers", []string{"id"}, []Key{{"1"}, {"2"}, {"3"}}, 2, "offsetctl-x")
	if err != nil {
		t.Fatal(err)
	}
	if len(sigs) != 2 || sigs[0].ID != "offsetctl-x-1" || sigs[0].Type != "execute-snapshot" {
		t.Fatalf("signals %+v", sigs)
	}
	want := `{"additional-conditions":[{"data-collection":"public\\.customers","filter":"\"id\" IN ('1', '2')"}],"data-collections":["public\\.customers"],"type":"incremental"}`
	if sigs[0].Data != want {
		t.Errorf("data\n%s\nwant\n%s", sigs[0].Data, want)
	}
	sigs, err = SnapshotSignals("orders", []string{"region", "Code"}, []Key{{"eu", "it's"}}, 0, "p")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(sigs[0].Data, `(\"region\", \"Code\") IN (('eu', 'it''s'))`) {
		t.Errorf("composite filter: %s", sigs[0].Data)
	}
	if _, err := SnapshotSignals("t", nil, nil, 0, "p"); err == nil {
		t.Error("no key columns accepted")
	}

	ctx := context.Background()
	u := pgtest.NewDB(t)
	conn := pgtest.Conn(t, u)
	if _, err := SendSignals(ctx, conn, "public.debezium_signal", sigs); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("SendSignals to a missing table = %v", err)
	}
	pgtest.Exec(t, u, "CREATE TABLE public.debezium_signal (id varchar(64) PRIMARY KEY, type varchar(32) NOT NULL, data varchar(8192))")
	for i, want := range []int{1, 0} {
		n, err := SendSignals(ctx, conn, "public.debezium_signal", sigs)
		if err != nil || n != want {
			t.Fatalf("run %d: SendSignals = %d, %v; want %d", i, n, err, want)
		}
	}
	var data string
	if err := conn.QueryRow(ctx, "SELECT data FROM public.debezium_signal WHERE id = 'p-1' AND type = 'execute-snapshot'").Scan(&data); err != nil || data != sigs[0].Data {
		t.Fatalf("stored signal %q, %v", data, err)
	}
}

// keyJSON writes what encoding/json writes, on its fast path and off it.
func TestKeyJSONMatchesEncodingJSON(t *testing.T) {
	w := &repairWriter{dstKeys: []string{"id", `we"ird <col>`}}
	for _, n := range w.dstKeys {
		b, _ := json.Marshal(n)
		w.keyNames = append(w.keyNames, string(b))
	}
	for _, v := range []string{"", "42", "plain text", `quote"`, `back\slash`, "<b>&amp;</b>", "tab\tnew\nline", "ünïcødé", "\x7f", "\u2028"} {
		k := Key{v, "x" + v}
		var want strings.Builder
		want.WriteByte('{')
		for i, n := range w.dstKeys {
			if i > 0 {
				want.WriteByte(',')
			}
			nb, _ := json.Marshal(n)
			vb, _ := json.Marshal(k[i])
			want.Write(nb)
			want.WriteByte(':')
			want.Write(vb)
		}
		want.WriteByte('}')
		if got := string(w.keyJSON(k)); got != want.String() {
			t.Errorf("keyJSON(%q) = %s, want %s", v, got, want.String())
		}
	}
}

// TestSortItems: the work list comes out in key order whatever its shape:
// a plan's few sorted runs (merged) or any order (sorted).
func TestSortItems(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		name  string
		kinds []kind
		runs  int
	}{
		{"one run", []kind{kindInt}, 1},
		{"three runs, as a plan lists them", []kind{kindInt}, 3},
		{"eight runs", []kind{kindInt}, 8},
		{"nine runs: sorted", []kind{kindInt}, 9},
		{"shuffled", []kind{kindInt}, 0},
		{"integer and text key, three runs", []kind{kindInt, kindText}, 3},
		{"text key, shuffled", []kind{kindText}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, n := range []int{0, 1, 2, 17, 500} {
				// n distinct keys, cut into runs each sorted, or shuffled.
				var keys []Key
				for _, i := range rng.Perm(n) {
					k := Key{strconv.Itoa(i - n/2)}
					switch {
					case len(tc.kinds) == 2:
						k = Key{strconv.Itoa(i/3 - n/6), fmt.Sprintf("k%d", i%3)}
					case tc.kinds[0] == kindText:
						k = Key{fmt.Sprintf("k%d", i)}
					}
					keys = append(keys, k)
				}
				less := func(a, b Key) int { return compareKeys(a, b, tc.kinds) }
				if tc.runs > 0 {
					for r := range tc.runs {
						slices.SortFunc(keys[r*n/tc.runs:(r+1)*n/tc.runs], less)
					}
				}
				items := make([]repairItem, len(keys))
				for i, k := range keys {
					items[i] = repairItem{df: &Diff{Key: k}}
				}
				items = sortItems(items, tc.kinds)
				want := slices.Clone(keys)
				slices.SortFunc(want, less)
				for i := range items {
					if keyString(items[i].df.Key) != keyString(want[i]) {
						t.Fatalf("n=%d: item %d is %s, want %s", n, i, items[i].df.Key, want[i])
					}
				}
			}
		})
	}
}

func TestBatchSizes(t *testing.T) {
	for _, tc := range []struct {
		total, size int
		want        string
	}{
		{0, 5000, ""},
		{1, 5000, "1"},
		{1250, 5000, "1250"},
		{1251, 5000, "626 625"},
		{3750, 5000, "1250 2500"},
		{10000, 5000, "1250 2500 3125 3125"},
		{20000, 5000, "1250 2500 5000 5000 3125 3125"},
		{12, 4, "1 2 4 3 2"},
		{12, 5, "2 4 3 3"},
		{7, 1, "1 1 1 1 1 1 1"},
		{3, 2, "1 2"},
	} {
		var got []string
		next := 0
		for start, n := range batchSizes(tc.total, tc.size) {
			if start != next || n < 1 || n > tc.size {
				t.Errorf("batchSizes(%d, %d): batch at %d of %d rows after %d rows", tc.total, tc.size, start, n, next)
			}
			next = start + n
			got = append(got, strconv.Itoa(n))
		}
		if g := strings.Join(got, " "); g != tc.want || next != tc.total {
			t.Errorf("batchSizes(%d, %d) = %q covering %d rows, want %q", tc.total, tc.size, g, next, tc.want)
		}
	}
}
