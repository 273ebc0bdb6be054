package sandbox

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/offsetctl/offsetctl/pkg/offsets"
)

// sourceStore is what a source connector's tasks and the offsets endpoints
// read and write: the worker's offsets topic, or, for a connector with its
// own offsets.storage.topic, that topic with the worker's behind it.
type sourceStore interface {
	readToEnd(ctx context.Context) error
	get(key []byte) ([]byte, bool)
	partitions(connector string) []offsets.Map
	write(ctx context.Context, recs []kv) error
}

// layeredStore is Kafka Connect's ConnectorOffsetBackingStore for a
// connector with its own offsets topic (withConnectorAndWorkerStores):
// partitions are listed from both topics, but a value is read from the
// connector's topic only (its get lays the connector store's answer, null
// for a key it lacks, over the worker's: a partition only in the worker's
// topic reads as no offset, as the real worker shows); writes go to the
// connector's topic and are copied to the worker's, deletions to the
// worker's first (KAFKA-15018).
type layeredStore struct {
	own, global *offsetStore
}

func (l *layeredStore) readToEnd(ctx context.Context) error {
	if err := l.own.readToEnd(ctx); err != nil {
		return err
	}
	return l.global.readToEnd(ctx)
}

func (l *layeredStore) get(key []byte) ([]byte, bool) {
	return l.own.get(key)
}

// partitions is the union of both topics' (connectorPartitions).
func (l *layeredStore) partitions(connector string) []offsets.Map {
	seen := map[string]bool{}
	var out []offsets.Map
	for _, s := range []*offsetStore{l.own, l.global} {
		for _, p := range s.partitions(connector) {
			if c := canonical(p); !seen[c] {
				seen[c] = true
				out = append(out, p)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return string(out[i].JSON()) < string(out[j].JSON()) })
	return out
}

func (l *layeredStore) write(ctx context.Context, recs []kv) error {
	var tombstones, values []kv
	for _, r := range recs {
		if r.value == nil {
			tombstones = append(tombstones, r)
		} else {
			values = append(values, r)
		}
	}
	if err := l.global.write(ctx, tombstones); err != nil {
		return err
	}
	if err := l.own.write(ctx, recs); err != nil {
		return err
	}
	// ConnectorOffsetBackingStore only logs a failed secondary write.
	_ = l.global.write(ctx, values)
	return nil
}

// sourceStoreFor returns the store of a source connector with config cfg:
// the worker's, or its own topic's in front of the worker's, creating that
// topic (compacted, as many partitions as the worker's) the first time.
func (w *worker) sourceStoreFor(ctx context.Context, cfg map[string]string) (sourceStore, error) {
	topic := strings.TrimSpace(cfg["offsets.storage.topic"])
	if topic == "" || topic == w.store.topic {
		return w.store, nil
	}
	w.ownMu.Lock()
	defer w.ownMu.Unlock()
	if s := w.ownStores[topic]; s != nil {
		return &layeredStore{own: s, global: w.store}, nil
	}
	if err := w.sb.cluster.CreateTopic(topic, w.store.nPart, map[string]string{"cleanup.policy": "compact"}); err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return nil, fmt.Errorf("creating the connector's offsets topic %s: %w", topic, err)
	}
	td, err := w.adm.ListTopics(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("describing the connector's offsets topic %s: %w", topic, err)
	}
	n := int32(len(td[topic].Partitions))
	if n == 0 {
		return nil, fmt.Errorf("the connector's offsets topic %s has no partitions", topic)
	}
	s, err := newOffsetStore(w.sb.seeds, topic, n, w.adm)
	if err != nil {
		return nil, err
	}
	w.ownStores[topic] = s
	return &layeredStore{own: s, global: w.store}, nil
}

// closeOwnStores closes the stores of connectors' own offsets topics.
func (w *worker) closeOwnStores() {
	w.ownMu.Lock()
	defer w.ownMu.Unlock()
	for t, s := range w.ownStores {
		s.close()
		delete(w.ownStores, t)
	}
}
