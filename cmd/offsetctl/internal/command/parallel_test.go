package command

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/offsetctl/offsetctl/cmd/offsetctl/internal/command/views"
	"github.com/offsetctl/offsetctl/internal/iostreams"
	"github.com/offsetctl/offsetctl/internal/pgtest"
	"github.com/offsetctl/offsetctl/internal/sandbox"
	"github.com/offsetctl/offsetctl/pkg/connect"
	"github.com/offsetctl/offsetctl/pkg/state"
	"github.com/offsetctl/offsetctl/pkg/state/pgstate"
)

// teamWorld is a sandbox with two inert sink connectors, orders-sink and
// payments-sink (topics orders and payments, 100 records, committed at
// 50), each with its own configuration directory, as two teams keep them,
// and one PostgreSQL state for both.
type teamWorld struct {
	sb    *sandbox.Sandbox
	state string // the postgres:// URL of the shared state
	dirs  map[string]string
	ticks atomic.Int64 // the clock: one second more at every reading
}

func startTeamWorld(t *testing.T) *teamWorld {
	t.Helper()
	ctx := context.Background()
	sb, err := sandbox.Start(ctx, sandbox.Options{TaskShutdownTimeout: 50 * time.Millisecond, OffsetsPartitions: 5})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sb.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(sb.BootstrapServers()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	cc, _ := connect.New(connect.Config{URL: sb.ConnectURL()})
	w := &teamWorld{sb: sb, state: pgtest.NewDB(t), dirs: map[string]string{}}
	for _, topic := range []string{"orders", "payments"} {
		if _, err := adm.CreateTopic(ctx, 1, 1, nil, topic); err != nil {
			t.Fatal(err)
		}
		var recs []*kgo.Record
		for i := 0; i < 100; i++ {
			recs = append(recs, &kgo.Record{Topic: topic, Partition: 0, Value: []byte("x")})
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
		name := topic + "-sink"
		offs := kadm.Offsets{}
		offs.Add(kadm.Offset{Topic: topic, Partition: 0, At: 50, LeaderEpoch: -1})
		if _, err := adm.CommitOffsets(ctx, "connect-"+name, offs); err != nil {
			t.Fatal(err)
		}
		if _, _, err := cc.PutConfig(ctx, name, map[string]string{"name": name, "connector.class": "io.confluent.connect.jdbc.JdbcSinkConnector", "topics": topic}); err != nil {
			t.Fatal(err)
		}
		if _, err := cc.WaitForState(ctx, name, connect.StateRunning, connect.WaitOptions{Interval: 10 * time.Millisecond, Timeout: 10 * time.Second}); err != nil {
			t.Fatal(err)
		}
		w.dirs[topic] = t.TempDir()
	}
	return w
}

// configure writes the configuration of topic's team: one offsets block
// moving its sink to offset to.
func (w *teamWorld) configure(t *testing.T, topic, block string, to int) {
	t.Helper()
	body := fmt.Sprintf(`connect "prod" {
  url = %q
}

kafka "prod" {
  brokers = [%q]
}

connector "sink" {
  connect = connect.prod
  kafka   = kafka.prod
  name    = "%s-sink"
}

offsets %q {
  connector = connector.sink
  reason    = "INC-7: rewind the %s sink"
  sink_partition {
    topic     = %q
    to_offset = %d
  }
}
`, w.sb.ConnectURL(), w.sb.BootstrapServers()[0], topic, block, topic, topic, to)
	if err := os.WriteFile(filepath.Join(w.dirs[topic], "main.hcl"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// cli runs offsetctl as user in topic's directory against the shared state.
func (w *teamWorld) cli(t *testing.T, user, topic string, args ...string) (int, string, string) {
	t.Helper()
	s, _, out, errOut := iostreams.Test()
	deps := &Deps{Streams: s, Getenv: func(k string) string {
		if k == "USER" {
			return user
		}
		return ""
	}, Now: func() time.Time {
		return time.Date(2026, 11, 20, 14, 30, 0, 0, time.UTC).Add(time.Duration(w.ticks.Add(1)) * time.Second)
	}}
	args = append(args, "-chdir", w.dirs[topic], "-state", w.state)
	if args[0] == "apply" {
		args = append(args, "-grace-period", "50ms")
	}
	code := runWithRestore(context.Background(), deps, args)
	return code, out.String(), errOut.String()
}

func (w *teamWorld) committed(t *testing.T, name string) int64 {
	t.Helper()
	cc, _ := connect.New(connect.Config{URL: w.sb.ConnectURL()})
	got, err := cc.Offsets(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range got.Offsets {
		var v struct {
			O int64 `json:"kafka_offset"`
		}
		_ = json.Unmarshal(o.Offset, &v)
		return v.O
	}
	return -1
}

// waitLocked waits until a resource lock row names user.
func (w *teamWorld) waitLocked(t *testing.T, user string) {
	t.Helper()
	conn := pgtest.Conn(t, w.state)
	deadline := time.Now().Add(20 * time.Second)
	for {
		var n int
		err := conn.QueryRow(context.Background(), `SELECT count(*) FROM offsetctl.resource_locks WHERE who = $1`, user).Scan(&n)
		if err == nil && n > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never held a resource lock (%v)", user, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestParallelAppliesOnOneState: two teams' reviewed plans, made against
// one PostgreSQL state at the same serial, apply at the same time when they
// change different connectors (the second takes its lock with
// -lock-timeout 0 while the first holds its own), and the history holds
// both; a plan of the same connector is refused naming the holder, and
// with a lock timeout waits for it and applies after it.
func TestParallelAppliesOnOneState(t *testing.T) {
	w := startTeamWorld(t)
	// A first operation makes the state exist.
	w.configure(t, "orders", "warm_up", 45)
	if code, out, errOut := w.cli(t, "alice", "orders", "apply", "-auto-approve"); code != 0 {
		t.Fatalf("first apply: %d\n%s\n%s", code, out, errOut)
	}
	w.configure(t, "orders", "rewind_orders", 10)
	w.configure(t, "payments", "rewind_payments", 20)
	plans := map[string]string{}
	for _, topic := range []string{"orders", "payments"} {
		plans[topic] = filepath.Join(w.dirs[topic], "plan.json")
		if code, out, errOut := w.cli(t, "ci", topic, "plan", "-out", plans[topic]); code != 0 {
			t.Fatalf("plan %s: %d\n%s\n%s", topic, code, out, errOut)
		}
	}

	type result struct {
		code     int
		out, err string
	}
	var wg sync.WaitGroup
	var first, second result
	wg.Add(1)
	go func() {
		defer wg.Done()
		// Watching the resumed connector keeps the lock for a while.
		first.code, first.out, first.err = w.cli(t, "alice", "orders", "apply", plans["orders"], "-running-watch", "1500ms")
	}()
	w.waitLocked(t, "alice")
	second.code, second.out, second.err = w.cli(t, "bob", "payments", "apply", plans["payments"], "-lock-timeout", "0", "-running-watch", "100ms")
	if second.code != 0 {
		t.Fatalf("apply of another connector while the first runs: %d\n%s\n%s", second.code, second.out, second.err)
	}
	// It finished while the first still held its lock: they ran in parallel.
	conn := pgtest.Conn(t, w.state)
	var holders int
	if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM offsetctl.resource_locks WHERE who = 'alice'`).Scan(&holders); err != nil || holders != 1 {
		t.Errorf("the first apply no longer held its lock when the second finished (%d, %v): not a parallel run", holders, err)
	}
	wg.Wait()
	if first.code != 0 {
		t.Fatalf("first apply: %d\n%s\n%s", first.code, first.out, first.err)
	}
	if a, b := w.committed(t, "orders-sink"), w.committed(t, "payments-sink"); a != 10 || b != 20 {
		t.Fatalf("offsets after both applies: orders %d, payments %d", a, b)
	}
	code, out, errOut := w.cli(t, "ci", "orders", "state", "history", "-json")
	if code != 0 {
		t.Fatalf("state history: %d\n%s", code, errOut)
	}
	var doc struct {
		Operations []views.AuditRecord `json:"operations"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	var got []string
	for i, op := range doc.Operations {
		got = append(got, fmt.Sprintf("%d %s %s %s", op.Serial, op.Name, op.Outcome, op.Who))
		if op.Serial != uint64(i+1) {
			t.Errorf("operation %d has serial %d", i+1, op.Serial)
		}
	}
	all := strings.Join(got, "; ")
	for _, want := range []string{"warm_up applied alice", "rewind_orders applied alice", "rewind_payments applied bob"} {
		if !strings.Contains(all, want) {
			t.Errorf("history lacks %q: %s", want, all)
		}
	}
	if len(doc.Operations) != 3 {
		t.Errorf("history: %s", all)
	}

	// The same connector: refused naming the holder, then serialised.
	w.configure(t, "orders", "rewind_orders_again", 5)
	planAgain := filepath.Join(w.dirs["orders"], "again.json")
	if code, out, errOut := w.cli(t, "ci", "orders", "plan", "-out", planAgain); code != 0 {
		t.Fatalf("plan again: %d\n%s\n%s", code, out, errOut)
	}
	w.configure(t, "payments", "rewind_payments", 20) // unchanged
	// alice holds orders-sink for a while (a payments plan of nothing to do
	// would not lock it: she applies the orders plan, and carol the same).
	wg.Add(1)
	go func() {
		defer wg.Done()
		first.code, first.out, first.err = w.cli(t, "alice", "orders", "apply", planAgain, "-running-watch", "1500ms")
	}()
	w.waitLocked(t, "alice")
	code, _, errOut = w.cli(t, "carol", "orders", "apply", planAgain, "-lock-timeout", "0")
	if code != ExitError || !strings.Contains(errOut, "connector prod/orders-sink is being changed: state is locked by alice") || !strings.Contains(errOut, "Another apply changes the same connector") {
		t.Errorf("apply of the same connector while it is locked: %d\n%s", code, errOut)
	}
	wg.Wait()
	if first.code != 0 {
		t.Fatalf("apply again: %d\n%s\n%s", first.code, first.out, first.err)
	}
	if got := w.committed(t, "orders-sink"); got != 5 {
		t.Fatalf("orders after the second rewind: %d", got)
	}
}

// TestForceUnlockOfAResourceLock: force-unlock names the holder of the
// resource lock given, among several, and frees its resources.
func TestForceUnlockOfAResourceLock(t *testing.T) {
	ctx := context.Background()
	url := pgtest.NewDB(t)
	var held []*pgstate.Backend
	for _, h := range []struct{ id, who, res string }{{"R-1", "erin", "connector prod/a"}, {"R-2", "frank", "connector prod/b"}} {
		b, err := pgstate.New(url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		if _, err := b.LockResources(ctx, state.LockInfo{ID: h.id, Who: h.who, Host: "ci-9", Operation: "apply"}, []string{h.res}); err != nil {
			t.Fatal(err)
		}
		held = append(held, b)
	}
	code, out, errOut := runStateCmd(t, false, "", "force-unlock", "-force", "R-2", "--state", url)
	if code != ExitOK || !strings.Contains(out, "has been force-unlocked (lock ID R-2)") {
		t.Fatalf("force-unlock R-2: exit %d\n%s\n%s", code, out, errOut)
	}
	code, _, errOut = runStateCmd(t, true, "no\n", "force-unlock", "R-1", "--state", url)
	if code != ExitError || !strings.Contains(errOut, "It is locked by erin@ci-9") {
		t.Errorf("force-unlock R-1 answered no: exit %d\n%s", code, errOut)
	}
	b, err := pgstate.New(url)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := b.LockResources(lctx, state.LockInfo{Who: "gina"}, []string{"connector prod/b"}); err != nil {
		t.Fatalf("the force-unlocked resource is not free: %v", err)
	}
	_ = held
}
