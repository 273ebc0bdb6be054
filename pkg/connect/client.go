package connect

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/offsetctl/offsetctl/internal/sleep"
)

// Client talks to one Kafka Connect cluster. It is safe for concurrent use
// and holds no per-request state.
type Client struct {
	cfg *resolved
	// sleep waits between retries; a field so nothing is global. It returns
	// ctx.Err() when the context ends first.
	sleep func(ctx context.Context, d time.Duration) error
}

// New checks cfg and builds a Client. It does not contact Connect; call Root
// or Capabilities to check the connection.
func New(cfg Config) (*Client, error) {
	r, err := cfg.resolve()
	if err != nil {
		return nil, err
	}
	return &Client{cfg: r, sleep: sleep.Ctx}, nil
}

// URL returns the base URL of the Connect REST API, without credentials.
func (c *Client) URL() string { return c.cfg.base.String() }

// request describes one call.
type request struct {
	method string
	// path is already escaped and starts with "/".
	path  string
	query url.Values
	// body is marshalled once and re-sent as is on every attempt; nil means
	// no body.
	body any
	// ok lists the accepted statuses; empty means any 2xx.
	ok []int
}

// shown is the path and query as errors print them.
func (r request) shown() string {
	if len(r.query) > 0 {
		return r.path + "?" + r.query.Encode()
	}
	return r.path
}

// response is a successful answer.
type response struct {
	status int
	body   []byte
}

// pathOf joins escaped path segments: pathOf("connectors", name, "status").
func pathOf(segments ...string) string {
	var b strings.Builder
	for _, s := range segments {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(s))
	}
	return b.String()
}

// do runs the request with retries on 409 rebalance answers and refused
// connections, and returns the body of a successful answer.
func (c *Client) do(ctx context.Context, req request) (*response, error) {
	var payload []byte
	if req.body != nil {
		var err error
		payload, err = marshal(req.body)
		if err != nil {
			return nil, fmt.Errorf("encoding the body of %s %s: %w", req.method, req.path, err)
		}
	}
	shown := req.shown()
	backoff := c.cfg.backoff
	for attempt := 0; ; attempt++ {
		resp, err := c.once(ctx, req, shown, payload)
		if err == nil {
			return resp, nil
		}
		if !IsRetryable(err) {
			return nil, err
		}
		if attempt >= c.cfg.maxRetries {
			if attempt == 0 {
				return nil, err
			}
			return nil, fmt.Errorf("gave up after %d attempts: %w", attempt+1, err)
		}
		if serr := c.sleep(ctx, backoff); serr != nil {
			return nil, fmt.Errorf("stopped retrying after %d attempts (%w): %w", attempt+1, serr, err)
		}
		backoff = min(backoff*2, MaxRetryBackoff)
	}
}

// once sends one attempt.
func (c *Client) once(ctx context.Context, req request, shown string, payload []byte) (*response, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.timeout)
	defer cancel()

	u := c.cfg.base.String() + req.path
	if len(req.query) > 0 {
		u += "?" + req.query.Encode()
	}
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	hr, err := http.NewRequestWithContext(ctx, req.method, u, body)
	if err != nil {
		return nil, fmt.Errorf("building %s %s: %w", req.method, shown, err)
	}
	for k, v := range c.cfg.headers {
		hr.Header[k] = v
	}
	hr.Header.Set("Accept", "application/json")
	if payload != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	switch {
	case c.cfg.token != "":
		hr.Header.Set("Authorization", "Bearer "+c.cfg.token)
	case c.cfg.username != "":
		hr.SetBasicAuth(c.cfg.username, c.cfg.password)
	}

	res, err := c.cfg.httpClient.Do(hr)
	if err != nil {
		if isConnRefused(err) || isNoSuchHost(err) {
			return nil, &UnreachableError{URL: c.URL(), Err: err}
		}
		return nil, &TransportError{Method: req.method, Path: shown, URL: c.URL(), Err: err}
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, &TransportError{Method: req.method, Path: shown, URL: c.URL(), Err: fmt.Errorf("reading the answer: %w", err)}
	}
	accepted := res.StatusCode/100 == 2
	if len(req.ok) > 0 {
		accepted = slices.Contains(req.ok, res.StatusCode)
	}
	if !accepted {
		if res.StatusCode/100 == 2 {
			return nil, &APIError{Method: req.method, Path: shown, Status: res.StatusCode,
				Message: "unexpected success status; expected one of " + fmt.Sprint(req.ok)}
		}
		return nil, newAPIError(req.method, shown, res.StatusCode, data)
	}
	return &response{status: res.StatusCode, body: data}, nil
}

// call runs req and decodes the JSON answer into out (when out is not nil).
func (c *Client) call(ctx context.Context, req request, out any) (*response, error) {
	resp, err := c.do(ctx, req)
	if err != nil {
		return nil, err
	}
	if out != nil {
		if err := decode(resp.body, out); err != nil {
			return nil, &DecodeError{Method: req.method, Path: req.shown(), Status: resp.status, Snippet: snippet(resp.body), Err: err}
		}
	}
	return resp, nil
}

// decode parses exactly one JSON value into out, keeping generic numbers as
// json.Number.
func decode(data []byte, out any) error {
	if len(bytes.TrimSpace(data)) == 0 {
		return errors.New("empty body")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(out); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("unexpected data after the JSON value")
	}
	return nil
}

// marshal encodes v compactly without HTML escaping, so raw offset bytes are
// sent as they were given (whitespace aside).
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
