package command

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/offsetctl/offsetctl/internal/iostreams"
	"github.com/offsetctl/offsetctl/pkg/approval"
	"github.com/offsetctl/offsetctl/pkg/plan"
)

// newSSHKey makes an ed25519 key pair with OpenSSH's ssh-keygen (make test
// installs openssh-client when missing) and returns the private key's path.
func newSSHKey(t *testing.T, dir, name string) string {
	t.Helper()
	kg, err := exec.LookPath("ssh-keygen")
	if err != nil {
		t.Fatal("OpenSSH's ssh-keygen is needed: apt-get install -y openssh-client")
	}
	p := filepath.Join(dir, name)
	if out, err := exec.Command(kg, "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", p).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v: %s", err, out)
	}
	return p
}

func runCLIEnv(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	s, _, out, errOut := iostreams.Test()
	deps := &Deps{Streams: s, Getenv: func(k string) string { return env[k] }, Now: func() time.Time { return time.Date(2026, 11, 20, 14, 30, 0, 0, time.UTC) }}
	code := run(context.Background(), deps, args)
	return code, out.String(), errOut.String()
}

// TestApprove: approve appends one signature per key to PLANFILE.approvals,
// which OpenSSH's ssh-keygen -Y verify accepts for the plan's hash; an
// edited plan and a damaged approvals file are refused and left as they were.
func TestApprove(t *testing.T) {
	dir := t.TempDir()
	planFile := filepath.Join(dir, "plan.json")
	if err := plan.WriteFile(planFile, &plan.Plan{OffsetctlVersion: "test", CreatedAt: time.Date(2026, 11, 20, 14, 0, 0, 0, time.UTC)}); err != nil {
		t.Fatal(err)
	}
	p, err := plan.ReadFile(planFile)
	if err != nil {
		t.Fatal(err)
	}
	alice := newSSHKey(t, dir, "alice")
	code, out, errOut := runCLIEnv(t, nil, "approve", "-key", alice, planFile)
	if code != 0 || !strings.Contains(out, "Approved plan "+p.Hash) || !strings.Contains(out, "holds 1 signature(s)") {
		t.Fatalf("approve: exit %d\n%s\n%s", code, out, errOut)
	}
	// Again with the same key: nothing added.
	code, out, _ = runCLIEnv(t, nil, "approve", "-key", alice, planFile)
	if code != 0 || !strings.Contains(out, "already approved") || !strings.Contains(out, "holds 1 signature(s)") {
		t.Fatalf("second approve: exit %d\n%s", code, out)
	}
	bob := newSSHKey(t, dir, "bob")
	if code, out, errOut := runCLIEnv(t, nil, "approve", "-key", bob, "-json", planFile); code != 0 || !strings.Contains(out, `"signatures": 2`) || !strings.Contains(out, `"format_version": 1`) {
		t.Fatalf("approve -json: exit %d\n%s\n%s", code, out, errOut)
	}
	// Both signatures pass OpenSSH's own verification.
	approvals := planFile + approval.FileSuffix
	raw, err := os.ReadFile(approvals)
	if err != nil {
		t.Fatal(err)
	}
	allowed := filepath.Join(dir, "allowed_signers")
	var lines []string
	for _, k := range []struct{ who, key string }{{"alice@example.com", alice}, {"bob@example.com", bob}} {
		pub, _ := os.ReadFile(k.key + ".pub")
		lines = append(lines, k.who+" "+strings.TrimSpace(string(pub)))
	}
	if err := os.WriteFile(allowed, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	blocks := strings.SplitAfter(string(raw), "-----END SSH SIGNATURE-----\n")
	for i, who := range []string{"alice@example.com", "bob@example.com"} {
		sig := filepath.Join(dir, "sig")
		if err := os.WriteFile(sig, []byte(blocks[i]), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("ssh-keygen", "-Y", "verify", "-f", allowed, "-I", who, "-n", "offsetctl-plan", "-s", sig)
		cmd.Stdin = strings.NewReader(p.Hash + "\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen -Y verify of %s's approval: %v: %s", who, err, out)
		}
	}
	// A damaged approvals file: refused, not appended to.
	damaged := append([]byte("garbage\n"), raw...)
	if err := os.WriteFile(approvals, damaged, 0o644); err != nil {
		t.Fatal(err)
	}
	carol := newSSHKey(t, dir, "carol")
	if code, _, errOut := runCLIEnv(t, nil, "approve", "-key", carol, planFile); code != ExitError || !strings.Contains(errOut, "plan.json.approvals:1") {
		t.Fatalf("approve onto a damaged file: exit %d\n%s", code, errOut)
	}
	if after, _ := os.ReadFile(approvals); string(after) != string(damaged) {
		t.Fatal("a refused approve changed the approvals file")
	}
	// An edited plan: refused before anything is signed.
	b, _ := os.ReadFile(planFile)
	if err := os.WriteFile(planFile, []byte(strings.Replace(string(b), `"test"`, `"edited"`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(approvals); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := runCLIEnv(t, nil, "approve", "-key", carol, planFile); code != ExitError || errOut == "" {
		t.Fatalf("approve of an edited plan: exit %d\n%s", code, errOut)
	}
	if _, err := os.Stat(approvals); !os.IsNotExist(err) {
		t.Fatal("approve of an edited plan wrote approvals")
	}
	// No key and no agent: the way to give one.
	if err := os.WriteFile(planFile, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := runCLIEnv(t, nil, "approve", planFile); code != ExitError || !strings.Contains(errOut, "-key") {
		t.Fatalf("approve without a key: exit %d\n%s", code, errOut)
	}
}

// keygenApprove appends a signature of planHash made by OpenSSH alone, as a
// reviewer without offsetctl would: printf 'HASH\n' | ssh-keygen -Y sign.
func keygenApprove(t *testing.T, key, planHash, approvalsFile string) {
	t.Helper()
	cmd := exec.Command("ssh-keygen", "-Y", "sign", "-q", "-f", key, "-n", "offsetctl-plan")
	cmd.Stdin = strings.NewReader(planHash + "\n")
	sig, err := cmd.Output()
	if err != nil {
		t.Fatalf("ssh-keygen -Y sign: %v", err)
	}
	f, err := os.OpenFile(approvalsFile, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(sig); err != nil {
		t.Fatal(err)
	}
}

// TestApplyCountsSignedApprovals: with allowed_signers configured, apply
// counts the signatures beside the plan that verify for its hash, one per
// principal, never the one applying, and refuses below required_approvals
// with the reason of each signature it did not count; the state records the
// verified approvers.
func TestApplyCountsSignedApprovals(t *testing.T) {
	w := startWorld(t, "3.8", 10)
	keys := t.TempDir()
	alice, bob, carol, mallory := newSSHKey(t, keys, "alice"), newSSHKey(t, keys, "bob"), newSSHKey(t, keys, "carol"), newSSHKey(t, keys, "mallory")
	var allowed []string
	for _, k := range []struct{ who, key string }{{"alice@example.com", alice}, {"bob@example.com", bob}, {"carol@example.com", carol}} {
		pub, err := os.ReadFile(k.key + ".pub")
		if err != nil {
			t.Fatal(err)
		}
		allowed = append(allowed, k.who+" "+strings.TrimSpace(string(pub)))
	}
	dir := writeConfig(t, "offsetctl {\n  required_approvals = 2\n  allowed_signers    = \"allowed_signers\"\n}\n\n"+w.hcl()+fmt.Sprintf(`
offsets "rewind" {
  connector = connector.sink
  reason    = "INC-1"

  sink_partition {
    topic      = %q
    partitions = [0]
    to_offset  = 5
  }
}
`, w.pipe.Topic()))
	if err := os.WriteFile(filepath.Join(dir, "allowed_signers"), []byte(strings.Join(allowed, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	stateFile := filepath.Join(t.TempDir(), "state.json")
	planFile := filepath.Join(t.TempDir(), "plan.json")
	env := map[string]string{"USER": "carol"}
	if code, out, errOut := runCLIEnv(t, env, "plan", "-out", planFile, "-state", stateFile, "-chdir", dir); code != 0 {
		t.Fatalf("plan exit %d\n%s\n%s", code, out, errOut)
	}
	p, err := plan.ReadFile(planFile)
	if err != nil {
		t.Fatal(err)
	}
	approvals := planFile + approval.FileSuffix
	applyArgs := []string{"apply", planFile, "-state", stateFile, "-grace-period", "100ms", "-chdir", dir}
	before := w.snapshot(t)
	refused := func(name string, want ...string) {
		t.Helper()
		code, out, errOut := runCLIEnv(t, env, applyArgs...)
		if code != ExitError {
			t.Fatalf("%s: apply exit %d, want a refusal\n%s\n%s", name, code, out, errOut)
		}
		for _, s := range want {
			if !strings.Contains(errOut, s) {
				t.Fatalf("%s: the refusal does not say %q:\n%s", name, s, errOut)
			}
		}
		if after := w.snapshot(t); fmt.Sprint(after.Group) != fmt.Sprint(before.Group) {
			t.Fatalf("%s: a refused apply changed offsets: %v -> %v", name, before.Group, after.Group)
		}
		if _, err := os.Stat(stateFile); !os.IsNotExist(err) {
			t.Fatalf("%s: a refused apply wrote the state", name)
		}
	}
	refused("no approvals", "requires 2 signed approval(s)", "0 verified for plan "+p.Hash, "offsetctl approve "+planFile)
	// Names are not approvals here.
	code, _, errOut := runCLIEnv(t, env, append(applyArgs, "-approved-by", "alice", "-approved-by", "bob")...)
	if code != ExitError || !strings.Contains(errOut, "counts only signed approvals") {
		t.Fatalf("--approved-by with allowed_signers: exit %d\n%s", code, errOut)
	}
	// One reviewer with OpenSSH alone; a stranger; a signature of an older
	// plan; the applier's own: one counts.
	keygenApprove(t, alice, p.Hash, approvals)
	keygenApprove(t, mallory, p.Hash, approvals)
	keygenApprove(t, bob, "sha256:0000000000000000000000000000000000000000000000000000000000000000", approvals)
	keygenApprove(t, carol, p.Hash, approvals)
	refused("one of two", "1 verified for plan", "Approvals: 1 verified of 2 required",
		"signature 2 (line", "the key is not in the allowed signers file",
		"signature 3 (line", "made for another plan",
		"signature 4 (line", "carol@example.com is the one applying (carol)")
	// A second reviewer through offsetctl approve: enough.
	if code, out, errOut := runCLIEnv(t, nil, "approve", "-key", bob, planFile); code != 0 {
		t.Fatalf("approve: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, errOut := runCLIEnv(t, env, applyArgs...)
	if code != 0 || !strings.Contains(errOut, "Approvals: 2 verified of 2 required") {
		t.Fatalf("apply with two approvals: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, errOut = runCLIEnv(t, env, "state", "show", "1", "-state", stateFile)
	if code != 0 || !strings.Contains(out, "alice@example.com (signature verified, key SHA256:") || !strings.Contains(out, "bob@example.com (signature verified") || strings.Contains(out, "carol@example.com (signature") {
		t.Fatalf("state show 1: exit %d\n%s\n%s", code, out, errOut)
	}
}
