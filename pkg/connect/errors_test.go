package connect_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/offsetctl/offsetctl/pkg/connect"
)

func contains(s, sub string) bool { return strings.Contains(s, sub) }

const staleConfig = "Cannot complete request momentarily due to stale configuration (typically caused by a concurrent config change)"

// TestAPIErrors checks how non-2xx answers (and bad 2xx bodies) surface: the
// typed error, the predicates, the wording, and that none is retried.
func TestAPIErrors(t *testing.T) {
	htmlPage := "<html><head><title>502 Bad Gateway</title></head><body>" + strings.Repeat("upstream connect error ", 30) + "</body></html>"
	type preds struct{ notFound, conflict, badRequest, retryable, unauthorized, timeout, exists, unsupported bool }
	tests := []struct {
		name      string
		wire      exchange
		call      func(ctx context.Context, c *connect.Client) error
		wantAPI   *connect.APIError // nil: not an APIError
		wantPreds preds
		wantErr   []string // substrings of the message
		notInErr  []string
	}{
		{
			name: "404 unknown connector",
			wire: exchange{method: "GET", uri: "/connectors/nope/status", status: 404, body: connectError(404, "No status found for connector nope")},
			call: func(ctx context.Context, c *connect.Client) error { _, err := c.Status(ctx, "nope"); return err },
			wantAPI: &connect.APIError{Method: "GET", Path: "/connectors/nope/status", Status: 404, ErrorCode: 404,
				Message: "No status found for connector nope"},
			wantPreds: preds{notFound: true},
			wantErr:   []string{`reading the status of connector "nope": kafka connect answered 404 Not Found to GET /connectors/nope/status: No status found for connector nope`},
		},
		{
			name:      "404 for an endpoint an old worker lacks is not not-found",
			wire:      exchange{method: "PUT", uri: "/connectors/x/stop", status: 404, body: connectError(404, "HTTP 404 Not Found")},
			call:      func(ctx context.Context, c *connect.Client) error { return c.Stop(ctx, "x") },
			wantPreds: preds{unsupported: true},
			wantErr:   []string{"answered 404 Not Found to PUT /connectors/x/stop: HTTP 404 Not Found; the worker does not know this endpoint"},
		},
		{
			name: "405 for a method an old worker lacks",
			wire: exchange{method: "PATCH", uri: "/connectors/x/config", status: 405, body: connectError(405, "HTTP 405 Method Not Allowed")},
			call: func(ctx context.Context, c *connect.Client) error {
				_, err := c.PatchConfig(ctx, "x", map[string]*string{"a": nil})
				return err
			},
			wantPreds: preds{unsupported: true},
			wantErr:   []string{"the worker does not know this endpoint"},
		},
		{
			name:      "404 page from a proxy is not not-found",
			wire:      exchange{method: "GET", uri: "/connectors/x", status: 404, body: "<h1>404 page not found</h1>", contentType: "text/html"},
			call:      func(ctx context.Context, c *connect.Client) error { _, err := c.Connector(ctx, "x"); return err },
			wantAPI:   &connect.APIError{Method: "GET", Path: "/connectors/x", Status: 404, Message: "<h1>404 page not found</h1>"},
			wantPreds: preds{},
		},
		{
			name: "400 offsets while running",
			wire: exchange{method: "DELETE", uri: "/connectors/pg-orders/offsets", status: 400,
				body: connectError(400, "Connectors must be in the STOPPED state before their offsets can be modified. This can be done for the specified connector by issuing a 'PUT' request to the '/connectors/pg-orders/stop' endpoint")},
			call: func(ctx context.Context, c *connect.Client) error {
				_, err := c.ResetOffsets(ctx, "pg-orders")
				return err
			},
			wantAPI:   &connect.APIError{Method: "DELETE", Path: "/connectors/pg-orders/offsets", Status: 400, ErrorCode: 400, Message: "Connectors must be in the STOPPED state before their offsets can be modified. This can be done for the specified connector by issuing a 'PUT' request to the '/connectors/pg-orders/stop' endpoint"},
			wantPreds: preds{badRequest: true},
			wantErr:   []string{"resetting the offsets of connector", "STOPPED state"},
		},
		{
			name: "409 already exists is not retried",
			wire: exchange{method: "POST", uri: "/connectors", status: 409, body: connectError(409, "Connector pg-orders already exists")},
			call: func(ctx context.Context, c *connect.Client) error {
				_, err := c.Create(ctx, connect.CreateRequest{Name: "pg-orders"})
				return err
			},
			wantAPI:   &connect.APIError{Method: "POST", Path: "/connectors", Status: 409, ErrorCode: 409, Message: "Connector pg-orders already exists"},
			wantPreds: preds{conflict: true, exists: true},
		},
		{
			name: "500 request timed out is not retried",
			wire: exchange{method: "PATCH", uri: "/connectors/pg-orders/offsets", status: 500, body: connectError(500, "Request timed out")},
			call: func(ctx context.Context, c *connect.Client) error {
				_, err := c.AlterOffsets(ctx, "pg-orders", oneSinkOffset())
				return err
			},
			wantAPI:   &connect.APIError{Method: "PATCH", Path: "/connectors/pg-orders/offsets", Status: 500, ErrorCode: 500, Message: "Request timed out"},
			wantPreds: preds{timeout: true},
		},
		{
			name: "500 staged timeout",
			wire: exchange{method: "PUT", uri: "/connectors/pg-orders/stop", status: 500,
				body: connectError(500, "Request timed out. The worker is currently ensuring membership in the cluster, which began at 2024-06-01T10:00:00Z")},
			call:      func(ctx context.Context, c *connect.Client) error { return c.Stop(ctx, "pg-orders") },
			wantPreds: preds{timeout: true},
			wantErr:   []string{"stopping connector \"pg-orders\": kafka connect answered 500 Internal Server Error to PUT /connectors/pg-orders/stop: Request timed out. The worker"},
		},
		{
			name: "500 jackson error",
			wire: exchange{method: "PATCH", uri: "/connectors/pg-orders/offsets", status: 500,
				body: connectError(500, "Cannot deserialize value of type `java.util.ArrayList` from Object value")},
			call: func(ctx context.Context, c *connect.Client) error {
				_, err := c.AlterOffsets(ctx, "pg-orders", oneSinkOffset())
				return err
			},
			wantPreds: preds{},
			wantErr:   []string{"Cannot deserialize value"},
		},
		{
			name:      "non-JSON error body from a proxy is quoted up to 200 bytes",
			wire:      exchange{method: "GET", uri: "/connectors", status: 502, body: htmlPage, contentType: "text/html"},
			call:      func(ctx context.Context, c *connect.Client) error { _, err := c.ListConnectors(ctx); return err },
			wantAPI:   &connect.APIError{Method: "GET", Path: "/connectors", Status: 502, ErrorCode: 0, Message: htmlPage[:200] + "…"},
			wantPreds: preds{},
			wantErr:   []string{"kafka connect answered 502 Bad Gateway to GET /connectors: <html><head><title>502 Bad Gateway"},
			notInErr:  []string{"</html>"},
		},
		{
			name:      "empty error body",
			wire:      exchange{method: "GET", uri: "/connectors", status: 503},
			call:      func(ctx context.Context, c *connect.Client) error { _, err := c.ListConnectors(ctx); return err },
			wantAPI:   &connect.APIError{Method: "GET", Path: "/connectors", Status: 503},
			wantPreds: preds{},
			wantErr:   []string{"kafka connect answered 503 Service Unavailable to GET /connectors"},
		},
		{
			name:      "401 names the credential options",
			wire:      exchange{method: "GET", uri: "/connectors", status: 401, body: "Unauthorized", contentType: "text/plain"},
			call:      func(ctx context.Context, c *connect.Client) error { _, err := c.ListConnectors(ctx); return err },
			wantPreds: preds{unauthorized: true},
			wantErr: []string{"kafka connect refused authentication for GET /connectors (401 Unauthorized)",
				"--connect-user", "OFFSETCTL_CONNECT_PASSWORD", "OFFSETCTL_CONNECT_TOKEN", "--connect-header", "--connect-cert-file"},
		},
		{
			name:      "403 names the credential options",
			wire:      exchange{method: "PUT", uri: "/connectors/x/stop", status: 403, body: connectError(403, "forbidden")},
			call:      func(ctx context.Context, c *connect.Client) error { return c.Stop(ctx, "x") },
			wantPreds: preds{unauthorized: true},
			wantErr:   []string{"refused authentication for PUT /connectors/x/stop (403 Forbidden): forbidden", "OFFSETCTL_CONNECT_TOKEN"},
		},
		{
			name:     "2xx HTML instead of JSON names the path",
			wire:     exchange{method: "GET", uri: "/connectors/x/offsets", status: 200, body: "<!doctype html><p>Login</p>", contentType: "text/html"},
			call:     func(ctx context.Context, c *connect.Client) error { _, err := c.Offsets(ctx, "x"); return err },
			wantErr:  []string{"kafka connect answered 200 to GET /connectors/x/offsets with a body that is not the expected JSON", "--connect-url", `"<!doctype html><p>Login</p>"`},
			notInErr: []string{"127.0.0.1"},
		},
		{
			name:    "2xx empty body where JSON is expected",
			wire:    exchange{method: "GET", uri: "/", status: 200},
			call:    func(ctx context.Context, c *connect.Client) error { _, err := c.Root(ctx); return err },
			wantErr: []string{"answered 200 to GET / with a body that is not the expected JSON (empty body)"},
		},
		{
			name:    "2xx JSON of the wrong shape",
			wire:    exchange{method: "GET", uri: "/connectors", status: 200, body: `{"pg-orders":{}}`},
			call:    func(ctx context.Context, c *connect.Client) error { _, err := c.ListConnectors(ctx); return err },
			wantErr: []string{"answered 200 to GET /connectors with a body that is not the expected JSON"},
		},
		{
			name:    "2xx trailing garbage",
			wire:    exchange{method: "GET", uri: "/connectors", status: 200, body: `["a"] ["b"]`},
			call:    func(ctx context.Context, c *connect.Client) error { _, err := c.ListConnectors(ctx); return err },
			wantErr: []string{"unexpected data after the JSON value"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newScript(t, tt.wire) // exactly one request: nothing is retried
			err := tt.call(context.Background(), s.client(t))
			if err == nil {
				t.Fatal("expected an error")
			}
			if tt.wantAPI != nil {
				var ae *connect.APIError
				if !errors.As(err, &ae) {
					t.Fatalf("error %v (%T) is not an *APIError", err, err)
				}
				if *ae != *tt.wantAPI {
					t.Errorf("APIError\n got %+v\nwant %+v", *ae, *tt.wantAPI)
				}
			}
			got := preds{connect.IsNotFound(err), connect.IsConflict(err), connect.IsBadRequest(err), connect.IsRetryable(err),
				connect.IsUnauthorized(err), connect.IsRequestTimeout(err), connect.IsAlreadyExists(err), connect.IsUnsupportedEndpoint(err)}
			if got != tt.wantPreds {
				t.Errorf("predicates\n got %+v\nwant %+v", got, tt.wantPreds)
			}
			for _, w := range tt.wantErr {
				if !contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
			for _, w := range tt.notInErr {
				if contains(err.Error(), w) {
					t.Errorf("error %q\ncontains %q", err, w)
				}
			}
		})
	}
}

func oneSinkOffset() connect.ConnectorOffsets {
	return connect.ConnectorOffsets{Offsets: []connect.ConnectorOffset{{
		Partition: []byte(`{"kafka_topic":"t","kafka_partition":0}`), Offset: []byte(`{"kafka_offset":1}`)}}}
}

// TestRetryConflict checks that 409 rebalance answers are retried, with a
// bound, for reads and writes alike.
func TestRetryConflict(t *testing.T) {
	conflict := func(method, uri, msg string) exchange {
		return exchange{method: method, uri: uri, status: 409, body: connectError(409, msg)}
	}
	tests := []struct {
		name       string
		maxRetries int
		wire       []exchange
		call       func(ctx context.Context, c *connect.Client) error
		wantErr    string // empty: success
	}{
		{
			name:       "stale configuration twice then success",
			maxRetries: 5,
			wire: []exchange{
				conflict("PUT", "/connectors/x/stop", staleConfig),
				conflict("PUT", "/connectors/x/stop", "Cannot complete request because of a conflicting operation (e.g. worker rebalance)"),
				{method: "PUT", uri: "/connectors/x/stop", status: 204},
			},
			call: func(ctx context.Context, c *connect.Client) error { return c.Stop(ctx, "x") },
		},
		{
			name:       "retried PATCH resends the same body",
			maxRetries: 5,
			wire: []exchange{
				{method: "PATCH", uri: "/connectors/x/offsets", wantBody: `{"offsets":[{"partition":{"kafka_topic":"t","kafka_partition":0},"offset":{"kafka_offset":1}}]}`,
					status: 409, body: connectError(409, "Cannot complete request momentarily due to no known leader URL, likely because a rebalance was underway.")},
				{method: "PATCH", uri: "/connectors/x/offsets", wantBody: `{"offsets":[{"partition":{"kafka_topic":"t","kafka_partition":0},"offset":{"kafka_offset":1}}]}`,
					status: 200, body: `{"message":"ok"}`},
			},
			call: func(ctx context.Context, c *connect.Client) error {
				_, err := c.AlterOffsets(ctx, "x", oneSinkOffset())
				return err
			},
		},
		{
			name:       "bounded: 1 try + 2 retries",
			maxRetries: 2,
			wire: []exchange{
				conflict("GET", "/connectors/x/offsets", staleConfig),
				conflict("GET", "/connectors/x/offsets", staleConfig),
				conflict("GET", "/connectors/x/offsets", staleConfig),
			},
			call:    func(ctx context.Context, c *connect.Client) error { _, err := c.Offsets(ctx, "x"); return err },
			wantErr: "reading the offsets of connector \"x\": gave up after 3 attempts: kafka connect answered 409 Conflict to GET /connectors/x/offsets: Cannot complete request momentarily due to stale configuration",
		},
		{
			name:       "retries disabled",
			maxRetries: -1,
			wire:       []exchange{conflict("DELETE", "/connectors/x", staleConfig)},
			call:       func(ctx context.Context, c *connect.Client) error { return c.Delete(ctx, "x") },
			wantErr:    "deleting connector \"x\": kafka connect answered 409 Conflict",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newScript(t, tt.wire...)
			c := s.client(t, func(cfg *connect.Config) { cfg.MaxRetries = tt.maxRetries })
			err := tt.call(context.Background(), c)
			if got := s.requests(); got != len(tt.wire) {
				t.Errorf("%d requests, want %d", got, len(tt.wire))
			}
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v\nwant it to contain %q", err, tt.wantErr)
			}
			if !connect.IsConflict(err) || !connect.IsRetryable(err) {
				t.Errorf("a 409 rebalance should stay IsConflict and IsRetryable after the retries: %v", err)
			}
		})
	}
}

// TestCancelStopsRetries cancels the context once the first 409 answer has
// been read, so the cancellation lands while the client waits to retry: it
// must return at once (the backoff is an hour), after one request.
func TestCancelStopsRetries(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := newScript(t, exchange{method: "PUT", uri: "/connectors/x/resume", status: 409, body: connectError(409, staleConfig)})
	base := http.DefaultTransport.(*http.Transport).Clone()
	defer base.CloseIdleConnections()
	hc := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		res, err := base.RoundTrip(r)
		if err == nil {
			res.Body = cancelOnClose{ReadCloser: res.Body, cancel: cancel}
		}
		return res, err
	})}
	c := s.client(t, func(cfg *connect.Config) { cfg.RetryBackoff = 3600e9; cfg.HTTPClient = hc })
	err := c.Resume(ctx, "x")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	if !connect.IsConflict(err) {
		t.Errorf("the last answer should stay inspectable: %v", err)
	}
	if !contains(err.Error(), "stopped retrying after 1 attempts") {
		t.Errorf("error %q does not say retries stopped", err)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// cancelOnClose cancels a context when the response body is closed, that is
// after the client has read the answer.
type cancelOnClose struct {
	io.ReadCloser
	cancel func()
}

func (c cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}

// closedPort returns a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// TestUnreachable dials a closed port: the error says where Connect was
// looked for and how to point elsewhere, hides the password, and the dial is
// retried a bounded number of times (dials are counted).
func TestUnreachable(t *testing.T) {
	addr := closedPort(t)
	var dials atomic.Int32
	dialer := &net.Dialer{}
	tr := &http.Transport{DialContext: func(ctx context.Context, network, a string) (net.Conn, error) {
		dials.Add(1)
		return dialer.DialContext(ctx, network, a)
	}}
	c, err := connect.New(connect.Config{URL: "http://admin:s3cr3t-pw@" + addr, MaxRetries: 3, RetryBackoff: 1e6,
		HTTPClient: &http.Client{Transport: tr}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.ListConnectors(context.Background())
	if err == nil {
		t.Fatal("expected an error")
	}
	var ue *connect.UnreachableError
	if !errors.As(err, &ue) {
		t.Fatalf("error %v (%T) is not an *UnreachableError", err, err)
	}
	for _, w := range []string{"kafka connect at http://" + addr + " is unreachable", "connection refused", "--connect-url", "OFFSETCTL_CONNECT_URL", "gave up after 4 attempts"} {
		if !contains(err.Error(), w) {
			t.Errorf("error %q does not contain %q", err, w)
		}
	}
	if contains(err.Error(), "s3cr3t-pw") {
		t.Errorf("error leaks the password: %q", err)
	}
	if !connect.IsRetryable(err) {
		t.Error("a refused connection should be retryable")
	}
	if got := dials.Load(); got != 4 {
		t.Errorf("%d dials, want 4 (1 + 3 retries)", got)
	}
}

// TestUnknownHost checks that a host name that does not resolve reads as
// unreachable (with the --connect-url hint) and is not retried. The dialer
// returns the error Go's resolver gives, so the test does not depend on the
// machine's DNS.
func TestUnknownHost(t *testing.T) {
	var dials atomic.Int32
	tr := &http.Transport{DialContext: func(ctx context.Context, network, a string) (net.Conn, error) {
		dials.Add(1)
		return nil, &net.OpError{Op: "dial", Net: network, Err: &net.DNSError{Err: "no such host", Name: "connect.invalid", IsNotFound: true}}
	}}
	c, err := connect.New(connect.Config{URL: "http://connect.invalid:8083", RetryBackoff: 1e6, HTTPClient: &http.Client{Transport: tr}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Root(context.Background())
	var ue *connect.UnreachableError
	if !errors.As(err, &ue) || connect.IsRetryable(err) {
		t.Fatalf("error %v (%T): want a non-retryable *UnreachableError", err, err)
	}
	if !contains(err.Error(), "kafka connect at http://connect.invalid:8083 is unreachable") || !contains(err.Error(), "no such host") {
		t.Errorf("error %q", err)
	}
	if dials.Load() != 1 {
		t.Errorf("%d dials, want 1", dials.Load())
	}
}

// TestClientTimeout lets a request outlive Config.Timeout: the error says the
// operation may still complete, and it is not retried.
func TestClientTimeout(t *testing.T) {
	var requests atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		<-r.Context().Done() // answer only when the client has gone
	}))
	defer srv.Close()
	c, err := connect.New(connect.Config{URL: srv.URL, Timeout: 20 * time.Millisecond, RetryBackoff: 1e6})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.ResetOffsets(context.Background(), "x")
	var te *connect.TransportError
	if !errors.As(err, &te) || !errors.Is(err, context.DeadlineExceeded) || connect.IsRetryable(err) {
		t.Fatalf("error %v (%T): want a non-retryable *TransportError wrapping DeadlineExceeded", err, err)
	}
	if !contains(err.Error(), "re-read its state before trying again") {
		t.Errorf("error %q", err)
	}
	srv.Close() // waits for the handler
	if requests.Load() != 1 {
		t.Errorf("%d requests, want 1", requests.Load())
	}
}
