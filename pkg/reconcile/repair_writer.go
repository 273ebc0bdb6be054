package reconcile

import (
	"bytes"
	"context"
	"encoding/binary"
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
