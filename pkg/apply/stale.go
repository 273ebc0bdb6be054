package apply

import (
	"fmt"

	"github.com/offsetctl/offsetctl/pkg/plan"
)

// compareObservations lists what moved between the plan's observation of a
// connector and now: existence, state, configuration, and every observed
// offset (a sink's committed offsets; a source's partitions and offsets).
// Log start and end offsets are not compared: producers move them all the
// time, and they change nothing about what apply writes.
func compareObservations(planned, now *plan.ConnectorObservation) []Move {
	addr := planned.Address
	if now == nil || !now.Exists {
		if planned.Exists {
			return []Move{{Connector: addr, What: "exists", Detail: fmt.Sprintf("connector %q no longer exists", planned.Name)}}
		}
		return nil
	}
	if !planned.Exists {
		return []Move{{Connector: addr, What: "exists", Detail: fmt.Sprintf("connector %q exists now; it did not when planned", planned.Name)}}
	}
	var out []Move
	if planned.State != now.State {
		out = append(out, Move{Connector: addr, What: "state", Detail: fmt.Sprintf("state was %s, is %s", planned.State, now.State)})
	}
	if planned.ConfigHash != now.ConfigHash {
		out = append(out, Move{Connector: addr, What: "config", Detail: fmt.Sprintf("configuration changed (%s → %s)", short(planned.ConfigHash), short(now.ConfigHash))})
	}
	for _, sp := range planned.Sink {
		cur := int64(-1)
		for _, n := range now.Sink {
			if n.Topic == sp.Topic && n.Partition == sp.Partition {
				cur = n.Committed
			}
		}
		if cur != sp.Committed {
			out = append(out, Move{Connector: addr, What: "offset", Detail: fmt.Sprintf("%s[%d] committed offset was %s, is %s", sp.Topic, sp.Partition, offsetWord(sp.Committed), offsetWord(cur))})
		}
	}
	for _, n := range now.Sink {
		found := false
		for _, sp := range planned.Sink {
			found = found || (n.Topic == sp.Topic && n.Partition == sp.Partition)
		}
		if !found && n.Committed >= 0 {
			out = append(out, Move{Connector: addr, What: "offset", Detail: fmt.Sprintf("%s[%d] committed offset was not seen, is %d", n.Topic, n.Partition, n.Committed)})
		}
	}
	for _, so := range planned.Source {
		var cur *plan.SourceOffset
		for i := range now.Source {
			if now.Source[i].Partition.Equal(so.Partition) {
				cur = &now.Source[i]
			}
		}
		switch {
		case cur == nil:
			out = append(out, Move{Connector: addr, What: "offset", Detail: fmt.Sprintf("source partition %s had offset %s, has none now", so.Partition, so.Offset)})
		case !cur.Offset.Equal(so.Offset):
			out = append(out, Move{Connector: addr, What: "offset", Detail: fmt.Sprintf("source partition %s offset was %s, is %s", so.Partition, so.Offset, cur.Offset)})
		}
	}
	for _, n := range now.Source {
		found := false
		for _, so := range planned.Source {
			found = found || so.Partition.Equal(n.Partition)
		}
		if !found {
			out = append(out, Move{Connector: addr, What: "offset", Detail: fmt.Sprintf("source partition %s had no offset, has %s now", n.Partition, n.Offset)})
		}
	}
	return out
}

func offsetWord(n int64) string {
	if n < 0 {
		return "none"
	}
	return fmt.Sprint(n)
}
