package apply_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/offsetctl/offsetctl/pkg/apply"
	"github.com/offsetctl/offsetctl/pkg/connect"
	"github.com/offsetctl/offsetctl/pkg/plan"
	"github.com/offsetctl/offsetctl/pkg/state"
)

const sinkClass = "io.confluent.connect.jdbc.JdbcSinkConnector"     // inert in the sandbox
const sourceClass = "io.confluent.connect.jdbc.JdbcSourceConnector" // inert in the sandbox

// sinkWorld is a running sink "orders-sink" on topic orders (3 partitions,
// 100 records each) committed at 50, 60, 70.
func sinkWorld(t *testing.T, version string) *world {
	w := newWorld(t, version)
	w.createTopic("orders", 3, 100)
	w.createConnector("orders-sink", map[string]string{"connector.class": sinkClass, "topics": "orders", "tasks.max": "2"})
	if version == "" || version >= "3.6" {
		w.setOffsets("orders-sink", `{"offsets":[
		 {"partition":{"kafka_topic":"orders","kafka_partition":0},"offset":{"kafka_offset":50}},
		 {"partition":{"kafka_topic":"orders","kafka_partition":1},"offset":{"kafka_offset":60}},
		 {"partition":{"kafka_topic":"orders","kafka_partition":2},"offset":{"kafka_offset":70}}]}`, connect.StateRunning)
	}
	return w
}

const sinkHCL = `
connector "orders" {
  connect = connect.sb
  kafka   = kafka.sb
  name    = "orders-sink"
}
offsets "replay" {
  connector = connector.orders
  reason    = "INC-1: replay after the SMT fix"
  sink_partition {
    topic      = "orders"
    partitions = [0, 1]
    to_offset  = 10
  }
}
`

func TestApplyAndRollbackSink(t *testing.T) {
	ctx := context.Background()
	w := sinkWorld(t, "")
	cfg := w.config(sinkHCL)
	b := w.backend()
	id := lock(t, b)
	p := w.plan(cfg, b)
	if !p.HasChanges() || p.HasErrors() {
		t.Fatalf("plan: changes %v, checks %+v", p.HasChanges(), p.Checks)
	}
	var events []apply.Event
	res, err := w.applier(b, nil, &events).Apply(ctx, p, cfg, id)
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	if got := w.sinkOffsets("orders-sink"); got["orders[0]"] != 10 || got["orders[1]"] != 10 || got["orders[2]"] != 70 {
		t.Fatalf("offsets after apply: %v", got)
	}
	if s := w.connectorState("orders-sink"); s != "RUNNING" {
		t.Fatalf("connector after apply: %s", s)
	}
	if len(res.Operations) != 1 || res.Operations[0].Status != state.StatusApplied || res.Serial == 0 {
		t.Fatalf("result: %+v", res)
	}
	st := readState(t, b)
	if got := statuses(st); got != "1 offsets applied" {
		t.Fatalf("state: %s", got)
	}
	op := st.Operations[0]
	if len(op.BeforeImages) != 2 || op.BeforeImages[0].Sink.Offset != 50 || op.BeforeImages[1].Sink.Offset != 60 || op.BeforeImages[0].Sink.Group != "connect-orders-sink" {
		t.Fatalf("before-images: %+v", op.BeforeImages)
	}
	if op.Connectors[0].StateBefore != "RUNNING" || op.Connectors[0].StateAfter != "RUNNING" || op.Who != "tester" {
		t.Fatalf("operation: %+v", op)
	}
	var steps []string
	for _, s := range op.Steps {
		steps = append(steps, s.Name+":"+string(s.Status))
	}
	if got := strings.Join(steps, " "); got != "journal:done stop:done settle:done alter:done verify:done restore-state:done record:done" {
		t.Fatalf("journal steps: %s", got)
	}
	if got := eventKinds(events); got != "OperationStarted StepDone StepDone StepDone OffsetsAltered StepDone Verified StepDone StepDone StepDone OperationFinished" {
		t.Fatalf("events: %s", got)
	}
	if calls := w.proxy.calls("PATCH /connectors/orders-sink/offsets"); len(calls) != 1 || !strings.HasSuffix(calls[0], " 200") {
		t.Fatalf("PATCH calls: %v", calls)
	}

	// Apply the same plan again: already applied, nothing happens.
	res, err = w.applier(b, nil, nil).Apply(ctx, p, cfg, id)
	if err != nil || len(res.Operations) != 0 {
		t.Fatalf("second apply: %+v, %v", res, err)
	}

	// Roll it back.
	rp, err := plan.RollbackPlan(ctx, cfg, st, []*state.Operation{&st.Operations[0]}, w.observe, plan.BuildInfo{OffsetctlVersion: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if rp.Operations[0].Address != "rollback.1" || len(rp.Operations[0].Changes) != 2 || rp.Operations[0].Changes[0].Sink.After != 50 {
		t.Fatalf("rollback plan: %+v", rp.Operations)
	}
	if _, err := w.applier(b, nil, nil).Apply(ctx, rp, cfg, id); err != nil {
		t.Fatalf("rollback: %v", err)
	}
	if got := w.sinkOffsets("orders-sink"); got["orders[0]"] != 50 || got["orders[1]"] != 60 || got["orders[2]"] != 70 {
		t.Fatalf("offsets after rollback: %v", got)
	}
	if got := statuses(readState(t, b)); got != "1 offsets rolled_back by 2; 2 rollback applied" {
		t.Fatalf("state after rollback: %s", got)
	}
	if _, err := plan.RollbackCandidate(readState(t, b), 1, ""); !errors.Is(err, apply.ErrNothingToRollback) {
		t.Fatalf("rolling back a rolled-back operation: %v", err)
	}
}

func eventKinds(evs []apply.Event) string {
	var out []string
	for _, e := range evs {
		switch e.(type) {
		case apply.OperationStarted:
			out = append(out, "OperationStarted")
		case apply.StepDone:
			out = append(out, "StepDone")
		case apply.StepFailed:
			out = append(out, "StepFailed")
		case apply.OffsetsAltered:
			out = append(out, "OffsetsAltered")
		case apply.Verified:
			out = append(out, "Verified")
		case apply.RolledBack:
			out = append(out, "RolledBack")
		case apply.Warning:
			out = append(out, "Warning")
		case apply.Recovered:
			out = append(out, "Recovered")
		case apply.OperationFinished:
			out = append(out, "OperationFinished")
		}
	}
	return strings.Join(out, " ")
}

const sourceHCL = `
connector "src" {
  connect = connect.sb
  kafka   = kafka.sb
  name    = "orders-source"
}
offsets "rewind" {
  connector = connector.src
  reason    = "INC-2"
  source_partition {
    partition = { table = "orders" }
    offset    = { incrementing = 5, timestamp = 1700000000000 }
  }
}
`

func sourceWorld(t *testing.T, version string, state connect.State) *world {
	w := newWorld(t, version)
	w.createConnector("orders-source", map[string]string{"connector.class": sourceClass, "tasks.max": "1"})
	w.setOffsets("orders-source", `{"offsets":[
	 {"partition":{"table":"orders"},"offset":{"incrementing":9007199254740993,"timestamp":1700000099999}},
	 {"partition":{"table":"customers"},"offset":{"incrementing":7}}]}`, state)
	return w
}

func TestApplySourceFormerStates(t *testing.T) {
	for _, tc := range []struct {
		state connect.State
		want  string
	}{
		{connect.StateRunning, "RUNNING"},
		{connect.StatePaused, "PAUSED"},
		{connect.StateStopped, "STOPPED"},
	} {
		t.Run(string(tc.state), func(t *testing.T) {
			ctx := context.Background()
			w := sourceWorld(t, "", tc.state)
			cfg := w.config(sourceHCL)
			b := w.backend()
			id := lock(t, b)
			p := w.plan(cfg, b)
			if _, err := w.applier(b, nil, nil).Apply(ctx, p, cfg, id); err != nil {
				t.Fatalf("apply: %v", err)
			}
			want := `{"table":"customers"}={"incrementing":7}` + "\n" + `{"table":"orders"}={"incrementing":5,"timestamp":1700000000000}`
			if got := w.sourceOffsets("orders-source"); got != want {
				t.Fatalf("offsets:\n%s\nwant:\n%s", got, want)
			}
			if got := w.connectorState("orders-source"); got != tc.want {
				t.Fatalf("state %s, want %s", got, tc.want)
			}
			st := readState(t, b)
			rp, err := plan.RollbackPlan(ctx, cfg, st, []*state.Operation{&st.Operations[0]}, w.observe, plan.BuildInfo{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.applier(b, nil, nil).Apply(ctx, rp, cfg, id); err != nil {
				t.Fatalf("rollback: %v", err)
			}
			want = `{"table":"customers"}={"incrementing":7}` + "\n" + `{"table":"orders"}={"incrementing":9007199254740993,"timestamp":1700000099999}`
			if got := w.sourceOffsets("orders-source"); got != want {
				t.Fatalf("offsets after rollback:\n%s\nwant:\n%s", got, want)
			}
			if got := w.connectorState("orders-source"); got != tc.want {
				t.Fatalf("state after rollback %s, want %s", got, tc.want)
			}
		})
	}
}

var _ = plan.MethodREST
