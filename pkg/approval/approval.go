package approval

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/hiddeco/sshsig"
	"golang.org/x/crypto/ssh"
)

// Namespace is the SSHSIG namespace of plan approvals (ssh-keygen -n).
const Namespace = "offsetctl-plan"

// FileSuffix is appended to a plan file's name to name its approvals file.
const FileSuffix = ".approvals"

const (
	armorBegin = "-----BEGIN SSH SIGNATURE-----"
	armorEnd   = "-----END SSH SIGNATURE-----"
	// armorWidth is the line width ssh-keygen wraps the base64 at.
	armorWidth = 70
)

// Message is what an approval signs: the plan's hash as plan prints it and
// one newline.
func Message(planHash string) []byte { return []byte(planHash + "\n") }

// Sign signs planHash with signer as `ssh-keygen -Y sign -n offsetctl-plan`
// does (SHA-512) and returns the armored signature, as ssh-keygen writes
// it, ready to be appended to an approvals file.
func Sign(signer ssh.Signer, planHash string) ([]byte, error) {
	if !strings.HasPrefix(planHash, "sha256:") {
		return nil, fmt.Errorf("%q is not a plan hash (sha256:…): sign a saved plan", planHash)
	}
	sig, err := sshsig.SignWithRand(bytes.NewReader(Message(planHash)), rand.Reader, signer, sshsig.HashSHA512, Namespace)
	if err != nil {
		return nil, fmt.Errorf("signing the plan hash with %s: %w", ssh.FingerprintSHA256(signer.PublicKey()), err)
	}
	return armor(sig.Marshal()), nil
}

func armor(blob []byte) []byte {
	enc := base64.StdEncoding.EncodeToString(blob)
	var b bytes.Buffer
	b.WriteString(armorBegin + "\n")
	for len(enc) > armorWidth {
		b.WriteString(enc[:armorWidth] + "\n")
		enc = enc[armorWidth:]
	}
	b.WriteString(enc + "\n")
	b.WriteString(armorEnd + "\n")
	return b.Bytes()
}

// Signature is one armored signature read from an approvals file.
type Signature struct {
	// Index is its place in the file, from 1.
	Index int
	// Line is the line of its BEGIN marker.
	Line int
	sig  *sshsig.Signature
}

// Fingerprint is the signing key's SHA256 fingerprint.
func (s Signature) Fingerprint() string { return ssh.FingerprintSHA256(s.sig.PublicKey) }

// ReadFile reads an approvals file. A file that does not exist holds no
// approvals (nil, nil).
func ReadFile(path string) ([]Signature, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the approvals: %w", err)
	}
	return Parse(path, b)
}

// Parse reads armored signatures one after another; name is used in
// messages. Anything but blank lines between them is refused, so that a
// damaged file is never half read.
func Parse(name string, b []byte) ([]Signature, error) {
	var out []Signature
	lines := strings.Split(strings.ReplaceAll(string(b), "\r\n", "\n"), "\n")
	for i := 0; i < len(lines); i++ {
		l := strings.TrimSpace(lines[i])
		if l == "" {
			continue
		}
		if l != armorBegin {
			return nil, fmt.Errorf("%s:%d: expected %q, found %q: the file holds armored signatures one after another, as ssh-keygen -Y sign writes them", name, i+1, armorBegin, clip(l))
		}
		start := i
		var body strings.Builder
		for i++; i < len(lines) && strings.TrimSpace(lines[i]) != armorEnd; i++ {
			body.WriteString(strings.TrimSpace(lines[i]))
		}
		if i == len(lines) {
			return nil, fmt.Errorf("%s:%d: the signature that starts here has no %q line", name, start+1, armorEnd)
		}
		blob, err := base64.StdEncoding.DecodeString(body.String())
		if err != nil {
			return nil, fmt.Errorf("%s:%d: the signature is not valid base64: %w", name, start+1, err)
		}
		sig, err := sshsig.ParseSignature(blob)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: not an SSH signature: %w", name, start+1, err)
		}
		out = append(out, Signature{Index: len(out) + 1, Line: start + 1, sig: sig})
	}
	return out, nil
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// Approver is a verified approval.
type Approver struct {
	// Principals are the allowed_signers principals of the key.
	Principals  string
	Fingerprint string
}

// Rejection says why a signature was not counted.
type Rejection struct {
	Index       int
	Line        int
	Fingerprint string
	Reason      string
}

func (r Rejection) String() string {
	return fmt.Sprintf("signature %d (line %d, key %s): %s", r.Index, r.Line, r.Fingerprint, r.Reason)
}

// Result is what Verify found.
type Result struct {
	// Approvers are the distinct verified approvers, by principals, in
	// the order of their first signature.
	Approvers []Approver
	// Rejected are the signatures not counted, with the reason.
	Rejected []Rejection
}

// Principals lists the approvers' principals, sorted.
func (r Result) Principals() []string {
	var out []string
	for _, a := range r.Approvers {
		out = append(out, a.Principals)
	}
	sort.Strings(out)
	return out
}

// VerifyOptions are the checks of Verify besides the signatures.
type VerifyOptions struct {
	// Now is the time valid-after and valid-before are checked against.
	Now time.Time
	// Excluded reports whether a signer may not approve: the one applying
	// never approves their own change. Nil excludes nobody.
	Excluded func(s Signer) (bool, string)
}

// Verify checks each signature against planHash and the allowed signers.
// A signature counts when it verifies for this plan's hash, its key is in
// allowed, the line allows the offsetctl-plan namespace, now is inside the
// line's validity, and the signer is not excluded. Two signatures of the
// same principals count once.
func Verify(planHash string, sigs []Signature, allowed *AllowedSigners, o VerifyOptions) Result {
	var res Result
	seen := map[string]bool{}
	for _, s := range sigs {
		fp := s.Fingerprint()
		reject := func(format string, args ...any) {
			res.Rejected = append(res.Rejected, Rejection{Index: s.Index, Line: s.Line, Fingerprint: fp, Reason: fmt.Sprintf(format, args...)})
		}
		if s.sig.Namespace != Namespace {
			reject("made for the namespace %q, not %q (sign with ssh-keygen -Y sign -n %s)", s.sig.Namespace, Namespace, Namespace)
			continue
		}
		if _, isCert := s.sig.PublicKey.(*ssh.Certificate); isCert {
			reject("made with an SSH certificate; offsetctl accepts plain keys listed in the allowed signers file")
			continue
		}
		if s.sig.Signature.Format == ssh.KeyAlgoRSA {
			reject("an RSA signature with SHA-1 (ssh-rsa), which OpenSSH refuses too: sign again with a current ssh-keygen")
			continue
		}
		if err := sshsig.Verify(bytes.NewReader(Message(planHash)), s.sig, s.sig.PublicKey, s.sig.HashAlgorithm, Namespace); err != nil {
			reject("does not verify for this plan (%s): it was made for another plan, or the plan file was changed after it was signed", planHash)
			continue
		}
		signer, why := lookup(allowed, s.sig.PublicKey, o.Now)
		if signer == nil {
			reject("%s", why)
			continue
		}
		if o.Excluded != nil {
			if ex, why := o.Excluded(*signer); ex {
				reject("%s", why)
				continue
			}
		}
		if seen[signer.Principals] {
			reject("a second approval by %s counts once", signer.Principals)
			continue
		}
		seen[signer.Principals] = true
		res.Approvers = append(res.Approvers, Approver{Principals: signer.Principals, Fingerprint: fp})
	}
	return res
}

// lookup finds the line that allows key to sign plans now, or says why
// none does.
func lookup(allowed *AllowedSigners, key ssh.PublicKey, now time.Time) (*Signer, string) {
	if allowed == nil {
		return nil, "no allowed signers file is configured"
	}
	fp := ssh.FingerprintSHA256(key)
	why := fmt.Sprintf("the key is not in the allowed signers file %s", allowed.Path)
	for i := range allowed.Signers {
		s := &allowed.Signers[i]
		if s.CertAuthority || s.Fingerprint() != fp {
			continue
		}
		switch {
		case s.Namespaces != "" && !matchPatternList(Namespace, s.Namespaces):
			why = fmt.Sprintf("%s:%d allows this key (%s) only for namespaces %q, not %q", allowed.Path, s.Line, s.Principals, s.Namespaces, Namespace)
		case !s.ValidBefore.IsZero() && !now.Before(s.ValidBefore):
			why = fmt.Sprintf("%s:%d: the key of %s was valid before %s only (valid-before)", allowed.Path, s.Line, s.Principals, s.ValidBefore.Format(time.RFC3339))
		case !s.ValidAfter.IsZero() && now.Before(s.ValidAfter):
			why = fmt.Sprintf("%s:%d: the key of %s is valid after %s only (valid-after)", allowed.Path, s.Line, s.Principals, s.ValidAfter.Format(time.RFC3339))
		default:
			return s, ""
		}
	}
	return nil, why
}

// SignedBy reports whether sigs hold a signature of planHash by key.
func SignedBy(planHash string, sigs []Signature, key ssh.PublicKey) bool {
	fp := ssh.FingerprintSHA256(key)
	for _, s := range sigs {
		if s.Fingerprint() == fp && s.sig.Namespace == Namespace &&
			sshsig.Verify(bytes.NewReader(Message(planHash)), s.sig, s.sig.PublicKey, s.sig.HashAlgorithm, Namespace) == nil {
			return true
		}
	}
	return false
}
