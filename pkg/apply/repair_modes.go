package apply

import (
	"context"
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

// repairWork is what the repair step of one reconcile operation works on,
// whatever its mode, and what it leaves for verification.
type repairWork struct {
	blk      *config.Reconcile
	d        *plan.ReconcileDiff
	spec     reconcile.Spec
	src      *repairSource
	dst      *pgx.Conn
	sinkPool *pgxpool.Pool // for a second sink connection
	report   *RepairReport

	// written says sink rows may have been written (their before-images
	// are then put back on failure); repaired are the keys verification
	// compares again.
	written  bool
	repaired []reconcile.Key
}

// upsert is the repair = "upsert" mode: reconcile.Repair writes the sink
// rows in batches, each batch's before-images written to the state before
// it commits and its after-images recorded after.
func (r *repairRun) upsert(ctx context.Context, w *repairWork) (string, bool, error) {
	j, d := r.j, w.d
	w.written = true
	// A second sink connection lets a batch write while the one before it
	// still writes or commits; without one (the pool is full, or the
	// server refuses it) the batches take turns.
	var second *pgx.Conn
	if st := w.sinkPool.Stat(); st.MaxConns() > st.AcquiredConns() {
		actx, cancel := context.WithTimeout(ctx, 10*time.Second)
		dc2, err := w.sinkPool.Acquire(actx)
		cancel()
		if err == nil {
			defer dc2.Release()
			second = dc2.Conn()
		}
	}
	rr, err := w.src.repair(ctx, w.dst, w.spec, d.Set(), reconcile.RepairOptions{
		DeleteExtra: d.DeleteExtra, SecondSink: second,
		Images: func(ctx context.Context, _ int, ims []reconcile.RowImage) error {
			j.update(r.serial, func(sop *state.Operation) {
				for _, im := range ims {
					sop.BeforeImages = append(sop.BeforeImages, state.Image{Row: &state.RowImage{
						Database: w.blk.Sink.Name, Table: d.SinkTable, Key: im.KeyJSON, Row: im.Row}})
				}
			})
			r.images += len(ims)
			return j.write(ctx)
		},
		After: func(_ context.Context, _ int, ims []reconcile.RowImage) error {
			j.update(r.serial, func(sop *state.Operation) {
				for _, im := range ims {
					sop.After = append(sop.After, state.Image{Row: &state.RowImage{
						Database: w.blk.Sink.Name, Table: d.SinkTable, Key: im.KeyJSON, Xmin: im.Xmin}})
				}
			})
			return nil
		},
		BeforeCommit: func(int) error { return r.hook(StepRepairBatch) },
	})
	if rr != nil {
		rep := w.report
		rep.Inserted, rep.Updated, rep.Deleted, rep.Already = rr.Inserted, rr.Updated, rr.Deleted, rr.Already
		rep.Stale = rr.Stale
		w.repaired = rr.Repaired
	}
	if err != nil {
		return "", false, err
	}
	msg := fmt.Sprintf("%d inserted, %d updated, %d deleted in %d batch(es)", rr.Inserted, rr.Updated, rr.Deleted, rr.Batches)
	if rr.Already > 0 {
		msg += fmt.Sprintf(", %d already repaired", rr.Already)
	}
	if len(rr.Stale) > 0 {
		msg += fmt.Sprintf("; %d stale (changed since the plan, not written): %s", len(rr.Stale), staleList(rr.Stale))
	}
	return msg, false, nil
}

// signal is the repair = "snapshot_signal" mode: one Debezium
// execute-snapshot signal per batch of missing and mismatched keys, inserted
// into the source's signal table; the pipeline writes the rows.
func (r *repairRun) signal(ctx context.Context, w *repairWork) (string, bool, error) {
	d := w.d
	var keys []reconcile.Key
	for _, l := range [][]reconcile.Diff{d.Missing, d.Mismatched} {
		for _, df := range l {
			keys = append(keys, df.Key)
		}
	}
	prefix := fmt.Sprintf("offsetctl-%s-%d", strings.TrimPrefix(short(r.p.Hash), "sha256:"), r.serial)
	n, err := w.src.signal(ctx, d, keys, prefix)
	if err != nil {
		return "", false, err
	}
	w.report.Signals = n
	w.repaired = keys
	return fmt.Sprintf("%d execute-snapshot signal(s) for %d keys inserted into %s", n, len(keys), d.SignalTable), false, nil
}

// verify compares the repaired rows again and the whole tables (checksums);
// after a snapshot_signal repair it waits, up to Options.WaitTimeout, for
// the pipeline to write the rows. Equal repaired rows with tables still
// different make the repair incomplete (report.Incomplete), not failed;
// repair = "none" only reports.
func (r *repairRun) verify(ctx context.Context, w *repairWork) (string, bool, error) {
	a, d := r.a, w.d
	var v *reconcile.Verification
	deadline := a.opts.Now().Add(a.opts.WaitTimeout)
	for {
		var err error
		v, err = w.src.verify(ctx, w.dst, w.spec, w.repaired)
		if err != nil {
			return "", false, fmt.Errorf("comparing the repaired rows again: %w", err)
		}
		// Signals are processed by the pipeline: wait for the rows.
		if v.Converged() || d.Repair != plan.RepairSnapshotSignal || a.opts.Now().After(deadline) {
			break
		}
		select {
		case <-ctx.Done():
			return "", false, ctx.Err()
		case <-time.After(a.opts.PollInterval):
		}
	}
	w.report.Verified, w.report.Converged, w.report.TableEqual = v.Keys, v.Converged(), v.TableEqual()
	w.report.SourceSum, w.report.SinkSum = v.SourceChecksum, v.SinkChecksum
	sums := fmt.Sprintf("source %s, sink %s", v.SourceChecksum, v.SinkChecksum)
	if !v.Converged() {
		return "", false, fmt.Errorf("%d of %d repaired rows still differ (keys %s); whole table: %s", len(v.Differing), v.Keys, keyList(v.Differing), sums)
	}
	if d.Repair == plan.RepairNone {
		if v.TableEqual() {
			return "report only; the tables are equal now: " + sums, false, nil
		}
		return "report only; the tables differ: " + sums, false, nil
	}
	if !v.TableEqual() {
		// The repaired rows are equal, the tables are not: say which
		// rows still differ, and why where the repair knows.
		w.report.Remaining = remaining(ctx, w.src, w.dst, w.spec)
		w.report.Incomplete = incompleteText(d, *w.report)
		return fmt.Sprintf("NOT VERIFIED: %d repaired rows equal, but the tables still differ (%s): %s", v.Keys, sums, w.report.Incomplete), false, nil
	}
	return fmt.Sprintf("%d rows equal; checksums equal: %s", v.Keys, sums), false, nil
}
