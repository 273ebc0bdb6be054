package state

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestMerge: a writer's own operations and backups are laid on what others
// stored since it read, renumbered after theirs when they collide, with the
// references between its own operations following; an operation it read
// and changed (a rollback's mark) is replaced; others' are kept.
func TestMerge(t *testing.T) {
	at := time.Unix(100, 0)
	read := New("L")
	read.Begin(Operation{Name: "old", Kind: KindOffsets, Status: StatusApplied, Started: at, Finished: at})
	base := Clone(read)

	// Another writer stored operation 2 and backup 1 meanwhile.
	stored := Clone(read)
	stored.Begin(Operation{Name: "theirs", Kind: KindOffsets, Status: StatusInProgress, Started: at})
	if _, err := stored.AddBackup(2, at, "theirs", "prod", []byte(`{"t":1}`)); err != nil {
		t.Fatal(err)
	}

	// This writer began operation 2 (a rollback of 1) with backup 1 too.
	mine := Clone(read)
	mine.Begin(Operation{Name: "rollback of old", Kind: KindRollback, RollbackOf: 1, Status: StatusApplied, Started: at, Finished: at})
	mine.Operations[0].Status, mine.Operations[0].RolledBackBy = StatusRolledBack, 2
	if _, err := mine.AddBackup(2, at, "mine", "prod", []byte(`{"m":1}`)); err != nil {
		t.Fatal(err)
	}
	var r Renumbering
	got, err := Merge(stored, base, mine, &r)
	if err != nil {
		t.Fatal(err)
	}
	describe := func(s *State) string {
		var parts []string
		for _, op := range s.Operations {
			parts = append(parts, fmt.Sprintf("%d %s %s rollback_of=%d rolled_back_by=%d", op.Serial, op.Name, op.Status, op.RollbackOf, op.RolledBackBy))
		}
		for _, b := range s.Backups {
			parts = append(parts, fmt.Sprintf("backup %d of %d (%s)", b.ID, b.Operation, b.Connector))
		}
		return strings.Join(parts, "; ")
	}
	want := "1 old rolled_back rollback_of=0 rolled_back_by=3; 2 theirs in_progress rollback_of=0 rolled_back_by=0; 3 rollback of old applied rollback_of=1 rolled_back_by=0; backup 1 of 2 (theirs); backup 2 of 3 (mine)"
	if d := describe(got); d != want {
		t.Errorf("merged:\n got %s\nwant %s", d, want)
	}
	if r.Operation(2) != 3 {
		t.Errorf("Renumbering.Operation(2) = %d, want 3", r.Operation(2))
	}

	// A later write of the same writer replaces what it merged, in place.
	mine.Operations[1].Steps = append(mine.Operations[1].Steps, Step{Name: "verify", Status: StepDone})
	got.Serial = 2
	again, err := Merge(got, base, mine, &r)
	if err != nil {
		t.Fatal(err)
	}
	if d := describe(again); d != want || len(again.Operations[2].Steps) != 1 {
		t.Errorf("merged again:\n got %s (%d steps)\nwant %s", d, len(again.Operations[2].Steps), want)
	}
	if _, err := Encode(again, "test"); err != nil {
		t.Errorf("the merged state does not encode: %v", err)
	}

	// Another lineage is refused.
	if _, err := Merge(New("other"), base, mine, &Renumbering{}); err == nil {
		t.Error("a merge onto another lineage was not refused")
	}
}
