package offsets

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"slices"
	"time"
)

// BackupFormatVersion is the version of the backup file format this package
// writes, and the only one it reads.
const BackupFormatVersion = 1

// Backup is what `offsetctl offsets backup` saves: every connector's
// position, exactly, with where it was read, so that it can be restored
// byte for byte.
type Backup struct {
	// OffsetctlVersion is the version of the offsetctl that took it.
	OffsetctlVersion string
	// TakenAt is when it was taken (UTC, kept to the nanosecond).
	TakenAt time.Time
	// ConnectClusterID is the Kafka cluster id the Connect cluster
	// reported; may be empty.
	ConnectClusterID string
	// OffsetsTopic is the offsets topic the source offsets were read from.
	OffsetsTopic string
	// Connectors are ordered by name when written.
	Connectors []BackupConnector
}

// BackupConnector is one connector's position.
type BackupConnector struct {
	Name string
	// Type is "source" or "sink".
	Type  string
	Class string
	// Source holds a source connector's records, ordered by key bytes
	// when written.
	Source []BackupSourceOffset
	// Group is a sink connector's consumer group.
	Group string
	// Sink holds a sink connector's topic-partitions, ordered by topic
	// and partition when written.
	Sink []SinkOffset
}

// BackupSourceOffset is one source offset record.
type BackupSourceOffset struct {
	// Key is the offsets-topic key, exactly.
	Key []byte
	// Connector and Partition are decoded from Key.
	Connector string
	Partition Map
	// Offset is the value, exactly; nil for a deleted partition.
	Offset *Map
	// TopicPartition and TopicOffset say where the record was read; both
	// are -1 for an offset not read from the offsets topic (through Kafka
	// Connect's REST API), whose Key is then built the Java way (EncodeKey).
	TopicPartition int32
	TopicOffset    int64
}

// The connector types a backup holds.
const (
	ConnectorTypeSource = "source"
	ConnectorTypeSink   = "sink"
)

// SourceBackup returns the backup entry of a source connector from its
// records in a TopicSnapshot.
func SourceBackup(name, class string, recs []Record) BackupConnector {
	c := BackupConnector{Name: name, Type: ConnectorTypeSource, Class: class, Source: make([]BackupSourceOffset, 0, len(recs))}
	for _, r := range recs {
		o := BackupSourceOffset{
			Key: bytes.Clone(r.Key), Connector: r.Connector, Partition: r.Partition,
			TopicPartition: r.TopicPartition, TopicOffset: r.TopicOffset,
		}
		if !r.Tombstone {
			off := r.Offset
			o.Offset = &off
		}
		c.Source = append(c.Source, o)
	}
	return c
}

// SinkBackup returns the backup entry of a sink connector from its group.
// A nil group gives an entry that MarshalBackup refuses (no group).
func SinkBackup(name, class string, g *SinkGroup) BackupConnector {
	c := BackupConnector{Name: name, Type: ConnectorTypeSink, Class: class}
	if g != nil {
		c.Group, c.Sink = g.Group, slices.Clone(g.Offsets)
	}
	return c
}

// ErrBackupChecksum marks a backup whose content does not match its
// checksum: it was edited or damaged.
var ErrBackupChecksum = errors.New("backup checksum mismatch")

// ErrBackupVersion marks a backup of a format version this offsetctl does
// not read.
var ErrBackupVersion = errors.New("unsupported backup format_version")

// validate checks the invariants a backup must hold before it is written
// or after it is read.
func (b *Backup) validate() error {
	if b.TakenAt.IsZero() {
		return errors.New("taken_at is missing")
	}
	names := map[string]bool{}
	for _, c := range b.Connectors {
		if c.Name == "" {
			return errors.New("a connector has an empty name")
		}
		if names[c.Name] {
			return fmt.Errorf("connector %q appears twice", c.Name)
		}
		names[c.Name] = true
		switch c.Type {
		case ConnectorTypeSource:
			if c.Group != "" || len(c.Sink) > 0 {
				return fmt.Errorf("connector %q: a source connector has no consumer group or sink offsets", c.Name)
			}
			keys := map[string]bool{}
			for _, o := range c.Source {
				if err := o.validate(c.Name); err != nil {
					return fmt.Errorf("connector %q: %w", c.Name, err)
				}
				if keys[string(o.Key)] {
					return fmt.Errorf("connector %q: key %s appears twice", c.Name, quoteBytes(o.Key))
				}
				keys[string(o.Key)] = true
			}
		case ConnectorTypeSink:
			if len(c.Source) > 0 {
				return fmt.Errorf("connector %q: a sink connector has no source offsets", c.Name)
			}
			if c.Group == "" {
				return fmt.Errorf("connector %q: the consumer group of a sink connector is missing", c.Name)
			}
			type tp struct {
				t string
				p int32
			}
			seen := map[tp]bool{}
			for _, o := range c.Sink {
				if o.Topic == "" || o.Partition < 0 {
					return fmt.Errorf("connector %q: sink offset with topic %q partition %d is not a topic-partition", c.Name, o.Topic, o.Partition)
				}
				if seen[tp{o.Topic, o.Partition}] {
					return fmt.Errorf("connector %q: %s partition %d appears twice", c.Name, o.Topic, o.Partition)
				}
				seen[tp{o.Topic, o.Partition}] = true
				if o.Committed < -1 {
					return fmt.Errorf("connector %q: %s partition %d: committed offset %d is invalid (-1 means none)", c.Name, o.Topic, o.Partition, o.Committed)
				}
			}
		default:
			return fmt.Errorf("connector %q: type %q is neither %q nor %q", c.Name, c.Type, ConnectorTypeSource, ConnectorTypeSink)
		}
	}
	return nil
}

func (o BackupSourceOffset) validate(connector string) error {
	name, partition, err := DecodeKey(o.Key)
	if err != nil {
		return fmt.Errorf("key %s: %w", quoteBytes(o.Key), err)
	}
	if name != o.Connector || name != connector {
		return fmt.Errorf("key %s belongs to connector %q, the entry says %q", quoteBytes(o.Key), name, o.Connector)
	}
	if !partition.Equal(o.Partition) {
		return fmt.Errorf("key %s holds partition %s, the entry says %s", quoteBytes(o.Key), partition, o.Partition)
	}
	if notRead := o.TopicPartition == -1 && o.TopicOffset == -1; !notRead && (o.TopicPartition < 0 || o.TopicOffset < 0) {
		return fmt.Errorf("key %s: read position partition %d offset %d is invalid", quoteBytes(o.Key), o.TopicPartition, o.TopicOffset)
	}
	return nil
}

// sorted returns a copy of b with connectors and their offsets in the
// canonical order.
func (b *Backup) sorted() *Backup {
	out := *b
	out.TakenAt = b.TakenAt.UTC()
	out.Connectors = slices.Clone(b.Connectors)
	slices.SortFunc(out.Connectors, func(x, y BackupConnector) int { return cmp.Compare(x.Name, y.Name) })
	for i := range out.Connectors {
		c := &out.Connectors[i]
		c.Source = slices.Clone(c.Source)
		slices.SortFunc(c.Source, func(x, y BackupSourceOffset) int { return bytes.Compare(x.Key, y.Key) })
		c.Sink = slices.Clone(c.Sink)
		slices.SortFunc(c.Sink, func(x, y SinkOffset) int {
			return cmp.Or(cmp.Compare(x.Topic, y.Topic), cmp.Compare(x.Partition, y.Partition))
		})
	}
	return &out
}
