package offsets

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

const testTopic = "connect-offsets"

// newKafka starts a kfake cluster with a 25-partition offsets topic and
// returns a client for it.
func newKafka(t *testing.T, opts ...kfake.Opt) *kgo.Client {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.SeedTopics(25, testTopic)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

type rawRecord struct {
	partition int32
	key       string
	value     *string // nil: tombstone
}

func str(s string) *string { return &s }

// produceRaw writes records to explicit partitions and returns their offsets.
func produceRaw(t *testing.T, cl *kgo.Client, recs ...rawRecord) []int64 {
	t.Helper()
	p, err := kgo.NewClient(append(cl.Opts(), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerBatchCompression(kgo.NoCompression()))...)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	krs := make([]*kgo.Record, len(recs))
	for i, r := range recs {
		krs[i] = &kgo.Record{Topic: testTopic, Partition: r.partition, Key: []byte(r.key)}
		if r.value != nil {
			krs[i].Value = []byte(*r.value)
		}
	}
	res := p.ProduceSync(testCtx(t), krs...)
	if err := res.FirstErr(); err != nil {
		t.Fatal(err)
	}
	offs := make([]int64, len(krs))
	for i, kr := range krs {
		offs[i] = kr.Offset // set by the produce
	}
	return offs
}

func mustMap(t *testing.T, s string) Map {
	t.Helper()
	m, err := ParseMap([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestReadTopicKeepsLastValuePerKey(t *testing.T) {
	cl := newKafka(t)
	pg := `["pg-orders",{"server":"shop"}]`
	my := `["my-orders",{"server":"shop"}]`
	gone := `["pg-orders",{"server":"old"}]`
	produceRaw(t, cl,
		rawRecord{PartitionForKey([]byte(pg), 25), pg, str(`{"lsn":1}`)},
		rawRecord{PartitionForKey([]byte(my), 25), my, str(`{"file":"b.000001","pos":4}`)},
		rawRecord{PartitionForKey([]byte(gone), 25), gone, str(`{"lsn":5}`)},
		rawRecord{PartitionForKey([]byte(pg), 25), pg, str(`{"lsn":9007199254740993,"ts_usec":1}`)},
		rawRecord{PartitionForKey([]byte(gone), 25), gone, nil},
	)
	snap, err := ReadTopic(testCtx(t), cl, testTopic)
	if err != nil {
		t.Fatal(err)
	}
	if snap.Counted != 5 || snap.Partitions != 25 || len(snap.Invalid) != 0 || len(snap.Split) != 0 {
		t.Fatalf("counted %d partitions %d invalid %v split %v", snap.Counted, snap.Partitions, snap.Invalid, snap.Split)
	}
	if got := strings.Join(snap.Connectors(), ","); got != "my-orders,pg-orders" {
		t.Fatalf("connectors = %s", got)
	}
	recs := snap.Connector("pg-orders")
	if len(recs) != 1 {
		t.Fatalf("pg-orders records = %+v", recs)
	}
	r := recs[0]
	if string(r.Key) != pg || r.Offset.String() != `{"lsn":9007199254740993,"ts_usec":1}` ||
		r.TopicPartition != PartitionForKey([]byte(pg), 25) || r.TopicOffset != 1 || r.Partition.String() != `{"server":"shop"}` {
		t.Fatalf("record = %+v", r)
	}
	if _, ok := snap.Find("pg-orders", mustMap(t, `{"server":"old"}`)); ok {
		t.Fatal("a tombstoned partition is still live")
	}
	if len(snap.Connector("nobody")) != 0 {
		t.Fatal("unknown connector has records")
	}
}

func TestReadTopicReportsInvalidRecords(t *testing.T) {
	cl := newKafka(t)
	healed := `["c",{"server":"healed"}]`
	offs := produceRaw(t, cl,
		rawRecord{3, `not json`, str(`{"lsn":1}`)},
		rawRecord{3, `["c"]`, str(`{"lsn":1}`)},
		rawRecord{4, `{"c":{"server":"x"}}`, str(`{"lsn":1}`)},
		rawRecord{5, `["c",{"server":"a"}]`, str(`lsn=1`)},
		rawRecord{5, `["c",{"server":"b"}]`, str(`[1,2]`)},
		rawRecord{6, `["c",{"server":"c"}]`, str(`{"lsn":{"nested":1}}`)},
		rawRecord{6, `["c",{"server":"d"}]`, str(`null`)},
		rawRecord{7, ``, str(`{"lsn":1}`)},
		rawRecord{8, healed, str(`garbage`)},
		rawRecord{8, healed, str(`{"lsn":2}`)},
		rawRecord{9, `["c",{"server":"ok"}]`, str(`{"lsn":3}`)},
	)
	snap, err := ReadTopic(testCtx(t), cl, testTopic)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		partition int32
		offset    int64
		is        error
		text      string
	}{
		{3, offs[0], ErrNotOffsetKey, "not JSON"},
		{3, offs[1], ErrNotOffsetKey, "partition object"},
		{4, offs[2], ErrNotOffsetKey, "JSON array"},
		{5, offs[3], ErrNotOffsetValue, "not JSON"},
		{5, offs[4], ErrNotOffsetValue, "expected a JSON object, found an array"},
		{6, offs[5], ErrNotOffsetValue, "primitive values"},
		{6, offs[6], ErrNotOffsetValue, "found null"},
		{7, offs[7], ErrNotOffsetKey, "null or empty"},
	}
	if len(snap.Invalid) != len(want) {
		t.Fatalf("invalid = %d records, want %d: %v", len(snap.Invalid), len(want), snap.Invalid)
	}
	for i, w := range want {
		got := snap.Invalid[i]
		if got.TopicPartition != w.partition || got.TopicOffset != w.offset || !errors.Is(got.Err, w.is) || !strings.Contains(got.Err.Error(), w.text) {
			t.Errorf("invalid[%d] = %s, want partition %d offset %d %v containing %q", i, got, w.partition, w.offset, w.is, w.text)
		}
	}
	if len(snap.Records) != 2 || snap.Counted != 11 {
		t.Fatalf("records = %+v, counted %d", snap.Records, snap.Counted)
	}
}

func TestReadTopicReportsKeysSplitAcrossPartitions(t *testing.T) {
	cl := newKafka(t)
	key := `["c",{"server":"x"}]`
	right := PartitionForKey([]byte(key), 25)
	wrong := (right + 1) % 25
	produceRaw(t, cl, rawRecord{right, key, str(`{"lsn":1}`)}, rawRecord{wrong, key, str(`{"lsn":2}`)})
	snap, err := ReadTopic(testCtx(t), cl, testTopic)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Split) != 1 || string(snap.Split[0].Key) != key || len(snap.Split[0].Partitions) != 2 {
		t.Fatalf("split = %+v", snap.Split)
	}
	_, err = WriteSource(testCtx(t), cl, snap, "c", []SourceChange{{Partition: mustMap(t, `{"server":"x"}`), Offset: ptr(mustMap(t, `{"lsn":3}`))}})
	if !errors.Is(err, ErrPartitionMismatch) {
		t.Fatalf("WriteSource over a split key: %v", err)
	}
}

func TestReadTopicEmptyAndMissing(t *testing.T) {
	cl := newKafka(t)
	snap, err := ReadTopic(testCtx(t), cl, testTopic)
	if err != nil || len(snap.Records) != 0 || snap.Counted != 0 || snap.Partitions != 25 {
		t.Fatalf("empty topic: %+v %v", snap, err)
	}
	_, err = ReadTopic(testCtx(t), cl, "no-such-topic")
	if err == nil || !strings.Contains(err.Error(), `"no-such-topic" does not exist`) {
		t.Fatalf("missing topic: %v", err)
	}
}

// An exactly-once worker writes offsets in transactions: aborted records are
// not offsets, and the commit markers at the end must not stop the read
// from finishing.
func TestReadTopicSkipsAbortedTransactions(t *testing.T) {
	cl := newKafka(t)
	key := `["eos",{"server":"x"}]`
	part := PartitionForKey([]byte(key), 25)
	txn, err := kgo.NewClient(append(cl.Opts(), kgo.TransactionalID("eos-task-0"), kgo.RecordPartitioner(kgo.ManualPartitioner()))...)
	if err != nil {
		t.Fatal(err)
	}
	defer txn.Close()
	ctx := testCtx(t)
	for _, step := range []struct {
		value  string
		commit kgo.TransactionEndTry
	}{{`{"lsn":1}`, kgo.TryCommit}, {`{"lsn":2}`, kgo.TryAbort}} {
		if err := txn.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		if err := txn.ProduceSync(ctx, &kgo.Record{Topic: testTopic, Partition: part, Key: []byte(key), Value: []byte(step.value)}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		if err := txn.EndTransaction(ctx, step.commit); err != nil {
			t.Fatal(err)
		}
	}
	snap, err := ReadTopic(ctx, cl, testTopic)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Records) != 1 || snap.Records[0].Offset.String() != `{"lsn":1}` || snap.Counted != 1 {
		t.Fatalf("records = %+v counted %d", snap.Records, snap.Counted)
	}
}

func ptr[T any](v T) *T { return &v }

// When compaction removed the last records of a partition (an old
// tombstone at the tail, past delete.retention.ms), the consumer never
// sees a record at end-1; the reader must still finish. kfake does not
// compact, so its fetch answers beyond offset 2 are replaced by what a
// compacted log returns: no batches, high watermark 3.
func TestReadTopicFinishesWhenTheTailWasCompactedAway(t *testing.T) {
	c, err := kfake.NewCluster(kfake.SeedTopics(1, testTopic))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.DisableFetchSessions())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := testCtx(t)
	big := strings.Repeat("x", 700<<10)
	// Three batches of 700 KiB: a fetch (2 MiB per partition) returns
	// the first two, the third is asked for at offset 2.
	for _, key := range []string{`["c",{"server":"a"}]`, `["c",{"server":"b"}]`, `["c",{"server":"gone"}]`} {
		produceRaw(t, cl, rawRecord{0, key, str(`{"lsn":1,"pad":"` + big + `"}`)})
	}
	tds, err := kadm.NewClient(cl).ListTopics(ctx, testTopic)
	if err != nil {
		t.Fatal(err)
	}
	id := tds[testTopic].ID
	hidden := 0
	c.ControlKey(int16(kmsg.Fetch), func(kr kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		req := kr.(*kmsg.FetchRequest)
		if len(req.Topics) != 1 || len(req.Topics[0].Partitions) != 1 || req.Topics[0].Partitions[0].FetchOffset < 2 {
			return nil, nil, false
		}
		hidden++
		resp := req.ResponseKind().(*kmsg.FetchResponse)
		resp.Version = req.Version
		rt := kmsg.NewFetchResponseTopic()
		rt.Topic, rt.TopicID = testTopic, id
		rp := kmsg.NewFetchResponseTopicPartition()
		rp.Partition, rp.HighWatermark, rp.LastStableOffset, rp.LogStartOffset = 0, 3, 3, 0
		rt.Partitions = append(rt.Partitions, rp)
		resp.Topics = append(resp.Topics, rt)
		return resp, nil, true
	})
	snap, err := ReadTopic(ctx, cl, testTopic)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Records) != 2 || snap.Counted != 2 || hidden == 0 {
		t.Fatalf("records %d counted %d, hidden fetches %d", len(snap.Records), snap.Counted, hidden)
	}
}
