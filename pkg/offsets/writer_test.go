package offsets

import (
	"errors"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestWriteSourceNewKeyIsWrittenTheJavaWay(t *testing.T) {
	cl := newKafka(t)
	ctx := testCtx(t)
	snap, err := ReadTopic(ctx, cl, testTopic)
	if err != nil {
		t.Fatal(err)
	}
	// A Debezium SQL Server partition given in Go's (alphabetical) order:
	// the reference (§2.2) computes the Java bytes and partition 14 of 25.
	part := mustMap(t, `{"database":"testDB","server":"dbserver1"}`)
	off := mustMap(t, `{"commit_lsn":"0000002a:00000190:0003","event_serial_no":1}`)
	written, err := WriteSource(ctx, cl, snap, "inventory-connector", []SourceChange{{Partition: part, Offset: &off}})
	if err != nil {
		t.Fatal(err)
	}
	wantKey := `["inventory-connector",{"server":"dbserver1","database":"testDB"}]`
	if len(written) != 1 || string(written[0].Key) != wantKey || written[0].TopicPartition != 14 {
		t.Fatalf("written = %+v", written)
	}
	again, err := ReadTopic(ctx, cl, testTopic)
	if err != nil {
		t.Fatal(err)
	}
	r, ok := again.Find("inventory-connector", part)
	if !ok || string(r.Key) != wantKey || r.TopicPartition != 14 || r.TopicOffset != written[0].TopicOffset || r.Offset.String() != off.String() {
		t.Fatalf("read back %+v %v", r, ok)
	}
}

func TestWriteSourceReusesExistingKeyBytesVerbatim(t *testing.T) {
	cl := newKafka(t)
	ctx := testCtx(t)
	// Written by some tool with spaces: not the Java bytes, but it is the
	// key the worker has; it lives where murmur2 of these bytes puts it.
	odd := `["pg", {"server": "shop"}]`
	produceRaw(t, cl, rawRecord{PartitionForKey([]byte(odd), 25), odd, str(`{"lsn":100,"ts_usec":1}`)})
	snap, err := ReadTopic(ctx, cl, testTopic)
	if err != nil {
		t.Fatal(err)
	}
	next := mustMap(t, `{"lsn":200,"lsn_proc":200,"ts_usec":2}`)
	written, err := WriteSource(ctx, cl, snap, "pg", []SourceChange{{Partition: mustMap(t, `{"server":"shop"}`), Offset: &next}})
	if err != nil {
		t.Fatal(err)
	}
	if string(written[0].Key) != odd || written[0].TopicPartition != PartitionForKey([]byte(odd), 25) {
		t.Fatalf("written = %+v", written[0])
	}
	again, _ := ReadTopic(ctx, cl, testTopic)
	if len(again.Records) != 1 || again.Records[0].Offset.String() != next.String() {
		t.Fatalf("records = %+v", again.Records)
	}
}

func TestWriteSourceTombstoneDeletes(t *testing.T) {
	cl := newKafka(t)
	ctx := testCtx(t)
	key := `["pg",{"server":"shop"}]`
	produceRaw(t, cl, rawRecord{PartitionForKey([]byte(key), 25), key, str(`{"lsn":1,"ts_usec":1}`)})
	snap, _ := ReadTopic(ctx, cl, testTopic)
	written, err := WriteSource(ctx, cl, snap, "pg", []SourceChange{{Partition: mustMap(t, `{"server":"shop"}`)}})
	if err != nil || !written[0].Tombstone {
		t.Fatalf("delete: %+v %v", written, err)
	}
	again, _ := ReadTopic(ctx, cl, testTopic)
	if len(again.Records) != 0 {
		t.Fatalf("records after delete = %+v", again.Records)
	}
	_, err = WriteSource(ctx, cl, again, "pg", []SourceChange{{Partition: mustMap(t, `{"server":"shop"}`)}})
	if !errors.Is(err, ErrNoSuchPartition) {
		t.Fatalf("deleting a missing partition: %v", err)
	}
}

func TestWriteSourceRefusals(t *testing.T) {
	cl := newKafka(t)
	ctx := testCtx(t)
	key := `["pg",{"server":"shop"}]`
	right := PartitionForKey([]byte(key), 25)
	produceRaw(t, cl, rawRecord{(right + 3) % 25, key, str(`{"lsn":1,"ts_usec":1}`)})
	snap, _ := ReadTopic(ctx, cl, testTopic)
	change := []SourceChange{{Partition: mustMap(t, `{"server":"shop"}`), Offset: ptr(mustMap(t, `{"lsn":2,"ts_usec":2}`))}}

	ends := func() int64 {
		l, err := kadm.NewClient(cl).ListEndOffsets(ctx, testTopic)
		if err != nil {
			t.Fatal(err)
		}
		var n int64
		l.Each(func(o kadm.ListedOffset) { n += o.Offset })
		return n
	}
	before := ends()

	_, err := WriteSource(ctx, cl, snap, "pg", change)
	if !errors.Is(err, ErrPartitionMismatch) || !strings.Contains(err.Error(), "Java's default partitioner picks partition") {
		t.Errorf("existing record in the wrong partition: %v", err)
	}
	changed := *snap
	changed.Partitions = 12
	newPart := []SourceChange{{Partition: mustMap(t, `{"server":"new"}`), Offset: ptr(mustMap(t, `{"lsn":2,"ts_usec":2}`))}}
	if _, err := WriteSource(ctx, cl, &changed, "pg", newPart); err == nil || !strings.Contains(err.Error(), "now has 25 partitions, it had 12") {
		t.Errorf("partition count changed: %v", err)
	}
	twice := append(change, change...)
	if _, err := WriteSource(ctx, cl, snap, "other", twice); err == nil || !strings.Contains(err.Error(), "listed twice") {
		t.Errorf("duplicate partitions: %v", err)
	}
	if _, err := WriteSource(ctx, cl, nil, "pg", change); err == nil {
		t.Error("nil snapshot accepted")
	}
	if after := ends(); after != before {
		t.Fatalf("a refused write produced %d records", after-before)
	}
}

// The read-back catches a record overwritten after the write, as a running
// connector would do.
func TestVerifyWritesDetectsOverwrite(t *testing.T) {
	cl := newKafka(t)
	ctx := testCtx(t)
	key := `["pg",{"server":"shop"}]`
	p := PartitionForKey([]byte(key), 25)
	offs := produceRaw(t, cl, rawRecord{p, key, str(`{"lsn":1}`)}, rawRecord{p, key, str(`{"lsn":9}`)})
	planned := []Record{{Key: []byte(key), TopicPartition: p, TopicOffset: offs[0]}}
	err := verifyWrites(ctx, cl, testTopic, planned, []*kgo.Record{{Key: []byte(key), Value: []byte(`{"lsn":1}`)}})
	if !errors.Is(err, ErrVerifyFailed) || !strings.Contains(err.Error(), "overwritten at offset 1: is the connector still running?") {
		t.Fatalf("verify = %v", err)
	}
	planned[0].TopicOffset = offs[1]
	if err := verifyWrites(ctx, cl, testTopic, planned, []*kgo.Record{{Key: []byte(key), Value: []byte(`{"lsn":8}`)}}); !errors.Is(err, ErrVerifyFailed) || !strings.Contains(err.Error(), "not what was written") {
		t.Fatalf("verify with other bytes = %v", err)
	}
	if err := verifyWrites(ctx, cl, testTopic, planned, []*kgo.Record{{Key: []byte(key), Value: []byte(`{"lsn":9}`)}}); err != nil {
		t.Fatalf("verify of the newest record = %v", err)
	}
}

// One logical partition under two keys (Java order, and Go's alphabetical
// order written by some tool): the write goes to the key the task reads,
// the deletion removes both.
func TestWriteSourceWithSeveralKeysForOnePartition(t *testing.T) {
	cl := newKafka(t)
	ctx := testCtx(t)
	javaKey := `["inventory-connector",{"server":"dbserver1","database":"testDB"}]`
	goKey := `["inventory-connector",{"database":"testDB","server":"dbserver1"}]`
	produceRaw(t, cl,
		rawRecord{14, javaKey, str(`{"commit_lsn":"0000002a:00000190:0003"}`)},
		rawRecord{3, goKey, str(`{"commit_lsn":"0000002b:00000000:0000"}`)},
	)
	snap, _ := ReadTopic(ctx, cl, testTopic)
	part := mustMap(t, `{"server":"dbserver1","database":"testDB"}`)
	next := mustMap(t, `{"commit_lsn":"0000002c:00000000:0000"}`)
	written, err := WriteSource(ctx, cl, snap, "inventory-connector", []SourceChange{{Partition: part, Offset: &next}})
	if err != nil || len(written) != 1 || string(written[0].Key) != javaKey || written[0].TopicPartition != 14 {
		t.Fatalf("write = %+v %v", written, err)
	}
	snap, _ = ReadTopic(ctx, cl, testTopic)
	written, err = WriteSource(ctx, cl, snap, "inventory-connector", []SourceChange{{Partition: part}})
	if err != nil || len(written) != 2 || !written[0].Tombstone || !written[1].Tombstone {
		t.Fatalf("delete = %+v %v", written, err)
	}
	snap, _ = ReadTopic(ctx, cl, testTopic)
	if len(snap.Records) != 0 {
		t.Fatalf("left after delete: %+v", snap.Records)
	}

	// Two keys, neither the Java bytes: refused.
	spaced := `["inventory-connector", {"server": "dbserver1", "database": "testDB"}]`
	produceRaw(t, cl,
		rawRecord{PartitionForKey([]byte(goKey), 25), goKey, str(`{"commit_lsn":"0000002a:00000190:0003"}`)},
		rawRecord{PartitionForKey([]byte(spaced), 25), spaced, str(`{"commit_lsn":"0000002a:00000190:0003"}`)},
	)
	snap, _ = ReadTopic(ctx, cl, testTopic)
	_, err = WriteSource(ctx, cl, snap, "inventory-connector", []SourceChange{{Partition: part, Offset: &next}})
	if !errors.Is(err, ErrAmbiguousPartition) || !strings.Contains(err.Error(), "stored under 2 different keys") {
		t.Fatalf("ambiguous write = %v", err)
	}
}
