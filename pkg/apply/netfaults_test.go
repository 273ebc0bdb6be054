package apply_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/offsetctl/offsetctl/internal/faultproxy"
	"github.com/offsetctl/offsetctl/pkg/apply"
	"github.com/offsetctl/offsetctl/pkg/plan"
	"github.com/offsetctl/offsetctl/pkg/state"
)

// TestNetworkFaultsBetweenApplyAndConnect puts a TCP fault proxy between
// apply and the sandbox's Kafka Connect REST API and arms a fault once the
// connector is stopped and settled, right before the offsets are written.
// Every case ends applied and verified, or rolled back (or recorded as
// needing a rollback, which then succeeds), and apply says which: a write
// whose answer was lost is judged by reading the offsets back, never
// guessed.
func TestNetworkFaultsBetweenApplyAndConnect(t *testing.T) {
	patch := faultproxy.Request("PATCH", "/connectors/orders-sink/offsets")
	get := faultproxy.Request("GET", "/connectors/orders-sink/offsets")
	tests := []struct {
		name string
		arm  func(fp *faultproxy.Proxy)
		// wantStatus is the operation's status after apply.
		wantStatus state.Status
		// wantPatches is how many PATCHes of the offsets reached the
		// worker (0: not checked).
		wantPatches int
		// wantSaid is in the alter step's message (applied) or apply's
		// error (otherwise).
		wantSaid []string
	}{
		{
			name:        "PATCH answer lost, the write applied",
			arm:         func(fp *faultproxy.Proxy) { fp.LoseAnswer(patch, 1) },
			wantStatus:  state.StatusApplied,
			wantPatches: 1,
			wantSaid:    []string{"2 partition(s) written via rest", "the answer to PATCH /connectors/orders-sink/offsets was lost", "read back: it was applied"},
		},
		{
			name: "PATCH answer lost, and the first read-back's answer too",
			arm: func(fp *faultproxy.Proxy) {
				fp.LoseAnswer(patch, 1)
				fp.LoseAnswer(get, 1)
			},
			wantStatus:  state.StatusApplied,
			wantPatches: 1, // read again, not written again blind
			wantSaid:    []string{"was lost", "read back: it was applied"},
		},
		{
			name: "PATCH answer half-closed (end of file instead of the answer)",
			arm: func(fp *faultproxy.Proxy) {
				fp.FaultRequest(patch, 1, faultproxy.Downstream, faultproxy.Fault{HalfClose: true})
			},
			wantStatus:  state.StatusApplied,
			wantPatches: 1,
			wantSaid:    []string{"was lost", "read back: it was applied"},
		},
		{
			name: "PATCH request reset before it reached the worker",
			arm: func(fp *faultproxy.Proxy) {
				fp.FaultRequest(patch, 1, faultproxy.Upstream, faultproxy.Fault{Reset: true})
			},
			wantStatus:  state.StatusApplied,
			wantPatches: 1, // the second attempt
			wantSaid:    []string{"was lost", "read back: it was not applied", "written again"},
		},
		{
			name: "the worker silent for 2.5s from the PATCH on (answers blackholed)",
			arm: func(fp *faultproxy.Proxy) {
				fp.Set(faultproxy.Downstream, faultproxy.Fault{Blackhole: true})
				time.AfterFunc(2500*time.Millisecond, fp.Clear)
			},
			wantStatus:  state.StatusApplied,
			wantPatches: 1,
			wantSaid:    []string{"was lost", "read back: it was applied"},
		},
		{
			name: "every answer 300ms late",
			arm: func(fp *faultproxy.Proxy) {
				fp.Set(faultproxy.Downstream, faultproxy.Fault{Delay: 300 * time.Millisecond})
			},
			wantStatus:  state.StatusApplied,
			wantPatches: 1,
			wantSaid:    []string{"2 partition(s) written via rest"},
		},
		{
			name:       "the worker never answers again",
			arm:        func(fp *faultproxy.Proxy) { fp.Set(faultproxy.Downstream, faultproxy.Fault{Blackhole: true}) },
			wantStatus: state.StatusNeedsRollback,
			wantSaid:   []string{"was lost", "could not be read back", "whether it was applied is not known", "run offsetctl rollback -serial 1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			w := sinkWorld(t, "")
			fp, err := faultproxy.New(strings.TrimPrefix(w.proxy.url, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { fp.Close() })
			w.clients.url, w.clients.timeout = fp.URL(), time.Second
			cfg := w.config(sinkHCL)
			b := w.backend()
			id := lock(t, b)
			p := w.plan(cfg, b)
			hook := func(pt apply.Point) error {
				if pt.Step == apply.StepSettle {
					tt.arm(fp)
				}
				return nil
			}
			var events []apply.Event
			res, err := w.applier(b, hook, &events).Apply(ctx, p, cfg, id)
			t.Logf("apply: %v; requests through the fault proxy: %v", err, fp.Requests())
			if tt.wantPatches > 0 {
				if got := w.proxy.calls("PATCH /connectors/orders-sink/offsets"); len(got) != tt.wantPatches {
					t.Errorf("PATCHes that reached the worker: %v; want %d", got, tt.wantPatches)
				}
			}
			if tt.wantStatus == state.StatusApplied {
				if err != nil || res.Operations[0].Status != state.StatusApplied {
					t.Fatalf("apply: %v; want applied", err)
				}
				said := alterMessage(events)
				for _, s := range tt.wantSaid {
					if !strings.Contains(said, s) {
						t.Errorf("the alter step says %q; want it to say %q", said, s)
					}
				}
				if got := w.sinkOffsets("orders-sink"); got["orders[0]"] != 10 || got["orders[1]"] != 10 || got["orders[2]"] != 70 {
					t.Fatalf("offsets: %v", got)
				}
				if got := statuses(readState(t, b)); got != "1 offsets applied" {
					t.Fatalf("state: %s", got)
				}
				return
			}
			var oe *apply.OperationError
			if !errors.As(err, &oe) || oe.Status != tt.wantStatus {
				t.Fatalf("apply: %v; want %s", err, tt.wantStatus)
			}
			for _, s := range tt.wantSaid {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("apply said %q; want it to say %q", err, s)
				}
			}
			// The network heals; the rollback puts the before-images back.
			fp.Clear()
			st := readState(t, b)
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
				t.Fatalf("offsets after the rollback: %v", got)
			}
			if got := w.connectorState("orders-sink"); got != "RUNNING" {
				t.Fatalf("connector: %s", got)
			}
		})
	}
}

// alterMessage is what the alter step said when it was done.
func alterMessage(events []apply.Event) string {
	for _, e := range events {
		if d, ok := e.(apply.StepDone); ok && d.Step == apply.StepAlter {
			return d.Message
		}
	}
	return ""
}

// TestSinkFaultsBeforeCommit puts a fault proxy in front of the sink's
// PostgreSQL and arms a fault after a repair batch wrote its rows and
// before its commit: the connections reset (the commit is never sent), or
// every answer lost from then on (the server commits, apply never hears
// of it) until the operator interrupts. Apply rolls back over a fresh
// connection and says so: the sink is as it was, the operation failed,
// and a new apply repairs it. When the rollback cannot reach the sink
// either and runs out of time, the state records that it needs one, which
// succeeds once the network is back. Latency only slows the repair down.
func TestSinkFaultsBeforeCommit(t *testing.T) {
	tests := []struct {
		name string
		// arm runs at the batch's commit point; cancel interrupts apply.
		arm        func(fp *faultproxy.Proxy, cancel context.CancelFunc) int
		wantStatus state.Status
		wantSaid   []string
		// rollbackTimeout bounds the automatic rollback (zero: default).
		rollbackTimeout time.Duration
	}{
		{
			name:       "connections reset",
			arm:        func(fp *faultproxy.Proxy, _ context.CancelFunc) int { return fp.ResetAll() },
			wantStatus: state.StatusFailed,
			wantSaid:   []string{"committing repair batch 1", "connection reset by peer", "the before-images were put back and verified"},
		},
		{
			name: "answers lost from the commit on, the operator interrupts",
			arm: func(fp *faultproxy.Proxy, cancel context.CancelFunc) int {
				cs := fp.Conns() // the live ones; new connections work
				for _, c := range cs {
					c.Set(faultproxy.Downstream, faultproxy.Fault{Blackhole: true})
				}
				time.AfterFunc(time.Second, cancel)
				return len(cs)
			},
			wantStatus: state.StatusFailed,
			wantSaid:   []string{"context canceled", "the before-images were put back and verified"},
		},
		{
			// The rollback runs out of time (every sink connection is
			// silent, the new ones too): the failure is recorded all the
			// same, as needing a rollback, which succeeds once the
			// network is back.
			name: "answers lost for good, the operator interrupts, the rollback runs out of time",
			arm: func(fp *faultproxy.Proxy, cancel context.CancelFunc) int {
				fp.Set(faultproxy.Downstream, faultproxy.Fault{Blackhole: true})
				time.AfterFunc(time.Second, cancel)
				return len(fp.Conns())
			},
			rollbackTimeout: 2 * time.Second,
			wantStatus:      state.StatusNeedsRollback,
			wantSaid:        []string{"context canceled", "putting the before-images back failed too", "run offsetctl rollback -serial 1"},
		},
		{
			name: "every answer 20ms late",
			arm: func(fp *faultproxy.Proxy, _ context.CancelFunc) int {
				fp.Set(faultproxy.Downstream, faultproxy.Fault{Delay: 20 * time.Millisecond})
				return len(fp.Conns())
			},
			wantStatus: state.StatusApplied,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			w := newDBWorld(t)
			w.rollbackTimeout = tt.rollbackTimeout
			u, err := url.Parse(w.url)
			if err != nil {
				t.Fatal(err)
			}
			fp, err := faultproxy.New(u.Host)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { fp.Close() })
			fp.SetProtocol(faultproxy.Opaque)
			u.Host = fp.Addr()
			w.env["SINK_URL"] = u.String()
			cfg := w.config(reconcileHCL("upsert", "  delete_extra = true\n"))
			b := w.backend()
			before := w.dump()
			p := w.plan(cfg, b)
			hit := 0
			hook := func(pt apply.Point) error {
				if pt.Step == apply.StepRepairBatch && hit == 0 {
					hit = tt.arm(fp, cancel)
				}
				return nil
			}
			begun := time.Now()
			res, err := w.applier(b, hook, nil).Apply(ctx, p, cfg, dbLock(t, b))
			t.Logf("apply: %v (%d sink connection(s) hit; %s)", err, hit, time.Since(begun).Round(time.Millisecond))
			if hit == 0 {
				t.Fatal("no sink connection was there to hit")
			}
			fp.Clear()
			if tt.wantStatus == state.StatusApplied {
				if err != nil || res.Operations[0].Status != state.StatusApplied {
					t.Fatalf("apply: %v; want applied", err)
				}
				if d := w.drift(cfg, b); d.Drift() {
					t.Fatalf("drift after the repair: %+v", d)
				}
				return
			}
			var oe *apply.OperationError
			if !errors.As(err, &oe) || oe.Status != tt.wantStatus || (oe.RollbackErr == nil) != (tt.wantStatus == state.StatusFailed) {
				t.Fatalf("apply: %v; want %s", err, tt.wantStatus)
			}
			for _, s := range tt.wantSaid {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("apply said %q; want it to say %q", err, s)
				}
			}
			if strings.Contains(err.Error(), "recording the failure in the state failed") {
				t.Errorf("the failure was not recorded: %v", err)
			}
			// Rolled back: the sink is as it was (whether or not the
			// commit happened: its answer never came).
			if got := w.dump(); got != before && tt.wantStatus == state.StatusFailed {
				t.Fatalf("the sink is not as it was after the rollback:\n%s", got)
			}
			if got := statuses(readState(t, b)); got != "1 reconcile "+string(tt.wantStatus) {
				t.Fatalf("state: %s", got)
			}
			if tt.wantStatus == state.StatusNeedsRollback {
				st := readState(t, b)
				target, err := plan.RollbackCandidate(st, 0, "")
				if err != nil {
					t.Fatal(err)
				}
				rp, err := plan.RollbackPlan(context.Background(), cfg, st, []*state.Operation{target}, w.planner().Observe, plan.BuildInfo{Now: time.Now()})
				if err != nil {
					t.Fatalf("rollback plan: %v", err)
				}
				if _, err := w.applier(b, nil, nil).Apply(context.Background(), rp, cfg, dbLock(t, b)); err != nil {
					t.Fatalf("rollback: %v", err)
				}
				if got := w.dump(); got != before {
					t.Fatalf("after the rollback the sink differs")
				}
			}
			// The network is back: a new plan repairs the sink.
			res, err = w.applier(b, nil, nil).Apply(context.Background(), w.plan(cfg, b), cfg, dbLock(t, b))
			if err != nil || res.Operations[0].Status != state.StatusApplied {
				t.Fatalf("apply again: %v", err)
			}
			if d := w.drift(cfg, b); d.Drift() {
				t.Fatalf("drift after the second apply: %+v", d)
			}
		})
	}
}
