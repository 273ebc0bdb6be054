package plan

import (
	"fmt"
	"strconv"

	"github.com/offsetctl/offsetctl/pkg/reconcile"
)

// reconcileV1 is a reconcile operation's observation in the plan file: keys
// and row hashes, never row values.
type reconcileV1 struct {
	Source             string            `json:"source"`
	Sink               string            `json:"sink"`
	Table              string            `json:"table"`
	SinkTable          string            `json:"sink_table"`
	KeyColumns         []string          `json:"key_columns"`
	Columns            []string          `json:"columns"`
	Renamed            map[string]string `json:"renamed,omitempty"`
	Ignored            []string          `json:"ignored,omitempty"`
	TimestampPrecision string            `json:"timestamp_precision,omitempty"`
	Where              string            `json:"where,omitempty"`
	Repair             string            `json:"repair"`
	DeleteExtra        bool              `json:"delete_extra"`
	MaxChanges         int64             `json:"max_changes,omitempty"`
	SignalTable        string            `json:"signal_table,omitempty"`
	SourceRows         int64             `json:"source_rows"`
	SinkRows           int64             `json:"sink_rows"`
	SourceChecksum     checksumV1        `json:"source_checksum"`
	SinkChecksum       checksumV1        `json:"sink_checksum"`
	DiffColumns        map[string]int64  `json:"diff_columns,omitempty"`
	By                 string            `json:"by,omitempty"`
	Partitions         []partitionV1     `json:"partitions,omitempty"`
	Missing            []rowDiffV1       `json:"missing"`
	Extra              []rowDiffV1       `json:"extra"`
	Mismatched         []rowDiffV1       `json:"mismatched"`
}

type checksumV1 struct {
	Rows int64  `json:"rows"`
	Sum  string `json:"sum"`
}

// partitionV1 is one partition's checksums on both sides.
type partitionV1 struct {
	Partition string     `json:"partition"`
	Source    checksumV1 `json:"source"`
	Sink      checksumV1 `json:"sink"`
}

type rowDiffV1 struct {
	Key        []string `json:"key"`
	SourceHash string   `json:"source_hash,omitempty"`
	SinkHash   string   `json:"sink_hash,omitempty"`
	Columns    []string `json:"columns,omitempty"`
}

func reconcileToWire(d *ReconcileDiff) *reconcileV1 {
	if d == nil {
		return nil
	}
	rows := func(l []reconcile.Diff) []rowDiffV1 {
		out := make([]rowDiffV1, len(l))
		for i, df := range l {
			out[i] = rowDiffV1{Key: nonNil(df.Key), SourceHash: df.SourceHash, SinkHash: df.SinkHash, Columns: df.Columns}
		}
		return out
	}
	return &reconcileV1{Source: d.Source, Sink: d.Sink, Table: d.Table, SinkTable: d.SinkTable, KeyColumns: nonNil(d.KeyColumns),
		Columns: nonNil(d.Columns), Renamed: d.Renamed, Ignored: d.Ignored, TimestampPrecision: d.TimestampPrecision, Where: d.Where,
		Repair: d.Repair, DeleteExtra: d.DeleteExtra, MaxChanges: d.MaxChanges, SignalTable: d.SignalTable,
		SourceRows: d.SourceRows, SinkRows: d.SinkRows,
		SourceChecksum: checksumV1{Rows: d.SourceChecksum.Rows, Sum: d.SourceChecksum.Hex()},
		SinkChecksum:   checksumV1{Rows: d.SinkChecksum.Rows, Sum: d.SinkChecksum.Hex()},
		DiffColumns:    d.DiffColumns, Missing: rows(d.Missing), Extra: rows(d.Extra), Mismatched: rows(d.Mismatched),
		By: d.By, Partitions: partitionsToWire(d.Partitions)}
}

func partitionsToWire(ps []reconcile.PartitionSum) []partitionV1 {
	var out []partitionV1
	for _, p := range ps {
		out = append(out, partitionV1{Partition: p.Partition,
			Source: checksumV1{Rows: p.Source.Rows, Sum: p.Source.Hex()}, Sink: checksumV1{Rows: p.Sink.Rows, Sum: p.Sink.Hex()}})
	}
	return out
}

func reconcileFromWire(addr string, w *reconcileV1) (*ReconcileDiff, error) {
	if w == nil {
		return nil, nil
	}
	sum := func(what string, c checksumV1) (reconcile.Checksum, error) {
		v, err := strconv.ParseUint(c.Sum, 16, 64)
		if err != nil || len(c.Sum) != 16 {
			return reconcile.Checksum{}, fmt.Errorf("operation %s: %s %q is not 16 hex digits", addr, what, c.Sum)
		}
		return reconcile.Checksum{Rows: c.Rows, Sum: v}, nil
	}
	d := &ReconcileDiff{Source: w.Source, Sink: w.Sink, Table: w.Table, SinkTable: w.SinkTable, KeyColumns: w.KeyColumns,
		Columns: w.Columns, Renamed: w.Renamed, Ignored: w.Ignored, TimestampPrecision: w.TimestampPrecision, Where: w.Where,
		Repair: w.Repair, DeleteExtra: w.DeleteExtra, MaxChanges: w.MaxChanges, SignalTable: w.SignalTable,
		SourceRows: w.SourceRows, SinkRows: w.SinkRows, DiffColumns: w.DiffColumns, By: w.By}
	var err error
	if len(w.Partitions) > 0 && w.By == "" {
		return nil, fmt.Errorf("operation %s: partitions without by", addr)
	}
	for _, p := range w.Partitions {
		ps := reconcile.PartitionSum{Partition: p.Partition}
		if ps.Source, err = sum("partition "+p.Partition+" source", p.Source); err != nil {
			return nil, err
		}
		if ps.Sink, err = sum("partition "+p.Partition+" sink", p.Sink); err != nil {
			return nil, err
		}
		d.Partitions = append(d.Partitions, ps)
	}
	if d.SourceChecksum, err = sum("source_checksum", w.SourceChecksum); err != nil {
		return nil, err
	}
	if d.SinkChecksum, err = sum("sink_checksum", w.SinkChecksum); err != nil {
		return nil, err
	}
	switch d.Repair {
	case RepairNone, RepairUpsert, RepairSnapshotSignal:
	default:
		return nil, fmt.Errorf("operation %s: unknown repair %q", addr, d.Repair)
	}
	rows := func(what string, l []rowDiffV1) ([]reconcile.Diff, error) {
		out := make([]reconcile.Diff, 0, len(l))
		for _, r := range l {
			if len(r.Key) != len(d.KeyColumns) {
				return nil, fmt.Errorf("operation %s: a %s row has %d key values for %d key columns", addr, what, len(r.Key), len(d.KeyColumns))
			}
			out = append(out, reconcile.Diff{Key: r.Key, SourceHash: r.SourceHash, SinkHash: r.SinkHash, Columns: r.Columns})
		}
		return out, nil
	}
	if d.Missing, err = rows("missing", w.Missing); err != nil {
		return nil, err
	}
	if d.Extra, err = rows("extra", w.Extra); err != nil {
		return nil, err
	}
	if d.Mismatched, err = rows("mismatched", w.Mismatched); err != nil {
		return nil, err
	}
	return d, nil
}
