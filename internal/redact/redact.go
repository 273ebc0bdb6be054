// Package redact hides secrets in text meant for an operator: the password
// of a URL (through url.URL.Redacted where the text parses as a URL, by a
// best-effort mask of its userinfo where it does not), and a known secret
// wherever it appears in a message. The mask is url.URL.Redacted's, "xxxxx".
package redact

import (
	"net/url"
	"strings"
)

// Mask replaces a secret in every text this package redacts.
const Mask = "xxxxx"

// URL returns raw with the password of its userinfo masked: u.Redacted()
// when raw parses as a URL, else the password part of what stands between
// "://" and the last "@" of the authority. Text without a password comes
// back unchanged.
func URL(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		if HasPassword(u) {
			return u.Redacted()
		}
		return raw
	}
	start, userinfo, ok := rawUserinfo(raw)
	if !ok {
		return raw
	}
	user := userinfo
	if colon := strings.Index(user, ":"); colon >= 0 {
		user = user[:colon] + ":" + Mask
	}
	return raw[:start] + user + raw[start+len(userinfo):]
}

// HasPassword says whether u carries a password.
func HasPassword(u *url.URL) bool {
	if u == nil || u.User == nil {
		return false
	}
	_, has := u.User.Password()
	return has
}

// WithoutPassword returns raw with its password dropped (not masked): for
// a URL that is printed to be used, with the password given another way.
// Text that does not parse, or has no password, comes back unchanged.
func WithoutPassword(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	u.User = url.User(u.User.Username())
	return u.String()
}

// Secret returns msg with every occurrence of secret masked. An empty
// secret leaves msg as it is.
func Secret(msg, secret string) string {
	if secret == "" {
		return msg
	}
	return strings.ReplaceAll(msg, secret, Mask)
}

// PasswordIn returns msg with the password of the URL raw masked wherever
// it appears (a parser's error may quote it), found without parsing raw.
func PasswordIn(msg, raw string) string {
	_, userinfo, ok := rawUserinfo(raw)
	if !ok {
		return msg
	}
	colon := strings.Index(userinfo, ":")
	if colon < 0 || colon == len(userinfo)-1 {
		return msg
	}
	return Secret(msg, userinfo[colon+1:])
}

// rawUserinfo finds the userinfo of a URL-like string without parsing it:
// what stands between "://" and the last "@" of the authority, from byte
// start of raw. ok is false when there is none.
func rawUserinfo(raw string) (start int, userinfo string, ok bool) {
	i := strings.Index(raw, "://")
	if i < 0 {
		return 0, "", false
	}
	rest := raw[i+3:]
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	at := strings.LastIndex(rest[:end], "@")
	if at < 0 {
		return 0, "", false
	}
	return i + 3, rest[:at], true
}
