package offsets

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"strings"
)

// DebeziumSQLServer is the codec of Debezium's SQL Server source: partition
// {"server": <topic.prefix>, "database": <db>} (the legacy {"server"} form
// is still read for single-database connectors), offset with commit_lsn,
// change_lsn and event_serial_no.
type DebeziumSQLServer struct{}

var _ Codec = DebeziumSQLServer{}

// Name implements Codec.
func (DebeziumSQLServer) Name() string { return "debezium-sqlserver" }

// Classes implements Codec.
func (DebeziumSQLServer) Classes() []string {
	return []string{"io.debezium.connector.sqlserver.SqlServerConnector"}
}

// SQLServerLSN is a SQL Server log sequence number: 10 bytes.
type SQLServerLSN [10]byte

// ParseSQLServerLSN parses the text form Debezium stores,
// "xxxxxxxx:xxxxxxxx:xxxx" in hexadecimal (e.g. "0000002a:00000190:0003").
// The literal "NULL" (no LSN) is not an LSN: callers check it first.
func ParseSQLServerLSN(s string) (SQLServerLSN, error) {
	var lsn SQLServerLSN
	parts := strings.Split(s, ":")
	if len(parts) != 3 || len(parts[0]) != 8 || len(parts[1]) != 8 || len(parts[2]) != 4 {
		return lsn, fmt.Errorf("%q is not a SQL Server LSN: write it as xxxxxxxx:xxxxxxxx:xxxx in hexadecimal, like \"0000002a:00000190:0003\"", s)
	}
	b, err := hex.DecodeString(parts[0] + parts[1] + parts[2])
	if err != nil {
		return lsn, fmt.Errorf("%q is not a SQL Server LSN: only hexadecimal digits may appear between the colons", s)
	}
	copy(lsn[:], b)
	return lsn, nil
}

// String writes the LSN in Debezium's lower-case text form.
func (l SQLServerLSN) String() string {
	h := hex.EncodeToString(l[:])
	return h[:8] + ":" + h[8:16] + ":" + h[16:]
}

// Compare orders two LSNs: -1, 0 or +1.
func (l SQLServerLSN) Compare(o SQLServerLSN) int { return bytes.Compare(l[:], o[:]) }

var sqlserverOffsetFields = []fieldSpec{
	{"commit_lsn", nil},
	{"change_lsn", nil},
	{"event_serial_no", nil},
	{"snapshot", nil},
	{"snapshot_completed", nil},
}

// Decode implements Codec.
func (DebeziumSQLServer) Decode(partition, offset Map) []DisplayField {
	out := decodeWith(partition, offset, []fieldSpec{{"server", nil}, {"database", nil}}, sqlserverOffsetFields)
	for i, f := range out {
		if (f.Key == "commit_lsn" || f.Key == "change_lsn") && !f.Partition {
			if v, _ := offset.Get(f.Key); v.Kind() == KindString && v.Text() != "" {
				out[i].Text = v.Text()
			}
		}
	}
	return out
}

// sqlserverLSN reads an LSN field: absent, null and "NULL" give ok=false
// with no problem.
func (p *problems) sqlserverLSN(offset Map, key string, required bool) (SQLServerLSN, bool) {
	v, found := offset.Get(key)
	if !found || v.IsNull() || (v.Kind() == KindString && v.Text() == "NULL") {
		if required {
			p.add(key, "missing", "offset: %q is required (the LSN of the last committed transaction processed)", key)
		}
		return SQLServerLSN{}, false
	}
	if v.Kind() != KindString {
		p.add(key, "type", "offset: %q must be a string like \"0000002a:00000190:0003\", got %s %s", key, v.Kind(), v)
		return SQLServerLSN{}, false
	}
	lsn, err := ParseSQLServerLSN(v.Text())
	if err != nil {
		p.add(key, "format", "offset: %q: %v", key, err)
		return SQLServerLSN{}, false
	}
	return lsn, true
}

// Validate implements Codec. A new partition must use the {server,
// database} form; change_lsn, when set, must not be above commit_lsn.
func (c DebeziumSQLServer) Validate(partition, offset Map, previous *Map) error {
	p := &problems{codec: c.Name()}
	if previous == nil {
		p.checkPartitionKeys(partition, []string{"server", "database"})
	} else {
		p.checkPartitionKeys(partition, []string{"server"}, "database")
	}
	commit, okCommit := p.sqlserverLSN(offset, "commit_lsn", true)
	change, okChange := p.sqlserverLSN(offset, "change_lsn", false)
	p.requireInt(offset, "event_serial_no", false, strictInt, 0)
	p.requireBool(offset, "snapshot_completed")
	p.checkSnapshot(offset, previous)
	if okCommit && okChange && change.Compare(commit) > 0 {
		p.add("change_lsn", "inconsistent", "offset: change_lsn %s is above commit_lsn %s: a change belongs to the transaction that commits at or after it", change, commit)
	}
	return p.err()
}

// SafetyNotes implements Codec.
func (c DebeziumSQLServer) SafetyNotes(partition Map, previous, offset *Map) []SafetyNote {
	notes := debeziumCommonNotes(previous, offset)
	if offset == nil || previous == nil {
		return notes
	}
	var p problems
	from, ok1 := p.sqlserverLSN(*previous, "commit_lsn", true)
	to, ok2 := p.sqlserverLSN(*offset, "commit_lsn", true)
	if !ok1 || !ok2 {
		return notes
	}
	switch {
	case to.Compare(from) < 0:
		notes = append(notes, SafetyNote{Code: "sqlserver-cdc-retention",
			Text: fmt.Sprintf("rewinding to commit_lsn %s works only while it is at or above the minimum LSN of the database's change tables (sys.fn_cdc_get_min_lsn): the CDC cleanup job deletes older changes (3 days by default) and the task then fails at start", to)})
	case to.Compare(from) > 0:
		notes = append(notes, SafetyNote{Code: "sqlserver-skip-forward",
			Text: fmt.Sprintf("changes committed between %s and %s are skipped", from, to)})
	}
	if cv, ok := offset.Get("change_lsn"); ok && to != from {
		if pv, ok := previous.Get("change_lsn"); ok && pv.Equal(cv) && !cv.IsNull() && cv.Text() != "NULL" {
			notes = append(notes, SafetyNote{Code: "sqlserver-stale-change-lsn",
				Text: "commit_lsn changes but change_lsn and event_serial_no are carried over from the old position: they locate the last change emitted inside a transaction; make them belong to the new commit_lsn"})
		}
	}
	return notes
}
