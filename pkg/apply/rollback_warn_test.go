package apply_test

import (
	"context"
	"strings"
	"testing"

	"github.com/offsetctl/offsetctl/pkg/connect"
	"github.com/offsetctl/offsetctl/pkg/plan"
	"github.com/offsetctl/offsetctl/pkg/plan/render"
	"github.com/offsetctl/offsetctl/pkg/state"
)

// Rolling back an operation that gave a partition its first offset deletes
// that offset: the rollback plan says the connector starts over.
func TestRollbackWarnsWhenItDeletesAnOffset(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, "")
	w.createConnector("orders-source", map[string]string{"connector.class": sourceClass, "tasks.max": "1"})
	w.setOffsets("orders-source", `{"offsets":[{"partition":{"table":"customers"},"offset":{"incrementing":7}}]}`, "STOPPED")
	cfg := w.config(sourceHCL) // sets {"table":"orders"}, which has no offset yet
	b := w.backend()
	id := lock(t, b)
	if _, err := w.applier(b, nil, nil).Apply(ctx, w.plan(cfg, b), cfg, id); err != nil {
		t.Fatalf("apply: %v", err)
	}
	st := readState(t, b)
	rp, err := plan.RollbackPlan(ctx, cfg, st, []*state.Operation{&st.Operations[0]}, w.observe, plan.BuildInfo{})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, c := range rp.Checks {
		found = found || (c.Code == "rollback_deletes_offset" && strings.Contains(c.Message, `{"table":"orders"}`) && strings.Contains(c.Message, "starts over"))
	}
	if !found {
		t.Fatalf("no warning that the rollback deletes the offset: %+v", rp.Checks)
	}
}

// When the connector ran after an operation, the rollback plan says what it
// does with the newer offset, consistently with its changes: it overwrites
// an offset that moved elsewhere (a warning beside a change), and leaves one
// that is already back at the before-image (no warning beside "No changes").
func TestRollbackSaysWhatItDoesWithNewerOffsets(t *testing.T) {
	for _, tc := range []struct {
		name, now  string
		wantStatus plan.OperationStatus
		wantSev    plan.Severity
		want       []string
		notText    string
	}{
		{name: "moved_elsewhere", now: `{"incrementing":6,"timestamp":1700000000001}`, wantStatus: plan.StatusChange, wantSev: plan.SeverityWarning,
			want:    []string{`source partition {"table":"orders"} is at {"incrementing":6,"timestamp":1700000000001}, not at the {"incrementing":5,"timestamp":1700000000000} that operation wrote; the rollback overwrites`},
			notText: "No changes"},
		{name: "back_at_before_image", now: `{"incrementing":9007199254740993,"timestamp":1700000099999}`, wantStatus: plan.StatusNoChange, wantSev: plan.SeverityOK,
			want:    []string{"No changes. What the rollback or restore would put back is already in place.", `is at {"incrementing":9007199254740993,"timestamp":1700000099999} again, its offset before that operation`, "the rollback leaves it as it is"},
			notText: "overwrites"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			w := sourceWorld(t, "", connect.StateStopped)
			cfg := w.config(sourceHCL)
			b := w.backend()
			id := lock(t, b)
			if _, err := w.applier(b, nil, nil).Apply(ctx, w.plan(cfg, b), cfg, id); err != nil {
				t.Fatalf("apply: %v", err)
			}
			w.setOffsets("orders-source", `{"offsets":[{"partition":{"table":"orders"},"offset":`+tc.now+`}]}`, connect.StateStopped)
			st := readState(t, b)
			rp, err := plan.RollbackPlan(ctx, cfg, st, []*state.Operation{&st.Operations[0]}, w.observe, plan.BuildInfo{})
			if err != nil {
				t.Fatal(err)
			}
			if got := rp.Operations[0].Status; got != tc.wantStatus {
				t.Errorf("status %s, want %s", got, tc.wantStatus)
			}
			var moved []plan.Check
			for _, c := range rp.Checks {
				if c.Code == "moved_since_apply" {
					moved = append(moved, c)
				}
			}
			if len(moved) != 1 || moved[0].Severity != tc.wantSev {
				t.Fatalf("moved_since_apply checks %+v, want one of severity %s", moved, tc.wantSev)
			}
			var out strings.Builder
			if err := render.Text(&out, rp, render.Options{}); err != nil {
				t.Fatal(err)
			}
			for _, s := range tc.want {
				if !strings.Contains(out.String(), s) {
					t.Errorf("the rollback plan lacks %q:\n%s", s, out.String())
				}
			}
			if strings.Contains(out.String(), tc.notText) {
				t.Errorf("the rollback plan says %q, which contradicts what it does:\n%s", tc.notText, out.String())
			}
		})
	}
}
