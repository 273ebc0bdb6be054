package approval

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
)

// Signer is one line of an allowed_signers file: who may approve with
// which key, in which namespaces and when.
type Signer struct {
	// Principals is the line's principals field as written, e.g.
	// "alice@example.com" or "alice@example.com,alice@corp.example".
	Principals string
	Key        ssh.PublicKey
	// Namespaces is the namespaces="…" pattern list; empty allows all.
	Namespaces string
	// ValidAfter and ValidBefore bound when the key is accepted; zero
	// values do not bound.
	ValidAfter, ValidBefore time.Time
	// CertAuthority marks a certificate authority's key.
	CertAuthority bool
	// Line is the line number in the file, for messages.
	Line int
}

// Fingerprint is the key's SHA256 fingerprint as ssh-keygen -l shows it.
func (s Signer) Fingerprint() string { return ssh.FingerprintSHA256(s.Key) }

// AllowedSigners is a parsed allowed_signers file.
type AllowedSigners struct {
	// Path is where it was read from, for messages.
	Path    string
	Signers []Signer
}

// ReadAllowedSigners reads an allowed_signers file in git's and
// ssh-keygen's format (ssh-keygen(1), ALLOWED SIGNERS).
func ReadAllowedSigners(path string) (*AllowedSigners, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading the allowed signers file: %w", err)
	}
	return ParseAllowedSigners(path, b)
}

// ParseAllowedSigners parses the text of an allowed_signers file; name is
// used in messages. Times without a Z are in the machine's time zone, as
// ssh-keygen reads them.
func ParseAllowedSigners(name string, b []byte) (*AllowedSigners, error) {
	as := &AllowedSigners{Path: name}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		s, err := parseSignerLine(line)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w (each line is: principals [options] keytype base64-key [comment], as ssh-keygen(1) describes under ALLOWED SIGNERS)", name, n, err)
		}
		s.Line = n
		as.Signers = append(as.Signers, s)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return as, nil
}

func parseSignerLine(line string) (Signer, error) {
	var s Signer
	principals, rest, err := firstField(line)
	if err != nil {
		return s, err
	}
	if principals == "" {
		return s, fmt.Errorf("no principals")
	}
	s.Principals = principals
	if strings.TrimSpace(rest) == "" {
		return s, fmt.Errorf("no key after the principals %q", principals)
	}
	pub, _, opts, _, err := ssh.ParseAuthorizedKey([]byte(rest))
	if err != nil {
		return s, fmt.Errorf("the key after %q: %w", principals, err)
	}
	s.Key = pub
	for _, o := range opts {
		name, value, hasValue := strings.Cut(o, "=")
		name = strings.ToLower(name)
		if hasValue {
			v, err := unquote(value)
			if err != nil {
				return s, fmt.Errorf("option %s: %w", name, err)
			}
			value = v
		}
		switch {
		case name == "cert-authority" && !hasValue:
			s.CertAuthority = true
		case name == "namespaces" && hasValue:
			s.Namespaces = value
		case name == "valid-after" && hasValue:
			t, err := parseSSHTime(value)
			if err != nil {
				return s, fmt.Errorf("valid-after: %w", err)
			}
			s.ValidAfter = t
		case name == "valid-before" && hasValue:
			t, err := parseSSHTime(value)
			if err != nil {
				return s, fmt.Errorf("valid-before: %w", err)
			}
			s.ValidBefore = t
		default:
			return s, fmt.Errorf("unknown option %q (known: cert-authority, namespaces=, valid-after=, valid-before=)", o)
		}
	}
	return s, nil
}

// firstField splits off the first whitespace-separated field, which may be
// double-quoted.
func firstField(line string) (field, rest string, err error) {
	if strings.HasPrefix(line, `"`) {
		end := strings.IndexByte(line[1:], '"')
		if end < 0 {
			return "", "", fmt.Errorf("unterminated quoted principals")
		}
		return line[1 : end+1], line[end+2:], nil
	}
	i := strings.IndexAny(line, " \t")
	if i < 0 {
		return line, "", nil
	}
	return line[:i], line[i+1:], nil
}

func unquote(v string) (string, error) {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		return v[1 : len(v)-1], nil
	}
	if strings.Contains(v, `"`) {
		return "", fmt.Errorf("badly quoted value %s", v)
	}
	return v, nil
}

// parseSSHTime reads YYYYMMDD[Z] or YYYYMMDDHHMM[SS][Z]: UTC with Z, the
// machine's time zone without, as ssh-keygen does.
func parseSSHTime(v string) (time.Time, error) {
	loc := time.Local
	if strings.HasSuffix(v, "Z") || strings.HasSuffix(v, "z") {
		loc = time.UTC
		v = v[:len(v)-1]
	}
	var layout string
	switch len(v) {
	case 8:
		layout = "20060102"
	case 12:
		layout = "200601021504"
	case 14:
		layout = "20060102150405"
	default:
		return time.Time{}, fmt.Errorf("%q is not YYYYMMDD[Z] or YYYYMMDDHHMM[SS][Z]", v)
	}
	t, err := time.ParseInLocation(layout, v, loc)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not YYYYMMDD[Z] or YYYYMMDDHHMM[SS][Z]", v)
	}
	return t, nil
}

// matchPatternList reports whether s matches a comma-separated pattern list
// as ssh_config(5) defines it: * and ? wildcards, a leading ! negates, and
// a negated match wins.
func matchPatternList(s, list string) bool {
	matched := false
	for _, p := range strings.Split(list, ",") {
		p = strings.TrimSpace(p)
		neg := strings.HasPrefix(p, "!")
		if neg {
			p = p[1:]
		}
		if p == "" || !matchPattern(s, p) {
			continue
		}
		if neg {
			return false
		}
		matched = true
	}
	return matched
}

func matchPattern(s, p string) bool {
	for len(p) > 0 {
		switch p[0] {
		case '*':
			for i := len(s); i >= 0; i-- {
				if matchPattern(s[i:], p[1:]) {
					return true
				}
			}
			return false
		case '?':
			if s == "" {
				return false
			}
			s, p = s[1:], p[1:]
		default:
			if s == "" || s[0] != p[0] {
				return false
			}
			s, p = s[1:], p[1:]
		}
	}
	return s == ""
}
