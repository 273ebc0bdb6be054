package offsets

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Fetch sizes for reading the offsets topic: batches large enough to keep
// round trips few, small enough that the fetches buffered at once (at most
// maxConcurrentFetches plus the one being processed) stay far below the
// memory budget; the per-key state, not the fetch buffer, is what grows with
// the topic. Measured by bench/offsets-topic.sh: 32 MiB fetches were no
// faster and doubled the peak RSS.
const (
	fetchMaxBytes          = 8 << 20
	fetchMaxPartitionBytes = 2 << 20
	maxConcurrentFetches   = 2
)

// offsetRange is the half-open range [start, end) of a partition to read.
type offsetRange struct{ start, end int64 }

// listRanges lists, for every partition of topic, the log start offset and
// the last stable offset, indexed by partition.
func listRanges(ctx context.Context, cl *kgo.Client, topic string) ([]offsetRange, error) {
	adm := kadm.NewClient(cl)
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("listing the start offsets of topic %q: %w", topic, err)
	}
	ends, err := adm.ListCommittedOffsets(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("listing the end offsets of topic %q: %w", topic, err)
	}
	for _, l := range []kadm.ListedOffsets{starts, ends} {
		if err := listedError(topic, l); err != nil {
			return nil, err
		}
	}
	n := len(ends[topic])
	ranges := make([]offsetRange, n)
	for p := range int32(n) {
		s, ok1 := starts.Lookup(topic, p)
		e, ok2 := ends.Lookup(topic, p)
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("listing offsets of topic %q: partition %d is missing from the broker's answer", topic, p)
		}
		ranges[p] = offsetRange{start: s.Offset, end: e.Offset}
	}
	return ranges, nil
}

func listedError(topic string, l kadm.ListedOffsets) error {
	ps, ok := l[topic]
	if !ok || len(ps) == 0 {
		return fmt.Errorf("topic %q does not exist or has no partitions: check --offsets-topic (the worker's offset.storage.topic)", topic)
	}
	for p, o := range ps {
		if o.Err == nil {
			continue
		}
		if errors.Is(o.Err, kerr.UnknownTopicOrPartition) {
			return fmt.Errorf("topic %q does not exist: check --offsets-topic (the worker's offset.storage.topic): %w", topic, o.Err)
		}
		return fmt.Errorf("listing offsets of topic %q partition %d: %w", topic, p, o.Err)
	}
	return nil
}

// scanTopic calls fn for every data record of topic in ranges (indexed by
// partition; empty ranges are skipped) in offset order per partition, and
// returns when every partition reached its end. The record (its key and
// value) is only valid during the call; a nil value is a tombstone. Control
// records (transaction markers) move the position but are not passed to fn.
func scanTopic(ctx context.Context, base *kgo.Client, topic string, ranges []offsetRange, fn func(partition int32, r *kgo.Record)) error {
	assign := map[int32]kgo.Offset{}
	next := make([]int64, len(ranges))
	remaining := 0
	for p, r := range ranges {
		next[p] = r.start
		if r.start < r.end {
			assign[int32(p)] = kgo.NewOffset().At(r.start)
			remaining++
		}
	}
	if remaining == 0 {
		return nil
	}
	pool := new(recordPool)
	opts := append(slices.Clone(base.Opts()),
		kgo.ConsumerGroup(""),
		kgo.ConsumeTopics(),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: assign}),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
		kgo.FetchMaxBytes(fetchMaxBytes),
		kgo.FetchMaxPartitionBytes(fetchMaxPartitionBytes),
		kgo.MaxConcurrentFetches(maxConcurrentFetches),
		kgo.WithPools(pool),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("creating a consumer for topic %q: %w", topic, err)
	}
	defer cl.Close()

	var stall *stallProber
	var probeFailing time.Time // since when probes fail on transient errors
	for remaining > 0 {
		pollCtx, cancel := context.WithTimeout(ctx, stallProbeAfter)
		fetches := cl.PollFetches(pollCtx)
		cancel()
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("reading topic %q: %w", topic, err)
		}
		stalled := false
		for i := range fetches {
			for j := range fetches[i].Topics {
				t := &fetches[i].Topics[j]
				for k := range t.Partitions {
					fp := &t.Partitions[k]
					if fp.Err != nil {
						if t.Topic == "" && errors.Is(fp.Err, context.DeadlineExceeded) {
							stalled = true
							continue
						}
						if t.Topic == "" || errors.Is(fp.Err, kgo.ErrClientClosed) {
							return fmt.Errorf("reading topic %q: %w", topic, fp.Err)
						}
						return fmt.Errorf("reading topic %q partition %d: %w", t.Topic, fp.Partition, fp.Err)
					}
					if t.Topic != topic || int(fp.Partition) >= len(ranges) {
						recycle(fp.Records)
						continue
					}
					p := fp.Partition
					end := ranges[p].end
					before := next[p] < end
					for _, r := range fp.Records {
						if r.Offset >= end {
							break
						}
						if !r.Attrs.IsControl() {
							fn(p, r)
						}
						next[p] = r.Offset + 1
					}
					recycle(fp.Records)
					if before && next[p] >= end {
						remaining--
						cl.PauseFetchPartitions(map[string][]int32{topic: {p}})
					}
				}
			}
		}
		if !stalled {
			continue
		}
		// Nothing arrived for a while although some partitions are
		// short of their end: the records left may have been removed
		// by compaction, which the consumer does not show. Ask the
		// broker directly what lies between each position and its end.
		if stall == nil {
			stall = &stallProber{cl: cl, topic: topic}
		}
		for p := range ranges {
			if next[p] >= ranges[p].end {
				continue
			}
			pos, err := stall.probe(ctx, int32(p), next[p], ranges[p].end)
			if err != nil && probeTransient(err) && ctx.Err() == nil {
				// A stalled fetch and the probe share the broker
				// connection: when the client gives up on the fetch, the
				// probe dies with it. The consumer fetches again on a new
				// connection; keep reading, for a while.
				if probeFailing.IsZero() {
					probeFailing = time.Now()
				}
				if time.Since(probeFailing) < probeRetryFor {
					break
				}
			}
			if err != nil {
				return fmt.Errorf("reading topic %q partition %d: no records arrive at offset %d (end %d) and the broker could not be asked why: %w", topic, p, next[p], ranges[p].end, err)
			}
			probeFailing = time.Time{}
			if pos > next[p] {
				next[p] = pos
				if pos >= ranges[p].end {
					remaining--
					cl.PauseFetchPartitions(map[string][]int32{topic: {int32(p)}})
				}
			}
		}
	}
	return nil
}

// stallProbeAfter is how long the reader waits for records before it asks
// the broker whether the rest of a partition is gone (a correctness-neutral
// fallback: the answer, not the timing, decides).
const stallProbeAfter = time.Second

// probeRetryFor is how long the reader keeps reading while every probe
// of a stalled partition fails on a transient error (a dead connection, a
// retriable broker error).
const probeRetryFor = 30 * time.Second

// probeTransient tells a probe failure worth reading on from one that
// ends the read: the broker's own errors unless retriable, and the end of
// the reader's context, end it.
func probeTransient(err error) bool {
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return ke.Retriable
	}
	return !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
}

// stallProber fetches raw record batches to see past what the consumer
// hides: batches emptied by compaction (kept as headers), control batches,
// or no batches at all up to the end offset.
type stallProber struct {
	cl      *kgo.Client
	topic   string
	id      [16]byte
	leaders map[int32]int32
}

// probe returns the position after offset that is certain to hold no data
// record below end: end when the broker has no batch in [offset, end),
// past trailing empty or control batches, or offset itself when a data
// record is there (the consumer will deliver it).
func (s *stallProber) probe(ctx context.Context, p int32, offset, end int64) (int64, error) {
	if s.leaders == nil {
		tds, err := kadm.NewClient(s.cl).ListTopics(ctx, s.topic)
		if err != nil {
			return offset, err
		}
		td, ok := tds[s.topic]
		if !ok || td.Err != nil {
			return offset, fmt.Errorf("describing the topic: %v", td.Err)
		}
		s.id = td.ID
		s.leaders = map[int32]int32{}
		for _, pd := range td.Partitions {
			s.leaders[pd.Partition] = pd.Leader
		}
	}
	req := kmsg.NewPtrFetchRequest()
	req.MaxWaitMillis = 0
	req.MinBytes = 0
	req.MaxBytes = fetchMaxPartitionBytes
	req.IsolationLevel = 1
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic, rt.TopicID = s.topic, s.id
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes = p, offset, fetchMaxPartitionBytes
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, s.cl.Broker(int(s.leaders[p])))
	if err != nil {
		return offset, err
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return offset, err
	}
	for _, t := range resp.Topics {
		for _, fp := range t.Partitions {
			if fp.Partition != p {
				continue
			}
			if err := kerr.ErrorForCode(fp.ErrorCode); err != nil {
				return offset, err
			}
			pos := offset
			raw := fp.RecordBatches
			for len(raw) >= 12 {
				var b kmsg.RecordBatch
				length := int64(int32(uint32(raw[8])<<24 | uint32(raw[9])<<16 | uint32(raw[10])<<8 | uint32(raw[11])))
				if length <= 0 || int64(len(raw)) < 12+length {
					break // a partial batch at the end of the response
				}
				if err := b.ReadFrom(raw[:12+length]); err != nil {
					return offset, fmt.Errorf("decoding a record batch: %w", err)
				}
				raw = raw[12+length:]
				last := b.FirstOffset + int64(b.LastOffsetDelta)
				if last < pos {
					continue
				}
				if b.NumRecords > 0 && b.Attributes&0x20 == 0 {
					return pos, nil // data is there: the consumer will deliver it
				}
				pos = last + 1
			}
			if len(fp.RecordBatches) == 0 && fp.LastStableOffset >= end {
				return end, nil
			}
			return pos, nil
		}
	}
	return offset, nil
}

func recycle(rs []*kgo.Record) {
	for _, r := range rs {
		r.Recycle()
	}
}

// recordPool lets the consumer reuse its decoded record slices between
// fetches instead of allocating them for every batch.
type recordPool struct{ p sync.Pool }

var _ kgo.PoolRecords = (*recordPool)(nil)

func (rp *recordPool) GetRecords(n int) []kgo.Record {
	if s, ok := rp.p.Get().(*[]kgo.Record); ok && cap(*s) >= n {
		return (*s)[:n]
	}
	return make([]kgo.Record, n)
}

func (rp *recordPool) PutRecords(s []kgo.Record) {
	rp.p.Put(&s)
}
