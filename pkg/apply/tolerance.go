package apply

import (
	"fmt"
	"strings"

	"github.com/offsetctl/offsetctl/pkg/config"
	"github.com/offsetctl/offsetctl/pkg/offsets"
	"github.com/offsetctl/offsetctl/pkg/plan"
	"github.com/offsetctl/offsetctl/pkg/state"
)

// judgeMoves compares the plan's observations of the connectors at addrs
// with now and returns the moves that refuse the plan.
//
// A connector that appeared or vanished, changed state or configuration
// refuses, as before. A live position that moved (a running connector's
// committed offsets) does not by itself: staleness is what the reviewer
// approved, not the position. The operations are computed again from the
// configuration and the world now (plan.Rebase) and judged against the
// reviewed ones (plan.Judge): same targets, preconditions holding, risk
// inside the reviewed bounds. A plan not made from the configuration (a
// rollback or restore plan) cannot be computed again and refuses on any
// move.
func judgeMoves(cfg *config.Config, p *plan.Plan, todo []*plan.Operation, addrs []string, now map[string]*plan.ConnectorObservation) ([]Move, error) {
	var hard, soft []Move
	for _, addr := range addrs {
		planned := findObservation(p, addr)
		if planned == nil {
			return nil, fmt.Errorf("the plan changes %s but holds no observation of it: it is damaged; make a new plan", addr)
		}
		for _, m := range compareObservations(planned, now[addr]) {
			if m.What == "offset" {
				soft = append(soft, m)
			} else {
				hard = append(hard, m)
			}
		}
	}
	if len(hard) > 0 || (len(soft) > 0 && !p.FromConfig()) {
		return append(hard, soft...), nil
	}
	if len(soft) == 0 {
		return nil, nil
	}
	drifts := rebaseDrifts(cfg, p, todo, now)
	if len(drifts) == 0 {
		return nil, nil
	}
	out := soft
	for _, d := range drifts {
		out = append(out, Move{Connector: connectorOf(todo, d.Operation), What: "reviewed", Detail: d.String()})
	}
	return out, nil
}

// rebaseDrifts computes the operations of todo again with the connectors
// observed now and lists how they leave what was reviewed.
func rebaseDrifts(cfg *config.Config, p *plan.Plan, todo []*plan.Operation, now map[string]*plan.ConnectorObservation) []plan.Drift {
	ops, checks := plan.Rebase(cfg, p, now)
	var out []plan.Drift
	for _, rev := range todo {
		if isRepair(rev) {
			continue
		}
		var cur *plan.Operation
		for i := range ops {
			if ops[i].Address == rev.Address {
				cur = &ops[i]
			}
		}
		if cur == nil {
			out = append(out, plan.Drift{Operation: rev.Address, Reviewed: "this operation", Now: "the configuration makes no such operation"})
			continue
		}
		out = append(out, plan.Judge(cfg.Operation(rev.Name), rev, p.Checks, cur, checks)...)
	}
	return out
}

func connectorOf(todo []*plan.Operation, addr string) string {
	for _, op := range todo {
		if op.Address == addr {
			return op.Connector
		}
	}
	return ""
}

// rebaseOnSettled takes the before-images at apply time: the connector is
// stopped and its offsets (cur, read for the partitions of r.before) no
// longer move. When they moved since the plan, the operation is computed
// again from them and judged against the reviewed one; within the reviewed
// bounds, the run writes the recomputed changes and records cur as the
// before-images, otherwise it refuses showing reviewed vs now.
func (r *opRun) rebaseOnSettled(cur []offsets.Position) error {
	moved := offsets.Differences(r.before, cur)
	if len(moved) == 0 {
		return nil
	}
	refuse := func(why string) error {
		return fmt.Errorf("%w: the offsets of %q moved since the plan (%s); %s; nothing was written",
			ErrStalePlan, r.c.name, strings.Join(moved, "; "), why)
	}
	if r.cfg == nil || !r.p.FromConfig() || r.op.Kind != plan.KindOffsets {
		return refuse("this plan cannot be computed again from the configuration")
	}
	obs := *r.now
	obs.Sink = append([]plan.SinkPartition(nil), r.now.Sink...)
	obs.Source = append([]plan.SourceOffset(nil), r.now.Source...)
	for _, e := range cur {
		if e.Sink {
			for i := range obs.Sink {
				if obs.Sink[i].Topic == e.Topic && obs.Sink[i].Partition == e.Partition {
					obs.Sink[i].Committed = e.Committed
					// The log grew at least to what was consumed.
					obs.Sink[i].LogEnd = max(obs.Sink[i].LogEnd, e.Committed)
				}
			}
			continue
		}
		found := false
		for i := range obs.Source {
			if obs.Source[i].Partition.Equal(e.SourcePartition) {
				found = true
				if e.Offset == nil {
					obs.Source = append(obs.Source[:i], obs.Source[i+1:]...)
				} else {
					obs.Source[i].Offset = *e.Offset
				}
				break
			}
		}
		if !found && e.Offset != nil {
			obs.Source = append(obs.Source, plan.SourceOffset{Key: e.Key, Partition: e.SourcePartition, Offset: *e.Offset})
		}
	}
	ops, checks := plan.Rebase(r.cfg, r.p, map[string]*plan.ConnectorObservation{r.op.Connector: &obs})
	var now *plan.Operation
	for i := range ops {
		if ops[i].Address == r.op.Address {
			now = &ops[i]
		}
	}
	if now == nil {
		return refuse("the configuration no longer makes " + r.op.Address)
	}
	if drifts := plan.Judge(r.cfg.Operation(r.op.Name), r.op, r.p.Checks, now, checks); len(drifts) > 0 {
		var ds []string
		for _, d := range drifts {
			ds = append(ds, d.String())
		}
		return refuse("computed again from the offsets found at the stop, it leaves what was reviewed: " + strings.Join(ds, "; "))
	}
	before, after := changeEntries(now)
	r.before, r.after = before, after
	c := r.c
	r.j.update(r.serial, func(op *state.Operation) {
		op.BeforeImages = images(before, c.name, c.cluster, c.group)
		op.After = images(after, c.name, c.cluster, c.group)
	})
	r.a.emit(Warning{Operation: r.op.Address, Connector: c.name, Message: fmt.Sprintf(
		"the connector moved on since the plan (%s); computed again from the offsets at the stop, the operation stays within what was reviewed: its before-images are the offsets found at the stop",
		strings.Join(moved, "; "))})
	return nil
}
