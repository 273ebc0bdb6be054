package connect

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"unicode/utf8"
)

// maxErrorSnippet is how many bytes of an unexpected body an error quotes.
const maxErrorSnippet = 200

// APIError is a non-2xx answer from Kafka Connect (or from a proxy in front of
// it). Connect's own errors carry a JSON body {"error_code", "message"}; for
// any other body, Message holds its first 200 bytes and ErrorCode is zero.
type APIError struct {
	Method string // HTTP method of the request
	Path   string // URL path of the request below the base URL, with its query
	Status int    // HTTP status code
	// ErrorCode is Connect's "error_code" (equal to Status when Connect
	// produced the answer), zero when the body was not Connect's JSON.
	ErrorCode int
	// Message is Connect's "message", or the start of a non-JSON body.
	Message string
}

func (e *APIError) Error() string {
	var b strings.Builder
	if e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden {
		fmt.Fprintf(&b, "kafka connect refused authentication for %s %s (%d %s)", e.Method, e.Path, e.Status, http.StatusText(e.Status))
		if e.Message != "" {
			b.WriteString(": " + e.Message)
		}
		b.WriteString("; check the credentials: --connect-user with OFFSETCTL_CONNECT_PASSWORD (basic auth), " +
			"OFFSETCTL_CONNECT_TOKEN (bearer token), --connect-header, or --connect-cert-file/--connect-key-file (TLS client certificate)")
		return b.String()
	}
	fmt.Fprintf(&b, "kafka connect answered %d %s to %s %s", e.Status, http.StatusText(e.Status), e.Method, e.Path)
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	if e.unsupportedEndpoint() {
		b.WriteString("; the worker does not know this endpoint: it is probably older than the Kafka release that introduced it")
	}
	return b.String()
}

// newAPIError builds the error for a non-2xx answer from its body.
func newAPIError(method, path string, status int, body []byte) *APIError {
	e := &APIError{Method: method, Path: path, Status: status}
	var em struct {
		ErrorCode *int   `json:"error_code"`
		Message   string `json:"message"`
	}
	if err := json.Unmarshal(body, &em); err == nil && em.ErrorCode != nil {
		e.ErrorCode = *em.ErrorCode
		e.Message = em.Message
		return e
	}
	e.Message = snippet(body)
	return e
}

// snippet returns at most maxErrorSnippet bytes of body as valid, trimmed,
// single-line text.
func snippet(body []byte) string {
	s := body
	cut := false
	if len(s) > maxErrorSnippet {
		s = s[:maxErrorSnippet]
		for len(s) > 0 && !utf8.Valid(s) { // do not split a rune
			s = s[:len(s)-1]
		}
		cut = true
	}
	out := strings.Join(strings.Fields(strings.ToValidUTF8(string(s), "?")), " ")
	if cut {
		out += "…"
	}
	return out
}

// UnreachableError means no connection to Kafka Connect could be opened (the
// connection was refused, or the host name does not resolve), so the request
// was never sent. A refused connection is retryable; an unknown host is not.
type UnreachableError struct {
	URL string // the base URL, without credentials
	Err error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("kafka connect at %s is unreachable (%v); check --connect-url or OFFSETCTL_CONNECT_URL and that the worker is running", e.URL, rootCause(e.Err))
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// TransportError is any other failure to exchange a request with Kafka Connect
// (timeout, reset connection, TLS failure). The request may or may not have
// been processed, so it is never retried automatically.
type TransportError struct {
	Method string
	Path   string
	URL    string // the base URL, without credentials
	Err    error
}

func (e *TransportError) Error() string {
	msg := fmt.Sprintf("%s %s at kafka connect %s failed: %v", e.Method, e.Path, e.URL, rootCause(e.Err))
	var cv *tls.CertificateVerificationError
	var ua x509.UnknownAuthorityError
	var hn x509.HostnameError
	if errors.As(e.Err, &cv) || errors.As(e.Err, &ua) || errors.As(e.Err, &hn) {
		msg += "; the server certificate was not trusted: check --connect-ca-file (or, for tests only, --connect-insecure-skip-verify)"
	} else if strings.Contains(e.Err.Error(), "tls: ") {
		msg += "; check the TLS options --connect-ca-file, --connect-cert-file and --connect-key-file"
	}
	if errors.Is(e.Err, context.DeadlineExceeded) {
		msg += "; the request timed out: Kafka Connect may still complete it, so re-read its state before trying again"
	}
	return msg
}

func (e *TransportError) Unwrap() error { return e.Err }

// DecodeError is a 2xx answer whose body is not the JSON the endpoint
// promises, for example an HTML page from a proxy or a wrong URL.
type DecodeError struct {
	Method  string
	Path    string
	Status  int
	Snippet string // first 200 bytes of the body
	Err     error
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("kafka connect answered %d to %s %s with a body that is not the expected JSON (%v); is --connect-url the Kafka Connect REST API? body starts with: %q",
		e.Status, e.Method, e.Path, e.Err, e.Snippet)
}

func (e *DecodeError) Unwrap() error { return e.Err }

// rootCause strips the *url.Error wrapper (which repeats the whole request
// URL) down to the network error.
func rootCause(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		return ue.Err
	}
	return err
}

// IsNotFound reports whether err is Kafka Connect saying that a connector,
// task or status does not exist (404 with Connect's error body). A 404 for
// an endpoint the worker does not have (IsUnsupportedEndpoint), or a 404
// page from something else at the URL, is not "not found": callers must
// not conclude the connector is absent from those.
func IsNotFound(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Status == http.StatusNotFound && ae.ErrorCode == http.StatusNotFound &&
		!ae.unsupportedEndpoint()
}

// IsUnsupportedEndpoint reports whether the worker answered that it has no
// such endpoint or method (the JAX-RS "HTTP 404 Not Found" or a 405), the
// usual answer of a release older than the endpoint: PUT /stop before 3.5,
// PATCH /offsets on 3.5, PATCH /config before 3.8.
func IsUnsupportedEndpoint(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.unsupportedEndpoint()
}

// unsupportedEndpoint: Jersey's own 404 (no resource matched the path) and
// 405 (no method on the resource) carry these fixed messages through
// Connect's exception mapper.
func (e *APIError) unsupportedEndpoint() bool {
	return e.Status == http.StatusMethodNotAllowed ||
		(e.Status == http.StatusNotFound && e.ErrorCode == http.StatusNotFound && e.Message == "HTTP 404 Not Found")
}

// IsConflict reports whether err is a 409 from Kafka Connect: a rebalance or
// stale configuration, or a connector that already exists.
func IsConflict(err error) bool { return hasStatus(err, http.StatusConflict) }

// IsBadRequest reports whether err is a 400 from Kafka Connect, for example
// offsets altered while the connector is not STOPPED.
func IsBadRequest(err error) bool { return hasStatus(err, http.StatusBadRequest) }

// IsUnauthorized reports whether Kafka Connect refused the credentials (401 or
// 403).
func IsUnauthorized(err error) bool {
	return hasStatus(err, http.StatusUnauthorized) || hasStatus(err, http.StatusForbidden)
}

// IsAlreadyExists reports whether err is the 409 Connect gives when creating
// a connector whose name is taken.
func IsAlreadyExists(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Status == http.StatusConflict && isAlreadyExistsMessage(ae.Message)
}

// IsRequestTimeout reports whether err is Connect's "500 Request timed out":
// the worker gave up waiting for its herder, but the operation may still
// complete afterwards. It is never retried automatically: the caller must
// re-read the state (status, offsets) before deciding to try again.
func IsRequestTimeout(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Status == http.StatusInternalServerError &&
		strings.HasPrefix(ae.Message, "Request timed out")
}

// IsRetryable reports whether repeating the same request is safe and may
// succeed: a 409 caused by a rebalance or stale configuration (not "already
// exists"), a 500 "... because a rebalance is expected" (what a real worker
// answers to reads of a connector's config, info and tasks in that window),
// or a refused connection (nothing was sent). The client already
// retries these up to Config.MaxRetries; a true result on a returned error
// means those retries were used up. A host name that does not resolve is
// unreachable too, but not retryable.
func IsRetryable(err error) bool {
	var ue *UnreachableError
	if errors.As(err, &ue) {
		return isConnRefused(ue.Err)
	}
	var ae *APIError
	if !errors.As(err, &ae) {
		return false
	}
	switch ae.Status {
	case http.StatusConflict:
		return !isAlreadyExistsMessage(ae.Message)
	case http.StatusInternalServerError:
		// The real worker's answer to reads of a connector's config, info
		// and tasks while it expects a rebalance: nothing was done.
		return strings.Contains(strings.ToLower(ae.Message), "rebalance is expected")
	}
	return false
}

func isAlreadyExistsMessage(msg string) bool {
	return strings.Contains(strings.ToLower(msg), "already exists")
}

func hasStatus(err error, status int) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Status == status
}

// isNoSuchHost reports whether the host name of the URL does not resolve.
func isNoSuchHost(err error) bool {
	var de *net.DNSError
	return errors.As(err, &de) && de.IsNotFound
}

// isConnRefused reports whether a transport error is a refused connection,
// meaning the request was not sent.
func isConnRefused(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED)
}
