package apply_test

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/offsetctl/offsetctl/internal/pgtest"
	"github.com/offsetctl/offsetctl/internal/sandbox"
	"github.com/offsetctl/offsetctl/pkg/apply"
	"github.com/offsetctl/offsetctl/pkg/state"
	"github.com/offsetctl/offsetctl/pkg/state/local"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// On the real pipeline (PostgreSQL source → Debezium-shaped source → Kafka
// → JDBC-shaped sink → PostgreSQL): the sink lost rows 11..20; rewinding the
// source to the 10th change replays them. apply is killed after writing the
// offsets, and apply of the same plan finds the interrupted attempt
// applied, records it so and resumes the source (without writing the
// offsets again): in the end the sink holds exactly the source's rows.
func TestPipelineRewindReplaysAfterCrash(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
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
	changes, err := pipe.Changes(ctx)
	if err != nil {
		t.Fatal(err)
	}
	lsn := changes[9].LSN
	// The sink loses rows 11..20 (someone ran a bad cleanup).
	conn, err := pgx.Connect(ctx, pipe.SinkDB())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DELETE FROM "+pgx.Identifier{"public", pipe.Table()}.Sanitize()+" WHERE id > 10"); err != nil {
		t.Fatal(err)
	}

	// Wait for the source to commit its position (every flush interval).
	for want := fmt.Sprintf(`"lsn":%d`, changes[len(changes)-1].LSN); !strings.Contains((&world{t: t, sb: sb}).sourceOffsets(pipe.SourceConnector()), want); {
		if ctx.Err() != nil {
			t.Fatalf("the source never committed %s", want)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if sink, err := pipe.SinkRows(ctx); err != nil || len(sink) != 10 {
		t.Fatalf("sink before the surgery: %d rows, %v", len(sink), err)
	}
	w := &world{t: t, sb: sb, proxy: newProxy(t, sb.ConnectURL()), dir: t.TempDir()}
	w.clients = &clients{url: w.proxy.url, kcl: nil}
	kw := newKafkaClient(t, sb)
	w.clients.kcl, w.kcl = kw, kw
	cfg := w.config(fmt.Sprintf(`
connector "src" {
  connect = connect.sb
  kafka   = kafka.sb
  name    = %q
}
offsets "replay_lost_rows" {
  connector = connector.src
  reason    = "INC-9: the sink lost rows 11..20"
  source_partition {
    partition = { server = %q }
    offset    = { lsn = %d, lsn_proc = %d, lsn_commit = %d }
    merge     = true
  }
}
`, pipe.SourceConnector(), pipe.TopicPrefix(), lsn, lsn, lsn))
	b := w.backend()
	id := lock(t, b)
	p := w.plan(cfg, b)
	if p.HasErrors() || !p.HasChanges() {
		t.Fatalf("plan: changes %v, checks %+v", p.HasChanges(), p.Checks)
	}
	if _, err := w.applier(b, crashAt(apply.StepAlter), nil).Apply(ctx, p, cfg, id); err == nil {
		t.Fatal("the crash did not happen")
	}
	b.Close()
	b2 := local.New(filepath.Join(w.dir, "state.json"))
	id2 := lock(t, b2)
	res, err := w.applier(b2, nil, nil).Apply(ctx, p, cfg, id2)
	if err != nil {
		t.Fatalf("apply after the crash: %v", err)
	}
	if len(res.Recovered) != 1 || len(res.Operations) != 0 {
		t.Fatalf("result: %+v", res)
	}
	if st := readState(t, b2); st.Operations[0].Status != state.StatusApplied || len(st.Operations) != 1 {
		t.Fatalf("state: %s", statuses(st))
	}
	if err := pipe.WaitSinkCaughtUp(ctx); err != nil {
		t.Fatal(err)
	}
	src, err := pipe.SourceRows(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for {
		sink, err := pipe.SinkRows(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if reflect.DeepEqual(src, sink) {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the sink never got the replayed rows back: source %d rows, sink %d rows", len(src), len(sink))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
