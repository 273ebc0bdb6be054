package state

import (
	"encoding/json"
	"time"
)

// Kind says what an operation did.
type Kind string

// The kinds of operation.
const (
	KindOffsets   Kind = "offsets"   // an offsets block: offset surgery on one connector
	KindReconcile Kind = "reconcile" // a reconcile block: repairs of a sink table
	KindRollback  Kind = "rollback"  // the undoing of an earlier operation (RollbackOf)
	KindRestore   Kind = "restore"   // offsets restored from a backup file or a Backup
	// KindDrill is a rollback drill (`offsetctl drill`) on shadow connectors:
	// its steps time the copy, the rehearsal, the rollback and the
	// verification; it changed nothing a rollback could undo. Came with
	// state format_version 4.
	KindDrill Kind = "drill"
	// KindCheck is a drift check (`offsetctl check --record`): one step per
	// table and connector with its verdict; status applied when healthy,
	// failed otherwise. Came with state format_version 4.
	KindCheck Kind = "check"
)

// Record reports whether k is a record of something observed or rehearsed
// (a drill, a check), not a change: nothing to roll back.
func (k Kind) Record() bool { return k == KindDrill || k == KindCheck }

// Valid reports whether k is one of the known kinds.
func (k Kind) Valid() bool {
	switch k {
	case KindOffsets, KindReconcile, KindRollback, KindRestore, KindDrill, KindCheck:
		return true
	}
	return false
}

// Status is where an operation stands.
type Status string

// The statuses of an operation.
const (
	// StatusInProgress: written before anything is touched and kept while
	// steps run. Found later, it means the process died mid-apply: the
	// before-images say what to restore.
	StatusInProgress Status = "in_progress"
	// StatusApplied: every step succeeded and was verified.
	StatusApplied Status = "applied"
	// StatusFailed: a step failed and nothing is left changed (either nothing
	// had been changed yet, or the automatic rollback succeeded).
	StatusFailed Status = "failed"
	// StatusRolledBack: applied, then undone by a later rollback operation
	// (RolledBackBy).
	StatusRolledBack Status = "rolled_back"
	// StatusNeedsRollback: a step failed after changes were made and the
	// automatic rollback failed too; an operator must run offsetctl rollback.
	StatusNeedsRollback Status = "needs_rollback"
	// StatusIncomplete: every step ran and what was written stays, but the
	// verification found the goal not reached: a repair after which the
	// sink still differs from the source (rows that moved since the plan
	// and were left alone as stale, extra rows a snapshot signal cannot
	// delete, rows outside the plan that drifted). Error says what still
	// differs (counts and keys). It is neither applied (plan proposes the
	// block again) nor unfinished (it blocks nothing); its before-images
	// let offsetctl rollback undo it. Came with state format_version 3.
	StatusIncomplete Status = "incomplete"
)

// Valid reports whether s is one of the known statuses.
func (s Status) Valid() bool {
	switch s {
	case StatusInProgress, StatusApplied, StatusFailed, StatusRolledBack, StatusNeedsRollback, StatusIncomplete:
		return true
	}
	return false
}

// Operation is one run of apply, rollback or restore, as recorded.
type Operation struct {
	// Serial numbers the operations of a lineage: 1, 2, 3, … in the order
	// they started (State.Begin assigns it). It is not State.Serial, which
	// counts writes. `offsetctl rollback -serial N` names an operation by it.
	Serial uint64
	// Name is the offsets or reconcile block's name; for a rollback,
	// "rollback of <name>"; for a restore, what was restored.
	Name string
	Kind Kind
	// Status is where the operation stands; see the Status constants.
	Status Status

	// PlanHash is the hash of the plan file executed; ConfigHash the hash of
	// the configuration it was planned from; BlockHash the content hash of
	// the block, which Applied compares to decide "already applied".
	PlanHash, ConfigHash, BlockHash string

	// Who ran it (the operating-system user, or an identity given by the
	// caller) and on which host.
	Who, Host string
	// Started is when the operation was first written; Finished when its
	// final status was written (zero while in progress).
	Started, Finished time.Time
	// Reason is the block's or operator's stated reason; Approvals the
	// names given as approvers (--approved-by), which nothing verified
	// (kept sorted).
	Reason    string
	Approvals []string
	// VerifiedApprovals are the approvals whose signatures apply verified
	// against the configuration's allowed_signers, one per principal.
	VerifiedApprovals []Approval
	// RiskClasses are the plan's risk classes of the operation (replay,
	// skip, repair_rows, …), lowest first, for the audit.
	RiskClasses []string

	// RollbackOf is, for a rollback, the serial of the operation it undoes.
	RollbackOf uint64
	// RolledBackBy is the serial of the rollback operation that undid this
	// one (with status rolled_back).
	RolledBackBy uint64

	// Connectors are the connectors the operation touched, with the states
	// they were found in and left in.
	Connectors []Connector
	// Steps are what was done, in order, with their results.
	Steps []Step
	// BeforeImages are the values the operation actually overwrote, in the
	// order it changed them: what a rollback restores. They are written
	// before the first change.
	BeforeImages []Image
	// After are the values the operation wrote, in the same order; a later
	// rollback checks that they are still in place.
	After []Image

	// Error is the first error that failed the operation, worded for the
	// operator; for an incomplete one, what still differs. Empty unless the
	// status is failed, needs_rollback or incomplete.
	Error string
}

// Connector is a connector an operation touched.
type Connector struct {
	// Name in Kafka Connect; ConnectCluster the HCL connect block's name.
	Name, ConnectCluster string
	// StateBefore and StateAfter are Connect's states (RUNNING, PAUSED,
	// STOPPED, …) as found before the operation and as left after it.
	StateBefore, StateAfter string
	// ConfigHash is the hash of the connector's configuration as observed.
	ConfigHash string
	// Halt is "delete_recreate" when the operation deleted the connector
	// and re-created it (workers older than Kafka Connect 3.5, which have
	// no PUT /stop); empty when it stopped it.
	Halt string
	// SavedConfig is, for a delete_recreate operation, the connector's exact
	// configuration (GET /connectors/{name}/config, secrets included as the
	// worker returns them), recorded before the connector is deleted so that
	// a later run can re-create it after a crash. It is dropped once the
	// operation has re-created the connector and finished.
	SavedConfig map[string]string
}

// StepStatus is the result of one step.
type StepStatus string

// The results of a step.
const (
	StepInProgress StepStatus = "in_progress"
	StepDone       StepStatus = "done"
	StepFailed     StepStatus = "failed"
	StepSkipped    StepStatus = "skipped"
)

// Valid reports whether s is one of the known step statuses.
func (s StepStatus) Valid() bool {
	switch s {
	case StepInProgress, StepDone, StepFailed, StepSkipped:
		return true
	}
	return false
}

// Step is one thing an operation did: stop a connector, alter offsets,
// verify, resume, run a repair batch.
type Step struct {
	// Name says what the step does, for the operator ("stop connector",
	// "alter offsets", …); Target what it acts on (a connector, a table).
	Name, Target string
	Status       StepStatus
	Started      time.Time
	Finished     time.Time
	// Message is a short result ("3 partitions altered"); Error the error of a
	// failed step.
	Message, Error string
}

// Image is one value as it was before (or after) an operation changed it:
// exactly one of Source, Sink and Row is set.
type Image struct {
	// Connector is the connector's name in Kafka Connect and ConnectCluster
	// the HCL connect block it runs on; empty for a Row image.
	Connector, ConnectCluster string

	Source *SourceOffset
	Sink   *SinkOffset
	Row    *RowImage
}

// SourceOffset is a source connector's offset for one source partition.
type SourceOffset struct {
	// Key is the exact key bytes of the record in the offsets topic, so a
	// restore writes to the same key (and Kafka partition); empty when the
	// offset was changed through the REST API and no topic key was read.
	Key []byte
	// Partition is the source partition as exact JSON (a flat object, field
	// order and number literals as read), as pkg/offsets.Map marshals it.
	Partition json.RawMessage
	// Offset is the offset as exact JSON; nil means the partition had no
	// offset (a rollback deletes it).
	Offset json.RawMessage
}

// SinkOffset is a sink connector's committed offset for one topic partition.
type SinkOffset struct {
	// Group is the consumer group (connect-<name> by default).
	Group     string
	Topic     string
	Partition int32
	// Offset is the committed offset; -1 means none was committed.
	Offset int64
}

// RowImage is one sink row as it was before a repair changed it (a
// before-image), or as the repair left it (an after-image).
type RowImage struct {
	// Database is the HCL database block's name; Table the quoted-ready
	// schema-qualified table name.
	Database, Table string
	// Key is the row's key columns as a JSON object.
	Key json.RawMessage
	// Row is the whole row as a JSON object; nil means the row did not exist
	// (the repair inserted it; a rollback deletes it). After-images hold it
	// only in states of format_version 1.
	Row json.RawMessage
	// Xmin, in an after-image, is the id of the transaction that wrote the
	// row's version (PostgreSQL's xmin, as text): a rollback refuses when
	// the row has another version since. Empty for a row the repair
	// deleted (expected absent).
	Xmin string
}

// Approval is a verified approval: a signature over the plan's hash by a key
// that the allowed_signers file lists for Principals.
type Approval struct {
	Principals  string
	Fingerprint string // the key's SHA256 fingerprint
}

// recreates reports whether c records a delete-and-re-create (format_version
// 5).
func (c Connector) recreates() bool { return c.Halt != "" || c.SavedConfig != nil }
