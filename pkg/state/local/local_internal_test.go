package local

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/offsetctl/offsetctl/pkg/state"
)

var t0 = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)

func newTest(t *testing.T) (*Backend, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), DefaultPath)
	return New(path, WithVersion("test"), WithClock(func() time.Time { return t0 })), path
}

// writeOps writes n states in a row, each with one more operation.
func writeOps(t *testing.T, b *Backend, n int) *state.State {
	t.Helper()
	ctx := context.Background()
	s, err := b.Read(ctx)
	if errors.Is(err, state.ErrNoState) {
		s = state.New("lin")
	} else if err != nil {
		t.Fatal(err)
	}
	for range n {
		id, err := b.Lock(ctx, state.LockInfo{Who: "alice"})
		if err != nil {
			t.Fatal(err)
		}
		s.Begin(state.Operation{Name: fmt.Sprint("op", len(s.Operations)+1), Kind: state.KindOffsets, Started: t0})
		if err := b.Write(ctx, s, id); err != nil {
			t.Fatal(err)
		}
		if err := b.Unlock(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func TestPreviousVersionKept(t *testing.T) {
	b, path := newTest(t)
	writeOps(t, b, 2)
	prev, err := New(b.BackupPath()).Read(context.Background())
	if err != nil {
		t.Fatalf("reading the backup: %v", err)
	}
	cur, _ := b.Read(context.Background())
	if prev.Serial != 1 || cur.Serial != 2 || len(prev.Operations) != 1 {
		t.Errorf("backup serial %d (%d ops), state serial %d", prev.Serial, len(prev.Operations), cur.Serial)
	}
	for _, p := range []string{path, b.BackupPath(), b.LockPath()} {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", filepath.Base(p), st.Mode().Perm())
		}
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if got := strings.Join(names, " "); got != "offsetctl.state.json offsetctl.state.json.backup offsetctl.state.json.lock" {
		t.Errorf("files left: %s", got)
	}
}

// TestPreviousVersionIsASecondName: the backup is the previous file under a
// second name (no copy), and the new version is a new file.
func TestPreviousVersionIsASecondName(t *testing.T) {
	b, path := newTest(t)
	writeOps(t, b, 1)
	first, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	writeOps(t, b, 1)
	backup, err := os.Stat(b.BackupPath())
	if err != nil {
		t.Fatal(err)
	}
	cur, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(first, backup) || os.SameFile(cur, backup) {
		t.Errorf("backup is the first version: %v; the state is a new file: %v", os.SameFile(first, backup), !os.SameFile(cur, backup))
	}
}

// TestWriteNoticesTheFileChangedBehindIt: Write trusts what it wrote last
// only while the file is that one; a file replaced or edited since is read
// again, and a newer serial or damage refused.
func TestWriteNoticesTheFileChangedBehindIt(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		change  func(t *testing.T, path string)
		wantErr error
	}{
		{"replaced with a newer serial", func(t *testing.T, path string) {
			other := New(path, WithVersion("other"))
			s, err := other.Read(ctx)
			if err != nil {
				t.Fatal(err)
			}
			id, err := other.Lock(ctx, state.LockInfo{Who: "bob"})
			if err != nil {
				t.Fatal(err)
			}
			defer other.Unlock(ctx, id)
			if err := other.Write(ctx, s, id); err != nil {
				t.Fatal(err)
			}
		}, state.ErrSerialMismatch},
		{"edited in place", func(t *testing.T, path string) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.Write(data[:len(data)/2])
			f.Close()
		}, state.ErrUnreadable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, path := newTest(t)
			s := writeOps(t, b, 1)
			tc.change(t, path)
			id, err := b.Lock(ctx, state.LockInfo{Who: "alice"})
			if err != nil {
				t.Fatal(err)
			}
			defer b.Unlock(ctx, id)
			before, _ := os.ReadFile(path)
			s.Begin(state.Operation{Name: "late", Kind: state.KindOffsets, Started: t0})
			if err := b.Write(ctx, s, id); !errors.Is(err, tc.wantErr) {
				t.Fatalf("Write = %v, want %v", err, tc.wantErr)
			}
			if after, _ := os.ReadFile(path); string(after) != string(before) {
				t.Error("the refused write changed the state file")
			}
		})
	}
}

// TestTornWriteNeverReplacesState interrupts Write after half of the new
// state reached the disk, as a crash or a full disk would: half of the
// temporary file of a whole write, or half of a record appended to the
// journal. The state stays the previous one, and the next Write works.
func TestTornWriteNeverReplacesState(t *testing.T) {
	tear := func(path string, from int64) error {
		st, _ := os.Stat(path)
		if err := os.Truncate(path, from+(st.Size()-from)/2); err != nil {
			return err
		}
		return errors.New("no space left on device")
	}
	for _, tc := range []struct {
		name   string
		change func(s *state.State)
		hook   func(b *Backend)
	}{
		// An operation list that is not the stored one with more after
		// it: written whole.
		{"whole", func(s *state.State) { s.Operations[0].Serial = 5 }, func(b *Backend) {
			b.afterTempWrite = func(tmp string) error {
				if !strings.HasPrefix(filepath.Base(tmp), ".offsetctl.state.json.tmp-") {
					return nil // the backup of the previous version
				}
				return tear(tmp, 0)
			}
		}},
		// One more operation: appended to the journal.
		{"appended", func(*state.State) {}, func(b *Backend) {
			b.afterJournalWrite = func(journal string) error { return tear(journal, 0) }
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, path := newTest(t)
			s := writeOps(t, b, 1)
			before, _ := os.ReadFile(path)
			tc.hook(b)
			ctx := context.Background()
			id, _ := b.Lock(ctx, state.LockInfo{Who: "alice"})
			tc.change(s)
			s.Begin(state.Operation{Name: "torn", Kind: state.KindOffsets, Started: t0})
			err := b.Write(ctx, s, id)
			if err == nil || !strings.Contains(err.Error(), "no space left on device") {
				t.Fatalf("Write = %v", err)
			}
			if s.Serial != 1 {
				t.Errorf("failed Write changed s.Serial to %d", s.Serial)
			}
			if after, _ := os.ReadFile(path); string(after) != string(before) {
				t.Errorf("the state file changed")
			}
			if m, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".*tmp-*")); len(m) != 0 {
				t.Errorf("temporary files left: %v", m)
			}
			if got, err := New(path).Read(ctx); err != nil || got.Serial != 1 || len(got.Operations) != 1 {
				t.Fatalf("after the failed write, the state reads as %+v, %v; want serial 1 with one operation", got, err)
			}
			b.afterTempWrite, b.afterJournalWrite = nil, nil
			if err := b.Write(ctx, s, id); err != nil {
				t.Fatalf("Write after the failure: %v", err)
			}
			if err := b.Unlock(ctx, id); err != nil {
				t.Fatal(err)
			}
			got, err := New(path).Read(ctx)
			if err != nil || got.Serial != 2 || got.Operations[len(got.Operations)-1].Name != "torn" {
				t.Fatalf("after the next write, the state reads as %+v, %v", got, err)
			}
			if _, err := os.Stat(b.JournalPath()); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("journal left after Unlock: %v", err)
			}
		})
	}
}

// TestLeftoverTempFileIgnored: a process killed mid-write leaves a partial
// temporary file; the state is still the old one and later writes work.
func TestLeftoverTempFileIgnored(t *testing.T) {
	b, path := newTest(t)
	writeOps(t, b, 1)
	leftover := filepath.Join(filepath.Dir(path), ".offsetctl.state.json.tmp-123")
	if err := os.WriteFile(leftover, []byte(`{"format_version": 1, "lin`), 0o600); err != nil {
		t.Fatal(err)
	}
	s := writeOps(t, b, 1)
	if s.Serial != 2 {
		t.Errorf("serial %d", s.Serial)
	}
	if got, err := New(path).Read(context.Background()); err != nil || got.Serial != 2 {
		t.Errorf("Read = %v, %v", got, err)
	}
}

func TestDamagedStateRefused(t *testing.T) {
	tests := []struct {
		name    string
		content string
		backup  bool
		want    []string
	}{
		{"truncated with backup", `{"format_version": 1, "lineage": "lin", "ser`, true,
			[]string{"offsetctl.state.json: state file is unreadable: not valid JSON, the file is truncated", "the previous version is kept at ", "offsetctl.state.json.backup"}},
		{"truncated without backup", `{"format_version": 1`, false, []string{"the file is truncated"}},
		{"newer format", `{"format_version": 6, "offsetctl_version": "2.0.0"}`, true,
			[]string{"state format_version 6 was written by offsetctl 2.0.0", "upgrade offsetctl"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, path := newTest(t)
			if tt.backup {
				writeOps(t, b, 2)
			}
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := b.Read(context.Background())
			if err == nil {
				t.Fatal("Read accepted a damaged state")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "previous version") != (tt.backup && tt.name != "newer format") {
				t.Errorf("backup hint presence wrong: %v", err)
			}
			// Write must not paper over the damage.
			ctx := context.Background()
			id, _ := b.Lock(ctx, state.LockInfo{Who: "alice"})
			defer b.Unlock(ctx, id)
			werr := b.Write(ctx, state.New("lin"), id)
			if werr == nil || !strings.Contains(werr.Error(), "refusing to overwrite the stored state") {
				t.Errorf("Write over a damaged state: %v", werr)
			}
			if got, _ := os.ReadFile(path); string(got) != tt.content {
				t.Errorf("the damaged file was replaced")
			}
		})
	}
}

func TestLockFileIsStable(t *testing.T) {
	b, _ := newTest(t)
	ctx := context.Background()
	id, err := b.Lock(ctx, state.LockInfo{ID: "L1", Who: "alice", Host: "ops-1", Operation: "apply"})
	if err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(b.LockPath())
	want := fmt.Sprintf(`{
  "format_version": 1,
  "id": "L1",
  "operation": "apply",
  "who": "alice",
  "host": "ops-1",
  "pid": %d,
  "version": "test",
  "created": "2026-11-20T10:00:00Z",
  "path": %q
}
`, os.Getpid(), b.Path())
	if string(data) != want {
		t.Errorf("lock file:\n%s\nwant:\n%s", data, want)
	}
	if err := b.Unlock(ctx, id); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(b.LockPath())
	if err != nil || st.Size() != 0 {
		t.Errorf("after Unlock the lock file must stay, empty: %v, %v", st, err)
	}
}

func TestStaleLockInfoIsNotALock(t *testing.T) {
	a, path := newTest(t)
	ctx := context.Background()
	if _, err := a.Lock(ctx, state.LockInfo{ID: "dead", Who: "alice"}); err != nil {
		t.Fatal(err)
	}
	a.Close() // dies: the flock goes, the information stays
	if data, _ := os.ReadFile(a.LockPath()); !strings.Contains(string(data), `"dead"`) {
		t.Fatalf("lock information not left behind: %s", data)
	}
	b := New(path)
	if h, err := b.LockHolder(ctx); h != nil || err != nil {
		t.Errorf("LockHolder = %+v, %v; want not locked", h, err)
	}
	id, err := b.Lock(ctx, state.LockInfo{ID: "alive", Who: "bob"})
	if err != nil {
		t.Fatalf("Lock over stale information: %v", err)
	}
	if h, _ := New(path).LockHolder(ctx); h == nil || h.ID != "alive" {
		t.Errorf("holder %+v, want bob's lock", h)
	}
	b.Unlock(ctx, id)
}

func TestForceUnlockCannotBreakALiveLock(t *testing.T) {
	a, path := newTest(t)
	ctx := context.Background()
	id, err := a.Lock(ctx, state.LockInfo{Who: "alice", Host: "ops-1"})
	if err != nil {
		t.Fatal(err)
	}
	b := New(path)
	err = b.ForceUnlock(ctx, id)
	var le *state.LockError
	if !errors.Is(err, ErrLiveHolder) || !errors.As(err, &le) || le.Holder.ID != id {
		t.Fatalf("ForceUnlock of a live lock: %v, want ErrLiveHolder", err)
	}
	want := fmt.Sprintf("stop process %d on ops-1, and the lock goes with it", os.Getpid())
	if !strings.Contains(err.Error(), want) {
		t.Errorf("message %q lacks %q", err, want)
	}
	if h, _ := b.LockHolder(ctx); h == nil || h.ID != id {
		t.Errorf("the lock was disturbed: %+v", h)
	}
	a.Unlock(ctx, id)
}

// TestAcrossProcesses locks the state from a child process (this test binary
// run again), and checks what another process sees while it runs and after
// it is killed without unlocking.
func TestAcrossProcesses(t *testing.T) {
	if os.Getenv("OFFSETCTL_LOCK_HELPER") != "" {
		return
	}
	_, path := newTest(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestLockHelperProcess$")
	cmd.Env = append(os.Environ(), "OFFSETCTL_LOCK_HELPER="+path)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "locked ") {
		cmd.Process.Kill()
		t.Fatalf("helper said %q, %v", line, err)
	}
	id := strings.TrimSpace(strings.TrimPrefix(line, "locked "))

	b := New(path)
	ctx := context.Background()
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	_, err = b.Lock(short, state.LockInfo{Who: "bob"})
	cancel()
	var le *state.LockError
	if !errors.As(err, &le) || le.Holder == nil || le.Holder.ID != id || le.Holder.PID != cmd.Process.Pid {
		t.Fatalf("Lock while another process holds it: %v (want the child, pid %d)", err, cmd.Process.Pid)
	}
	if err := b.ForceUnlock(ctx, id); !errors.Is(err, ErrLiveHolder) {
		t.Errorf("ForceUnlock of the live child's lock: %v", err)
	}

	cmd.Process.Kill() // dies without unlocking
	cmd.Wait()

	if h, err := b.LockHolder(ctx); h != nil || err != nil {
		t.Errorf("LockHolder after the holder was killed = %+v, %v", h, err)
	}
	if err := b.ForceUnlock(ctx, "wrong"); !errors.Is(err, state.ErrWrongLockID) {
		t.Errorf("ForceUnlock with a wrong ID: %v", err)
	}
	if err := b.ForceUnlock(ctx, id); err != nil {
		t.Errorf("ForceUnlock of the dead child's leftover: %v", err)
	}
	if err := b.ForceUnlock(ctx, id); !errors.Is(err, state.ErrNotLocked) {
		t.Errorf("second ForceUnlock: %v, want ErrNotLocked", err)
	}
	id2, err := b.Lock(ctx, state.LockInfo{Who: "bob"})
	if err != nil {
		t.Fatalf("Lock after the holder died: %v", err)
	}
	b.Unlock(ctx, id2)
}

// TestLockHelperProcess is the child of TestAcrossProcesses: it locks the
// state, says so, and waits to be killed.
func TestLockHelperProcess(t *testing.T) {
	path := os.Getenv("OFFSETCTL_LOCK_HELPER")
	if path == "" {
		t.Skip("helper process for TestAcrossProcesses")
	}
	id, err := New(path).Lock(context.Background(), state.LockInfo{Who: "child", Operation: "apply"})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	fmt.Printf("locked %s\n", id)
	bufio.NewReader(os.Stdin).ReadString('\n') // until the parent goes away
	os.Exit(0)
}
