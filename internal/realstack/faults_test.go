package realstack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/offsetctl/offsetctl/internal/faultproxy"
	"github.com/offsetctl/offsetctl/pkg/apply"
	"github.com/offsetctl/offsetctl/pkg/config"
	"github.com/offsetctl/offsetctl/pkg/connect"
	"github.com/offsetctl/offsetctl/pkg/offsets"
	"github.com/offsetctl/offsetctl/pkg/plan"
	"github.com/offsetctl/offsetctl/pkg/state"
	"github.com/offsetctl/offsetctl/pkg/state/local"
)

// The fault-proxy cases on the real stack: a fault proxy
// (internal/faultproxy) between offsetctl and the real Kafka Connect
// worker, the real broker (its PROXIED listener, advertised at the proxy)
// and the real PostgreSQL. Each case ends applied and verified, or rolled
// back, and the test checks that apply says which.

// faultClients gives pkg/plan and pkg/apply the stack's clients, through
// whatever addresses the test chose (a fault proxy's).
type faultClients struct {
	connectURL string
	kcl        *kgo.Client
	t          *testing.T
	mu         sync.Mutex
	pools      map[string]*pgxpool.Pool
}

func (c *faultClients) Connect(*config.Connect) (*connect.Client, error) {
	return connect.New(connect.Config{URL: c.connectURL, Timeout: 30 * time.Second})
}

func (c *faultClients) Kafka(*config.Kafka) (*kgo.Client, error) {
	if c.kcl == nil {
		return nil, errors.New("no Kafka in this test")
	}
	return c.kcl, nil
}

func (c *faultClients) Database(ctx context.Context, d *config.Database) (*pgxpool.Pool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	u := d.URL.Value()
	if p, ok := c.pools[u]; ok {
		return p, nil
	}
	p, err := pgxpool.New(ctx, u)
	if err != nil {
		return nil, err
	}
	if c.pools == nil {
		c.pools = map[string]*pgxpool.Pool{}
	}
	c.pools[u] = p
	c.t.Cleanup(p.Close)
	return p, nil
}

// faultRun is one configuration applied through apply with a local state.
type faultRun struct {
	t       *testing.T
	dir     string
	clients *faultClients
	backend *local.Backend
}

func newFaultRun(t *testing.T, clients *faultClients) *faultRun {
	dir := t.TempDir()
	return &faultRun{t: t, dir: dir, clients: clients, backend: local.New(filepath.Join(dir, "state.json"))}
}

func (r *faultRun) planner() *plan.Planner {
	return &plan.Planner{Clients: r.clients, Codecs: offsets.NewRegistry(), Version: "realstack-fault"}
}

// plan loads hcl and plans it against the state.
func (r *faultRun) plan(ctx context.Context, hcl string) (*plan.Plan, *config.Config) {
	r.t.Helper()
	cfgDir := filepath.Join(r.dir, "cfg")
	if err := os.MkdirAll(cfgDir, 0o755); err != nil {
		r.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cfgDir, "main.hcl"), []byte(hcl), 0o644); err != nil {
		r.t.Fatal(err)
	}
	conf, diags := config.Load(cfgDir, config.Options{})
	if diags.HasErrors() {
		r.t.Fatalf("configuration: %v", diags)
	}
	opts := plan.Options{}
	if st, err := r.backend.Read(ctx); err == nil {
		opts.State = plan.StateRef{Lineage: st.Lineage, Serial: st.Serial}
	}
	p, err := r.planner().Plan(ctx, conf, opts)
	if err != nil {
		r.t.Fatalf("planning: %v", err)
	}
	if !p.HasChanges() || p.HasErrors() {
		r.t.Fatalf("plan: changes %v, checks %+v", p.HasChanges(), p.Checks)
	}
	return p, conf
}

// apply applies p under the state lock; events are collected.
func (r *faultRun) apply(ctx context.Context, p *plan.Plan, conf *config.Config, hook func(apply.Point) error) (*apply.Result, []apply.Event, error) {
	r.t.Helper()
	lockID, err := r.backend.Lock(ctx, state.LockInfo{Operation: "apply", Who: "realstack-fault"})
	if err != nil {
		r.t.Fatal(err)
	}
	defer r.backend.Unlock(context.Background(), lockID)
	var events []apply.Event
	applier, err := apply.New(apply.Options{
		Backend: r.backend, Clients: r.clients, Observe: r.planner().Observe,
		Observer: apply.ObserverFunc(func(e apply.Event) { events = append(events, e) }),
		Who:      "realstack-fault", Host: "localhost",
		WaitTimeout: 90 * time.Second, PollInterval: 250 * time.Millisecond,
		Hook: hook,
	})
	if err != nil {
		r.t.Fatal(err)
	}
	res, err := applier.Apply(ctx, p, conf, lockID)
	return res, events, err
}

// stepDone returns what step s said when it was done, and how long it
// took.
func stepDone(events []apply.Event, s apply.Step) (string, time.Duration) {
	for _, e := range events {
		if d, ok := e.(apply.StepDone); ok && d.Step == s {
			return d.Message, d.Elapsed
		}
	}
	return "", 0
}

func eventStory(events []apply.Event) string {
	var b strings.Builder
	for _, e := range events {
		switch e := e.(type) {
		case apply.StepDone:
			fmt.Fprintf(&b, "  %s: %s [%s]\n", e.Step, e.Message, e.Elapsed.Round(time.Millisecond))
		case apply.StepFailed:
			fmt.Fprintf(&b, "  %s FAILED: %v\n", e.Step, e.Err)
		case apply.Warning:
			fmt.Fprintf(&b, "  Warning: %s\n", e.Message)
		}
	}
	return b.String()
}

// TestFaultPatchAnswerLost: the answer to apply's PATCH of a real Debezium
// JDBC sink's offsets is lost on its way back (the worker acted on it),
// then, on a second plan, the PATCH is cut before it reaches the worker.
// apply finds out by reading the offsets back — applied the first time,
// not applied (so written again) the second — ends applied and verified
// both times, and says so in the alter step.
func TestFaultPatchAnswerLost(t *testing.T) {
	st := Get(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	run := proofRunID()
	sinkName := "fault-patch-sink-" + run
	table := "fault_patch_" + run
	group := "connect-" + sinkName
	cfg := st.SinkConnectorConfig()
	cfg["collection.name.format"] = table
	createProofConnector(ctx, t, st, sinkName, cfg)
	waitConnectorState(ctx, t, st, sinkName, "RUNNING")

	cp, err := faultproxy.New(strings.TrimPrefix(st.ConnectURL(), "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(st.BootstrapServers()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	r := newFaultRun(t, &faultClients{connectURL: cp.URL(), kcl: cl, t: t})
	patch := faultproxy.Request("PATCH", "/connectors/"+sinkName+"/offsets")

	cases := []struct {
		name     string
		to       int64
		arm      func() <-chan struct{}
		wantSaid []string
	}{
		{"answer lost", 1, func() <-chan struct{} { return cp.LoseAnswer(patch, 1) },
			[]string{"was lost", "read back: it was applied"}},
		{"request cut before the worker", 2, func() <-chan struct{} {
			return cp.FaultRequest(patch, 1, faultproxy.Upstream, faultproxy.Fault{Reset: true})
		}, []string{"was lost", "read back: it was not applied, written again"}},
	}
	for i, c := range cases {
		// The sink has caught up: the plan is not stale when applied.
		end := topicEndOf(ctx, t, adm, CustomersTopic)
		if err := poll(ctx, time.Minute, "the sink to commit the end of "+CustomersTopic, st.connect, func(ctx context.Context) (bool, error) {
			got, err := adm.FetchOffsets(ctx, group)
			if err != nil {
				return false, err
			}
			o, ok := got.Lookup(CustomersTopic, 0)
			return ok && o.At == end, nil
		}); err != nil {
			t.Fatal(err)
		}
		hcl := fmt.Sprintf(`
connect "real" { url = %q }
kafka "real" { brokers = [%q] }
connector "sink" {
  connect = connect.real
  kafka   = kafka.real
  name    = %q
}
offsets "rewind_%d" {
  connector = connector.sink
  reason    = "fault proxy: %s"
  sink_partition {
    topic      = %q
    partitions = [0]
    to_offset  = %d
  }
}
`, cp.URL(), st.BootstrapServers(), sinkName, i, c.name, CustomersTopic, c.to)
		p, conf := r.plan(ctx, hcl)
		var fired <-chan struct{}
		var whileStopped string
		hook := func(pt apply.Point) error {
			switch pt.Step {
			case apply.StepSettle:
				fired = c.arm()
			case apply.StepVerify:
				// Straight from the worker, not through the proxy.
				resp, err := st.Do(ctx, "GET", "/connectors/"+sinkName+"/offsets", nil)
				if err != nil {
					return err
				}
				whileStopped = string(resp.Body)
			}
			return nil
		}
		res, events, err := r.apply(ctx, p, conf, hook)
		t.Logf("%s: apply: %v\n%s", c.name, err, eventStory(events))
		if err != nil || res.Operations[0].Status != state.StatusApplied {
			t.Fatalf("%s: apply: %v; want applied and verified", c.name, err)
		}
		select {
		case <-fired:
		default:
			t.Fatalf("%s: the fault never fired; requests: %v", c.name, cp.Requests())
		}
		said, _ := stepDone(events, apply.StepAlter)
		for _, s := range c.wantSaid {
			if !strings.Contains(said, s) {
				t.Errorf("%s: the alter step said %q; want %q", c.name, said, s)
			}
		}
		if v, _ := stepDone(events, apply.StepVerify); !strings.Contains(v, "read back exactly as planned") {
			t.Errorf("%s: verify said %q", c.name, v)
		}
		if !strings.Contains(whileStopped, fmt.Sprintf(`"kafka_offset":%d`, c.to)) {
			t.Errorf("%s: the worker's GET /offsets while stopped: %s; want kafka_offset %d", c.name, whileStopped, c.to)
		}
		waitConnectorState(ctx, t, st, sinkName, "RUNNING")
	}
}

// TestFaultKafkaFetchStallsDuringVerify: a plan that writes a real
// Debezium PostgreSQL source's offset straight into the offsets topic (as
// for a worker without PATCH /offsets) is applied through the broker's
// fault proxy, and the first Fetch of the verify step stalls: the broker's
// answer never comes. The reader's request times out, a new connection
// fetches, and apply ends applied and verified, the verify step taking the
// stall's time.
func TestFaultKafkaFetchStallsDuringVerify(t *testing.T) {
	st := Get(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// lsn.flush.mode manual: the rewound position stays in the slot.
	src := startProofSource(ctx, t, st, "faultfetch", map[string]string{"lsn.flush.mode": "manual"})
	srcName, prefix := src.name, src.prefix
	target := waitOffsetPast(ctx, t, st, srcName, src.insert(ctx, t, 1))
	waitOffsetPast(ctx, t, st, srcName, src.insert(ctx, t, 2))

	kp := st.KafkaProxy()
	defer kp.Clear()
	// Short request timeouts (the reader of the offsets topic inherits
	// them): the stalled fetch is given up after about 3 s, not 15.
	cl, err := kgo.NewClient(kgo.SeedBrokers(st.ProxiedBootstrapServers()),
		kgo.FetchMaxWait(time.Second), kgo.RequestTimeoutOverhead(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	r := newFaultRun(t, &faultClients{connectURL: st.ConnectURL(), kcl: cl, t: t})
	hcl := fmt.Sprintf(`
connect "real" { url = %q }
kafka "real" {
  brokers       = [%q]
  offsets_topic = %q
}
connector "source" {
  connect = connect.real
  kafka   = kafka.real
  name    = %q
}
offsets "rewind" {
  connector = connector.source
  reason    = "fault proxy: a Kafka fetch stalls during verify"
  source_partition {
    partition = { server = %q }
    offset    = %s
  }
}
`, st.ConnectURL(), st.ProxiedBootstrapServers(), st.OffsetsTopic(), srcName, prefix, target.JSON())
	p, conf := r.plan(ctx, hcl)
	// Written as for a worker without PATCH /offsets: straight into the
	// offsets topic, and read back from it (a Kafka fetch).
	for i := range p.Operations {
		p.Operations[i].Method = plan.MethodTopic
	}
	for i := range p.Connectors {
		p.Connectors[i].WriteVia = plan.MethodTopic
	}
	p.Hash = ""
	if _, err := plan.Marshal(p); err != nil { // hashes it again
		t.Fatal(err)
	}
	var fired <-chan struct{}
	hook := func(pt apply.Point) error {
		if pt.Step == apply.StepAlter {
			fired = kp.FaultRequest(faultproxy.KafkaRequest("Fetch"), 1, faultproxy.Downstream, faultproxy.Fault{Blackhole: true})
		}
		return nil
	}
	res, events, err := r.apply(ctx, p, conf, hook)
	t.Logf("apply: %v\n%s", err, eventStory(events))
	if err != nil || res.Operations[0].Status != state.StatusApplied {
		t.Fatalf("apply: %v; want applied and verified", err)
	}
	select {
	case <-fired:
	default:
		t.Fatalf("no Fetch went through the proxy during verify; requests: %v", kp.Requests())
	}
	if said, _ := stepDone(events, apply.StepAlter); !strings.Contains(said, "written via topic") {
		t.Fatalf("the alter step said %q; want a write into the offsets topic", said)
	}
	said, took := stepDone(events, apply.StepVerify)
	if !strings.Contains(said, "read back exactly as planned") {
		t.Fatalf("verify said %q", said)
	}
	if took < 2*time.Second {
		t.Errorf("verify took %s: the stalled fetch should have held it up", took)
	}
	// The real worker reads the offset written.
	body := mustStatus(ctx, t, st, "GET", "/connectors/"+srcName+"/offsets", nil, 200)
	var doc struct {
		Offsets []struct{ Offset json.RawMessage }
	}
	if err := json.Unmarshal(body, &doc); err != nil || len(doc.Offsets) != 1 {
		t.Fatalf("GET offsets: %s (%v)", body, err)
	}
	if got, err := offsets.ParseMap(doc.Offsets[0].Offset); err != nil || !got.Equal(target) {
		// Resumed, the source may have moved on past the rewound rows.
		t.Logf("GET offsets after the resume: %s (rewound to %s)", body, target)
	}
}

// TestFaultSinkConnectionDiesBeforeCommit: a repair of a sink table in the
// real stack's PostgreSQL, through a fault proxy that resets every sink
// connection after the batch wrote its rows and before its commit. Nothing
// of the batch is committed; apply rolls back over a fresh connection and
// says so; the sink is as it was, and a new plan repairs it.
func TestFaultSinkConnectionDiesBeforeCommit(t *testing.T) {
	st := Get(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	table := "fault_repair_" + proofRunID()
	src, err := pgx.Connect(ctx, st.SourceDB())
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close(context.Background())
	sink, err := pgx.Connect(ctx, st.SinkDB())
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close(context.Background())
	ident := "public." + pgx.Identifier{table}.Sanitize()
	for _, c := range []*pgx.Conn{src, sink} {
		if _, err := c.Exec(ctx, "CREATE TABLE "+ident+" (id integer PRIMARY KEY, email text NOT NULL);"+
			"INSERT INTO "+ident+" SELECT g, 'user' || g || '@example.com' FROM generate_series(1, 200) g"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := sink.Exec(ctx, "DELETE FROM "+ident+" WHERE id IN (3, 50, 150);"+
		"UPDATE "+ident+" SET email = 'changed@example.com' WHERE id IN (7, 70);"+
		"INSERT INTO "+ident+" VALUES (999, 'ghost@example.com')"); err != nil {
		t.Fatal(err)
	}
	dump := func() string {
		t.Helper()
		var out string
		if err := sink.QueryRow(ctx, "SELECT string_agg(c::text, ',' ORDER BY c.id) FROM "+ident+" c").Scan(&out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	before := dump()

	u, err := url.Parse(st.SinkDB())
	if err != nil {
		t.Fatal(err)
	}
	pp, err := faultproxy.New(u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer pp.Close()
	pp.SetProtocol(faultproxy.Opaque)
	u.Host = pp.Addr()
	r := newFaultRun(t, &faultClients{t: t})
	hcl := fmt.Sprintf(`
database "source" { url = %q }
database "sink"   { url = %q }
reconcile "customers" {
  source       = database.source
  sink         = database.sink
  table        = %q
  repair       = "upsert"
  delete_extra = true
  reason       = "fault proxy: the sink connection dies before the commit"
}
`, st.SourceDB(), u.String(), "public."+table)
	p, conf := r.plan(ctx, hcl)
	cut := 0
	hook := func(pt apply.Point) error {
		if pt.Step == apply.StepRepairBatch && cut == 0 {
			cut = pp.ResetAll()
		}
		return nil
	}
	_, events, err := r.apply(ctx, p, conf, hook)
	t.Logf("apply: %v (%d sink connection(s) reset)\n%s", err, cut, eventStory(events))
	var oe *apply.OperationError
	if !errors.As(err, &oe) || oe.Status != state.StatusFailed || oe.RollbackErr != nil || cut == 0 {
		t.Fatalf("apply: %v; want failed and rolled back", err)
	}
	if !strings.Contains(err.Error(), "before-images were put back") {
		t.Errorf("apply said %q; want it to say the rows were put back", err)
	}
	if got := dump(); got != before {
		t.Fatalf("the sink changed although the batch never committed")
	}
	// The network is back: a new plan repairs the sink.
	p, conf = r.plan(ctx, hcl)
	res, events, err := r.apply(ctx, p, conf, nil)
	if err != nil || res.Operations[0].Status != state.StatusApplied {
		t.Fatalf("apply again: %v\n%s", err, eventStory(events))
	}
	var differ int
	if err := sink.QueryRow(ctx, "SELECT count(*) FROM "+ident+" WHERE id = 999 OR email = 'changed@example.com'").Scan(&differ); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := sink.QueryRow(ctx, "SELECT count(*) FROM "+ident).Scan(&n); err != nil || n != 200 || differ != 0 {
		t.Fatalf("sink after the repair: %d rows, %d still differing (%v)", n, differ, err)
	}
}
