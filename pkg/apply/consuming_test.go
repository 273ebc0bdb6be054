package apply_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/offsetctl/offsetctl/internal/pgtest"
	"github.com/offsetctl/offsetctl/internal/sandbox"
	"github.com/offsetctl/offsetctl/pkg/apply"
	"github.com/offsetctl/offsetctl/pkg/config"
	"github.com/offsetctl/offsetctl/pkg/connect"
)

// consumingSink is a pipeline whose sink really consumes (it writes
// PostgreSQL and commits its group after every batch), caught up on 20
// changes, with a world in front of it.
type consumingSink struct {
	w         *world
	pipe      *sandbox.Pipeline
	name      string // the sink connector
	key       string // "topic[0]"
	committed int64  // the sink's committed offset once caught up
}

func newConsumingSink(t *testing.T, ctx context.Context) *consumingSink {
	t.Helper()
	sb, err := sandbox.Start(ctx, sandbox.Options{TaskShutdownTimeout: testGrace})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sb.Close)
	pipe, err := sb.StartPipeline(ctx, sandbox.PipelineOptions{SourceDB: pgtest.NewDB(t), SinkDB: pgtest.NewDB(t)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pipe.InsertN(ctx, 20); err != nil {
		t.Fatal(err)
	}
	if err := pipe.WaitSinkCaughtUp(ctx); err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, sb: sb, proxy: newProxy(t, sb.ConnectURL()), dir: t.TempDir()}
	kw := newKafkaClient(t, sb)
	w.clients = &clients{url: w.proxy.url, kcl: kw}
	w.kcl = kw
	cs := &consumingSink{w: w, pipe: pipe, name: pipe.SinkConnector(), key: pipe.Topic() + "[0]"}
	// The sink commits after each batch it wrote: wait for the last one.
	for {
		if got := w.sinkOffsets(cs.name)[cs.key]; got >= 20 {
			cs.committed = got
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the sink never committed its 20 records: %v", w.sinkOffsets(cs.name))
		}
		time.Sleep(20 * time.Millisecond)
	}
	return cs
}

// rewindConfig rewinds the sink by three records.
func (cs *consumingSink) rewindConfig() *config.Config {
	return cs.w.config(fmt.Sprintf(`
connector "sink" {
  connect = connect.sb
  kafka   = kafka.sb
  name    = %q
}
offsets "replay_three" {
  connector = connector.sink
  reason    = "INC-12: replay the last three records"
  sink_partition {
    topic      = %q
    partitions = [0]
    to_offset  = %d
  }
}
`, cs.name, cs.pipe.Topic(), cs.committed-3))
}

// A connector the operator PAUSED is returned to PAUSED without running in
// between: the three records the rewind replays are not consumed by apply
// (nor after it), the committed offset stays the planned one, and the
// restore-state step says the connector was left PAUSED, not watched.
func TestApplyLeavesPausedConnectorPausedWithoutRunning(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cs := newConsumingSink(t, ctx)
	w := cs.w
	w.setState(cs.name, connect.StatePaused)

	cfg := cs.rewindConfig()
	b := w.backend()
	id := lock(t, b)
	p := w.plan(cfg, b)
	if p.HasErrors() || !p.HasChanges() {
		t.Fatalf("plan: changes %v, checks %+v", p.HasChanges(), p.Checks)
	}
	var events []apply.Event
	if _, err := w.applier(b, nil, &events).Apply(ctx, p, cfg, id); err != nil {
		t.Fatalf("apply: %v", err)
	}
	want := cs.committed - 3
	check := func(when string) {
		t.Helper()
		if got := w.sinkOffsets(cs.name)[cs.key]; got != want {
			t.Errorf("%s: committed offset %d, want the planned %d (the paused sink consumed the replay)", when, got, want)
		}
		if got := w.connectorState(cs.name); got != "PAUSED" {
			t.Errorf("%s: connector %s, want PAUSED", when, got)
		}
	}
	check("right after apply")
	// Longer than the running-watch (150ms) and several sink batches.
	time.Sleep(time.Second)
	check("a second after apply")

	var said string
	for _, e := range events {
		if d, ok := e.(apply.StepDone); ok && d.Step == apply.StepRestoreState {
			said = d.Message
		}
	}
	if !strings.Contains(said, "left PAUSED, as it was") || !strings.Contains(said, "not watched") {
		t.Errorf("restore-state said %q, want it to say the connector was left PAUSED and not watched", said)
	}
	if got := statuses(readState(t, b)); got != "1 offsets applied" {
		t.Errorf("state: %s", got)
	}

	// The replay starts when the operator resumes the connector.
	w.setState(cs.name, connect.StateRunning)
	for w.sinkOffsets(cs.name)[cs.key] != cs.committed {
		if ctx.Err() != nil {
			t.Fatalf("after resume the sink never consumed the replay: %v", w.sinkOffsets(cs.name))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The operator's report: apply was killed while it watched the resumed
// sink, which had consumed the three replayed records and committed the
// offset it had before the rewind. The live offsets now equal the
// before-images, but the journal says the write was verified and the
// connector resumed: apply of the same plan records the operation as
// applied and does not rewind (and replay) a second time.
func TestApplyAfterKillDuringWatchDoesNotReplayTwice(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cs := newConsumingSink(t, ctx)
	w := cs.w
	cfg := cs.rewindConfig()
	b := w.backend()
	id := lock(t, b)
	p := w.plan(cfg, b)
	if p.HasErrors() || !p.HasChanges() {
		t.Fatalf("plan: changes %v, checks %+v", p.HasChanges(), p.Checks)
	}
	if _, err := w.applier(b, crashAt(apply.StepRestoreState), nil).Apply(ctx, p, cfg, id); !errors.Is(err, errCrash) {
		t.Fatalf("apply killed during the watch: %v", err)
	}
	b.Close()
	// The resumed sink consumes the replay and commits where it was.
	for w.sinkOffsets(cs.name)[cs.key] != cs.committed {
		if ctx.Err() != nil {
			t.Fatalf("the sink never consumed the replay: %v", w.sinkOffsets(cs.name))
		}
		time.Sleep(20 * time.Millisecond)
	}

	b2 := w.backend()
	id2 := lock(t, b2)
	var events []apply.Event
	res, err := w.applier(b2, nil, &events).Apply(ctx, p, cfg, id2)
	if err != nil {
		t.Fatalf("apply of the same plan after the kill: %v", err)
	}
	if len(res.Recovered) != 1 || len(res.Operations) != 0 {
		t.Fatalf("result: recovered %v, operations %+v (the operation was applied again)", res.Recovered, res.Operations)
	}
	st := readState(t, b2)
	if got := statuses(st); got != "1 offsets applied" {
		t.Fatalf("state: %s, want 1 offsets applied", got)
	}
	if story := recoverStory(st.Operations[0]); !strings.Contains(story, "found it applied (the journal records the offsets written and verified and the connector being resumed") {
		t.Errorf("recover step says %q", story)
	}
	if got := w.proxy.calls("PATCH /connectors/" + cs.name + "/offsets"); len(got) != 1 {
		t.Errorf("offsets written %d times, want once: %v", len(got), got)
	}
	time.Sleep(500 * time.Millisecond)
	if got := w.sinkOffsets(cs.name)[cs.key]; got != cs.committed {
		t.Errorf("committed offset %d, want %d", got, cs.committed)
	}
	if got := w.connectorState(cs.name); got != "RUNNING" {
		t.Errorf("connector %s, want RUNNING", got)
	}
}
