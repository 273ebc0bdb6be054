// Package schemahistory reads a Debezium connector's schema history topic
// (MySQL, MariaDB, SQL Server) and weighs an offset edit against it.
//
// At start, Debezium rebuilds the captured tables' schemas from the history
// topic, applying only the DDL records whose position is at or before the
// stored offset (its HistoryRecordComparator), then reads the binlog from
// there. So a rewind within the recorded history is schema-consistent: the
// DDLs after the target are read again from the binlog (and recorded a
// second time). What breaks is a target the history does not reach back to
// — a history recreated by a schema recovery snapshot starts at that
// snapshot, and events before it meet tables "whose schema isn't known to
// this connector" — and a jump forward over DDLs, which are then never
// recorded at all.
package schemahistory

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/offsetctl/offsetctl/pkg/config"
	"github.com/offsetctl/offsetctl/pkg/offsets"
)

// Record is one schema history record: a DDL and the source position it was
// read at (a binlog file/pos for MySQL and MariaDB, LSNs for SQL Server).
type Record struct {
	// Offset is the record's offset in the history topic.
	Offset int64
	// Server is the source's topic.prefix ("server" of the partition);
	// SourceDatabase is the partition's "database", which a SQL Server
	// connector capturing several databases sets.
	Server         string
	SourceDatabase string
	// File and Pos are the binlog position; Snapshot marks records written
	// by a (schema) snapshot.
	File     string
	Pos      int64
	GTIDs    string
	Snapshot bool
	// ChangeLSN, CommitLSN and EventSerialNo are a SQL Server position, the
	// LSNs in Debezium's text form ("NULL" when the record has none).
	ChangeLSN     string
	CommitLSN     string
	EventSerialNo int64
	Database      string
	DDL           string
}

// Position is a source position that a schema history orders: Before is
// the order Debezium's HistoryRecordComparator gives to a history record
// and an offset of the same connector. Positions of different kinds are
// not ordered (Before is false).
type Position interface {
	String() string
	Before(Position) bool
	// Log names where the connector reads changes (and schema changes)
	// again after a rewind.
	Log() string
}

// BinlogPosition is a binlog position that can be ordered: the file's
// sequence number and the position in it.
type BinlogPosition struct {
	File string
	Seq  int64
	Pos  int64
}

var _ Position = BinlogPosition{}

// String is the position as Debezium's offsets write it.
func (p BinlogPosition) String() string { return fmt.Sprintf("%s:%d", p.File, p.Pos) }

// Log implements Position.
func (BinlogPosition) Log() string { return "the binlog" }

// Before reports whether p is before q (a binlog position).
func (p BinlogPosition) Before(q Position) bool {
	o, ok := q.(BinlogPosition)
	if !ok {
		return false
	}
	if p.Seq != o.Seq {
		return p.Seq < o.Seq
	}
	return p.Pos < o.Pos
}

// ParsePosition reads file and pos as Debezium's offsets hold them
// ("mysql-bin.000003", 154).
func ParsePosition(file string, pos int64) (BinlogPosition, error) {
	dot := strings.LastIndexByte(file, '.')
	if dot < 0 {
		return BinlogPosition{}, fmt.Errorf("binlog file %q has no .NNNNNN suffix to order it by", file)
	}
	seq, err := strconv.ParseInt(file[dot+1:], 10, 64)
	if err != nil || seq < 0 {
		return BinlogPosition{}, fmt.Errorf("binlog file %q has no .NNNNNN suffix to order it by", file)
	}
	return BinlogPosition{File: file, Seq: seq, Pos: pos}, nil
}

// LSNPosition is a Debezium SQL Server position: the change_lsn of the
// last change processed, the commit_lsn of its transaction and the
// event_serial_no. A missing or "NULL" LSN is not set (HasChange,
// HasCommit false).
type LSNPosition struct {
	Change, Commit       offsets.SQLServerLSN
	HasChange, HasCommit bool
	EventSerialNo        int64
}

var _ Position = LSNPosition{}

// ParseLSNPosition reads change_lsn and commit_lsn as Debezium writes them
// ("0000002a:00000190:0003"; "" and "NULL" are no LSN).
func ParseLSNPosition(change, commit string, serial int64) (LSNPosition, error) {
	p := LSNPosition{EventSerialNo: serial}
	var err error
	if change != "" && change != "NULL" {
		if p.Change, err = offsets.ParseSQLServerLSN(change); err != nil {
			return LSNPosition{}, fmt.Errorf("change_lsn: %w", err)
		}
		p.HasChange = true
	}
	if commit != "" && commit != "NULL" {
		if p.Commit, err = offsets.ParseSQLServerLSN(commit); err != nil {
			return LSNPosition{}, fmt.Errorf("commit_lsn: %w", err)
		}
		p.HasCommit = true
	}
	return p, nil
}

// Before orders as Debezium's SQL Server connector does for its history
// (the HistoryRecordComparator of SqlServerConnectorConfig): by change_lsn
// alone, a missing or NULL change_lsn below every LSN (Lsn.compareTo);
// commit_lsn and event_serial_no play no part.
func (p LSNPosition) Before(q Position) bool {
	o, ok := q.(LSNPosition)
	if !ok {
		return false
	}
	switch {
	case !p.HasChange:
		return o.HasChange
	case !o.HasChange:
		return false
	}
	return p.Change.Compare(o.Change) < 0
}

// String names both LSNs.
func (p LSNPosition) String() string {
	return "change_lsn " + lsnText(p.Change, p.HasChange) + " (commit_lsn " + lsnText(p.Commit, p.HasCommit) + ")"
}

// Log implements Position.
func (LSNPosition) Log() string { return "SQL Server's CDC" }

func lsnText(l offsets.SQLServerLSN, ok bool) string {
	if !ok {
		return "NULL"
	}
	return l.String()
}

// Position of the record; ok is false when it has no orderable position.
func (r Record) Position() (Position, bool) {
	switch {
	case r.File != "":
		p, err := ParsePosition(r.File, r.Pos)
		return p, err == nil
	case r.ChangeLSN != "" || r.CommitLSN != "":
		p, err := ParseLSNPosition(r.ChangeLSN, r.CommitLSN, r.EventSerialNo)
		return p, err == nil
	}
	return nil, false
}

// wireRecord is the JSON of a history record, as Debezium writes it.
type wireRecord struct {
	Source       map[string]any  `json:"source"`
	Position     map[string]any  `json:"position"`
	DatabaseName string          `json:"databaseName"`
	DDL          string          `json:"ddl"`
	TableChanges json.RawMessage `json:"tableChanges"`
}

// Decode reads one history record value; offset is its place in the topic.
func Decode(offset int64, value []byte) (Record, error) {
	var w wireRecord
	if err := json.Unmarshal(value, &w); err != nil {
		return Record{}, fmt.Errorf("schema history record at offset %d is not JSON: %w", offset, err)
	}
	if w.Source == nil || w.Position == nil {
		return Record{}, fmt.Errorf("schema history record at offset %d has no source or position: not a Debezium schema history record", offset)
	}
	r := Record{Offset: offset, Database: w.DatabaseName, DDL: w.DDL}
	if r.DDL == "" || r.DDL == "N/A" {
		// SQL Server records carry no DDL text: name the table changes.
		r.DDL = tableChangesText(w.TableChanges, r.DDL)
	}
	r.Server, _ = w.Source["server"].(string)
	r.SourceDatabase, _ = w.Source["database"].(string)
	r.File, _ = w.Position["file"].(string)
	if _, lsn := w.Position["commit_lsn"]; lsn || w.Position["change_lsn"] != nil {
		// Debezium writes a missing change_lsn as null or "NULL".
		r.ChangeLSN, r.CommitLSN = lsnField(w.Position["change_lsn"]), lsnField(w.Position["commit_lsn"])
		if v, ok := w.Position["event_serial_no"].(float64); ok {
			r.EventSerialNo = int64(v)
		}
	}
	r.GTIDs, _ = w.Position["gtids"].(string)
	switch v := w.Position["pos"].(type) {
	case float64:
		r.Pos = int64(v)
	case string:
		r.Pos, _ = strconv.ParseInt(v, 10, 64)
	}
	switch v := w.Position["snapshot"].(type) {
	case bool:
		r.Snapshot = v
	case string:
		r.Snapshot = v == "true" || v == "INITIAL" || v == "LAST" || v == "LAST_IN_DATA_COLLECTION"
	}
	return r, nil
}

// tableChangesText names a record's table changes ("ALTER
// testDB.dbo.customers"), or is ddl when there are none.
func tableChangesText(raw json.RawMessage, ddl string) string {
	var changes []struct {
		Type string `json:"type"`
		ID   string `json:"id"`
	}
	if json.Unmarshal(raw, &changes) != nil {
		return ddl
	}
	var parts []string
	for _, c := range changes {
		parts = append(parts, strings.TrimSpace(c.Type+" "+c.ID))
	}
	if len(parts) == 0 {
		return ddl
	}
	return strings.Join(parts, "; ")
}

// lsnField is an LSN of a history record's position: "NULL" when null.
func lsnField(v any) string {
	if s, ok := v.(string); ok && s != "" {
		return s
	}
	return "NULL"
}

// Read reads every record of topic (a schema history topic has one
// partition) from its start to the end it has when Read starts, keeping
// those of server.
func Read(ctx context.Context, cl *kgo.Client, topic, server string) ([]Record, error) {
	adm := kadm.NewClient(cl)
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("reading the end of the schema history topic %s: %w", topic, err)
	}
	if err := ends.Error(); err != nil {
		return nil, fmt.Errorf("reading the end of the schema history topic %s: %w", topic, err)
	}
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("reading the start of the schema history topic %s: %w", topic, err)
	}
	want := map[int32]int64{}
	from := map[int32]kgo.Offset{}
	ends.Each(func(o kadm.ListedOffset) {
		if s, ok := starts.Lookup(topic, o.Partition); ok && o.Offset > s.Offset {
			want[o.Partition] = o.Offset
			from[o.Partition] = kgo.NewOffset().At(s.Offset)
		}
	})
	if len(want) == 0 {
		return nil, nil
	}
	reader, err := kgo.NewClient(append(cl.Opts(), kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: from}))...)
	if err != nil {
		return nil, err
	}
	defer reader.Close()
	var out []Record
	for len(want) > 0 {
		fs := reader.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("reading the schema history topic %s: %w", topic, err)
		}
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) { ferr = err })
		if ferr != nil {
			return nil, fmt.Errorf("reading the schema history topic %s: %w", topic, ferr)
		}
		fs.EachRecord(func(rec *kgo.Record) {
			end, ok := want[rec.Partition]
			if !ok || rec.Offset >= end {
				return
			}
			if ferr == nil {
				r, err := Decode(rec.Offset, rec.Value)
				if err != nil {
					ferr = err
					return
				}
				if server == "" || r.Server == server {
					out = append(out, r)
				}
			}
			if rec.Offset+1 >= end {
				delete(want, rec.Partition)
			}
		})
		if ferr != nil {
			return nil, fmt.Errorf("reading the schema history topic %s: %w", topic, ferr)
		}
	}
	return out, nil
}

// Severity of a finding, as plan checks have them.
type Severity string

// The severities.
const (
	SeverityError   Severity = "error"
	SeverityWarning Severity = "warning"
)

// Finding is one verdict, with a stable code.
type Finding struct {
	Severity Severity
	Code     string
	Message  string
}

// Judge weighs moving a connector from stored to target against its
// history: a target before the first record it can order is an error
// unless acknowledged; DDLs after a rewind's target within the history are
// named, with why the connector decodes the events in between rightly (it
// reads those DDLs again) and why that is an error unless acknowledged all
// the same (consumers get events of an older schema again); a jump forward says
// that DDLs in between would never be recorded. A SQL Server target
// without change_lsn, below which Debezium applies no streamed schema
// change, is an error unless acknowledged when it skips schema changes at
// or before its commit_lsn, which the connector never reads again.
func Judge(records []Record, stored, target Position, acknowledged []string) []Finding {
	if target == nil {
		return nil
	}
	var out []Finding
	var first *Record
	var after, skipped []Record
	lsnTarget, nullChange := target.(LSNPosition)
	nullChange = nullChange && !lsnTarget.HasChange
	for i := range records {
		p, ok := records[i].Position()
		if !ok {
			continue
		}
		if first == nil {
			first = &records[i]
		}
		if !target.Before(p) || records[i].Snapshot {
			continue
		}
		after = append(after, records[i])
		if lp, ok := p.(LSNPosition); ok && nullChange && (!lsnTarget.HasCommit || lp.Change.Compare(lsnTarget.Commit) <= 0) {
			skipped = append(skipped, records[i])
		}
	}
	if first == nil {
		out = append(out, Finding{SeverityWarning, "schema_history_empty", "the schema history topic holds no record with a position: the connector cannot rebuild its tables' schemas at any position; check schema.history.internal.kafka.topic"})
		return out
	}
	sev, tail := SeverityError, fmt.Sprintf(`acknowledge = ["%s"] only if the tables' schemas did not change since the target`, config.AckSchemaHistory)
	if acknowledges(acknowledged, config.AckSchemaHistory) {
		sev, tail = SeverityWarning, "acknowledged ("+config.AckSchemaHistory+")"
	}
	fp, _ := first.Position()
	before := target.Before(fp)
	if before {
		out = append(out, Finding{sev, "before_schema_history", fmt.Sprintf(
			"the new position %s is before the schema history's first record (%s, offset %d%s): the connector rebuilds its tables' schemas only from records at or before its position, so it would meet change events for tables whose schema it does not know; %s",
			target, fp, first.Offset, snapshotNote(*first), tail)})
	}
	if len(skipped) > 0 && !before {
		fix := tail
		if sev == SeverityError {
			fix = "set change_lsn (the LSN of the last change processed, at most commit_lsn) or " + tail
		}
		last := skipped[len(skipped)-1]
		lp, _ := last.Position()
		out = append(out, Finding{sev, "schema_history_null_change_lsn", fmt.Sprintf(
			"the new position %s has no change_lsn: Debezium's SQL Server connector rebuilds its tables' schemas only from history records whose change_lsn is at or before the offset's, and a NULL change_lsn is below every LSN, so it would skip %d schema change(s) recorded at or before the commit_lsn it resumes after, the latest at %s (schema history offset %d): %s; it never reads them again, so it would decode later events with older schemas; %s",
			target, len(skipped), lp, last.Offset, clip(last.DDL), fix)})
	}
	// Before the history, the DDLs after the target do not make it safe:
	// the error above says why; neither do DDLs a NULL change_lsn skips.
	if len(after) > 0 && !before && len(skipped) == 0 && (stored == nil || target.Before(stored)) {
		last := after[len(after)-1]
		lp, _ := last.Position()
		sev, tail := SeverityError, fmt.Sprintf(`acknowledge = ["%s"] once the consumers can take them`, config.AckRewindBeforeDDL)
		if acknowledges(acknowledged, config.AckRewindBeforeDDL) {
			sev, tail = SeverityWarning, "acknowledged ("+config.AckRewindBeforeDDL+")"
		}
		out = append(out, Finding{sev, "ddl_after_target", fmt.Sprintf(
			"%d DDL(s) recorded after the new position %s, the latest at %s (schema history offset %d): %s; the connector decodes the events in between with the schema of their time as long as %s still holds them (it rebuilds its tables' schemas only from records at or before its position, then reads those DDLs again and applies them in order), but it re-delivers change events of the older schema to consumers that have already seen the newer one: a sink that evolves its tables from the events (the JDBC sink's schema.evolution) may add a dropped column back, and one that does not may fail on them; %s",
			len(after), target, lp, last.Offset, clip(last.DDL), target.Log(), tail)})
	}
	if stored != nil && stored.Before(target) {
		out = append(out, Finding{SeverityWarning, "ddl_skipped_forward", fmt.Sprintf(
			"moving forward from %s to %s: a DDL in between is never read, so it is never recorded in the schema history, and later events of its table may not decode", stored, target)})
	}
	return out
}

// acknowledges reports whether acknowledged holds code.
func acknowledges(acknowledged []string, code string) bool {
	for _, a := range acknowledged {
		if a == code {
			return true
		}
	}
	return false
}

// Summary returns the records Judge weighs, for a plan to keep: the first
// record with a position of each source database and every later one with
// a position that no snapshot wrote, their DDL shortened as Judge shows it and without
// their GTID set. Judge gives the same findings on the summary as on the
// records for any positions.
func Summary(records []Record) []Record {
	var out []Record
	seen := map[string]bool{}
	for _, r := range records {
		if _, ok := r.Position(); !ok || (seen[r.SourceDatabase] && r.Snapshot) {
			continue
		}
		seen[r.SourceDatabase] = true
		r.DDL, r.GTIDs = clip(r.DDL), ""
		out = append(out, r)
	}
	return out
}

// OfDatabase is the records of records whose source is database (a SQL
// Server connector capturing several databases records each with its
// partition's database); "" keeps them all.
func OfDatabase(records []Record, database string) []Record {
	if database == "" {
		return records
	}
	var out []Record
	for _, r := range records {
		if r.SourceDatabase == "" || r.SourceDatabase == database {
			out = append(out, r)
		}
	}
	return out
}

// Latest is the last record of records with a position that no
// snapshot wrote: the latest schema change read while streaming.
func Latest(records []Record) (Record, bool) {
	for i := len(records) - 1; i >= 0; i-- {
		if _, ok := records[i].Position(); ok && !records[i].Snapshot {
			return records[i], true
		}
	}
	return Record{}, false
}

// Clip shortens a DDL for a message: whitespace runs made one space, cut
// after 80 bytes.
func Clip(ddl string) string { return clip(ddl) }

func snapshotNote(r Record) string {
	if r.Snapshot {
		return ", written by a schema snapshot"
	}
	return ""
}

func clip(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
