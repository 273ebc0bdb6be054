package reconcile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
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

// DefaultRepairBatch is the number of rows one repair transaction touches.
const DefaultRepairBatch = 5000

// RepairOptions tune Repair.
type RepairOptions struct {
	// DeleteExtra allows deleting the extra rows; without it they are
	// left alone (and counted as skipped).
	DeleteExtra bool
	// BatchSize is the number of rows per sink transaction (zero:
	// DefaultRepairBatch).
	BatchSize int
	// Images receives, for each batch, the before-images of every sink row
	// the batch will change, BEFORE the batch commits. An error aborts the
	// batch (nothing of it is written) and the repair. Apply stores them in
	// the state so that a rollback can put the rows back.
	Images func(ctx context.Context, batch int, images []RowImage) error
	// After, when set, receives for each committed batch the rows as the
	// batch left them (read back in its transaction; Row nil for deleted
	// rows). A rollback checks them (RepairOptions.Expect of
	// RestoreRows) so that it never overwrites rows changed since.
	After func(ctx context.Context, batch int, images []RowImage) error
	// Expect, for RestoreRows, are the rows as the repair left them: a
	// restore refuses (and changes nothing) when any of them changed since.
	Expect []RowImage
	// BeforeCommit, when set (tests), is called after a batch's writes and
	// before its commit; an error aborts the batch and the repair, as a
	// crash would.
	BeforeCommit func(batch int) error
	// StatementTimeout and LockTimeout bound every statement (zero: 30
	// minutes and 5 seconds).
	StatementTimeout, LockTimeout time.Duration
}

// RowImage is one sink row as it was before a repair changed it.
type RowImage struct {
	// Key is the row's key as the comparison renders it (canonical text).
	Key Key
	// KeyJSON is the sink key columns as a JSON object of their values.
	KeyJSON json.RawMessage
	// Row is the whole sink row as a JSON object (row_to_json); nil when
	// the row did not exist (the repair inserts it; a restore deletes it).
	Row json.RawMessage
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

// ErrStale is wrapped by errors about rows that moved since the plan.
var ErrStale = errors.New("rows changed since the plan")

// Repair makes the sink rows of set equal to their source rows: it inserts
// the missing rows, updates the mismatched ones and (with DeleteExtra)
// deletes the extra ones, in batches, each one sink transaction. The source
// rows are read in one READ ONLY, REPEATABLE READ transaction and copied into
// a temporary table on the sink (COPY), from which the batch writes.
//
// It is optimistic: in every batch the sink rows are locked and a row is
// written only when its sink row hash is still the planned one and its
// source row hash is still the planned one (so a row that changed since the
// plan is never overwritten with a stale value); rows that moved are
// reported in RepairResult.Stale. Rows already in their repaired state are
// counted as Already, so running a repair again after an interruption is
// safe. The before-images of a batch go to opts.Images before it commits.
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
	type item struct {
		df   Diff
		kind DiffKind
	}
	var items []item
	for _, df := range set.Missing {
		items = append(items, item{df, Missing})
	}
	for _, df := range set.Mismatched {
		items = append(items, item{df, Mismatched})
	}
	res := &RepairResult{}
	for _, df := range set.Extra {
		if !opts.DeleteExtra {
			res.Skipped++
			continue
		}
		items = append(items, item{df, Extra})
	}
	slices.SortFunc(items, func(a, b item) int { return compareKeys(a.df.Key, b.df.Key, e.kinds) })
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
	if err := checkPrivileges(ctx, dst, d, need); err != nil {
		return nil, err
	}

	w := newRepairWriter(e.m, d.sql, s.sql)
	for bstart := 0; bstart < len(items); bstart += batchSize {
		batch := items[bstart:min(bstart+batchSize, len(items))]
		res.Batches++
		keys := make([]Key, len(batch))
		for i, it := range batch {
			keys[i] = it.df.Key
		}
		// The source rows (hash and raw values of every compared column),
		// read while the sink rows are locked (two connections at once).
		srcRows := map[string]srcRow{}
		cols := append([]string{s.sql.rowHash}, w.srcRaw...)
		srcDone := make(chan error, 1)
		go func() {
			srcDone <- s.lookup(ctx, keys, cols, true, func(k Key, v []*string) {
				h, _ := strconv.ParseInt(deref(v[0]), 10, 64)
				srcRows[keyString(k)] = srcRow{hash: hashHex(h), vals: v[1:]}
			})
		}()
		tx, err := beginWrite(ctx, dst, opts)
		if err != nil {
			<-srcDone
			return res, err
		}
		done, err := func() (*batchOutcome, error) {
			defer tx.Rollback(context.WithoutCancel(ctx))
			cur, err := w.lockSink(ctx, tx, keys)
			if serr := <-srcDone; serr != nil {
				return nil, serr
			}
			if err != nil {
				return nil, err
			}
			out := &batchOutcome{}
			var rows [][]any
			for _, it := range batch {
				ks := keyString(it.df.Key)
				sr, inS := srcRows[ks]
				cr, inD := cur[ks]
				stale := func(why string) {
					out.stale = append(out.stale, StaleRow{Key: it.df.Key, Kind: it.kind, Why: why})
				}
				switch it.kind {
				case Missing:
					switch {
					case inD && inS && cr.hash == sr.hash && sr.hash == it.df.SourceHash:
						out.already = append(out.already, it.df.Key)
					case !inS:
						stale("the source row is gone")
					case sr.hash != it.df.SourceHash:
						stale("the source row changed")
					case inD:
						stale("a sink row with this key appeared")
					default:
						out.images = append(out.images, RowImage{Key: it.df.Key, KeyJSON: w.keyJSON(it.df.Key)})
						rows = append(rows, w.copyRow("i", it.df.Key, sr.vals))
						out.keys = append(out.keys, it.df.Key)
						out.ins++
					}
				case Mismatched:
					switch {
					case inD && inS && cr.hash == sr.hash && sr.hash == it.df.SourceHash:
						out.already = append(out.already, it.df.Key)
					case !inS:
						stale("the source row is gone")
					case sr.hash != it.df.SourceHash:
						stale("the source row changed")
					case !inD:
						stale("the sink row is gone")
					case cr.hash != it.df.SinkHash:
						stale("the sink row changed")
					default:
						out.images = append(out.images, RowImage{Key: it.df.Key, KeyJSON: w.keyJSON(it.df.Key), Row: cr.row})
						rows = append(rows, w.copyRow("u", it.df.Key, sr.vals))
						out.keys = append(out.keys, it.df.Key)
						out.upd++
					}
				case Extra:
					switch {
					case !inD && !inS:
						out.already = append(out.already, it.df.Key)
					case inS:
						stale("a source row with this key appeared")
					case cr.hash != it.df.SinkHash:
						stale("the sink row changed")
					default:
						out.images = append(out.images, RowImage{Key: it.df.Key, KeyJSON: w.keyJSON(it.df.Key), Row: cr.row})
						rows = append(rows, w.copyRow("d", it.df.Key, nil))
						out.keys = append(out.keys, it.df.Key)
						out.del++
					}
				}
			}
			if len(rows) == 0 {
				return out, nil
			}
			// The before-images are made durable while the batch writes;
			// the batch commits only once they are.
			imgDone := make(chan error, 1)
			go func() {
				if opts.Images == nil {
					imgDone <- nil
					return
				}
				imgDone <- opts.Images(ctx, res.Batches, out.images)
			}()
			if opts.After != nil {
				out.written = map[string]json.RawMessage{}
			}
			werr := w.write(ctx, tx, rows, out)
			if err := <-imgDone; err != nil {
				return nil, fmt.Errorf("saving the before-images of repair batch %d: %w", res.Batches, err)
			}
			if werr != nil {
				return nil, werr
			}
			if opts.After != nil {
				after := make([]RowImage, len(out.keys))
				for i, k := range out.keys {
					after[i] = RowImage{Key: k, KeyJSON: w.keyJSON(k), Row: out.written[keyString(k)]}
				}
				out.after = after
			}
			if opts.BeforeCommit != nil {
				if err := opts.BeforeCommit(res.Batches); err != nil {
					return nil, err
				}
			}
			if err := tx.Commit(ctx); err != nil {
				return nil, fmt.Errorf("committing repair batch %d on the sink table %s: %w", res.Batches, d.tbl.Name, err)
			}
			return out, nil
		}()
		if err != nil {
			return res, err
		}
		if opts.After != nil && len(done.after) > 0 {
			// Only committed rows are handed on.
			if err := opts.After(ctx, res.Batches, done.after); err != nil {
				return res, fmt.Errorf("recording the rows repair batch %d wrote: %w", res.Batches, err)
			}
		}
		res.Inserted += done.ins
		res.Updated += done.upd
		res.Deleted += done.del
		res.Already += int64(len(done.already))
		res.Stale = append(res.Stale, done.stale...)
		res.Repaired = append(res.Repaired, done.keys...)
		res.Repaired = append(res.Repaired, done.already...)
	}
	slices.SortFunc(res.Repaired, func(a, b Key) int { return compareKeys(a, b, e.kinds) })
	res.Elapsed = time.Since(start)
	return res, nil
}

type srcRow struct {
	hash string
	vals []*string
}

type sinkRow struct {
	hash string
	row  json.RawMessage
}

type batchOutcome struct {
	ins, upd, del int64
	images, after []RowImage
	written       map[string]json.RawMessage // rows as written, by key (with After)
	stale         []StaleRow
	already, keys []Key
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
	for _, p := range need {
		var ok bool
		if err := dst.QueryRow(ctx, "SELECT has_table_privilege($1, $2)", d.tbl.Ident, p).Scan(&ok); err != nil {
			return fmt.Errorf("checking the %s privilege on the sink table %s: %w", p, d.tbl.Name, err)
		}
		if !ok {
			missing = append(missing, p)
		}
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
		set_config('bytea_output', 'hex', true)`,
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
}

func newRepairWriter(m *mapping, d, s *sideSQL) *repairWriter {
	w := &repairWriter{m: m, d: d}
	for i, p := range m.Pairs {
		w.srcRaw = append(w.srcRaw, pgx.Identifier{p.Src.Name}.Sanitize())
		w.dstCols = append(w.dstCols, pgx.Identifier{p.Dst.Name}.Sanitize())
		w.dstType = append(w.dstType, p.Dst.Type)
		if i < m.Keys {
			w.dstKeys = append(w.dstKeys, p.Dst.Name)
		}
	}
	return w
}

// keyJSON renders a key as a JSON object of the sink key columns.
func (w *repairWriter) keyJSON(k Key) json.RawMessage {
	var b strings.Builder
	b.WriteByte('{')
	for i, c := range w.dstKeys {
		if i > 0 {
			b.WriteByte(',')
		}
		n, _ := json.Marshal(c)
		v, _ := json.Marshal(k[i])
		b.Write(n)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return json.RawMessage(b.String())
}

// lockSink locks the sink rows of keys and returns their row hashes and
// whole rows (JSON), by key.
func (w *repairWriter) lockSink(ctx context.Context, tx pgx.Tx, keys []Key) (map[string]sinkRow, error) {
	nk := len(w.d.keyKinds)
	q := "SELECT " + w.d.keyTextCols() + ", (" + w.d.rowHash + ")::text, row_to_json(" + w.d.from + ".*)::text FROM " + w.d.from +
		" JOIN " + w.d.unnest() + " ON " + w.d.keyMatch() + " FOR UPDATE OF " + lastIdent(w.m.Dst)
	args := make([]any, nk)
	for i := range nk {
		col := make([]string, len(keys))
		for j, k := range keys {
			col[j] = k[i]
		}
		args[i] = col
	}
	rows, err := tx.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("locking %d rows of the sink table %s: %w", len(keys), w.m.Dst.Name, explain(err))
	}
	out := map[string]sinkRow{}
	for rows.Next() {
		raw := rows.RawValues()
		k := make(Key, nk)
		for i := range nk {
			k[i] = string(raw[i])
		}
		h, _ := strconv.ParseInt(string(raw[nk]), 10, 64)
		out[keyString(k)] = sinkRow{hash: hashHex(h), row: json.RawMessage(slices.Clone(raw[nk+1]))}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("locking %d rows of the sink table %s: %w", len(keys), w.m.Dst.Name, explain(err))
	}
	return out, nil
}

// lastIdent is the unqualified quoted name FOR UPDATE OF needs.
func lastIdent(t *table) string { return pgx.Identifier{t.Name.Name}.Sanitize() }

// copyRow is one row of the temporary table: operation, key texts, values.
func (w *repairWriter) copyRow(op string, k Key, vals []*string) []any {
	row := make([]any, 0, 1+len(k)+len(w.dstCols))
	row = append(row, op)
	for _, v := range k {
		row = append(row, v)
	}
	for i := range w.dstCols {
		if vals == nil || vals[i] == nil {
			row = append(row, nil)
		} else {
			row = append(row, *vals[i])
		}
	}
	return row
}

// write loads rows into a temporary table with COPY and inserts, updates and
// deletes from it, checking the row counts.
func (w *repairWriter) write(ctx context.Context, tx pgx.Tx, rows [][]any, out *batchOutcome) error {
	nk := len(w.dstKeys)
	names := []string{"offsetctl_op"}
	defs := []string{"offsetctl_op text"}
	for i := range nk {
		n := fmt.Sprintf("k%d", i+1)
		names = append(names, n)
		defs = append(defs, n+" text")
	}
	for i := range w.dstCols {
		n := fmt.Sprintf("offsetctl_v%d", i+1)
		names = append(names, n)
		defs = append(defs, n+" text")
	}
	if _, err := tx.Exec(ctx, "CREATE TEMPORARY TABLE offsetctl_repair ("+strings.Join(defs, ", ")+") ON COMMIT DROP"); err != nil {
		return fmt.Errorf("creating the repair's temporary table on the sink: %w", explain(err))
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"offsetctl_repair"}, names, pgx.CopyFromRows(rows)); err != nil {
		return fmt.Errorf("copying %d source rows to the sink: %w", len(rows), explain(err))
	}
	// Statistics for the joins below: without them the planner may scan
	// the whole sink table instead of probing its key index.
	if _, err := tx.Exec(ctx, "ANALYZE offsetctl_repair"); err != nil {
		return fmt.Errorf("analysing the repair's temporary table: %w", explain(err))
	}
	vals := func(from int) []string {
		var out []string
		for i := from; i < len(w.dstCols); i++ {
			out = append(out, fmt.Sprintf("offsetctl_keys.offsetctl_v%d::%s", i+1, w.dstType[i]))
		}
		return out
	}
	table := w.m.Dst
	// With returning, the rows as written come back from the statement
	// itself (the after-images), by key.
	returning := " RETURNING " + w.d.keyTextCols() + ", row_to_json(offsetctl_t.*)::text"
	exec := func(what string, want int64, q string, ret bool) error {
		if want == 0 {
			return nil
		}
		var n int64
		if ret {
			rows, err := tx.Query(ctx, q+returning)
			if err != nil {
				return fmt.Errorf("%s %d rows of the sink table %s: %w", what, want, table.Name, explain(err))
			}
			for rows.Next() {
				raw := rows.RawValues()
				k := make(Key, nk)
				for i := range nk {
					k[i] = string(raw[i])
				}
				out.written[keyString(k)] = json.RawMessage(slices.Clone(raw[nk]))
				n++
			}
			if err := rows.Err(); err != nil {
				return fmt.Errorf("%s %d rows of the sink table %s: %w", what, want, table.Name, explain(err))
			}
		} else {
			tag, err := tx.Exec(ctx, q)
			if err != nil {
				return fmt.Errorf("%s %d rows of the sink table %s: %w", what, want, table.Name, explain(err))
			}
			n = tag.RowsAffected()
		}
		if n != want {
			return fmt.Errorf("%s rows of the sink table %s: %d rows affected, %d expected; the batch was not committed", what, table.Name, n, want)
		}
		return nil
	}
	if err := exec("inserting", out.ins, "INSERT INTO "+table.Ident+" AS offsetctl_t ("+strings.Join(w.dstCols, ", ")+") SELECT "+
		strings.Join(vals(0), ", ")+" FROM offsetctl_repair AS offsetctl_keys WHERE offsetctl_op = 'i'", out.written != nil); err != nil {
		return err
	}
	if len(w.dstCols) > nk {
		var sets []string
		for i, v := range vals(nk) {
			sets = append(sets, w.dstCols[nk+i]+" = "+v)
		}
		if err := exec("updating", out.upd, "UPDATE "+table.Ident+" AS offsetctl_t SET "+strings.Join(sets, ", ")+
			" FROM offsetctl_repair AS offsetctl_keys WHERE offsetctl_keys.offsetctl_op = 'u' AND "+w.d.keyMatch(), out.written != nil); err != nil {
			return err
		}
	}
	return exec("deleting", out.del, "DELETE FROM "+table.Ident+" USING offsetctl_repair AS offsetctl_keys WHERE offsetctl_keys.offsetctl_op = 'd' AND "+w.d.keyMatch(), false)
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
