package apply_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/offsetctl/offsetctl/pkg/apply"
	"github.com/offsetctl/offsetctl/pkg/plan"
	"github.com/offsetctl/offsetctl/pkg/state"
)

// Bad input is refused with a clear error, and nothing changes: not the
// offsets, not the connector, not the state.
func TestRefusals(t *testing.T) {
	ctx := context.Background()
	w := sinkWorld(t, "")
	cfg := w.config(sinkHCL)
	statePath := filepath.Join(w.dir, "state.json")
	// removeState starts over: no state file, and no journal of one.
	removeState := func() {
		os.Remove(statePath)
		os.Remove(statePath + ".journal")
	}
	// stored is the state file and its journal.
	stored := func() string {
		data, _ := os.ReadFile(statePath)
		journal, _ := os.ReadFile(statePath + ".journal")
		return string(data) + string(journal)
	}

	// seed writes a state with one applied operation of another plan, and
	// returns its bytes.
	seed := func(t *testing.T, lineage string) []byte {
		removeState()
		b := w.backend()
		defer b.Close()
		id := lock(t, b)
		st := state.New(lineage)
		st.Begin(state.Operation{Name: "earlier", Kind: state.KindOffsets, Status: state.StatusApplied, PlanHash: "sha256:other", Started: time.Unix(1, 0), Finished: time.Unix(2, 0)})
		if err := b.Write(ctx, st, id); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(statePath)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}

	for _, tc := range []struct {
		name    string
		prepare func(t *testing.T) (*plan.Plan, string) // the plan and the lock ID to use
		wantErr error
		wantMsg string
	}{
		// A live position that moves is judged against what was reviewed
		// (tolerance_test.go): here the rewind to 10 became a skip.
		{"stale offsets", func(t *testing.T) (*plan.Plan, string) {
			removeState()
			p := w.plan(cfg, w.backend())
			w.setOffsets("orders-sink", `{"offsets":[{"partition":{"kafka_topic":"orders","kafka_partition":1},"offset":{"kafka_offset":5}}]}`, "RUNNING")
			t.Cleanup(func() {
				w.setOffsets("orders-sink", `{"offsets":[{"partition":{"kafka_topic":"orders","kafka_partition":1},"offset":{"kafka_offset":60}}]}`, "RUNNING")
			})
			return p, ""
		}, apply.ErrStalePlan, "orders[1] committed offset was 60, is 5\n  connector.orders: offsets.replay: reviewed without the error skip_not_acknowledged; now the error skip_not_acknowledged: this change skips 5 records that the sink will never receive: add allow_skip_records = 5 to the block to acknowledge it\n  connector.orders: offsets.replay orders[1]: reviewed 60 → 10, replays 50 records; now 5 → 10, skips 5 records: it skips records, which the reviewed plan did not"},
		{"skip whose expected offset moved", func(t *testing.T) (*plan.Plan, string) {
			removeState()
			skipCfg := w.config(strings.Replace(sinkHCL, "partitions = [0, 1]\n    to_offset  = 10", "partitions = [1]\n    skip       = 60", 1))
			p := w.plan(skipCfg, w.backend())
			*cfg = *skipCfg
			t.Cleanup(func() { *cfg = *w.config(sinkHCL) })
			w.setOffsets("orders-sink", `{"offsets":[{"partition":{"kafka_topic":"orders","kafka_partition":1},"offset":{"kafka_offset":61}}]}`, "RUNNING")
			t.Cleanup(func() {
				w.setOffsets("orders-sink", `{"offsets":[{"partition":{"kafka_topic":"orders","kafka_partition":1},"offset":{"kafka_offset":60}}]}`, "RUNNING")
			})
			return p, ""
		}, apply.ErrStalePlan, "offsets.replay: reviewed without the error skip_precondition; now the error skip_precondition: skip = 60 expects the committed offset of orders[1] to be 60, but it is 61"},
		{"stale connector state", func(t *testing.T) (*plan.Plan, string) {
			removeState()
			p := w.plan(cfg, w.backend())
			w.setState("orders-sink", "PAUSED")
			t.Cleanup(func() { w.setState("orders-sink", "RUNNING") })
			return p, ""
		}, apply.ErrStalePlan, "state was RUNNING, is PAUSED"},
		{"tampered plan", func(t *testing.T) (*plan.Plan, string) {
			removeState()
			p := w.plan(cfg, w.backend())
			p.Operations[0].Changes[0].Sink.After = 0
			return p, ""
		}, plan.ErrHashMismatch, "modified after it was written"},
		{"configuration changed", func(t *testing.T) (*plan.Plan, string) {
			removeState()
			p := w.plan(cfg, w.backend())
			p.ConfigHash = "sha256:0123456789abcdef"
			p.Hash = ""
			return p, ""
		}, apply.ErrConfigChanged, "the plan was made from configuration sha256:0123456789abcdef; the configuration now is sha256:"},
		{"plan for another lineage", func(t *testing.T) (*plan.Plan, string) {
			seed(t, "lineage-other")
			p := w.plan(cfg, w.backend())
			seed(t, "lineage-mine")
			return p, ""
		}, apply.ErrWrongState, "against state lineage lineage-other"},
		{"plan made before the state existed", func(t *testing.T) (*plan.Plan, string) {
			removeState()
			p := w.plan(cfg, w.backend())
			seed(t, "lineage-new")
			return p, ""
		}, apply.ErrWrongState, "against no state"},
		{"state written since the plan", func(t *testing.T) (*plan.Plan, string) {
			seed(t, "lineage-mine")
			p := w.plan(cfg, w.backend())
			b := w.backend()
			defer b.Close()
			id := lock(t, b)
			st := readState(t, b)
			st.Begin(state.Operation{Name: "meanwhile", Kind: state.KindOffsets, Status: state.StatusApplied, Started: time.Unix(3, 0), Finished: time.Unix(4, 0)})
			if err := b.Write(ctx, st, id); err != nil {
				t.Fatal(err)
			}
			return p, ""
		}, apply.ErrStateMoved, "made at state serial 1, the state is at serial 2"},
		{"unfinished operation", func(t *testing.T) (*plan.Plan, string) {
			seed(t, "lineage-mine")
			b := w.backend()
			defer b.Close()
			id := lock(t, b)
			st := readState(t, b)
			st.Operations[0].Status = state.StatusInProgress
			if err := b.Write(ctx, st, id); err != nil {
				t.Fatal(err)
			}
			return w.plan(cfg, w.backend()), ""
		}, apply.ErrUnfinished, "operation 1 (earlier) is in_progress"},
		{"blocked plan", func(t *testing.T) (*plan.Plan, string) {
			removeState()
			bad := w.config(strings.Replace(sinkHCL, "to_offset  = 10", "to_offset  = 1000", 1))
			cfg2 := bad
			p := w.plan(cfg2, w.backend())
			// apply against the configuration it was made from
			*cfg = *cfg2
			t.Cleanup(func() { *cfg = *w.config(sinkHCL) })
			return p, ""
		}, apply.ErrBlocked, "beyond the log end offset 100"},
		{"corrupt state file", func(t *testing.T) (*plan.Plan, string) {
			removeState()
			p := w.plan(cfg, w.backend())
			if err := os.WriteFile(statePath, []byte(`{"format_version": 1, "lineage": `), 0o644); err != nil {
				t.Fatal(err)
			}
			return p, ""
		}, state.ErrUnreadable, "reading the state"},
		{"state from the future", func(t *testing.T) (*plan.Plan, string) {
			removeState()
			p := w.plan(cfg, w.backend())
			if err := os.WriteFile(statePath, []byte(`{"format_version": 99, "offsetctl_version": "9.0.0", "lineage": "x", "serial": 3}`), 0o644); err != nil {
				t.Fatal(err)
			}
			return p, ""
		}, nil, "state format_version 99 was written by offsetctl 9.0.0"},
		{"lock not held", func(t *testing.T) (*plan.Plan, string) {
			removeState()
			return w.plan(cfg, w.backend()), "not-my-lock"
		}, state.ErrNotLocked, "nothing was changed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, lockID := tc.prepare(t)
			before := stored()
			b := w.backend()
			defer b.Close()
			if lockID == "" {
				lockID = lock(t, b)
			}
			_, err := w.applier(b, nil, nil).Apply(ctx, p, cfg, lockID)
			if err == nil || (tc.wantErr != nil && !errors.Is(err, tc.wantErr)) || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Fatalf("apply: %v\nwant %v containing %q", err, tc.wantErr, tc.wantMsg)
			}
			if after := stored(); before != after {
				t.Fatalf("the state changed:\n%s\n→\n%s", before, after)
			}
			if got := w.connectorState("orders-sink"); got != "RUNNING" && !strings.Contains(tc.name, "connector state") {
				t.Fatalf("connector: %s", got)
			}
			if got := w.sinkOffsets("orders-sink"); got["orders[0]"] != 50 || got["orders[2]"] != 70 {
				t.Fatalf("offsets changed: %v", got)
			}
			if calls := w.proxy.calls("PATCH"); len(calls) != 0 {
				t.Fatalf("PATCH sent: %v", calls)
			}
		})
	}
}
