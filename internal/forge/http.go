package forge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Options tune a client. The zero value is usable.
type Options struct {
	// HTTPClient sends the requests; nil means a client with a 30 s timeout.
	HTTPClient *http.Client
	// MaxRetries bounds the retries of one request after a rate-limit or a
	// 5xx answer (default 3).
	MaxRetries int
	// MaxWait is the longest offsetctl waits for a rate limit to lift
	// before giving up with an error saying when to retry (default 2m).
	MaxWait time.Duration
	// Sleep waits for d or until ctx ends; nil means a timer. Tests replace
	// it to record the waits.
	Sleep func(ctx context.Context, d time.Duration) error
	// Now is the clock for x-ratelimit-reset; nil means time.Now.
	Now func() time.Time
	// UserAgent is sent with every request (default "offsetctl").
	UserAgent string
}

func (o Options) withDefaults() Options {
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if o.MaxRetries <= 0 {
		o.MaxRetries = 3
	}
	if o.MaxWait <= 0 {
		o.MaxWait = 2 * time.Minute
	}
	if o.Sleep == nil {
		o.Sleep = func(ctx context.Context, d time.Duration) error {
			t := time.NewTimer(d)
			defer t.Stop()
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-t.C:
				return nil
			}
		}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.UserAgent == "" {
		o.UserAgent = "offsetctl"
	}
	return o
}

// APIError is an answer of the API that offsetctl cannot go on from.
type APIError struct {
	Service string // "GitHub" or "GitLab"
	Method  string
	Path    string // the request path, without host or query
	Status  int
	Message string // the API's own message, when it gave one
	Hint    string // what to fix
}

func (e *APIError) Error() string {
	msg := fmt.Sprintf("%s API: %s %s: %d %s", e.Service, e.Method, e.Path, e.Status, http.StatusText(e.Status))
	if e.Message != "" {
		msg += ": " + e.Message
	}
	if e.Hint != "" {
		msg += "; " + e.Hint
	}
	return msg
}

// RateLimitError means the API's rate limit did not lift within MaxWait or
// the retries.
type RateLimitError struct {
	Service string
	Until   time.Time // zero when the API did not say
	Retries int
}

func (e *RateLimitError) Error() string {
	msg := fmt.Sprintf("%s API rate limit exceeded", e.Service)
	if !e.Until.IsZero() {
		msg += fmt.Sprintf(" until %s", e.Until.UTC().Format(time.RFC3339))
	}
	return msg + fmt.Sprintf(" (gave up after %d retries); re-run the job after the limit resets, or use a token with its own limit", e.Retries)
}

// ErrForeignLink refuses a pagination link to another host than the API's:
// the token would be sent there.
var ErrForeignLink = errors.New("pagination link points to another host than the API's; not following it with the token")

// service is what GitHub and GitLab differ in, for the shared HTTP loop.
type service struct {
	name string
	base *url.URL
	opts Options
	// auth sets the token header.
	auth func(h http.Header)
	// rateWait says how long to wait when the answer is a rate-limit
	// answer (ok false otherwise).
	rateWait func(resp *http.Response, body []byte, now time.Time) (wait time.Duration, until time.Time, ok bool)
	// hint says what to fix for a status.
	hint func(status int) string
}

// do sends one request, retrying rate-limit and 5xx answers within bounds,
// and decodes a 2xx JSON answer into out (when not nil). It returns the
// response headers for pagination.
func (s *service) do(ctx context.Context, method, rawURL string, payload any, out any) (http.Header, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("%s API: bad URL %q: %w", s.name, rawURL, err)
	}
	if u.Scheme != s.base.Scheme || u.Host != s.base.Host {
		return nil, fmt.Errorf("%s API: %s: %w", s.name, u.Redacted(), ErrForeignLink)
	}
	var data []byte
	if payload != nil {
		if data, err = json.Marshal(payload); err != nil {
			return nil, err
		}
	}
	var lastUntil time.Time
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, method, u.String(), bytes.NewReader(data))
		if err != nil {
			return nil, err
		}
		req.Header.Set("User-Agent", s.opts.UserAgent)
		req.Header.Set("Accept", "application/json")
		if payload != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		s.auth(req.Header)
		resp, err := s.opts.HTTPClient.Do(req)
		if err != nil {
			// The error names the URL, never the headers: no token in it.
			return nil, fmt.Errorf("%s API: %s %s: %w; check the API URL and the network from the CI runner", s.name, method, u.Path, err)
		}
		body, rerr := io.ReadAll(io.LimitReader(resp.Body, 32<<20))
		resp.Body.Close()
		if rerr != nil {
			return nil, fmt.Errorf("%s API: %s %s: reading the answer: %w", s.name, method, u.Path, rerr)
		}
		if resp.StatusCode >= 200 && resp.StatusCode < 300 {
			if out != nil {
				if err := json.Unmarshal(body, out); err != nil {
					return nil, fmt.Errorf("%s API: %s %s: the answer is not the documented JSON: %w", s.name, method, u.Path, err)
				}
			}
			return resp.Header, nil
		}
		wait, until, limited := s.rateWait(resp, body, s.opts.Now())
		retryable := limited || resp.StatusCode == http.StatusBadGateway || resp.StatusCode == http.StatusServiceUnavailable || resp.StatusCode == http.StatusGatewayTimeout
		if !retryable {
			return nil, &APIError{Service: s.name, Method: method, Path: u.Path, Status: resp.StatusCode, Message: apiMessage(body), Hint: s.hint(resp.StatusCode)}
		}
		if !limited {
			wait = time.Duration(1<<attempt) * time.Second
		}
		if limited {
			lastUntil = until
		}
		if attempt >= s.opts.MaxRetries || (limited && wait > s.opts.MaxWait) {
			if limited {
				return nil, &RateLimitError{Service: s.name, Until: lastUntil, Retries: attempt}
			}
			return nil, &APIError{Service: s.name, Method: method, Path: u.Path, Status: resp.StatusCode, Message: apiMessage(body),
				Hint: fmt.Sprintf("the API kept failing after %d retries; re-run the job later", attempt)}
		}
		if err := s.opts.Sleep(ctx, wait); err != nil {
			return nil, err
		}
	}
}

// apiMessage is the "message" (GitHub, GitLab) or "error" (GitLab) field of
// an error answer, cut short.
func apiMessage(body []byte) string {
	var m struct {
		Message any    `json:"message"`
		Error   string `json:"error"`
	}
	if json.Unmarshal(body, &m) != nil {
		return ""
	}
	msg := m.Error
	switch v := m.Message.(type) {
	case string:
		msg = v
	case nil:
	default:
		b, _ := json.Marshal(v)
		msg = string(b)
	}
	if len(msg) > 300 {
		msg = msg[:300] + "…"
	}
	return msg
}

// retryAfter parses a Retry-After header in seconds (or an HTTP date).
func retryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d, true
		}
		return 0, true
	}
	return 0, false
}

// epochWait is the wait until an epoch-seconds header value.
func epochWait(v string, now time.Time) (time.Duration, time.Time, bool) {
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil {
		return 0, time.Time{}, false
	}
	t := time.Unix(n, 0)
	d := t.Sub(now) + time.Second // the reset second itself may still be limited
	if d < 0 {
		d = 0
	}
	return d, t, true
}

var linkNext = regexp.MustCompile(`<([^>]+)>\s*;\s*rel="?next"?`)

// nextLink is the rel="next" URL of an RFC 8288 Link header, or "".
func nextLink(h http.Header) string {
	for _, v := range h.Values("Link") {
		for _, part := range strings.Split(v, ",") {
			if m := linkNext.FindStringSubmatch(part); m != nil {
				return m[1]
			}
		}
	}
	return ""
}
