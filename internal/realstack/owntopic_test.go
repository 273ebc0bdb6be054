package realstack

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/offsetctl/offsetctl/pkg/apply"
	"github.com/offsetctl/offsetctl/pkg/offsets"
	"github.com/offsetctl/offsetctl/pkg/plan"
	"github.com/offsetctl/offsetctl/pkg/state"
)

// TestProofOwnOffsetsTopic proves, on the real worker, that offsetctl
// writes a source connector's offsets where Kafka Connect reads them when
// the connector has its own offsets.storage.topic: a Debezium PostgreSQL
// source keeps its offsets in a topic of its own, and the worker's global
// topic holds an older offset of the same partition (which Connect does not
// read). offsetctl plans and applies a rewind through the topics
// (the worker is shown to offsetctl as Kafka Connect 3.5, without PATCH
// /offsets, by a proxy that rewrites GET /'s version; everything else is
// the real worker's): the plan names the topic Connect reads (its own) and
// reads the offset from it, apply writes it (and copies it to the global
// topic, as Connect does), the real worker's GET /offsets returns exactly
// the target, and after apply resumes the connector Debezium replays the
// rows committed after it, once each.
func TestProofOwnOffsetsTopic(t *testing.T) {
	st := Get(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	ownTopic := "proof-own-offsets-" + proofRunID()
	cl, err := kgo.NewClient(kgo.SeedBrokers(st.BootstrapServers()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopic(ctx, 5, 1, map[string]*string{"cleanup.policy": ptr("compact")}, ownTopic); err != nil {
		t.Fatal(err)
	}
	p := startReplayPipeline(ctx, t, st, "own", map[string]string{"offsets.storage.topic": ownTopic})
	srcName, prefix, topic := p.name, p.prefix, p.topic
	target, current, _ := p.deliverFive(ctx, t)

	// Where the real worker put them: its own topic.
	partition := offsets.NewMap(offsets.Field{Key: "server", Value: offsets.String(prefix)})
	ownSnap, err := offsets.ReadTopic(ctx, cl, ownTopic)
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := ownSnap.Find(srcName, partition); !ok || !r.Offset.Equal(current) {
		t.Fatalf("precondition: the connector's own topic %s holds %v (%v), want its current offset %s", ownTopic, r.Offset, ok, current)
	}
	// The worker's global topic gets a copy of every write (the secondary
	// store); make it hold an older, wrong offset of the same partition,
	// as when the connector had no topic of its own: Connect must not read
	// it, and neither must offsetctl.
	globalSnap, err := offsets.ReadTopic(ctx, cl, st.OffsetsTopic())
	if err != nil {
		t.Fatal(err)
	}
	stale := offsets.NewMap(offsets.Field{Key: "lsn", Value: offsets.Int(1)}, offsets.Field{Key: "txId", Value: offsets.Int(1)}, offsets.Field{Key: "ts_usec", Value: offsets.Int(1)})
	if _, err := offsets.WriteSource(ctx, cl, globalSnap, srcName, []offsets.SourceChange{{Partition: partition, Offset: &stale}}); err != nil {
		t.Fatal(err)
	}

	// The rows to replay leave the sink.
	p.dropReplayedRows(ctx, t)

	// offsetctl against the real worker, shown as 3.5.
	proxy := oldWorkerProxy(t, st.ConnectURL(), "3.5.0")
	hcl := fmt.Sprintf(`
connect "real" { url = %q }
kafka "real" {
  brokers       = [%q]
  offsets_topic = %q
  config_topic  = %q
}
connector "own" {
  connect = connect.real
  kafka   = kafka.real
  name    = %q
  format  = "debezium-postgres"
}
offsets "rewind" {
  connector = connector.own
  reason    = "proof: replay rows 3-5 from the connector's own offsets topic"
  source_partition {
    partition = { server = %q }
    offset    = jsondecode(%q)
  }
}
`, proxy, st.BootstrapServers(), st.OffsetsTopic(), ConfigTopicName, srcName, prefix, target.String())
	r := newProofRun(ctx, t, hcl, &proofClients{url: proxy, kcl: cl})
	pl := r.plan(ctx, t)
	if !pl.HasChanges() || pl.HasErrors() || pl.Operations[0].Method != plan.MethodTopic {
		t.Fatalf("plan: changes %v, method %s, checks %+v", pl.HasChanges(), pl.Operations[0].Method, pl.Checks)
	}
	var note string
	for _, c := range pl.Checks {
		if c.Code == "own_offsets_topic" {
			note = c.Message
		}
	}
	t.Logf("own_offsets_topic: %s", note)
	if !strings.Contains(note, `Kafka Connect reads them from that topic only`) || !strings.Contains(note, `1 partition(s) read from "`+ownTopic+`"`) {
		t.Fatalf("the plan does not say which topic Connect reads first: %q", note)
	}
	if before := pl.Operations[0].Changes[0].Source.Before; before == nil || !before.Equal(current) {
		t.Fatalf("the plan's before-image is %v, want the offset in the connector's own topic %s", before, current)
	}
	var workerRead []byte
	inTopics := map[string]offsets.Map{}
	applier := r.applier(t, func(pt apply.Point) error {
		if pt.Step != apply.StepVerify {
			return nil
		}
		// Written and verified by offsetctl, connector still STOPPED:
		// what does the real worker read?
		workerRead = mustStatus(ctx, t, st, "GET", "/connectors/"+srcName+"/offsets", nil, 200)
		// And what the two topics hold (before the resume, after
		// which Debezium commits its own offsets again).
		for _, tp := range []string{ownTopic, st.OffsetsTopic()} {
			snap, err := offsets.ReadTopic(ctx, cl, tp)
			if err != nil {
				return err
			}
			if rec, ok := snap.Find(srcName, partition); ok {
				inTopics[tp] = rec.Offset
			}
		}
		return nil
	})
	end := topicEndOf(ctx, t, adm, topic)
	res, err := applier.Apply(ctx, pl, r.conf, r.lockID)
	if err != nil {
		t.Fatalf("apply: %v\nevents:\n%s", err, r.story())
	}
	if len(res.Operations) != 1 || res.Operations[0].Status != state.StatusApplied {
		t.Fatalf("apply result %+v", res)
	}
	var doc struct {
		Offsets []struct {
			Offset json.RawMessage `json:"offset"`
		} `json:"offsets"`
	}
	if err := json.Unmarshal(workerRead, &doc); err != nil || len(doc.Offsets) != 1 {
		t.Fatalf("GET offsets after apply wrote them: %s (%v)", workerRead, err)
	}
	if got, err := offsets.ParseMap(doc.Offsets[0].Offset); err != nil || !got.Equal(target) {
		t.Fatalf("the real worker reads %s after apply, want exactly %s (%v)", doc.Offsets[0].Offset, target, err)
	}
	for _, tp := range []string{ownTopic, st.OffsetsTopic()} {
		if got, ok := inTopics[tp]; !ok || !got.Equal(target) {
			t.Fatalf("topic %s held %v once apply had written, want the target (Connect writes the connector's topic and copies to the worker's)", tp, got)
		}
	}
	// Resumed by apply, Debezium replays from there.
	p.waitReplayed(ctx, t, adm, end)
}

func ptr(s string) *string { return &s }

// TestRealOwnOffsetsTopicReads pins what the real worker reads for a source
// connector with its own offsets.storage.topic, partition by partition,
// and that offsetctl's reading of the two topics (offsets.Effective) says
// the same: a partition in both topics (the connector's value), and one
// only in the worker's global topic (ConnectorOffsetBackingStore's javadoc
// calls the global store a fallback, but its get lays the connector
// store's answer over the worker's, and KafkaOffsetBackingStore answers
// null for a key it does not hold: the worker reads no offset for it), and
// one only in the connector's topic.
func TestRealOwnOffsetsTopicReads(t *testing.T) {
	st := Get(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	run := proofRunID()
	name, ownTopic := "probe-own-"+run, "probe-own-offsets-"+run
	cl, err := kgo.NewClient(kgo.SeedBrokers(st.BootstrapServers()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 5, 1, map[string]*string{"cleanup.policy": ptr("compact")}, ownTopic); err != nil {
		t.Fatal(err)
	}
	cfg := st.SourceConnectorConfig()
	cfg["topic.prefix"] = "probe" + run
	cfg["slot.name"] = "probe_" + run
	cfg["offsets.storage.topic"] = ownTopic
	mustStatus(ctx, t, st, "POST", "/connectors", map[string]any{"name": name, "config": cfg, "initial_state": "STOPPED"}, 201)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = st.Do(ctx, "DELETE", "/connectors/"+name, nil)
	})
	waitConnectorState(ctx, t, st, name, "STOPPED")
	write := func(topic, server string, lsn int64) {
		t.Helper()
		snap, err := offsets.ReadTopic(ctx, cl, topic)
		if err != nil {
			t.Fatal(err)
		}
		off := offsets.NewMap(offsets.Field{Key: "lsn", Value: offsets.Int(lsn)})
		if _, err := offsets.WriteSource(ctx, cl, snap, name, []offsets.SourceChange{{Partition: offsets.NewMap(offsets.Field{Key: "server", Value: offsets.String(server)}), Offset: &off}}); err != nil {
			t.Fatal(err)
		}
	}
	write(st.OffsetsTopic(), "both", 1)
	write(ownTopic, "both", 2)
	write(st.OffsetsTopic(), "global-only", 3)
	write(ownTopic, "own-only", 4)

	body := mustStatus(ctx, t, st, "GET", "/connectors/"+name+"/offsets", nil, 200)
	t.Logf("GET /connectors/%s/offsets: %s", name, body)
	var doc struct {
		Offsets []struct {
			Partition json.RawMessage `json:"partition"`
			Offset    json.RawMessage `json:"offset"`
		} `json:"offsets"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatal(err)
	}
	worker := map[string]string{}
	for _, o := range doc.Offsets {
		p, err := offsets.ParseMap(o.Partition)
		if err != nil {
			t.Fatal(err)
		}
		s, _ := p.Get("server")
		text := s.Text()
		worker[text] = string(o.Offset)
	}
	primary, err := offsets.ReadTopic(ctx, cl, ownTopic)
	if err != nil {
		t.Fatal(err)
	}
	ours := map[string]string{}
	for _, r := range offsets.Effective(name, primary) {
		s, _ := r.Partition.Get("server")
		text := s.Text()
		ours[text] = r.Offset.String()
	}
	for _, server := range []string{"both", "global-only", "own-only"} {
		w := worker[server]
		if w == "null" {
			w = ""
		}
		if ours[server] != w {
			t.Errorf("partition %s: the real worker reads %q, offsetctl %q", server, worker[server], ours[server])
		}
	}
}
