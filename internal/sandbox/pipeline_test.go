package sandbox

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/offsetctl/offsetctl/internal/pgtest"
)

func startPipeline(t *testing.T, s *Sandbox) *Pipeline {
	t.Helper()
	src, sink := pgtest.NewDB(t), pgtest.NewDB(t)
	t.Cleanup(s.Close) // before the databases are dropped
	p, err := s.StartPipeline(ctxFor(t), PipelineOptions{SourceDB: src, SinkDB: sink})
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
	want := fmt.Sprintf(`"lsn":%d`, changes[4].LSN)
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
