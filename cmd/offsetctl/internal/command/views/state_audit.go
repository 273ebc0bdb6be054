package views

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/offsetctl/offsetctl/pkg/state"
)

// AuditRecord is one operation in the audit of `state history -json` (its
// "operations") and `state history -markdown`: who applied what, when, from
// which plan, why, approved by whom, at which risk, and how it ended —
// the runbook's "document every offset edit with timestamps, reasons, and
// approvers".
type AuditRecord struct {
	Serial uint64 `json:"serial"`
	Name   string `json:"name"`
	Kind   string `json:"kind"`
	// Outcome is the operation's status: applied, incomplete, failed,
	// needs_rollback, rolled_back, in_progress.
	Outcome    string `json:"outcome"`
	Who        string `json:"who,omitempty"`
	Host       string `json:"host,omitempty"`
	Started    string `json:"started,omitempty"`
	Finished   string `json:"finished,omitempty"`
	PlanHash   string `json:"plan_hash,omitempty"`
	ConfigHash string `json:"config_hash,omitempty"`
	Reason     string `json:"reason,omitempty"`
	// VerifiedApprovers are the approvals whose signatures apply verified
	// against allowed_signers; Approvals the names given with --approved-by,
	// which nothing verified.
	VerifiedApprovers []AuditApprover `json:"verified_approvers"`
	Approvals         []string        `json:"unverified_approvals,omitempty"`
	// RiskClasses are the plan's risk classes of the operation, as apply
	// recorded them (empty for an operation that risks nothing, and for
	// operations recorded by an offsetctl that did not record them).
	RiskClasses  []string `json:"risk_classes"`
	Connectors   []string `json:"connectors,omitempty"`
	RollbackOf   uint64   `json:"rollback_of,omitempty"`
	RolledBackBy uint64   `json:"rolled_back_by,omitempty"`
	Error        string   `json:"error,omitempty"`
}

type AuditApprover struct {
	Principals  string `json:"principals"`
	Fingerprint string `json:"fingerprint"`
}

// AuditOf lists the operations of s in serial order.
func AuditOf(s *state.State) []AuditRecord {
	out := []AuditRecord{}
	if s == nil {
		return out
	}
	for _, op := range s.Operations {
		r := AuditRecord{Serial: op.Serial, Name: op.Name, Kind: string(op.Kind), Outcome: string(op.Status),
			Who: op.Who, Host: op.Host, Started: jsonTime(op.Started), Finished: jsonTime(op.Finished),
			PlanHash: op.PlanHash, ConfigHash: op.ConfigHash, Reason: op.Reason,
			VerifiedApprovers: []AuditApprover{}, Approvals: slices.Clone(op.Approvals), RiskClasses: append([]string{}, op.RiskClasses...),
			RollbackOf: op.RollbackOf, RolledBackBy: op.RolledBackBy, Error: op.Error}
		for _, a := range op.VerifiedApprovals {
			r.VerifiedApprovers = append(r.VerifiedApprovers, AuditApprover{Principals: a.Principals, Fingerprint: a.Fingerprint})
		}
		for _, c := range op.Connectors {
			r.Connectors = append(r.Connectors, c.Name)
		}
		out = append(out, r)
	}
	return out
}

// renderAuditMarkdown writes the audit as a Markdown table, for a ticket, a
// change record or a pull request.
func renderAuditMarkdown(w io.Writer, lineage string, serial uint64, recs []AuditRecord) error {
	var b strings.Builder
	b.WriteString("### offsetctl state history\n\n")
	if lineage != "" {
		fmt.Fprintf(&b, "State lineage `%s`, serial %d: %d operation(s).\n\n", lineage, serial, len(recs))
	}
	if len(recs) == 0 {
		b.WriteString("Nothing has been applied with this state.\n")
		_, err := io.WriteString(w, b.String())
		return err
	}
	b.WriteString("| # | operation | outcome | applied by | started | finished | plan | reason | verified approvers | risk |\n")
	b.WriteString("|---:|---|---|---|---|---|---|---|---|---|\n")
	for _, r := range recs {
		what := fmt.Sprintf("`%s` (%s)", r.Name, r.Kind)
		if r.RollbackOf != 0 {
			what += fmt.Sprintf(", undoes #%d", r.RollbackOf)
		}
		outcome := r.Outcome
		if r.RolledBackBy != 0 {
			outcome += fmt.Sprintf(" by #%d", r.RolledBackBy)
		}
		if r.Error != "" {
			outcome += ": " + r.Error
		}
		var approvers []string
		for _, a := range r.VerifiedApprovers {
			approvers = append(approvers, fmt.Sprintf("%s (`%s`)", a.Principals, a.Fingerprint))
		}
		for _, a := range r.Approvals {
			approvers = append(approvers, a+" (unverified)")
		}
		plan := "-"
		if r.PlanHash != "" {
			plan = "`" + shortHash(r.PlanHash) + "`"
		}
		fmt.Fprintf(&b, "| %d | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", r.Serial, mdCell(what), mdCell(outcome),
			mdCell(whoAt(r.Who, r.Host)), orDash(r.Started), orDash(r.Finished), plan, mdCell(orDash(r.Reason)),
			mdCell(orDash(strings.Join(approvers, ", "))), mdCell(orDash(strings.Join(r.RiskClasses, ", "))))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// shortHash is a plan hash cut for a table: sha256: and 12 hex digits.
func shortHash(h string) string {
	const keep = len("sha256:") + 12
	if strings.HasPrefix(h, "sha256:") && len(h) > keep {
		return h[:keep]
	}
	return h
}

// mdCell escapes a Markdown table cell.
func mdCell(s string) string {
	return strings.NewReplacer("|", "\\|", "<", "&lt;", ">", "&gt;", "\n", " ").Replace(s)
}
