// Package killtest runs the offsetctl binary built with the test-only stop
// hook (build tag offsetctl_testhooks, cmd/offsetctl/internal/command's
// stophook_testhooks.go), stops a command at a step of apply or rollback and
// sends it a signal there: the kill tests of cmd/offsetctl (sandbox) and of
// internal/realstack (the real stack) share it.
//
//	bin := killtest.Build(t)
//	r := killtest.Runner{Bin: bin, Dir: dir}
//	k := r.SignalAt(t, ctx, killtest.At{Step: "alter"}, syscall.SIGKILL, "apply", "plan.json", "-auto-approve")
//	out, errs, err := r.Run(ctx, "state", "show", "1")
package killtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Build builds offsetctl with the test-only stop hook and returns the
// binary's path (in the test's temporary directory). It skips under -short.
func Build(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the offsetctl binary")
	}
	bin := filepath.Join(t.TempDir(), "offsetctl")
	build := exec.Command("go", "build", "-tags", "offsetctl_testhooks", "-o", bin, "github.com/offsetctl/offsetctl/cmd/offsetctl")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building offsetctl with the test hooks: %v\n%s", err, out)
	}
	return bin
}

// Runner runs the binary Bin in the directory Dir, with the test's
// environment plus Env.
type Runner struct {
	Bin string
	Dir string
	Env []string
}

// Run runs offsetctl with args to its end and returns its stdout and
// stderr.
func (r Runner) Run(ctx context.Context, args ...string) (stdout, stderr string, err error) {
	cmd := r.command(ctx, args)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	return out.String(), errb.String(), err
}

func (r Runner) command(ctx context.Context, args []string, env ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, r.Bin, args...)
	cmd.Dir = r.Dir
	cmd.Env = append(append(os.Environ(), r.Env...), env...)
	return cmd
}

// At is where the stop hook holds the run: after the Nth (default first)
// occurrence of Step (journal, stop, settle, alter, verify, restore-state,
// record, restore-offsets, verify-restore, repair-batch, …).
type At struct {
	Step string
	Nth  int
}

// Stopped is what a run stopped at a step and signalled there did.
type Stopped struct {
	PID    int    // the offsetctl process
	Exit   string // "exit N", or "killed" when the signal ended it
	Stdout string // written to a file, as a CI log is
	Stderr string
}

// Process is a running offsetctl started by Start.
type Process struct {
	cmd     *exec.Cmd
	done    chan error
	outFile *os.File
	stderr  *lockedBuffer
	ended   bool
	err     error
}

// Start starts offsetctl with args (and env added to the Runner's), its
// stdout going to a file (as a CI log does), and returns at once.
func (r Runner) Start(t testing.TB, ctx context.Context, args []string, env ...string) *Process {
	t.Helper()
	outFile, err := os.CreateTemp(r.Dir, "stdout-*")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { outFile.Close() })
	p := &Process{cmd: r.command(ctx, args, env...), done: make(chan error, 1), outFile: outFile, stderr: &lockedBuffer{}}
	p.cmd.Stdout, p.cmd.Stderr = outFile, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		if !p.ended {
			p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// PID is the process id.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Stderr is what the process wrote to its stderr so far.
func (p *Process) Stderr() string { return p.stderr.String() }

// Ended says, without waiting, whether the process has ended.
func (p *Process) Ended() bool {
	if p.ended {
		return true
	}
	select {
	case p.err = <-p.done:
		p.ended = true
	default:
	}
	return p.ended
}

// Signal sends sig and waits for the process to end (at most 90 s, after
// which it is killed and the test fails).
func (p *Process) Signal(t testing.TB, sig syscall.Signal) Stopped {
	t.Helper()
	if !p.Ended() {
		if err := p.cmd.Process.Signal(sig); err != nil {
			t.Fatal(err)
		}
		select {
		case p.err = <-p.done:
		case <-time.After(90 * time.Second):
			p.cmd.Process.Kill()
			p.err = <-p.done
			t.Errorf("offsetctl did not end within 90 s of %s:\n%s", SigName(sig), p.Stderr())
		}
		p.ended = true
	}
	s := Stopped{PID: p.PID(), Stderr: p.Stderr()}
	var ee *exec.ExitError
	switch {
	case p.err == nil:
		s.Exit = "exit 0"
	case errors.As(p.err, &ee) && ee.ExitCode() >= 0:
		s.Exit = fmt.Sprintf("exit %d", ee.ExitCode())
	default:
		s.Exit = "killed"
	}
	out, err := os.ReadFile(p.outFile.Name())
	if err != nil {
		t.Fatal(err)
	}
	s.Stdout = string(out)
	return s
}

// SignalAt runs offsetctl with args, held by the stop hook at at, sends it
// sig there and waits for it to end (a SIGINT or SIGTERM lets it run on as
// a signal arriving at that point finds it).
func (r Runner) SignalAt(t testing.TB, ctx context.Context, at At, sig syscall.Signal, args ...string) Stopped {
	t.Helper()
	stopped := filepath.Join(r.Dir, "stopped")
	os.Remove(stopped)
	nth := at.Nth
	if nth == 0 {
		nth = 1
	}
	p := r.Start(t, ctx, args, "OFFSETCTL_TEST_STOP_AT="+at.Step, fmt.Sprintf("OFFSETCTL_TEST_STOP_NTH=%d", nth), "OFFSETCTL_TEST_STOP_FILE="+stopped)
	for {
		if _, err := os.Stat(stopped); err == nil {
			break
		}
		if p.Ended() {
			t.Fatalf("offsetctl %s ended (%v) without reaching step %s:\n%s", strings.Join(args, " "), p.err, at.Step, p.Stderr())
		}
		select {
		case <-ctx.Done():
			t.Fatalf("offsetctl %s never reached step %s:\n%s", strings.Join(args, " "), at.Step, p.Stderr())
		case <-time.After(20 * time.Millisecond):
		}
	}
	return p.Signal(t, sig)
}

// lockedBuffer is a bytes.Buffer the test may read while the process still
// writes to it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// SigName is the usual name of a signal (SIGKILL, SIGINT, SIGTERM).
func SigName(s syscall.Signal) string {
	switch s {
	case syscall.SIGKILL:
		return "SIGKILL"
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return s.String()
}

// FirstLine is the first line of s, cut at 100 characters, for a table
// cell.
func FirstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 100 {
		s = s[:100] + "…"
	}
	return s
}

// LocalLock is the lock information the local state file's lock left at
// path (the state file's name plus .lock): its ID and the holder's pid; both
// zero when there is none.
func LocalLock(t testing.TB, statePath string) (id string, pid int, raw []byte) {
	t.Helper()
	raw, err := os.ReadFile(statePath + ".lock")
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	var li struct {
		ID  string `json:"id"`
		PID int    `json:"pid"`
	}
	if len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, &li); err != nil {
			t.Fatalf("lock information %s: %v\n%s", statePath+".lock", err, raw)
		}
	}
	return li.ID, li.PID, raw
}

// ShowSummary sums up what offsetctl state show OPERATION printed: the
// operation's status and its last step, for a table cell.
func ShowSummary(show string) string {
	status, last := "", ""
	steps := false
	for _, l := range strings.Split(show, "\n") {
		l = strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(l, "Status:"):
			status = strings.Join(strings.Fields(l), " ")
		case l == "Steps:":
			steps = true
		case l == "":
			steps = false
		case steps:
			// "N.  name target  status  time  message", columns two
			// spaces apart.
			var cols []string
			for _, c := range strings.Split(l, "  ") {
				if c = strings.TrimSpace(c); c != "" {
					cols = append(cols, c)
				}
			}
			if len(cols) >= 3 {
				last = "last step " + strings.Fields(cols[1])[0] + " " + cols[2]
			}
		}
	}
	if status == "" {
		return FirstLine(show)
	}
	return strings.TrimSuffix(status+", "+last, ", ")
}
