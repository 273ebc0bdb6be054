package apply_test

import (
	"context"
	"strings"
	"testing"

	"github.com/offsetctl/offsetctl/pkg/apply"
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
	rp, err := apply.RollbackPlan(ctx, cfg, st, []*state.Operation{&st.Operations[0]}, w.observe, apply.PlanInfo{})
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
