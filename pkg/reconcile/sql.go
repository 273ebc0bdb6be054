package reconcile

import (
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// sideSQL holds the SQL fragments of one side. Every identifier in them was
// quoted with pgx.Identifier.Sanitize; the filter was checked by CheckWhere
// and parse-checked by the server.
type sideSQL struct {
	from      string   // qualified table identifier
	where     string   // "(filter)" or "true"
	exprs     []string // canonical expression per pair (keys first)
	idents    []string // quoted column name per pair
	keyText   []string // key columns as text (or int8 for intKey)
	intKey    bool     // single integer key: selected as int8
	rowHash   string   // 64-bit row hash
	keyHash   string   // 64-bit key hash (cells)
	orderBy   string   // key order, consistent with compareKeys
	keyKinds  []kind   // comparison kind per key column
	keyLeft   []string // key column side of a match with a text parameter
	keyCast   []string // cast of the text parameter for that match
	colHashes []string // per-column hash of each non-key pair
	colTexts  []string // per-column canonical text of each pair
}

// sumExpr is the sum of hashes modulo 2^64, shifted into int8 range. sum of
// int8 is numeric (PostgreSQL accumulates it in 128 bits), so it never
// overflows; the modulo is taken once per group.
func sumExpr(h string) string {
	return fmt.Sprintf("((coalesce(sum(%s), 0) %% 18446744073709551616 + 18446744073709551616) %% 18446744073709551616 - 9223372036854775808)::int8", h)
}

// fromSum undoes the shift of sumExpr.
func fromSum(v int64) uint64 { return uint64(v) ^ (1 << 63) }

func newSideSQL(m *mapping, sink bool, filter string) *sideSQL {
	s := &sideSQL{where: "true"}
	t := m.Src
	if sink {
		t = m.Dst
	}
	s.from = t.Ident
	if strings.TrimSpace(filter) != "" {
		s.where = "(" + filter + ")"
	}
	for i, p := range m.Pairs {
		e, c := p.SrcExpr, p.Src
		if sink {
			e, c = p.DstExpr, p.Dst
		}
		s.exprs = append(s.exprs, e)
		ident := pgx.Identifier{c.Name}.Sanitize()
		s.idents = append(s.idents, ident)
		s.colTexts = append(s.colTexts, "("+e+")::text")
		if i < m.Keys {
			continue
		}
		s.colHashes = append(s.colHashes, "hashtextextended(ROW("+e+")::text, 0)")
	}
	s.rowHash = "hashtextextended(ROW(" + strings.Join(s.exprs, ", ") + ")::text, 0)"
	keyPairs := m.Pairs[:m.Keys]
	s.intKey = len(keyPairs) == 1 && keyPairs[0].Src.Kind == kindInt && keyPairs[0].Dst.Kind == kindInt
	var order, keyExprs []string
	for i, p := range keyPairs {
		ident := s.idents[i]
		k := p.Src.Kind
		if p.Dst.Kind == kindNumeric {
			k = kindNumeric
		}
		switch k {
		case kindInt:
			s.keyKinds = append(s.keyKinds, kindInt)
			order = append(order, ident)
			s.keyLeft = append(s.keyLeft, ident)
			s.keyCast = append(s.keyCast, "::int8")
		case kindNumeric:
			s.keyKinds = append(s.keyKinds, kindNumeric)
			order = append(order, ident)
			s.keyLeft = append(s.keyLeft, ident)
			s.keyCast = append(s.keyCast, "::numeric")
		default:
			s.keyKinds = append(s.keyKinds, kindText)
			order = append(order, "("+s.exprs[i]+`)::text COLLATE "C"`)
			if p.Src.Kind == kindUUID && s.exprs[i] == s.idents[i] {
				// Same type on both sides: match through the uuid index.
				s.keyLeft = append(s.keyLeft, ident)
				s.keyCast = append(s.keyCast, "::uuid")
			} else {
				s.keyLeft = append(s.keyLeft, "("+s.exprs[i]+")::text")
				s.keyCast = append(s.keyCast, "")
			}
		}
		if s.intKey {
			s.keyText = append(s.keyText, ident+"::int8")
		} else {
			s.keyText = append(s.keyText, "("+s.exprs[i]+")::text")
		}
		keyExprs = append(keyExprs, s.exprs[i])
	}
	s.orderBy = strings.Join(order, ", ")
	if s.intKey {
		s.keyHash = "hashint8extended(" + s.idents[0] + "::int8, 0)"
	} else {
		s.keyHash = "hashtextextended(ROW(" + strings.Join(keyExprs, ", ") + ")::text, 1)"
	}
	return s
}

// keySet returns the JOIN (possibly empty) and the condition that restrict
// the table to the keys bound as text arrays $1..$n. A single key column is
// matched with = ANY of the array cast to the column's type, which the server
// turns into one index scan over the sorted keys; composite keys join
// unnest($1..$n).
func (s *sideSQL) keySet() (join, cond string) {
	if len(s.keyLeft) == 1 {
		arr := "$1::text[]"
		if c := s.keyCast[0]; c != "" {
			arr += c + "[]"
		}
		return "", s.keyLeft[0] + " = ANY(" + arr + ")"
	}
	return " JOIN " + s.unnest() + " ON " + s.keyMatch(), "true"
}

// keyMatch is the join condition of the table with unnest($1..$n) AS u(k1..kn).
func (s *sideSQL) keyMatch() string {
	var conds []string
	for i, left := range s.keyLeft {
		conds = append(conds, left+" = offsetctl_keys.offsetctl_k"+fmt.Sprint(i+1)+s.keyCast[i])
	}
	return strings.Join(conds, " AND ")
}

// unnest is "unnest($1::text[], ...) AS u(k1, ...)" for the key columns.
func (s *sideSQL) unnest() string {
	var ps, ns []string
	for i := range s.keyKinds {
		ps = append(ps, fmt.Sprintf("$%d::text[]", i+1))
		ns = append(ns, fmt.Sprintf("offsetctl_k%d", i+1))
	}
	return "unnest(" + strings.Join(ps, ", ") + ") AS offsetctl_keys(" + strings.Join(ns, ", ") + ")"
}

// keyTextCols are the key columns as text, for lookups by key.
func (s *sideSQL) keyTextCols() string {
	var out []string
	for i := range s.keyKinds {
		out = append(out, s.colTexts[i])
	}
	return strings.Join(out, ", ")
}
