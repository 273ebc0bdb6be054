package command

import (
	"context"
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
