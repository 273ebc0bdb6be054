package reconcilecustomers_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/offsetctl/offsetctl/internal/pgtest"
	"github.com/offsetctl/offsetctl/internal/sandbox"
	"github.com/offsetctl/offsetctl/pkg/apply"
	"github.com/offsetctl/offsetctl/pkg/config"
	"github.com/offsetctl/offsetctl/pkg/connect"
	"github.com/offsetctl/offsetctl/pkg/plan"
	"github.com/offsetctl/offsetctl/pkg/reconcile"
	"github.com/offsetctl/offsetctl/pkg/state"
	"github.com/offsetctl/offsetctl/pkg/state/local"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// clients opens the example's databases; there is no Connect or Kafka to
// reach for a reconcile block.
type clients struct {
	t    *testing.T
	mu   sync.Mutex
	pool map[string]*pgxpool.Pool
}

func (c *clients) Connect(*config.Connect) (*connect.Client, error) {
	return nil, errors.New("not needed")
}
func (c *clients) Kafka(*config.Kafka) (*kgo.Client, error) { return nil, errors.New("not needed") }
func (c *clients) Database(ctx context.Context, d *config.Database) (*pgxpool.Pool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p, ok := c.pool[d.URL.Value()]; ok {
		return p, nil
	}
	p := pgtest.Pool(c.t, d.URL.Value())
	c.pool[d.URL.Value()] = p
	return p, nil
}

type world struct {
	t        *testing.T
	ctx      context.Context
	pipe     *sandbox.Pipeline
	sb       *sandbox.Sandbox
	src, dst string
	cl       *clients
	state    string
}

// startWorld runs the sandbox pipeline with a sink that keeps milliseconds
// (timestamptz(3)) while the source keeps microseconds.
func startWorld(t *testing.T) *world {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	sb, err := sandbox.Start(ctx, sandbox.Options{TaskShutdownTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sb.Close)
	w := &world{t: t, ctx: ctx, sb: sb, src: pgtest.NewDB(t), dst: pgtest.NewDB(t), cl: &clients{t: t, pool: map[string]*pgxpool.Pool{}},
		state: filepath.Join(t.TempDir(), "offsetctl.state.json")}
	pgtest.Exec(t, w.dst, "CREATE TABLE public.customers (id bigint PRIMARY KEY, email text, status text, updated_at timestamptz(3))")
	w.pipe, err = sb.StartPipeline(ctx, sandbox.PipelineOptions{SourceDB: w.src, SinkDB: w.dst})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.pipe.EnableSignals(ctx); err != nil {
		t.Fatal(err)
	}
	return w
}

// drift makes the sink drift: the sink task drops every 5th record of 30
// new rows, then an operator deletes one row, edits one and adds one.
func (w *world) drift() {
	w.t.Helper()
	if _, err := w.pipe.InsertN(w.ctx, 20); err != nil {
		w.t.Fatal(err)
	}
	w.caughtUp()
	w.sb.Faults().DropEveryNth(w.pipe.SinkConnector(), 5)
	if _, err := w.pipe.InsertN(w.ctx, 30); err != nil {
		w.t.Fatal(err)
	}
	w.caughtUp()
	w.sb.Faults().DropEveryNth(w.pipe.SinkConnector(), 0)
	if err := w.pipe.SinkDelete(w.ctx, 3); err != nil {
		w.t.Fatal(err)
	}
	if err := w.pipe.SinkSetEmail(w.ctx, 7, "typo@example.com"); err != nil {
		w.t.Fatal(err)
	}
	if err := w.pipe.SinkInsert(w.ctx, sandbox.Customer{ID: 9001, Email: "orphan@example.com", Status: "active", UpdatedAt: time.Now()}); err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) caughtUp() {
	w.t.Helper()
	if err := w.pipe.WaitSinkCaughtUp(w.ctx); err != nil {
		w.t.Fatal(err)
	}
}

// config loads main.hcl (or another body) with the two databases.
func (w *world) config(body string) *config.Config {
	w.t.Helper()
	dir := "."
	if body != "" {
		dir = w.t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(body), 0o644); err != nil {
			w.t.Fatal(err)
		}
	}
	env := map[string]string{"SOURCE_DATABASE_URL": w.src, "SINK_DATABASE_URL": w.dst}
	cfg, diags := config.Load(dir, config.Options{Getenv: func(k string) string { return env[k] }})
	if diags.HasErrors() {
		w.t.Fatalf("configuration: %v", diags)
	}
	return cfg
}

func (w *world) planner() *plan.Planner {
	return &plan.Planner{Clients: w.cl, Version: "example"}
}

func (w *world) plan(cfg *config.Config, b state.Backend) *plan.Plan {
	w.t.Helper()
	opts := plan.Options{}
	if st, err := b.Read(w.ctx); err == nil {
		opts.State = plan.StateRef{Lineage: st.Lineage, Serial: st.Serial}
	}
	p, err := w.planner().Plan(w.ctx, cfg, opts)
	if err != nil {
		w.t.Fatal(err)
	}
	if _, err := plan.Marshal(p); err != nil {
		w.t.Fatal(err)
	}
	return p
}

func (w *world) apply(cfg *config.Config, b state.Backend, p *plan.Plan, events *[]apply.Event) error {
	w.t.Helper()
	_, err := w.applyResult(cfg, b, p, events)
	return err
}

func (w *world) applyResult(cfg *config.Config, b state.Backend, p *plan.Plan, events *[]apply.Event) (*apply.Result, error) {
	w.t.Helper()
	a, err := apply.New(apply.Options{Backend: b, Clients: w.cl, Observe: w.planner().Observe, Who: "example", Host: "test",
		PollInterval: 50 * time.Millisecond, WaitTimeout: 30 * time.Second,
		Observer: apply.ObserverFunc(func(e apply.Event) {
			if events != nil {
				*events = append(*events, e)
			}
		})})
	if err != nil {
		w.t.Fatal(err)
	}
	id, err := b.Lock(w.ctx, state.LockInfo{Operation: "apply", Who: "example"})
	if err != nil {
		w.t.Fatal(err)
	}
	defer b.Unlock(w.ctx, id)
	return a.Apply(w.ctx, p, cfg, id)
}

// dump is the sink table, every row's text in key order.
func (w *world) dump() string {
	w.t.Helper()
	var s string
	if err := pgtest.Conn(w.t, w.dst).QueryRow(w.ctx, "SELECT coalesce(string_agg(c::text, E'\\n' ORDER BY id), '') FROM public.customers c").Scan(&s); err != nil {
		w.t.Fatal(err)
	}
	return s
}

func report(evs []apply.Event) *apply.RepairReport {
	for _, e := range evs {
		if r, ok := e.(apply.RepairReport); ok {
			return &r
		}
	}
	return nil
}

// The README's story: drift, plan, apply, equal checksums, rollback.
func TestReconcileCustomers(t *testing.T) {
	w := startWorld(t)
	w.drift()
	cfg := w.config("")
	b := local.New(w.state)

	p := w.plan(cfg, b)
	d := p.Operations[0].Reconcile
	if p.Operations[0].Status != plan.StatusChange || len(d.Missing) != 7 || len(d.Mismatched) != 1 || len(d.Extra) != 1 {
		t.Fatalf("planned drift: %d missing, %d mismatched, %d extra (status %s, checks %+v)", len(d.Missing), len(d.Mismatched), len(d.Extra), p.Operations[0].Status, p.Checks)
	}
	if got := d.Mismatched[0].Columns; len(got) != 1 || got[0] != "email" {
		t.Fatalf("mismatched columns %v: updated_at must compare equal at millisecond precision", got)
	}
	data, _ := plan.Marshal(p)
	if strings.Contains(string(data), "@example.com") || strings.Contains(string(data), w.dst) {
		t.Fatal("the plan file holds row values or a database URL")
	}

	before := w.dump()
	var evs []apply.Event
	if err := w.apply(cfg, b, p, &evs); err != nil {
		t.Fatalf("apply: %v", err)
	}
	rep := report(evs)
	if rep == nil || !rep.Converged || !rep.TableEqual || rep.Inserted != 7 || rep.Updated != 1 || rep.Deleted != 1 {
		t.Fatalf("repair: %+v", rep)
	}
	v, err := reconcile.Verify(w.ctx, pgtest.Conn(t, w.src), pgtest.Conn(t, w.dst), plan.SpecOf(cfg.Reconciles[0]), nil)
	if err != nil || !v.TableEqual() {
		t.Fatalf("checksums after apply: %+v %v", v, err)
	}

	// The pipeline keeps running over the repaired sink.
	if _, err := w.pipe.InsertN(w.ctx, 5); err != nil {
		t.Fatal(err)
	}
	w.caughtUp()

	// Rollback puts the repaired rows back exactly as they were.
	st, err := b.Read(w.ctx)
	if err != nil {
		t.Fatal(err)
	}
	target, err := plan.RollbackCandidate(st, 0, "")
	if err != nil {
		t.Fatal(err)
	}
	rp, err := plan.RollbackPlan(w.ctx, cfg, st, []*state.Operation{target}, w.planner().Observe, plan.BuildInfo{OffsetctlVersion: "example", Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.apply(cfg, b, rp, nil); err != nil {
		t.Fatalf("rollback: %v", err)
	}
	after := w.dump()
	// The five rows the pipeline wrote after the repair stay; the rest is
	// byte for byte the sink before the repair.
	if stripIDsAbove(after, 50) != before || strings.Count(after, "\n") != strings.Count(before, "\n")+5 {
		t.Fatalf("after rollback the sink differs from before the repair:\n--- before\n%s\n--- after\n%s", before, after)
	}
}

// stripIDsAbove drops the dump lines of rows the pipeline inserted after the
// repair (ids above n) — except the extra row 9001, which the repair deleted
// and the rollback put back.
func stripIDsAbove(dump string, n int) string {
	var out []string
	for _, l := range strings.Split(dump, "\n") {
		var id int
		fmt.Sscanf(strings.TrimPrefix(l, "("), "%d", &id)
		if id > n && id != 9001 {
			continue
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}

// repair = "snapshot_signal": Debezium (here the sandbox source) re-emits
// the planned rows through the pipeline; apply waits for them and verifies.
func TestReconcileCustomersSnapshotSignal(t *testing.T) {
	w := startWorld(t)
	w.drift()
	if err := w.pipe.SinkDelete(w.ctx, 9001); err != nil { // signals cannot delete
		t.Fatal(err)
	}
	cfg := w.config(`database "source" { url = env("SOURCE_DATABASE_URL") }
database "sink"   { url = env("SINK_DATABASE_URL") }
reconcile "customers" {
  source              = database.source
  sink                = database.sink
  table               = "public.customers"
  timestamp_precision = "ms"
  repair              = "snapshot_signal"
  signal_table        = "` + w.pipe.SignalTableName() + `"
  reason              = "INC-4711"
}
`)
	b := local.New(w.state)
	p := w.plan(cfg, b)
	if d := p.Operations[0].Reconcile; len(d.Missing) != 7 || len(d.Mismatched) != 1 {
		t.Fatalf("planned: %+v", d)
	}
	var evs []apply.Event
	if err := w.apply(cfg, b, p, &evs); err != nil {
		t.Fatalf("apply: %v", err)
	}
	rep := report(evs)
	if rep == nil || rep.Signals != 1 || !rep.Converged || !rep.TableEqual {
		t.Fatalf("repair: %+v", rep)
	}
}

// repair = "snapshot_signal" with an extra sink row: the signals re-emit the
// missing and mismatched rows, but a snapshot cannot delete a row (and
// delete_extra does nothing with snapshot_signal). The extra row stays, so
// the repair is not verified: apply records it as incomplete and says which
// row still differs, by key.
func TestReconcileCustomersSnapshotSignalExtraRows(t *testing.T) {
	w := startWorld(t)
	w.drift() // leaves the extra row 9001 in the sink
	cfg := w.config(`database "source" { url = env("SOURCE_DATABASE_URL") }
database "sink"   { url = env("SINK_DATABASE_URL") }
reconcile "customers" {
  source              = database.source
  sink                = database.sink
  table               = "public.customers"
  timestamp_precision = "ms"
  repair              = "snapshot_signal"
  delete_extra        = true
  signal_table        = "` + w.pipe.SignalTableName() + `"
  reason              = "INC-4711"
}
`)
	b := local.New(w.state)
	p := w.plan(cfg, b)
	if d := p.Operations[0].Reconcile; len(d.Missing) != 7 || len(d.Mismatched) != 1 || len(d.Extra) != 1 {
		t.Fatalf("planned: %+v", d)
	}
	var evs []apply.Event
	res, err := w.applyResult(cfg, b, p, &evs)
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	if len(res.Operations) != 1 || res.Operations[0].Status != state.StatusIncomplete {
		t.Fatalf("result: %+v", res.Operations)
	}
	rep := report(evs)
	if rep == nil || rep.Signals != 1 || !rep.Converged || rep.TableEqual || rep.Complete() || rep.Remaining == nil ||
		rep.Remaining.Extra != 1 || rep.Remaining.Missing != 0 || rep.Remaining.Mismatched != 0 || len(rep.Remaining.ExtraKeys) != 1 || rep.Remaining.ExtraKeys[0].String() != "9001" {
		t.Fatalf("repair: %+v", rep)
	}
	want := `the sink still differs from the source in 1 row: 1 extra (key 9001), which a snapshot signal cannot delete (delete_extra does nothing with repair = "snapshot_signal")`
	if !strings.Contains(res.Operations[0].Incomplete, want) || strings.Contains(res.Operations[0].Incomplete, "orphan@") {
		t.Fatalf("incomplete: %q", res.Operations[0].Incomplete)
	}
	st, err := b.Read(w.ctx)
	if err != nil {
		t.Fatal(err)
	}
	op, _ := st.BySerial(1)
	if op.Status != state.StatusIncomplete || !strings.Contains(op.Error, want) {
		t.Fatalf("state: %s %q", op.Status, op.Error)
	}
	// The signals wrote no sink row of their own: there is nothing to put back.
	_, err = plan.RollbackPlan(w.ctx, cfg, st, []*state.Operation{op}, w.planner().Observe, plan.BuildInfo{OffsetctlVersion: "example", Now: time.Now()})
	if !errors.Is(err, apply.ErrNothingToRollback) {
		t.Fatalf("rollback of a snapshot_signal repair = %v", err)
	}
}
