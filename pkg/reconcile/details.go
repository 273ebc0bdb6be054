package reconcile

import (
	"context"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// compareDecimal compares two numeric texts by value; NaN sorts above every
// number and Infinity, as in PostgreSQL.
func compareDecimal(a, b string) int {
	rank := func(s string) int {
		switch s {
		case "NaN":
			return 3
		case "Infinity":
			return 2
		case "-Infinity":
			return -2
		}
		return 0
	}
	ra, rb := rank(a), rank(b)
	if ra != 0 || rb != 0 {
		return compareInt(int64(ra), int64(rb))
	}
	x, okx := new(big.Rat).SetString(a)
	y, oky := new(big.Rat).SetString(b)
	if !okx || !oky {
		return strings.Compare(a, b)
	}
	return x.Cmp(y)
}

func keyString(k Key) string { return strings.Join(k, "\x00") }

// lookup runs, for the given keys, a query selecting the key text columns and
// then cols, and calls f with each row's key and the other values as text
// (nil for NULL). Keys are sent in batches as text arrays, one per key column.
func (x *side) lookup(ctx context.Context, keys []Key, cols []string, filtered bool, f func(Key, []*string)) error {
	nk := len(x.sql.keyKinds)
	return x.lookupRaw(ctx, keys, cols, filtered, func(raw [][]byte) {
		k := make(Key, nk)
		for i := range nk {
			k[i] = string(raw[i])
		}
		vals := make([]*string, len(cols))
		for i := range cols {
			if v := raw[nk+i]; v != nil {
				s := string(v)
				vals[i] = &s
			}
		}
		f(k, vals)
	})
}

// lookupRaw is lookup handing on each row's texts as the connection read
// them: the key columns, then cols (nil for NULL). They are valid until f
// returns.
func (x *side) lookupRaw(ctx context.Context, keys []Key, cols []string, filtered bool, f func(raw [][]byte)) error {
	nk := len(x.sql.keyKinds)
	q := "SELECT " + x.sql.keyTextCols()
	for _, c := range cols {
		q += ", (" + c + ")::text"
	}
	join, cond := x.sql.keySet()
	q += " FROM " + x.sql.from + join + " WHERE " + cond
	if filtered {
		q += " AND " + x.sql.where
	}
	// Keys are looked up through the key's index, never by a scan per batch.
	if err := x.plan(ctx, false, true); err != nil {
		return fmt.Errorf("preparing to look up keys in the %s table %s: %w", x.name, x.tbl.Name, err)
	}
	for start := 0; start < len(keys); start += lookupBatch {
		batch := keys[start:min(start+lookupBatch, len(keys))]
		args := keyArrays(batch, nk)
		x.queries++
		rows, err := x.tx.Query(ctx, q, args...)
		if err != nil {
			return fmt.Errorf("looking up %d keys in the %s table %s: %w", len(batch), x.name, x.tbl.Name, err)
		}
		for rows.Next() {
			f(rows.RawValues())
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("looking up %d keys in the %s table %s: %w", len(batch), x.name, x.tbl.Name, err)
		}
	}
	return nil
}

// recheckSource reads the source rows of the differing keys again in a
// fresh snapshot (Spec.RecheckSource) and takes out of the differences those
// whose source row is no longer as the comparison saw it (another hash,
// gone, or new): the sink, read after the comparison's source snapshot, may
// hold the newer row. prev is the comparison's source side, whose query
// count the re-read adds to.
func (e *engine) recheckSource(ctx context.Context, src *pgx.Conn, prev *side, r *Result) error {
	e.emit("recheck", 0)
	s, err := begin(ctx, src, "source", e.spec)
	if err != nil {
		return err
	}
	defer s.end(ctx)
	s.sql = newSideSQL(e.m, false, e.spec.Where)
	var keys []Key
	for _, l := range [][]Diff{r.Missing, r.Extra, r.Mismatched} {
		for _, df := range l {
			keys = append(keys, df.Key)
		}
	}
	now := map[string]string{}
	err = s.lookup(ctx, keys, []string{s.sql.rowHash}, true, func(k Key, v []*string) {
		if v[0] != nil {
			h, _ := strconv.ParseInt(*v[0], 10, 64)
			now[keyString(k)] = hashHex(h)
		}
	})
	prev.queries += s.queries
	if err != nil {
		return fmt.Errorf("reading the differing rows of the source again: %w", err)
	}
	r.dropChanged(now)
	return nil
}

// settle waits Spec.Settle, then checks every differing key again in fresh
// transactions and keeps only those still different. It returns the new
// sides, whose transactions the caller ends.
func (e *engine) settle(ctx context.Context, src, dst *pgx.Conn, r *Result) (*side, *side, error) {
	e.emit("settle", 0)
	t := time.NewTimer(e.spec.Settle)
	select {
	case <-ctx.Done():
		t.Stop()
		return nil, nil, ctx.Err()
	case <-t.C:
	}
	s, err := begin(ctx, src, "source", e.spec)
	if err != nil {
		return nil, nil, err
	}
	d, err := begin(ctx, dst, "sink", e.spec)
	if err != nil {
		return s, nil, err
	}
	s.sql, d.sql = newSideSQL(e.m, false, e.spec.Where), newSideSQL(e.m, true, e.spec.Where)
	var keys []Key
	for _, l := range [][]Diff{r.Missing, r.Extra, r.Mismatched} {
		for _, df := range l {
			keys = append(keys, df.Key)
		}
	}
	before := int64(len(keys))
	hashes := [2]map[string]string{{}, {}}
	err = both(ctx, s, d, func(ctx context.Context, x *side) error {
		i := 0
		if x == d {
			i = 1
		}
		return x.lookup(ctx, keys, []string{x.sql.rowHash}, true, func(k Key, v []*string) {
			if v[0] != nil {
				h, _ := strconv.ParseInt(*v[0], 10, 64)
				hashes[i][keyString(k)] = hashHex(h)
			}
		})
	})
	if err != nil {
		return s, d, err
	}
	// Keys beyond MaxKeys were not kept, so they cannot be re-checked: their
	// counts stay as the first pass found them.
	r.MissingCount -= int64(len(r.Missing))
	r.ExtraCount -= int64(len(r.Extra))
	r.MismatchedCount -= int64(len(r.Mismatched))
	r.Missing, r.Extra, r.Mismatched = nil, nil, nil
	slices.SortFunc(keys, func(a, b Key) int { return compareKeys(a, b, e.kinds) })
	var after int64
	for _, k := range keys {
		ks := keyString(k)
		sh, inS := hashes[0][ks]
		dh, inD := hashes[1][ks]
		var kind DiffKind
		switch {
		case inS && !inD:
			kind = Missing
		case inD && !inS:
			kind = Extra
		case inS && inD && sh != dh:
			kind = Mismatched
		default:
			continue
		}
		after++
		df := Diff{Key: k}
		if inS {
			df.SourceHash = sh
		}
		if inD {
			df.SinkHash = dh
		}
		switch kind {
		case Missing:
			r.MissingCount++
			r.Missing = append(r.Missing, df)
		case Extra:
			r.ExtraCount++
			r.Extra = append(r.Extra, df)
		default:
			r.MismatchedCount++
			r.Mismatched = append(r.Mismatched, df)
		}
	}
	r.Settled = before - after
	return s, d, nil
}

// details names the differing columns of the mismatched rows (by per-column
// hashes) and, with ShowValues, reads the canonical values.
func (e *engine) details(ctx context.Context, s, d *side, r *Result) error {
	if len(r.Mismatched) == 0 && !(e.spec.ShowValues && (len(r.Missing) > 0 || len(r.Extra) > 0)) {
		return nil
	}
	e.emit("columns", 0)
	nonKey := e.m.Pairs[e.m.Keys:]
	if len(r.Mismatched) > 0 {
		keys := make([]Key, len(r.Mismatched))
		for i, df := range r.Mismatched {
			keys[i] = df.Key
		}
		hashes := [2]map[string][]*string{{}, {}}
		err := both(ctx, s, d, func(ctx context.Context, x *side) error {
			i := 0
			if x == d {
				i = 1
			}
			if len(x.sql.colHashes) == 0 {
				return nil
			}
			return x.lookup(ctx, keys, x.sql.colHashes, false, func(k Key, v []*string) {
				hashes[i][keyString(k)] = v
			})
		})
		if err != nil {
			return err
		}
		for i := range r.Mismatched {
			ks := keyString(r.Mismatched[i].Key)
			a, b := hashes[0][ks], hashes[1][ks]
			var cols []string
			for j, p := range nonKey {
				if a == nil || b == nil || !equalPtr(a[j], b[j]) {
					cols = append(cols, p.Src.Name)
				}
			}
			r.Mismatched[i].Columns = cols
		}
	}
	if !e.spec.ShowValues {
		return nil
	}
	names := make([]string, len(e.m.Pairs))
	for i, p := range e.m.Pairs {
		names[i] = p.Src.Name
	}
	var srcKeys, dstKeys []Key
	for _, df := range r.Missing {
		srcKeys = append(srcKeys, df.Key)
	}
	for _, df := range r.Extra {
		dstKeys = append(dstKeys, df.Key)
	}
	for _, df := range r.Mismatched {
		srcKeys = append(srcKeys, df.Key)
		dstKeys = append(dstKeys, df.Key)
	}
	values := [2]map[string]map[string]*string{{}, {}}
	err := both(ctx, s, d, func(ctx context.Context, x *side) error {
		i, keys := 0, srcKeys
		if x == d {
			i, keys = 1, dstKeys
		}
		return x.lookup(ctx, keys, x.sql.colTexts, false, func(k Key, v []*string) {
			m := make(map[string]*string, len(names))
			for j, n := range names {
				m[n] = v[j]
			}
			values[i][keyString(k)] = m
		})
	})
	if err != nil {
		return err
	}
	for _, l := range [][]Diff{r.Missing, r.Extra, r.Mismatched} {
		for i := range l {
			ks := keyString(l[i].Key)
			l[i].SourceValues = values[0][ks]
			l[i].SinkValues = values[1][ks]
		}
	}
	return nil
}

func equalPtr(a, b *string) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// partitions computes per-partition checksums on both sides.
func (e *engine) partitions(ctx context.Context, s, d *side, r *Result) error {
	p := e.spec.Partition
	var exprs [2]string
	var bounds []string
	switch p.By {
	case "hour", "day", "week", "month", "year":
		idx := -1
		for i, pr := range e.m.Pairs {
			if pr.Src.Name == p.Column {
				idx = i
			}
		}
		if idx < 0 {
			return &SpecError{Field: "partition", Msg: fmt.Sprintf("column %q is not among the compared columns of %s", p.Column, e.m.Src.Name)}
		}
		pr := e.m.Pairs[idx]
		switch pr.Src.Kind {
		case kindTimestamp, kindDate:
			// Labels sort as time does: 2026-11-03T14:00, 2026-11-03
			// (a day, or the Monday of a week), 2026-11, 2026. The
			// comparison sessions run in UTC.
			format := map[string]string{"hour": `YYYY-MM-DD"T"HH24":00"`, "day": "YYYY-MM-DD", "week": "YYYY-MM-DD", "month": "YYYY-MM", "year": "YYYY"}[p.By]
			exprs[0] = "to_char(date_trunc('" + p.By + "', " + s.sql.exprs[idx] + "), '" + format + "')"
			exprs[1] = "to_char(date_trunc('" + p.By + "', " + d.sql.exprs[idx] + "), '" + format + "')"
		default:
			return &SpecError{Field: "partition", Msg: fmt.Sprintf("column %q has type %s: partitions by %s need a date or timestamp column", p.Column, pr.Src.Type, p.By)}
		}
	case "range":
		if e.m.Keys != 1 {
			return &SpecError{Field: "partition", Msg: "partitions by key range need a single-column key"}
		}
		s.queries++
		rows, err := s.tx.Query(ctx, "SELECT k FROM (SELECT "+s.sql.colTexts[0]+" AS k, row_number() OVER (ORDER BY "+s.sql.orderBy+") AS rn, count(*) OVER () AS n FROM "+s.sql.from+" WHERE "+s.sql.where+") q WHERE (rn - 1) % greatest(1, ceil(n::numeric / $1))::int8 = 0 ORDER BY rn", p.Ranges)
		if err != nil {
			return fmt.Errorf("finding key ranges of the source table %s: %w", s.tbl.Name, err)
		}
		bounds, err = pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return fmt.Errorf("finding key ranges of the source table %s: %w", s.tbl.Name, err)
		}
		if len(bounds) == 0 {
			return nil
		}
		for i, x := range []*side{s, d} {
			switch e.kinds[0] {
			case kindInt:
				exprs[i] = "width_bucket(" + x.sql.idents[0] + "::int8, $1::text[]::int8[])"
			case kindNumeric:
				exprs[i] = "width_bucket(" + x.sql.idents[0] + "::numeric, $1::text[]::numeric[])"
			default:
				exprs[i] = "width_bucket(" + x.sql.orderBy + `, $1::text[]::text[] COLLATE "C")`
			}
		}
	}
	type acc struct{ src, dst Checksum }
	parts := map[string]*acc{}
	order := map[string]int{}
	err := both(ctx, s, d, func(ctx context.Context, x *side) error {
		i := 0
		if x == d {
			i = 1
		}
		q := "SELECT (" + exprs[i] + ")::text, count(*), " + sumExpr(x.sql.rowHash) + " FROM " + x.sql.from + " WHERE " + x.sql.where + " GROUP BY 1"
		var args []any
		if bounds != nil {
			args = append(args, bounds)
		}
		x.queries++
		rows, err := x.tx.Query(ctx, q, args...)
		if err != nil {
			return fmt.Errorf("computing partition checksums of the %s table %s: %w", x.name, x.tbl.Name, err)
		}
		defer rows.Close()
		for rows.Next() {
			var label *string
			var n, sum int64
			if err := rows.Scan(&label, &n, &sum); err != nil {
				return fmt.Errorf("reading partition checksums of the %s table %s: %w", x.name, x.tbl.Name, err)
			}
			l := "NULL"
			if label != nil {
				l = *label
			}
			e.mu.Lock()
			if bounds != nil {
				b, _ := strconv.Atoi(l)
				if b == 0 {
					l = "<" + bounds[0]
				} else {
					l = bounds[b-1]
				}
				order[l] = b
			}
			a := parts[l]
			if a == nil {
				a = &acc{}
				parts[l] = a
			}
			if i == 0 {
				a.src = Checksum{Rows: n, Sum: fromSum(sum)}
			} else {
				a.dst = Checksum{Rows: n, Sum: fromSum(sum)}
			}
			e.mu.Unlock()
		}
		return rows.Err()
	})
	if err != nil {
		return err
	}
	for l, a := range parts {
		r.Partitions = append(r.Partitions, PartitionSum{Partition: l, Source: a.src, Sink: a.dst})
	}
	slices.SortFunc(r.Partitions, func(a, b PartitionSum) int {
		if bounds != nil {
			return compareInt(int64(order[a.Partition]), int64(order[b.Partition]))
		}
		return strings.Compare(a.Partition, b.Partition)
	})
	return nil
}

// dropChanged takes out of the differences the keys whose source row, read
// again (now: key to row hash, absent when gone), is no longer as the
// comparison saw it, and counts them in ChangedSince.
func (r *Result) dropChanged(now map[string]string) {
	keep := func(l []Diff, count *int64) []Diff {
		out := l[:0]
		for _, df := range l {
			if h, found := now[keyString(df.Key)]; found != (df.SourceHash != "") || h != df.SourceHash {
				r.ChangedSince++
				*count--
				continue
			}
			out = append(out, df)
		}
		return out
	}
	r.Missing = keep(r.Missing, &r.MissingCount)
	r.Extra = keep(r.Extra, &r.ExtraCount)
	r.Mismatched = keep(r.Mismatched, &r.MismatchedCount)
}
