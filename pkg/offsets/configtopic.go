package offsets

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// DefaultConfigTopic is Kafka Connect's default config.storage.topic.
const DefaultConfigTopic = "connect-configs"

// ConnectorHistory is what a Kafka Connect config topic tells of one
// connector name (KafkaConfigBackingStore's records): when the connector now
// configured under it was created, whether it was deleted, the target state
// last written, and whether an exactly-once source worker fenced its tasks.
type ConnectorHistory struct {
	Name string
	// Created is the timestamp of the first connector-NAME record after
	// the last deletion (tombstone) of that key: when the connector that
	// now has the name was created. Zero when it has none.
	Created time.Time
	// Deleted is set when the last connector-NAME record is a tombstone:
	// no connector has the name now. DeletedAt is that record's time.
	Deleted   bool
	DeletedAt time.Time
	// TargetState is the last target-state-NAME record's state (its
	// "state.v2" when present: STARTED, PAUSED or STOPPED), and
	// TargetStateAt that record's timestamp.
	TargetState   string
	TargetStateAt time.Time
	// TaskCountRecord is set when a tasks-fencing-NAME record exists: the
	// leader of a worker with exactly.once.source.support=enabled writes
	// one each time it fences the connector's tasks before starting them
	// (DistributedHerder.fenceZombieSourceTasks); TaskCountAt is its time.
	TaskCountRecord bool
	TaskCountAt     time.Time
}

// ConfigSnapshot is the connectors' history read from a config topic.
type ConfigSnapshot struct {
	Topic      string
	Connectors map[string]*ConnectorHistory
}

// Connector returns the history of name, nil when the topic never had it.
func (s *ConfigSnapshot) Connector(name string) *ConnectorHistory {
	if s == nil {
		return nil
	}
	return s.Connectors[name]
}

// ReadConfigTopic reads a Kafka Connect config topic from its start to its
// end, for each connector name its creation, deletion, target state and
// task-count records. It reads the way the store reads the offsets topic
// (its own short-lived consumer, read_committed) and never writes. Records
// other than those are skipped; a value it cannot parse leaves the field
// it would set empty.
func ReadConfigTopic(ctx context.Context, cl *kgo.Client, topic string) (*ConfigSnapshot, error) {
	if cl == nil {
		return nil, errNoClient
	}
	if topic == "" {
		topic = DefaultConfigTopic
	}
	ranges, err := listRanges(ctx, cl, topic)
	if err != nil {
		return nil, fmt.Errorf("reading the Kafka Connect config topic: %w", err)
	}
	snap := &ConfigSnapshot{Topic: topic, Connectors: map[string]*ConnectorHistory{}}
	of := func(name string) *ConnectorHistory {
		h := snap.Connectors[name]
		if h == nil {
			h = &ConnectorHistory{Name: name}
			snap.Connectors[name] = h
		}
		return h
	}
	err = scanTopic(ctx, cl, topic, ranges, func(_ int32, r *kgo.Record) {
		key, ts := string(r.Key), r.Timestamp.UTC()
		switch {
		case strings.HasPrefix(key, "connector-"):
			h := of(strings.TrimPrefix(key, "connector-"))
			if r.Value == nil {
				h.Deleted, h.DeletedAt, h.Created = true, ts, time.Time{}
				return
			}
			if h.Deleted || h.Created.IsZero() {
				h.Created = ts
			}
			h.Deleted, h.DeletedAt = false, time.Time{}
		case strings.HasPrefix(key, "target-state-"):
			h := of(strings.TrimPrefix(key, "target-state-"))
			h.TargetState, h.TargetStateAt = targetState(r.Value), ts
		case strings.HasPrefix(key, "tasks-fencing-"):
			h := of(strings.TrimPrefix(key, "tasks-fencing-"))
			if r.Value != nil {
				h.TaskCountRecord, h.TaskCountAt = true, ts
			}
		}
	})
	if err != nil {
		return nil, err
	}
	return snap, nil
}

// targetState reads a target-state record's value: {"state": ...,
// "state.v2": ...} (3.5+ writes STOPPED as state PAUSED, state.v2 STOPPED,
// for older workers' sake); "" for a tombstone or a value it cannot read.
func targetState(value []byte) string {
	var v struct {
		State   string `json:"state"`
		StateV2 string `json:"state.v2"`
	}
	if value == nil || json.Unmarshal(value, &v) != nil {
		return ""
	}
	if v.StateV2 != "" {
		return v.StateV2
	}
	return v.State
}
