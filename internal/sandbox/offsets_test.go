package sandbox

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/offsetctl/offsetctl/pkg/offsets"
)

// createStopped creates an inert connector and stops it.
func createStopped(t *testing.T, s *Sandbox, name string, config map[string]string) {
	t.Helper()
	config["name"] = name
	must(t, s, 201, "POST", "/connectors", map[string]any{"name": name, "config": config})
	must(t, s, 204, "PUT", "/connectors/"+name+"/stop", nil)
}

// offsetRecords returns the offsets-topic records of a connector.
func offsetRecords(t *testing.T, s *Sandbox, connector string) []*kgo.Record {
	t.Helper()
	recs, err := s.ReadTopic(ctxFor(t), s.OffsetsTopic())
	if err != nil {
		t.Fatal(err)
	}
	var out []*kgo.Record
	for _, r := range recs {
		if name, _, err := offsets.DecodeKey(r.Key); err == nil && name == connector {
			out = append(out, r)
		}
	}
	return out
}

func TestSourceOffsetsAsConnectWritesThem(t *testing.T) {
	s := start(t, "3.8")
	createStopped(t, s, "inventory-connector", map[string]string{"connector.class": "io.debezium.connector.sqlserver.SqlServerConnector"})
	// The partition is given in alphabetical order; Connect writes keys in
	// java.util.HashMap order (server before database) and integers exactly.
	must(t, s, 200, "PATCH", "/connectors/inventory-connector/offsets", `{"offsets":[
		{"partition":{"database":"testDB","server":"dbserver1"},"offset":{"commit_lsn":"0000002a:00000190:0003","event_serial_no":9223372036854775807,"x":1e3}},
		{"partition":{"database":"other","server":"dbserver1"},"offset":{"event_serial_no":9007199254740993}}]}`)
	recs := offsetRecords(t, s, "inventory-connector")
	if len(recs) != 2 {
		t.Fatalf("got %d records in the offsets topic, want 2", len(recs))
	}
	wantKey := `["inventory-connector",{"server":"dbserver1","database":"testDB"}]`
	r := recs[0]
	if string(r.Key) != wantKey {
		r = recs[1]
	}
	if string(r.Key) != wantKey {
		t.Fatalf("key bytes %q / %q, want %q", recs[0].Key, recs[1].Key, wantKey)
	}
	if want := offsets.PartitionForKey([]byte(wantKey), 25); r.Partition != want || want != 14 {
		t.Errorf("record in partition %d, want %d (murmur2, the reference's worked example says 14)", r.Partition, want)
	}
	if v, _ := offsets.ParseMap(r.Value); !strings.Contains(string(r.Value), `"event_serial_no":9223372036854775807`) || !strings.Contains(string(r.Value), `"x":1000.0`) || v.Len() != 3 {
		t.Errorf("value bytes %s, want the exact long and 1e3 as the Double 1000.0", r.Value)
	}
	got := must(t, s, 200, "GET", "/connectors/inventory-connector/offsets", nil).body
	for _, want := range []string{`{"partition":{"server":"dbserver1","database":"testDB"},`, `"event_serial_no":9223372036854775807`, `"event_serial_no":9007199254740993`} {
		if !strings.Contains(got, want) {
			t.Errorf("GET offsets = %s, want it to contain %s", got, want)
		}
	}

	// PATCH merges: only the listed partition changes; null deletes.
	must(t, s, 200, "PATCH", "/connectors/inventory-connector/offsets", `{"offsets":[{"partition":{"server":"dbserver1","database":"other"},"offset":{"event_serial_no":1}}]}`)
	got = must(t, s, 200, "GET", "/connectors/inventory-connector/offsets", nil).body
	if !strings.Contains(got, `"event_serial_no":9223372036854775807`) || !strings.Contains(got, `{"event_serial_no":1}`) {
		t.Errorf("after a one-partition PATCH: %s, want the other partition untouched", got)
	}
	must(t, s, 200, "PATCH", "/connectors/inventory-connector/offsets", `{"offsets":[{"partition":{"server":"dbserver1","database":"testDB"},"offset":null}]}`)
	got = must(t, s, 200, "GET", "/connectors/inventory-connector/offsets", nil).body
	if want := `{"offsets":[{"partition":{"server":"dbserver1","database":"other"},"offset":{"event_serial_no":1}}]}`; got != want {
		t.Errorf("after a null offset:\n got %s\nwant %s", got, want)
	}
	recs = offsetRecords(t, s, "inventory-connector")
	if last := recs[len(recs)-1]; string(last.Key) != wantKey || last.Value != nil {
		t.Errorf("last record %q = %q, want a tombstone for %s", last.Key, last.Value, wantKey)
	}

	// DELETE writes a tombstone for every partition left.
	must(t, s, 200, "DELETE", "/connectors/inventory-connector/offsets", nil)
	must(t, s, 200, "GET", "/connectors/inventory-connector/offsets", nil)
	if got := must(t, s, 200, "GET", "/connectors/inventory-connector/offsets", nil).body; got != `{"offsets":[]}` {
		t.Errorf("after DELETE: %s", got)
	}
}

// TestExternalWriterBytes writes to the offsets topic directly, as
// offsetctl's topic writer does for workers older than 3.6: the worker reads
// what is stored under the exact key bytes it serialises.
func TestExternalWriterBytes(t *testing.T) {
	s := start(t, "3.5")
	createStopped(t, s, "pg", map[string]string{"connector.class": PostgresSourceClass, "topic.prefix": "shop",
		"database.hostname": "127.0.0.1", "database.user": "u", "database.dbname": "d"})
	cl, err := kgo.NewClient(kgo.SeedBrokers(s.BootstrapServers()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	write := func(key, value string) {
		t.Helper()
		r := &kgo.Record{Topic: s.OffsetsTopic(), Key: []byte(key), Value: []byte(value), Partition: offsets.PartitionForKey([]byte(key), s.OffsetsPartitions())}
		if err := cl.ProduceSync(context.Background(), r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	write(`["pg",{"server":"shop"}]`, `{"lsn":100,"lsn_proc":100}`)
	if got := must(t, s, 200, "GET", "/connectors/pg/offsets", nil).body; got != `{"offsets":[{"partition":{"server":"shop"},"offset":{"lsn_proc":100,"lsn":100}}]}` {
		t.Errorf("after a right-bytes write: %s", got)
	}
	// Same partition map, different bytes: a key the worker never looks up.
	write(`["pg", {"server": "shop"}]`, `{"lsn":200,"lsn_proc":200}`)
	// Another namespace (the topic prefix instead of the connector name).
	write(`["shop",{"server":"shop"}]`, `{"lsn":300}`)
	if got := must(t, s, 200, "GET", "/connectors/pg/offsets", nil).body; got != `{"offsets":[{"partition":{"server":"shop"},"offset":{"lsn_proc":100,"lsn":100}}]}` {
		t.Errorf("after wrong-bytes writes: %s, want the value stored under the right bytes", got)
	}
	// A partition known only under other bytes: listed (its map is in the
	// index) with the value under the bytes Connect looks up, which is none.
	write(`["pg",{"server" : "other"}]`, `{"lsn":1}`)
	if got := must(t, s, 200, "GET", "/connectors/pg/offsets", nil).body; !strings.Contains(got, `{"partition":{"server":"other"},"offset":null}`) {
		t.Errorf("a partition only under other bytes: %s, want its offset null", got)
	}
}

func TestInternalTopics(t *testing.T) {
	s := start(t, "3.8")
	createStopped(t, s, "src", map[string]string{"connector.class": "org.example.Source"})
	must(t, s, 204, "DELETE", "/connectors/src", nil)
	s.worker.internal.Flush(ctxFor(t))
	recs, err := s.ReadTopic(ctxFor(t), DefaultConfigTopic)
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	for _, r := range recs {
		seen = append(seen, string(r.Key)+"="+string(r.Value))
	}
	all := strings.Join(seen, "\n")
	for _, want := range []string{`connector-src={"properties":{"connector.class":"org.example.Source","name":"src"}}`,
		`target-state-src={"state":"PAUSED","state.v2":"STOPPED"}`, `commit-src={"tasks":0}`, "task-src-0=", "target-state-src=\n"} {
		if !strings.Contains(all+"\n", want) {
			t.Errorf("config topic lacks %s:\n%s", want, all)
		}
	}
	recs, err = s.ReadTopic(ctxFor(t), DefaultStatusTopic)
	if err != nil || len(recs) == 0 {
		t.Fatalf("status topic: %d records, %v", len(recs), err)
	}
}

func TestOffsetsSurviveConnectorDeletion(t *testing.T) {
	s := start(t, "3.8")
	if err := s.Kafka().CreateTopic("orders", 2, nil); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		cfg   map[string]string
		patch string
		want  string
	}{
		{"src", map[string]string{"connector.class": "org.example.Source"}, `{"offsets":[{"partition":{"file":"a"},"offset":{"pos":7}}]}`, `"offset":{"pos":7}`},
		{"snk", map[string]string{"connector.class": "org.example.Sink", "topics": "orders"}, `{"offsets":[{"partition":{"kafka_topic":"orders","kafka_partition":1},"offset":{"kafka_offset":7}}]}`, `"offset":{"kafka_offset":7}`},
	} {
		createStopped(t, s, c.name, c.cfg)
		must(t, s, 200, "PATCH", "/connectors/"+c.name+"/offsets", c.patch)
		must(t, s, 204, "DELETE", "/connectors/"+c.name, nil)
		must(t, s, 404, "GET", "/connectors/"+c.name+"/offsets", nil)
		must(t, s, 201, "POST", "/connectors", map[string]any{"name": c.name, "config": c.cfg, "initial_state": "STOPPED"})
		if got := must(t, s, 200, "GET", "/connectors/"+c.name+"/offsets", nil).body; !strings.Contains(got, c.want) {
			t.Errorf("%s re-created: offsets %s, want %s", c.name, got, c.want)
		}
	}
}

func TestRebalanceWindow(t *testing.T) {
	s := start(t, "3.8")
	createStopped(t, s, "src", map[string]string{"connector.class": "org.example.Source"})
	s.Faults().SetRebalancing(true)
	conflict := `{"error_code":409,"message":"Cannot complete request momentarily due to stale configuration (typically caused by a concurrent config change)"}`
	expected := `{"error_code":500,"message":"Request cannot be completed because a rebalance is expected"}`
	for _, c := range []struct{ method, path, body, want string }{
		{"PATCH", "/connectors/src/offsets", `{"offsets":[{"partition":{"f":"a"},"offset":{"pos":1}}]}`, conflict},
		{"DELETE", "/connectors/src/offsets", "", conflict},
		{"PATCH", "/connectors/nope/offsets", `{"offsets":[{"partition":{"f":"a"},"offset":{"pos":1}}]}`, conflict},
		{"POST", "/connectors/src/restart", "", conflict},
		{"POST", "/connectors/src/restart?includeTasks=true", "", conflict},
		{"POST", "/connectors/src/tasks/0/restart", "", conflict},
		{"GET", "/connectors/src", "", expected},
		{"GET", "/connectors/src/tasks", "", expected},
	} {
		var body any
		if c.body != "" {
			body = c.body
		}
		a := do(t, s, c.method, c.path, body)
		if fmt.Sprint(a.status) != c.want[14:17] || a.body != c.want {
			t.Errorf("%s %s during a rebalance: %d %s, want %s", c.method, c.path, a.status, a.body, c.want)
		}
	}
	// Reads of status and offsets, and stop/pause/resume, do not check.
	must(t, s, 200, "GET", "/connectors/src/status", nil)
	must(t, s, 200, "GET", "/connectors/src/offsets", nil)
	must(t, s, 204, "PUT", "/connectors/src/stop", nil)
	s.Faults().SetRebalancing(false)
	must(t, s, 200, "PATCH", "/connectors/src/offsets", `{"offsets":[{"partition":{"f":"a"},"offset":{"pos":1}}]}`)
}

func TestFailuresAndRestarts(t *testing.T) {
	s := start(t, "3.8")
	must(t, s, 201, "POST", "/connectors", map[string]any{"name": "src", "config": map[string]string{"connector.class": "org.example.Source", "tasks.max": "2"}})
	if err := s.Faults().FailTask("src", 1, "boom"); err != nil {
		t.Fatal(err)
	}
	st := must(t, s, 200, "GET", "/connectors/src/status", nil).body
	if !strings.Contains(st, `{"id":1,"state":"FAILED","worker_id":`) || !strings.Contains(st, `"trace":"org.apache.kafka.connect.errors.ConnectException: boom`) ||
		!strings.Contains(st, `"connector":{"state":"RUNNING"`) {
		t.Fatalf("status after a task failure: %s", st)
	}
	plan := must(t, s, 202, "POST", "/connectors/src/restart?includeTasks=true&onlyFailed=true", nil).body
	if !strings.Contains(plan, `"connector":{"state":"RUNNING"`) || !strings.Contains(plan, `{"id":0,"state":"RUNNING"`) || !strings.Contains(plan, `{"id":1,"state":"RESTARTING"`) {
		t.Errorf("restart plan: %s, want only the failed task RESTARTING", plan)
	}
	if st := must(t, s, 200, "GET", "/connectors/src/tasks/1/status", nil).body; !strings.HasPrefix(st, `{"id":1,"state":"RUNNING"`) || strings.Contains(st, "trace") {
		t.Errorf("task after the restart: %s", st)
	}
	if err := s.Faults().FailConnector("src", "bad config"); err != nil {
		t.Fatal(err)
	}
	if st := must(t, s, 200, "GET", "/connectors/src/status", nil).body; !strings.Contains(st, `"connector":{"state":"FAILED"`) {
		t.Errorf("status after a connector failure: %s", st)
	}
	must(t, s, 204, "POST", "/connectors/src/restart", nil)
	if err := s.Faults().SetUnassigned("src", true); err != nil {
		t.Fatal(err)
	}
	if st := must(t, s, 200, "GET", "/connectors/src/status", nil).body; strings.Count(st, `"UNASSIGNED"`) != 3 {
		t.Errorf("unassigned status: %s", st)
	}
	_ = s.Faults().SetUnassigned("src", false)
	if st := must(t, s, 200, "GET", "/connectors/src/status", nil).body; strings.Count(st, `"RUNNING"`) != 3 {
		t.Errorf("status after the restarts: %s", st)
	}
}

// TestManyInertConnectors creates 100 connectors; they cost no goroutines.
func TestManyInertConnectors(t *testing.T) {
	s := start(t, "3.8")
	for i := 0; i < 100; i++ {
		must(t, s, 201, "POST", "/connectors", map[string]any{"name": fmt.Sprintf("c%03d", i), "config": map[string]string{"connector.class": "org.example.Source", "tasks.max": "3"}})
	}
	got := must(t, s, 200, "GET", "/connectors?expand=status", nil).body
	if n := strings.Count(got, `"connector":{"state":"RUNNING"`); n != 100 {
		t.Errorf("expanded list has %d running connectors, want 100", n)
	}
}

func TestStartLSN(t *testing.T) {
	for _, c := range []struct {
		raw      string
		lsn      int64
		found    bool
		errorful bool
	}{
		{`{"lsn_proc":5,"lsn":4}`, 5, true, false},
		{`{"lsn":9223372036854775807}`, 9223372036854775807, true, false},
		{`{"lsn":"5"}`, 0, false, true}, // Debezium casts to Long: the task fails
		{`{"txId":1}`, 0, false, true},  // no position: the task fails
		{`not json`, 0, false, false},   // Connect cannot read it: no offset
		{`{"lsn":{"a":1}}`, 0, false, false},
	} {
		lsn, found, err := startLSN([]byte(c.raw))
		if lsn != c.lsn || found != c.found || (err != nil) != c.errorful {
			t.Errorf("startLSN(%s) = %d, %v, %v", c.raw, lsn, found, err)
		}
	}
}
