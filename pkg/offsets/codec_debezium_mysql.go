package offsets

import (
	"fmt"
	"strconv"
	"strings"
)

// DebeziumMySQL is the codec of Debezium's binlog connectors (MySQL and
// MariaDB): partition {"server": <topic.prefix>}, offset with the binlog
// file and pos of the current transaction start, the event and row skip
// counters, and the GTID set when GTID mode is on.
type DebeziumMySQL struct{}

var _ Codec = DebeziumMySQL{}

// Name implements Codec.
func (DebeziumMySQL) Name() string { return "debezium-mysql" }

// Classes implements Codec.
func (DebeziumMySQL) Classes() []string {
	return []string{
		"io.debezium.connector.mysql.MySqlConnector",
		"io.debezium.connector.mariadb.MariaDbConnector",
	}
}

var mysqlOffsetFields = []fieldSpec{
	{"file", nil},
	{"pos", renderThousands},
	{"event", nil},
	{"row", nil},
	{"gtids", nil},
	{"server_id", nil},
	{"ts_sec", renderUnixSeconds},
	{"snapshot", nil},
	{"snapshot_completed", nil},
}

// Decode implements Codec.
func (DebeziumMySQL) Decode(partition, offset Map) []DisplayField {
	out := decodeWith(partition, offset, []fieldSpec{{"server", nil}}, mysqlOffsetFields)
	for i, f := range out {
		if f.Key == "file" && !f.Partition {
			if v, ok := offset.Get("file"); ok && v.Kind() == KindString && v.Text() != "" {
				out[i].Text = v.Text()
			}
		}
		if f.Key == "gtids" && !f.Partition {
			if v, ok := offset.Get("gtids"); ok && v.Kind() == KindString && v.Text() != "" {
				out[i].Text = v.Text()
			}
		}
	}
	return out
}

// Validate implements Codec. Numeric fields accept numbers or numeric
// strings, as Debezium's loader does. When file or pos changes, event and
// row carried over unchanged from the old position are refused: they count
// what was already emitted of the old transaction.
func (c DebeziumMySQL) Validate(partition, offset Map, previous *Map) error {
	p := &problems{codec: c.Name()}
	p.checkPartitionKeys(partition, []string{"server"})
	file, fileOK := p.requireString("offset", offset, "file", true, true)
	if _, ok := offset.Get("file"); !ok {
		p.list[len(p.list)-1].Message = "offset: \"file\" is required: Debezium fails at start with \"Source offset 'file' parameter is missing\""
	}
	p.requireInt(offset, "pos", true, lenientInt, 0)
	event, _ := p.requireInt(offset, "event", false, lenientInt, 0)
	row, _ := p.requireInt(offset, "row", false, lenientInt, 0)
	p.requireString("offset", offset, "gtids", false, false)
	p.requireInt(offset, "server_id", false, lenientInt, 0)
	p.requireInt(offset, "ts_sec", false, lenientInt, 0)
	p.requireBool(offset, "snapshot_completed")
	p.checkSnapshot(offset, previous)
	if fileOK && strings.ContainsAny(file, "/\\") {
		p.add("file", "format", "offset: \"file\" must be a binlog file name as SHOW BINARY LOGS lists it, not a path (got %q)", file)
	}

	if previous != nil && mysqlMoved(*previous, offset) {
		for _, k := range []struct {
			key string
			n   int64
		}{{"event", event}, {"row", row}} {
			if k.n <= 0 {
				continue
			}
			if pv, ok := previous.Get(k.key); ok {
				if pn, ok := pv.Int64Lenient(); ok && pn == k.n {
					p.add(k.key, "stale-counter", "offset: %q = %d counts what was already emitted of the transaction at the old position; when file/pos change, set it to 0 (or remove it) unless you mean to skip that many in the new transaction", k.key, k.n)
				}
			}
		}
	}
	return p.err()
}

func mysqlMoved(a, b Map) bool {
	for _, k := range []string{"file", "pos"} {
		va, oka := a.Get(k)
		vb, okb := b.Get(k)
		if oka != okb || (oka && va.Text() != vb.Text()) {
			return true
		}
	}
	return false
}

// MySQLBinlogPosition is where a Debezium MySQL or MariaDB offset resumes
// reading the binlog (file and pos); ok is false when it has none, or the
// file has no numeric suffix to order it by.
func MySQLBinlogPosition(offset Map) (file string, pos int64, ok bool) {
	file, _, pos, ok = binlogPosition(offset)
	return file, pos, ok
}

// binlogPosition is (file sequence, pos) for ordering; ok is false when the
// file name has no numeric suffix.
func binlogPosition(m Map) (file string, seq int64, pos int64, ok bool) {
	fv, found := m.Get("file")
	if !found || fv.Kind() != KindString {
		return "", 0, 0, false
	}
	file = fv.Text()
	dot := strings.LastIndexByte(file, '.')
	if dot < 0 {
		return file, 0, 0, false
	}
	seq, err := strconv.ParseInt(file[dot+1:], 10, 64)
	if err != nil {
		return file, 0, 0, false
	}
	pv, found := m.Get("pos")
	if !found {
		return file, seq, 0, false
	}
	pos, ok = pv.Int64Lenient()
	return file, seq, pos, ok
}

// SafetyNotes implements Codec.
func (DebeziumMySQL) SafetyNotes(partition Map, previous, offset *Map) []SafetyNote {
	notes := debeziumCommonNotes(previous, offset)
	if offset == nil {
		return notes
	}
	_, hasGTIDs := offset.Get("gtids")
	if previous != nil {
		if _, had := previous.Get("gtids"); had {
			hasGTIDs = true
		}
	}
	if hasGTIDs {
		text := "this offset carries a GTID set: with GTID mode ON (and gtid.ignore.on.recovery=false, the default) Debezium resumes from \"gtids\", not from file/pos; edit gtids (remove the transactions to replay) and keep file/pos consistent with it"
		if previous != nil && mysqlMoved(*previous, *offset) {
			pg, _ := previous.Get("gtids")
			ng, _ := offset.Get("gtids")
			if pg.Equal(ng) {
				text = "file/pos change but \"gtids\" does not: with GTID mode ON (and gtid.ignore.on.recovery=false, the default) Debezium resumes from the GTID set, so this change has NO effect; edit gtids (remove the transactions to replay)"
			}
		}
		notes = append(notes, SafetyNote{Code: "mysql-gtid-mode", Text: text})
	}
	if previous == nil {
		return notes
	}
	pf, pseq, ppos, ok1 := binlogPosition(*previous)
	nf, nseq, npos, ok2 := binlogPosition(*offset)
	if !ok1 || !ok2 || (pseq == nseq && ppos == npos && pf == nf) {
		return notes
	}
	if nseq < pseq || (nseq == pseq && npos < ppos) {
		notes = append(notes, SafetyNote{Code: "mysql-binlog-retention",
			Text: fmt.Sprintf("rewinding to %s:%d replays from there only if that binlog file still exists (SHOW BINARY LOGS) and, with GTIDs, none of the needed transactions are purged; otherwise the task fails with \"no longer available\" or re-snapshots, per snapshot.mode; pos should be a transaction start", nf, npos)})
	} else {
		notes = append(notes, SafetyNote{Code: "mysql-skip-forward",
			Text: fmt.Sprintf("changes between %s:%d and %s:%d are skipped; DDL in that range is left out of the schema history and can break decoding of later rows", pf, ppos, nf, npos)})
	}
	return notes
}

// MySQLResume is where a Debezium MariaDB or MySQL connector resumes with
// offset m: its binlog file and position, its GTID set ("" when none) and
// ts_sec (0 when absent). ok is false without a file.
func MySQLResume(m Map) (file string, pos int64, gtids string, tsSec int64, ok bool) {
	fv, found := m.Get("file")
	if !found || fv.Kind() != KindString || fv.Text() == "" {
		return "", 0, "", 0, false
	}
	if v, found := m.Get("pos"); found {
		pos, _ = v.Int64Lenient()
	}
	if v, found := m.Get("gtids"); found && v.Kind() == KindString {
		gtids = v.Text()
	}
	if v, found := m.Get("ts_sec"); found {
		tsSec, _ = v.Int64Lenient()
	}
	return fv.Text(), pos, gtids, tsSec, true
}
