package offsets

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Record is one live source offset read from (or written to) the offsets
// topic.
type Record struct {
	// Key is the record key exactly as stored: the bytes the worker looks
	// offsets up by. Reuse them verbatim when writing this partition again.
	Key []byte
	// Connector is the key's namespace: the Kafka Connect connector name.
	Connector string
	// Partition is the source partition map decoded from Key, field order
	// and number literals kept.
	Partition Map
	// Offset is the stored value, exactly. Empty when Tombstone is set.
	Offset Map
	// Tombstone is set only on records returned by WriteSource that
	// deleted the partition's offset (a null value).
	Tombstone bool
	// TopicPartition and TopicOffset locate the record in the offsets
	// topic: for a read, the last record for Key; for a write, the record
	// produced.
	TopicPartition int32
	TopicOffset    int64
	// Timestamp is the record's timestamp (for a read, of the last record
	// for Key): when the worker, or whoever wrote it, produced it.
	Timestamp time.Time
	// Transactional is set when the last record for Key was written in a
	// transaction, as an exactly-once source worker writes offsets.
	Transactional bool
}

// InvalidRecord is a live offsets-topic record that is not a valid Kafka
// Connect offset record: a key that is not ["<connector>", {primitives}], or
// a value that is not a JSON object of primitives. Kafka Connect skips such
// keys when listing offsets and fails a task that looks them up.
type InvalidRecord struct {
	TopicPartition int32
	TopicOffset    int64
	// Key and Value are the raw bytes (Value nil only for a null key's
	// tombstone, which is not reported).
	Key   []byte
	Value []byte
	// Err says what is wrong; it wraps ErrNotOffsetKey for a bad key and
	// ErrNotOffsetValue for a bad value.
	Err error
}

func (r InvalidRecord) String() string {
	return fmt.Sprintf("partition %d offset %d: %v", r.TopicPartition, r.TopicOffset, r.Err)
}

var errNoClient = errors.New("no Kafka client: configure the bootstrap servers (--bootstrap-servers)")

// ErrNotOffsetValue marks value bytes that are not a Connect source offset:
// anything but a JSON object of primitive values (or a null tombstone).
var ErrNotOffsetValue = errors.New("not a Kafka Connect offset value")

// SplitKey is one key whose records were found in more than one partition of
// the offsets topic. The worker keeps whichever it consumed last, which
// depends on read interleaving: the stored offset for that key is not
// deterministic. It happens when a non-Java partitioner or a changed
// partition count was used to write the topic.
type SplitKey struct {
	Key []byte
	// Partitions lists every topic partition holding a record for Key,
	// ascending.
	Partitions []int32
}

// TopicSnapshot is the content of the offsets topic read from the start to
// the end offsets listed when the read began: the last value per raw key,
// tombstoned keys removed, as a Kafka Connect worker holds it in memory.
type TopicSnapshot struct {
	Topic      string
	Partitions int32
	// StartOffsets and EndOffsets are the log start and end (last stable)
	// offsets the read covered, indexed by partition.
	StartOffsets []int64
	EndOffsets   []int64
	// Records holds the live, valid offsets, ordered by connector name
	// and then by key bytes.
	Records []Record
	// Invalid holds live records that are not valid offset records,
	// ordered by partition and offset. A record superseded by a later
	// record for the same key is not inspected, as the worker does not.
	Invalid []InvalidRecord
	// Split lists keys found in more than one partition, ordered by key.
	Split []SplitKey
	// Counted is the number of data records read, tombstones included.
	Counted int64
}

// Connector returns the live records of connector, in key order.
func (s *TopicSnapshot) Connector(name string) []Record {
	i := sort.Search(len(s.Records), func(i int) bool { return s.Records[i].Connector >= name })
	j := i
	for j < len(s.Records) && s.Records[j].Connector == name {
		j++
	}
	return s.Records[i:j:j]
}

// Connectors returns the names of the connectors with live offsets, sorted.
func (s *TopicSnapshot) Connectors() []string {
	var names []string
	for i, r := range s.Records {
		if i == 0 || r.Connector != s.Records[i-1].Connector {
			names = append(names, r.Connector)
		}
	}
	return names
}

// Find returns the live record of connector whose partition map equals p
// (field order ignored).
func (s *TopicSnapshot) Find(connector string, p Map) (Record, bool) {
	for _, r := range s.Connector(connector) {
		if r.Partition.Equal(p) {
			return r, true
		}
	}
	return Record{}, false
}

// split reports the partitions of key if it was found in more than one.
func (s *TopicSnapshot) split(key []byte) []int32 {
	i := sort.Search(len(s.Split), func(i int) bool { return bytes.Compare(s.Split[i].Key, key) >= 0 })
	if i < len(s.Split) && bytes.Equal(s.Split[i].Key, key) {
		return s.Split[i].Partitions
	}
	return nil
}

// liveEntry is the reader's per-key state: only the newest value, in a buffer
// reused across records of the same key.
type liveEntry struct {
	value     []byte
	tombstone bool
	partition int32
	offset    int64
	millis    int64
	txn       bool
	// others lists partitions other than partition that held this key.
	others []int32
}

// ReadTopic reads the offsets topic from the start to the end of every
// partition and returns its live content. cl supplies the connection
// settings (seed brokers, TLS, SASL, dialer): ReadTopic opens its own
// short-lived consumer from cl.Opts() with direct partition assignment, large
// fetches and read_committed isolation (as an exactly-once worker reads), so
// cl may be any client that is not itself consuming the topic.
//
// The end of each partition is its last stable offset listed before reading;
// records produced after that are not part of the snapshot. Values are parsed
// once per surviving key, after the read.
func ReadTopic(ctx context.Context, cl *kgo.Client, topic string) (*TopicSnapshot, error) {
	if cl == nil {
		return nil, errNoClient
	}
	ranges, err := listRanges(ctx, cl, topic)
	if err != nil {
		return nil, err
	}
	snap := &TopicSnapshot{
		Topic:        topic,
		Partitions:   int32(len(ranges)),
		StartOffsets: make([]int64, len(ranges)),
		EndOffsets:   make([]int64, len(ranges)),
	}
	for p, r := range ranges {
		snap.StartOffsets[p], snap.EndOffsets[p] = r.start, r.end
	}
	live := make(map[string]*liveEntry, 1024)
	err = scanTopic(ctx, cl, topic, ranges, func(partition int32, r *kgo.Record) {
		offset, key, value := r.Offset, r.Key, r.Value
		snap.Counted++
		e := live[string(key)]
		if e == nil {
			e = &liveEntry{partition: partition}
			live[string(key)] = e
		} else if e.partition != partition && !containsInt32(e.others, partition) {
			e.others = append(e.others, partition)
		}
		e.partition, e.offset = partition, offset
		e.millis, e.txn = r.Timestamp.UnixMilli(), r.Attrs.IsTransactional()
		if value == nil {
			e.tombstone = true
			e.value = e.value[:0]
			return
		}
		e.tombstone = false
		e.value = append(e.value[:0], value...)
	})
	if err != nil {
		return nil, err
	}
	for k, e := range live {
		// Drop the entry as it is turned into a record, so the raw
		// values can be collected while the records are built.
		delete(live, k)
		if len(e.others) > 0 {
			parts := append([]int32{e.partition}, e.others...)
			sort.Slice(parts, func(i, j int) bool { return parts[i] < parts[j] })
			snap.Split = append(snap.Split, SplitKey{Key: []byte(k), Partitions: parts})
		}
		if e.tombstone {
			continue
		}
		key := []byte(k)
		value := e.value
		bad := func(err error) {
			snap.Invalid = append(snap.Invalid, InvalidRecord{
				TopicPartition: e.partition, TopicOffset: e.offset, Key: key, Value: value, Err: err,
			})
		}
		if len(key) == 0 {
			bad(fmt.Errorf("%w: the key is null or empty", ErrNotOffsetKey))
			continue
		}
		name, partition, err := decodeKeyExact(key)
		if err != nil {
			bad(fmt.Errorf("key %s: %w", quoteBytes(key), err))
			continue
		}
		offset, err := parseMapExact(value)
		if err != nil {
			bad(fmt.Errorf("value of key %s: %w: %v", quoteBytes(key), ErrNotOffsetValue, err))
			continue
		}
		snap.Records = append(snap.Records, Record{
			Key: key, Connector: name, Partition: partition, Offset: offset,
			TopicPartition: e.partition, TopicOffset: e.offset,
			Timestamp: time.UnixMilli(e.millis).UTC(), Transactional: e.txn,
		})
	}
	sort.Slice(snap.Records, func(i, j int) bool {
		a, b := &snap.Records[i], &snap.Records[j]
		if a.Connector != b.Connector {
			return a.Connector < b.Connector
		}
		return bytes.Compare(a.Key, b.Key) < 0
	})
	sort.Slice(snap.Invalid, func(i, j int) bool {
		a, b := &snap.Invalid[i], &snap.Invalid[j]
		if a.TopicPartition != b.TopicPartition {
			return a.TopicPartition < b.TopicPartition
		}
		return a.TopicOffset < b.TopicOffset
	})
	sort.Slice(snap.Split, func(i, j int) bool { return bytes.Compare(snap.Split[i].Key, snap.Split[j].Key) < 0 })
	return snap, nil
}

func containsInt32(s []int32, v int32) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// quoteBytes renders raw bytes for an error message: as text when short,
// shortened otherwise.
func quoteBytes(b []byte) string {
	const max = 120
	if len(b) > max {
		return fmt.Sprintf("%q… (%d bytes)", b[:max], len(b))
	}
	return fmt.Sprintf("%q", b)
}
