package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

var offsetsSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "connector", Required: true}, {Name: "reason"},
		{Name: "allow_skip_records"}, {Name: "acknowledge_resnapshot"}, {Name: "acknowledge_cross_format_copy"},
		{Name: "tolerance"}, {Name: "restore"}, {Name: "copy_from"}, {Name: "reset"},
		{Name: "acknowledge"}, {Name: "change_window"},
	},
	Blocks: []hcl.BlockHeaderSchema{{Type: "sink_partition"}, {Type: "source_partition"}},
}

// sinkTargets are the target attributes of sink_partition, in the order the
// messages list them.
var sinkTargets = []TargetKind{TargetOffset, TargetTimestamp, TargetShift, TargetEarliest, TargetLatest, TargetSkip}

var sinkPartitionSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "topic", Required: true}, {Name: "partitions"},
	{Name: string(TargetOffset)}, {Name: string(TargetTimestamp)}, {Name: string(TargetShift)},
	{Name: string(TargetEarliest)}, {Name: string(TargetLatest)}, {Name: string(TargetSkip)},
}}

var sourcePartitionSchema = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
	{Name: "partition", Required: true}, {Name: "offset", Required: true}, {Name: "merge"},
}}

// opPart is one piece of an offsets block that names an operation.
type opPart struct {
	kind OperationKind
	rng  hcl.Range
}

func (d *decoder) decodeOffsets(b *hcl.Block) *Offsets {
	o := &Offsets{Name: b.Labels[0], DeclRange: b.DefRange}
	content, diags := b.Body.Content(offsetsSchema)
	d.add(diags...)
	attrs := content.Attributes
	o.Ranges = rangesOf(attrs)

	if n, ok := d.ref(attrs["connector"], "connector"); ok {
		o.Connector = d.cfg.Connector(n)
	}
	d.decodeReason(b, attrs["reason"], &o.Reason)
	if a := attrs["allow_skip_records"]; a != nil {
		if n, ok := d.integer(a, 0, maxInt64); ok {
			o.AllowSkipRecords = &n
		}
	}
	o.Tolerance = d.decodeTolerance(attrs["tolerance"])
	o.AcknowledgeResnapshot, _ = d.boolean(attrs["acknowledge_resnapshot"])
	if attrs["acknowledge_resnapshot"] != nil && d.lastUnknown {
		// Unknown in validate: do not report it missing. A Partial Config
		// is for diagnostics only.
		o.AcknowledgeResnapshot = true
	}

	o.AcknowledgeCrossFormatCopy, _ = d.boolean(attrs["acknowledge_cross_format_copy"])
	if attrs["acknowledge_cross_format_copy"] != nil && d.lastUnknown {
		o.AcknowledgeCrossFormatCopy = true
	}

	if a := attrs["acknowledge"]; a != nil {
		if list, ok := d.strings(a); ok {
			for _, v := range list {
				if !knownAcknowledgement(v) {
					d.errorf(a.Expr.Range(), "Invalid acknowledgement", "acknowledge lists %s, not %q.", acknowledgementList(), v)
					continue
				}
				o.Acknowledge = append(o.Acknowledge, v)
			}
		}
	}
	if a := attrs["change_window"]; a != nil {
		if v, ok := d.str(a); ok && !d.lastUnknown {
			from, to, found := strings.Cut(v, "/")
			start, err1 := time.Parse(time.RFC3339, strings.TrimSpace(from))
			end, err2 := time.Parse(time.RFC3339, strings.TrimSpace(to))
			if !found || err1 != nil || err2 != nil || !end.After(start) {
				d.errorf(a.Expr.Range(), "Invalid change window", "change_window is \"START/END\" in RFC 3339, END after START, like \"2026-11-21T02:00:00Z/2026-11-21T04:00:00Z\"; not %q.", v)
			} else {
				o.AgreedWindow = &AgreedWindow{Start: start.UTC(), End: end.UTC()}
			}
		}
	}

	// Which operation is it? Exactly one kind.
	var parts []opPart
	for _, sb := range content.Blocks {
		parts = append(parts, opPart{OperationKind(sb.Type), sb.DefRange})
	}
	for _, k := range []OperationKind{OpRestore, OpCopyFrom, OpReset} {
		if a := attrs[string(k)]; a != nil {
			parts = append(parts, opPart{k, a.Range})
		}
	}
	sort.SliceStable(parts, func(i, j int) bool { return parts[i].rng.Start.Byte < parts[j].rng.Start.Byte })
	if len(parts) == 0 {
		d.errorf(b.DefRange, "Missing operation", "An offsets block needs one operation: sink_partition blocks, source_partition blocks, restore, copy_from or reset.")
		return o
	}
	o.Kind = parts[0].kind
	for _, p := range parts[1:] {
		if p.kind != o.Kind {
			d.errorf(p.rng, "Conflicting operations", "This offsets block already holds %s (%s); an offsets block does one kind of operation. Put %s in an offsets block of its own.", opWords(o.Kind), at(parts[0].rng, p.rng), opWords(p.kind))
			return o
		}
	}

	switch o.Kind {
	case OpSinkPartitions:
		d.decodeSinkPartitions(o, content.Blocks)
	case OpSourcePartitions:
		d.decodeSourcePartitions(o, content.Blocks)
	case OpRestore:
		a := attrs["restore"]
		if call, isCall := a.Expr.(*hclsyntax.FunctionCallExpr); isCall && call.Name == "file" {
			d.errorf(a.Expr.Range(), "Invalid restore value", "restore takes the path of an offsetctl offsets backup file, not its content: write restore = \"backups/NAME.json\" (relative to the configuration directory). The file is read when planning.")
		} else if p, ok := d.nonEmpty(a); ok {
			o.Restore = p
		}
	case OpCopyFrom:
		a := attrs["copy_from"]
		if n, ok := d.ref(a, "connector"); ok {
			o.CopyFrom = d.cfg.Connector(n)
			if o.Connector != nil && o.CopyFrom == o.Connector {
				d.errorf(a.Expr.Range(), "Invalid copy source", "copy_from names the connector this block changes; name the connector whose offsets are copied, often on another Connect cluster.")
			}
		}
	case OpReset:
		a := attrs["reset"]
		if v, ok := d.boolean(a); ok {
			if !v {
				d.errorf(a.Expr.Range(), "Invalid value", "reset can only be true; to leave the offsets alone, remove the offsets block.")
			} else {
				o.Reset = true
				if !o.AcknowledgeResnapshot {
					d.errorf(a.Range, "Missing re-snapshot acknowledgement", "reset = true deletes the connector's offsets: a source connector then takes a full snapshot again, which can overload the source database, and a sink connector starts again from its consumer's auto.offset.reset. Acknowledge it with acknowledge_resnapshot = true in this offsets block.")
				}
			}
		}
	}
	return o
}

func opWords(k OperationKind) string {
	switch k {
	case OpSinkPartitions:
		return "sink_partition blocks"
	case OpSourcePartitions:
		return "source_partition blocks"
	}
	return string(k)
}

// decodeReason reads a reason attribute, and reports a missing one when the
// settings require it. An unknown reason (validate) counts as given.
func (d *decoder) decodeReason(b *hcl.Block, a *hcl.Attribute, dst *string) {
	given := false
	if a != nil {
		before := len(d.diags)
		s, _ := d.str(a)
		*dst = strings.TrimSpace(s)
		given = *dst != "" || len(d.diags) > before || d.lastUnknown
	}
	if d.cfg.Settings.RequireReason && !given {
		d.errorf(b.DefRange, "Missing reason", "This %s block needs a reason (require_reason is true, the default): say why the change is made, for the reviewers, the plan and the state (reason = \"...\"). Only a configuration that never needs one sets require_reason = false in its offsetctl block.", b.Type)
	}
}

// coverage tracks which partitions of a topic earlier sink_partition blocks
// of one offsets block moved.
type coverage struct {
	all        *hcl.Range
	partitions map[int32]hcl.Range
	first      hcl.Range
}

func (d *decoder) decodeSinkPartitions(o *Offsets, blocks hcl.Blocks) {
	covered := map[string]*coverage{}
	for _, b := range blocks {
		sp := &SinkPartition{DeclRange: b.DefRange}
		content, diags := b.Body.Content(sinkPartitionSchema)
		d.add(diags...)
		attrs := content.Attributes
		sp.Ranges = rangesOf(attrs)
		sp.Topic, _ = d.nonEmpty(attrs["topic"])

		// Partitions, each at most once in the whole offsets block.
		var elemRanges []hcl.Range
		if a := attrs["partitions"]; a != nil {
			parts, ok := d.partitionList(a)
			if ok {
				sp.Partitions = parts
				if tc, isTuple := a.Expr.(*hclsyntax.TupleConsExpr); isTuple && len(tc.Exprs) == len(parts) {
					for _, e := range tc.Exprs {
						elemRanges = append(elemRanges, e.Range())
					}
				}
			}
		}
		if sp.Topic != "" && (sp.Partitions != nil || attrs["partitions"] == nil) {
			cov := covered[sp.Topic]
			if cov == nil {
				cov = &coverage{partitions: map[int32]hcl.Range{}, first: b.DefRange}
				covered[sp.Topic] = cov
			}
			switch {
			case cov.all != nil:
				d.errorf(b.DefRange, "Duplicate partition", "Every partition of topic %q is already moved by the sink_partition block at %s; a partition can be moved only once per offsets block.", sp.Topic, at(*cov.all, b.DefRange))
			case sp.Partitions == nil && len(cov.partitions) > 0:
				d.errorf(b.DefRange, "Duplicate partition", "This block moves every partition of topic %q, but the sink_partition block at %s already moves some of them; a partition can be moved only once per offsets block.", sp.Topic, at(cov.first, b.DefRange))
			case sp.Partitions == nil:
				r := b.DefRange
				cov.all = &r
			default:
				for i, p := range sp.Partitions {
					rng := attrs["partitions"].Expr.Range()
					if i < len(elemRanges) {
						rng = elemRanges[i]
					}
					if prev, dup := cov.partitions[p]; dup {
						d.errorf(rng, "Duplicate partition", "Partition %d of topic %q is already moved at %s; a partition can be moved only once per offsets block.", p, sp.Topic, at(prev, rng))
						continue
					}
					cov.partitions[p] = rng
				}
			}
		}

		// Exactly one target.
		var present []*hcl.Attribute
		for _, k := range sinkTargets {
			if a := attrs[string(k)]; a != nil {
				present = append(present, a)
			}
		}
		sort.Slice(present, func(i, j int) bool { return present[i].Range.Start.Byte < present[j].Range.Start.Byte })
		if len(present) == 0 {
			d.errorf(b.DefRange, "Missing target", "A sink_partition block needs one target: to_offset, to_timestamp, shift_by, to_earliest, to_latest or skip.")
		}
		for _, a := range present[min(1, len(present)):] {
			d.errorf(a.Range, "Conflicting targets", "This sink_partition block already moves its partitions with %s (line %d); a block takes exactly one of to_offset, to_timestamp, shift_by, to_earliest, to_latest and skip. Use one block per target.", present[0].Name, present[0].Range.Start.Line)
		}
		if len(present) > 0 {
			d.decodeSinkTarget(o, sp, present[0])
		}
		o.SinkPartitions = append(o.SinkPartitions, sp)
	}
}

// partitionList reads partitions = [...]: whole numbers from 0 to 2^31-1,
// at least one, each once.
func (d *decoder) partitionList(a *hcl.Attribute) ([]int32, bool) {
	v, ok := d.value(a, cty.List(cty.Number))
	if !ok {
		return nil, false
	}
	if v.LengthInt() == 0 {
		d.errorf(a.Expr.Range(), "Invalid value", "List at least one partition, or leave partitions out to move every partition of the topic.")
		return nil, false
	}
	var tc *hclsyntax.TupleConsExpr
	if t, isTuple := a.Expr.(*hclsyntax.TupleConsExpr); isTuple && len(t.Exprs) == v.LengthInt() {
		tc = t
	}
	out := make([]int32, 0, v.LengthInt())
	seen := map[int32]bool{}
	i := 0
	for it := v.ElementIterator(); it.Next(); i++ {
		_, e := it.Element()
		rng := a.Expr.Range()
		if tc != nil {
			rng = tc.Exprs[i].Range()
		}
		if e.IsNull() {
			d.errorf(rng, "Invalid value", "A partition must be a number, not null.")
			return nil, false
		}
		n, ok := d.wholeNumber("partitions", e.AsBigFloat(), rng, 0, math.MaxInt32)
		if !ok {
			return nil, false
		}
		if seen[int32(n)] {
			d.errorf(rng, "Duplicate partition", "Partition %d is listed twice.", n)
			return nil, false
		}
		seen[int32(n)] = true
		out = append(out, int32(n))
	}
	return out, true
}

func (d *decoder) decodeSinkTarget(o *Offsets, sp *SinkPartition, a *hcl.Attribute) {
	t := &sp.Target
	t.Kind = TargetKind(a.Name)
	switch t.Kind {
	case TargetOffset, TargetSkip:
		t.Offset, _ = d.integer(a, 0, maxInt64-1)
	case TargetShift:
		n, ok := d.integer(a, math.MinInt64+1, maxInt64)
		if !ok {
			return
		}
		if n == 0 {
			d.errorf(a.Expr.Range(), "Invalid value", "shift_by = 0 changes nothing; give a negative number to rewind or a positive one to skip ahead.")
			return
		}
		t.Shift = n
		if _, acked := o.Ranges["allow_skip_records"]; n > 0 && !acked {
			d.errorf(a.Range, "Missing skip acknowledgement", "shift_by = %d skips up to %d records of each partition. Acknowledge how many records may be skipped in all with allow_skip_records = N in the offsets block; the plan refuses to skip more.", n, n)
		}
	case TargetTimestamp:
		s, ok := d.str(a)
		if !ok {
			return
		}
		ts, err := parseTimestamp(s)
		if err != nil {
			d.errorf(a.Expr.Range(), "Invalid timestamp", "%s.", strings.ToUpper(err.Error()[:1])+err.Error()[1:])
			return
		}
		t.Timestamp = ts
	case TargetEarliest, TargetLatest:
		v, ok := d.boolean(a)
		if !ok {
			return
		}
		if !v {
			d.errorf(a.Expr.Range(), "Invalid value", "%s can only be true; choose another target instead.", a.Name)
			return
		}
		if _, acked := o.Ranges["allow_skip_records"]; t.Kind == TargetLatest && !acked {
			d.errorf(a.Range, "Missing skip acknowledgement", "to_latest skips every record between the committed offset and the end of the partition, an unbounded gap. Acknowledge how many records may be skipped in all with allow_skip_records = N in the offsets block; the plan refuses to skip more.")
		}
	}
}

func (d *decoder) decodeSourcePartitions(o *Offsets, blocks hcl.Blocks) {
	seen := map[string]hcl.Range{}
	for _, b := range blocks {
		sp := &SourcePartition{DeclRange: b.DefRange}
		content, diags := b.Body.Content(sourcePartitionSchema)
		d.add(diags...)
		attrs := content.Attributes
		sp.Ranges = rangesOf(attrs)
		sp.Merge, _ = d.boolean(attrs["merge"])
		if a := attrs["partition"]; a != nil {
			if js, ok := d.jsonObject(a, false); ok {
				sp.Partition = js
				if prev, dup := seen[string(js)]; dup {
					d.errorf(a.Expr.Range(), "Duplicate source partition", "The source partition %s is already set at %s; set each source partition once per offsets block.", js, at(prev, a.Expr.Range()))
				} else {
					seen[string(js)] = a.Expr.Range()
				}
			}
		}
		if a := attrs["offset"]; a != nil {
			isNull := false
			if v, diags := a.Expr.Value(d.ctx); !diags.HasErrors() && v.IsKnown() && v.IsNull() {
				isNull = true
			}
			if isNull {
				if sp.Merge {
					d.errorf(a.Expr.Range(), "Invalid value", "merge = true needs an offset to merge; offset = null removes the partition's offset.")
				} else if !o.AcknowledgeResnapshot {
					d.errorf(a.Range, "Missing re-snapshot acknowledgement", "offset = null removes the offset of this source partition: the connector then starts it again from its snapshot mode, which can mean a full re-snapshot. Acknowledge it with acknowledge_resnapshot = true in the offsets block.")
				}
			} else if js, ok := d.jsonObject(a, true); ok {
				sp.Offset = js
			}
		}
		o.SourcePartitions = append(o.SourcePartitions, sp)
	}
}

// jsonObject reads an object or map attribute as canonical JSON: keys
// sorted, numbers exact, no insignificant space.
func (d *decoder) jsonObject(a *hcl.Attribute, isOffset bool) (json.RawMessage, bool) {
	v, ok := d.value(a, cty.DynamicPseudoType)
	if !ok {
		return nil, false
	}
	ty := v.Type()
	if !ty.IsObjectType() && !ty.IsMapType() {
		d.errorf(a.Expr.Range(), "Incorrect attribute value type", "The attribute %q must be an object, like { server = \"dbserver1\" }, not %s.", a.Name, ty.FriendlyName())
		return nil, false
	}
	if v.LengthInt() == 0 {
		what := "a source partition"
		if isOffset {
			what = "an offset"
		}
		d.errorf(a.Expr.Range(), "Invalid value", "%s cannot be empty.", strings.ToUpper(what[:1])+what[1:])
		return nil, false
	}
	for it := v.ElementIterator(); it.Next(); {
		k, e := it.Element()
		if !e.IsNull() && !e.Type().IsPrimitiveType() {
			d.errorf(a.Expr.Range(), "Invalid value", "The value of %q in %q is %s; Kafka Connect keeps only strings, numbers, booleans and null in source partitions and offsets.", k.AsString(), a.Name, e.Type().FriendlyName())
			return nil, false
		}
	}
	js, err := canonicalJSON(v)
	if err != nil {
		d.errorf(a.Expr.Range(), "Invalid value", "The attribute %q cannot be written as JSON: %v.", a.Name, err)
		return nil, false
	}
	return js, true
}

// canonicalJSON writes v as JSON with sorted keys and exact numbers.
func canonicalJSON(v cty.Value) (json.RawMessage, error) {
	raw, err := ctyjson.Marshal(v, v.Type())
	if err != nil {
		return nil, err
	}
	// Re-encode through encoding/json, keeping numbers as written, so
	// that nested maps come out sorted and compact the same way everywhere.
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var x any
	if err := dec.Decode(&x); err != nil {
		return nil, fmt.Errorf("re-reading the JSON: %w", err)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(x); err != nil {
		return nil, err
	}
	return json.RawMessage(bytes.TrimRight(buf.Bytes(), "\n")), nil
}

func knownAcknowledgement(v string) bool {
	for _, a := range Acknowledgements {
		if a.Code == v {
			return true
		}
	}
	return false
}

// acknowledgementList names every acknowledgement with what it states:
// "a" (means), "b" (means) or "c" (means).
func acknowledgementList() string {
	parts := make([]string, len(Acknowledgements))
	for i, a := range Acknowledgements {
		parts[i] = fmt.Sprintf("%q (%s)", a.Code, a.Means)
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " or " + parts[len(parts)-1]
}
