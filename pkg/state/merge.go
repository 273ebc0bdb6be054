package state

import (
	"fmt"
	"reflect"
	"slices"
)

// Renumbering maps a writer's own operation serials and backup IDs (as its
// in-memory state numbers them) to the ones stored, when another writer
// appended to the same state in between (see Merge). It lives as long as
// the writer's lock; the zero value maps nothing.
type Renumbering struct {
	ops, backups map[uint64]uint64
}

// Operation returns the stored serial of the writer's operation local.
func (r *Renumbering) Operation(local uint64) uint64 {
	if n, ok := r.ops[local]; ok {
		return n
	}
	return local
}

// Merge returns the state to store when a writer that holds only some of
// the state's resources (pgstate's per-resource locks) writes mine, read as
// base, while other writers (holding other resources) stored their own
// operations since: stored, with
//
//   - the operations of base that mine changed (a status, a step, a
//     rollback's mark on the operation it undid) replaced by mine's,
//   - mine's operations begun since base appended (or, when appended by an
//     earlier Merge, replaced), numbered after stored's last one,
//   - mine's backups taken since base appended likewise.
//
// Operations of other writers are kept as stored: the resource locks make
// sure no two writers change the same operation. r remembers the numbers
// given across calls; references between the writer's own operations
// (RollbackOf, RolledBackBy, Backup.Operation) follow them. The result's
// Serial is stored's; the backend writes it at stored's serial plus one.
func Merge(stored, base, mine *State, r *Renumbering) (*State, error) {
	if stored.Lineage != mine.Lineage || base.Lineage != mine.Lineage {
		return nil, fmt.Errorf("%w: the stored state has lineage %s, this one %s", ErrLineageMismatch, stored.Lineage, mine.Lineage)
	}
	if len(mine.Operations) < len(base.Operations) || len(mine.Backups) < len(base.Backups) {
		return nil, fmt.Errorf("merging state writes: the state to write has fewer operations or backups than it was read with")
	}
	if r.ops == nil {
		r.ops, r.backups = map[uint64]uint64{}, map[uint64]uint64{}
	}
	out := cloneState(stored)
	own := map[uint64]bool{} // mine's new operations, by local serial
	for _, op := range mine.Operations[len(base.Operations):] {
		own[op.Serial] = true
	}
	opRef := func(n uint64) uint64 {
		if own[n] {
			return r.Operation(n)
		}
		return n
	}
	translate := func(op Operation) Operation {
		op.Serial = opRef(op.Serial)
		op.RollbackOf = opRef(op.RollbackOf)
		op.RolledBackBy = opRef(op.RolledBackBy)
		return op
	}
	find := func(serial uint64) int {
		for i := range out.Operations {
			if out.Operations[i].Serial == serial {
				return i
			}
		}
		return -1
	}
	// Number the new operations first: references to them (a rollback's
	// mark on the operation it undid) follow.
	next := out.nextOperationSerial()
	for _, op := range mine.Operations[len(base.Operations):] {
		if n, ok := r.ops[op.Serial]; ok && find(n) >= 0 {
			continue
		}
		r.ops[op.Serial] = next
		next++
	}
	for i := range base.Operations {
		if reflect.DeepEqual(base.Operations[i], mine.Operations[i]) {
			continue
		}
		j := find(base.Operations[i].Serial)
		if j < 0 {
			return nil, fmt.Errorf("merging state writes: operation %d, which this writer read, is no longer stored", base.Operations[i].Serial)
		}
		out.Operations[j] = translate(mine.Operations[i])
	}
	for _, op := range mine.Operations[len(base.Operations):] {
		if j := find(r.ops[op.Serial]); j >= 0 {
			out.Operations[j] = translate(op)
			continue
		}
		out.Operations = append(out.Operations, translate(op))
	}
	for _, b := range mine.Backups[len(base.Backups):] {
		b.Operation = opRef(b.Operation)
		if n, ok := r.backups[b.ID]; ok {
			b.ID = n
			replaced := false
			for j := range out.Backups {
				if out.Backups[j].ID == n {
					out.Backups[j], replaced = b, true
				}
			}
			if replaced {
				continue
			}
		}
		id := uint64(1)
		if n := len(out.Backups); n > 0 {
			id = out.Backups[n-1].ID + 1
		}
		r.backups[b.ID] = id
		b.ID = id
		out.Backups = append(out.Backups, b)
	}
	return out, nil
}

// cloneState copies s's metadata; images are shared, as Snapshot shares
// them (they are only ever appended to or replaced whole).
func cloneState(s *State) *State {
	c := *s
	c.Operations = make([]Operation, len(s.Operations))
	for i, op := range s.Operations {
		op.Approvals = slices.Clone(op.Approvals)
		op.VerifiedApprovals = slices.Clone(op.VerifiedApprovals)
		op.Connectors = slices.Clone(op.Connectors)
		op.Steps = slices.Clone(op.Steps)
		op.BeforeImages, op.After = slices.Clip(op.BeforeImages), slices.Clip(op.After)
		c.Operations[i] = op
	}
	c.Backups = slices.Clone(s.Backups)
	if c.enc == nil {
		c.enc = newImageCache()
	}
	return &c
}

// Clone returns a copy of s that later changes to s do not reach (images,
// which are never changed in place, are shared).
func Clone(s *State) *State { return cloneState(s) }
