package reconcile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/offsetctl/offsetctl/internal/mariadbtest"
	"github.com/offsetctl/offsetctl/internal/pgtest"
)

// TestMain gives the tests a PostgreSQL (pgtest) and, for the cross-engine
// tests, a MariaDB started on first use (mariadbtest).
func TestMain(m *testing.M) { os.Exit(pgtest.Run(func() int { return mariadbtest.Run(m.Run) })) }

// pgCase is one comparison on real PostgreSQL. Both tables live in one
// database (schemas s and d) so a brute-force FULL OUTER JOIN can give the
// expected answer; the engine still reads them over two connections.
type pgCase struct {
	name  string
	src   string // SQL creating and filling s.<table>
	dst   string // SQL creating and filling d.<sinkTable>
	table string // table name (unquoted form, used in both schemas)
	spec  Spec   // Table and SinkTable are filled in when empty
	// key is the key column list (quoted SQL) for the oracle join; same is
	// the oracle's "rows are equal" predicate over aliases a and b.
	key     []string
	keyText []string // oracle key text expressions, when not coalesce(a.k, b.k)::text
	same    string
	// want counts, checked against the oracle too.
	missing, extra, mismatched int64
	// columns, when set, are the differing columns wanted per mismatched key
	// (Key.String()).
	columns map[string][]string
}

func (c *pgCase) run(t *testing.T, url string) *Result {
	t.Helper()
	ctx := context.Background()
	schemaS := pgx.Identifier{"s_" + sanitize(c.name)}.Sanitize()
	schemaD := pgx.Identifier{"d_" + sanitize(c.name)}.Sanitize()
	setup := fmt.Sprintf("CREATE SCHEMA %s; CREATE SCHEMA %s; SET search_path = %s; %s; SET search_path = %s; %s;",
		schemaS, schemaD, schemaS, c.src, schemaD, c.dst)
	pgtest.Exec(t, url, setup)
	spec := c.spec
	tbl := pgx.Identifier{c.table}.Sanitize()
	if spec.Table == "" {
		spec.Table = schemaS + "." + tbl
	}
	if spec.SinkTable == "" {
		spec.SinkTable = schemaD + "." + tbl
	}
	src, dst := pgtest.Conn(t, url), pgtest.Conn(t, url)
	r, err := Compare(ctx, src, dst, spec)
	if err != nil {
		t.Fatalf("Compare: %v", err)
	}
	// The oracle.
	var on, keyText, aNull, bNull []string
	for _, k := range c.key {
		on = append(on, "a."+k+" = b."+k)
		keyText = append(keyText, "coalesce(a."+k+", b."+k+")::text")
	}
	if c.keyText != nil {
		keyText = c.keyText
	}
	aNull = append(aNull, "a."+c.key[0]+" IS NULL")
	bNull = append(bNull, "b."+c.key[0]+" IS NULL")
	same := c.same
	if same == "" {
		same = "ROW(a.*) IS NOT DISTINCT FROM ROW(b.*)"
	}
	q := fmt.Sprintf(`SELECT CASE WHEN %s THEN 'missing' WHEN %s THEN 'extra' ELSE 'mismatched' END, ARRAY[%s]
		FROM %s.%s a FULL OUTER JOIN %s.%s b ON %s
		WHERE %s OR %s OR NOT (%s)`,
		bNull[0], aNull[0], strings.Join(keyText, ", "),
		schemaS, tbl, schemaD, tbl, strings.Join(on, " AND "), aNull[0], bNull[0], same)
	if c.spec.SinkTable != "" || c.spec.Table != "" {
		q = "" // custom names: no oracle, counts only
	}
	want := map[DiffKind][]string{}
	if q != "" {
		rows, err := src.Query(ctx, q)
		if err != nil {
			t.Fatalf("oracle: %v\n%s", err, q)
		}
		for rows.Next() {
			var kind string
			var key []string
			if err := rows.Scan(&kind, &key); err != nil {
				t.Fatal(err)
			}
			want[DiffKind(kind)] = append(want[DiffKind(kind)], keyString(key))
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		got := map[DiffKind][]string{}
		for kind, l := range map[DiffKind][]Diff{Missing: r.Missing, Extra: r.Extra, Mismatched: r.Mismatched} {
			for _, d := range l {
				got[kind] = append(got[kind], keyString(d.Key))
			}
		}
		for _, kind := range []DiffKind{Missing, Extra, Mismatched} {
			w, g := want[kind], got[kind]
			slices.Sort(w)
			slices.Sort(g)
			if !slices.Equal(w, g) {
				t.Errorf("%s keys differ from the FULL OUTER JOIN answer:\n got  %q\n want %q", kind, g, w)
			}
		}
	}
	if r.MissingCount != c.missing || r.ExtraCount != c.extra || r.MismatchedCount != c.mismatched {
		t.Errorf("counts: got missing=%d extra=%d mismatched=%d, want %d %d %d (strategy %s)",
			r.MissingCount, r.ExtraCount, r.MismatchedCount, c.missing, c.extra, c.mismatched, r.Stats.Strategy)
	}
	for _, d := range r.Mismatched {
		if c.columns == nil {
			break
		}
		if w, ok := c.columns[d.Key.String()]; ok && !slices.Equal(w, d.Columns) {
			t.Errorf("key %s: differing columns %q, want %q", d.Key, d.Columns, w)
		}
	}
	wantDrift := c.missing+c.extra+c.mismatched > 0
	if r.Drift() != wantDrift {
		t.Errorf("Drift() = %v, want %v", r.Drift(), wantDrift)
	}
	if !wantDrift && (r.SourceChecksum == nil || r.SinkChecksum == nil || *r.SourceChecksum != *r.SinkChecksum) {
		t.Errorf("equal tables but checksums %v / %v", r.SourceChecksum, r.SinkChecksum)
	}
	return r
}

func sanitize(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteRune('_')
		}
	}
	return b.String()
}

const customers = `CREATE TABLE customers (id bigint PRIMARY KEY, name text, email text, balance numeric(12,2), updated_at timestamptz, meta jsonb);
INSERT INTO customers SELECT i, 'name ' || i, 'u' || i || '@example.com', i * 1.5, timestamptz '2026-11-01 00:00:00+00' + i * interval '1 minute', jsonb_build_object('i', i, 'tag', 't' || (i %% 7))
FROM generate_series(1, %d) i`

func custs(n int, then string) string {
	s := fmt.Sprintf(customers, n)
	if then != "" {
		s += "; " + then
	}
	return s
}

// textKeyed is a table of n rows with a text key (hash cells).
func textKeyed(n int, then string) string {
	s := fmt.Sprintf("CREATE TABLE customers (id text PRIMARY KEY, v int); INSERT INTO customers SELECT 'k' || i, i FROM generate_series(1, %d) i", n)
	if then != "" {
		s += "; " + then
	}
	return s
}

func TestCompareCorrectness(t *testing.T) {
	url := pgtest.NewDB(t)
	cases := []pgCase{
		{name: "equal", src: custs(500, ""), dst: custs(500, "")},
		{name: "missing only", src: custs(500, ""), dst: custs(500, "DELETE FROM customers WHERE id IN (3, 250, 499)"), missing: 3},
		{name: "extra only", src: custs(500, ""), dst: custs(500, "INSERT INTO customers (id, name) VALUES (0, 'zero'), (1000, 'k')"), extra: 2},
		{name: "mismatched only", src: custs(500, ""), dst: custs(500, "UPDATE customers SET email = 'x' WHERE id = 10; UPDATE customers SET balance = balance + 1, meta = '{}' WHERE id = 20"),
			mismatched: 2, columns: map[string][]string{"10": {"email"}, "20": {"balance", "meta"}}},
		{name: "all kinds", src: custs(500, ""), dst: custs(500, "DELETE FROM customers WHERE id % 100 = 7; INSERT INTO customers (id) SELECT 1000 + i FROM generate_series(1, 4) i; UPDATE customers SET name = NULL WHERE id % 50 = 1"),
			missing: 5, extra: 4, mismatched: 10},
		{name: "last row only", src: custs(500, ""), dst: custs(500, "UPDATE customers SET updated_at = updated_at + interval '1 second' WHERE id = 500"),
			mismatched: 1, columns: map[string][]string{"500": {"updated_at"}}},
		{name: "all rows differ", src: custs(300, ""), dst: custs(300, "UPDATE customers SET name = name || '!'"), mismatched: 300},
		{name: "same counts different content", src: custs(500, ""), dst: custs(500, "DELETE FROM customers WHERE id = 5; INSERT INTO customers (id, name) VALUES (501, 'n'); UPDATE customers SET meta = meta || '{\"x\": 1}' WHERE id = 9"),
			missing: 1, extra: 1, mismatched: 1},
		{name: "both empty", src: custs(0, ""), dst: custs(0, "")},
		{name: "source empty", src: custs(0, ""), dst: custs(3, ""), extra: 3},
		{name: "sink empty", src: custs(3, ""), dst: custs(0, ""), missing: 3},
		{name: "null empty and NULL text", table: "t",
			src: `CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (1, NULL), (2, ''), (3, 'NULL'), (4, NULL), (5, ''), (6, 'NULL'), (7, 'a,b'), (8, '"q"')`,
			dst: `CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (1, ''), (2, NULL), (3, NULL), (4, 'NULL'), (5, 'NULL'), (6, ''), (7, 'a,b'), (8, '"q"')`,
			key: []string{"id"}, mismatched: 6},
		{name: "no collision by concatenation", table: "t",
			src: `CREATE TABLE t (id int PRIMARY KEY, a text, b text); INSERT INTO t VALUES (1, 'ab', 'c'), (2, 'a', NULL), (3, 'x,y', 'z')`,
			dst: `CREATE TABLE t (id int PRIMARY KEY, a text, b text); INSERT INTO t VALUES (1, 'a', 'bc'), (2, 'a', ''), (3, 'x', 'y,z')`,
			key: []string{"id"}, mismatched: 3, columns: map[string][]string{"1": {"a", "b"}, "2": {"b"}}},
		{name: "numeric scale", table: "t",
			src: `CREATE TABLE t (id int PRIMARY KEY, n numeric(10,2), m numeric); INSERT INTO t VALUES (1, 1.00, 1.0), (2, 2.50, 2), (3, 3.10, 3.1)`,
			dst: `CREATE TABLE t (id int PRIMARY KEY, n numeric(12,4), m numeric); INSERT INTO t VALUES (1, 1.0000, 1.000), (2, 2.5, 2.0), (3, 3.1001, 3.10)`,
			key: []string{"id"}, same: "a.n = b.n AND a.m = b.m", mismatched: 1, columns: map[string][]string{"3": {"n"}}},
		{name: "integer against numeric", table: "t",
			src: `CREATE TABLE t (id int PRIMARY KEY, n int); INSERT INTO t VALUES (1, 1), (2, 2)`,
			dst: `CREATE TABLE t (id bigint PRIMARY KEY, n numeric(10,2)); INSERT INTO t VALUES (1, 1.00), (2, 2.01)`,
			key: []string{"id"}, same: "a.n = b.n", mismatched: 1},
		{name: "timestamptz 6 against timestamp 3", table: "t",
			src: `SET TimeZone = 'Europe/Paris'; CREATE TABLE t (id int PRIMARY KEY, ts timestamptz(6)); INSERT INTO t VALUES (1, '2026-11-01 10:00:00.123456+00'), (2, '2026-11-01 10:00:00.123789+00'), (3, '2026-11-01 10:00:00.5+00'), (4, NULL), (5, '2026-11-01 10:00:00.1+00')`,
			dst: `SET TimeZone = 'UTC'; CREATE TABLE t (id int PRIMARY KEY, ts timestamp(3)); INSERT INTO t VALUES (1, '2026-11-01 10:00:00.123456'), (2, '2026-11-01 10:00:00.123789'), (3, '2026-11-01 10:00:00.5'), (4, NULL), (5, '2026-11-01 10:00:00.2')`,
			key: []string{"id"}, same: "(a.ts AT TIME ZONE 'UTC')::timestamp(3) IS NOT DISTINCT FROM b.ts", mismatched: 1},
		{name: "json key order", table: "t",
			src: `CREATE TABLE t (id int PRIMARY KEY, j json, k jsonb); INSERT INTO t VALUES (1, '{"a": 1, "b": [1, 2]}', '{"x": {"p": 1, "q": 2}}'), (2, '{"a": 1}', '{"x": 1}')`,
			dst: `CREATE TABLE t (id int PRIMARY KEY, j jsonb, k jsonb); INSERT INTO t VALUES (1, '{"b": [1, 2], "a": 1}', '{"x": {"q": 2, "p": 1}}'), (2, '{"a": 2}', '{"x": 1}')`,
			key: []string{"id"}, same: "a.j::jsonb = b.j AND a.k = b.k", mismatched: 1, columns: map[string][]string{"2": {"j"}}},
		{name: "json against json", table: "t",
			src: `CREATE TABLE t (id int PRIMARY KEY, j json); INSERT INTO t VALUES (1, '{"a": 1, "b": 2}'), (2, '{"a":1}'), (3, '[1, 2]')`,
			dst: `CREATE TABLE t (id int PRIMARY KEY, j json); INSERT INTO t VALUES (1, '{"b":2,"a":1}'), (2, '{"a": 1}'), (3, '[2, 1]')`,
			key: []string{"id"}, same: "a.j::jsonb = b.j::jsonb", mismatched: 1},
		{name: "unconstrained numeric both sides", table: "t",
			src: `CREATE TABLE t (id numeric PRIMARY KEY, n numeric); INSERT INTO t VALUES (1, 10), (2.5, 1.5), (3, 7)`,
			dst: `CREATE TABLE t (id numeric PRIMARY KEY, n numeric); INSERT INTO t VALUES (1.0, 10.00), (2.50, 1.50), (3, 7.01), (10, 1)`,
			key: []string{"id"}, keyText: []string{"trim_scale(coalesce(a.id, b.id))::text"}, same: "a.n = b.n", extra: 1, mismatched: 1},
		{name: "composite text key with quotes spaces unicode", table: "t",
			src: `CREATE TABLE t (tenant text, id int, v int, PRIMARY KEY (tenant, id)); INSERT INTO t VALUES ('a b', 1, 1), ('it''s', 1, 1), ('"q"', 2, 2), ('ünï😀', 3, 3), ('a', 10, 1), ('a', 9, 1), ('B', 1, 1), ('', 4, 4), ('x,y', 5, 5), ('(p)', 6, 6)`,
			dst: `CREATE TABLE t (tenant text, id int, v int, PRIMARY KEY (tenant, id)); INSERT INTO t VALUES ('a b', 1, 1), ('it''s', 1, 2), ('"q"', 2, 2), ('ünï😀', 3, 4), ('a', 10, 1), ('b', 1, 1), ('', 4, 4), ('x,y', 5, 5), ('(p)', 6, 7), ('ünï😀', 4, 4)`,
			key: []string{"tenant", "id"}, missing: 2, extra: 2, mismatched: 3},
		{name: "uuid key", table: "t",
			src: `CREATE TABLE t (id uuid PRIMARY KEY, v int); INSERT INTO t SELECT md5(i::text)::uuid, i FROM generate_series(1, 200) i`,
			dst: `CREATE TABLE t (id uuid PRIMARY KEY, v int); INSERT INTO t SELECT md5(i::text)::uuid, i FROM generate_series(2, 201) i; UPDATE t SET v = 0 WHERE v = 100`,
			key: []string{"id"}, missing: 1, extra: 1, mismatched: 1},
		{name: "timestamp key", table: "t",
			src: `CREATE TABLE t (at timestamptz PRIMARY KEY, v int); INSERT INTO t SELECT timestamptz '2026-01-01 00:00:00+00' + i * interval '1 hour', i FROM generate_series(1, 50) i`,
			dst: `CREATE TABLE t (at timestamptz PRIMARY KEY, v int); INSERT INTO t SELECT timestamptz '2026-01-01 00:00:00+00' + i * interval '1 hour', i FROM generate_series(2, 50) i; UPDATE t SET v = 0 WHERE v = 30`,
			key: []string{"at"}, keyText: []string{"(coalesce(a.at, b.at) AT TIME ZONE 'UTC')::text || '+00'"}, missing: 1, mismatched: 1},
	}
	for _, c := range cases {
		if c.table == "" {
			c.table = "customers"
		}
		if c.key == nil {
			c.key = []string{"id"}
		}
		t.Run(c.name, func(t *testing.T) { c.run(t, url) })
	}
}

// TestCompareStrategies drives the cell search through each of its paths on
// a table big enough to have many cells.
func TestCompareStrategies(t *testing.T) {
	if testing.Short() {
		t.Skip("-short (make test-short): sixteen tables of 20,000 rows; make test runs it")
	}
	url := pgtest.NewDB(t)
	cases := []struct {
		pgCase
		tune     tuning
		strategy string
	}{
		{pgCase{name: "no drift", src: custs(20000, ""), dst: custs(20000, "")}, tuning{}, "none"},
		{pgCase{name: "few cells", src: custs(20000, ""), dst: custs(20000, "DELETE FROM customers WHERE id IN (7, 19999); UPDATE customers SET email = 'e' WHERE id = 12345"), missing: 2, mismatched: 1}, tuning{}, "cells"},
		{pgCase{name: "split", src: custs(20000, ""), dst: custs(20000, "DELETE FROM customers WHERE id % 1000 = 3; INSERT INTO customers (id) VALUES (30000), (30001); UPDATE customers SET email = 'e' WHERE id % 997 = 0"),
			missing: 20, extra: 2, mismatched: 20}, tuning{firstBits: 6, fetchLimit: 1000}, "split"},
		{pgCase{name: "spread", src: custs(20000, ""), dst: custs(20000, "UPDATE customers SET email = 'e' WHERE id % 3 = 0"), mismatched: 6666}, tuning{}, "stream"},
		{pgCase{name: "clustered", src: custs(20000, ""), dst: custs(20000, "DELETE FROM customers WHERE id BETWEEN 5000 AND 7999"), missing: 3000}, tuning{}, "cells"},
		{pgCase{name: "text key cells", src: textKeyed(20000, ""), dst: textKeyed(20000, "DELETE FROM customers WHERE id IN ('k7', 'k19999'); UPDATE customers SET v = 0 WHERE id = 'k12345'"), missing: 2, mismatched: 1}, tuning{}, "cells"},
		{pgCase{name: "text key split", src: textKeyed(20000, ""), dst: textKeyed(20000, "DELETE FROM customers WHERE v % 1000 = 3; INSERT INTO customers VALUES ('zz', 1); UPDATE customers SET v = -v WHERE v % 997 = 0"),
			missing: 20, extra: 1, mismatched: 20}, tuning{firstBits: 6, fetchLimit: 1000}, "split"},
		{pgCase{name: "text key spread", src: textKeyed(20000, ""), dst: textKeyed(20000, "UPDATE customers SET v = -v WHERE v % 2 = 0"), mismatched: 10000}, tuning{}, "stream"},
	}
	for _, c := range cases {
		c.table, c.key = "customers", []string{"id"}
		c.spec.tune = &c.tune
		t.Run(c.name, func(t *testing.T) {
			r := c.run(t, url)
			if r.Stats.Strategy != c.strategy {
				t.Errorf("strategy %q, want %q (stats %+v)", r.Stats.Strategy, c.strategy, r.Stats)
			}
			if r.SourceRows != 20000 && c.name != "clustered" {
				t.Errorf("source rows %d", r.SourceRows)
			}
		})
	}
}

// TestCompareTwoDatabases compares tables in two databases, with a renamed
// sink table and column, an ignored sink column and a filter.
func TestCompareTwoDatabases(t *testing.T) {
	ctx := context.Background()
	su, du := pgtest.NewDB(t), pgtest.NewDB(t)
	pgtest.Exec(t, su, custs(1000, ""))
	pgtest.Exec(t, du, `CREATE SCHEMA sink; CREATE TABLE sink.cust (id bigint PRIMARY KEY, name text, mail text, balance numeric(12,2), updated_at timestamp(3), meta jsonb, __op text);
		INSERT INTO sink.cust SELECT i, 'name ' || i, 'u' || i || '@example.com', i * 1.5, timestamp '2026-11-01 00:00:00' + i * interval '1 minute', jsonb_build_object('tag', 't' || (i % 7), 'i', i), 'c'
		FROM generate_series(1, 1000) i;
		DELETE FROM sink.cust WHERE id = 10; UPDATE sink.cust SET mail = 'x' WHERE id = 20; UPDATE sink.cust SET __op = 'u' WHERE id = 30; DELETE FROM sink.cust WHERE id = 900`)
	spec := Spec{Table: "customers", SinkTable: "sink.cust", Columns: nil, Rename: map[string]string{"email": "mail"}, Ignore: []string{"__op"}, Where: "id < 500"}
	r, err := Compare(ctx, pgtest.Conn(t, su), pgtest.Conn(t, du), spec)
	if err != nil {
		t.Fatal(err)
	}
	if r.MissingCount != 1 || r.ExtraCount != 0 || r.MismatchedCount != 1 || r.Missing[0].Key.String() != "10" || r.Mismatched[0].Key.String() != "20" {
		t.Fatalf("got %+v", r)
	}
	if !slices.Equal(r.Mismatched[0].Columns, []string{"email"}) {
		t.Errorf("columns %q", r.Mismatched[0].Columns)
	}
	if r.SourceRows != 499 || r.SinkRows != 498 {
		t.Errorf("rows %d/%d", r.SourceRows, r.SinkRows)
	}
	if r.TimestampPrecision["updated_at"] != 3 || r.Renamed["email"] != "mail" {
		t.Errorf("precision %v renamed %v", r.TimestampPrecision, r.Renamed)
	}
	// Without the rename, the mapping is refused and names both columns.
	_, err = Compare(ctx, pgtest.Conn(t, su), pgtest.Conn(t, du), Spec{Table: "customers", SinkTable: "sink.cust", Ignore: []string{"__op"}})
	if !errors.Is(err, ErrNotComparable) || !strings.Contains(err.Error(), `only in source public.customers: "email"`) || !strings.Contains(err.Error(), `only in sink sink.cust: "mail"`) {
		t.Errorf("err = %v", err)
	}
}

// TestCompareQuotedNames uses table and column names that need quoting,
// including ones written to inject SQL.
func TestCompareQuotedNames(t *testing.T) {
	ctx := context.Background()
	url := pgtest.NewDB(t)
	pgtest.Exec(t, url, `CREATE SCHEMA "My Schema";
		CREATE TABLE victim (x int);
		CREATE TABLE "My Schema"."t""; DROP TABLE victim; --" ("select" int PRIMARY KEY, "a""b" text, "x); DROP TABLE victim; --" int, "Ünï code" text);
		CREATE TABLE "My Schema"."sink %s %d" ("select" int PRIMARY KEY, "a""b" text, "x); DROP TABLE victim; --" int, "Ünï code" text);
		INSERT INTO "My Schema"."t""; DROP TABLE victim; --" VALUES (1, 'a', 1, 'u'), (2, 'b', 2, 'v'), (3, 'c', 3, 'w');
		INSERT INTO "My Schema"."sink %s %d" VALUES (1, 'a', 1, 'u'), (2, 'b', 5, 'v'), (4, 'd', 4, 'z')`)
	spec := Spec{Table: `"My Schema"."t""; DROP TABLE victim; --"`, SinkTable: `"My Schema"."sink %s %d"`, ShowValues: true, Where: `"select" > 0 AND "a""b" <> 'it''s; not'`}
	r, err := Compare(ctx, pgtest.Conn(t, url), pgtest.Conn(t, url), spec)
	if err != nil {
		t.Fatal(err)
	}
	if r.MissingCount != 1 || r.ExtraCount != 1 || r.MismatchedCount != 1 {
		t.Fatalf("got %d/%d/%d", r.MissingCount, r.ExtraCount, r.MismatchedCount)
	}
	if !slices.Equal(r.Mismatched[0].Columns, []string{"x); DROP TABLE victim; --"}) {
		t.Errorf("columns %q", r.Mismatched[0].Columns)
	}
	if v := r.Extra[0].SinkValues["Ünï code"]; v == nil || *v != "z" {
		t.Errorf("values %v", r.Extra[0].SinkValues)
	}
	if r.Source.String() != `"My Schema"."t""; DROP TABLE victim; --"` {
		t.Errorf("source name %s", r.Source)
	}
	var n int
	if err := pgtest.Conn(t, url).QueryRow(ctx, "SELECT count(*) FROM victim").Scan(&n); err != nil {
		t.Fatalf("victim table: %v", err)
	}
}

func TestCompareModes(t *testing.T) {
	ctx := context.Background()
	url := pgtest.NewDB(t)
	pgtest.Exec(t, url, `CREATE SCHEMA a; CREATE SCHEMA b; SET search_path = a; `+custs(100, "")+`; SET search_path = b; `+custs(100, "UPDATE customers SET name = 'x' WHERE id = 50; DELETE FROM customers WHERE id = 99; INSERT INTO customers (id, updated_at) VALUES (101, '2026-11-01 00:59:00+00')"))
	conn := func() *pgx.Conn { return pgtest.Conn(t, url) }

	r, err := Compare(ctx, conn(), conn(), Spec{Table: "a.customers", SinkTable: "b.customers", Mode: ModeCounts})
	if err != nil || r.SourceRows != 100 || r.SinkRows != 100 || r.Drift() {
		t.Fatalf("counts: %+v %v", r, err)
	}
	r, err = Compare(ctx, conn(), conn(), Spec{Table: "a.customers", SinkTable: "b.customers", Mode: ModeChecksum, Partition: &Partition{By: "day", Column: "updated_at"}})
	if err != nil || !r.Drift() || *r.SourceChecksum == *r.SinkChecksum {
		t.Fatalf("checksum: %+v %v", r, err)
	}
	var got []string
	for _, p := range r.Partitions {
		got = append(got, fmt.Sprintf("%s %d %d %v", p.Partition, p.Source.Rows, p.Sink.Rows, p.Equal()))
	}
	if want := []string{"2026-11-01 100 100 false"}; !slices.Equal(got, want) {
		t.Errorf("day partitions %q, want %q", got, want)
	}
	// The other time units; 2026-11-01 is a Sunday: its week began on Monday 26 October.
	for unit, want := range map[string][]string{
		"hour":  {"2026-11-01T00:00 59 60 false", "2026-11-01T01:00 41 40 false"},
		"week":  {"2026-10-26 100 100 false"},
		"month": {"2026-11 100 100 false"},
		"year":  {"2026 100 100 false"},
	} {
		r, err = Compare(ctx, conn(), conn(), Spec{Table: "a.customers", SinkTable: "b.customers", Mode: ModeChecksum, Partition: &Partition{By: unit, Column: "updated_at"}})
		if err != nil {
			t.Fatalf("%s: %v", unit, err)
		}
		got = nil
		for _, p := range r.Partitions {
			got = append(got, fmt.Sprintf("%s %d %d %v", p.Partition, p.Source.Rows, p.Sink.Rows, p.Equal()))
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s partitions %q, want %q", unit, got, want)
		}
	}
	r, err = Compare(ctx, conn(), conn(), Spec{Table: "a.customers", SinkTable: "b.customers", Mode: ModeChecksum, Partition: &Partition{By: "range", Ranges: 4}})
	if err != nil {
		t.Fatal(err)
	}
	got = nil
	for _, p := range r.Partitions {
		got = append(got, fmt.Sprintf("%s %d %d %v", p.Partition, p.Source.Rows, p.Sink.Rows, p.Equal()))
	}
	if want := []string{"1 25 25 true", "26 25 25 false", "51 25 25 true", "76 25 25 false"}; !slices.Equal(got, want) {
		t.Errorf("range partitions %q, want %q", got, want)
	}
	// Through one pool: two connections are taken from it.
	pool := pgtest.Pool(t, url)
	r, err = ComparePools(ctx, pool, pool, Spec{Table: "a.customers", SinkTable: "b.customers"})
	if err != nil || r.MissingCount != 1 || r.ExtraCount != 1 || r.MismatchedCount != 1 {
		t.Fatalf("pools: %+v %v", r, err)
	}
	// A rate limit slows the compare down but changes nothing in its answer.
	r, err = Compare(ctx, conn(), conn(), Spec{Table: "a.customers", SinkTable: "b.customers", RateLimit: 1000000})
	if err != nil || r.MissingCount != 1 || r.ExtraCount != 1 || r.MismatchedCount != 1 {
		t.Fatalf("rate limited: %+v %v", r, err)
	}
	// Equal checksums on equal tables, whatever the physical row order.
	pgtest.Exec(t, url, `CREATE TABLE a.o AS SELECT * FROM a.customers ORDER BY id DESC; CREATE TABLE b.o AS SELECT * FROM a.customers ORDER BY md5(id::text)`)
	r, err = Compare(ctx, conn(), conn(), Spec{Table: "a.o", SinkTable: "b.o", Key: []string{"id"}, Mode: ModeChecksum})
	if err != nil || r.Drift() {
		t.Fatalf("order independence: %+v %v", r, err)
	}
}

func TestCompareSettle(t *testing.T) {
	ctx := context.Background()
	url := pgtest.NewDB(t)
	pgtest.Exec(t, url, `CREATE SCHEMA a; CREATE SCHEMA b; SET search_path = a; `+custs(100, "")+`; SET search_path = b; `+custs(100, "UPDATE customers SET name = 'x' WHERE id IN (10, 20); DELETE FROM customers WHERE id = 30"))
	fixer := pgtest.Conn(t, url)
	var fixErr error
	spec := Spec{Table: "a.customers", SinkTable: "b.customers", Settle: 50 * time.Millisecond, Progress: func(p Progress) {
		if p.Phase == "settle" {
			// The pipeline catches up while offsetctl waits.
			_, fixErr = fixer.Exec(ctx, "UPDATE b.customers SET name = 'name 10' WHERE id = 10")
		}
	}}
	r, err := Compare(ctx, pgtest.Conn(t, url), pgtest.Conn(t, url), spec)
	if err != nil || fixErr != nil {
		t.Fatal(err, fixErr)
	}
	if r.Settled != 1 || r.MismatchedCount != 1 || r.MissingCount != 1 || r.Mismatched[0].Key.String() != "20" || !slices.Equal(r.Mismatched[0].Columns, []string{"name"}) {
		t.Fatalf("got settled=%d %+v", r.Settled, r)
	}
}

func TestCompareErrors(t *testing.T) {
	ctx := context.Background()
	// The sink is a copy in a second database: a table compared with itself
	// is refused (see TestCompareSameTable).
	url, sink := pgtest.NewDB(t), pgtest.NewDB(t)
	for _, u := range []string{url, sink} {
		pgtest.Exec(t, u, `CREATE TABLE ok (id int PRIMARY KEY, v text);
		CREATE TABLE nokey (id int, v text);
		CREATE TABLE other (id int PRIMARY KEY, v int);
		CREATE TABLE dup (id int, v text); INSERT INTO dup VALUES (1, 'a'), (1, 'b');
		CREATE TABLE nulls (id int, v text); INSERT INTO nulls VALUES (NULL, 'a');
		CREATE TABLE fl (f float8 PRIMARY KEY);
		CREATE SEQUENCE x;
		INSERT INTO ok VALUES (1, 'a')`)
	}
	cases := []struct {
		name    string
		spec    Spec
		wantErr string
		field   string
	}{
		{"no table", Spec{}, "table: a source table is required", "table"},
		{"bad table name", Spec{Table: `"unterminated`}, "unterminated quoted name", "table"},
		{"missing table", Spec{Table: "nope"}, "source table nope does not exist", ""},
		{"missing sink table", Spec{Table: "ok", SinkTable: "public.nope"}, "sink table public.nope does not exist", ""},
		{"no key", Spec{Table: "nokey"}, "source table public.nokey has no primary key", ""},
		{"unknown key", Spec{Table: "ok", Key: []string{"zz"}}, `key column "zz" does not exist in source table`, ""},
		{"incompatible types", Spec{Table: "ok", SinkTable: "other"}, `column "v" has type text in the source and integer in the sink`, ""},
		{"float key", Spec{Table: "fl"}, "cannot serve as a key", ""},
		{"duplicate key", Spec{Table: "dup", SinkTable: "ok", Key: []string{"id"}}, "appears twice", ""},
		{"null key", Spec{Table: "nulls", Key: []string{"id"}}, "is NULL", ""},
		{"where semicolon", Spec{Table: "ok", Where: "true; DELETE FROM ok"}, "';' is not allowed", "where"},
		{"where comment", Spec{Table: "ok", Where: "true --"}, "comments are not allowed", "where"},
		{"where parens", Spec{Table: "ok", Where: "true) OR (true"}, "unbalanced parentheses", "where"},
		{"where param", Spec{Table: "ok", Where: "id = $1"}, "'$'", "where"},
		{"where unknown column", Spec{Table: "ok", Where: "nope = 1"}, `column "nope" does not exist`, "where"},
		{"where not boolean", Spec{Table: "ok", Where: "id + 1"}, "must be type boolean", "where"},
		{"where writes", Spec{Table: "ok", Where: "nextval('x') > 0"}, "read-only transaction", ""},
		{"bad precision", Spec{Table: "ok", TimestampPrecision: "ns"}, "unknown precision", "timestamp_precision"},
		{"unknown ignore", Spec{Table: "ok", Ignore: []string{"zz"}}, `ignored column "zz" exists in neither`, ""},
		{"partition without checksum", Spec{Table: "ok", Partition: &Partition{By: "day", Column: "v"}}, "checksum mode only", "partition"},
		{"partition by text column", Spec{Table: "ok", Mode: ModeChecksum, Partition: &Partition{By: "day", Column: "v"}}, "need a date or timestamp column", "partition"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Compare(ctx, pgtest.Conn(t, url), pgtest.Conn(t, sink), c.spec)
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Fatalf("err = %v, want it to contain %q", err, c.wantErr)
			}
			var se *SpecError
			if c.field != "" && (!errors.As(err, &se) || se.Field != c.field) {
				t.Errorf("want a SpecError on %q, got %#v", c.field, err)
			}
		})
	}
	conn := pgtest.Conn(t, url)
	if _, err := Compare(ctx, conn, conn, Spec{Table: "ok"}); err == nil || !strings.Contains(err.Error(), "two distinct connections") {
		t.Errorf("same connection: %v", err)
	}
}

// TestCompareSameTable: a table compared with itself — the two connections
// reach one database of one server, however they are spelled — is refused,
// in every mode; two tables of one database, and one name in two databases,
// are compared.
func TestCompareSameTable(t *testing.T) {
	ctx := context.Background()
	url, other := pgtest.NewDB(t), pgtest.NewDB(t)
	for _, u := range []string{url, other} {
		pgtest.Exec(t, u, `CREATE SCHEMA s; CREATE TABLE public.t (id int PRIMARY KEY, v text); CREATE TABLE s.t (id int PRIMARY KEY, v text);
			INSERT INTO public.t VALUES (1, 'a'), (2, 'b'); INSERT INTO s.t VALUES (1, 'a')`)
	}
	// The same database spelled differently: keywords instead of a URL,
	// and a search_path that finds the table without its schema.
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	spelled := fmt.Sprintf("host=%s port=%d user=%s dbname=%s options='-c search_path=public'", cfg.Host, cfg.Port, cfg.User, cfg.Database)
	if cfg.Password != "" {
		spelled += " password=" + cfg.Password
	}
	cases := []struct {
		name      string
		sink      string
		spec      Spec
		wantSame  bool
		wantDrift bool
	}{
		{"same table, rows", url, Spec{Table: "t"}, true, false},
		{"same table, counts", url, Spec{Table: "t", Mode: ModeCounts}, true, false},
		{"same table, checksum", url, Spec{Table: "t", Mode: ModeChecksum}, true, false},
		{"same table named twice", url, Spec{Table: "t", SinkTable: "public.t"}, true, false},
		{"same table, spelled differently", spelled, Spec{Table: "public.t", SinkTable: "t"}, true, false},
		{"two tables of one database", url, Spec{Table: "public.t", SinkTable: "s.t"}, false, true},
		{"one name in two databases", other, Spec{Table: "t"}, false, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := Compare(ctx, pgtest.Conn(t, url), pgtest.Conn(t, c.sink), c.spec)
			if c.wantSame {
				if !errors.Is(err, ErrSameTable) || !strings.Contains(err.Error(), "public.t") || !strings.Contains(err.Error(), "name the sink database") {
					t.Fatalf("err = %v, want ErrSameTable naming public.t and the fix", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.Drift() != c.wantDrift {
				t.Errorf("drift %v, want %v", r.Drift(), c.wantDrift)
			}
		})
	}
}

func TestCheckWhere(t *testing.T) {
	cases := []struct {
		expr    string
		wantErr string
	}{
		{"", ""},
		{"updated_at >= '2026-11-01'", ""},
		{`"a;b" = 'x;--y' AND c IN (1, 2)`, ""},
		{`v = 'it''s'`, ""},
		{`v = E'a\'b;'`, ""},
		{"a = 1; DROP TABLE t", "';'"},
		{"a = 1 -- x", "comments"},
		{"a = 1 /* x */", "comments"},
		{"a = $1", "'$'"},
		{"a = $$x$$", "'$'"},
		{"(a = 1", "unbalanced"},
		{"a = 1)", "unbalanced"},
		{"a = 'x", "unterminated string"},
		{`"a = 1`, "unterminated quoted identifier"},
	}
	for _, c := range cases {
		err := CheckWhere(c.expr)
		if (err == nil) != (c.wantErr == "") || (err != nil && !strings.Contains(err.Error(), c.wantErr)) {
			t.Errorf("CheckWhere(%q) = %v, want %q", c.expr, err, c.wantErr)
		}
	}
}

func TestParseTableName(t *testing.T) {
	cases := []struct {
		in      string
		want    TableName
		wantErr bool
	}{
		{"customers", TableName{Name: "customers"}, false},
		{"Public.Customers", TableName{Schema: "public", Name: "customers"}, false},
		{`"My Schema"."Odd""Name"`, TableName{Schema: "My Schema", Name: `Odd"Name`}, false},
		{`s."a.b"`, TableName{Schema: "s", Name: "a.b"}, false},
		{"a.b.c", TableName{}, true},
		{"a.", TableName{}, true},
		{`"a"b`, TableName{}, true},
		{`a"b"`, TableName{}, true},
	}
	for _, c := range cases {
		got, err := ParseTableName(c.in)
		if (err != nil) != c.wantErr || got != c.want {
			t.Errorf("ParseTableName(%q) = %+v, %v", c.in, got, err)
		}
	}
	if s := (TableName{Schema: "My Schema", Name: `Odd"Name`}).String(); s != `"My Schema"."Odd""Name"` {
		t.Errorf("String() = %s", s)
	}
}

func TestKeyJSON(t *testing.T) {
	k := Key{"ünï 😀 \"q\"", "9223372036854775807"}
	b, err := json.Marshal(k)
	if err != nil {
		t.Fatal(err)
	}
	var back Key
	if err := json.Unmarshal(b, &back); err != nil || !slices.Equal(back, k) {
		t.Fatalf("round trip: %s -> %q, %v", b, back, err)
	}
	if s := k.String(); s != `("ünï 😀 \"q\"", 9223372036854775807)` {
		t.Errorf("String() = %s", s)
	}
}

func TestCompareDecimal(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want int
	}{{"1", "1.0", 0}, {"-2", "10", -1}, {"10.5", "9.99", 1}, {"NaN", "1e9", 1}, {"Infinity", "NaN", -1}, {"-Infinity", "-1", -1}} {
		if got := compareDecimal(c.a, c.b); got != c.want {
			t.Errorf("compareDecimal(%s, %s) = %d", c.a, c.b, got)
		}
	}
}

// TestCompareSourceSnapshotFirst: Result.SourceSnapshot.LSN is the source's
// WAL position at its snapshot, the one BeforeSinkSnapshot is given; with the
// hook, the sink is read in a snapshot taken after it returns (a row the
// hook delivers to the sink is seen) while the source keeps the snapshot
// taken before (a row the hook adds to the source is not, and its commit is
// past the position).
func TestCompareSourceSnapshotFirst(t *testing.T) {
	ctx := context.Background()
	su, du := pgtest.NewDB(t), pgtest.NewDB(t)
	for _, u := range []string{su, du} {
		pgtest.Exec(t, u, `CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, 'v' FROM generate_series(1, 5) g`)
	}
	pgtest.Exec(t, su, `INSERT INTO t VALUES (6, 'in flight')`)
	for _, mode := range []Mode{ModeCounts, ModeChecksum, ModeRows} {
		t.Run(string(mode), func(t *testing.T) {
			pgtest.Exec(t, du, `DELETE FROM t WHERE id >= 6`)
			pgtest.Exec(t, su, `DELETE FROM t WHERE id >= 7`)
			var seen, after uint64
			spec := Spec{Table: "t", Mode: mode, BeforeSinkSnapshot: func(ctx context.Context, pos SnapshotPosition) error {
				lsn := pos.LSN
				seen = lsn
				// The pipeline delivers row 6; the source moves on with row 7.
				pgtest.Exec(t, du, `INSERT INTO t VALUES (6, 'in flight')`)
				pgtest.Exec(t, su, `INSERT INTO t VALUES (7, 'later')`)
				return pgtest.Conn(t, su).QueryRow(ctx, "SELECT (pg_current_wal_insert_lsn() - '0/0'::pg_lsn)::bigint").Scan(&after)
			}}
			r, err := Compare(ctx, pgtest.Conn(t, su), pgtest.Conn(t, du), spec)
			if err != nil {
				t.Fatal(err)
			}
			if seen == 0 || r.SourceSnapshot.LSN != seen || after <= seen {
				t.Errorf("snapshot LSN %d, hook given %d, position after the hook's commit %d", r.SourceSnapshot.LSN, seen, after)
			}
			if r.SourceRows != 6 || r.SinkRows != 6 || r.Drift() {
				t.Errorf("source %d rows, sink %d rows, drift %v: want the source before the hook and the sink after it", r.SourceRows, r.SinkRows, r.Drift())
			}
		})
	}
	// A hook's error ends the comparison.
	_, err := Compare(ctx, pgtest.Conn(t, su), pgtest.Conn(t, du), Spec{Table: "t", BeforeSinkSnapshot: func(context.Context, SnapshotPosition) error { return errors.New("stop here") }})
	if err == nil || !strings.Contains(err.Error(), "stop here") {
		t.Errorf("err = %v", err)
	}
}

// TestCompareRecheckSource: with the sink read after the source's snapshot,
// a row changed on the source after that snapshot and already delivered
// differs; RecheckSource reads the differing keys' source rows again and
// takes out those that changed since (ChangedSince), keeping the rows whose
// source is as the snapshot saw it: drift.
func TestCompareRecheckSource(t *testing.T) {
	ctx := context.Background()
	su, du := pgtest.NewDB(t), pgtest.NewDB(t)
	for _, u := range []string{su, du} {
		pgtest.Exec(t, u, `CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, 'v' FROM generate_series(1, 9) g`)
	}
	pgtest.Exec(t, du, `UPDATE t SET v = 'drift' WHERE id = 4; DELETE FROM t WHERE id = 5`)
	for _, recheck := range []bool{false, true} {
		t.Run(fmt.Sprint("recheck=", recheck), func(t *testing.T) {
			pgtest.Exec(t, su, `UPDATE t SET v = 'v' WHERE id = 3; INSERT INTO t VALUES (8, 'v') ON CONFLICT DO NOTHING`)
			pgtest.Exec(t, du, `UPDATE t SET v = 'v' WHERE id = 3; INSERT INTO t VALUES (8, 'v') ON CONFLICT DO NOTHING`)
			spec := Spec{Table: "t", Mode: ModeRows, RecheckSource: recheck, BeforeSinkSnapshot: func(ctx context.Context, _ SnapshotPosition) error {
				// After the snapshot: row 3 changes and row 8 is deleted, and
				// the pipeline delivers both before the sink is read.
				for _, u := range []string{su, du} {
					pgtest.Exec(t, u, `UPDATE t SET v = 'later' WHERE id = 3; DELETE FROM t WHERE id = 8`)
				}
				return nil
			}}
			r, err := Compare(ctx, pgtest.Conn(t, su), pgtest.Conn(t, du), spec)
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
			if recheck && (len(r.Mismatched) != 1 || r.Mismatched[0].Key.String() != "4" || len(r.Missing) != 1 || r.Missing[0].Key.String() != "5") {
				t.Errorf("kept %+v / %+v", r.Mismatched, r.Missing)
			}
		})
	}
}
