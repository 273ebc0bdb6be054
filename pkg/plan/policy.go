package plan

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/offsetctl/offsetctl/pkg/config"
)

// PolicyResult is what the configuration's policy blocks decided about a
// plan when it was made, besides the checks they added: the approvals the
// plan's risk classes need.
type PolicyResult struct {
	// Policies are the addresses of the policy blocks evaluated.
	Policies []string
	// Approvals is the most signed approvals a policy asks for one of the
	// plan's risk classes (0: none); apply needs the greater of it and
	// offsetctl { required_approvals }.
	Approvals int
	// Because says which policy asks them, for which class and operations.
	Because []string
}

// ErrPolicy means a policy block refuses to apply the plan now.
var ErrPolicy = errors.New("refused by policy")

// evaluatePolicy evaluates the policies against ops (their risks) at the
// time at: it returns the result and the checks, and marks blocked every
// operation a policy refuses. It is a function of the configuration, the
// operations and the time only, so that Verify computes it again for a
// saved plan with the plan's own time.
func evaluatePolicy(policies []*config.Policy, ops []Operation, at time.Time) (*PolicyResult, []Check) {
	if len(policies) == 0 {
		return nil, nil
	}
	res := &PolicyResult{}
	var checks []Check
	check := func(sev Severity, code, op, msg string) {
		checks = append(checks, Check{Severity: sev, Code: code, Operation: op, Message: msg})
	}
	changing := false
	for _, op := range ops {
		changing = changing || op.Status == StatusChange || op.Status == StatusBlocked
	}
	for _, pol := range policies {
		res.Policies = append(res.Policies, pol.Addr())
		if !changing {
			continue
		}
		for i := range ops {
			op := &ops[i]
			if op.Status != StatusChange && op.Status != StatusBlocked {
				continue
			}
			before := len(checks)
			policyBounds(pol, op, check)
			for _, c := range checks[before:] {
				if c.Severity == SeverityError {
					op.Status = StatusBlocked
				}
			}
		}
		policyApprovals(pol, ops, res)
		policyWindowAtPlan(pol, at, check)
	}
	if res.Approvals > 0 {
		check(SeverityWarning, "policy_approvals", "", fmt.Sprintf("apply needs %d signed approval(s) by policy: %s",
			res.Approvals, strings.Join(res.Because, "; ")))
	}
	return res, checks
}

// policyBounds checks one operation's risks against one policy's bounds.
func policyBounds(pol *config.Policy, op *Operation, check func(Severity, string, string, string)) {
	name := pol.Addr()
	var skipped, replayed int64
	var skipUncounted, replayUncounted bool
	for _, r := range op.Risks {
		switch r.Class {
		case RiskSkip, RiskJumpToLatest:
			if r.Records < 0 {
				skipUncounted = true
			} else {
				skipped += r.Records
			}
		case RiskReplay, RiskSinkReset:
			if r.Records < 0 {
				replayUncounted = true
			} else {
				replayed += r.Records
			}
		}
	}
	if m := pol.MaxRecordsSkipped; m != nil && skipped > *m {
		check(SeverityError, "policy_max_records_skipped", op.Address, fmt.Sprintf(
			"%s allows at most %s skipped records per operation (max_records_skipped), and this operation skips %s: skip fewer, split the operation, or ask the policy's owners",
			name, Thousands(*m), Thousands(skipped)))
	}
	if m := pol.MaxRecordsReplayed; m != nil && replayed > *m {
		check(SeverityError, "policy_max_records_replayed", op.Address, fmt.Sprintf(
			"%s allows at most %s replayed records per operation (max_records_replayed), and this operation replays %s: replay less, split the operation, or ask the policy's owners",
			name, Thousands(*m), Thousands(replayed)))
	}
	if (pol.MaxRecordsSkipped != nil && skipUncounted) || (pol.MaxRecordsReplayed != nil && replayUncounted) {
		check(SeverityWarning, "policy_uncounted", op.Address, fmt.Sprintf(
			"%s bounds the records an operation skips or replays, but the connector's codec cannot count the records of a source position change: this operation is not bounded by it", name))
	}
	for _, f := range []struct {
		class   RiskClass
		allowed bool
		attr    string
	}{
		{RiskResnapshot, pol.AllowResnapshot, "allow_resnapshot"},
		{RiskSinkReset, pol.AllowSinkReset, "allow_sink_reset"},
		{RiskJumpToLatest, pol.AllowJumpToLatest, "allow_jump_to_latest"},
		{RiskTopicWrite, pol.AllowTopicWrite, "allow_topic_write"},
	} {
		if r := op.Risk(f.class); r != nil && !f.allowed {
			check(SeverityError, "policy_"+string(f.class), op.Address, fmt.Sprintf(
				"%s does not allow %s changes (%s = false): %s", name, f.class, f.attr, r))
		}
	}
	if r := op.Risk(RiskRepairRows); r != nil && r.Rows != nil {
		if m := pol.MaxRowsRepaired; m != nil && r.Rows.Total() > *m {
			check(SeverityError, "policy_max_rows_repaired", op.Address, fmt.Sprintf(
				"%s allows at most %s repaired rows per reconcile operation (max_rows_repaired), and this repair writes %s (%s inserted, %s updated, %s deleted): narrow it with where, or ask the policy's owners",
				name, Thousands(*m), Thousands(r.Rows.Total()), Thousands(r.Rows.Insert), Thousands(r.Rows.Update), Thousands(r.Rows.Delete)))
		}
		if m := pol.MaxRowsDeleted; m != nil && r.Rows.Delete > *m {
			check(SeverityError, "policy_max_rows_deleted", op.Address, fmt.Sprintf(
				"%s allows at most %s deleted rows per reconcile operation (max_rows_deleted), and this repair deletes %s: set delete_extra = false, narrow it with where, or ask the policy's owners",
				name, Thousands(*m), Thousands(r.Rows.Delete)))
		}
	}
}

// policyApprovals raises res.Approvals to what pol asks for the classes the
// operations have (the most of any class present, so never less than what
// it asks for the plan's highest class).
func policyApprovals(pol *config.Policy, ops []Operation, res *PolicyResult) {
	for _, class := range RiskClasses {
		n := pol.Approvals[string(class)]
		if n == 0 {
			continue
		}
		var addrs []string
		for _, op := range ops {
			if (op.Status == StatusChange || op.Status == StatusBlocked) && op.Risk(class) != nil {
				addrs = append(addrs, op.Address)
			}
		}
		if len(addrs) == 0 {
			continue
		}
		res.Because = append(res.Because, fmt.Sprintf("%s asks %d for %s (%s)", pol.Addr(), n, class, strings.Join(addrs, ", ")))
		res.Approvals = max(res.Approvals, n)
	}
}

// windowVerdict says whether w lets changes happen at t.
func windowAllows(w *config.ChangeWindow, t time.Time) bool {
	in := w.Contains(t)
	if w.Effect == config.WindowDeny {
		return !in
	}
	return in
}

// policyWindowAtPlan records whether the plan was made at a time pol's
// change windows allow. Apply evaluates them again at its own time
// (CheckPolicyAtApply), which is the one that counts: a plan is made in a
// pull request at any hour and applied on merge.
func policyWindowAtPlan(pol *config.Policy, at time.Time, check func(Severity, string, string, string)) {
	if len(pol.Windows) == 0 {
		return
	}
	bad := windowViolations(pol, at)
	when := at.UTC().Format(time.RFC3339)
	if len(bad) == 0 {
		check(SeverityOK, "policy_window", "", fmt.Sprintf("%s: the plan was made at %s, a time its change windows allow; apply checks them again when it runs", pol.Addr(), when))
		return
	}
	check(SeverityWarning, "policy_window", "", fmt.Sprintf("%s: the plan was made at %s, %s; apply refuses at such a time %s",
		pol.Addr(), when, strings.Join(describeViolations(bad), " and "), overrideHint(bad)))
}

// windowViolations are pol's windows that forbid changes at t: every deny
// window containing t, and the allow windows when t is in none of them.
func windowViolations(pol *config.Policy, t time.Time) []*config.ChangeWindow {
	var bad, allows []*config.ChangeWindow
	inAllow := false
	for _, w := range pol.Windows {
		switch w.Effect {
		case config.WindowDeny:
			if w.Contains(t) {
				bad = append(bad, w)
			}
		default:
			allows = append(allows, w)
			inAllow = inAllow || w.Contains(t)
		}
	}
	if len(allows) > 0 && !inAllow {
		bad = append(bad, allows...)
	}
	return bad
}

func describeViolations(ws []*config.ChangeWindow) []string {
	var out []string
	for _, w := range ws {
		if w.Effect == config.WindowDeny {
			out = append(out, fmt.Sprintf("inside the denied window %s", w))
		} else {
			out = append(out, fmt.Sprintf("outside the change window %s", w))
		}
	}
	return out
}

// overrideApprovals is what overriding ws needs: the most any of them asks,
// or -1 when one of them cannot be overridden.
func overrideApprovals(ws []*config.ChangeWindow) int {
	n := 0
	for _, w := range ws {
		if w.OverrideApprovals == 0 {
			return -1
		}
		n = max(n, w.OverrideApprovals)
	}
	return n
}

func overrideHint(ws []*config.ChangeWindow) string {
	if n := overrideApprovals(ws); n > 0 {
		return fmt.Sprintf("unless overridden with apply -override-window REASON, which needs %d signed approval(s)", n)
	}
	return "(the window has no override_approvals: it cannot be overridden)"
}

// ApplyDecision is what the policies decide about applying a plan now.
type ApplyDecision struct {
	// Approvals is the most signed approvals the policies ask: for the
	// plan's risk classes, and for overriding a change window.
	Approvals int
	// Because says which policy asks them and why.
	Because []string
	// Overridden describes the windows overridden with -override-window.
	Overridden []string
}

// CheckPolicyAtApply evaluates cfg's policies for applying p at now, with
// override the operator's reason given to -override-window ("" for none):
// the bounds again (against the plan's risk classes), and the change
// windows at the apply's own time. A plan made inside a window and applied
// outside it is refused, unless overridden where the window allows it; the
// override adds its approvals to what apply needs. The command calls it
// before counting approvals. Rollback and restore plans are not held.
func CheckPolicyAtApply(cfg *config.Config, p *Plan, now time.Time, override string) (ApplyDecision, error) {
	var d ApplyDecision
	// A rollback or restore plan (made from the state or a backup) is the
	// way back: policies neither bound nor hold it.
	if len(cfg.Policies) == 0 || !p.HasChanges() || !p.FromConfig() {
		return d, nil
	}
	ops := append([]Operation(nil), p.Operations...)
	res, checks := evaluatePolicy(cfg.Policies, ops, p.CreatedAt)
	var refusals []string
	for _, c := range checks {
		if c.Severity == SeverityError {
			refusals = append(refusals, c.Operation+": "+c.Message)
		}
	}
	if len(refusals) > 0 {
		return d, fmt.Errorf("%w: %s; nothing was changed", ErrPolicy, strings.Join(refusals, "; "))
	}
	d.Approvals, d.Because = res.Approvals, res.Because
	when := now.UTC().Format(time.RFC3339)
	for _, pol := range cfg.Policies {
		bad := windowViolations(pol, now)
		if len(bad) == 0 {
			continue
		}
		what := fmt.Sprintf("%s: it is %s, %s", pol.Addr(), when, strings.Join(describeViolations(bad), " and "))
		n := overrideApprovals(bad)
		switch {
		case n < 0:
			return d, fmt.Errorf("%w: %s, which cannot be overridden (no override_approvals); nothing was changed: apply again at a time the window allows", ErrPolicy, what)
		case strings.TrimSpace(override) == "":
			return d, fmt.Errorf("%w: %s; nothing was changed: apply again at a time the window allows, or override it with -override-window REASON, which needs %d signed approval(s)", ErrPolicy, what, n)
		}
		d.Overridden = append(d.Overridden, fmt.Sprintf("%s (override: %s)", what, override))
		d.Because = append(d.Because, fmt.Sprintf("%s asks %d to override its change window", pol.Addr(), n))
		d.Approvals = max(d.Approvals, n)
	}
	return d, nil
}

// diffPolicy names the difference between the policy result the
// configuration makes (want) and the plan's (got), or returns "".
func diffPolicy(want, got *PolicyResult) string {
	text := func(r *PolicyResult) string {
		if r == nil {
			return "none"
		}
		return fmt.Sprintf("policies %s, %d approval(s) because %s", strings.Join(r.Policies, ","), r.Approvals, strings.Join(r.Because, "; "))
	}
	if w, g := text(want), text(got); w != g {
		return fmt.Sprintf("the policy result is [%s] in the plan, the configuration makes [%s]", g, w)
	}
	return ""
}
