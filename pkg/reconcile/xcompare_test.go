package reconcile

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/offsetctl/offsetctl/internal/mariadbtest"
	"github.com/offsetctl/offsetctl/internal/pgtest"
)

// xtables creates a MariaDB/MySQL source table of n rows with a column of
// most classes and its PostgreSQL sink as the JDBC sink would write it,
// equal. The name and the enum tier have different collations (the
// database's: utf8mb4_unicode_ci on MariaDB, utf8mb4_0900_ai_ci on MySQL).
func xtables(t *testing.T, src xsource, n int) (my, pg string) {
	t.Helper()
	my, pg = src.newDB(t), pgtest.NewDB(t)
	mariadbtest.Exec(t, my, `SET time_zone = '+00:00';
		CREATE TABLE customers (id bigint primary key, name varchar(100) character set utf8mb4 collate utf8mb4_unicode_ci, code char(4) collate utf8mb4_bin,
			balance decimal(12,2), score double, active tinyint(1), created datetime(6), seen timestamp(3) NULL, born date, tier enum('gold','silver'), avatar blob);
		INSERT INTO customers
		SELECT seq, CONCAT('Name ', seq, IF(seq % 7 = 0, ' é', '')), LPAD(seq % 1000, 4, '0'), seq * 1.25, seq / 3e0, seq % 2,
			TIMESTAMP '2026-01-01 00:00:00' + INTERVAL seq SECOND + INTERVAL (seq % 1000) MICROSECOND,
			IF(seq % 5 = 0, NULL, TIMESTAMP '2026-06-01 00:00:00' + INTERVAL seq MINUTE), DATE '2000-01-01' + INTERVAL (seq % 9000) DAY,
			IF(seq % 3 = 0, 'gold', 'silver'), IF(seq % 11 = 0, NULL, UNHEX(LEFT(SHA2(seq, 256), 32)))
		FROM `+src.seq(n))
	pgtest.Exec(t, pg, `CREATE TABLE customers (id bigint primary key, name text, code text, balance numeric(12,2), score double precision,
			active smallint, created timestamp(6), seen timestamptz(3), born date, tier text, avatar bytea);
		INSERT INTO customers
		SELECT s, 'Name ' || s || CASE WHEN s % 7 = 0 THEN ' é' ELSE '' END, lpad((s % 1000)::text, 4, '0'), s * 1.25, s / 3.0::float8, s % 2,
			timestamp '2026-01-01 00:00:00' + s * interval '1 second' + (s % 1000) * interval '1 microsecond',
			CASE WHEN s % 5 = 0 THEN NULL ELSE timestamptz '2026-06-01 00:00:00+00' + s * interval '1 minute' END, date '2000-01-01' + (s % 9000),
			CASE WHEN s % 3 = 0 THEN 'gold' ELSE 'silver' END, CASE WHEN s % 11 = 0 THEN NULL ELSE decode(left(encode(sha256(s::text::bytea), 'hex'), 32), 'hex') END
		FROM generate_series(1, `+fmt.Sprint(n)+`) s`)
	if src.mysql {
		// MySQL's JSON type, written by Debezium into jsonb.
		mariadbtest.Exec(t, my, `ALTER TABLE customers ADD COLUMN doc json;
			UPDATE customers SET doc = JSON_OBJECT('id', id, 'tags', JSON_ARRAY('a', id % 3), 'name', CONCAT('n', id), 'ok', id % 2 = 0)`)
		pgtest.Exec(t, pg, `ALTER TABLE customers ADD COLUMN doc jsonb;
			UPDATE customers SET doc = jsonb_build_object('name', 'n' || id, 'tags', jsonb_build_array('a', id % 3), 'id', id, 'ok', id % 2 = 0)`)
	}
	return my, pg
}

func xcompare(t *testing.T, my, pg string, spec Spec) *Result {
	t.Helper()
	r, err := CompareMySQL(context.Background(), openMySQL(t, my), pgtest.Conn(t, pg), spec)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func keys(ds []Diff) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.Key.String())
	}
	return out
}

// Equal tables compare equal in every mode; drift injected in the sink is
// found key by key, with the differing columns named.
func TestCompareMySQLFindsDriftKeyByKey(t *testing.T) { testFindsDriftKeyByKey(t, onMariaDB) }

// TestCompareMySQLFindsDriftKeyByKeyOnMySQL is the same on MySQL.
func TestCompareMySQLFindsDriftKeyByKeyOnMySQL(t *testing.T) { testFindsDriftKeyByKey(t, onMySQL) }

func testFindsDriftKeyByKey(t *testing.T, src xsource) {
	my, pg := xtables(t, src, 5000)
	for _, mode := range []Mode{ModeCounts, ModeChecksum, ModeRows} {
		r := xcompare(t, my, pg, Spec{Table: "customers", Mode: mode})
		if r.Drift() || r.SourceRows != 5000 || r.SinkRows != 5000 {
			t.Fatalf("%s: equal tables: drift %v, rows %d/%d; %+v", mode, r.Drift(), r.SourceRows, r.SinkRows, r)
		}
		if mode != ModeCounts && *r.SourceChecksum != *r.SinkChecksum {
			t.Fatalf("%s: equal tables, checksums %s and %s", mode, r.SourceChecksum, r.SinkChecksum)
		}
	}
	pgtest.Exec(t, pg, `DELETE FROM customers WHERE id IN (10, 2500);
		INSERT INTO customers (id, name) VALUES (6001, 'extra');
		UPDATE customers SET balance = balance + 0.01 WHERE id = 77;
		UPDATE customers SET name = 'Name 300 ' WHERE id = 300;           -- a trailing space
		UPDATE customers SET seen = seen + interval '1 millisecond' WHERE id = 401;
		UPDATE customers SET avatar = NULL WHERE id = 402;
		UPDATE customers SET tier = 'Gold' WHERE id = 3;                   -- case: the source collation would call it equal`)
	for _, tc := range []struct {
		name string
		spec Spec
	}{
		{"cells", Spec{Table: "customers"}},
		{"stream", Spec{Table: "customers", tune: &tuning{firstBits: 2}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := xcompare(t, my, pg, tc.spec)
			if got, want := keys(r.Missing), []string{"10", "2500"}; !slices.Equal(got, want) {
				t.Errorf("missing %v, want %v", got, want)
			}
			if got, want := keys(r.Extra), []string{"6001"}; !slices.Equal(got, want) {
				t.Errorf("extra %v, want %v", got, want)
			}
			var mm []string
			for _, d := range r.Mismatched {
				mm = append(mm, d.Key.String()+":"+strings.Join(d.Columns, ","))
			}
			if want := []string{"3:tier", "77:balance", "300:name", "401:seen", "402:avatar"}; !slices.Equal(mm, want) {
				t.Errorf("mismatched %v, want %v", mm, want)
			}
			if r.Stats.Strategy != tc.name {
				t.Errorf("strategy %s, want %s", r.Stats.Strategy, tc.name)
			}
		})
	}
	t.Run("where, columns, ignore", func(t *testing.T) {
		r := xcompare(t, my, pg, Spec{Table: "customers", Where: "id < 100", Ignore: []string{"balance", "tier"}})
		if got := keys(r.Missing); !slices.Equal(got, []string{"10"}) || len(r.Extra) != 0 || len(r.Mismatched) != 0 {
			t.Errorf("missing %v extra %v mismatched %v; want only 10 missing", got, keys(r.Extra), keys(r.Mismatched))
		}
		r = xcompare(t, my, pg, Spec{Table: "customers", Columns: []string{"seen"}})
		if got := keys(r.Mismatched); !slices.Equal(got, []string{"401"}) {
			t.Errorf("columns seen: mismatched %v, want [401]", got)
		}
		r = xcompare(t, my, pg, Spec{Table: "customers", Columns: []string{"seen"}, TimestampPrecision: PrecisionSecond})
		if got := keys(r.Mismatched); len(got) != 0 {
			t.Errorf("seen at second precision: mismatched %v, want none", got)
		}
	})
	t.Run("partitions", func(t *testing.T) {
		r := xcompare(t, my, pg, Spec{Table: "customers", Mode: ModeChecksum, Partition: &Partition{By: "day", Column: "created"}})
		// The extra sink row has no created: its partition is NULL.
		if len(r.Partitions) != 2 || r.Partitions[0].Partition != "2026-01-01" || r.Partitions[0].Equal() || r.Partitions[1].Partition != "NULL" || r.Partitions[1].Sink.Rows != 1 {
			t.Errorf("partitions %+v; want 2026-01-01 (different) and NULL (one sink row)", r.Partitions)
		}
		r = xcompare(t, my, pg, Spec{Table: "customers", Mode: ModeChecksum, Where: "id < 3", Partition: &Partition{By: "month", Column: "born"}})
		if len(r.Partitions) != 1 || r.Partitions[0].Partition != "2000-01" || !r.Partitions[0].Equal() {
			t.Errorf("partitions %+v; want 2000-01, equal", r.Partitions)
		}
	})
}

// Text keys are ordered by their UTF-8 bytes on both sides, whatever the
// source's collation: keys that a case- and accent-insensitive collation
// would order differently (or call equal) merge exactly.
func TestCompareMySQLTextKeysInByteOrder(t *testing.T) { testTextKeysInByteOrder(t, onMariaDB) }

// TestCompareMySQLTextKeysInByteOrderOnMySQL is the same on MySQL, with its
// default collation utf8mb4_0900_ai_ci too.
func TestCompareMySQLTextKeysInByteOrderOnMySQL(t *testing.T) { testTextKeysInByteOrder(t, onMySQL) }

func testTextKeysInByteOrder(t *testing.T, src xsource) {
	my, pg := src.newDB(t), pgtest.NewDB(t)
	// Under utf8mb4_unicode_ci these sort 10, 9, _x, a, B, c, é, ñ, Z, 😀;
	// as bytes 10, 9, B, Z, _x, a, c, é, ñ, 😀.
	ks := []string{"a", "B", "c", "é", "Z", "ñ", "😀", "_x", "10", "9"}
	var myv, pgv []string
	for i, k := range ks {
		myv = append(myv, fmt.Sprintf("('%s', %d)", k, i))
		if k != "c" { // missing in the sink
			v := i
			if k == "ñ" {
				v = 100 // mismatched
			}
			pgv = append(pgv, fmt.Sprintf("('%s', %d)", k, v))
		}
	}
	pgv = append(pgv, "('C', 1)") // extra
	mariadbtest.Exec(t, my, "CREATE TABLE t (k varchar(10) COLLATE utf8mb4_unicode_ci primary key, v int); INSERT INTO t VALUES "+strings.Join(myv, ", "))
	if src.mysql {
		mariadbtest.Exec(t, my, "CREATE TABLE t2 (k varchar(10) COLLATE utf8mb4_0900_ai_ci primary key, v int); INSERT INTO t2 SELECT * FROM t")
		pgtest.Exec(t, pg, `CREATE TABLE t2 (k text COLLATE "und-x-icu" primary key, v int); INSERT INTO t2 VALUES `+strings.Join(pgv, ", "))
	}
	pgtest.Exec(t, pg, `CREATE TABLE t (k text COLLATE "und-x-icu" primary key, v int); INSERT INTO t VALUES `+strings.Join(pgv, ", "))
	tables := []string{"t"}
	if src.mysql {
		tables = append(tables, "t2")
	}
	for _, tbl := range tables {
		for _, bits := range []int{1, 4} {
			r := xcompare(t, my, pg, Spec{Table: tbl, tune: &tuning{firstBits: bits}})
			if got := keys(r.Missing); !slices.Equal(got, []string{"c"}) {
				t.Errorf("missing %v, want [c]", got)
			}
			if got := keys(r.Extra); !slices.Equal(got, []string{"C"}) {
				t.Errorf("extra %v, want [C]", got)
			}
			if got := keys(r.Mismatched); !slices.Equal(got, []string{`"ñ"`}) {
				t.Errorf("mismatched %v, want [ñ]", got)
			} else if !slices.Equal(r.Mismatched[0].Columns, []string{"v"}) {
				// The differing columns, looked up by the text of the key.
				t.Errorf("mismatched columns %v, want [v]", r.Mismatched[0].Columns)
			}
		}
	}
}

// Many differing cells, but not most: the MariaDB side reads them by cell
// id within the span of their key ranges, the PostgreSQL side by key range.
func TestCompareMySQLManyDifferingCells(t *testing.T) {
	my, pg := xtables(t, onMariaDB, 5000)
	pgtest.Exec(t, pg, "UPDATE customers SET balance = balance + 1 WHERE id % 50 = 7")
	r := xcompare(t, my, pg, Spec{Table: "customers", tune: &tuning{firstBits: 10}})
	if r.MismatchedCount != 100 || r.MissingCount != 0 || r.ExtraCount != 0 || r.Stats.Strategy != "cells" || r.Stats.DiffCells != 100 {
		t.Fatalf("mismatched %d, missing %d, extra %d, strategy %s, %d differing cells; want 100 mismatched in 100 cells",
			r.MismatchedCount, r.MissingCount, r.ExtraCount, r.Stats.Strategy, r.Stats.DiffCells)
	}
	for i, d := range r.Mismatched {
		if want := fmt.Sprint(7 + 50*i); d.Key[0] != want || !slices.Equal(d.Columns, []string{"balance"}) {
			t.Fatalf("mismatched[%d] = %s %v, want %s [balance]", i, d.Key, d.Columns, want)
		}
	}
}

// masterStatus is the source's current binlog position.
func masterStatus(t *testing.T, src xsource, my string) SnapshotPosition {
	t.Helper()
	p := SnapshotPosition{Binlog: true}
	p.BinlogFile, p.BinlogPos = mariadbtest.BinlogStatus(t, my, src.mysql)
	return p
}

// TestCompareMySQLSourceSnapshotFirst: a MariaDB source's snapshot
// position is the binlog position of its consistent snapshot (what SHOW
// MASTER STATUS said before it, nothing being written since), the one
// BeforeSinkSnapshot is given, with @@gtid_binlog_pos; the sink is read
// after the hook returns, the source in the snapshot taken before (a row
// the hook adds to the source is not seen, and its binlog event is past the
// position).
func TestCompareMySQLSourceSnapshotFirst(t *testing.T) { testSourceSnapshotFirst(t, onMariaDB) }

// TestCompareMySQLSourceSnapshotFirstOnMySQL: the same on MySQL (run with
// gtid_mode = ON), whose position is read just after its snapshot began
// (SHOW BINARY LOG STATUS, with the executed GTID set).
func TestCompareMySQLSourceSnapshotFirstOnMySQL(t *testing.T) { testSourceSnapshotFirst(t, onMySQL) }

func testSourceSnapshotFirst(t *testing.T, src xsource) {
	ctx := context.Background()
	my, pg := src.newDB(t), pgtest.NewDB(t)
	mariadbtest.Exec(t, my, `CREATE TABLE t (id int PRIMARY KEY, v varchar(20)); INSERT INTO t SELECT seq, 'v' FROM `+src.seq(5))
	pgtest.Exec(t, pg, `CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, 'v' FROM generate_series(1, 5) g`)
	mariadbtest.Exec(t, my, `INSERT INTO t VALUES (6, 'in flight')`)
	for _, mode := range []Mode{ModeCounts, ModeChecksum, ModeRows} {
		t.Run(string(mode), func(t *testing.T) {
			pgtest.Exec(t, pg, `DELETE FROM t WHERE id >= 6`)
			mariadbtest.Exec(t, my, `DELETE FROM t WHERE id >= 7`)
			before := masterStatus(t, src, my)
			var seen, after SnapshotPosition
			spec := Spec{Table: "t", Mode: mode, BeforeSinkSnapshot: func(ctx context.Context, pos SnapshotPosition) error {
				seen = pos
				pgtest.Exec(t, pg, `INSERT INTO t VALUES (6, 'in flight')`)
				mariadbtest.Exec(t, my, `INSERT INTO t VALUES (7, 'later')`)
				after = masterStatus(t, src, my)
				return nil
			}}
			r, err := CompareMySQL(ctx, openMySQL(t, my), pgtest.Conn(t, pg), spec)
			if err != nil {
				t.Fatal(err)
			}
			if !seen.Known() || seen.GTID == "" || r.SourceSnapshot != seen || seen.BinlogFile != before.BinlogFile || seen.BinlogPos != before.BinlogPos {
				t.Errorf("snapshot position %+v, hook given %+v, binlog before the comparison %+v", r.SourceSnapshot, seen, before)
			}
			if after.BinlogFile != seen.BinlogFile || after.BinlogPos <= seen.BinlogPos {
				t.Errorf("binlog after the hook's commit %s, not past the snapshot %s", after, seen)
			}
			if r.SourceRows != 6 || r.SinkRows != 6 || r.Drift() {
				t.Errorf("source %d rows, sink %d rows, drift %v: want the source before the hook and the sink after it", r.SourceRows, r.SinkRows, r.Drift())
			}
		})
	}
	_, err := CompareMySQL(ctx, openMySQL(t, my), pgtest.Conn(t, pg), Spec{Table: "t", BeforeSinkSnapshot: func(context.Context, SnapshotPosition) error { return errors.New("stop here") }})
	if err == nil || !strings.Contains(err.Error(), "stop here") {
		t.Errorf("err = %v", err)
	}
}

// TestCompareMySQLRecheckSource: as TestCompareRecheckSource with a
// MariaDB source: rows changed on the source after the snapshot and
// already delivered are taken out (ChangedSince), the others are drift.
func TestCompareMySQLRecheckSource(t *testing.T) { testRecheckSource(t, onMariaDB) }

// TestCompareMySQLRecheckSourceOnMySQL is the same on MySQL.
func TestCompareMySQLRecheckSourceOnMySQL(t *testing.T) { testRecheckSource(t, onMySQL) }

func testRecheckSource(t *testing.T, src xsource) {
	ctx := context.Background()
	my, pg := src.newDB(t), pgtest.NewDB(t)
	mariadbtest.Exec(t, my, `CREATE TABLE t (id int PRIMARY KEY, v varchar(20)); INSERT INTO t SELECT seq, 'v' FROM `+src.seq(9))
	pgtest.Exec(t, pg, `CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, 'v' FROM generate_series(1, 9) g`)
	pgtest.Exec(t, pg, `UPDATE t SET v = 'drift' WHERE id = 4; DELETE FROM t WHERE id = 5`)
	for _, recheck := range []bool{false, true} {
		t.Run(fmt.Sprint("recheck=", recheck), func(t *testing.T) {
			mariadbtest.Exec(t, my, `UPDATE t SET v = 'v' WHERE id = 3; INSERT IGNORE INTO t VALUES (8, 'v')`)
			pgtest.Exec(t, pg, `UPDATE t SET v = 'v' WHERE id = 3; INSERT INTO t VALUES (8, 'v') ON CONFLICT DO NOTHING`)
			spec := Spec{Table: "t", Mode: ModeRows, RecheckSource: recheck, BeforeSinkSnapshot: func(context.Context, SnapshotPosition) error {
				mariadbtest.Exec(t, my, `UPDATE t SET v = 'later' WHERE id = 3; DELETE FROM t WHERE id = 8`)
				pgtest.Exec(t, pg, `UPDATE t SET v = 'later' WHERE id = 3; DELETE FROM t WHERE id = 8`)
				return nil
			}}
			r, err := CompareMySQL(ctx, openMySQL(t, my), pgtest.Conn(t, pg), spec)
			if err != nil {
				t.Fatal(err)
			}
			want := [4]int64{2, 0, 2, 0} // missing 5 and 8; mismatched 3 and 4
			if recheck {
				want = [4]int64{1, 0, 1, 2} // missing 5, mismatched 4; 3 and 8 changed since
			}
			if got := [4]int64{r.MissingCount, r.ExtraCount, r.MismatchedCount, r.ChangedSince}; got != want {
				t.Errorf("missing, extra, mismatched, changed since = %v, want %v", got, want)
			}
		})
	}
}
