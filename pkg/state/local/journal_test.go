package local

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"testing"

	"github.com/offsetctl/offsetctl/pkg/state"
)

// repairWrites writes s as a repair does under the lock id: batches of row
// images appended to operation op, a write after each.
func repairWrites(t *testing.T, b *Backend, s *state.State, id string, op uint64, batches ...int) {
	t.Helper()
	next := 0
	for _, n := range batches {
		o, _ := s.BySerial(op)
		for k := next; k < next+n; k++ {
			o.BeforeImages = append(o.BeforeImages, state.Image{Row: &state.RowImage{Database: "sink", Table: "d.customers",
				Key: json.RawMessage(fmt.Sprintf(`{"id":"%d"}`, k)), Row: json.RawMessage(fmt.Sprintf(`{"id":%d,"name":"name %d"}`, k, k))}})
		}
		next += n
		if err := b.Write(context.Background(), s, id); err != nil {
			t.Fatal(err)
		}
	}
}

// journalled writes n operations (each under a lock of its own, so the
// state file is whole), then, under a new lock it returns the ID of, a
// repair's operation and two batches of 10 row images: the journal holds
// them.
func journalled(t *testing.T, b *Backend, n int) (*state.State, string) {
	t.Helper()
	s := writeOps(t, b, n)
	id, err := b.Lock(context.Background(), state.LockInfo{Who: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	op := s.Begin(state.Operation{Name: "customers", Kind: state.KindReconcile, Started: t0})
	repairWrites(t, b, s, id, op.Serial, 10, 10)
	return s, id
}

// TestWritesUnderALockAreJournalled: while a lock is held, writes append to
// the journal (each image once) and leave the state file as it was; any
// reader sees the state with them; Unlock folds the journal into the state
// file, which is then what a whole write of the state would have written.
func TestWritesUnderALockAreJournalled(t *testing.T) {
	ctx := context.Background()
	b, path := newTest(t)
	s := writeOps(t, b, 1)
	id, err := b.Lock(ctx, state.LockInfo{Who: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	op := s.Begin(state.Operation{Name: "customers", Kind: state.KindReconcile, Started: t0})
	if err := b.Write(ctx, s, id); err != nil {
		t.Fatal(err)
	}
	repairWrites(t, b, s, id, op.Serial, 250, 500, 250)

	if after, _ := os.ReadFile(path); !bytes.Equal(after, before) {
		t.Error("writes under the lock rewrote the state file")
	}
	journal, err := os.Stat(b.JournalPath())
	if err != nil {
		t.Fatalf("no journal: %v", err)
	}
	if journal.Mode().Perm() != 0o600 {
		t.Errorf("the journal has mode %v, want 0600: it holds row images", journal.Mode().Perm())
	}
	want, err := state.Encode(s, "test")
	if err != nil {
		t.Fatal(err)
	}
	// Each image is in the journal once: it is about as large as the whole
	// state, not a multiple of it.
	if journal.Size() > int64(len(want))*13/10 {
		t.Errorf("journal is %d bytes for a state of %d", journal.Size(), len(want))
	}
	other, err := New(path, WithVersion("test")).Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := state.Encode(other, "test"); !bytes.Equal(got, want) {
		t.Errorf("a reader sees serial %d with %d images, want serial %d with 1000", other.Serial, len(other.Operations[1].BeforeImages), s.Serial)
	}

	// A change made after the last write is not written by Unlock.
	s.Operations[1].Steps = append(s.Operations[1].Steps, state.Step{Name: "unwritten", Status: state.StepDone})
	s.Operations[1].Status = state.StatusApplied
	if err := b.Unlock(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(b.JournalPath()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("journal left after Unlock: %v", err)
	}
	if got, _ := os.ReadFile(path); !bytes.Equal(got, want) {
		t.Errorf("after Unlock the state file is not the state written whole")
	}
	if prev, err := New(b.BackupPath()).Read(ctx); err != nil || prev.Serial != 1 {
		t.Errorf("the previous version kept is %v, %v; want the file as it was before the lock, serial 1", serialOf(prev), err)
	}
}

// TestJournalOutlivesItsWriter: a writer that dies with its lock (Close, as
// a killed process) leaves the journal; readers see its writes, and the next
// holder appends to it and folds it in at Unlock.
func TestJournalOutlivesItsWriter(t *testing.T) {
	ctx := context.Background()
	b, path := newTest(t)
	journalled(t, b, 1)
	b.Close()

	next := New(path, WithVersion("test"))
	got, err := next.Read(ctx)
	if err != nil || got.Serial != 3 || len(got.Operations[1].BeforeImages) != 20 {
		t.Fatalf("after the writer died: serial %v, %v; want serial 3 with 20 images", serialOf(got), err)
	}
	id, err := next.Lock(ctx, state.LockInfo{Who: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	got.Operations[1].Finish(state.StatusFailed, t0, errors.New("killed"))
	if err := next.Write(ctx, got, id); err != nil {
		t.Fatal(err)
	}
	if journal, _ := os.ReadFile(next.JournalPath()); bytes.Count(journal, []byte("\n")) != 3 {
		t.Errorf("the next holder did not append to the journal:\n%s", journal)
	}
	if err := next.Unlock(ctx, id); err != nil {
		t.Fatal(err)
	}
	final, err := New(path).Read(ctx)
	if err != nil || final.Serial != 4 || final.Operations[1].Status != state.StatusFailed || len(final.Operations[1].BeforeImages) != 20 {
		t.Fatalf("final state: serial %v, %v", serialOf(final), err)
	}
	if _, err := os.Stat(next.JournalPath()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("journal left after Unlock: %v", err)
	}
}

// TestStaleJournalIgnored: a journal that a compaction wrote into the state
// file but did not get to remove is ignored, and removed by the next write.
func TestStaleJournalIgnored(t *testing.T) {
	ctx := context.Background()
	b, path := newTest(t)
	_, id := journalled(t, b, 1)
	journal, _ := os.ReadFile(b.JournalPath())
	if err := b.Unlock(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(b.JournalPath(), journal, 0o600); err != nil {
		t.Fatal(err)
	}
	fresh := New(path, WithVersion("test"))
	got, err := fresh.Read(ctx)
	if err != nil || got.Serial != 3 || len(got.Operations[1].BeforeImages) != 20 {
		t.Fatalf("with a stale journal: serial %v, %v; want serial 3 with 20 images", serialOf(got), err)
	}
	id, _ = fresh.Lock(ctx, state.LockInfo{Who: "bob"})
	if err := fresh.Write(ctx, got, id); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(fresh.JournalPath()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the stale journal is still there after a write: %v", err)
	}
	fresh.Unlock(ctx, id)
}

// TestDamagedJournalRefused: a journal damaged before its last record, or a
// journal without its state file, is refused with the way out, and a write
// changes nothing.
func TestDamagedJournalRefused(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, b *Backend)
		want   string
	}{
		{"record damaged", func(t *testing.T, b *Backend) {
			data, _ := os.ReadFile(b.JournalPath())
			data[20] ^= 1
			os.WriteFile(b.JournalPath(), data, 0o600)
		}, "its journal " + "%s" + ": state file is unreadable: state journal record 1: its checksum does not match its content; the state file alone is serial 2, without the changes journalled since: to go on from it (losing them), move the journal away"},
		{"state file missing", func(t *testing.T, b *Backend) {
			os.Remove(b.Path())
		}, "the file is missing, but its journal %s is there"},
		{"state file replaced by an older one", func(t *testing.T, b *Backend) {
			older, _ := os.ReadFile(b.BackupPath())
			os.WriteFile(b.Path(), older, 0o600)
		}, "its journal %s: the state journal starts after the state file: its first record follows serial 2, the state file is at serial 1 (was the state file replaced by an older one?): put back the state file the journal follows, or move the journal away"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, path := newTest(t)
			s, _ := journalled(t, b, 2)
			b.Close()
			tc.damage(t, b)
			want := fmt.Sprintf(tc.want, b.JournalPath())
			if _, err := New(path).Read(ctx); err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("Read = %v\nwant an error with: %s", err, want)
			}
			journal, _ := os.ReadFile(b.JournalPath())
			w := New(path)
			id, _ := w.Lock(ctx, state.LockInfo{Who: "bob"})
			if err := w.Write(ctx, s, id); err == nil {
				t.Fatal("Write over a damaged journal succeeded")
			}
			if got, _ := os.ReadFile(b.JournalPath()); !bytes.Equal(got, journal) {
				t.Error("the refused write changed the journal")
			}
			w.Unlock(ctx, id)
		})
	}
}

func serialOf(s *state.State) any {
	if s == nil {
		return nil
	}
	return s.Serial
}
