package plan

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/offsetctl/offsetctl/pkg/config"
	"github.com/offsetctl/offsetctl/pkg/mysqlurl"
	"github.com/offsetctl/offsetctl/pkg/reconcile"
)

// The repairs a reconcile block can ask for.
const (
	RepairNone           = "none"
	RepairUpsert         = "upsert"
	RepairSnapshotSignal = "snapshot_signal"
)

// DatabaseClients opens the databases of reconcile blocks. The Clients
// given to a Planner (and to apply) implement it when the configuration has
// reconcile blocks; without it a reconcile block is blocked by an error
// check.
type DatabaseClients interface {
	// Database returns a pool for a database block. The caller does not
	// close it.
	Database(ctx context.Context, d *config.Database) (*pgxpool.Pool, error)
}

// ReconcileDiff is what planning observed of a reconcile block: counts,
// checksums and the keys and row hashes of the differing rows — never row
// values, which may be personal data — and what apply will do about them.
type ReconcileDiff struct {
	// Source and Sink are the database blocks' addresses (database.NAME),
	// never their URLs.
	Source, Sink string
	// Table and SinkTable are the resolved, schema-qualified tables.
	Table, SinkTable string
	KeyColumns       []string
	// Columns are the compared source columns; Renamed maps source to sink
	// names where they differ; Ignored are the columns left out.
	Columns []string
	Renamed map[string]string
	Ignored []string
	// The block's settings, recorded so apply repairs what was reviewed.
	TimestampPrecision string
	Where              string
	Repair             string
	DeleteExtra        bool
	MaxChanges         int64
	SignalTable        string

	SourceRows, SinkRows         int64
	SourceChecksum, SinkChecksum reconcile.Checksum
	// Missing, Extra and Mismatched are the differing rows: key, row
	// hashes and, for mismatched rows, the differing column names.
	Missing, Extra, Mismatched []reconcile.Diff
	// DiffColumns counts the mismatched rows per differing column.
	DiffColumns map[string]int64
	// By is the block's by ("UNIT:COLUMN"); Partitions are the checksums
	// of each partition on both sides, in time order.
	By         string
	Partitions []reconcile.PartitionSum
}

// DiffPartitions are the partitions whose checksums differ.
func (d *ReconcileDiff) DiffPartitions() []reconcile.PartitionSum {
	var out []reconcile.PartitionSum
	for _, p := range d.Partitions {
		if !p.Equal() {
			out = append(out, p)
		}
	}
	return out
}

// Set is the drift as a repair set.
func (d *ReconcileDiff) Set() reconcile.RepairSet {
	return reconcile.RepairSet{Missing: d.Missing, Extra: d.Extra, Mismatched: d.Mismatched}
}

// Spec is the comparison spec of the block as planned.
func (d *ReconcileDiff) Spec() reconcile.Spec {
	s := reconcile.Spec{Table: d.Table, SinkTable: d.SinkTable, Key: d.KeyColumns, Where: d.Where,
		TimestampPrecision: reconcile.Precision(d.TimestampPrecision), Ignore: d.Ignored}
	for _, c := range d.Columns {
		if to, ok := d.Renamed[c]; ok {
			s.Columns = append(s.Columns, c+"="+to)
		} else {
			s.Columns = append(s.Columns, c)
		}
	}
	s.Ignore = nil // Columns lists exactly what was compared
	return s
}

// Changes counts the rows apply will write: inserts, updates and deletes
// (deletes only with delete_extra; none for repair = "none").
func (d *ReconcileDiff) Changes() (ins, upd, del int64) {
	switch d.Repair {
	case RepairUpsert:
		ins, upd = int64(len(d.Missing)), int64(len(d.Mismatched))
		if d.DeleteExtra {
			del = int64(len(d.Extra))
		}
	case RepairSnapshotSignal:
		ins, upd = int64(len(d.Missing)), int64(len(d.Mismatched))
	}
	return ins, upd, del
}

// Drift says whether the tables differ.
func (d *ReconcileDiff) Drift() bool {
	return len(d.Missing)+len(d.Extra)+len(d.Mismatched) > 0 || d.SourceChecksum != d.SinkChecksum
}

// SpecOf turns a reconcile block into the comparison spec.
func SpecOf(blk *config.Reconcile) reconcile.Spec {
	return reconcile.Spec{Table: blk.Table, SinkTable: blk.SinkTable, Key: blk.Key, Columns: blk.Columns,
		Ignore: blk.IgnoreColumns, TimestampPrecision: reconcile.Precision(blk.TimestampPrecision), Where: blk.Where}
}

// planReconcile observes the selected reconcile blocks and appends their
// operations and checks to p.
func (pl *Planner) planReconcile(ctx context.Context, cfg *config.Config, opts Options, p *Plan) error {
	p.Checks = dropReconcileTargetChecks(cfg, p.Checks)
	for _, blk := range selectReconcile(cfg, opts.Targets) {
		op, checks, err := pl.observeReconcile(ctx, blk)
		if err != nil {
			return fmt.Errorf("observing %s: %w", blk.Addr(), err)
		}
		op.Risks = reconcileRisks(op)
		p.Operations = append(p.Operations, *op)
		p.Checks = append(p.Checks, checks...)
	}
	return nil
}

func selectReconcile(cfg *config.Config, targets []string) []*config.Reconcile {
	if len(targets) == 0 {
		return cfg.Reconciles
	}
	var out []*config.Reconcile
	for _, b := range cfg.Reconciles {
		if slices.Contains(targets, b.Addr()) {
			out = append(out, b)
		}
	}
	return out
}

// MySQLDatabaseClients opens the MariaDB/MySQL databases (mysql:// and
// mariadb:// URLs) of reconcile blocks, which serve as sources only.
type MySQLDatabaseClients interface {
	// MySQLDatabase returns a pool for a database block whose url is a
	// MariaDB/MySQL URL. The caller does not close it.
	MySQLDatabase(ctx context.Context, d *config.Database) (*sql.DB, error)
}

// IsMySQL says whether a database block names a MariaDB or MySQL server.
func IsMySQL(d *config.Database) bool { return d != nil && mysqlurl.Is(d.URL.Value()) }

// ReconcileDBs are the opened databases of a reconcile block: the sink's
// pool and the source's, a PostgreSQL pool (Src) or a MariaDB/MySQL one
// (MySrc).
type ReconcileDBs struct {
	Src   *pgxpool.Pool
	MySrc *sql.DB
	Dst   *pgxpool.Pool
}

// OpenReconcileDBs opens the source and the sink of a reconcile block.
func OpenReconcileDBs(ctx context.Context, clients Clients, blk *config.Reconcile) (*ReconcileDBs, error) {
	dc, ok := clients.(DatabaseClients)
	if !ok {
		return nil, errors.New("this offsetctl cannot open databases here (no database clients)")
	}
	if blk.Source == nil || blk.Sink == nil {
		return nil, fmt.Errorf("%s needs a source and a sink database", blk.Addr())
	}
	if IsMySQL(blk.Sink) {
		return nil, fmt.Errorf("%s is a MariaDB/MySQL database: a reconcile sink must be PostgreSQL (a MariaDB/MySQL database can be the source)", blk.Sink.Addr())
	}
	dbs := &ReconcileDBs{}
	var err error
	if IsMySQL(blk.Source) {
		mc, ok := clients.(MySQLDatabaseClients)
		if !ok {
			return nil, fmt.Errorf("%s is a MariaDB/MySQL database, which this offsetctl cannot open here", blk.Source.Addr())
		}
		if dbs.MySrc, err = mc.MySQLDatabase(ctx, blk.Source); err != nil {
			return nil, fmt.Errorf("connecting to %s: %w", blk.Source.Addr(), err)
		}
	} else if dbs.Src, err = dc.Database(ctx, blk.Source); err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", blk.Source.Addr(), err)
	}
	if dbs.Dst, err = dc.Database(ctx, blk.Sink); err != nil {
		return nil, fmt.Errorf("connecting to %s: %w", blk.Sink.Addr(), err)
	}
	return dbs, nil
}

// Compare compares the block's tables: reconcile.ComparePools, or
// reconcile.CompareMySQL for a MariaDB/MySQL source.
func (dbs *ReconcileDBs) Compare(ctx context.Context, spec reconcile.Spec) (*reconcile.Result, error) {
	if dbs.MySrc == nil {
		return reconcile.ComparePools(ctx, dbs.Src, dbs.Dst, spec)
	}
	c, err := dbs.Dst.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("acquiring a sink connection: %w", err)
	}
	defer c.Release()
	return reconcile.CompareMySQL(ctx, dbs.MySrc, c.Conn(), spec)
}

func (pl *Planner) observeReconcile(ctx context.Context, blk *config.Reconcile) (*Operation, []Check, error) {
	repair := blk.Repair
	if repair == "" {
		repair = RepairNone
	}
	op := &Operation{Address: blk.Addr(), Name: blk.Name, Kind: KindReconcile, Reason: blk.Reason, BlockHash: blkHash(blk),
		AllowSkipRecords: -1, Status: StatusNoChange}
	check := func(sev Severity, code, format string, args ...any) Check {
		return Check{Severity: sev, Code: code, Operation: op.Address, Message: fmt.Sprintf(format, args...)}
	}
	dbs, err := OpenReconcileDBs(ctx, pl.Clients, blk)
	if err != nil {
		op.Status = StatusBlocked
		return op, []Check{check(SeverityError, "database_unavailable", "%v", err)}, nil
	}
	spec := SpecOf(blk)
	// Keep every key the repair may touch: the plan must hold them all.
	spec.MaxKeys = 100000
	if blk.MaxChanges > 0 {
		spec.MaxKeys = int(min(blk.MaxChanges+1, 1<<30))
	}
	r, err := dbs.Compare(ctx, spec)
	if errors.Is(err, reconcile.ErrSameTable) {
		// Two database blocks whose URLs differ in text may still reach one
		// database: comparing a table with itself would plan "no drift".
		op.Status = StatusBlocked
		return op, []Check{check(SeverityError, "same_table",
			"%s and %s reach the same database of the same server: %v. Point %s's url at the sink database, or set sink_table to a different table",
			blk.Source.Addr(), blk.Sink.Addr(), err, blk.Sink.Addr())}, nil
	}
	if err != nil {
		var se *reconcile.SpecError
		if errors.As(err, &se) || errors.Is(err, reconcile.ErrNotComparable) {
			op.Status = StatusBlocked
			return op, []Check{check(SeverityError, "not_comparable", "%v", err)}, nil
		}
		return nil, nil, err
	}
	d := &ReconcileDiff{Source: blk.Source.Addr(), Sink: blk.Sink.Addr(), Table: r.Source.String(), SinkTable: r.Sink.String(),
		KeyColumns: r.KeyColumns, Columns: r.Columns, Renamed: r.Renamed, Ignored: r.Ignored,
		TimestampPrecision: blk.TimestampPrecision, Where: blk.Where, Repair: repair, DeleteExtra: blk.DeleteExtra,
		MaxChanges: blk.MaxChanges, SignalTable: blk.SignalTable, SourceRows: r.SourceRows, SinkRows: r.SinkRows}
	if r.SourceChecksum != nil {
		d.SourceChecksum = *r.SourceChecksum
	}
	if r.SinkChecksum != nil {
		d.SinkChecksum = *r.SinkChecksum
	}
	strip := func(l []reconcile.Diff) []reconcile.Diff {
		out := make([]reconcile.Diff, len(l))
		for i, df := range l {
			out[i] = reconcile.Diff{Key: df.Key, SourceHash: df.SourceHash, SinkHash: df.SinkHash, Columns: df.Columns}
		}
		return out
	}
	d.Missing, d.Extra, d.Mismatched = strip(r.Missing), strip(r.Extra), strip(r.Mismatched)
	if blk.By != nil {
		// Per-partition checksums: one more read of both tables, grouped by
		// the block's time unit, so the review shows where the drift is.
		ps := spec
		ps.Mode, ps.Partition = reconcile.ModeChecksum, &reconcile.Partition{By: blk.By.Unit, Column: blk.By.Column}
		pr, err := dbs.Compare(ctx, ps)
		if err != nil {
			var se *reconcile.SpecError
			if errors.As(err, &se) || errors.Is(err, reconcile.ErrNotComparable) {
				op.Status = StatusBlocked
				return op, []Check{check(SeverityError, "not_comparable", "by = %q: %v", blk.By.Unit+":"+blk.By.Column, err)}, nil
			}
			return nil, nil, err
		}
		d.By, d.Partitions = blk.By.Unit+":"+blk.By.Column, pr.Partitions
	}
	for _, df := range d.Mismatched {
		for _, c := range df.Columns {
			if d.DiffColumns == nil {
				d.DiffColumns = map[string]int64{}
			}
			d.DiffColumns[c]++
		}
	}
	op.Reconcile = d
	var checks []Check
	total := r.MissingCount + r.MismatchedCount
	if blk.DeleteExtra || repair == RepairNone {
		total += r.ExtraCount
	}
	switch {
	case !d.Drift():
		checks = append(checks, check(SeverityOK, "no_drift", "%s and %s are equal: %s rows, checksum %s", d.Table, d.SinkTable, Thousands(d.SourceRows), d.SourceChecksum.Hex()))
		return op, checks, nil
	case blk.MaxChanges > 0 && total > blk.MaxChanges && repair != RepairNone:
		op.Status = StatusBlocked
		checks = append(checks, check(SeverityError, "max_changes_exceeded",
			"the drift is larger than max_changes = %s: %s rows would change (%s missing, %s mismatched, %s extra); look at why before repairing, then raise max_changes if this is expected",
			Thousands(blk.MaxChanges), Thousands(total), Thousands(r.MissingCount), Thousands(r.MismatchedCount), Thousands(r.ExtraCount)))
		return op, checks, nil
	case r.Truncated:
		op.Status = StatusBlocked
		checks = append(checks, check(SeverityError, "too_many_differences",
			"%s differing rows are more than a plan holds (%s keys); narrow the block with where, or repair in parts",
			Thousands(r.MissingCount+r.ExtraCount+r.MismatchedCount), Thousands(int64(spec.MaxKeys))))
		return op, checks, nil
	}
	op.Status = StatusChange
	if len(d.Extra) > 0 && repair != RepairNone && (!blk.DeleteExtra || repair == RepairSnapshotSignal) {
		why := "delete_extra is false"
		if repair == RepairSnapshotSignal {
			why = "a snapshot signal cannot delete rows"
			if blk.DeleteExtra {
				why += " (delete_extra does nothing with repair = \"snapshot_signal\")"
			}
		}
		checks = append(checks, check(SeverityWarning, "extra_rows_kept", "%s extra sink rows stay: %s; the tables will still differ, so apply will record the repair as incomplete (exit code 4)", Thousands(int64(len(d.Extra))), why))
	}
	if repair == RepairSnapshotSignal && blk.SignalTable == "" {
		op.Status = StatusBlocked
		checks = append(checks, check(SeverityError, "no_signal_table", "repair = \"snapshot_signal\" needs signal_table (Debezium's signalling table on the source)"))
	}
	return op, checks, nil
}

// blkHash is a content hash of what the block asks for (the database
// blocks by name, never their URLs).
func blkHash(blk *config.Reconcile) string {
	h := sha256.New()
	enc := json.NewEncoder(h)
	var src, dst string
	if blk.Source != nil {
		src = blk.Source.Name
	}
	if blk.Sink != nil {
		dst = blk.Sink.Name
	}
	_ = enc.Encode([]any{blk.Name, src, dst, blk.Table, blk.SinkTable, blk.Key, blk.Columns, blk.IgnoreColumns,
		blk.TimestampPrecision, blk.Where, blk.Repair, blk.DeleteExtra, blk.MaxChanges, blk.SignalTable, blk.Reason})
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// reconcileVerification says what apply will check after the repair.
func (d *ReconcileDiff) Verification() string {
	n := len(d.Missing) + len(d.Mismatched)
	if d.DeleteExtra && d.Repair == RepairUpsert {
		n += len(d.Extra)
	}
	if d.Repair == RepairNone {
		return "apply compares the tables again and records the result (no repair)"
	}
	return fmt.Sprintf("apply compares the %s repaired %s again and the whole-table checksums (source now %s rows, %s); a key that does not converge fails the apply",
		Thousands(int64(n)), pluralWord(n, "row", "rows"), Thousands(d.SourceRows), d.SourceChecksum.Hex())
}

func pluralWord(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// SortedDiffColumns returns the differing columns, most frequent first.
func (d *ReconcileDiff) SortedDiffColumns() []string {
	cols := make([]string, 0, len(d.DiffColumns))
	for c := range d.DiffColumns {
		cols = append(cols, c)
	}
	sort.Slice(cols, func(i, j int) bool {
		if d.DiffColumns[cols[i]] != d.DiffColumns[cols[j]] {
			return d.DiffColumns[cols[i]] > d.DiffColumns[cols[j]]
		}
		return cols[i] < cols[j]
	})
	return cols
}

// dropReconcileTargetChecks removes Compute's unknown_target errors for
// -target addresses that name reconcile blocks (Compute knows offsets and
// connector blocks only).
func dropReconcileTargetChecks(cfg *config.Config, checks []Check) []Check {
	out := checks[:0]
	for _, c := range checks {
		if c.Code == "unknown_target" {
			known := false
			for _, b := range cfg.Reconciles {
				if c.Message == fmt.Sprintf("-target %s matches no offsets or connector block", b.Addr()) {
					known = true
				}
			}
			if known {
				continue
			}
		}
		out = append(out, c)
	}
	return out
}
