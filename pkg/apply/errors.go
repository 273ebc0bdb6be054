package apply

import (
	"errors"
	"fmt"
	"strings"

	"github.com/offsetctl/offsetctl/pkg/plan"
	"github.com/offsetctl/offsetctl/pkg/state"
)

// Refusals: Apply returns them (wrapped, with the details) before it changes
// anything.
var (
	// ErrConfigChanged: the configuration is not the one the plan was made
	// from.
	ErrConfigChanged = errors.New("the configuration changed since the plan was made")
	// ErrWrongState: the plan was made against another state (another
	// lineage, or no state where one exists now).
	ErrWrongState = errors.New("the plan was made against another state")
	// ErrStateMoved: the state was written since the plan was made (someone
	// applied something).
	ErrStateMoved = errors.New("the state changed since the plan was made")
	// ErrAlreadyApplied: the plan's operations were applied since it was
	// made (by this plan file or another of the same content), and the
	// state moved on from the state the plan was made against.
	ErrAlreadyApplied = errors.New("the plan was applied already")
	// ErrStalePlan: the world moved since the plan: see *StaleError.
	ErrStalePlan = errors.New("the plan is stale")
	// ErrBlocked: the plan has error checks; it cannot be applied.
	ErrBlocked = errors.New("the plan has errors and cannot be applied")
	// ErrUnfinished: the state holds an operation a dead process left
	// unfinished, or one whose rollback failed.
	ErrUnfinished = errors.New("the state has an unfinished operation")
	// ErrUnsupported: the worker cannot do what the plan needs safely.
	ErrUnsupported = errors.New("the Kafka Connect worker cannot do this safely")
	// ErrNothingToRollback is plan.ErrNothingToRollback, kept for callers
	// that test apply's errors: rollback plans are made by pkg/plan.
	ErrNothingToRollback = plan.ErrNothingToRollback
)

// Move is one thing that changed since the plan was made.
type Move struct {
	Connector string // the connector's address
	What      string // "state", "config", "offset", "exists"
	Detail    string // for the operator: what it was and what it is
}

// StaleError refuses a plan the world moved under. It lists every move.
type StaleError struct {
	Moves []Move
}

func (e *StaleError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "the plan is stale: %d thing(s) changed since it was made:", len(e.Moves))
	for _, m := range e.Moves {
		fmt.Fprintf(&b, "\n  %s: %s", m.Connector, m.Detail)
	}
	b.WriteString("\nnothing was changed; make a new plan")
	return b.String()
}

// Unwrap makes errors.Is(err, ErrStalePlan) true.
func (e *StaleError) Unwrap() error { return ErrStalePlan }

// UnfinishedError names the unfinished operations that stop an apply.
type UnfinishedError struct {
	Operations []state.Operation
}

func (e *UnfinishedError) Error() string {
	var parts []string
	for _, op := range e.Operations {
		parts = append(parts, fmt.Sprintf("operation %d (%s) is %s", op.Serial, op.Name, op.Status))
	}
	if first := e.Operations[0]; first.Kind == state.KindRollback && len(first.Connectors) > 0 {
		// A killed rollback: rollback run again finishes it.
		return fmt.Sprintf("%s; nothing was changed: run offsetctl rollback to finish it first (offsetctl rollback -serial %d would undo it instead)", strings.Join(parts, "; "), first.Serial)
	}
	return fmt.Sprintf("%s; nothing was changed: run offsetctl rollback -serial %d to put its before-images back first", strings.Join(parts, "; "), e.Operations[0].Serial)
}

// Unwrap makes errors.Is(err, ErrUnfinished) true.
func (e *UnfinishedError) Unwrap() error { return ErrUnfinished }

// OperationError is an operation that failed after its journal was
// written: what failed, and what was done about it.
type OperationError struct {
	Operation string // the plan operation's address
	Connector string
	Serial    uint64 // the operation's serial in the state
	Step      Step   // the step that failed
	Err       error  // why
	// Status is what the state records: failed (nothing is left changed)
	// or needs_rollback (the automatic rollback failed: run offsetctl
	// rollback).
	Status state.Status
	// RollbackErr is why the automatic rollback failed; nil when it
	// succeeded or was not needed.
	RollbackErr error
	// StateAfter is the connector's state as left ("" when unknown).
	StateAfter string
	// OffsetsChanged says whether offsets had been written before the
	// failure (and so were put back).
	OffsetsChanged bool
}

func (e *OperationError) Error() string {
	var b strings.Builder
	if e.Connector == "" { // a repair: rows of a sink table, no connector
		fmt.Fprintf(&b, "%s (operation %d) failed at step %s: %v", e.Operation, e.Serial, e.Step, e.Err)
	} else {
		fmt.Fprintf(&b, "%s (operation %d, connector %q) failed at step %s: %v", e.Operation, e.Serial, e.Connector, e.Step, e.Err)
	}
	switch {
	case e.RollbackErr != nil:
		fmt.Fprintf(&b, "; putting the before-images back failed too: %v; the state records it as needs_rollback: run offsetctl rollback -serial %d", e.RollbackErr, e.Serial)
	case e.OffsetsChanged:
		b.WriteString("; the before-images were put back and verified")
	case e.Connector == "":
		b.WriteString("; nothing had been written")
	default:
		b.WriteString("; no offset had been changed")
	}
	if e.StateAfter != "" && e.RollbackErr == nil {
		fmt.Fprintf(&b, "; the connector is %s", e.StateAfter)
	}
	return b.String()
}

func (e *OperationError) Unwrap() error { return e.Err }

// CrashError is returned when Options.Hook stopped the run: everything was
// abandoned as it stood, without cleanup, as if the process had died.
type CrashError struct {
	Point Point
	Err   error
}

func (e *CrashError) Error() string {
	return fmt.Sprintf("apply abandoned after step %s of %s: %v", e.Point.Step, e.Point.Operation, e.Err)
}

func (e *CrashError) Unwrap() error { return e.Err }
