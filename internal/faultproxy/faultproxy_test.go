package faultproxy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// echoServer answers every byte it reads with the same byte and records
// what it read.
type echoServer struct {
	ln   net.Listener
	mu   sync.Mutex
	got  bytes.Buffer
	eofs atomic.Int32
}

func newEcho(t *testing.T) *echoServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &echoServer{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 4096)
				for {
					n, err := c.Read(buf)
					e.mu.Lock()
					e.got.Write(buf[:n])
					e.mu.Unlock()
					if n > 0 {
						if _, werr := c.Write(buf[:n]); werr != nil {
							return
						}
					}
					if err != nil {
						if errors.Is(err, io.EOF) {
							e.eofs.Add(1)
							// Keep answering nothing, but say a last word
							// after the client's end of file.
							_, _ = c.Write([]byte("bye"))
						}
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return e
}

func (e *echoServer) received() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.got.String()
}

func newProxy(t *testing.T, target string) *Proxy {
	t.Helper()
	p, err := New(target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func dial(t *testing.T, p *Proxy) *net.TCPConn {
	t.Helper()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*net.TCPConn)
}

// readFor reads until the deadline, end of file or an error.
func readFor(c net.Conn, d time.Duration) (string, error) {
	_ = c.SetReadDeadline(time.Now().Add(d))
	var out bytes.Buffer
	buf := make([]byte, 1024)
	for {
		n, err := c.Read(buf)
		out.Write(buf[:n])
		if err != nil {
			return out.String(), err
		}
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func isReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

func TestFaults(t *testing.T) {
	tests := []struct {
		name  string
		dir   Direction
		fault Fault
		// check writes "hello" through a fresh connection and judges.
		check func(t *testing.T, c *net.TCPConn, e *echoServer)
	}{
		{"none", Downstream, Fault{}, func(t *testing.T, c *net.TCPConn, e *echoServer) {
			got, err := readFor(c, 300*time.Millisecond)
			if got != "hello" || !isTimeout(err) {
				t.Fatalf("read %q, %v; want the echo", got, err)
			}
		}},
		{"delay", Downstream, Fault{Delay: 150 * time.Millisecond}, func(t *testing.T, c *net.TCPConn, e *echoServer) {
			begun := time.Now()
			got, _ := readFor(c, time.Second)
			if got != "hello" || time.Since(begun) < 150*time.Millisecond {
				t.Fatalf("read %q after %s; want the echo after at least 150ms", got, time.Since(begun))
			}
		}},
		{"reset after 3 answer bytes", Downstream, Fault{Reset: true, ResetAfter: 3}, func(t *testing.T, c *net.TCPConn, e *echoServer) {
			got, err := readFor(c, time.Second)
			if got != "hel" || !isReset(err) {
				t.Fatalf("read %q, %v; want 3 bytes then a reset", got, err)
			}
		}},
		{"reset after 2 request bytes", Upstream, Fault{Reset: true, ResetAfter: 2}, func(t *testing.T, c *net.TCPConn, e *echoServer) {
			_, err := readFor(c, time.Second)
			if !isReset(err) && !errors.Is(err, io.EOF) {
				t.Fatalf("read: %v; want a reset", err)
			}
			waitFor(t, func() bool { return e.received() == "he" })
		}},
		{"blackhole answers", Downstream, Fault{Blackhole: true}, func(t *testing.T, c *net.TCPConn, e *echoServer) {
			got, err := readFor(c, 300*time.Millisecond)
			if got != "" || !isTimeout(err) {
				t.Fatalf("read %q, %v; want silence", got, err)
			}
			if e.received() != "hello" {
				t.Fatalf("the server got %q; want the request", e.received())
			}
		}},
		{"blackhole requests", Upstream, Fault{Blackhole: true}, func(t *testing.T, c *net.TCPConn, e *echoServer) {
			got, err := readFor(c, 300*time.Millisecond)
			if got != "" || !isTimeout(err) || e.received() != "" {
				t.Fatalf("read %q, %v, the server got %q; want silence and nothing sent", got, err, e.received())
			}
		}},
		{"half-close answers", Downstream, Fault{HalfClose: true}, func(t *testing.T, c *net.TCPConn, e *echoServer) {
			got, err := readFor(c, time.Second)
			if got != "" || !errors.Is(err, io.EOF) {
				t.Fatalf("read %q, %v; want end of file at once", got, err)
			}
			// The client's own direction still works.
			if _, err := c.Write([]byte(" again")); err != nil {
				t.Fatal(err)
			}
			waitFor(t, func() bool { return e.received() == "hello again" })
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEcho(t)
			p := newProxy(t, e.ln.Addr().String())
			p.Set(tt.dir, tt.fault)
			c := dial(t, p)
			if _, err := c.Write([]byte("hello")); err != nil {
				t.Fatal(err)
			}
			tt.check(t, c, e)
		})
	}
}

func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 2s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A client's end of file reaches the server, and the server's last words
// after it reach the client (a half-closed TCP connection is passed on).
func TestEndOfFilePassedOn(t *testing.T) {
	e := newEcho(t)
	p := newProxy(t, e.ln.Addr().String())
	c := dial(t, p)
	if _, err := c.Write([]byte("hi")); err != nil {
		t.Fatal(err)
	}
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	got, err := readFor(c, 2*time.Second)
	if got != "hibye" || !errors.Is(err, io.EOF) {
		t.Fatalf("read %q, %v; want the echo, the server's last word and end of file", got, err)
	}
}

// A fault set on one connection leaves the others alone; Clear lifts it;
// a fault switched on mid-connection counts bytes from then.
func TestPerConnection(t *testing.T) {
	e := newEcho(t)
	p := newProxy(t, e.ln.Addr().String())
	a, b := dial(t, p), dial(t, p)
	roundTrip := func(c net.Conn, s string) (string, error) {
		if _, err := c.Write([]byte(s)); err != nil {
			return "", err
		}
		return readFor(c, 200*time.Millisecond)
	}
	if got, _ := roundTrip(a, "a1"); got != "a1" {
		t.Fatalf("a: %q", got)
	}
	if got, _ := roundTrip(b, "b1"); got != "b1" {
		t.Fatalf("b: %q", got)
	}
	conns := p.Conns()
	if len(conns) != 2 || conns[0].ID() >= conns[1].ID() {
		t.Fatalf("conns: %v", conns)
	}
	conns[0].Set(Downstream, Fault{Blackhole: true})
	if got, _ := roundTrip(a, "a2"); got != "" {
		t.Fatalf("a under a blackhole: %q", got)
	}
	if got, _ := roundTrip(b, "b2"); got != "b2" {
		t.Fatalf("b: %q", got)
	}
	p.Clear()
	if got, _ := roundTrip(a, "a3"); got != "a3" {
		t.Fatalf("a after Clear: %q", got)
	}
	conns[1].Set(Downstream, Fault{Reset: true, ResetAfter: 1})
	got, err := roundTrip(b, "b3")
	if got != "b" || !isReset(err) {
		t.Fatalf("b under reset after 1 byte: %q, %v", got, err)
	}
	waitFor(t, func() bool { return len(p.Conns()) == 1 }) // b's goroutines end
	if n := p.ResetAll(); n != 1 {
		t.Fatalf("ResetAll reset %d connections, want the 1 left", n)
	}
	if _, err := roundTrip(a, "a4"); !isReset(err) && !errors.Is(err, io.EOF) {
		t.Fatalf("a after ResetAll: %v", err)
	}
}

// A target that is down: the client's connection is closed at once.
func TestTargetDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	p := newProxy(t, addr)
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		return // reset before the dial returned: closed at once too
	}
	defer c.Close()
	if _, err := readFor(c, 2*time.Second); isTimeout(err) {
		t.Fatalf("read: %v; want the connection closed", err)
	}
}

// LoseAnswer: exactly the nth matching request's answer is lost, after the
// server acted on it; other requests, and later ones, are answered.
func TestLoseAnswer(t *testing.T) {
	var patches atomic.Int32
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Method == "PATCH" {
			patches.Add(1)
		}
		_, _ = w.Write([]byte(r.Method + " " + string(body)))
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	p := newProxy(t, ln.Addr().String())
	lost := p.LoseAnswer(Request("PATCH", "/connectors/x/offsets"), 2)
	cl := &http.Client{Transport: &http.Transport{}} // keep-alive: requests share connections
	do := func(method, path, body string) (string, error) {
		req, err := http.NewRequestWithContext(context.Background(), method, p.URL()+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		res, err := cl.Do(req)
		if err != nil {
			return "", err
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		return string(b), err
	}
	steps := []struct {
		method, path, body string
		want               string // "" = the answer is lost
	}{
		{"GET", "/connectors/x/offsets", "", "GET "},
		{"PATCH", "/connectors/x/offsets?dry=1", `{"offsets":[1]}`, `PATCH {"offsets":[1]}`},
		{"PATCH", "/connectors/y/offsets", `{"offsets":[9]}`, `PATCH {"offsets":[9]}`},
		{"PATCH", "/connectors/x/offsets", `{"offsets":[2]}`, ""},
		{"PATCH", "/connectors/x/offsets", `{"offsets":[3]}`, `PATCH {"offsets":[3]}`},
	}
	for i, s := range steps {
		got, err := do(s.method, s.path, s.body)
		if s.want == "" {
			if err == nil {
				t.Fatalf("step %d: answered %q; want the answer lost", i, got)
			}
			select {
			case <-lost:
			default:
				t.Fatalf("step %d: LoseAnswer's channel not closed", i)
			}
			continue
		}
		if err != nil || got != s.want {
			t.Fatalf("step %d %s %s: %q, %v; want %q", i, s.method, s.path, got, err, s.want)
		}
	}
	if n := patches.Load(); n != 4 {
		t.Fatalf("the server handled %d PATCHes; want 4 (the lost answer's request too)", n)
	}
	if got := len(p.Requests()); got != 5 {
		t.Fatalf("Requests: %v", p.Requests())
	}
}

// The request framing follows requests split anywhere and bodies framed by
// Content-Length, and gives up on what it cannot frame.
func TestHTTPTracker(t *testing.T) {
	stream := "GET /a HTTP/1.1\r\nHost: x\r\n\r\n" +
		"PATCH /b?q=1 HTTP/1.1\r\nContent-Length: 26\r\n\r\nPUT /fake HTTP/1.1\r\n\r\n1234" +
		"DELETE /c HTTP/1.1\r\ncontent-length: 0\r\n\r\n"
	tests := []struct {
		name   string
		stream string
		splits []int // feed in chunks of these sizes, then the rest
		want   string
	}{
		{"whole", stream, nil, "GET /a|PATCH /b|DELETE /c"},
		{"byte by byte", stream, repeat(1, len(stream)), "GET /a|PATCH /b|DELETE /c"},
		{"split in the body", stream, []int{60, 7}, "GET /a|PATCH /b|DELETE /c"},
		{"chunked body", "POST /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nGET /y HTTP/1.1\r\n\r\n", nil, "POST /x"},
		{"not HTTP", "\x00\x00\x00\x10kafka bytes\r\n\r\nGET /z HTTP/1.1\r\n\r\n", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h httpTracker
			var got []string
			rest := []byte(tt.stream)
			feed := func(b []byte) {
				for _, rl := range h.feed(b) {
					got = append(got, rl.method+" "+rl.path)
				}
			}
			for _, n := range tt.splits {
				if n > len(rest) {
					break
				}
				feed(rest[:n])
				rest = rest[n:]
			}
			feed(rest)
			if s := strings.Join(got, "|"); s != tt.want {
				t.Fatalf("requests %q, want %q", s, tt.want)
			}
		})
	}
}

func repeat(v, n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = v
	}
	return out
}

// FaultRequest: a request cut before it reaches the server, an answer
// replaced by end of file; the connection's other requests are untouched.
func TestFaultRequest(t *testing.T) {
	tests := []struct {
		name       string
		dir        Direction
		fault      Fault
		wantServed int32 // PATCHes the server handled
	}{
		{"cut upstream", Upstream, Fault{Reset: true}, 1},
		{"answer lost", Downstream, Fault{Reset: true}, 2},
		{"answer half-closed", Downstream, Fault{HalfClose: true}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var patches atomic.Int32
			srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.ReadAll(r.Body)
				if r.Method == "PATCH" {
					patches.Add(1)
				}
				_, _ = w.Write([]byte("ok"))
			})}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			go srv.Serve(ln)
			t.Cleanup(func() { srv.Close() })
			p := newProxy(t, ln.Addr().String())
			done := p.FaultRequest(Request("PATCH", "/o"), 2, tt.dir, tt.fault)
			cl := &http.Client{Transport: &http.Transport{}}
			t.Cleanup(cl.CloseIdleConnections)
			for i := 1; i <= 3; i++ {
				res, err := cl.Do(mustRequest(t, "PATCH", p.URL()+"/o", `{"n":1}`))
				if err == nil {
					_, err = io.ReadAll(res.Body)
					res.Body.Close()
				}
				if (err != nil) != (i == 2) {
					t.Fatalf("request %d: %v", i, err)
				}
			}
			<-done
			if n := patches.Load(); n != tt.wantServed+1 {
				t.Fatalf("the server handled %d PATCHes; want %d", n, tt.wantServed+1)
			}
		})
	}
}

func mustRequest(t *testing.T, method, url, body string) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// The Kafka framing names each request by its API, wherever the stream
// is split.
func TestKafkaTracker(t *testing.T) {
	frame := func(key int16, body string) []byte {
		req := []byte{byte(key >> 8), byte(key), 0, 4, 0, 0, 0, 7, 0, 3, 'c', 'l', 'i'}
		req = append(req, body...)
		n := len(req)
		return append([]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}, req...)
	}
	var stream []byte
	stream = append(stream, frame(3, "")...)
	stream = append(stream, frame(1, strings.Repeat("\x00\x01", 300))...)
	stream = append(stream, frame(2, "x")...)
	stream = append(stream, frame(999, "")...)
	for _, chunk := range []int{1, 5, 7, 100, len(stream)} {
		var k kafkaTracker
		var got []string
		for rest := stream; len(rest) > 0; {
			n := min(chunk, len(rest))
			for _, rl := range k.feed(rest[:n]) {
				got = append(got, rl.method+" "+rl.path)
			}
			rest = rest[n:]
		}
		if s := strings.Join(got, "|"); s != "kafka Metadata|kafka Fetch|kafka ListOffsets|kafka ApiKey999" {
			t.Fatalf("chunks of %d: %s", chunk, s)
		}
	}
}
