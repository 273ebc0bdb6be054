package realstack

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/offsetctl/offsetctl/pkg/apply"
	"github.com/offsetctl/offsetctl/pkg/offsets"
	"github.com/offsetctl/offsetctl/pkg/plan"
	"github.com/offsetctl/offsetctl/pkg/plan/render"
	"github.com/offsetctl/offsetctl/pkg/state"
)

// TestOldWorkerDeleteRecreate proves offsets surgery on a real Kafka Connect
// 3.4.1 worker, which has no PUT /stop and no /offsets endpoints: a plan
// whose offsets block acknowledges delete_recreate deletes Kafka's
// FileStreamSource connector (its offsets stay in the worker's offsets
// topic), writes the rewound position to that topic, re-creates the
// connector with its exact saved configuration, and the re-created task
// emits the file's lines again from the written position. Rollback goes the
// same way and the task resumes from the restored position.
func TestOldWorkerDeleteRecreate(t *testing.T) {
	st := Get(t)
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	begun := time.Now()
	mark := func(what string) { t.Logf("%s: %s", time.Since(begun).Round(100*time.Millisecond), what) }
	w, err := st.StartOldWorker(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	mark("Kafka Connect " + OldConnectVersion + " worker up at " + w.URL())

	run := proofRunID()
	var (
		name  = "file-source-" + run
		topic = "file-lines-" + run
		file  = filepath.Join(w.Dir(), "input-"+run+".txt")
	)
	cl, err := kgo.NewClient(kgo.SeedBrokers(st.BootstrapServers()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, topic); err != nil {
		t.Fatal(err)
	}
	// ends[i] is the byte position after line i (ends[0] = 0).
	ends := []int64{0}
	appendLines := func(from, to int) {
		t.Helper()
		f, err := os.OpenFile(file, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		for i := from; i <= to; i++ {
			line := fmt.Sprintf("line %d\n", i)
			if _, err := f.WriteString(line); err != nil {
				t.Fatal(err)
			}
			ends = append(ends, ends[len(ends)-1]+int64(len(line)))
		}
	}
	appendLines(1, 10)

	// The real 3.4 worker answers the endpoints it lacks with 404.
	connCfg := map[string]string{"connector.class": FileStreamSourceClass, "tasks.max": "1", "file": file, "topic": topic}
	if r, err := w.Do(ctx, "POST", "/connectors", map[string]any{"name": name, "config": connCfg}); err != nil || r.Status != 201 {
		t.Fatalf("creating %s: %+v %v", name, r, err)
	}
	for _, probe := range []struct{ method, path string }{{"PUT", "/stop"}, {"GET", "/offsets"}, {"PATCH", "/offsets"}} {
		r, err := w.Do(ctx, probe.method, "/connectors/"+name+probe.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("Kafka Connect %s answers %s /connectors/{name}%s with %d", OldConnectVersion, probe.method, probe.path, r.Status)
		if r.Status != 404 && r.Status != 405 {
			t.Fatalf("%s %s answered %d: not a worker without it", probe.method, probe.path, r.Status)
		}
	}
	waitLines(ctx, t, st, cl, topic, 10)
	waitPosition(ctx, t, st, cl, w, name, file, ends[10])
	saved := oldConfig(ctx, t, w, name)
	mark("10 lines emitted, position committed")

	// offsetctl: rewind to the start of line 6.
	hcl := fmt.Sprintf(`
connect "old" { url = %q }
kafka "real" {
  brokers       = [%q]
  offsets_topic = %q
}
connector "file" {
  connect = connect.old
  kafka   = kafka.real
  name    = %q
}
offsets "rewind" {
  connector   = connector.file
  reason      = "proof: emit lines 6-10 again"
  acknowledge = ["delete_recreate"]
  source_partition {
    partition = { filename = %q }
    offset    = { position = %d }
  }
}
`, w.URL(), st.BootstrapServers(), w.OffsetsTopic(), name, file, ends[5])
	clients := &proofClients{url: w.URL(), kcl: cl}
	r := newProofRun(ctx, t, hcl, clients)
	p := r.plan(ctx, t)
	if !p.HasChanges() || p.HasErrors() || p.Operations[0].Halt != plan.HaltDeleteRecreate || p.Operations[0].Method != plan.MethodTopic {
		t.Fatalf("plan: changes %v, operation %+v, checks %+v", p.HasChanges(), p.Operations[0], p.Checks)
	}
	var shown bytes.Buffer
	if err := render.Text(&shown, p, render.Options{}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(shown.String(), "DELETED, then RE-CREATED") {
		t.Fatalf("the plan does not show the delete and re-create:\n%s", shown.String())
	}
	t.Logf("plan:\n%s", shown.String())
	applier := r.applier(t, func(pt apply.Point) error {
		if pt.Step != apply.StepDelete {
			return nil
		}
		// Deleted: the worker no longer has it, its offsets stay.
		if resp, err := w.Do(ctx, "GET", "/connectors/"+name, nil); err != nil || resp.Status != 404 {
			return fmt.Errorf("after the delete step GET /connectors/%s answered %+v %v", name, resp, err)
		}
		return nil
	})
	res, err := applier.Apply(ctx, p, r.conf, r.lockID)
	if err != nil {
		t.Fatalf("apply: %v\nevents:\n%s", err, r.story())
	}
	if len(res.Operations) != 1 || res.Operations[0].Status != state.StatusApplied {
		t.Fatalf("apply result %+v", res)
	}
	mark("applied: deleted, written, re-created")
	if got := oldConfig(ctx, t, w, name); !maps.Equal(got, saved) {
		t.Fatalf("re-created with %v, want %v", got, saved)
	}
	// The re-created task starts at the written position: lines 6-10 again.
	lines := waitLines(ctx, t, st, cl, topic, 15)
	if got, want := strings.Join(lines[10:], ","), "line 6,line 7,line 8,line 9,line 10"; got != want {
		t.Fatalf("re-emitted %s, want %s", got, want)
	}
	waitPosition(ctx, t, st, cl, w, name, file, ends[10])
	mark("lines 6-10 emitted again from the written position")
	sst, err := r.backend.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	op := sst.Operations[0]
	if c := op.Connectors[0]; c.Halt != string(plan.HaltDeleteRecreate) || c.SavedConfig != nil {
		t.Fatalf("state connector %+v", c)
	}

	// Rollback: after two more lines, the before-image (the end of line
	// 10) is written back the same way and lines 11-12 come again.
	appendLines(11, 12)
	waitLines(ctx, t, st, cl, topic, 17)
	waitPosition(ctx, t, st, cl, w, name, file, ends[12])
	target, err := plan.RollbackCandidate(sst, 0, "")
	if err != nil {
		t.Fatal(err)
	}
	rp, err := plan.RollbackPlan(ctx, r.conf, sst, []*state.Operation{target}, r.planner.Observe, plan.BuildInfo{Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	r.planner.AssessRisks(rp)
	if rp.Operations[0].Halt != plan.HaltDeleteRecreate || rp.Operations[0].Status != plan.StatusChange {
		t.Fatalf("rollback plan %+v", rp.Operations[0])
	}
	if _, err := applier.Apply(ctx, rp, r.conf, r.lockID); err != nil {
		t.Fatalf("rollback: %v\nevents:\n%s", err, r.story())
	}
	lines = waitLines(ctx, t, st, cl, topic, 19)
	if got, want := strings.Join(lines[17:], ","), "line 11,line 12"; got != want {
		t.Fatalf("after rollback emitted %s, want %s", got, want)
	}
	if got := oldConfig(ctx, t, w, name); !maps.Equal(got, saved) {
		t.Fatalf("re-created by rollback with %v, want %v", got, saved)
	}
	mark("rolled back: lines 11-12 emitted again from the restored position")
	sst, err = r.backend.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var story []string
	for _, o := range sst.Operations {
		story = append(story, fmt.Sprintf("%d %s %s [%s]", o.Serial, o.Kind, o.Status, stepList(o.Steps)))
	}
	if got, want := strings.Join(story, "; "), "1 offsets rolled_back [journal delete settle alter verify recreate record]; 2 rollback applied [journal delete settle alter verify recreate record]"; got != want {
		t.Fatalf("state: %s, want %s", got, want)
	}
}

func stepList(steps []state.Step) string {
	var out []string
	for _, s := range steps {
		out = append(out, s.Name)
	}
	return strings.Join(out, " ")
}

func oldConfig(ctx context.Context, t *testing.T, w *OldWorker, name string) map[string]string {
	t.Helper()
	r, err := w.Do(ctx, "GET", "/connectors/"+name+"/config", nil)
	if err != nil || r.Status != 200 {
		t.Fatalf("GET /connectors/%s/config: %+v %v", name, r, err)
	}
	var cfg map[string]string
	if err := json.Unmarshal(r.Body, &cfg); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// waitLines waits until topic holds at least n records and returns the
// lines they carry (JsonConverter with schemas: the payload), in order.
func waitLines(ctx context.Context, t *testing.T, st *Stack, cl *kgo.Client, topic string, n int) []string {
	t.Helper()
	var lines []string
	err := poll(ctx, 90*time.Second, fmt.Sprintf("%d records in %s", n, topic), nil, func(ctx context.Context) (bool, error) {
		got, err := readLines(ctx, st, topic)
		lines = got
		return err == nil && len(got) >= n, err
	})
	if err != nil {
		t.Fatalf("%v (have %q)", err, lines)
	}
	return lines
}

func readLines(ctx context.Context, st *Stack, topic string) ([]string, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(st.BootstrapServers()), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(ctx, topic)
	if err != nil {
		return nil, err
	}
	end, _ := ends.Lookup(topic, 0)
	var lines []string
	for int64(len(lines)) < end.Offset {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			return nil, err
		}
		for _, r := range fs.Records() {
			var v struct {
				Payload string `json:"payload"`
			}
			if err := json.Unmarshal(r.Value, &v); err != nil {
				return nil, fmt.Errorf("record %d of %s: %w", r.Offset, topic, err)
			}
			lines = append(lines, v.Payload)
		}
	}
	return lines, nil
}

// waitPosition waits until the old worker's offsets topic holds position
// pos for the connector's file.
func waitPosition(ctx context.Context, t *testing.T, st *Stack, cl *kgo.Client, w *OldWorker, name, file string, pos int64) {
	t.Helper()
	want := fmt.Sprintf(`{"position":%d}`, pos)
	var last string
	err := poll(ctx, 90*time.Second, "position "+want+" in "+w.OffsetsTopic(), nil, func(ctx context.Context) (bool, error) {
		snap, err := offsets.ReadTopic(ctx, cl, w.OffsetsTopic())
		if err != nil {
			return false, err
		}
		for _, r := range snap.Connector(name) {
			last = r.Partition.String() + "=" + r.Offset.String()
			if r.Offset.String() == want {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("%v (last %s)", err, last)
	}
}
