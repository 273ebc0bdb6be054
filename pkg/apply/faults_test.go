package apply_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/offsetctl/offsetctl/pkg/apply"
	"github.com/offsetctl/offsetctl/pkg/plan"
	"github.com/offsetctl/offsetctl/pkg/state"
)

// A rebalance window (409) during the PATCH is retried.
func TestRebalanceDuringAlterIsRetried(t *testing.T) {
	ctx := context.Background()
	w := sinkWorld(t, "")
	cfg := w.config(sinkHCL)
	b := w.backend()
	id := lock(t, b)
	p := w.plan(cfg, b)
	hook := func(pt apply.Point) error {
		if pt.Step == apply.StepSettle {
			w.sb.Faults().SetRebalancing(true)
		}
		return nil
	}
	// The rebalance ends once the first PATCH was answered (409).
	end := func(method, path string) bool {
		if method == "PATCH" {
			w.sb.Faults().SetRebalancing(false)
			return false
		}
		return true
	}
	w.proxy.after.Store(&end)
	if _, err := w.applier(b, hook, nil).Apply(ctx, p, cfg, id); err != nil {
		t.Fatalf("apply: %v", err)
	}
	calls := w.proxy.calls("PATCH /connectors/orders-sink/offsets")
	if len(calls) < 2 || !strings.HasSuffix(calls[0], " 409") || !strings.HasSuffix(calls[len(calls)-1], " 200") {
		t.Fatalf("PATCH calls: %v", calls)
	}
	if got := w.sinkOffsets("orders-sink"); got["orders[0]"] != 10 {
		t.Fatalf("offsets: %v", got)
	}
}

// A task that fails right after the resume makes apply put the
// before-images back and resume the connector on them.
func TestTaskFailsAfterResume(t *testing.T) {
	ctx := context.Background()
	w := sinkWorld(t, "")
	cfg := w.config(sinkHCL)
	b := w.backend()
	id := lock(t, b)
	p := w.plan(cfg, b)
	fail := func(method, path string) bool {
		if method == "PUT" && path == "/connectors/orders-sink/resume" {
			if err := w.sb.Faults().FailTask("orders-sink", 1, "bad offset for the new position"); err != nil {
				t.Errorf("failing the task: %v", err)
			}
			return false // once
		}
		return true
	}
	w.proxy.after.Store(&fail)
	var events []apply.Event
	res, err := w.applier(b, nil, &events).Apply(ctx, p, cfg, id)
	var oe *apply.OperationError
	if !errors.As(err, &oe) || oe.Step != apply.StepRestoreState || oe.Status != state.StatusFailed || !oe.OffsetsChanged || oe.RollbackErr != nil {
		t.Fatalf("apply: %v (%+v)", err, oe)
	}
	if !strings.Contains(err.Error(), "bad offset for the new position") || !strings.Contains(err.Error(), "before-images were put back and verified") {
		t.Fatalf("the story: %v", err)
	}
	if got := w.sinkOffsets("orders-sink"); got["orders[0]"] != 50 || got["orders[1]"] != 60 {
		t.Fatalf("offsets after the rollback: %v", got)
	}
	if got := w.connectorState("orders-sink"); got != "RUNNING" {
		t.Fatalf("connector: %s", got)
	}
	if res.Operations[0].Status != state.StatusFailed {
		t.Fatalf("result: %+v", res.Operations)
	}
	st := readState(t, b)
	if got := statuses(st); got != "1 offsets failed" {
		t.Fatalf("state: %s", got)
	}
	if !strings.Contains(st.Operations[0].Error, "bad offset") {
		t.Fatalf("recorded error: %q", st.Operations[0].Error)
	}
	if k := eventKinds(events); !strings.Contains(k, "Verified StepDone StepFailed") || !strings.HasSuffix(k, "RolledBack OperationFinished") {
		t.Fatalf("events: %s", eventKinds(events))
	}
}

// Connect becomes unreachable mid-apply: the operation is recorded as
// needing rollback (never silently half-done), and rollback then restores
// the before-images and the connector's state.
func TestConnectUnreachable(t *testing.T) {
	for _, after := range []apply.Step{apply.StepSettle, apply.StepAlter} {
		t.Run(string(after), func(t *testing.T) {
			ctx := context.Background()
			w := sinkWorld(t, "")
			cfg := w.config(sinkHCL)
			b := w.backend()
			id := lock(t, b)
			p := w.plan(cfg, b)
			hook := func(pt apply.Point) error {
				if pt.Step == after {
					w.proxy.cut.Store(true)
				}
				return nil
			}
			_, err := w.applier(b, hook, nil).Apply(ctx, p, cfg, id)
			var oe *apply.OperationError
			if !errors.As(err, &oe) || oe.Status != state.StatusNeedsRollback || oe.RollbackErr == nil {
				t.Fatalf("apply: %v", err)
			}
			if !strings.Contains(err.Error(), "run offsetctl rollback -serial 1") {
				t.Fatalf("the story: %v", err)
			}
			st := readState(t, b)
			if got := statuses(st); got != "1 offsets needs_rollback" {
				t.Fatalf("state: %s", got)
			}

			// Another plan is refused until the operation is rolled back.
			w.proxy.cut.Store(false)
			if _, err := w.applier(b, nil, nil).Apply(ctx, w.plan(cfg, b), cfg, id); !errors.Is(err, apply.ErrUnfinished) {
				t.Fatalf("apply of a new plan over an unfinished operation: %v", err)
			}
			target, err := plan.RollbackCandidate(st, 0, "")
			if err != nil {
				t.Fatal(err)
			}
			rp, err := plan.RollbackPlan(ctx, cfg, st, []*state.Operation{target}, w.observe, plan.BuildInfo{})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.applier(b, nil, nil).Apply(ctx, rp, cfg, id); err != nil {
				t.Fatalf("rollback: %v", err)
			}
			if got := w.sinkOffsets("orders-sink"); got["orders[0]"] != 50 || got["orders[1]"] != 60 || got["orders[2]"] != 70 {
				t.Fatalf("offsets: %v", got)
			}
			if got := w.connectorState("orders-sink"); got != "RUNNING" {
				t.Fatalf("connector: %s", got)
			}
			if got := statuses(readState(t, b)); got != "1 offsets rolled_back by 2; 2 rollback applied" {
				t.Fatalf("state: %s", got)
			}
		})
	}
}

// A consumer still in the sink's group after the stop (a zombie task) stops
// apply before any offset is written.
func TestZombieSinkMember(t *testing.T) {
	ctx := context.Background()
	w := sinkWorld(t, "")
	cfg := w.config(sinkHCL)
	b := w.backend()
	id := lock(t, b)
	p := w.plan(cfg, b)
	zombie, err := kgo.NewClient(kgo.SeedBrokers(w.sb.BootstrapServers()...), kgo.ConsumerGroup("connect-orders-sink"),
		kgo.ConsumeTopics("orders"), kgo.DisableAutoCommit(), kgo.ClientID("connector-consumer-orders-sink-0"))
	if err != nil {
		t.Fatal(err)
	}
	defer zombie.Close()
	hook := func(pt apply.Point) error {
		if pt.Step == apply.StepStop {
			// Join the group: poll until assigned.
			pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			for len(zombie.PollFetches(pctx).Records()) == 0 && pctx.Err() == nil {
			}
		}
		return nil
	}
	_, err = w.applier(b, hook, nil).Apply(ctx, p, cfg, id)
	var oe *apply.OperationError
	if !errors.As(err, &oe) || oe.Step != apply.StepSettle || oe.Status != state.StatusFailed || oe.OffsetsChanged {
		t.Fatalf("apply: %v", err)
	}
	if !strings.Contains(err.Error(), "active member") || !strings.Contains(err.Error(), "no offset had been changed") {
		t.Fatalf("the story: %v", err)
	}
	if got := w.connectorState("orders-sink"); got != "RUNNING" {
		t.Fatalf("connector: %s", got)
	}
	if got := statuses(readState(t, b)); got != "1 offsets failed" {
		t.Fatalf("state: %s", got)
	}
}

// An interrupt (the context cancelled, as on SIGINT) mid-apply still rolls
// back and records the outcome.
func TestInterruptRollsBack(t *testing.T) {
	w := sinkWorld(t, "")
	cfg := w.config(sinkHCL)
	b := w.backend()
	id := lock(t, b)
	p := w.plan(cfg, b)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	hook := func(pt apply.Point) error {
		if pt.Step == apply.StepSettle {
			cancel()
		}
		return nil
	}
	_, err := w.applier(b, hook, nil).Apply(ctx, p, cfg, id)
	var oe *apply.OperationError
	if !errors.As(err, &oe) || !errors.Is(err, context.Canceled) || oe.Status != state.StatusFailed || oe.RollbackErr != nil {
		t.Fatalf("apply: %v", err)
	}
	if got := w.sinkOffsets("orders-sink"); got["orders[0]"] != 50 || got["orders[1]"] != 60 {
		t.Fatalf("offsets: %v", got)
	}
	if got := w.connectorState("orders-sink"); got != "RUNNING" {
		t.Fatalf("connector: %s", got)
	}
	if got := statuses(readState(t, b)); got != "1 offsets failed" {
		t.Fatalf("state: %s", got)
	}
}
