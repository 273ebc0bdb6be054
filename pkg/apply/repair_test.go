package apply_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/offsetctl/offsetctl/internal/pgtest"
	"github.com/offsetctl/offsetctl/pkg/apply"
	"github.com/offsetctl/offsetctl/pkg/config"
	"github.com/offsetctl/offsetctl/pkg/connect"
	"github.com/offsetctl/offsetctl/pkg/plan"
	"github.com/offsetctl/offsetctl/pkg/state"
	"github.com/offsetctl/offsetctl/pkg/state/local"
)

// dbWorld is a database with a source and a sink schema, a configuration
// with reconcile blocks over it, and a state file.
type dbWorld struct {
	t    *testing.T
	url  string
	env  map[string]string
	dir  string
	mu   sync.Mutex
	pool map[string]*pgxpool.Pool
	// rollbackTimeout is the appliers' RollbackTimeout (zero: the default).
	rollbackTimeout time.Duration
}

func (w *dbWorld) Connect(*config.Connect) (*connect.Client, error) {
	return nil, errors.New("no Kafka Connect in this world")
}
func (w *dbWorld) Kafka(*config.Kafka) (*kgo.Client, error) {
	return nil, errors.New("no Kafka in this world")
}
func (w *dbWorld) Database(ctx context.Context, d *config.Database) (*pgxpool.Pool, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	u := d.URL.Value()
	if p, ok := w.pool[u]; ok {
		return p, nil
	}
	p := pgtest.Pool(w.t, u)
	w.pool[u] = p
	return p, nil
}

const dbTables = `CREATE SCHEMA s; CREATE SCHEMA d;
CREATE TABLE s.customers (id bigint PRIMARY KEY, email text NOT NULL, status text, updated_at timestamptz NOT NULL);
INSERT INTO s.customers SELECT i, 'user' || i || '@example.com', 'active', timestamptz '2026-11-01 00:00:00.123456+00' + i * interval '1 minute' FROM generate_series(1, 100) i;
CREATE TABLE d.customers (id bigint PRIMARY KEY, email text NOT NULL, status text, updated_at timestamp(3) NOT NULL, __op text);
INSERT INTO d.customers SELECT id, email, status, updated_at AT TIME ZONE 'UTC', 'c' FROM s.customers;
DELETE FROM d.customers WHERE id IN (4, 5, 60);
UPDATE d.customers SET email = 'changed@example.com' WHERE id IN (9, 61);
UPDATE d.customers SET status = 'gone', updated_at = '2026-01-01' WHERE id = 10;
INSERT INTO d.customers VALUES (177, 'ghost@example.com', NULL, '2026-01-01', 'c');`

func newDBWorld(t *testing.T) *dbWorld {
	t.Helper()
	u := pgtest.NewDB(t)
	pgtest.Exec(t, u, dbTables)
	return &dbWorld{t: t, url: u, env: map[string]string{"SRC_URL": u, "SINK_URL": u}, dir: t.TempDir(), pool: map[string]*pgxpool.Pool{}}
}

func reconcileHCL(repair string, extra string) string {
	return fmt.Sprintf(`database "source" { url = env("SRC_URL") }
database "sink"   { url = env("SINK_URL") }
reconcile "customers" {
  source              = database.source
  sink                = database.sink
  table               = "s.customers"
  sink_table          = "d.customers"
  ignore_columns      = ["__op"]
  timestamp_precision = "ms"
  repair              = %q
  reason              = "INC-4711"
%s}
`, repair, extra)
}

func (w *dbWorld) config(hcl string) *config.Config {
	w.t.Helper()
	dir := filepath.Join(w.dir, "cfg")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		w.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(hcl), 0o644); err != nil {
		w.t.Fatal(err)
	}
	cfg, diags := config.Load(dir, config.Options{Getenv: func(k string) string { return w.env[k] }})
	if diags.HasErrors() {
		w.t.Fatalf("configuration: %v", diags)
	}
	return cfg
}

func (w *dbWorld) planner() *plan.Planner {
	return &plan.Planner{Clients: w, Version: "test", Now: func() time.Time { return time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC) }}
}

func (w *dbWorld) plan(cfg *config.Config, b state.Backend) *plan.Plan {
	w.t.Helper()
	opts := plan.Options{}
	if st, err := b.Read(context.Background()); err == nil {
		opts.State = plan.StateRef{Lineage: st.Lineage, Serial: st.Serial}
	}
	p, err := w.planner().Plan(context.Background(), cfg, opts)
	if err != nil {
		w.t.Fatalf("planning: %v", err)
	}
	if _, err := plan.Marshal(p); err != nil {
		w.t.Fatal(err)
	}
	return p
}

func (w *dbWorld) backend() *local.Backend {
	n := 0
	return local.New(filepath.Join(w.dir, "state.json"), local.WithIDGenerator(func() (string, error) {
		n++
		return fmt.Sprintf("lock-%d", n), nil
	}))
}

func (w *dbWorld) applier(b state.Backend, hook func(apply.Point) error, events *[]apply.Event) *apply.Applier {
	w.t.Helper()
	ids := 0
	a, err := apply.New(apply.Options{
		Backend: b, Clients: w, Observe: w.planner().Observe,
		Observer: apply.ObserverFunc(func(e apply.Event) {
			if events != nil {
				*events = append(*events, e)
			}
		}),
		NewID: func() (string, error) { ids++; return fmt.Sprintf("lineage-%d", ids), nil },
		Who:   "tester", Host: "testhost", PollInterval: 20 * time.Millisecond, WaitTimeout: 2 * time.Second, Hook: hook,
		RollbackTimeout: w.rollbackTimeout,
	})
	if err != nil {
		w.t.Fatal(err)
	}
	return a
}

// dump is the sink table's exact content in key order.
func (w *dbWorld) dump() string {
	w.t.Helper()
	var out string
	if err := pgtest.Conn(w.t, w.url).QueryRow(context.Background(), "SELECT string_agg(c::text, E'\\n' ORDER BY c.id) FROM d.customers c").Scan(&out); err != nil {
		w.t.Fatal(err)
	}
	return out
}

// equal says whether a fresh plan finds no drift.
func (w *dbWorld) drift(cfg *config.Config, b state.Backend) *plan.ReconcileDiff {
	w.t.Helper()
	p := w.plan(cfg, b)
	return p.Operations[0].Reconcile
}

// dbLock takes the state lock and gives it back when the test ends or the
// next dbLock comes, as the CLI does around each apply.
func dbLock(t *testing.T, b state.Backend) string {
	t.Helper()
	ctx := context.Background()
	if lb, ok := b.(*local.Backend); ok {
		if held, ok := heldLocks.Load(lb); ok {
			_ = b.Unlock(ctx, held.(string))
		}
	}
	id := lock(t, b)
	heldLocks.Store(b, id)
	t.Cleanup(func() { _ = b.Unlock(ctx, id) })
	return id
}

var heldLocks sync.Map

func TestRepairApplyVerifyRollback(t *testing.T) {
	// Apply repairs on two sink connections when the pool has room for a
	// second, and on one otherwise.
	for _, tc := range []struct{ name, sinkParams string }{
		{"two sink connections", ""},
		{"one sink connection", "pool_max_conns=1"},
	} {
		t.Run(tc.name, func(t *testing.T) { testRepairApplyVerifyRollback(t, tc.sinkParams) })
	}
}

func testRepairApplyVerifyRollback(t *testing.T, sinkParams string) {
	ctx := context.Background()
	w := newDBWorld(t)
	if sinkParams != "" {
		sep := "?"
		if strings.Contains(w.url, "?") {
			sep = "&"
		}
		w.env["SINK_URL"] = w.url + sep + sinkParams
	}
	cfg := w.config(reconcileHCL("upsert", "  delete_extra = true\n  max_changes = 10\n"))
	b := w.backend()
	before := w.dump()
	p := w.plan(cfg, b)
	if d := p.Operations[0].Reconcile; p.Operations[0].Status != plan.StatusChange || len(d.Missing) != 3 || len(d.Mismatched) != 3 || len(d.Extra) != 1 {
		t.Fatalf("plan: %+v", p.Operations[0])
	}
	var evs []apply.Event
	res, err := w.applier(b, nil, &evs).Apply(ctx, p, cfg, dbLock(t, b))
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	if len(res.Operations) != 1 || res.Operations[0].Status != state.StatusApplied {
		t.Fatalf("result: %+v", res)
	}
	var rep *apply.RepairReport
	for _, e := range evs {
		if r, ok := e.(apply.RepairReport); ok {
			rep = &r
		}
	}
	if rep == nil || rep.Inserted != 3 || rep.Updated != 3 || rep.Deleted != 1 || !rep.Converged || !rep.TableEqual || rep.SourceSum != rep.SinkSum {
		t.Fatalf("repair report: %+v", rep)
	}
	if d := w.drift(cfg, b); d.Drift() {
		t.Fatalf("drift after apply: %+v", d)
	}
	st := readState(t, b)
	op, _ := st.BySerial(1)
	if op.Kind != state.KindReconcile || op.Status != state.StatusApplied || len(op.BeforeImages) != 7 {
		t.Fatalf("state operation: %s %s, %d images", op.Kind, op.Status, len(op.BeforeImages))
	}
	info, err := os.Stat(filepath.Join(w.dir, "state.json"))
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("state file mode: %v %v", info.Mode(), err)
	}
	raw, _ := os.ReadFile(filepath.Join(w.dir, "state.json"))
	journal, _ := os.ReadFile(filepath.Join(w.dir, "state.json.journal"))
	if strings.Contains(string(raw)+string(journal), w.url) {
		t.Fatal("the state holds the database URL")
	}

	// Rollback: the sink is byte for byte what it was.
	target, err := plan.RollbackCandidate(st, 0, "")
	if err != nil {
		t.Fatal(err)
	}
	rp, err := plan.RollbackPlan(ctx, cfg, st, []*state.Operation{target}, w.planner().Observe, plan.BuildInfo{OffsetctlVersion: "test", Now: time.Now()})
	if err != nil {
		t.Fatalf("rollback plan: %v", err)
	}
	if _, err := w.applier(b, nil, nil).Apply(ctx, rp, cfg, dbLock(t, b)); err != nil {
		t.Fatalf("rollback: %v", err)
	}
	if got := w.dump(); got != before {
		t.Fatalf("after rollback the sink differs:\n--- before\n%s\n--- after\n%s", before, got)
	}
	if got := statuses(readState(t, b)); got != "1 reconcile rolled_back by 2; 2 rollback applied" {
		t.Fatalf("state: %s", got)
	}
}

// A planned row that moves between plan and apply is left alone (stale):
// the sink then still differs, so the repair is not verified. It is
// recorded as incomplete (not applied, not failed), says what still
// differs (counts and keys, no row values), keeps what it wrote, and
// offsetctl rollback undoes it.
func TestRepairApplyStaleIsIncomplete(t *testing.T) {
	for _, tc := range []struct {
		name, move, why, still string
		values                 []string // row values the output must not hold
	}{
		{
			name:   "source row changed",
			move:   "UPDATE s.customers SET email = 'newer@example.com' WHERE id = 9",
			why:    "9 (mismatched: the source row changed)",
			still:  "the sink still differs from the source in 1 row: 1 mismatched (key 9)",
			values: []string{"newer@example.com", "changed@example.com"},
		},
		{
			name:   "sink row changed",
			move:   "INSERT INTO d.customers VALUES (4, 'late@example.com', 'active', '2026-01-01', 'c')",
			why:    "4 (missing: a sink row with this key appeared)",
			still:  "the sink still differs from the source in 1 row: 1 mismatched (key 4)",
			values: []string{"late@example.com", "user4@example.com"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			w := newDBWorld(t)
			cfg := w.config(reconcileHCL("upsert", "  delete_extra = true\n"))
			b := w.backend()
			p := w.plan(cfg, b)
			pgtest.Exec(t, w.url, tc.move)
			moved := w.dump()
			var evs []apply.Event
			res, err := w.applier(b, nil, &evs).Apply(ctx, p, cfg, dbLock(t, b))
			if err != nil {
				t.Fatalf("apply: %v", err)
			}
			if len(res.Operations) != 1 || res.Operations[0].Status != state.StatusIncomplete || len(res.Incomplete()) != 1 || res.Operations[0].Partitions != 6 {
				t.Fatalf("result: %+v", res.Operations)
			}
			msg := res.Operations[0].Incomplete
			for _, want := range []string{tc.still, "1 planned row moved since the plan and was left alone (stale): " + tc.why, "make a new plan"} {
				if !strings.Contains(msg, want) {
					t.Errorf("incomplete says %q, lacks %q", msg, want)
				}
			}
			var rep *apply.RepairReport
			var finished []state.Status
			for _, e := range evs {
				switch e := e.(type) {
				case apply.RepairReport:
					rep = &e
				case apply.OperationFinished:
					finished = append(finished, e.Status)
				}
			}
			if rep == nil || rep.Complete() || rep.TableEqual || !rep.Converged || rep.Remaining == nil || rep.Remaining.Mismatched != 1 || rep.Remaining.Total() != 1 || rep.Incomplete != msg {
				t.Fatalf("repair report: %+v", rep)
			}
			if len(finished) != 1 || finished[0] != state.StatusIncomplete {
				t.Fatalf("operation finished %v", finished)
			}
			st := readState(t, b)
			op, _ := st.BySerial(1)
			var steps []string
			for _, s := range op.Steps {
				steps = append(steps, s.Name+": "+s.Message)
			}
			all := strings.Join(steps, "\n")
			if op.Status != state.StatusIncomplete || !strings.Contains(op.Error, tc.still) || !strings.Contains(all, "verify: NOT VERIFIED: 6 repaired rows equal, but the tables still differ") {
				t.Fatalf("recorded: %s %q\n%s", op.Status, op.Error, all)
			}
			for _, v := range tc.values {
				if strings.Contains(msg+op.Error+all, v) {
					t.Fatalf("a row value (%s) reached the output or the state's messages", v)
				}
			}
			// What was written stays; the stale row was not overwritten.
			if w.dump() == moved {
				t.Fatal("nothing was written")
			}
			// Not applied: a new plan proposes the repair of what is left.
			if np := w.plan(cfg, b); np.Operations[0].Status != plan.StatusChange || len(np.Operations[0].Reconcile.Mismatched) != 1 {
				t.Fatalf("plan after an incomplete repair: %s %+v", np.Operations[0].Status, np.Operations[0].Reconcile)
			}
			// offsetctl rollback undoes it: the sink is as before the apply.
			target, err := plan.RollbackCandidate(st, 0, "")
			if err != nil || target.Serial != 1 {
				t.Fatalf("rollback candidate: %+v %v", target, err)
			}
			rp, err := plan.RollbackPlan(ctx, cfg, st, []*state.Operation{target}, w.planner().Observe, plan.BuildInfo{OffsetctlVersion: "test", Now: time.Now()})
			if err != nil {
				t.Fatalf("rollback plan: %v", err)
			}
			if _, err := w.applier(b, nil, nil).Apply(ctx, rp, cfg, dbLock(t, b)); err != nil {
				t.Fatalf("rollback: %v", err)
			}
			if got := w.dump(); got != moved {
				t.Fatalf("after rollback the sink is not as it was before the apply:\n--- before\n%s\n--- after\n%s", moved, got)
			}
			if got := statuses(readState(t, b)); got != "1 reconcile rolled_back by 2; 2 rollback applied" {
				t.Fatalf("state: %s", got)
			}
		})
	}
}

func TestRepairApplyCrashThenRerun(t *testing.T) {
	ctx := context.Background()
	w := newDBWorld(t)
	cfg := w.config(reconcileHCL("upsert", "  delete_extra = true\n"))
	b := w.backend()
	before := w.dump()
	p := w.plan(cfg, b)
	crash := errors.New("kill -9")
	hook := func(pt apply.Point) error {
		if pt.Step == apply.StepRepairBatch {
			return crash
		}
		return nil
	}
	_, err := w.applier(b, hook, nil).Apply(ctx, p, cfg, dbLock(t, b))
	var ce *apply.CrashError
	if !errors.As(err, &ce) {
		t.Fatalf("apply = %v, want a crash", err)
	}
	if got := w.dump(); got != before {
		t.Fatal("the crashed batch was committed")
	}
	if got := statuses(readState(t, b)); got != "1 reconcile in_progress" {
		t.Fatalf("state after the crash: %s", got)
	}
	res, err := w.applier(b, nil, nil).Apply(ctx, p, cfg, dbLock(t, b))
	if err != nil {
		t.Fatalf("rerun: %v", err)
	}
	if len(res.Recovered) != 1 || len(res.Operations) != 1 || res.Operations[0].Status != state.StatusApplied {
		t.Fatalf("rerun result: %+v", res)
	}
	if d := w.drift(cfg, b); d.Drift() {
		t.Fatalf("drift after the rerun: %+v", d)
	}
	var n, distinct int
	_ = pgtest.Conn(t, w.url).QueryRow(ctx, "SELECT count(*), count(DISTINCT email) FROM d.customers").Scan(&n, &distinct)
	if n != 100 || distinct != 100 {
		t.Fatalf("sink rows %d (%d distinct emails), want 100", n, distinct)
	}
}

func TestRepairApplyRefusals(t *testing.T) {
	ctx := context.Background()
	w := newDBWorld(t)
	role := "sink_no_update"
	pgtest.Exec(t, w.url, fmt.Sprintf(`CREATE ROLE %[1]s LOGIN PASSWORD 'pw';
GRANT USAGE ON SCHEMA s, d TO %[1]s; GRANT SELECT ON s.customers TO %[1]s; GRANT SELECT, INSERT, DELETE ON d.customers TO %[1]s;`, role))
	t.Cleanup(func() { pgtest.Exec(t, w.url, fmt.Sprintf("DROP OWNED BY %[1]s; DROP ROLE %[1]s", role)) })
	before := w.dump()

	t.Run("sink role without UPDATE", func(t *testing.T) {
		pu, _ := url.Parse(w.url)
		pu.User = url.UserPassword(role, "pw")
		w.env["SINK_URL"] = pu.String()
		defer func() { w.env["SINK_URL"] = w.url }()
		cfg := w.config(reconcileHCL("upsert", ""))
		b := local.New(filepath.Join(t.TempDir(), "state.json"))
		p := w.plan(cfg, b)
		_, err := w.applier(b, nil, nil).Apply(ctx, p, cfg, dbLock(t, b))
		var oe *apply.OperationError
		if !errors.As(err, &oe) || !strings.Contains(err.Error(), "lacks UPDATE") || oe.Status != state.StatusFailed {
			t.Fatalf("apply = %v", err)
		}
		if strings.Contains(err.Error(), "pw@") {
			t.Fatal("the error holds the URL's password")
		}
	})
	t.Run("signalling table missing", func(t *testing.T) {
		cfg := w.config(reconcileHCL("snapshot_signal", "  signal_table = \"public.debezium_signal\"\n"))
		b := local.New(filepath.Join(t.TempDir(), "state.json"))
		p := w.plan(cfg, b)
		_, err := w.applier(b, nil, nil).Apply(ctx, p, cfg, dbLock(t, b))
		if err == nil || !strings.Contains(err.Error(), "signal table public.debezium_signal does not exist") {
			t.Fatalf("apply = %v", err)
		}
	})
	t.Run("max_changes exceeded", func(t *testing.T) {
		cfg := w.config(reconcileHCL("upsert", "  max_changes = 2\n"))
		b := local.New(filepath.Join(t.TempDir(), "state.json"))
		p := w.plan(cfg, b)
		_, err := w.applier(b, nil, nil).Apply(ctx, p, cfg, dbLock(t, b))
		if !errors.Is(err, apply.ErrBlocked) || !strings.Contains(err.Error(), "max_changes") {
			t.Fatalf("apply = %v", err)
		}
	})
	if got := w.dump(); got != before {
		t.Fatal("a refused repair changed the sink")
	}
}

func TestRepairApplySnapshotSignal(t *testing.T) {
	ctx := context.Background()
	w := newDBWorld(t)
	pgtest.Exec(t, w.url, "CREATE TABLE public.debezium_signal (id varchar(64) PRIMARY KEY, type varchar(32) NOT NULL, data varchar(65535))")
	cfg := w.config(reconcileHCL("snapshot_signal", "  signal_table = \"public.debezium_signal\"\n"))
	b := w.backend()
	p := w.plan(cfg, b)
	// Nothing processes the signals here: the verification waits, then
	// fails naming the keys that did not arrive.
	_, err := w.applier(b, nil, nil).Apply(ctx, p, cfg, dbLock(t, b))
	if err == nil || !strings.Contains(err.Error(), "6 of 6 repaired rows still differ (keys 4, 5, 60, 9, 10, 61)") {
		t.Fatalf("apply = %v", err)
	}
	var n int
	var data string
	if err := pgtest.Conn(t, w.url).QueryRow(ctx, "SELECT count(*), min(data) FROM public.debezium_signal WHERE type = 'execute-snapshot'").Scan(&n, &data); err != nil || n != 1 {
		t.Fatalf("signals: %d %v", n, err)
	}
	if !strings.Contains(data, `"filter":"\"id\" IN ('4', '5', '60', '9', '10', '61')"`) {
		t.Errorf("signal data %s", data)
	}
}

func TestRepairApplyReportOnly(t *testing.T) {
	ctx := context.Background()
	w := newDBWorld(t)
	cfg := w.config(reconcileHCL("none", ""))
	b := w.backend()
	before := w.dump()
	p := w.plan(cfg, b)
	if p.Operations[0].Status != plan.StatusChange {
		t.Fatalf("plan: %+v", p.Operations[0])
	}
	if _, err := w.applier(b, nil, nil).Apply(ctx, p, cfg, dbLock(t, b)); err != nil {
		t.Fatalf("apply: %v", err)
	}
	if w.dump() != before {
		t.Fatal("a report-only repair changed the sink")
	}
	st := readState(t, b)
	op, _ := st.BySerial(1)
	var msgs []string
	for _, s := range op.Steps {
		msgs = append(msgs, s.Name+": "+s.Message)
	}
	if op.Status != state.StatusApplied || !strings.Contains(strings.Join(msgs, "\n"), "verify: report only; the tables differ: source 100:") {
		t.Fatalf("recorded: %s %v", op.Status, msgs)
	}
	_, err := plan.RollbackPlan(ctx, cfg, st, []*state.Operation{op}, w.planner().Observe, plan.BuildInfo{Now: time.Now()})
	if !errors.Is(err, apply.ErrNothingToRollback) {
		t.Fatalf("rollback of a report-only repair = %v", err)
	}
}

// A repaired row changed after the repair: the rollback refuses rather than
// overwrite the newer row, and changes nothing.
func TestRepairRollbackRefusesChangedRows(t *testing.T) {
	ctx := context.Background()
	w := newDBWorld(t)
	cfg := w.config(reconcileHCL("upsert", "  delete_extra = true\n"))
	b := w.backend()
	p := w.plan(cfg, b)
	if _, err := w.applier(b, nil, nil).Apply(ctx, p, cfg, dbLock(t, b)); err != nil {
		t.Fatalf("apply: %v", err)
	}
	pgtest.Exec(t, w.url, "UPDATE d.customers SET status = 'newer' WHERE id = 4")
	repaired := w.dump()
	st := readState(t, b)
	target, _ := st.BySerial(1)
	if len(target.After) != 7 {
		t.Fatalf("%d after-images recorded, want 7", len(target.After))
	}
	for _, im := range target.After {
		if im.Row == nil || im.Row.Row != nil {
			t.Fatalf("after-image %+v: want the xmin of the written row version (or nothing, deleted), not the row", im.Row)
		}
	}
	rp, err := plan.RollbackPlan(ctx, cfg, st, []*state.Operation{target}, w.planner().Observe, plan.BuildInfo{Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	_, err = w.applier(b, nil, nil).Apply(ctx, rp, cfg, dbLock(t, b))
	if err == nil || !strings.Contains(err.Error(), "1 repaired row(s) changed since the repair ({id=4})") {
		t.Fatalf("rollback = %v", err)
	}
	if w.dump() != repaired {
		t.Fatal("a refused rollback changed the sink")
	}
	if got := statuses(readState(t, b)); got != "1 reconcile applied; 2 rollback failed" {
		t.Fatalf("state: %s", got)
	}
}
