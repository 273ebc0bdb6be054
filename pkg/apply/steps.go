package apply

import "context"

// persistAfter says which steps the state is written after: the journal
// (before anything changes), the alteration (its result) and the final
// status. persistBefore says which are written before they begin: those
// after whose start the world may differ from the plan — the alteration of
// offsets and the writes of a repair or of a rows restore (their intent),
// and restore-state (the connector may run from the new offsets, after
// which they no longer show the operation). A failure's outcome is written
// when it is known; the other steps are recorded with the next write, which
// keeps a run of many connectors from waiting on the disk. A later run reads
// the live offsets to see how far an operation got, and the journal to know
// whether the connector may have run since.
func persistAfter(s Step) bool {
	return s == StepJournal || s == StepAlter || s == StepRecord
}

func persistBefore(s Step) bool {
	return s == StepAlter || s == StepRestoreState || s == StepRecreate || s == StepRepair || s == StepRestoreRows
}

// stepRunner runs the steps of one operation — offsets surgery, a repair,
// or the rollback of either — the one way: record the step in the journal,
// run it, record its outcome, tell the observer, call the hook.
type stepRunner struct {
	a *Applier
	j *journal
	// serial is the operation's serial in the state; 0 until the journal
	// step creates the operation (it sets it).
	serial    *uint64
	operation string // the plan operation's address
	connector string // "" for a repair
}

// run runs step s on target. Events: StepStarted, then StepDone, or
// StepFailed with the error, except for a *CrashError (the hook's
// simulated kill -9), after which nothing is reported or written. A
// *CrashError must be returned as it is, without cleanup.
func (sr stepRunner) run(ctx context.Context, s Step, target string, fn func() (msg string, skipped bool, err error)) error {
	a := sr.a
	a.emit(StepStarted{Operation: sr.operation, Connector: sr.connector, Step: s})
	start := a.opts.Now()
	idx := sr.j.beginStep(*sr.serial, s, target, start)
	if idx >= 0 && persistBefore(s) {
		// The journal must say that a change may have begun.
		if err := sr.j.write(ctx); err != nil {
			return err
		}
	}
	msg, skipped, err := fn()
	end := a.opts.Now()
	sr.j.endStep(*sr.serial, idx, s, target, start, end, msg, skipped, err)
	if err != nil {
		if !isCrash(err) {
			a.emit(StepFailed{Operation: sr.operation, Connector: sr.connector, Step: s, Err: err})
		}
		return err
	}
	if *sr.serial != 0 && persistAfter(s) {
		if err := sr.j.write(ctx); err != nil {
			return err
		}
	}
	a.emit(StepDone{Operation: sr.operation, Connector: sr.connector, Step: s, Message: msg, Skipped: skipped, Elapsed: end.Sub(start)})
	return a.hook(Point{Operation: sr.operation, Connector: sr.connector, Step: s})
}

// hook calls Options.Hook, when set, at pt; its error comes back as a
// *CrashError.
func (a *Applier) hook(pt Point) error {
	if a.opts.Hook == nil {
		return nil
	}
	if err := a.opts.Hook(pt); err != nil {
		return &CrashError{Point: pt, Err: err}
	}
	return nil
}
