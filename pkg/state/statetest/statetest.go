package statetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/offsetctl/offsetctl/pkg/state"
)

// NewStore creates a fresh, empty store for one test and returns a function
// that opens a new handle on it, as another process would (for the local
// backend: a Backend on the same path). The suite closes the handles it
// opens.
type NewStore func(t *testing.T) (open func() state.Backend)

// Run runs the conformance suite against the backend newStore makes.
func Run(t *testing.T, newStore NewStore) {
	tests := []struct {
		name string
		fn   func(t *testing.T, open func() state.Backend)
	}{
		{"ReadWithoutState", testReadWithoutState},
		{"WriteReadRoundTrip", testRoundTrip},
		{"SerialBumps", testSerialBumps},
		{"StaleSerialRefused", testStaleSerial},
		{"NewLineageOverExistingRefused", testNewLineageOverExisting},
		{"LineageMismatchRefused", testLineageMismatch},
		{"WriteNeedsTheLock", testWriteNeedsLock},
		{"LockUnlock", testLockUnlock},
		{"DoubleLockRefusedNamingHolder", testDoubleLock},
		{"CancelledLockWait", testCancelledLockWait},
		{"UnlockWrongID", testUnlockWrongID},
		{"ForceUnlock", testForceUnlock},
		{"DeadHolderReleasesLock", testDeadHolder},
		{"ConcurrentWritersOneProceeds", testConcurrentWriters},
		{"ConcurrentLockersOneProceeds", testConcurrentLockers},
		{"FailedWriteKeepsPreviousState", testFailedWrite},
		{"UnfinishedOperationSurvives", testUnfinished},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			open := newStore(t)
			tt.fn(t, func() state.Backend {
				b := open()
				t.Cleanup(func() { b.Close() })
				return b
			})
		})
	}
}

var t0 = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func lock(t *testing.T, b state.Backend, who string) string {
	t.Helper()
	id, err := b.Lock(ctxT(t), state.LockInfo{Operation: "apply", Who: who, Host: "host-" + who, Created: t0})
	if err != nil {
		t.Fatalf("Lock: %v", err)
	}
	if id == "" {
		t.Fatalf("Lock returned an empty ID")
	}
	return id
}

func unlock(t *testing.T, b state.Backend, id string) {
	t.Helper()
	if err := b.Unlock(ctxT(t), id); err != nil {
		t.Fatalf("Unlock: %v", err)
	}
}

func read(t *testing.T, b state.Backend) *state.State {
	t.Helper()
	s, err := b.Read(ctxT(t))
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	return s
}

// write locks b, writes s and unlocks.
func write(t *testing.T, b state.Backend, s *state.State) {
	t.Helper()
	id := lock(t, b, "writer")
	if err := b.Write(ctxT(t), s, id); err != nil {
		t.Fatalf("Write: %v", err)
	}
	unlock(t, b, id)
}

func encode(t *testing.T, s *state.State) string {
	t.Helper()
	data, err := state.Encode(s, "suite")
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	return string(data)
}

// sample is a state with every kind of image and a backup, with offsets whose
// bytes must survive exactly.
func sample(t *testing.T) *state.State {
	s := state.New("5e0b6c2a-1f3d-4e8a-9b7c-0d1e2f3a4b5c")
	op := s.Begin(state.Operation{
		Name: "rewind_inventory", Kind: state.KindOffsets, Status: state.StatusApplied,
		PlanHash: "sha256:aa", BlockHash: "sha256:bb", Who: "alice", Host: "ops-1",
		Started: t0, Finished: t0.Add(5 * time.Second), Reason: "INC-1", Approvals: []string{"bob"},
		Connectors: []state.Connector{{Name: "inventory", ConnectCluster: "prod", StateBefore: "RUNNING", StateAfter: "RUNNING"}},
		Steps:      []state.Step{{Name: "alter offsets", Target: "inventory", Status: state.StepDone, Started: t0, Finished: t0.Add(time.Second), Message: "1 partition"}},
		BeforeImages: []state.Image{
			{Connector: "inventory", ConnectCluster: "prod", Source: &state.SourceOffset{
				Key:       []byte(`["inventory",{"server":"db1"}]`),
				Partition: json.RawMessage(`{"server":"db1"}`),
				Offset:    json.RawMessage(`{"lsn_proc":18446744073709551615,"lsn":38406576,"txId":649,"ts_usec":1.7E15}`),
			}},
			{Connector: "inventory", ConnectCluster: "prod", Source: &state.SourceOffset{Partition: json.RawMessage(`{"server":"db2"}`)}},
			{Connector: "orders-sink", ConnectCluster: "prod", Sink: &state.SinkOffset{Group: "connect-orders-sink", Topic: "orders", Partition: 2, Offset: -1}},
			{Row: &state.RowImage{Database: "sink", Table: "public.customers", Key: json.RawMessage(`{"id":7}`), Row: json.RawMessage(`{"id":7,"name":"Ann <a&b>"}`)}},
		},
	})
	op.After = []state.Image{{Connector: "inventory", Source: &state.SourceOffset{Partition: json.RawMessage(`{"server":"db1"}`), Offset: json.RawMessage(`{"lsn":1}`)}}}
	if _, err := s.AddBackup(op.Serial, t0, "inventory", "prod", json.RawMessage(`{"format_version":1,"offsets":[]}`)); err != nil {
		t.Fatal(err)
	}
	return s
}

func testReadWithoutState(t *testing.T, open func() state.Backend) {
	_, err := open().Read(ctxT(t))
	if !errors.Is(err, state.ErrNoState) {
		t.Fatalf("Read of an empty store: %v, want ErrNoState", err)
	}
}

func testRoundTrip(t *testing.T, open func() state.Backend) {
	s := sample(t)
	want := encode(t, s)
	write(t, open(), s)
	if s.Serial != 1 {
		t.Errorf("after the first write Serial = %d, want 1", s.Serial)
	}
	got := read(t, open())
	if got.Serial != 1 || got.Lineage != s.Lineage {
		t.Errorf("read lineage %s serial %d, want %s 1", got.Lineage, got.Serial, s.Lineage)
	}
	got.Serial = 0
	if g := encode(t, got); g != want {
		t.Errorf("state read back differs from the one written:\nwrote %s\nread  %s", want, g)
	}
	if src := got.Operations[0].BeforeImages[0].Source; string(src.Offset) != `{"lsn_proc":18446744073709551615,"lsn":38406576,"txId":649,"ts_usec":1.7E15}` {
		t.Errorf("source offset not kept exactly: %s", src.Offset)
	}
}

func testSerialBumps(t *testing.T, open func() state.Backend) {
	b := open()
	s := state.New("lin-serial")
	for want := uint64(1); want <= 3; want++ {
		write(t, b, s)
		if s.Serial != want {
			t.Fatalf("Serial after write %d = %d", want, s.Serial)
		}
		if got := read(t, open()); got.Serial != want {
			t.Fatalf("stored serial %d, want %d", got.Serial, want)
		}
	}
}

func testStaleSerial(t *testing.T, open func() state.Backend) {
	a, b := open(), open()
	write(t, a, state.New("lin-stale"))
	sa, sb := read(t, a), read(t, b)
	sb.Begin(state.Operation{Name: "b", Kind: state.KindOffsets, Started: t0})
	write(t, b, sb) // serial 2
	sa.Begin(state.Operation{Name: "a", Kind: state.KindOffsets, Started: t0})
	id := lock(t, a, "a")
	defer unlock(t, a, id)
	err := a.Write(ctxT(t), sa, id)
	if !errors.Is(err, state.ErrSerialMismatch) {
		t.Fatalf("Write of a state read at serial 1 over serial 2: %v, want ErrSerialMismatch", err)
	}
	if sa.Serial != 1 {
		t.Errorf("a refused Write changed s.Serial to %d", sa.Serial)
	}
	if got := read(t, open()); got.Serial != 2 || got.Operations[0].Name != "b" {
		t.Errorf("stored state changed by a refused write: serial %d", got.Serial)
	}
}

func testNewLineageOverExisting(t *testing.T, open func() state.Backend) {
	b := open()
	write(t, b, state.New("lin-1"))
	id := lock(t, b, "a")
	defer unlock(t, b, id)
	err := b.Write(ctxT(t), state.New("lin-1"), id)
	if !errors.Is(err, state.ErrSerialMismatch) {
		t.Fatalf("Write of a new (serial 0) state over an existing one: %v, want ErrSerialMismatch", err)
	}
}

func testLineageMismatch(t *testing.T, open func() state.Backend) {
	b := open()
	write(t, b, state.New("lin-1"))
	other := state.New("lin-2")
	other.Serial = 1
	id := lock(t, b, "a")
	defer unlock(t, b, id)
	err := b.Write(ctxT(t), other, id)
	if !errors.Is(err, state.ErrLineageMismatch) {
		t.Fatalf("Write of another lineage: %v, want ErrLineageMismatch", err)
	}
	if got := read(t, b); got.Lineage != "lin-1" || got.Serial != 1 {
		t.Errorf("stored state changed: %s %d", got.Lineage, got.Serial)
	}
}

func testWriteNeedsLock(t *testing.T, open func() state.Backend) {
	a, b := open(), open()
	s := state.New("lin-lock")
	if err := a.Write(ctxT(t), s, "no-such-lock"); !errors.Is(err, state.ErrNotLocked) {
		t.Errorf("Write without a lock: %v, want ErrNotLocked", err)
	}
	id := lock(t, a, "alice")
	if err := a.Write(ctxT(t), s, id+"-wrong"); !errors.Is(err, state.ErrWrongLockID) {
		t.Errorf("Write with a wrong lock ID: %v, want ErrWrongLockID", err)
	}
	err := b.Write(ctxT(t), s, "bs-lock")
	var le *state.LockError
	if !errors.As(err, &le) || !errors.Is(err, state.ErrLocked) || le.Holder == nil || le.Holder.ID != id {
		t.Errorf("Write while another holds the lock: %v, want a *LockError naming %s", err, id)
	}
	if _, err := b.Read(ctxT(t)); !errors.Is(err, state.ErrNoState) {
		t.Errorf("a refused write wrote something: %v", err)
	}
	unlock(t, a, id)
}

func testLockUnlock(t *testing.T, open func() state.Backend) {
	a, b := open(), open()
	if h, err := b.LockHolder(ctxT(t)); err != nil || h != nil {
		t.Fatalf("LockHolder of an unlocked state = %v, %v", h, err)
	}
	id, err := a.Lock(ctxT(t), state.LockInfo{ID: "fixed-id", Operation: "apply", Who: "alice", Host: "ops-1", Version: "9.9", Created: t0})
	if err != nil {
		t.Fatal(err)
	}
	if id != "fixed-id" {
		t.Errorf("Lock returned %q, want the ID given", id)
	}
	h, err := b.LockHolder(ctxT(t))
	if err != nil || h == nil {
		t.Fatalf("LockHolder while locked = %v, %v", h, err)
	}
	if h.ID != id || h.Who != "alice" || h.Operation != "apply" || h.Host != "ops-1" || h.Version != "9.9" || !h.Created.Equal(t0) {
		t.Errorf("LockHolder = %+v", h)
	}
	unlock(t, a, id)
	if h, err := b.LockHolder(ctxT(t)); err != nil || h != nil {
		t.Errorf("LockHolder after Unlock = %v, %v", h, err)
	}
	if err := a.Unlock(ctxT(t), id); !errors.Is(err, state.ErrNotLocked) {
		t.Errorf("second Unlock: %v, want ErrNotLocked", err)
	}
	id2 := lock(t, b, "bob")
	if id2 == id {
		t.Errorf("a generated lock ID repeated the previous one")
	}
	unlock(t, b, id2)
}

func testDoubleLock(t *testing.T, open func() state.Backend) {
	a, b := open(), open()
	id := lock(t, a, "alice")
	for name, other := range map[string]state.Backend{"another handle": b, "the same handle": a} {
		ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
		_, err := other.Lock(ctx, state.LockInfo{Operation: "rollback", Who: "bob"})
		cancel()
		var le *state.LockError
		if !errors.As(err, &le) || !errors.Is(err, state.ErrLocked) {
			t.Fatalf("second Lock from %s: %v, want a *LockError wrapping ErrLocked", name, err)
		}
		if le.Holder == nil || le.Holder.ID != id || le.Holder.Who != "alice" {
			t.Errorf("LockError from %s names %+v, want alice's lock %s", name, le.Holder, id)
		}
		for _, want := range []string{"alice@host-alice", `for "apply"`, "lock ID " + id} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("message %q lacks %q", err, want)
			}
		}
	}
	if h, _ := b.LockHolder(ctxT(t)); h == nil || h.ID != id {
		t.Errorf("a refused Lock disturbed the holder: %+v", h)
	}
	unlock(t, a, id)
}

func testCancelledLockWait(t *testing.T, open func() state.Backend) {
	a, b := open(), open()
	id := lock(t, a, "alice")
	defer unlock(t, a, id)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := b.Lock(ctx, state.LockInfo{Who: "bob"})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Lock with a cancelled context: %v, want context.Canceled", err)
	}
}

func testUnlockWrongID(t *testing.T, open func() state.Backend) {
	a, b := open(), open()
	id := lock(t, a, "alice")
	for name, h := range map[string]state.Backend{"holder": a, "other": b} {
		err := h.Unlock(ctxT(t), "not-"+id)
		var le *state.LockError
		if !errors.As(err, &le) || !errors.Is(err, state.ErrWrongLockID) || le.Holder == nil || le.Holder.ID != id {
			t.Errorf("Unlock with a wrong ID on the %s: %v, want a *LockError naming %s", name, err, id)
		}
	}
	if h, _ := b.LockHolder(ctxT(t)); h == nil || h.ID != id {
		t.Fatalf("lock lost after refused unlocks: %+v", h)
	}
	unlock(t, a, id)
}

func testForceUnlock(t *testing.T, open func() state.Backend) {
	a, b := open(), open()
	// The holder itself can force-unlock.
	id := lock(t, a, "alice")
	if err := a.ForceUnlock(ctxT(t), "wrong"); !errors.Is(err, state.ErrWrongLockID) {
		t.Errorf("ForceUnlock with a wrong ID: %v, want ErrWrongLockID", err)
	}
	if err := a.ForceUnlock(ctxT(t), id); err != nil {
		t.Fatalf("ForceUnlock by the holder: %v", err)
	}
	unlock(t, b, lock(t, b, "bob"))

	// A holder that died leaves its information: force-unlock clears it and
	// refuses a wrong ID.
	c := open()
	id = lock(t, c, "carol")
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.ForceUnlock(ctxT(t), "wrong"); !errors.Is(err, state.ErrWrongLockID) && !errors.Is(err, state.ErrNotLocked) {
		t.Errorf("ForceUnlock of a dead holder with a wrong ID: %v", err)
	}
	if err := b.ForceUnlock(ctxT(t), id); err != nil && !errors.Is(err, state.ErrNotLocked) {
		t.Errorf("ForceUnlock of a dead holder's lock: %v", err)
	}
	if h, err := b.LockHolder(ctxT(t)); err != nil || h != nil {
		t.Errorf("LockHolder after force-unlock = %+v, %v", h, err)
	}
	unlock(t, b, lock(t, b, "bob"))

	if err := b.ForceUnlock(ctxT(t), "anything"); !errors.Is(err, state.ErrNotLocked) && !errors.Is(err, state.ErrWrongLockID) {
		t.Errorf("ForceUnlock of an unlocked state: %v, want ErrNotLocked", err)
	}
}

func testDeadHolder(t *testing.T, open func() state.Backend) {
	a, b := open(), open()
	lock(t, a, "alice")
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if h, err := b.LockHolder(ctxT(t)); err != nil || h != nil {
		t.Errorf("LockHolder after the holder died = %+v, %v; want not locked", h, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	id, err := b.Lock(ctx, state.LockInfo{Who: "bob"})
	if err != nil {
		t.Fatalf("Lock after the holder died: %v", err)
	}
	s := state.New("lin-dead")
	if err := b.Write(ctxT(t), s, id); err != nil {
		t.Fatalf("Write after taking over: %v", err)
	}
	unlock(t, b, id)
}

func testConcurrentWriters(t *testing.T, open func() state.Backend) {
	const n = 4
	write(t, open(), state.New("lin-conc"))
	handles := make([]state.Backend, n)
	states := make([]*state.State, n)
	for i := range handles {
		handles[i] = open()
		states[i] = read(t, handles[i])
		states[i].Begin(state.Operation{Name: fmt.Sprintf("writer-%d", i), Kind: state.KindOffsets, Started: t0})
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range handles {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			id, err := handles[i].Lock(ctx, state.LockInfo{Who: fmt.Sprint("writer-", i)})
			if err != nil {
				errs[i] = err
				return
			}
			errs[i] = handles[i].Write(ctx, states[i], id)
			if err := handles[i].Unlock(ctx, id); err != nil && errs[i] == nil {
				errs[i] = err
			}
		})
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Errorf("writers %d and %d both wrote state read at serial 1", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, state.ErrSerialMismatch):
			t.Errorf("writer %d: %v, want ErrSerialMismatch", i, err)
		}
	}
	if winner < 0 {
		t.Fatalf("no writer proceeded")
	}
	got := read(t, open())
	if got.Serial != 2 || len(got.Operations) != 1 || got.Operations[0].Name != fmt.Sprintf("writer-%d", winner) {
		t.Errorf("stored: serial %d, operations %+v; want only writer-%d's", got.Serial, got.Operations, winner)
	}
}

func testConcurrentLockers(t *testing.T, open func() state.Backend) {
	const n = 4
	handles := make([]state.Backend, n)
	for i := range handles {
		handles[i] = open()
	}
	ids := make([]string, n)
	errs := make([]error, n)
	var losers sync.WaitGroup // the winner holds the lock until every loser gave up
	losers.Add(n - 1)
	var once sync.Once
	var wg sync.WaitGroup
	for i := range handles {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			ids[i], errs[i] = handles[i].Lock(ctx, state.LockInfo{Who: fmt.Sprint("locker-", i)})
			if errs[i] != nil {
				losers.Done()
				return
			}
			won := false
			once.Do(func() { won = true })
			if won {
				losers.Wait()
			}
			handles[i].Unlock(context.Background(), ids[i])
		})
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		if err == nil {
			if winner >= 0 {
				t.Fatalf("lockers %d and %d both held the lock", winner, i)
			}
			winner = i
		}
	}
	if winner < 0 {
		t.Fatalf("no locker proceeded: %v", errs)
	}
	for i, err := range errs {
		var le *state.LockError
		if i != winner && (!errors.As(err, &le) || le.Holder == nil || le.Holder.ID != ids[winner]) {
			t.Errorf("locker %d: %v, want a *LockError naming the winner %s", i, err, ids[winner])
		}
	}
}

func testFailedWrite(t *testing.T, open func() state.Backend) {
	b := open()
	s := sample(t)
	write(t, b, s)
	want := encode(t, read(t, b))
	id := lock(t, b, "alice")
	defer unlock(t, b, id)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	next := read(t, b)
	next.Begin(state.Operation{Name: "later", Kind: state.KindOffsets, Started: t0})
	if err := b.Write(ctx, next, id); err == nil {
		t.Errorf("Write with a cancelled context succeeded")
	}
	bad := read(t, b)
	bad.Operations[0].Kind = "surgery"
	if err := b.Write(ctxT(t), bad, id); err == nil || !strings.Contains(err.Error(), `unknown kind "surgery"`) {
		t.Errorf("Write of an invalid state: %v", err)
	}
	if got := encode(t, read(t, open())); got != want {
		t.Errorf("a failed write changed the stored state:\n%s", got)
	}
}

func testUnfinished(t *testing.T, open func() state.Backend) {
	b := open()
	s := state.New("lin-journal")
	id := lock(t, b, "alice")
	op := s.Begin(state.Operation{Name: "skip_poison_pill", Kind: state.KindOffsets, Who: "alice", Started: t0})
	op.BeforeImages = []state.Image{{Connector: "orders-sink", Sink: &state.SinkOffset{Topic: "orders", Partition: 3, Offset: 99812}}}
	op.Steps = []state.Step{{Name: "stop connector", Target: "orders-sink", Status: state.StepInProgress, Started: t0}}
	if err := b.Write(ctxT(t), s, id); err != nil {
		t.Fatal(err)
	}
	b.Close() // the process dies mid-apply

	later := open()
	got := read(t, later)
	un := got.Unfinished()
	if len(un) != 1 || un[0].Status != state.StatusInProgress || len(un[0].BeforeImages) != 1 || un[0].BeforeImages[0].Sink.Offset != 99812 {
		t.Fatalf("Unfinished after a crash = %+v", un)
	}
}
