package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/offsetctl/offsetctl/internal/killtest"
	"github.com/offsetctl/offsetctl/pkg/connect"
	"github.com/offsetctl/offsetctl/pkg/state"
)

// killCase is one cell of the kill table: a command stopped after a step,
// a signal sent there, the state's backend.
type killCase struct {
	command string // apply, or rollback (of the applied plan)
	step    string
	sig     syscall.Signal
	backend string // local or postgres
}

// killOutcome is one row of the table.
type killOutcome struct {
	killCase
	exit      string       // how the interrupted command ended
	status    state.Status // its operation's status after it
	shown     string       // what state show said of it
	offset    int64        // the committed offset after it
	connector string       // the connector's state after it
	lock      string       // the lock left behind
	next      string       // what the next run of the command did
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
	runKillTable(t, []string{"apply"}, []string{"journal", "stop", "settle", "alter", "verify", "restore-state", "record"},
		[]syscall.Signal{syscall.SIGKILL, syscall.SIGINT, syscall.SIGTERM}, "local")
}

// TestSignalsWithThePostgresState is TestSignalsAtEveryStep with the state
// in PostgreSQL (pkg/state/pgstate), at the steps around the write: a
// SIGKILL leaves the lock row naming a database session that is gone
// (PostgreSQL ended it with the connection, which released the advisory
// lock), and force-unlock deletes the row; a SIGINT deletes it itself.
// The apply of a saved plan takes per-resource locks (resource_locks).
func TestSignalsWithThePostgresState(t *testing.T) {
	runKillTable(t, []string{"apply", "rollback"}, []string{"journal", "alter", "restore-state", "record"},
		[]syscall.Signal{syscall.SIGKILL, syscall.SIGINT}, "postgres")
}

// TestSignalsInRollback stops offsetctl rollback (of the applied rewind)
// after each of its own steps and sends SIGKILL or SIGINT there; the next
// rollback finishes it (a SIGKILL: never undoes it, see nextRollback) or
// redoes it (a SIGINT): the offset is back at 50, written once after a
// SIGKILL, nothing in progress, the connector RUNNING.
func TestSignalsInRollback(t *testing.T) {
	runKillTable(t, []string{"rollback"}, []string{"journal", "stop", "settle", "alter", "verify", "restore-state", "record"},
		[]syscall.Signal{syscall.SIGKILL, syscall.SIGINT}, "local")
}

// runKillTable runs every command × step × signal case on backend and logs
// the table.
func runKillTable(t *testing.T, commands, steps []string, signals []syscall.Signal, backend string) {
	bin := killtest.Build(t)
	var mu sync.Mutex
	var table []killOutcome
	for _, command := range commands {
		for _, step := range steps {
			for _, sig := range signals {
				c := killCase{command: command, step: step, sig: sig, backend: backend}
				t.Run(command+"/"+step+"/"+killtest.SigName(sig), func(t *testing.T) {
					o := killAt(t, bin, c)
					mu.Lock()
					table = append(table, o)
					mu.Unlock()
				})
			}
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\n| command | step | signal | backend | interrupted | status after | state show | offset after | connector after | lock left | next run |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, o := range table {
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %d | %s | %s | %s |\n", o.command, o.step, killtest.SigName(o.sig), o.backend, o.exit, o.status, o.shown, o.offset, o.connector, o.lock, o.next)
	}
	t.Log(b.String())
}

func indexOf(s []string, v string) int {
	for i, x := range s {
		if x == v {
			return i
		}
	}
	return -1
}

// killAt runs one case: the sink orders-sink at 50, a plan rewinding it to
// 10 (applied first when the command is rollback), the command stopped
// after the step and signalled there, then checked, then run again.
func killAt(t *testing.T, bin string, c killCase) killOutcome {
	o := killOutcome{killCase: c}
	sig := killtest.SigName(c.sig)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	w := newKillWorld(t, ctx, bin, c.backend)
	timing := []string{"-auto-approve", "-no-color", "-grace-period", "100ms", "-running-watch", "100ms"}
	args, want := append([]string{"apply", "plan.json"}, timing...), int64(10)
	if c.command == "rollback" {
		if out, errs, err := w.run(ctx, args...); err != nil {
			t.Fatalf("apply: %v\n%s%s", err, out, errs)
		}
		args, want = append([]string{"rollback"}, timing...), 50
	}

	k := w.SignalAt(t, ctx, killtest.At{Step: c.step}, c.sig, args...)
	o.exit = k.Exit
	st := w.state(t, ctx)
	if len(st.Operations) == 0 {
		t.Fatalf("after %s at %s the state has no operation\n%s", sig, c.step, k.Stderr)
	}
	op := st.Operations[len(st.Operations)-1] // the interrupted command's
	o.status = op.Status
	o.offset = committed(t, ctx, w.cc)
	if cs, err := w.cc.Status(ctx, "orders-sink"); err == nil {
		o.connector = string(cs.Connector.State)
	}

	// state show says what was done.
	show, errs, err := w.run(ctx, "state", "show", strconv.FormatUint(op.Serial, 10), "-no-color")
	if err != nil || !strings.Contains(show, op.Name) || !strings.Contains(show, string(o.status)) {
		t.Errorf("state show after %s at %s: %v\n%s%s", sig, c.step, err, show, errs)
	}
	o.shown = killtest.ShowSummary(show)

	id, pid, info := w.lock(t, ctx)
	if c.sig == syscall.SIGKILL {
		// The hook runs once the step's state is written: after record,
		// the operation is finished.
		if want := state.StatusInProgress; c.step != "record" && o.status != want || c.step == "record" && o.status != state.StatusApplied {
			t.Errorf("after SIGKILL at %s the operation is %s", c.step, o.status)
		}
		switch {
		case id == "":
			t.Errorf("after SIGKILL at %s no lock information is left", c.step)
		case w.stateURL == "" && pid != k.PID:
			t.Errorf("after SIGKILL at %s the lock information names pid %d, want the dead process %d:\n%s", c.step, pid, k.PID, info)
		case w.stateURL != "" && !w.sessionGone(t, ctx, pid):
			t.Errorf("after SIGKILL at %s the lock row's session %d is still alive:\n%s", c.step, pid, info)
		}
		o.lock = "names the dead holder"
		if out, errs, err := w.run(ctx, "force-unlock", "-force", id, "-no-color"); err != nil {
			t.Errorf("force-unlock %s: %v\n%s%s", id, err, out, errs)
		} else if id, _, after := w.lock(t, ctx); id != "" {
			t.Errorf("force-unlock left the lock information:\n%s", after)
		} else {
			o.lock += ", force-unlock cleared it"
		}
	} else {
		if o.exit == "killed" {
			t.Errorf("%s at %s: the process did not exit by itself", sig, c.step)
		}
		if id != "" {
			t.Errorf("after %s at %s the lock information is left:\n%s", sig, c.step, info)
		}
		o.lock = "released"
		if o.status == state.StatusInProgress {
			t.Errorf("after %s at %s the operation is still in_progress:\n%s", sig, c.step, k.Stderr)
		}
		if o.connector != string(connect.StateRunning) {
			t.Errorf("after %s at %s the connector is %s, want RUNNING (started and recorded):\n%s", sig, c.step, o.connector, k.Stderr)
		}
	}

	if c.command == "rollback" {
		o.next = nextRollback(t, ctx, w, c, op, args)
	} else {
		o.next = nextApply(t, ctx, w, c, args)
	}
	final := w.state(t, ctx)
	for _, op := range final.Operations {
		if op.Status == state.StatusInProgress {
			t.Errorf("after the next %s, operation %d is still in_progress", c.command, op.Serial)
		}
	}
	if got := committed(t, ctx, w.cc); got != want {
		t.Errorf("after %s at %s and the next %s, the offset is %d, want %d", sig, c.step, c.command, got, want)
	}
	if cs, err := w.cc.Status(ctx, "orders-sink"); err != nil || cs.Connector.State != connect.StateRunning {
		t.Errorf("connector after the next %s: %+v, %v; want RUNNING", c.command, cs.Connector, err)
	}
	return o
}

// nextApply runs the interrupted apply again: it finishes the operation or
// redoes it, writing the offsets once.
func nextApply(t *testing.T, ctx context.Context, w *killWorld, c killCase, args []string) string {
	t.Helper()
	out, errs, err := w.run(ctx, args...)
	next := ""
	switch {
	case err != nil:
		t.Errorf("apply after %s at %s: %v\n%s%s", killtest.SigName(c.sig), c.step, err, out, errs)
		return "refused: " + killtest.FirstLine(errs)
	case strings.Contains(errs, "found applied"):
		next = "found it applied, recorded it"
	case strings.Contains(errs, ": alter:"):
		next = "applied it"
	default:
		next = "exit 0: " + killtest.FirstLine(out+errs)
	}
	altered := indexOf([]string{"alter", "verify", "restore-state", "record"}, c.step) >= 0
	if c.sig == syscall.SIGKILL && altered && strings.Contains(errs, ": alter:") {
		t.Errorf("apply after SIGKILL at %s wrote the offsets a second time:\n%s", c.step, errs)
	}
	st := w.state(t, ctx)
	if last := st.Operations[len(st.Operations)-1]; last.Status != state.StatusApplied {
		t.Errorf("after the next apply, the last operation is %s, want applied", last.Status)
	}
	return next
}

// nextRollback runs rollback again after the interrupted rollback (op):
// the offset ends back at 50 with the applied operation rolled back.
//
// What the next rollback does depends on how op ended. Finished (applied:
// the signal came after its last write): nothing is left to roll back,
// and it says so (exit 1). Failed (a SIGINT: its own automatic rollback
// put the offset back, nothing left changed): it rolls back the applied
// operation. Left in_progress (a SIGKILL): it finishes op, as apply run
// again finishes a killed apply, never undoing it (which would put back
// the 10 the apply wrote): killed before op wrote the offset (journal,
// stop, settle), it writes 50 once; after (alter, verify, restore-state),
// it finds op applied and writes nothing. Either way op is recorded
// applied and operation 1 rolled back by op, the recover step of op says
// what was found, and one rollback is enough.
func nextRollback(t *testing.T, ctx context.Context, w *killWorld, c killCase, op state.Operation, args []string) string {
	t.Helper()
	sig := killtest.SigName(c.sig)
	out, errs, err := w.run(ctx, args...)
	var next string
	switch op.Status {
	case state.StatusApplied:
		if err == nil || !strings.Contains(errs, "nothing to roll back") {
			t.Errorf("rollback after a finished rollback (%s at %s): %v, want exit 1, nothing to roll back\n%s%s", sig, c.step, err, out, errs)
		}
		next = "nothing to roll back (exit 1)"
	case state.StatusInProgress:
		if err != nil {
			t.Fatalf("rollback after %s at %s: %v\n%s%s", sig, c.step, err, out, errs)
		}
		t.Logf("the rollback after %s at %s:\n%s%s", sig, c.step, out, errs)
		written := indexOf([]string{"alter", "verify", "restore-state"}, c.step) >= 0
		found, writes := "found not applied, finished", true
		if written {
			found, writes = "found applied", false
		}
		if !strings.Contains(errs, fmt.Sprintf("operation %d (%s): left unfinished by an earlier run; %s", op.Serial, op.Name, found)) {
			t.Errorf("rollback after %s at %s does not say it %s operation %d:\n%s%s", sig, c.step, found, op.Serial, out, errs)
		}
		if got := strings.Contains(errs, ": restore-offsets:"); got != writes {
			t.Errorf("rollback after %s at %s: wrote the offsets: %v, want %v:\n%s", sig, c.step, got, writes, errs)
		}
		st := w.state(t, ctx)
		finished, _ := st.BySerial(op.Serial)
		if got := committed(t, ctx, w.cc); got != 50 || finished.Status != state.StatusApplied || len(st.Operations) != int(op.Serial) {
			t.Errorf("rollback after %s at %s: offset %d, operation %d %s, %d operations; want 50, applied, no new operation", sig, c.step, got, op.Serial, finished.Status, len(st.Operations))
		}
		if first := st.Operations[0]; first.RolledBackBy != op.Serial {
			t.Errorf("rollback after %s at %s: operation 1 rolled back by %d, want %d", sig, c.step, first.RolledBackBy, op.Serial)
		}
		show, serrs, err := w.run(ctx, "state", "show", strconv.FormatUint(op.Serial, 10), "-no-color")
		if err != nil || !strings.Contains(show, "the rollback run again found") {
			t.Errorf("state show %d after the finishing rollback: %v\n%s%s", op.Serial, err, show, serrs)
		}
		next = fmt.Sprintf("finished operation %d (%s; now applied, offset 50)", op.Serial, strings.TrimPrefix(found, "found "))
	default:
		if err != nil {
			t.Errorf("rollback after %s at %s: %v\n%s%s", sig, c.step, err, out, errs)
		}
		next = "rolled back operation 1"
	}
	st := w.state(t, ctx)
	if first := st.Operations[0]; first.Status != state.StatusRolledBack {
		t.Errorf("after %s at %s and the next rollback(s), operation 1 is %s, want rolled_back", sig, c.step, first.Status)
	}
	return next
}
