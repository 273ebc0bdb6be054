package command

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/offsetctl/offsetctl/cmd/offsetctl/internal/command/views"
)

// offsetsTopicEnds is the end offset of every partition of the production
// sandbox's offsets topic: a drill must add no record to it.
func offsetsTopicEnds(t *testing.T, w *world) map[int32]int64 {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(w.sb.BootstrapServers()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(context.Background(), w.sb.OffsetsTopic())
	if err != nil {
		t.Fatal(err)
	}
	out := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) { out[o.Partition] = o.Offset })
	return out
}

// quiet waits until production is at rest — the sink caught up and the
// source's last offsets flush stored (a loaded machine can leave one flush
// behind the first stored offset) — and returns its snapshot: the same one
// read twice, a second apart.
func (w *world) quiet(t *testing.T) snapshot {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := w.pipe.WaitSinkCaughtUp(ctx); err != nil {
		t.Fatal(err)
	}
	prev := w.snapshot(t)
	for {
		select {
		case <-ctx.Done():
			t.Fatalf("production never came to rest: %v", ctx.Err())
		case <-time.After(time.Second):
		}
		cur := w.snapshot(t)
		if reflect.DeepEqual(cur, prev) {
			return cur
		}
		prev = cur
	}
}

// TestDrillOnTheSandbox: a second sandbox plays production; the drill copies
// its connectors' offsets into shadows on an embedded sandbox, rehearses,
// rolls back, verifies, reports its time to recovery and records itself in
// the state — and production's connectors, offsets, group and offsets topic
// are exactly as before.
func TestDrillOnTheSandbox(t *testing.T) {
	w := startWorld(t, "3.8", 30)
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(getBody(t, w.sb.ConnectURL()+"/connectors/"+w.pipe.SourceConnector()+"/offsets"), "lsn"); {
		if time.Now().After(deadline) {
			t.Fatal("the source never stored an offset")
		}
		time.Sleep(50 * time.Millisecond)
	}
	dir := writeConfig(t, w.hcl())
	stateFile := filepath.Join(t.TempDir(), "state.json")
	before, topicBefore := w.quiet(t), offsetsTopicEnds(t, w)

	code, out, errOut := runCLI(t, dir, "drill", "--sandbox", "--rewind", "5", "--state", stateFile, "-json")
	if code != 0 {
		t.Fatalf("drill: exit %d\n%s\n%s", code, out, errOut)
	}
	var r views.DrillResult
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("-json: %v\n%s", err, out)
	}
	if !r.Passed || len(r.Connectors) != 2 || r.RestoreSeconds <= 0 || r.RestoreSeconds > r.TotalSeconds || r.TotalSeconds > 60 || r.StateSerial != 1 {
		t.Errorf("drill result: %+v", r)
	}
	for _, c := range r.Connectors {
		if !c.Verified || c.Partitions != 1 {
			t.Errorf("%s: %+v", c.Connector, c)
		}
	}
	if got := w.snapshot(t); !reflect.DeepEqual(got, before) {
		t.Errorf("production changed:\nbefore %+v\nafter  %+v", before, got)
	}
	if got := offsetsTopicEnds(t, w); !reflect.DeepEqual(got, topicBefore) {
		t.Errorf("production's offsets topic got records: %v → %v", topicBefore, got)
	}
	data, err := os.ReadFile(stateFile)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `"kind": "drill"`) || !strings.Contains(string(data), `"format_version": 4`) || !strings.Contains(string(data), "time to recovery") {
		t.Errorf("the state does not record the drill:\n%s", data)
	}
	// The text view says the time to recovery against the targets, and
	// rollback refuses to undo a drill.
	code, out, errOut = runCLI(t, dir, "drill", "--sandbox", "--connector", "sink", "--state", stateFile)
	if code != 0 || !strings.Contains(out, "Drill on sandbox: passed") || !strings.Contains(out, "Time to recovery:") || !strings.Contains(out, "back byte for byte") {
		t.Errorf("text drill: exit %d\n%s\n%s", code, out, errOut)
	}
	code, _, errOut = runCLI(t, dir, "rollback", "--state", stateFile, "-auto-approve")
	if code != ExitError || !strings.Contains(errOut, "no operation in the state is applied") {
		t.Errorf("rollback after drills: exit %d\n%s", code, errOut)
	}
	// The configuration's own operation as the rehearsal: planned against
	// production (read only), written to the shadow.
	dir2 := writeConfig(t, w.hcl()+fmt.Sprintf(`
offsets "replay" {
  connector = connector.sink
  reason    = "INC-1: replay"

  sink_partition {
    topic      = %q
    partitions = [0]
    to_offset  = 10
  }
}
`, w.pipe.Topic()))
	code, out, errOut = runCLI(t, dir2, "drill", "--sandbox", "--rehearsal", "config", "--state", stateFile)
	if code != 0 || !strings.Contains(out, "Rehearsed: offsets.replay") || !strings.Contains(out, "rehearse the configuration's offsets blocks") {
		t.Errorf("config rehearsal: exit %d\n%s\n%s", code, out, errOut)
	}
	if got := w.snapshot(t); !reflect.DeepEqual(got, before) {
		t.Errorf("production changed by the config rehearsal:\nbefore %+v\nafter  %+v", before, got)
	}
	if got := offsetsTopicEnds(t, w); !reflect.DeepEqual(got, topicBefore) {
		t.Errorf("production's offsets topic got records: %v → %v", topicBefore, got)
	}
	// A target that is production itself is refused.
	code, _, errOut = runCLI(t, dir, "drill", "--target", "sandbox", "--state", stateFile)
	if code != ExitError || !strings.Contains(errOut, "never writes to the production cluster") {
		t.Errorf("drill onto production: exit %d\n%s", code, errOut)
	}
}
