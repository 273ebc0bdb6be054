package plan

import (
	"time"

	"github.com/offsetctl/offsetctl/internal/numfmt"
	"github.com/offsetctl/offsetctl/pkg/connect"
	"github.com/offsetctl/offsetctl/pkg/offsets"
	"github.com/offsetctl/offsetctl/pkg/schemahistory"
	"github.com/offsetctl/offsetctl/pkg/sourcedb"
)

// Plan is everything offsetctl intends to do, with what it observed and how
// to undo it. The order of Operations is the order apply follows.
type Plan struct {
	// OffsetctlVersion is the version of offsetctl that made the plan.
	OffsetctlVersion string
	// CreatedAt is when the plan was made (UTC).
	CreatedAt time.Time
	// ConfigHash is the hash of the configuration the plan was made from;
	// apply of a saved plan refuses when the configuration changed since.
	ConfigHash string
	// State is the state the plan was made against.
	State StateRef
	// Targets are the -target addresses the plan was limited to, if any.
	Targets []string
	// Connectors are the observations, one per connector the plan touches
	// or checks, in address order.
	Connectors []ConnectorObservation
	// Timestamps are the to_timestamp lookups planning made, and Restores
	// what the restore files of restore blocks held for the connectors they
	// restore (by the path as written in the configuration): with Connectors
	// they are everything Compute read, so that apply can compute the
	// operations again from the configuration and refuse a plan file whose
	// operations are not what the configuration makes of them.
	Timestamps map[TimestampKey]int64
	Restores   map[string]*RestoreData
	// Operations are the declared operations (offsets and reconcile
	// blocks), in configuration order, each with its changes.
	Operations []Operation
	// Checks are the safety checks and their verdicts.
	Checks []Check
	// Policy is what the configuration's policy blocks decided (nil when
	// it has none); their verdicts are among Checks.
	Policy *PolicyResult
	// Hash is the hash over the plan's canonical content, set by Write and
	// verified by Read. Empty for a plan that was never saved.
	Hash string
}

// StateRef names the state a plan was made against.
type StateRef struct {
	Lineage string // empty when no state existed yet
	Serial  uint64
}

// ConnectorType is "source" or "sink".
type ConnectorType string

// The connector types.
const (
	Source ConnectorType = "source"
	Sink   ConnectorType = "sink"
)

// Method is how offsets are read or written for a connector: the path of
// the offset store (offsets.Method).
type Method = offsets.Method

// The methods.
const (
	// MethodREST uses Kafka Connect's offsets endpoints (3.6+ for writes).
	MethodREST = offsets.ViaREST
	// MethodTopic writes the offsets topic directly (source connectors on
	// workers older than 3.6).
	MethodTopic = offsets.ViaTopic
	// MethodGroup commits to the sink connector's consumer group directly
	// (sink connectors on workers older than 3.6).
	MethodGroup = offsets.ViaGroup
)

// Halt is how apply keeps a connector's tasks from writing offsets while it
// changes them.
type Halt string

// The halts.
const (
	// HaltStop stops the connector (PUT /stop, Kafka Connect 3.5+) and
	// returns it to its state after; the default, written as "".
	HaltStop Halt = ""
	// HaltDeleteRecreate deletes the connector (its offsets stay), writes
	// its offsets, and re-creates it with the configuration saved in the
	// state before the delete: the runbook's way on workers older than 3.5,
	// which have no stop endpoint. The offsets block asks for it with
	// acknowledge = ["delete_recreate"].
	HaltDeleteRecreate Halt = "delete_recreate"
)

// ConnectorObservation is what planning saw of one connector.
type ConnectorObservation struct {
	Address       string        // the HCL address, e.g. connector.orders_sink
	Name          string        // the name in Kafka Connect
	Cluster       string        // the connect block's name
	ConnectURL    string        // redacted: no credentials
	WorkerVersion string        // from GET /
	ClusterID     string        // Kafka cluster id from GET /
	Exists        bool          // false when the connector is not on the worker
	Type          ConnectorType // source or sink
	Class         string        // connector.class
	Codec         string        // the offsets codec used
	State         string        // connector state (RUNNING, PAUSED, STOPPED, FAILED, ...)
	TaskStates    []string      // task states in task id order
	ConfigHash    string        // sha256 of the connector's config, secrets included but never stored
	ReadVia       Method        // how the offsets below were read
	WriteVia      Method        // how apply will write them
	Group         string        // the sink's consumer group
	// AutoOffsetReset is a sink connector's
	// consumer.override.auto.offset.reset ("" when not set: the worker's,
	// earliest by default): where it resumes once its offsets are deleted.
	AutoOffsetReset string
	Source          []SourceOffset
	Sink            []SinkPartition
	// SourceDB is what planning read from the connector's own database
	// (the connector block's source_database): nil when none is given or
	// the connector's format has nothing to read there.
	SourceDB *SourceDBObservation
	// SchemaHistory is what planning read from a Debezium MySQL or MariaDB
	// connector's schema history topic: nil for other connectors.
	SchemaHistory *SchemaHistoryObservation
	// Evidence is what Kafka Connect's internal topics said of the
	// connector, for the hazard checks; nil when they were not read.
	Evidence *Evidence
	// OtherNames are the connectors the worker has, read only when this one
	// does not exist, for a "did you mean"; not saved in the plan file.
	OtherNames []string
}

// CanStop reports whether the connector's worker has PUT /stop (Kafka
// Connect 3.5+); a version that cannot be read counts as able, as it did
// before halts existed (apply checks the worker itself).
func (o *ConnectorObservation) CanStop() bool {
	v, err := connect.ParseVersion(o.WorkerVersion)
	return err != nil || v.AtLeast(3, 5)
}

// SourceDBObservation is what planning read from a source connector's
// database: for Debezium PostgreSQL, its replication slot and publication;
// for Debezium MariaDB and MySQL, the server's binlog files, GTID state and
// binlog settings. They say whether an offset edit can do what it seems to.
type SourceDBObservation struct {
	// Database is the database block's address.
	Database string
	// Postgres is what was read; nil when it could not be, and Error says
	// why (the checks that need it are then warnings that say so).
	Postgres *sourcedb.PostgresObservation
	// Binlog is what was read from a MariaDB or MySQL source (nil for
	// PostgreSQL, or when it could not be read).
	Binlog *sourcedb.BinlogObservation
	Error  string
	// FlushMode is the connector's lsn.flush.mode; Tables the tables its
	// table.include.list names (plain names only, not patterns).
	FlushMode string
	Tables    []string
}

// SchemaHistoryObservation is what planning read from a Debezium MySQL,
// MariaDB or SQL Server connector's schema history topic (schema.history.internal.kafka.topic),
// which says whether the connector can rebuild its tables' schemas at a new
// position.
type SchemaHistoryObservation struct {
	// Topic is the schema history topic, Server the topic.prefix whose
	// records were kept.
	Topic, Server string
	// Read counts the records of Server read in all; Records are those a
	// verdict weighs (schemahistory.Summary): the first with a
	// position of each source database and every DDL read while streaming, in topic order.
	Read    int
	Records []schemahistory.Record
	// Error says why the topic was not read (then Records is empty).
	Error string
}

// SourceOffset is one source partition's stored offset.
type SourceOffset struct {
	// Key is the exact offsets-topic key bytes, when read from the topic.
	Key       []byte
	Partition offsets.Map
	Offset    offsets.Map
}

// SinkPartition is one topic partition of a sink connector.
type SinkPartition struct {
	Topic     string
	Partition int32
	Committed int64 // -1 when the group has no committed offset
	LogStart  int64
	LogEnd    int64
	// LogStartMillis is when the oldest retained record (the one at
	// LogStart) was written, in milliseconds since the epoch: read only
	// when retention has removed records (LogStart > 0), for the message
	// of a target below the log start; 0 when not read.
	LogStartMillis int64
}

// OperationKind is the kind of a declared operation.
type OperationKind string

// The operation kinds.
const (
	KindOffsets   OperationKind = "offsets"
	KindReconcile OperationKind = "reconcile"
	KindRollback  OperationKind = "rollback"
	KindRestore   OperationKind = "restore"
)

// OperationStatus says what will happen to an operation.
type OperationStatus string

// The operation statuses.
const (
	StatusChange         OperationStatus = "change"          // apply will change something
	StatusNoChange       OperationStatus = "no_change"       // the world already matches
	StatusAlreadyApplied OperationStatus = "already_applied" // recorded in state with the same content
	StatusBlocked        OperationStatus = "blocked"         // an error check stops it
)

// Operation is one declared offsets (or reconcile) block and its changes.
type Operation struct {
	Address   string // offsets.replay_after_smt_fix
	Name      string // replay_after_smt_fix
	Kind      OperationKind
	Connector string // the connector's address
	Reason    string
	BlockHash string // content hash of the block, matched against state
	Status    OperationStatus
	Method    Method
	// Halt is how apply halts the connector: stop, or delete and re-create
	// (workers older than 3.5, when the block acknowledges it).
	Halt Halt
	// AllowSkipRecords is the operator's acknowledgement of how many records
	// may be skipped; -1 when not given.
	AllowSkipRecords int64
	Changes          []Change
	// AppliedSerial is the state serial that applied it, for
	// StatusAlreadyApplied.
	AppliedSerial uint64
	// Reconcile is what a reconcile block observed and will repair (nil
	// for other kinds).
	Reconcile *ReconcileDiff
	// Risks are the risk classes of the operation's changes, highest first
	// (none for an operation that changes nothing); see risk.go.
	Risks []Risk
}

// Action is what a change does to one partition.
type Action string

// The actions, rendered as Terraform's symbols.
const (
	ActionUpdate Action = "update" // ~
	ActionCreate Action = "create" // +
	ActionDelete Action = "delete" // -
	ActionNoOp   Action = "no-op"  // shown for context, changes nothing
)

// Change is the change of one partition's offset.
type Change struct {
	Action Action
	Sink   *SinkChange
	Source *SourceChange
}

// SinkChange moves one sink topic partition.
type SinkChange struct {
	Topic     string
	Partition int32
	Before    int64 // committed offset seen; -1 none
	After     int64 // offset to commit; -1 deletes the committed offset
	Rollback  int64 // what rollback restores: Before
	LogStart  int64
	LogEnd    int64
	// Replays is the number of records that will be consumed again
	// (Before - After when rewinding).
	Replays int64
	// Skips is the number of records that will never be consumed
	// (After - Before when moving forward).
	Skips int64
}

// SourceChange sets, merges or deletes one source partition's offset.
type SourceChange struct {
	Key       []byte       // existing key bytes (topic method), or the bytes that will be written
	Partition offsets.Map  // the source partition
	Before    *offsets.Map // nil when absent
	After     *offsets.Map // nil deletes it
	Rollback  *offsets.Map // what rollback restores: Before (nil = delete)
}

// Severity of a check.
type Severity string

// The severities.
const (
	SeverityError   Severity = "error"   // the plan cannot be applied
	SeverityWarning Severity = "warning" // applied, but read this
	SeverityOK      Severity = "ok"      // checked and passed
)

// Check is one safety check and its verdict.
type Check struct {
	Severity  Severity
	Code      string // stable identifier, e.g. below_log_start
	Operation string // the operation's address, or "" for plan-wide checks
	Message   string
}

// HasErrors reports whether any check failed with an error.
func (p *Plan) HasErrors() bool {
	for _, c := range p.Checks {
		if c.Severity == SeverityError {
			return true
		}
	}
	return false
}

// HasChanges reports whether applying the plan would change anything.
func (p *Plan) HasChanges() bool {
	for _, op := range p.Operations {
		if op.Status == StatusChange {
			return true
		}
	}
	return false
}

// Summary counts what the plan does.
type Summary struct {
	Operations int   // operations that change something
	Unchanged  int   // operations with no change or already applied
	Blocked    int   // operations an error check stops
	Partitions int   // partitions changed
	Deletes    int   // partitions whose offsets are deleted
	Rows       int64 // sink rows a repair inserts, updates or deletes
	Replays    int64
	Skips      int64
	Errors     int
	Warnings   int
	// HighestRisk is the highest risk class of the operations ("" none).
	HighestRisk RiskClass
}

// Summarize counts the plan's changes and checks.
func (p *Plan) Summarize() Summary {
	s := Summary{HighestRisk: p.HighestRisk()}
	for _, op := range p.Operations {
		switch op.Status {
		case StatusBlocked:
			s.Blocked++
			continue
		case StatusNoChange, StatusAlreadyApplied:
			s.Unchanged++
			continue
		}
		s.Operations++
		if r := op.Reconcile; r != nil && r.Repair != "none" {
			s.Rows += int64(len(r.Missing) + len(r.Mismatched))
			if r.DeleteExtra && r.Repair == RepairUpsert { // a snapshot signal deletes nothing
				s.Rows += int64(len(r.Extra))
			}
		}
		for _, c := range op.Changes {
			if c.Action == ActionNoOp {
				continue
			}
			s.Partitions++
			if c.Action == ActionDelete {
				s.Deletes++
			}
			if c.Sink != nil {
				s.Replays += c.Sink.Replays
				s.Skips += c.Sink.Skips
			}
		}
	}
	for _, c := range p.Checks {
		switch c.Severity {
		case SeverityError:
			s.Errors++
		case SeverityWarning:
			if !c.IsPreflight() { // the checklist is shown, and counted, apart
				s.Warnings++
			}
		}
	}
	return s
}

// Thousands writes n with comma thousands separators: 1234567 → "1,234,567".
func Thousands(n int64) string { return numfmt.Thousands(n) }
