package apply

import (
	"time"

	"github.com/offsetctl/offsetctl/pkg/plan"
	"github.com/offsetctl/offsetctl/pkg/state"
)

// Step names one step of an operation, as events, hooks and the state's
// journal show it.
type Step string

// The steps of an operation, in order; see the package documentation.
const (
	// StepPreflight is one item of the plan's pre-flight checklist,
	// recorded with the operation when it begins (not a step run by apply).
	StepPreflight    Step = "pre-flight"
	StepJournal      Step = "journal"
	StepStop         Step = "stop"
	StepSettle       Step = "settle"
	StepAlter        Step = "alter"
	StepVerify       Step = "verify"
	StepRestoreState Step = "restore-state"
	StepRecord       Step = "record"
	// On a worker older than Kafka Connect 3.5, with the plan's halt
	// delete_recreate, delete takes the place of stop and recreate that of
	// restore-state.
	StepDelete   Step = "delete"
	StepRecreate Step = "recreate"
	// The steps of an automatic rollback or a recovery.
	StepRestoreOffsets Step = "restore-offsets"
	StepVerifyRestore  Step = "verify-restore"
	// StepRecover records, on an operation a dead process left unfinished,
	// what the next apply of its plan found and did.
	StepRecover Step = "recover"
)

// Event is something apply did or saw. The set is sealed; every event and
// what it means:
//
//   - OperationStarted: an operation of the plan was journaled in the state
//     (its serial) and begins; nothing of it is changed yet.
//   - StepStarted: a step of an operation begins (journal, stop, settle,
//     alter, verify, restore-state, record; repair, restore-rows for a
//     repair; restore-offsets, verify-restore for an automatic rollback).
//   - StepDone: the step finished, or was skipped (nothing to do), with a
//     message for the operator and how long it took.
//   - StepFailed: the step failed with Err; what was changed is put back (a
//     RolledBack follows) and the operation ends failed or needs_rollback.
//     Not sent when Options.Hook abandoned the run (a *CrashError).
//   - OffsetsAltered: a connector's offsets were written, by the path Via
//     (REST, offsets topic, consumer group); Verified follows once read back.
//   - Verified: the offsets read back equal what was written.
//   - RepairReport: what a repair wrote (inserted, updated, deleted, rows
//     already repaired, stale rows left alone, signals sent) and what its
//     verification found (keys converged, whole-table checksums, what still
//     differs when it is incomplete).
//   - RolledBack: after a failure, the before-images were put back (Err
//     nil) or could not be (Err says why, and the state says
//     needs_rollback); StateAfter is the connector's state as left.
//   - Recovered: an operation a dead process left in_progress was settled
//     before this apply went on (Outcome, Message), or could not be (Err).
//   - Warning: something the operator should read; apply goes on.
//   - OperationFinished: an operation ended with Status: applied,
//     incomplete (a repair that ran but left the sink different), failed
//     (nothing left changed) or needs_rollback (changes may be left: run
//     offsetctl rollback).
//
// For one operation the order is OperationStarted, then per step
// StepStarted and StepDone or StepFailed (with OffsetsAltered, Verified or
// RepairReport inside the steps that produce them), then RolledBack after a
// failure, then OperationFinished.
type Event interface{ isEvent() }

// Observer receives apply's events, one at a time, in the order they
// happen (with Options.Parallel, events of different connectors interleave).
type Observer interface {
	Event(Event)
}

// ObserverFunc adapts a function to an Observer.
type ObserverFunc func(Event)

// Event calls f.
func (f ObserverFunc) Event(e Event) { f(e) }

var _ Observer = ObserverFunc(nil)

// OperationStarted: an operation of the plan begins; Serial is its serial in
// the state.
type OperationStarted struct {
	Operation string // the plan operation's address, e.g. offsets.skip_poison_pill
	Connector string // the connector's name in Kafka Connect
	Serial    uint64
	Changes   int // partitions it changes
}

// StepStarted: a step begins.
type StepStarted struct {
	Operation, Connector string
	Step                 Step
}

// StepDone: a step finished; Skipped when there was nothing to do.
type StepDone struct {
	Operation, Connector string
	Step                 Step
	Message              string
	Skipped              bool
	Elapsed              time.Duration
}

// StepFailed: a step failed; a rollback follows.
type StepFailed struct {
	Operation, Connector string
	Step                 Step
	Err                  error
}

// OffsetsAltered: offsets were written.
type OffsetsAltered struct {
	Operation, Connector string
	Via                  plan.Method
	Partitions           int
}

// Verified: the offsets read back equal what was written.
type Verified struct {
	Operation, Connector string
	Partitions           int
}

// RolledBack: after a failure, the before-images were put back (Err nil) or
// could not be (Err says why).
type RolledBack struct {
	Operation, Connector string
	Partitions           int
	// StateAfter is the connector's state as left.
	StateAfter string
	Err        error
}

// Recovered: an operation that a dead process left in_progress was settled
// before this apply went on, from what its live offsets showed: Outcome is
// "applied" (recorded as applied, not done again), "not applied" or
// "partly applied, undone" (the plan applies it again); Message tells the
// story. Err says why it could not be settled.
type Recovered struct {
	Serial  uint64
	Name    string
	Outcome string
	Message string
	Err     error
}

// Warning: something the operator should read; apply goes on.
type Warning struct {
	Operation, Connector string
	Message              string
}

// OperationFinished: an operation ended with Status (applied, incomplete —
// a repair that ran but left the sink different —, failed or
// needs_rollback).
type OperationFinished struct {
	Operation string
	Serial    uint64
	Status    state.Status
	Err       error
}

func (OperationStarted) isEvent()  {}
func (StepStarted) isEvent()       {}
func (StepDone) isEvent()          {}
func (StepFailed) isEvent()        {}
func (OffsetsAltered) isEvent()    {}
func (Verified) isEvent()          {}
func (RolledBack) isEvent()        {}
func (Recovered) isEvent()         {}
func (Warning) isEvent()           {}
func (OperationFinished) isEvent() {}
