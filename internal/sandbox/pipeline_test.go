package sandbox

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/offsetctl/offsetctl/internal/pgtest"
	"github.com/offsetctl/offsetctl/pkg/offsets"
)

func startPipeline(t *testing.T, s *Sandbox) *Pipeline {
	t.Helper()
	return startPipelineWith(t, s, PipelineOptions{})
}

func startPipelineWith(t *testing.T, s *Sandbox, opts PipelineOptions) *Pipeline {
	t.Helper()
	db := pgtest.NewDB(t) // one database keeps the tests fast: the sink writes customers_sink
	t.Cleanup(s.Close)    // before the database is dropped
	opts.SourceDB, opts.SinkDB, opts.SinkTable = db, db, "customers_sink"
	p, err := s.StartPipeline(ctxFor(t), opts)
	if err != nil {
		t.Fatalf("starting the pipeline: %v", err)
	}
	return p
}

// topicIDs returns the customer ids of the change events in the topic, in order.
func topicIDs(t *testing.T, s *Sandbox, p *Pipeline) []int64 {
	t.Helper()
	recs, err := s.ReadTopic(ctxFor(t), p.Topic())
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, r := range recs {
		if r.Value == nil {
			continue
		}
		var k struct{ ID int64 }
		if err := json.Unmarshal(r.Key, &k); err != nil {
			t.Fatalf("record key %q: %v", r.Key, err)
		}
		ids = append(ids, k.ID)
	}
	return ids
}

func sinkIDs(t *testing.T, p *Pipeline) []int64 {
	t.Helper()
	rows, err := p.SinkRows(ctxFor(t))
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, r := range rows {
		ids = append(ids, r.ID)
	}
	return ids
}

func TestPipelineReplayAfterSourceRewind(t *testing.T) {
	s := start(t, "")
	p := startPipeline(t, s)
	ctx := ctxFor(t)
	if _, err := p.InsertN(ctx, 5); err != nil {
		t.Fatal(err)
	}
	if err := p.WaitSinkCaughtUp(ctx); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(topicIDs(t, s, p)); got != "[1 2 3 4 5]" {
		t.Fatalf("topic before the rewind: %s", got)
	}
	changes, err := p.Changes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	src := p.SourceConnector()
	must(t, s, 204, "PUT", "/connectors/"+src+"/stop", nil)
	// The final commit at stop stored the last change's LSN.
	got := must(t, s, 200, "GET", "/connectors/"+src+"/offsets", nil).body
	// Debezium's keys in java.util.HashMap order, as the real worker shows them.
	// lsn_commit is the end of the previous transaction, as Debezium has it.
	l5 := changes[4].LSN
	want := fmt.Sprintf(`{"lsn_proc":%d,"messageType":"INSERT","lsn_commit":%d,"lsn":%d,"txId":%d,"ts_usec":`, l5, changes[3].LSN, l5, changes[4].TxID)
	if !strings.Contains(got, want) || !strings.Contains(got, `{"server":"shop"}`) {
		t.Fatalf("offsets after stop: %s, want partition {\"server\":\"shop\"} and %s", got, want)
	}
	// Rewind to the second change: changes 3..5 are streamed again.
	l := changes[1].LSN
	must(t, s, 200, "PATCH", "/connectors/"+src+"/offsets", fmt.Sprintf(
		`{"offsets":[{"partition":{"server":"shop"},"offset":{"lsn":%d,"lsn_proc":%d,"lsn_commit":%d,"txId":%d,"ts_usec":1718000000123456,"messageType":"COMMIT"}}]}`,
		l, l, l, changes[1].TxID))
	must(t, s, 202, "PUT", "/connectors/"+src+"/resume", nil)
	if err := p.WaitSinkCaughtUp(ctx); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(topicIDs(t, s, p)); got != "[1 2 3 4 5 3 4 5]" {
		t.Fatalf("topic after the rewind: %s, want changes 3..5 emitted again", got)
	}
	if got := fmt.Sprint(sinkIDs(t, p)); got != "[1 2 3 4 5]" {
		t.Fatalf("sink rows: %s", got)
	}

	// Connect accepts any primitives (Debezium does not check offsets at
	// PATCH time); the task fails when it starts from them.
	must(t, s, 204, "PUT", "/connectors/"+src+"/stop", nil)
	must(t, s, 200, "PATCH", "/connectors/"+src+"/offsets", `{"offsets":[{"partition":{"server":"shop"},"offset":{"lsn":"0/16B3748"}}]}`)
	must(t, s, 202, "PUT", "/connectors/"+src+"/resume", nil)
	for {
		st := must(t, s, 200, "GET", "/connectors/"+src+"/tasks/0/status", nil).body
		if strings.Contains(st, `"state":"FAILED"`) {
			if !strings.Contains(st, "ClassCastException") {
				t.Errorf("failed task status: %s", st)
			}
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the task did not fail on a string LSN: %s", st)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func TestPipelineSinkSkip(t *testing.T) {
	s := start(t, "")
	p := startPipeline(t, s)
	ctx := ctxFor(t)
	if _, err := p.InsertN(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if err := p.WaitSinkCaughtUp(ctx); err != nil {
		t.Fatal(err)
	}
	sink := p.SinkConnector()
	must(t, s, 204, "PUT", "/connectors/"+sink+"/stop", nil)
	got := must(t, s, 200, "GET", "/connectors/"+sink+"/offsets", nil).body
	wantOffsets := fmt.Sprintf(`{"offsets":[{"partition":{"kafka_partition":0,"kafka_topic":%q},"offset":{"kafka_offset":2}}]}`, p.Topic())
	if got != wantOffsets {
		t.Fatalf("sink offsets:\n got %s\nwant %s", got, wantOffsets)
	}
	// Three more changes land at offsets 2, 3, 4; skipping offset 2 means
	// customer 3 never reaches the sink.
	if _, err := p.InsertN(ctx, 3); err != nil {
		t.Fatal(err)
	}
	if err := p.WaitSourceCaughtUp(ctx); err != nil {
		t.Fatal(err)
	}
	must(t, s, 200, "PATCH", "/connectors/"+sink+"/offsets",
		fmt.Sprintf(`{"offsets":[{"partition":{"kafka_topic":%q,"kafka_partition":0},"offset":{"kafka_offset":3}}]}`, p.Topic()))
	must(t, s, 202, "PUT", "/connectors/"+sink+"/resume", nil)
	if err := p.WaitSinkCaughtUp(ctx); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(sinkIDs(t, p)); got != "[1 2 4 5]" {
		t.Fatalf("sink rows after skipping one record: %s, want [1 2 4 5]", got)
	}
}

// TestPipelineTaskReadsExactKeyBytes rewinds the source by writing the
// offsets topic directly (as on a 3.4 worker): the task honours a record
// under the bytes Connect would write and ignores one under other bytes.
func TestPipelineTaskReadsExactKeyBytes(t *testing.T) {
	s := start(t, "3.4")
	p := startPipeline(t, s)
	ctx := ctxFor(t)
	if _, err := p.InsertN(ctx, 3); err != nil {
		t.Fatal(err)
	}
	if err := p.WaitSourceCaughtUp(ctx); err != nil {
		t.Fatal(err)
	}
	changes, err := p.Changes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(s.BootstrapServers()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	write := func(key string, lsn int64) {
		t.Helper()
		v := fmt.Sprintf(`{"lsn_proc":%d,"lsn":%d,"txId":1,"ts_usec":1,"messageType":"COMMIT"}`, lsn, lsn)
		r := &kgo.Record{Topic: s.OffsetsTopic(), Key: []byte(key), Value: []byte(v), Partition: offsets.PartitionForKey([]byte(key), s.OffsetsPartitions())}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	src := p.SourceConnector()
	// 3.4 has no stop: pause leaves the task running, so delete the
	// connector (its final commit lands first), write, and create it again.
	cfg, err := p.SourceConfig()
	if err != nil {
		t.Fatal(err)
	}
	must(t, s, 204, "DELETE", "/connectors/"+src, nil)
	write(`["`+src+`", {"server": "shop"}]`, 0) // wrong bytes: ignored
	must(t, s, 201, "POST", "/connectors", map[string]any{"name": src, "config": cfg})
	if err := p.WaitSourceCaughtUp(ctx); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(topicIDs(t, s, p)); got != "[1 2 3]" {
		t.Fatalf("after a wrong-bytes write: topic %s, want no replay", got)
	}
	must(t, s, 204, "DELETE", "/connectors/"+src, nil)
	write(`["`+src+`",{"server":"shop"}]`, changes[0].LSN) // the bytes Connect writes
	must(t, s, 201, "POST", "/connectors", map[string]any{"name": src, "config": cfg})
	if err := p.WaitSourceCaughtUp(ctx); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(topicIDs(t, s, p)); got != "[1 2 3 2 3]" {
		t.Fatalf("after a right-bytes write: topic %s, want changes 2 and 3 again", got)
	}
}

func TestPipelineZombiesAndDrops(t *testing.T) {
	s := start(t, "3.8")
	p := startPipeline(t, s)
	ctx := ctxFor(t)
	src, sink := p.SourceConnector(), p.SinkConnector()
	s.Faults().DropEveryNth(sink, 2)
	if _, err := p.InsertN(ctx, 4); err != nil {
		t.Fatal(err)
	}
	if err := p.WaitSinkCaughtUp(ctx); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(sinkIDs(t, p)); got != "[1 3]" {
		t.Fatalf("sink rows with every 2nd record dropped: %s, want [1 3]", got)
	}
	s.Faults().DropEveryNth(sink, 0)

	// A sink task that does not stop keeps the group busy: alter and reset
	// fail as Connect's do, until it is gone.
	s.Faults().SetZombie(sink, true)
	must(t, s, 204, "PUT", "/connectors/"+sink+"/stop", nil)
	patch := fmt.Sprintf(`{"offsets":[{"partition":{"kafka_topic":%q,"kafka_partition":0},"offset":{"kafka_offset":0}}]}`, p.Topic())
	a := must(t, s, 500, "PATCH", "/connectors/"+sink+"/offsets", patch)
	if !strings.Contains(a.body, "Failed to alter consumer group offsets for connector "+sink+" either because its tasks haven't stopped completely yet") {
		t.Errorf("zombie sink alter: %s", a.body)
	}
	a = must(t, s, 500, "DELETE", "/connectors/"+sink+"/offsets", nil)
	if !strings.Contains(a.body, "Failed to reset consumer group offsets for connector "+sink+" either because") {
		t.Errorf("zombie sink reset: %s", a.body)
	}
	s.Faults().SetZombie(sink, false)
	must(t, s, 200, "PATCH", "/connectors/"+sink+"/offsets", patch)

	// A source task that does not stop overwrites a PATCH at its next commit.
	s.Faults().SetZombie(src, true)
	must(t, s, 204, "PUT", "/connectors/"+src+"/stop", nil)
	must(t, s, 200, "PATCH", "/connectors/"+src+"/offsets", `{"offsets":[{"partition":{"server":"shop"},"offset":{"lsn":1,"lsn_proc":1}}]}`)
	if _, err := p.InsertN(ctx, 1); err != nil { // the zombie streams it and commits
		t.Fatal(err)
	}
	changes, err := p.Changes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf(`"lsn":%d`, changes[len(changes)-1].LSN)
	for !strings.Contains(do(t, s, "GET", "/connectors/"+src+"/offsets", nil).body, want) {
		select {
		case <-ctx.Done():
			t.Fatalf("the zombie source never committed %s", want)
		case <-time.After(20 * time.Millisecond):
		}
	}
	s.Faults().SetZombie(src, false)
}

// topicOps returns "<op><id>" for each change event in the topic.
func topicOps(t *testing.T, s *Sandbox, p *Pipeline) string {
	t.Helper()
	recs, err := s.ReadTopic(ctxFor(t), p.Topic())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range recs {
		if r.Value == nil {
			continue
		}
		var ev struct {
			Op    string
			After struct{ ID int64 }
		}
		if err := json.Unmarshal(r.Value, &ev); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%s%d", ev.Op, ev.After.ID))
	}
	return strings.Join(out, " ")
}

// TestPipelineResetResnapshots resets a source with snapshot.mode=initial:
// like Debezium, it takes a new snapshot of the current rows instead of
// replaying history.
func TestPipelineResetResnapshots(t *testing.T) {
	s := start(t, "3.8")
	p := startPipelineWith(t, s, PipelineOptions{SnapshotMode: "initial"})
	ctx := ctxFor(t)
	if _, err := p.InsertN(ctx, 3); err != nil {
		t.Fatal(err)
	}
	if err := p.Update(ctx, 2, "vip"); err != nil {
		t.Fatal(err)
	}
	if err := p.WaitSinkCaughtUp(ctx); err != nil {
		t.Fatal(err)
	}
	before := topicOps(t, s, p)
	src := p.SourceConnector()
	must(t, s, 204, "PUT", "/connectors/"+src+"/stop", nil)
	must(t, s, 200, "DELETE", "/connectors/"+src+"/offsets", nil)
	must(t, s, 202, "PUT", "/connectors/"+src+"/resume", nil)
	if err := p.WaitSinkCaughtUp(ctx); err != nil {
		t.Fatal(err)
	}
	// Before the reset the rows came as a first snapshot and/or changes,
	// depending on when the task started; after it, as a new snapshot.
	if got := topicOps(t, s, p); got != before+" r1 r2 r3" {
		t.Fatalf("topic after the reset: %s, want %s followed by a snapshot of the 3 rows", got, before)
	}
	rows, err := p.SinkRows(ctx)
	if err != nil || len(rows) != 3 || rows[1].Status != "vip" {
		t.Fatalf("sink rows %+v, %v", rows, err)
	}
	must(t, s, 204, "PUT", "/connectors/"+src+"/stop", nil)
	got := must(t, s, 200, "GET", "/connectors/"+src+"/offsets", nil).body
	if !strings.Contains(got, `"snapshot":"INITIAL"`) || !strings.Contains(got, `"snapshot_completed":true`) || !strings.Contains(got, `"last_snapshot_record":true`) {
		t.Errorf("offset after the snapshot: %s", got)
	}
}
