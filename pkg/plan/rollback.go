package plan

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/offsetctl/offsetctl/pkg/config"
	"github.com/offsetctl/offsetctl/pkg/offsets"
	"github.com/offsetctl/offsetctl/pkg/state"
)

// ErrNothingToRollback: the operation named has nothing a rollback could
// restore.
var ErrNothingToRollback = errors.New("nothing to roll back")

// ObserveFunc observes the connectors at addrs (connector.NAME) as planning
// does; (*Planner).Observe has this signature. Rollback and restore plans
// observe through it; apply's staleness check re-observes through it.
type ObserveFunc func(ctx context.Context, cfg *config.Config, addrs []string) (map[string]*ConnectorObservation, error)

// BuildInfo is what a built plan records about its making.
type BuildInfo struct {
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
func RollbackPlan(ctx context.Context, cfg *config.Config, st *state.State, targets []*state.Operation, observe ObserveFunc, info BuildInfo) (*Plan, error) {
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
		blk := connectorNamed(cfg, sc.Name, sc.ConnectCluster)
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
	var obsList []ConnectorObservation
	var ops []Operation
	var checks []Check
	for i, target := range targets {
		blk := blocks[i]
		obs := observed[blk.Addr()]
		if (obs == nil || !obs.Exists) && target.Connectors[0].SavedConfig != nil {
			return nil, fmt.Errorf("connector %q (%s) does not exist on %s: operation %d deleted it to change its offsets (delete_recreate) and did not re-create it; apply the same plan file again: it re-creates the connector from the configuration saved in the state and settles operation %d (or re-create it by hand from offsetctl state show %d -json, then roll back)",
				blk.ConnectorName, blk.Addr(), blk.Connect.Addr(), target.Serial, target.Serial, target.Serial)
		}
		if obs == nil || !obs.Exists {
			return nil, fmt.Errorf("connector %q (%s) does not exist on %s: create it (STOPPED) before rolling back its offsets", blk.ConnectorName, blk.Addr(), blk.Connect.Addr())
		}
		want, err := ImagePositions(target.BeforeImages)
		if err != nil {
			return nil, fmt.Errorf("operation %d: %w", target.Serial, err)
		}
		op := Operation{
			Address: fmt.Sprintf("rollback.%d", target.Serial), Name: "rollback of " + target.Name, Kind: KindRollback,
			Connector: blk.Addr(), Reason: fmt.Sprintf("roll back operation %d (%s, %s)", target.Serial, target.Name, target.Status),
			Status: StatusChange, Method: obs.WriteVia, AllowSkipRecords: -1,
		}
		op.Changes = changesTo(obs, want)
		if target.Connectors[0].Halt == string(HaltDeleteRecreate) && !obs.CanStop() {
			// Rolled back the way it was applied.
			op.Halt = HaltDeleteRecreate
			checks = append(checks, Check{Severity: SeverityWarning, Code: "delete_recreate", Operation: op.Address, Message: fmt.Sprintf(
				"connector %q will be DELETED and RE-CREATED, as operation %d did (Kafka Connect %s has no stop endpoint): rollback saves its exact configuration in the state, deletes it (its offsets stay), writes the before-images, and re-creates it with the saved configuration",
				obs.Name, target.Serial, obs.WorkerVersion)})
		}
		for _, ch := range op.Changes {
			if ch.Action == ActionDelete && ch.Source != nil {
				// The operation created this partition's offset (copy_from
				// onto a new connector, say): undoing it deletes the offset.
				checks = append(checks, Check{Severity: SeverityWarning, Code: "rollback_deletes_offset", Operation: op.Address,
					Message: fmt.Sprintf("partition %s had no offset before operation %d: the rollback deletes it, so %q starts over (a new snapshot, per its snapshot.mode) when it next runs", ch.Source.Partition, target.Serial, obs.Name)})
			}
		}
		if target.Status == state.StatusApplied {
			if written, err := ImagePositions(target.After); err == nil {
				checks = append(checks, movedSinceApply(obs, target.Serial, op.Address, written, want)...)
			}
		}
		if !hasChange(op.Changes) && target.Status == state.StatusApplied {
			op.Status = StatusNoChange
		}
		obsList = append(obsList, *obs)
		ops = append(ops, op)
	}
	return assemble(cfg, st, obsList, ops, checks, info, nil)
}

// movedSinceApply says, for each partition whose offset moved since the
// operation serial wrote it (the connector ran), what the rollback does with
// the newer offset: overwrite it with the before-image (a warning), or leave
// it, when the connector already moved it back to the before-image (ok: the
// rollback has nothing to write there, and must not claim it overwrites).
func movedSinceApply(obs *ConnectorObservation, serial uint64, addr string, written, before []offsets.Position) []Check {
	var out []Check
	cur := obs.Positions(written)
	for i, w := range written {
		c := cur[i]
		if w.SameValue(c) {
			continue
		}
		b := offsets.Lookup(before, w)
		if b.SameValue(c) {
			out = append(out, Check{Severity: SeverityOK, Code: "moved_since_apply", Operation: addr,
				Message: fmt.Sprintf("the connector ran since operation %d: %s is at %s again, its offset before that operation (operation %d wrote %s): the rollback leaves it as it is",
					serial, w, c.Value(), serial, w.Value())})
			continue
		}
		out = append(out, Check{Severity: SeverityWarning, Code: "moved_since_apply", Operation: addr,
			Message: fmt.Sprintf("the connector ran since operation %d: %s is at %s, not at the %s that operation wrote; the rollback overwrites %s with %s, its offset before that operation",
				serial, w, c.Value(), w.Value(), c.Value(), b.Value())})
	}
	return out
}

// RestorePlan builds the plan that restores the connectors of a backup file:
// one restore operation per connector of the backup that the configuration
// declares (others are named in a warning check). Every partition the backup
// holds is set to its backed-up offset; partitions it does not hold are left
// as they are (a warning names them). The plan names the backup file in its
// restore_files, with what it holds for the connectors restored, so that
// VerifyBuilt can compute it again from that file.
func RestorePlan(ctx context.Context, cfg *config.Config, st *state.State, b *offsets.Backup, file string, observe ObserveFunc, info BuildInfo) (*Plan, error) {
	restored := map[string]bool{}
	var obsList []ConnectorObservation
	var ops []Operation
	var checks []Check
	for _, bc := range b.Connectors {
		var blk *config.Connector
		n := 0
		for _, c := range cfg.Connectors {
			if c.ConnectorName == bc.Name {
				blk, n = c, n+1
			}
		}
		if n == 0 {
			checks = append(checks, Check{Severity: SeverityWarning, Code: "not_configured",
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
		var want []offsets.Position
		switch bc.Type {
		case offsets.ConnectorTypeSink:
			for _, so := range bc.Sink {
				if so.Committed >= 0 {
					want = append(want, offsets.Position{Sink: true, Topic: so.Topic, Partition: so.Partition, Committed: so.Committed})
				}
			}
		default:
			for _, so := range bc.Source {
				want = append(want, offsets.Position{Key: so.Key, SourcePartition: so.Partition, Offset: so.Offset})
			}
		}
		if (bc.Type == offsets.ConnectorTypeSink) != (obs.Type == Sink) {
			return nil, fmt.Errorf("the backup holds %q as a %s connector, but it is a %s connector now", bc.Name, bc.Type, obs.Type)
		}
		addr := fmt.Sprintf("restore.%s", blk.Name)
		op := Operation{Address: addr, Name: fmt.Sprintf("restore %s from %s", blk.Name, filepath.Base(file)), Kind: KindRestore,
			Connector: blk.Addr(), Reason: fmt.Sprintf("restore the offsets of %q from the backup %s taken %s", bc.Name, file, b.TakenAt.UTC().Format(time.RFC3339)),
			Status: StatusChange, Method: obs.WriteVia, AllowSkipRecords: -1}
		op.Changes = changesTo(obs, want)
		if !hasChange(op.Changes) {
			op.Status = StatusNoChange
		}
		for _, cur := range obs.Source {
			found := false
			for _, w := range want {
				found = found || w.SourcePartition.Equal(cur.Partition)
			}
			if !found {
				checks = append(checks, Check{Severity: SeverityWarning, Code: "partition_not_in_backup", Operation: addr,
					Message: fmt.Sprintf("source partition %s has an offset now but none in the backup: it is left as it is", cur.Partition)})
			}
		}
		obsList = append(obsList, *obs)
		ops = append(ops, op)
		restored[bc.Name] = true
	}
	if len(ops) == 0 {
		return nil, fmt.Errorf("%w: the backup %s holds no connector the configuration declares", ErrNothingToRollback, file)
	}
	// The plan names the backup it restores, so that apply of the saved
	// plan can compute it again from that file (VerifyBuilt).
	data := restoreData(b)
	for name := range data.Source {
		if !restored[name] {
			delete(data.Source, name)
		}
	}
	for name := range data.Sink {
		if !restored[name] {
			delete(data.Sink, name)
		}
	}
	return assemble(cfg, st, obsList, ops, checks, info, map[string]*RestoreData{file: data})
}

func observeOne(ctx context.Context, cfg *config.Config, blk *config.Connector, observe ObserveFunc) (*ConnectorObservation, error) {
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

func assemble(cfg *config.Config, st *state.State, obs []ConnectorObservation, ops []Operation, checks []Check, info BuildInfo, restores map[string]*RestoreData) (*Plan, error) {
	sort.Slice(obs, func(i, j int) bool { return obs[i].Address < obs[j].Address })
	p := &Plan{OffsetctlVersion: info.OffsetctlVersion, CreatedAt: info.Now.UTC(), ConfigHash: cfg.Hash,
		Connectors: obs, Operations: ops, Checks: checks, Restores: restores}
	if st != nil {
		p.State = StateRef{Lineage: st.Lineage, Serial: st.Serial}
	}
	if _, err := Marshal(p); err != nil {
		return nil, err
	}
	return p, nil
}

func hasChange(chs []Change) bool {
	for _, ch := range chs {
		if ch.Action != ActionNoOp {
			return true
		}
	}
	return false
}

// Positions returns the observed offsets of the partitions of want, in
// want's order (none for a partition not observed).
func (obs *ConnectorObservation) Positions(want []offsets.Position) []offsets.Position {
	var all []offsets.Position
	for _, sp := range obs.Sink {
		all = append(all, offsets.Position{Sink: true, Topic: sp.Topic, Partition: sp.Partition, Committed: sp.Committed})
	}
	for _, so := range obs.Source {
		off := so.Offset
		all = append(all, offsets.Position{Key: so.Key, SourcePartition: so.Partition, Offset: &off})
	}
	out := make([]offsets.Position, 0, len(want))
	for _, w := range want {
		out = append(out, offsets.Lookup(all, w))
	}
	return out
}

// changesTo makes the changes that set obs's partitions to want.
func changesTo(obs *ConnectorObservation, want []offsets.Position) []Change {
	cur := obs.Positions(want)
	var out []Change
	for i, w := range want {
		c := cur[i]
		if w.Sink {
			var sp SinkPartition
			for _, s := range obs.Sink {
				if s.Topic == w.Topic && s.Partition == w.Partition {
					sp = s
				}
			}
			sc := &SinkChange{Topic: w.Topic, Partition: w.Partition, Before: c.Committed, After: w.Committed, Rollback: c.Committed, LogStart: sp.LogStart, LogEnd: sp.LogEnd}
			from := c.Committed
			if from < 0 {
				from = sp.LogStart
			}
			if w.Committed >= 0 && w.Committed < from {
				sc.Replays = from - w.Committed
			} else if w.Committed > from {
				sc.Skips = w.Committed - from
			}
			action := ActionUpdate
			switch {
			case c.Committed == w.Committed:
				action = ActionNoOp
			case w.Committed < 0:
				action = ActionDelete
			case c.Committed < 0:
				action = ActionCreate
			}
			out = append(out, Change{Action: action, Sink: sc})
			continue
		}
		key := w.Key
		if len(c.Key) > 0 {
			key = c.Key
		}
		if len(key) == 0 {
			key = offsets.EncodeKey(obs.Name, w.SourcePartition.JavaOrder())
		}
		sc := &SourceChange{Key: key, Partition: w.SourcePartition, Before: c.Offset, After: w.Offset, Rollback: c.Offset}
		action := ActionUpdate
		switch {
		case c.Offset == nil && w.Offset == nil, c.Offset != nil && w.Offset != nil && c.Offset.Equal(*w.Offset):
			action = ActionNoOp
		case c.Offset == nil:
			action = ActionCreate
		case w.Offset == nil:
			action = ActionDelete
		}
		out = append(out, Change{Action: action, Sink: nil, Source: sc})
	}
	return out
}

// repairRollbackPlan builds the rollback plan of reconcile operations: one
// rollback.N operation each, with no connector. ok is false when the
// targets are not all reconcile operations.
func repairRollbackPlan(cfg *config.Config, st *state.State, targets []*state.Operation, info BuildInfo) (*Plan, bool, error) {
	n := 0
	for _, t := range targets {
		if t.Kind == state.KindReconcile {
			n++
		}
	}
	if n == 0 {
		return nil, false, nil
	}
	if n != len(targets) {
		return nil, true, errors.New("roll back repairs (reconcile operations) and offset changes separately")
	}
	var ops []Operation
	for _, t := range targets {
		rows := 0
		for _, im := range t.BeforeImages {
			if im.Row != nil {
				rows++
			}
		}
		if rows == 0 && (t.Status == state.StatusApplied || t.Status == state.StatusIncomplete) {
			return nil, true, fmt.Errorf("%w: operation %d (%s) wrote no sink rows (a snapshot_signal or report-only repair, or no drift left): there is nothing to put back", ErrNothingToRollback, t.Serial, t.Name)
		}
		ops = append(ops, Operation{Address: fmt.Sprintf("rollback.%d", t.Serial), Name: "rollback of " + t.Name, Kind: KindRollback,
			Reason: fmt.Sprintf("roll back operation %d (%s, %s): put back %d sink row(s) from their before-images", t.Serial, t.Name, t.Status, rows),
			Status: StatusChange, AllowSkipRecords: -1})
	}
	p, err := assemble(cfg, st, nil, ops, nil, info, nil)
	return p, true, err
}

// fromImages turns state images back into positions; row images are refused
// (reconcile repairs are not undone here).
func ImagePositions(imgs []state.Image) ([]offsets.Position, error) {
	var out []offsets.Position
	for i, img := range imgs {
		switch {
		case img.Sink != nil:
			out = append(out, offsets.Position{Sink: true, Topic: img.Sink.Topic, Partition: img.Sink.Partition, Committed: img.Sink.Offset})
		case img.Source != nil:
			part, err := offsets.ParseMap(img.Source.Partition)
			if err != nil {
				return nil, fmt.Errorf("before-image %d: the source partition is not an offset map: %w", i+1, err)
			}
			e := offsets.Position{Key: img.Source.Key, SourcePartition: part}
			if len(img.Source.Offset) > 0 && string(img.Source.Offset) != "null" {
				off, err := offsets.ParseMap(img.Source.Offset)
				if err != nil {
					return nil, fmt.Errorf("before-image %d: the source offset is not an offset map: %w", i+1, err)
				}
				e.Offset = &off
			}
			out = append(out, e)
		default:
			return nil, fmt.Errorf("before-image %d is a row image: undoing reconcile repairs is not supported by apply", i+1)
		}
	}
	return out, nil
}

// connectorNamed finds the connector block of a connector name on a connect
// block (any connect block when cluster is "").
func connectorNamed(cfg *config.Config, name, cluster string) *config.Connector {
	for _, c := range cfg.Connectors {
		if c.ConnectorName == name && (cluster == "" || c.Connect.Name == cluster) {
			return c
		}
	}
	return nil
}
