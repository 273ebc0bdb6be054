package apply

import (
	"encoding/json"
	"time"

	"github.com/offsetctl/offsetctl/pkg/offsets"
	"github.com/offsetctl/offsetctl/pkg/plan"
)

// backupV1 is the offset backup journaled with each operation: every offset
// the connector had when apply re-observed it, not only those the operation
// changes, so that the state can undo even a manual change made outside
// offsetctl. Offsets are exact (offsets.Map); key bytes are present when they
// were read from the offsets topic.
type backupV1 struct {
	FormatVersion int              `json:"format_version"`
	TakenAt       string           `json:"taken_at"`
	Connector     string           `json:"connector"`
	Type          string           `json:"type"`
	Class         string           `json:"class"`
	ReadVia       string           `json:"read_via"`
	Source        []backupSourceV1 `json:"source_offsets,omitempty"`
	Group         string           `json:"group,omitempty"`
	SinkV1        []backupSinkV1   `json:"sink_offsets,omitempty"`
}

type backupSourceV1 struct {
	Key       string      `json:"key,omitempty"`
	Partition offsets.Map `json:"partition"`
	Offset    offsets.Map `json:"offset"`
}

type backupSinkV1 struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Committed int64  `json:"committed"`
	LogStart  int64  `json:"log_start"`
	LogEnd    int64  `json:"log_end"`
}

func backupContent(obs *plan.ConnectorObservation, now time.Time) ([]byte, error) {
	b := backupV1{FormatVersion: 1, TakenAt: now.UTC().Format(time.RFC3339Nano), Connector: obs.Name, Type: string(obs.Type),
		Class: obs.Class, ReadVia: string(obs.ReadVia), Group: obs.Group}
	for _, so := range obs.Source {
		b.Source = append(b.Source, backupSourceV1{Key: string(so.Key), Partition: so.Partition, Offset: so.Offset})
	}
	for _, sp := range obs.Sink {
		b.SinkV1 = append(b.SinkV1, backupSinkV1{Topic: sp.Topic, Partition: sp.Partition, Committed: sp.Committed, LogStart: sp.LogStart, LogEnd: sp.LogEnd})
	}
	return json.Marshal(b)
}
