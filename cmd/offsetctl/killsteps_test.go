package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/offsetctl/offsetctl/internal/sandbox"
	"github.com/offsetctl/offsetctl/pkg/connect"
	"github.com/offsetctl/offsetctl/pkg/state"
)

// killOutcome is one row of the step × signal table.
type killOutcome struct {
	step, signal string
	exit         string       // how the interrupted apply ended
	status       state.Status // the operation's status after it
	offset       int64        // the committed offset after it
	connector    string       // the connector's state after it
	lock         string       // the lock left behind
	next         string       // what the next apply did
}

// TestSignalsAtEveryStep runs the real binary (with the test-only hook,
// build tag offsetctl_testhooks) and stops apply after each step of an
// offsets operation, then sends it SIGKILL, SIGINT or SIGTERM there. After
// each: offsetctl state show works and names the operation; a SIGKILL
// leaves the operation in_progress and a lock whose information names the
// dead process, which force-unlock clears; SIGINT and SIGTERM end the run
// by themselves, release the lock, and leave the operation in a final
// status with the connector RUNNING; the next apply of the same plan ends
// with the offset at the planned value, written once, the connector
// RUNNING and nothing in progress. The table is logged (go test -v).
func TestSignalsAtEveryStep(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "offsetctl")
	build := exec.Command("go", "build", "-tags", "offsetctl_testhooks", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building offsetctl with the test hooks: %v\n%s", err, out)
	}
	steps := []string{"journal", "stop", "settle", "alter", "verify", "restore-state", "record"}
	signals := []syscall.Signal{syscall.SIGKILL, syscall.SIGINT, syscall.SIGTERM}
	var mu sync.Mutex
	var table []killOutcome
	for _, step := range steps {
		for _, sig := range signals {
			t.Run(step+"/"+sigName(sig), func(t *testing.T) {
				o := killAt(t, bin, step, sig)
				mu.Lock()
				table = append(table, o)
				mu.Unlock()
			})
		}
	}
	sort.SliceStable(table, func(i, j int) bool { return indexOf(steps, table[i].step) < indexOf(steps, table[j].step) })
	var b strings.Builder
	fmt.Fprintf(&b, "\n| step | signal | interrupted apply | status after | offset after | connector after | lock left | next apply |\n|---|---|---|---|---|---|---|---|\n")
	for _, o := range table {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %d | %s | %s | %s |\n", o.step, o.signal, o.exit, o.status, o.offset, o.connector, o.lock, o.next)
	}
	t.Log(b.String())
}

func sigName(s syscall.Signal) string {
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

func indexOf(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}

func killAt(t *testing.T, bin, step string, sig syscall.Signal) killOutcome {
	o := killOutcome{step: step, signal: sigName(sig)}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	sb, err := sandbox.Start(ctx, sandbox.Options{TaskShutdownTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sb.Close)
	cc := sinkAt50(t, ctx, sb)
	dir := t.TempDir()
	hcl := fmt.Sprintf(`
connect "sb" { url = %q }
kafka "sb" {
  brokers       = [%q]
  offsets_topic = %q
}
connector "orders" {
  connect = connect.sb
  kafka   = kafka.sb
  name    = "orders-sink"
}
offsets "replay" {
  connector = connector.orders
  reason    = "INC-5: replay after the SMT fix"
  sink_partition {
    topic      = "orders"
    partitions = [0]
    to_offset  = 10
  }
}
`, sb.ConnectURL(), sb.BootstrapServers()[0], sb.OffsetsTopic())
	if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(hcl), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (string, string, error) {
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Dir = dir
		cmd.Env = os.Environ()
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		return out.String(), errb.String(), err
	}
	if out, errs, err := run("plan", "-out", "plan.json", "-no-color"); err != nil {
		t.Fatalf("plan: %v\n%s%s", err, out, errs)
	}
	applyArgs := []string{"apply", "plan.json", "-auto-approve", "-no-color", "-grace-period", "100ms", "-running-watch", "100ms"}

	stopped := filepath.Join(dir, "stopped")
	cmd := exec.CommandContext(ctx, bin, applyArgs...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "OFFSETCTL_TEST_STOP_AT="+step, "OFFSETCTL_TEST_STOP_FILE="+stopped)
	var firstOut, firstErr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &firstOut, &firstErr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(stopped); err == nil {
			break
		}
		if ctx.Err() != nil {
			cmd.Process.Kill()
			t.Fatalf("apply never reached step %s:\n%s", step, firstErr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	pid := cmd.Process.Pid
	if err := cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-time.After(45 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("apply did not end within 45 s of %s at %s:\n%s", sigName(sig), step, firstErr.String())
	}
	var ee *exec.ExitError
	switch {
	case err == nil:
		o.exit = "exit 0"
	case errors.As(err, &ee) && ee.ExitCode() >= 0:
		o.exit = fmt.Sprintf("exit %d", ee.ExitCode())
	default:
		o.exit = "killed"
	}
	st := readState(t, ctx, dir)
	if len(st.Operations) == 0 {
		t.Fatalf("after %s at %s the state has no operation\n%s", sigName(sig), step, firstErr.String())
	}
	o.status = st.Operations[0].Status
	o.offset = committed(t, ctx, cc)
	if cs, err := cc.Status(ctx, "orders-sink"); err == nil {
		o.connector = string(cs.Connector.State)
	}

	// state show says what was done.
	show, errs, err := run("state", "show", "1", "-no-color")
	if err != nil || !strings.Contains(show, "replay") || !strings.Contains(show, string(o.status)) {
		t.Errorf("state show after %s at %s: %v\n%s%s", sigName(sig), step, err, show, errs)
	}

	lockInfo, _ := os.ReadFile(filepath.Join(dir, "offsetctl.state.json.lock"))
	var li struct {
		ID  string `json:"id"`
		PID int    `json:"pid"`
	}
	_ = json.Unmarshal(lockInfo, &li)
	if sig == syscall.SIGKILL {
		// The hook runs once the step's state is written: after record,
		// the operation is applied.
		if want := state.StatusInProgress; step != "record" && o.status != want || step == "record" && o.status != state.StatusApplied {
			t.Errorf("after SIGKILL at %s the operation is %s", step, o.status)
		}
		if li.PID != pid || li.ID == "" {
			t.Errorf("after SIGKILL at %s the lock information names pid %d (id %q), want the dead process %d:\n%s", step, li.PID, li.ID, pid, lockInfo)
		}
		o.lock = fmt.Sprintf("names dead pid")
		if out, errs, err := run("force-unlock", "-force", li.ID, "-no-color"); err != nil {
			t.Errorf("force-unlock %s: %v\n%s%s", li.ID, err, out, errs)
		} else if after, _ := os.ReadFile(filepath.Join(dir, "offsetctl.state.json.lock")); len(after) != 0 {
			t.Errorf("force-unlock left the lock information:\n%s", after)
		} else {
			o.lock += ", force-unlock cleared it"
		}
	} else {
		if o.exit == "killed" {
			t.Errorf("%s at %s: the process did not exit by itself", sigName(sig), step)
		}
		if len(bytes.TrimSpace(lockInfo)) != 0 {
			t.Errorf("after %s at %s the lock information is left:\n%s", sigName(sig), step, lockInfo)
		}
		o.lock = "released"
		if o.status == state.StatusInProgress {
			t.Errorf("after %s at %s the operation is still in_progress:\n%s", sigName(sig), step, firstErr.String())
		}
		if o.connector != string(connect.StateRunning) {
			t.Errorf("after %s at %s the connector is %s, want RUNNING (stated and recorded):\n%s", sigName(sig), step, o.connector, firstErr.String())
		}
	}

	// The next apply finishes or redoes it, once.
	out, errs, err := run(applyArgs...)
	switch {
	case err != nil:
		o.next = "refused: " + firstLine(errs)
	case strings.Contains(errs, "found applied"):
		o.next = "found it applied, recorded it"
	case strings.Contains(errs, ": alter:") || strings.Contains(out+errs, "alter"):
		o.next = "applied it"
	default:
		o.next = "exit 0: " + firstLine(out+errs)
	}
	if err != nil {
		t.Errorf("apply after %s at %s: %v\n%s%s", sigName(sig), step, err, out, errs)
	}
	altered := indexOf([]string{"alter", "verify", "restore-state", "record"}, step) >= 0
	if sig == syscall.SIGKILL && altered && strings.Contains(errs, ": alter:") {
		t.Errorf("apply after SIGKILL at %s wrote the offsets a second time:\n%s", step, errs)
	}
	if got := committed(t, ctx, cc); got != 10 {
		t.Errorf("after %s at %s and the next apply, the offset is %d, want 10", sigName(sig), step, got)
	}
	final := readState(t, ctx, dir)
	for _, op := range final.Operations {
		if op.Status == state.StatusInProgress {
			t.Errorf("after the next apply, operation %d is still in_progress", op.Serial)
		}
	}
	if last := final.Operations[len(final.Operations)-1]; last.Status != state.StatusApplied {
		t.Errorf("after the next apply, the last operation is %s, want applied", last.Status)
	}
	if cs, err := cc.Status(ctx, "orders-sink"); err != nil || cs.Connector.State != connect.StateRunning {
		t.Errorf("connector after the next apply: %+v, %v; want RUNNING", cs.Connector, err)
	}
	return o
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 100 {
		s = s[:100] + "…"
	}
	return s
}
