package state

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)

func history() *State {
	s := New("lin")
	add := func(name string, kind Kind, status Status, hash string) {
		op := s.Begin(Operation{Name: name, Kind: kind, BlockHash: hash, Started: t0})
		op.Status = status
	}
	add("replay", KindOffsets, StatusApplied, "h1")         // 1
	add("skip", KindOffsets, StatusFailed, "s1")            // 2
	add("replay", KindOffsets, StatusApplied, "h2")         // 3: the block changed and was applied again
	add("customers", KindReconcile, StatusRolledBack, "c1") // 4
	s.Begin(Operation{Name: "rollback of customers", Kind: KindRollback, RollbackOf: 4, Started: t0, Status: StatusApplied})
	add("rewind", KindOffsets, StatusNeedsRollback, "r1") // 6
	add("skip", KindOffsets, StatusInProgress, "s1")      // 7
	return s
}

func TestApplied(t *testing.T) {
	s := history()
	tests := []struct {
		name, hash string
		want       bool
		wantSerial uint64 // of the operation returned, 0 for none
	}{
		{"replay", "h2", true, 3},
		{"replay", "h1", false, 3}, // changed since: the latest applied one carries h2
		{"replay", "h3", false, 3},
		{"skip", "s1", false, 0},      // failed, then in progress: never applied
		{"customers", "c1", false, 0}, // rolled back
		{"rollback of customers", "", false, 0},
		{"rewind", "r1", false, 0},
		{"nothing", "x", false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name+"/"+tt.hash, func(t *testing.T) {
			op, ok := s.Applied(tt.name, tt.hash)
			if ok != tt.want {
				t.Errorf("Applied = %v, want %v", ok, tt.want)
			}
			var got uint64
			if op != nil {
				got = op.Serial
			}
			if got != tt.wantSerial {
				t.Errorf("operation %d, want %d", got, tt.wantSerial)
			}
		})
	}
}

func TestQueries(t *testing.T) {
	s := history()
	if op, ok := s.Last(); !ok || op.Serial != 7 {
		t.Errorf("Last = %v, %v", op, ok)
	}
	if op, ok := s.BySerial(4); !ok || op.Name != "customers" {
		t.Errorf("BySerial(4) = %v, %v", op, ok)
	}
	if _, ok := s.BySerial(8); ok {
		t.Errorf("BySerial(8) found an operation")
	}
	if op, ok := s.ByName("skip"); !ok || op.Serial != 7 {
		t.Errorf("ByName(skip) = %v, %v", op, ok)
	}
	var serials []uint64
	for _, op := range s.Unfinished() {
		serials = append(serials, op.Serial)
	}
	if fmt.Sprint(serials) != "[6 7]" {
		t.Errorf("Unfinished = %v, want [6 7]", serials)
	}
	if _, ok := New("x").Last(); ok {
		t.Errorf("Last of an empty state found an operation")
	}
	// Pointers returned let the caller update the journal entry in place.
	op, _ := s.BySerial(7)
	op.Status = StatusApplied
	if len(s.Unfinished()) != 1 {
		t.Errorf("update through the returned pointer was lost")
	}
}

func TestBackups(t *testing.T) {
	s := New("lin")
	b, err := s.AddBackup(1, t0, "inv", "prod", json.RawMessage("{\n  \"a\": [1, 2]\n}"))
	if err != nil {
		t.Fatal(err)
	}
	if b.ID != 1 || string(b.Content) != `{"a":[1,2]}` || b.Checksum != Checksum([]byte(`{"a":[1,2]}`)) {
		t.Errorf("backup = %+v", b)
	}
	if b, _ := s.AddBackup(2, t0, "inv", "prod", json.RawMessage(`{}`)); b.ID != 2 {
		t.Errorf("second backup id %d", b.ID)
	}
	if got := s.BackupsFor(2); len(got) != 1 || got[0].ID != 2 {
		t.Errorf("BackupsFor(2) = %+v", got)
	}
	for _, bad := range []string{"", "{", "nope"} {
		if _, err := s.AddBackup(1, t0, "inv", "prod", json.RawMessage(bad)); err == nil {
			t.Errorf("AddBackup(%q) accepted", bad)
		}
	}
}

func TestNewID(t *testing.T) {
	id, err := NewID(bytes.NewReader(bytes.Repeat([]byte{0xff}, 16)))
	if err != nil {
		t.Fatal(err)
	}
	if id != "ffffffff-ffff-4fff-bfff-ffffffffffff" {
		t.Errorf("NewID = %s", id)
	}
	if _, err := NewID(bytes.NewReader([]byte{1, 2})); err == nil {
		t.Errorf("NewID from a short reader succeeded")
	}
}

func TestLockErrorMessages(t *testing.T) {
	holder := &LockInfo{ID: "abc", Operation: "apply", Who: "alice", Host: "ops-1", PID: 42, Created: t0}
	tests := []struct {
		name string
		err  *LockError
		want string
		is   error
	}{
		{"locked", &LockError{Holder: holder, Err: ErrLocked},
			`state is locked by alice@ops-1 (pid 42) since 2026-11-20T10:00:00Z for "apply" (lock ID abc); wait for it to finish, or if its holder died run: offsetctl force-unlock abc`, ErrLocked},
		{"locked with hint", &LockError{Holder: holder, Err: ErrLocked, Hint: "stop it"},
			`state is locked by alice@ops-1 (pid 42) since 2026-11-20T10:00:00Z for "apply" (lock ID abc); stop it`, ErrLocked},
		{"wrong id", &LockError{Holder: holder, Err: ErrWrongLockID},
			`lock ID does not match the lock held: the state is locked by alice@ops-1 (pid 42) since 2026-11-20T10:00:00Z for "apply" (lock ID abc)`, ErrWrongLockID},
		{"unknown holder", &LockError{Err: ErrLocked}, "state is locked by an unknown holder", ErrLocked},
		{"other reason", &LockError{Holder: &LockInfo{ID: "x"}, Err: errors.New("cannot break it"), Hint: "kill it"},
			"cannot break it (lock held by someone (lock ID x)); kill it", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
			if tt.is != nil && !errors.Is(tt.err, tt.is) {
				t.Errorf("not errors.Is %v", tt.is)
			}
			if strings.HasSuffix(tt.err.Error(), ".") {
				t.Errorf("error ends with punctuation")
			}
		})
	}
}
