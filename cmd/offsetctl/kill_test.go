package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/offsetctl/offsetctl/internal/killtest"
	"github.com/offsetctl/offsetctl/internal/pgtest"
	"github.com/offsetctl/offsetctl/internal/sandbox"
	"github.com/offsetctl/offsetctl/pkg/connect"
	"github.com/offsetctl/offsetctl/pkg/state"
	"github.com/offsetctl/offsetctl/pkg/state/local"
	"github.com/offsetctl/offsetctl/pkg/state/pgstate"
)

// TestSIGKILLMidApply runs the real binary (built with the test-only hook,
// build tag offsetctl_testhooks), makes apply wait at a step and kills it
// with SIGKILL there, then runs apply of the same plan again: it finds the
// operation applied from the live offsets (and, after restore-state, from
// the journal's record of the resume), records it so, and does not write
// the offsets a second time.
func TestSIGKILLMidApply(t *testing.T) {
	bin := killtest.Build(t)
	for _, step := range []string{"alter", "restore-state"} {
		t.Run(step, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			w := newKillWorld(t, ctx, bin, "local")

			// apply, stopped at the step and killed there.
			_, killedErr := w.killAt(t, ctx, step, "apply", "plan.json", "-auto-approve", "-no-color", "-grace-period", "100ms", "-running-watch", "100ms")
			if got := readStatus(t, ctx, w.dir); got != state.StatusInProgress {
				t.Fatalf("after the kill the operation is %s, want in_progress\n%s", got, killedErr)
			}
			if got := committed(t, ctx, w.cc); got != 10 {
				t.Fatalf("after the kill at %s the offset is %d, want 10", step, got)
			}

			out, errs, err := w.run(ctx, "apply", "plan.json", "-auto-approve", "-no-color", "-grace-period", "100ms", "-running-watch", "100ms")
			if err != nil {
				t.Fatalf("apply after the kill: %v\n%s%s", err, out, errs)
			}
			if !strings.Contains(errs, "operation 1 (replay): left unfinished by an earlier run; found applied:") {
				t.Errorf("apply after the kill does not say it found the operation applied:\n%s", errs)
			}
			if strings.Contains(errs, ": alter:") {
				t.Errorf("apply after the kill wrote the offsets again:\n%s", errs)
			}
			st := readState(t, ctx, w.dir)
			if len(st.Operations) != 1 || st.Operations[0].Status != state.StatusApplied {
				t.Errorf("state after: %d operation(s), the first %s; want one, applied", len(st.Operations), st.Operations[0].Status)
			}
			if got := committed(t, ctx, w.cc); got != 10 {
				t.Errorf("offset after: %d, want 10", got)
			}
			hist, errs, err := w.run(ctx, "state", "history", "-no-color")
			if err != nil {
				t.Fatalf("state history: %v\n%s", err, errs)
			}
			if !strings.Contains(hist, "applied") || strings.Contains(hist, "failed") {
				t.Errorf("state history:\n%s", hist)
			}
			if st, err := w.cc.Status(ctx, "orders-sink"); err != nil || st.Connector.State != connect.StateRunning {
				t.Errorf("connector after: %+v, %v; want RUNNING", st.Connector, err)
			}
		})
	}
}

// TestSIGKILLMidApplyJSON kills `apply -json` at a step and reads what it
// wrote to its stdout (a file, as a CI log is): the version record and
// every event up to the step, each a whole JSON line, written as they
// happened; no summary, since apply never ended.
func TestSIGKILLMidApplyJSON(t *testing.T) {
	bin := killtest.Build(t)
	step := func(typ, step string) string { return typ + " " + step }
	upTo := []string{
		"version ",
		step("step_started", "journal"), "operation_started ", step("step_done", "journal"),
		step("step_started", "stop"), step("step_done", "stop"),
		step("step_started", "settle"), step("step_done", "settle"),
		step("step_started", "alter"), "offsets_altered ", step("step_done", "alter"),
		step("step_started", "verify"), "verified ", step("step_done", "verify"),
	}
	tests := []struct {
		name string
		stop string
		want []string
	}{
		{"stopped after alter", "alter", upTo[:11]},
		{"stopped after verify", "verify", upTo},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			w := newKillWorld(t, ctx, bin, "local")
			stdout, stderr := w.killAt(t, ctx, tt.stop, "apply", "plan.json", "-json", "-grace-period", "100ms", "-running-watch", "100ms")
			if stdout == "" {
				t.Fatalf("killed after %s, stdout is empty: the events were not written as they happened\n(stderr:\n%s)", tt.stop, stderr)
			}
			if !strings.HasSuffix(stdout, "\n") {
				t.Fatalf("the last line of the stream is cut:\n%s", stdout)
			}
			var got []string
			for i, line := range strings.Split(strings.TrimSuffix(stdout, "\n"), "\n") {
				var rec struct {
					Type          string `json:"type"`
					Step          string `json:"step"`
					FormatVersion int    `json:"format_version"`
				}
				if err := json.Unmarshal([]byte(line), &rec); err != nil {
					t.Fatalf("line %d is not a whole JSON object (%v): %s", i+1, err, line)
				}
				if i == 0 && (rec.Type != "version" || rec.FormatVersion != 1) {
					t.Fatalf("first record: %s", line)
				}
				got = append(got, rec.Type+" "+rec.Step)
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Fatalf("killed after %s, stdout holds:\n%s\nwant:\n%s\n(stderr:\n%s)", tt.stop, strings.Join(got, "\n"), strings.Join(tt.want, "\n"), stderr)
			}
			if got := readStatus(t, ctx, w.dir); got != state.StatusInProgress {
				t.Fatalf("after the kill the operation is %s, want in_progress", got)
			}
		})
	}
}

// killWorld is a sandbox with a sink connector orders-sink at offset 50, a
// configuration that rewinds it to 10, and its plan in plan.json; its state
// is the local file offsetctl.state.json, or with backend "postgres" a
// PostgreSQL state of its own (the configuration's offsetctl { state
// "postgres" } block, which every command in the directory follows).
type killWorld struct {
	killtest.Runner
	dir      string
	cc       *connect.Client
	stateURL string // the PostgreSQL state's database, "" for the local file
}

func newKillWorld(t *testing.T, ctx context.Context, bin, backend string) *killWorld {
	t.Helper()
	sb, err := sandbox.Start(ctx, sandbox.Options{TaskShutdownTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sb.Close)
	w := &killWorld{dir: t.TempDir(), cc: sinkAt50(t, ctx, sb)}
	w.Runner = killtest.Runner{Bin: bin, Dir: w.dir}
	settings := ""
	if backend == "postgres" {
		w.stateURL = pgtest.NewDB(t)
		settings = fmt.Sprintf("offsetctl {\n  state \"postgres\" { url = %q }\n}\n", w.stateURL)
	}
	hcl := fmt.Sprintf(`%s
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
`, settings, sb.ConnectURL(), sb.BootstrapServers()[0], sb.OffsetsTopic())
	if err := os.WriteFile(filepath.Join(w.dir, "main.hcl"), []byte(hcl), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, errs, err := w.run(ctx, "plan", "-out", "plan.json", "-no-color"); err != nil {
		t.Fatalf("plan: %v\n%s%s", err, out, errs)
	}
	return w
}

// run runs offsetctl in the world's directory and returns its stdout and
// stderr.
func (w *killWorld) run(ctx context.Context, args ...string) (string, string, error) {
	return w.Run(ctx, args...)
}

// killAt runs offsetctl with args, stopped by the test hook after step,
// kills it there with SIGKILL, and returns what it had written: stdout to a
// file (as a CI log), and stderr.
func (w *killWorld) killAt(t *testing.T, ctx context.Context, step string, args ...string) (stdout, stderr string) {
	t.Helper()
	k := w.SignalAt(t, ctx, killtest.At{Step: step}, syscall.SIGKILL, args...)
	return k.Stdout, k.Stderr
}

// state reads the world's state.
func (w *killWorld) state(t *testing.T, ctx context.Context) *state.State {
	t.Helper()
	if w.stateURL == "" {
		return readState(t, ctx, w.dir)
	}
	b, err := pgstate.New(w.stateURL)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	st, err := b.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// lock is the lock information left in the world's state: its ID, the
// holder's pid (the offsetctl process for the local file; the database
// session for PostgreSQL, whole-state or per-resource lock) and the raw
// information; "" and 0 when there is none.
func (w *killWorld) lock(t *testing.T, ctx context.Context) (id string, pid int, raw string) {
	t.Helper()
	if w.stateURL == "" {
		id, pid, b := killtest.LocalLock(t, filepath.Join(w.dir, "offsetctl.state.json"))
		return id, pid, string(b)
	}
	c := pgtest.Conn(t, w.stateURL)
	rows, err := c.Query(ctx, `SELECT 'state', id, pid FROM offsetctl.locks UNION ALL SELECT resource, id, pid FROM offsetctl.resource_locks`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var what, rid string
		var rpid int
		if err := rows.Scan(&what, &rid, &rpid); err != nil {
			t.Fatal(err)
		}
		id, pid = rid, rpid
		raw += fmt.Sprintf("%s: id %s, session pid %d\n", what, rid, rpid)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return id, pid, raw
}

// sessionGone waits until the database session pid has ended (a killed
// client's session ends once PostgreSQL reads the closed connection).
func (w *killWorld) sessionGone(t *testing.T, ctx context.Context, pid int) bool {
	t.Helper()
	c := pgtest.Conn(t, w.stateURL)
	for {
		var alive bool
		if err := c.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1)`, pid).Scan(&alive); err != nil {
			t.Fatal(err)
		}
		if !alive {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// sinkAt50 makes topic orders (one partition, 100 records) and an inert
// sink connector orders-sink committed at 50, RUNNING.
func sinkAt50(t *testing.T, ctx context.Context, sb *sandbox.Sandbox) *connect.Client {
	t.Helper()
	kcl, err := kgo.NewClient(kgo.SeedBrokers(sb.BootstrapServers()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer kcl.Close()
	if _, err := kadm.NewClient(kcl).CreateTopic(ctx, 1, 1, nil, "orders"); err != nil {
		t.Fatal(err)
	}
	var recs []*kgo.Record
	for i := 0; i < 100; i++ {
		recs = append(recs, &kgo.Record{Topic: "orders", Value: []byte(fmt.Sprint(i))})
	}
	if err := kcl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	cc, err := connect.New(connect.Config{URL: sb.ConnectURL(), RetryBackoff: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	wait := connect.WaitOptions{Interval: 10 * time.Millisecond, Timeout: 10 * time.Second}
	if _, _, err := cc.PutConfig(ctx, "orders-sink", map[string]string{"name": "orders-sink", "connector.class": "io.confluent.connect.jdbc.JdbcSinkConnector", "topics": "orders"}); err != nil {
		t.Fatal(err)
	}
	if _, err := cc.WaitForState(ctx, "orders-sink", connect.StateRunning, wait); err != nil {
		t.Fatal(err)
	}
	if err := cc.Stop(ctx, "orders-sink"); err != nil {
		t.Fatal(err)
	}
	body := connect.ConnectorOffsets{Offsets: []connect.ConnectorOffset{{
		Partition: []byte(`{"kafka_topic":"orders","kafka_partition":0}`), Offset: []byte(`{"kafka_offset":50}`)}}}
	if _, err := cc.AlterOffsets(ctx, "orders-sink", body); err != nil {
		t.Fatal(err)
	}
	if err := cc.Resume(ctx, "orders-sink"); err != nil {
		t.Fatal(err)
	}
	if _, err := cc.WaitForState(ctx, "orders-sink", connect.StateRunning, wait); err != nil {
		t.Fatal(err)
	}
	return cc
}

func committed(t *testing.T, ctx context.Context, cc *connect.Client) int64 {
	t.Helper()
	got, err := cc.Offsets(ctx, "orders-sink")
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range got.Offsets {
		var v struct {
			O int64 `json:"kafka_offset"`
		}
		if err := json.Unmarshal(o.Offset, &v); err == nil {
			return v.O
		}
	}
	return -1
}

func readState(t *testing.T, ctx context.Context, dir string) *state.State {
	t.Helper()
	st, err := local.New(filepath.Join(dir, "offsetctl.state.json")).Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func readStatus(t *testing.T, ctx context.Context, dir string) state.Status {
	t.Helper()
	st := readState(t, ctx, dir)
	if len(st.Operations) == 0 {
		t.Fatal("the state has no operation")
	}
	return st.Operations[0].Status
}
