// Package schemahistory reads a Debezium binlog connector's schema history
// topic (MySQL, MariaDB) and weighs an offset edit against it.
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
)

// Record is one schema history record: a DDL and the binlog position it was
// read at.
type Record struct {
	// Offset is the record's offset in the history topic.
	Offset int64
	// Server is the source's topic.prefix ("server" of the partition).
	Server string
	// File and Pos are the binlog position; Snapshot marks records written
	// by a (schema) snapshot.
	File     string
	Pos      int64
	GTIDs    string
	Snapshot bool
	Database string
	DDL      string
}

// Position is a binlog position that can be ordered: the file's sequence
// number and the position in it.
type Position struct {
	File string
	Seq  int64
	Pos  int64
}

// String is the position as Debezium's offsets write it.
func (p Position) String() string { return fmt.Sprintf("%s:%d", p.File, p.Pos) }

// Before reports whether p is before q.
func (p Position) Before(q Position) bool {
	if p.Seq != q.Seq {
		return p.Seq < q.Seq
	}
	return p.Pos < q.Pos
}

// ParsePosition reads file and pos as Debezium's offsets hold them
// ("mysql-bin.000003", 154).
func ParsePosition(file string, pos int64) (Position, error) {
	dot := strings.LastIndexByte(file, '.')
	if dot < 0 {
		return Position{}, fmt.Errorf("binlog file %q has no .NNNNNN suffix to order it by", file)
	}
	seq, err := strconv.ParseInt(file[dot+1:], 10, 64)
	if err != nil || seq < 0 {
		return Position{}, fmt.Errorf("binlog file %q has no .NNNNNN suffix to order it by", file)
	}
	return Position{File: file, Seq: seq, Pos: pos}, nil
}

// Position of the record; ok is false when it has no orderable file/pos.
func (r Record) Position() (Position, bool) {
	p, err := ParsePosition(r.File, r.Pos)
	return p, err == nil
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
	r.Server, _ = w.Source["server"].(string)
	r.File, _ = w.Position["file"].(string)
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

// AckSchemaHistory is the acknowledge code that lets a plan go below the
// schema history's first record.
const AckSchemaHistory = "schema_history"

// Finding is one verdict, with a stable code.
type Finding struct {
	Severity Severity
	Code     string
	Message  string
}

// Judge weighs moving a connector from stored to target against its
// history: a target before the first record it can order is an error
// unless acknowledged; DDLs after a rewind's target within the history are
// named, with why that is safe (they are read again); a jump forward says
// that DDLs in between would never be recorded.
func Judge(records []Record, stored, target *Position, acknowledged []string) []Finding {
	if target == nil {
		return nil
	}
	var out []Finding
	var first *Record
	var after []Record
	for i := range records {
		p, ok := records[i].Position()
		if !ok {
			continue
		}
		if first == nil {
			first = &records[i]
		}
		if target.Before(p) && !records[i].Snapshot {
			after = append(after, records[i])
		}
	}
	if first == nil {
		out = append(out, Finding{SeverityWarning, "schema_history_empty", "the schema history topic holds no record with a binlog position: the connector cannot rebuild its tables' schemas at any position; check schema.history.internal.kafka.topic"})
		return out
	}
	fp, _ := first.Position()
	before := target.Before(fp)
	if before {
		sev, tail := SeverityError, fmt.Sprintf(`acknowledge = ["%s"] only if the tables' schemas did not change since the target`, AckSchemaHistory)
		for _, a := range acknowledged {
			if a == AckSchemaHistory {
				sev, tail = SeverityWarning, "acknowledged ("+AckSchemaHistory+")"
			}
		}
		out = append(out, Finding{sev, "before_schema_history", fmt.Sprintf(
			"the new position %s is before the schema history's first record (%s, offset %d%s): the connector rebuilds its tables' schemas only from records at or before its position, so it would meet change events for tables whose schema it does not know; %s",
			target, fp, first.Offset, snapshotNote(*first), tail)})
	}
	// Before the history, the DDLs after the target do not make it safe:
	// the error above says why.
	if len(after) > 0 && !before && (stored == nil || target.Before(*stored)) {
		last := after[len(after)-1]
		lp, _ := last.Position()
		out = append(out, Finding{SeverityWarning, "ddl_after_target", fmt.Sprintf(
			"%d DDL(s) recorded after the new position %s, the latest at %s (schema history offset %d): %s; this is safe for the data as long as the binlog still holds them: the connector rebuilds its tables' schemas only from records at or before its position, so the events in between decode with the schema of their time, and it reads those DDLs again from the binlog and applies them in order",
			len(after), target, lp, last.Offset, clip(last.DDL))})
	}
	if stored != nil && stored.Before(*target) {
		out = append(out, Finding{SeverityWarning, "ddl_skipped_forward", fmt.Sprintf(
			"moving forward from %s to %s: a DDL in between is never read, so it is never recorded in the schema history, and later events of its table may not decode", stored, target)})
	}
	return out
}

// Summary returns the records Judge weighs, for a plan to keep: the first
// record with a binlog position and every later one with a position that
// no snapshot wrote, their DDL shortened as Judge shows it and without
// their GTID set. Judge gives the same findings on the summary as on the
// records for any positions.
func Summary(records []Record) []Record {
	var out []Record
	for _, r := range records {
		if _, ok := r.Position(); !ok || (len(out) > 0 && r.Snapshot) {
			continue
		}
		r.DDL, r.GTIDs = clip(r.DDL), ""
		out = append(out, r)
	}
	return out
}

// Latest is the last record of records with a binlog position that no
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
