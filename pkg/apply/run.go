package apply

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"time"

	"github.com/offsetctl/offsetctl/pkg/config"
	"github.com/offsetctl/offsetctl/pkg/connect"
	"github.com/offsetctl/offsetctl/pkg/offsets"
	"github.com/offsetctl/offsetctl/pkg/plan"
	"github.com/offsetctl/offsetctl/pkg/state"
)

// opRun is one operation being applied.
type opRun struct {
	a      *Applier
	p      *plan.Plan
	cfg    *config.Config
	j      *journal
	op     *plan.Operation
	obs    *plan.ConnectorObservation // the plan's
	now    *plan.ConnectorObservation // as re-observed before the change (the plan's when not re-observed)
	c      *conn
	serial uint64 // in the state, once journaled

	former     string // the connector's state to return to
	rollbackOf uint64 // the operation a rollback undoes, 0 if none
	before     []offsets.Position
	after      []offsets.Position

	stopped      bool // the connector was stopped (or may be)
	alterStarted bool // offsets may have been written
}

func (a *Applier) newRun(ctx context.Context, p *plan.Plan, cfg *config.Config, j *journal, op *plan.Operation, now *plan.ConnectorObservation) (*opRun, error) {
	obs := findObservation(p, op.Connector)
	blk := connectorBlock(cfg, op.Connector)
	if obs == nil || blk == nil {
		return nil, fmt.Errorf("%s: connector %s is not in the plan's observations or the configuration: make a new plan", op.Address, op.Connector)
	}
	method := op.Method
	if method == "" {
		method = obs.WriteVia
	}
	c, err := a.newConn(ctx, blk, obs.Type, method, obs.Group, op.Halt)
	if err != nil {
		return nil, fmt.Errorf("%s: %w; nothing was changed", op.Address, err)
	}
	r := &opRun{a: a, p: p, cfg: cfg, j: j, op: op, obs: obs, now: obs, c: c, former: formerState(obs)}
	if now != nil {
		r.former = formerState(now)
		r.now = now
	}
	if n, ok := RollbackTarget(op); ok {
		r.rollbackOf = n
		j.with(func(st *state.State) {
			if t, ok := st.BySerial(n); ok && (t.Status == state.StatusInProgress || t.Status == state.StatusNeedsRollback) {
				// Undoing an interrupted operation: return the connector
				// to the state that operation found it in, not the one it
				// left.
				for _, tc := range t.Connectors {
					if tc.Name == c.name && tc.StateBefore != "" {
						r.former = tc.StateBefore
					}
				}
			}
		})
	}
	r.before, r.after = changeEntries(op)
	return r, nil
}

// formerState is the state to return a connector to: its own, except that
// a connector with a FAILED task counts as FAILED (it is not resumed).
func formerState(o *plan.ConnectorObservation) string {
	for _, t := range o.TaskStates {
		if t == string(connect.StateFailed) {
			return string(connect.StateFailed)
		}
	}
	return o.State
}

// journal guards the state, which operations running in parallel share.
// Writes are coalesced: a write that finds its changes already stored by
// another goroutine's write returns at once.
type journal struct {
	mu      sync.Mutex
	st      *state.State
	b       state.Backend
	lockID  string
	version uint64 // counts changes
	saved   uint64 // the version the last successful write stored
}

// with runs f on the state under the lock, as a change.
func (j *journal) with(f func(st *state.State)) {
	j.mu.Lock()
	defer j.mu.Unlock()
	f(j.st)
	j.version++
}

// update runs f on operation serial, if the state has it.
func (j *journal) update(serial uint64, f func(op *state.Operation)) {
	j.with(func(st *state.State) {
		if op, ok := st.BySerial(serial); ok {
			f(op)
		}
	})
}

// current returns the version of the changes made so far.
func (j *journal) current() uint64 {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.version
}

// writeUpTo stores the state unless a write since version v stored it.
func (j *journal) writeUpTo(ctx context.Context, v uint64) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.saved >= v && v > 0 {
		return nil
	}
	at := j.version
	if err := j.b.Write(ctx, j.st, j.lockID); err != nil {
		return fmt.Errorf("writing the state: %w", err)
	}
	j.saved = at
	return nil
}

// write stores every change made so far.
func (j *journal) write(ctx context.Context) error { return j.writeUpTo(ctx, j.current()) }

// beginStep records step s of operation serial as in progress and returns
// its index among the operation's steps (-1 when the state does not have the
// operation yet: the journal step creates it).
func (j *journal) beginStep(serial uint64, s Step, target string, start time.Time) int {
	idx := -1
	j.update(serial, func(op *state.Operation) {
		op.StartStep(string(s), target, start)
		idx = len(op.Steps) - 1
	})
	return idx
}

// endStep records the outcome of the step beginStep returned idx for (the
// step is appended when beginStep could not record it).
func (j *journal) endStep(serial uint64, idx int, s Step, target string, start, end time.Time, msg string, skipped bool, err error) {
	j.update(serial, func(op *state.Operation) {
		if idx < 0 {
			op.Steps = append(op.Steps, state.Step{Name: string(s), Target: target, Started: start})
			idx = len(op.Steps) - 1
		}
		if skipped && err == nil {
			op.Steps[idx].Skip(end, msg)
		} else {
			op.Steps[idx].End(end, msg, err)
		}
	})
}

// step runs one step of the operation on its connector (stepRunner.run).
func (r *opRun) step(ctx context.Context, s Step, fn func() (msg string, skipped bool, err error)) error {
	return stepRunner{a: r.a, j: r.j, serial: &r.serial, operation: r.op.Address, connector: r.c.name}.run(ctx, s, r.c.name, fn)
}

func isCrash(err error) bool {
	var ce *CrashError
	return errors.As(err, &ce)
}

// run applies the operation; see the package documentation.
func (r *opRun) run(ctx context.Context) (*OperationResult, error) {
	a, c, op := r.a, r.c, r.op
	res := &OperationResult{Address: op.Address, Name: op.Name, Connector: c.name, Partitions: len(r.after)}

	// 1. journal
	err := r.step(ctx, StepJournal, func() (string, bool, error) {
		sop := state.Operation{
			Name: op.Name, Kind: stateKind(op.Kind), PlanHash: r.p.Hash, ConfigHash: r.p.ConfigHash, BlockHash: op.BlockHash,
			Reason: op.Reason, RollbackOf: r.rollbackOf,
			Connectors:   []state.Connector{{Name: c.name, ConnectCluster: c.cluster, StateBefore: r.former, ConfigHash: r.obs.ConfigHash}},
			BeforeImages: images(r.before, c.name, c.cluster, c.group),
			After:        images(r.after, c.name, c.cluster, c.group),
		}
		if c.halt == plan.HaltDeleteRecreate {
			if err := r.saveConfig(ctx, &sop.Connectors[0]); err != nil {
				return "", false, err
			}
		}
		backup, berr := backupContent(r.now, a.opts.Now())
		if berr != nil {
			return "", false, fmt.Errorf("backing up the offsets of %s before changing them: %w", c.name, berr)
		}
		r.j.with(func(st *state.State) {
			r.serial = a.begin(st, sop, r.p, op).Serial
			_, berr = st.AddBackup(r.serial, a.opts.Now(), c.name, c.cluster, backup)
		})
		if berr != nil {
			return "", false, fmt.Errorf("backing up the offsets of %s before changing them: %w", c.name, berr)
		}
		res.Serial = r.serial
		a.emit(OperationStarted{Operation: op.Address, Connector: c.name, Serial: r.serial, Changes: len(r.after)})
		if c.saved != nil {
			return fmt.Sprintf("operation %d: %d before-image(s) and the configuration of %q (%d keys, to re-create it) recorded", r.serial, len(r.before), c.name, len(c.saved)), false, nil
		}
		return fmt.Sprintf("operation %d: %d before-image(s) recorded", r.serial, len(r.before)), false, nil
	})
	if err != nil {
		if r.serial != 0 && !isCrash(err) {
			// The journal could not be written: nothing was touched.
			return res, fmt.Errorf("%s: recording the operation before changing anything: %w; nothing was changed", op.Address, err)
		}
		return res, err
	}

	// 2. stop (or delete)
	haltStep := r.haltStep()
	err = r.step(ctx, haltStep, func() (string, bool, error) {
		r.stopped = true
		did, err := c.stop(ctx)
		if err != nil {
			verb := "stopping"
			if haltStep == StepDelete {
				verb = "deleting"
			}
			return "", false, fmt.Errorf("%s connector %q: %w", verb, c.name, err)
		}
		if haltStep == StepDelete {
			if !did {
				return "already deleted", true, nil
			}
			return "deleted; its offsets stay", false, nil
		}
		if !did {
			r.stopped = false
			return "already STOPPED", true, nil
		}
		return "STOPPED, no tasks", false, nil
	})
	if err != nil {
		return r.fail(ctx, res, haltStep, err)
	}

	// 3. settle
	err = r.step(ctx, StepSettle, func() (string, bool, error) {
		cur, err := c.settle(ctx, r.before)
		if err != nil {
			return "", false, err
		}
		if moved := offsets.Differences(r.before, cur); len(moved) > 0 {
			// A running connector committed since the plan: the
			// before-images are what the stop left, if the operation
			// stays within what was reviewed.
			if err := r.rebaseOnSettled(cur); err != nil {
				return "", false, err
			}
			return fmt.Sprintf("no task writes; %d offset(s) moved since the plan, within what was reviewed", len(moved)), false, nil
		}
		return fmt.Sprintf("no task writes; %d offset(s) as planned", len(cur)), false, nil
	})
	if err != nil {
		return r.fail(ctx, res, StepSettle, err)
	}

	// 4. alter
	r.alterStarted = true
	err = r.step(ctx, StepAlter, func() (string, bool, error) {
		if len(r.after) == 0 {
			return "nothing to write", true, nil
		}
		note, err := c.store.Write(ctx, r.after)
		if err != nil {
			return "", false, fmt.Errorf("writing the offsets of %q via %s: %w", c.name, c.method, err)
		}
		a.emit(OffsetsAltered{Operation: op.Address, Connector: c.name, Via: c.method, Partitions: len(r.after)})
		msg := fmt.Sprintf("%d partition(s) written via %s", len(r.after), c.method)
		if note != "" {
			msg += "; " + note
		}
		return msg, false, nil
	})
	if err != nil {
		return r.fail(ctx, res, StepAlter, err)
	}

	// 5. verify
	err = r.step(ctx, StepVerify, func() (string, bool, error) {
		got, err := readBack(ctx, c, r.after)
		if err != nil {
			return "", false, fmt.Errorf("reading the offsets of %q back: %w", c.name, err)
		}
		if diff := offsets.Differences(r.after, got); len(diff) > 0 {
			return "", false, fmt.Errorf("the offsets of %q read back differ from the plan: %s", c.name, strings.Join(diff, "; "))
		}
		a.emit(Verified{Operation: op.Address, Connector: c.name, Partitions: len(r.after)})
		return fmt.Sprintf("%d partition(s) read back exactly as planned", len(r.after)), false, nil
	})
	if err != nil {
		return r.fail(ctx, res, StepVerify, err)
	}

	// 6. restore-state
	var stateAfter string
	resumeStep := r.resumeStep()
	err = r.step(ctx, resumeStep, func() (string, bool, error) {
		if !r.stopped && r.former == string(connect.StateStopped) {
			stateAfter = r.former
			return "left STOPPED, as it was", true, nil
		}
		sa, warn, err := c.restoreState(ctx, r.former)
		if err != nil {
			return "", false, fmt.Errorf("returning connector %q to %s: %w", c.name, r.former, err)
		}
		stateAfter = sa
		if warn != "" {
			a.emit(Warning{Operation: op.Address, Connector: c.name, Message: warn})
		}
		if resumeStep == StepRecreate {
			return fmt.Sprintf("connector %q re-created with its saved configuration, %s", c.name, sa), false, nil
		}
		if sa == string(connect.StatePaused) {
			return fmt.Sprintf("connector %q left PAUSED, as it was: not resumed, so not watched; the new offsets take effect (a rewind replays) when you resume it", c.name), false, nil
		}
		return "connector " + sa, false, nil
	})
	if err != nil {
		return r.fail(ctx, res, resumeStep, err)
	}

	// 7. record. The operation is done: recording it is not abandoned
	// when the run is interrupted (SIGINT, SIGTERM) now, or the state
	// would show in progress what is applied and running.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.opts.RollbackTimeout)
	defer cancel()
	err = r.step(rctx, StepRecord, func() (string, bool, error) {
		finished := a.opts.Now()
		r.j.update(r.serial, func(sop *state.Operation) {
			sop.Finish(state.StatusApplied, finished, nil)
			sop.Connectors[0].StateAfter = stateAfter
			sop.Connectors[0].SavedConfig = nil // re-created: not needed any more
		})
		if r.rollbackOf != 0 {
			var rerr error
			r.j.with(func(st *state.State) {
				t, ok := st.BySerial(r.rollbackOf)
				interrupted := ok && t.Status == state.StatusInProgress
				if rerr = st.RecordRollback(r.rollbackOf, r.serial, finished); rerr == nil && interrupted {
					r.settleInterrupted(t, finished, stateAfter)
				}
				if rerr == nil && ok {
					for i := range t.Connectors {
						t.Connectors[i].SavedConfig = nil // the connector exists again
					}
				}
			})
			if rerr != nil {
				return "", false, rerr
			}
		}
		return "applied", false, nil
	})
	if err != nil && !isCrash(err) {
		return res, fmt.Errorf("%s: the offsets were changed and verified, but recording it in the state failed: %w; the state shows the operation in progress: run offsetctl rollback -serial %d to undo it, or check it with offsetctl state show %d", op.Address, err, r.serial, r.serial)
	}
	if err != nil {
		return res, err
	}
	res.Status = state.StatusApplied
	a.emit(OperationFinished{Operation: op.Address, Serial: r.serial, Status: state.StatusApplied})
	return res, nil
}

// recordTimeout bounds writing the outcome of a failed operation to the
// state, which has a budget of its own: the automatic rollback before it
// may have used up RollbackTimeout.
const recordTimeout = 30 * time.Second

// fail rolls the operation back after a failed step, records the outcome
// and returns the story.
func (r *opRun) fail(ctx context.Context, res *OperationResult, s Step, cause error) (*OperationResult, error) {
	if isCrash(cause) {
		return res, cause
	}
	a, c := r.a, r.c
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.opts.RollbackTimeout)
	defer cancel()
	oe := &OperationError{Operation: r.op.Address, Connector: c.name, Serial: r.serial, Step: s, Err: cause, OffsetsChanged: r.alterStarted && len(r.before) > 0}
	stateAfter, rbErr := r.converge(rctx, r.before, r.former, r.alterStarted, r.stopped)
	oe.StateAfter = stateAfter
	oe.Status = state.StatusFailed
	if rbErr != nil {
		oe.RollbackErr = rbErr
		if oe.OffsetsChanged {
			oe.Status = state.StatusNeedsRollback
		}
	}
	a.emit(RolledBack{Operation: r.op.Address, Connector: c.name, Partitions: len(r.before), StateAfter: stateAfter, Err: rbErr})
	if r.serial != 0 {
		finished := a.opts.Now()
		r.j.update(r.serial, func(sop *state.Operation) {
			sop.Finish(oe.Status, finished, cause)
			if rbErr != nil {
				sop.Error += "; the automatic rollback failed: " + rbErr.Error()
			}
			sop.Connectors[0].StateAfter = stateAfter
			if rbErr == nil && stateAfter != "" {
				sop.Connectors[0].SavedConfig = nil // the connector exists again
			}
		})
		// Recorded even when the rollback used up its time.
		wctx, wcancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
		defer wcancel()
		if err := r.j.write(wctx); err != nil {
			return res, fmt.Errorf("%w; and recording the failure in the state failed too: %v (the state still shows operation %d in progress: run offsetctl rollback -serial %d)", oe, err, r.serial, r.serial)
		}
	}
	res.Status = oe.Status
	a.emit(OperationFinished{Operation: r.op.Address, Serial: r.serial, Status: oe.Status, Err: oe})
	return res, oe
}

// converge puts want back (when offsets may have changed) and returns the
// connector to former, recording the steps in the journal. It returns the
// state the connector is left in.
func (r *opRun) converge(ctx context.Context, want []offsets.Position, former string, offsetsMayDiffer, mayBeStopped bool) (string, error) {
	c := r.c
	if offsetsMayDiffer && len(want) > 0 {
		var same bool
		err := r.step(ctx, StepRestoreOffsets, func() (string, bool, error) {
			if cur, err := c.store.Read(ctx, want); err == nil && len(offsets.Differences(want, cur)) == 0 {
				same = true
				return "the before-images are in place", true, nil
			}
			mayBeStopped = true
			if _, err := c.stop(ctx); err != nil {
				return "", false, fmt.Errorf("stopping connector %q: %w", c.name, err)
			}
			if _, err := c.settle(ctx, want); err != nil {
				return "", false, err
			}
			note, err := c.store.Write(ctx, want)
			if err != nil {
				return "", false, fmt.Errorf("writing the before-images of %q: %w", c.name, err)
			}
			if note != "" {
				return fmt.Sprintf("%d before-image(s) written; %s", len(want), note), false, nil
			}
			return fmt.Sprintf("%d before-image(s) written", len(want)), false, nil
		})
		if err != nil {
			return r.currentState(ctx), err
		}
		if !same {
			err = r.step(ctx, StepVerifyRestore, func() (string, bool, error) {
				got, err := readBack(ctx, c, want)
				if err != nil {
					return "", false, fmt.Errorf("reading the before-images of %q back: %w", c.name, err)
				}
				if diff := offsets.Differences(want, got); len(diff) > 0 {
					return "", false, fmt.Errorf("the before-images of %q read back differ: %s", c.name, strings.Join(diff, "; "))
				}
				return fmt.Sprintf("%d before-image(s) read back exactly", len(want)), false, nil
			})
			if err != nil {
				return r.currentState(ctx), err
			}
		}
	}
	if !mayBeStopped {
		return r.currentState(ctx), nil
	}
	var left string
	err := r.step(ctx, r.resumeStep(), func() (string, bool, error) {
		cur := r.currentState(ctx)
		if cur == former || (former == string(connect.StateFailed) && cur == string(connect.StateStopped)) {
			left = cur
			return "connector " + cur + ", as it was", true, nil
		}
		if cur != string(connect.StateStopped) {
			if _, err := c.stop(ctx); err != nil {
				return "", false, fmt.Errorf("stopping connector %q: %w", c.name, err)
			}
		}
		sa, warn, err := c.restoreState(ctx, former)
		if err != nil {
			left = r.currentState(ctx)
			return "", false, fmt.Errorf("returning connector %q to %s: %w", c.name, former, err)
		}
		if warn != "" {
			r.a.emit(Warning{Operation: r.op.Address, Connector: c.name, Message: warn})
		}
		left = sa
		return "connector " + sa, false, nil
	})
	if err != nil && r.c.halt == plan.HaltDeleteRecreate {
		// A connector that could not be re-created may be missing: that
		// is a failure, and the state keeps its saved configuration.
		return left, err
	}
	if err != nil {
		// The offsets are as they were; only the connector's state is
		// not. Say so, but it is not a failure to put offsets back.
		r.a.emit(Warning{Operation: r.op.Address, Connector: c.name, Message: fmt.Sprintf("the offsets of %q are as they were, but the connector could not be returned to %s: %v", c.name, former, err)})
	}
	return left, nil
}

// haltStep and resumeStep name the steps that halt the connector and return
// it to its state: stop and restore-state, or delete and recreate.
func (r *opRun) haltStep() Step {
	if r.c.halt == plan.HaltDeleteRecreate {
		return StepDelete
	}
	return StepStop
}

func (r *opRun) resumeStep() Step {
	if r.c.halt == plan.HaltDeleteRecreate {
		return StepRecreate
	}
	return StepRestoreState
}

// saveConfig reads the connector's exact configuration, checks it is the one
// the plan observed, and records it in sc (with the halt), so that the
// journal holds it before the connector is deleted: a later run re-creates
// the connector from it, whatever happened in between.
func (r *opRun) saveConfig(ctx context.Context, sc *state.Connector) error {
	c := r.c
	cfg, err := c.cc.Config(ctx, c.name)
	if err != nil {
		return fmt.Errorf("saving the configuration of %q before deleting it: %w", c.name, err)
	}
	if h := plan.ConfigHash(cfg); r.now.ConfigHash != "" && h != r.now.ConfigHash {
		return fmt.Errorf("%w: the configuration of %q changed since it was observed (%s, now %s); nothing was changed: make a new plan", ErrStalePlan, c.name, r.now.ConfigHash, h)
	}
	c.saved = cfg
	sc.Halt, sc.SavedConfig = string(plan.HaltDeleteRecreate), maps.Clone(cfg)
	return nil
}

// currentState reads the connector's state, "" when it cannot.
func (r *opRun) currentState(ctx context.Context) string {
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	st, err := r.c.status(sctx)
	if err != nil {
		return ""
	}
	s := string(st.Connector.State)
	for _, t := range st.Tasks {
		if t.State == connect.StateFailed {
			return string(connect.StateFailed)
		}
	}
	return s
}

// verifyPatience is how long a read-back that differs from what was written
// is retried. A real worker's GET /offsets lists source partitions from an
// index it updates after PATCH has answered, so right after a write that
// adds or deletes a partition it can briefly show the old list.
const verifyPatience = 5 * time.Second

// readBack reads want's partitions, retrying while they differ from want,
// for at most verifyPatience; it returns the last read.
func readBack(ctx context.Context, c *conn, want []offsets.Position) ([]offsets.Position, error) {
	deadline := time.Now().Add(verifyPatience)
	for {
		got, err := c.store.Read(ctx, want)
		if err != nil || len(offsets.Differences(want, got)) == 0 || time.Now().After(deadline) {
			return got, err
		}
		select {
		case <-ctx.Done():
			return got, nil
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// settleInterrupted records on t, an operation a dead process left in
// progress and that this rollback undid, what the rollback found before it
// wrote (its re-observation of the live offsets, and the journal): an
// operation found not applied is recorded as failed, not as rolled back,
// so that the history does not claim it was ever applied.
func (r *opRun) settleInterrupted(t *state.Operation, at time.Time, stateAfter string) {
	before, err1 := plan.ImagePositions(t.BeforeImages)
	after, err2 := plan.ImagePositions(t.After)
	if err1 != nil || err2 != nil {
		return
	}
	last, resumed := journaled(t.Steps)
	v := judge(before, after, r.now.Positions(after))
	var story string
	switch {
	case v.kind == foundApplied || resumed:
		story = fmt.Sprintf("interrupted after step %s (the process running it stopped); offsetctl rollback (operation %d) found it applied and put its before-images back", last, r.serial)
		if v.kind == foundApplied {
			story = fmt.Sprintf("interrupted after step %s (the process running it stopped); offsetctl rollback (operation %d) found it applied (%s) and put its before-images back", last, r.serial, v.detail)
		}
	case v.kind == foundNotApplied:
		story = fmt.Sprintf("interrupted after step %s, before any offset was written (the live offsets equaled its before-images); offsetctl rollback (operation %d) returned the connector to %s", last, r.serial, orUnknownState(stateAfter))
		t.Status, t.RolledBackBy, t.Error = state.StatusFailed, 0, story
	case v.kind == foundPartly:
		story = fmt.Sprintf("interrupted after step %s, partly applied (%s); offsetctl rollback (operation %d) put its before-images back", last, v.detail, r.serial)
	default:
		story = fmt.Sprintf("interrupted after step %s; offsetctl rollback (operation %d) found offsets that match neither its before- nor its after-images (%s) and put its before-images back over them", last, r.serial, strings.Join(v.moved, "; "))
	}
	t.Steps = append(t.Steps, state.Step{Name: string(StepRecover), Target: r.c.name, Status: state.StepDone, Started: at, Finished: at, Message: story})
}
