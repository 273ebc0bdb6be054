package reconcile

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"
)

// kind is how a column's values are canonicalised and compared.
type kind int

const (
	kindOther kind = iota // same type required; compared by its text
	kindInt
	kindNumeric
	kindFloat
	kindText
	kindUUID
	kindTimestamp
	kindJSON
	kindBool
	kindDate
)

// family groups kinds that can be compared with each other.
func (k kind) family() string {
	switch k {
	case kindInt, kindNumeric:
		return "number"
	case kindFloat:
		return "float"
	case kindText:
		return "text"
	case kindUUID:
		return "uuid"
	case kindTimestamp:
		return "timestamp"
	case kindJSON:
		return "json"
	case kindBool:
		return "boolean"
	case kindDate:
		return "date"
	}
	return "other"
}

func kindOf(typname string, typtype string) kind {
	switch typname {
	case "int2", "int4", "int8":
		return kindInt
	case "numeric":
		return kindNumeric
	case "float4", "float8":
		return kindFloat
	case "text", "varchar", "bpchar", "name", "citext":
		return kindText
	case "uuid":
		return kindUUID
	case "timestamp", "timestamptz":
		return kindTimestamp
	case "json", "jsonb":
		return kindJSON
	case "bool":
		return kindBool
	case "date":
		return kindDate
	}
	if typtype == "e" {
		return kindText // enums compare by their label
	}
	return kindOther
}

// column is one column of a table as introspected.
type column struct {
	Name    string
	Type    string // format_type, e.g. "timestamp(3) without time zone"
	Typname string // the base type's name, e.g. "timestamp"
	Kind    kind
	Typmod  int32
	NotNull bool
}

// tsDigits is the declared fractional-second precision of a timestamp column.
func (c column) tsDigits() int {
	if c.Typmod >= 0 && c.Typmod <= 6 {
		return int(c.Typmod)
	}
	return 6
}

// table is one side's table as introspected.
type table struct {
	OID      uint32    // pg_class.oid, to tell whether two names are one table
	Name     TableName // resolved: schema always set
	Ident    string    // quoted, qualified identifier for SQL text
	Cols     []column
	PK       []string
	Estimate int64 // pg_class.reltuples, or a guess from the table's size
}

func (t *table) col(name string) (column, bool) {
	for _, c := range t.Cols {
		if c.Name == name {
			return c, true
		}
	}
	return column{}, false
}

// introspect reads a table's columns and primary key.
func introspect(ctx context.Context, q pgx.Tx, name TableName, side string) (*table, error) {
	ident := pgx.Identifier{name.Name}
	if name.Schema != "" {
		ident = pgx.Identifier{name.Schema, name.Name}
	}
	var (
		oid      uint32
		schema   string
		relname  string
		relkind  string
		estimate float64
	)
	// reltuples is -1 until the table is first vacuumed or analyzed: guess
	// from its size then (about 100 bytes a row).
	err := q.QueryRow(ctx, `SELECT c.oid, n.nspname, c.relname, c.relkind::text,
			CASE WHEN c.reltuples < 0 THEN pg_relation_size(c.oid) / 100.0 ELSE c.reltuples END::float8
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.oid = to_regclass($1)`, ident.Sanitize()).Scan(&oid, &schema, &relname, &relkind, &estimate)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("%s table %s does not exist (or is not visible to this user)", side, name)
	}
	if err != nil {
		return nil, fmt.Errorf("looking up %s table %s: %w", side, name, err)
	}
	switch relkind {
	case "r", "p", "v", "m", "f":
	default:
		return nil, fmt.Errorf("%s relation %s is not a table, view or materialized view", side, name)
	}
	t := &table{OID: oid, Name: TableName{Schema: schema, Name: relname}, Estimate: int64(estimate)}
	t.Ident = pgx.Identifier{schema, relname}.Sanitize()
	rows, err := q.Query(ctx, `SELECT a.attname, format_type(a.atttypid, a.atttypmod),
			coalesce(bt.typname, t.typname), CASE WHEN t.typtype = 'd' THEN coalesce(bt.typtype::text, 'b') ELSE t.typtype::text END,
			CASE WHEN t.typtype = 'd' THEN t.typtypmod ELSE a.atttypmod END, a.attnotnull
		FROM pg_attribute a
		JOIN pg_type t ON t.oid = a.atttypid
		LEFT JOIN pg_type bt ON t.typtype = 'd' AND bt.oid = t.typbasetype
		WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
		ORDER BY a.attnum`, oid)
	if err != nil {
		return nil, fmt.Errorf("reading the columns of %s table %s: %w", side, t.Name, err)
	}
	for rows.Next() {
		var c column
		var typtype string
		if err := rows.Scan(&c.Name, &c.Type, &c.Typname, &typtype, &c.Typmod, &c.NotNull); err != nil {
			return nil, fmt.Errorf("reading the columns of %s table %s: %w", side, t.Name, err)
		}
		c.Kind = kindOf(c.Typname, typtype)
		t.Cols = append(t.Cols, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading the columns of %s table %s: %w", side, t.Name, err)
	}
	rows, err = q.Query(ctx, `SELECT a.attname
		FROM pg_index i
		CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
		JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
		WHERE i.indrelid = $1 AND i.indisprimary
		ORDER BY k.ord`, oid)
	if err != nil {
		return nil, fmt.Errorf("reading the primary key of %s table %s: %w", side, t.Name, err)
	}
	t.PK, err = pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("reading the primary key of %s table %s: %w", side, t.Name, err)
	}
	return t, nil
}

// pair is one compared column: its source and sink sides and the canonical
// expressions that make them comparable.
type pair struct {
	Src, Dst         column
	SrcExpr, DstExpr string // canonical SQL expression, same text output for equal values
	Key              bool
	Digits           int // timestamp precision used, for timestamps
}

// mapping is the resolved comparison of two tables.
type mapping struct {
	Src, Dst *table
	Pairs    []pair // source column order; keys first
	Keys     int    // Pairs[:Keys] are the key columns
	Ignored  []string
}

// buildMapping matches the columns of both tables according to spec.
func buildMapping(src, dst *table, spec *Spec) (*mapping, error) {
	rename := map[string]string{}
	for k, v := range spec.Rename {
		rename[k] = v
	}
	var only []string
	for _, c := range spec.Columns {
		s, d, ok := strings.Cut(c, "=")
		if ok {
			rename[s] = d
		}
		only = append(only, s)
	}
	ignored := map[string]bool{}
	for _, c := range spec.Ignore {
		ignored[c] = true
	}
	for s := range rename {
		if _, ok := src.col(s); !ok {
			return nil, fmt.Errorf("%w: the column mapping names source column %q, which %s does not have", ErrNotComparable, s, src.Name)
		}
	}
	for _, c := range spec.Ignore {
		_, inSrc := src.col(c)
		_, inDst := dst.col(c)
		if !inSrc && !inDst {
			return nil, fmt.Errorf("%w: ignored column %q exists in neither %s nor %s", ErrNotComparable, c, src.Name, dst.Name)
		}
	}
	dstName := func(s string) string {
		if d, ok := rename[s]; ok {
			return d
		}
		return s
	}

	// The key.
	keyCols := spec.Key
	if len(keyCols) == 0 {
		keyCols = src.PK
		if len(keyCols) == 0 {
			return nil, fmt.Errorf("%w: source table %s has no primary key; name a unique, NOT NULL key with key (--key)", ErrNotComparable, src.Name)
		}
	}
	m := &mapping{Src: src, Dst: dst}
	isKey := map[string]bool{}
	for _, k := range keyCols {
		sc, ok := src.col(k)
		if !ok {
			return nil, fmt.Errorf("%w: key column %q does not exist in source table %s", ErrNotComparable, k, src.Name)
		}
		dc, ok := dst.col(dstName(k))
		if !ok {
			return nil, fmt.Errorf("%w: key column %q does not exist in sink table %s (map it with SOURCE=SINK in columns)", ErrNotComparable, dstName(k), dst.Name)
		}
		if ignored[k] {
			return nil, fmt.Errorf("%w: key column %q cannot be ignored", ErrNotComparable, k)
		}
		p, err := makePair(sc, dc, spec.TimestampPrecision)
		if err != nil {
			return nil, err
		}
		if p.Src.Kind == kindFloat || p.Src.Kind == kindJSON {
			return nil, fmt.Errorf("%w: key column %q has type %s, which cannot serve as a key here (use an integer, text, uuid, numeric or timestamp key)", ErrNotComparable, k, sc.Type)
		}
		p.Key = true
		isKey[k] = true
		m.Pairs = append(m.Pairs, p)
	}
	m.Keys = len(m.Pairs)

	// The other columns.
	usedDst := map[string]bool{}
	for _, p := range m.Pairs {
		usedDst[p.Dst.Name] = true
	}
	if len(only) > 0 {
		for _, s := range only {
			if isKey[s] {
				continue
			}
			sc, ok := src.col(s)
			if !ok {
				return nil, fmt.Errorf("%w: column %q does not exist in source table %s", ErrNotComparable, s, src.Name)
			}
			dc, ok := dst.col(dstName(s))
			if !ok {
				return nil, fmt.Errorf("%w: column %q does not exist in sink table %s (map it with SOURCE=SINK in columns)", ErrNotComparable, dstName(s), dst.Name)
			}
			p, err := makePair(sc, dc, spec.TimestampPrecision)
			if err != nil {
				return nil, err
			}
			m.Pairs = append(m.Pairs, p)
			usedDst[dc.Name] = true
		}
		for _, c := range src.Cols {
			if !isKey[c.Name] && !contains(only, c.Name) {
				m.Ignored = append(m.Ignored, c.Name)
			}
		}
		return m, nil
	}
	var srcOnly, dstOnly []string
	for _, sc := range src.Cols {
		if isKey[sc.Name] {
			continue
		}
		if ignored[sc.Name] {
			m.Ignored = append(m.Ignored, sc.Name)
			continue
		}
		dc, ok := dst.col(dstName(sc.Name))
		if !ok || ignored[dc.Name] {
			if ok && ignored[dc.Name] {
				m.Ignored = append(m.Ignored, sc.Name)
				continue
			}
			srcOnly = append(srcOnly, sc.Name)
			continue
		}
		p, err := makePair(sc, dc, spec.TimestampPrecision)
		if err != nil {
			return nil, err
		}
		m.Pairs = append(m.Pairs, p)
		usedDst[dc.Name] = true
	}
	for _, dc := range dst.Cols {
		if usedDst[dc.Name] {
			continue
		}
		if !ignored[dc.Name] {
			dstOnly = append(dstOnly, dc.Name)
		} else if _, inSrc := src.col(dc.Name); !inSrc {
			m.Ignored = append(m.Ignored, dc.Name)
		}
	}
	if len(srcOnly) > 0 || len(dstOnly) > 0 {
		var parts []string
		if len(srcOnly) > 0 {
			parts = append(parts, fmt.Sprintf("only in source %s: %s", src.Name, quoteList(srcOnly)))
		}
		if len(dstOnly) > 0 {
			parts = append(parts, fmt.Sprintf("only in sink %s: %s", dst.Name, quoteList(dstOnly)))
		}
		return nil, fmt.Errorf("%w: columns %s; ignore them (ignore_columns, --ignore) or map renamed ones (SOURCE=SINK in columns)", ErrNotComparable, strings.Join(parts, "; "))
	}
	sort.Strings(m.Ignored)
	return m, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}

// makePair checks that two columns can be compared and builds their
// canonical expressions.
func makePair(sc, dc column, prec Precision) (pair, error) {
	p := pair{Src: sc, Dst: dc}
	if sc.Kind.family() != dc.Kind.family() || (sc.Kind == kindOther && sc.Type != dc.Type) {
		return p, fmt.Errorf("%w: column %q has type %s in the source and %s in the sink, which cannot be compared by value (ignore it, or compare a view that casts it)",
			ErrNotComparable, sc.Name, sc.Type, dc.Type)
	}
	si := pgx.Identifier{sc.Name}.Sanitize()
	di := pgx.Identifier{dc.Name}.Sanitize()
	if sc.Kind == kindTimestamp {
		p.Digits = min(sc.tsDigits(), dc.tsDigits())
		if prec != PrecisionAuto {
			p.Digits = prec.digits()
		}
	}
	// Columns of the same type print the same text for equal values (the
	// session runs in UTC with ISO dates): no conversion, which keeps the
	// row hash as cheap as the row's own text.
	// Not for unconstrained numeric (1.0 and 1.00 print differently) nor
	// json (kept as written: key order and spaces vary).
	plain := sc.Type == dc.Type
	switch {
	case sc.Kind == kindTimestamp:
		plain = plain && sc.tsDigits() == p.Digits
	case sc.Kind == kindNumeric:
		plain = plain && sc.Typmod >= 0 && dc.Typmod >= 0
	case sc.Typname == "json":
		plain = false
	}
	if plain {
		p.SrcExpr, p.DstExpr = si, di
		return p, nil
	}
	switch sc.Kind {
	case kindInt, kindNumeric:
		p.SrcExpr, p.DstExpr = numExpr(si, sc), numExpr(di, dc)
	case kindFloat:
		// Compare at the coarser of the two types.
		t := "float8"
		if sc.Typname == "float4" || dc.Typname == "float4" {
			t = "float4"
		}
		p.SrcExpr, p.DstExpr = si+"::"+t, di+"::"+t
	case kindText:
		p.SrcExpr, p.DstExpr = si+"::text", di+"::text"
	case kindJSON:
		p.SrcExpr, p.DstExpr = si+"::jsonb", di+"::jsonb"
	case kindTimestamp:
		p.SrcExpr, p.DstExpr = tsExpr(si, sc, p.Digits), tsExpr(di, dc, p.Digits)
	default:
		p.SrcExpr, p.DstExpr = si, di
	}
	return p, nil
}

func numExpr(ident string, c column) string {
	if c.Kind == kindNumeric {
		return "trim_scale(" + ident + ")"
	}
	return ident
}

// tsExpr turns a timestamp column into a timestamp without time zone in UTC,
// rounded to d fractional digits the way PostgreSQL rounds when it stores a
// value into a timestamp(d) column. A timestamp without time zone is taken to
// hold UTC already.
func tsExpr(ident string, c column, d int) string {
	if c.Typname == "timestamptz" {
		return fmt.Sprintf("(%s AT TIME ZONE 'UTC')::timestamp(%d)", ident, d)
	}
	return fmt.Sprintf("%s::timestamp(%d)", ident, d)
}
