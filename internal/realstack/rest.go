package realstack

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
)

// Response is a raw answer of the worker's REST API.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Do sends one request to the worker's REST API and returns its raw answer.
// body is sent as JSON unless it is nil, a []byte or a json.RawMessage (sent
// as is, for malformed-body cases). Only transport errors are errors.
func (s *Stack) Do(ctx context.Context, method, path string, body any) (*Response, error) {
	return doREST(ctx, s.ConnectURL(), method, path, body)
}

// doREST sends one request to the REST API of the worker at base.
func doREST(ctx context.Context, base, method, path string, body any) (*Response, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case json.RawMessage:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			return nil, fmt.Errorf("encoding the %s %s body: %w", method, path, err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, rd)
	if err != nil {
		return nil, fmt.Errorf("building %s %s: %w", method, path, err)
	}
	req.Header.Set("Accept", "application/json")
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s on the real Connect worker: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("reading the answer to %s %s: %w", method, path, err)
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: raw}, nil
}

// do is Do reduced to status and body.
func (s *Stack) do(ctx context.Context, method, path string, body any) (int, []byte, error) {
	r, err := s.Do(ctx, method, path, body)
	if err != nil {
		return 0, nil, err
	}
	return r.Status, r.Body, nil
}
