package plan

import (
	"fmt"
	"sort"
	"strings"

	"github.com/offsetctl/offsetctl/pkg/offsets"
)

// RiskClass names what a change can do to the data downstream. Every
// operation that changes something carries the classes of its changes,
// computed at plan time; policies bound them and ask approvals by them.
type RiskClass string

// The risk classes, lowest first (see RiskRank).
const (
	// RiskReplay: records are consumed again (a rewind): duplicates for a
	// sink that is not idempotent.
	RiskReplay RiskClass = "replay"
	// RiskRepairRows: a reconcile block inserts, updates or deletes sink
	// rows (with before-images in the state).
	RiskRepairRows RiskClass = "repair_rows"
	// RiskTopicWrite: offsets are written to the offsets topic directly,
	// on a worker older than 3.6 (no REST offsets API).
	RiskTopicWrite RiskClass = "topic_write"
	// RiskSinkReset: a sink connector's consumer group offsets are deleted:
	// it resumes per auto.offset.reset and replays the retained log.
	RiskSinkReset RiskClass = "sink_reset"
	// RiskResnapshot: a source connector's offsets are deleted: it takes a
	// new snapshot, which can overload the source.
	RiskResnapshot RiskClass = "resnapshot"
	// RiskSkip: records are never consumed (moving forward).
	RiskSkip RiskClass = "skip"
	// RiskJumpToLatest: to_latest skips everything not consumed: an
	// unbounded data gap when the log end moves.
	RiskJumpToLatest RiskClass = "jump_to_latest"
	// RiskUnknown: the connector's codec cannot tell what a source position
	// change does (a generic codec, a position set where none was).
	RiskUnknown RiskClass = "unknown"
)

// RiskClasses lists the classes lowest first.
var RiskClasses = []RiskClass{RiskReplay, RiskRepairRows, RiskTopicWrite, RiskSinkReset, RiskResnapshot, RiskSkip, RiskJumpToLatest, RiskUnknown}

// RiskRank orders the classes: 0 for none, 1 for replay, up to unknown.
// Losing data (skip, jump_to_latest) ranks above replaying it; a change
// nothing can judge ranks highest.
func RiskRank(c RiskClass) int {
	for i, k := range RiskClasses {
		if k == c {
			return i + 1
		}
	}
	return 0
}

// Risk is one risk class of an operation, with what it costs.
type Risk struct {
	Class RiskClass
	// Records is the number of records replayed or skipped in all (replay,
	// skip, jump_to_latest, sink_reset); -1 when no codec can count them
	// (a source position moved). 0 for the other classes.
	Records int64
	// Partitions are the partitions concerned, each with its records (-1:
	// not counted), in the order of the operation's changes.
	Partitions []RiskPartition
	// Rows are the sink rows a repair writes, per kind (repair_rows only).
	Rows *RiskRows
}

// RiskPartition is one partition of a risk: "topic[3]" or a source
// partition's JSON.
type RiskPartition struct {
	Partition string
	Records   int64
}

// RiskRows counts the rows a repair inserts, updates and deletes.
type RiskRows struct {
	Insert, Update, Delete int64
}

// Total is the rows written in all.
func (r *RiskRows) Total() int64 { return r.Insert + r.Update + r.Delete }

// Direction is what a codec makes of a source position change.
type Direction string

// The directions.
const (
	DirectionReplay  Direction = "replay"
	DirectionSkip    Direction = "skip"
	DirectionUnknown Direction = "unknown"
)

// HighestRisk is the highest class among the operations that change
// something or are blocked (what the plan declares), or "" for none.
func (p *Plan) HighestRisk() RiskClass {
	return highestRisk(p.Operations)
}

func highestRisk(ops []Operation) RiskClass {
	var best RiskClass
	for _, op := range ops {
		if op.Status != StatusChange && op.Status != StatusBlocked {
			continue
		}
		for _, r := range op.Risks {
			if RiskRank(r.Class) > RiskRank(best) {
				best = r.Class
			}
		}
	}
	return best
}

// Risk returns the operation's risk of class c, or nil.
func (op *Operation) Risk(c RiskClass) *Risk {
	for i := range op.Risks {
		if op.Risks[i].Class == c {
			return &op.Risks[i]
		}
	}
	return nil
}

// riskSet collects an operation's risks by class.
type riskSet map[RiskClass]*Risk

func (s riskSet) add(c RiskClass, partition string, records int64) {
	r := s[c]
	if r == nil {
		r = &Risk{Class: c}
		s[c] = r
	}
	switch {
	case records < 0:
		r.Records = -1 // one partition not counted: the total is not known
	case r.Records >= 0:
		r.Records += records
	}
	if partition != "" {
		r.Partitions = append(r.Partitions, RiskPartition{Partition: partition, Records: records})
	}
}

// sorted returns the risks highest class first.
func (s riskSet) sorted() []Risk {
	out := make([]Risk, 0, len(s))
	for _, r := range s {
		out = append(out, *r)
	}
	sort.Slice(out, func(i, j int) bool { return RiskRank(out[i].Class) > RiskRank(out[j].Class) })
	return out
}

// offsetsRisks classifies an offsets operation's changes. latest names the
// sink partitions ("topic[n]") that a to_latest target moves; direction
// tells what the connector's codec makes of a source change (nil: unknown).
func offsetsRisks(op *Operation, latest map[string]bool, codec string,
	direction func(codec string, partition offsets.Map, before, after *offsets.Map) Direction) []Risk {
	s := riskSet{}
	real := false
	for _, ch := range op.Changes {
		if ch.Action == ActionNoOp {
			continue
		}
		real = true
		switch {
		case ch.Sink != nil:
			sc := ch.Sink
			id := fmt.Sprintf("%s[%d]", sc.Topic, sc.Partition)
			switch {
			case ch.Action == ActionDelete && sc.Skips > 0 && latest[id]:
				// auto.offset.reset = latest: the reset jumps to the end.
				s.add(RiskSinkReset, id, 0)
				s.add(RiskJumpToLatest, id, sc.Skips)
			case ch.Action == ActionDelete:
				n := int64(0)
				if sc.Before > sc.LogStart {
					n = sc.Before - sc.LogStart
				}
				s.add(RiskSinkReset, id, n)
			case sc.Replays > 0:
				s.add(RiskReplay, id, sc.Replays)
			case sc.Skips > 0 && latest[id]:
				s.add(RiskJumpToLatest, id, sc.Skips)
			case sc.Skips > 0:
				s.add(RiskSkip, id, sc.Skips)
			}
		case ch.Source != nil:
			id := ch.Source.Partition.String()
			if ch.Action == ActionDelete {
				s.add(RiskResnapshot, id, 0)
				continue
			}
			d := DirectionUnknown
			if direction != nil {
				d = direction(codec, ch.Source.Partition, ch.Source.Before, ch.Source.After)
			}
			switch d {
			case DirectionReplay:
				s.add(RiskReplay, id, -1)
			case DirectionSkip:
				s.add(RiskSkip, id, -1)
			default:
				s.add(RiskUnknown, id, 0)
			}
		}
	}
	if real && op.Method == MethodTopic {
		for _, ch := range op.Changes {
			if ch.Action != ActionNoOp && ch.Source != nil {
				s.add(RiskTopicWrite, ch.Source.Partition.String(), 0)
			}
		}
	}
	for _, r := range s {
		if r.Class == RiskResnapshot || r.Class == RiskUnknown || r.Class == RiskTopicWrite {
			r.Records = 0
			for i := range r.Partitions {
				r.Partitions[i].Records = 0
			}
		}
	}
	if len(s) == 0 {
		return nil
	}
	return s.sorted()
}

// reconcileRisks is a repair's repair_rows risk: the rows it inserts
// (missing), updates (mismatched) and deletes (extra, with delete_extra
// and an upsert; a snapshot signal deletes nothing). A report-only block
// has none.
func reconcileRisks(op *Operation) []Risk {
	d := op.Reconcile
	if d == nil || d.Repair == RepairNone || d.Repair == "" || (op.Status != StatusChange && op.Status != StatusBlocked) {
		return nil
	}
	rows := &RiskRows{Insert: int64(len(d.Missing)), Update: int64(len(d.Mismatched))}
	if d.DeleteExtra && d.Repair == RepairUpsert {
		rows.Delete = int64(len(d.Extra))
	}
	if rows.Total() == 0 {
		return nil
	}
	return []Risk{{Class: RiskRepairRows, Rows: rows}}
}

// codecDirection tells from the codec's safety notes whether a source
// change replays or skips: the codecs that know their positions note a
// skip forward ("...-skip-forward"); a known codec that notes none moves
// back (some note that too, "...-rewind...") or sideways, which replays. A
// generic codec, or a position where there was none, cannot tell.
func codecDirection(c offsets.Codec, partition offsets.Map, before, after *offsets.Map) Direction {
	if c == nil || c.Name() == "generic" || before == nil || after == nil {
		return DirectionUnknown
	}
	for _, n := range c.SafetyNotes(partition, before, after) {
		if strings.HasSuffix(n.Code, "-skip-forward") {
			return DirectionSkip
		}
	}
	return DirectionReplay
}

// String describes a risk in one line for the renderings and checks.
func (r Risk) String() string {
	switch r.Class {
	case RiskReplay:
		if r.Records < 0 {
			return fmt.Sprintf("replay: the source position moves back on %s (the codec cannot count the records)", plural(len(r.Partitions), "partition"))
		}
		return fmt.Sprintf("replay: %s replayed on %s", plural64(r.Records, "record"), plural(len(r.Partitions), "partition"))
	case RiskSkip:
		if r.Records < 0 {
			return fmt.Sprintf("skip: the source position moves forward on %s (the codec cannot count the records)", plural(len(r.Partitions), "partition"))
		}
		return fmt.Sprintf("skip: %s never delivered, on %s", plural64(r.Records, "record"), plural(len(r.Partitions), "partition"))
	case RiskJumpToLatest:
		return fmt.Sprintf("jump_to_latest: %s skipped to the log end on %s; an unbounded data gap if the log end moves", plural64(r.Records, "record"), plural(len(r.Partitions), "partition"))
	case RiskSinkReset:
		if r.Records == 0 {
			return fmt.Sprintf("sink_reset: the consumer group's offsets are deleted on %s; the sink resumes per auto.offset.reset (nothing replayed)", plural(len(r.Partitions), "partition"))
		}
		return fmt.Sprintf("sink_reset: the consumer group's offsets are deleted on %s; the sink resumes per auto.offset.reset (earliest: %s replayed)", plural(len(r.Partitions), "partition"), plural64(r.Records, "record"))
	case RiskResnapshot:
		return fmt.Sprintf("resnapshot: source offsets deleted on %s; the connector snapshots again", plural(len(r.Partitions), "partition"))
	case RiskTopicWrite:
		return fmt.Sprintf("topic_write: offsets written to the offsets topic directly (worker older than 3.6) for %s", plural(len(r.Partitions), "partition"))
	case RiskRepairRows:
		if r.Rows == nil {
			return "repair_rows"
		}
		return fmt.Sprintf("repair_rows: %s inserted, %s updated, %s deleted", Thousands(r.Rows.Insert), Thousands(r.Rows.Update), Thousands(r.Rows.Delete))
	case RiskUnknown:
		return fmt.Sprintf("unknown: the codec cannot tell what the new position does on %s", plural(len(r.Partitions), "partition"))
	}
	return string(r.Class)
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%s %ss", Thousands(int64(n)), what)
}

func plural64(n int64, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%s %ss", Thousands(n), what)
}

// diffRisks names the first difference between the risks the configuration
// makes (want) and the plan's (got), or returns "": a risk class edited in
// a plan file (its hash recomputed) is refused.
func diffRisks(want, got []Risk) string {
	text := func(rs []Risk) string {
		var parts []string
		for _, r := range rs {
			s := fmt.Sprintf("%s records=%d", r.Class, r.Records)
			for _, p := range r.Partitions {
				s += fmt.Sprintf(" %s:%d", p.Partition, p.Records)
			}
			if r.Rows != nil {
				s += fmt.Sprintf(" rows=%d/%d/%d", r.Rows.Insert, r.Rows.Update, r.Rows.Delete)
			}
			parts = append(parts, s)
		}
		if len(parts) == 0 {
			return "none"
		}
		return strings.Join(parts, "; ")
	}
	if w, g := text(want), text(got); w != g {
		return fmt.Sprintf("risks are [%s] in the plan, the configuration makes [%s]", g, w)
	}
	return ""
}

// AssessRisks gives the risk classes to the operations of a plan that was
// not computed from the configuration (a rollback or restore plan, built
// from the state or a backup), which carry none yet; the operations of a
// configuration's plan have theirs from Compute. Policies neither bound
// nor hold such plans (CheckPolicyAtApply), but their renderings name the
// risk like any other. Call it on a plan just built, never on one read from
// a file.
func (pl *Planner) AssessRisks(p *Plan) {
	codecs := map[string]string{}
	for _, c := range p.Connectors {
		codecs[c.Address] = c.Codec
	}
	var direction func(string, offsets.Map, *offsets.Map, *offsets.Map) Direction
	if pl.Codecs != nil {
		direction = pl.direction
	}
	changed := false
	for i := range p.Operations {
		op := &p.Operations[i]
		if op.Kind != KindRollback && op.Kind != KindRestore || op.Reconcile != nil || len(op.Risks) > 0 ||
			(op.Status != StatusChange && op.Status != StatusBlocked) {
			continue
		}
		op.Risks = offsetsRisks(op, nil, codecs[op.Connector], direction)
		changed = changed || len(op.Risks) > 0
	}
	if changed && p.Hash != "" {
		// A freshly built plan is hashed when built (never one read from
		// a file: its risks come with it): hash it again with its risks.
		_, _ = Marshal(p)
	}
}
