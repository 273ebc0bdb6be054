package apply_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/offsetctl/offsetctl/pkg/apply"
	"github.com/offsetctl/offsetctl/pkg/config"
)

// moveOn inserts n rows at the source and waits until the sink committed
// at least at.
func (cs *consumingSink) moveOn(ctx context.Context, t *testing.T, n int, at int64) {
	t.Helper()
	if _, err := cs.pipe.InsertN(ctx, n); err != nil {
		t.Fatal(err)
	}
	for cs.w.sinkOffsets(cs.name)[cs.key] < at {
		if ctx.Err() != nil {
			t.Fatalf("the sink never committed %d: %v", at, cs.w.sinkOffsets(cs.name))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (cs *consumingSink) configWith(target, extra string) *config.Config {
	return cs.w.config(fmt.Sprintf(`
connector "sink" {
  connect = connect.sb
  kafka   = kafka.sb
  name    = %q
}
offsets "move" {
  connector = connector.sink
  reason    = "INC-14: move the sink while it runs"
  %s
  sink_partition {
    topic      = %q
    partitions = [0]
    %s
  }
}
`, cs.name, extra, cs.pipe.Topic(), target))
}

// A plan for a RUNNING connector survives review: the pipeline keeps
// flowing between plan and apply (5 records) and again between apply's
// re-observation and its stop (4 more). Apply computes the operation again
// from the live position and proceeds when the targets are the same (an
// absolute target), the preconditions hold and the risk stays within the
// reviewed bounds (by default the counts may grow by what the connector
// processed since the plan); otherwise it refuses, showing reviewed vs now,
// and changes nothing. The before-images are the offsets found at the stop.
// (A skip whose expected offset moved, and a class added, are refused in
// TestRefusals: they need a sink behind its log end.)
func TestApplyOnAFlowingPipeline(t *testing.T) {
	for _, tc := range []struct {
		name   string
		target func(committed int64) string
		extra  string
		// after is the offset written, from the offset found at the stop
		// (committed+9); refuse the refusal's words ("" when applied).
		after  func(committed, atStop int64) int64
		refuse []string
	}{
		{name: "to_offset: the target stays, replays grow by what was processed",
			target: func(c int64) string { return fmt.Sprintf("to_offset = %d", c-3) },
			after:  func(c, _ int64) int64 { return c - 3 }},
		{name: "shift_by: the target follows the live position, replays stay",
			target: func(int64) string { return "shift_by = -3" },
			after:  func(_, s int64) int64 { return s - 3 }},
		{name: "to_offset with tolerance replays = 0 refuses any growth",
			target: func(c int64) string { return fmt.Sprintf("to_offset = %d", c-3) },
			extra:  "tolerance = { replays = 0 }",
			refuse: []string{"offsets.move: reviewed replays 3 records; now replays 8 records, 5 more, beyond tolerance.replays = 0"}},
		{name: "to_offset with tolerance replays = 20 takes this growth",
			target: func(c int64) string { return fmt.Sprintf("to_offset = %d", c-3) },
			extra:  "tolerance = { replays = 20 }",
			after:  func(c, _ int64) int64 { return c - 3 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			cs := newConsumingSink(t, ctx)
			w := cs.w
			c := cs.committed
			cfg := cs.configWith(tc.target(c), tc.extra)
			b := w.backend()
			id := lock(t, b)
			p := w.plan(cfg, b)
			if p.HasErrors() || !p.HasChanges() {
				t.Fatalf("plan: changes %v, checks %+v", p.HasChanges(), p.Checks)
			}
			// Between the plan and apply (the review), the pipeline flows.
			cs.moveOn(ctx, t, 5, c+5)
			// And between apply's re-observation and its stop.
			atStop := c + 9
			hook := func(pt apply.Point) error {
				if pt.Step == apply.StepJournal {
					cs.moveOn(ctx, t, 4, atStop)
				}
				return nil
			}
			var events []apply.Event
			_, err := w.applier(b, hook, &events).Apply(ctx, p, cfg, id)
			if tc.refuse != nil {
				if !errors.Is(err, apply.ErrStalePlan) {
					t.Fatalf("apply: %v, want a stale plan", err)
				}
				for _, want := range append([]string{fmt.Sprintf("committed offset was %d, is %d", c, c+5), "nothing was changed"}, tc.refuse...) {
					if !strings.Contains(err.Error(), want) {
						t.Errorf("the refusal does not say %q:\n%v", want, err)
					}
				}
				if st, rerr := b.Read(ctx); rerr == nil && len(st.Operations) > 0 {
					t.Errorf("a refused apply recorded %s", statuses(st))
				}
				if got := w.proxy.calls("PATCH /connectors/" + cs.name + "/offsets"); len(got) != 0 {
					t.Errorf("a refused apply wrote offsets: %v", got)
				}
				if got := w.connectorState(cs.name); got != "RUNNING" {
					t.Errorf("connector %s after a refusal, want RUNNING", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("apply: %v", err)
			}
			st := readState(t, b)
			if got := statuses(st); got != "1 offsets applied" {
				t.Fatalf("state: %s", got)
			}
			op := st.Operations[0]
			if len(op.BeforeImages) != 1 || op.BeforeImages[0].Sink.Offset != atStop {
				t.Errorf("before-images %+v, want the offset found at the stop, %d (planned at %d)", op.BeforeImages, atStop, c)
			}
			want := tc.after(c, atStop)
			if len(op.After) != 1 || op.After[0].Sink.Offset != want {
				t.Errorf("after-images %+v, want %d", op.After, want)
			}
			var warned bool
			for _, e := range events {
				if wv, ok := e.(apply.Warning); ok && strings.Contains(wv.Message, "moved on since the plan") {
					warned = true
				}
			}
			if !warned {
				t.Errorf("no warning that the connector moved on since the plan: %v", events)
			}
			// The replay runs: the sink comes back to where it stopped.
			for w.sinkOffsets(cs.name)[cs.key] < atStop {
				if ctx.Err() != nil {
					t.Fatalf("the sink never consumed the replay: %v", w.sinkOffsets(cs.name))
				}
				time.Sleep(20 * time.Millisecond)
			}
			if got := w.proxy.calls("PATCH /connectors/" + cs.name + "/offsets"); len(got) != 1 {
				t.Errorf("offsets written %d times, want once: %v", len(got), got)
			}
		})
	}
}
