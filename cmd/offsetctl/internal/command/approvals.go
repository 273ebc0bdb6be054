package command

import (
	"fmt"
	"net"
	"strings"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/offsetctl/offsetctl/cmd/offsetctl/internal/command/views"
	"github.com/offsetctl/offsetctl/pkg/approval"
	"github.com/offsetctl/offsetctl/pkg/config"
	"github.com/offsetctl/offsetctl/pkg/plan"
	"github.com/offsetctl/offsetctl/pkg/state"
)

// approvedBy is who approved the change being applied: verified signatures
// where the configuration names allowed signers, names given on the command
// line (unverified) where it does not.
type approvedBy struct {
	names    []string
	verified []state.Approval
}

// checkApprovals finds the plan's approvals and refuses when the
// configuration asks for more than there are. With allowed_signers
// configured they are the signatures in PLANFILE.approvals that verify for
// the plan's hash, one per principal, never the one applying: who, or a
// key in their SSH agent. Without it they are the names given with
// --approved-by and OFFSETCTL_APPROVED_BY, which nothing verifies.
//
// The number needed is the greater of offsetctl { required_approvals } and
// what the policies ask (policy, from plan.CheckPolicyAtApply): for the
// plan's risk classes, and for overriding a change window.
func checkApprovals(deps *Deps, v *views.Operation, o *changeOptions, cfg *config.Config, p *plan.Plan, saved bool, who string, policy plan.ApplyDecision) (approvedBy, error) {
	need := max(cfg.Settings.RequiredApprovals, policy.Approvals)
	why := fmt.Sprintf("offsetctl { required_approvals = %d }", cfg.Settings.RequiredApprovals)
	if policy.Approvals > cfg.Settings.RequiredApprovals {
		why = "by policy: " + strings.Join(policy.Because, "; ")
	}
	named := approverNames(deps, o)
	if cfg.Settings.AllowedSigners == "" {
		var out []string
		for _, n := range named {
			if n != who {
				out = append(out, n)
			}
		}
		if len(out) < need {
			return approvedBy{}, withHint(fmt.Errorf("the configuration requires %d approval(s) (%s) and %d were given; nothing was changed", need, why, len(out)),
				"Name the reviewers who approved the plan's pull request with --approved-by NAME (or OFFSETCTL_APPROVED_BY in CI); the one applying does not count.\nTo make approvals verifiable, set offsetctl { allowed_signers = \"FILE\" } and have reviewers run offsetctl approve PLANFILE.")
		}
		if len(out) > 0 {
			v.ApprovalsUnverified(out)
		}
		return approvedBy{names: out}, nil
	}
	if len(named) > 0 {
		return approvedBy{}, withHint(fmt.Errorf("--approved-by (or OFFSETCTL_APPROVED_BY) names approvers, and this configuration counts only signed approvals (offsetctl { allowed_signers = %q }); nothing was changed", cfg.Settings.AllowedSigners),
			"Reviewers approve with offsetctl approve PLANFILE (or ssh-keygen -Y sign -n offsetctl-plan), which appends to PLANFILE.approvals; drop --approved-by.")
	}
	if !saved || o.planFile == "" {
		if need == 0 {
			return approvedBy{}, nil
		}
		return approvedBy{}, withHint(fmt.Errorf("the configuration requires %d signed approval(s) (%s), and approvals are signatures of a saved plan; nothing was changed", need, why),
			"Save the plan (offsetctl plan -out plan.json, or rollback -out), have reviewers run offsetctl approve plan.json, then run offsetctl apply plan.json.")
	}
	allowedPath := cfg.Path(cfg.Settings.AllowedSigners)
	allowed, err := approval.ReadAllowedSigners(allowedPath)
	if err != nil {
		return approvedBy{}, withHint(fmt.Errorf("offsetctl { allowed_signers } at %s: %w", cfg.Settings.AllowedSignersRange, err),
			"Fix or restore the allowed signers file the configuration names; nothing was changed.")
	}
	sigs, err := approval.ReadFile(o.planFile + approval.FileSuffix)
	if err != nil {
		return approvedBy{}, withHint(err, "Remove or repair the damaged signature, and ask its reviewer to approve again; nothing was changed.")
	}
	own := agentKeys(deps.Getenv("SSH_AUTH_SOCK"))
	res := approval.Verify(p.Hash, sigs, allowed, approval.VerifyOptions{
		Now: deps.Now(),
		Excluded: func(s approval.Signer) (bool, string) {
			if own[s.Fingerprint()] {
				return true, fmt.Sprintf("made with a key of the one applying (it is in this SSH agent): %s cannot approve their own change", s.Principals)
			}
			if principalIs(s.Principals, who) {
				return true, fmt.Sprintf("%s is the one applying (%s) and cannot approve their own change", s.Principals, who)
			}
			return false, ""
		},
	})
	var out approvedBy
	for _, a := range res.Approvers {
		out.verified = append(out.verified, state.Approval{Principals: a.Principals, Fingerprint: a.Fingerprint})
	}
	if len(sigs) > 0 || need > 0 {
		var rejected []string
		for _, r := range res.Rejected {
			rejected = append(rejected, fmt.Sprint(r))
		}
		v.ApprovalsVerified(len(res.Approvers), need, o.planFile+approval.FileSuffix, res.Principals(), rejected)
	}
	if len(res.Approvers) < need {
		return approvedBy{}, withHint(fmt.Errorf("the configuration requires %d signed approval(s) (%s) and %d verified for plan %s; nothing was changed", need, why, len(res.Approvers), p.Hash),
			fmt.Sprintf("Reviewers whose keys are in %s approve with: offsetctl approve %s (or ssh-keygen -Y sign -n offsetctl-plan); the one applying does not count.", allowedPath, o.planFile))
	}
	return out, nil
}

// approverNames are the distinct names of --approved-by and
// OFFSETCTL_APPROVED_BY.
func approverNames(deps *Deps, o *changeOptions) []string {
	seen := map[string]bool{}
	var out []string
	names := append([]string(nil), o.approvedBy...)
	names = append(names, strings.Split(deps.Getenv("OFFSETCTL_APPROVED_BY"), ",")...)
	for _, n := range names {
		n = strings.TrimSpace(n)
		if n == "" || seen[n] {
			continue
		}
		seen[n] = true
		out = append(out, n)
	}
	return out
}

// principalIs reports whether an allowed_signers principals field names
// who: one of its principals is who, or who@ something.
func principalIs(principals, who string) bool {
	if who == "" {
		return false
	}
	for _, p := range strings.Split(principals, ",") {
		p = strings.TrimSpace(p)
		if p == who || strings.HasPrefix(p, who+"@") {
			return true
		}
	}
	return false
}

// agentKeys lists the SHA256 fingerprints of the keys in the SSH agent at
// sock: the keys of the one applying. No agent, no keys.
func agentKeys(sock string) map[string]bool {
	out := map[string]bool{}
	if sock == "" {
		return out
	}
	conn, err := net.Dial("unix", sock)
	if err != nil {
		return out
	}
	defer conn.Close()
	keys, err := agent.NewClient(conn).List()
	if err != nil {
		return out
	}
	for _, k := range keys {
		if pub, err := ssh.ParsePublicKey(k.Blob); err == nil {
			out[ssh.FingerprintSHA256(pub)] = true
		}
	}
	return out
}
