package apply

import (
	"encoding/json"
	"fmt"

	"github.com/offsetctl/offsetctl/pkg/offsets"
	"github.com/offsetctl/offsetctl/pkg/plan"
	"github.com/offsetctl/offsetctl/pkg/state"
)

// entry is one partition's offset: a sink topic-partition's committed offset
// (-1: none) or a source partition's offset (nil: none).
type entry struct {
	sink      bool
	topic     string
	partition int32
	committed int64

	key    []byte
	part   offsets.Map
	offset *offsets.Map
}

func (e entry) String() string {
	if e.sink {
		return fmt.Sprintf("%s[%d]", e.topic, e.partition)
	}
	return "source partition " + e.part.String()
}

// value renders the offset for messages.
func (e entry) value() string {
	if e.sink {
		if e.committed < 0 {
			return "none"
		}
		return fmt.Sprint(e.committed)
	}
	if e.offset == nil {
		return "none"
	}
	return e.offset.String()
}

// samePartition reports whether e and o name the same partition.
func (e entry) samePartition(o entry) bool {
	if e.sink != o.sink {
		return false
	}
	if e.sink {
		return e.topic == o.topic && e.partition == o.partition
	}
	return e.part.Equal(o.part)
}

// sameValue compares offsets exactly (offsets.Map.Equal, int64).
func (e entry) sameValue(o entry) bool {
	if e.sink {
		return e.committed == o.committed
	}
	if (e.offset == nil) != (o.offset == nil) {
		return false
	}
	return e.offset == nil || e.offset.Equal(*o.offset)
}

// changeEntries returns the before and after entries of an operation's real
// changes (no-ops left out), in plan order.
func changeEntries(op *plan.Operation) (before, after []entry) {
	for _, ch := range op.Changes {
		if ch.Action == plan.ActionNoOp {
			continue
		}
		switch {
		case ch.Sink != nil:
			s := ch.Sink
			b := entry{sink: true, topic: s.Topic, partition: s.Partition, committed: s.Before}
			a := b
			a.committed = s.After
			before, after = append(before, b), append(after, a)
		case ch.Source != nil:
			s := ch.Source
			b := entry{key: s.Key, part: s.Partition, offset: s.Before}
			a := b
			a.offset = s.After
			before, after = append(before, b), append(after, a)
		}
	}
	return before, after
}

// images turns entries into state images.
func images(es []entry, name, cluster, group string) []state.Image {
	out := make([]state.Image, 0, len(es))
	for _, e := range es {
		img := state.Image{Connector: name, ConnectCluster: cluster}
		if e.sink {
			img.Sink = &state.SinkOffset{Group: group, Topic: e.topic, Partition: e.partition, Offset: e.committed}
		} else {
			so := &state.SourceOffset{Key: e.key, Partition: json.RawMessage(e.part.JSON())}
			if e.offset != nil {
				so.Offset = json.RawMessage(e.offset.JSON())
			}
			img.Source = so
		}
		out = append(out, img)
	}
	return out
}

// fromImages turns state images back into entries; row images are refused
// (reconcile repairs are not undone here).
func fromImages(imgs []state.Image) ([]entry, error) {
	var out []entry
	for i, img := range imgs {
		switch {
		case img.Sink != nil:
			out = append(out, entry{sink: true, topic: img.Sink.Topic, partition: img.Sink.Partition, committed: img.Sink.Offset})
		case img.Source != nil:
			part, err := offsets.ParseMap(img.Source.Partition)
			if err != nil {
				return nil, fmt.Errorf("before-image %d: the source partition is not an offset map: %w", i+1, err)
			}
			e := entry{key: img.Source.Key, part: part}
			if len(img.Source.Offset) > 0 && string(img.Source.Offset) != "null" {
				off, err := offsets.ParseMap(img.Source.Offset)
				if err != nil {
					return nil, fmt.Errorf("before-image %d: the source offset is not an offset map: %w", i+1, err)
				}
				e.offset = &off
			}
			out = append(out, e)
		default:
			return nil, fmt.Errorf("before-image %d is a row image: undoing reconcile repairs is not supported by apply", i+1)
		}
	}
	return out, nil
}

// diffEntries lists the entries of want whose value in got differs; a
// partition missing from got counts as having no offset.
func diffEntries(want, got []entry) []string {
	var out []string
	for _, w := range want {
		g := lookupEntry(got, w)
		if !w.sameValue(g) {
			out = append(out, fmt.Sprintf("%s: expected %s, found %s", w, w.value(), g.value()))
		}
	}
	return out
}

// lookupEntry returns got's value for w's partition (no offset when absent).
func lookupEntry(got []entry, w entry) entry {
	for _, g := range got {
		if g.samePartition(w) {
			return g
		}
	}
	none := w
	none.committed, none.offset = -1, nil
	return none
}
