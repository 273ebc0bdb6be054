package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/offsetctl/offsetctl/internal/sandbox"
	"github.com/offsetctl/offsetctl/pkg/connect"
	"github.com/offsetctl/offsetctl/pkg/state"
	"github.com/offsetctl/offsetctl/pkg/state/local"
)

// TestSIGKILLMidApply runs the real binary (built with the test-only hook,
// build tag offsetctl_testhooks), makes apply wait at a step and kills it
// with SIGKILL there, then runs apply of the same plan again: it finds the
// operation applied from the live offsets (and, after restore-state, from
// the journal's record of the resume), records it so, and does not write
// the offsets a second time.
func TestSIGKILLMidApply(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "offsetctl")
	build := exec.Command("go", "build", "-tags", "offsetctl_testhooks", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building offsetctl with the test hooks: %v\n%s", err, out)
	}
	for _, step := range []string{"alter", "restore-state"} {
		t.Run(step, func(t *testing.T) {
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
			run := func(env []string, args ...string) (string, string, error) {
				cmd := exec.CommandContext(ctx, bin, args...)
				cmd.Dir = dir
				cmd.Env = append(os.Environ(), env...)
				var out, errb bytes.Buffer
				cmd.Stdout, cmd.Stderr = &out, &errb
				err := cmd.Run()
				return out.String(), errb.String(), err
			}
			if out, errs, err := run(nil, "plan", "-out", "plan.json", "-no-color"); err != nil {
				t.Fatalf("plan: %v\n%s%s", err, out, errs)
			}

			// apply, stopped at the step and killed there.
			stopped := filepath.Join(dir, "stopped")
			cmd := exec.CommandContext(ctx, bin, "apply", "plan.json", "-auto-approve", "-no-color", "-grace-period", "100ms", "-running-watch", "100ms")
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "OFFSETCTL_TEST_STOP_AT="+step, "OFFSETCTL_TEST_STOP_FILE="+stopped)
			var killedErr bytes.Buffer
			cmd.Stderr = &killedErr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			for {
				if _, err := os.Stat(stopped); err == nil {
					break
				}
				if ctx.Err() != nil {
					cmd.Process.Kill()
					t.Fatalf("apply never reached step %s:\n%s", step, killedErr.String())
				}
				time.Sleep(20 * time.Millisecond)
			}
			if err := cmd.Process.Kill(); err != nil { // SIGKILL
				t.Fatal(err)
			}
			cmd.Wait()
			if got := readStatus(t, ctx, dir); got != state.StatusInProgress {
				t.Fatalf("after the kill the operation is %s, want in_progress", got)
			}
			if got := committed(t, ctx, cc); got != 10 {
				t.Fatalf("after the kill at %s the offset is %d, want 10", step, got)
			}

			out, errs, err := run(nil, "apply", "plan.json", "-auto-approve", "-no-color", "-grace-period", "100ms", "-running-watch", "100ms")
			if err != nil {
				t.Fatalf("apply after the kill: %v\n%s%s", err, out, errs)
			}
			if !strings.Contains(errs, "operation 1 (replay): left unfinished by an earlier run; found applied:") {
				t.Errorf("apply after the kill does not say it found the operation applied:\n%s", errs)
			}
			if strings.Contains(errs, ": alter:") {
				t.Errorf("apply after the kill wrote the offsets again:\n%s", errs)
			}
			st := readState(t, ctx, dir)
			if len(st.Operations) != 1 || st.Operations[0].Status != state.StatusApplied {
				t.Errorf("state after: %d operation(s), the first %s; want one, applied", len(st.Operations), st.Operations[0].Status)
			}
			if got := committed(t, ctx, cc); got != 10 {
				t.Errorf("offset after: %d, want 10", got)
			}
			hist, errs, err := run(nil, "state", "history", "-no-color")
			if err != nil {
				t.Fatalf("state history: %v\n%s", err, errs)
			}
			if !strings.Contains(hist, "applied") || strings.Contains(hist, "failed") {
				t.Errorf("state history:\n%s", hist)
			}
			if st, err := cc.Status(ctx, "orders-sink"); err != nil || st.Connector.State != connect.StateRunning {
				t.Errorf("connector after: %+v, %v; want RUNNING", st.Connector, err)
			}
		})
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
