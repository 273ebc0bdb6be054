package plan

import (
	"errors"
	"testing"

	"github.com/offsetctl/offsetctl/pkg/state"
)

// TestRollbackCandidate picks what offsetctl rollback undoes from states
// built by hand: above all, a rollback left unfinished (killed) is finished
// by default, the candidate being what it rolls back, not undone (which
// would flip the offsets back); named, it is undone.
func TestRollbackCandidate(t *testing.T) {
	sink := []state.Connector{{Name: "orders-sink", ConnectCluster: "sb", StateBefore: "RUNNING"}}
	op := func(serial uint64, kind state.Kind, status state.Status, of uint64) state.Operation {
		o := state.Operation{Serial: serial, Name: "replay", Kind: kind, Status: status, RollbackOf: of, Connectors: sink}
		if kind == state.KindRollback {
			o.Name = "rollback of replay"
		}
		return o
	}
	repairRollback := op(2, state.KindRollback, state.StatusInProgress, 1)
	repairRollback.Connectors = nil // a rollback of a reconcile repair names no connector
	for _, tc := range []struct {
		name   string
		ops    []state.Operation
		serial uint64
		want   uint64 // 0: an error
		is     error  // the error, when want is 0
	}{
		{name: "last applied", ops: []state.Operation{op(1, state.KindOffsets, state.StatusApplied, 0), op(2, state.KindOffsets, state.StatusApplied, 0)}, want: 2},
		{name: "unfinished apply first", ops: []state.Operation{op(1, state.KindOffsets, state.StatusInProgress, 0), op(2, state.KindOffsets, state.StatusApplied, 0)}, want: 1},
		{name: "applied rollback is not undone by default", ops: []state.Operation{op(1, state.KindOffsets, state.StatusRolledBack, 0), op(2, state.KindRollback, state.StatusApplied, 1)}, is: ErrNothingToRollback},
		// The killed rollback: finish it (its target is the candidate).
		{name: "killed rollback is finished", ops: []state.Operation{op(1, state.KindOffsets, state.StatusApplied, 0), op(2, state.KindRollback, state.StatusInProgress, 1)}, want: 1},
		{name: "rollback whose undo failed is finished", ops: []state.Operation{op(1, state.KindOffsets, state.StatusApplied, 0), op(2, state.KindRollback, state.StatusNeedsRollback, 1)}, want: 1},
		{name: "killed rollback of a killed apply is finished", ops: []state.Operation{op(1, state.KindOffsets, state.StatusInProgress, 0), op(2, state.KindRollback, state.StatusInProgress, 1)}, want: 1},
		{name: "killed rollback named is undone", ops: []state.Operation{op(1, state.KindOffsets, state.StatusApplied, 0), op(2, state.KindRollback, state.StatusInProgress, 1)}, serial: 2, want: 2},
		{name: "target named finishes the killed rollback", ops: []state.Operation{op(1, state.KindOffsets, state.StatusApplied, 0), op(2, state.KindRollback, state.StatusInProgress, 1)}, serial: 1, want: 1},
		{name: "killed rollback of a repair is undone as before", ops: []state.Operation{op(1, state.KindReconcile, state.StatusApplied, 0), repairRollback}, want: 2},
		{name: "a later unfinished operation comes first", ops: []state.Operation{op(1, state.KindOffsets, state.StatusApplied, 0), op(2, state.KindRollback, state.StatusInProgress, 1), op(3, state.KindOffsets, state.StatusInProgress, 0)}, want: 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := state.New("lineage")
			st.Operations = tc.ops
			got, err := RollbackCandidate(st, tc.serial, "")
			if tc.want == 0 {
				if !errors.Is(err, tc.is) {
					t.Fatalf("RollbackCandidate: %v, %v; want an error %v", got, err, tc.is)
				}
				return
			}
			if err != nil || got.Serial != tc.want {
				t.Fatalf("RollbackCandidate: %+v, %v; want operation %d", got, err, tc.want)
			}
			u, finishing := st.UnfinishedRollbackOf(got.Serial)
			if want := tc.ops[len(tc.ops)-1].Kind == state.KindRollback && tc.ops[len(tc.ops)-1].Connectors != nil && got.Serial == 1; finishing != want {
				t.Fatalf("the candidate %d has an unfinished rollback to finish: %v (%+v), want %v", got.Serial, finishing, u, want)
			}
		})
	}
}
