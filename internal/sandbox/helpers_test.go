package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/offsetctl/offsetctl/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// start starts a sandbox for the test.
func start(t *testing.T, version string) *Sandbox {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := Start(ctx, Options{ConnectVersion: version, Logf: func(f string, a ...any) { t.Logf(time.Now().Format("05.000 ")+f, a...) }})
	if err != nil {
		t.Fatalf("starting the sandbox: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// answer is a REST reply.
type answer struct {
	status int
	body   string
	header http.Header
}

// do sends a request; body is sent as is when it is a string, JSON-encoded otherwise.
func do(t *testing.T, s *Sandbox, method, path string, body any) answer {
	t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = bytes.NewReader([]byte(b))
	default:
		enc, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		r = bytes.NewReader(enc)
	}
	req, err := http.NewRequest(method, s.ConnectURL()+path, r)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return answer{status: resp.StatusCode, body: string(b), header: resp.Header}
}

// must sends a request and fails the test unless the status is want.
func must(t *testing.T, s *Sandbox, want int, method, path string, body any) answer {
	t.Helper()
	a := do(t, s, method, path, body)
	if a.status != want {
		t.Fatalf("%s %s: got %d %s, want %d", method, path, a.status, a.body, want)
	}
	return a
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}
