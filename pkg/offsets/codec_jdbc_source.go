package offsets

import (
	"fmt"
	"time"

	"github.com/offsetctl/offsetctl/internal/numfmt"
)

// JDBCSource is the codec of Confluent's JDBC source connector: partition
// {"table": ...} (with "protocol": "1" for fully qualified table names) or
// {"query": ...}; offset with "incrementing" (the last id seen),
// "timestamp" (milliseconds since the epoch) and "timestamp_nanos" (the
// nanoseconds of that second, replacing its milliseconds), each read by a
// cast to a Java Long.
type JDBCSource struct{}

var _ Codec = JDBCSource{}

// Name implements Codec.
func (JDBCSource) Name() string { return "jdbc-source" }

// Classes implements Codec.
func (JDBCSource) Classes() []string {
	return []string{"io.confluent.connect.jdbc.JdbcSourceConnector"}
}

// Decode implements Codec. The timestamp is shown with its nanoseconds when
// timestamp_nanos is present.
func (JDBCSource) Decode(partition, offset Map) []DisplayField {
	renderTS := renderUnixMillis
	if nv, ok := offset.Get("timestamp_nanos"); ok {
		if nanos, ok := nv.Int64(); ok && nanos >= 0 && nanos < 1e9 {
			renderTS = func(v Value) string {
				ms, ok := v.Int64()
				if !ok {
					return v.String()
				}
				sec := ms / 1000
				if ms%1000 < 0 {
					sec--
				}
				return time.Unix(sec, nanos).UTC().Format("2006-01-02T15:04:05.000000000Z")
			}
		}
	}
	return decodeWith(partition, offset,
		[]fieldSpec{{"protocol", nil}, {"table", nil}, {"query", nil}},
		[]fieldSpec{{"incrementing", renderThousands}, {"timestamp", renderTS}, {"timestamp_nanos", nil}})
}

// Validate implements Codec.
func (c JDBCSource) Validate(partition, offset Map, previous *Map) error {
	p := &problems{codec: c.Name()}
	_, hasTable := partition.Get("table")
	_, hasQuery := partition.Get("query")
	switch {
	case hasTable && hasQuery:
		p.add("query", "shape", "partition: give either \"table\" or \"query\", not both")
	case hasQuery:
		p.checkPartitionKeys(partition, []string{"query"})
	default:
		p.checkPartitionKeys(partition, []string{"table"}, "protocol")
	}
	_, hasInc := offset.Get("incrementing")
	_, hasTS := offset.Get("timestamp")
	if !hasInc && !hasTS {
		p.add("", "missing", "offset: \"incrementing\" or \"timestamp\" (or both) is required")
	}
	p.requireInt(offset, "incrementing", false, strictInt, -1<<63)
	ms, msOK := p.requireInt(offset, "timestamp", false, strictInt, -1<<63)
	nanos, nanosOK := p.requireInt(offset, "timestamp_nanos", false, strictInt, 0)
	if _, ok := offset.Get("timestamp_nanos"); ok && !hasTS {
		p.add("timestamp_nanos", "missing", "offset: \"timestamp_nanos\" needs \"timestamp\" (it only replaces the fraction of that second)")
	}
	if nanosOK && nanos >= 1e9 {
		p.add("timestamp_nanos", "range", "offset: \"timestamp_nanos\" must be below 1,000,000,000 (the nanoseconds within the second), got %s", numfmt.Thousands(nanos))
		nanosOK = false
	}
	if msOK && nanosOK {
		msPart := ms % 1000
		if msPart < 0 {
			msPart += 1000
		}
		if msPart != nanos/1e6 {
			p.add("timestamp_nanos", "inconsistent", "offset: \"timestamp_nanos\" = %d replaces the fraction of the second of \"timestamp\" = %d, whose milliseconds are %d: they disagree (%d ms vs %d ns); set both from the same instant", nanos, ms, msPart, msPart, nanos)
		}
	}
	return p.err()
}

// SafetyNotes implements Codec.
func (JDBCSource) SafetyNotes(partition Map, previous, offset *Map) []SafetyNote {
	if offset == nil {
		return []SafetyNote{{Code: "jdbc-offset-deleted", Text: "without an offset the connector reads the table again from its configured start (timestamp.initial or the beginning)"}}
	}
	if previous == nil {
		return nil
	}
	var notes []SafetyNote
	for _, k := range []string{"incrementing", "timestamp"} {
		pv, ok1 := previous.Get(k)
		nv, ok2 := offset.Get(k)
		pn, ok3 := pv.Int64()
		nn, ok4 := nv.Int64()
		if !ok1 || !ok2 || !ok3 || !ok4 || pn == nn {
			continue
		}
		if nn < pn {
			notes = append(notes, SafetyNote{Code: "jdbc-rewind", Text: fmt.Sprintf("%q moves back from %d to %d: rows after the new value are read and emitted again (the sink must be idempotent)", k, pn, nn)})
		} else {
			notes = append(notes, SafetyNote{Code: "jdbc-skip-forward", Text: fmt.Sprintf("%q moves forward from %d to %d: rows up to the new value are never emitted", k, pn, nn)})
		}
	}
	return notes
}
