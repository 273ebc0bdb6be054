package reconcile

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/offsetctl/offsetctl/internal/golden"
	"github.com/offsetctl/offsetctl/internal/mariadbtest"
	"github.com/offsetctl/offsetctl/internal/pgtest"
)

var goldens = golden.Flag()

// xval is one value of a type pair: the SQL literal on each side (the value
// as Debezium's JDBC sink writes it into PostgreSQL) and the canonical text
// both must produce ("NULL" for SQL NULL).
type xval struct{ my, pg, canon string }

// xcase is one type pair of the table.
type xcase struct {
	my, pg string // column types
	note   string // the mapping it stands for
	vals   []xval
	// sameSink lists value indexes that differ in the source but are one
	// value in the sink (TINYINT(1) 1 and 2 as boolean): left out of the
	// "every different value, a different hash" check.
	sameSink [][2]int
	// only names the one engine the pair is for ("mariadb", "mysql"):
	// a type of that engine, or a behaviour that differs.
	only string
	// limits are values the sink holds as Debezium writes them, equal
	// data, that compare as different all the same (canon is the source's
	// text): a known limit, a false difference, never a false equal.
	limits []xval
}

var xcases = []xcase{
	{my: "tinyint", pg: "smallint", note: "INT16", vals: []xval{{"-128", "-128", "-128"}, {"0", "0", "0"}, {"127", "127", "127"}, {"NULL", "NULL", "NULL"}}},
	{my: "tinyint unsigned", pg: "smallint", note: "INT16", vals: []xval{{"255", "255", "255"}, {"0", "0", "0"}}},
	{my: "smallint unsigned", pg: "integer", note: "INT32", vals: []xval{{"65535", "65535", "65535"}}},
	{my: "int", pg: "integer", note: "INT32", vals: []xval{{"-2147483648", "-2147483648", "-2147483648"}, {"2147483647", "2147483647", "2147483647"}}},
	{my: "int unsigned", pg: "bigint", note: "INT64", vals: []xval{{"4294967295", "4294967295", "4294967295"}, {"1", "1", "1"}}},
	{my: "bigint", pg: "bigint", note: "INT64", vals: []xval{{"-9223372036854775808", "-9223372036854775808", "-9223372036854775808"}, {"9223372036854775807", "9223372036854775807", "9223372036854775807"}}},
	{my: "bigint unsigned", pg: "numeric(20,0)", note: "bigint.unsigned.handling.mode=precise: DECIMAL", vals: []xval{{"18446744073709551615", "18446744073709551615", "18446744073709551615"}, {"0", "0", "0"}, {"9223372036854775808", "9223372036854775808", "9223372036854775808"}}},
	{my: "bigint unsigned", pg: "bigint", note: "bigint.unsigned.handling.mode=long (default): two's complement", vals: []xval{{"18446744073709551615", "-1", "-1"}, {"9223372036854775808", "-9223372036854775808", "-9223372036854775808"}, {"5", "5", "5"}}},
	{my: "tinyint(1)", pg: "smallint", note: "INT16 (default)", vals: []xval{{"0", "0", "0"}, {"1", "1", "1"}, {"2", "2", "2"}}},
	{my: "boolean", pg: "boolean", note: "TinyIntOneToBooleanConverter", vals: []xval{{"0", "false", "false"}, {"1", "true", "true"}, {"2", "true", "true"}, {"NULL", "NULL", "NULL"}}, sameSink: [][2]int{{1, 2}}},
	{my: "year", pg: "integer", note: "INT32", vals: []xval{{"2024", "2024", "2024"}, {"1901", "1901", "1901"}}},
	{my: "decimal(10,2)", pg: "numeric(10,2)", note: "decimal.handling.mode=precise", vals: []xval{{"1.50", "1.50", "1.5"}, {"10.00", "10.00", "10"}, {"-0.01", "-0.01", "-0.01"}, {"0.00", "0.00", "0"}, {"12345678.90", "12345678.90", "12345678.9"}, {"100.10", "100.10", "100.1"}}},
	{my: "decimal(12,0)", pg: "numeric(12,0)", note: "decimal.handling.mode=precise", vals: []xval{{"100", "100", "100"}, {"-5", "-5", "-5"}, {"0", "0", "0"}}},
	{my: "decimal(20,5)", pg: "numeric", note: "unconstrained sink numeric", vals: []xval{{"1.10000", "1.1", "1.1"}, {"1.10001", "1.10001", "1.10001"}}},
	{my: "double", pg: "double precision", note: "FLOAT64", vals: []xval{{"0.1", "0.1", "1e0"}, {"1e20", "1e20", "1e21"}, {"1e-7", "1e-7", "1e-6"}, {"123456789012345678", "123456789012345678", "12345678901234568e18"},
		{"1.7976931348623157e308", "1.7976931348623157e308", "17976931348623157e309"}, {"5e-324", "5e-324", "5e-323"}, {"-1.5", "-1.5", "-15e1"}, {"100", "100", "1e3"}, {"0", "0", "0"}, {"1e15", "1e15", "1e16"}, {"0.0001", "0.0001", "1e-3"}}},
	{my: "float", pg: "real", note: "FLOAT32 (compared as the exact double of each)", vals: []xval{{"0.1", "0.1", "10000000149011612e0"}, {"123456789", "123456789", "123456792e9"}, {"-2.5", "-2.5", "-25e1"}, {"3.40282e38", "3.40282e38", "3402820018375656e39"}}},
	{my: "char(10)", pg: "text", note: "STRING (MariaDB returns CHAR without pad spaces)", vals: []xval{{"'abc'", "'abc'", "abc"}, {"''", "''", ""}, {"'héllo ✓'", "'héllo ✓'", "héllo ✓"}, {"NULL", "NULL", "NULL"}}},
	{my: "char(10)", pg: "char(10)", note: "STRING into bpchar", vals: []xval{{"'abc'", "'abc'", "abc"}, {"'abc d'", "'abc d'", "abc d"}}},
	{my: "varchar(20)", pg: "varchar(20)", note: "STRING: bytes, not collation order", vals: []xval{{"'a '", "'a '", "a "}, {"'a'", "'a'", "a"}, {"'A'", "'A'", "A"}, {"'ß'", "'ß'", "ß"}, {"'ss'", "'ss'", "ss"}, {"'😀'", "'😀'", "😀"}, {"'NULL'", "'NULL'", "NULL-text"}, {"NULL", "NULL", "NULL"}}},
	{my: "varchar(20) character set latin1", pg: "text", note: "STRING: converted to UTF-8", vals: []xval{{"'café'", "'café'", "café"}, {"'cafe'", "'cafe'", "cafe"}}},
	{my: "varchar(20) character set utf8mb3", pg: "text", note: "STRING: converted to utf8mb4", vals: []xval{{"'café'", "'café'", "café"}, {"'cafe'", "'cafe'", "cafe"}}},
	{my: "varchar(20) collate utf8mb4_unicode_ci", pg: "text", note: "STRING: utf8mb4 read as it is, bytes not collation", vals: []xval{{"'café'", "'café'", "café"}, {"'cafe'", "'cafe'", "cafe"}, {"'Cafe'", "'Cafe'", "Cafe"}}},
	{my: "longtext", pg: "text", note: "STRING", vals: []xval{{"'line1\\nline2'", "E'line1\\nline2'", "line1\nline2"}, {"'a,b:c'", "'a,b:c'", "a,b:c"}, {"''", "''", ""}}},
	{my: "enum('red','green')", pg: "text", note: "ENUM: its label", vals: []xval{{"'red'", "'red'", "red"}, {"'green'", "'green'", "green"}}},
	{my: "set('a','b','c')", pg: "text", note: "SET: comma-separated labels", vals: []xval{{"'a,c'", "'a,c'", "a,c"}, {"'b'", "'b'", "b"}, {"''", "''", ""}}},
	{my: "json", pg: "json", note: "JSON text as written (json keeps it)", only: "mariadb", vals: []xval{{`'{"a": 1, "b": [1, 2]}'`, `'{"a": 1, "b": [1, 2]}'`, `{"a": 1, "b": [1, 2]}`}, {`'{"b":1}'`, `'{"b":1}'`, `{"b":1}`}}},
	{my: "json", pg: "json", note: "MySQL JSON (a document; Debezium's binlog text is compact): compared as documents", only: "mysql", vals: []xval{
		{`'{"b": [1, 2], "a": 1}'`, `'{"a":1,"b":[1,2]}'`, `{"a": 1, "b": [1, 2]}`},
		{`'{"bb": true, "a": null, "c": {"d": "é😀"}}'`, `'{"a":null,"c":{"d":"é😀"},"bb":true}'`, `{"a": null, "c": {"d": "é😀"}, "bb": true}`},
		{`'{"a": "x\\ny\\"z"}'`, `'{"a":"x\ny\"z"}'`, `{"a": "x\ny\"z"}`},
		{`'[1, "1", 1.5, 0.001, 100.0, 0.30000000000000004, 0.3]'`, `'[1,"1",1.5,0.001,100.0,0.30000000000000004,0.3]'`, `[1, "1", 1.5, 0.001, 100.0, 0.30000000000000004, 0.3]`},
		{`'"text"'`, `'"text"'`, `"text"`}, {`'{}'`, `'{}'`, `{}`}, {`'[]'`, `'[]'`, `[]`}, {`'{"a": 2}'`, `'{"a":2}'`, `{"a": 2}`}, {"NULL", "NULL", "NULL"}}},
	{my: "json", pg: "jsonb", note: "MySQL JSON into jsonb: compared as documents", only: "mysql", limits: []xval{
		// Debezium writes a double that Java prints with an exponent as
		// its exact decimal expansion; MySQL prints it shortest.
		{`'[1e20]'`, `'[100000000000000000000]'`, `[1e20]`}, {`'[1e7]'`, `'[10000000]'`, `[10000000.0]`}, {`'[0.00001]'`, `'[0.000010000000000000000818030539140313095458623138256371021270751953125]'`, `[0.00001]`}, {`'[-0.0]'`, `'[-0.0]'`, `[-0.0]`}, {`'[18446744073709551616]'`, `'[18446744073709551616]'`, `[1.8446744073709552e19]`}}, vals: []xval{
		{`'{"b": [1, 2], "a": 1}'`, `'{"b":[1,2],"a":1}'`, `{"a": 1, "b": [1, 2]}`},
		{`'{"bb": true, "a": null}'`, `'{"bb":true,"a":null}'`, `{"a": null, "bb": true}`},
		{`'{"a": 1, "a": 2}'`, `'{"a":2}'`, `{"a": 2}`}, {`'{"a": "2"}'`, `'{"a":"2"}'`, `{"a": "2"}`}}},
	{my: "varchar(20) collate utf8mb4_0900_ai_ci", pg: "text", note: "STRING: MySQL's default collation, bytes not collation", only: "mysql", vals: []xval{{"'café'", "'café'", "café"}, {"'cafe'", "'cafe'", "cafe"}, {"'Cafe'", "'Cafe'", "Cafe"}, {"'a '", "'a '", "a "}, {"'a'", "'a'", "a"}}},
	{my: "date", pg: "date", note: "DATE", vals: []xval{{"'2024-02-29'", "'2024-02-29'", "2024-02-29"}, {"'1000-01-01'", "'1000-01-01'", "1000-01-01"}, {"'9999-12-31'", "'9999-12-31'", "9999-12-31"}, {"'0000-00-00'", "NULL", "NULL"}}},
	{my: "datetime", pg: "timestamp(0)", note: "Timestamp", vals: []xval{{"'2024-01-01 10:00:00'", "'2024-01-01 10:00:00'", "2024-01-01 10:00:00"}, {"'2024-01-01 10:00:01'", "'2024-01-01 10:00:01'", "2024-01-01 10:00:01"}, {"'0000-00-00 00:00:00'", "NULL", "NULL"}}},
	{my: "datetime(6)", pg: "timestamp(6)", note: "MicroTimestamp", vals: []xval{{"'2024-01-01 10:00:00.123456'", "'2024-01-01 10:00:00.123456'", "2024-01-01 10:00:00.123456"}, {"'2024-01-01 10:00:00.000001'", "'2024-01-01 10:00:00.000001'", "2024-01-01 10:00:00.000001"}}},
	{my: "datetime(6)", pg: "timestamp(3)", note: "MicroTimestamp into a millisecond sink: rounded as PostgreSQL rounds", vals: []xval{{"'2024-01-01 12:00:00.123500'", "'2024-01-01 12:00:00.1235'", "2024-01-01 12:00:00.124"}, {"'2024-01-01 12:00:00.123449'", "'2024-01-01 12:00:00.123449'", "2024-01-01 12:00:00.123"}, {"'2024-12-31 23:59:59.999600'", "'2024-12-31 23:59:59.9996'", "2025-01-01 00:00:00"}}},
	{my: "timestamp(3)", pg: "timestamptz(3)", note: "ZonedTimestamp (UTC)", vals: []xval{{"'2024-06-01 12:00:00.250'", "'2024-06-01 14:00:00.25+02'", "2024-06-01 12:00:00.25"}, {"'2024-06-01 12:00:00.251'", "'2024-06-01 12:00:00.251+00'", "2024-06-01 12:00:00.251"}}},
	{my: "datetime", pg: "timestamptz", note: "Timestamp into timestamptz (UTC)", vals: []xval{{"'2024-01-01 00:00:00'", "'2024-01-01 00:00:00+00'", "2024-01-01 00:00:00"}}},
	{my: "time(3)", pg: "time(3)", note: "MicroTime", vals: []xval{{"'12:34:56.789'", "'12:34:56.789'", "12:34:56.789"}, {"'00:00:00'", "'00:00:00'", "00:00:00"}}},
	{my: "binary(4)", pg: "bytea", note: "BYTES (BINARY is zero-padded on both sides)", vals: []xval{{"0x00010203", `'\x00010203'`, "00010203"}, {"'ab'", `'\x61620000'`, "61620000"}}},
	{my: "varbinary(10)", pg: "bytea", note: "BYTES", vals: []xval{{"''", `'\x'`, ""}, {"0xff", `'\xff'`, "ff"}, {"NULL", "NULL", "NULL"}}},
	{my: "blob", pg: "bytea", note: "BYTES", vals: []xval{{"0xdeadbeef", `'\xdeadbeef'`, "deadbeef"}}},
	{my: "bit(1)", pg: "boolean", note: "BOOLEAN", vals: []xval{{"b'1'", "true", "true"}, {"b'0'", "false", "false"}, {"NULL", "NULL", "NULL"}}},
	{my: "bit(10)", pg: "bit(10)", note: "Bits", vals: []xval{{"b'1010101010'", "B'1010101010'", "1010101010"}, {"b'1'", "B'0000000001'", "0000000001"}}},
	{my: "uuid", pg: "uuid", note: "STRING (MariaDB 10.7+ UUID)", only: "mariadb", vals: []xval{{"'123e4567-e89b-12d3-a456-426614174000'", "'123e4567-e89b-12d3-a456-426614174000'", "123e4567-e89b-12d3-a456-426614174000"}}},
}

// Pairs that cannot be compared exactly are refused, naming the column.
var xrefused = []struct{ my, pg, why, only string }{
	{"json", "jsonb", "jsonb rewrites", "mariadb"},
	{"longtext", "jsonb", "jsonb rewrites", ""},
	{"double", "real", "double precision", ""},
	{"decimal(10,2)", "double precision", "not exact", ""},
	{"int", "text", "integer compares", ""},
	{"point", "point", "no exact canonical form", ""},
	{"tinyint", "boolean", "integer compares", ""},
	{"json", "text", "as documents", "mysql"},
	{"vector(3)", "text", "no exact canonical form", "mysql"},
}

// TestCrossEngineTypePairs is the table of every type pair on MariaDB.
func TestCrossEngineTypePairs(t *testing.T) { testTypePairs(t, onMariaDB) }

// TestCrossEngineTypePairsMySQL is the same table on MySQL
// (OFFSETCTL_MYSQL_URL), its own pairs included.
func TestCrossEngineTypePairsMySQL(t *testing.T) { testTypePairs(t, onMySQL) }

// testTypePairs is the table of every type pair: on a real MariaDB or
// MySQL and a real PostgreSQL, each value's canonical text is the one
// expected on both sides, equal values hash equal across the engines, and
// every different value of a pair hashes differently. The table itself is
// kept as a golden file (testdata/TestCrossEngineTypePairs/type-pairs.md,
// and TestCrossEngineTypePairsMySQL's).
func testTypePairs(t *testing.T, src xsource) {
	ctx := context.Background()
	my, pg := src.newDB(t), pgtest.NewDB(t)
	mdb := openMySQL(t, my)
	pconn := pgtest.Conn(t, pg)
	var doc strings.Builder
	doc.WriteString("| MariaDB/MySQL | PostgreSQL | mapping | " + src.name + " value | PostgreSQL value | canonical text |\n|---|---|---|---|---|---|\n")
	for i, tc := range xcases {
		if !src.has(tc.only) {
			continue
		}
		name := fmt.Sprintf("p%02d", i)
		var myIns, pgIns []string
		for j, v := range tc.vals {
			myIns = append(myIns, fmt.Sprintf("(%d, %s)", j, v.my))
			pgIns = append(pgIns, fmt.Sprintf("(%d, %s)", j, v.pg))
			fmt.Fprintf(&doc, "| %s | %s | %s | `%s` | `%s` | `%s` |\n", tc.my, tc.pg, tc.note, v.my, v.pg, strings.ReplaceAll(v.canon, "\n", `\n`))
		}
		for j, v := range tc.limits {
			myIns = append(myIns, fmt.Sprintf("(%d, %s)", len(tc.vals)+j, v.my))
			pgIns = append(pgIns, fmt.Sprintf("(%d, %s)", len(tc.vals)+j, v.pg))
			fmt.Fprintf(&doc, "| %s | %s | limit: compares as different | `%s` | `%s` | `%s` (source) |\n", tc.my, tc.pg, v.my, v.pg, v.canon)
		}
		mariadbtest.Exec(t, my, fmt.Sprintf("SET SESSION sql_mode = ''; SET time_zone = '+00:00'; CREATE TABLE %s (id int primary key, v %s); INSERT INTO %s VALUES %s",
			name, tc.my, name, strings.Join(myIns, ", ")))
		pgtest.Exec(t, pg, fmt.Sprintf("CREATE TABLE %s (id int primary key, v %s); INSERT INTO %s VALUES %s", name, tc.pg, name, strings.Join(pgIns, ", ")))
	}
	xs, err := beginMySQL(ctx, mdb, "source", &Spec{})
	if err != nil {
		t.Fatal(err)
	}
	defer xs.end(ctx)
	ps, err := begin(ctx, pconn, "sink", &Spec{})
	if err != nil {
		t.Fatal(err)
	}
	defer ps.end(ctx)
	if src.mysql == xs.mariadb {
		t.Fatalf("the source is %s, but beginMySQL took it for the other engine", xs.version)
	}
	for i, tc := range xcases {
		if !src.has(tc.only) {
			continue
		}
		name := fmt.Sprintf("p%02d", i)
		t.Run(fmt.Sprintf("%s/%s", tc.my, tc.pg), func(t *testing.T) {
			mt, err := introspectMySQL(ctx, xs.conn, xs.mariadb, TableName{Name: name}, "source")
			if err != nil {
				t.Fatal(err)
			}
			pt, err := introspect(ctx, ps.tx, TableName{Name: name}, "sink")
			if err != nil {
				t.Fatal(err)
			}
			mc, _ := mt.col("v")
			pc, _ := pt.col("v")
			p, err := makeXPair(mc, pc, PrecisionAuto)
			if err != nil {
				t.Fatal(err)
			}
			type got struct {
				canon *string
				hash  uint64
			}
			mine := map[int]got{}
			rows, err := xs.conn.QueryContext(ctx, "SELECT id, "+p.SrcExpr+", "+digestFor(xs.mariadb).myXHash(myRowCanon([]xpair{p}))+" FROM "+name)
			if err != nil {
				t.Fatalf("%v\n%s expression: %s", err, src.name, p.SrcExpr)
			}
			for rows.Next() {
				var id int
				var g got
				if err := rows.Scan(&id, &g.canon, &g.hash); err != nil {
					t.Fatal(err)
				}
				mine[id] = g
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			prow, err := ps.tx.Query(ctx, "SELECT id, "+p.DstExpr+", "+digestFor(xs.mariadb).pgXHash(pgRowCanon([]xpair{p}))+" FROM "+name)
			if err != nil {
				t.Fatalf("%v\nPostgreSQL expression: %s", err, p.DstExpr)
			}
			theirs := map[int]got{}
			for prow.Next() {
				var id int
				var g got
				var h int64
				if err := prow.Scan(&id, &g.canon, &h); err != nil {
					t.Fatal(err)
				}
				g.hash = uint64(h)
				theirs[id] = g
			}
			if err := prow.Err(); err != nil {
				t.Fatal(err)
			}
			str := func(s *string) string {
				if s == nil {
					return "NULL"
				}
				if *s == "NULL" {
					return "NULL-text"
				}
				return *s
			}
			for j, v := range tc.vals {
				m, g := mine[j], theirs[j]
				if str(m.canon) != v.canon || str(g.canon) != v.canon {
					t.Errorf("value %d (%s / %s): canonical text %s %q, PostgreSQL %q; want %q", j, v.my, v.pg, src.name, str(m.canon), str(g.canon), v.canon)
				}
				if m.hash != g.hash {
					t.Errorf("value %d (%s / %s): row hash %s %016x, PostgreSQL %016x: equal data must hash equal", j, v.my, v.pg, src.name, m.hash, g.hash)
				}
				for k := range j {
					same := false
					for _, s := range tc.sameSink {
						same = same || (s == [2]int{k, j})
					}
					if !same && mine[k].hash == m.hash {
						t.Errorf("values %d (%s) and %d (%s) differ but hash equal (%016x)", k, tc.vals[k].my, j, v.my, m.hash)
					}
				}
			}
			for j, v := range tc.limits {
				id := len(tc.vals) + j
				m, g := mine[id], theirs[id]
				if str(m.canon) != v.canon || str(g.canon) == v.canon || m.hash == g.hash {
					t.Errorf("limit %d (%s / %s): canonical text %s %q (want %q), PostgreSQL %q: want them to differ", j, v.my, v.pg, src.name, str(m.canon), v.canon, str(g.canon))
				}
			}
		})
	}
	for i, tc := range xrefused {
		if !src.has(tc.only) {
			continue
		}
		name := fmt.Sprintf("r%02d", i)
		t.Run("refused "+tc.my+"/"+tc.pg, func(t *testing.T) {
			mariadbtest.Exec(t, my, fmt.Sprintf("CREATE TABLE %s (id int primary key, v %s)", name, tc.my))
			pgtest.Exec(t, pg, fmt.Sprintf("CREATE TABLE %s (id int primary key, v %s)", name, tc.pg))
			xs, err := beginMySQL(ctx, mdb, "source", &Spec{})
			if err != nil {
				t.Fatal(err)
			}
			defer xs.end(ctx)
			mt, err := introspectMySQL(ctx, xs.conn, xs.mariadb, TableName{Name: name}, "source")
			if err != nil {
				t.Fatal(err)
			}
			ps, err := begin(ctx, pgtest.Conn(t, pg), "sink", &Spec{})
			if err != nil {
				t.Fatal(err)
			}
			defer ps.end(ctx)
			pt, err := introspect(ctx, ps.tx, TableName{Name: name}, "sink")
			if err != nil {
				t.Fatal(err)
			}
			mc, _ := mt.col("v")
			pc, _ := pt.col("v")
			_, err = makeXPair(mc, pc, PrecisionAuto)
			if !errors.Is(err, ErrNotComparable) || !strings.Contains(err.Error(), `column "v"`) || !strings.Contains(err.Error(), tc.why) {
				t.Errorf("error %v; want ErrNotComparable naming column \"v\" and saying %q", err, tc.why)
			}
			fmt.Fprintf(&doc, "| %s | %s | refused: %s | | | |\n", tc.my, tc.pg, tc.why)
		})
	}
	goldens.Assert(t, "type-pairs.md", []byte(doc.String()))
}
