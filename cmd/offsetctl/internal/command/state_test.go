package command

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/offsetctl/offsetctl/internal/iostreams"
	"github.com/offsetctl/offsetctl/pkg/state"
	"github.com/offsetctl/offsetctl/pkg/state/local"
)

// runStateCmd runs offsetctl like runCmd, with stdin optionally a terminal.
func runStateCmd(t *testing.T, tty bool, stdin string, args ...string) (int, string, string) {
	t.Helper()
	s, in, out, errOut := iostreams.Test()
	s.InTTY = tty
	in.WriteString(stdin)
	deps := &Deps{Streams: s, Getenv: func(string) string { return "" }, Now: func() time.Time { return time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC) }}
	code := run(context.Background(), deps, append([]string{}, args...))
	return code, out.String(), errOut.String()
}

const fixtureState = "testdata/state/offsetctl.state.json"

// incompleteState holds a repair recorded as incomplete (state
// format_version 3).
const incompleteState = "testdata/state/incomplete.state.json"

func TestStateCommands(t *testing.T) {
	tests := []struct {
		name     string
		args     []string
		wantCode int
	}{
		{"list", []string{"state", "list", "--state", fixtureState}, ExitOK},
		{"list json", []string{"state", "list", "-json", "-state", fixtureState}, ExitOK},
		{"list without state", []string{"state", "list", "--state", "testdata/state/none.json"}, ExitOK},
		{"list json without state", []string{"state", "list", "--json", "--state", "testdata/state/none.json"}, ExitOK},
		{"show summary", []string{"state", "show", "--state", fixtureState}, ExitOK},
		{"show whole state json", []string{"state", "show", "-json", "--state", fixtureState}, ExitOK},
		{"show by serial", []string{"state", "show", "2", "--state", fixtureState}, ExitOK},
		{"show sink operation", []string{"state", "show", "1", "--state", fixtureState}, ExitOK},
		{"show rollback", []string{"state", "show", "3", "--state", fixtureState}, ExitOK},
		{"show by name", []string{"state", "show", "customers", "--state", fixtureState}, ExitOK},
		{"show in progress", []string{"state", "show", "skip_poison_pill", "--state", fixtureState}, ExitOK},
		{"show operation json", []string{"state", "show", "2", "-json", "--state", fixtureState}, ExitOK},
		{"show unknown serial", []string{"state", "show", "99", "--state", fixtureState}, ExitError},
		{"show unknown name", []string{"state", "show", "nope", "--state", fixtureState}, ExitError},
		{"history", []string{"state", "history", "--state", fixtureState}, ExitOK},
		{"history json", []string{"state", "history", "-json", "--state", fixtureState}, ExitOK},
		{"damaged state", []string{"state", "list", "--state", "testdata/state/damaged/offsetctl.state.json"}, ExitError},
		{"newer state format", []string{"state", "show", "--state", "testdata/state/future.state.json"}, ExitError},
		{"too many arguments", []string{"state", "show", "1", "2", "--state", fixtureState}, ExitError},
		{"list incomplete", []string{"state", "list", "--state", incompleteState}, ExitOK},
		{"show incomplete summary", []string{"state", "show", "--state", incompleteState}, ExitOK},
		{"show incomplete operation", []string{"state", "show", "1", "--state", incompleteState}, ExitOK},
		{"history incomplete", []string{"state", "history", "--state", incompleteState}, ExitOK},
		{"history incomplete json", []string{"state", "history", "-json", "--state", incompleteState}, ExitOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runStateCmd(t, false, "", tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.wantCode, out, errOut)
			}
			goldens.Assert(t, "stdout", []byte(out))
			if tt.name == "too many arguments" {
				if !strings.HasPrefix(errOut, "Error: accepts at most 1 arg(s), received 2\n") {
					t.Errorf("stderr: %s", errOut)
				}
				return
			}
			goldens.Assert(t, "stderr", []byte(errOut))
		})
	}
	if _, err := os.Stat(fixtureState + ".lock"); err == nil {
		t.Errorf("a read-only command created %s.lock", fixtureState)
	}
}

// TestStateShowsLiveLock: the summary names the holder of a lock.
func TestStateShowsLiveLock(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "offsetctl.state.json")
	data, err := os.ReadFile(fixtureState)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	holder := local.New(path)
	defer holder.Close()
	if _, err := holder.Lock(context.Background(), state.LockInfo{ID: "L-1", Who: "alice", Host: "ops-1", PID: 4242, Operation: "apply", Created: time.Date(2026, 11, 26, 8, 59, 0, 0, time.UTC)}); err != nil {
		t.Fatal(err)
	}
	code, out, _ := runStateCmd(t, false, "", "state", "show", "--state", path)
	if code != 0 || !strings.Contains(out, `Lock:       locked by alice@ops-1 (pid 4242) since 2026-11-26T08:59:00Z for "apply" (lock ID L-1)`) {
		t.Errorf("exit %d, summary:\n%s", code, out)
	}
}

func TestForceUnlock(t *testing.T) {
	lockedAt := time.Date(2026, 11, 26, 8, 59, 0, 0, time.UTC)
	tests := []struct {
		name string
		// lock: "" none, "live" held by another handle while the command runs,
		// "dead" taken and abandoned (the holder died).
		lock     string
		args     []string
		tty      bool
		stdin    string
		wantCode int
		// wantLocked: whether the live lock must still be held afterwards.
		wantLockInfo bool
	}{
		{name: "not locked", args: []string{"L-1"}, wantCode: ExitError},
		{name: "dead holder", lock: "dead", args: []string{"L-1"}},
		{name: "dead holder wrong id", lock: "dead", args: []string{"L-2"}, wantCode: ExitError, wantLockInfo: true},
		{name: "live wrong id", lock: "live", args: []string{"-force", "L-2"}, wantCode: ExitError, wantLockInfo: true},
		{name: "live without terminal", lock: "live", args: []string{"L-1"}, wantCode: ExitError, wantLockInfo: true},
		{name: "live declined", lock: "live", args: []string{"L-1"}, tty: true, stdin: "no\n", wantCode: ExitError, wantLockInfo: true},
		{name: "live confirmed", lock: "live", args: []string{"L-1"}, tty: true, stdin: "yes\n", wantCode: ExitError, wantLockInfo: true},
		{name: "live forced", lock: "live", args: []string{"--force", "L-1"}, wantCode: ExitError, wantLockInfo: true},
		{name: "no id", args: []string{}, wantCode: ExitError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "offsetctl.state.json")
			holder := local.New(path)
			defer holder.Close()
			if tt.lock != "" {
				info := state.LockInfo{ID: "L-1", Who: "alice", Host: "ops-1", PID: 4242, Operation: "apply", Created: lockedAt}
				if _, err := holder.Lock(context.Background(), info); err != nil {
					t.Fatal(err)
				}
				if tt.lock == "dead" {
					holder.Close()
				}
			}
			args := append([]string{"force-unlock", "--state", path}, tt.args...)
			code, out, errOut := runStateCmd(t, tt.tty, tt.stdin, args...)
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.wantCode, out, errOut)
			}
			clean := func(s string) []byte { return []byte(strings.ReplaceAll(s, dir, "$DIR")) }
			goldens.Assert(t, "stdout", clean(out))
			if tt.name == "no id" {
				if !strings.HasPrefix(errOut, "Error: accepts 1 arg(s), received 0\n") {
					t.Errorf("stderr: %s", errOut)
				}
				return
			}
			goldens.Assert(t, "stderr", clean(errOut))
			lockData, _ := os.ReadFile(path + ".lock")
			if got := strings.Contains(string(lockData), `"L-1"`); got != tt.wantLockInfo {
				t.Errorf("lock information present = %v, want %v:\n%s", got, tt.wantLockInfo, lockData)
			}
			if tt.lock == "live" {
				if h, _ := local.New(path).LockHolder(context.Background()); h == nil || h.ID != "L-1" {
					t.Errorf("the live lock was lost: %+v", h)
				}
			}
		})
	}
}

func TestLockState(t *testing.T) {
	path := filepath.Join(t.TempDir(), "offsetctl.state.json")
	s, _, _, _ := iostreams.Test()
	now := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	deps := &Deps{Streams: s, Now: func() time.Time { return now }, Getenv: func(k string) string { return map[string]string{"USERNAME": "alice"}[k] }}
	ctx := context.Background()

	a := local.New(path)
	defer a.Close()
	id, err := lockState(ctx, deps, a, "apply", 0)
	if err != nil {
		t.Fatal(err)
	}
	h, _ := local.New(path).LockHolder(ctx)
	if h == nil || h.ID != id || h.Who != "alice" || h.Operation != "apply" || h.Version != Version || !h.Created.Equal(now) {
		t.Fatalf("holder %+v", h)
	}

	b := local.New(path)
	defer b.Close()
	for _, timeout := range []time.Duration{0, 50 * time.Millisecond} {
		_, err = lockState(ctx, deps, b, "rollback", timeout)
		var le *state.LockError
		if !errors.As(err, &le) || le.Holder.ID != id {
			t.Fatalf("lockState with timeout %s while locked: %v", timeout, err)
		}
		code := exitCode(err, func(string) {})
		if code != ExitError {
			t.Errorf("exit code %d", code)
		}
	}
	var msgs []string
	exitCode(err, func(s string) { msgs = append(msgs, s) })
	if got := strings.Join(msgs, "\n"); !strings.Contains(got, fmt.Sprintf("(pid %d)", os.Getpid())) || !strings.Contains(got, "lock ID "+id) || !strings.Contains(got, "stop process") || !strings.Contains(got, "-lock-timeout 5m") {
		t.Errorf("message:\n%s", got)
	}
	if _, err := lockState(ctx, deps, b, "apply", -time.Second); err == nil {
		t.Error("a negative timeout was accepted")
	}
	if err := a.Unlock(ctx, id); err != nil {
		t.Fatal(err)
	}
	id2, err := lockState(ctx, deps, b, "apply", 0)
	if err != nil {
		t.Fatalf("lockState after unlock: %v", err)
	}
	b.Unlock(ctx, id2)
}
