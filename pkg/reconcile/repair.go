package reconcile

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// RepairSet is the drift a plan asks to repair: the differing rows Compare
// found, with their keys and row hashes. Repair touches only these keys, and
// only while their row hashes are still the planned ones.
type RepairSet struct {
	Missing, Extra, Mismatched []Diff
}

// Len is the number of rows in the set.
func (s RepairSet) Len() int { return len(s.Missing) + len(s.Extra) + len(s.Mismatched) }

// Keys returns every key of the set.
func (s RepairSet) Keys() []Key {
	var out []Key
	for _, l := range [][]Diff{s.Missing, s.Extra, s.Mismatched} {
		for _, d := range l {
			out = append(out, d.Key)
		}
	}
	return out
}

// DefaultRepairBatch is the most rows one repair transaction touches.
const DefaultRepairBatch = 5000

// RepairOptions tune Repair.
type RepairOptions struct {
	// DeleteExtra allows deleting the extra rows; without it they are
	// left alone (and counted as skipped).
	DeleteExtra bool
	// BatchSize is the most rows per sink transaction (zero:
	// DefaultRepairBatch); the first batches are smaller (a quarter of it,
	// then twice the batch before), and the last two share what is left
	// evenly.
	BatchSize int
	// Images receives, for each batch, the before-images of every sink row
	// the batch will change, BEFORE the batch commits. One call may carry
	// the images of two batches, batch and the next (ready by the time batch
	// commits; with two sink sessions): both are recorded before either
	// commits. An error aborts the batches not committed (nothing of them is
	// written) and the repair. Apply stores them in the state so that a
	// rollback can put the rows back.
	Images func(ctx context.Context, batch int, images []RowImage) error
	// After, when set, receives for each committed batch what it left:
	// for each row it inserted or updated, the id of the transaction that
	// wrote the row's version (RowImage.Xmin); for each row it deleted,
	// neither Row nor Xmin. A rollback checks them (RepairOptions.Expect of
	// RestoreRows) so that it never overwrites rows changed since: any later
	// write gives the row a new version, with another xmin.
	After func(ctx context.Context, batch int, images []RowImage) error
	// Expect, for RestoreRows, are the rows as the repair left them (by
	// Xmin, or by Row as states of format_version 1 recorded them; neither
	// for a row expected absent): a restore refuses (and changes nothing)
	// when any of them changed since.
	Expect []RowImage
	// SecondSink, when set, is a second connection to the sink, as the
	// same user: a batch writes on one connection while the batch before
	// it, on the other, still writes, has its before-images recorded or
	// commits. Batches still commit in order, each after its images were
	// recorded.
	SecondSink *pgx.Conn
	// BeforeCommit, when set (tests), is called after a batch's writes and
	// before its commit; an error aborts the batch and the repair, as a
	// crash would.
	BeforeCommit func(batch int) error
	// StatementTimeout and LockTimeout bound every statement (zero: 30
	// minutes and 5 seconds).
	StatementTimeout, LockTimeout time.Duration

	// prepared, when set (tests), is called once a batch's statements ran,
	// before it waits for the batch before it.
	prepared func(batch int)
}

// RowImage is one sink row as it was before a repair changed it (a
// before-image), or as the repair left it (an after-image).
type RowImage struct {
	// Key is the row's key as the comparison renders it (canonical text).
	Key Key
	// KeyJSON is the sink key columns as a JSON object of their values.
	KeyJSON json.RawMessage
	// Row is the whole sink row as a JSON object (row_to_json); nil when
	// the row did not exist (the repair inserts it; a restore deletes it),
	// and in after-images.
	Row json.RawMessage
	// Xmin, in after-images, is the transaction id of the row version the
	// repair wrote (the xmin system column, as text); empty for a row the
	// repair deleted.
	Xmin string
}

// StaleRow is a planned row Repair left alone because it moved since the
// plan: its source or sink row hash is no longer the planned one.
type StaleRow struct {
	Key  Key      `json:"key"`
	Kind DiffKind `json:"kind"`
	Why  string   `json:"why"`
}

// RepairResult is what Repair did.
type RepairResult struct {
	Inserted, Updated, Deleted int64
	// Already counts planned rows found already in the planned state (a
	// second run after an interrupted one, or a pipeline that caught up).
	Already int64
	// Skipped counts extra rows left alone because deletes were not
	// allowed.
	Skipped int64
	// Stale lists the rows that moved since the plan: not written.
	Stale   []StaleRow
	Batches int
	// Repaired are the keys the repair wrote or found already repaired:
	// the keys verification checks.
	Repaired []Key
	Elapsed  time.Duration
}

// Changed is the number of rows written.
func (r *RepairResult) Changed() int64 { return r.Inserted + r.Updated + r.Deleted }

// add counts a committed batch.
func (r *RepairResult) add(out *batchOutcome) {
	r.Inserted += out.ins
	r.Updated += out.upd
	r.Deleted += out.del
	r.Already += out.already
	r.Stale = append(r.Stale, out.stale...)
	r.Repaired = append(r.Repaired, out.repaired...) // in key order, as the batches
}

// ErrStale is wrapped by errors about rows that moved since the plan.
var ErrStale = errors.New("rows changed since the plan")

// Repair makes the sink rows of set equal to their source rows: it inserts
// the missing rows, updates the mismatched ones and (with DeleteExtra)
// deletes the extra ones, in batches, each one sink transaction. The source
// rows are read in one READ ONLY, REPEATABLE READ transaction and copied into
// a temporary table on the sink (COPY), from which the batch writes.
//
// It is optimistic: a row is written only when its source row hash is still
// the planned one (checked before the batch copies it) and its sink row is
// still as planned (checked by the writing statement itself: the planned
// hash for updates and deletes, no row with the key for inserts, and no
// change while the statement waited for the row's lock), so a row that
// changed since the plan is never overwritten with a stale value; rows that
// moved are reported in RepairResult.Stale. Rows already in their repaired
// state are counted as Already, so running a repair again after an
// interruption is safe. The writing statements return the before-images of
// the rows they wrote (and the xmin of the versions they wrote: the
// after-images); those of a batch go to opts.Images before it commits. The
// source rows of the next batch are read while a batch writes.
func Repair(ctx context.Context, src, dst *pgx.Conn, spec Spec, set RepairSet, opts RepairOptions) (*RepairResult, error) {
	start := time.Now()
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	if src == nil || dst == nil || src == dst {
		return nil, errors.New("repair needs two distinct connections: one to the source and one to the sink")
	}
	spec.Mode = ModeRows
	if opts.StatementTimeout == 0 {
		opts.StatementTimeout = spec.StatementTimeout
	}
	if opts.LockTimeout == 0 {
		opts.LockTimeout = spec.LockTimeout
	}
	batchSize := opts.BatchSize
	if batchSize <= 0 {
		batchSize = DefaultRepairBatch
	}
	e := &engine{spec: &spec}
	s, d, err := e.open(ctx, src, dst)
	defer func() { s.end(ctx); d.end(ctx) }()
	if err != nil {
		return nil, err
	}
	// The sink's read-only transaction served introspection; each batch
	// has its own read-write one.
	d.end(ctx)
	if err := checkKeys(set, e.m.Keys); err != nil {
		return nil, err
	}

	// Work list in key order: kind per key.
	items := make([]repairItem, 0, set.Len())
	for i := range set.Missing {
		items = append(items, repairItem{&set.Missing[i], Missing})
	}
	for i := range set.Mismatched {
		items = append(items, repairItem{&set.Mismatched[i], Mismatched})
	}
	res := &RepairResult{}
	for i := range set.Extra {
		if !opts.DeleteExtra {
			res.Skipped++
			continue
		}
		items = append(items, repairItem{&set.Extra[i], Extra})
	}
	items = sortItems(items, e.kinds)
	if len(items) == 0 {
		res.Elapsed = time.Since(start)
		return res, nil
	}
	var need []string
	for _, it := range items {
		switch it.kind {
		case Missing:
			need = appendOnce(need, "INSERT")
		case Mismatched:
			need = appendOnce(need, "UPDATE")
		case Extra:
			need = appendOnce(need, "DELETE")
		}
	}

	w := newRepairWriter(e.m, d.sql, s.sql)
	cols := append([]string{s.sql.rowHash}, w.srcRaw...)
	fetchRows := func(ctx context.Context, batch []repairItem) (map[string]srcRow, error) {
		keys := make([]Key, len(batch))
		for i, it := range batch {
			keys[i] = it.df.Key
		}
		rows := make(map[string]srcRow, len(batch))
		nk := len(e.kinds)
		k := make(Key, nk)
		err := s.lookupRaw(ctx, keys, cols, true, func(raw [][]byte) {
			for i := range nk {
				k[i] = string(raw[i])
			}
			h, _ := strconv.ParseInt(string(raw[nk]), 10, 64)
			rows[keyString(k)] = srcRow{hash: hashHex(h), vals: copyValues(raw[nk+1:])}
		})
		return rows, err
	}
	return runRepair(ctx, start, dst, src, d, w, items, need, batchSize, opts, res, fetchRows)
}

// runRepair writes items into the sink in batches (see Repair): fetchRows
// reads the source rows of a batch, by canonical key, on the source's
// connection, while the batch before it writes.
func runRepair(ctx context.Context, start time.Time, dst *pgx.Conn, srcConn any, d *side, w *repairWriter, items []repairItem, need []string,
	batchSize int, opts RepairOptions, res *RepairResult, fetchRows func(context.Context, []repairItem) (map[string]srcRow, error)) (*RepairResult, error) {
	sessions := []*sinkSession{{conn: dst}}
	if opts.SecondSink != nil && opts.SecondSink != dst && any(opts.SecondSink) != srcConn {
		sessions = append(sessions, &sinkSession{conn: opts.SecondSink})
	}
	defer func() {
		for _, ss := range sessions {
			if ss.temp {
				// The table is empty; a failure to drop it leaves an
				// empty table that goes with the session.
				_, _ = ss.conn.Exec(context.WithoutCancel(ctx), "DROP TABLE IF EXISTS pg_temp.offsetctl_repair")
			}
		}
	}()
	// The source rows of the next batch are read (on the source
	// connection) while this batch writes (on the sink's).
	var batches [][]repairItem
	for i, n := range batchSizes(len(items), batchSize) {
		batches = append(batches, items[i:i+n])
	}
	fetch := func(batch []repairItem) chan srcFetch {
		ch := make(chan srcFetch, 1)
		go func() {
			rows, err := fetchRows(ctx, batch)
			ch <- srcFetch{rows, err}
		}()
		return ch
	}
	next := fetch(batches[0])
	defer func() {
		if next != nil {
			<-next // the source connection is free again before it is closed
		}
	}()
	if err := checkPrivileges(ctx, dst, d, need); err != nil {
		return nil, err
	}
	// Each batch runs its statements on a sink session as soon as its
	// source rows are read and the session is free (the batch before on
	// it committed), so with two sessions batch k writes while batch k-1
	// still writes or commits on the other. Batches commit in order: each
	// waits for the one before it, and a batch whose predecessor failed is
	// rolled back. A batch whose successor is ready by the time it commits
	// records the before-images of both at once (one write of the state
	// instead of two). free[i] holds a token while session i is free; chain
	// is the outcome of the last batch started, which the next one waits
	// for.
	free := make([]chan struct{}, len(sessions))
	for i := range free {
		free[i] = make(chan struct{}, 1)
		free[i] <- struct{}{}
	}
	var chain chan error
	var failed atomic.Bool
	var fetchErr error
	var last *batchRun
	for bi, batch := range batches {
		f := <-next
		next = nil
		if f.err != nil {
			fetchErr = f.err
			break
		}
		<-free[bi%len(sessions)]
		if failed.Load() {
			break
		}
		if bi+1 < len(batches) {
			next = fetch(batches[bi+1])
		}
		res.Batches++
		r := &batchRun{prepared: make(chan struct{}), next: make(chan *batchRun, 1)}
		if last != nil {
			last.next <- r
		}
		last = r
		prev, done := chain, make(chan error, 1)
		chain = done
		go func(n int, ss *sinkSession, batch []repairItem, rows map[string]srcRow) {
			defer func() { free[(n-1)%len(sessions)] <- struct{}{} }()
			r.pb, r.err = w.prepare(ctx, ss, opts, n, batch, rows)
			close(r.prepared)
			if opts.prepared != nil {
				opts.prepared(n)
			}
			err := r.err
			var perr error
			if prev != nil {
				perr = <-prev
			}
			switch {
			case perr != nil:
				if err == nil {
					r.pb.rollback(ctx)
				}
				err = perr
			case err == nil:
				if err = w.finish(ctx, opts, r.pb, r.readyNext()); err == nil {
					res.add(r.pb.out) // in batch order: the batch before is done
				}
			}
			if err != nil {
				failed.Store(true)
			}
			done <- err
		}(res.Batches, sessions[bi%len(sessions)], batch, f.rows)
	}
	if chain != nil {
		if err := <-chain; err != nil {
			return res, err
		}
	}
	if fetchErr != nil {
		return res, fetchErr
	}
	res.Elapsed = time.Since(start)
	return res, nil
}

// batchRun is a batch in flight: prepared (its statements run, pb and err
// set, then prepared closed), then finished once the batch before it is.
type batchRun struct {
	pb       *pendingBatch
	err      error
	prepared chan struct{}
	// next receives the batch after this one when it starts.
	next chan *batchRun
}

// readyNext returns the next batch's pending batch when it started, is
// prepared, and has rows to commit; nil otherwise. It does not wait.
func (r *batchRun) readyNext() *pendingBatch {
	select {
	case nx := <-r.next:
		select {
		case <-nx.prepared:
			if nx.err == nil && nx.pb.tx != nil {
				return nx.pb
			}
		default:
		}
	default:
	}
	return nil
}

// batchSizes cuts a work list of total rows into batches of at most size,
// by start. The first batch is a quarter of size and each next one twice the
// one before (up to size), so that the sink starts writing soon and the next
// batch's source rows are read by the time it is done. When what is left is
// more than one such batch and less than two, two batches share it evenly:
// on two sink sessions the last two write side by side and end together.
func batchSizes(total, size int) iter.Seq2[int, int] {
	return func(yield func(int, int) bool) {
		for i, n := 0, max(1, (size+3)/4); i < total; i, n = i+n, min(2*n, size) {
			if rest := total - i; rest > n && rest < 2*n {
				n = (rest + 1) / 2
			}
			if !yield(i, min(n, total-i)) {
				return
			}
		}
	}
}

// repairItem is one planned row: its diff (in the RepairSet) and its kind.
type repairItem struct {
	df   *Diff
	kind DiffKind
}

// sortItems returns the work list in key order. Integer key columns are
// parsed once per row, not once per comparison, and the sort moves indexes,
// not items. A plan lists the rows of each kind in key order: a work list
// made of a few sorted runs is merged in linear passes.
func sortItems(items []repairItem, kinds []kind) []repairItem {
	type keyed struct {
		n []int64 // the integer key columns, parsed
		i int     // index in items
	}
	ints := make([]int64, len(items)*len(kinds))
	ks := make([]keyed, len(items))
	for i, it := range items {
		ks[i] = keyed{ints[i*len(kinds) : (i+1)*len(kinds)], i}
		for c, k := range kinds {
			if k == kindInt {
				ks[i].n[c], _ = strconv.ParseInt(it.df.Key[c], 10, 64)
			}
		}
	}
	cmp := func(a, b keyed) int {
		for c, k := range kinds {
			var r int
			if k == kindInt {
				r = compareInt(a.n[c], b.n[c])
			} else {
				r = compareKeys(items[a.i].df.Key[c:c+1], items[b.i].df.Key[c:c+1], kinds[c:c+1])
			}
			if r != 0 {
				return r
			}
		}
		return 0
	}
	// The start of each sorted run.
	runs := []int{0}
	for i := 1; i < len(ks) && len(runs) <= 8; i++ {
		if cmp(ks[i-1], ks[i]) > 0 {
			runs = append(runs, i)
		}
	}
	if len(runs) > 8 {
		slices.SortFunc(ks, cmp)
	} else {
		// Merge neighbouring runs, pass after pass, until one is left.
		buf := make([]keyed, len(ks))
		for len(runs) > 1 {
			end := func(r int) int {
				if r+1 < len(runs) {
					return runs[r+1]
				}
				return len(ks)
			}
			var next []int
			for r := 0; r < len(runs); r += 2 {
				next = append(next, runs[r])
				lo, mid := runs[r], end(r)
				if r+1 == len(runs) {
					copy(buf[lo:], ks[lo:])
					break
				}
				hi := end(r + 1)
				i, j, o := lo, mid, lo
				for i < mid && j < hi {
					if cmp(ks[j], ks[i]) < 0 {
						buf[o] = ks[j]
						j++
					} else {
						buf[o] = ks[i]
						i++
					}
					o++
				}
				o += copy(buf[o:], ks[i:mid])
				copy(buf[o:], ks[j:hi])
			}
			ks, buf, runs = buf, ks, next
		}
	}
	sorted := make([]repairItem, len(items))
	for i, k := range ks {
		sorted[i] = items[k.i]
	}
	return sorted
}

// srcFetch is the source rows of one batch, by key, or why they could not
// be read.
type srcFetch struct {
	rows map[string]srcRow
	err  error
}

// sinkSession is a sink connection a repair writes on, and whether its
// temporary table exists (a batch that created it committed).
type sinkSession struct {
	conn *pgx.Conn
	temp bool
}

// pendingBatch is a batch whose statements ran in tx, not yet committed; tx
// is nil when the batch has nothing to commit.
type pendingBatch struct {
	n   int
	ss  *sinkSession
	tx  pgx.Tx
	out *batchOutcome
	// recorded is set when the batch before it recorded this batch's
	// before-images with its own.
	recorded bool
}

func (p *pendingBatch) rollback(ctx context.Context) {
	if p.tx != nil {
		_ = p.tx.Rollback(context.WithoutCancel(ctx))
		p.tx = nil
	}
}

// prepare runs one batch's statements in a new transaction of ss, which
// finish commits. Rows whose source moved since the plan are left out
// before anything is written; the statements themselves write only the sink
// rows whose row hash is still the planned one (and, for inserts, whose key
// is still absent), and return the rows as they were (before-images) and
// the xmin of the versions they wrote (after-images). The planned rows they
// left alone are then looked at again: already in the repaired state, or
// moved (stale).
func (w *repairWriter) prepare(ctx context.Context, ss *sinkSession, opts RepairOptions, n int, batch []repairItem, src map[string]srcRow) (_ *pendingBatch, err error) {
	out := &batchOutcome{repaired: make([]Key, 0, len(batch)), images: make([]RowImage, 0, len(batch))}
	if opts.After != nil {
		out.after = make([]RowImage, 0, len(batch))
	}
	rows := w.newCopyData()
	// The key of each item as a map key, and whether its row was copied
	// (not stale at the source).
	kss := make([]string, len(batch))
	copied := make([]bool, len(batch))
	for i, it := range batch {
		kss[i] = keyString(it.df.Key)
		stale := func(why string) {
			out.stale = append(out.stale, StaleRow{Key: it.df.Key, Kind: it.kind, Why: why})
		}
		copyRow := func(op byte, sinkHash string, vals [][]byte) {
			rows.add(op, sinkHash, it.df.Key, vals)
			copied[i] = true
		}
		sr, inS := src[kss[i]]
		switch {
		case it.kind == Extra && inS:
			stale("a source row with this key appeared")
		case it.kind == Extra:
			copyRow('d', it.df.SinkHash, nil)
		case !inS:
			stale("the source row is gone")
		case sr.hash != it.df.SourceHash:
			stale("the source row changed")
		case it.kind == Missing:
			copyRow('i', "", sr.vals)
		default:
			copyRow('u', it.df.SinkHash, sr.vals)
		}
	}
	p := &pendingBatch{n: n, ss: ss, out: out}
	if rows.n == 0 {
		return p, nil
	}
	if p.tx, err = beginWrite(ctx, ss.conn, opts); err != nil {
		return nil, err
	}
	tx := p.tx
	defer func() {
		if err != nil || out.ins+out.upd+out.del == 0 {
			p.rollback(ctx)
		}
	}()
	written, err := w.write(ctx, tx, rows, !ss.temp, opts.After != nil)
	if err != nil {
		return nil, err
	}
	// The planned rows the statements left alone.
	var rest []Key
	for i, it := range batch {
		if _, ok := written[kss[i]]; !ok && copied[i] {
			rest = append(rest, it.df.Key)
		}
	}
	var cur map[string]string
	if len(rest) > 0 {
		if cur, err = w.sinkHashes(ctx, tx, rest); err != nil {
			return nil, err
		}
	}
	for i, it := range batch {
		wr, ok := written[kss[i]]
		if ok {
			kj := w.keyJSON(it.df.Key)
			out.images = append(out.images, RowImage{Key: it.df.Key, KeyJSON: kj, Row: wr.before})
			if opts.After != nil {
				out.after = append(out.after, RowImage{Key: it.df.Key, KeyJSON: kj, Xmin: wr.xmin})
			}
			out.repaired = append(out.repaired, it.df.Key)
			switch it.kind {
			case Missing:
				out.ins++
			case Mismatched:
				out.upd++
			default:
				out.del++
			}
			continue
		}
		if !copied[i] {
			continue // stale at the source
		}
		h, inD := cur[kss[i]]
		stale := func(why string) {
			out.stale = append(out.stale, StaleRow{Key: it.df.Key, Kind: it.kind, Why: why})
		}
		switch {
		case it.kind == Extra && !inD, it.kind != Extra && inD && h == it.df.SourceHash:
			out.already++
			out.repaired = append(out.repaired, it.df.Key)
		case it.kind == Missing:
			stale("a sink row with this key appeared")
		case !inD:
			stale("the sink row is gone")
		default:
			stale("the sink row changed")
		}
	}
	return p, nil
}

// finish commits a prepared batch: its before-images go to opts.Images
// first (unless the batch before recorded them), with those of next when
// next is not nil (the next batch, prepared, not committed yet), and once it
// committed its after-images to opts.After. A failure rolls the batch back.
func (w *repairWriter) finish(ctx context.Context, opts RepairOptions, p, next *pendingBatch) (err error) {
	if p.tx == nil {
		return nil
	}
	defer p.rollback(ctx) // a no-op once committed
	if opts.Images != nil && !p.recorded {
		ims, what := p.out.images, fmt.Sprintf("batch %d", p.n)
		if next != nil {
			ims = append(ims[:len(ims):len(ims)], next.out.images...)
			what = fmt.Sprintf("batches %d and %d", p.n, next.n)
		}
		if err := opts.Images(ctx, p.n, ims); err != nil {
			return fmt.Errorf("saving the before-images of repair %s: %w", what, err)
		}
		if next != nil {
			next.recorded = true
		}
	}
	if opts.BeforeCommit != nil {
		if err := opts.BeforeCommit(p.n); err != nil {
			return err
		}
	}
	if err := p.tx.Commit(ctx); err != nil {
		return fmt.Errorf("committing repair batch %d on the sink table %s: %w", p.n, w.m.Dst.Name, err)
	}
	p.tx = nil
	p.ss.temp = true
	if opts.After != nil && len(p.out.after) > 0 {
		// Only committed rows are handed on.
		if err := opts.After(ctx, p.n, p.out.after); err != nil {
			return fmt.Errorf("recording the rows repair batch %d wrote: %w", p.n, err)
		}
	}
	return nil
}

type srcRow struct {
	hash string
	vals [][]byte // the source values as text, nil for NULL
}

// copyValues copies vals (as read from the connection, reused after the
// row) into one allocation.
func copyValues(vals [][]byte) [][]byte {
	n := 0
	for _, v := range vals {
		n += len(v)
	}
	buf := make([]byte, 0, n)
	out := make([][]byte, len(vals))
	for i, v := range vals {
		if v != nil {
			buf = append(buf, v...)
			out[i] = buf[len(buf)-len(v) : len(buf) : len(buf)]
		}
	}
	return out
}

type batchOutcome struct {
	ins, upd, del int64
	images, after []RowImage
	stale         []StaleRow
	already       int64
	// repaired are the keys written or found already repaired, in the
	// batch's (key) order.
	repaired []Key
}

// writtenRow is one row a repair statement wrote: as it was (nil for an
// inserted row) and the xmin of the version it wrote (empty for a deleted
// row, and when the after-images are not asked for).
type writtenRow struct {
	before json.RawMessage
	xmin   string
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func appendOnce(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

// checkKeys refuses a set whose keys do not have the key's arity, or whose
// rows lack the hashes an optimistic repair needs.
func checkKeys(set RepairSet, n int) error {
	check := func(l []Diff, kind DiffKind, src, dst bool) error {
		for _, d := range l {
			if len(d.Key) != n {
				return fmt.Errorf("the planned %s row %s has %d key values, the key has %d columns: the plan does not match the tables, plan again", kind, d.Key, len(d.Key), n)
			}
			if (src && d.SourceHash == "") || (dst && d.SinkHash == "") {
				return fmt.Errorf("the planned %s row %s has no row hash: plan again", kind, d.Key)
			}
		}
		return nil
	}
	if err := check(set.Missing, Missing, true, false); err != nil {
		return err
	}
	if err := check(set.Mismatched, Mismatched, true, true); err != nil {
		return err
	}
	return check(set.Extra, Extra, false, true)
}

// checkPrivileges refuses, before anything is written, a sink user without
// the privileges the repair needs.
func checkPrivileges(ctx context.Context, dst *pgx.Conn, d *side, need []string) error {
	var missing []string
	if err := dst.QueryRow(ctx, "SELECT coalesce(array_agg(p ORDER BY o), '{}') FROM unnest($2::text[]) WITH ORDINALITY AS u(p, o) WHERE NOT has_table_privilege($1, p)",
		d.tbl.Ident, need).Scan(&missing); err != nil {
		return fmt.Errorf("checking the %s privileges on the sink table %s: %w", strings.Join(need, ", "), d.tbl.Name, err)
	}
	if len(missing) > 0 {
		var user string
		_ = dst.QueryRow(ctx, "SELECT current_user").Scan(&user)
		return fmt.Errorf("the sink user %q lacks %s on %s, which the repair needs; nothing was written: GRANT %s ON %s TO %s, or repair with another role",
			user, strings.Join(missing, ", "), d.tbl.Name, strings.Join(missing, ", "), d.tbl.Ident, pgx.Identifier{user}.Sanitize())
	}
	return nil
}

// beginWrite starts a read-write sink transaction set up like the
// comparison's sessions (UTC, ISO dates) so that text values read from the
// source mean the same on the sink.
//
// Its statements reach every sink row through the key's index (and then by
// its ctid), whatever the table's size: no sequential scan and no merge join
// (which would read the whole sink table), since the temporary table of
// source rows and the JSON of images have no statistics to guide the
// planner. A key compared as text that no index serves is still matched in
// one hash join, not a scan per row. No JIT: the disabled paths' costs would
// make it compile these small statements.
func beginWrite(ctx context.Context, dst *pgx.Conn, opts RepairOptions) (pgx.Tx, error) {
	tx, err := dst.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadWrite})
	if err != nil {
		return nil, fmt.Errorf("starting a sink transaction: %w", err)
	}
	st, lt := opts.StatementTimeout, opts.LockTimeout
	if st == 0 {
		st = 30 * time.Minute
	}
	if lt == 0 {
		lt = 5 * time.Second
	}
	_, err = tx.Exec(ctx, `SELECT set_config('application_name', 'offsetctl', true),
		set_config('statement_timeout', $1, true),
		set_config('lock_timeout', $2, true),
		set_config('TimeZone', 'UTC', true),
		set_config('DateStyle', 'ISO, YMD', true),
		set_config('IntervalStyle', 'postgres', true),
		set_config('extra_float_digits', '1', true),
		set_config('bytea_output', 'hex', true),
		set_config('enable_mergejoin', 'off', true),
		set_config('enable_seqscan', 'off', true),
		set_config('jit', 'off', true)`,
		fmt.Sprintf("%dms", st.Milliseconds()), fmt.Sprintf("%dms", lt.Milliseconds()))
	if err != nil {
		_ = tx.Rollback(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("setting up the sink session: %w", err)
	}
	return tx, nil
}

// repairWriter holds the SQL of one repair.
type repairWriter struct {
	m       *mapping
	d       *sideSQL
	srcRaw  []string // raw source column expressions, pair order
	dstCols []string // quoted sink column names, pair order
	dstType []string // sink column types, pair order
	dstKeys []string // sink key column names
	// keyNames are the sink key column names as JSON strings.
	keyNames []string
}

func newRepairWriter(m *mapping, d, s *sideSQL) *repairWriter {
	w := &repairWriter{m: m, d: d}
	for i, p := range m.Pairs {
		w.srcRaw = append(w.srcRaw, pgx.Identifier{p.Src.Name}.Sanitize())
		w.dstCols = append(w.dstCols, pgx.Identifier{p.Dst.Name}.Sanitize())
		w.dstType = append(w.dstType, p.Dst.Type)
		if i < m.Keys {
			w.dstKeys = append(w.dstKeys, p.Dst.Name)
			n, _ := json.Marshal(p.Dst.Name)
			w.keyNames = append(w.keyNames, string(n))
		}
	}
	return w
}

// keyJSON renders a key as a JSON object of the sink key columns.
func (w *repairWriter) keyJSON(k Key) json.RawMessage {
	b := make([]byte, 0, 16*len(k)+len(w.keyNames))
	b = append(b, '{')
	for i, n := range w.keyNames {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, n...)
		b = append(b, ':')
		b = appendJSONString(b, k[i])
	}
	return append(b, '}')
}

// appendJSONString appends s as encoding/json writes it: plain printable
// ASCII as it is, anything else through json.Marshal.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			v, _ := json.Marshal(s)
			return append(b, v...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// sinkHashes reads the row hashes of the sink rows of keys, by key.
func (w *repairWriter) sinkHashes(ctx context.Context, tx pgx.Tx, keys []Key) (map[string]string, error) {
	nk := len(w.d.keyKinds)
	join, cond := w.d.keySet()
	q := "SELECT " + w.d.keyTextCols() + ", (" + w.d.rowHash + ")::text FROM " + w.d.from + join + " WHERE " + cond
	rows, err := tx.Query(ctx, q, keyArrays(keys, nk)...)
	if err != nil {
		return nil, fmt.Errorf("reading %d rows of the sink table %s: %w", len(keys), w.m.Dst.Name, explain(err))
	}
	defer rows.Close()
	out := make(map[string]string, len(keys))
	for rows.Next() {
		raw := rows.RawValues()
		k := make(Key, nk)
		for i := range nk {
			k[i] = string(raw[i])
		}
		h, _ := strconv.ParseInt(string(raw[nk]), 10, 64)
		out[keyString(k)] = hashHex(h)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading %d rows of the sink table %s: %w", len(keys), w.m.Dst.Name, explain(err))
	}
	return out, nil
}

// keyArrays are the key columns of keys as text arrays, the arguments of
// sideSQL.keySet's condition.
func keyArrays(keys []Key, nk int) []any {
	args := make([]any, nk)
	for i := range nk {
		col := make([]string, len(keys))
		for j, k := range keys {
			col[j] = k[i]
		}
		args[i] = col
	}
	return args
}

// copyData is the rows of one batch for the temporary table, as COPY's
// binary format carries them: every column is text, whose binary form is its
// bytes, so the source values go as they were read.
type copyData struct {
	buf []byte
	n   int
	ops map[byte]bool
	// cols is the number of columns: operation, planned sink hash, keys,
	// values.
	cols int
}

func (w *repairWriter) newCopyData() *copyData {
	c := &copyData{ops: map[byte]bool{}, cols: 2 + len(w.dstKeys) + len(w.dstCols)}
	// Signature, flags, header extension length.
	c.buf = append(c.buf, "PGCOPY\n\xff\r\n\x00"...)
	c.buf = binary.BigEndian.AppendUint32(c.buf, 0)
	c.buf = binary.BigEndian.AppendUint32(c.buf, 0)
	return c
}

// add appends one row: operation (i, u or d), the planned sink row hash
// (updates and deletes), key texts, values (nil for a delete).
func (c *copyData) add(op byte, sinkHash string, k Key, vals [][]byte) {
	c.n++
	c.ops[op] = true
	c.buf = binary.BigEndian.AppendUint16(c.buf, uint16(c.cols))
	c.buf = appendField(c.buf, string(op))
	if sinkHash == "" {
		c.buf = appendNull(c.buf)
	} else {
		// The plan renders hashes as 16 hex digits; the server computes int8.
		h, _ := strconv.ParseUint(sinkHash, 16, 64)
		c.buf = appendField(c.buf, strconv.FormatInt(int64(h), 10))
	}
	for _, v := range k {
		c.buf = appendField(c.buf, v)
	}
	for i := range c.cols - 2 - len(k) {
		if vals == nil || vals[i] == nil {
			c.buf = appendNull(c.buf)
		} else {
			c.buf = appendField(c.buf, vals[i])
		}
	}
}

// appendField appends one field of a binary COPY row: its length, its bytes.
func appendField[T []byte | string](buf []byte, v T) []byte {
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(v)))
	return append(buf, v...)
}

// appendNull appends a NULL field of a binary COPY row (length -1).
func appendNull(buf []byte) []byte { return binary.BigEndian.AppendUint32(buf, 0xffffffff) }

// quoted is names quoted as identifiers, comma-separated.
func quoted(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = pgx.Identifier{n}.Sanitize()
	}
	return strings.Join(q, ", ")
}

// data is the whole COPY stream: the rows and the trailer.
func (c *copyData) data() []byte {
	return binary.BigEndian.AppendUint16(slices.Clip(c.buf), 0xffff)
}

// write loads rows into a temporary table with COPY and inserts, updates and
// deletes from it. Each statement touches only the rows still as planned: an
// insert only where no sink row has the key, an update or delete only where
// the sink row's hash is the planned one and the row did not change while
// the statement ran. It returns the rows written, by key.
func (w *repairWriter) write(ctx context.Context, tx pgx.Tx, rows *copyData, create, after bool) (map[string]writtenRow, error) {
	nk := len(w.dstKeys)
	names := []string{"offsetctl_op", "offsetctl_h"}
	defs := []string{"offsetctl_op text", "offsetctl_h text"}
	for i := range nk {
		n := fmt.Sprintf("offsetctl_k%d", i+1)
		names = append(names, n)
		defs = append(defs, n+" text")
	}
	for i := range w.dstCols {
		n := fmt.Sprintf("offsetctl_v%d", i+1)
		names = append(names, n)
		defs = append(defs, n+" text")
	}
	if create {
		// One temporary table per session serves every batch: its rows go
		// at each commit. It exists once a batch that created it commits
		// (finish records it); Repair drops it at the end.
		if _, err := tx.Exec(ctx, "DROP TABLE IF EXISTS pg_temp.offsetctl_repair; CREATE TEMPORARY TABLE offsetctl_repair ("+strings.Join(defs, ", ")+") ON COMMIT DELETE ROWS"); err != nil {
			return nil, fmt.Errorf("creating the repair's temporary table on the sink: %w", explain(err))
		}
	}
	if _, err := tx.Conn().PgConn().CopyFrom(ctx, bytes.NewReader(rows.data()), "COPY pg_temp.offsetctl_repair ("+quoted(names)+") FROM STDIN (FORMAT binary)"); err != nil {
		return nil, fmt.Errorf("copying %d source rows to the sink: %w", rows.n, explain(err))
	}
	vals := func(from int) []string {
		var out []string
		for i := from; i < len(w.dstCols); i++ {
			out = append(out, fmt.Sprintf("offsetctl_keys.offsetctl_v%d::%s", i+1, w.dstType[i]))
		}
		return out
	}
	table := w.m.Dst
	afterCol := "NULL::text"
	if after {
		afterCol = "offsetctl_t.xmin::text"
	}
	// The sink row as the statement found it, by key, beside the target: its
	// ctid and xmin tie the target row to it. A row another session updates
	// while the statement waits for its lock is re-checked against these
	// conditions on its new version, whose xmin differs, and left alone.
	old := " CROSS JOIN LATERAL (SELECT " + table.Ident + ".ctid AS offsetctl_ctid, " + table.Ident + ".xmin AS offsetctl_xmin, row_to_json(" +
		table.Ident + ".*)::text AS offsetctl_before, " + w.d.rowHash + " AS offsetctl_hash FROM " + table.Ident + " WHERE " + w.d.keyMatch() + ") AS offsetctl_o"
	same := " AND offsetctl_t.ctid = offsetctl_o.offsetctl_ctid AND offsetctl_t.xmin = offsetctl_o.offsetctl_xmin AND offsetctl_o.offsetctl_hash = offsetctl_keys.offsetctl_h::int8"
	written := make(map[string]writtenRow, rows.n)
	run := func(what, q string, before, after bool) error {
		res, err := tx.Query(ctx, q)
		if err != nil {
			return fmt.Errorf("%s rows of the sink table %s: %w", what, table.Name, explain(err))
		}
		defer res.Close()
		for res.Next() {
			raw := res.RawValues()
			k := make(Key, nk)
			for i := range nk {
				k[i] = string(raw[i])
			}
			var wr writtenRow
			if before {
				wr.before = json.RawMessage(slices.Clone(raw[nk]))
			}
			if after && raw[nk+1] != nil {
				wr.xmin = string(raw[nk+1])
			}
			written[keyString(k)] = wr
		}
		if err := res.Err(); err != nil {
			return fmt.Errorf("%s rows of the sink table %s: %w", what, table.Name, explain(err))
		}
		return nil
	}
	if rows.ops['i'] {
		if err := run("inserting", "INSERT INTO "+table.Ident+" AS offsetctl_t ("+strings.Join(w.dstCols, ", ")+") SELECT "+
			strings.Join(vals(0), ", ")+" FROM offsetctl_repair AS offsetctl_keys WHERE offsetctl_op = 'i' AND NOT EXISTS (SELECT FROM "+
			table.Ident+" WHERE "+w.d.keyMatch()+") RETURNING "+w.d.keyTextCols()+", NULL::text, "+afterCol, false, true); err != nil {
			return nil, err
		}
	}
	if rows.ops['u'] {
		var sets []string
		for i, v := range vals(nk) {
			sets = append(sets, w.dstCols[nk+i]+" = "+v)
		}
		if len(sets) == 0 {
			// Only key columns are compared: a mismatch cannot be
			// written; the identity update still checks and locks the row.
			sets = append(sets, w.dstCols[0]+" = offsetctl_t."+w.dstCols[0])
		}
		if err := run("updating", "UPDATE "+table.Ident+" AS offsetctl_t SET "+strings.Join(sets, ", ")+
			" FROM offsetctl_repair AS offsetctl_keys"+old+" WHERE offsetctl_keys.offsetctl_op = 'u'"+same+
			" RETURNING "+w.d.keyTextCols()+", offsetctl_o.offsetctl_before, "+afterCol, true, true); err != nil {
			return nil, err
		}
	}
	if rows.ops['d'] {
		// The deleted row is its own before-image. A row another session
		// changes while the statement waits for its lock is checked again
		// in its new version, whose hash is no longer the planned one.
		if err := run("deleting", "DELETE FROM "+table.Ident+" AS offsetctl_t USING offsetctl_repair AS offsetctl_keys WHERE offsetctl_keys.offsetctl_op = 'd' AND "+
			w.d.keyMatch()+" AND "+w.d.rowHash+" = offsetctl_keys.offsetctl_h::int8 RETURNING "+w.d.keyTextCols()+", row_to_json(offsetctl_t.*)::text, NULL::text", true, false); err != nil {
			return nil, err
		}
	}
	return written, nil
}

// explain adds the operator's fix to errors whose cause is clear.
func explain(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "42501":
			return fmt.Errorf("%w (grant the sink role the privilege, or repair with another role)", err)
		case "55P03":
			return fmt.Errorf("%w (another session holds locks on these rows; retry later)", err)
		}
	}
	return err
}
