package connect

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/offsetctl/offsetctl/internal/redact"
)

// Defaults applied by New to zero-valued Config fields.
const (
	DefaultTimeout      = 30 * time.Second
	DefaultMaxRetries   = 5
	DefaultRetryBackoff = 200 * time.Millisecond
	// MaxRetryBackoff caps the exponential backoff between two attempts.
	MaxRetryBackoff = 5 * time.Second
)

// mask replaces every secret in printed configurations and errors.
const mask = redact.Mask

// Config says how to reach one Kafka Connect cluster. The zero value of every
// field except URL is usable. Config prints (String, GoString, MarshalJSON)
// with Password, Token, the values of Headers and any password inside URL
// masked, so it is safe to log.
type Config struct {
	// URL is the base URL of the Connect REST API, for example
	// "http://connect:8083" or "https://proxy/kafka-connect". A path prefix is
	// kept. Credentials written as user:password@ are moved to Username and
	// Password (explicitly set Username/Password win) and removed from the URL.
	URL string

	// Username and Password enable HTTP basic authentication.
	Username, Password string
	// Token enables bearer authentication ("Authorization: Bearer <Token>").
	// It cannot be combined with basic authentication.
	Token string
	// Headers are extra HTTP headers sent with every request. They may not
	// set Authorization when Username or Token is set.
	Headers map[string]string

	// CAFile is a PEM file of CA certificates trusted for the server's
	// certificate (instead of the system roots). CertFile and KeyFile are a
	// PEM client certificate and its key, both or neither.
	CAFile, CertFile, KeyFile string
	// InsecureSkipVerify disables verification of the server's certificate.
	// For tests only.
	InsecureSkipVerify bool

	// Timeout bounds each HTTP request (each attempt, not the sum of
	// retries). Zero means DefaultTimeout. Connect itself answers
	// "500 Request timed out" after 90 s, so a Timeout above 90 s lets the
	// caller see Connect's answer instead of its own deadline.
	Timeout time.Duration
	// MaxRetries is how many times a retryable failure (409 rebalance,
	// refused connection) is retried. Zero means DefaultMaxRetries; a
	// negative value disables retries.
	MaxRetries int
	// RetryBackoff is the wait before the first retry; it doubles with every
	// retry up to MaxRetryBackoff. Zero means DefaultRetryBackoff.
	RetryBackoff time.Duration

	// HTTPClient, when set, is used instead of a client built from the TLS
	// fields (which must then be empty). Its Timeout should be zero: the
	// client applies Config.Timeout per request through the context.
	HTTPClient *http.Client
}

// String renders the configuration with every secret masked.
func (c Config) String() string {
	var b strings.Builder
	b.WriteString("connect.Config{URL: ")
	b.WriteString(redact.URL(c.URL))
	if c.Username != "" {
		fmt.Fprintf(&b, ", Username: %s", c.Username)
	}
	if c.Password != "" {
		b.WriteString(", Password: " + mask)
	}
	if c.Token != "" {
		b.WriteString(", Token: " + mask)
	}
	if len(c.Headers) > 0 {
		b.WriteString(", Headers: [")
		for i, k := range sortedKeys(c.Headers) {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(k + ": " + mask)
		}
		b.WriteString("]")
	}
	for _, f := range []struct{ name, v string }{{"CAFile", c.CAFile}, {"CertFile", c.CertFile}, {"KeyFile", c.KeyFile}} {
		if f.v != "" {
			fmt.Fprintf(&b, ", %s: %s", f.name, f.v)
		}
	}
	if c.InsecureSkipVerify {
		b.WriteString(", InsecureSkipVerify: true")
	}
	if c.Timeout != 0 {
		fmt.Fprintf(&b, ", Timeout: %s", c.Timeout)
	}
	if c.MaxRetries != 0 {
		fmt.Fprintf(&b, ", MaxRetries: %d", c.MaxRetries)
	}
	if c.RetryBackoff != 0 {
		fmt.Fprintf(&b, ", RetryBackoff: %s", c.RetryBackoff)
	}
	if c.HTTPClient != nil {
		b.WriteString(", HTTPClient: set")
	}
	b.WriteString("}")
	return b.String()
}

// GoString makes %#v print the masked form too.
func (c Config) GoString() string { return c.String() }

// MarshalJSON writes the configuration with every secret masked.
func (c Config) MarshalJSON() ([]byte, error) {
	type view struct {
		URL                string            `json:"url"`
		Username           string            `json:"username,omitempty"`
		Password           string            `json:"password,omitempty"`
		Token              string            `json:"token,omitempty"`
		Headers            map[string]string `json:"headers,omitempty"`
		CAFile             string            `json:"ca_file,omitempty"`
		CertFile           string            `json:"cert_file,omitempty"`
		KeyFile            string            `json:"key_file,omitempty"`
		InsecureSkipVerify bool              `json:"insecure_skip_verify,omitempty"`
		Timeout            string            `json:"timeout,omitempty"`
		MaxRetries         int               `json:"max_retries,omitempty"`
		RetryBackoff       string            `json:"retry_backoff,omitempty"`
	}
	v := view{URL: redact.URL(c.URL), Username: c.Username, CAFile: c.CAFile, CertFile: c.CertFile,
		KeyFile: c.KeyFile, InsecureSkipVerify: c.InsecureSkipVerify, MaxRetries: c.MaxRetries}
	if c.Password != "" {
		v.Password = mask
	}
	if c.Token != "" {
		v.Token = mask
	}
	if len(c.Headers) > 0 {
		v.Headers = make(map[string]string, len(c.Headers))
		for k := range c.Headers {
			v.Headers[k] = mask
		}
	}
	if c.Timeout != 0 {
		v.Timeout = c.Timeout.String()
	}
	if c.RetryBackoff != 0 {
		v.RetryBackoff = c.RetryBackoff.String()
	}
	return json.Marshal(v)
}

// resolved is a validated Config with defaults applied.
type resolved struct {
	base       *url.URL // no user info, no trailing slash, no query
	username   string
	password   string
	token      string
	headers    http.Header
	timeout    time.Duration
	maxRetries int
	backoff    time.Duration
	httpClient *http.Client
}

func (c Config) resolve() (*resolved, error) {
	r := &resolved{username: c.Username, password: c.Password, token: c.Token}
	if strings.TrimSpace(c.URL) == "" {
		return nil, errors.New("the Kafka Connect URL is empty; set --connect-url or OFFSETCTL_CONNECT_URL")
	}
	u, err := url.Parse(strings.TrimSpace(c.URL))
	if err != nil {
		// url.Error repeats the raw URL, password included: keep only the
		// reason and print our own redacted copy.
		reason := err.Error()
		var ue *url.Error
		if errors.As(err, &ue) {
			reason = ue.Err.Error()
		}
		return nil, fmt.Errorf("invalid Kafka Connect URL %q: %s", redact.URL(c.URL), redact.PasswordIn(reason, c.URL))
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("invalid Kafka Connect URL %q: the scheme must be http or https", redact.URL(c.URL))
	}
	if u.Host == "" {
		return nil, fmt.Errorf("invalid Kafka Connect URL %q: no host", redact.URL(c.URL))
	}
	if u.User != nil {
		if r.username == "" && r.password == "" {
			r.username = u.User.Username()
			r.password, _ = u.User.Password()
		}
		u.User = nil
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = strings.TrimRight(u.RawPath, "/")
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("invalid Kafka Connect URL %q: it may not carry a query or fragment", redact.URL(c.URL))
	}
	r.base = u

	if r.token != "" && (r.username != "" || r.password != "") {
		return nil, errors.New("both basic authentication (user/password) and a bearer token are set for Kafka Connect; use only one")
	}
	if r.password != "" && r.username == "" {
		return nil, errors.New("a Kafka Connect password is set without a user name")
	}
	r.headers = make(http.Header, len(c.Headers))
	for k, v := range c.Headers {
		name := strings.TrimSpace(k)
		if name == "" || strings.ContainsAny(name, " \t\r\n:") {
			return nil, fmt.Errorf("invalid HTTP header name %q for Kafka Connect", k)
		}
		if strings.ContainsAny(v, "\r\n") {
			return nil, fmt.Errorf("invalid value for HTTP header %q for Kafka Connect: it contains a line break", name)
		}
		if http.CanonicalHeaderKey(name) == "Authorization" && (r.username != "" || r.token != "") {
			return nil, errors.New("an Authorization header is given together with basic or bearer authentication for Kafka Connect; use only one")
		}
		r.headers.Set(name, v)
	}

	switch {
	case c.Timeout < 0:
		return nil, fmt.Errorf("the Kafka Connect request timeout must be positive, got %s", c.Timeout)
	case c.Timeout == 0:
		r.timeout = DefaultTimeout
	default:
		r.timeout = c.Timeout
	}
	switch {
	case c.MaxRetries < 0:
		r.maxRetries = 0
	case c.MaxRetries == 0:
		r.maxRetries = DefaultMaxRetries
	default:
		r.maxRetries = c.MaxRetries
	}
	switch {
	case c.RetryBackoff < 0:
		return nil, fmt.Errorf("the Kafka Connect retry backoff must be positive, got %s", c.RetryBackoff)
	case c.RetryBackoff == 0:
		r.backoff = DefaultRetryBackoff
	default:
		r.backoff = c.RetryBackoff
	}

	tlsSet := c.CAFile != "" || c.CertFile != "" || c.KeyFile != "" || c.InsecureSkipVerify
	if c.HTTPClient != nil {
		if tlsSet {
			return nil, errors.New("the Kafka Connect TLS options (CA file, client certificate, skip-verify) cannot be combined with a custom HTTP client")
		}
		r.httpClient = c.HTTPClient
		return r, nil
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if tlsSet {
		tc, err := c.tlsConfig()
		if err != nil {
			return nil, err
		}
		tr.TLSClientConfig = tc
	}
	r.httpClient = &http.Client{Transport: tr}
	return r, nil
}

func (c Config) tlsConfig() (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: c.InsecureSkipVerify} //nolint:gosec // opt-in, documented as test-only
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("reading the Kafka Connect CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("the Kafka Connect CA file %s holds no PEM certificate", c.CAFile)
		}
		tc.RootCAs = pool
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		return nil, errors.New("a Kafka Connect client certificate needs both a certificate file and a key file")
	}
	if c.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("loading the Kafka Connect client certificate %s and key %s: %w", c.CertFile, c.KeyFile, err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
