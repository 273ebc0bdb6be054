package state

import (
	"fmt"
	"time"
)

// The helpers below keep an Operation's journal; apply keeps every
// operation's journal with them: begin with the before-images
// (State.Begin), write, then record each step as it starts and ends, and
// finish with the final status (and, for a rollback, RecordRollback). They
// change only the in-memory State; the caller writes it.

// StartStep appends a step in progress and returns it, valid until the next
// StartStep on op.
func (op *Operation) StartStep(name, target string, at time.Time) *Step {
	op.Steps = append(op.Steps, Step{Name: name, Target: target, Status: StepInProgress, Started: at})
	return &op.Steps[len(op.Steps)-1]
}

// End records the step's result: done with message when err is nil, failed
// with err's text otherwise.
func (st *Step) End(at time.Time, message string, err error) {
	st.Finished, st.Message = at, message
	st.Status = StepDone
	if err != nil {
		st.Status, st.Error = StepFailed, err.Error()
	}
}

// Skip records the step as skipped, with message saying why.
func (st *Step) Skip(at time.Time, message string) {
	st.Finished, st.Message, st.Status = at, message, StepSkipped
}

// Finish records the operation's final status (applied, failed or
// needs_rollback) and, for a failure, its error.
func (op *Operation) Finish(status Status, at time.Time, err error) {
	op.Status, op.Finished = status, at
	if err != nil {
		op.Error = err.Error()
	}
}

// RecordRollback marks operation of as rolled back by the rollback operation
// by, once that rollback has applied at at; an operation that never finished
// (it was interrupted) is finished at at.
func (s *State) RecordRollback(of, by uint64, at time.Time) error {
	target, ok := s.BySerial(of)
	if !ok {
		return fmt.Errorf("recording a rollback: no operation %d", of)
	}
	rb, ok := s.BySerial(by)
	if !ok || rb.Kind != KindRollback || rb.RollbackOf != of {
		return fmt.Errorf("recording a rollback: operation %d is not a rollback of %d", by, of)
	}
	target.Status, target.RolledBackBy = StatusRolledBack, by
	if target.Finished.IsZero() {
		target.Finished = at
	}
	return nil
}
