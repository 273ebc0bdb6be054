package plan

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"time"

	"github.com/offsetctl/offsetctl/internal/atomicfile"
	"github.com/offsetctl/offsetctl/pkg/offsets"
	"github.com/offsetctl/offsetctl/pkg/schemahistory"
	"github.com/offsetctl/offsetctl/pkg/sourcedb"
)

// FormatVersion is the plan file format this offsetctl writes and reads.
// Version 2 added timestamp_lookups and restore_files (what Compute read
// besides the connectors), so that apply can compute a saved plan's
// operations again; a version 1 file lacks them and is refused. Version 3
// added each operation's risks, the summary's highest_risk and the policy
// result; a version 2 file has no risk classes for policies to judge and
// is refused. The published JSON Schema of version 3 is
// schema/plan.v3.schema.json.
const FormatVersion = 3

// ErrHashMismatch means the plan file's content does not match its hash: it
// was edited by hand or damaged.
var ErrHashMismatch = errors.New("the plan file was modified after it was written (its hash does not match its content)")

// VersionError refuses a plan file of a format this offsetctl does not read.
type VersionError struct {
	Path          string
	FormatVersion int
	WrittenBy     string
}

func (e *VersionError) Error() string {
	if e.FormatVersion == 0 {
		return fmt.Sprintf("%s is not an offsetctl plan file: it has no format_version", e.Path)
	}
	return fmt.Sprintf("%s has plan format_version %d (written by offsetctl %s); this offsetctl reads format_version %d: use the offsetctl version that wrote it, or plan again", e.Path, e.FormatVersion, e.WrittenBy, FormatVersion)
}

// Marshal returns the plan's file bytes: deterministic, two-space indented
// JSON with a trailing newline, its hash computed over the content with an
// empty hash field. It sets p.Hash.
func Marshal(p *Plan) ([]byte, error) {
	w := toWire(p)
	w.Hash = ""
	canon, err := json.Marshal(w)
	if err != nil {
		return nil, fmt.Errorf("encoding the plan: %w", err)
	}
	sum := sha256.Sum256(canon)
	w.Hash = "sha256:" + hex.EncodeToString(sum[:])
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(w); err != nil {
		return nil, fmt.Errorf("encoding the plan: %w", err)
	}
	p.Hash = w.Hash
	return buf.Bytes(), nil
}

// WriteFile saves the plan to path atomically and durably (temporary file,
// fsync, rename, fsync of the directory), readable by its owner only.
func WriteFile(path string, p *Plan) error {
	data, err := Marshal(p)
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(path, data, 0o600); err != nil {
		return fmt.Errorf("writing plan file: %w", err)
	}
	return nil
}

// ReadFile loads and verifies a saved plan.
func ReadFile(path string) (*Plan, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading plan file: %w", err)
	}
	defer f.Close()
	return Read(path, f)
}

// Read loads and verifies a plan; name is used in messages. It refuses an
// unknown format_version, unknown fields, and content that does not match
// the hash.
func Read(name string, r io.Reader) (*Plan, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("reading plan file %s: %w", name, err)
	}
	var sniff struct {
		FormatVersion    int    `json:"format_version"`
		OffsetctlVersion string `json:"offsetctl_version"`
	}
	if err := json.Unmarshal(data, &sniff); err != nil {
		return nil, fmt.Errorf("%s is not a valid plan file (not JSON: %v); make a new one with offsetctl plan -out", name, err)
	}
	if sniff.FormatVersion != FormatVersion {
		return nil, &VersionError{Path: name, FormatVersion: sniff.FormatVersion, WrittenBy: sniff.OffsetctlVersion}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var w planV1
	if err := dec.Decode(&w); err != nil {
		return nil, fmt.Errorf("%s is not a valid plan file of format_version %d: %v", name, FormatVersion, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%s is not a valid plan file: unexpected data after the plan", name)
	}
	want := w.Hash
	w.Hash = ""
	canon, err := json.Marshal(w)
	if err != nil {
		return nil, fmt.Errorf("checking the hash of %s: %w", name, err)
	}
	sum := sha256.Sum256(canon)
	if got := "sha256:" + hex.EncodeToString(sum[:]); got != want {
		return nil, fmt.Errorf("%s: %w; make a new plan with offsetctl plan -out", name, ErrHashMismatch)
	}
	p, err := fromWire(&w)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	p.Hash = want
	return p, nil
}

// The wire format, version 2 (the type names keep the V1 of the fields
// version 1 had). Field names are snake_case; the model above is
// kept free of them.
type planV1 struct {
	FormatVersion    int           `json:"format_version"`
	OffsetctlVersion string        `json:"offsetctl_version"`
	CreatedAt        string        `json:"created_at"`
	ConfigHash       string        `json:"config_hash"`
	State            stateRefV1    `json:"state"`
	Targets          []string      `json:"targets"`
	Connectors       []connectorV1 `json:"connectors"`
	Timestamps       []timestampV2 `json:"timestamp_lookups"`
	Restores         []restoreV2   `json:"restore_files"`
	Operations       []operationV1 `json:"operations"`
	Checks           []checkV1     `json:"checks"`
	Policy           *policyV3     `json:"policy"`
	Summary          summaryV1     `json:"summary"`
	Hash             string        `json:"hash"`
}

type stateRefV1 struct {
	Lineage string `json:"lineage"`
	Serial  uint64 `json:"serial"`
}

type connectorV1 struct {
	Address       string            `json:"address"`
	Name          string            `json:"name"`
	Cluster       string            `json:"cluster"`
	ConnectURL    string            `json:"connect_url"`
	WorkerVersion string            `json:"worker_version"`
	ClusterID     string            `json:"kafka_cluster_id"`
	Exists        bool              `json:"exists"`
	Type          string            `json:"type"`
	Class         string            `json:"class"`
	Codec         string            `json:"codec"`
	State         string            `json:"state"`
	TaskStates    []string          `json:"task_states"`
	ConfigHash    string            `json:"config_hash"`
	ReadVia       string            `json:"read_via"`
	WriteVia      string            `json:"write_via"`
	Group         string            `json:"group,omitempty"`
	AutoReset     string            `json:"auto_offset_reset,omitempty"`
	Source        []sourceOffsetV1  `json:"source_offsets,omitempty"`
	Sink          []sinkPartitionV1 `json:"sink_offsets,omitempty"`
	SourceDB      *sourceDBV3       `json:"source_database,omitempty"`
	SchemaHistory *schemaHistoryV3  `json:"schema_history,omitempty"`
	Evidence      *evidenceV3       `json:"evidence,omitempty"`
}

// evidenceV3 is what the internal topics said of a connector (Evidence);
// times in RFC 3339, absent when zero.
type evidenceV3 struct {
	ExactlyOnce      string   `json:"exactly_once,omitempty"`
	Created          string   `json:"created,omitempty"`
	NewestOffset     string   `json:"newest_offset,omitempty"`
	StoppedAt        string   `json:"stopped_at,omitempty"`
	LateWrites       []string `json:"late_writes,omitempty"`
	GroupMembers     []string `json:"group_members,omitempty"`
	ConfigTopicError string   `json:"config_topic_error,omitempty"`
}

func evidenceToWire(e *Evidence) *evidenceV3 {
	if e == nil {
		return nil
	}
	t := func(v time.Time) string {
		if v.IsZero() {
			return ""
		}
		return v.UTC().Format(time.RFC3339Nano)
	}
	return &evidenceV3{ExactlyOnce: e.ExactlyOnce, Created: t(e.Created), NewestOffset: t(e.NewestOffset), StoppedAt: t(e.StoppedAt),
		LateWrites: e.LateWrites, GroupMembers: e.GroupMembers, ConfigTopicError: e.ConfigTopicError}
}

func evidenceFromWire(addr string, w *evidenceV3) (*Evidence, error) {
	if w == nil {
		return nil, nil
	}
	e := &Evidence{ExactlyOnce: w.ExactlyOnce, LateWrites: w.LateWrites, GroupMembers: w.GroupMembers, ConfigTopicError: w.ConfigTopicError}
	for _, f := range []struct {
		name string
		in   string
		out  *time.Time
	}{{"created", w.Created, &e.Created}, {"newest_offset", w.NewestOffset, &e.NewestOffset}, {"stopped_at", w.StoppedAt, &e.StoppedAt}} {
		if f.in == "" {
			continue
		}
		v, err := time.Parse(time.RFC3339Nano, f.in)
		if err != nil {
			return nil, fmt.Errorf("connector %s: evidence.%s %q is not a time: %w", addr, f.name, f.in, err)
		}
		*f.out = v
	}
	return e, nil
}

// sourceDBV3 is what planning read from a source connector's database. LSNs
// are exact integers (the renderings show them as X/Y).
type sourceDBV3 struct {
	Database      string         `json:"database"`
	Error         string         `json:"error,omitempty"`
	FlushMode     string         `json:"lsn_flush_mode,omitempty"`
	Tables        []string       `json:"tables"`
	ObservedAt    string         `json:"observed_at,omitempty"`
	ServerVersion int            `json:"server_version,omitempty"`
	CurrentLSN    uint64         `json:"current_lsn,omitempty"`
	Slot          *slotV3        `json:"slot,omitempty"`
	Publication   *publicationV3 `json:"publication,omitempty"`
	Binlog        *binlogV3      `json:"binlog,omitempty"`
}

// binlogV3 is what planning read from a MariaDB or MySQL source (its
// observed_at is the source_database's).
type binlogV3 struct {
	Flavor           string                `json:"flavor"`
	Version          string                `json:"version"`
	LogBin           bool                  `json:"log_bin"`
	BinlogFormat     string                `json:"binlog_format"`
	BinlogRowImage   string                `json:"binlog_row_image"`
	Files            []sourcedb.BinlogFile `json:"files"`
	GTIDBinlogState  string                `json:"gtid_binlog_state,omitempty"`
	GTIDSlavePos     string                `json:"gtid_slave_pos,omitempty"`
	GTIDStart        string                `json:"gtid_start,omitempty"`
	GTIDMode         string                `json:"gtid_mode,omitempty"`
	GTIDExecuted     string                `json:"gtid_executed,omitempty"`
	GTIDPurged       string                `json:"gtid_purged,omitempty"`
	RetentionSeconds int64                 `json:"retention_seconds"`
}

type slotV3 struct {
	Name              string `json:"name"`
	Exists            bool   `json:"exists"`
	Plugin            string `json:"plugin"`
	Database          string `json:"database"`
	Active            bool   `json:"active"`
	ActivePID         int32  `json:"active_pid"`
	RestartLSN        uint64 `json:"restart_lsn"`
	ConfirmedFlushLSN uint64 `json:"confirmed_flush_lsn"`
	WALStatus         string `json:"wal_status"`
	SafeWALSize       *int64 `json:"safe_wal_size"`
}

type publicationV3 struct {
	Name      string   `json:"name"`
	Exists    bool     `json:"exists"`
	AllTables bool     `json:"all_tables"`
	Tables    []string `json:"tables"`
}

func sourceDBToWire(sd *SourceDBObservation) *sourceDBV3 {
	if sd == nil {
		return nil
	}
	w := &sourceDBV3{Database: sd.Database, Error: sd.Error, FlushMode: sd.FlushMode, Tables: nonNil(sd.Tables)}
	if pg := sd.Postgres; pg != nil {
		w.ObservedAt, w.ServerVersion, w.CurrentLSN = pg.ObservedAt.UTC().Format(time.RFC3339Nano), pg.ServerVersion, pg.CurrentLSN
		s := pg.Slot
		w.Slot = &slotV3{Name: s.Name, Exists: s.Exists, Plugin: s.Plugin, Database: s.Database, Active: s.Active, ActivePID: s.ActivePID,
			RestartLSN: s.RestartLSN, ConfirmedFlushLSN: s.ConfirmedFlushLSN, WALStatus: s.WALStatus, SafeWALSize: s.SafeWALSize}
		w.Publication = &publicationV3{Name: pg.Publication.Name, Exists: pg.Publication.Exists, AllTables: pg.Publication.AllTables, Tables: nonNil(pg.Publication.Tables)}
	}
	if b := sd.Binlog; b != nil {
		files := b.Files
		if files == nil {
			files = []sourcedb.BinlogFile{}
		}
		w.ObservedAt = b.ObservedAt.UTC().Format(time.RFC3339Nano)
		w.Binlog = &binlogV3{Flavor: b.Flavor, Version: b.Version, LogBin: b.LogBin, BinlogFormat: b.BinlogFormat, BinlogRowImage: b.BinlogRowImage,
			Files: files, GTIDBinlogState: b.GTIDBinlogState, GTIDSlavePos: b.GTIDSlavePos, GTIDStart: b.GTIDStart,
			GTIDMode: b.GTIDMode, GTIDExecuted: b.GTIDExecuted, GTIDPurged: b.GTIDPurged, RetentionSeconds: b.RetentionSeconds}
	}
	return w
}

func sourceDBFromWire(addr string, w *sourceDBV3) (*SourceDBObservation, error) {
	if w == nil {
		return nil, nil
	}
	sd := &SourceDBObservation{Database: w.Database, Error: w.Error, FlushMode: w.FlushMode, Tables: w.Tables}
	read := 0
	if w.Slot != nil {
		read++
	}
	if w.Binlog != nil {
		read++
	}
	if (w.Slot == nil) != (w.Publication == nil) || read > 1 || (read == 0) == (w.Error == "") {
		return nil, fmt.Errorf("connector %s: source_database holds either what was read (slot and publication, or binlog) or the error that kept it from being read", addr)
	}
	if read == 0 {
		return sd, nil
	}
	at, err := time.Parse(time.RFC3339Nano, w.ObservedAt)
	if err != nil {
		return nil, fmt.Errorf("connector %s: source_database observed_at %q is not an RFC 3339 time", addr, w.ObservedAt)
	}
	if b := w.Binlog; b != nil {
		if b.Flavor != sourcedb.FlavorMariaDB && b.Flavor != sourcedb.FlavorMySQL {
			return nil, fmt.Errorf("connector %s: source_database binlog flavor %q is neither %q nor %q", addr, b.Flavor, sourcedb.FlavorMariaDB, sourcedb.FlavorMySQL)
		}
		sd.Binlog = &sourcedb.BinlogObservation{ObservedAt: at, Flavor: b.Flavor, Version: b.Version, LogBin: b.LogBin, BinlogFormat: b.BinlogFormat, BinlogRowImage: b.BinlogRowImage,
			Files: b.Files, GTIDBinlogState: b.GTIDBinlogState, GTIDSlavePos: b.GTIDSlavePos, GTIDStart: b.GTIDStart,
			GTIDMode: b.GTIDMode, GTIDExecuted: b.GTIDExecuted, GTIDPurged: b.GTIDPurged, RetentionSeconds: b.RetentionSeconds}
		return sd, nil
	}
	s := w.Slot
	sd.Postgres = &sourcedb.PostgresObservation{ObservedAt: at, ServerVersion: w.ServerVersion, CurrentLSN: w.CurrentLSN,
		Slot: sourcedb.PostgresSlot{Name: s.Name, Exists: s.Exists, Plugin: s.Plugin, Database: s.Database, Active: s.Active, ActivePID: s.ActivePID,
			RestartLSN: s.RestartLSN, ConfirmedFlushLSN: s.ConfirmedFlushLSN, WALStatus: s.WALStatus, SafeWALSize: s.SafeWALSize},
		Publication: sourcedb.Publication{Name: w.Publication.Name, Exists: w.Publication.Exists, AllTables: w.Publication.AllTables, Tables: w.Publication.Tables}}
	return sd, nil
}

// schemaHistoryV3 is what planning read from a Debezium connector's
// schema history topic: the records a verdict weighs, or the error that
// kept it from being read.
type schemaHistoryV3 struct {
	Topic   string                  `json:"topic"`
	Server  string                  `json:"server"`
	Read    int                     `json:"records_read"`
	Records []schemaHistoryRecordV3 `json:"records"`
	Error   string                  `json:"error,omitempty"`
}

// schemaHistoryRecordV3 is one record: a binlog position (file, pos) or a
// SQL Server one (change_lsn, commit_lsn, event_serial_no,
// source_database).
type schemaHistoryRecordV3 struct {
	Offset         int64  `json:"offset"`
	File           string `json:"file,omitempty"`
	Pos            int64  `json:"pos,omitempty"`
	ChangeLSN      string `json:"change_lsn,omitempty"`
	CommitLSN      string `json:"commit_lsn,omitempty"`
	EventSerialNo  int64  `json:"event_serial_no,omitempty"`
	SourceDatabase string `json:"source_database,omitempty"`
	Snapshot       bool   `json:"snapshot,omitempty"`
	Database       string `json:"database,omitempty"`
	DDL            string `json:"ddl"`
}

func schemaHistoryToWire(sh *SchemaHistoryObservation) *schemaHistoryV3 {
	if sh == nil {
		return nil
	}
	w := &schemaHistoryV3{Topic: sh.Topic, Server: sh.Server, Read: sh.Read, Records: []schemaHistoryRecordV3{}, Error: sh.Error}
	for _, r := range sh.Records {
		w.Records = append(w.Records, schemaHistoryRecordV3{Offset: r.Offset, File: r.File, Pos: r.Pos,
			ChangeLSN: r.ChangeLSN, CommitLSN: r.CommitLSN, EventSerialNo: r.EventSerialNo, SourceDatabase: r.SourceDatabase,
			Snapshot: r.Snapshot, Database: r.Database, DDL: r.DDL})
	}
	return w
}

func schemaHistoryFromWire(addr string, w *schemaHistoryV3) (*SchemaHistoryObservation, error) {
	if w == nil {
		return nil, nil
	}
	if w.Error != "" && len(w.Records) > 0 {
		return nil, fmt.Errorf("connector %s: schema_history holds either the records read or the error that kept them from being read", addr)
	}
	sh := &SchemaHistoryObservation{Topic: w.Topic, Server: w.Server, Read: w.Read, Error: w.Error}
	for _, r := range w.Records {
		rec := schemahistory.Record{Offset: r.Offset, Server: w.Server, File: r.File, Pos: r.Pos,
			ChangeLSN: r.ChangeLSN, CommitLSN: r.CommitLSN, EventSerialNo: r.EventSerialNo, SourceDatabase: r.SourceDatabase,
			Snapshot: r.Snapshot, Database: r.Database, DDL: r.DDL}
		if _, ok := rec.Position(); !ok {
			return nil, fmt.Errorf("connector %s: schema_history record at offset %d has no position to order it by (file %q, change_lsn %q, commit_lsn %q)", addr, r.Offset, r.File, r.ChangeLSN, r.CommitLSN)
		}
		sh.Records = append(sh.Records, rec)
	}
	return sh, nil
}

// timestampV2 is one to_timestamp lookup: the first offset of the partition
// whose record time is at or after at_ms (the log end when none).
type timestampV2 struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	AtMillis  int64  `json:"at_ms"`
	Offset    int64  `json:"offset"`
}

// restoreV2 is what one restore file held for the connectors restored from
// it (file is the path as written in the configuration).
type restoreV2 struct {
	File       string               `json:"file"`
	Connectors []restoreConnectorV2 `json:"connectors"`
}

type restoreConnectorV2 struct {
	Name   string            `json:"name"`
	Source []sourceOffsetV1  `json:"source_offsets,omitempty"`
	Sink   []sinkPartitionV1 `json:"sink_offsets,omitempty"`
}

type sourceOffsetV1 struct {
	Key       string       `json:"key,omitempty"`
	Partition offsets.Map  `json:"partition"`
	Offset    *offsets.Map `json:"offset"`
}

type sinkPartitionV1 struct {
	Topic          string `json:"topic"`
	Partition      int32  `json:"partition"`
	Committed      int64  `json:"committed"`
	LogStart       int64  `json:"log_start"`
	LogEnd         int64  `json:"log_end"`
	LogStartMillis int64  `json:"log_start_timestamp_ms,omitempty"`
}

type operationV1 struct {
	Address          string       `json:"address"`
	Name             string       `json:"name"`
	Kind             string       `json:"kind"`
	Connector        string       `json:"connector"`
	Reason           string       `json:"reason"`
	BlockHash        string       `json:"block_hash"`
	Status           string       `json:"status"`
	Method           string       `json:"method"`
	Halt             string       `json:"halt,omitempty"`
	AllowSkipRecords int64        `json:"allow_skip_records"`
	AppliedSerial    uint64       `json:"applied_serial,omitempty"`
	Changes          []changeV1   `json:"changes"`
	Reconcile        *reconcileV1 `json:"reconcile,omitempty"`
	Risks            []riskV3     `json:"risks"`
}

// riskV3 is one risk class of an operation.
type riskV3 struct {
	Class      string            `json:"class"`
	Records    int64             `json:"records"`
	Partitions []riskPartitionV3 `json:"partitions"`
	Rows       *riskRowsV3       `json:"rows,omitempty"`
}

type riskPartitionV3 struct {
	Partition string `json:"partition"`
	Records   int64  `json:"records"`
}

type riskRowsV3 struct {
	Insert int64 `json:"insert"`
	Update int64 `json:"update"`
	Delete int64 `json:"delete"`
}

// policyV3 is what the configuration's policies decided.
type policyV3 struct {
	Policies  []string `json:"policies"`
	Approvals int      `json:"approvals_required"`
	Because   []string `json:"because"`
}

type changeV1 struct {
	Action string          `json:"action"`
	Sink   *sinkChangeV1   `json:"sink,omitempty"`
	Source *sourceChangeV1 `json:"source,omitempty"`
}

type sinkChangeV1 struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Before    int64  `json:"before"`
	After     int64  `json:"after"`
	Rollback  int64  `json:"rollback"`
	LogStart  int64  `json:"log_start"`
	LogEnd    int64  `json:"log_end"`
	Replays   int64  `json:"replays"`
	Skips     int64  `json:"skips"`
}

type sourceChangeV1 struct {
	Key       string       `json:"key,omitempty"`
	Partition offsets.Map  `json:"partition"`
	Before    *offsets.Map `json:"before"`
	After     *offsets.Map `json:"after"`
	Rollback  *offsets.Map `json:"rollback"`
}

type checkV1 struct {
	Severity  string `json:"severity"`
	Code      string `json:"code"`
	Operation string `json:"operation,omitempty"`
	Message   string `json:"message"`
}

type summaryV1 struct {
	Operations int   `json:"operations_changing"`
	Unchanged  int   `json:"operations_unchanged"`
	Blocked    int   `json:"operations_blocked"`
	Partitions int   `json:"partitions_changing"`
	Deletes    int   `json:"partitions_deleted"`
	Rows       int64 `json:"rows_changing"`
	Replays    int64 `json:"records_replayed"`
	Skips      int64 `json:"records_skipped"`
	Errors     int   `json:"errors"`
	Warnings   int   `json:"warnings"`
	// HighestRisk is the highest risk class of the operations, "none"
	// when they have none.
	HighestRisk string `json:"highest_risk"`
}

// key bytes travel as text when they are valid UTF-8 JSON (they always are
// for Connect keys); the text is exact, since JSON strings carry any bytes of
// valid UTF-8.
func keyText(b []byte) string { return string(b) }

func toWire(p *Plan) *planV1 {
	s := p.Summarize()
	w := &planV1{
		FormatVersion:    FormatVersion,
		OffsetctlVersion: p.OffsetctlVersion,
		CreatedAt:        p.CreatedAt.UTC().Format(time.RFC3339Nano),
		ConfigHash:       p.ConfigHash,
		State:            stateRefV1{Lineage: p.State.Lineage, Serial: p.State.Serial},
		Targets:          nonNil(p.Targets),
		Connectors:       []connectorV1{},
		Timestamps:       timestampsToWire(p.Timestamps),
		Restores:         restoresToWire(p.Restores),
		Operations:       []operationV1{},
		Checks:           []checkV1{},
		Summary: summaryV1{Operations: s.Operations, Unchanged: s.Unchanged, Blocked: s.Blocked, Partitions: s.Partitions, Deletes: s.Deletes, Rows: s.Rows,
			Replays: s.Replays, Skips: s.Skips, Errors: s.Errors, Warnings: s.Warnings, HighestRisk: riskName(s.HighestRisk)},
		Policy: policyToWire(p.Policy),
		Hash:   p.Hash,
	}
	for _, c := range p.Connectors {
		cw := connectorV1{Address: c.Address, Name: c.Name, Cluster: c.Cluster, ConnectURL: c.ConnectURL,
			WorkerVersion: c.WorkerVersion, ClusterID: c.ClusterID, Exists: c.Exists, Type: string(c.Type), Class: c.Class,
			Codec: c.Codec, State: c.State, TaskStates: nonNil(c.TaskStates), ConfigHash: c.ConfigHash,
			ReadVia: string(c.ReadVia), WriteVia: string(c.WriteVia), Group: c.Group, AutoReset: c.AutoOffsetReset, SourceDB: sourceDBToWire(c.SourceDB),
			SchemaHistory: schemaHistoryToWire(c.SchemaHistory), Evidence: evidenceToWire(c.Evidence)}
		for _, so := range c.Source {
			off := so.Offset
			cw.Source = append(cw.Source, sourceOffsetV1{Key: keyText(so.Key), Partition: so.Partition, Offset: &off})
		}
		for _, sp := range c.Sink {
			cw.Sink = append(cw.Sink, sinkPartitionV1(sp))
		}
		w.Connectors = append(w.Connectors, cw)
	}
	for _, op := range p.Operations {
		ow := operationV1{Address: op.Address, Name: op.Name, Kind: string(op.Kind), Connector: op.Connector,
			Reason: op.Reason, BlockHash: op.BlockHash, Status: string(op.Status), Method: string(op.Method), Halt: string(op.Halt),
			AllowSkipRecords: op.AllowSkipRecords, AppliedSerial: op.AppliedSerial, Changes: []changeV1{},
			Reconcile: reconcileToWire(op.Reconcile), Risks: risksToWire(op.Risks)}
		for _, ch := range op.Changes {
			cw := changeV1{Action: string(ch.Action)}
			if ch.Sink != nil {
				sc := sinkChangeV1(*ch.Sink)
				cw.Sink = &sc
			}
			if ch.Source != nil {
				cw.Source = &sourceChangeV1{Key: keyText(ch.Source.Key), Partition: ch.Source.Partition,
					Before: ch.Source.Before, After: ch.Source.After, Rollback: ch.Source.Rollback}
			}
			ow.Changes = append(ow.Changes, cw)
		}
		w.Operations = append(w.Operations, ow)
	}
	for _, c := range p.Checks {
		w.Checks = append(w.Checks, checkV1{Severity: string(c.Severity), Code: c.Code, Operation: c.Operation, Message: c.Message})
	}
	return w
}

func fromWire(w *planV1) (*Plan, error) {
	created, err := time.Parse(time.RFC3339Nano, w.CreatedAt)
	if err != nil {
		return nil, fmt.Errorf("created_at %q is not a time: %w", w.CreatedAt, err)
	}
	p := &Plan{
		OffsetctlVersion: w.OffsetctlVersion,
		CreatedAt:        created,
		ConfigHash:       w.ConfigHash,
		State:            StateRef{Lineage: w.State.Lineage, Serial: w.State.Serial},
		Targets:          w.Targets,
	}
	if err := lookupsFromWire(w, p); err != nil {
		return nil, err
	}
	for _, cw := range w.Connectors {
		c := ConnectorObservation{Address: cw.Address, Name: cw.Name, Cluster: cw.Cluster, ConnectURL: cw.ConnectURL,
			WorkerVersion: cw.WorkerVersion, ClusterID: cw.ClusterID, Exists: cw.Exists, Type: ConnectorType(cw.Type),
			Class: cw.Class, Codec: cw.Codec, State: cw.State, TaskStates: cw.TaskStates, ConfigHash: cw.ConfigHash,
			ReadVia: Method(cw.ReadVia), WriteVia: Method(cw.WriteVia), Group: cw.Group, AutoOffsetReset: cw.AutoReset}
		sd, err := sourceDBFromWire(cw.Address, cw.SourceDB)
		if err != nil {
			return nil, err
		}
		c.SourceDB = sd
		if c.SchemaHistory, err = schemaHistoryFromWire(cw.Address, cw.SchemaHistory); err != nil {
			return nil, err
		}
		if c.Evidence, err = evidenceFromWire(cw.Address, cw.Evidence); err != nil {
			return nil, err
		}
		for _, so := range cw.Source {
			o := SourceOffset{Partition: so.Partition}
			if so.Key != "" {
				o.Key = []byte(so.Key)
			}
			if so.Offset != nil {
				o.Offset = *so.Offset
			}
			c.Source = append(c.Source, o)
		}
		for _, sp := range cw.Sink {
			c.Sink = append(c.Sink, SinkPartition(sp))
		}
		p.Connectors = append(p.Connectors, c)
	}
	for _, ow := range w.Operations {
		op := Operation{Address: ow.Address, Name: ow.Name, Kind: OperationKind(ow.Kind), Connector: ow.Connector,
			Reason: ow.Reason, BlockHash: ow.BlockHash, Status: OperationStatus(ow.Status), Method: Method(ow.Method), Halt: Halt(ow.Halt),
			AllowSkipRecords: ow.AllowSkipRecords, AppliedSerial: ow.AppliedSerial}
		if op.Halt != HaltStop && op.Halt != HaltDeleteRecreate {
			return nil, fmt.Errorf("operation %s: halt %q is not one this offsetctl knows (\"delete_recreate\" or none): it was made by a newer offsetctl; plan again with this one", ow.Address, ow.Halt)
		}
		rd, err := reconcileFromWire(ow.Address, ow.Reconcile)
		if err != nil {
			return nil, err
		}
		op.Reconcile = rd
		if op.Risks, err = risksFromWire(ow.Address, ow.Risks); err != nil {
			return nil, err
		}
		for _, cw := range ow.Changes {
			ch := Change{Action: Action(cw.Action)}
			if cw.Sink != nil {
				sc := SinkChange(*cw.Sink)
				ch.Sink = &sc
			}
			if cw.Source != nil {
				sc := &SourceChange{Partition: cw.Source.Partition, Before: cw.Source.Before, After: cw.Source.After, Rollback: cw.Source.Rollback}
				if cw.Source.Key != "" {
					sc.Key = []byte(cw.Source.Key)
				}
				ch.Source = sc
			}
			if (ch.Sink == nil) == (ch.Source == nil) {
				return nil, fmt.Errorf("operation %s has a change that is neither one sink nor one source change", ow.Address)
			}
			op.Changes = append(op.Changes, ch)
		}
		p.Operations = append(p.Operations, op)
	}
	for _, cw := range w.Checks {
		p.Checks = append(p.Checks, Check{Severity: Severity(cw.Severity), Code: cw.Code, Operation: cw.Operation, Message: cw.Message})
	}
	if w.Policy != nil {
		p.Policy = &PolicyResult{Policies: w.Policy.Policies, Approvals: w.Policy.Approvals, Because: w.Policy.Because}
	}
	return p, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func timestampsToWire(m map[TimestampKey]int64) []timestampV2 {
	out := []timestampV2{}
	for k, off := range m {
		out = append(out, timestampV2{Topic: k.Topic, Partition: k.Partition, AtMillis: k.Millis, Offset: off})
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Topic != b.Topic {
			return a.Topic < b.Topic
		}
		if a.Partition != b.Partition {
			return a.Partition < b.Partition
		}
		return a.AtMillis < b.AtMillis
	})
	return out
}

func restoresToWire(m map[string]*RestoreData) []restoreV2 {
	out := []restoreV2{}
	files := make([]string, 0, len(m))
	for f := range m {
		files = append(files, f)
	}
	sort.Strings(files)
	for _, f := range files {
		d := m[f]
		rw := restoreV2{File: f, Connectors: []restoreConnectorV2{}}
		names := map[string]bool{}
		for n := range d.Source {
			names[n] = true
		}
		for n := range d.Sink {
			names[n] = true
		}
		sorted := make([]string, 0, len(names))
		for n := range names {
			sorted = append(sorted, n)
		}
		sort.Strings(sorted)
		for _, n := range sorted {
			cw := restoreConnectorV2{Name: n}
			for _, so := range d.Source[n] {
				off := so.Offset
				cw.Source = append(cw.Source, sourceOffsetV1{Key: keyText(so.Key), Partition: so.Partition, Offset: &off})
			}
			for _, sp := range d.Sink[n] {
				cw.Sink = append(cw.Sink, sinkPartitionV1(sp))
			}
			rw.Connectors = append(rw.Connectors, cw)
		}
		out = append(out, rw)
	}
	return out
}

func lookupsFromWire(w *planV1, p *Plan) error {
	for _, t := range w.Timestamps {
		if p.Timestamps == nil {
			p.Timestamps = map[TimestampKey]int64{}
		}
		k := TimestampKey{Topic: t.Topic, Partition: t.Partition, Millis: t.AtMillis}
		if _, dup := p.Timestamps[k]; dup {
			return fmt.Errorf("timestamp_lookups holds %s[%d] at %d twice", t.Topic, t.Partition, t.AtMillis)
		}
		p.Timestamps[k] = t.Offset
	}
	for _, rw := range w.Restores {
		if p.Restores == nil {
			p.Restores = map[string]*RestoreData{}
		}
		if _, dup := p.Restores[rw.File]; dup {
			return fmt.Errorf("restore_files holds %s twice", rw.File)
		}
		d := &RestoreData{Source: map[string][]SourceOffset{}, Sink: map[string][]SinkPartition{}}
		for _, cw := range rw.Connectors {
			for _, so := range cw.Source {
				if so.Offset == nil {
					return fmt.Errorf("restore_files: %s: connector %q has a source partition without an offset", rw.File, cw.Name)
				}
				o := SourceOffset{Partition: so.Partition, Offset: *so.Offset}
				if so.Key != "" {
					o.Key = []byte(so.Key)
				}
				d.Source[cw.Name] = append(d.Source[cw.Name], o)
			}
			for _, sp := range cw.Sink {
				d.Sink[cw.Name] = append(d.Sink[cw.Name], SinkPartition(sp))
			}
		}
		p.Restores[rw.File] = d
	}
	return nil
}

func riskName(c RiskClass) string {
	if c == "" {
		return "none"
	}
	return string(c)
}

func risksToWire(rs []Risk) []riskV3 {
	out := []riskV3{}
	for _, r := range rs {
		rw := riskV3{Class: string(r.Class), Records: r.Records, Partitions: []riskPartitionV3{}}
		for _, p := range r.Partitions {
			rw.Partitions = append(rw.Partitions, riskPartitionV3(p))
		}
		if r.Rows != nil {
			rw.Rows = &riskRowsV3{Insert: r.Rows.Insert, Update: r.Rows.Update, Delete: r.Rows.Delete}
		}
		out = append(out, rw)
	}
	return out
}

func risksFromWire(addr string, ws []riskV3) ([]Risk, error) {
	var out []Risk
	for _, rw := range ws {
		if RiskRank(RiskClass(rw.Class)) == 0 {
			return nil, fmt.Errorf("operation %s has the risk class %q, which this offsetctl does not know", addr, rw.Class)
		}
		r := Risk{Class: RiskClass(rw.Class), Records: rw.Records}
		for _, p := range rw.Partitions {
			r.Partitions = append(r.Partitions, RiskPartition(p))
		}
		if rw.Rows != nil {
			r.Rows = &RiskRows{Insert: rw.Rows.Insert, Update: rw.Rows.Update, Delete: rw.Rows.Delete}
		}
		out = append(out, r)
	}
	return out, nil
}

func policyToWire(r *PolicyResult) *policyV3 {
	if r == nil {
		return nil
	}
	return &policyV3{Policies: nonNil(r.Policies), Approvals: r.Approvals, Because: nonNil(r.Because)}
}
