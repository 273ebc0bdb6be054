package reconcile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
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

	items, skipped, need := workList(set, e.kinds, opts.DeleteExtra)
	res := &RepairResult{Skipped: skipped}
	if len(items) == 0 {
		res.Elapsed = time.Since(start)
		return res, nil
	}

	w := newRepairWriter(e.m, d.sql, s.sql)
	cols := append([]string{s.sql.rowHash}, w.srcRaw...)
	nk := len(e.kinds)
	fetchRows := func(ctx context.Context, batch []repairItem) (map[string]srcRow, error) {
		keys := make([]Key, len(batch))
		for i, it := range batch {
			keys[i] = it.df.Key
		}
		rows := make(map[string]srcRow, len(batch))
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

// runRepair writes items into the sink in batches through a repairPipeline
// (see Repair): fetchRows reads the source rows of a batch, by canonical
// key, on the source's connection, while the batch before it writes.
// srcConn is the source's connection when it is a PostgreSQL one, which is
// never taken as a second sink session; nil otherwise.
func runRepair(ctx context.Context, start time.Time, dst *pgx.Conn, srcConn *pgx.Conn, d *side, w *repairWriter, items []repairItem, need []string,
	batchSize int, opts RepairOptions, res *RepairResult, fetchRows func(context.Context, []repairItem) (map[string]srcRow, error)) (*RepairResult, error) {
	pl := newRepairPipeline(w, fetchRows, opts, res, dst, srcConn)
	defer pl.close(ctx)
	var refused error
	err := pl.run(ctx, batchesOf(items, batchSize), func() error {
		refused = checkPrivileges(ctx, dst, d, need)
		return refused
	})
	if refused != nil {
		return nil, refused
	}
	if err != nil {
		return res, err
	}
	res.Elapsed = time.Since(start)
	return res, nil
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

// workList returns a repair's work list in key order (the kind of each key),
// the extra rows left alone when deleteExtra is false, and the privileges
// the work needs on the sink.
func workList(set RepairSet, kinds []kind, deleteExtra bool) (items []repairItem, skipped int64, need []string) {
	items = make([]repairItem, 0, set.Len())
	for i := range set.Missing {
		items = append(items, repairItem{&set.Missing[i], Missing})
	}
	for i := range set.Mismatched {
		items = append(items, repairItem{&set.Mismatched[i], Mismatched})
	}
	for i := range set.Extra {
		if !deleteExtra {
			skipped++
			continue
		}
		items = append(items, repairItem{&set.Extra[i], Extra})
	}
	items = sortItems(items, kinds)
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
	return items, skipped, need
}
