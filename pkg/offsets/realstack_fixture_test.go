package offsets

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// realFixtures is where internal/realstack records what a real Kafka 4.3.0
// worker with Debezium 3.6.0 wrote.
const realFixtures = "../../test/realstack/fixtures"

// TestRealWorkerRecords replays the offsets-topic records a real Kafka
// Connect worker wrote into kfake, reads them back, and writes a new offset
// for the same connector: keys, partitions and values must be the real
// worker's bytes.
func TestRealWorkerRecords(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(realFixtures, "offsets-topic-source.json"))
	if err != nil {
		t.Fatalf("the real-stack fixture is missing (re-record it as test/realstack/fixtures/README.md says): %v", err)
	}
	var fx struct {
		FormatVersion int    `json:"format_version"`
		Topic         string `json:"topic"`
		Partitions    int32  `json:"partitions"`
		Connector     string `json:"connector"`
		Records       []struct {
			Partition int32   `json:"partition"`
			Offset    int64   `json:"offset"`
			KeyBase64 string  `json:"key_base64"`
			ValueText *string `json:"value_text"`
		} `json:"records"`
	}
	if err := json.Unmarshal(data, &fx); err != nil || fx.FormatVersion != 1 || fx.Partitions != 25 || fx.Topic != testTopic || len(fx.Records) == 0 {
		t.Fatalf("fixture: %v %+v", err, fx)
	}
	cl := newKafka(t)
	ctx := testCtx(t)
	var raws []rawRecord
	for _, r := range fx.Records {
		key, err := base64.StdEncoding.DecodeString(r.KeyBase64)
		if err != nil {
			t.Fatal(err)
		}
		if got := PartitionForKey(key, fx.Partitions); got != r.Partition {
			t.Errorf("PartitionForKey(%s) = %d, the real worker used %d", key, got, r.Partition)
		}
		name, p, err := DecodeKey(key)
		if err != nil || name != fx.Connector || string(EncodeKey(name, p.JavaOrder())) != string(key) {
			t.Errorf("key %s: decoded %q %s %v; re-encoded %s", key, name, p, err, EncodeKey(name, p.JavaOrder()))
		}
		raws = append(raws, rawRecord{r.Partition, string(key), r.ValueText})
	}
	produceRaw(t, cl, raws...)
	snap, err := ReadTopic(ctx, cl, testTopic)
	if err != nil {
		t.Fatal(err)
	}
	last := fx.Records[len(fx.Records)-1]
	recs := snap.Connector(fx.Connector)
	if len(recs) != 1 || len(snap.Invalid) != 0 {
		t.Fatalf("records = %+v invalid %v", recs, snap.Invalid)
	}
	got := recs[0]
	if base64.StdEncoding.EncodeToString(got.Key) != last.KeyBase64 || got.TopicPartition != last.Partition || got.Offset.String() != *last.ValueText {
		t.Fatalf("read %s at %d: %s; want the real worker's last record %s", got.Key, got.TopicPartition, got.Offset, *last.ValueText)
	}

	// What GET /connectors/<name>/offsets answered for the same state.
	var rest struct {
		Body struct {
			Offsets []struct {
				Partition Map `json:"partition"`
				Offset    Map `json:"offset"`
			} `json:"offsets"`
		} `json:"body"`
	}
	data, err = os.ReadFile(filepath.Join(realFixtures, "connect-offsets-source.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &rest); err != nil || len(rest.Body.Offsets) != 1 {
		t.Fatalf("REST fixture: %v", err)
	}
	if !rest.Body.Offsets[0].Partition.Equal(got.Partition) || !rest.Body.Offsets[0].Offset.Equal(got.Offset) {
		t.Fatalf("REST answer %s %s differs from the topic's %s %s", rest.Body.Offsets[0].Partition, rest.Body.Offsets[0].Offset, got.Partition, got.Offset)
	}

	// Every recorded value passes the PostgreSQL codec.
	codec, _ := NewRegistry().Choose("io.debezium.connector.postgresql.PostgresConnector", "")
	var prev *Map
	for _, r := range fx.Records {
		v := mustMap(t, *r.ValueText)
		if err := codec.Validate(got.Partition, v, prev); err != nil {
			t.Errorf("real value %s: %v", *r.ValueText, err)
		}
		prev = &v
	}

	// A direct write lands on the real worker's key and partition.
	next := got.Offset.With("lsn", Int(30710000)).With("lsn_proc", Int(30710000))
	written, err := WriteSource(ctx, cl, snap, fx.Connector, []SourceChange{{Partition: got.Partition, Offset: &next}})
	if err != nil {
		t.Fatal(err)
	}
	if string(written[0].Key) != string(got.Key) || written[0].TopicPartition != last.Partition || written[0].TopicOffset != last.Offset+1 {
		t.Fatalf("written = %+v", written[0])
	}
}

// TestRealSinkGroup replays the real JDBC sink's committed position into
// kfake and reads it back the way offsetctl observes a sink.
func TestRealSinkGroup(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(realFixtures, "sink-consumer-group.json"))
	if err != nil {
		t.Fatalf("the real-stack fixture is missing: %v", err)
	}
	var fx struct {
		FormatVersion int    `json:"format_version"`
		Group         string `json:"group"`
		Committed     []struct {
			Topic        string `json:"topic"`
			Partition    int32  `json:"partition"`
			Offset       int64  `json:"offset"`
			LogEndOffset int64  `json:"log_end_offset"`
		} `json:"committed"`
	}
	if err := json.Unmarshal(data, &fx); err != nil || fx.FormatVersion != 1 || len(fx.Committed) == 0 {
		t.Fatalf("fixture: %v %+v", err, fx)
	}
	if got := SinkGroupID("jdbc-customers", "", map[string]string{"connector.class": "io.debezium.connector.jdbc.JdbcSinkConnector"}); got != fx.Group {
		t.Fatalf("SinkGroupID = %s, the real worker used %s", got, fx.Group)
	}
	cl := newKafka(t, kfake.SeedTopics(1, fx.Committed[0].Topic))
	ctx := testCtx(t)
	var changes []SinkChange
	for _, c := range fx.Committed {
		for i := int64(0); i < c.LogEndOffset; i++ {
			if err := cl.ProduceSync(ctx, &kgo.Record{Topic: c.Topic, Partition: c.Partition, Value: []byte("row")}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		changes = append(changes, SinkChange{Topic: c.Topic, Partition: c.Partition, Offset: ptr(c.Offset)})
	}
	adm := kadm.NewClient(cl)
	if err := CommitSinkGroup(ctx, adm, fx.Group, changes); err != nil {
		t.Fatal(err)
	}
	g, err := ReadSinkGroup(ctx, adm, fx.Group, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range fx.Committed {
		got, ok := g.Lookup(c.Topic, c.Partition)
		if !ok || got.Committed != c.Offset || got.LogEnd != c.LogEndOffset {
			t.Errorf("%s/%d = %+v, the real group had committed %d of log end %d", c.Topic, c.Partition, got, c.Offset, c.LogEndOffset)
		}
	}
}
