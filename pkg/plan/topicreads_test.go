package plan_test

import (
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestTopicsReadOncePerPlan: every source connector of a plan reads the
// same offsets and config topics of its Kafka cluster for its hazard
// evidence; a plan reads each of them once, however many source
// connectors it changes (it once read both whole topics again for each).
func TestTopicsReadOncePerPlan(t *testing.T) {
	w := newPlanWorld(t)
	var mu sync.Mutex
	// A whole-topic read starts by listing the topic's start offsets
	// (ListOffsets at -2, earliest); the Connect emulator lists only end
	// offsets, so these requests count offsetctl's reads.
	reads := map[string]int{}
	w.sb.Kafka().ControlKey(int16(kmsg.ListOffsets), func(req kmsg.Request) (kmsg.Response, error, bool) {
		mu.Lock()
		defer mu.Unlock()
		for _, tp := range req.(*kmsg.ListOffsetsRequest).Topics {
			if len(tp.Partitions) > 0 && tp.Partitions[0].Timestamp == -2 {
				reads[tp.Topic]++
			}
		}
		return nil, nil, false // only counted: the broker answers
	})
	op := func(name, connector string) string {
		return `
offsets "` + name + `" {
  connector = connector.` + connector + `
  reason    = "test"

  source_partition {
    partition = { server = "dbserver1" }
    offset    = { lsn = lsn("16/B3700000"), lsn_proc = lsn("16/B3700000"), lsn_commit = lsn("16/B3700000") }
    merge     = true
  }
}
`
	}
	count := func(body string) map[string]int {
		mu.Lock()
		clear(reads)
		mu.Unlock()
		w.plan(t, body)
		mu.Lock()
		defer mu.Unlock()
		out := map[string]int{}
		for k, v := range reads {
			out[k] = v
		}
		return out
	}
	one := count(op("a", "inventory"))
	two := count(op("a", "inventory") + op("b", "inventory_v2"))
	for _, topic := range []string{w.sb.OffsetsTopic(), "connect-configs"} {
		if one[topic] != 1 || two[topic] != 1 {
			t.Errorf("topic %s read %d times by a plan of one source connector and %d times by a plan of two: each topic must be read once per plan", topic, one[topic], two[topic])
		}
	}
}
