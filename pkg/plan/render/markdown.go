package render

import (
	"fmt"
	"io"
	"strings"

	"github.com/offsetctl/offsetctl/pkg/plan"
)

// MarkdownLimit is the largest comment GitHub accepts is 65,536 characters;
// Markdown output stays under this with room to spare.
const MarkdownLimit = 65000

// Markdown writes the plan for a pull-request comment: a summary table, one
// collapsible section per operation with its diff, the checks, and the
// rollback plan. When the whole would exceed limit characters (0 means
// MarkdownLimit), operations' details are left out from the end and a note
// says how many and how to see them.
func Markdown(w io.Writer, p *plan.Plan, limit int) error {
	if limit <= 0 {
		limit = MarkdownLimit
	}
	conns := map[string]plan.ConnectorObservation{}
	for _, c := range p.Connectors {
		conns[c.Address] = c
	}
	s := p.Summarize()
	var head strings.Builder
	head.WriteString("### offsetctl plan\n\n")
	fmt.Fprintf(&head, "**%s**\n\n", summaryLine(s))
	if s.Errors > 0 {
		head.WriteString("> [!CAUTION]\n> This plan cannot be applied: it has errors (see Checks).\n\n")
	}
	head.WriteString(markdownRisks(p))
	var rows []string
	for _, op := range p.Operations {
		n, rep, skip := 0, int64(0), int64(0)
		for _, ch := range op.Changes {
			if ch.Action == plan.ActionNoOp {
				continue
			}
			n++
			if ch.Sink != nil {
				rep += ch.Sink.Replays
				skip += ch.Sink.Skips
			}
		}
		risk := "—"
		if len(op.Risks) > 0 {
			var cs []string
			for _, r := range op.Risks {
				cs = append(cs, "`"+string(r.Class)+"`")
			}
			risk = strings.Join(cs, " ")
		}
		rows = append(rows, fmt.Sprintf("| `%s` | `%s` | %s | %s | %d | %s | %s |\n", op.Address, mdEscape(conns[op.Connector].Name),
			strings.ReplaceAll(string(op.Status), "_", " "), risk, n, group(rep), group(skip)))
	}
	var sections []string
	for _, op := range p.Operations {
		var b strings.Builder
		writeOperationText(&b, painter{}, op, conns[op.Connector])
		sections = append(sections, fmt.Sprintf("<details><summary><code>%s</code> — %s</summary>\n\n```diff\n%s```\n\n</details>\n",
			op.Address, mdEscape(opSummary(op)), diffMarkers(strings.TrimLeft(b.String(), "\n"))))
	}
	var checks strings.Builder
	var shownChecks []plan.Check
	for _, c := range sortedChecks(withoutPreflight(p.Checks)) {
		if p.Policy == nil || !strings.HasPrefix(c.Code, "policy_") { // else in the Policy section
			shownChecks = append(shownChecks, c)
		}
	}
	if len(shownChecks) > 0 {
		checks.WriteString("\n#### Checks\n\n")
		for _, c := range shownChecks {
			where := ""
			if c.Operation != "" {
				where = "`" + c.Operation + "`: "
			}
			icon := map[plan.Severity]string{plan.SeverityError: "❌ **error**", plan.SeverityWarning: "⚠️ **warning**", plan.SeverityOK: "✅"}[c.Severity]
			fmt.Fprintf(&checks, "- %s %s%s\n", icon, where, mdEscape(c.Message))
		}
	}
	first := true
	for _, c := range p.Checks {
		if !c.IsPreflight() {
			continue
		}
		if first {
			checks.WriteString("\n#### Pre-flight checklist\n\n")
			first = false
		}
		box, where := "[ ]", ""
		if c.Severity == plan.SeverityOK {
			box = "[x]"
		}
		if c.Operation != "" {
			where = "`" + c.Operation + "`: "
		}
		fmt.Fprintf(&checks, "- %s %s%s\n", box, where, mdEscape(c.Message))
	}
	var rollback strings.Builder
	for _, op := range p.Operations {
		if op.Status == plan.StatusChange {
			writeRollbackText(&rollback, painter{}, op, conns[op.Connector])
		}
	}
	hash := "`" + p.Hash + "`"
	if p.Hash == "" {
		hash = "(not saved: run plan -out FILE)"
	}
	against := "no state yet"
	if p.State.Lineage != "" {
		against = fmt.Sprintf("state lineage `%s` serial %d", p.State.Lineage, p.State.Serial)
	}
	footer := fmt.Sprintf("\n<sub>Plan hash %s · offsetctl %s · %s · %s</sub>\n",
		hash, p.OffsetctlVersion, p.CreatedAt.UTC().Format("2006-01-02 15:04:05Z"), against)

	// Spend the budget in order of importance: summary and checks, the
	// table, the rollback plan, then each operation's details.
	const noteRoom = 600
	budget := limit - head.Len() - len(footer) - noteRoom
	checkText := fitText(checks.String(), budget/3, "checks")
	budget -= len(checkText)
	var table strings.Builder
	if len(rows) > 0 {
		table.WriteString("| operation | connector | status | risk | partitions | replayed | skipped |\n|---|---|---|---|---|---:|---:|\n")
		shown := 0
		for _, r := range rows {
			if table.Len()+len(r) > budget/2 {
				break
			}
			table.WriteString(r)
			shown++
		}
		if shown < len(rows) {
			fmt.Fprintf(&table, "| … %d more operations | | | | | | |\n", len(rows)-shown)
		}
		table.WriteString("\n")
	}
	budget -= table.Len()
	rollbackText := ""
	if rollback.Len() > 0 {
		rollbackText = fmt.Sprintf("\n<details><summary>Rollback plan</summary>\n\n```diff\n%s```\n\n</details>\n",
			diffMarkers(fitText(rollback.String(), budget/2, "rollback plan")))
	}
	budget -= len(rollbackText)
	var details strings.Builder
	shown := 0
	for _, sec := range sections {
		if details.Len()+len(sec) > budget {
			break
		}
		details.WriteString(sec)
		shown++
	}
	var out strings.Builder
	out.WriteString(head.String())
	out.WriteString(table.String())
	out.WriteString(details.String())
	if shown < len(sections) {
		fmt.Fprintf(&out, "\n> [!NOTE]\n> The details of %d of %d operations are not shown: a pull-request comment holds at most %d characters. Run `offsetctl show PLANFILE` for the whole plan.\n",
			len(sections)-shown, len(sections), limit)
	}
	out.WriteString(checkText)
	out.WriteString(rollbackText)
	out.WriteString(footer)
	_, err := io.WriteString(w, out.String())
	return err
}

// fitText cuts text at a line boundary to at most max characters, saying
// what was cut.
func fitText(text string, max int, what string) string {
	if len(text) <= max {
		return text
	}
	cut := strings.LastIndex(text[:max], "\n") + 1
	omitted := strings.Count(text[cut:], "\n")
	return text[:cut] + fmt.Sprintf("… %d more lines of the %s are not shown; run `offsetctl show PLANFILE`\n", omitted, what)
}

func opSummary(op plan.Operation) string {
	if op.Reconcile != nil {
		return reconcileSummary(op)
	}
	switch op.Status {
	case plan.StatusAlreadyApplied:
		return "already applied"
	case plan.StatusNoChange:
		return "no change"
	}
	n := 0
	for _, ch := range op.Changes {
		if ch.Action != plan.ActionNoOp {
			n++
		}
	}
	if op.Halt == plan.HaltDeleteRecreate {
		return fmt.Sprintf("%d %s to change; the connector is deleted and re-created", n, plural(n, "partition", "partitions"))
	}
	return fmt.Sprintf("%d %s to change", n, plural(n, "partition", "partitions"))
}

// diffMarkers moves each changed line's symbol to the first column, where
// GitHub's diff highlighting looks for it: "-" and "+" lines are coloured,
// "~" (an update) becomes "!".
func diffMarkers(text string) string {
	var b strings.Builder
	for _, line := range strings.SplitAfter(text, "\n") {
		if line == "" {
			continue
		}
		indent := len(line) - len(strings.TrimLeft(line, " "))
		rest := line[indent:]
		if indent == 0 || len(rest) < 2 || rest[1] != ' ' || !strings.ContainsRune("~+-", rune(rest[0])) {
			b.WriteString(line)
			continue
		}
		switch rest[0] {
		case '~':
			b.WriteString("!" + line[1:])
		default:
			b.WriteString(string(rest[0]) + line[1:indent] + " " + rest[1:])
		}
	}
	return b.String()
}

func mdEscape(s string) string {
	r := strings.NewReplacer("|", "\\|", "<", "&lt;", ">", "&gt;", "\n", " ")
	return r.Replace(s)
}

// JSON writes the plan in its file format (the same bytes plan -out saves).
func JSON(w io.Writer, p *plan.Plan) error {
	data, err := plan.Marshal(p)
	if err != nil {
		return err
	}
	_, err = w.Write(data)
	return err
}

// markdownRisks is the risk and policy section of a pull-request comment:
// each changing operation's risk classes with what they cost, then the
// policies' verdicts and the approvals apply will need.
func markdownRisks(p *plan.Plan) string {
	var risks strings.Builder
	for _, op := range p.Operations {
		if op.Status != plan.StatusChange && op.Status != plan.StatusBlocked {
			continue
		}
		for _, r := range op.Risks {
			class, text, _ := strings.Cut(r.String(), ": ")
			fmt.Fprintf(&risks, "- `%s` **%s**: %s\n", op.Address, class, mdEscape(text))
		}
	}
	var b strings.Builder
	if risks.Len() > 0 {
		b.WriteString("#### Risk\n\n" + risks.String() + "\n")
	}
	if r := p.Policy; r != nil {
		b.WriteString("#### Policy\n\n")
		var names []string
		for _, n := range r.Policies {
			names = append(names, "`"+n+"`")
		}
		fmt.Fprintf(&b, "Evaluated: %s.", strings.Join(names, ", "))
		if r.Approvals > 0 {
			fmt.Fprintf(&b, " Apply needs **%d signed approval(s)**: %s.", r.Approvals, mdEscape(strings.Join(r.Because, "; ")))
		} else {
			b.WriteString(" No approvals asked for this plan's risk classes.")
		}
		b.WriteString("\n\n")
		for _, c := range sortedChecks(p.Checks) {
			if !strings.HasPrefix(c.Code, "policy_") || c.Code == "policy_approvals" {
				continue
			}
			where := ""
			if c.Operation != "" {
				where = "`" + c.Operation + "`: "
			}
			icon := map[plan.Severity]string{plan.SeverityError: "❌ **refused**", plan.SeverityWarning: "⚠️", plan.SeverityOK: "✅"}[c.Severity]
			fmt.Fprintf(&b, "- %s %s%s\n", icon, where, mdEscape(c.Message))
		}
		b.WriteString("\n")
	}
	return b.String()
}
