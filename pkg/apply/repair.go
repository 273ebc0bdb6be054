package apply

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/offsetctl/offsetctl/pkg/config"
	"github.com/offsetctl/offsetctl/pkg/plan"
	"github.com/offsetctl/offsetctl/pkg/reconcile"
	"github.com/offsetctl/offsetctl/pkg/state"
)

// The steps of a repair (reconcile operation) and of its rollback.
const (
	// StepRepair writes the sink rows (upsert), sends the snapshot
	// signals (snapshot_signal) or does nothing (none).
	StepRepair Step = "repair"
	// StepRepairBatch is the point, inside StepRepair, after a batch's
	// writes and before its commit: Options.Hook sees it once per batch.
	StepRepairBatch Step = "repair-batch"
	// StepRestoreRows puts sink rows back from their before-images.
	StepRestoreRows Step = "restore-rows"
)

// RepairReport is the event that says what a repair did and what its
// verification found.
type RepairReport struct {
	Operation                  string
	Inserted, Updated, Deleted int64
	Already                    int64
	Signals                    int
	Stale                      []reconcile.StaleRow
	// Verified is the number of keys compared again; Converged says
	// whether all of them are equal now; TableEqual whether the whole-table
	// checksums are.
	Verified             int
	Converged            bool
	TableEqual           bool
	SourceSum, SinkSum   reconcile.Checksum
	Elapsed              time.Duration
	BeforeImagesRecorded int
	// Remaining, when the whole-table checksums still differ after the
	// repair, is what the tables were compared again and found different
	// (counts and keys, never row values); nil when they are equal. Such a
	// repair is recorded as incomplete, and Incomplete says what still
	// differs, worded for the operator.
	Remaining  *RepairRemaining
	Incomplete string
}

func (RepairReport) isEvent() {}

// RepairRemaining is what still differs after a repair: exact counts, and
// the first keys of each kind (at most remainingKeys each).
type RepairRemaining struct {
	Missing, Extra, Mismatched             int64
	MissingKeys, ExtraKeys, MismatchedKeys []reconcile.Key
	// Err, when not empty, says why the rows could not be compared again
	// (the counts are then unknown: zero).
	Err string
}

// remainingKeys is how many keys of each kind RepairRemaining keeps.
const remainingKeys = 10

// Total is the number of rows that still differ.
func (r *RepairRemaining) Total() int64 { return r.Missing + r.Extra + r.Mismatched }

// Complete says whether the repair reached its goal: every repaired key
// and the whole-table checksums equal (the apply summary says "verified").
func (r RepairReport) Complete() bool { return r.Converged && r.TableEqual }

// isRepair says whether op is a reconcile operation or the rollback of one
// (a rollback with no connector).
func isRepair(op *plan.Operation) bool {
	return op.Kind == plan.KindReconcile || (op.Kind == plan.KindRollback && op.Connector == "")
}

// repairRun is one reconcile operation (or its rollback) being applied.
type repairRun struct {
	a      *Applier
	p      *plan.Plan
	j      *journal
	op     *plan.Operation
	cfg    *config.Config
	serial uint64
	images int
}

// step runs one step of a repair (stepRunner.run); target names the table.
func (r *repairRun) step(ctx context.Context, s Step, target string, fn func() (string, bool, error)) error {
	return stepRunner{a: r.a, j: r.j, serial: &r.serial, operation: r.op.Address}.run(ctx, s, target, fn)
}

// hook calls Options.Hook at a point inside a step (a repair batch).
func (r *repairRun) hook(s Step) error { return r.a.hook(Point{Operation: r.op.Address, Step: s}) }

// repairSource is the source of a reconcile block as a repair reads it: a
// PostgreSQL connection (pg) or a MariaDB/MySQL pool (my).
type repairSource struct {
	pg *pgxpool.Conn
	my *sql.DB
}

func (s *repairSource) release() {
	if s.pg != nil {
		s.pg.Release()
	}
}

// databases opens the source and sink of a reconcile block and takes one
// connection from each (release gives them back), and returns the sink's
// pool, for a second connection.
func (a *Applier) databases(ctx context.Context, cfg *config.Config, op *plan.Operation) (*config.Reconcile, *repairSource, *pgxpool.Conn, *pgxpool.Pool, error) {
	blk := cfg.ReconcileBlock(op.Name)
	if blk == nil {
		return nil, nil, nil, nil, fmt.Errorf("%s is not in the configuration: make a new plan", op.Address)
	}
	dbs, err := plan.OpenReconcileDBs(ctx, a.opts.Clients, blk)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	src := &repairSource{my: dbs.MySrc}
	if dbs.Src != nil {
		if src.pg, err = dbs.Src.Acquire(ctx); err != nil {
			return nil, nil, nil, nil, fmt.Errorf("connecting to %s: %w", blk.Source.Addr(), err)
		}
	}
	dc, err := dbs.Dst.Acquire(ctx)
	if err != nil {
		src.release()
		return nil, nil, nil, nil, fmt.Errorf("connecting to %s: %w", blk.Sink.Addr(), err)
	}
	return blk, src, dc, dbs.Dst, nil
}

// repair runs reconcile.Repair, or RepairMySQL for a MariaDB/MySQL source.
func (s *repairSource) repair(ctx context.Context, dst *pgx.Conn, spec reconcile.Spec, set reconcile.RepairSet, opts reconcile.RepairOptions) (*reconcile.RepairResult, error) {
	if s.my != nil {
		return reconcile.RepairMySQL(ctx, s.my, dst, spec, set, opts)
	}
	return reconcile.Repair(ctx, s.pg.Conn(), dst, spec, set, opts)
}

// verify runs reconcile.Verify, or VerifyMySQL.
func (s *repairSource) verify(ctx context.Context, dst *pgx.Conn, spec reconcile.Spec, keys []reconcile.Key) (*reconcile.Verification, error) {
	if s.my != nil {
		return reconcile.VerifyMySQL(ctx, s.my, dst, spec, keys)
	}
	return reconcile.Verify(ctx, s.pg.Conn(), dst, spec, keys)
}

// compare runs reconcile.Compare, or CompareMySQL.
func (s *repairSource) compare(ctx context.Context, dst *pgx.Conn, spec reconcile.Spec) (*reconcile.Result, error) {
	if s.my != nil {
		return reconcile.CompareMySQL(ctx, s.my, dst, spec)
	}
	return reconcile.Compare(ctx, s.pg.Conn(), dst, spec)
}

// signal builds and sends the execute-snapshot signals of keys into the
// source's signalling table.
func (s *repairSource) signal(ctx context.Context, d *plan.ReconcileDiff, keys []reconcile.Key, prefix string) (int, error) {
	if s.my != nil {
		sigs, err := reconcile.SnapshotSignalsMySQL(d.Table, d.KeyColumns, keys, 0, prefix)
		if err != nil {
			return 0, err
		}
		return reconcile.SendSignalsMySQL(ctx, s.my, d.SignalTable, sigs)
	}
	sigs, err := reconcile.SnapshotSignals(d.Table, d.KeyColumns, keys, 0, prefix)
	if err != nil {
		return 0, err
	}
	return reconcile.SendSignals(ctx, s.pg.Conn(), d.SignalTable, sigs)
}

// runRepair applies a reconcile operation: journal, repair (batches, each
// one's before-images written to the state before it commits), verify
// (the repaired keys and the whole-table checksums), record. A failure after
// rows were written puts the before-images back.
func (a *Applier) runRepair(ctx context.Context, p *plan.Plan, cfg *config.Config, j *journal, op *plan.Operation) (*OperationResult, error) {
	if op.Kind == plan.KindRollback {
		return a.runRepairRollback(ctx, p, cfg, j, op)
	}
	d := op.Reconcile
	res := &OperationResult{Address: op.Address, Name: op.Name}
	if d == nil {
		return res, fmt.Errorf("%s: the plan holds no reconcile observation: it is damaged; make a new plan", op.Address)
	}
	ins, upd, del := d.Changes()
	res.Partitions = int(ins + upd + del)
	blk, sc, dc, sinkPool, err := a.databases(ctx, cfg, op)
	if err != nil {
		return res, fmt.Errorf("%s: %w; nothing was changed", op.Address, err)
	}
	defer sc.release()
	defer dc.Release()
	if blk.Sink.Addr() != d.Sink || blk.Source.Addr() != d.Source {
		return res, fmt.Errorf("%s: the plan repairs %s from %s, the configuration now names %s and %s: make a new plan; nothing was changed", op.Address, d.Sink, d.Source, blk.Sink.Addr(), blk.Source.Addr())
	}
	r := &repairRun{a: a, p: p, j: j, op: op, cfg: cfg}
	target := d.SinkTable
	err = r.step(ctx, StepJournal, target, func() (string, bool, error) {
		sop := state.Operation{Name: op.Name, Kind: state.KindReconcile, PlanHash: p.Hash, ConfigHash: p.ConfigHash, BlockHash: op.BlockHash,
			Reason: op.Reason}
		j.with(func(st *state.State) { r.serial = a.begin(st, sop, p, op).Serial })
		res.Serial = r.serial
		a.emit(OperationStarted{Operation: op.Address, Serial: r.serial, Changes: res.Partitions})
		return fmt.Sprintf("operation %d: repair %s of %s (+%d ~%d -%d rows planned)", r.serial, d.Repair, d.SinkTable, ins, upd, del), false, nil
	})
	if err != nil {
		if r.serial != 0 && !isCrash(err) {
			return res, fmt.Errorf("%s: recording the operation before changing anything: %w; nothing was changed", op.Address, err)
		}
		return res, err
	}
	report := RepairReport{Operation: op.Address}
	work := &repairWork{blk: blk, d: d, spec: d.Spec(), src: sc, dst: dc.Conn(), sinkPool: sinkPool, report: &report}
	// The repair step, by mode (repair_modes.go); "none" only reports.
	err = r.step(ctx, StepRepair, target, func() (string, bool, error) {
		switch d.Repair {
		case plan.RepairUpsert:
			return r.upsert(ctx, work)
		case plan.RepairSnapshotSignal:
			return r.signal(ctx, work)
		}
		return "report only (repair = none)", true, nil
	})
	report.BeforeImagesRecorded = r.images
	if err != nil {
		return r.failRepair(ctx, res, blk, d, StepRepair, err, work.written)
	}
	switch d.Repair {
	case plan.RepairUpsert:
		res.Partitions = int(report.Inserted + report.Updated + report.Deleted) // what was written, not what was planned
	case plan.RepairSnapshotSignal:
		res.Partitions = len(work.repaired)
	}

	err = r.step(ctx, StepVerify, target, func() (string, bool, error) { return r.verify(ctx, work) })
	if err != nil {
		return r.failRepair(ctx, res, blk, d, StepVerify, err, work.written)
	}
	status := state.StatusApplied
	if report.Incomplete != "" {
		// What was written is right and stays (offsetctl rollback undoes
		// it); the repair did not reach its goal, and the state says so.
		status = state.StatusIncomplete
		res.Incomplete = report.Incomplete
	}
	err = r.step(ctx, StepRecord, target, func() (string, bool, error) {
		finished := a.opts.Now()
		j.update(r.serial, func(sop *state.Operation) {
			sop.Finish(status, finished, nil)
			if status == state.StatusIncomplete {
				sop.Error = "the repair is incomplete: " + report.Incomplete
			}
		})
		return string(status), false, nil
	})
	if err != nil && !isCrash(err) {
		what := "repaired and verified"
		if status == state.StatusIncomplete {
			what = "repaired (incompletely: " + report.Incomplete + ")"
		}
		return res, fmt.Errorf("%s: the sink was %s, but recording it in the state failed: %w; the state shows the operation in progress: run offsetctl rollback -serial %d to undo it", op.Address, what, err, r.serial)
	}
	if err != nil {
		return res, err
	}
	a.emit(report)
	res.Status = status
	a.emit(OperationFinished{Operation: op.Address, Serial: r.serial, Status: status})
	return res, nil
}

// remaining compares the tables again, row by row, after a repair left
// their checksums different: counts and the first keys of each kind.
func remaining(ctx context.Context, src *repairSource, dst *pgx.Conn, spec reconcile.Spec) *RepairRemaining {
	spec.Mode = reconcile.ModeRows
	spec.MaxKeys = remainingKeys
	spec.ShowValues = false
	cr, err := src.compare(ctx, dst, spec)
	if err != nil {
		return &RepairRemaining{Err: err.Error()}
	}
	keys := func(ds []reconcile.Diff) []reconcile.Key {
		var out []reconcile.Key
		for _, d := range ds {
			out = append(out, d.Key)
		}
		return out
	}
	return &RepairRemaining{Missing: cr.MissingCount, Extra: cr.ExtraCount, Mismatched: cr.MismatchedCount,
		MissingKeys: keys(cr.Missing), ExtraKeys: keys(cr.Extra), MismatchedKeys: keys(cr.Mismatched)}
}

// incompleteText says, for the operator, what a repair left different and
// why where it knows: rows that moved since the plan (stale), extra rows it
// could not or was not allowed to delete. Keys and counts only.
func incompleteText(d *plan.ReconcileDiff, rep RepairReport) string {
	var parts []string
	rem := rep.Remaining
	switch {
	case rem == nil:
	case rem.Err != "":
		parts = append(parts, "the sink still differs from the source (comparing the rows again failed: "+rem.Err+")")
	case rem.Total() == 0:
		// Rows changed while they were compared: the checksums said
		// different, the rows say equal.
		parts = append(parts, "the whole-table checksums differ, but comparing the rows again found none different (the tables are changing)")
	default:
		var kinds []string
		add := func(n int64, kind string, ks []reconcile.Key, why string) {
			if n == 0 {
				return
			}
			t := fmt.Sprintf("%d %s (%s %s)", n, kind, pluralWord(int(n), "key", "keys"), keysText(ks, n))
			if why != "" {
				t += ", " + why
			}
			kinds = append(kinds, t)
		}
		add(rem.Missing, "missing", rem.MissingKeys, "")
		extraWhy := ""
		switch {
		case d.Repair == plan.RepairSnapshotSignal:
			extraWhy = "which a snapshot signal cannot delete"
			if d.DeleteExtra {
				extraWhy += " (delete_extra does nothing with repair = \"snapshot_signal\")"
			}
		case !d.DeleteExtra:
			extraWhy = "kept: delete_extra is false"
		}
		add(rem.Extra, "extra", rem.ExtraKeys, extraWhy)
		add(rem.Mismatched, "mismatched", rem.MismatchedKeys, "")
		parts = append(parts, fmt.Sprintf("the sink still differs from the source in %d %s: %s", rem.Total(), pluralWord(int(rem.Total()), "row", "rows"), strings.Join(kinds, "; ")))
	}
	if len(rep.Stale) > 0 {
		parts = append(parts, fmt.Sprintf("%d planned %s moved since the plan and %s left alone (stale): %s",
			len(rep.Stale), pluralWord(len(rep.Stale), "row", "rows"), pluralWord(len(rep.Stale), "was", "were"), staleList(rep.Stale)))
	}
	parts = append(parts, "make a new plan to repair what is left")
	return strings.Join(parts, "; ")
}

func keysText(ks []reconcile.Key, n int64) string {
	parts := make([]string, 0, len(ks)+1)
	for _, k := range ks {
		parts = append(parts, k.String())
	}
	if more := n - int64(len(ks)); more > 0 {
		parts = append(parts, fmt.Sprintf("… %d more", more))
	}
	return strings.Join(parts, ", ")
}

func pluralWord(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// failRepair puts back the before-images a failed repair recorded and
// records the outcome.
func (r *repairRun) failRepair(ctx context.Context, res *OperationResult, blk *config.Reconcile, d *plan.ReconcileDiff, s Step, cause error, written bool) (*OperationResult, error) {
	if isCrash(cause) {
		return res, cause
	}
	a := r.a
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.opts.RollbackTimeout)
	defer cancel()
	oe := &OperationError{Operation: r.op.Address, Serial: r.serial, Step: s, Err: cause, Status: state.StatusFailed}
	var imgs, after []state.Image
	r.j.with(func(st *state.State) {
		if sop, ok := st.BySerial(r.serial); ok {
			imgs = append(imgs, sop.BeforeImages...)
			after = append(after, sop.After...)
		}
	})
	if written && len(imgs) > 0 {
		oe.OffsetsChanged = true
		if err := a.restoreImages(rctx, r, imgs, after); err != nil {
			oe.RollbackErr, oe.Status = err, state.StatusNeedsRollback
		}
	}
	a.emit(RolledBack{Operation: r.op.Address, Partitions: len(imgs), Err: oe.RollbackErr})
	finished := a.opts.Now()
	r.j.update(r.serial, func(sop *state.Operation) {
		sop.Finish(oe.Status, finished, cause)
		if oe.RollbackErr != nil {
			sop.Error += "; the automatic rollback failed: " + oe.RollbackErr.Error()
		}
	})
	// Recorded even when the rollback used up its time.
	wctx, wcancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer wcancel()
	if err := r.j.write(wctx); err != nil {
		return res, fmt.Errorf("%w; and recording the failure in the state failed too: %v (run offsetctl rollback -serial %d)", oe, err, r.serial)
	}
	res.Status = oe.Status
	a.emit(OperationFinished{Operation: r.op.Address, Serial: r.serial, Status: oe.Status, Err: oe})
	return res, oe
}

// acquireLive takes a connection from pool that answers a ping. A rollback
// often follows a failure of the network or the server: the pool's idle
// connections may be dead without knowing it yet (pgxpool pings only those
// idle for more than a second), and one of them must not fail the rollback
// too, nor hold it up (a silent server never answers the ping: each ping
// gets livePingTimeout). Dead ones are closed, so that the pool drops them.
const livePingTimeout = 5 * time.Second

func acquireLive(ctx context.Context, pool *pgxpool.Pool) (*pgxpool.Conn, error) {
	var last error
	for range pool.Stat().MaxConns() + 1 {
		conn, err := pool.Acquire(ctx)
		if err != nil {
			return nil, err
		}
		pctx, cancel := context.WithTimeout(ctx, livePingTimeout)
		last = conn.Ping(pctx)
		cancel()
		if last == nil {
			return conn, nil
		}
		_ = conn.Conn().Close(ctx)
		conn.Release()
		if ctx.Err() != nil {
			break
		}
	}
	return nil, fmt.Errorf("no connection of the pool answers: %w", last)
}

// restoreImages puts row before-images back, table by table, as steps of r.
func (a *Applier) restoreImages(ctx context.Context, r *repairRun, imgs, after []state.Image) error {
	type tableKey struct{ db, table string }
	var order []tableKey
	byTable := map[tableKey][]reconcile.RowImage{}
	expect := map[tableKey][]reconcile.RowImage{}
	for _, im := range after {
		if im.Row != nil {
			k := tableKey{im.Row.Database, im.Row.Table}
			expect[k] = append(expect[k], reconcile.RowImage{KeyJSON: im.Row.Key, Row: im.Row.Row, Xmin: im.Row.Xmin})
		}
	}
	for _, im := range imgs {
		if im.Row == nil {
			continue
		}
		k := tableKey{im.Row.Database, im.Row.Table}
		if _, ok := byTable[k]; !ok {
			order = append(order, k)
		}
		byTable[k] = append(byTable[k], reconcile.RowImage{KeyJSON: im.Row.Key, Row: im.Row.Row})
	}
	for _, k := range order {
		err := r.step(ctx, StepRestoreRows, k.table, func() (string, bool, error) {
			db := r.cfgDatabase(k.db)
			if db == nil {
				return "", false, fmt.Errorf("database.%s, whose rows are to be put back, is not in the configuration: add it back", k.db)
			}
			dc, ok := a.opts.Clients.(plan.DatabaseClients)
			if !ok {
				return "", false, errors.New("this offsetctl cannot open databases here (no database clients)")
			}
			pool, err := dc.Database(ctx, db)
			if err != nil {
				return "", false, fmt.Errorf("connecting to %s: %w", db.Addr(), err)
			}
			conn, err := acquireLive(ctx, pool)
			if err != nil {
				return "", false, fmt.Errorf("connecting to %s: %w", db.Addr(), err)
			}
			defer conn.Release()
			n, err := reconcile.RestoreRows(ctx, conn.Conn(), k.table, byTable[k], reconcile.RepairOptions{Expect: expect[k]})
			if err != nil {
				return "", false, err
			}
			return fmt.Sprintf("%d row(s) of %s put back from their before-images", n, k.table), false, nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// cfgDatabase finds a database block of the run's configuration.
func (r *repairRun) cfgDatabase(name string) *config.Database {
	if r.cfg == nil {
		return nil
	}
	return r.cfg.Database(name)
}

func staleList(s []reconcile.StaleRow) string {
	var parts []string
	for i, x := range s {
		if i == 10 {
			parts = append(parts, fmt.Sprintf("… %d more", len(s)-10))
			break
		}
		parts = append(parts, fmt.Sprintf("%s (%s: %s)", x.Key, x.Kind, x.Why))
	}
	return strings.Join(parts, ", ")
}

func keyList(ds []reconcile.Diff) string {
	var parts []string
	for i, x := range ds {
		if i == 20 {
			parts = append(parts, fmt.Sprintf("… %d more", len(ds)-20))
			break
		}
		parts = append(parts, x.Key.String())
	}
	return strings.Join(parts, ", ")
}

// runRepairRollback applies the rollback of a reconcile operation: the
// before-images it recorded are put back, and the operation is marked
// rolled back.
func (a *Applier) runRepairRollback(ctx context.Context, p *plan.Plan, cfg *config.Config, j *journal, op *plan.Operation) (*OperationResult, error) {
	res := &OperationResult{Address: op.Address, Name: op.Name}
	n, ok := RollbackTarget(op)
	if !ok {
		return res, fmt.Errorf("%s is not a rollback address", op.Address)
	}
	var imgs, after []state.Image
	var tname string
	j.with(func(st *state.State) {
		if t, ok := st.BySerial(n); ok {
			imgs = append(imgs, t.BeforeImages...)
			after = append(after, t.After...)
			tname = t.Name
		}
	})
	if tname == "" {
		return res, fmt.Errorf("%s: the state has no operation %d", op.Address, n)
	}
	res.Partitions = len(imgs)
	r := &repairRun{a: a, p: p, j: j, op: op, cfg: cfg}
	err := r.step(ctx, StepJournal, "", func() (string, bool, error) {
		sop := state.Operation{Name: op.Name, Kind: state.KindRollback, PlanHash: p.Hash, ConfigHash: p.ConfigHash,
			Reason: op.Reason, RollbackOf: n}
		j.with(func(st *state.State) { r.serial = a.begin(st, sop, p, op).Serial })
		res.Serial = r.serial
		a.emit(OperationStarted{Operation: op.Address, Serial: r.serial, Changes: len(imgs)})
		return fmt.Sprintf("operation %d: put back %d row before-image(s) of operation %d", r.serial, len(imgs), n), false, nil
	})
	if err != nil {
		return res, err
	}
	if err := a.restoreImages(ctx, r, imgs, after); err != nil {
		if isCrash(err) {
			return res, err
		}
		oe := &OperationError{Operation: op.Address, Serial: r.serial, Step: StepRestoreRows, Err: err, Status: state.StatusFailed}
		finished := a.opts.Now()
		j.update(r.serial, func(sop *state.Operation) {
			sop.Finish(state.StatusFailed, finished, err)
		})
		if werr := j.write(context.WithoutCancel(ctx)); werr != nil {
			return res, fmt.Errorf("%w; and recording the failure in the state failed too: %v", oe, werr)
		}
		res.Status = state.StatusFailed
		a.emit(OperationFinished{Operation: op.Address, Serial: r.serial, Status: state.StatusFailed, Err: oe})
		return res, oe
	}
	err = r.step(ctx, StepRecord, "", func() (string, bool, error) {
		finished := a.opts.Now()
		var rerr error
		j.with(func(st *state.State) {
			if sop, ok := st.BySerial(r.serial); ok {
				sop.Finish(state.StatusApplied, finished, nil)
			}
			rerr = st.RecordRollback(n, r.serial, finished)
		})
		if rerr != nil {
			return "", false, rerr
		}
		return "applied", false, nil
	})
	if err != nil {
		return res, err
	}
	res.Status = state.StatusApplied
	a.emit(OperationFinished{Operation: op.Address, Serial: r.serial, Status: state.StatusApplied})
	return res, nil
}

// recoverRepair undoes a reconcile operation (or the rollback of one) that
// a dead earlier attempt of the same plan left in progress: the
// before-images it recorded are put back, and it is recorded as failed.
func (a *Applier) recoverRepair(ctx context.Context, j *journal, cfg *config.Config, serial uint64) error {
	u, _ := j.st.BySerial(serial)
	name := u.Name
	r := &repairRun{a: a, j: j, op: &plan.Operation{Address: "recover." + fmt.Sprint(serial), Name: name}, serial: serial, cfg: cfg}
	var err error
	if u.Kind == state.KindReconcile {
		// An interrupted batch may have recorded rows it never committed:
		// its after-images cannot be expected, so none are checked.
		err = a.restoreImages(ctx, r, u.BeforeImages, nil)
	}
	if u, _ = j.st.BySerial(serial); u == nil {
		return fmt.Errorf("operation %d vanished from the state", serial)
	}
	if err != nil {
		u.Status, u.Error = state.StatusNeedsRollback, "interrupted; putting the rows back failed: "+err.Error()
	} else {
		u.Status = state.StatusFailed
		u.Error = "interrupted (the process running it stopped); offsetctl apply of the same plan put the recorded row before-images back"
	}
	u.Finished = a.opts.Now()
	if werr := j.write(ctx); werr != nil {
		err = errors.Join(err, werr)
	}
	if err != nil {
		a.emit(Recovered{Serial: serial, Name: name, Err: err})
		return fmt.Errorf("operation %d (%s) was left in progress by an earlier run of this plan, and undoing it failed: %w; run offsetctl rollback -serial %d", serial, name, err, serial)
	}
	a.emit(Recovered{Serial: serial, Name: name})
	return nil
}

// isRepairState says whether a state operation is a repair or the rollback
// of one (it touched no connector).
func isRepairState(op *state.Operation) bool {
	return op.Kind == state.KindReconcile || (op.Kind == state.KindRollback && len(op.Connectors) == 0)
}
