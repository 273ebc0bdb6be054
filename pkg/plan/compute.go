package plan

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/offsetctl/offsetctl/pkg/config"
	"github.com/offsetctl/offsetctl/pkg/connect"
	"github.com/offsetctl/offsetctl/pkg/offsets"
	"github.com/offsetctl/offsetctl/pkg/schemahistory"
	"github.com/offsetctl/offsetctl/pkg/sourcedb"
)

// Inputs is everything Compute needs besides the configuration: what was
// observed, and what was looked up for particular blocks. It is plain data,
// so the computation is a pure function that tests can drive with tables.
type Inputs struct {
	// Connectors are the observations by connector address.
	Connectors map[string]*ConnectorObservation
	// Timestamps resolves to_timestamp targets: the first offset whose
	// record timestamp is at or after the time (the log end when none).
	Timestamps map[TimestampKey]int64
	// Restores are the offsets read from restore files, by the path as
	// written in the configuration.
	Restores map[string]*RestoreData
	// Applied looks up an operation in the state: the serial that applied
	// an operation of this name, and the block hash it had then.
	Applied func(name string) (serial uint64, blockHash string, ok bool)
	// Validate checks a proposed source offset with the connector's codec
	// (previous is the offset it replaces); nil accepts everything.
	Validate func(codec string, partition, offset offsets.Map, previous *offsets.Map) error
	// Notes returns the codec's safety notes for a source change; they
	// become warnings (some, errors: see safetyNotes). Nil gives none.
	Notes func(codec string, partition offsets.Map, before, after *offsets.Map) []offsets.SafetyNote
	// Direction tells whether a source change replays or skips, by the
	// codec (the risk class); nil makes every source move unknown.
	Direction func(codec string, partition offsets.Map, before, after *offsets.Map) Direction
	// Targets limit planning to these addresses (offsets.NAME); empty plans
	// everything.
	Targets []string
	// Now is when the plan is made: a to_timestamp after it is in the
	// future. Zero leaves that check out.
	Now time.Time
}

// TimestampKey names one to_timestamp lookup.
type TimestampKey struct {
	Topic     string
	Partition int32
	Millis    int64
}

// RestoreData is what a backup file holds, per connector name.
type RestoreData struct {
	Source map[string][]SourceOffset
	Sink   map[string][]SinkPartition
}

// Compute turns the configuration's offsets blocks and the observations into
// operations and checks. It changes nothing and reads nothing.
func Compute(cfg *config.Config, in Inputs) ([]Operation, []Check) {
	c := &computer{in: in, skipBlocks: map[string]int64{}, skipCauses: map[string][]string{}, refusedSkips: map[string]int64{},
		latest: map[string]map[string]bool{}}
	targets := map[string]bool{}
	for _, t := range in.Targets {
		targets[t] = true
	}
	for _, blk := range cfg.Offsets {
		if len(targets) > 0 && !targets[blk.Addr()] && !targets[blk.Connector.Addr()] {
			continue
		}
		c.operation(blk)
	}
	for t := range targets {
		if cfg.Operation(strings.TrimPrefix(t, "offsets.")) == nil && cfg.Connector(strings.TrimPrefix(t, "connector.")) == nil {
			c.check(SeverityError, "unknown_target", "", fmt.Sprintf("-target %s matches no offsets or connector block", t))
		}
	}
	c.approvals(cfg.Settings)
	return c.ops, c.checks
}

// approvals says how apply will count the approvals the configuration
// requires: signatures it verifies, or names nobody verifies.
func (c *computer) approvals(s *config.Settings) {
	switch {
	case s.RequiredApprovals == 0:
	case s.AllowedSigners == "":
		c.check(SeverityWarning, "unverified_approvals", "", fmt.Sprintf(
			"required_approvals = %d is counted from names given to apply (--approved-by), which nothing verifies: set offsetctl { allowed_signers = \"FILE\" } so that apply counts reviewers' SSH signatures of this plan (offsetctl approve PLANFILE)", s.RequiredApprovals))
	default:
		c.check(SeverityOK, "signed_approvals", "", fmt.Sprintf(
			"apply needs %d approval(s) signed by distinct reviewers listed in %s, not the one applying: offsetctl approve PLANFILE (or ssh-keygen -Y sign -n offsetctl-plan)", s.RequiredApprovals, s.AllowedSigners))
	}
}

type computer struct {
	in     Inputs
	ops    []Operation
	checks []Check
	// skipBlocks counts, per operation address, the records that skip
	// targets name (one per partition): a skip block acknowledges them.
	skipBlocks map[string]int64
	// skipCauses say, per operation address, which targets skip records
	// and how many, for the skip acknowledgement's message.
	skipCauses map[string][]string
	// refusedSkips counts, per operation address, skipped records of
	// partitions already refused for a better reason (a to_timestamp in
	// the future): the acknowledgement check leaves them out.
	refusedSkips map[string]int64
	// latest names, per operation address, the partitions ("topic[n]")
	// a to_latest target moves: their skips are jump_to_latest.
	latest map[string]map[string]bool
}

func (c *computer) check(sev Severity, code, op, msg string) {
	c.checks = append(c.checks, Check{Severity: sev, Code: code, Operation: op, Message: msg})
}

func (c *computer) operation(blk *config.Offsets) {
	addr := blk.Addr()
	op := Operation{Address: addr, Name: blk.Name, Kind: KindOffsets, Connector: blk.Connector.Addr(),
		Reason: blk.Reason, BlockHash: blk.Hash, AllowSkipRecords: -1, Status: StatusChange}
	if blk.AllowSkipRecords != nil {
		op.AllowSkipRecords = *blk.AllowSkipRecords
	}
	if c.in.Applied != nil {
		if serial, hash, ok := c.in.Applied(blk.Name); ok {
			if hash == blk.Hash {
				op.Status, op.AppliedSerial = StatusAlreadyApplied, serial
				c.ops = append(c.ops, op)
				return
			}
			c.check(SeverityWarning, "changed_after_apply", addr, fmt.Sprintf(
				"an operation named %q was applied before (state serial %d) with other content: this plans it again as a new operation", blk.Name, serial))
		}
	}
	obs := c.in.Connectors[blk.Connector.Addr()]
	if obs == nil || !obs.Exists {
		name := blk.Connector.ConnectorName
		var others []string
		if obs != nil {
			others = obs.OtherNames
		}
		c.check(SeverityError, "connector_missing", addr, fmt.Sprintf("connector %q does not exist on %s: create it (it may be created STOPPED) before changing its offsets, or fix the name in %s.%s",
			name, blk.Connector.Connect.Addr(), blk.Connector.Addr(), config.Suggest(name, others)))
		op.Status = StatusBlocked
		c.ops = append(c.ops, op)
		return
	}
	op.Method = obs.WriteVia
	before := len(c.checks)
	c.halt(&op, blk, obs)
	switch blk.Kind {
	case config.OpSinkPartitions:
		c.sinkPartitions(&op, blk, obs)
	case config.OpSourcePartitions:
		c.sourcePartitions(&op, blk, obs)
	case config.OpRestore:
		c.restore(&op, blk, obs)
	case config.OpCopyFrom:
		c.copyFrom(&op, blk, obs)
	case config.OpReset:
		c.reset(&op, obs)
	}
	c.skipAcknowledgement(&op)
	c.safetyNotes(&op, blk, obs)
	c.sourceRetention(&op, blk, obs)
	c.schemaHistory(&op, blk, obs)
	c.sourceLogGap(&op, blk, obs)
	c.hazards(&op, obs)
	failed := obs.State == "FAILED"
	for _, ts := range obs.TaskStates {
		failed = failed || ts == "FAILED"
	}
	switch {
	case failed && op.Halt == HaltDeleteRecreate:
		c.check(SeverityWarning, "connector_failed", addr, fmt.Sprintf("connector %q or one of its tasks is FAILED: apply deletes it, changes the offsets and re-creates it, and a re-created connector starts (a worker older than 3.5 has no STOPPED state): it fails again until the cause is fixed", obs.Name))
	case failed:
		c.check(SeverityWarning, "connector_failed", addr, fmt.Sprintf("connector %q or one of its tasks is FAILED: apply stops it, changes the offsets and leaves it STOPPED for you to resume once the cause is fixed", obs.Name))
	}
	for _, ch := range c.checks[before:] {
		if ch.Severity == SeverityError {
			op.Status = StatusBlocked
		}
	}
	if op.Status == StatusChange && !hasRealChange(op.Changes) {
		op.Status = StatusNoChange
	}
	if op.Status == StatusChange || op.Status == StatusBlocked {
		op.Risks = offsetsRisks(&op, c.latest[addr], obs.Codec, c.in.Direction)
	}
	c.ops = append(c.ops, op)
}

// halt decides how apply keeps the connector's tasks from writing while it
// changes their offsets. Workers older than Kafka Connect 3.5 have no
// PUT /stop: the only safe way there is the runbook's, deleting the
// connector (its offsets stay) and re-creating it with its saved
// configuration, which the block must ask for with acknowledge =
// ["delete_recreate"]. A PAUSED connector is refused: re-created, it would
// start and consume before it could be paused again.
func (c *computer) halt(op *Operation, blk *config.Offsets, obs *ConnectorObservation) {
	if obs.CanStop() {
		return
	}
	v, _ := connect.ParseVersion(obs.WorkerVersion)
	if !blk.Acknowledges(config.AckDeleteRecreate) {
		c.check(SeverityError, "no_stop_endpoint", op.Address, fmt.Sprintf(
			"connector %q: Kafka Connect %s has no stop endpoint (3.5+), so nothing guarantees that no task still writes offsets (pause keeps them running): offsetctl will not change them while the connector exists. Upgrade the workers to Kafka Connect 3.5 or later, or add acknowledge = [%q] to %s: apply then deletes the connector (its offsets stay), writes them, and re-creates it with the configuration it saved in the state",
			obs.Name, v, config.AckDeleteRecreate, op.Address))
		return
	}
	if obs.State == "PAUSED" {
		c.check(SeverityError, "delete_recreate_paused", op.Address, fmt.Sprintf(
			"connector %q is PAUSED: re-created on Kafka Connect %s (no initial_state before 3.7) it would start and consume the records a rewind replays before offsetctl could pause it again: resume it first, or wait for a worker upgrade",
			obs.Name, v))
		return
	}
	op.Halt = HaltDeleteRecreate
	c.check(SeverityWarning, "delete_recreate", op.Address, fmt.Sprintf(
		"connector %q will be DELETED and RE-CREATED (Kafka Connect %s has no stop endpoint; acknowledged: %s): apply saves its exact configuration in the state, deletes it (its offsets stay), waits until no task writes, writes the offsets, and re-creates it with the saved configuration; it is absent from GET /connectors in between, and a crash in between is recovered from the state",
		obs.Name, v, config.AckDeleteRecreate))
}

func hasRealChange(chs []Change) bool {
	for _, ch := range chs {
		if ch.Action != ActionNoOp {
			return true
		}
	}
	return false
}

// skipAcknowledgement refuses an operation that skips more records than the
// operator acknowledged with allow_skip_records. A skip block acknowledges
// the one record it names per partition by itself.
func (c *computer) skipAcknowledgement(op *Operation) {
	var skips int64
	for _, ch := range op.Changes {
		if ch.Sink != nil {
			skips += ch.Sink.Skips
		}
	}
	named := c.skipBlocks[op.Address]
	skips -= c.refusedSkips[op.Address]
	if skips <= 0 {
		return
	}
	allowed := op.AllowSkipRecords
	if allowed < 0 {
		allowed = 0
	}
	if skips > allowed+named {
		if op.AllowSkipRecords < 0 {
			c.check(SeverityError, "skip_not_acknowledged", op.Address, fmt.Sprintf(
				"this change skips %s records that the sink will never receive: add allow_skip_records = %d to the block to acknowledge it", Thousands(skips), skips))
		} else {
			// Say what skips (the targets, per partition), not a guess at
			// why the number differs from the one acknowledged.
			c.check(SeverityError, "skip_over_acknowledged", op.Address, fmt.Sprintf(
				"this change skips %s records, more than allow_skip_records = %d acknowledges (%s): raise allow_skip_records to %d if the sink may never receive them, or skip fewer",
				Thousands(skips), op.AllowSkipRecords, strings.Join(c.skipCauses[op.Address], "; "), skips))
		}
	}
}

func (c *computer) sinkPartitions(op *Operation, blk *config.Offsets, obs *ConnectorObservation) {
	if obs.Type != Sink {
		c.check(SeverityError, "not_a_sink", op.Address, fmt.Sprintf("sink_partition blocks need a sink connector, but %q is a %s connector", obs.Name, obs.Type))
		return
	}
	seen := map[string]bool{}
	for _, sp := range blk.SinkPartitions {
		parts := sp.Partitions
		var known []SinkPartition
		for _, p := range obs.Sink {
			if p.Topic == sp.Topic {
				known = append(known, p)
			}
		}
		if len(known) == 0 {
			c.check(SeverityError, "topic_missing", op.Address, fmt.Sprintf("topic %q does not exist, or the connector does not consume it", sp.Topic))
			continue
		}
		if parts == nil {
			for _, p := range known {
				parts = append(parts, p.Partition)
			}
		}
		for _, pn := range parts {
			id := fmt.Sprintf("%s[%d]", sp.Topic, pn)
			if seen[id] {
				c.check(SeverityError, "partition_twice", op.Address, fmt.Sprintf("%s is moved by two sink_partition blocks", id))
				continue
			}
			seen[id] = true
			var cur *SinkPartition
			for i := range known {
				if known[i].Partition == pn {
					cur = &known[i]
				}
			}
			if cur == nil {
				c.check(SeverityError, "partition_missing", op.Address, fmt.Sprintf("partition %d of %q does not exist (the topic has %d partitions)", pn, sp.Topic, len(known)))
				continue
			}
			after, ok := c.sinkTarget(op, sp, *cur)
			if !ok {
				continue
			}
			ch := sinkChange(*cur, after)
			op.Changes = append(op.Changes, ch)
			if sp.Target.Kind == config.TargetLatest {
				if c.latest[op.Address] == nil {
					c.latest[op.Address] = map[string]bool{}
				}
				c.latest[op.Address][id] = true
			}
			c.sinkRange(op, id, *cur, after)
			if ch.Sink.Skips > 0 {
				c.skipCause(op, sp, id, *ch.Sink)
			}
		}
	}
}

func (c *computer) sinkTarget(op *Operation, sp *config.SinkPartition, cur SinkPartition) (int64, bool) {
	id := fmt.Sprintf("%s[%d]", cur.Topic, cur.Partition)
	t := sp.Target
	switch t.Kind {
	case config.TargetOffset:
		return t.Offset, true
	case config.TargetEarliest:
		return cur.LogStart, true
	case config.TargetLatest:
		return cur.LogEnd, true
	case config.TargetShift:
		if cur.Committed < 0 {
			c.check(SeverityError, "no_committed_offset", op.Address, fmt.Sprintf("shift_by needs a committed offset, but %s has none: use to_offset", id))
			return 0, false
		}
		return cur.Committed + t.Shift, true
	case config.TargetSkip:
		if cur.Committed != t.Offset {
			c.check(SeverityError, "skip_precondition", op.Address, fmt.Sprintf(
				"skip = %d expects the committed offset of %s to be %d, but it is %s: the sink moved; look at the record again and update skip",
				t.Offset, id, t.Offset, offsetWord(cur.Committed)))
			return 0, false
		}
		c.skipBlocks[op.Address]++
		return t.Offset + 1, true
	case config.TargetTimestamp:
		key := TimestampKey{Topic: cur.Topic, Partition: cur.Partition, Millis: t.Timestamp.UnixMilli()}
		off, ok := c.in.Timestamps[key]
		if !ok {
			c.check(SeverityError, "timestamp_unresolved", op.Address, fmt.Sprintf("the offset of %s at %s could not be looked up", id, t.Timestamp.UTC().Format(time.RFC3339)))
			return 0, false
		}
		return off, true
	}
	c.check(SeverityError, "no_target", op.Address, fmt.Sprintf("%s has no target", id))
	return 0, false
}

// skipCause records why a sink partition's change skips records, and
// refuses a to_timestamp in the future: it resolves to the log end, which
// skips everything not yet consumed, almost always by a typo (the year, the
// zone); to_latest says that on purpose.
func (c *computer) skipCause(op *Operation, sp *config.SinkPartition, id string, sc SinkChange) {
	from := skipFrom(sc)
	t := sp.Target
	var cause string
	switch t.Kind {
	case config.TargetShift:
		cause = fmt.Sprintf("%s: shift_by = %d skips %s", id, t.Shift, records(sc.Skips))
	case config.TargetOffset:
		cause = fmt.Sprintf("%s: to_offset = %d skips %s after %s", id, t.Offset, records(sc.Skips), from)
	case config.TargetLatest:
		cause = fmt.Sprintf("%s: to_latest skips %s to the log end %d", id, records(sc.Skips), sc.LogEnd)
	case config.TargetSkip:
		cause = fmt.Sprintf("%s: skip = %d skips 1 record, acknowledged by the skip block itself", id, t.Offset)
	case config.TargetTimestamp:
		ts := t.Timestamp.UTC().Format(time.RFC3339)
		if !c.in.Now.IsZero() && t.Timestamp.After(c.in.Now) {
			c.refusedSkips[op.Address] += sc.Skips
			c.check(SeverityError, "timestamp_in_future", op.Address, fmt.Sprintf(
				"%s: to_timestamp = %q is in the future (the plan was made at %s): it resolves to the log end %d, which skips %s after %s; check the date and the time zone, or use to_latest to skip to the end on purpose",
				id, ts, c.in.Now.UTC().Format(time.RFC3339), sc.After, records(sc.Skips), from))
			return
		}
		cause = fmt.Sprintf("%s: to_timestamp = %q resolves to offset %d, which skips %s after %s", id, ts, sc.After, records(sc.Skips), from)
	default:
		cause = fmt.Sprintf("%s: the target %d skips %s after %s", id, sc.After, records(sc.Skips), from)
	}
	c.skipCauses[op.Address] = append(c.skipCauses[op.Address], cause)
}

// skipFrom names where a sink change's skipped records start: the
// committed offset, or the log start when nothing is committed.
func skipFrom(sc SinkChange) string {
	if sc.Before < 0 {
		return fmt.Sprintf("the log start %d (nothing committed)", sc.LogStart)
	}
	return "the committed offset " + fmt.Sprint(sc.Before)
}

func records(n int64) string {
	if n == 1 {
		return "1 record"
	}
	return Thousands(n) + " records"
}

func offsetWord(n int64) string {
	if n < 0 {
		return "not committed"
	}
	return fmt.Sprint(n)
}

// sinkChange computes a sink partition's change and its cost. With no
// committed offset the consumer would start at the log start
// (auto.offset.reset=earliest, Connect's default for sinks), so the cost is
// counted from there.
func sinkChange(cur SinkPartition, after int64) Change {
	sc := &SinkChange{Topic: cur.Topic, Partition: cur.Partition, Before: cur.Committed, After: after,
		Rollback: cur.Committed, LogStart: cur.LogStart, LogEnd: cur.LogEnd}
	if after < 0 {
		return Change{Action: ActionDelete, Sink: sc}
	}
	from := cur.Committed
	if from < 0 {
		from = cur.LogStart
	}
	switch {
	case after < from:
		sc.Replays = from - after
	case after > from:
		sc.Skips = after - from
	}
	action := ActionUpdate
	switch {
	case cur.Committed == after:
		action = ActionNoOp
	case cur.Committed < 0:
		action = ActionCreate
	}
	return Change{Action: action, Sink: sc}
}

// sinkRange refuses targets outside [log start, log end]: below the start
// the records are gone and the consumer would silently resume later; above
// the end it would reset to the earliest offset and replay everything.
func (c *computer) sinkRange(op *Operation, id string, cur SinkPartition, after int64) {
	switch {
	case after < 0:
	case after < cur.LogStart:
		c.check(SeverityError, "below_log_start", op.Address, fmt.Sprintf(
			"%s: target %d is below the log start offset %d: records %d..%d were deleted by retention%s, and the sink would silently resume at %d",
			id, after, cur.LogStart, after, cur.LogStart-1, oldestRetained(cur), cur.LogStart))
	case after > cur.LogEnd:
		c.check(SeverityError, "above_log_end", op.Address, fmt.Sprintf(
			"%s: target %d is beyond the log end offset %d: the consumer would reset to the earliest offset and replay the whole partition",
			id, after, cur.LogEnd))
	}
}

// oldestRetained says when the oldest record retention kept was written
// (", the oldest retained record was written at T"), or "" when unknown.
func oldestRetained(cur SinkPartition) string {
	if cur.LogStartMillis <= 0 {
		return ""
	}
	return fmt.Sprintf(" (the oldest retained record, offset %d, was written at %s)", cur.LogStart,
		time.UnixMilli(cur.LogStartMillis).UTC().Format("2006-01-02T15:04:05.000Z07:00"))
}

func (c *computer) sourcePartitions(op *Operation, blk *config.Offsets, obs *ConnectorObservation) {
	if obs.Type != Source {
		c.check(SeverityError, "not_a_source", op.Address, fmt.Sprintf("source_partition blocks need a source connector, but %q is a %s connector", obs.Name, obs.Type))
		return
	}
	for _, sp := range blk.SourcePartitions {
		part, err := offsets.ParseMap(sp.Partition)
		if err != nil {
			c.check(SeverityError, "bad_partition", op.Address, fmt.Sprintf("partition: %v", err))
			continue
		}
		cur := findSource(obs.Source, part)
		ch := &SourceChange{Partition: part}
		if cur != nil {
			ch.Partition, ch.Key = cur.Partition, cur.Key
			b := cur.Offset
			ch.Before, ch.Rollback = &b, &b
		} else {
			ch.Partition = part.JavaOrder()
			ch.Key = offsets.EncodeKey(obs.Name, ch.Partition)
		}
		if sp.Offset != nil {
			off, err := offsets.ParseMap(sp.Offset)
			if err != nil {
				c.check(SeverityError, "bad_offset", op.Address, fmt.Sprintf("offset: %v", err))
				continue
			}
			if sp.Merge && ch.Before != nil {
				off = ch.Before.Merge(off)
			} else if sp.Merge {
				c.check(SeverityWarning, "merge_without_offset", op.Address, fmt.Sprintf("merge = true, but partition %s has no offset yet: the offset is set as written", part))
			} else if ch.Before != nil {
				// A replacement keeps the current field order for fields
				// it keeps, so the diff shows what really changes.
				off = reorderLike(off, *ch.Before)
			}
			ch.After = &off
			if c.in.Validate != nil {
				if err := c.in.Validate(obs.Codec, ch.Partition, off, ch.Before); err != nil {
					c.check(SeverityError, "codec", op.Address, fmt.Sprintf("the %s codec refuses the offset for %s: %v", obs.Codec, part, err))
				}
			}
		}
		op.Changes = append(op.Changes, sourceChange(ch))
	}
}

// reorderLike puts off's fields that also exist in like first, in like's
// order, followed by the rest in off's order.
func reorderLike(off, like offsets.Map) offsets.Map {
	var fields []offsets.Field
	for _, k := range like.Keys() {
		if v, ok := off.Get(k); ok {
			fields = append(fields, offsets.Field{Key: k, Value: v})
		}
	}
	for _, f := range off.Fields() {
		if _, ok := like.Get(f.Key); !ok {
			fields = append(fields, f)
		}
	}
	return offsets.NewMap(fields...)
}

func sourceChange(ch *SourceChange) Change {
	switch {
	case ch.Before == nil && ch.After == nil:
		return Change{Action: ActionNoOp, Source: ch}
	case ch.Before == nil:
		return Change{Action: ActionCreate, Source: ch}
	case ch.After == nil:
		return Change{Action: ActionDelete, Source: ch}
	case ch.Before.Equal(*ch.After):
		return Change{Action: ActionNoOp, Source: ch}
	}
	return Change{Action: ActionUpdate, Source: ch}
}

func findSource(list []SourceOffset, part offsets.Map) *SourceOffset {
	for i := range list {
		if list[i].Partition.Equal(part) {
			return &list[i]
		}
	}
	return nil
}

func (c *computer) restore(op *Operation, blk *config.Offsets, obs *ConnectorObservation) {
	op.Kind = KindRestore
	data := c.in.Restores[blk.Restore]
	if data == nil {
		c.check(SeverityError, "restore_unreadable", op.Address, fmt.Sprintf("the backup %s could not be read", blk.Restore))
		return
	}
	c.copyOffsets(op, obs, data.Source[obs.Name], data.Sink[obs.Name], "the backup "+blk.Restore)
}

func (c *computer) copyFrom(op *Operation, blk *config.Offsets, obs *ConnectorObservation) {
	from := c.in.Connectors[blk.CopyFrom.Addr()]
	if from == nil || !from.Exists {
		c.check(SeverityError, "copy_from_missing", op.Address, fmt.Sprintf("connector %q to copy from does not exist on %s", blk.CopyFrom.ConnectorName, blk.CopyFrom.Connect.Addr()))
		return
	}
	if from.Type != obs.Type {
		c.check(SeverityError, "copy_from_type", op.Address, fmt.Sprintf("cannot copy the offsets of %s connector %q to %s connector %q", from.Type, from.Name, obs.Type, obs.Name))
		return
	}
	switch {
	case obs.Type == Source && knownCodec(from.Codec) && knownCodec(obs.Codec) && from.Codec != obs.Codec:
		// A Debezium MySQL binlog position copied onto a Debezium
		// PostgreSQL connector (say) names no position there: the
		// connector would fail on it, or worse, start somewhere.
		msg := fmt.Sprintf("%q (%s) keeps %s offsets but %q (%s) reads %s offsets: copied, they cannot mean the same position",
			from.Name, from.Class, from.Codec, obs.Name, obs.Class, obs.Codec)
		if !blk.AcknowledgeCrossFormatCopy {
			c.check(SeverityError, "copy_from_format", op.Address, msg+
				"; copy from a connector of the same kind, or, if the target really reads these offsets, add acknowledge_cross_format_copy = true to the block")
			return
		}
		c.check(SeverityWarning, "copy_from_format", op.Address, msg+" (acknowledged with acknowledge_cross_format_copy = true)")
	case from.Class != obs.Class:
		c.check(SeverityWarning, "copy_from_class", op.Address, fmt.Sprintf("%q runs %s but %q runs %s: check that the offsets mean the same to both", from.Name, from.Class, obs.Name, obs.Class))
	}
	c.copyOffsets(op, obs, from.Source, from.Sink, fmt.Sprintf("connector %q", from.Name))
}

// knownCodec is a codec that knows what its offsets mean: not "generic"
// (any class offsetctl has no codec for), not none.
func knownCodec(name string) bool { return name != "" && name != "generic" }

// copyOffsets makes obs's offsets those of src (source) or sink: every
// partition present there is set; partitions obs has beyond them are left
// as they are, with a warning.
func (c *computer) copyOffsets(op *Operation, obs *ConnectorObservation, src []SourceOffset, sink []SinkPartition, from string) {
	switch obs.Type {
	case Source:
		if len(src) == 0 {
			c.check(SeverityError, "nothing_to_copy", op.Address, fmt.Sprintf("%s holds no source offsets for %q", from, obs.Name))
			return
		}
		for _, so := range src {
			ch := &SourceChange{Partition: so.Partition}
			if cur := findSource(obs.Source, so.Partition); cur != nil {
				ch.Key = cur.Key
				ch.Partition = cur.Partition
				b := cur.Offset
				ch.Before, ch.Rollback = &b, &b
			} else {
				// Same partition map, in the order it was stored, under
				// this connector's name.
				ch.Key = offsets.EncodeKey(obs.Name, so.Partition)
			}
			a := so.Offset
			if ch.Before != nil {
				a = reorderLike(a, *ch.Before)
			}
			ch.After = &a
			op.Changes = append(op.Changes, sourceChange(ch))
		}
		for _, cur := range obs.Source {
			if findSource(src, cur.Partition) == nil {
				c.check(SeverityWarning, "partition_not_in_source", op.Address, fmt.Sprintf("partition %s has an offset now but none in %s: it is left as it is", cur.Partition, from))
			}
		}
	case Sink:
		if len(sink) == 0 {
			c.check(SeverityError, "nothing_to_copy", op.Address, fmt.Sprintf("%s holds no sink offsets for %q", from, obs.Name))
			return
		}
		list := append([]SinkPartition(nil), sink...)
		sort.Slice(list, func(i, j int) bool {
			if list[i].Topic != list[j].Topic {
				return list[i].Topic < list[j].Topic
			}
			return list[i].Partition < list[j].Partition
		})
		for _, want := range list {
			if want.Committed < 0 {
				continue
			}
			var cur *SinkPartition
			for i := range obs.Sink {
				if obs.Sink[i].Topic == want.Topic && obs.Sink[i].Partition == want.Partition {
					cur = &obs.Sink[i]
				}
			}
			id := fmt.Sprintf("%s[%d]", want.Topic, want.Partition)
			if cur == nil {
				c.check(SeverityError, "partition_missing", op.Address, fmt.Sprintf("%s from %s does not exist on this cluster", id, from))
				continue
			}
			ch := sinkChange(*cur, want.Committed)
			op.Changes = append(op.Changes, ch)
			c.sinkRange(op, id, *cur, want.Committed)
			if ch.Sink.Skips > 0 {
				c.skipCauses[op.Address] = append(c.skipCauses[op.Address], fmt.Sprintf("%s: the offset %d from %s skips %s after %s",
					id, want.Committed, from, records(ch.Sink.Skips), skipFrom(*ch.Sink)))
			}
		}
	}
}

func (c *computer) reset(op *Operation, obs *ConnectorObservation) {
	switch obs.Type {
	case Source:
		for _, so := range obs.Source {
			b := so.Offset
			op.Changes = append(op.Changes, Change{Action: ActionDelete, Source: &SourceChange{Key: so.Key, Partition: so.Partition, Before: &b, Rollback: &b}})
		}
		if c.in.Notes == nil { // the codec's notes say it, and say it better
			c.check(SeverityWarning, "resnapshot", op.Address, fmt.Sprintf("deleting the offsets of %q makes it start over: a source connector takes a new snapshot per its snapshot.mode", obs.Name))
		}
	case Sink:
		for _, p := range obs.Sink {
			if p.Committed < 0 {
				continue
			}
			op.Changes = append(op.Changes, sinkChange(p, -1))
		}
		c.sinkResetTo(op, obs)
	}
}

// sinkResetTo says where a sink whose consumer group offsets are deleted
// resumes, by its consumer.override.auto.offset.reset: earliest (the
// default) replays the retained log; latest skips everything not consumed,
// counted on each change as a jump_to_latest that allow_skip_records must
// acknowledge like to_latest; none makes its tasks fail at start.
func (c *computer) sinkResetTo(op *Operation, obs *ConnectorObservation) {
	switch obs.AutoOffsetReset {
	case "latest":
		for i := range op.Changes {
			sc := op.Changes[i].Sink
			if sc == nil || sc.LogEnd <= sc.Before {
				continue
			}
			sc.Skips = sc.LogEnd - sc.Before
			id := fmt.Sprintf("%s[%d]", sc.Topic, sc.Partition)
			if c.latest[op.Address] == nil {
				c.latest[op.Address] = map[string]bool{}
			}
			c.latest[op.Address][id] = true
			c.skipCauses[op.Address] = append(c.skipCauses[op.Address], fmt.Sprintf(
				"%s: reset with auto.offset.reset = latest skips %s to the log end %d", id, records(sc.Skips), sc.LogEnd))
		}
		c.check(SeverityWarning, "sink_reset", op.Address, fmt.Sprintf(
			"deleting the consumer group of %q makes it resume per its consumer.override.auto.offset.reset = latest: at the log end, so every record not yet consumed is never delivered", obs.Name))
	case "none":
		c.check(SeverityError, "sink_reset_none", op.Address, fmt.Sprintf(
			"%q has consumer.override.auto.offset.reset = none: with its consumer group offsets deleted its tasks fail at start (no offset to resume from); set the offsets with sink_partition blocks (to_earliest, to_offset) instead", obs.Name))
	default:
		c.check(SeverityWarning, "sink_reset", op.Address, fmt.Sprintf("deleting the consumer group of %q makes it resume per auto.offset.reset (earliest by default): the whole retained log is replayed", obs.Name))
	}
}

// safetyNotes turns the codec's notes on each source change into warnings,
// except the hazards the plan refuses unless acknowledged (noteCheck).
func (c *computer) safetyNotes(op *Operation, blk *config.Offsets, obs *ConnectorObservation) {
	if c.in.Notes == nil {
		return
	}
	for _, ch := range op.Changes {
		if ch.Source == nil || ch.Action == ActionNoOp {
			continue
		}
		for _, n := range c.in.Notes(obs.Codec, ch.Source.Partition, ch.Source.Before, ch.Source.After) {
			sev, code, msg := noteCheck(n, ch.Source, blk)
			c.check(sev, code, op.Address, msg)
		}
	}
}

// noteCheck is the check a codec's note on a source change makes: a
// warning (codec_note), except a set that drops the stored offset's
// incremental_snapshot_* keys, which silently cancels the Debezium
// incremental snapshot in progress (a repair someone started, perhaps the
// one repairing a gap): an error unless acknowledged. Deleting the offset
// (reset, offset = null) is acknowledged by acknowledge_resnapshot.
func noteCheck(n offsets.SafetyNote, ch *SourceChange, blk *config.Offsets) (Severity, string, string) {
	if n.Code != "debezium-incremental-snapshot-dropped" || ch.After == nil {
		return SeverityWarning, "codec_note", n.Text
	}
	msg := fmt.Sprintf("partition %s: %s", ch.Partition, n.Text)
	if blk.Acknowledges(config.AckCancelIncrementalSnapshot) {
		return SeverityWarning, "incremental_snapshot_dropped", msg + " (acknowledged: " + config.AckCancelIncrementalSnapshot + ")"
	}
	keep := ""
	if blk.Kind == config.OpSourcePartitions {
		keep = "set merge = true in the source_partition block to keep the keys, or "
	}
	return SeverityError, "incremental_snapshot_dropped", msg + fmt.Sprintf(
		`; %sadd acknowledge = ["%s"] if the snapshot is to stop`, keep, config.AckCancelIncrementalSnapshot)
}

// sourceRetention weighs a Debezium source connector's changes against what
// its source database retains, as planning read it through
// source_database: for PostgreSQL the replication slot (a position the slot
// cannot stream from is an error, one below what it confirmed replays
// nothing below it); for MariaDB and MySQL the binlog (a binlog file or GTID
// the server no longer has, or never had, is an error, a file about to
// expire a warning with the hours left). Without a source_database the plan
// says what was not checked.
func (c *computer) sourceRetention(op *Operation, blk *config.Offsets, obs *ConnectorObservation) {
	if obs.Type != Source || !hasRealChange(op.Changes) {
		return
	}
	sd := obs.SourceDB
	var what, checks, server, reads string
	var judge func(ch *SourceChange) []sourcedb.Finding
	switch obs.Codec {
	case "debezium-postgres":
		what, checks, reads = "the replication slot", "whether the new position is still in the WAL, and whether PostgreSQL will replay from it", "the slot"
		if sd != nil && sd.Postgres != nil {
			judge = func(ch *SourceChange) []sourcedb.Finding {
				edit := sourcedb.PostgresEdit{ConnectorState: obs.State, FlushMode: sd.FlushMode, Tables: sd.Tables, Acknowledged: blk.Acknowledge}
				if ch.After != nil {
					edit.Target, edit.HasTarget = offsets.PostgresResumeLSN(*ch.After)
				}
				if ch.Before != nil {
					edit.Stored, _ = offsets.PostgresResumeLSN(*ch.Before)
				}
				return sourcedb.JudgePostgres(sd.Postgres, edit)
			}
		}
	case "debezium-mysql":
		what, checks, server, reads = "the binlog", "whether the new position's binlog file and GTIDs are still on the server", " (its MariaDB/MySQL server)", "it"
		if sd != nil && sd.Binlog != nil {
			judge = func(ch *SourceChange) []sourcedb.Finding {
				var edit sourcedb.BinlogEdit
				if ch.After != nil {
					edit = binlogEdit(*ch.After)
				}
				return sourcedb.JudgeBinlog(sd.Binlog, edit)
			}
		}
	default:
		return
	}
	switch {
	case sd == nil:
		c.check(SeverityWarning, "source_unchecked", op.Address, fmt.Sprintf(
			"%s of connector %q was not checked (%s): add source_database = database.NAME%s to %s so that plan reads %s", what, obs.Name, checks, server, op.Connector, reads))
		return
	case judge == nil:
		c.check(SeverityWarning, "source_unchecked", op.Address, fmt.Sprintf(
			"%s of connector %q was not checked: %s could not be read (%s)", what, obs.Name, sd.Database, sd.Error))
		return
	}
	for _, ch := range op.Changes {
		if ch.Source == nil || ch.Action == ActionNoOp {
			continue
		}
		for _, f := range judge(ch.Source) {
			c.check(Severity(f.Severity), f.Code, op.Address, f.Message)
		}
	}
}

// schemaHistory weighs a Debezium MySQL, MariaDB or SQL Server connector's
// source changes against its schema history (read at planning): at start
// the connector rebuilds its tables' schemas from the history records at or
// before its offset (binlog file/pos; SQL Server: change_lsn, NULL below
// every LSN), then reads the binlog (change tables) from there. A position before the
// history's first record is an error unless acknowledged (schema_history);
// a rewind before recorded DDLs is a warning that names the latest (safe:
// they are read again); a move forward warns that DDLs in between are never
// recorded. The plan also says what the history holds.
func (c *computer) schemaHistory(op *Operation, blk *config.Offsets, obs *ConnectorObservation) {
	sh := obs.SchemaHistory
	if obs.Type != Source || sh == nil || !hasRealChange(op.Changes) {
		return
	}
	if sh.Error != "" {
		c.check(SeverityWarning, "schema_history_unchecked", op.Address, fmt.Sprintf(
			"the schema history of connector %q was not read, so whether it can rebuild its tables' schemas at the new position was not checked: %s", obs.Name, sh.Error))
		return
	}
	judged := false
	for _, ch := range op.Changes {
		if ch.Source == nil || ch.Action == ActionNoOp || ch.Source.After == nil {
			continue
		}
		target, ok := historyPosition(obs.Codec, *ch.Source.After)
		if !ok {
			continue
		}
		var stored schemahistory.Position
		if ch.Source.Before != nil {
			if p, ok := historyPosition(obs.Codec, *ch.Source.Before); ok {
				stored = p
			}
		}
		judged = true
		// A SQL Server connector capturing several databases records each
		// with its partition's database.
		database := ""
		if v, ok := ch.Source.Partition.Get("database"); ok && v.Kind() == offsets.KindString {
			database = v.Text()
		}
		for _, f := range schemahistory.Judge(schemahistory.OfDatabase(sh.Records, database), stored, target, blk.Acknowledge) {
			c.check(Severity(f.Severity), f.Code, op.Address, f.Message)
		}
	}
	if judged {
		c.check(SeverityOK, "schema_history", op.Address, schemaHistorySummary(sh))
	}
}

// historyPosition is the position of a Debezium offset as its schema
// history orders it: a binlog offset's file and pos, a SQL Server offset's
// change_lsn (and commit_lsn, event_serial_no).
func historyPosition(codec string, off offsets.Map) (schemahistory.Position, bool) {
	if codec == "debezium-sqlserver" {
		var lsn [2]string
		for i, key := range []string{"change_lsn", "commit_lsn"} {
			if v, ok := off.Get(key); ok && v.Kind() == offsets.KindString {
				lsn[i] = v.Text()
			}
		}
		serial := int64(0)
		if v, ok := off.Get("event_serial_no"); ok {
			serial, _ = v.Int64()
		}
		p, err := schemahistory.ParseLSNPosition(lsn[0], lsn[1], serial)
		return p, err == nil
	}
	file, pos, ok := offsets.MySQLBinlogPosition(off)
	if !ok {
		return nil, false
	}
	p, err := schemahistory.ParsePosition(file, pos)
	return p, err == nil
}

// schemaHistorySummary is the line a plan shows for the schema history:
// where it is, what it holds, and its latest DDL with the position.
func schemaHistorySummary(sh *SchemaHistoryObservation) string {
	msg := fmt.Sprintf("schema history topic %q (server %q): %s", sh.Topic, sh.Server, plural(sh.Read, "record"))
	if len(sh.Records) == 0 {
		return msg + ", none with a position"
	}
	first := sh.Records[0]
	fp, _ := first.Position()
	msg += fmt.Sprintf(", the first at %s (offset %d)", fp, first.Offset)
	if last, ok := schemahistory.Latest(sh.Records); ok {
		lp, _ := last.Position()
		msg += fmt.Sprintf("; the latest schema change at %s (offset %d): %s", lp, last.Offset, last.DDL)
	} else {
		msg += "; no schema change since the snapshot"
	}
	return msg
}

// binlogEdit is where a Debezium MariaDB or MySQL offset makes the
// connector resume, as JudgeBinlog weighs it (no target without a file).
func binlogEdit(off offsets.Map) sourcedb.BinlogEdit {
	var e sourcedb.BinlogEdit
	e.File, e.Pos, e.GTIDs, e.TsSec, e.HasTarget = offsets.MySQLResume(off)
	return e
}

// logJudge returns how to judge a position of obs's source against what
// planning read of its log (the source's verdicts, and the position as
// text), or nil when nothing was read.
func logJudge(obs *ConnectorObservation) (func(off offsets.Map) ([]sourcedb.Finding, string), bool) {
	sd := obs.SourceDB
	if obs.Codec == "debezium-mysql" && sd != nil && sd.Binlog != nil {
		return func(off offsets.Map) ([]sourcedb.Finding, string) {
			edit := binlogEdit(off)
			if !edit.HasTarget {
				return nil, ""
			}
			at := fmt.Sprintf("%s:%d", edit.File, edit.Pos)
			if edit.GTIDs != "" {
				at += " (gtids " + edit.GTIDs + ")"
			}
			return sourcedb.JudgeBinlog(sd.Binlog, edit), at
		}, true
	}
	if obs.Codec != "debezium-postgres" || sd == nil || sd.Postgres == nil {
		return nil, false
	}
	return func(off offsets.Map) ([]sourcedb.Finding, string) {
		lsn, ok := offsets.PostgresResumeLSN(off)
		if !ok {
			return nil, ""
		}
		return sourcedb.JudgePostgres(sd.Postgres, sourcedb.PostgresEdit{Target: lsn, HasTarget: true, ConnectorState: obs.State,
			FlushMode: sd.FlushMode, Tables: sd.Tables}), offsets.FormatLSN(lsn)
	}, true
}

// logGone lists the codes of findings that say the log is gone.
func logGone(fs []sourcedb.Finding) []string {
	var out []string
	for _, f := range fs {
		if sourcedb.LogGone(f.Code) {
			out = append(out, f.Code)
		}
	}
	return out
}

// sourceLogGap refuses, unless acknowledged (source_log_gap), a source
// change whose effect is to move the connector from a position whose log
// the source no longer holds (the WAL below the slot's restart_lsn, a
// purged binlog: see sourcedb.LogGone) to one whose log it holds. The
// changes in the gap are lost either way; the edit only makes the connector
// run again without an error, hiding it. The check says so in one line and
// points to the repairs that bring the data back.
func (c *computer) sourceLogGap(op *Operation, blk *config.Offsets, obs *ConnectorObservation) {
	judge, ok := logJudge(obs)
	if !ok {
		return
	}
	for _, ch := range op.Changes {
		if ch.Source == nil || ch.Action != ActionUpdate || ch.Source.Before == nil || ch.Source.After == nil {
			continue
		}
		storedFindings, stored := judge(*ch.Source.Before)
		gone := logGone(storedFindings)
		targetFindings, target := judge(*ch.Source.After)
		if len(gone) == 0 || len(logGone(targetFindings)) > 0 {
			continue
		}
		msg := fmt.Sprintf("partition %s: the source no longer holds the log at the stored position %s (%s), so the changes from there to the new position %s are lost, and this edit only moves the connector past the gap, which hides the loss; ",
			ch.Source.Partition, stored, strings.Join(gone, ", "), target)
		if blk.Acknowledges(config.AckSourceLogGap) {
			c.check(SeverityWarning, "hides_data_loss", op.Address, msg+"acknowledged ("+config.AckSourceLogGap+")")
			continue
		}
		c.check(SeverityError, "hides_data_loss", op.Address, msg+fmt.Sprintf(
			`repair the data instead with a reconcile block (repair = "snapshot_signal" for a Debezium incremental snapshot, or repair = "upsert"), or acknowledge = ["%s"] to accept the loss`, config.AckSourceLogGap))
	}
}
