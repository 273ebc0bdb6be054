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

// TestKilledRollbackIsFinished applies the rewind (orders[0] 50 → 10,
// orders[1] 60 → 10), rolls it back with a kill after a step, then runs
// rollback again as offsetctl rollback does (plan.RollbackCandidate with no
// serial, plan.RollbackPlan, Apply) with a fresh backend: the killed
// rollback (operation 2) is finished from the live offsets, never undone:
// found applied it is recorded so and nothing is written again; found not
// applied or partly, its after-images are written once; the rewind is
// recorded rolled back by operation 2 and no operation 3 is made. Offsets
// someone else moved are refused. Named (-serial 2), the killed rollback
// is undone. The killed rollback plan applied again (a saved one) finishes
// it too. Until then another plan is refused, told to finish it.
func TestKilledRollbackIsFinished(t *testing.T) {
	for _, tc := range []struct {
		name   string
		crash  apply.Step
		meddle func(w *world) // after the kill
		serial uint64         // named, as rollback -serial does
		same   bool           // the killed rollback plan applied again (a saved one)
		// want: the statuses after, the offsets of orders[0..2] after, the
		// PATCH /offsets calls in all, what the recover step (or the
		// refusal) says.
		want    string
		offsets [3]int64
		patches int
		says    string
	}{
		{name: "applied", crash: apply.StepAlter, want: "1 offsets rolled_back by 2; 2 rollback applied", offsets: [3]int64{50, 60, 70}, patches: 2,
			says: "the rollback run again found it applied (the live offsets equal its after-images: orders[0] 50, orders[1] 60), recorded it as applied and returned the connector to RUNNING"},
		{name: "not applied", crash: apply.StepSettle, want: "1 offsets rolled_back by 2; 2 rollback applied", offsets: [3]int64{50, 60, 70}, patches: 2,
			says: "the rollback run again found nothing written yet (the live offsets equal its before-images), finished it: wrote and verified its after-images (the before-images of operation 1) and returned the connector to RUNNING"},
		{name: "partly", crash: apply.StepSettle, meddle: func(w *world) {
			w.setOffsets("orders-sink", `{"offsets":[{"partition":{"kafka_topic":"orders","kafka_partition":0},"offset":{"kafka_offset":50}}]}`, connect.StateStopped)
		}, want: "1 offsets rolled_back by 2; 2 rollback applied", offsets: [3]int64{50, 60, 70}, patches: 2,
			says: "the rollback run again found it partly applied (1 of 2 partition(s) held the after-image: orders[0] 50, orders[1] 10), finished it"},
		{name: "neither", crash: apply.StepSettle, meddle: func(w *world) {
			w.setOffsets("orders-sink", `{"offsets":[{"partition":{"kafka_topic":"orders","kafka_partition":1},"offset":{"kafka_offset":33}}]}`, connect.StateStopped)
		}, want: "1 offsets applied; 2 rollback in_progress", offsets: [3]int64{10, 33, 70}, patches: 1,
			says: "orders[1] is 33 (before-image 10, after-image 60); offsetctl changed nothing"},
		{name: "same plan again", crash: apply.StepSettle, same: true, want: "1 offsets rolled_back by 2; 2 rollback applied", offsets: [3]int64{50, 60, 70}, patches: 2,
			says: "the rollback run again found nothing written yet"},
		{name: "named", crash: apply.StepAlter, serial: 2, want: "1 offsets applied; 2 rollback rolled_back by 3; 3 rollback applied", offsets: [3]int64{10, 10, 70}, patches: 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			w := sinkWorld(t, "")
			cfg := w.config(sinkHCL)
			b := w.backend()
			id := lock(t, b)
			if _, err := w.applier(b, nil, nil).Apply(ctx, w.plan(cfg, b), cfg, id); err != nil {
				t.Fatalf("apply: %v", err)
			}
			rollback := func(b state.Backend, serial uint64) *plan.Plan {
				t.Helper()
				st := readState(t, b)
				target, err := plan.RollbackCandidate(st, serial, "")
				if err != nil {
					t.Fatal(err)
				}
				rp, err := plan.RollbackPlan(ctx, cfg, st, []*state.Operation{target}, w.observe, plan.BuildInfo{})
				if err != nil {
					t.Fatal(err)
				}
				return rp
			}
			killed := rollback(b, 0)
			if _, err := w.applier(b, crashAt(tc.crash), nil).Apply(ctx, killed, cfg, id); !errors.Is(err, errCrash) {
				t.Fatalf("rollback with a crash after %s: %v", tc.crash, err)
			}
			b.Close()
			if tc.meddle != nil {
				tc.meddle(w)
			}

			b2 := w.backend()
			id2 := lock(t, b2)
			// A plan of the connector is refused until then, told to finish it.
			if _, err := w.applier(b2, nil, nil).Apply(ctx, w.plan(cfg, b2), cfg, id2); !errors.Is(err, apply.ErrUnfinished) || !strings.Contains(err.Error(), "run offsetctl rollback to finish it first (offsetctl rollback -serial 2 would undo it instead)") {
				t.Fatalf("apply of the rewind again while the rollback is unfinished: %v", err)
			}
			var events []apply.Event
			next := killed
			if !tc.same {
				next = rollback(b2, tc.serial)
			}
			res, err := w.applier(b2, nil, &events).Apply(ctx, next, cfg, id2)
			after := readState(t, b2)
			switch {
			case tc.name == "neither":
				if err == nil || !strings.Contains(err.Error(), tc.says) || !errors.Is(err, apply.ErrStalePlan) {
					t.Fatalf("rollback over offsets someone else moved: %v, want a refusal saying %q", err, tc.says)
				}
			case err != nil:
				t.Fatalf("rollback after the kill: %v", err)
			case tc.says != "":
				if got := recoverStory(after.Operations[1]); !strings.Contains(got, tc.says) {
					t.Errorf("recover step of operation 2:\n got %q\nwant %q", got, tc.says)
				}
				if len(res.Finished) != 1 || res.Finished[0] != 2 || len(res.Operations) != 0 {
					t.Errorf("result: finished %v, operations %+v; want operation 2 finished and nothing else run", res.Finished, res.Operations)
				}
				var told string
				for _, e := range events {
					if r, ok := e.(apply.Recovered); ok {
						told = r.Message
					}
				}
				if !strings.Contains(told, tc.says) {
					t.Errorf("Recovered event says %q", told)
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
			if tc.name != "neither" {
				if got := w.connectorState("orders-sink"); got != "RUNNING" {
					t.Errorf("connector: %s", got)
				}
			}
		})
	}
}
