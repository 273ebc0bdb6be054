package config

import (
	"fmt"
	"net/url"
	"strconv"
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
