package sandbox

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"
)

// publish writes what Connect keeps about a connector in its config topic
// (KafkaConfigBackingStore: connector-, target-state-, task-, commit-
// records) and status topic (KafkaStatusBackingStore: status-connector-,
// status-task-), or tombstones once it is deleted. The emulator never reads
// them back; they are there for tools and people that look. Writes are
// asynchronous and best effort.
func (w *worker) publish(name string) {
	if w.internal == nil {
		return
	}
	type rec struct {
		topic, key string
		value      any // nil: tombstone
	}
	var recs []rec
	w.mu.Lock()
	c := w.conns[name]
	if c == nil {
		w.mu.Unlock()
		for _, k := range []string{"connector-" + name, "target-state-" + name} {
			recs = append(recs, rec{topic: DefaultConfigTopic, key: k})
		}
		recs = append(recs, rec{topic: DefaultStatusTopic, key: "status-connector-" + name})
	} else {
		state := map[string]any{"state": "STARTED"}
		switch c.target {
		case targetPaused:
			state = map[string]any{"state": "PAUSED"}
			if w.v.hasStop() {
				state["state.v2"] = "PAUSED"
			}
		case targetStopped:
			state = map[string]any{"state": "PAUSED", "state.v2": "STOPPED"}
		default:
			if w.v.hasStop() {
				state["state.v2"] = "STARTED"
			}
		}
		recs = append(recs,
			rec{DefaultConfigTopic, "connector-" + name, map[string]any{"properties": copyConfig(c.config)}},
			rec{DefaultConfigTopic, "target-state-" + name, state})
		for i, tc := range c.taskConfigs {
			recs = append(recs, rec{DefaultConfigTopic, fmt.Sprintf("task-%s-%d", name, i), map[string]any{"properties": copyConfig(tc)}})
		}
		recs = append(recs, rec{DefaultConfigTopic, "commit-" + name, map[string]any{"tasks": len(c.taskConfigs)}})
		if w.sb.opts.ExactlyOnceSource && c.plugin.typ == typeSource && len(c.taskConfigs) > 0 {
			// DistributedHerder.fenceZombieSourceTasks → putTaskCountRecord.
			recs = append(recs, rec{DefaultConfigTopic, "tasks-fencing-" + name, map[string]any{"task-count": len(c.taskConfigs)}})
		}
		st := w.statusLocked(c)
		status := func(state, trace string) map[string]any {
			m := map[string]any{"state": state, "trace": nil, "worker_id": w.workerID, "generation": 1}
			if trace != "" {
				m["trace"] = trace
			}
			return m
		}
		recs = append(recs, rec{DefaultStatusTopic, "status-connector-" + name, status(st.Connector.State, st.Connector.Trace)})
		for _, ts := range st.Tasks {
			recs = append(recs, rec{DefaultStatusTopic, fmt.Sprintf("status-task-%s-%d", name, ts.ID), status(ts.State, ts.Trace)})
		}
		w.mu.Unlock()
	}
	for _, r := range recs {
		kr := &kgo.Record{Topic: r.topic, Key: []byte(r.key)}
		if r.value != nil {
			b, err := marshal(r.value)
			if err != nil {
				continue
			}
			kr.Value = b
		}
		w.internal.Produce(context.Background(), kr, func(_ *kgo.Record, err error) {
			if err != nil {
				w.logf("writing %s to %s: %v", r.key, r.topic, err)
			}
		})
	}
}
