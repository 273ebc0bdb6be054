package reconcile

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// The canonical row form across engines.
//
// A MariaDB/MySQL source and its PostgreSQL sink cannot share PostgreSQL's
// record text and hashtextextended: MariaDB has neither. Instead both
// databases compute, for every compared column, one canonical UTF-8 text
// that is equal for equal data as Debezium's JDBC sink writes it (the
// classes below), frame each as LENGTH ':' TEXT (octet length, so NULL,
// the empty string and any separator stay distinct; NULL is "-"), join the
// frames with ',' and hash the result with MD5 (SHA-256 when the source is
// MySQL: see xdigest), of which the first 64 bits are the row hash. A row's
// hash is therefore the same number whichever database computed it, and
// checksums (count and sum of row hashes modulo 2^64) of equal tables are
// equal.
//
// Pairs whose values cannot be brought to one text exactly (MariaDB JSON against
// jsonb, floats against a type of another width, types without a class)
// are refused with ErrNotComparable naming the column: never a silent false
// "equal".

// myColumn is one column of a MariaDB/MySQL table, from information_schema.
type myColumn struct {
	Name       string
	DataType   string // information_schema DATA_TYPE, lower case: "int", "datetime", ...
	ColumnType string // COLUMN_TYPE: "tinyint(1) unsigned", "enum('a','b')", ...
	Scale      int    // NUMERIC_SCALE (decimal)
	Precision  int    // DATETIME_PRECISION (datetime, timestamp, time) or bits (bit)
	NotNull    bool
	JSON       bool   // a JSON column (MariaDB: longtext with a json_valid check)
	Charset    string // CHARACTER_SET_NAME of a character column ("" for others and MySQL's JSON)
}

func (c myColumn) unsigned() bool { return strings.Contains(c.ColumnType, "unsigned") }

// myTable is a MariaDB/MySQL table as introspected.
type myTable struct {
	Name     TableName // Schema is the database
	Ident    string    // quoted, qualified
	Cols     []myColumn
	PK       []string
	Estimate int64
}

func (t *myTable) col(name string) (myColumn, bool) {
	for _, c := range t.Cols {
		if c.Name == name {
			return c, true
		}
	}
	return myColumn{}, false
}

// introspectMySQL reads a table's columns and primary key from
// information_schema. An unqualified name is looked up in the URL's
// database. MariaDB's JSON is a LONGTEXT alias with a json_valid CHECK
// constraint (information_schema.CHECK_CONSTRAINTS, which has TABLE_NAME
// there); MySQL's is a data type of its own, and its CHECK_CONSTRAINTS has
// no TABLE_NAME.
func introspectMySQL(ctx context.Context, q *sql.Conn, mariadb bool, name TableName, side string) (*myTable, error) {
	schema := name.Schema
	if schema == "" {
		var db sql.NullString
		if err := q.QueryRowContext(ctx, "SELECT DATABASE()").Scan(&db); err != nil {
			return nil, fmt.Errorf("reading the current database of the %s: %w", side, err)
		}
		if !db.Valid {
			return nil, fmt.Errorf("%s table %s names no database and the %s URL names none: write DATABASE.TABLE or add /DATABASE to the URL", side, name, side)
		}
		schema = db.String
	}
	t := &myTable{Name: TableName{Schema: schema, Name: name.Name}, Ident: quoteMySQLIdent(schema, name.Name)}
	var est sql.NullInt64
	var ttype string
	err := q.QueryRowContext(ctx, "SELECT TABLE_TYPE, TABLE_ROWS FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?", schema, name.Name).Scan(&ttype, &est)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%s table %s does not exist (or is not visible to this user)", side, t.Name)
	}
	if err != nil {
		return nil, fmt.Errorf("looking up %s table %s: %w", side, t.Name, err)
	}
	t.Estimate = est.Int64
	jsonCheck := "FALSE"
	if mariadb {
		jsonCheck = `EXISTS (SELECT 1 FROM information_schema.CHECK_CONSTRAINTS k
				WHERE k.CONSTRAINT_SCHEMA = c.TABLE_SCHEMA AND k.TABLE_NAME = c.TABLE_NAME
				AND k.CHECK_CLAUSE LIKE CONCAT('%json_valid(` + "`" + `', c.COLUMN_NAME, '` + "`" + `)%'))`
	}
	rows, err := q.QueryContext(ctx, `SELECT c.COLUMN_NAME, LOWER(c.DATA_TYPE), LOWER(c.COLUMN_TYPE), COALESCE(c.NUMERIC_SCALE, 0),
			COALESCE(c.DATETIME_PRECISION, CASE WHEN LOWER(c.DATA_TYPE) = 'bit' THEN c.NUMERIC_PRECISION ELSE 0 END, 0),
			c.IS_NULLABLE = 'NO', `+jsonCheck+`
		FROM information_schema.COLUMNS c
		WHERE c.TABLE_SCHEMA = ? AND c.TABLE_NAME = ? ORDER BY c.ORDINAL_POSITION`, schema, name.Name)
	if err != nil {
		return nil, fmt.Errorf("reading the columns of %s table %s: %w", side, t.Name, err)
	}
	defer rows.Close()
	for rows.Next() {
		var c myColumn
		if err := rows.Scan(&c.Name, &c.DataType, &c.ColumnType, &c.Scale, &c.Precision, &c.NotNull, &c.JSON); err != nil {
			return nil, fmt.Errorf("reading the columns of %s table %s: %w", side, t.Name, err)
		}
		if c.DataType == "json" {
			c.JSON = true // MySQL's own JSON type
		}
		t.Cols = append(t.Cols, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading the columns of %s table %s: %w", side, t.Name, err)
	}
	// The character sets in a query of their own: MariaDB 10.11.19 crashes
	// when CHARACTER_SET_NAME is added to the query above (its temporary
	// table for information_schema with the CHECK_CONSTRAINTS subquery).
	cs, err := q.QueryContext(ctx, `SELECT COLUMN_NAME, COALESCE(CHARACTER_SET_NAME, '') FROM information_schema.COLUMNS
		WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?`, schema, name.Name)
	if err != nil {
		return nil, fmt.Errorf("reading the character sets of %s table %s: %w", side, t.Name, err)
	}
	defer cs.Close()
	for cs.Next() {
		var col, charset string
		if err := cs.Scan(&col, &charset); err != nil {
			return nil, fmt.Errorf("reading the character sets of %s table %s: %w", side, t.Name, err)
		}
		for i := range t.Cols {
			if t.Cols[i].Name == col {
				t.Cols[i].Charset = charset
			}
		}
	}
	if err := cs.Err(); err != nil {
		return nil, fmt.Errorf("reading the character sets of %s table %s: %w", side, t.Name, err)
	}
	pk, err := q.QueryContext(ctx, `SELECT COLUMN_NAME FROM information_schema.STATISTICS
		WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND INDEX_NAME = 'PRIMARY' ORDER BY SEQ_IN_INDEX`, schema, name.Name)
	if err != nil {
		return nil, fmt.Errorf("reading the primary key of %s table %s: %w", side, t.Name, err)
	}
	defer pk.Close()
	for pk.Next() {
		var n string
		if err := pk.Scan(&n); err != nil {
			return nil, fmt.Errorf("reading the primary key of %s table %s: %w", side, t.Name, err)
		}
		t.PK = append(t.PK, n)
	}
	return t, pk.Err()
}

// Canonical classes: what the canonical text of a pair is.
const (
	classInt       = "integer"   // decimal digits, '-' for negatives
	classDecimal   = "decimal"   // decimal, no trailing fractional zeros, no '.' when integral
	classFloat     = "float"     // shortest round-trip digits, exponent as e[-]N
	classText      = "text"      // the characters, UTF-8 bytes
	classBool      = "boolean"   // true | false
	classDate      = "date"      // YYYY-MM-DD
	classTimestamp = "timestamp" // YYYY-MM-DD HH:MM:SS[.f...] in UTC, rounded to the compared digits, no trailing zeros
	classTime      = "time"      // HH:MM:SS[.f...] rounded to the compared digits, no trailing zeros
	classBinary    = "binary"    // lower-case hex of the bytes
	classBits      = "bits"      // '0'/'1' per bit, declared width
	classUUID      = "uuid"      // lower-case 8-4-4-4-12 hex
)

// xpair is one compared column across engines.
type xpair struct {
	Src     myColumn
	Dst     column
	Class   string
	SrcExpr string // MariaDB/MySQL expression of the canonical text (NULL for NULL)
	DstExpr string // PostgreSQL expression of the canonical text
	Digits  int    // fractional second digits compared (timestamps, times)
	Key     bool
}

// srcClass is the class of a MariaDB/MySQL column on its own.
func srcClass(c myColumn) string {
	switch c.DataType {
	case "tinyint", "smallint", "mediumint", "int", "integer", "bigint", "year":
		return classInt
	case "decimal", "numeric":
		return classDecimal
	case "float", "double", "real":
		return classFloat
	case "char", "varchar", "tinytext", "text", "mediumtext", "longtext", "enum", "set", "json":
		return classText
	case "date":
		return classDate
	case "datetime", "timestamp":
		return classTimestamp
	case "time":
		return classTime
	case "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob":
		return classBinary
	case "bit":
		return classBits
	case "uuid":
		return classUUID
	}
	return ""
}

// makeXPair decides how a MariaDB/MySQL column and a PostgreSQL column are
// compared, or says why they cannot be compared exactly.
func makeXPair(sc myColumn, dc column, prec Precision) (xpair, error) {
	p := xpair{Src: sc, Dst: dc}
	mi := quoteMySQLIdent(sc.Name)
	pi := pgx.Identifier{dc.Name}.Sanitize()
	refuse := func(why string) (xpair, error) {
		return p, fmt.Errorf("%w: column %q is %s in the MariaDB/MySQL source and %s in the PostgreSQL sink: %s; ignore it (ignore_columns, --ignore) or compare a view that casts it",
			ErrNotComparable, sc.Name, sc.ColumnType, dc.Type, why)
	}
	class := srcClass(sc)
	switch {
	case class == "":
		return refuse("offsetctl has no exact canonical form for this source type")
	case sc.DataType == "json":
		// MySQL's JSON is a binary type: it keeps a document, not the text
		// it was given, and prints it normalized (keys by length then
		// bytes, one space after ':' and ','). Debezium sends that text
		// (snapshot) or a compact one (binlog), so the sink's json column
		// holds either; jsonb prints a document just so. Compared as
		// documents: MySQL's text against the sink's ::jsonb::text.
		if dc.Kind != kindJSON {
			return refuse("MySQL's JSON compares with a json or jsonb column (as documents); as text, equal documents could be spelled differently")
		}
		p.Class, p.SrcExpr, p.DstExpr = classText, myUTF8(mi, sc), pi+"::jsonb::text"
		return p, nil
	case sc.JSON || dc.Kind == kindJSON:
		// MariaDB keeps JSON as the text it was given and Debezium sends
		// that text; PostgreSQL json keeps it verbatim, jsonb rewrites it
		// (key order, spaces, duplicate keys).
		if !(sc.JSON || class == classText) || dc.Typname != "json" {
			return refuse("JSON is compared exactly only against a json column (which keeps the text as written); jsonb rewrites keys and spaces, so equal documents could not be told from different ones")
		}
		p.Class, p.SrcExpr, p.DstExpr = classText, myUTF8(mi, sc), pi+"::text"
		return p, nil
	}
	switch class {
	case classInt:
		tinyBool := sc.DataType == "tinyint" && strings.HasPrefix(sc.ColumnType, "tinyint(1)")
		switch {
		case dc.Kind == kindBool && tinyBool:
			// TINYINT(1)/BOOLEAN written as boolean (Debezium's
			// TinyIntOneToBooleanConverter): zero is false.
			p.Class, p.SrcExpr, p.DstExpr = classBool, "CASE WHEN "+mi+" <> 0 THEN 'true' WHEN "+mi+" = 0 THEN 'false' END", pi+"::text"
		case dc.Kind == kindInt && sc.DataType == "bigint" && sc.unsigned():
			// bigint.unsigned.handling.mode=long (Debezium's default)
			// writes values above 2^63-1 as their two's complement.
			p.Class, p.SrcExpr, p.DstExpr = classInt, "CAST(CAST("+mi+" AS SIGNED) AS CHAR)", pi+"::text"
		case dc.Kind == kindInt:
			p.Class, p.SrcExpr, p.DstExpr = classInt, "CAST("+mi+" AS CHAR)", pi+"::text"
		case dc.Kind == kindNumeric:
			p.Class, p.SrcExpr, p.DstExpr = classInt, "CAST("+mi+" AS CHAR)", "trim_scale("+pi+")::text"
		default:
			return refuse("an integer compares with an integer or numeric column (or boolean for TINYINT(1))")
		}
	case classDecimal:
		src := "CAST(" + mi + " AS CHAR)"
		if sc.Scale > 0 {
			src = "TRIM(TRAILING '.' FROM TRIM(TRAILING '0' FROM CAST(" + mi + " AS CHAR)))"
		}
		switch dc.Kind {
		case kindNumeric:
			p.Class, p.SrcExpr, p.DstExpr = classDecimal, src, "trim_scale("+pi+")::text"
		case kindInt:
			p.Class, p.SrcExpr, p.DstExpr = classDecimal, src, pi+"::text"
		default:
			return refuse("a DECIMAL compares with a numeric or integer column (decimal.handling.mode=precise); as double or string it is not exact")
		}
	case classFloat:
		want := "float8"
		if sc.DataType == "float" {
			want = "float4"
		}
		if dc.Kind != kindFloat || dc.Typname != want {
			return refuse("a " + strings.ToUpper(sc.DataType) + " compares exactly only with " + map[string]string{"float4": "real (float4)", "float8": "double precision (float8)"}[want] + ", the type the JDBC sink creates for it")
		}
		// Both print the shortest digits that read back to the same
		// value; only the exponent is spelled differently (1e20, 1e+20;
		// 1e-7, 1e-07) and where each switches to exponent notation, so
		// both are brought to one spelling (floatCanonMy, floatCanonPG).
		p.Class, p.SrcExpr, p.DstExpr = classFloat, floatCanonMy(mi), floatCanonPG(pi)
	case classText:
		switch {
		case dc.Kind == kindText:
			// MariaDB returns CHAR without its trailing pad spaces and
			// PostgreSQL's char(n)::text drops them too; VARCHAR and TEXT
			// keep theirs on both sides. Compared as UTF-8 bytes, not by
			// either side's collation.
			p.Class, p.SrcExpr, p.DstExpr = classText, myUTF8(mi, sc), pi+"::text"
		case dc.Kind == kindOther && dc.Typname != "" && isPGEnum(dc):
			p.Class, p.SrcExpr, p.DstExpr = classText, myUTF8(mi, sc), pi+"::text"
		default:
			return refuse("text, ENUM and SET compare with a text, varchar, char or enum column")
		}
	case classDate:
		if dc.Kind != kindDate {
			return refuse("a DATE compares with a date column")
		}
		// Zero dates ('0000-00-00') are written as NULL by Debezium.
		p.Class = classDate
		p.SrcExpr = "IF(MONTH(" + mi + ") = 0 OR DAYOFMONTH(" + mi + ") = 0, NULL, CAST(" + mi + " AS CHAR))"
		p.DstExpr = pi + "::text"
	case classTimestamp:
		if dc.Kind != kindTimestamp {
			return refuse("a DATETIME or TIMESTAMP compares with a timestamp or timestamptz column")
		}
		p.Digits = min(max(sc.Precision, 0), dc.tsDigits())
		if prec != PrecisionAuto {
			p.Digits = prec.digits()
		}
		// The session runs in UTC: TIMESTAMP columns read as UTC, and
		// DATETIME columns are taken to hold UTC (as Debezium sends them).
		// CAST rounds (TIME_ROUND_FRACTIONAL), as PostgreSQL rounds. The
		// text is PostgreSQL's own for a timestamp (ISO, fractional
		// digits without trailing zeros), which it prints cheaply.
		p.Class = classTimestamp
		p.SrcExpr = "IF(MONTH(" + mi + ") = 0 OR DAYOFMONTH(" + mi + ") = 0, NULL, " + trimFraction(mi, sc.Precision, p.Digits, "DATETIME") + ")"
		p.DstExpr = tsExpr(pi, dc, p.Digits) + "::text"
	case classTime:
		if dc.Typname != "time" {
			return refuse("a TIME compares with a time column")
		}
		d := dc.Typmod
		if d < 0 || d > 6 {
			d = 6
		}
		p.Digits = min(sc.Precision, int(d))
		if prec != PrecisionAuto {
			p.Digits = prec.digits()
		}
		p.Class = classTime
		p.SrcExpr = trimFraction(mi, sc.Precision, p.Digits, "TIME")
		p.DstExpr = fmt.Sprintf("%s::time(%d)::text", pi, p.Digits)
	case classBinary:
		if dc.Typname != "bytea" {
			return refuse("binary types compare with a bytea column")
		}
		p.Class, p.SrcExpr, p.DstExpr = classBinary, "LOWER(HEX("+mi+"))", "encode("+pi+", 'hex')"
	case classBits:
		switch {
		case sc.Precision == 1 && dc.Kind == kindBool:
			p.Class, p.SrcExpr, p.DstExpr = classBool, "CASE WHEN "+mi+" + 0 <> 0 THEN 'true' WHEN "+mi+" + 0 = 0 THEN 'false' END", pi+"::text"
		case dc.Typname == "bit" || dc.Typname == "varbit":
			p.Class = classBits
			p.SrcExpr = fmt.Sprintf("LPAD(BIN(%s + 0), %d, '0')", mi, sc.Precision)
			p.DstExpr = pi + "::text"
		default:
			return refuse("BIT(1) compares with boolean, BIT(n) with bit(n) or bit varying")
		}
	case classUUID:
		if dc.Kind != kindUUID && dc.Kind != kindText {
			return refuse("a UUID compares with a uuid or text column")
		}
		p.Class, p.SrcExpr, p.DstExpr = classUUID, "CAST("+mi+" AS CHAR)", pi+"::text"
	}
	return p, nil
}

// myUTF8 is the UTF-8 text of a character column: the column itself when
// it is stored in utf8mb4 already (CONVERT to the same character set
// changes no byte but costs about a tenth of a second per million rows and
// column), converted otherwise (latin1, utf8mb3, MySQL's binary JSON).
func myUTF8(mi string, sc myColumn) string {
	if sc.Charset == "utf8mb4" {
		return mi
	}
	return "CONVERT(" + mi + " USING utf8mb4)"
}

// trimFraction is the MariaDB/MySQL text of a DATETIME or TIME column of
// precision have rounded to digits fractional digits, as PostgreSQL prints
// it: no trailing zeros in the fraction, no '.' when it is all zeros.
func trimFraction(mi string, have, digits int, typ string) string {
	v := mi
	if digits < have {
		v = fmt.Sprintf("CAST(%s AS %s(%d))", mi, typ, digits)
	}
	if min(have, digits) == 0 {
		return "CAST(" + v + " AS CHAR)" // printed without a fraction
	}
	return "TRIM(TRAILING '.' FROM TRIM(TRAILING '0' FROM CAST(" + v + " AS CHAR)))"
}

// isPGEnum says whether a PostgreSQL column is of an enum type (kindOf
// maps enums to kindText already; this catches domains over them).
func isPGEnum(c column) bool { return c.Kind == kindText }

// The canonical float: both engines print the shortest digits that read
// back to the same double, but spell them differently (MariaDB 1e15,
// 0.0000001; PostgreSQL 1e+15, 1e-07) and switch to exponent notation at
// different thresholds. Both are rewritten to one spelling: the significant
// digits d (no leading or trailing zeros) and the exponent e of 0.d × 10^e,
// as "[-]de<e>"; zero (either sign) is "0". FLOAT columns are read as
// DOUBLE and real columns as float8 (exact widenings), because MariaDB
// prints a FLOAT with six digits only.

// floatCanon builds the rewrite from the engine's string functions.
func floatCanon(t string, f floatFuncs) string {
	a := f.ltrimMinus(t)
	mant := f.before(a, "e")
	ex := f.expo(a)
	ip := f.before(mant, ".")
	fp := f.after(mant, ".")
	dg := f.concat(ip, fp)
	lt := f.ltrimZero(dg)
	d := f.rtrimZero(lt)
	exp := "(" + ex + " + " + f.length(ip) + " - (" + f.length(dg) + " - " + f.length(lt) + "))"
	return "CASE WHEN " + t + " IS NULL THEN NULL WHEN " + d + " = '' THEN '0' " +
		"ELSE " + f.concat("CASE WHEN "+t+" LIKE '-%' THEN '-' ELSE '' END", d, "'e'", f.text(exp)) + " END"
}

type floatFuncs struct {
	ltrimMinus, ltrimZero, rtrimZero, length, text func(string) string
	before, after                                  func(s, sep string) string
	expo                                           func(string) string
	concat                                         func(...string) string
}

var myFloatFuncs = floatFuncs{
	ltrimMinus: func(s string) string { return "TRIM(LEADING '-' FROM " + s + ")" },
	ltrimZero:  func(s string) string { return "TRIM(LEADING '0' FROM " + s + ")" },
	rtrimZero:  func(s string) string { return "TRIM(TRAILING '0' FROM " + s + ")" },
	length:     func(s string) string { return "CHAR_LENGTH(" + s + ")" },
	text:       func(s string) string { return "CAST(" + s + " AS CHAR)" },
	before:     func(s, sep string) string { return "SUBSTRING_INDEX(" + s + ", '" + sep + "', 1)" },
	after: func(s, sep string) string {
		return "IF(LOCATE('" + sep + "', " + s + ") > 0, SUBSTRING_INDEX(" + s + ", '" + sep + "', -1), '')"
	},
	expo: func(s string) string {
		return "IF(LOCATE('e', " + s + ") > 0, CAST(SUBSTRING_INDEX(" + s + ", 'e', -1) AS SIGNED), 0)"
	},
	concat: func(p ...string) string { return "CONCAT(" + strings.Join(p, ", ") + ")" },
}

var pgFloatFuncs = floatFuncs{
	ltrimMinus: func(s string) string { return "ltrim(" + s + ", '-')" },
	ltrimZero:  func(s string) string { return "ltrim(" + s + ", '0')" },
	rtrimZero:  func(s string) string { return "rtrim(" + s + ", '0')" },
	length:     func(s string) string { return "length(" + s + ")" },
	text:       func(s string) string { return s + "::text" },
	before:     func(s, sep string) string { return "split_part(" + s + ", '" + sep + "', 1)" },
	after:      func(s, sep string) string { return "split_part(" + s + ", '" + sep + "', 2)" },
	expo:       func(s string) string { return "coalesce(nullif(split_part(" + s + ", 'e', 2), '')::int, 0)" },
	concat:     func(p ...string) string { return "(" + strings.Join(p, " || ") + ")" },
}

// floatCanonMy is the canonical float text of a MariaDB/MySQL column.
func floatCanonMy(mi string) string {
	return floatCanon("CAST(CAST("+mi+" AS DOUBLE) AS CHAR)", myFloatFuncs)
}

// floatCanonPG is the canonical float text of a PostgreSQL column. NaN
// and infinities, which MariaDB cannot store, come out as themselves.
func floatCanonPG(pi string) string {
	t := pi + "::float8::text"
	return "CASE WHEN " + pi + " IN ('NaN', 'Infinity', '-Infinity') THEN " + pi + "::text ELSE " + floatCanon(t, pgFloatFuncs) + " END"
}

// The row's canonical text is the canonical texts of its columns joined
// with ','. A text column (text, ENUM, SET, JSON: anything may be in it) is
// framed as OCTET_LENGTH ':' TEXT; the other classes never hold a ',' and
// go as they are. NULL is '-', which no canonical text of a non-text class
// is, and which a framed text never is. So the joined text is unambiguous.

// framed says whether a pair's canonical text is length-framed.
func framed(p xpair) bool { return p.Class == classText }

// pgRowCanon is the PostgreSQL expression of a row's canonical text.
func pgRowCanon(pairs []xpair) string {
	parts := make([]string, len(pairs))
	for i, p := range pairs {
		e := p.DstExpr
		if framed(p) {
			parts[i] = "coalesce(octet_length(" + e + ")::text || ':' || " + e + ", '-')"
		} else {
			parts[i] = "coalesce(" + e + ", '-')"
		}
	}
	return strings.Join(parts, " || ',' || ")
}

// myRowCanon is the MariaDB/MySQL expression of a row's canonical text.
func myRowCanon(pairs []xpair) string {
	parts := make([]string, len(pairs))
	for i, p := range pairs {
		e := p.SrcExpr
		if framed(p) {
			parts[i] = "COALESCE(CONCAT(OCTET_LENGTH(" + e + "), ':', " + e + "), '-')"
		} else {
			parts[i] = "COALESCE(" + e + ", '-')"
		}
	}
	return "CONCAT_WS(',', " + strings.Join(parts, ", ") + ")"
}

// xdigest is the digest both databases hash canonical texts with: MD5 for
// a MariaDB source; SHA-256 for a MySQL one, which has SHA2() always but
// MD5() not always (MySQL 9.7 has it only once component_classic_hashing
// is installed; in FIPS mode it returns NULL).
type xdigest struct{ sha256 bool }

// digestFor is the digest of a source: MariaDB or not.
func digestFor(mariadb bool) xdigest { return xdigest{sha256: !mariadb} }

// my is the lower-case hex digest of text c in MariaDB/MySQL.
func (d xdigest) my(c string) string {
	if d.sha256 {
		return "SHA2(" + c + ", 256)"
	}
	return "MD5(" + c + ")"
}

// pg is the same lower-case hex digest in PostgreSQL, of c's UTF-8 bytes
// (the sink database is UTF8).
func (d xdigest) pg(c string) string {
	if d.sha256 {
		return "encode(sha256(convert_to(" + c + ", 'UTF8')), 'hex')"
	}
	return "md5(" + c + ")"
}

// pgXHash is the 64-bit row hash of canonical text c in PostgreSQL (a
// signed int8 carrying the first 64 bits of its digest).
func (d xdigest) pgXHash(c string) string {
	return "('x' || left(" + d.pg(c) + ", 16))::bit(64)::int8"
}

// myXHash is the same hash in MariaDB/MySQL, as BIGINT UNSIGNED.
func (d xdigest) myXHash(c string) string {
	return "CAST(CONV(LEFT(" + d.my(c) + ", 16), 16, 10) AS UNSIGNED)"
}
