package offsets

import (
	"encoding/json"
	"fmt"
)

// Position is one partition's offset as the store reads and writes it: a
// sink topic-partition's committed offset (Committed -1: none) or a source
// partition's offset (Offset nil: none), with the offsets-topic key bytes
// when they are known.
type Position struct {
	Sink bool

	// A sink connector's topic-partition and committed offset.
	Topic     string
	Partition int32
	Committed int64

	// A source connector's partition, its offset, and the key the
	// offsets topic stores it under (nil when read through REST).
	Key             []byte
	SourcePartition Map
	Offset          *Map
}

// String names the partition for messages.
func (p Position) String() string {
	if p.Sink {
		return fmt.Sprintf("%s[%d]", p.Topic, p.Partition)
	}
	return "source partition " + p.SourcePartition.String()
}

// Value renders the offset for messages ("none" when there is none).
func (p Position) Value() string {
	if p.Sink {
		if p.Committed < 0 {
			return "none"
		}
		return fmt.Sprint(p.Committed)
	}
	if p.Offset == nil {
		return "none"
	}
	return p.Offset.String()
}

// SamePartition reports whether p and o name the same partition.
func (p Position) SamePartition(o Position) bool {
	if p.Sink != o.Sink {
		return false
	}
	if p.Sink {
		return p.Topic == o.Topic && p.Partition == o.Partition
	}
	return p.SourcePartition.Equal(o.SourcePartition)
}

// SameValue compares the offsets exactly (Map.Equal, int64).
func (p Position) SameValue(o Position) bool {
	if p.Sink {
		return p.Committed == o.Committed
	}
	if (p.Offset == nil) != (o.Offset == nil) {
		return false
	}
	return p.Offset == nil || p.Offset.Equal(*o.Offset)
}

// Lookup returns got's position for w's partition; one with no offset when
// got does not hold it.
func Lookup(got []Position, w Position) Position {
	for _, g := range got {
		if g.SamePartition(w) {
			return g
		}
	}
	none := w
	none.Committed, none.Offset = -1, nil
	return none
}

// Differences lists, for the operator, the positions of want whose offset
// in got differs; a partition missing from got counts as having none.
func Differences(want, got []Position) []string {
	var out []string
	for _, w := range want {
		g := Lookup(got, w)
		if !w.SameValue(g) {
			out = append(out, fmt.Sprintf("%s: expected %s, found %s", w, w.Value(), g.Value()))
		}
	}
	return out
}

// RESTOffset is one element of the body of Kafka Connect's GET and PATCH
// /connectors/{name}/offsets: the partition and the offset (null: none) as
// exact JSON.
type RESTOffset struct {
	Partition json.RawMessage
	Offset    json.RawMessage
}

// ParseREST reads a connector's offsets as Kafka Connect's REST API shows
// them, the one parser of those answers: sink partitions by ParseSinkREST
// (numbers given as strings accepted, as Connect accepts them), source
// partitions and offsets exactly (ParseMap). A null offset gives a position
// with no offset.
func ParseREST(sink bool, got []RESTOffset) ([]Position, error) {
	out := make([]Position, 0, len(got))
	for _, o := range got {
		if sink {
			topic, part, off, has, err := ParseSinkREST(o.Partition, o.Offset)
			if err != nil {
				return nil, err
			}
			p := Position{Sink: true, Topic: topic, Partition: part, Committed: -1}
			if has {
				p.Committed = off
			}
			out = append(out, p)
			continue
		}
		part, err := ParseMap(o.Partition)
		if err != nil {
			return nil, fmt.Errorf("partition from Kafka Connect: %w", err)
		}
		p := Position{SourcePartition: part}
		if len(o.Offset) > 0 && string(o.Offset) != "null" {
			off, err := ParseMap(o.Offset)
			if err != nil {
				return nil, fmt.Errorf("offset from Kafka Connect for %s: %w", part, err)
			}
			p.Offset = &off
		}
		out = append(out, p)
	}
	return out, nil
}

// RESTBody builds the body of PATCH /offsets that sets ps: sink partitions
// as {"kafka_topic","kafka_partition"} → {"kafka_offset"}, source partitions
// and offsets exactly; a position with no offset deletes it (null).
func RESTBody(ps []Position) []RESTOffset {
	body := make([]RESTOffset, 0, len(ps))
	for _, p := range ps {
		var o RESTOffset
		o.Offset = json.RawMessage("null")
		if p.Sink {
			part, _ := json.Marshal(struct {
				Topic     string `json:"kafka_topic"`
				Partition int32  `json:"kafka_partition"`
			}{p.Topic, p.Partition})
			o.Partition = part
			if p.Committed >= 0 {
				o.Offset = json.RawMessage(fmt.Sprintf(`{"kafka_offset":%d}`, p.Committed))
			}
		} else {
			o.Partition = json.RawMessage(p.SourcePartition.JSON())
			if p.Offset != nil {
				o.Offset = json.RawMessage(p.Offset.JSON())
			}
		}
		body = append(body, o)
	}
	return body
}
