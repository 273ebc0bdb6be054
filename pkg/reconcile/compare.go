package reconcile

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Tuning of the cell search. Cells hold about targetCellRows rows at the
// first level; the first level has at most 2^maxFirstBits cells (client
// memory: 16 bytes per cell per side); cells are split while the rows to
// stream would exceed fetchLimit; cell ids never exceed 2^maxBits (the
// bitmap sent to the server is 2^maxBits/8 bytes).
const (
	targetCellRows = 32
	maxFirstBits   = 18
	maxBits        = 24
	minFetchLimit  = 200000
	streamBatch    = 1024
	lookupBatch    = 5000
)

// Compare compares the source and sink tables that spec names, over one
// connection per side (they must be distinct: the two sides run at the same
// time). It returns a Result, or an error that says what could not be done;
// a *SpecError for a bad spec, an error wrapping ErrNotComparable for tables
// that cannot be compared.
func Compare(ctx context.Context, src, dst *pgx.Conn, spec Spec) (*Result, error) {
	start := time.Now()
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	if src == nil || dst == nil {
		return nil, errors.New("compare needs a connection to the source and one to the sink")
	}
	if src == dst {
		return nil, errors.New("compare needs two distinct connections: the source and the sink are read at the same time")
	}
	e := &engine{spec: &spec}
	e.emit("introspect", 0)
	s, d, err := e.open(ctx, src, dst)
	defer func() { s.end(ctx); d.end(ctx) }()
	if err != nil {
		return nil, err
	}
	r := e.newResult()
	r.SourceSnapshot = SnapshotPosition{LSN: s.lsn}
	switch spec.mode() {
	case ModeCounts:
		err = e.counts(ctx, s, d, r)
	case ModeChecksum:
		err = e.checksums(ctx, s, d, r)
	default:
		err = e.rows(ctx, s, d, r)
		if err == nil && spec.Settle > 0 && r.Drift() {
			s.end(ctx)
			d.end(ctx)
			s, d, err = e.settle(ctx, src, dst, r)
		}
		if err == nil {
			err = e.details(ctx, s, d, r)
		}
		if err == nil && spec.RecheckSource && r.Drift() {
			s.end(ctx) // its snapshot is done with: the connection takes a fresh one
			err = e.recheckSource(ctx, src, s, r)
		}
	}
	if err != nil {
		return nil, err
	}
	r.Stats.Queries = s.queries + d.queries
	r.Stats.Elapsed = time.Since(start)
	return r, nil
}

// engine is the state of one Compare call.
type engine struct {
	spec *Spec
	m    *mapping

	mu        sync.Mutex
	hashed    int64
	total     int64
	cellsTodo int
	kinds     []kind // comparison kind per key column
}

func (e *engine) emit(phase string, rows int64) {
	if e.spec.Progress == nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.hashed += rows
	e.spec.Progress(Progress{Phase: phase, RowsHashed: e.hashed, RowsTotal: e.total, CellsLeft: e.cellsTodo})
}

// open begins both transactions, introspects both tables, maps their columns
// and checks the filter on both sides.
func (e *engine) open(ctx context.Context, src, dst *pgx.Conn) (*side, *side, error) {
	srcName, _ := ParseTableName(e.spec.Table)
	dstName := srcName
	if e.spec.SinkTable != "" {
		dstName, _ = ParseTableName(e.spec.SinkTable)
	}
	// Both sides begin and read their catalogs at the same time, unless
	// the sink's snapshot must wait for Spec.BeforeSinkSnapshot.
	var s, d *side
	var serr, derr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if s, serr = begin(ctx, src, "source", e.spec); serr == nil {
			s.tbl, serr = introspect(ctx, s.tx, srcName, "source")
		}
	}()
	if e.spec.BeforeSinkSnapshot != nil {
		wg.Wait()
		if serr != nil {
			return s, d, serr
		}
		if err := e.spec.BeforeSinkSnapshot(ctx, SnapshotPosition{LSN: s.lsn}); err != nil {
			return s, d, err
		}
	}
	if d, derr = begin(ctx, dst, "sink", e.spec); derr == nil {
		d.tbl, derr = introspect(ctx, d.tx, dstName, "sink")
	}
	wg.Wait()
	if serr != nil {
		return s, d, serr
	}
	if derr != nil {
		return s, d, derr
	}
	var err error
	if e.spec.mode() == ModeCounts {
		// Counting needs neither a key nor matching columns.
		e.m = &mapping{Src: s.tbl, Dst: d.tbl}
	} else if e.m, err = buildMapping(s.tbl, d.tbl, e.spec); err != nil {
		return s, d, err
	}
	e.kinds = e.m.keyKinds()
	s.sql = newSideSQL(e.m, false, e.spec.Where)
	d.sql = newSideSQL(e.m, true, e.spec.Where)
	if e.spec.Where != "" {
		for _, x := range []*side{s, d} {
			// Parse-check: plans and type-checks the filter, reads no row.
			if _, err := x.tx.Exec(ctx, "SELECT 1 FROM "+x.sql.from+" WHERE "+x.sql.where+" LIMIT 0"); err != nil {
				return s, d, &SpecError{Field: "where", Msg: fmt.Sprintf("the filter does not work on the %s table %s: %v", x.name, x.tbl.Name, err)}
			}
			x.queries++
		}
	}
	// Last, so that a bad spec is reported as such first.
	if err := refuseSameTable(ctx, s, d); err != nil {
		return s, d, err
	}
	e.total = 2 * max(s.tbl.Estimate, d.tbl.Estimate, 0)
	return s, d, nil
}

func (e *engine) newResult() *Result {
	r := &Result{Mode: e.spec.mode(), Source: e.m.Src.Name, Sink: e.m.Dst.Name, Ignored: e.m.Ignored}
	for i, p := range e.m.Pairs {
		if i < e.m.Keys {
			r.KeyColumns = append(r.KeyColumns, p.Src.Name)
		}
		r.Columns = append(r.Columns, p.Src.Name)
		if p.Src.Name != p.Dst.Name {
			if r.Renamed == nil {
				r.Renamed = map[string]string{}
			}
			r.Renamed[p.Src.Name] = p.Dst.Name
		}
		if p.Src.Kind == kindTimestamp {
			if r.TimestampPrecision == nil {
				r.TimestampPrecision = map[string]int{}
			}
			r.TimestampPrecision[p.Src.Name] = p.Digits
		}
	}
	return r
}

// counts counts the rows on both sides.
func (e *engine) counts(ctx context.Context, s, d *side, r *Result) error {
	return both(ctx, s, d, func(ctx context.Context, x *side) error {
		var n int64
		x.queries++
		if err := x.tx.QueryRow(ctx, "SELECT count(*) FROM "+x.sql.from+" WHERE "+x.sql.where).Scan(&n); err != nil {
			return fmt.Errorf("counting the rows of the %s table %s: %w", x.name, x.tbl.Name, err)
		}
		if x == s {
			r.SourceRows = n
		} else {
			r.SinkRows = n
		}
		e.emit("counts", 0)
		return nil
	})
}

// checksums computes the whole-table checksums and the partition checksums.
func (e *engine) checksums(ctx context.Context, s, d *side, r *Result) error {
	err := both(ctx, s, d, func(ctx context.Context, x *side) error {
		var n, sum int64
		x.queries++
		if err := x.tx.QueryRow(ctx, "SELECT count(*), "+sumExpr(x.sql.rowHash)+" FROM "+x.sql.from+" WHERE "+x.sql.where).Scan(&n, &sum); err != nil {
			return fmt.Errorf("computing the checksum of the %s table %s: %w", x.name, x.tbl.Name, err)
		}
		c := &Checksum{Rows: n, Sum: fromSum(sum)}
		e.mu.Lock()
		r.Stats.RowsHashed += n
		e.mu.Unlock()
		if x == s {
			r.SourceRows, r.SourceChecksum = n, c
		} else {
			r.SinkRows, r.SinkChecksum = n, c
		}
		e.emit("checksum", n)
		return x.rate.wait(ctx, n)
	})
	if err != nil || e.spec.Partition == nil {
		return err
	}
	return e.partitions(ctx, s, d, r)
}

// cell is the count and checksum of the rows whose key hash has a given
// value in its low bits.
type cell struct {
	id  int64
	n   int64
	sum uint64
}

// cellPlan says how rows map to cells and which rows a query reads.
//
// Hash cells (any key): a row's cell is the low bits bits of its key hash;
// with filter set, only rows whose cell at filterBits bits is set in filter
// are read (a full scan that skips the row hash of the others).
//
// Range cells (single integer keys): a row's cell is (key - lo) / width, so a
// cell is a key range; with los/his set, only the rows in those key ranges
// are read, through the key's index.
type cellPlan struct {
	ranged bool

	bits       int
	filterBits int
	filter     []byte

	lo, width int64
	los, his  []int64
}

// from returns the FROM and WHERE clauses reading the plan's rows, and the
// arguments they bind from $n on.
func (x *side) from(p *cellPlan, n int) (string, []any) {
	if p.los != nil {
		// One index range scan per key range: the LATERAL subquery, kept
		// apart by OFFSET 0, cannot be turned into a join that checks every
		// row against every range.
		k := x.sql.idents[0]
		q := fmt.Sprintf(" FROM unnest($%d::int8[], $%d::int8[]) AS offsetctl_r(offsetctl_lo, offsetctl_hi)"+
			" CROSS JOIN LATERAL (SELECT * FROM %s WHERE %s >= offsetctl_r.offsetctl_lo AND %s < offsetctl_r.offsetctl_hi AND %s OFFSET 0) AS offsetctl_t",
			n, n+1, x.sql.from, k, k, x.sql.where)
		return q, []any{p.los, p.his}
	}
	q := " FROM " + x.sql.from
	var args []any
	q += " WHERE " + x.sql.where
	if p.filter != nil {
		q += fmt.Sprintf(" AND get_bit($%d::bytea, (%s & $%d::int8)::int4) = 1", n, x.sql.keyHash, n+1)
		args = append(args, p.filter, int64(1)<<p.filterBits-1)
	}
	return q, args
}

// cells sends the count and checksum of every cell of p, in cell id order,
// in batches: the client never holds more than the batches in flight,
// however many cells the table has.
func (x *side) cells(ctx context.Context, p *cellPlan, out chan<- []cell, emit func(int64)) error {
	defer close(out)
	if err := x.plan(ctx, true, p.los != nil); err != nil {
		return fmt.Errorf("preparing the cell checksums of the %s table %s: %w", x.name, x.tbl.Name, err)
	}
	// The hashes are computed in a subquery kept apart by OFFSET 0, so that
	// parallel workers compute them and the leader only adds them up: the
	// planner takes every key for its own cell and would otherwise run the
	// aggregate, hashes included, in one process. The groups are sorted
	// after the hash aggregate (one sort of the cells, not of the rows).
	var cellExpr string
	var args []any
	if p.ranged {
		cellExpr = "(" + x.sql.idents[0] + "::int8 - $1::int8) / $2::int8"
		args = []any{p.lo, p.width}
	} else {
		cellExpr = x.sql.keyHash + " & $1::int8"
		args = []any{int64(1)<<p.bits - 1}
	}
	from, more := x.from(p, len(args)+1)
	q := "SELECT offsetctl_c, count(*), " + sumExpr("offsetctl_h") +
		" FROM (SELECT " + cellExpr + " AS offsetctl_c, " + x.sql.rowHash + " AS offsetctl_h" + from +
		" OFFSET 0) offsetctl_rows GROUP BY 1 ORDER BY 1"
	args = append(args, more...)
	x.queries++
	rows, err := x.tx.Query(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("computing cell checksums of the %s table %s: %w", x.name, x.tbl.Name, err)
	}
	defer rows.Close()
	batch := make([]cell, 0, streamBatch)
	var n int64
	send := func() error {
		select {
		case out <- batch:
		case <-ctx.Done():
			return ctx.Err()
		}
		emit(n)
		if err := x.rate.wait(ctx, n); err != nil {
			return err
		}
		batch, n = make([]cell, 0, streamBatch), 0
		return nil
	}
	var c cell
	var id *int64
	var sum int64
	for rows.Next() {
		if err := rows.Scan(&id, &c.n, &sum); err != nil {
			return fmt.Errorf("reading cell checksums of the %s table %s: %w", x.name, x.tbl.Name, err)
		}
		if id == nil {
			return fmt.Errorf("%w: the %s table %s has %d rows whose key column %s is NULL: the key must be NOT NULL", ErrNotComparable, x.name, x.tbl.Name, c.n, x.sql.idents[0])
		}
		c.id, c.sum = *id, fromSum(sum)
		batch = append(batch, c)
		n += c.n
		if len(batch) == streamBatch {
			if err := send(); err != nil {
				return err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("computing cell checksums of the %s table %s: %w", x.name, x.tbl.Name, err)
	}
	if len(batch) > 0 {
		return send()
	}
	return nil
}

// keyBounds returns the smallest and largest key of both sides, and false
// when both are empty or the range does not fit range cells.
func (e *engine) keyBounds(ctx context.Context, s, d *side) (int64, int64, bool, error) {
	var lo, hi [2]*int64
	err := both(ctx, s, d, func(ctx context.Context, x *side) error {
		i := 0
		if x == d {
			i = 1
		}
		x.queries++
		err := x.tx.QueryRow(ctx, "SELECT min("+x.sql.idents[0]+")::int8, max("+x.sql.idents[0]+")::int8 FROM "+x.sql.from+" WHERE "+x.sql.where).Scan(&lo[i], &hi[i])
		if err != nil {
			return fmt.Errorf("reading the key range of the %s table %s: %w", x.name, x.tbl.Name, err)
		}
		return nil
	})
	if err != nil {
		return 0, 0, false, err
	}
	var l, h *int64
	for i := range 2 {
		if lo[i] != nil && (l == nil || *lo[i] < *l) {
			l = lo[i]
		}
		if hi[i] != nil && (h == nil || *hi[i] > *h) {
			h = hi[i]
		}
	}
	if l == nil || h == nil {
		return 0, 0, false, nil
	}
	if span := uint64(*h) - uint64(*l); span >= 1<<62 {
		return 0, 0, false, nil // keys spread over most of int8: hash cells
	}
	return *l, *h, true, nil
}

// ranges turns range cells of the given width into merged key ranges.
func ranges(lo, width int64, ids []int64) (los, his []int64) {
	for _, c := range ids {
		a, b := lo+c*width, lo+(c+1)*width
		if n := len(his); n > 0 && his[n-1] == a {
			his[n-1] = b
			continue
		}
		los, his = append(los, a), append(his, b)
	}
	return los, his
}

// batches walks one stream of batches.
type batches[T any] struct {
	ch  <-chan []T
	buf []T
	i   int
}

// peek returns the next element without consuming it, or false at the end.
func (b *batches[T]) peek() (*T, bool) {
	for b.i >= len(b.buf) {
		v, ok := <-b.ch
		if !ok {
			return nil, false
		}
		b.buf, b.i = v, 0
	}
	return &b.buf[b.i], true
}

// twoStreams runs produce for both sides at once, each sending batches to
// its own channel, and consume on the two channels; it returns the first
// real error of any of them. The producers are drained when consume stops
// early.
func twoStreams[T any](ctx context.Context, s, d *side, produce func(ctx context.Context, x *side, out chan<- []T) error, consume func(a, b *batches[T]) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	chans := [2]chan []T{make(chan []T, 4), make(chan []T, 4)}
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i, x := range []*side{s, d} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := produce(ctx, x, chans[i]); err != nil {
				errs[i] = err
				cancel()
			}
		}()
	}
	consumeErr := consume(&batches[T]{ch: chans[0]}, &batches[T]{ch: chans[1]})
	if consumeErr != nil {
		cancel()
	}
	for _, ch := range chans {
		go func() {
			for range ch {
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
	}
	if consumeErr != nil {
		return consumeErr
	}
	return errors.Join(errs...)
}

// cellDiff is what merging two cell streams found.
type cellDiff struct {
	ids    []int64 // the cells that differ
	rows   int64   // the larger row count of each differing cell, summed
	cells  int     // cells on the side that has more
	ta, tb Checksum
}

// diffCells merges two cell streams sorted by id.
func diffCells(a, b *batches[cell]) (*cellDiff, error) {
	r := &cellDiff{}
	var na, nb int
	var lastA, lastB int64
	// take passes a side's cell, checking that ids only grow, and adds it
	// to that side's totals.
	take := func(b *batches[cell], c *cell, n *int, last *int64, t *Checksum) error {
		if *n > 0 && c.id <= *last {
			return fmt.Errorf("cell checksums arrived out of order (%d after %d); this is a bug in offsetctl", c.id, *last)
		}
		*last = c.id
		t.Rows, t.Sum = t.Rows+c.n, t.Sum+c.sum
		*n++
		b.i++
		return nil
	}
	for {
		ca, okA := a.peek()
		cb, okB := b.peek()
		switch {
		case !okA && !okB:
			r.cells = max(na, nb)
			return r, nil
		case okA && (!okB || ca.id < cb.id):
			r.ids, r.rows = append(r.ids, ca.id), r.rows+ca.n
			if err := take(a, ca, &na, &lastA, &r.ta); err != nil {
				return nil, err
			}
		case !okA || cb.id < ca.id:
			r.ids, r.rows = append(r.ids, cb.id), r.rows+cb.n
			if err := take(b, cb, &nb, &lastB, &r.tb); err != nil {
				return nil, err
			}
		default:
			if ca.n != cb.n || ca.sum != cb.sum {
				r.ids, r.rows = append(r.ids, ca.id), r.rows+max(ca.n, cb.n)
			}
			if err := take(a, ca, &na, &lastA, &r.ta); err != nil {
				return nil, err
			}
			if err := take(b, cb, &nb, &lastB, &r.tb); err != nil {
				return nil, err
			}
		}
	}
}

func bitmap(nbits int, ids []int64) []byte {
	b := make([]byte, (1<<nbits+7)/8)
	for _, id := range ids {
		b[id/8] |= 1 << (id % 8)
	}
	return b
}

// rows finds the missing, extra and mismatched rows.
func (e *engine) rows(ctx context.Context, s, d *side, r *Result) error {
	est := max(s.tbl.Estimate, d.tbl.Estimate, 1)
	nbits := bits.Len64(uint64(est / targetCellRows))
	nbits = min(max(nbits, 4), maxFirstBits)
	fetchLimit := max(int64(minFetchLimit), est/20)
	if t := e.spec.tune; t != nil {
		if t.firstBits > 0 {
			nbits = t.firstBits
		}
		if t.fetchLimit > 0 {
			fetchLimit = t.fetchLimit
		}
	}

	p := &cellPlan{bits: nbits}
	if s.sql.intKey {
		lo, hi, ok, err := e.keyBounds(ctx, s, d)
		if err != nil {
			return err
		}
		if ok {
			p.ranged, p.lo = true, lo
			p.width = max(1, int64((uint64(hi-lo)+1+(1<<nbits)-1)>>nbits))
		}
	}
	for level := 1; ; level++ {
		phase := "cells"
		if level > 1 {
			phase = "split"
		}
		var cd *cellDiff
		err := twoStreams(ctx, s, d, func(ctx context.Context, x *side, out chan<- []cell) error {
			return x.cells(ctx, p, out, func(n int64) { e.emit(phase, n) })
		}, func(a, b *batches[cell]) (err error) {
			cd, err = diffCells(a, b)
			return err
		})
		if err != nil {
			return err
		}
		diff, rows, ta, tb, cells := cd.ids, cd.rows, cd.ta, cd.tb, cd.cells
		r.Stats.Levels = level
		r.Stats.RowsHashed += ta.Rows + tb.Rows
		if level == 1 {
			r.SourceRows, r.SinkRows = ta.Rows, tb.Rows
			r.SourceChecksum, r.SinkChecksum = &ta, &tb
			r.Stats.Cells = cells
		}
		r.Stats.DiffCells = len(diff)
		e.mu.Lock()
		e.cellsTodo = len(diff)
		e.mu.Unlock()
		canSplit := (p.ranged && p.width > 1) || (!p.ranged && p.bits < maxBits)
		switch {
		case len(diff) == 0:
			if level == 1 {
				r.Stats.Strategy = "none"
			}
			return nil
		case level == 1 && len(diff)*2 > cells:
			// Drift over most cells: one streaming pass over everything.
			r.Stats.Strategy = "stream"
			return e.merge(ctx, s, d, r, &cellPlan{})
		case rows <= fetchLimit || !canSplit:
			if level == 1 {
				r.Stats.Strategy = "cells"
			} else {
				r.Stats.Strategy = "split"
			}
			return e.merge(ctx, s, d, r, p.restrict(diff))
		}
		// Split the differing cells and compare again.
		avg := float64(rows) / float64(len(diff))
		step := max(int(math.Ceil(math.Log2(avg/4))), 2)
		next := p.restrict(diff)
		if p.ranged {
			next.width = max(1, p.width>>step)
		} else {
			next.bits = min(p.bits+step, maxBits)
		}
		p = next
	}
}

// restrict returns the plan that reads only the rows of the given cells of p,
// with the same cells.
func (p *cellPlan) restrict(ids []int64) *cellPlan {
	q := &cellPlan{ranged: p.ranged, bits: p.bits, lo: p.lo, width: p.width}
	if p.ranged {
		q.los, q.his = ranges(p.lo, p.width, ids)
	} else {
		q.filter, q.filterBits = bitmap(p.bits, ids), p.bits
	}
	return q
}

// krow is one streamed (key, row hash) pair.
type krow struct {
	k  Key
	ki int64 // the key, for single integer keys (k is then nil)
	h  int64
}

// stream sends the (key, row hash) pairs of the rows in the cells set in
// filter (all rows when filter is nil), in key order, in batches.
func (x *side) stream(ctx context.Context, p *cellPlan, out chan<- []krow, emit func(int64)) error {
	defer close(out)
	if err := x.plan(ctx, false, p.los != nil); err != nil {
		return fmt.Errorf("preparing to stream the %s table %s: %w", x.name, x.tbl.Name, err)
	}
	// Output columns get names no table column has: ORDER BY would take a
	// bare name for an output column first.
	var sel []string
	for i, k := range x.sql.keyText {
		sel = append(sel, fmt.Sprintf("%s AS offsetctl_k%d", k, i+1))
	}
	from, args := x.from(p, 1)
	q := "SELECT " + strings.Join(sel, ", ") + ", " + x.sql.rowHash + " AS offsetctl_h" + from + " ORDER BY " + x.sql.orderBy
	x.queries++
	rows, err := x.tx.Query(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("streaming the keys of the %s table %s: %w", x.name, x.tbl.Name, err)
	}
	defer rows.Close()
	nk := len(x.sql.keyText)
	fds := rows.FieldDescriptions()
	batch := make([]krow, 0, streamBatch)
	for rows.Next() {
		raw := rows.RawValues()
		var kr krow
		for i := 0; i < nk; i++ {
			if raw[i] == nil {
				return fmt.Errorf("%w: the %s table %s has a row whose key column %s is NULL: the key must be NOT NULL", ErrNotComparable, x.name, x.tbl.Name, x.sql.idents[i])
			}
		}
		if x.sql.intKey {
			v, err := decodeInt8(raw[0], fds[0].Format)
			if err != nil {
				return fmt.Errorf("reading the keys of the %s table %s: %w", x.name, x.tbl.Name, err)
			}
			kr.ki = v
		} else {
			kr.k = make(Key, nk)
			for i := 0; i < nk; i++ {
				kr.k[i] = string(raw[i])
			}
		}
		h, err := decodeInt8(raw[nk], fds[nk].Format)
		if err != nil {
			return fmt.Errorf("reading the row hashes of the %s table %s: %w", x.name, x.tbl.Name, err)
		}
		kr.h = h
		batch = append(batch, kr)
		if len(batch) == streamBatch {
			select {
			case out <- batch:
			case <-ctx.Done():
				return ctx.Err()
			}
			emit(int64(len(batch)))
			if err := x.rate.wait(ctx, int64(len(batch))); err != nil {
				return err
			}
			batch = make([]krow, 0, streamBatch)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("streaming the keys of the %s table %s: %w", x.name, x.tbl.Name, err)
	}
	if len(batch) > 0 {
		select {
		case out <- batch:
		case <-ctx.Done():
			return ctx.Err()
		}
		emit(int64(len(batch)))
	}
	return nil
}

func decodeInt8(b []byte, format int16) (int64, error) {
	if format == pgx.BinaryFormatCode {
		if len(b) != 8 {
			return 0, fmt.Errorf("unexpected int8 of %d bytes", len(b))
		}
		return int64(binary.BigEndian.Uint64(b)), nil
	}
	return strconv.ParseInt(string(b), 10, 64)
}

// cursor walks one side's stream of (key, row hash) batches, remembering
// the last key it passed.
type cursor struct {
	*batches[krow]
	prev krow
	seen bool
}

// merge streams both sides and merges them in key order.
func (e *engine) merge(ctx context.Context, s, d *side, r *Result, p *cellPlan) error {
	return twoStreams(ctx, s, d, func(ctx context.Context, x *side, out chan<- []krow) error {
		return x.stream(ctx, p, out, func(n int64) { e.emit("stream", n) })
	}, func(a, b *batches[krow]) error {
		return e.mergeStreams(&cursor{batches: a}, &cursor{batches: b}, s, d, r)
	})
}

func (e *engine) mergeStreams(a, b *cursor, s, d *side, r *Result) error {
	check := func(c *cursor, x *side, kr *krow) error {
		if c.seen {
			switch e.cmpKey(&c.prev, kr) {
			case 0:
				return fmt.Errorf("%w: key %s appears twice in the %s table %s: the key must be unique", ErrNotComparable, e.keyOf(kr), x.name, x.tbl.Name)
			case 1:
				return fmt.Errorf("the %s table %s returned keys out of order (%s after %s); this is a bug in offsetctl's key ordering for these key types", x.name, x.tbl.Name, e.keyOf(kr), e.keyOf(&c.prev))
			}
		}
		c.prev, c.seen = *kr, true
		c.i++
		return nil
	}
	for {
		ra, okA := a.peek()
		rb, okB := b.peek()
		switch {
		case !okA && !okB:
			return nil
		case okA && (!okB || e.cmpKey(ra, rb) < 0):
			r.Stats.RowsStreamed++
			e.add(r, Missing, ra, nil)
			if err := check(a, s, ra); err != nil {
				return err
			}
		case !okA || e.cmpKey(ra, rb) > 0:
			r.Stats.RowsStreamed++
			e.add(r, Extra, nil, rb)
			if err := check(b, d, rb); err != nil {
				return err
			}
		default:
			r.Stats.RowsStreamed += 2
			if ra.h != rb.h {
				e.add(r, Mismatched, ra, rb)
			}
			if err := check(a, s, ra); err != nil {
				return err
			}
			if err := check(b, d, rb); err != nil {
				return err
			}
		}
	}
}

func hashHex(h int64) string { return fmt.Sprintf("%016x", uint64(h)) }

// add records a differing row, keeping at most MaxKeys of each kind.
func (e *engine) add(r *Result, k DiffKind, a, b *krow) {
	var list *[]Diff
	switch k {
	case Missing:
		r.MissingCount++
		list = &r.Missing
	case Extra:
		r.ExtraCount++
		list = &r.Extra
	default:
		r.MismatchedCount++
		list = &r.Mismatched
	}
	if len(*list) >= e.spec.maxKeys() {
		r.Truncated = true
		return
	}
	var df Diff
	if a != nil {
		df.Key, df.SourceHash = e.keyOf(a), hashHex(a.h)
	}
	if b != nil {
		df.Key, df.SinkHash = e.keyOf(b), hashHex(b.h)
	}
	*list = append(*list, df)
}

func (e *engine) keyOf(kr *krow) Key {
	if kr.k == nil {
		return Key{strconv.FormatInt(kr.ki, 10)}
	}
	return slices.Clone(kr.k)
}

// cmpKey orders keys the way the servers' ORDER BY does: integers and
// numerics by value, everything else by the bytes of its canonical text
// (COLLATE "C").
func (e *engine) cmpKey(a, b *krow) int {
	if a.k == nil && b.k == nil {
		return compareInt(a.ki, b.ki)
	}
	return compareKeys(a.k, b.k, e.kinds)
}

func (m *mapping) keyKinds() []kind {
	out := make([]kind, m.Keys)
	for i, p := range m.Pairs[:m.Keys] {
		switch {
		case p.Src.Kind == kindNumeric || p.Dst.Kind == kindNumeric:
			out[i] = kindNumeric
		case p.Src.Kind == kindInt:
			out[i] = kindInt
		default:
			out[i] = kindText
		}
	}
	return out
}

func compareKeys(a, b Key, kinds []kind) int {
	for i := range a {
		var c int
		switch kinds[i] {
		case kindInt:
			x, _ := strconv.ParseInt(a[i], 10, 64)
			y, _ := strconv.ParseInt(b[i], 10, 64)
			c = compareInt(x, y)
		case kindNumeric:
			c = compareDecimal(a[i], b[i])
		default:
			c = strings.Compare(a[i], b[i])
		}
		if c != 0 {
			return c
		}
	}
	return 0
}

func compareInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// ComparePools is Compare over one connection acquired from each pool (the
// two pools may be the same: two connections are taken). The connections go
// back to their pools when it returns.
func ComparePools(ctx context.Context, src, dst *pgxpool.Pool, spec Spec) (*Result, error) {
	a, err := src.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("acquiring a source connection: %w", err)
	}
	defer a.Release()
	b, err := dst.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("acquiring a sink connection: %w", err)
	}
	defer b.Release()
	return Compare(ctx, a.Conn(), b.Conn(), spec)
}

// dbIdentity says which database of which running server a session is in:
// the cluster's system identifier (NULL where this user may not read it),
// the postmaster's start time (a copy of the cluster — a standby, a restored
// backup — shares the system identifier but not the start time) and the
// database's oid. Connection strings cannot tell: one server has many
// names (a socket, localhost, an address, a service file, PG* variables).
type dbIdentity struct {
	system   *string
	started  string
	database uint32
}

func identify(ctx context.Context, x *side) (dbIdentity, error) {
	var id dbIdentity
	x.queries++
	err := x.tx.QueryRow(ctx, `SELECT CASE WHEN has_function_privilege('pg_control_system()', 'EXECUTE')
				THEN (SELECT system_identifier::text FROM pg_control_system()) END,
			pg_postmaster_start_time()::text,
			(SELECT oid FROM pg_database WHERE datname = current_database())`).Scan(&id.system, &id.started, &id.database)
	if err != nil {
		return id, fmt.Errorf("identifying the %s database: %w", x.name, err)
	}
	return id, nil
}

// same says whether two identities are one database of one server.
func (a dbIdentity) same(b dbIdentity) bool {
	if a.system != nil && b.system != nil && *a.system != *b.system {
		return false
	}
	return a.started == b.started && a.database == b.database
}

// refuseSameTable returns an error wrapping ErrSameTable when the two sides
// are one table of one database. Two tables of one database (say
// public.customers and sink.customers) are fine.
func refuseSameTable(ctx context.Context, s, d *side) error {
	if s.tbl.OID != d.tbl.OID {
		return nil
	}
	var si, di dbIdentity
	err := both(ctx, s, d, func(ctx context.Context, x *side) error {
		id, err := identify(ctx, x)
		if x == s {
			si = id
		} else {
			di = id
		}
		return err
	})
	if err != nil {
		return err
	}
	if !si.same(di) {
		return nil
	}
	return fmt.Errorf("%w %s of one database (the two connections reach the same server and database, oid %d): comparing a table with itself never finds drift; name the sink database, or a sink table that differs",
		ErrSameTable, s.tbl.Name, si.database)
}
