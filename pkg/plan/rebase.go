package plan

import (
	"fmt"
	"sort"
	"strings"

	"github.com/offsetctl/offsetctl/pkg/config"
)

// Rebase computes the operations of a saved plan again from the
// configuration and the connectors as observed now (by address; the
// connectors left out keep the plan's observation), with the plan's own
// recorded lookups (to_timestamp offsets, restore files), -target
// addresses and creation time. Apply uses it when a running connector's
// live position moved since the plan: what the reviewer approved is the
// operation's targets and risk, not the position it was computed from (see
// Judge).
func Rebase(cfg *config.Config, p *Plan, now map[string]*ConnectorObservation) ([]Operation, []Check) {
	in := Inputs{Connectors: map[string]*ConnectorObservation{}, Timestamps: p.Timestamps, Restores: p.Restores,
		Targets: p.Targets, Now: p.CreatedAt}
	for i := range p.Connectors {
		c := p.Connectors[i]
		in.Connectors[c.Address] = &c
	}
	for addr, o := range now {
		in.Connectors[addr] = o
	}
	return Compute(cfg, in)
}

// Drift is one way an operation computed again at apply time (Rebase)
// leaves what was reviewed: the operation's address, what the reviewed plan
// said and what is true now, for the operator.
type Drift struct {
	Operation string
	Subject   string // a partition ("orders[0]"), or "" for the operation as a whole
	Reviewed  string
	Now       string
}

func (d Drift) String() string {
	s := d.Operation
	if d.Subject != "" {
		s += " " + d.Subject
	}
	return fmt.Sprintf("%s: reviewed %s; now %s", s, d.Reviewed, d.Now)
}

// Judge decides whether now, the operation blk makes of the world at apply
// time, is still the operation reviewed, and returns every way it is not
// (nil when apply may proceed):
//
//   - the targets are the same: an absolute target (to_offset,
//     to_timestamp, skip, a source offset that replaces, a restore, a copy)
//     must write what was reviewed; a relative one (shift_by, to_earliest,
//     to_latest, a merge) follows the live position and is judged by its
//     risk;
//   - every precondition still holds: checks lists what Compute found now,
//     and any error of this operation (a skip's expected offset, a target
//     outside the log, allow_skip_records) refuses;
//   - the risk stays inside the reviewed bounds: no class is added (a
//     partition that replayed nothing now replays, one that skipped nothing
//     now skips, a partition not changed is changed, a check the reviewer
//     did not see), and the replay and skip counts grow by no more than the
//     block's tolerance, by default by what the connector processed since
//     the plan (its committed offsets' progress on the changed partitions).
//
// reviewedChecks are the saved plan's checks.
func Judge(blk *config.Offsets, reviewed *Operation, reviewedChecks []Check, now *Operation, checks []Check) []Drift {
	var out []Drift
	add := func(subject, rev, cur string) {
		out = append(out, Drift{Operation: reviewed.Address, Subject: subject, Reviewed: rev, Now: cur})
	}
	seen := map[string]bool{}
	for _, c := range reviewedChecks {
		if c.Operation == reviewed.Address {
			seen[c.Code] = true
		}
	}
	for _, c := range checks {
		if c.Operation != reviewed.Address {
			continue
		}
		switch {
		case c.Severity == SeverityError:
			add("", "without the error "+c.Code, "the error "+c.Code+": "+c.Message)
		case c.Severity == SeverityWarning && !seen[c.Code]:
			add("", "without the warning "+c.Code, "the warning "+c.Code+": "+c.Message)
		}
	}
	if now.Status == StatusBlocked && len(out) == 0 {
		add("", "an operation that can run", "it is blocked")
	}
	if now.Method != reviewed.Method {
		add("", fmt.Sprintf("writing via %s", reviewed.Method), fmt.Sprintf("it would write via %s", now.Method))
	}
	rev, cur := changesByPartition(reviewed), changesByPartition(now)
	var keys []string
	for k := range rev {
		keys = append(keys, k)
	}
	for k := range cur {
		if _, ok := rev[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var revReplays, nowReplays, revSkips, nowSkips, processed int64
	for _, k := range keys {
		r, n := rev[k], cur[k]
		switch {
		case r == nil && n != nil && n.Action != ActionNoOp:
			add(k, "no change of it", changeWords(n))
			continue
		case n == nil && r != nil && r.Action != ActionNoOp:
			add(k, changeWords(r), "the operation does not change it")
			continue
		case r == nil || n == nil:
			continue
		}
		if r.Source != nil || n.Source != nil {
			if r.Source == nil || n.Source == nil || mapText(r.Source.After) != mapText(n.Source.After) {
				add(k, changeWords(r), changeWords(n))
			}
			continue
		}
		rs, ns := r.Sink, n.Sink
		if (r.Action == ActionDelete) != (n.Action == ActionDelete) {
			add(k, changeWords(r), changeWords(n))
			continue
		}
		if absoluteTarget(blk, rs.Topic, rs.Partition) && rs.After != ns.After {
			add(k, fmt.Sprintf("target %d", rs.After), fmt.Sprintf("target %d", ns.After))
			continue
		}
		if rs.Replays == 0 && ns.Replays > 0 {
			add(k, changeWords(r), changeWords(n)+": it replays records, which the reviewed plan did not")
		}
		if rs.Skips == 0 && ns.Skips > 0 {
			add(k, changeWords(r), changeWords(n)+": it skips records, which the reviewed plan did not")
		}
		revReplays += rs.Replays
		nowReplays += ns.Replays
		revSkips += rs.Skips
		nowSkips += ns.Skips
		if d := position(ns) - position(rs); d > 0 {
			processed += d
		}
	}
	var tol config.Tolerance
	if blk != nil && blk.Tolerance != nil {
		tol = *blk.Tolerance
	}
	bound := func(what string, revN, nowN int64, limit *int64) {
		growth := nowN - revN
		if growth <= 0 {
			return
		}
		allowed, why := processed, fmt.Sprintf("what the connector processed since the plan (%s)", records(processed))
		if limit != nil {
			allowed, why = *limit, fmt.Sprintf("tolerance.%s = %d", what, *limit)
		}
		if growth > allowed {
			add("", fmt.Sprintf("%s %s", what, records(revN)),
				fmt.Sprintf("%s %s, %s more, beyond %s", what, records(nowN), Thousands(growth), why))
		}
	}
	bound("replays", revReplays, nowReplays, tol.Replays)
	bound("skips", revSkips, nowSkips, tol.Skips)
	return out
}

// position is where the consumer of a sink partition stands: its committed
// offset, or the log start when nothing is committed.
func position(s *SinkChange) int64 {
	if s.Before < 0 {
		return s.LogStart
	}
	return s.Before
}

// absoluteTarget reports whether the sink_partition of blk that moves
// topic[partition] names an absolute target, which must not change between
// the review and apply.
func absoluteTarget(blk *config.Offsets, topic string, partition int32) bool {
	if blk == nil {
		return true
	}
	for _, sp := range blk.SinkPartitions {
		if sp.Topic != topic {
			continue
		}
		match := sp.Partitions == nil
		for _, p := range sp.Partitions {
			match = match || p == partition
		}
		if match {
			switch sp.Target.Kind {
			case config.TargetShift, config.TargetEarliest, config.TargetLatest:
				return false
			}
			return true
		}
	}
	return true
}

func changesByPartition(op *Operation) map[string]*Change {
	out := map[string]*Change{}
	for i := range op.Changes {
		out[changeName(&op.Changes[i])] = &op.Changes[i]
	}
	return out
}

// changeWords describes one change for the operator.
func changeWords(ch *Change) string {
	if ch.Source != nil {
		return fmt.Sprintf("%s → %s", mapText(ch.Source.Before), mapText(ch.Source.After))
	}
	s := ch.Sink
	var parts []string
	parts = append(parts, fmt.Sprintf("%s → %s", offsetWord(s.Before), offsetWord(s.After)))
	if s.Replays > 0 {
		parts = append(parts, "replays "+records(s.Replays))
	}
	if s.Skips > 0 {
		parts = append(parts, "skips "+records(s.Skips))
	}
	if ch.Action == ActionNoOp {
		parts = append(parts, "no change")
	}
	return strings.Join(parts, ", ")
}
