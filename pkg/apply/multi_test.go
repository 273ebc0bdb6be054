package apply_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/offsetctl/offsetctl/pkg/apply"
	"github.com/offsetctl/offsetctl/pkg/connect"
	"github.com/offsetctl/offsetctl/pkg/state"
)

// multiWorld has n inert sinks s0..s(n-1) on topic orders, committed at
// 50, 60, 70, with one offsets block each moving partition 0 to 10+i.
func multiWorld(t *testing.T, n int) (*world, string) {
	w := newWorld(t, "")
	w.createTopic("orders", 3, 100)
	var hcl strings.Builder
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("s%d", i)
		w.createConnector(name, map[string]string{"connector.class": sinkClass, "topics": "orders"})
		w.setOffsets(name, `{"offsets":[
		 {"partition":{"kafka_topic":"orders","kafka_partition":0},"offset":{"kafka_offset":50}},
		 {"partition":{"kafka_topic":"orders","kafka_partition":1},"offset":{"kafka_offset":60}},
		 {"partition":{"kafka_topic":"orders","kafka_partition":2},"offset":{"kafka_offset":70}}]}`, connect.StateRunning)
		fmt.Fprintf(&hcl, `
connector "c%d" {
  connect = connect.sb
  kafka   = kafka.sb
  name    = %q
}
offsets "move%d" {
  connector = connector.c%d
  reason    = "test"
  sink_partition {
    topic      = "orders"
    partitions = [0]
    to_offset  = %d
  }
}
`, i, name, i, i, 10+i)
	}
	return w, hcl.String()
}

// With several operations, one failing: the operations before it stay
// applied, it is rolled back, later ones do not start — sequentially and
// in parallel.
func TestFailureAmongSeveralOperations(t *testing.T) {
	for _, parallel := range []int{1, 4} {
		t.Run(fmt.Sprintf("parallel=%d", parallel), func(t *testing.T) {
			ctx := context.Background()
			w, hcl := multiWorld(t, 4)
			cfg := w.config(hcl)
			b := w.backend()
			id := lock(t, b)
			p := w.plan(cfg, b)
			fail := func(method, path string) bool {
				if method == "PUT" && path == "/connectors/s1/resume" {
					if err := w.sb.Faults().FailTask("s1", 0, "cannot start at the new offset"); err != nil {
						t.Errorf("failing s1: %v", err)
					}
					return false
				}
				return true
			}
			w.proxy.after.Store(&fail)
			a := w.applier(b, nil, nil)
			if parallel > 1 {
				var err error
				a, err = apply.New(apply.Options{Backend: b, Clients: w.clients, Observe: w.observe, GracePeriod: testGrace,
					PollInterval: 10 * time.Millisecond, RunningWatch: 150 * time.Millisecond, Parallel: parallel})
				if err != nil {
					t.Fatal(err)
				}
			}
			res, err := a.Apply(ctx, p, cfg, id)
			var oe *apply.OperationError
			if !errors.As(err, &oe) || oe.Operation != "offsets.move1" || oe.Status != state.StatusFailed {
				t.Fatalf("apply: %v", err)
			}
			got := map[string]state.Status{}
			for _, op := range res.Operations {
				got[op.Address] = op.Status
			}
			if got["offsets.move0"] != state.StatusApplied || got["offsets.move1"] != state.StatusFailed {
				t.Fatalf("results: %v", got)
			}
			if w.sinkOffsets("s0")["orders[0]"] != 10 || w.sinkOffsets("s1")["orders[0]"] != 50 {
				t.Fatalf("offsets: s0 %v, s1 %v", w.sinkOffsets("s0"), w.sinkOffsets("s1"))
			}
			if parallel == 1 {
				// Sequential: later operations never started.
				if len(res.Operations) != 2 || w.sinkOffsets("s2")["orders[0]"] != 50 || w.sinkOffsets("s3")["orders[0]"] != 50 {
					t.Fatalf("later operations ran: %+v", res.Operations)
				}
			}
			for i := 0; i < 4; i++ {
				if s := w.connectorState(fmt.Sprintf("s%d", i)); s != "RUNNING" {
					t.Fatalf("s%d: %s", i, s)
				}
			}
			st := readState(t, b)
			if len(st.Unfinished()) != 0 {
				t.Fatalf("unfinished: %s", statuses(st))
			}
		})
	}
}

// A connector found with a FAILED task is left STOPPED, with a warning.
func TestFailedConnectorLeftStopped(t *testing.T) {
	ctx := context.Background()
	w := sinkWorld(t, "")
	if err := w.sb.Faults().FailTask("orders-sink", 0, "poison pill"); err != nil {
		t.Fatal(err)
	}
	cfg := w.config(sinkHCL)
	b := w.backend()
	id := lock(t, b)
	p := w.plan(cfg, b)
	var events []apply.Event
	if _, err := w.applier(b, nil, &events).Apply(ctx, p, cfg, id); err != nil {
		t.Fatalf("apply: %v", err)
	}
	if got := w.connectorState("orders-sink"); got != "STOPPED" {
		t.Fatalf("connector: %s", got)
	}
	warned := false
	for _, e := range events {
		if wn, ok := e.(apply.Warning); ok && strings.Contains(wn.Message, "left STOPPED") {
			warned = true
		}
	}
	if !warned {
		t.Fatalf("no warning: %s", eventKinds(events))
	}
	st := readState(t, b)
	if c := st.Operations[0].Connectors[0]; c.StateBefore != "FAILED" || c.StateAfter != "STOPPED" {
		t.Fatalf("recorded states: %+v", c)
	}
}
