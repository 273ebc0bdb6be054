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

// oldRig is a Kafka Connect 3.4.1 worker started for one test, with a Kafka
// client on the stack's broker and a log of the test's progress.
type oldRig struct {
	st    *Stack
	w     *OldWorker
	cl    *kgo.Client
	adm   *kadm.Client
	run   string // the suffix of the names the test creates
	begun time.Time
	t     *testing.T
}

// startOldRig starts the old worker; everything ends with the test.
func startOldRig(ctx context.Context, t *testing.T) *oldRig {
	t.Helper()
	st := Get(t)
	o := &oldRig{st: st, run: proofRunID(), begun: time.Now(), t: t}
	w, err := st.StartOldWorker(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Close)
	o.w = w
	o.mark("Kafka Connect " + OldConnectVersion + " worker up at " + w.URL())
	cl, err := kgo.NewClient(kgo.SeedBrokers(st.BootstrapServers()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	o.cl, o.adm = cl, kadm.NewClient(cl)
	return o
}

// mark logs a step with the time since the test began.
func (o *oldRig) mark(what string) {
	o.t.Logf("%s: %s", time.Since(o.begun).Round(100*time.Millisecond), what)
}

// createTopic creates a topic of one partition.
func (o *oldRig) createTopic(ctx context.Context, topic string) {
	o.t.Helper()
	if _, err := o.adm.CreateTopic(ctx, 1, 1, nil, topic); err != nil {
		o.t.Fatal(err)
	}
}

// createConnector creates a connector on the old worker.
func (o *oldRig) createConnector(ctx context.Context, name string, cfg map[string]string) {
	o.t.Helper()
	if r, err := o.w.Do(ctx, "POST", "/connectors", map[string]any{"name": name, "config": cfg}); err != nil || r.Status != 201 {
		o.t.Fatalf("creating %s: %+v %v", name, r, err)
	}
}

// deleteRecreateHCL is a configuration of the old worker's connector name
// with one offsets block acknowledging delete_recreate, whose partition
// blocks are partitions.
func (o *oldRig) deleteRecreateHCL(name, reason, partitions string) string {
	return fmt.Sprintf(`
connect "old" { url = %q }
kafka "real" {
  brokers       = [%q]
  offsets_topic = %q
}
connector "conn" {
  connect = connect.old
  kafka   = kafka.real
  name    = %q
}
offsets "rewind" {
  connector   = connector.conn
  reason      = %q
  acknowledge = ["delete_recreate"]%s
}
`, o.w.URL(), o.st.BootstrapServers(), o.w.OffsetsTopic(), name, reason, partitions)
}

// proofRun is offsetctl on the old worker with the configuration hcl.
func (o *oldRig) proofRun(ctx context.Context, hcl string) *proofRun {
	o.t.Helper()
	return newProofRun(ctx, o.t, hcl, &proofClients{url: o.w.URL(), kcl: o.cl})
}

// planDeleteRecreate plans, checks the plan deletes and re-creates the
// connector and writes its offsets via method, and shows it.
func planDeleteRecreate(ctx context.Context, t *testing.T, r *proofRun, method plan.Method) *plan.Plan {
	t.Helper()
	p := r.plan(ctx, t)
	if !p.HasChanges() || p.HasErrors() || p.Operations[0].Halt != plan.HaltDeleteRecreate || p.Operations[0].Method != method {
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
	return p
}

// applyOK applies p and checks its one operation was applied.
func applyOK(ctx context.Context, t *testing.T, r *proofRun, a *apply.Applier, p *plan.Plan) {
	t.Helper()
	res, err := a.Apply(ctx, p, r.conf, r.lockID)
	if err != nil {
		t.Fatalf("apply: %v\nevents:\n%s", err, r.story())
	}
	if len(res.Operations) != 1 || res.Operations[0].Status != state.StatusApplied {
		t.Fatalf("apply result %+v", res)
	}
}

// rollbackDeleteRecreate rolls back the run's last operation, checking the
// rollback plan deletes and re-creates the connector too.
func rollbackDeleteRecreate(ctx context.Context, t *testing.T, r *proofRun, a *apply.Applier) {
	t.Helper()
	sst, err := r.backend.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
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
	if _, err := a.Apply(ctx, rp, r.conf, r.lockID); err != nil {
		t.Fatalf("rollback: %v\nevents:\n%s", err, r.story())
	}
}

// checkStateAfterRollback checks the state records the operation and its
// rollback, each with every step of a delete and re-create, and that the
// first's connector no longer keeps a saved configuration.
func checkStateAfterRollback(ctx context.Context, t *testing.T, r *proofRun) {
	t.Helper()
	sst, err := r.backend.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var story []string
	for _, o := range sst.Operations {
		story = append(story, fmt.Sprintf("%d %s %s [%s]", o.Serial, o.Kind, o.Status, stepList(o.Steps)))
		if c := o.Connectors[0]; c.SavedConfig != nil {
			t.Fatalf("operation %d keeps the saved configuration: %+v", o.Serial, c)
		}
	}
	if got, want := strings.Join(story, "; "), "1 offsets rolled_back [journal delete settle alter verify recreate record]; 2 rollback applied [journal delete settle alter verify recreate record]"; got != want {
		t.Fatalf("state: %s, want %s", got, want)
	}
}

// deletedHook is an apply hook checking that after the delete step the
// worker no longer has the connector (its offsets stay), then calling
// atVerify, if not nil, after the verify step.
func deletedHook(ctx context.Context, w *OldWorker, name string, atVerify func() error) func(apply.Point) error {
	return func(pt apply.Point) error {
		switch pt.Step {
		case apply.StepDelete:
			if resp, err := w.Do(ctx, "GET", "/connectors/"+name, nil); err != nil || resp.Status != 404 {
				return fmt.Errorf("after the delete step GET /connectors/%s answered %+v %v", name, resp, err)
			}
		case apply.StepVerify:
			if atVerify != nil {
				return atVerify()
			}
		}
		return nil
	}
}

// TestOldWorkerDeleteRecreate proves offsets surgery on a real Kafka Connect
// 3.4.1 worker, which has no PUT /stop and no /offsets endpoints: a plan
// whose offsets block acknowledges delete_recreate deletes Kafka's
// FileStreamSource connector (its offsets stay in the worker's offsets
// topic), writes the rewound position to that topic, re-creates the
// connector with its exact saved configuration, and the re-created task
// emits the file's lines again from the written position. Rollback goes the
// same way and the task resumes from the restored position.
func TestOldWorkerDeleteRecreate(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	o := startOldRig(ctx, t)
	st, w, cl := o.st, o.w, o.cl
	var (
		name  = "file-source-" + o.run
		topic = "file-lines-" + o.run
		file  = filepath.Join(w.Dir(), "input-"+o.run+".txt")
	)
	o.createTopic(ctx, topic)
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
	o.createConnector(ctx, name, map[string]string{"connector.class": FileStreamSourceClass, "tasks.max": "1", "file": file, "topic": topic})
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
	o.mark("10 lines emitted, position committed")

	// offsetctl: rewind to the start of line 6.
	r := o.proofRun(ctx, o.deleteRecreateHCL(name, "proof: emit lines 6-10 again", fmt.Sprintf(`
  source_partition {
    partition = { filename = %q }
    offset    = { position = %d }
  }`, file, ends[5])))
	p := planDeleteRecreate(ctx, t, r, plan.MethodTopic)
	applier := r.applier(t, deletedHook(ctx, w, name, nil))
	applyOK(ctx, t, r, applier, p)
	o.mark("applied: deleted, written, re-created")
	if got := oldConfig(ctx, t, w, name); !maps.Equal(got, saved) {
		t.Fatalf("re-created with %v, want %v", got, saved)
	}
	// The re-created task starts at the written position: lines 6-10 again.
	lines := waitLines(ctx, t, st, cl, topic, 15)
	if got, want := strings.Join(lines[10:], ","), "line 6,line 7,line 8,line 9,line 10"; got != want {
		t.Fatalf("re-emitted %s, want %s", got, want)
	}
	waitPosition(ctx, t, st, cl, w, name, file, ends[10])
	o.mark("lines 6-10 emitted again from the written position")
	sst, err := r.backend.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c := sst.Operations[0].Connectors[0]; c.Halt != string(plan.HaltDeleteRecreate) || c.SavedConfig != nil {
		t.Fatalf("state connector %+v", c)
	}

	// Rollback: after two more lines, the before-image (the end of line
	// 10) is written back the same way and lines 11-12 come again.
	appendLines(11, 12)
	waitLines(ctx, t, st, cl, topic, 17)
	waitPosition(ctx, t, st, cl, w, name, file, ends[12])
	rollbackDeleteRecreate(ctx, t, r, applier)
	lines = waitLines(ctx, t, st, cl, topic, 19)
	if got, want := strings.Join(lines[17:], ","), "line 11,line 12"; got != want {
		t.Fatalf("after rollback emitted %s, want %s", got, want)
	}
	if got := oldConfig(ctx, t, w, name); !maps.Equal(got, saved) {
		t.Fatalf("re-created by rollback with %v, want %v", got, saved)
	}
	o.mark("rolled back: lines 11-12 emitted again from the restored position")
	checkStateAfterRollback(ctx, t, r)
}

// TestOldWorkerSinkDeleteRecreate proves the sink side of delete_recreate on
// a real Kafka Connect 3.4.1 worker: Kafka's FileStreamSink connector writes
// the records of a topic to a file; a plan rewinding its consumer group
// (connect-NAME) deletes it, commits the rewound offset to the group once
// it has no members, re-creates the connector with its exact saved
// configuration, and the re-created task writes the records from that offset
// to the file again. Rollback commits the before-image back the same way:
// the task goes on from there and writes no earlier record again.
func TestOldWorkerSinkDeleteRecreate(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	o := startOldRig(ctx, t)
	w := o.w
	var (
		name  = "file-sink-" + o.run
		topic = "file-records-" + o.run
		group = "connect-" + name
		file  = filepath.Join(w.Dir(), "output-"+o.run+".txt")
	)
	const n, k = 10, 4 // records 0..n-1, rewound to k
	o.createTopic(ctx, topic)
	produced := 0
	produce := func(count int) {
		t.Helper()
		var recs []*kgo.Record
		for range count {
			recs = append(recs, &kgo.Record{Topic: topic, Value: []byte(fmt.Sprintf("record %d", produced))})
			produced++
		}
		if err := o.cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	records := func(from, to int) string {
		var out []string
		for i := from; i <= to; i++ {
			out = append(out, fmt.Sprintf("record %d", i))
		}
		return strings.Join(out, ",")
	}
	produce(n)
	o.createConnector(ctx, name, map[string]string{
		"connector.class": FileStreamSinkClass, "tasks.max": "1", "file": file, "topics": topic,
		"key.converter":   "org.apache.kafka.connect.storage.StringConverter",
		"value.converter": "org.apache.kafka.connect.storage.StringConverter",
	})
	if got := strings.Join(waitFileLines(ctx, t, file, n), ","); got != records(0, n-1) {
		t.Fatalf("the sink wrote %s, want %s", got, records(0, n-1))
	}
	o.waitCommitted(ctx, group, topic, n)
	saved := oldConfig(ctx, t, w, name)
	o.mark(fmt.Sprintf("%d records written to the file, offset %d committed", n, n))

	r := o.proofRun(ctx, o.deleteRecreateHCL(name, fmt.Sprintf("proof: write records %d-%d again", k, n-1), fmt.Sprintf(`
  sink_partition {
    topic      = %q
    partitions = [0]
    to_offset  = %d
  }`, topic, k)))
	p := planDeleteRecreate(ctx, t, r, plan.MethodGroup)
	// While the connector is deleted, its group has no members and holds
	// the offset written.
	var wantAtVerify int64 = k
	applier := r.applier(t, deletedHook(ctx, w, name, func() error { return o.checkGroup(ctx, group, topic, wantAtVerify) }))
	applyOK(ctx, t, r, applier, p)
	o.mark("applied: deleted, group offset written, re-created")
	if got := oldConfig(ctx, t, w, name); !maps.Equal(got, saved) {
		t.Fatalf("re-created with %v, want %v", got, saved)
	}
	// The re-created task starts at the written offset: records k..n-1
	// again.
	lines := waitFileLines(ctx, t, file, 2*n-k)
	if got, want := strings.Join(lines[n:], ","), records(k, n-1); got != want {
		t.Fatalf("re-written %s, want %s", got, want)
	}
	o.waitCommitted(ctx, group, topic, n)
	o.mark(fmt.Sprintf("records %d-%d written again from the written offset", k, n-1))
	sst, err := r.backend.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c := sst.Operations[0].Connectors[0]; c.Halt != string(plan.HaltDeleteRecreate) || c.SavedConfig != nil {
		t.Fatalf("state connector %+v", c)
	}

	// Rollback: after two more records, the before-image (n) is committed
	// back the same way: the task writes records n and n+1 again, and then
	// the next record, record n+2, and nothing before it.
	produce(2)
	before := len(waitFileLines(ctx, t, file, 2*n-k+2))
	o.waitCommitted(ctx, group, topic, n+2)
	wantAtVerify = n
	rollbackDeleteRecreate(ctx, t, r, applier)
	if got := oldConfig(ctx, t, w, name); !maps.Equal(got, saved) {
		t.Fatalf("re-created by rollback with %v, want %v", got, saved)
	}
	produce(1)
	lines = waitFileLines(ctx, t, file, before+3)
	if got, want := strings.Join(lines[before:], ","), records(n, n+2); got != want {
		t.Fatalf("after rollback the sink wrote %s, want %s", got, want)
	}
	o.waitCommitted(ctx, group, topic, n+3)
	o.mark(fmt.Sprintf("rolled back: offset %d committed again, records %d-%d written from it", n, n, n+2))
	checkStateAfterRollback(ctx, t, r)
}

// waitFileLines waits until file holds at least count lines and returns
// them.
func waitFileLines(ctx context.Context, t *testing.T, file string, count int) []string {
	t.Helper()
	var lines []string
	err := poll(ctx, 90*time.Second, fmt.Sprintf("%d lines in %s", count, file), nil, func(context.Context) (bool, error) {
		b, err := os.ReadFile(file)
		if os.IsNotExist(err) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		lines = strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
		return len(b) > 0 && len(lines) >= count, nil
	})
	if err != nil {
		t.Fatalf("%v (have %q)", err, lines)
	}
	return lines
}

// waitCommitted waits until group has committed offset at for partition 0
// of topic.
func (o *oldRig) waitCommitted(ctx context.Context, group, topic string, at int64) {
	o.t.Helper()
	var last int64 = -1
	err := poll(ctx, 90*time.Second, fmt.Sprintf("group %s to commit %s-0 at %d", group, topic, at), nil, func(ctx context.Context) (bool, error) {
		got, err := o.adm.FetchOffsets(ctx, group)
		if err != nil {
			return false, err
		}
		c, ok := got.Lookup(topic, 0)
		if ok {
			last = c.At
		}
		return ok && c.At == at, nil
	})
	if err != nil {
		o.t.Fatalf("%v (last %d)", err, last)
	}
}

// checkGroup tells whether group has no members and commits topic-0 at at.
func (o *oldRig) checkGroup(ctx context.Context, group, topic string, at int64) error {
	described, err := o.adm.DescribeGroups(ctx, group)
	if err != nil {
		return err
	}
	if g, ok := described[group]; !ok || len(g.Members) != 0 {
		return fmt.Errorf("group %s while the connector is deleted: %+v", group, g)
	}
	got, err := o.adm.FetchOffsets(ctx, group)
	if err != nil {
		return err
	}
	if c, ok := got.Lookup(topic, 0); !ok || c.At != at {
		return fmt.Errorf("group %s commits %s-0 at %d while the connector is deleted, want %d", group, topic, c.At, at)
	}
	return nil
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
