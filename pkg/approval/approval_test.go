package approval

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

const (
	planA = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	planB = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
)

// sshKeygen returns the path of OpenSSH's ssh-keygen, the real peer these
// tests prove interoperability with; `make test` installs it when missing.
func sshKeygen(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("ssh-keygen")
	if err != nil {
		t.Fatalf("OpenSSH's ssh-keygen is needed for these tests: apt-get install -y openssh-client (make test installs it when it runs as root)")
	}
	return p
}

func run(t *testing.T, stdin []byte, name string, args ...string) ([]byte, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, stderr.String())
	}
	return out, nil
}

// key is an OpenSSH key pair made by ssh-keygen.
type key struct {
	priv, pub string // file paths
	line      string // the public key line
}

func newKey(t *testing.T, dir, name, typ string) key {
	t.Helper()
	kg := sshKeygen(t)
	priv := filepath.Join(dir, name)
	args := []string{"-q", "-t", typ, "-N", "", "-C", name, "-f", priv}
	if typ == "rsa" {
		args = append(args, "-b", "2048")
	}
	if _, err := run(t, nil, kg, args...); err != nil {
		t.Fatal(err)
	}
	pub, err := os.ReadFile(priv + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	return key{priv: priv, pub: priv + ".pub", line: strings.TrimSpace(string(pub))}
}

// keygenSign signs planHash as a reviewer without offsetctl would: the hash
// as plan prints it and one newline (written out here, not through Message,
// so that the test holds Message to the documented form).
func keygenSign(t *testing.T, k key, namespace, planHash string) []byte {
	t.Helper()
	out, err := run(t, []byte(planHash+"\n"), sshKeygen(t), "-Y", "sign", "-q", "-f", k.priv, "-n", namespace)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func signer(t *testing.T, k key) ssh.Signer {
	t.Helper()
	s, closeFn, err := KeySource{Path: k.priv}.Signer()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(closeFn)
	return s
}

func parseAll(t *testing.T, b []byte) []Signature {
	t.Helper()
	sigs, err := Parse("plan.json.approvals", b)
	if err != nil {
		t.Fatal(err)
	}
	return sigs
}

// TestKeygenSignatureAccepted: a signature written by `ssh-keygen -Y sign`
// is an approval for the plan it signed, and for no other.
func TestKeygenSignatureAccepted(t *testing.T) {
	dir := t.TempDir()
	for _, typ := range []string{"ed25519", "ecdsa", "rsa"} {
		t.Run(typ, func(t *testing.T) {
			alice := newKey(t, dir, "alice-"+typ, typ)
			allowed, err := ParseAllowedSigners("allowed_signers", []byte(`alice@example.com namespaces="offsetctl-plan" `+alice.line+"\n"))
			if err != nil {
				t.Fatal(err)
			}
			sigs := parseAll(t, keygenSign(t, alice, Namespace, planA))
			res := Verify(planA, sigs, allowed, VerifyOptions{Now: time.Now()})
			if len(res.Approvers) != 1 || res.Approvers[0].Principals != "alice@example.com" || len(res.Rejected) != 0 {
				t.Fatalf("Verify = %+v, want alice@example.com", res)
			}
			res = Verify(planB, sigs, allowed, VerifyOptions{Now: time.Now()})
			if len(res.Approvers) != 0 || len(res.Rejected) != 1 || !strings.Contains(res.Rejected[0].Reason, "another plan") {
				t.Fatalf("Verify for another plan = %+v, want a rejection", res)
			}
		})
	}
}

// TestSignatureVerifiedByKeygen: what Sign writes passes
// `ssh-keygen -Y verify` against the same allowed signers file, and is
// byte for byte in ssh-keygen's armor.
func TestSignatureVerifiedByKeygen(t *testing.T) {
	dir := t.TempDir()
	kg := sshKeygen(t)
	for _, typ := range []string{"ed25519", "ecdsa", "rsa"} {
		t.Run(typ, func(t *testing.T) {
			bob := newKey(t, dir, "bob-"+typ, typ)
			allowedPath := filepath.Join(dir, "allowed_signers-"+typ)
			if err := os.WriteFile(allowedPath, []byte("bob@example.com "+bob.line+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			armored, err := Sign(signer(t, bob), planA)
			if err != nil {
				t.Fatal(err)
			}
			sigPath := filepath.Join(dir, "sig-"+typ)
			if err := os.WriteFile(sigPath, armored, 0o600); err != nil {
				t.Fatal(err)
			}
			out, err := run(t, []byte(planA+"\n"), kg, "-Y", "verify", "-f", allowedPath, "-I", "bob@example.com", "-n", Namespace, "-s", sigPath)
			if err != nil {
				t.Fatalf("ssh-keygen refused offsetctl's signature: %v", err)
			}
			if !strings.Contains(string(out), `Good "offsetctl-plan" signature for bob@example.com`) {
				t.Fatalf("ssh-keygen -Y verify said %q", out)
			}
			if _, err := run(t, []byte(planB+"\n"), kg, "-Y", "verify", "-f", allowedPath, "-I", "bob@example.com", "-n", Namespace, "-s", sigPath); err == nil {
				t.Fatal("ssh-keygen accepted the signature for another plan hash")
			}
			// The armor is ssh-keygen's: same markers, same line width.
			theirs := keygenSign(t, bob, Namespace, planA)
			if got, want := armorShape(armored), armorShape(theirs); got != want {
				t.Fatalf("armor shape %s, ssh-keygen writes %s", got, want)
			}
		})
	}
}

func armorShape(b []byte) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return fmt.Sprintf("%q…%q, %d lines of width %d", lines[0], lines[len(lines)-1], len(lines), len(lines[1]))
}

// TestApprovalsFileFromBothTools: an approvals file is signatures one after
// another; one appended by ssh-keygen and one by offsetctl both count.
func TestApprovalsFileFromBothTools(t *testing.T) {
	dir := t.TempDir()
	alice := newKey(t, dir, "alice", "ed25519")
	bob := newKey(t, dir, "bob", "ed25519")
	allowed, err := ParseAllowedSigners("allowed_signers", []byte("# reviewers\n\nalice@example.com "+alice.line+"\nbob@example.com "+bob.line+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	ours, err := Sign(signer(t, bob), planA)
	if err != nil {
		t.Fatal(err)
	}
	file := append(keygenSign(t, alice, Namespace, planA), ours...)
	sigs := parseAll(t, file)
	if len(sigs) != 2 || sigs[1].Line <= sigs[0].Line {
		t.Fatalf("parsed %d signatures: %+v", len(sigs), sigs)
	}
	res := Verify(planA, sigs, allowed, VerifyOptions{Now: time.Now()})
	if got := strings.Join(res.Principals(), ","); got != "alice@example.com,bob@example.com" || len(res.Rejected) != 0 {
		t.Fatalf("approvers %q, rejected %v", got, res.Rejected)
	}
}

// TestRejections: each signature that must not count says why.
func TestRejections(t *testing.T) {
	dir := t.TempDir()
	alice := newKey(t, dir, "alice", "ed25519")
	carol := newKey(t, dir, "carol", "ed25519")
	dave := newKey(t, dir, "dave", "ed25519")
	erin := newKey(t, dir, "erin", "ed25519")
	stranger := newKey(t, dir, "stranger", "ed25519")
	allowed, err := ParseAllowedSigners("allowed_signers", []byte(strings.Join([]string{
		"alice@example.com " + alice.line,
		`carol@example.com valid-before="20260101Z" ` + carol.line,
		`dave@example.com namespaces="git" ` + dave.line,
		`erin@example.com valid-after="20990101Z" ` + erin.line,
	}, "\n")))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		sig      []byte
		excluded string
		want     string
	}{
		{"another plan", keygenSign(t, alice, Namespace, planB), "", "made for another plan"},
		{"unknown key", keygenSign(t, stranger, Namespace, planA), "", "not in the allowed signers file allowed_signers"},
		{"expired", keygenSign(t, carol, Namespace, planA), "", "valid before 2026-01-01T00:00:00Z only"},
		{"not yet valid", keygenSign(t, erin, Namespace, planA), "", "valid after 2099-01-01T00:00:00Z only"},
		{"namespace not allowed for key", keygenSign(t, dave, Namespace, planA), "", `only for namespaces "git"`},
		{"signed in another namespace", keygenSign(t, alice, "git", planA), "", `namespace "git", not "offsetctl-plan"`},
		{"the one applying", keygenSign(t, alice, Namespace, planA), "alice@example.com", "applies this plan"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := VerifyOptions{Now: now}
			if tc.excluded != "" {
				opts.Excluded = func(s Signer) (bool, string) {
					if s.Principals == tc.excluded {
						return true, s.Principals + " applies this plan and cannot approve it"
					}
					return false, ""
				}
			}
			res := Verify(planA, parseAll(t, tc.sig), allowed, opts)
			if len(res.Approvers) != 0 || len(res.Rejected) != 1 {
				t.Fatalf("Verify = %+v, want one rejection", res)
			}
			if r := res.Rejected[0].String(); !strings.Contains(r, tc.want) {
				t.Fatalf("rejection %q, want it to say %q", r, tc.want)
			}
		})
	}
	t.Run("two signatures of one principal count once", func(t *testing.T) {
		a2 := newKey(t, dir, "alice2", "ed25519")
		allowed2, err := ParseAllowedSigners("allowed_signers", []byte("alice@example.com "+alice.line+"\nalice@example.com "+a2.line+"\n"))
		if err != nil {
			t.Fatal(err)
		}
		file := append(keygenSign(t, alice, Namespace, planA), keygenSign(t, a2, Namespace, planA)...)
		res := Verify(planA, parseAll(t, file), allowed2, VerifyOptions{Now: now})
		if len(res.Approvers) != 1 || len(res.Rejected) != 1 || !strings.Contains(res.Rejected[0].Reason, "counts once") {
			t.Fatalf("Verify = %+v", res)
		}
	})
}

// TestTamperedSignature: a signature whose bytes were changed is not an
// approval, and a damaged file is refused whole.
func TestTamperedSignature(t *testing.T) {
	dir := t.TempDir()
	alice := newKey(t, dir, "alice", "ed25519")
	allowed, _ := ParseAllowedSigners("allowed_signers", []byte("alice@example.com "+alice.line+"\n"))
	sig := parseAll(t, keygenSign(t, alice, Namespace, planA))
	raw := sig[0].sig.Signature.Blob
	raw[len(raw)-1] ^= 1
	res := Verify(planA, sig, allowed, VerifyOptions{Now: time.Now()})
	if len(res.Approvers) != 0 {
		t.Fatalf("a tampered signature counted: %+v", res)
	}
	for name, text := range map[string]string{
		"junk before":  "hello\n" + string(keygenSign(t, alice, Namespace, planA)),
		"no end":       "-----BEGIN SSH SIGNATURE-----\nU1NIU0lH\n",
		"not base64":   "-----BEGIN SSH SIGNATURE-----\n!!!\n-----END SSH SIGNATURE-----\n",
		"not a sshsig": "-----BEGIN SSH SIGNATURE-----\naGVsbG8=\n-----END SSH SIGNATURE-----\n",
	} {
		if _, err := Parse("plan.json.approvals", []byte(text)); err == nil || !strings.Contains(err.Error(), "plan.json.approvals:") {
			t.Errorf("%s: Parse error %v, want one naming the file and line", name, err)
		}
	}
}

func TestParseAllowedSigners(t *testing.T) {
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sp)))
	good := []struct{ text, principals, ns string }{
		{"alice@example.com " + line + " alice's laptop", "alice@example.com", ""},
		{`"alice@example.com,a@corp" ` + line, "alice@example.com,a@corp", ""},
		{`*@example.com namespaces="offsetctl-plan,git",valid-after="202601010930Z" ` + line, "*@example.com", "offsetctl-plan,git"},
	}
	for _, g := range good {
		as, err := ParseAllowedSigners("f", []byte(g.text))
		if err != nil {
			t.Fatalf("%q: %v", g.text, err)
		}
		if s := as.Signers[0]; s.Principals != g.principals || s.Namespaces != g.ns || s.Line != 1 {
			t.Fatalf("%q: parsed %+v", g.text, s)
		}
	}
	for _, bad := range []string{
		"alice@example.com",
		"alice@example.com ssh-ed25519 notbase64",
		`alice@example.com valid-before="2026" ` + line,
		`alice@example.com frobnicate ` + line,
		`"alice@example.com ` + line,
	} {
		if _, err := ParseAllowedSigners("allowed_signers", []byte("# ok\n"+bad+"\n")); err == nil || !strings.Contains(err.Error(), "allowed_signers:2:") {
			t.Errorf("%q: error %v, want one naming allowed_signers:2", bad, err)
		}
	}
}

func TestMatchPatternList(t *testing.T) {
	for _, tc := range []struct {
		s, list string
		want    bool
	}{
		{"offsetctl-plan", "offsetctl-plan", true},
		{"offsetctl-plan", "git,offsetctl-*", true},
		{"offsetctl-plan", "git", false},
		{"offsetctl-plan", "*,!offsetctl-plan", false},
		{"offsetctl-plan", "offsetctl-pla?", true},
	} {
		if got := matchPatternList(tc.s, tc.list); got != tc.want {
			t.Errorf("matchPatternList(%q, %q) = %v", tc.s, tc.list, got)
		}
	}
}

// TestAgentSigner: with the key in a real ssh-agent, -key names its public
// half (or nothing when the agent holds one key), as ssh-keygen -Y sign -f
// does.
func TestAgentSigner(t *testing.T) {
	sshKeygen(t)
	agentBin, err := exec.LookPath("ssh-agent")
	if err != nil {
		t.Fatalf("OpenSSH's ssh-agent is needed: apt-get install -y openssh-client")
	}
	dir := t.TempDir()
	alice := newKey(t, dir, "alice", "ed25519")
	sock := filepath.Join(dir, "agent.sock")
	ctx, cancel := context.WithCancel(context.Background())
	agentCmd := exec.CommandContext(ctx, agentBin, "-D", "-a", sock)
	if err := agentCmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = agentCmd.Wait() })
	for i := 0; i < 100; i++ {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	empty := KeySource{AgentSocket: sock}
	if _, _, err := empty.Signer(); err == nil || !strings.Contains(err.Error(), "holds no key") {
		t.Fatalf("empty agent: %v", err)
	}
	add := exec.Command("ssh-add", "-q", alice.priv)
	add.Env = append(os.Environ(), "SSH_AUTH_SOCK="+sock)
	if out, err := add.CombinedOutput(); err != nil {
		t.Fatalf("ssh-add: %v: %s", err, out)
	}
	for _, src := range []KeySource{{AgentSocket: sock}, {Path: alice.pub, AgentSocket: sock}} {
		s, closeFn, err := src.Signer()
		if err != nil {
			t.Fatal(err)
		}
		armored, err := Sign(s, planA)
		closeFn()
		if err != nil {
			t.Fatal(err)
		}
		allowed, _ := ParseAllowedSigners("allowed_signers", []byte("alice@example.com "+alice.line+"\n"))
		if res := Verify(planA, parseAll(t, armored), allowed, VerifyOptions{Now: time.Now()}); len(res.Approvers) != 1 {
			t.Fatalf("agent signature: %+v", res)
		}
	}
	other := newKey(t, dir, "other", "ed25519")
	src := KeySource{Path: other.pub, AgentSocket: sock}
	if _, _, err := src.Signer(); err == nil || !strings.Contains(err.Error(), "does not hold the private key") {
		t.Fatalf("a public key the agent lacks: %v", err)
	}
}

func TestPassphraseKeyNamesTheFix(t *testing.T) {
	dir := t.TempDir()
	priv := filepath.Join(dir, "locked")
	if _, err := run(t, nil, sshKeygen(t), "-q", "-t", "ed25519", "-N", "secret-pass", "-f", priv); err != nil {
		t.Fatal(err)
	}
	_, _, err := KeySource{Path: priv}.Signer()
	if err == nil || !strings.Contains(err.Error(), "ssh-add "+priv) || strings.Contains(err.Error(), "secret-pass") {
		t.Fatalf("error %v, want the ssh-add fix", err)
	}
	if _, err := Sign(nil, "not-a-hash"); err == nil {
		t.Fatal("signed something that is not a plan hash")
	}
}
