package sandbox

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/offsetctl/offsetctl/pkg/offsets"
)

// offsetStore is the worker's view of the offsets topic, kept the way
// Connect's KafkaOffsetBackingStore keeps it: a consumer assigned every
// partition from the beginning (no group) folds the records into a map keyed
// by the raw key bytes (last record wins, a tombstone deletes), plus an index
// connector name → partition maps built from the deserialised keys. Reads go
// to the end of the topic first. Writes go through a producer that picks the
// partition itself: murmur2 of the key bytes, as the Java producer does.
type offsetStore struct {
	topic string
	adm   *kadm.Client
	cons  *kgo.Client
	prod  *kgo.Client
	nPart int32

	mu       sync.Mutex
	data     map[string][]byte                 // raw key bytes → raw value bytes
	index    map[string]map[string]offsets.Map // connector → canonical partition → partition (as deserialised)
	pos      map[int32]int64                   // next offset to consume per partition
	changed  chan struct{}                     // closed and replaced on every consumed batch
	closeErr error

	cancel context.CancelFunc
	done   chan struct{}
}

func newOffsetStore(seeds []string, topic string, nPart int32, adm *kadm.Client) (*offsetStore, error) {
	parts := map[int32]kgo.Offset{}
	for p := int32(0); p < nPart; p++ {
		parts[p] = kgo.NewOffset().AtStart()
	}
	cons, err := kgo.NewClient(kgo.SeedBrokers(seeds...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: parts}),
		kgo.FetchMaxWait(defaultFetchMaxWait))
	if err != nil {
		return nil, fmt.Errorf("creating the offsets topic reader: %w", err)
	}
	prod, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(0))
	if err != nil {
		cons.Close()
		return nil, fmt.Errorf("creating the offsets topic writer: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &offsetStore{
		topic: topic, adm: adm, cons: cons, prod: prod, nPart: nPart,
		data: map[string][]byte{}, index: map[string]map[string]offsets.Map{},
		pos: map[int32]int64{}, changed: make(chan struct{}),
		cancel: cancel, done: make(chan struct{}),
	}
	go s.run(ctx)
	return s, nil
}

func (s *offsetStore) close() {
	s.cancel()
	<-s.done
	s.cons.Close()
	s.prod.Close()
}

func (s *offsetStore) run(ctx context.Context) {
	defer close(s.done)
	for {
		fetches := s.cons.PollFetches(ctx)
		if ctx.Err() != nil {
			return
		}
		s.mu.Lock()
		fetches.EachPartition(func(p kgo.FetchTopicPartition) {
			for _, r := range p.Records {
				s.apply(r.Key, r.Value)
				if r.Offset+1 > s.pos[p.Partition] {
					s.pos[p.Partition] = r.Offset + 1
				}
			}
		})
		close(s.changed)
		s.changed = make(chan struct{})
		s.mu.Unlock()
	}
}

// apply folds one record into the view; s.mu is held.
func (s *offsetStore) apply(key, value []byte) {
	if key == nil {
		return
	}
	if value == nil {
		delete(s.data, string(key))
	} else {
		s.data[string(key)] = value
	}
	// The index, as OffsetUtils.processPartitionKey builds it: only keys that
	// deserialise to [string, {map}] count.
	name, p, err := offsets.DecodeKey(key)
	if err != nil {
		return
	}
	p, err = javaNormalize(p, false)
	if err != nil {
		return
	}
	set := s.index[name]
	if set == nil {
		set = map[string]offsets.Map{}
		s.index[name] = set
	}
	if value == nil {
		delete(set, canonical(p))
	} else {
		set[canonical(p)] = p
	}
}

// readToEnd waits until every record written before the call was consumed.
func (s *offsetStore) readToEnd(ctx context.Context) error {
	ends, err := s.adm.ListEndOffsets(ctx, s.topic)
	if err != nil {
		return fmt.Errorf("listing the end offsets of %s: %w", s.topic, err)
	}
	if err := ends.Error(); err != nil {
		return fmt.Errorf("listing the end offsets of %s: %w", s.topic, err)
	}
	for {
		s.mu.Lock()
		behind := false
		ends.Each(func(o kadm.ListedOffset) {
			if s.pos[o.Partition] < o.Offset {
				behind = true
			}
		})
		ch := s.changed
		s.mu.Unlock()
		if !behind {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("reading %s to its end: %w", s.topic, ctx.Err())
		}
	}
}

// get returns the value stored under exactly these key bytes.
func (s *offsetStore) get(key []byte) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.data[string(key)]
	return v, ok
}

// partitions returns the connector's partitions (those whose latest record is
// not a tombstone), ordered by their key bytes.
func (s *offsetStore) partitions(connector string) []offsets.Map {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]offsets.Map, 0, len(s.index[connector]))
	for _, p := range s.index[connector] {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return string(out[i].JSON()) < string(out[j].JSON()) })
	return out
}

// kv is one record for the offsets topic; a nil value is a tombstone.
type kv struct {
	key, value []byte
}

// write produces the records, each to the partition murmur2 picks for its
// key, and waits for the acknowledgements (OffsetStorageWriter.doFlush).
func (s *offsetStore) write(ctx context.Context, recs []kv) error {
	if len(recs) == 0 {
		return nil
	}
	rs := make([]*kgo.Record, len(recs))
	for i, r := range recs {
		rs[i] = &kgo.Record{Topic: s.topic, Key: r.key, Value: r.value, Partition: offsets.PartitionForKey(r.key, s.nPart)}
	}
	if err := s.prod.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		return fmt.Errorf("writing offsets to %s: %w", s.topic, err)
	}
	return nil
}

var errStoreClosed = errors.New("the offsets store is closed")
