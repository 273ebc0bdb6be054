package apply_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/offsetctl/offsetctl/pkg/apply"
	"github.com/offsetctl/offsetctl/pkg/connect"
	"github.com/offsetctl/offsetctl/pkg/plan"
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
// recorded place, and no offset is lost. Apply of the same plan finds an
// operation killed after its offsets were written applied (it records it
// so and does not write them again); one killed before, not applied (it is
// recorded failed and applied anew).
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
					written := s != apply.StepJournal && s != apply.StepStop && s != apply.StepSettle
					want := "1 offsets failed; 2 offsets applied"
					if written {
						want = "1 offsets applied"
					}
					st := readState(t, b2)
					if got := statuses(st); got != want {
						t.Fatalf("state: %s, want %s", got, want)
					}
					if !written && st.Operations[0].Error == "" {
						t.Fatalf("the recovered operation has no story")
					}
					if written && s != apply.StepRecord {
						if story := recoverStory(st.Operations[0]); !strings.Contains(story, "found it applied") {
							t.Fatalf("the recovered operation's recover step says %q", story)
						}
					}
					// Offsets are written once in all: by the killed run,
					// or (when it died before writing) by this one.
					if got := w.proxy.calls("PATCH /connectors/orders-sink/offsets"); len(got) != 1 {
						t.Fatalf("offsets written %d times: %v", len(got), got)
					}
				case "rollback":
					target, err := plan.RollbackCandidate(crashed, 0, "")
					if err != nil {
						t.Fatal(err)
					}
					rp, err := plan.RollbackPlan(ctx, cfg, crashed, []*state.Operation{target}, w.observe, plan.BuildInfo{})
					if err != nil {
						t.Fatal(err)
					}
					if _, err := w.applier(b2, nil, nil).Apply(ctx, rp, cfg, id2); err != nil {
						t.Fatalf("rollback after the crash: %v", err)
					}
					if got := w.sinkOffsets("orders-sink"); got["orders[0]"] != 50 || got["orders[1]"] != 60 || got["orders[2]"] != 70 {
						t.Fatalf("offsets: %v", got)
					}
					// An operation killed before it wrote anything was
					// never applied: the rollback records it failed.
					want := "1 offsets rolled_back by 2; 2 rollback applied"
					if s == apply.StepJournal || s == apply.StepStop || s == apply.StepSettle {
						want = "1 offsets failed; 2 rollback applied"
					}
					st := readState(t, b2)
					if got := statuses(st); got != want {
						t.Fatalf("state: %s, want %s", got, want)
					}
					if s != apply.StepRecord && recoverStory(st.Operations[0]) == "" {
						t.Fatalf("the rolled back operation has no story of what the rollback found")
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

// recoverStory returns the message of an operation's recover step.
func recoverStory(op state.Operation) string {
	for _, s := range op.Steps {
		if s.Name == string(apply.StepRecover) {
			return s.Message
		}
	}
	return ""
}

// TestRecoveryDecidesFromLiveOffsets: a process killed after it wrote the
// offsets but before it recorded that (the world changed; the state's last
// step is settle) is settled from the live offsets, not from the journal.
// Apply of the same plan finds the operation applied, records it so and
// writes nothing again (no second replay); rollback puts the before-images
// back. Offsets that match neither image are refused, with the partitions
// named; offsets half written are undone and applied again.
func TestRecoveryDecidesFromLiveOffsets(t *testing.T) {
	for _, tc := range []struct {
		name string
		// meddle changes the world after the kill; nil leaves it.
		meddle func(w *world)
		then   string
		// want: the statuses after, the offsets of orders[0..2] after, the
		// PATCH /offsets calls in all (the killed run's included), and
		// what the recover step (or the refusal) says.
		want    string
		offsets [3]int64
		patches int
		says    string
	}{
		{name: "applied/apply", then: "apply", want: "1 offsets applied", offsets: [3]int64{10, 10, 70}, patches: 1,
			says: "interrupted after step settle (the process running it stopped); offsetctl apply of the same plan found it applied (the live offsets equal its after-images: orders[0] 10, orders[1] 10), recorded it as applied and returned the connector to RUNNING"},
		{name: "applied/rollback", then: "rollback", want: "1 offsets rolled_back by 2; 2 rollback applied", offsets: [3]int64{50, 60, 70}, patches: 2,
			says: "interrupted after step settle (the process running it stopped); offsetctl rollback (operation 2) found it applied (the live offsets equal its after-images: orders[0] 10, orders[1] 10) and put its before-images back"},
		{name: "partly/apply", then: "apply", meddle: func(w *world) {
			w.setOffsets("orders-sink", `{"offsets":[{"partition":{"kafka_topic":"orders","kafka_partition":1},"offset":{"kafka_offset":60}}]}`, connect.StateStopped)
		}, want: "1 offsets failed; 2 offsets applied", offsets: [3]int64{10, 10, 70}, patches: 3,
			says: "interrupted after step settle, partly applied (1 of 2 partition(s) held the after-image: orders[0] 10, orders[1] 60); offsetctl apply of the same plan put the before-images back and returned the connector to RUNNING"},
		{name: "neither/apply", then: "apply", meddle: func(w *world) {
			w.setOffsets("orders-sink", `{"offsets":[{"partition":{"kafka_topic":"orders","kafka_partition":1},"offset":{"kafka_offset":33}}]}`, connect.StateStopped)
		}, want: "1 offsets in_progress", offsets: [3]int64{10, 33, 70}, patches: 1,
			says: "orders[1] is 33 (before-image 60, after-image 10); offsetctl changed nothing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			w := sinkWorld(t, "")
			cfg := w.config(sinkHCL)
			b := w.backend()
			id := lock(t, b)
			p := w.plan(cfg, b)
			if _, err := w.applier(b, crashAt(apply.StepAlter), nil).Apply(ctx, p, cfg, id); !errors.Is(err, errCrash) {
				t.Fatalf("apply with a crash after alter: %v", err)
			}
			// The kill came after the write and before its record: the
			// journal ends with settle.
			st := readState(t, b)
			op := &st.Operations[0]
			for i, s := range op.Steps {
				if s.Name == string(apply.StepAlter) {
					op.Steps = op.Steps[:i]
					break
				}
			}
			if err := b.Write(ctx, st, id); err != nil {
				t.Fatal(err)
			}
			b.Close()
			if tc.meddle != nil {
				tc.meddle(w)
			}

			b2 := w.backend()
			id2 := lock(t, b2)
			crashed := readState(t, b2)
			if got := crashed.Operations[0].Steps; got[len(got)-1].Name != string(apply.StepSettle) {
				t.Fatalf("the journal ends with %s, want settle", got[len(got)-1].Name)
			}
			var events []apply.Event
			var err error
			switch tc.then {
			case "apply":
				_, err = w.applier(b2, nil, &events).Apply(ctx, p, cfg, id2)
			case "rollback":
				target, terr := plan.RollbackCandidate(crashed, 0, "")
				if terr != nil {
					t.Fatal(terr)
				}
				rp, perr := plan.RollbackPlan(ctx, cfg, crashed, []*state.Operation{target}, w.observe, plan.BuildInfo{})
				if perr != nil {
					t.Fatal(perr)
				}
				_, err = w.applier(b2, nil, &events).Apply(ctx, rp, cfg, id2)
			}
			after := readState(t, b2)
			if tc.name == "neither/apply" {
				if err == nil || !strings.Contains(err.Error(), tc.says) || !errors.Is(err, apply.ErrStalePlan) {
					t.Fatalf("apply over offsets someone else moved: %v, want a refusal saying %q", err, tc.says)
				}
			} else {
				if err != nil {
					t.Fatalf("%s after the kill: %v", tc.then, err)
				}
				if tc.says != "" {
					if got := recoverStory(after.Operations[0]); got != tc.says {
						t.Errorf("recover step:\n got %q\nwant %q", got, tc.says)
					}
					var told string
					for _, e := range events {
						if r, ok := e.(apply.Recovered); ok {
							told = r.Message
						}
					}
					if told != tc.says && tc.then == "apply" {
						t.Errorf("Recovered event says %q", told)
					}
				}
			}
			if got := statuses(after); got != tc.want {
				t.Errorf("state: %s, want %s", got, tc.want)
			}
			got := w.sinkOffsets("orders-sink")
			if got["orders[0]"] != tc.offsets[0] || got["orders[1]"] != tc.offsets[1] || got["orders[2]"] != tc.offsets[2] {
				t.Errorf("offsets: %v, want %v", got, tc.offsets)
			}
			if got := w.proxy.calls("PATCH /connectors/orders-sink/offsets"); len(got) != tc.patches {
				t.Errorf("offsets written %d times through offsetctl, want %d: %v", len(got), tc.patches, got)
			}
		})
	}
}
