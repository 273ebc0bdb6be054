package apply_test

import (
	"context"
	"strings"
	"testing"

	"github.com/offsetctl/offsetctl/pkg/offsets"
	"github.com/offsetctl/offsetctl/pkg/plan"
	"github.com/offsetctl/offsetctl/pkg/state"
)

// A source connector with its own offsets.storage.topic on Kafka Connect 3.5
// (offsets written through the topics): the plan reads its topic (the only
// one Connect reads values from; it says which partitions the worker's
// topic holds in vain), and apply writes where Connect reads (its own
// topic, copied to the worker's), so that the worker's GET /offsets — the
// sandbox layers the two topics as ConnectorOffsetBackingStore does —
// returns what the plan set. The rollback puts the own topic's value back.
func TestOwnOffsetsTopicDirectWrites(t *testing.T) {
	ctx := context.Background()
	const own = "orders-source-offsets"
	w := newWorld(t, "3.5")
	w.createTopic(own, 5, 0)
	w.createConnector("orders-source", map[string]string{"connector.class": sourceClass, "tasks.max": "1", "offsets.storage.topic": own})
	write := func(topic, partition, offset string) {
		t.Helper()
		snap, err := offsets.ReadTopic(ctx, w.kcl, topic)
		if err != nil {
			t.Fatal(err)
		}
		off := mustMap(t, offset)
		if _, err := offsets.WriteSource(ctx, w.kcl, snap, "orders-source", []offsets.SourceChange{{Partition: mustMap(t, partition), Offset: &off}}); err != nil {
			t.Fatal(err)
		}
	}
	// The worker's topic holds an older offset of orders (from before the
	// connector had a topic of its own) and the only one of customers,
	// which Connect lists but does not read.
	write(w.sb.OffsetsTopic(), `{"table":"orders"}`, `{"incrementing":1}`)
	write(w.sb.OffsetsTopic(), `{"table":"customers"}`, `{"incrementing":7}`)
	write(own, `{"table":"orders"}`, `{"incrementing":9007199254740993,"timestamp":1700000099999}`)

	cfg := w.config(sourceHCL)
	b := w.backend()
	id := lock(t, b)
	p := w.plan(cfg, b)
	if p.Operations[0].Method != "topic" || p.HasErrors() {
		t.Fatalf("plan: method %s, checks %+v", p.Operations[0].Method, p.Checks)
	}
	var note string
	for _, c := range p.Checks {
		if c.Code == "own_offsets_topic" {
			note = c.Message
		}
	}
	if !strings.Contains(note, `1 partition(s) read from "`+own+`"`) || !strings.Contains(note, `also holds 1 partition(s) that "`+own+`" does not: {"table":"customers"}`) {
		t.Fatalf("own_offsets_topic check: %q", note)
	}
	if before := p.Operations[0].Changes[0].Source.Before; before == nil || before.String() != `{"incrementing":9007199254740993,"timestamp":1700000099999}` {
		t.Fatalf("before: %v (the value in the connector's own topic, which Connect reads first)", before)
	}
	if _, err := w.applier(b, nil, nil).Apply(ctx, p, cfg, id); err != nil {
		t.Fatalf("apply: %v", err)
	}
	want := `{"table":"customers"}=null` + "\n" + `{"table":"orders"}={"incrementing":5,"timestamp":1700000000000}`
	if got := w.sourceOffsets("orders-source"); got != want {
		t.Fatalf("offsets the worker reads:\n%s\nwant\n%s", got, want)
	}
	for _, topic := range []string{own, w.sb.OffsetsTopic()} {
		snap, err := offsets.ReadTopic(ctx, w.kcl, topic)
		if err != nil {
			t.Fatal(err)
		}
		r, ok := snap.Find("orders-source", mustMap(t, `{"table":"orders"}`))
		if !ok || r.Offset.String() != `{"incrementing":5,"timestamp":1700000000000}` {
			t.Fatalf("topic %s holds %v %v, want the new offset (Connect writes its own topic and copies to the worker's)", topic, r.Offset, ok)
		}
	}
	st := readState(t, b)
	rp, err := plan.RollbackPlan(ctx, cfg, st, []*state.Operation{&st.Operations[0]}, w.observe, plan.BuildInfo{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.applier(b, nil, nil).Apply(ctx, rp, cfg, id); err != nil {
		t.Fatalf("rollback: %v", err)
	}
	want = `{"table":"customers"}=null` + "\n" + `{"table":"orders"}={"incrementing":9007199254740993,"timestamp":1700000099999}`
	if got := w.sourceOffsets("orders-source"); got != want {
		t.Fatalf("offsets after rollback:\n%s\nwant\n%s", got, want)
	}
}
