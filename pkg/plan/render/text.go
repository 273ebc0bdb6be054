package render

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/sergi/go-diff/diffmatchpatch"

	"github.com/offsetctl/offsetctl/pkg/offsets"
	"github.com/offsetctl/offsetctl/pkg/plan"
)

// Options shape the text rendering.
type Options struct {
	// Color enables ANSI colours.
	Color bool
}

type painter struct{ on bool }

func (p painter) paint(code, s string) string {
	if !p.on || s == "" {
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}
func (p painter) green(s string) string  { return p.paint("32", s) }
func (p painter) yellow(s string) string { return p.paint("33", s) }
func (p painter) red(s string) string    { return p.paint("31", s) }
func (p painter) bold(s string) string   { return p.paint("1", s) }
func (p painter) dim(s string) string    { return p.paint("2", s) }

func symbol(a plan.Action) string {
	switch a {
	case plan.ActionUpdate:
		return "~"
	case plan.ActionCreate:
		return "+"
	case plan.ActionDelete:
		return "-"
	}
	return " "
}

func (p painter) sym(a plan.Action) string {
	s := symbol(a)
	switch a {
	case plan.ActionUpdate:
		return p.yellow(s)
	case plan.ActionCreate:
		return p.green(s)
	case plan.ActionDelete:
		return p.red(s)
	}
	return s
}

// Text writes the plan as an operator reviews it: each operation with its
// partitions (before → after and what it costs), the checks, a summary line,
// and the rollback plan.
func Text(w io.Writer, p *plan.Plan, opts Options) error {
	pt := painter{on: opts.Color}
	var b strings.Builder
	conns := map[string]plan.ConnectorObservation{}
	for _, c := range p.Connectors {
		conns[c.Address] = c
	}
	changing, offsetsOps, reconcileOps, undoOps := 0, 0, 0, 0
	for _, op := range p.Operations {
		if op.Kind == plan.KindRollback || op.Kind == plan.KindRestore {
			undoOps++
		}
		if op.Status == plan.StatusChange || op.Status == plan.StatusBlocked {
			changing++
		}
		if op.Reconcile != nil {
			reconcileOps++
		} else {
			offsetsOps++
		}
	}
	if changing == 0 {
		what := "The offsets already match the configuration."
		switch {
		case undoOps > 0 && undoOps == len(p.Operations):
			// A rollback or restore plan: nothing in the configuration to match.
			what = "What the rollback or restore would put back is already in place."
		case reconcileOps > 0 && offsetsOps == 0:
			what = "The sink tables already match their sources."
		case reconcileOps > 0:
			what = "The offsets already match the configuration and the sink tables their sources."
		}
		b.WriteString(pt.green("No changes.") + " " + what + "\n")
	} else {
		b.WriteString("offsetctl will perform the following operations:\n")
	}
	for _, op := range p.Operations {
		writeOperationText(&b, pt, op, conns[op.Connector])
	}
	if checks := withoutPreflight(p.Checks); len(checks) > 0 {
		b.WriteString("\nChecks:\n")
		for _, c := range sortedChecks(checks) {
			where := ""
			if c.Operation != "" {
				where = c.Operation + ": "
			}
			switch c.Severity {
			case plan.SeverityError:
				fmt.Fprintf(&b, "  %s %s%s\n", pt.red("✗ error:"), where, c.Message)
			case plan.SeverityWarning:
				fmt.Fprintf(&b, "  %s %s%s\n", pt.yellow("! warning:"), where, c.Message)
			default:
				fmt.Fprintf(&b, "  %s %s%s\n", pt.green("✓"), where, c.Message)
			}
		}
	}
	if line := policyLine(p); line != "" {
		b.WriteString("\n" + line + "\n")
	}
	s := p.Summarize()
	b.WriteString("\n" + pt.bold(summaryLine(s)) + "\n")
	if s.Errors > 0 {
		b.WriteString(pt.red("This plan cannot be applied: fix the errors above and plan again.") + "\n")
	}
	var rb strings.Builder
	for _, op := range p.Operations {
		if op.Status != plan.StatusChange || (op.Reconcile == nil && !hasRealChange(op.Changes)) {
			continue // nothing a rollback could restore (a rollback of rows, say)
		}
		writeRollbackText(&rb, pt, op, conns[op.Connector])
	}
	if rb.Len() > 0 {
		b.WriteString("\nRollback plan (what `offsetctl rollback` restores after apply):\n")
		b.WriteString(rb.String())
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func summaryLine(s plan.Summary) string {
	blocked := ""
	if s.Blocked > 0 {
		blocked = fmt.Sprintf(", %d blocked", s.Blocked)
	}
	rows := ""
	if s.Rows > 0 {
		rows = fmt.Sprintf("%s %s to repair; ", group(s.Rows), plural(int(min(s.Rows, 2)), "sink row", "sink rows"))
	}
	risk := "none"
	if s.HighestRisk != "" {
		risk = string(s.HighestRisk)
	}
	return fmt.Sprintf("Plan: %d %s to apply%s, %d unchanged; %s%d %s to change (%d to delete); %s replayed, %s skipped; %d %s, %d %s; highest risk: %s.",
		s.Operations, plural(s.Operations, "operation", "operations"), blocked, s.Unchanged, rows,
		s.Partitions, plural(s.Partitions, "partition", "partitions"), s.Deletes,
		records(s.Replays), records(s.Skips),
		s.Errors, plural(s.Errors, "error", "errors"), s.Warnings, plural(s.Warnings, "warning", "warnings"), risk)
}

func records(n int64) string {
	return fmt.Sprintf("%s %s", group(n), plural(int(min(n, 2)), "record", "records"))
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// group writes n with thousands separators.
func group(n int64) string { return plan.Thousands(n) }

func connectorLine(c plan.ConnectorObservation) string {
	if c.Address == "" {
		return ""
	}
	if !c.Exists {
		return fmt.Sprintf("connector %q (not found on %s)", c.Name, c.Cluster)
	}
	state := c.State
	for i, ts := range c.TaskStates {
		if ts != "RUNNING" || c.State != "RUNNING" {
			state += fmt.Sprintf(", task %d %s", i, ts)
		}
	}
	return fmt.Sprintf("connector %q (%s, %s, Kafka Connect %s on %s)", c.Name, c.Type, state, c.WorkerVersion, c.Cluster)
}

func writeOperationText(b *strings.Builder, pt painter, op plan.Operation, c plan.ConnectorObservation) {
	if op.Reconcile != nil {
		writeReconcileText(b, pt, op)
		return
	}
	b.WriteString("\n")
	head := "# " + op.Address
	if line := connectorLine(c); line != "" {
		head += " — " + line
	}
	fmt.Fprintf(b, "  %s\n", pt.dim(head))
	if op.Reason != "" {
		fmt.Fprintf(b, "  %s\n", pt.dim("# reason: "+op.Reason))
	}
	writeRisks(b, pt, op)
	switch op.Status {
	case plan.StatusAlreadyApplied:
		fmt.Fprintf(b, "    %s\n", pt.dim(fmt.Sprintf("already applied (state serial %d), no change", op.AppliedSerial)))
		return
	case plan.StatusNoChange:
		fmt.Fprintf(b, "    %s\n", pt.dim("no change: the offsets already match"))
		return
	}
	via := ""
	switch op.Method {
	case plan.MethodTopic:
		via = " via the offsets topic"
	case plan.MethodGroup:
		via = " via the consumer group"
	case plan.MethodREST:
		via = " via the Connect REST API"
	}
	if via != "" {
		via = pt.dim("  #" + via)
	}
	fmt.Fprintf(b, "  %s %s %q {%s\n", pt.sym(plan.ActionUpdate), op.Kind, op.Name, via)
	if op.Halt == plan.HaltDeleteRecreate {
		fmt.Fprintf(b, "      %s/%s connector %q DELETED, then RE-CREATED with its saved configuration  %s\n", pt.red("-"), pt.green("+"), c.Name,
			pt.dim("# Kafka Connect "+c.WorkerVersion+" has no stop endpoint; its offsets stay"))
	}
	for _, ch := range op.Changes {
		switch {
		case ch.Sink != nil:
			writeSinkChange(b, pt, ch.Action, *ch.Sink, false)
		case ch.Source != nil:
			writeSourceChange(b, pt, ch.Action, c.Codec, ch.Source.Partition, ch.Source.Before, ch.Source.After)
		}
	}
	if len(op.Changes) == 0 && op.Kind == plan.KindRollback {
		// The rollback of a repair: rows, not offsets.
		fmt.Fprintf(b, "      %s sink rows: put back from the before-images in the state, after checking that nobody changed them since\n", pt.sym(plan.ActionUpdate))
	}
	b.WriteString("    }\n")
}

func offsetText(n int64) string {
	if n < 0 {
		return "(none)"
	}
	return group(n)
}

func writeSinkChange(b *strings.Builder, pt painter, a plan.Action, s plan.SinkChange, rollback bool) {
	from, to := s.Before, s.After
	if rollback {
		from, to = s.After, s.Rollback
	}
	name := fmt.Sprintf("%s[%d]", s.Topic, s.Partition)
	if a == plan.ActionNoOp {
		fmt.Fprintf(b, "        %-40s %s %s\n", name, offsetText(from), pt.dim("(no change)"))
		return
	}
	cost := ""
	if !rollback {
		switch {
		case to < 0 && s.Skips > 0:
			cost = pt.yellow(fmt.Sprintf("(offset deleted: the sink resumes at the log end per auto.offset.reset = latest, and skips %s)", records(s.Skips)))
		case to < 0:
			cost = "(offset deleted: the sink resumes per auto.offset.reset, earliest by default)"
		case s.Replays > 0:
			cost = fmt.Sprintf("(replays %s)", records(s.Replays))
		case s.Skips > 0:
			cost = pt.yellow(fmt.Sprintf("(skips %s)", records(s.Skips)))
		}
		cost += pt.dim(fmt.Sprintf("  log %s..%s", group(s.LogStart), group(s.LogEnd)))
	}
	fmt.Fprintf(b, "      %s %-40s %s\n", pt.sym(a), name, strings.TrimRight(fmt.Sprintf("%s → %s  %s", offsetText(from), offsetText(to), cost), " "))
}

func partitionText(m offsets.Map) string { return m.String() }

func writeSourceChange(b *strings.Builder, pt painter, a plan.Action, codec string, part offsets.Map, before, after *offsets.Map) {
	fmt.Fprintf(b, "      %s source partition %s\n", pt.sym(a), partitionText(part))
	for _, line := range jsonDiff(codec, before, after) {
		switch line[0] {
		case '-':
			b.WriteString("          " + pt.red(line) + "\n")
		case '+':
			b.WriteString("          " + pt.green(line) + "\n")
		default:
			b.WriteString("          " + line + "\n")
		}
	}
}

// prettyLines renders an offset one field per line, keys in their order,
// each value as the connector's codec shows it (a Debezium PostgreSQL LSN as
// X/Y with its decimal value, a ts_usec as a time); the JSON rendering and
// the plan file keep the exact stored values.
func prettyLines(codec string, m *offsets.Map) string {
	if m == nil {
		return "null\n"
	}
	var b strings.Builder
	b.WriteString("{\n")
	shown := codecText(codec, *m)
	fs := m.Fields()
	for i, f := range fs {
		comma := ","
		if i == len(fs)-1 {
			comma = ""
		}
		v, ok := shown[f.Key]
		if !ok {
			v = string(f.Value.JSON())
		}
		fmt.Fprintf(&b, "  %q: %s%s\n", f.Key, v, comma)
	}
	b.WriteString("}\n")
	return b.String()
}

// codecText returns the offset fields that the codec named codec shows
// otherwise than as raw JSON, by key. An unknown or generic codec shows
// none.
func codecText(codec string, m offsets.Map) map[string]string {
	if codec == "" || codec == "generic" {
		return nil
	}
	c, err := offsets.NewRegistry().Choose("", codec)
	if err != nil {
		return nil
	}
	out := map[string]string{}
	for _, f := range c.Decode(offsets.NewMap(), m) {
		if f.Partition || !f.Known {
			continue
		}
		if v, ok := m.Get(f.Key); ok && f.Text != string(v.JSON()) && f.Text != v.String() {
			out[f.Key] = f.Text
		}
	}
	return out
}

// jsonDiff returns the line diff of two offsets, each line prefixed with
// "- ", "+ " or "  ".
func jsonDiff(codec string, before, after *offsets.Map) []string {
	dmp := diffmatchpatch.New()
	a, c, lines := dmp.DiffLinesToChars(prettyLines(codec, before), prettyLines(codec, after))
	diffs := dmp.DiffCharsToLines(dmp.DiffMain(a, c, false), lines)
	var out []string
	for _, d := range diffs {
		prefix := "  "
		switch d.Type {
		case diffmatchpatch.DiffDelete:
			prefix = "- "
		case diffmatchpatch.DiffInsert:
			prefix = "+ "
		}
		for _, l := range strings.Split(strings.TrimSuffix(d.Text, "\n"), "\n") {
			out = append(out, prefix+l)
		}
	}
	return out
}

func writeRollbackText(b *strings.Builder, pt painter, op plan.Operation, c plan.ConnectorObservation) {
	if op.Reconcile != nil {
		writeReconcileRollback(b, pt, op)
		return
	}
	fmt.Fprintf(b, "  %s %s %q on connector %q {\n", pt.sym(plan.ActionUpdate), op.Kind, op.Name, c.Name)
	for _, ch := range op.Changes {
		if ch.Action == plan.ActionNoOp {
			continue
		}
		switch {
		case ch.Sink != nil:
			writeSinkChange(b, pt, plan.ActionUpdate, *ch.Sink, true)
		case ch.Source != nil:
			ra := plan.ActionUpdate
			if ch.Source.Rollback == nil {
				ra = plan.ActionDelete
			} else if ch.Source.After == nil {
				ra = plan.ActionCreate
			}
			writeSourceChange(b, pt, ra, c.Codec, ch.Source.Partition, ch.Source.After, ch.Source.Rollback)
		}
	}
	b.WriteString("    }\n")
}

// withoutPreflight leaves out the pre-flight checklist, which the Markdown
// comment shows apart (and JSON holds among the checks).
func withoutPreflight(cs []plan.Check) []plan.Check {
	var out []plan.Check
	for _, c := range cs {
		if !c.IsPreflight() {
			out = append(out, c)
		}
	}
	return out
}

func sortedChecks(cs []plan.Check) []plan.Check {
	out := append([]plan.Check(nil), cs...)
	rank := map[plan.Severity]int{plan.SeverityError: 0, plan.SeverityWarning: 1, plan.SeverityOK: 2}
	sort.SliceStable(out, func(i, j int) bool { return rank[out[i].Severity] < rank[out[j].Severity] })
	return out
}

func hasRealChange(chs []plan.Change) bool {
	for _, ch := range chs {
		if ch.Action != plan.ActionNoOp {
			return true
		}
	}
	return false
}

// writeRisks writes an operation's risk classes, one line each, highest
// first.
func writeRisks(b *strings.Builder, pt painter, op plan.Operation) {
	for _, r := range op.Risks {
		line := "# risk: " + r.String()
		if plan.RiskRank(r.Class) >= plan.RiskRank(plan.RiskSinkReset) {
			fmt.Fprintf(b, "  %s\n", pt.yellow(line))
			continue
		}
		fmt.Fprintf(b, "  %s\n", pt.dim(line))
	}
}

// policyLine says which policies judged the plan and the approvals they
// ask; "" without policies.
func policyLine(p *plan.Plan) string {
	r := p.Policy
	if r == nil {
		return ""
	}
	if r.Approvals == 0 {
		return fmt.Sprintf("Policy (%s): no approvals asked for this plan's risk classes.", strings.Join(r.Policies, ", "))
	}
	return fmt.Sprintf("Policy (%s): apply needs %d signed approval(s): %s.", strings.Join(r.Policies, ", "), r.Approvals, strings.Join(r.Because, "; "))
}
