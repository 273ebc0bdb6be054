package apply_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/offsetctl/offsetctl/pkg/apply"
	"github.com/offsetctl/offsetctl/pkg/state"
)

var errCrash = errors.New("simulated kill -9")

// crashAt returns a hook that "kills" the run after step s.
func crashAt(s apply.Step) func(apply.Point) error {
	return func(p apply.Point) error {
		if p.Step == s {
			return errCrash
		}
		return nil
	}
}

// TestCrashAfterEveryStep kills apply after each step in turn (abandoning
// everything without cleanup, the backend closed as a dying process closes
// it), then either applies the same plan again or rolls back, with a fresh
// backend and Applier: offsets and connector states end in a consistent,
// recorded place, and no offset is lost.
func TestCrashAfterEveryStep(t *testing.T) {
	steps := []apply.Step{apply.StepJournal, apply.StepStop, apply.StepSettle, apply.StepAlter, apply.StepVerify, apply.StepRestoreState, apply.StepRecord}
	for _, s := range steps {
		for _, then := range []string{"apply", "rollback"} {
			t.Run(fmt.Sprintf("%s/%s", s, then), func(t *testing.T) {
				ctx := context.Background()
				w := sinkWorld(t, "")
				cfg := w.config(sinkHCL)
				b := w.backend()
				id := lock(t, b)
				p := w.plan(cfg, b)
				_, err := w.applier(b, crashAt(s), nil).Apply(ctx, p, cfg, id)
				var ce *apply.CrashError
				if !errors.As(err, &ce) || !errors.Is(err, errCrash) || ce.Point.Step != s {
					t.Fatalf("apply with a crash after %s: %v", s, err)
				}
				b.Close() // the process died: its lock goes with it

				b2 := w.backend()
				id2 := lock(t, b2)
				crashed := readState(t, b2)
				if len(crashed.Operations) != 1 {
					t.Fatalf("state after the crash: %s", statuses(crashed))
				}
				wantStatus := state.StatusInProgress
				if s == apply.StepRecord {
					wantStatus = state.StatusApplied
				}
				if got := crashed.Operations[0].Status; got != wantStatus {
					t.Fatalf("crashed operation is %s, want %s", got, wantStatus)
				}

				switch then {
				case "apply":
					if _, err := w.applier(b2, nil, nil).Apply(ctx, p, cfg, id2); err != nil {
						t.Fatalf("apply of the same plan after the crash: %v", err)
					}
					if got := w.sinkOffsets("orders-sink"); got["orders[0]"] != 10 || got["orders[1]"] != 10 || got["orders[2]"] != 70 {
						t.Fatalf("offsets: %v", got)
					}
					want := "1 offsets failed; 2 offsets applied"
					if s == apply.StepRecord {
						want = "1 offsets applied"
					}
					st := readState(t, b2)
					if got := statuses(st); got != want {
						t.Fatalf("state: %s, want %s", got, want)
					}
					if s != apply.StepRecord && st.Operations[0].Error == "" {
						t.Fatalf("the recovered operation has no story")
					}
				case "rollback":
					target, err := apply.RollbackCandidate(crashed, 0, "")
					if err != nil {
						t.Fatal(err)
					}
					rp, err := apply.RollbackPlan(ctx, cfg, crashed, []*state.Operation{target}, w.observe, apply.PlanInfo{})
					if err != nil {
						t.Fatal(err)
					}
					if _, err := w.applier(b2, nil, nil).Apply(ctx, rp, cfg, id2); err != nil {
						t.Fatalf("rollback after the crash: %v", err)
					}
					if got := w.sinkOffsets("orders-sink"); got["orders[0]"] != 50 || got["orders[1]"] != 60 || got["orders[2]"] != 70 {
						t.Fatalf("offsets: %v", got)
					}
					if got := statuses(readState(t, b2)); got != "1 offsets rolled_back by 2; 2 rollback applied" {
						t.Fatalf("state: %s", got)
					}
				}
				if got := w.connectorState("orders-sink"); got != "RUNNING" {
					t.Fatalf("connector: %s", got)
				}
				if u := readState(t, b2).Unfinished(); len(u) != 0 {
					t.Fatalf("unfinished operations left: %+v", u)
				}
			})
		}
	}
}
