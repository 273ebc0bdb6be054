package realstack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/offsetctl/offsetctl/pkg/apply"
	"github.com/offsetctl/offsetctl/pkg/config"
	"github.com/offsetctl/offsetctl/pkg/connect"
	"github.com/offsetctl/offsetctl/pkg/offsets"
	"github.com/offsetctl/offsetctl/pkg/plan"
	"github.com/offsetctl/offsetctl/pkg/state"
	"github.com/offsetctl/offsetctl/pkg/state/local"
)

// TestProofTopicModeReplay proves offsetctl's topic mode on the real stack:
// with a Debezium PostgreSQL source STOPPED, an offset written straight into
// the worker's offsets topic by pkg/offsets.WriteSource (not through REST)
// is exactly what the real worker's GET /offsets then returns, and after
// resume Debezium replays from that position: the rows committed after it
// are emitted again and the JDBC sink writes them again.
//
// PostgreSQL streams a slot from max(requested LSN, confirmed_flush_lsn), so
// a replay is only possible when the slot has not confirmed the rows yet:
// this proof's source runs with lsn.flush.mode=manual from its first start,
// on its own table, slot, publication and topic prefix, so that the shared
// pipeline and the other tests are not touched.
func TestProofTopicModeReplay(t *testing.T) {
	st := Get(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	begun := time.Now()
	mark := func(what string) { t.Logf("%s: %s", time.Since(begun).Round(100*time.Millisecond), what) }
	// Debezium 3.4+ (checked in 3.6.0.Final's PostgresConnectorConfig):
	// lsn.flush.mode manual never confirms LSNs to the slot, so WAL after
	// the slot's creation stays replayable.
	ps := startProofSource(ctx, t, st, "replay", map[string]string{"lsn.flush.mode": "manual"})
	srcName, prefix, table, topic := ps.name, ps.prefix, ps.table, ps.topic
	sinkName := "proof-replay-sink-" + proofRunID()
	insert := func(ids ...int) { t.Helper(); ps.insert(ctx, t, ids...) }
	currentWAL := func() int64 { t.Helper(); return ps.wal(ctx, t) }
	sinkCfg := st.SinkConnectorConfig()
	sinkCfg["topics"] = topic
	sinkCfg["collection.name.format"] = table
	createProofConnector(ctx, t, st, sinkName, sinkCfg)
	waitConnectorState(ctx, t, st, sinkName, "RUNNING")
	mark("connectors running, slot created")

	// Two rows, then the offset offsetctl will go back to. Debezium's
	// lsn_proc is the LSN of the last change event, so "past the WAL
	// position before inserting row 2" means row 2 was committed.
	insert(1)
	beforeTwo := currentWAL()
	insert(2)
	waitSinkRows(ctx, t, st, table, 1, 2)
	target := waitOffsetPast(ctx, t, st, srcName, beforeTwo)
	walBefore := currentWAL()

	// Three rows to replay.
	insert(3, 4)
	beforeFive := currentWAL()
	insert(5)
	waitSinkRows(ctx, t, st, table, 3, 4, 5)
	waitOffsetPast(ctx, t, st, srcName, beforeFive)
	mark("rows 1-5 delivered")
	mustStatus(ctx, t, st, "PUT", "/connectors/"+srcName+"/stop", nil, 204)
	waitConnectorState(ctx, t, st, srcName, "STOPPED")
	if _, confirmed := ps.slotLSNs(ctx, t); int64(confirmed) > walBefore {
		t.Fatalf("precondition: slot %s confirmed %d, past the WAL position %d before the rows to replay: lsn.flush.mode=manual did not hold it back", ps.slot, confirmed, walBefore)
	}

	// offsetctl writes the earlier offset straight into the offsets topic.
	cl, err := kgo.NewClient(kgo.SeedBrokers(st.BootstrapServers()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	snap, err := offsets.ReadTopic(ctx, cl, st.OffsetsTopic())
	if err != nil {
		t.Fatal(err)
	}
	partition := offsets.NewMap(offsets.Field{Key: "server", Value: offsets.String(prefix)})
	stored, ok := snap.Find(srcName, partition)
	if !ok {
		t.Fatalf("the offsets topic holds no offset of %s for %s", srcName, partition)
	}
	if stored.Offset.Equal(target) {
		t.Fatalf("precondition: the stored offset %s already is the target", stored.Offset)
	}
	written, err := offsets.WriteSource(ctx, cl, snap, srcName, []offsets.SourceChange{{Partition: stored.Partition, Offset: &target}})
	if err != nil {
		t.Fatalf("writing the offset into the offsets topic: %v", err)
	}
	if len(written) != 1 || string(written[0].Key) != string(stored.Key) || written[0].TopicPartition != stored.TopicPartition {
		t.Fatalf("written %+v, want one record under key %s in partition %d", written, stored.Key, stored.TopicPartition)
	}
	t.Logf("wrote %s under %s to %s partition %d (was %s)", target, stored.Key, st.OffsetsTopic(), written[0].TopicPartition, stored.Offset)

	mark("offset written into the topic")

	// The real worker reads exactly that value.
	body := mustStatus(ctx, t, st, "GET", "/connectors/"+srcName+"/offsets", nil, 200)
	var doc struct {
		Offsets []struct {
			Partition json.RawMessage `json:"partition"`
			Offset    json.RawMessage `json:"offset"`
		} `json:"offsets"`
	}
	if err := json.Unmarshal(body, &doc); err != nil || len(doc.Offsets) != 1 {
		t.Fatalf("GET offsets: %s (%v)", body, err)
	}
	got, err := offsets.ParseMap(doc.Offsets[0].Offset)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(target) {
		t.Fatalf("GET offsets after the topic write: %s, want exactly %s", got, target)
	}

	// Remove the rows from the sink, resume: Debezium replays them.
	sink, err := pgx.Connect(ctx, st.SinkDB())
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close(context.Background())
	if _, err := sink.Exec(ctx, "DELETE FROM public."+pgx.Identifier{table}.Sanitize()+" WHERE id IN (3, 4, 5)"); err != nil {
		t.Fatal(err)
	}
	end := topicEndOf(ctx, t, adm, topic)
	mustStatus(ctx, t, st, "PUT", "/connectors/"+srcName+"/resume", nil, 202)
	waitConnectorState(ctx, t, st, srcName, "RUNNING")
	waitSinkRows(ctx, t, st, table, 3, 4, 5)
	var ids []int
	if err := poll(ctx, time.Minute, "the replayed change events", st.connect, func(ctx context.Context) (bool, error) {
		ids = idsSince(ctx, t, adm, []string{st.BootstrapServers()}, topic, end)
		return len(ids) >= 3, nil
	}); err != nil {
		t.Fatal(err)
	}
	mark("rows 3-5 replayed")
	if fmt.Sprint(ids) != "[3 4 5]" {
		t.Fatalf("after resuming from the written offset the source emitted ids %v, want [3 4 5] (the rows committed after it, once each)", ids)
	}
}

// TestProofSinkRewindByOffsetctl proves offsetctl's REST mode on the real
// stack: a plan rewinding a Debezium JDBC sink, made by pkg/plan and
// carried out by pkg/apply (stop, settle, PATCH /offsets, verify, resume) —
// what `offsetctl plan -out` and `offsetctl apply` run — makes the real sink
// deliver the records again: rows deleted from the sink database after they
// arrived come back. While the connector is stopped, the real
// kafka-consumer-groups --describe shows the offset offsetctl set.
func TestProofSinkRewindByOffsetctl(t *testing.T) {
	st := Get(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	run := proofRunID()
	var (
		sinkName = "proof-rewind-sink-" + run
		table    = "rewind_customers_" + run
		group    = "connect-" + sinkName
	)
	base := 100000 + int(time.Now().UnixNano()/int64(time.Millisecond)%1000000)*4 // customer ids unused so far
	ids := []int{base + 1, base + 2, base + 3}
	cfg := st.SinkConnectorConfig()
	cfg["collection.name.format"] = table
	createProofConnector(ctx, t, st, sinkName, cfg)
	waitConnectorState(ctx, t, st, sinkName, "RUNNING")

	src, err := pgx.Connect(ctx, st.SourceDB())
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close(context.Background())
	for _, id := range ids {
		if err := insertCustomer(ctx, src, id); err != nil {
			t.Fatal(err)
		}
	}
	waitSinkRows(ctx, t, st, table, ids...)

	cl, err := kgo.NewClient(kgo.SeedBrokers(st.BootstrapServers()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	rewindTo := offsetOfID(ctx, t, st, adm, CustomersTopic, ids[0])
	end := topicEndOf(ctx, t, adm, CustomersTopic)
	if err := poll(ctx, time.Minute, "the sink to commit the end of "+CustomersTopic, st.connect, func(ctx context.Context) (bool, error) {
		got, err := adm.FetchOffsets(ctx, group)
		if err != nil {
			return false, err
		}
		c, ok := got.Lookup(CustomersTopic, 0)
		return ok && c.At == end, nil
	}); err != nil {
		t.Fatal(err)
	}

	// The rows disappear from the sink database.
	sink, err := pgx.Connect(ctx, st.SinkDB())
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close(context.Background())
	if _, err := sink.Exec(ctx, "DELETE FROM public."+pgx.Identifier{table}.Sanitize()+" WHERE id = ANY($1)", ids); err != nil {
		t.Fatal(err)
	}

	// offsetctl: configuration, plan (saved and read back), apply.
	hcl := fmt.Sprintf(`
connect "real" { url = %q }
kafka "real" {
  brokers       = [%q]
  offsets_topic = %q
}
connector "rewind" {
  connect = connect.real
  kafka   = kafka.real
  name    = %q
}
offsets "replay" {
  connector = connector.rewind
  reason    = "proof: replay customers %d-%d into %s"
  sink_partition {
    topic      = %q
    partitions = [0]
    to_offset  = %d
  }
}
`, st.ConnectURL(), st.BootstrapServers(), st.OffsetsTopic(), sinkName, ids[0], ids[len(ids)-1], table, CustomersTopic, rewindTo)
	clients := &proofClients{url: st.ConnectURL(), kcl: cl}
	r := newProofRun(ctx, t, hcl, clients)
	p := r.plan(ctx, t)
	if !p.HasChanges() || p.HasErrors() {
		t.Fatalf("plan: changes %v, checks %+v", p.HasChanges(), p.Checks)
	}
	var describe string
	applier := r.applier(t, func(pt apply.Point) error {
		if pt.Step != apply.StepVerify {
			return nil
		}
		// Offsets set and verified, connector still STOPPED: what
		// does Kafka's own tool say?
		out, err := st.RunTool(ctx, ConsumerGroupsTool, "--bootstrap-server", st.BootstrapServers(), "--describe", "--group", group)
		if err != nil {
			return err
		}
		describe = string(out)
		return nil
	})
	res, err := applier.Apply(ctx, p, r.conf, r.lockID)
	if err != nil {
		t.Fatalf("apply: %v\nevents:\n%s", err, r.story())
	}
	if len(res.Operations) != 1 || res.Operations[0].Status != state.StatusApplied {
		t.Fatalf("apply result %+v", res)
	}
	t.Logf("kafka-consumer-groups --describe --group %s while stopped:\n%s", group, describe)
	if got, ok := describedOffset(describe, group, CustomersTopic, 0); !ok || got != strconv.FormatInt(rewindTo, 10) {
		t.Fatalf("kafka-consumer-groups --describe shows CURRENT-OFFSET %q for %s-0, want %d (the offset offsetctl set)", got, CustomersTopic, rewindTo)
	}

	// Resumed by apply, the real sink delivers the records again.
	waitSinkRows(ctx, t, st, table, ids...)
	waitConnectorState(ctx, t, st, sinkName, "RUNNING")
}

// proofRun is offsetctl wired as its commands wire it, on a real worker:
// the configuration in a folder of its own, a planner, a local state locked
// for the test, and the events apply reports.
type proofRun struct {
	dir     string
	conf    *config.Config
	clients *proofClients
	planner *plan.Planner
	backend *local.Backend
	lockID  string
	events  []string
}

func newProofRun(ctx context.Context, t *testing.T, hcl string, clients *proofClients) *proofRun {
	t.Helper()
	r := &proofRun{dir: t.TempDir(), clients: clients}
	cfgDir := filepath.Join(r.dir, "cfg")
	if err := os.MkdirAll(cfgDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cfgDir, "main.hcl"), []byte(hcl), 0o644); err != nil {
		t.Fatal(err)
	}
	conf, diags := config.Load(cfgDir, config.Options{})
	if diags.HasErrors() {
		t.Fatalf("configuration: %v", diags)
	}
	r.conf = conf
	r.planner = &plan.Planner{Clients: clients, Codecs: offsets.NewRegistry(), Version: "realstack-proof"}
	r.backend = local.New(filepath.Join(r.dir, "state.json"))
	id, err := r.backend.Lock(ctx, state.LockInfo{Operation: "apply", Who: "realstack-proof"})
	if err != nil {
		t.Fatal(err)
	}
	r.lockID = id
	t.Cleanup(func() { _ = r.backend.Unlock(context.Background(), id) })
	return r
}

// plan plans, saves the plan file and reads it back, as apply PLANFILE does.
func (r *proofRun) plan(ctx context.Context, t *testing.T) *plan.Plan {
	t.Helper()
	p, err := r.planner.Plan(ctx, r.conf, plan.Options{})
	if err != nil {
		t.Fatalf("planning: %v", err)
	}
	planFile := filepath.Join(r.dir, "offsets.plan")
	if err := plan.WriteFile(planFile, p); err != nil {
		t.Fatal(err)
	}
	if p, err = plan.ReadFile(planFile); err != nil {
		t.Fatal(err)
	}
	return p
}

// applier is apply's Applier on the run's state, with hook.
func (r *proofRun) applier(t *testing.T, hook func(apply.Point) error) *apply.Applier {
	t.Helper()
	a, err := apply.New(apply.Options{
		Backend: r.backend, Clients: r.clients, Observe: r.planner.Observe,
		Observer: apply.ObserverFunc(func(e apply.Event) { r.events = append(r.events, fmt.Sprintf("%T %+v", e, e)) }),
		Who:      "realstack-proof", Host: "localhost",
		WaitTimeout: 90 * time.Second, PollInterval: 250 * time.Millisecond,
		Hook: hook,
	})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// story is what apply reported, one event a line.
func (r *proofRun) story() string { return strings.Join(r.events, "\n") }

// proofRunID is a short random suffix for the names a proof creates.
func proofRunID() string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// proofClients gives pkg/plan and pkg/apply the stack's clients.
type proofClients struct {
	url string
	kcl *kgo.Client
}

func (c *proofClients) Connect(*config.Connect) (*connect.Client, error) {
	return connect.New(connect.Config{URL: c.url, Timeout: 95 * time.Second})
}

func (c *proofClients) Kafka(*config.Kafka) (*kgo.Client, error) { return c.kcl, nil }

// createProofConnector creates a connector and deletes it when the test
// ends.
func createProofConnector(ctx context.Context, t *testing.T, st *Stack, name string, cfg map[string]string) {
	t.Helper()
	mustStatus(ctx, t, st, "POST", "/connectors", map[string]any{"name": name, "config": cfg}, 201)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if r, err := st.Do(ctx, "DELETE", "/connectors/"+name, nil); err != nil || (r.Status != 204 && r.Status != 404) {
			t.Logf("deleting connector %s: %v %v", name, r, err)
		}
	})
}

// dropSlot drops a replication slot once its connector let go of it.
func dropSlot(t *testing.T, st *Stack, slot string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, st.SourceDB())
	if err != nil {
		t.Logf("dropping slot %s: %v", slot, err)
		return
	}
	defer c.Close(context.Background())
	err = poll(ctx, 30*time.Second, "slot "+slot+" to be dropped", nil, func(ctx context.Context) (bool, error) {
		_, err := c.Exec(ctx, "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active", slot)
		if err != nil {
			return false, err
		}
		var n int
		err = c.QueryRow(ctx, "SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1", slot).Scan(&n)
		return n == 0, err
	})
	if err != nil {
		t.Logf("%v", err)
	}
}

// waitSinkRows waits until the sink database's public.<table> holds every id.
func waitSinkRows(ctx context.Context, t testing.TB, st *Stack, table string, ids ...int) {
	t.Helper()
	sink, err := pgx.Connect(ctx, st.SinkDB())
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close(context.Background())
	err = poll(ctx, time.Minute, fmt.Sprintf("ids %v in the sink table %s", ids, table), st.connect, func(ctx context.Context) (bool, error) {
		var n int
		err := sink.QueryRow(ctx, "SELECT count(*) FROM public."+pgx.Identifier{table}.Sanitize()+" WHERE id = ANY($1)", ids).Scan(&n)
		if err != nil {
			return false, err // the sink may not have created the table yet
		}
		return n == len(ids), nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// waitOffsetPast waits until connector's committed lsn_proc is at or past
// lsn and returns the offset.
func waitOffsetPast(ctx context.Context, t testing.TB, st *Stack, name string, lsn int64) offsets.Map {
	t.Helper()
	var last offsets.Map
	err := poll(ctx, time.Minute, name+"'s offset to pass LSN "+strconv.FormatInt(lsn, 10), st.connect, func(ctx context.Context) (bool, error) {
		r, err := st.Do(ctx, "GET", "/connectors/"+name+"/offsets", nil)
		if err != nil || r.Status != 200 {
			return false, err
		}
		var doc struct {
			Offsets []struct{ Offset json.RawMessage }
		}
		if err := json.Unmarshal(r.Body, &doc); err != nil || len(doc.Offsets) != 1 {
			return false, err
		}
		m, err := offsets.ParseMap(doc.Offsets[0].Offset)
		if err != nil {
			return false, err
		}
		last = m
		v, _ := m.Get("lsn_proc")
		n, _ := v.Int64()
		return n >= lsn, nil
	})
	if err != nil {
		t.Fatalf("%v (last offset %s)", err, last)
	}
	return last
}

func topicEndOf(ctx context.Context, t testing.TB, adm *kadm.Client, topic string) int64 {
	t.Helper()
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	e, ok := ends.Lookup(topic, 0)
	if !ok || e.Err != nil {
		t.Fatalf("end offset of %s: %v", topic, e.Err)
	}
	return e.Offset
}

// idsSince returns the id of each change event (record key) of partition 0
// of topic from offset from to its end, tombstones left out.
func idsSince(ctx context.Context, t testing.TB, adm *kadm.Client, seeds []string, topic string, from int64) []int {
	t.Helper()
	var ids []int
	eachRecord(ctx, t, adm, seeds, topic, from, func(r *kgo.Record) {
		if r.Value != nil {
			ids = append(ids, recordID(t, r))
		}
	})
	return ids
}

// offsetOfID returns the offset of the first change event of id in
// partition 0 of topic.
func offsetOfID(ctx context.Context, t testing.TB, st *Stack, adm *kadm.Client, topic string, id int) int64 {
	t.Helper()
	found := int64(-1)
	eachRecord(ctx, t, adm, []string{st.BootstrapServers()}, topic, 0, func(r *kgo.Record) {
		if found < 0 && r.Value != nil && recordID(t, r) == id {
			found = r.Offset
		}
	})
	if found < 0 {
		t.Fatalf("no change event of id %d in %s", id, topic)
	}
	return found
}

func eachRecord(ctx context.Context, t testing.TB, adm *kadm.Client, seeds []string, topic string, from int64, fn func(*kgo.Record)) {
	t.Helper()
	end := topicEndOf(ctx, t, adm, topic)
	if end <= from {
		return
	}
	rd, err := kgo.NewClient(kgo.SeedBrokers(seeds...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().At(from)}}))
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	for next := from; next < end; {
		fs := rd.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatal(ctx.Err())
		}
		fs.EachRecord(func(r *kgo.Record) {
			if r.Offset < end {
				fn(r)
			}
			next = r.Offset + 1
		})
	}
}

func recordID(t testing.TB, r *kgo.Record) int {
	t.Helper()
	var k struct {
		Payload struct{ ID int } `json:"payload"`
	}
	if err := json.Unmarshal(r.Key, &k); err != nil {
		t.Fatalf("record key %q: %v", r.Key, err)
	}
	return k.Payload.ID
}

// describedOffset finds the CURRENT-OFFSET column of topic-partition in
// kafka-consumer-groups --describe output.
func describedOffset(out, group, topic string, partition int) (string, bool) {
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= 4 && f[0] == group && f[1] == topic && f[2] == strconv.Itoa(partition) {
			return f[3], true
		}
	}
	return "", false
}
