package sandbox

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestPipelineSinkStuckOnPoison: the sink fails on the poison pill, stays
// failed at it across a restart with nothing after it written, and moves on
// once its offset is one past the pill.
func TestPipelineSinkStuckOnPoison(t *testing.T) {
	s := start(t, "")
	p := startPipeline(t, s)
	ctx := ctxFor(t)
	if _, err := p.InsertN(ctx, 3); err != nil {
		t.Fatal(err)
	}
	if err := p.WaitSinkCaughtUp(ctx); err != nil {
		t.Fatal(err)
	}
	pill, err := p.ProducePoison(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if pill != 3 {
		t.Fatalf("poison offset %d, want 3 (after 3 change events)", pill)
	}
	sink := p.SinkConnector()
	waitTaskState := func(want string) string {
		t.Helper()
		for {
			var st struct {
				Tasks []struct {
					State string `json:"state"`
					Trace string `json:"trace"`
				} `json:"tasks"`
			}
			a := must(t, s, 200, "GET", "/connectors/"+sink+"/status", nil)
			if err := json.Unmarshal([]byte(a.body), &st); err != nil {
				t.Fatal(err)
			}
			if len(st.Tasks) == 1 && st.Tasks[0].State == want {
				return st.Tasks[0].Trace
			}
			select {
			case <-ctx.Done():
				t.Fatalf("the sink task never became %s: %s", want, a.body)
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	trace := waitTaskState("FAILED")
	if want := fmt.Sprintf("record %s/0@3 is not a JSON change event", p.Topic()); !strings.Contains(trace, want) {
		t.Fatalf("trace lacks %q:\n%s", want, trace)
	}
	if _, err := p.InsertN(ctx, 2); err != nil { // offsets 4 and 5, behind the pill
		t.Fatal(err)
	}
	if err := p.WaitSourceCaughtUp(ctx); err != nil {
		t.Fatal(err)
	}
	committed := func() string {
		return must(t, s, 200, "GET", "/connectors/"+sink+"/offsets", nil).body
	}
	at := func(n int) string {
		return fmt.Sprintf(`{"offsets":[{"partition":{"kafka_partition":0,"kafka_topic":%q},"offset":{"kafka_offset":%d}}]}`, p.Topic(), n)
	}
	if got := committed(); got != at(3) {
		t.Fatalf("committed after the failure: %s, want %s", got, at(3))
	}
	// A restart fails again on the same record.
	must(t, s, 204, "POST", "/connectors/"+sink+"/tasks/0/restart", nil)
	waitTaskState("FAILED")
	if got := fmt.Sprint(sinkIDs(t, p)); got != "[1 2 3]" {
		t.Fatalf("sink rows while stuck: %s, want [1 2 3]", got)
	}
	if got := committed(); got != at(3) {
		t.Fatalf("committed after a restart: %s, want %s", got, at(3))
	}
	// Skipping the pill moves the pipeline on.
	must(t, s, 204, "PUT", "/connectors/"+sink+"/stop", nil)
	must(t, s, 200, "PATCH", "/connectors/"+sink+"/offsets", at(4))
	must(t, s, 202, "PUT", "/connectors/"+sink+"/resume", nil)
	if err := p.WaitSinkCaughtUp(ctx); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(sinkIDs(t, p)); got != "[1 2 3 4 5]" {
		t.Fatalf("sink rows after the skip: %s, want [1 2 3 4 5]", got)
	}
}
