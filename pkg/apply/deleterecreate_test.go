package apply_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/offsetctl/offsetctl/pkg/apply"
	"github.com/offsetctl/offsetctl/pkg/offsets"
	"github.com/offsetctl/offsetctl/pkg/plan"
	"github.com/offsetctl/offsetctl/pkg/state"
)

// withAck adds acknowledge = ["delete_recreate"] to the offsets block of hcl.
func withAck(hcl string) string {
	return strings.Replace(hcl, "  reason    =", "  acknowledge = [\"delete_recreate\"]\n  reason    =", 1)
}

// oldSink is a Kafka Connect 3.4 sink with committed offsets 50, 60, 70.
func oldSink(t *testing.T) *world {
	w := newWorld(t, "3.4")
	w.createTopic("orders", 3, 100)
	w.createConnector("orders-sink", map[string]string{"connector.class": sinkClass, "topics": "orders", "tasks.max": "2", "connection.password": "s3cret"})
	offs := kadm.Offsets{}
	for p, at := range []int64{50, 60, 70} {
		offs.Add(kadm.Offset{Topic: "orders", Partition: int32(p), At: at, LeaderEpoch: -1})
	}
	if _, err := w.adm.CommitOffsets(context.Background(), "connect-orders-sink", offs); err != nil {
		t.Fatal(err)
	}
	return w
}

// topicSource is a source on a worker of version whose offset is in the
// offsets topic, written as the worker writes it.
func topicSource(t *testing.T, version string) *world {
	ctx := context.Background()
	w := newWorld(t, version)
	w.createConnector("orders-source", map[string]string{"connector.class": sourceClass, "tasks.max": "1"})
	snap, err := offsets.ReadTopic(ctx, w.kcl, w.sb.OffsetsTopic())
	if err != nil {
		t.Fatal(err)
	}
	off := mustMap(t, `{"incrementing":9007199254740993,"timestamp":1700000099999}`)
	if _, err := offsets.WriteSource(ctx, w.kcl, snap, "orders-source", []offsets.SourceChange{{Partition: mustMap(t, `{"table":"orders"}`), Offset: &off}}); err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *world) connectorConfig(name string) map[string]string {
	w.t.Helper()
	cfg, err := w.cc().Config(context.Background(), name)
	if err != nil {
		w.t.Fatal(err)
	}
	return cfg
}

func stepNames(op *state.Operation) string {
	var out []string
	for _, s := range op.Steps {
		out = append(out, s.Name)
	}
	return strings.Join(out, " ")
}

// On Kafka Connect 3.4 (no PUT /stop) a plan whose offsets block
// acknowledges delete_recreate deletes the connector (its offsets stay),
// writes them directly, re-creates it with its exact configuration and
// resumes; rollback goes the same way. Without the acknowledgement the plan
// is refused, naming it.
func TestDeleteRecreate(t *testing.T) {
	ctx := context.Background()
	t.Run("refused without the acknowledgement", func(t *testing.T) {
		w := oldSink(t)
		cfg := w.config(sinkHCL)
		b := w.backend()
		p := w.plan(cfg, b)
		if p.Operations[0].Halt != plan.HaltStop || p.Operations[0].Status != plan.StatusBlocked {
			t.Fatalf("operation: halt %q status %s", p.Operations[0].Halt, p.Operations[0].Status)
		}
		_, err := w.applier(b, nil, nil).Apply(ctx, p, cfg, lock(t, b))
		if !errors.Is(err, apply.ErrBlocked) || !strings.Contains(err.Error(), `acknowledge = ["delete_recreate"]`) {
			t.Fatalf("apply: %v", err)
		}
	})
	for _, kind := range []string{"sink", "source"} {
		t.Run(kind, func(t *testing.T) {
			var w *world
			var cfgHCL, name string
			if kind == "sink" {
				w, cfgHCL, name = oldSink(t), withAck(sinkHCL), "orders-sink"
			} else {
				w, cfgHCL, name = topicSource(t, "3.4"), withAck(sourceHCL), "orders-source"
			}
			saved := w.connectorConfig(name)
			cfg := w.config(cfgHCL)
			b := w.backend()
			id := lock(t, b)
			p := w.plan(cfg, b)
			op := p.Operations[0]
			if op.Halt != plan.HaltDeleteRecreate || op.Status != plan.StatusChange || p.HasErrors() {
				t.Fatalf("plan: halt %q status %s checks %+v", op.Halt, op.Status, p.Checks)
			}
			if !slices.ContainsFunc(p.Checks, func(c plan.Check) bool {
				return c.Code == "delete_recreate" && strings.Contains(c.Message, "DELETED and RE-CREATED")
			}) {
				t.Fatalf("no delete_recreate check: %+v", p.Checks)
			}
			// The plan file keeps the halt.
			data, err := plan.Marshal(p)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(data), `"halt": "delete_recreate"`) {
				t.Fatalf("plan file lacks the halt")
			}
			back, err := plan.Read("plan.json", bytes.NewReader(data))
			if err != nil || back.Operations[0].Halt != plan.HaltDeleteRecreate {
				t.Fatalf("read back: %v", err)
			}

			// A kill right after the delete: the journal holds the
			// configuration, the connector is gone, nothing was written.
			if _, err := w.applier(b, crashAt(apply.StepDelete), nil).Apply(ctx, p, cfg, id); err == nil {
				t.Fatal("no crash")
			}
			if ok := w.exists(name); ok {
				t.Fatalf("connector %s still exists after the delete step", name)
			}
			st := readState(t, b)
			sc := st.Operations[0].Connectors[0]
			if sc.Halt != "delete_recreate" || !maps.Equal(sc.SavedConfig, saved) {
				t.Fatalf("journal: halt %q config %v, want %v", sc.Halt, sc.SavedConfig, saved)
			}
			b.Close()

			// The next apply of the same plan re-creates it from the
			// journal (found not applied), then applies the plan.
			b = w.backend()
			id = lock(t, b)
			res, err := w.applier(b, nil, nil).Apply(ctx, p, cfg, id)
			if err != nil || len(res.Recovered) != 1 {
				t.Fatalf("apply after the crash: %+v, %v", res, err)
			}
			if kind == "sink" {
				if got := w.groupOffsets(name); got["orders[0]"] != 10 || got["orders[1]"] != 10 || got["orders[2]"] != 70 {
					t.Fatalf("offsets: %v", got)
				}
			} else if got := w.topicOffsets(name); got != `{"table":"orders"}={"incrementing":5,"timestamp":1700000000000}` {
				t.Fatalf("offsets: %s", got)
			}
			if got := w.connectorState(name); got != "RUNNING" {
				t.Fatalf("connector: %s", got)
			}
			if got := w.connectorConfig(name); !maps.Equal(got, saved) {
				t.Fatalf("re-created with %v, want %v", got, saved)
			}
			st = readState(t, b)
			if got := statuses(st); got != "1 offsets failed; 2 offsets applied" {
				t.Fatalf("state: %s", got)
			}
			applied := st.Operations[1]
			if got := stepNames(&applied); got != "journal delete settle alter verify recreate record" {
				t.Fatalf("steps: %s", got)
			}
			for _, o := range st.Operations {
				if o.Connectors[0].SavedConfig != nil {
					t.Fatalf("operation %d keeps the saved configuration after it finished", o.Serial)
				}
			}
			if calls := w.proxy.calls("PUT /connectors/" + name + "/stop"); len(calls) != 0 {
				t.Fatalf("stop called on 3.4: %v", calls)
			}

			// Rollback, the same way.
			target, err := plan.RollbackCandidate(st, 0, "")
			if err != nil {
				t.Fatal(err)
			}
			rp, err := plan.RollbackPlan(ctx, cfg, st, []*state.Operation{target}, w.observe, plan.BuildInfo{})
			if err != nil {
				t.Fatal(err)
			}
			if rp.Operations[0].Halt != plan.HaltDeleteRecreate {
				t.Fatalf("rollback halt %q", rp.Operations[0].Halt)
			}
			w.planner().AssessRisks(rp)
			if err := w.planner().VerifyBuilt(ctx, cfg, rp, st); err != nil {
				t.Fatalf("rollback plan not computed again: %v", err)
			}
			if _, err := w.applier(b, nil, nil).Apply(ctx, rp, cfg, id); err != nil {
				t.Fatalf("rollback: %v", err)
			}
			if kind == "sink" {
				if got := w.groupOffsets(name); got["orders[0]"] != 50 || got["orders[1]"] != 60 || got["orders[2]"] != 70 {
					t.Fatalf("offsets after rollback: %v", got)
				}
			} else if got := w.topicOffsets(name); got != `{"table":"orders"}={"incrementing":9007199254740993,"timestamp":1700000099999}` {
				t.Fatalf("offsets after rollback: %s", got)
			}
			if got := w.connectorState(name); got != "RUNNING" {
				t.Fatalf("connector after rollback: %s", got)
			}
			if got := w.connectorConfig(name); !maps.Equal(got, saved) {
				t.Fatalf("re-created by rollback with %v, want %v", got, saved)
			}
			st = readState(t, b)
			if got := statuses(st); got != "1 offsets failed; 2 offsets rolled_back by 3; 3 rollback applied" {
				t.Fatalf("state after rollback: %s", got)
			}
		})
	}
}

// Killed after the offsets were written, before the connector was
// re-created: the next apply of the same plan finds them applied, re-creates
// the connector from the journal and records the operation applied.
func TestDeleteRecreateCrashAfterAlter(t *testing.T) {
	ctx := context.Background()
	w := topicSource(t, "3.4")
	saved := w.connectorConfig("orders-source")
	cfg := w.config(withAck(sourceHCL))
	b := w.backend()
	id := lock(t, b)
	p := w.plan(cfg, b)
	if _, err := w.applier(b, crashAt(apply.StepAlter), nil).Apply(ctx, p, cfg, id); err == nil {
		t.Fatal("no crash")
	}
	if w.exists("orders-source") {
		t.Fatal("connector exists after the crash")
	}
	// rollback cannot observe a deleted connector; it says to apply again.
	st := readState(t, b)
	if _, err := plan.RollbackPlan(ctx, cfg, st, []*state.Operation{&st.Operations[0]}, w.observe, plan.BuildInfo{}); err == nil || !strings.Contains(err.Error(), "apply the same plan file again") {
		t.Fatalf("rollback of a deleted connector: %v", err)
	}
	b.Close()
	b = w.backend()
	res, err := w.applier(b, nil, nil).Apply(ctx, p, cfg, lock(t, b))
	if err != nil || len(res.Recovered) != 1 {
		t.Fatalf("apply after the crash: %+v, %v", res, err)
	}
	if got := statuses(readState(t, b)); got != "1 offsets applied" {
		t.Fatalf("state: %s", got)
	}
	if got := w.connectorConfig("orders-source"); !maps.Equal(got, saved) || w.connectorState("orders-source") != "RUNNING" {
		t.Fatalf("re-created with %v (%s)", got, w.connectorState("orders-source"))
	}
	if got := w.topicOffsets("orders-source"); got != `{"table":"orders"}={"incrementing":5,"timestamp":1700000000000}` {
		t.Fatalf("offsets: %s", got)
	}
	if st := readState(t, b); st.Operations[0].Connectors[0].SavedConfig != nil {
		t.Fatal("the saved configuration outlived the operation")
	}
}

func (w *world) exists(name string) bool {
	w.t.Helper()
	names, err := w.cc().ListConnectors(context.Background())
	if err != nil {
		w.t.Fatal(err)
	}
	return slices.Contains(names, name)
}

// groupOffsets and topicOffsets read a connector's offsets where a worker
// older than 3.5 keeps them (it has no GET /offsets): the sink's consumer
// group, the offsets topic.
func (w *world) groupOffsets(name string) map[string]int64 {
	w.t.Helper()
	got, err := w.adm.FetchOffsets(context.Background(), "connect-"+name)
	if err != nil {
		w.t.Fatal(err)
	}
	out := map[string]int64{}
	got.Each(func(o kadm.OffsetResponse) { out[fmt.Sprintf("%s[%d]", o.Topic, o.Partition)] = o.At })
	return out
}

func (w *world) topicOffsets(name string) string {
	w.t.Helper()
	snap, err := offsets.ReadTopic(context.Background(), w.kcl, w.sb.OffsetsTopic())
	if err != nil {
		w.t.Fatal(err)
	}
	var lines []string
	for _, r := range snap.Connector(name) {
		lines = append(lines, r.Partition.String()+"="+r.Offset.String())
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// Killed right after the connector was re-created, before the operation was
// recorded: offsetctl rollback deletes and re-creates it again to put the
// before-images back, and neither operation keeps the saved configuration.
func TestDeleteRecreateRollbackOfInterrupted(t *testing.T) {
	ctx := context.Background()
	w := oldSink(t)
	saved := w.connectorConfig("orders-sink")
	cfg := w.config(withAck(sinkHCL))
	b := w.backend()
	id := lock(t, b)
	p := w.plan(cfg, b)
	if _, err := w.applier(b, crashAt(apply.StepRecreate), nil).Apply(ctx, p, cfg, id); err == nil {
		t.Fatal("no crash")
	}
	st := readState(t, b)
	if st.Operations[0].Status != state.StatusInProgress || st.Operations[0].Connectors[0].SavedConfig == nil {
		t.Fatalf("after the crash: %s, saved %v", statuses(st), st.Operations[0].Connectors[0].SavedConfig)
	}
	target, err := plan.RollbackCandidate(st, 0, "")
	if err != nil {
		t.Fatal(err)
	}
	rp, err := plan.RollbackPlan(ctx, cfg, st, []*state.Operation{target}, w.observe, plan.BuildInfo{})
	if err != nil || rp.Operations[0].Halt != plan.HaltDeleteRecreate {
		t.Fatalf("rollback plan: %v", err)
	}
	if _, err := w.applier(b, nil, nil).Apply(ctx, rp, cfg, id); err != nil {
		t.Fatalf("rollback: %v", err)
	}
	if got := w.groupOffsets("orders-sink"); got["orders[0]"] != 50 || got["orders[1]"] != 60 || got["orders[2]"] != 70 {
		t.Fatalf("offsets after rollback: %v", got)
	}
	if got := w.connectorConfig("orders-sink"); !maps.Equal(got, saved) || w.connectorState("orders-sink") != "RUNNING" {
		t.Fatalf("connector after rollback: %v (%s)", got, w.connectorState("orders-sink"))
	}
	st = readState(t, b)
	if got := statuses(st); got != "1 offsets rolled_back by 2; 2 rollback applied" {
		t.Fatalf("state: %s", got)
	}
	for _, o := range st.Operations {
		if o.Connectors[0].SavedConfig != nil {
			t.Fatalf("operation %d keeps the saved configuration", o.Serial)
		}
	}
}
