package offsets

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
)

// SourceChange is one source partition to write: its new offset, or nil to
// delete it (a tombstone).
type SourceChange struct {
	Partition Map
	Offset    *Map
}

// ErrPartitionMismatch marks a refusal to write a key whose existing record
// does not live in the partition Java's default partitioner picks for it.
var ErrPartitionMismatch = errors.New("offsets-topic partition mismatch")

// ErrAmbiguousPartition marks a refusal to write a source partition stored
// under several keys of which none is the key Kafka Connect writes.
var ErrAmbiguousPartition = errors.New("source partition stored under several keys")

// ErrNoSuchPartition marks a deletion of a source partition that has no
// stored offset.
var ErrNoSuchPartition = errors.New("no stored offset for this source partition")

// ErrVerifyFailed marks a write whose read-back did not find the value
// written as the newest value of its key.
var ErrVerifyFailed = errors.New("offsets-topic write not confirmed by read-back")

// WriteSource writes changes for connector's source partitions directly to
// the offsets topic read into snap, for clusters without the offsets REST API
// (Kafka Connect older than 3.6). The connector's tasks must not be running:
// that is the caller's job.
//
// A partition that already has a record is written under that record's key
// bytes, verbatim; a new partition gets the key Connect's JsonConverter would
// write (compact, fields in java.util.HashMap order). A partition stored
// under several keys (other field order or spacing) is written under the
// one equal to Connect's bytes, and deleted under all of them. Each record goes to the
// partition Java's default partitioner picks (murmur2 of the key bytes),
// produced explicitly; WriteSource refuses, before writing anything, when the
// topic's partition count changed since snap was read, when an existing
// record lives in another partition, or when a key is split across
// partitions. Values are written as given (field order kept). A nil Offset
// writes a tombstone.
//
// After producing, WriteSource reads the written partitions back to their
// end and checks that the newest value of every written key is exactly what
// it wrote; the returned records carry where they landed. cl supplies the
// connection settings: WriteSource opens its own producer and consumer from
// cl.Opts().
func WriteSource(ctx context.Context, cl *kgo.Client, snap *TopicSnapshot, connector string, changes []SourceChange) ([]Record, error) {
	if cl == nil {
		return nil, errNoClient
	}
	if snap == nil || snap.Partitions <= 0 {
		return nil, errors.New("writing source offsets: no snapshot of the offsets topic to write against (read it first)")
	}
	if connector == "" {
		return nil, errors.New("writing source offsets: the connector name is empty")
	}
	if len(changes) == 0 {
		return nil, nil
	}
	planned, err := planSourceWrites(snap, connector, changes)
	if err != nil {
		return nil, err
	}

	ranges, err := listRanges(ctx, cl, snap.Topic)
	if err != nil {
		return nil, fmt.Errorf("writing source offsets of %q: %w", connector, err)
	}
	if int32(len(ranges)) != snap.Partitions {
		return nil, fmt.Errorf("writing source offsets of %q: topic %q now has %d partitions, it had %d when it was read; refusing to write: read it again (the partition Java picks for a key depends on the count)",
			connector, snap.Topic, len(ranges), snap.Partitions)
	}

	producer, err := kgo.NewClient(append(slices.Clone(cl.Opts()),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.RequiredAcks(kgo.AllISRAcks()),
	)...)
	if err != nil {
		return nil, fmt.Errorf("writing source offsets of %q: creating a producer: %w", connector, err)
	}
	defer producer.Close()
	recs := make([]*kgo.Record, len(planned))
	for i, w := range planned {
		recs[i] = &kgo.Record{Topic: snap.Topic, Partition: w.TopicPartition, Key: w.Key}
		if !w.Tombstone {
			recs[i].Value = w.Offset.JSON()
		}
	}
	// Results come back in completion order, not input order: match them
	// by record.
	index := make(map[*kgo.Record]int, len(recs))
	for i, r := range recs {
		index[r] = i
	}
	var produceErrs []error
	for _, res := range producer.ProduceSync(ctx, recs...) {
		i, ok := index[res.Record]
		if !ok {
			continue
		}
		if res.Err != nil {
			produceErrs = append(produceErrs, fmt.Errorf("key %s to partition %d: %w", quoteBytes(recs[i].Key), recs[i].Partition, res.Err))
			continue
		}
		planned[i].TopicOffset = res.Record.Offset
	}
	if len(produceErrs) > 0 {
		written := len(planned) - len(produceErrs)
		return nil, fmt.Errorf("writing source offsets of %q to topic %q: %d of %d records failed, %d were written (read the topic again before retrying): %w",
			connector, snap.Topic, len(produceErrs), len(planned), written, errors.Join(produceErrs...))
	}

	if err := verifyWrites(ctx, cl, snap.Topic, planned, recs); err != nil {
		return planned, fmt.Errorf("writing source offsets of %q: %w", connector, err)
	}
	return planned, nil
}

// planSourceWrites turns changes into records with key bytes and partition,
// refusing anything that would leave the key's newest value ambiguous.
//
// Several live keys may hold one logical partition (the same map written
// with other field order or spacing, the hazard of reference §2.7 item 2).
// A task looks its offset up by the Java bytes, so a new value goes under
// the key equal to the Java bytes when one exists (under the only key when
// there is one); with several keys and none of them the Java bytes, the
// write is refused. A deletion tombstones every such key.
func planSourceWrites(snap *TopicSnapshot, connector string, changes []SourceChange) ([]Record, error) {
	out := make([]Record, 0, len(changes))
	for i, c := range changes {
		for _, prev := range changes[:i] {
			if prev.Partition.Equal(c.Partition) {
				return nil, fmt.Errorf("writing source offsets of %q: partition %s is listed twice", connector, c.Partition)
			}
		}
		javaKey := EncodeKey(connector, c.Partition.JavaOrder())
		var matches []Record
		for _, r := range snap.Connector(connector) {
			if r.Partition.Equal(c.Partition) {
				matches = append(matches, r)
			}
		}
		var targets []Record
		switch {
		case len(matches) == 0 && c.Offset == nil:
			return nil, fmt.Errorf("writing source offsets of %q: partition %s: %w (nothing to delete)", connector, c.Partition, ErrNoSuchPartition)
		case len(matches) == 0:
			targets = []Record{{Key: javaKey, Partition: c.Partition.JavaOrder(), TopicPartition: -1}}
		case c.Offset == nil || len(matches) == 1:
			targets = matches
		default:
			for _, m := range matches {
				if bytes.Equal(m.Key, javaKey) {
					targets = []Record{m}
				}
			}
			if targets == nil {
				keys := make([]string, len(matches))
				for i, m := range matches {
					keys[i] = quoteBytes(m.Key)
				}
				return nil, fmt.Errorf("writing source offsets of %q: %w: partition %s is stored under %d different keys (%s), none of them the bytes Kafka Connect writes (%s); refusing to guess which one the connector reads: delete the partition (every key) and write it again",
					connector, ErrAmbiguousPartition, c.Partition, len(matches), strings.Join(keys, ", "), quoteBytes(javaKey))
			}
		}
		for _, existing := range targets {
			rec := Record{Connector: connector, Key: existing.Key, Partition: existing.Partition}
			rec.TopicPartition = PartitionForKey(existing.Key, snap.Partitions)
			if existing.TopicPartition >= 0 && rec.TopicPartition != existing.TopicPartition {
				return nil, fmt.Errorf("writing source offsets of %q: %w: the record for key %s lives in partition %d of topic %q, but Java's default partitioner picks partition %d for it; refusing to write (two records for one key in different partitions make the worker's choice depend on read order): the topic was probably written with another partitioner or its partition count changed",
					connector, ErrPartitionMismatch, quoteBytes(existing.Key), existing.TopicPartition, snap.Topic, rec.TopicPartition)
			}
			if parts := snap.split(rec.Key); parts != nil {
				return nil, fmt.Errorf("writing source offsets of %q: %w: key %s has records in partitions %v of topic %q; refusing to write until only one remains",
					connector, ErrPartitionMismatch, quoteBytes(rec.Key), parts, snap.Topic)
			}
			if c.Offset == nil {
				rec.Tombstone = true
			} else {
				rec.Offset = *c.Offset
			}
			out = append(out, rec)
		}
	}
	return out, nil
}

// verifyWrites reads the partitions written from the first written offset to
// their end and checks that each written key's newest value is the one
// written.
func verifyWrites(ctx context.Context, cl *kgo.Client, topic string, planned []Record, recs []*kgo.Record) error {
	ends, err := listRanges(ctx, cl, topic)
	if err != nil {
		return fmt.Errorf("reading back: %w", err)
	}
	ranges := make([]offsetRange, len(ends))
	for p := range ranges {
		ranges[p] = offsetRange{start: ends[p].end, end: ends[p].end}
	}
	type seen struct {
		value  []byte
		null   bool
		offset int64
		found  bool
	}
	want := map[string]*seen{}
	for _, w := range planned {
		r := &ranges[w.TopicPartition]
		r.start = min(r.start, w.TopicOffset)
		want[string(w.Key)] = &seen{}
	}
	err = scanTopic(ctx, cl, topic, ranges, func(_ int32, r *kgo.Record) {
		offset, key, value := r.Offset, r.Key, r.Value
		s := want[string(key)]
		if s == nil {
			return
		}
		s.found, s.offset, s.null = true, offset, value == nil
		s.value = append(s.value[:0], value...)
	})
	if err != nil {
		return fmt.Errorf("reading back topic %q: %w", topic, err)
	}
	var errs []error
	for i, w := range planned {
		s := want[string(w.Key)]
		switch {
		case !s.found:
			errs = append(errs, fmt.Errorf("key %s: not found in partition %d from offset %d", quoteBytes(w.Key), w.TopicPartition, w.TopicOffset))
		case s.offset != w.TopicOffset:
			errs = append(errs, fmt.Errorf("key %s: written at partition %d offset %d but overwritten at offset %d: is the connector still running?", quoteBytes(w.Key), w.TopicPartition, w.TopicOffset, s.offset))
		case s.null != (recs[i].Value == nil) || !bytes.Equal(s.value, recs[i].Value):
			errs = append(errs, fmt.Errorf("key %s: partition %d offset %d holds %s, not what was written", quoteBytes(w.Key), w.TopicPartition, w.TopicOffset, quoteBytes(s.value)))
		}
	}
	if len(errs) > 0 {
		sort.Slice(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
		return fmt.Errorf("%w: %w", ErrVerifyFailed, errors.Join(errs...))
	}
	return nil
}
