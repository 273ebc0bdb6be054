package apply

import (
	"encoding/json"

	"github.com/offsetctl/offsetctl/pkg/offsets"
	"github.com/offsetctl/offsetctl/pkg/plan"
	"github.com/offsetctl/offsetctl/pkg/state"
)

// changeEntries returns the before and after positions of an operation's
// real changes (no-ops left out), in plan order.
func changeEntries(op *plan.Operation) (before, after []offsets.Position) {
	for _, ch := range op.Changes {
		if ch.Action == plan.ActionNoOp {
			continue
		}
		switch {
		case ch.Sink != nil:
			s := ch.Sink
			b := offsets.Position{Sink: true, Topic: s.Topic, Partition: s.Partition, Committed: s.Before}
			a := b
			a.Committed = s.After
			before, after = append(before, b), append(after, a)
		case ch.Source != nil:
			s := ch.Source
			b := offsets.Position{Key: s.Key, SourcePartition: s.Partition, Offset: s.Before}
			a := b
			a.Offset = s.After
			before, after = append(before, b), append(after, a)
		}
	}
	return before, after
}

// images turns positions into state images.
func images(es []offsets.Position, name, cluster, group string) []state.Image {
	out := make([]state.Image, 0, len(es))
	for _, e := range es {
		img := state.Image{Connector: name, ConnectCluster: cluster}
		if e.Sink {
			img.Sink = &state.SinkOffset{Group: group, Topic: e.Topic, Partition: e.Partition, Offset: e.Committed}
		} else {
			so := &state.SourceOffset{Key: e.Key, Partition: json.RawMessage(e.SourcePartition.JSON())}
			if e.Offset != nil {
				so.Offset = json.RawMessage(e.Offset.JSON())
			}
			img.Source = so
		}
		out = append(out, img)
	}
	return out
}
