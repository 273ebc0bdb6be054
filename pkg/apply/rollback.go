package apply

import (
	"context"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/offsetctl/offsetctl/pkg/config"
	"github.com/offsetctl/offsetctl/pkg/offsets"
	"github.com/offsetctl/offsetctl/pkg/plan"
	"github.com/offsetctl/offsetctl/pkg/state"
)

// PlanInfo is what a built plan records about its making.
type PlanInfo struct {
	OffsetctlVersion string
	Now              time.Time
}

// RollbackCandidate picks the operation `offsetctl rollback` undoes: serial
// when not 0, else the most recent operation called name when name is set,
// else the most recent unfinished operation (in_progress, needs_rollback),
// else the most recent applied (or incomplete) operation that is not itself
// a rollback (a rollback is undone only when named, so two rollbacks in a
// row do not flip the offsets back).
func RollbackCandidate(st *state.State, serial uint64, name string) (*state.Operation, error) {
	var op *state.Operation
	var ok bool
	switch {
	case serial != 0:
		if op, ok = st.BySerial(serial); !ok {
			return nil, fmt.Errorf("the state has no operation %d (offsetctl state list shows them)", serial)
		}
	case name != "":
		if op, ok = st.ByName(name); !ok {
			return nil, fmt.Errorf("the state has no operation called %q (offsetctl state list shows them)", name)
		}
	default:
		// An unfinished operation first: it is what needs undoing.
		for i := len(st.Operations) - 1; i >= 0; i-- {
			o := &st.Operations[i]
			if o.Status == state.StatusInProgress || o.Status == state.StatusNeedsRollback {
				return o, nil
			}
		}
		// Else the last applied change; a rollback is only undone when
		// named, so that running rollback twice does not flip back.
		for i := len(st.Operations) - 1; i >= 0; i-- {
			o := &st.Operations[i]
			if (o.Status == state.StatusApplied || o.Status == state.StatusIncomplete) && o.Kind != state.KindRollback && !o.Kind.Record() {
				return o, nil
			}
		}
		return nil, fmt.Errorf("%w: no operation in the state is applied (and not rolled back) or unfinished", ErrNothingToRollback)
	}
	if op.Kind.Record() {
		return nil, fmt.Errorf("%w: operation %d (%s) is a %s: a record of what was observed or rehearsed, which changed nothing to roll back", ErrNothingToRollback, op.Serial, op.Name, op.Kind)
	}
	if !undoable(op.Status) {
		what := map[state.Status]string{
			state.StatusFailed:     "it failed and left nothing changed",
			state.StatusRolledBack: fmt.Sprintf("it was rolled back already by operation %d", op.RolledBackBy),
		}[op.Status]
		return nil, fmt.Errorf("%w: operation %d (%s) is %s: %s", ErrNothingToRollback, op.Serial, op.Name, op.Status, what)
	}
	return op, nil
}

func undoable(s state.Status) bool {
	return s == state.StatusApplied || s == state.StatusIncomplete || s == state.StatusInProgress || s == state.StatusNeedsRollback
}

// RollbackPlan builds the plan that puts back the before-images of the
// operations targets: one operation each, kind rollback, address rollback.N,
// on the connector the target touched, observed now through observe. The
// targets must touch distinct connectors. When the offsets moved since a
// target wrote them (the connector ran), a warning check says what the
// rollback overwrites. It is applied like any plan, with the same checks.
func RollbackPlan(ctx context.Context, cfg *config.Config, st *state.State, targets []*state.Operation, observe ObserveFunc, info PlanInfo) (*plan.Plan, error) {
	if len(targets) == 0 {
		return nil, fmt.Errorf("%w: no operation given", ErrNothingToRollback)
	}
	if p, ok, err := repairRollbackPlan(cfg, st, targets, info); ok {
		return p, err
	}
	blocks := make([]*config.Connector, len(targets))
	var addrs []string
	seen := map[string]uint64{}
	for i, target := range targets {
		if len(target.Connectors) != 1 {
			return nil, fmt.Errorf("operation %d touched %d connectors; rollback handles operations of one connector", target.Serial, len(target.Connectors))
		}
		sc := target.Connectors[0]
		blk := connectorByName(cfg, sc.Name, sc.ConnectCluster)
		if blk == nil {
			return nil, fmt.Errorf("operation %d changed connector %q on connect.%s, which the configuration no longer declares: add its connector block back to roll it back", target.Serial, sc.Name, sc.ConnectCluster)
		}
		if other, dup := seen[blk.Addr()]; dup {
			return nil, fmt.Errorf("operations %d and %d both changed connector %q: roll them back one at a time, the latest first", other, target.Serial, sc.Name)
		}
		seen[blk.Addr()] = target.Serial
		blocks[i] = blk
		addrs = append(addrs, blk.Addr())
	}
	observed, err := observe(ctx, cfg, addrs)
	if err != nil {
		return nil, fmt.Errorf("observing %s: %w", strings.Join(addrs, ", "), err)
	}
	var obsList []plan.ConnectorObservation
	var ops []plan.Operation
	var checks []plan.Check
	for i, target := range targets {
		blk := blocks[i]
		obs := observed[blk.Addr()]
		if obs == nil || !obs.Exists {
			return nil, fmt.Errorf("connector %q (%s) does not exist on %s: create it (STOPPED) before rolling back its offsets", blk.ConnectorName, blk.Addr(), blk.Connect.Addr())
		}
		want, err := fromImages(target.BeforeImages)
		if err != nil {
			return nil, fmt.Errorf("operation %d: %w", target.Serial, err)
		}
		op := plan.Operation{
			Address: fmt.Sprintf("rollback.%d", target.Serial), Name: "rollback of " + target.Name, Kind: plan.KindRollback,
			Connector: blk.Addr(), Reason: fmt.Sprintf("roll back operation %d (%s, %s)", target.Serial, target.Name, target.Status),
			Status: plan.StatusChange, Method: obs.WriteVia, AllowSkipRecords: -1,
		}
		op.Changes = changesTo(obs, want)
		for _, ch := range op.Changes {
			if ch.Action == plan.ActionDelete && ch.Source != nil {
				// The operation created this partition's offset (copy_from
				// onto a new connector, say): undoing it deletes the offset.
				checks = append(checks, plan.Check{Severity: plan.SeverityWarning, Code: "rollback_deletes_offset", Operation: op.Address,
					Message: fmt.Sprintf("partition %s had no offset before operation %d: the rollback deletes it, so %q starts over (a new snapshot, per its snapshot.mode) when it next runs", ch.Source.Partition, target.Serial, obs.Name)})
			}
		}
		if target.Status == state.StatusApplied {
			if written, err := fromImages(target.After); err == nil {
				checks = append(checks, movedSinceApply(obs, target.Serial, op.Address, written, want)...)
			}
		}
		if !hasChange(op.Changes) && target.Status == state.StatusApplied {
			op.Status = plan.StatusNoChange
		}
		obsList = append(obsList, *obs)
		ops = append(ops, op)
	}
	return assemble(cfg, st, obsList, ops, checks, info)
}

// movedSinceApply says, for each partition whose offset moved since the
// operation serial wrote it (the connector ran), what the rollback does with
// the newer offset: overwrite it with the before-image (a warning), or leave
// it, when the connector already moved it back to the before-image (ok: the
// rollback has nothing to write there, and must not claim it overwrites).
func movedSinceApply(obs *plan.ConnectorObservation, serial uint64, addr string, written, before []entry) []plan.Check {
	var out []plan.Check
	cur := currentEntries(obs, written)
	for i, w := range written {
		c := cur[i]
		if w.sameValue(c) {
			continue
		}
		b := lookupEntry(before, w)
		if b.sameValue(c) {
			out = append(out, plan.Check{Severity: plan.SeverityOK, Code: "moved_since_apply", Operation: addr,
				Message: fmt.Sprintf("the connector ran since operation %d: %s is at %s again, its offset before that operation (operation %d wrote %s): the rollback leaves it as it is",
					serial, w, c.value(), serial, w.value())})
			continue
		}
		out = append(out, plan.Check{Severity: plan.SeverityWarning, Code: "moved_since_apply", Operation: addr,
			Message: fmt.Sprintf("the connector ran since operation %d: %s is at %s, not at the %s that operation wrote; the rollback overwrites %s with %s, its offset before that operation",
				serial, w, c.value(), w.value(), c.value(), b.value())})
	}
	return out
}

// RestorePlan builds the plan that restores the connectors of a backup file:
// one restore operation per connector of the backup that the configuration
// declares (others are named in a warning check). Every partition the backup
// holds is set to its backed-up offset; partitions it does not hold are left
// as they are (a warning names them).
func RestorePlan(ctx context.Context, cfg *config.Config, st *state.State, b *offsets.Backup, file string, observe ObserveFunc, info PlanInfo) (*plan.Plan, error) {
	var obsList []plan.ConnectorObservation
	var ops []plan.Operation
	var checks []plan.Check
	for _, bc := range b.Connectors {
		var blk *config.Connector
		n := 0
		for _, c := range cfg.Connectors {
			if c.ConnectorName == bc.Name {
				blk, n = c, n+1
			}
		}
		if n == 0 {
			checks = append(checks, plan.Check{Severity: plan.SeverityWarning, Code: "not_configured",
				Message: fmt.Sprintf("the backup holds connector %q, which no connector block declares: it is not restored", bc.Name)})
			continue
		}
		if n > 1 {
			return nil, fmt.Errorf("the backup's connector %q is declared by %d connector blocks (on different connect clusters): restore it with a configuration that declares it once", bc.Name, n)
		}
		obs, err := observeOne(ctx, cfg, blk, observe)
		if err != nil {
			return nil, err
		}
		var want []entry
		switch bc.Type {
		case offsets.ConnectorTypeSink:
			for _, so := range bc.Sink {
				if so.Committed >= 0 {
					want = append(want, entry{sink: true, topic: so.Topic, partition: so.Partition, committed: so.Committed})
				}
			}
		default:
			for _, so := range bc.Source {
				want = append(want, entry{key: so.Key, part: so.Partition, offset: so.Offset})
			}
		}
		if (bc.Type == offsets.ConnectorTypeSink) != (obs.Type == plan.Sink) {
			return nil, fmt.Errorf("the backup holds %q as a %s connector, but it is a %s connector now", bc.Name, bc.Type, obs.Type)
		}
		addr := fmt.Sprintf("restore.%s", blk.Name)
		op := plan.Operation{Address: addr, Name: fmt.Sprintf("restore %s from %s", blk.Name, filepath.Base(file)), Kind: plan.KindRestore,
			Connector: blk.Addr(), Reason: fmt.Sprintf("restore the offsets of %q from the backup %s taken %s", bc.Name, file, b.TakenAt.UTC().Format(time.RFC3339)),
			Status: plan.StatusChange, Method: obs.WriteVia, AllowSkipRecords: -1}
		op.Changes = changesTo(obs, want)
		if !hasChange(op.Changes) {
			op.Status = plan.StatusNoChange
		}
		for _, cur := range obs.Source {
			found := false
			for _, w := range want {
				found = found || w.part.Equal(cur.Partition)
			}
			if !found {
				checks = append(checks, plan.Check{Severity: plan.SeverityWarning, Code: "partition_not_in_backup", Operation: addr,
					Message: fmt.Sprintf("source partition %s has an offset now but none in the backup: it is left as it is", cur.Partition)})
			}
		}
		obsList = append(obsList, *obs)
		ops = append(ops, op)
	}
	if len(ops) == 0 {
		return nil, fmt.Errorf("%w: the backup %s holds no connector the configuration declares", ErrNothingToRollback, file)
	}
	return assemble(cfg, st, obsList, ops, checks, info)
}

func observeOne(ctx context.Context, cfg *config.Config, blk *config.Connector, observe ObserveFunc) (*plan.ConnectorObservation, error) {
	got, err := observe(ctx, cfg, []string{blk.Addr()})
	if err != nil {
		return nil, fmt.Errorf("observing %s: %w", blk.Addr(), err)
	}
	obs := got[blk.Addr()]
	if obs == nil || !obs.Exists {
		return nil, fmt.Errorf("connector %q (%s) does not exist on %s: create it (STOPPED) before restoring its offsets", blk.ConnectorName, blk.Addr(), blk.Connect.Addr())
	}
	return obs, nil
}

func assemble(cfg *config.Config, st *state.State, obs []plan.ConnectorObservation, ops []plan.Operation, checks []plan.Check, info PlanInfo) (*plan.Plan, error) {
	sort.Slice(obs, func(i, j int) bool { return obs[i].Address < obs[j].Address })
	p := &plan.Plan{OffsetctlVersion: info.OffsetctlVersion, CreatedAt: info.Now.UTC(), ConfigHash: cfg.Hash,
		Connectors: obs, Operations: ops, Checks: checks}
	if st != nil {
		p.State = plan.StateRef{Lineage: st.Lineage, Serial: st.Serial}
	}
	if _, err := plan.Marshal(p); err != nil {
		return nil, err
	}
	return p, nil
}

func hasChange(chs []plan.Change) bool {
	for _, ch := range chs {
		if ch.Action != plan.ActionNoOp {
			return true
		}
	}
	return false
}

// currentEntries returns obs's offsets for the partitions of want.
func currentEntries(obs *plan.ConnectorObservation, want []entry) []entry {
	var all []entry
	for _, sp := range obs.Sink {
		all = append(all, entry{sink: true, topic: sp.Topic, partition: sp.Partition, committed: sp.Committed})
	}
	for _, so := range obs.Source {
		off := so.Offset
		all = append(all, entry{key: so.Key, part: so.Partition, offset: &off})
	}
	out := make([]entry, 0, len(want))
	for _, w := range want {
		out = append(out, lookupEntry(all, w))
	}
	return out
}

// changesTo makes the changes that set obs's partitions to want.
func changesTo(obs *plan.ConnectorObservation, want []entry) []plan.Change {
	cur := currentEntries(obs, want)
	var out []plan.Change
	for i, w := range want {
		c := cur[i]
		if w.sink {
			var sp plan.SinkPartition
			for _, s := range obs.Sink {
				if s.Topic == w.topic && s.Partition == w.partition {
					sp = s
				}
			}
			sc := &plan.SinkChange{Topic: w.topic, Partition: w.partition, Before: c.committed, After: w.committed, Rollback: c.committed, LogStart: sp.LogStart, LogEnd: sp.LogEnd}
			from := c.committed
			if from < 0 {
				from = sp.LogStart
			}
			if w.committed >= 0 && w.committed < from {
				sc.Replays = from - w.committed
			} else if w.committed > from {
				sc.Skips = w.committed - from
			}
			action := plan.ActionUpdate
			switch {
			case c.committed == w.committed:
				action = plan.ActionNoOp
			case w.committed < 0:
				action = plan.ActionDelete
			case c.committed < 0:
				action = plan.ActionCreate
			}
			out = append(out, plan.Change{Action: action, Sink: sc})
			continue
		}
		key := w.key
		if len(c.key) > 0 {
			key = c.key
		}
		if len(key) == 0 {
			key = offsets.EncodeKey(obs.Name, w.part.JavaOrder())
		}
		sc := &plan.SourceChange{Key: key, Partition: w.part, Before: c.offset, After: w.offset, Rollback: c.offset}
		action := plan.ActionUpdate
		switch {
		case c.offset == nil && w.offset == nil, c.offset != nil && w.offset != nil && c.offset.Equal(*w.offset):
			action = plan.ActionNoOp
		case c.offset == nil:
			action = plan.ActionCreate
		case w.offset == nil:
			action = plan.ActionDelete
		}
		out = append(out, plan.Change{Action: action, Sink: nil, Source: sc})
	}
	return out
}
