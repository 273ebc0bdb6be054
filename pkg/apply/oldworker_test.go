package apply_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/offsetctl/offsetctl/pkg/apply"
	"github.com/offsetctl/offsetctl/pkg/connect"
	"github.com/offsetctl/offsetctl/pkg/offsets"
	"github.com/offsetctl/offsetctl/pkg/plan"
	"github.com/offsetctl/offsetctl/pkg/state"
)

func mustMap(t *testing.T, s string) offsets.Map {
	t.Helper()
	m, err := offsets.ParseMap([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// On Kafka Connect 3.5 (stop, but no PATCH /offsets) apply stops the
// connector, then writes the offsets topic (source) or commits to the
// consumer group (sink) directly, verifies, and resumes.
func TestOldWorkerDirectWrites(t *testing.T) {
	ctx := context.Background()
	t.Run("sink via the consumer group", func(t *testing.T) {
		w := sinkWorld(t, "3.5")
		offs := kadm.Offsets{}
		for p, at := range []int64{50, 60, 70} {
			offs.Add(kadm.Offset{Topic: "orders", Partition: int32(p), At: at, LeaderEpoch: -1})
		}
		if _, err := w.adm.CommitOffsets(ctx, "connect-orders-sink", offs); err != nil {
			t.Fatal(err)
		}
		cfg := w.config(sinkHCL)
		b := w.backend()
		id := lock(t, b)
		p := w.plan(cfg, b)
		if p.Operations[0].Method != "consumer_group" {
			t.Fatalf("method: %s", p.Operations[0].Method)
		}
		var events []apply.Event
		if _, err := w.applier(b, nil, &events).Apply(ctx, p, cfg, id); err != nil {
			t.Fatalf("apply: %v", err)
		}
		if got := w.sinkOffsets("orders-sink"); got["orders[0]"] != 10 || got["orders[1]"] != 10 || got["orders[2]"] != 70 {
			t.Fatalf("offsets: %v", got)
		}
		if got := w.connectorState("orders-sink"); got != "RUNNING" {
			t.Fatalf("connector: %s", got)
		}
		for _, e := range events {
			if a, ok := e.(apply.OffsetsAltered); ok && a.Via != "consumer_group" {
				t.Fatalf("altered via %s", a.Via)
			}
		}
		if calls := w.proxy.calls("PATCH"); len(calls) != 0 {
			t.Fatalf("PATCH on 3.5: %v", calls)
		}
		st := readState(t, b)
		rp, err := plan.RollbackPlan(ctx, cfg, st, []*state.Operation{&st.Operations[0]}, w.observe, plan.BuildInfo{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.applier(b, nil, nil).Apply(ctx, rp, cfg, id); err != nil {
			t.Fatalf("rollback: %v", err)
		}
		if got := w.sinkOffsets("orders-sink"); got["orders[0]"] != 50 || got["orders[1]"] != 60 {
			t.Fatalf("offsets after rollback: %v", got)
		}
	})
	t.Run("source via the offsets topic", func(t *testing.T) {
		w := topicSource(t, "3.5")
		cfg := w.config(sourceHCL)
		b := w.backend()
		id := lock(t, b)
		p := w.plan(cfg, b)
		if p.Operations[0].Method != "topic" || p.HasErrors() {
			t.Fatalf("plan: method %s, checks %+v", p.Operations[0].Method, p.Checks)
		}
		if _, err := w.applier(b, nil, nil).Apply(ctx, p, cfg, id); err != nil {
			t.Fatalf("apply: %v", err)
		}
		if got := w.sourceOffsets("orders-source"); got != `{"table":"orders"}={"incrementing":5,"timestamp":1700000000000}` {
			t.Fatalf("offsets: %s", got)
		}
		st := readState(t, b)
		if img := st.Operations[0].BeforeImages[0].Source; string(img.Key) != `["orders-source",{"table":"orders"}]` || string(img.Offset) != `{"incrementing":9007199254740993,"timestamp":1700000099999}` {
			t.Fatalf("before-image: key %s offset %s", img.Key, img.Offset)
		}
		if got := w.connectorState("orders-source"); got != "RUNNING" {
			t.Fatalf("connector: %s", got)
		}
	})
}

// A worker without PUT /stop (3.4) is refused before anything is written:
// the plan already blocks it (and apply would refuse it as unsupported).
func TestNoStopRefused(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, "3.4")
	w.createTopic("orders", 3, 100)
	w.createConnector("orders-sink", map[string]string{"connector.class": sinkClass, "topics": "orders"})
	offs := kadm.Offsets{}
	offs.Add(kadm.Offset{Topic: "orders", Partition: 0, At: 50, LeaderEpoch: -1})
	offs.Add(kadm.Offset{Topic: "orders", Partition: 1, At: 60, LeaderEpoch: -1})
	if _, err := w.adm.CommitOffsets(ctx, "connect-orders-sink", offs); err != nil {
		t.Fatal(err)
	}
	cfg := w.config(sinkHCL)
	b := w.backend()
	id := lock(t, b)
	p := w.plan(cfg, b)
	_, err := w.applier(b, nil, nil).Apply(ctx, p, cfg, id)
	if !errors.Is(err, apply.ErrBlocked) || !strings.Contains(err.Error(), "no stop endpoint (3.5+)") {
		t.Fatalf("apply on 3.4: %v", err)
	}
	if _, err := b.Read(ctx); err == nil {
		t.Fatalf("a state was written")
	}
	if got := w.connectorState("orders-sink"); got != string(connect.StateRunning) {
		t.Fatalf("connector: %s", got)
	}
}

// Killed after writing the offsets topic directly (3.5), the next apply of
// the same plan reads the topic, finds the operation applied and records it
// so (without writing again); rollback then restores the before-image
// exactly, key bytes and all.
func TestOldWorkerCrashAfterTopicWrite(t *testing.T) {
	ctx := context.Background()
	w := topicSource(t, "3.5")
	cfg := w.config(sourceHCL)
	b := w.backend()
	id := lock(t, b)
	p := w.plan(cfg, b)
	if _, err := w.applier(b, crashAt(apply.StepAlter), nil).Apply(ctx, p, cfg, id); err == nil {
		t.Fatal("no crash")
	}
	if got := w.sourceOffsets("orders-source"); got != `{"table":"orders"}={"incrementing":5,"timestamp":1700000000000}` {
		t.Fatalf("offsets after the crash: %s", got)
	}
	b.Close()
	b2 := w.backend()
	id2 := lock(t, b2)
	res, err := w.applier(b2, nil, nil).Apply(ctx, p, cfg, id2)
	if err != nil || len(res.Recovered) != 1 {
		t.Fatalf("apply after the crash: %+v, %v", res, err)
	}
	if got := w.sourceOffsets("orders-source"); got != `{"table":"orders"}={"incrementing":5,"timestamp":1700000000000}` {
		t.Fatalf("offsets: %s", got)
	}
	st := readState(t, b2)
	if got := statuses(st); got != "1 offsets applied" {
		t.Fatalf("state: %s", got)
	}
	target, err := plan.RollbackCandidate(st, 0, "")
	if err != nil || target.Serial != 1 {
		t.Fatalf("rollback candidate: %+v, %v", target, err)
	}
	rp, err := plan.RollbackPlan(ctx, cfg, st, []*state.Operation{target}, w.observe, plan.BuildInfo{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.applier(b2, nil, nil).Apply(ctx, rp, cfg, id2); err != nil {
		t.Fatalf("rollback: %v", err)
	}
	if got := w.sourceOffsets("orders-source"); got != `{"table":"orders"}={"incrementing":9007199254740993,"timestamp":1700000099999}` {
		t.Fatalf("offsets after rollback: %s", got)
	}
	after, err := offsets.ReadTopic(ctx, w.kcl, w.sb.OffsetsTopic())
	if err != nil {
		t.Fatal(err)
	}
	if recs := after.Connector("orders-source"); len(recs) != 1 || string(recs[0].Key) != `["orders-source",{"table":"orders"}]` || len(after.Split) != 0 {
		t.Fatalf("offsets topic: %+v, split %v", recs, after.Split)
	}
	if got := w.connectorState("orders-source"); got != "RUNNING" {
		t.Fatalf("connector: %s", got)
	}
}
