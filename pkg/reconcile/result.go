package reconcile

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/offsetctl/offsetctl/internal/pglsn"
)

// Key is one row's key: the canonical text of each key column, in the order
// of Result.KeyColumns. Integers are in decimal, numerics without trailing
// zeros, timestamps in UTC at the compared precision, text as it is. It is
// exact and serialises to JSON as an array of strings.
type Key []string

// String renders the key for people: "5", or "(a, 5)" for composite keys,
// with values quoted when they would be ambiguous.
func (k Key) String() string {
	parts := make([]string, len(k))
	for i, v := range k {
		parts[i] = quoteValue(v)
	}
	if len(parts) == 1 {
		return parts[0]
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

// quoteValue quotes v unless it is plain: letters, digits and a few
// punctuation marks that cannot be confused with separators.
func quoteValue(v string) string {
	if v == "" {
		return `""`
	}
	for _, r := range v {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.:+@/", r)) {
			return strconv.Quote(v)
		}
	}
	return v
}

// DiffKind is the kind of a differing row.
type DiffKind string

// The kinds of differing rows.
const (
	Missing    DiffKind = "missing"    // in the source, not in the sink
	Extra      DiffKind = "extra"      // in the sink, not in the source
	Mismatched DiffKind = "mismatched" // on both sides with different content
)

// Diff is one differing row.
type Diff struct {
	Key Key `json:"key"`
	// SourceHash and SinkHash are the 64-bit row hashes (16 hex digits) of
	// the side(s) that have the row.
	SourceHash string `json:"source_hash,omitempty"`
	SinkHash   string `json:"sink_hash,omitempty"`
	// Columns names the source columns whose values differ (mismatched rows).
	Columns []string `json:"columns,omitempty"`
	// SourceValues and SinkValues hold the canonical text of each compared
	// column (nil for NULL), only with Spec.ShowValues.
	SourceValues map[string]*string `json:"source_values,omitempty"`
	SinkValues   map[string]*string `json:"sink_values,omitempty"`
}

// Checksum is an order-independent checksum of a set of rows: the row count
// and the sum of 64-bit row hashes modulo 2^64.
type Checksum struct {
	Rows int64
	Sum  uint64
}

// MarshalJSON writes {"rows": N, "sum": "16 hex digits"}.
func (c Checksum) MarshalJSON() ([]byte, error) {
	return []byte(fmt.Sprintf(`{"rows":%d,"sum":%q}`, c.Rows, c.Hex())), nil
}

// Hex renders the sum as 16 hex digits.
func (c Checksum) Hex() string { return fmt.Sprintf("%016x", c.Sum) }

// String renders count and sum.
func (c Checksum) String() string { return fmt.Sprintf("%d:%s", c.Rows, c.Hex()) }

// PartitionSum is the checksum of one partition on both sides.
type PartitionSum struct {
	// Partition is the day (YYYY-MM-DD, UTC) or the lower key bound of the
	// range ("<" followed by the first bound for keys below every bound).
	Partition string   `json:"partition"`
	Source    Checksum `json:"source"`
	Sink      Checksum `json:"sink"`
}

// Equal says whether the partition matches.
func (p PartitionSum) Equal() bool { return p.Source == p.Sink }

// Stats describes the work Compare did.
type Stats struct {
	// Strategy is how the rows were found: "none" (checksums equal),
	// "cells" (differing cells fetched), "split" (cells split at least
	// once), "stream" (drift over most cells: the whole table streamed).
	Strategy     string        `json:"strategy,omitempty"`
	Cells        int           `json:"cells,omitempty"`
	DiffCells    int           `json:"diff_cells,omitempty"`
	Levels       int           `json:"levels,omitempty"`
	RowsHashed   int64         `json:"rows_hashed"`
	RowsStreamed int64         `json:"rows_streamed"`
	Queries      int           `json:"queries"`
	Elapsed      time.Duration `json:"-"`
}

// Result is what Compare found. It carries keys and row hashes, never row
// values unless Spec.ShowValues asked for them.
type Result struct {
	Mode       Mode      `json:"mode"`
	Source     TableName `json:"source"`
	Sink       TableName `json:"sink"`
	KeyColumns []string  `json:"key_columns"`
	// Columns are the compared source columns (keys included), Renamed maps
	// source to sink names where they differ, Ignored lists the columns left
	// out (of either side).
	Columns []string          `json:"columns"`
	Renamed map[string]string `json:"renamed,omitempty"`
	Ignored []string          `json:"ignored,omitempty"`
	// TimestampPrecision gives, per compared timestamp column, the number of
	// fractional second digits compared.
	TimestampPrecision map[string]int `json:"timestamp_precision,omitempty"`

	SourceRows int64 `json:"source_rows"`
	SinkRows   int64 `json:"sink_rows"`
	// SourceChecksum and SinkChecksum are set in the checksum and rows modes.
	SourceChecksum *Checksum      `json:"source_checksum,omitempty"`
	SinkChecksum   *Checksum      `json:"sink_checksum,omitempty"`
	Partitions     []PartitionSum `json:"partitions,omitempty"`

	// Missing, Extra and Mismatched are sorted by key; each holds at most
	// Spec.MaxKeys entries, while the counts are exact.
	Missing         []Diff `json:"missing,omitempty"`
	Extra           []Diff `json:"extra,omitempty"`
	Mismatched      []Diff `json:"mismatched,omitempty"`
	MissingCount    int64  `json:"missing_count"`
	ExtraCount      int64  `json:"extra_count"`
	MismatchedCount int64  `json:"mismatched_count"`
	Truncated       bool   `json:"truncated,omitempty"`
	// Settled is the number of differing keys that were equal when checked
	// again after Spec.Settle.
	Settled int64 `json:"settled,omitempty"`
	// SourceSnapshot is where the source's log stood when its snapshot
	// was taken: every change the source side saw is at or before it. Not
	// in diff's JSON (it differs on every run); check reports it.
	SourceSnapshot SnapshotPosition `json:"-"`
	// ChangedSince is the number of differing keys Spec.RecheckSource took
	// out: their source row changed after the comparison's snapshot.
	ChangedSince int64 `json:"changed_since,omitempty"`

	Stats Stats `json:"stats"`
}

// DifferingKeys is the set of the differing keys the result kept (the rows
// mode keeps up to Spec.MaxKeys), each as one string.
func (r *Result) DifferingKeys() map[string]bool {
	out := map[string]bool{}
	for _, l := range [][]Diff{r.Missing, r.Extra, r.Mismatched} {
		for _, df := range l {
			out[keyString(df.Key)] = true
		}
	}
	return out
}

// Drift says whether any difference was found.
func (r *Result) Drift() bool {
	switch r.Mode {
	case ModeCounts:
		return r.SourceRows != r.SinkRows
	case ModeChecksum:
		if r.SourceChecksum != nil && r.SinkChecksum != nil && *r.SourceChecksum != *r.SinkChecksum {
			return true
		}
		for _, p := range r.Partitions {
			if !p.Equal() {
				return true
			}
		}
		return r.SourceRows != r.SinkRows
	}
	return r.MissingCount+r.ExtraCount+r.MismatchedCount > 0
}

// SnapshotPosition is where a source database's change log stood when a
// comparison's source snapshot was taken: every change the snapshot holds
// is at or before it. A PostgreSQL source gives a WAL position
// (pg_current_wal_insert_lsn() in the snapshot's first statement; on a
// standby, the last replayed position). A MariaDB source gives the binlog
// file and position of its consistent snapshot (binlog_snapshot_file and
// binlog_snapshot_position, read in the snapshot's transaction) and
// @@gtid_binlog_pos; a MySQL source, which does not say where its snapshot
// is, the binlog position read just after the snapshot began (at or past
// it). The zero value is "not known".
type SnapshotPosition struct {
	// LSN is a PostgreSQL source's WAL position.
	LSN uint64
	// Binlog says the source is MariaDB/MySQL: BinlogFile and BinlogPos
	// (empty and 0 when the binary log is off) and GTID hold its position.
	Binlog     bool
	BinlogFile string
	BinlogPos  int64
	// GTID is MariaDB's @@gtid_binlog_pos (MySQL: the executed GTID set)
	// when the snapshot began; empty without GTIDs.
	GTID string
	// Unknown says why a MariaDB/MySQL source's position is not known (no
	// binary log; a MySQL user without REPLICATION CLIENT); empty when it
	// is known.
	Unknown string
}

// Known says whether the server said where its log stood.
func (p SnapshotPosition) Known() bool {
	if p.Binlog {
		return p.BinlogFile != ""
	}
	return p.LSN > 0
}

// String is the position as Debezium's offsets write it: X/Y for a WAL
// position, file:pos for a binlog one (with the GTID position when there
// is one); empty when not known.
func (p SnapshotPosition) String() string {
	switch {
	case !p.Known():
		return ""
	case p.Binlog && p.GTID != "":
		return fmt.Sprintf("%s:%d (gtid %s)", p.BinlogFile, p.BinlogPos, p.GTID)
	case p.Binlog:
		return fmt.Sprintf("%s:%d", p.BinlogFile, p.BinlogPos)
	}
	return pglsn.Format(p.LSN)
}
