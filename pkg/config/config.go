package config

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// Config is a decoded configuration: every *.hcl file of one directory.
//
// Blocks are kept in declaration order (files by name, then position in the
// file); the lookup methods (Connect, Connector, ...) find one by name.
// References between blocks are resolved to pointers into the same Config.
type Config struct {
	// Dir is the configuration directory. Relative paths in the
	// configuration (file(), restore, TLS files, the local state path) are
	// relative to it; Path resolves them.
	Dir string

	// Files are the parsed configuration and -var-file files by name, for
	// printing diagnostics with their source (WriteDiagnostics).
	Files map[string]*hcl.File

	// Settings is the offsetctl block; never nil (defaults when absent).
	Settings *Settings

	Variables  []*Variable
	Locals     map[string]cty.Value
	Connects   []*Connect
	Kafkas     []*Kafka
	Databases  []*Database
	Connectors []*Connector
	Offsets    []*Offsets
	Reconciles []*Reconcile
	// Policies are the policy blocks, in declaration order (a policy may
	// live in its own file of the directory, owned by a platform team).
	Policies []*Policy

	// Hash is a deterministic content hash of the whole configuration
	// ("sha256:<hex>"): of the decoded values, not of the text, so comments
	// and formatting do not change it. Secrets enter it only by their
	// Source, never by value.
	Hash string

	// Partial is true when some values were unknown because they were not
	// supplied (Options.AllowUnknown): fields depending on them are zero
	// and the hashes do not describe a real configuration. Such a Config is
	// good for reporting diagnostics only.
	Partial bool
}

// Path resolves a path written in the configuration against Config.Dir.
func (c *Config) Path(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(c.Dir, p)
}

// Variable is a variable block and its resolved value.
type Variable struct {
	Name        string
	Description string
	// Type is the declared type constraint; cty.DynamicPseudoType when no
	// type was given.
	Type    cty.Type
	Default cty.Value // cty.NilVal when there is no default
	// Value is the value in effect; unknown when none was supplied and
	// Options.AllowUnknown is set.
	Value cty.Value
	// ValueSource says where Value came from: "default", "-var",
	// "-var-file NAME", "env OFFSETCTL_VAR_NAME", or "unset".
	ValueSource string
	DeclRange   hcl.Range
}

// DefaultPlanMaxAge is how old a saved plan apply accepts when the
// configuration sets no plan_max_age.
const DefaultPlanMaxAge = 24 * time.Hour

// MaxPlanAge returns plan_max_age, or DefaultPlanMaxAge when not given.
func (s *Settings) MaxPlanAge() time.Duration {
	if s == nil || s.PlanMaxAge <= 0 {
		return DefaultPlanMaxAge
	}
	return s.PlanMaxAge
}

// newSettings returns the settings of a configuration without an offsetctl
// block, the defaults the block overrides.
func newSettings() *Settings { return &Settings{RequireReason: true} }

// Settings is the offsetctl block.
type Settings struct {
	// RequireReason makes the reason attribute mandatory on offsets blocks
	// and on reconcile blocks that repair. It defaults to true: a safety
	// tool asks why unless told not to (require_reason = false).
	RequireReason bool
	// RequiredApprovals is the number of approvals an apply needs (0: none).
	RequiredApprovals int
	// AllowedSigners is the allowed_signers file (git's and ssh-keygen's
	// format) that approvals are verified against, as written (see
	// Config.Path); "" when approvals are names given on the command line,
	// unverified.
	AllowedSigners      string
	AllowedSignersRange hcl.Range
	// PlanMaxAge is how old a saved plan apply accepts (plan_max_age);
	// zero when not given: apply uses DefaultPlanMaxAge.
	PlanMaxAge time.Duration
	// State is where the state is kept; nil when not configured.
	State     *StateBackend
	DeclRange hcl.Range // zero when there is no offsetctl block
}

// StateBackend is a state "TYPE" block inside the offsetctl block.
type StateBackend struct {
	// Type is "local" or "postgres".
	Type string
	// Path is the state file of the local backend, as written (see Config.Path).
	Path string
	// URL is the database of the postgres backend.
	URL Secret
	// Schema is the PostgreSQL schema of the postgres backend ("" for the
	// backend's default).
	Schema string
	// Encryption, when set, encrypts the state at rest.
	Encryption *StateEncryption
	DeclRange  hcl.Range
	Ranges     map[string]hcl.Range
}

// StateEncryption is the encryption block of a state block: where the key
// comes from, and while rotating, where the previous key comes from.
type StateEncryption struct {
	Key       KeySource
	Previous  *KeySource // nil when not rotating
	DeclRange hcl.Range
	Ranges    map[string]hcl.Range
}

// KeySource is one of: the key itself (key = env("...")), a file holding it
// (key_file, as written: see Config.Path), or a command that prints it
// (key_command, run without a shell).
type KeySource struct {
	Key     Secret
	File    string
	Command []string
}

// TLS holds the TLS settings of a connect or kafka block. Paths are as
// written (see Config.Path).
type TLS struct {
	CAFile             string
	CertFile           string
	KeyFile            string
	InsecureSkipVerify bool
	DeclRange          hcl.Range
}

// BasicAuth is HTTP basic authentication for Kafka Connect.
type BasicAuth struct {
	Username  string
	Password  Secret
	DeclRange hcl.Range
}

// Connect is a connect block: one Kafka Connect cluster's REST API.
type Connect struct {
	Name      string
	URL       string
	BasicAuth *BasicAuth
	Token     Secret // bearer token
	Headers   map[string]Secret
	TLS       *TLS
	// Timeout of each request; 0 when not set (the caller's default).
	Timeout   time.Duration
	DeclRange hcl.Range
	// Ranges are the source ranges of the attributes' expressions, by
	// attribute name, for later diagnostics.
	Ranges map[string]hcl.Range
}

// Addr is the reference address, "connect.NAME".
func (c *Connect) Addr() string { return "connect." + c.Name }

// SASL is the SASL authentication of a kafka block.
type SASL struct {
	// Mechanism is "PLAIN", "SCRAM-SHA-256" or "SCRAM-SHA-512".
	Mechanism string
	Username  string
	Password  Secret
	DeclRange hcl.Range
}

// Kafka is a kafka block: the Kafka cluster under a Connect cluster.
type Kafka struct {
	Name    string
	Brokers []string
	// OffsetsTopic is Connect's offsets topic (default "connect-offsets").
	OffsetsTopic string
	// ConfigTopic is Connect's config topic (default "connect-configs"),
	// read for the connectors' history (creation, target state, an
	// exactly-once worker's fencing).
	ConfigTopic string
	SASL        *SASL
	TLS         *TLS
	DeclRange   hcl.Range
	Ranges      map[string]hcl.Range
}

// Addr is the reference address, "kafka.NAME".
func (k *Kafka) Addr() string { return "kafka." + k.Name }

// Database is a database block: a PostgreSQL database by URL.
type Database struct {
	Name      string
	URL       Secret
	DeclRange hcl.Range
	Ranges    map[string]hcl.Range
}

// Addr is the reference address, "database.NAME".
func (d *Database) Addr() string { return "database." + d.Name }

// Connector is a connector block: one connector of a Connect cluster.
type Connector struct {
	Name string // the block label
	// ConnectorName is the connector's name in Kafka Connect.
	ConnectorName string
	Connect       *Connect
	Kafka         *Kafka // nil when not given
	// Format is the offsets codec name ("" to detect it from the
	// connector's class). The planner checks it against its codec registry
	// and points at Ranges["format"].
	Format         string
	SourceDatabase *Database // nil when not given
	// Group overrides the sink connector's consumer group ("" for
	// Connect's default, connect-<name>).
	Group     string
	DeclRange hcl.Range
	Ranges    map[string]hcl.Range
}

// Addr is the reference address, "connector.NAME".
func (c *Connector) Addr() string { return "connector." + c.Name }

// OperationKind says what an offsets block does. Exactly one applies to a
// valid block.
type OperationKind string

// The operations an offsets block can hold.
const (
	OpSinkPartitions   OperationKind = "sink_partition"
	OpSourcePartitions OperationKind = "source_partition"
	OpRestore          OperationKind = "restore"
	OpCopyFrom         OperationKind = "copy_from"
	OpReset            OperationKind = "reset"
)

// Offsets is an offsets block: one named, one-time offset operation on one
// connector.
type Offsets struct {
	Name      string
	Connector *Connector
	Kind      OperationKind
	Reason    string
	// AllowSkipRecords is the acknowledged number of records the operation
	// may skip (allow_skip_records); nil when not given. The configuration
	// requires it for to_latest and for a positive shift_by; the planner
	// checks the real number against it.
	AllowSkipRecords *int64
	// AcknowledgeResnapshot is acknowledge_resnapshot: required by reset and
	// by a source_partition whose offset is null.
	AcknowledgeResnapshot bool
	// AcknowledgeCrossFormatCopy is acknowledge_cross_format_copy: required
	// by the planner for a copy_from between source connectors whose
	// offsets have different formats (codecs), which cannot mean the same
	// position.
	AcknowledgeCrossFormatCopy bool
	// Tolerance is how far the operation's replay and skip counts may grow
	// between the reviewed plan and apply (tolerance); nil when not given:
	// by what the connector processed since the plan.
	Tolerance *Tolerance
	// Acknowledge lists the operator's statements for the pre-flight
	// checklist: "consumers_paused" (downstream consumers are paused for the
	// change) or "replays_tolerated" (they tolerate the records a rewind
	// replays).
	Acknowledge []string
	// AgreedWindow is the agreed change window (change_window =
	// "START/END", RFC 3339), for the stakeholders' pre-flight item; nil
	// when not given.
	AgreedWindow *AgreedWindow

	SinkPartitions   []*SinkPartition   // Kind == OpSinkPartitions
	SourcePartitions []*SourcePartition // Kind == OpSourcePartitions
	// Restore is the path of an offsetctl offsets backup file, as written
	// (see Config.Path); Kind == OpRestore. The file is read by the planner.
	Restore  string
	CopyFrom *Connector // Kind == OpCopyFrom
	Reset    bool       // Kind == OpReset

	// Hash is a deterministic hash of what the operation does: the target
	// connector (its Connect URL and name) and the operation itself, but
	// not the reason nor the acknowledgements. An operation whose hash is
	// recorded as applied in the state plans no change.
	Hash      string
	DeclRange hcl.Range
	Ranges    map[string]hcl.Range
}

// AgreedWindow is the window agreed with the stakeholders for one change
// (an offsets block's change_window = "START/END"), in UTC; a policy's
// change_window blocks (ChangeWindow) bound when any change may be applied.
type AgreedWindow struct{ Start, End time.Time }

// Acknowledges reports whether the offsets block states what.
func (o *Offsets) Acknowledges(what string) bool {
	for _, a := range o.Acknowledge {
		if a == what {
			return true
		}
	}
	return false
}

// The statements acknowledge accepts.
const (
	AckConsumersPaused  = "consumers_paused"
	AckReplaysTolerated = "replays_tolerated"
	// AckNoReplayBelowSlot accepts that a rewind of a Debezium PostgreSQL
	// connector below its replication slot's confirmed_flush_lsn replays
	// nothing below it (plan checks the slot through source_database).
	AckNoReplayBelowSlot = "no_replay_below_slot"
	// AckSchemaHistory accepts a binlog position before the first record of
	// the connector's schema history.
	AckSchemaHistory = "schema_history"
	// AckRewindBeforeDDL accepts that a rewind of a connector with a
	// schema history to before a recorded schema change re-delivers change
	// events of the older schema to consumers that have seen the newer one.
	AckRewindBeforeDDL = "rewind_before_ddl"
	// AckCancelIncrementalSnapshot accepts that a set without the stored
	// offset's incremental_snapshot_* keys cancels the Debezium incremental
	// snapshot in progress.
	AckCancelIncrementalSnapshot = "cancel_incremental_snapshot"
	// AckSourceLogGap accepts an edit that moves a source connector past a
	// gap in its source's log (the WAL or binlog its stored offset needs is
	// gone): the changes in the gap are lost, and the edit hides it.
	AckSourceLogGap = "source_log_gap"
	// AckDeleteRecreate lets apply change the offsets of a connector on a
	// worker without PUT /stop (older than Kafka Connect 3.5) the way the
	// runbook does: delete the connector (its offsets stay), write them,
	// re-create it with its saved configuration.
	AckDeleteRecreate = "delete_recreate"
)

// Acknowledgements lists the statements acknowledge accepts, each with
// what it states, in the order the configuration's error names them.
var Acknowledgements = []struct{ Code, Means string }{
	{AckConsumersPaused, "downstream consumers are paused for this change"},
	{AckReplaysTolerated, "they tolerate the records a rewind replays"},
	{AckNoReplayBelowSlot, "a rewind below the replication slot replays nothing below it"},
	{AckSchemaHistory, "a position before the schema history's first record"},
	{AckRewindBeforeDDL, "consumers take change events of a schema older than one they have seen"},
	{AckCancelIncrementalSnapshot, "the change cancels the incremental snapshot in progress"},
	{AckSourceLogGap, "the change moves past a gap in the source's log, whose changes are lost"},
	{AckDeleteRecreate, "on a worker older than Kafka Connect 3.5, apply deletes and re-creates the connector"},
}

// Addr is the address of the operation, "offsets.NAME".
func (o *Offsets) Addr() string { return "offsets." + o.Name }

// TargetKind is what a sink_partition block moves its partitions to.
type TargetKind string

// The sink targets; exactly one per sink_partition block.
const (
	TargetOffset    TargetKind = "to_offset"
	TargetTimestamp TargetKind = "to_timestamp"
	TargetShift     TargetKind = "shift_by"
	TargetEarliest  TargetKind = "to_earliest"
	TargetLatest    TargetKind = "to_latest"
	TargetSkip      TargetKind = "skip"
)

// SinkTarget is the one target of a sink_partition block.
type SinkTarget struct {
	Kind TargetKind
	// Offset is the offset of to_offset, and for skip the offset that must
	// be committed now (the new offset is Offset+1).
	Offset int64
	// Shift is shift_by: negative rewinds, positive skips.
	Shift int64
	// Timestamp is to_timestamp, in UTC.
	Timestamp time.Time
}

// SinkPartition is a sink_partition block: partitions of one topic and
// where to move them.
type SinkPartition struct {
	Topic string
	// Partitions are the listed partitions in the order written; nil means
	// every partition of the topic.
	Partitions []int32
	Target     SinkTarget
	DeclRange  hcl.Range
	Ranges     map[string]hcl.Range
}

// SourcePartition is a source_partition block: the offset of one source
// partition.
type SourcePartition struct {
	// Partition is the source partition as canonical JSON (an object, keys
	// sorted, numbers exact).
	Partition json.RawMessage
	// Offset is the new offset as canonical JSON; nil when the block says
	// offset = null, which removes the partition's offset (a re-snapshot).
	Offset json.RawMessage
	// Merge merges Offset into the current offset instead of replacing it.
	Merge     bool
	DeclRange hcl.Range
	Ranges    map[string]hcl.Range
}

// PartitionSpec is reconcile's by = "UNIT:COLUMN": checksums grouped by a
// time unit of a column.
type PartitionSpec struct {
	// Unit is "hour", "day", "week", "month" or "year".
	Unit   string
	Column string
}

// Reconcile is a reconcile block: compare a source table with its sink table
// and repair the sink.
type Reconcile struct {
	Name      string
	Source    *Database
	Sink      *Database
	Table     string
	SinkTable string // defaults to Table
	// Key is the key columns; nil to use the primary key.
	Key []string
	// Columns limits the comparison to these columns; IgnoreColumns leaves
	// these out. At most one of them is set.
	Columns       []string
	IgnoreColumns []string
	// TimestampPrecision is "s", "ms" or "us" ("" compares as stored).
	TimestampPrecision string
	Where              string
	// Repair is "none" (the default), "upsert" or "snapshot_signal".
	Repair      string
	DeleteExtra bool
	// MaxChanges caps the rows a repair may change; 0 means no cap.
	MaxChanges int64
	// SignalTable is Debezium's signalling table, required by
	// repair = "snapshot_signal".
	SignalTable string
	By          *PartitionSpec
	Reason      string
	// Connectors are the pipeline's connectors that carry this table
	// (source and sink): `offsetctl check` reports their state, failed
	// tasks and lag with the table.
	Connectors []*Connector
	// Check holds the thresholds of `offsetctl check`; nil when the block
	// has none (check then uses the defaults: checksum mode, no row may
	// differ, no task may fail, no lag bound).
	Check     *Check
	DeclRange hcl.Range
	Ranges    map[string]hcl.Range
}

// Check is a reconcile block's check block: how `offsetctl check` compares
// the table and when it calls the result drift.
type Check struct {
	// Mode is "counts", "checksum" (the default) or "rows".
	Mode string
	// MaxRowsDifferent is how many rows may differ (missing, extra or
	// mismatched; in counts mode the count difference) before the check
	// fails; 0 means none may.
	MaxRowsDifferent int64
	// MaxLagRecords and MaxLagSeconds bound the lag of the block's
	// connectors: records behind the end of the topic for a sink, seconds
	// behind the source database for a source; nil means no bound.
	MaxLagRecords, MaxLagSeconds *int64
	// MaxFailedTasks is how many of the connectors' tasks may be FAILED; 0
	// means none may.
	MaxFailedTasks int64
	DeclRange      hcl.Range
}

// Addr is the address, "reconcile.NAME".
func (r *Reconcile) Addr() string { return "reconcile." + r.Name }

// Variable returns the variable called name, or nil.
func (c *Config) Variable(name string) *Variable {
	return find(c.Variables, name, func(v *Variable) string { return v.Name })
}

// Connect returns the connect block called name, or nil.
func (c *Config) Connect(name string) *Connect {
	return find(c.Connects, name, func(v *Connect) string { return v.Name })
}

// Kafka returns the kafka block called name, or nil.
func (c *Config) Kafka(name string) *Kafka {
	return find(c.Kafkas, name, func(v *Kafka) string { return v.Name })
}

// Database returns the database block called name, or nil.
func (c *Config) Database(name string) *Database {
	return find(c.Databases, name, func(v *Database) string { return v.Name })
}

// Connector returns the connector block called name, or nil.
func (c *Config) Connector(name string) *Connector {
	return find(c.Connectors, name, func(v *Connector) string { return v.Name })
}

// Operation returns the offsets block called name, or nil.
func (c *Config) Operation(name string) *Offsets {
	return find(c.Offsets, name, func(v *Offsets) string { return v.Name })
}

// ReconcileBlock returns the reconcile block called name, or nil.
func (c *Config) ReconcileBlock(name string) *Reconcile {
	return find(c.Reconciles, name, func(v *Reconcile) string { return v.Name })
}

func find[T any](list []T, name string, key func(T) string) T {
	for _, v := range list {
		if key(v) == name {
			return v
		}
	}
	var zero T
	return zero
}

// TargetAddresses are the addresses plan -target accepts: every offsets,
// connector and reconcile block's, in declaration order.
func (c *Config) TargetAddresses() []string {
	var out []string
	for _, o := range c.Offsets {
		out = append(out, o.Addr())
	}
	for _, k := range c.Connectors {
		out = append(out, k.Addr())
	}
	for _, r := range c.Reconciles {
		out = append(out, r.Addr())
	}
	return out
}

// CheckTarget returns an error when addr names no offsets, connector or
// reconcile block, with the closest address as a suggestion.
func (c *Config) CheckTarget(addr string) error {
	names := c.TargetAddresses()
	for _, n := range names {
		if n == addr {
			return nil
		}
	}
	return fmt.Errorf("-target %s matches no offsets, connector or reconcile block in the configuration.%s", addr, Suggest(addr, names))
}

// Suggest returns ` Did you mean "x"?` for the name in names closest to
// given (at most 2 edits away), or "" when none is that close.
func Suggest(given string, names []string) string { return suggestion(given, names) }
