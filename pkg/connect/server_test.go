package connect_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/offsetctl/offsetctl/pkg/connect"
)

// exchange is one expected request and the wire answer a Connect worker
// would give to it.
type exchange struct {
	method string
	// uri is the escaped path plus query, as sent: "/connectors/a%20b/status".
	uri string
	// wantBody, when not empty, must equal the request body byte for byte.
	wantBody string
	// check, when set, inspects the request further.
	check func(t *testing.T, r *http.Request, body []byte)

	status      int
	body        string
	contentType string // default application/json when body is set
}

// script is an httptest server that expects the exchanges in order, and at
// cleanup fails the test unless every one of them happened.
type script struct {
	t    *testing.T
	srv  *httptest.Server
	mu   sync.Mutex
	want []exchange
	got  int
}

func newScript(t *testing.T, want ...exchange) *script {
	t.Helper()
	s := &script{t: t, want: want}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(func() {
		s.srv.Close()
		s.verify()
	})
	return s
}

func (s *script) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	i := s.got
	s.got++
	s.mu.Unlock()
	if i >= len(s.want) {
		s.t.Errorf("unexpected request #%d: %s %s", i+1, r.Method, r.URL.RequestURI())
		http.Error(w, "unexpected request", http.StatusTeapot)
		return
	}
	x := s.want[i]
	if r.Method != x.method || r.URL.RequestURI() != x.uri {
		s.t.Errorf("request #%d: got %s %s, want %s %s", i+1, r.Method, r.URL.RequestURI(), x.method, x.uri)
	}
	if x.wantBody != "" && string(body) != x.wantBody {
		s.t.Errorf("request #%d %s %s: body\n got %s\nwant %s", i+1, r.Method, r.URL.RequestURI(), body, x.wantBody)
	}
	if x.wantBody != "" && r.Header.Get("Content-Type") != "application/json" {
		s.t.Errorf("request #%d: Content-Type %q, want application/json", i+1, r.Header.Get("Content-Type"))
	}
	if x.check != nil {
		x.check(s.t, r, body)
	}
	if x.body != "" {
		ct := x.contentType
		if ct == "" {
			ct = "application/json"
		}
		w.Header().Set("Content-Type", ct)
	}
	w.WriteHeader(x.status)
	_, _ = io.WriteString(w, x.body)
}

// requests returns how many requests arrived so far.
func (s *script) requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.got
}

func (s *script) verify() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.got < len(s.want) {
		for _, x := range s.want[s.got:] {
			s.t.Errorf("expected request never happened: %s %s", x.method, x.uri)
		}
	}
}

// client builds a client for the script with fast retries.
func (s *script) client(t *testing.T, mod ...func(*connect.Config)) *connect.Client {
	t.Helper()
	cfg := connect.Config{URL: s.srv.URL, RetryBackoff: 1e6 /* 1ms */}
	for _, m := range mod {
		m(&cfg)
	}
	c, err := connect.New(cfg)
	if err != nil {
		t.Fatalf("connect.New: %v", err)
	}
	return c
}

// connectError renders Connect's error body.
func connectError(code int, msg string) string {
	return `{"error_code":` + strconv.Itoa(code) + `,"message":"` + strings.ReplaceAll(msg, `"`, `\"`) + `"}`
}
