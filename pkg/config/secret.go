package config

import (
	"bytes"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// secretMask is what a Secret prints instead of its value.
const secretMask = "(sensitive)"

// Secret is a value that must never reach output, files or errors: a
// password, a token, a header value, a database URL. Its String, GoString,
// Format and MarshalJSON all print a fixed mask; only Value reveals it.
//
// The zero Secret is empty and prints as an empty string.
type Secret struct {
	value  string
	source string
}

// NewSecret wraps value. source says where it came from, in the words of
// Secret.Source.
func NewSecret(value, source string) Secret { return Secret{value: value, source: source} }

// Value returns the secret itself. Use it only to hand the secret to the
// client that needs it.
func (s Secret) Value() string { return s.value }

// IsZero reports whether the secret is empty.
func (s Secret) IsZero() bool { return s.value == "" }

// Source says where the secret came from, safe to print and to record in plan
// and state: "env NAME" for env("NAME"), "variable NAME (from -var)" and the
// like for var.NAME, "local NAME" for a local value that is none of these,
// "literal" for a string written in the configuration, and "expression" when
// it was computed in a way that names no single origin. Empty for the zero
// Secret.
func (s Secret) Source() string { return s.source }

// Redacted returns the value with its password replaced by "xxxxx" when it is
// a URL with a password (postgres://app:xxxxx@db/x), and the mask otherwise.
func (s Secret) Redacted() string {
	if s.value == "" {
		return ""
	}
	u, err := url.Parse(s.value)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return secretMask
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	if len(u.Query()) > 0 {
		// Query parameters may carry a password (?password=...): drop them.
		u.RawQuery = ""
		u.ForceQuery = false
	}
	return u.String()
}

// String returns the mask.
func (s Secret) String() string {
	if s.value == "" {
		return ""
	}
	return secretMask
}

// GoString returns the mask, so %#v does not reveal the value either.
func (s Secret) GoString() string { return "config.Secret(" + strconv.Quote(s.String()) + ")" }

// Format prints the mask for every verb.
func (s Secret) Format(f fmt.State, verb rune) {
	switch verb {
	case 'q':
		fmt.Fprint(f, strconv.Quote(s.String()))
	case 'v':
		if f.Flag('#') {
			fmt.Fprint(f, s.GoString())
			return
		}
		fmt.Fprint(f, s.String())
	default:
		fmt.Fprint(f, s.String())
	}
}

// MarshalJSON writes the mask as a JSON string.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(strconv.Quote(s.String())), nil }

// MarshalText writes the mask, for encoders that prefer text.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Passwords written in configuration text: the password of a URL's userinfo
// (scheme://user:PASSWORD@host) and the value of a libpq or query-string
// password=VALUE. The groups are the passwords.
var (
	urlPasswordRE   = regexp.MustCompile(`(?i)\b[a-z][a-z0-9+.\-]*://[^\s/@:"'{}]*:([^\s/@"'{}]+)@`)
	paramPasswordRE = regexp.MustCompile(`(?i)\bpassword=([^\s"'&(){}]+)`)
)

// passwordSpans returns the byte ranges of the passwords in text.
func passwordSpans(text []byte) [][2]int {
	var spans [][2]int
	for _, re := range []*regexp.Regexp{urlPasswordRE, paramPasswordRE} {
		for _, m := range re.FindAllSubmatchIndex(text, -1) {
			spans = append(spans, [2]int{m[2], m[3]})
		}
	}
	return spans
}

// redactText masks every password in text with as many '*' as it has bytes,
// so that the lines, columns and byte offsets of diagnostics stay right. It
// returns the masked text and the passwords it masked.
func redactText(text []byte) ([]byte, []string) {
	spans := passwordSpans(text)
	if len(spans) == 0 {
		return text, nil
	}
	out := bytes.Clone(text)
	var found []string
	for _, sp := range spans {
		found = append(found, string(text[sp[0]:sp[1]]))
		for i := sp[0]; i < sp[1]; i++ {
			out[i] = '*'
		}
	}
	return out, found
}

// RedactSecrets returns copies of files and diags with no password in them:
// the passwords of URLs (and libpq password=VALUE) written in the files are
// masked in the source text every snippet is cut from, and wherever a
// diagnostic's summary or detail quotes them. Use it before printing
// diagnostics in any form.
func RedactSecrets(files map[string]*hcl.File, diags hcl.Diagnostics) (map[string]*hcl.File, hcl.Diagnostics) {
	out := make(map[string]*hcl.File, len(files))
	var secrets []string
	for name, f := range files {
		if f == nil {
			out[name] = f
			continue
		}
		masked, found := redactText(f.Bytes)
		secrets = append(secrets, found...)
		c := *f
		c.Bytes = masked
		out[name] = &c
	}
	safe := make(hcl.Diagnostics, len(diags))
	for i, d := range diags {
		c := *d
		c.Summary, c.Detail = scrubSecrets(c.Summary, secrets), scrubSecrets(c.Detail, secrets)
		safe[i] = &c
	}
	return out, safe
}

func scrubSecrets(msg string, secrets []string) string {
	for _, s := range secrets {
		msg = strings.ReplaceAll(msg, s, "xxxxx")
	}
	// Passwords the files do not hold verbatim (a value read from the
	// environment, quoted by a message): mask them by their shape.
	spans := passwordSpans([]byte(msg))
	slices.SortFunc(spans, func(a, b [2]int) int { return b[0] - a[0] })
	for _, sp := range spans {
		msg = msg[:sp[0]] + "xxxxx" + msg[sp[1]:]
	}
	return msg
}

// literalPasswordWarnings warns about every password written literally in a
// URL (or a libpq password=VALUE) in the string literals of a configuration
// file: configuration files are meant for git.
func literalPasswordWarnings(f *hcl.File) hcl.Diagnostics {
	body, ok := f.Body.(*hclsyntax.Body)
	if !ok {
		return nil
	}
	var diags hcl.Diagnostics
	_ = hclsyntax.VisitAll(body, func(n hclsyntax.Node) hcl.Diagnostics {
		lit, ok := n.(*hclsyntax.LiteralValueExpr)
		if !ok || lit.Val.IsNull() || !lit.Val.IsKnown() || lit.Val.Type() != cty.String {
			return nil
		}
		if len(passwordSpans([]byte(lit.Val.AsString()))) == 0 {
			return nil
		}
		rng := lit.SrcRange
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagWarning,
			Summary:  "Password written in the configuration",
			Detail: "This string holds a password (shown masked here), and configuration files are meant for git. " +
				"Read the whole URL from the environment with env(\"NAME\") (url = env(\"SINK_DATABASE_URL\")), " +
				"or, for PostgreSQL, leave the password out of the URL and give it through a password file " +
				"(libpq's ~/.pgpass, PGPASSFILE or passfile=) or PGPASSWORD.",
			Subject: &rng,
		})
		return nil
	})
	return diags
}
