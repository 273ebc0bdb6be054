package offsets

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/offsetctl/offsetctl/internal/sleep"
)

// Method is the path a connector's offsets are read or written by.
type Method string

// The paths of the store.
const (
	// ViaREST uses Kafka Connect's offsets endpoints (GET 3.5+, PATCH 3.6+).
	ViaREST Method = "rest"
	// ViaTopic reads and writes the offsets topic directly (source
	// connectors on workers without PATCH /offsets).
	ViaTopic Method = "topic"
	// ViaGroup reads and commits the sink connector's consumer group
	// directly (sink connectors on workers without PATCH /offsets).
	ViaGroup Method = "consumer_group"
)

// Paths returns the paths a connector's offsets are read and written by on
// a worker: Kafka Connect's REST API where the worker can (canRead: GET
// /offsets, 3.5+; canWrite: PATCH /offsets, 3.6+), else the offsets topic
// for a source connector and the consumer group for a sink connector.
func Paths(sink, canRead, canWrite bool) (read, write Method) {
	direct := ViaTopic
	if sink {
		direct = ViaGroup
	}
	read, write = ViaREST, ViaREST
	if !canRead {
		read = direct
	}
	if !canWrite {
		write = direct
	}
	return read, write
}

// DefaultOffsetsTopic is Kafka Connect's default offset.storage.topic.
const DefaultOffsetsTopic = "connect-offsets"

// SinkGroupID names the consumer group a sink connector commits to, the one
// rule every command uses: the group declared for it (a connector block's
// group) when set, else the connector config's consumer.override.group.id,
// else connect-<name> (Kafka Connect's SinkUtils.consumerGroupId). A
// worker-level consumer.group.id, which would override both, is not visible
// here. config may be nil.
func SinkGroupID(name, declared string, config map[string]string) string {
	switch {
	case declared != "":
		return declared
	case config["consumer.override.group.id"] != "":
		return config["consumer.override.group.id"]
	}
	return "connect-" + name
}

// Location says where one connector's offsets live and by which path the
// store reads and writes them.
type Location struct {
	// Connector is the connector's name in Kafka Connect.
	Connector string
	// Sink is true for a sink connector.
	Sink bool
	// Via is the path Read and Write take.
	Via Method
	// Group is a sink connector's consumer group (SinkGroupID).
	Group string
	// OffsetsTopic is a source connector's offsets topic, the one Kafka
	// Connect reads first and writes (DefaultOffsetsTopic when empty): the
	// connector's own offsets.storage.topic when it has one, else the
	// worker's.
	OffsetsTopic string
	// FallbackTopic is, for a connector with its own offsets topic, the
	// worker's global offsets topic behind it. Kafka Connect copies every
	// write there and deletes there first (ConnectorOffsetBackingStore.set,
	// KAFKA-15018), and lists its partitions with the connector's, but
	// reads a partition only from the connector's topic: its get lays the
	// connector store's answer over the worker's, and that answer holds
	// null for a key the connector's topic lacks (KafkaOffsetBackingStore.get),
	// so a partition found only here reads as no offset (observed on Kafka
	// Connect 4.3, internal/realstack TestRealOwnOffsetsTopicReads).
	// Empty when the connector has no topic of its own, or its own is the
	// worker's.
	FallbackTopic string
}

func (l Location) topic() string {
	if l.OffsetsTopic == "" {
		return DefaultOffsetsTopic
	}
	return l.OffsetsTopic
}

// fallback is the worker's topic behind the connector's own, "" when none.
func (l Location) fallback() string {
	if l.FallbackTopic == l.topic() {
		return ""
	}
	return l.FallbackTopic
}

// SourceOffsetsTopics returns where Kafka Connect keeps a source connector's
// offsets, given the worker's offsets topic (its offset.storage.topic) and
// the connector's configuration: the topic it reads first and writes, and
// the worker's topic behind it when the connector has one of its own
// (offsets.storage.topic, a distributed worker), "" otherwise.
func SourceOffsetsTopics(workerTopic string, config map[string]string) (primary, fallback string) {
	if workerTopic == "" {
		workerTopic = DefaultOffsetsTopic
	}
	own := strings.TrimSpace(config["offsets.storage.topic"])
	if own == "" || own == workerTopic {
		return workerTopic, ""
	}
	return own, workerTopic
}

// RESTReader is what the store needs of a Kafka Connect client to read:
// GET /connectors/{name}/offsets, its elements' bytes exactly as sent.
type RESTReader interface {
	ReadOffsets(ctx context.Context, connector string) ([]RESTOffset, error)
}

// RESTWriter is what the store needs of a Kafka Connect client to write:
// PATCH /connectors/{name}/offsets, and whether an error leaves the outcome
// unknown (a timeout or a lost connection: the write may have happened).
type RESTWriter interface {
	RESTReader
	AlterOffsets(ctx context.Context, connector string, body []RESTOffset) error
	OutcomeUnknown(err error) bool
}

// KafkaFunc returns the Kafka client of the cluster the connector's offsets
// topic or consumer group lives in; it is called only when a path needs it.
type KafkaFunc func() (*kgo.Client, error)

// Reader reads one connector's offsets by any path. It never writes.
type Reader struct {
	loc   Location
	rest  RESTReader
	kafka KafkaFunc
}

// NewReader returns the reader of the connector at loc. rest may be nil
// when no path reads through REST; kafka may be nil when none reads Kafka.
func NewReader(loc Location, rest RESTReader, kafka KafkaFunc) *Reader {
	return &Reader{loc: loc, rest: rest, kafka: kafka}
}

// Location returns where the reader reads.
func (r *Reader) Location() Location { return r.loc }

func (r *Reader) client() (*kgo.Client, error) {
	if r.kafka == nil {
		return nil, fmt.Errorf("the offsets of connector %q are kept in Kafka, and no Kafka cluster is given", r.loc.Connector)
	}
	return r.kafka()
}

// REST returns every position Kafka Connect's GET /offsets lists, parsed
// once (ParseREST); a partition with a null offset has no offset.
func (r *Reader) REST(ctx context.Context) ([]Position, error) {
	if r.rest == nil {
		return nil, fmt.Errorf("reading the offsets of %q: no Kafka Connect client", r.loc.Connector)
	}
	got, err := r.rest.ReadOffsets(ctx, r.loc.Connector)
	if err != nil {
		return nil, err
	}
	ps, err := ParseREST(r.loc.Sink, got)
	if err != nil {
		return nil, fmt.Errorf("reading the offsets of %q: %w", r.loc.Connector, err)
	}
	return ps, nil
}

// Topic reads the connector's offsets topic.
func (r *Reader) Topic(ctx context.Context) (*TopicSnapshot, error) {
	cl, err := r.client()
	if err != nil {
		return nil, err
	}
	return ReadTopic(ctx, cl, r.loc.topic())
}

// Topics reads the connector's offsets topic and, when it has a topic of
// its own, the worker's topic behind it (nil otherwise).
func (r *Reader) Topics(ctx context.Context) (primary, fallback *TopicSnapshot, err error) {
	cl, err := r.client()
	if err != nil {
		return nil, nil, err
	}
	if primary, err = ReadTopic(ctx, cl, r.loc.topic()); err != nil {
		return nil, nil, fmt.Errorf("reading the offsets of %q from topic %s: %w", r.loc.Connector, r.loc.topic(), err)
	}
	if f := r.loc.fallback(); f != "" {
		if fallback, err = ReadTopic(ctx, cl, f); err != nil {
			return nil, nil, fmt.Errorf("reading the offsets of %q from the worker's topic %s (behind its own %s): %w", r.loc.Connector, f, r.loc.topic(), err)
		}
	}
	return primary, fallback, nil
}

// Effective returns the connector's offsets as Kafka Connect reads them:
// the records of its offsets topic (its own when it has one, whatever the
// worker's topic behind it holds), in key order, each with its topic.
// Shadowed returns what the worker's topic holds in vain.
func Effective(connector string, primary *TopicSnapshot) []TopicRecord {
	var out []TopicRecord
	for _, r := range primary.Connector(connector) {
		out = append(out, TopicRecord{Record: r, Topic: primary.Topic})
	}
	return out
}

// Shadowed returns the connector's partitions that only the worker's topic
// behind its own (fallback) holds: Kafka Connect lists them but reads no
// offset for them (see Location.FallbackTopic), so its tasks start them
// anew. Nil when fallback is nil.
func Shadowed(connector string, primary, fallback *TopicSnapshot) []TopicRecord {
	if fallback == nil {
		return nil
	}
	var out []TopicRecord
	for _, r := range fallback.Connector(connector) {
		if _, ok := primary.Find(connector, r.Partition); !ok {
			out = append(out, TopicRecord{Record: r, Topic: fallback.Topic})
		}
	}
	return out
}

// TopicRecord is a record with the offsets topic it was read from.
type TopicRecord struct {
	Record
	Topic string
}

// Group reads the sink connector's consumer group with the log bounds of
// every partition of topics (see ReadSinkGroup).
func (r *Reader) Group(ctx context.Context, topics []string) (*SinkGroup, error) {
	cl, err := r.client()
	if err != nil {
		return nil, err
	}
	return ReadSinkGroup(ctx, kadm.NewClient(cl), r.loc.Group, topics)
}

// Read returns the current offsets of the partitions of want, in want's
// order, by the location's path; a partition with no offset has none.
func (r *Reader) Read(ctx context.Context, want []Position) ([]Position, error) {
	out := make([]Position, 0, len(want))
	switch r.loc.Via {
	case ViaREST:
		all, err := r.REST(ctx)
		if err != nil {
			return nil, err
		}
		for _, w := range want {
			out = append(out, Lookup(all, w))
		}
	case ViaTopic:
		// Kafka Connect reads only the connector's own topic, when it
		// has one (Location.FallbackTopic).
		snap, err := r.Topic(ctx)
		if err != nil {
			return nil, fmt.Errorf("reading the offsets of %q from topic %s: %w", r.loc.Connector, r.loc.topic(), err)
		}
		for _, w := range want {
			p := w
			p.Offset = nil
			if rec, ok := snap.Find(r.loc.Connector, w.SourcePartition); ok {
				off := rec.Offset
				p.Offset, p.Key = &off, rec.Key
			}
			out = append(out, p)
		}
	case ViaGroup:
		g, err := r.Group(ctx, topicsOf(want))
		if err != nil {
			return nil, err
		}
		for _, w := range want {
			p := w
			p.Committed = -1
			if o, ok := g.Lookup(w.Topic, w.Partition); ok {
				p.Committed = o.Committed
			}
			out = append(out, p)
		}
	default:
		return nil, fmt.Errorf("reading the offsets of %q: unknown path %q", r.loc.Connector, r.loc.Via)
	}
	return out, nil
}

// Members returns the members of the sink connector's consumer group.
func (r *Reader) Members(ctx context.Context, want []Position) ([]string, error) {
	g, err := r.Group(ctx, topicsOf(want))
	if err != nil {
		return nil, err
	}
	return g.Members, nil
}

func topicsOf(ps []Position) []string {
	seen := map[string]bool{}
	var topics []string
	for _, p := range ps {
		if p.Sink && !seen[p.Topic] {
			seen[p.Topic] = true
			topics = append(topics, p.Topic)
		}
	}
	return topics
}

// MaxAlterAttempts bounds the attempts of a REST write whose outcome was
// unknown (a Connect "request timed out" or a lost connection).
const MaxAlterAttempts = 3

// Writer reads and writes one connector's offsets. Only apply holds one.
type Writer struct {
	*Reader
	rest RESTWriter
}

// NewWriter returns the writer of the connector at loc; rest may be nil
// when the location's path is not REST.
func NewWriter(loc Location, rest RESTWriter, kafka KafkaFunc) *Writer {
	var rr RESTReader
	if rest != nil {
		rr = rest
	}
	return &Writer{Reader: NewReader(loc, rr, kafka), rest: rest}
}

// Write sets the offsets of ps by the location's path. The connector must
// be stopped with no task left (the caller makes sure). It returns what the
// operator should know beyond "written": a REST write whose answer was lost
// (a timeout, a lost connection) is judged by reading the offsets back —
// applied, or not applied and written again — and when they cannot be read
// back Write fails saying that the outcome is not known: it never writes
// again blind. A write to the offsets topic or the consumer group reads back
// itself.
func (w *Writer) Write(ctx context.Context, ps []Position) (string, error) {
	if len(ps) == 0 {
		return "", nil
	}
	switch w.loc.Via {
	case ViaREST:
		if w.rest == nil {
			return "", fmt.Errorf("writing the offsets of %q: no Kafka Connect client", w.loc.Connector)
		}
		body := RESTBody(ps)
		var notes []string
		for attempt := 1; ; attempt++ {
			err := w.rest.AlterOffsets(ctx, w.loc.Connector, body)
			if err == nil || !w.rest.OutcomeUnknown(err) || ctx.Err() != nil {
				return strings.Join(notes, "; "), err
			}
			lost := fmt.Sprintf("the answer to PATCH /connectors/%s/offsets was lost (%v)", w.loc.Connector, err)
			applied, rerr := w.findOut(ctx, ps)
			if rerr != nil {
				return strings.Join(notes, "; "), fmt.Errorf("%s, and the offsets could not be read back to find out whether it was applied: %w; whether it was applied is not known (offsetctl does not guess)", lost, rerr)
			}
			if applied {
				return strings.Join(append(notes, lost+"; read back: it was applied"), "; "), nil
			}
			notes = append(notes, lost+"; read back: it was not applied, written again")
			if attempt == MaxAlterAttempts {
				return strings.Join(notes, "; "), fmt.Errorf("%s; read back: it was not applied; gave up after %d attempts", lost, attempt)
			}
		}
	case ViaTopic:
		cl, err := w.client()
		if err != nil {
			return "", err
		}
		snap, fallback, err := w.Topics(ctx)
		if err != nil {
			return "", fmt.Errorf("before writing: %w", err)
		}
		return "", w.writeTopics(ctx, cl, snap, fallback, ps)
	case ViaGroup:
		cl, err := w.client()
		if err != nil {
			return "", err
		}
		changes := make([]SinkChange, 0, len(ps))
		for _, p := range ps {
			ch := SinkChange{Topic: p.Topic, Partition: p.Partition}
			if p.Committed >= 0 {
				n := p.Committed
				ch.Offset = &n
			}
			changes = append(changes, ch)
		}
		return "", CommitSinkGroup(ctx, kadm.NewClient(cl), w.loc.Group, changes)
	}
	return "", fmt.Errorf("writing the offsets of %q: unknown path %q", w.loc.Connector, w.loc.Via)
}

// findOutPatience is how long Write keeps reading back after a lost answer:
// while the worker cannot be read, and, for a source connector, while the
// offsets differ (a real worker's GET /offsets lists source offsets from an
// index it updates after PATCH answered; a sink's are its consumer group's,
// read at once).
const findOutPatience = 10 * time.Second

// findOut reads the offsets of ps back after a write whose answer was lost
// and tells whether the write was applied.
func (w *Writer) findOut(ctx context.Context, ps []Position) (bool, error) {
	deadline := time.Now().Add(findOutPatience)
	for {
		got, err := w.Read(ctx, ps)
		if err == nil {
			if len(Differences(ps, got)) == 0 {
				return true, nil
			}
			if w.loc.Sink || time.Now().After(deadline) {
				return false, nil
			}
		} else if time.Now().After(deadline) || ctx.Err() != nil {
			return false, err
		}
		if err := sleep.Ctx(ctx, 250*time.Millisecond); err != nil {
			return false, err
		}
	}
}

// writeTopics writes source offsets the way Kafka Connect's
// ConnectorOffsetBackingStore.set does (KAFKA-15018): with no topic behind
// the connector's, everything to its topic. With the worker's topic behind
// it: deletions first to the worker's topic (else the worker would read the
// partition there once it is gone from the connector's), then everything to
// the connector's topic (the one read first), then the new values to the
// worker's topic as well. A partition with no record in a topic is not
// tombstoned there.
func (w *Writer) writeTopics(ctx context.Context, cl *kgo.Client, snap, fallback *TopicSnapshot, ps []Position) error {
	var primary, fbDeletes, fbSets []SourceChange
	for _, p := range ps {
		ch := SourceChange{Partition: p.SourcePartition, Offset: p.Offset}
		_, inPrimary := snap.Find(w.loc.Connector, p.SourcePartition)
		inFallback := false
		if fallback != nil {
			_, inFallback = fallback.Find(w.loc.Connector, p.SourcePartition)
		}
		switch {
		case p.Offset != nil:
			primary = append(primary, ch)
			if fallback != nil {
				fbSets = append(fbSets, ch)
			}
		default:
			if inPrimary {
				primary = append(primary, ch)
			}
			if inFallback {
				fbDeletes = append(fbDeletes, ch)
			}
		}
	}
	if len(fbDeletes) > 0 {
		if _, err := WriteSource(ctx, cl, fallback, w.loc.Connector, fbDeletes); err != nil {
			return fmt.Errorf("deleting offsets from the worker's topic %s (behind the connector's own %s), before the connector's topic: %w", fallback.Topic, snap.Topic, err)
		}
	}
	if len(primary) > 0 {
		if _, err := WriteSource(ctx, cl, snap, w.loc.Connector, primary); err != nil {
			return err
		}
	}
	if len(fbSets) > 0 {
		// The worker's topic was written above only if deletions went
		// there: read it again so that keys and partitions are current.
		if len(fbDeletes) > 0 {
			var err error
			if fallback, err = ReadTopic(ctx, cl, fallback.Topic); err != nil {
				return fmt.Errorf("reading the worker's topic %s again: %w", w.loc.FallbackTopic, err)
			}
		}
		if _, err := WriteSource(ctx, cl, fallback, w.loc.Connector, fbSets); err != nil {
			return fmt.Errorf("the offsets were written to the connector's topic %s, which Kafka Connect reads first, but copying them to the worker's topic %s behind it (as Connect does) failed: %w", snap.Topic, fallback.Topic, err)
		}
	}
	return nil
}
