package apply

import (
	"slices"
	"strings"

	"github.com/offsetctl/offsetctl/pkg/plan"
	"github.com/offsetctl/offsetctl/pkg/state"
)

// PlanResources names what applying p changes, for a backend that locks
// per resource (state.ResourceLocker): "connector CLUSTER/NAME" for each
// connector whose offsets an operation changes (CLUSTER the connect block,
// NAME the connector's name in Kafka Connect), "table DATABASE/TABLE" and
// "reconcile NAME" for each repair. It returns nil for a plan that is not
// made from the configuration (a rollback or restore plan): those lock the
// whole state.
func PlanResources(p *plan.Plan) []string {
	if !p.FromConfig() {
		return nil
	}
	var out []string
	for _, op := range p.Operations {
		if op.Status != plan.StatusChange {
			continue
		}
		out = append(out, planOpResources(p, &op)...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func planOpResources(p *plan.Plan, op *plan.Operation) []string {
	if op.Reconcile != nil || op.Kind == plan.KindReconcile {
		out := []string{"reconcile " + op.Name}
		if d := op.Reconcile; d != nil {
			out = append(out, "table "+strings.TrimPrefix(d.Sink, "database.")+"/"+d.SinkTable)
		}
		return out
	}
	if obs := findObservation(p, op.Connector); obs != nil {
		return []string{"connector " + strings.TrimPrefix(obs.Cluster, "connect.") + "/" + obs.Name}
	}
	return []string{"connector " + op.Connector}
}

// stateOpResources names what a recorded operation changed, as
// PlanResources names it; ok is false when the record does not say (an
// operation without connectors or rows), which counts as everything.
func stateOpResources(op *state.Operation) (out []string, ok bool) {
	for _, c := range op.Connectors {
		out = append(out, "connector "+c.ConnectCluster+"/"+c.Name)
	}
	if op.Kind == state.KindReconcile {
		out = append(out, "reconcile "+op.Name)
	}
	for _, imgs := range [][]state.Image{op.BeforeImages, op.After} {
		for _, im := range imgs {
			if im.Row != nil {
				out = append(out, "table "+im.Row.Database+"/"+im.Row.Table)
			}
		}
	}
	return out, len(out) > 0
}

// touches reports whether the recorded operation op changed one of the
// resources res (a record that does not say what it changed touches
// everything).
func touches(op *state.Operation, res []string) bool {
	got, ok := stateOpResources(op)
	if !ok {
		return true
	}
	for _, r := range got {
		if slices.Contains(res, r) {
			return true
		}
	}
	return false
}

// movedElsewhere reports whether the state, written since p was made, was
// written only by operations of other resources than p's: another pull
// request's apply on another connector, which changes nothing p observed.
// An operation of p's resources that was still running, or finished, when
// or after p was made counts against it, and so does any operation that
// does not say what it changed.
func movedElsewhere(st *state.State, p *plan.Plan) bool {
	res := PlanResources(p)
	if len(res) == 0 {
		return false
	}
	for i := range st.Operations {
		op := &st.Operations[i]
		if _, ok := stateOpResources(op); !ok {
			return false
		}
		if !touches(op, res) {
			continue
		}
		// CreatedAt is cut to the second: an operation that finished in
		// the second the plan was made counts as after it.
		if op.Finished.IsZero() || !op.Finished.Before(p.CreatedAt) {
			return false
		}
	}
	return true
}

// blocksPlan reports whether an unfinished operation of the state stops p:
// one of p's resources, or one that does not say what it changed. An
// unfinished operation of another connector (another apply running in
// parallel under its own resource lock, or one that died there) does not.
func blocksPlan(u *state.Operation, p *plan.Plan) bool {
	res := PlanResources(p)
	if len(res) == 0 {
		return true
	}
	return touches(u, res)
}
