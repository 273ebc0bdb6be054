package pgstate

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/offsetctl/offsetctl/internal/pgtest"
	"github.com/offsetctl/offsetctl/pkg/state"
)

// TestResourceLocks: holders of different resources hold their locks and
// write the one state at the same time without losing each other's
// operations (their numbers collide and are given again); a holder of a
// resource another holds waits and is refused naming that holder; a
// whole-state lock and resource locks exclude each other.
func TestResourceLocks(t *testing.T) {
	ctx := context.Background()
	url := pgtest.NewDB(t)
	seed := open(t, url)
	id, err := seed.Lock(ctx, state.LockInfo{Who: "seed"})
	if err != nil {
		t.Fatal(err)
	}
	st := state.New("lineage-1")
	st.Begin(state.Operation{Name: "earlier", Kind: state.KindOffsets, Status: state.StatusApplied, Started: time.Unix(1, 0), Finished: time.Unix(2, 0)})
	if err := seed.Write(ctx, st, id); err != nil {
		t.Fatal(err)
	}
	if err := seed.Unlock(ctx, id); err != nil {
		t.Fatal(err)
	}

	a, b := open(t, url), open(t, url)
	idA, err := a.LockResources(ctx, state.LockInfo{Who: "alice", Host: "ci-1", Operation: "apply"}, []string{"connector X"})
	if err != nil {
		t.Fatal(err)
	}
	idB, err := b.LockResources(ctx, state.LockInfo{Who: "bob", Host: "ci-2", Operation: "apply"}, []string{"connector Y", "table sink public.t"})
	if err != nil {
		t.Fatalf("a lock of other resources: %v", err)
	}

	// The same resource: refused after the wait, naming the holder.
	c := open(t, url)
	wctx, cancel := context.WithTimeout(ctx, 150*time.Millisecond)
	_, err = c.LockResources(wctx, state.LockInfo{Who: "carol"}, []string{"connector Y", "connector Z"})
	cancel()
	var le *state.LockError
	if !errors.As(err, &le) || !errors.Is(err, state.ErrLocked) || le.Holder == nil || le.Holder.Who != "bob" ||
		!strings.Contains(err.Error(), "connector Y is being changed: state is locked by bob@ci-2") {
		t.Fatalf("a lock of a held resource: %v", err)
	}
	// A whole-state lock waits for every resource holder, and names one.
	wctx, cancel = context.WithTimeout(ctx, 150*time.Millisecond)
	_, err = c.Lock(wctx, state.LockInfo{Who: "carol"})
	cancel()
	if !errors.As(err, &le) || le.Holder == nil || (le.Holder.Who != "alice" && le.Holder.Who != "bob") {
		t.Fatalf("a whole-state lock while resources are held: %v (holder %+v)", err, le.Holder)
	}

	// Both read serial 1 and begin operation 2, each in its own view.
	stA, stB := readState(t, a), readState(t, b)
	opA := stA.Begin(state.Operation{Name: "move_x", Kind: state.KindOffsets, Who: "alice", Started: time.Unix(10, 0)}).Serial
	if _, err := stA.AddBackup(opA, time.Unix(10, 0), "x", "prod", []byte(`{"x":1}`)); err != nil {
		t.Fatal(err)
	}
	opB := stB.Begin(state.Operation{Name: "move_y", Kind: state.KindOffsets, Who: "bob", Started: time.Unix(11, 0)}).Serial
	if _, err := stB.AddBackup(opB, time.Unix(11, 0), "y", "prod", []byte(`{"y":1}`)); err != nil {
		t.Fatal(err)
	}
	if opA != 2 || opB != 2 {
		t.Fatalf("local serials %d, %d", opA, opB)
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	wg.Add(2)
	go func() { defer wg.Done(); errs[0] = a.Write(ctx, stA, idA) }()
	go func() { defer wg.Done(); errs[1] = b.Write(ctx, stB, idB) }()
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("concurrent writes: %v", err)
	}
	// Then each finishes its own operation, in turn and again at once.
	for i := 0; i < 3; i++ {
		stA.Operations[1].Steps = append(stA.Operations[1].Steps, state.Step{Name: "step", Status: state.StepDone})
		stB.Operations[1].Steps = append(stB.Operations[1].Steps, state.Step{Name: "step", Status: state.StepDone})
		if i == 2 {
			stA.Operations[1].Status, stA.Operations[1].Finished = state.StatusApplied, time.Unix(20, 0)
			stB.Operations[1].Status, stB.Operations[1].Finished = state.StatusFailed, time.Unix(21, 0)
			stB.Operations[1].Error = "boom"
		}
		wg.Add(2)
		go func() { defer wg.Done(); errs[0] = a.Write(ctx, stA, idA) }()
		go func() { defer wg.Done(); errs[1] = b.Write(ctx, stB, idB) }()
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	if a.Renumbered(2) == b.Renumbered(2) || a.Renumbered(2)+b.Renumbered(2) != 5 {
		t.Fatalf("stored serials of the two operations 2: %d and %d, want 2 and 3", a.Renumbered(2), b.Renumbered(2))
	}
	if err := a.Unlock(ctx, idA); err != nil {
		t.Fatal(err)
	}
	// While b still holds its lock, a reader sees both.
	check := func(when string) {
		t.Helper()
		got := readState(t, open(t, url))
		var parts []string
		for _, op := range got.Operations {
			parts = append(parts, strings.Join([]string{op.Name, string(op.Status), op.Who}, " "))
			if op.Name != "earlier" && len(op.Steps) != 3 {
				t.Errorf("%s: %s has %d steps, want 3", when, op.Name, len(op.Steps))
			}
		}
		// Who wrote first got operation 2.
		want := map[string]bool{"earlier applied  : move_x applied alice : move_y failed bob": true, "earlier applied  : move_y failed bob : move_x applied alice": true}
		if j := strings.Join(parts, " : "); !want[j] {
			t.Errorf("%s: operations %q", when, j)
		}
		for i, op := range got.Operations {
			if op.Serial != uint64(i+1) {
				t.Errorf("%s: operation %d has serial %d", when, i+1, op.Serial)
			}
		}
		if len(got.Backups) != 2 || got.Backups[0].ID != 1 || got.Backups[1].ID != 2 {
			t.Errorf("%s: backups %+v", when, got.Backups)
		}
		for _, bk := range got.Backups {
			op, ok := got.BySerial(bk.Operation)
			if !ok || (bk.Connector == "x") != (op.Name == "move_x") {
				t.Errorf("%s: backup %d of %q belongs to operation %d (%v)", when, bk.ID, bk.Connector, bk.Operation, op)
			}
		}
	}
	check("b holding its lock")
	if err := b.Unlock(ctx, idB); err != nil {
		t.Fatal(err)
	}
	check("after both unlocked")
	// The resources are free again; so is the whole state.
	id, err = c.Lock(ctx, state.LockInfo{Who: "carol"})
	if err != nil {
		t.Fatalf("whole-state lock after the resource holders left: %v", err)
	}
	wctx, cancel = context.WithTimeout(ctx, 100*time.Millisecond)
	_, err = open(t, url).LockResources(wctx, state.LockInfo{Who: "dave"}, []string{"connector X"})
	cancel()
	if !errors.As(err, &le) || le.Holder == nil || le.Holder.Who != "carol" {
		t.Fatalf("a resource lock while the whole state is locked: %v", err)
	}
	if err := c.Unlock(ctx, id); err != nil {
		t.Fatal(err)
	}

	// A stuck holder of a resource lock is force-unlocked by its ID: its
	// session ends, its rows go, and the resource is free.
	stuck := open(t, url)
	sid, err := stuck.LockResources(ctx, state.LockInfo{Who: "erin"}, []string{"connector X"})
	if err != nil {
		t.Fatal(err)
	}
	if err := open(t, url).ForceUnlock(ctx, sid); err != nil {
		t.Fatalf("force-unlock of a resource lock: %v", err)
	}
	fid, err := open(t, url).LockResources(ctx, state.LockInfo{Who: "frank"}, []string{"connector X"})
	if err != nil {
		t.Fatalf("a resource lock after force-unlock: %v", err)
	}
	_ = fid
}

func readState(t *testing.T, b *Backend) *state.State {
	t.Helper()
	st, err := b.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st
}
