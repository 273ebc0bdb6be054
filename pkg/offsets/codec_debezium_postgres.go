package offsets

import (
	"fmt"
	"strings"

	"github.com/offsetctl/offsetctl/internal/numfmt"

	"github.com/offsetctl/offsetctl/internal/pglsn"
)

// DebeziumPostgres is the codec of Debezium's PostgreSQL source: partition
// {"server": <topic.prefix>}, offset with LSNs as JSON integers (lsn,
// lsn_proc, lsn_commit), txId, ts_usec (microseconds) and snapshot markers.
type DebeziumPostgres struct{}

var _ Codec = DebeziumPostgres{}

// Name implements Codec.
func (DebeziumPostgres) Name() string { return "debezium-postgres" }

// Classes implements Codec.
func (DebeziumPostgres) Classes() []string {
	return []string{"io.debezium.connector.postgresql.PostgresConnector"}
}

// ParseLSN parses a PostgreSQL LSN written "X/Y" (two hexadecimal numbers of
// at most 8 digits) into (X<<32)+Y, the integer Debezium stores (pglsn.Parse).
func ParseLSN(s string) (uint64, error) { return pglsn.Parse(s) }

// FormatLSN writes an LSN the way PostgreSQL does: "X/Y", upper-case
// hexadecimal without leading zeros (pglsn.Format).
func FormatLSN(lsn uint64) string { return pglsn.Format(lsn) }

func renderLSN(v Value) string {
	n, ok := v.Int64()
	if !ok || n < 0 {
		return v.String()
	}
	return fmt.Sprintf("%s (%s)", FormatLSN(uint64(n)), numfmt.Thousands(n))
}

var postgresOffsetFields = []fieldSpec{
	{"lsn", renderLSN},
	{"lsn_proc", renderLSN},
	{"lsn_commit", renderLSN},
	{"lsn_events_processed", renderThousands},
	{"txId", nil},
	{"ts_usec", renderUnixMicros},
	{"xmin", nil},
	{"messageType", nil},
	{"snapshot", nil},
	{"last_snapshot_record", nil},
	{"snapshot_completed", nil},
}

// Decode implements Codec.
func (DebeziumPostgres) Decode(partition, offset Map) []DisplayField {
	return decodeWith(partition, offset, []fieldSpec{{"server", nil}}, postgresOffsetFields)
}

var postgresLSNKeys = []string{"lsn", "lsn_proc", "lsn_commit"}

// Validate implements Codec. Besides types, it checks that a moved position
// is coherent: when any LSN changes, the new lsn, lsn_proc and lsn_commit
// must be one value (a commit LSN), and lsn_events_processed must not be
// carried over.
func (c DebeziumPostgres) Validate(partition, offset Map, previous *Map) error {
	p := &problems{codec: c.Name()}
	p.checkPartitionKeys(partition, []string{"server"})
	_, hasLSN := offset.Get("lsn")
	_, hasProc := offset.Get("lsn_proc")
	if !hasLSN && !hasProc {
		p.add("lsn", "missing", "offset: \"lsn\" (or \"lsn_proc\") is required: it is where streaming resumes")
	}
	lsns := map[string]int64{}
	for _, k := range postgresLSNKeys {
		if n, ok := p.requireInt(offset, k, false, strictInt, 0); ok {
			lsns[k] = n
		}
	}
	p.requireInt(offset, "txId", false, strictInt, 0)
	p.requireInt(offset, "ts_usec", true, strictInt, 0)
	p.requireInt(offset, "xmin", false, strictInt, 0)
	events, hasEvents := p.requireInt(offset, "lsn_events_processed", false, strictInt, 0)
	p.requireString("offset", offset, "messageType", false, false)
	for _, k := range []string{"last_snapshot_record", "snapshot_completed"} {
		p.requireBool(offset, k)
	}
	p.checkSnapshot(offset, previous)

	if previous != nil && postgresMoved(*previous, offset) {
		first, hasFirst := int64(0), false
		for _, k := range postgresLSNKeys {
			if n, ok := lsns[k]; ok && !hasFirst {
				first, hasFirst = n, true
			}
		}
		var parts []string
		consistent := true
		for _, k := range postgresLSNKeys {
			if n, ok := lsns[k]; ok {
				parts = append(parts, fmt.Sprintf("%s=%s", k, FormatLSN(uint64(n))))
				if n != first {
					consistent = false
				}
			}
		}
		if !consistent {
			p.add("lsn", "inconsistent", "offset: the position moves, so lsn, lsn_proc and lsn_commit must all be the same commit LSN (got %s): Debezium resumes from lsn_proc when present and skips what lsn_commit says was sent, so changing one of them alone does not move it as intended", strings.Join(parts, ", "))
		}
		if hasEvents && events > 0 {
			if pv, ok := previous.Get("lsn_events_processed"); ok && pv.Equal(Int(events)) {
				p.add("lsn_events_processed", "stale-counter", "offset: \"lsn_events_processed\" = %d counts events already emitted at the old LSN; remove it when the position moves", events)
			}
		}
	}
	return p.err()
}

// postgresMoved reports whether any LSN differs between the two offsets.
func postgresMoved(a, b Map) bool {
	for _, k := range postgresLSNKeys {
		va, oka := a.Get(k)
		vb, okb := b.Get(k)
		if oka != okb || (oka && !va.Equal(vb)) {
			return true
		}
	}
	return false
}

// postgresResume returns the LSN streaming resumes from (lsn_proc, else lsn)
// and the last flushed commit (lsn_commit, else that).
func postgresResume(m Map) (resume, commit int64, ok bool) {
	for _, k := range []string{"lsn_proc", "lsn"} {
		if v, found := m.Get(k); found {
			if resume, ok = v.Int64(); ok {
				break
			}
		}
	}
	if !ok {
		return 0, 0, false
	}
	commit = resume
	if v, found := m.Get("lsn_commit"); found {
		if n, ok2 := v.Int64(); ok2 {
			commit = n
		}
	}
	return resume, commit, true
}

// SafetyNotes implements Codec.
func (DebeziumPostgres) SafetyNotes(partition Map, previous, offset *Map) []SafetyNote {
	notes := debeziumCommonNotes(previous, offset)
	if offset == nil {
		return append(notes, SafetyNote{Code: "postgres-slot-kept",
			Text: "the replication slot is not touched: after the snapshot, streaming starts from the slot's confirmed_flush_lsn"})
	}
	to, _, ok := postgresResume(*offset)
	if !ok {
		return notes
	}
	if previous == nil {
		return append(notes, SafetyNote{Code: "postgres-slot-bounds-start",
			Text: fmt.Sprintf("streaming starts at the greater of %s and the replication slot's confirmed_flush_lsn (see pg_replication_slots)", FormatLSN(uint64(to)))})
	}
	_, fromCommit, ok := postgresResume(*previous)
	if !ok {
		return notes
	}
	switch {
	case to < fromCommit:
		notes = append(notes, SafetyNote{Code: "postgres-rewind-below-slot",
			Text: fmt.Sprintf("the new position %s is below the stored commit position %s: PostgreSQL streams from the greater of the requested LSN and the slot's confirmed_flush_lsn, which Debezium advances to lsn_commit after each offset commit, so changes committed in between are NOT replayed and no error is raised (unless lsn.flush.mode=manual was set before they were flushed); the task also fails at start if the slot's restart_lsn is above %s; to re-send rows use an incremental snapshot",
				FormatLSN(uint64(to)), FormatLSN(uint64(fromCommit)), FormatLSN(uint64(to)))})
	case to > fromCommit:
		notes = append(notes, SafetyNote{Code: "postgres-skip-forward",
			Text: fmt.Sprintf("changes between %s and %s are skipped, for good once Debezium flushes the new position to the slot; pick a commit LSN (LSNs are only totally ordered for commits)",
				FormatLSN(uint64(fromCommit)), FormatLSN(uint64(to)))})
	}
	return notes
}

// PostgresResumeLSN returns the LSN a Debezium PostgreSQL connector resumes
// streaming from with offset m (lsn_proc, else lsn).
func PostgresResumeLSN(m Map) (uint64, bool) {
	resume, _, ok := postgresResume(m)
	if !ok || resume < 0 {
		return 0, false
	}
	return uint64(resume), true
}
