package plan

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/offsetctl/offsetctl/pkg/config"
	"github.com/offsetctl/offsetctl/pkg/offsets"
	"github.com/offsetctl/offsetctl/pkg/state"
)

// ErrNotFromConfig means a saved plan's operations are not what the
// configuration makes of the plan's own observations: the file was edited
// (its hash recomputed), or it was made by another offsetctl.
var ErrNotFromConfig = errors.New("the plan's operations are not what the configuration makes of what the plan observed")

// ErrConfigMismatch means a plan was made from another configuration than the
// one given.
var ErrConfigMismatch = errors.New("the plan was made from another configuration")

// FromConfig reports whether p is a plan made from a configuration by
// planning (offsetctl plan), as opposed to one built from the state or a
// backup (offsetctl rollback -out, offsetctl offsets restore -out), whose
// operations Verify cannot compute.
func (p *Plan) FromConfig() bool {
	for _, op := range p.Operations {
		if op.Kind == KindRollback || (op.Kind == KindRestore && !strings.HasPrefix(op.Address, "offsets.")) {
			return false
		}
	}
	return true
}

// Verify computes p's operations again from cfg and what p recorded (its
// connector observations, to_timestamp lookups and restore files, and its
// -target addresses) and refuses a plan whose operations differ, naming the
// first difference: the hash of a plan file proves it is whole, not that it
// came from this configuration. applied looks operations up in the state as
// it was when the plan was made (see Inputs.Applied).
//
// For a reconcile operation, whose differences are observed data, Verify
// checks what the configuration decides: the block's settings (repair,
// delete_extra, max_changes, signal_table, where, timestamp_precision, the
// databases) and its content hash, and that its status follows from them
// and the recorded differences. Every check Compute makes must be among the
// plan's checks.
func (pl *Planner) Verify(cfg *config.Config, p *Plan, applied func(name string) (uint64, string, bool)) error {
	if cfg.Hash != p.ConfigHash {
		return fmt.Errorf("%w: the plan was made from configuration %s; the configuration now is %s", ErrConfigMismatch, orNone(p.ConfigHash), orNone(cfg.Hash))
	}
	in := Inputs{Connectors: map[string]*ConnectorObservation{}, Timestamps: p.Timestamps, Restores: p.Restores,
		Applied: applied, Targets: p.Targets}
	for i := range p.Connectors {
		c := p.Connectors[i]
		in.Connectors[c.Address] = &c
	}
	if pl.Codecs != nil {
		in.Validate = pl.validate
		in.Notes = pl.notes
		in.Direction = pl.direction
	}
	ops, checks := Compute(cfg, in)
	checks = dropReconcileTargetChecks(cfg, checks)
	// The policies judge the operations as the configuration makes them
	// (the reconcile operations as planned: their risks are checked against
	// their data in sameOperations), at the time the plan was made.
	all := append([]Operation(nil), ops...)
	if len(p.Operations) > len(ops) {
		all = append(all, p.Operations[len(ops):]...)
	}
	policy, policyChecks := evaluatePolicy(cfg.Policies, all, p.CreatedAt)
	copy(ops, all)
	checks = append(checks, policyChecks...)
	if d := diffPolicy(policy, p.Policy); d != "" {
		return fmt.Errorf("%w: %s", ErrNotFromConfig, d)
	}
	return sameOperations(p, ops, selectReconcile(cfg, p.Targets), checks)
}

// sameOperations refuses p unless it holds exactly ops (then one operation
// per block of reconciles, checked by checkReconcile) and every check of
// checks, naming the first difference.
func sameOperations(p *Plan, ops []Operation, reconciles []*config.Reconcile, checks []Check) error {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrNotFromConfig, fmt.Sprintf(format, args...))
	}
	n := len(ops) + len(reconciles)
	for i := 0; i < max(n, len(p.Operations)); i++ {
		var want string
		switch {
		case i < len(ops):
			want = ops[i].Address
		case i < n:
			want = reconciles[i-len(ops)].Addr()
		}
		if i >= len(p.Operations) {
			return fail("the configuration makes operation %s, which the plan does not hold", want)
		}
		got := &p.Operations[i]
		if want == "" {
			return fail("the plan holds operation %s, which the configuration does not make", got.Address)
		}
		if got.Address != want {
			return fail("operation %d of the plan is %s, the configuration makes %s there", i+1, got.Address, want)
		}
		var d string
		if i < len(ops) {
			d = diffOperation(&ops[i], got)
		} else {
			d = checkReconcile(reconciles[i-len(ops)], got)
		}
		if d != "" {
			return fail("%s: %s", got.Address, d)
		}
	}
	have := map[Check]int{}
	for _, c := range p.Checks {
		have[c]++
	}
	for _, c := range checks {
		if have[c] == 0 {
			where := c.Operation
			if where == "" {
				where = "the plan"
			}
			return fail("%s: the configuration makes the %s check %s (%q), which the plan does not hold", where, c.Severity, c.Code, c.Message)
		}
		have[c]--
	}
	return nil
}

func orNone(h string) string {
	if h == "" {
		return "(none)"
	}
	return h
}

// diffOperation names the first difference between the operation the
// configuration makes (want) and the plan's (got), or returns "".
func diffOperation(want, got *Operation) string {
	field := func(name string, w, g any) string {
		if fmt.Sprint(w) == fmt.Sprint(g) {
			return ""
		}
		return fmt.Sprintf("%s is %s in the plan, the configuration makes %s", name, quoteValue(g), quoteValue(w))
	}
	for _, d := range []string{
		field("name", want.Name, got.Name),
		field("kind", want.Kind, got.Kind),
		field("connector", want.Connector, got.Connector),
		field("reason", want.Reason, got.Reason),
		field("block_hash", want.BlockHash, got.BlockHash),
		field("status", want.Status, got.Status),
		field("method", want.Method, got.Method),
		field("halt", want.Halt, got.Halt),
		field("allow_skip_records", want.AllowSkipRecords, got.AllowSkipRecords),
		field("applied_serial", want.AppliedSerial, got.AppliedSerial),
		field("the number of changes", len(want.Changes), len(got.Changes)),
	} {
		if d != "" {
			return d
		}
	}
	if got.Reconcile != nil {
		return "it holds reconcile data, but it is an offsets operation"
	}
	if d := diffRisks(want.Risks, got.Risks); d != "" {
		return d
	}
	for i := range want.Changes {
		if d := diffChange(&want.Changes[i], &got.Changes[i]); d != "" {
			return fmt.Sprintf("change %d (%s): %s", i+1, changeName(&got.Changes[i]), d)
		}
	}
	return ""
}

func quoteValue(v any) string {
	if s, ok := v.(string); ok {
		return fmt.Sprintf("%q", s)
	}
	if s, ok := v.(fmt.Stringer); ok {
		return s.String()
	}
	return fmt.Sprint(v)
}

func changeName(ch *Change) string {
	switch {
	case ch.Sink != nil:
		return fmt.Sprintf("%s[%d]", ch.Sink.Topic, ch.Sink.Partition)
	case ch.Source != nil:
		return "source partition " + ch.Source.Partition.String()
	}
	return "?"
}

func diffChange(want, got *Change) string {
	if want.Action != got.Action {
		return fmt.Sprintf("action is %s in the plan, the configuration makes %s", got.Action, want.Action)
	}
	if (want.Sink == nil) != (got.Sink == nil) || (want.Source == nil) != (got.Source == nil) {
		return "the plan has a sink change where the configuration makes a source change, or the other way round"
	}
	if w, g := want.Sink, got.Sink; w != nil {
		for _, f := range []struct {
			name string
			w, g any
		}{
			{"topic", w.Topic, g.Topic}, {"partition", w.Partition, g.Partition},
			{"before", w.Before, g.Before}, {"after", w.After, g.After}, {"rollback", w.Rollback, g.Rollback},
			{"log_start", w.LogStart, g.LogStart}, {"log_end", w.LogEnd, g.LogEnd},
			{"replays", w.Replays, g.Replays}, {"skips", w.Skips, g.Skips},
		} {
			if f.w != f.g {
				return fmt.Sprintf("%s is %v in the plan, the configuration makes %v", f.name, f.g, f.w)
			}
		}
		return ""
	}
	w, g := want.Source, got.Source
	if string(w.Key) != string(g.Key) {
		return fmt.Sprintf("key is %q in the plan, the configuration makes %q", g.Key, w.Key)
	}
	if w.Partition.String() != g.Partition.String() {
		return fmt.Sprintf("partition is %s in the plan, the configuration makes %s", g.Partition, w.Partition)
	}
	for _, f := range []struct {
		name string
		w, g *offsets.Map
	}{{"before", w.Before, g.Before}, {"after", w.After, g.After}, {"rollback", w.Rollback, g.Rollback}} {
		if mapText(f.w) != mapText(f.g) {
			return fmt.Sprintf("%s is %s in the plan, the configuration makes %s", f.name, mapText(f.g), mapText(f.w))
		}
	}
	return ""
}

func mapText(m *offsets.Map) string {
	if m == nil {
		return "none"
	}
	return m.String()
}

// checkReconcile checks what the configuration decides of a reconcile
// operation; its differences are observed data.
func checkReconcile(blk *config.Reconcile, got *Operation) string {
	repair := blk.Repair
	if repair == "" {
		repair = RepairNone
	}
	field := func(name string, w, g any) string {
		if fmt.Sprint(w) == fmt.Sprint(g) {
			return ""
		}
		return fmt.Sprintf("%s is %s in the plan, the configuration says %s", name, quoteValue(g), quoteValue(w))
	}
	for _, d := range []string{
		field("name", blk.Name, got.Name),
		field("kind", KindReconcile, got.Kind),
		field("connector", "", got.Connector),
		field("reason", blk.Reason, got.Reason),
		field("block_hash", blkHash(blk), got.BlockHash),
		field("the number of offset changes", 0, len(got.Changes)),
	} {
		if d != "" {
			return d
		}
	}
	d := got.Reconcile
	if d == nil {
		// Planning stopped before comparing (a database unreachable, a
		// table not comparable): only a blocked operation has no data.
		return field("status", StatusBlocked, got.Status)
	}
	var src, dst string
	if blk.Source != nil {
		src = blk.Source.Addr()
	}
	if blk.Sink != nil {
		dst = blk.Sink.Addr()
	}
	for _, s := range []string{
		field("source", src, d.Source),
		field("sink", dst, d.Sink),
		field("repair", repair, d.Repair),
		field("delete_extra", blk.DeleteExtra, d.DeleteExtra),
		field("max_changes", blk.MaxChanges, d.MaxChanges),
		field("signal_table", blk.SignalTable, d.SignalTable),
		field("where", blk.Where, d.Where),
		field("timestamp_precision", blk.TimestampPrecision, d.TimestampPrecision),
	} {
		if s != "" {
			return s
		}
	}
	total := int64(len(d.Missing) + len(d.Mismatched))
	if blk.DeleteExtra || repair == RepairNone {
		total += int64(len(d.Extra))
	}
	want := StatusChange
	switch {
	case !d.Drift():
		want = StatusNoChange
	case blk.MaxChanges > 0 && total > blk.MaxChanges && repair != RepairNone,
		repair == RepairSnapshotSignal && blk.SignalTable == "":
		want = StatusBlocked
	}
	// A plan that holds more differences than it may is blocked by
	// planning too (too_many_differences): blocked never runs, so a
	// blocked status is always consistent.
	if got.Status != StatusBlocked {
		if s := field("status", want, got.Status); s != "" {
			return s
		}
	}
	return diffRisks(reconcileRisks(got), got.Risks)
}

// VerifyBuilt computes again a saved plan that was built from the state or a
// backup rather than from the configuration (FromConfig is false: offsetctl
// rollback -out, offsetctl offsets restore -out) and refuses one whose
// operations or checks differ, naming the first difference
// (ErrNotFromConfig): a rollback plan from st, the target operations'
// before-images; a restore plan from the backup file it names, read again
// and its checksum verified. Both are computed with the connectors the plan
// observed, as Verify does: apply's staleness check compares those with the
// live world. st is the state apply read, which has the lineage and serial
// the plan was made against.
func (pl *Planner) VerifyBuilt(ctx context.Context, cfg *config.Config, p *Plan, st *state.State) error {
	if cfg.Hash != p.ConfigHash {
		return fmt.Errorf("%w: the plan was made from configuration %s; the configuration now is %s", ErrConfigMismatch, orNone(p.ConfigHash), orNone(cfg.Hash))
	}
	fail := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrNotFromConfig, fmt.Sprintf(format, args...))
	}
	if len(p.Operations) == 0 {
		return fail("the plan holds no operation")
	}
	observed := func(_ context.Context, _ *config.Config, addrs []string) (map[string]*ConnectorObservation, error) {
		out := map[string]*ConnectorObservation{}
		for _, a := range addrs {
			for i := range p.Connectors {
				if p.Connectors[i].Address == a {
					c := p.Connectors[i]
					out[a] = &c
				}
			}
		}
		return out, nil
	}
	info := BuildInfo{OffsetctlVersion: p.OffsetctlVersion, Now: p.CreatedAt}
	var want *Plan
	var err error
	switch p.Operations[0].Kind {
	case KindRollback:
		if st == nil {
			return fail("it rolls back operations of a state, and there is no state")
		}
		var targets []*state.Operation
		for i := range p.Operations {
			op := &p.Operations[i]
			n, ok := op.RollbackOf()
			if !ok {
				return fail("operation %d of the plan is %s, in a rollback plan whose operations are all rollback.N", i+1, op.Address)
			}
			t, ok := st.BySerial(n)
			if !ok {
				return fail("%s rolls back operation %d, which the state does not have", op.Address, n)
			}
			targets = append(targets, t)
		}
		want, err = RollbackPlan(ctx, cfg, st, targets, observed, info)
	case KindRestore:
		if len(p.Restores) != 1 {
			return fail("a restore plan names the one backup file it restores; this one names %d", len(p.Restores))
		}
		var file string
		for f := range p.Restores {
			file = f
		}
		b, rerr := offsets.ReadBackup(file)
		if rerr != nil {
			return fmt.Errorf("%w: the plan restores the backup %s, which cannot be read to compute the plan again: %w", ErrNotFromConfig, file, rerr)
		}
		want, err = RestorePlan(ctx, cfg, st, b, file, observed, info)
	default:
		return fail("operation %s is of kind %s: only rollback and restore plans are built from the state or a backup", p.Operations[0].Address, p.Operations[0].Kind)
	}
	if err != nil {
		return fmt.Errorf("%w: computing the plan again: %w", ErrNotFromConfig, err)
	}
	pl.AssessRisks(want)
	return sameOperations(p, want.Operations, nil, want.Checks)
}

// RollbackOf returns the state serial a rollback operation undoes (its
// address is rollback.N).
func (op *Operation) RollbackOf() (uint64, bool) {
	if op.Kind != KindRollback || !strings.HasPrefix(op.Address, "rollback.") {
		return 0, false
	}
	n, err := strconv.ParseUint(strings.TrimPrefix(op.Address, "rollback."), 10, 64)
	if err != nil {
		return 0, false
	}
	return n, true
}
