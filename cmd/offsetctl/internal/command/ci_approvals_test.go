package command

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/offsetctl/offsetctl/cmd/offsetctl/internal/command/views"
	"github.com/offsetctl/offsetctl/internal/forge/forgetest"
	"github.com/offsetctl/offsetctl/pkg/approval"
	"github.com/offsetctl/offsetctl/pkg/plan"
)

// TestCITeamPathSignedApprovals walks the team path with signed approvals,
// as the action runs it: CI plans and comments; reviewers sign the hash the
// comment shows with OpenSSH alone (ssh-keygen -Y sign) and commit
// plan.json.approvals beside the configuration; the merge job reads the
// reviewed hash back, checks the plan file, copies the committed approvals
// beside the reviewed plan and applies it from "CI". Refused before it
// changes anything: signatures of an older plan (the author pushed again),
// one approval where two are required, the applier's own signature, a
// tampered plan. Applied with two reviewers' signatures, and the state's
// history lists them as verified approvers.
func TestCITeamPathSignedApprovals(t *testing.T) {
	w := startInertWorld(t)
	gh := forgetest.NewGitHub("acme/cdc", 12, ciGitHubToken)
	defer gh.Close()
	env := githubEnv(t, gh)
	env["USER"] = "ci"

	keys := t.TempDir()
	alice, bob, ci := newSSHKey(t, keys, "alice"), newSSHKey(t, keys, "bob"), newSSHKey(t, keys, "ci")
	var allowed []string
	for _, k := range []struct{ who, key string }{{"alice@example.com", alice}, {"bob@example.com", bob}, {"ci@example.com", ci}} {
		pub, err := os.ReadFile(k.key + ".pub")
		if err != nil {
			t.Fatal(err)
		}
		allowed = append(allowed, k.who+" "+strings.TrimSpace(string(pub)))
	}
	if err := os.WriteFile(filepath.Join(w.dir, "allowed_signers"), []byte(strings.Join(allowed, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	const settings = "offsetctl {\n  required_approvals = 2\n  allowed_signers    = \"allowed_signers\"\n}\n"
	w.writeConfig(t, settings+inertOffsetsHCL)

	cli := func(args ...string) (int, string, string) {
		t.Helper()
		if args[0] == "plan" || args[0] == "apply" || args[0] == "state" {
			args = append(args, "-chdir", w.dir, "-state", w.st)
		}
		if args[0] == "apply" {
			args = append(args, "-grace-period", "50ms", "-running-watch", "100ms")
		}
		return runCI(t, env, args...)
	}
	must := func(code int, out, errOut string) string {
		t.Helper()
		if code != 0 {
			t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
		}
		return out
	}
	// The pull request's job: plan into the run's artifact, comment.
	artifact := t.TempDir()
	prJob := func() string {
		t.Helper()
		must(cli("plan", "-out", filepath.Join(artifact, "plan.json")))
		must(cli("ci", "comment", "-plan", filepath.Join(artifact, "plan.json")))
		reviewed := must(cli("ci", "reviewed-plan"))
		return strings.TrimPrefix(strings.SplitN(reviewed, "\n", 2)[0], "hash=")
	}
	// Reviewers sign the hash the comment shows and commit the file
	// beside the configuration.
	committed := filepath.Join(w.dir, "plan.json.approvals")
	commit := func(hashes map[string]string) {
		t.Helper()
		os.Remove(committed)
		for _, key := range []string{alice, bob, ci} {
			if h, ok := hashes[key]; ok {
				keygenApprove(t, key, h, committed)
			}
		}
	}
	// The merge job, as action.yml runs it: the reviewed plan file is
	// downloaded and checked, the committed approvals go beside it.
	mergeJob := func(edit func(data []byte) []byte) (int, string, string) {
		t.Helper()
		reviewed := t.TempDir()
		data, err := os.ReadFile(filepath.Join(artifact, "plan.json"))
		if err != nil {
			t.Fatal(err)
		}
		if edit != nil {
			data = edit(data)
		}
		file := filepath.Join(reviewed, "plan.json")
		if err := os.WriteFile(file, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if sigs, err := os.ReadFile(committed); err == nil {
			if err := os.WriteFile(file+approval.FileSuffix, sigs, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if edit == nil {
			must(cli("ci", "verify-plan", file))
		}
		return cli("apply", "-json", "-auto-approve", "-lock-timeout", "5s", file)
	}
	untouched := func(name string) {
		t.Helper()
		if got := w.committed(t); got != "50 60 70 RUNNING" {
			t.Fatalf("%s: the refused apply changed offsets: %s", name, got)
		}
		if _, err := os.Stat(w.st); !os.IsNotExist(err) {
			t.Fatalf("%s: the refused apply wrote the state", name)
		}
	}
	refused := func(name string, code int, errOut string, want ...string) {
		t.Helper()
		if code != ExitError {
			t.Fatalf("%s: apply exit %d, want a refusal\n%s", name, code, errOut)
		}
		for _, s := range want {
			if !strings.Contains(errOut, s) {
				t.Errorf("%s: the refusal does not say %q:\n%s", name, s, errOut)
			}
		}
		untouched(name)
	}

	// Review of the first push: both reviewers sign it.
	older := prJob()
	commit(map[string]string{alice: older, bob: older})
	// The author pushes again (another target): a new plan, a new hash.
	w.writeConfig(t, settings+strings.Replace(inertOffsetsHCL, "to_offset  = 10", "to_offset  = 20", 1))
	hash := prJob()
	if hash == older {
		t.Fatal("the second push planned the same hash")
	}
	p, err := plan.ReadFile(filepath.Join(artifact, "plan.json"))
	if err != nil || p.Hash != hash {
		t.Fatalf("the artifact's plan is not the reviewed one: %v", err)
	}

	code, _, errOut := mergeJob(nil)
	refused("signatures of an older plan", code, errOut, "requires 2 signed approval(s)", "0 verified for plan "+hash,
		"signature 1 (line", "made for another plan", "signature 2 (line")

	commit(map[string]string{alice: hash})
	code, _, errOut = mergeJob(nil)
	refused("one approval where two are required", code, errOut, "Approvals: 1 verified of 2 required", "alice@example.com", "1 verified for plan "+hash)

	commit(map[string]string{alice: hash, ci: hash})
	code, _, errOut = mergeJob(nil)
	refused("the applier's own signature", code, errOut, "Approvals: 1 verified of 2 required", "ci@example.com is the one applying (ci) and cannot approve their own change")

	commit(map[string]string{alice: hash, bob: hash})
	tamper := func(data []byte) []byte {
		return []byte(strings.Replace(string(data), `"after": 20`, `"after": 0`, 1))
	}
	code, _, errOut = mergeJob(tamper)
	refused("a tampered plan", code, errOut, "modified after it was written")
	code, _, errOut = mergeJob(func(data []byte) []byte { return rehashPlan(t, tamper(data)) })
	refused("a tampered plan with its hash recomputed", code, errOut, "0 verified for plan", "made for another plan")

	// Two reviewers, neither the applier: applied from CI.
	code, out, errOut := mergeJob(nil)
	if code != 0 || !strings.Contains(errOut, "Approvals: 2 verified of 2 required") {
		t.Fatalf("apply with two approvals: exit %d\n%s\n%s", code, out, errOut)
	}
	result := filepath.Join(t.TempDir(), "apply.jsonl")
	if err := os.WriteFile(result, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	must(cli("ci", "comment", "-apply-result", result, "-plan", filepath.Join(artifact, "plan.json"), "-exit-code", "0"))
	if got := w.committed(t); got != "20 20 70 RUNNING" {
		t.Fatalf("after apply: %s", got)
	}

	// The audit: who applied, the plan, the reason, the verified approvers,
	// the risk classes.
	hist := must(cli("state", "history", "-json"))
	var doc struct {
		Operations []views.AuditRecord `json:"operations"`
	}
	if err := json.Unmarshal([]byte(hist), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Operations) != 1 {
		t.Fatalf("history: %s", hist)
	}
	op := doc.Operations[0]
	var approvers []string
	for _, a := range op.VerifiedApprovers {
		if !strings.HasPrefix(a.Fingerprint, "SHA256:") {
			t.Errorf("approver %s without a key fingerprint: %q", a.Principals, a.Fingerprint)
		}
		approvers = append(approvers, a.Principals)
	}
	if got := fmt.Sprintf("%s %s %s %s %v %v", op.Outcome, op.Who, op.PlanHash, op.Reason, approvers, op.RiskClasses); got != fmt.Sprintf("applied ci %s INC-1: replay after the SMT fix [alice@example.com bob@example.com] [replay]", hash) {
		t.Errorf("the history's record: %s", got)
	}
	md := must(cli("state", "history", "-markdown"))
	if !strings.Contains(md, "alice@example.com (`SHA256:") || !strings.Contains(md, "bob@example.com (`SHA256:") || !strings.Contains(md, "| applied | ci") {
		t.Errorf("state history -markdown:\n%s", md)
	}
}
