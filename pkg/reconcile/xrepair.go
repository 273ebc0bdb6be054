package reconcile

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Repair and verification with a MariaDB/MySQL source. The sink side is
// Repair's own: the same batches, guards, before-images and after-images,
// with the cross-engine row hash in place of PostgreSQL's; RestoreRows,
// which touches only the sink, undoes it unchanged.

// valueExpr is the MariaDB/MySQL expression of a pair's value as text the
// sink column type reads back as the value Debezium's JDBC sink would have
// written (NULL for NULL): the canonical text, except where that is not
// an input form of the sink type.
func valueExpr(p xpair) string {
	mi := quoteMySQLIdent(p.Src.Name)
	switch p.Class {
	case classBinary:
		return "CONCAT('\\\\x', LOWER(HEX(" + mi + ")))"
	case classFloat:
		return "CAST(CAST(" + mi + " AS DOUBLE) AS CHAR)"
	case classTimestamp:
		if p.Dst.Typname == "timestamptz" {
			return "CONCAT(" + p.SrcExpr + ", '+00')"
		}
	}
	return p.SrcExpr
}

// sinkSQL builds the sink's SQL for repairs and lookups: Compare's
// sink-side fragments over the canonical expressions, with the cross-engine
// row hash.
func (x *xengine) sinkSQL() *sideSQL {
	d := newSideSQL(x.m, true, x.spec.Where)
	d.rowHash = x.pgHash
	return d
}

// sourceRows reads, for keys, the canonical key texts, the row hash and the
// values of exprs from the source, in its snapshot and under the filter, and
// calls f with each row's key, hash and values (nil for NULL; valid until f
// returns).
func (x *xengine) sourceRows(ctx context.Context, keys []Key, exprs []string, f func(k Key, h uint64, vals []sql.RawBytes)) error {
	if len(keys) == 0 {
		return nil
	}
	nk := x.keys
	var sel, keyCols []string
	for _, p := range x.pairs[:nk] {
		sel = append(sel, p.SrcExpr)
		if x.intKey {
			keyCols = append(keyCols, quoteMySQLIdent(p.Src.Name))
		} else {
			keyCols = append(keyCols, "("+p.SrcExpr+")")
		}
	}
	sel = append(sel, x.myHash)
	sel = append(sel, exprs...)
	const per = 2000
	for start := 0; start < len(keys); start += per {
		part := keys[start:min(start+per, len(keys))]
		var tuples []string
		var args []any
		ph := "(" + strings.TrimSuffix(strings.Repeat("?, ", nk), ", ") + ")"
		for _, k := range part {
			tuples = append(tuples, ph)
			for _, v := range k {
				args = append(args, v)
			}
		}
		cond := "(" + strings.Join(keyCols, ", ") + ") IN (" + strings.Join(tuples, ", ") + ")"
		x.count()
		rows, err := x.my.conn.QueryContext(ctx, "SELECT "+strings.Join(sel, ", ")+" FROM "+x.mt.Ident+" WHERE "+x.myWhere+" AND "+cond, args...)
		if err != nil {
			return fmt.Errorf("reading %d rows of the source table %s: %w", len(part), x.mt.Name, err)
		}
		vals := make([]sql.RawBytes, len(sel))
		dest := make([]any, len(sel))
		for i := range vals {
			dest[i] = &vals[i]
		}
		for rows.Next() {
			if err := rows.Scan(dest...); err != nil {
				rows.Close()
				return fmt.Errorf("reading rows of the source table %s: %w", x.mt.Name, err)
			}
			k := make(Key, nk)
			for i := range nk {
				k[i] = string(vals[i])
			}
			h, err := strconv.ParseUint(string(vals[nk]), 10, 64)
			if err != nil {
				rows.Close()
				return fmt.Errorf("reading a row hash of the source table %s: %w", x.mt.Name, err)
			}
			f(k, h, vals[nk+1:])
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return fmt.Errorf("reading rows of the source table %s: %w", x.mt.Name, err)
		}
	}
	return nil
}

// RepairMySQL is Repair for a MariaDB/MySQL source (src) and its PostgreSQL
// sink (dst): the planned set (from CompareMySQL) is written into the sink
// in bounded batches, each row only while its source and sink row hashes
// are the planned ones, with the before-images handed to opts.Images before
// each batch commits. The source rows are read in the source's consistent
// snapshot and converted to the sink's types as the JDBC sink converts
// them.
func RepairMySQL(ctx context.Context, src *sql.DB, dst *pgx.Conn, spec Spec, set RepairSet, opts RepairOptions) (*RepairResult, error) {
	start := time.Now()
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	if src == nil || dst == nil {
		return nil, errors.New("repair needs a MariaDB/MySQL source and a PostgreSQL sink connection")
	}
	spec.Mode = ModeRows
	spec.Partition = nil
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
	x := &xengine{engine: engine{spec: &spec}}
	if err := x.open(ctx, src, dst); err != nil {
		x.end(ctx)
		return nil, err
	}
	defer x.end(ctx)
	d := x.pg
	d.sql = x.sinkSQL()
	// The sink's read-only transaction served introspection; each batch
	// has its own read-write one.
	d.end(ctx)
	if err := checkKeys(set, x.keys); err != nil {
		return nil, err
	}
	items, skipped, need := workList(set, x.kinds, opts.DeleteExtra)
	res := &RepairResult{Skipped: skipped}
	if len(items) == 0 {
		res.Elapsed = time.Since(start)
		return res, nil
	}
	w := newRepairWriter(x.m, d.sql, nil)
	var exprs []string
	for _, p := range x.pairs {
		exprs = append(exprs, valueExpr(p))
	}
	fetchRows := func(ctx context.Context, batch []repairItem) (map[string]srcRow, error) {
		keys := make([]Key, len(batch))
		for i, it := range batch {
			keys[i] = it.df.Key
		}
		rows := make(map[string]srcRow, len(batch))
		err := x.sourceRows(ctx, keys, exprs, func(k Key, h uint64, vals []sql.RawBytes) {
			cp := make([][]byte, len(vals))
			for i, v := range vals {
				if v != nil {
					cp[i] = append([]byte{}, v...)
				}
			}
			rows[keyString(k)] = srcRow{hash: hashHex(int64(h)), vals: cp}
		})
		return rows, err
	}
	return runRepair(ctx, start, dst, nil, d, w, items, need, batchSize, opts, res, fetchRows)
}

// VerifyMySQL is Verify for a MariaDB/MySQL source: the rows of keys
// compared by the cross-engine row hash, and both whole-table checksums,
// in one read-only snapshot per side.
func VerifyMySQL(ctx context.Context, src *sql.DB, dst *pgx.Conn, spec Spec, keys []Key) (*Verification, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	if src == nil || dst == nil {
		return nil, errors.New("verify needs a MariaDB/MySQL source and a PostgreSQL sink connection")
	}
	spec.Mode = ModeChecksum
	spec.Partition = nil
	x := &xengine{engine: engine{spec: &spec}}
	if err := x.open(ctx, src, dst); err != nil {
		x.end(ctx)
		return nil, err
	}
	defer x.end(ctx)
	r := x.newResult()
	if err := x.checksums(ctx, r); err != nil {
		return nil, err
	}
	v := &Verification{Keys: len(keys), SourceChecksum: *r.SourceChecksum, SinkChecksum: *r.SinkChecksum}
	if len(keys) == 0 {
		return v, nil
	}
	x.pg.sql = x.sinkSQL()
	hashes := [2]map[string]string{{}, {}}
	err := x.both(ctx, func(ctx context.Context) error {
		return x.sourceRows(ctx, keys, nil, func(k Key, h uint64, _ []sql.RawBytes) {
			hashes[0][keyString(k)] = hashHex(int64(h))
		})
	}, func(ctx context.Context) error {
		return x.pg.lookup(ctx, keys, []string{x.pg.sql.rowHash}, true, func(k Key, vals []*string) {
			h, _ := strconv.ParseInt(deref(vals[0]), 10, 64)
			hashes[1][keyString(k)] = hashHex(h)
		})
	})
	if err != nil {
		return nil, err
	}
	for _, k := range keys {
		ks := keyString(k)
		sh, inS := hashes[0][ks]
		dh, inD := hashes[1][ks]
		if inS == inD && sh == dh {
			continue
		}
		v.Differing = append(v.Differing, Diff{Key: k, SourceHash: sh, SinkHash: dh})
	}
	return v, nil
}

// SendSignalsMySQL is SendSignals for a MariaDB/MySQL source: the signals
// go into Debezium's signalling table there (signalTable is TABLE in the
// URL's database, or DATABASE.TABLE), in one transaction: all of them or
// none; a signal whose id is already there is left as it is.
func SendSignalsMySQL(ctx context.Context, src *sql.DB, signalTable string, signals []Signal) (int, error) {
	name, err := ParseTableName(signalTable)
	if err != nil {
		return 0, fmt.Errorf("signal table %q: %w", signalTable, err)
	}
	conn, err := src.Conn(ctx)
	if err != nil {
		return 0, fmt.Errorf("connecting to the source for the signals: %w", err)
	}
	defer conn.Close()
	schema := name.Schema
	if schema == "" {
		var db sql.NullString
		if err := conn.QueryRowContext(ctx, "SELECT DATABASE()").Scan(&db); err != nil || !db.Valid {
			return 0, fmt.Errorf("signal table %s names no database and the source URL names none: write DATABASE.TABLE; nothing was sent", name)
		}
		schema = db.String
	}
	var n int
	if err := conn.QueryRowContext(ctx, `SELECT COUNT(*) FROM information_schema.COLUMNS
		WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND COLUMN_NAME IN ('id', 'type', 'data')`, schema, name.Name).Scan(&n); err != nil {
		return 0, fmt.Errorf("looking up the signal table %s.%s: %w", schema, name.Name, err)
	}
	if n != 3 {
		return 0, fmt.Errorf("the signal table %s.%s does not exist on the source or lacks Debezium's columns id, type and data: create it as Debezium documents (id varchar(42) primary key, type varchar(32) not null, data varchar(2048)) and set the connector's signal.data.collection to it; nothing was sent", schema, name.Name)
	}
	ident := quoteMySQLIdent(schema, name.Name)
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("starting a transaction on the source for the signals: %w", err)
	}
	defer tx.Rollback()
	sent := 0
	for _, s := range signals {
		res, err := tx.ExecContext(ctx, "INSERT INTO "+ident+" (id, type, data) SELECT ?, ?, ? FROM DUAL WHERE NOT EXISTS (SELECT 1 FROM "+ident+" WHERE id = ?)", s.ID, s.Type, s.Data, s.ID)
		if err != nil {
			return 0, fmt.Errorf("inserting signal %s into %s.%s: %w; nothing was sent", s.ID, schema, name.Name, err)
		}
		k, _ := res.RowsAffected()
		sent += int(k)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("committing the signals into %s.%s: %w", schema, name.Name, err)
	}
	return sent, nil
}
