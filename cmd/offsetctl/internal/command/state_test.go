package command

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/offsetctl/offsetctl/internal/iostreams"
	"github.com/offsetctl/offsetctl/internal/pgtest"
	"github.com/offsetctl/offsetctl/pkg/state"
	"github.com/offsetctl/offsetctl/pkg/state/local"
	"github.com/offsetctl/offsetctl/pkg/state/pgstate"

	"github.com/offsetctl/offsetctl/internal/redact"
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

// runStateEnv runs offsetctl with env as its environment.
func runStateEnv(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	s, _, out, errOut := iostreams.Test()
	deps := &Deps{Streams: s, Getenv: func(k string) string { return env[k] }, Now: func() time.Time { return time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC) }}
	code := run(context.Background(), deps, append([]string{}, args...))
	return code, out.String(), errOut.String()
}

// TestStateCommandsFollowTheConfiguration: state list, show and history and
// force-unlock use the state the configuration's offsetctl { state } block
// names — a local file at its path, or the PostgreSQL backend — as plan and
// apply do; --state overrides it; without a configuration the default file
// is used; no password is ever printed.
func TestStateCommandsFollowTheConfiguration(t *testing.T) {
	ctx := context.Background()
	fixture, err := local.New(fixtureState).Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The fixture written anew, by the local backend and by the PostgreSQL
	// backend alike (a first write: serial 1).
	fixture.Serial = 0
	written := filepath.Join(t.TempDir(), "written.state.json")
	writeState(t, local.New(written, local.WithVersion(Version)), fixture)
	want := map[string]string{}
	for _, sub := range []string{"list", "show", "history"} {
		code, out, errOut := runStateCmd(t, false, "", "state", sub, "--state", written)
		if code != 0 {
			t.Fatalf("state %s of the fixture: exit %d\n%s", sub, code, errOut)
		}
		want[sub] = out
	}

	// A local state at a configured path (relative to the configuration).
	localDir := writeConfig(t, `offsetctl {
  state "local" { path = "states/prod.state.json" }
}
`)
	data, err := os.ReadFile(written)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(localDir, "states"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(localDir, "states", "prod.state.json"), data, 0o600); err != nil {
		t.Fatal(err)
	}

	// A PostgreSQL state, its URL read with env() as the configuration
	// should.
	pgURL := pgtest.NewDB(t)
	pgb, err := pgstate.New(pgURL, pgstate.WithVersion(Version))
	if err != nil {
		t.Fatal(err)
	}
	fixture.Serial = 0 // the local backend's Write counted it up
	writeState(t, pgb, fixture)
	pgDir := writeConfig(t, `offsetctl {
  state "postgres" { url = env("STATE_DATABASE_URL") }
}
`)
	pgEnv := map[string]string{"STATE_DATABASE_URL": pgURL}

	// state show names the state on its first line; the rest is the same.
	where := func(out string) (string, string) {
		first, rest, _ := strings.Cut(out, "\n")
		if !strings.HasPrefix(first, "State:") {
			return "", out
		}
		return strings.TrimSpace(strings.TrimPrefix(first, "State:")), rest
	}
	_, wantShow := where(want["show"])
	u, err := url.Parse(pgURL)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, dir string
		env       map[string]string
		where     string
	}{
		{"local backend at the configured path", localDir, nil, filepath.Join(localDir, "states", "prod.state.json")},
		{"postgres backend", pgDir, pgEnv, "postgres://" + u.Host + u.Path + " offsetctl.default"},
	} {
		for _, sub := range []string{"list", "show", "history"} {
			t.Run(tt.name+"/"+sub, func(t *testing.T) {
				code, out, errOut := runStateEnv(t, tt.env, "state", sub, "-chdir", tt.dir)
				if sub == "show" {
					var at string
					at, out = where(out)
					if at != tt.where {
						t.Errorf("state show names %q, want %q", at, tt.where)
					}
				}
				wantOut := want[sub]
				if sub == "show" {
					wantOut = wantShow
				}
				if code != 0 || out != wantOut {
					t.Errorf("exit %d\nstdout:\n%s\nwant:\n%s\nstderr:\n%s", code, out, wantOut, errOut)
				}
			})
		}
	}

	// In the configuration's directory, without -chdir, as an operator runs it.
	t.Run("working directory", func(t *testing.T) {
		t.Chdir(localDir)
		code, out, errOut := runStateCmd(t, false, "", "state", "list")
		if code != 0 || out != want["list"] {
			t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
		}
	})

	// --state overrides the configuration.
	t.Run("--state overrides", func(t *testing.T) {
		empty := filepath.Join(t.TempDir(), "other.json")
		code, out, errOut := runStateEnv(t, pgEnv, "state", "list", "-chdir", pgDir, "--state", empty)
		if code != 0 || out != "" || !strings.Contains(errOut, "No state at "+empty) {
			t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
		}
	})

	// Without a configuration: the default local file, as before.
	t.Run("no configuration", func(t *testing.T) {
		code, out, errOut := runStateCmd(t, false, "", "state", "list", "-chdir", t.TempDir())
		if code != 0 || out != "" || errOut != "No state at offsetctl.state.json: nothing has been applied with it yet.\n" {
			t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
		}
	})

	// A postgres block whose url is not set is an error, never the PG*
	// variables' database.
	t.Run("postgres url not set", func(t *testing.T) {
		code, out, errOut := runStateEnv(t, nil, "state", "list", "-chdir", pgDir)
		if code != ExitError || out != "" || !strings.Contains(errOut, `the url of the state "postgres" block (`+filepath.Join(pgDir, "main.hcl")+`:2,`) || !strings.Contains(errOut, "has no value") || !strings.Contains(errOut, "--state") {
			t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
		}
	})

	// force-unlock follows the configuration too.
	t.Run("force-unlock", func(t *testing.T) {
		dir := writeConfig(t, `offsetctl {
  state "local" { path = "prod.state.json" }
}
`)
		holder := local.New(filepath.Join(dir, "prod.state.json"))
		if _, err := holder.Lock(ctx, state.LockInfo{ID: "L-1", Who: "alice", Operation: "apply"}); err != nil {
			t.Fatal(err)
		}
		holder.Close() // the holder died
		code, out, errOut := runStateCmd(t, false, "", "force-unlock", "-chdir", dir, "L-1")
		if code != 0 || !strings.Contains(out, "Cleared the lock information left by L-1") || !strings.Contains(out, filepath.Join(dir, "prod.state.json")) {
			t.Errorf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
		}
		pgLocker, err := pgstate.New(pgURL)
		if err != nil {
			t.Fatal(err)
		}
		defer pgLocker.Close()
		if _, err := pgLocker.Lock(ctx, state.LockInfo{ID: "L-2", Who: "bob", Operation: "apply"}); err != nil {
			t.Fatal(err)
		}
		code, out, errOut = runStateEnv(t, pgEnv, "force-unlock", "-chdir", pgDir, "-force", "L-wrong")
		if code != ExitError || !strings.Contains(errOut, "L-2") {
			t.Errorf("force-unlock of the postgres state with a wrong id: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
		}
	})

	// A password in --state is never printed back.
	t.Run("no password printed", func(t *testing.T) {
		u, err := url.Parse(pgURL)
		if err != nil {
			t.Fatal(err)
		}
		u.User = url.UserPassword(u.User.Username(), "hunter2-s3cret")
		down := *u
		down.Host = "127.0.0.1:1" // nothing listens there
		for _, arg := range []string{u.String(), down.String(), "postgress://me:hunter2-s3cret@db/x"} {
			for _, sub := range [][]string{{"state", "list"}, {"state", "show"}, {"state", "history"}, {"force-unlock", "-force", "L-9"}} {
				code, out, errOut := runStateCmd(t, false, "", append(sub, "--state", arg)...)
				if strings.Contains(out+errOut, "hunter2-s3cret") {
					t.Errorf("%v --state %s printed the password (exit %d):\n%s%s", sub, redact.URL(arg), code, out, errOut)
				}
			}
		}
	})
}

// writeState writes s as the first state of b, under its lock.
func writeState(t *testing.T, b state.Backend, s *state.State) {
	t.Helper()
	ctx := context.Background()
	defer b.Close()
	id, err := b.Lock(ctx, state.LockInfo{Operation: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Write(ctx, s, id); err != nil {
		t.Fatal(err)
	}
	if err := b.Unlock(ctx, id); err != nil {
		t.Fatal(err)
	}
}
