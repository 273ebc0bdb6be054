package reconcile

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/offsetctl/offsetctl/internal/mariadbtest"
	"github.com/offsetctl/offsetctl/internal/pgtest"
)

// Drift injected in the sink of a MariaDB source is found key by key,
// repaired in batches with before-images, verified by the cross-engine
// checksum, and rolled back exactly.
func TestRepairMySQLVerifyRestore(t *testing.T) { testRepairVerifyRestore(t, onMariaDB) }

// TestRepairMySQLVerifyRestoreOnMySQL is the same with a MySQL source.
func TestRepairMySQLVerifyRestoreOnMySQL(t *testing.T) { testRepairVerifyRestore(t, onMySQL) }

func testRepairVerifyRestore(t *testing.T, src xsource) {
	ctx := context.Background()
	my, pg := xtables(t, src, 300)
	pgtest.Exec(t, pg, `DELETE FROM customers WHERE id IN (10, 250);
		INSERT INTO customers (id, name) VALUES (6001, 'extra'), (6002, 'extra 2');
		UPDATE customers SET balance = balance + 0.01, score = score * 2 WHERE id = 77;
		UPDATE customers SET name = 'Name 300 ' WHERE id = 300;
		UPDATE customers SET seen = seen + interval '1 millisecond', born = born + 1 WHERE id = 101;
		UPDATE customers SET avatar = '\x00ff'::bytea, created = created + interval '1 microsecond' WHERE id = 102;
		UPDATE customers SET tier = 'Gold', active = 7 WHERE id = 3`)
	if src.mysql {
		pgtest.Exec(t, pg, `UPDATE customers SET doc = doc || '{"ok": null}' WHERE id = 77`)
	}
	before := dump(t, pg, "public.customers")
	spec := Spec{Table: "customers"}
	r := xcompare(t, my, pg, spec)
	want := [3][]string{keys(r.Missing), keys(r.Extra), keys(r.Mismatched)}
	if !slices.Equal(want[0], []string{"10", "250"}) || !slices.Equal(want[1], []string{"6001", "6002"}) || len(want[2]) != 5 {
		t.Fatalf("drift found: missing %v extra %v mismatched %v", want[0], want[1], want[2])
	}
	if src.mysql {
		for _, d := range r.Mismatched {
			if d.Key.String() == "77" && !slices.Equal(d.Columns, []string{"balance", "score", "doc"}) {
				t.Errorf("row 77 differs in %v, want balance, score and doc (MySQL's JSON)", d.Columns)
			}
		}
	}
	var images, after []RowImage
	sink, sink2 := pgtest.Conn(t, pg), pgtest.Conn(t, pg)
	res, err := RepairMySQL(ctx, openMySQL(t, my), sink, spec, setOf(r), RepairOptions{
		DeleteExtra: true, BatchSize: 4, SecondSink: sink2,
		Images: inOrder(t, &images, true), After: inOrder(t, &after, false),
	})
	if err != nil {
		t.Fatalf("RepairMySQL: %v", err)
	}
	if res.Inserted != 2 || res.Updated != 5 || res.Deleted != 2 || len(res.Stale) != 0 {
		t.Fatalf("repair = %+v; want 2 inserted, 5 updated, 2 deleted, none stale", res)
	}
	if len(images) != 9 || len(after) != 9 {
		t.Fatalf("%d before-images and %d after-images, want 9 each", len(images), len(after))
	}
	if r2 := xcompare(t, my, pg, spec); r2.Drift() {
		t.Fatalf("after the repair: missing %v extra %v mismatched %v", keys(r2.Missing), keys(r2.Extra), keys(r2.Mismatched))
	}
	v, err := VerifyMySQL(ctx, openMySQL(t, my), pgtest.Conn(t, pg), spec, res.Repaired)
	if err != nil {
		t.Fatalf("VerifyMySQL: %v", err)
	}
	if !v.Converged() || !v.TableEqual() || v.Keys != 9 {
		t.Fatalf("verification = %+v; want 9 keys converged and equal checksums", v)
	}
	// Planned rows that moved since the plan are left alone.
	pgtest.Exec(t, pg, "UPDATE customers SET name = 'moved' WHERE id = 5")
	stale := Diff{Key: Key{"5"}, SourceHash: "0000000000000001", SinkHash: "0000000000000002"}
	res2, err := RepairMySQL(ctx, openMySQL(t, my), pgtest.Conn(t, pg), spec, RepairSet{Mismatched: []Diff{stale}}, RepairOptions{})
	if err != nil || len(res2.Stale) != 1 || res2.Updated != 0 {
		t.Fatalf("a stale planned row: %+v, %v; want it reported stale and left alone", res2, err)
	}
	pgtest.Exec(t, pg, "UPDATE customers SET name = 'Name 5' WHERE id = 5")

	n, err := RestoreRows(ctx, pgtest.Conn(t, pg), "public.customers", images, RepairOptions{Expect: after})
	if err != nil || n != 9 {
		t.Fatalf("RestoreRows: %d, %v; want 9 rows", n, err)
	}
	if got := dump(t, pg, "public.customers"); got != before {
		t.Errorf("after the rollback the sink differs from before the repair:\n--- before\n%s\n--- after\n%s", before, got)
	}
	r3 := xcompare(t, my, pg, spec)
	if got := [3][]string{keys(r3.Missing), keys(r3.Extra), keys(r3.Mismatched)}; !slices.Equal(got[0], want[0]) || !slices.Equal(got[1], want[1]) || !slices.Equal(got[2], want[2]) {
		t.Errorf("after the rollback the drift is %v, want %v", got, want)
	}
}

// Execute-snapshot signals for a MariaDB source go into the signalling
// table there, once; their filters select exactly the keys on MariaDB.
func TestSnapshotSignalsMySQL(t *testing.T) { testSnapshotSignals(t, onMariaDB) }

// TestSnapshotSignalsMySQLOnMySQL is the same on MySQL.
func TestSnapshotSignalsMySQLOnMySQL(t *testing.T) { testSnapshotSignals(t, onMySQL) }

func testSnapshotSignals(t *testing.T, src xsource) {
	ctx := context.Background()
	my := src.newDB(t)
	mariadbtest.Exec(t, my, `CREATE TABLE debezium_signal (id varchar(42) primary key, type varchar(32) not null, data varchar(2048));
		CREATE TABLE t (k varchar(20) primary key, v int);
		INSERT INTO t VALUES ('a', 1), ('it''s', 2), ('back\\slash', 3), ('é', 4), ('other', 5)`)
	db := openMySQL(t, my)
	var dbName string
	if err := db.QueryRowContext(ctx, "SELECT DATABASE()").Scan(&dbName); err != nil {
		t.Fatal(err)
	}
	keys := []Key{{"a"}, {"it's"}, {`back\slash`}, {"é"}}
	sigs, err := SnapshotSignalsMySQL(dbName+".t", []string{"k"}, keys, 3, "offsetctl-test")
	if err != nil || len(sigs) != 2 {
		t.Fatalf("signals %v, %v; want 2", sigs, err)
	}
	if _, err := SnapshotSignalsMySQL("t", []string{"k"}, keys, 0, "x"); err == nil {
		t.Error("a table without its database: no error")
	}
	for range 2 {
		n, err := SendSignalsMySQL(ctx, db, "debezium_signal", sigs)
		if err != nil {
			t.Fatal(err)
		}
		var rows int
		if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM debezium_signal").Scan(&rows); err != nil || rows != 2 {
			t.Fatalf("%d signal rows (%v), want 2 (sent %d)", rows, err, n)
		}
	}
	// Each filter, run on MariaDB as Debezium runs it, selects its keys.
	var got int
	for _, s := range sigs {
		var data struct {
			Conditions []struct {
				Collection string `json:"data-collection"`
				Filter     string `json:"filter"`
			} `json:"additional-conditions"`
		}
		if err := json.Unmarshal([]byte(s.Data), &data); err != nil || len(data.Conditions) != 1 {
			t.Fatalf("signal data %s: %v", s.Data, err)
		}
		var n int
		if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM t WHERE "+data.Conditions[0].Filter).Scan(&n); err != nil {
			t.Fatalf("filter %s: %v", data.Conditions[0].Filter, err)
		}
		got += n
	}
	if got != 4 {
		t.Errorf("the filters select %d rows, want the 4 keys", got)
	}
	if _, err := SendSignalsMySQL(ctx, db, "nope", sigs); err == nil || !strings.Contains(err.Error(), "nothing was sent") {
		t.Errorf("a missing signal table: %v", err)
	}
}
