// Package faultproxy is a small TCP proxy for tests that puts network faults
// between offsetctl and a real peer (Kafka Connect's REST API, a Kafka
// broker, PostgreSQL): added latency, a connection reset after a number of
// bytes, a peer that accepts and never answers (a blackhole), a half-closed
// connection, and — for HTTP/1.1 — the loss of exactly the answer of the Nth
// request that matches (the request reaches the server, which acts on it;
// its answer never reaches the client, whose connection is reset).
//
// A proxy listens on a loopback address and forwards every accepted
// connection to one target, byte for byte: it rewrites nothing. Faults are
// set per direction (Upstream: client to target, Downstream: target to
// client) for every connection, live ones included, or for one connection
// (Conns), and can be switched at any time:
//
//	p, _ := faultproxy.New("127.0.0.1:8083")
//	defer p.Close()
//	p.Set(faultproxy.Downstream, faultproxy.Fault{Delay: 200 * time.Millisecond})
//	p.LoseAnswer(faultproxy.Request("PATCH", "/connectors/x/offsets"), 1)
//	p.FaultRequest(faultproxy.Request("GET", "/connectors/x/offsets"), 1,
//		faultproxy.Upstream, faultproxy.Fault{Reset: true}) // never arrives
//
// Requests are told apart for HTTP/1.1 (the default) and Kafka's protocol
// (SetProtocol), so that a fault can hit exactly one request: the Nth PATCH
// of a connector's offsets, the first Fetch after a given moment.
//
// For a Kafka broker the proxy must be the address the broker advertises
// (clients connect to the advertised listener after the first metadata
// answer): give the broker a listener advertised at the proxy's address
// (Listen on a chosen port) and let the proxy forward to it.
package faultproxy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// Protocol is how the proxy tells requests apart in the bytes a client
// sends, for FaultRequest and Requests.
type Protocol int32

const (
	// HTTP frames HTTP/1.1 requests: the request line and headers, then a
	// Content-Length body. Match gets the method and the path.
	HTTP Protocol = iota
	// Kafka frames Kafka's protocol: a 4-byte size, then the request
	// header. Match gets "kafka" and the API's name (Fetch, ListOffsets,
	// Metadata, ...).
	Kafka
	// Opaque frames nothing.
	Opaque
)

// Direction is the way bytes flow through a connection.
type Direction int

const (
	// Upstream is from the client to the target (requests).
	Upstream Direction = iota
	// Downstream is from the target to the client (answers).
	Downstream
)

func (d Direction) String() string {
	if d == Upstream {
		return "upstream"
	}
	return "downstream"
}

// Fault is what happens to the bytes of one direction. The zero value
// forwards them untouched.
type Fault struct {
	// Delay is added before each chunk read is forwarded.
	Delay time.Duration
	// Reset resets the connection (both ways, with a TCP RST) once
	// ResetAfter bytes have been forwarded in this direction since the
	// fault was set; ResetAfter 0 resets at the next byte.
	Reset      bool
	ResetAfter int64
	// Blackhole reads and discards the bytes: the connection stays open
	// and the other side never hears anything more.
	Blackhole bool
	// HalfClose closes this direction's writing side (the receiver reads
	// end of file) and discards the bytes that come after; the other
	// direction goes on.
	HalfClose bool
}

func (f Fault) String() string {
	var parts []string
	if f.Delay > 0 {
		parts = append(parts, "delay "+f.Delay.String())
	}
	if f.Reset {
		parts = append(parts, "reset after "+strconv.FormatInt(f.ResetAfter, 10)+" bytes")
	}
	if f.Blackhole {
		parts = append(parts, "blackhole")
	}
	if f.HalfClose {
		parts = append(parts, "half-close")
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// faultSet is one Set call: a fault and its identity, so a copier notices a
// new one and counts its bytes from zero.
type faultSet struct{ Fault }

// Proxy forwards connections from its address to a target.
type Proxy struct {
	ln     net.Listener
	target string

	def   [2]atomic.Pointer[faultSet] // defaults for every connection
	proto atomic.Int32

	mu     sync.Mutex
	conns  map[*Conn]struct{}
	closed bool
	wg     sync.WaitGroup

	// HTTP/1.1 request tracking.
	reqMu    sync.Mutex
	requests []string // "METHOD path", in the order the proxy saw them
	triggers []*trigger
}

// New listens on a free loopback port and forwards to target (host:port).
func New(target string) (*Proxy, error) { return Listen("127.0.0.1:0", target) }

// Listen listens on addr (a loopback address, port 0 for a free one) and
// forwards to target.
func Listen(addr, target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("fault proxy: listening on %s: %w", addr, err)
	}
	return Serve(ln, target), nil
}

// Serve forwards the connections ln accepts to target; the proxy owns ln.
func Serve(ln net.Listener, target string) *Proxy {
	p := &Proxy{ln: ln, target: target, conns: map[*Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	return p
}

// SetProtocol sets how requests are told apart on connections accepted
// from now on (HTTP when not set).
func (p *Proxy) SetProtocol(proto Protocol) { p.proto.Store(int32(proto)) }

// KafkaRequest matches Kafka requests of one API, by its name as Kafka's
// protocol documentation spells it (Fetch, ListOffsets, ...).
func KafkaRequest(api string) Match {
	return func(m, p string) bool { return m == "kafka" && p == api }
}

// Addr is the proxy's address, host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// URL is http://Addr().
func (p *Proxy) URL() string { return "http://" + p.Addr() }

// Target is the address the proxy forwards to.
func (p *Proxy) Target() string { return p.target }

// Set makes f the fault of direction d on every connection, live and new
// (a connection's own Set wins until Clear).
func (p *Proxy) Set(d Direction, f Fault) { p.def[d].Store(&faultSet{f}) }

// Clear removes every fault: the proxy's and each connection's.
func (p *Proxy) Clear() {
	p.Set(Upstream, Fault{})
	p.Set(Downstream, Fault{})
	for _, c := range p.Conns() {
		c.own[Upstream].Store(nil)
		c.own[Downstream].Store(nil)
	}
}

// Conns lists the live connections, oldest first.
func (p *Proxy) Conns() []*Conn {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]*Conn, 0, len(p.conns))
	for c := range p.conns {
		out = append(out, c)
	}
	for i := 1; i < len(out); i++ { // few connections: insertion sort by id
		for j := i; j > 0 && out[j].id < out[j-1].id; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// ResetAll resets every live connection (new ones are accepted as usual).
func (p *Proxy) ResetAll() int {
	cs := p.Conns()
	for _, c := range cs {
		c.Reset()
	}
	return len(cs)
}

// Close stops accepting, resets every connection and waits for the
// proxy's goroutines.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	err := p.ln.Close()
	p.ResetAll()
	p.wg.Wait()
	return err
}

var nextConnID atomic.Uint64

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		cl, err := p.ln.Accept()
		if err != nil {
			return
		}
		c := &Conn{p: p, id: nextConnID.Add(1), client: cl}
		switch Protocol(p.proto.Load()) {
		case HTTP:
			c.frames = &httpTracker{}
		case Kafka:
			c.frames = &kafkaTracker{}
		}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			cl.Close()
			return
		}
		p.conns[c] = struct{}{}
		p.wg.Add(1)
		p.mu.Unlock()
		go c.serve()
	}
}

// Conn is one proxied connection.
type Conn struct {
	p      *Proxy
	id     uint64
	client net.Conn
	mu     sync.Mutex
	server net.Conn // nil until dialled
	own    [2]atomic.Pointer[faultSet]
	once   sync.Once
	frames framer // nil: no framing
}

// ID numbers connections in the order they were accepted.
func (c *Conn) ID() uint64 { return c.id }

// Set makes f the fault of direction d on this connection only.
func (c *Conn) Set(d Direction, f Fault) { c.own[d].Store(&faultSet{f}) }

// Reset closes both sides of the connection with a TCP RST.
func (c *Conn) Reset() {
	c.once.Do(func() {
		reset(c.client)
		c.mu.Lock()
		if c.server != nil {
			reset(c.server)
		}
		c.mu.Unlock()
	})
}

func reset(nc net.Conn) {
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = nc.Close()
}

func (c *Conn) fault(d Direction) *faultSet {
	if f := c.own[d].Load(); f != nil {
		return f
	}
	if f := c.p.def[d].Load(); f != nil {
		return f
	}
	return &noFault
}

var noFault = faultSet{}

func (c *Conn) serve() {
	defer c.p.wg.Done()
	defer func() {
		c.p.mu.Lock()
		delete(c.p.conns, c)
		c.p.mu.Unlock()
	}()
	srv, err := net.DialTimeout("tcp", c.p.target, 10*time.Second)
	if err != nil {
		c.Reset() // the client sees its connection reset: the target is down
		return
	}
	c.mu.Lock()
	c.server = srv
	c.mu.Unlock()
	done := make(chan struct{}, 2)
	go func() { c.pump(Upstream, c.client, srv); done <- struct{}{} }()
	go func() { c.pump(Downstream, srv, c.client); done <- struct{}{} }()
	<-done
	<-done
	c.once.Do(func() { // both ways ended: a plain close, nothing to discard
		_ = c.client.Close()
		_ = srv.Close()
	})
}

// pump copies one direction, applying its fault chunk by chunk. It returns
// when the source ends or fails (after passing the end of file on) or the
// connection is reset.
func (c *Conn) pump(d Direction, from, to net.Conn) {
	buf := make([]byte, 32*1024)
	var cur *faultSet
	var sent int64 // bytes forwarded under cur
	halfClosed := false
	for {
		n, rerr := from.Read(buf)
		chunk := buf[:n]
		if n > 0 && d == Upstream {
			c.p.observe(c, chunk)
		}
		f := c.fault(d)
		if f != cur {
			cur, sent = f, 0
		}
		if n > 0 {
			switch {
			case f.Blackhole || halfClosed:
				chunk = nil
			case f.HalfClose:
				closeWrite(to)
				halfClosed = true
				chunk = nil
			}
			if len(chunk) > 0 && f.Delay > 0 {
				time.Sleep(f.Delay)
			}
			if f.Reset && len(chunk) > 0 {
				if left := f.ResetAfter - sent; int64(len(chunk)) >= left {
					if left > 0 {
						_, _ = to.Write(chunk[:left])
					}
					c.Reset()
					return
				}
			}
			if len(chunk) > 0 {
				if _, werr := to.Write(chunk); werr != nil {
					c.Reset()
					return
				}
				sent += int64(len(chunk))
			}
		}
		if rerr != nil {
			if errors.Is(rerr, io.EOF) && !halfClosed {
				closeWrite(to) // pass the end of file on
				return
			}
			if !errors.Is(rerr, io.EOF) {
				c.Reset()
			}
			return
		}
	}
}

func closeWrite(nc net.Conn) {
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
		return
	}
	_ = nc.Close()
}

// Match picks HTTP requests by method and path.
type Match func(method, path string) bool

// Request matches one method and path exactly (the path without its
// query).
func Request(method, path string) Match {
	return func(m, p string) bool { return m == method && p == path }
}

type trigger struct {
	match Match
	nth   int // the nth match gets the fault
	seen  int
	dir   Direction
	fault Fault
	done  chan struct{}
}

// FaultRequest sets fault f on direction d of the connection that carries
// the nth HTTP/1.1 request (counting from 1) that match accepts from now
// on, before any byte of that request is forwarded. The channel is closed
// once that happened. Requests are told apart by their request line and
// framed by Content-Length; a connection whose request has a chunked body
// is not followed further.
//
// Fault{Reset: true} upstream cuts the request before it reaches the
// server; downstream it loses the answer (see LoseAnswer); Fault{HalfClose:
// true} downstream makes the client read end of file instead of the answer.
func (p *Proxy) FaultRequest(match Match, nth int, d Direction, f Fault) <-chan struct{} {
	t := &trigger{match: match, nth: nth, dir: d, fault: f, done: make(chan struct{})}
	p.reqMu.Lock()
	p.triggers = append(p.triggers, t)
	p.reqMu.Unlock()
	return t.done
}

// LoseAnswer makes the answer of the nth matching HTTP/1.1 request get
// lost: the request is forwarded and the server acts on it, and the first
// byte of its answer resets the client's connection instead of reaching it.
func (p *Proxy) LoseAnswer(match Match, nth int) <-chan struct{} {
	return p.FaultRequest(match, nth, Downstream, Fault{Reset: true})
}

// Requests lists the HTTP requests seen so far as "METHOD path".
func (p *Proxy) Requests() []string {
	p.reqMu.Lock()
	defer p.reqMu.Unlock()
	return append([]string(nil), p.requests...)
}

// observe feeds upstream bytes to the connection's HTTP tracker; a request
// whose answer is to be lost marks the connection before its bytes are
// forwarded.
func (p *Proxy) observe(c *Conn, b []byte) {
	if c.frames == nil {
		return
	}
	for _, rl := range c.frames.feed(b) {
		method, path := rl.method, rl.path
		p.reqMu.Lock()
		p.requests = append(p.requests, method+" "+path)
		for i := 0; i < len(p.triggers); i++ {
			tr := p.triggers[i]
			if !tr.match(method, path) {
				continue
			}
			tr.seen++
			if tr.seen == tr.nth {
				c.Set(tr.dir, tr.fault)
				close(tr.done)
				p.triggers = append(p.triggers[:i], p.triggers[i+1:]...)
				i--
			}
		}
		p.reqMu.Unlock()
	}
}

// framer tells requests apart in a client's byte stream.
type framer interface {
	// feed takes the next bytes and returns the requests that begin in
	// them.
	feed(b []byte) []requestLine
}

// kafkaTracker frames Kafka requests: a 4-byte big-endian size, then the
// request (API key, version, correlation id, ...).
type kafkaTracker struct {
	head []byte // the size and API key, while incomplete
	skip int64  // bytes of the current request still to skip
}

func (k *kafkaTracker) feed(b []byte) []requestLine {
	var out []requestLine
	for len(b) > 0 {
		if k.skip > 0 {
			n := min(k.skip, int64(len(b)))
			k.skip -= n
			b = b[n:]
			continue
		}
		need := 6 - len(k.head)
		n := min(need, len(b))
		k.head = append(k.head, b[:n]...)
		b = b[n:]
		if len(k.head) < 6 {
			break
		}
		size := int64(int32(uint32(k.head[0])<<24 | uint32(k.head[1])<<16 | uint32(k.head[2])<<8 | uint32(k.head[3])))
		key := int16(uint16(k.head[4])<<8 | uint16(k.head[5]))
		k.head = k.head[:0]
		name := kmsg.NameForKey(key)
		if name == "" || name == "Unknown" {
			name = "ApiKey" + strconv.Itoa(int(key))
		}
		out = append(out, requestLine{method: "kafka", path: name})
		k.skip = size - 2
	}
	return out
}

// httpTracker frames HTTP/1.1 requests in a byte stream: request line and
// headers, then a Content-Length body. It gives up (stays quiet) on a
// stream it cannot frame (not HTTP, a chunked body, headers over 64 KiB).
type httpTracker struct {
	head    []byte
	body    int64 // body bytes still to skip
	gaveUp  bool
	started bool
}

type requestLine struct{ method, path string }

func (h *httpTracker) feed(b []byte) []requestLine {
	var out []requestLine
	for len(b) > 0 && !h.gaveUp {
		if h.body > 0 {
			n := min(h.body, int64(len(b)))
			h.body -= n
			b = b[n:]
			continue
		}
		h.head = append(h.head, b...)
		b = nil
		end := bytes.Index(h.head, []byte("\r\n\r\n"))
		if end < 0 {
			if len(h.head) > 64<<10 {
				h.gaveUp = true
			}
			break
		}
		head, rest := h.head[:end], h.head[end+4:]
		rl, length, framed := parseHead(head)
		if rl.method != "" {
			out = append(out, rl)
		}
		if !framed {
			h.gaveUp = true
			break
		}
		h.body = length
		b = append([]byte(nil), rest...)
		h.head = h.head[:0]
	}
	return out
}

// parseHead reads a request's line and headers: the request (empty when
// the head is not an HTTP/1 request) and its body's length, framed false
// when the body cannot be framed by its Content-Length.
func parseHead(head []byte) (rl requestLine, length int64, framed bool) {
	lines := strings.Split(string(head), "\r\n")
	f := strings.Fields(lines[0])
	if len(f) != 3 || !strings.HasPrefix(f[2], "HTTP/1.") {
		return requestLine{}, 0, false
	}
	path, _, _ := strings.Cut(f[1], "?")
	rl = requestLine{method: f[0], path: path}
	for _, l := range lines[1:] {
		name, value, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		value = strings.TrimSpace(value)
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "content-length":
			n, err := strconv.ParseInt(value, 10, 64)
			if err != nil || n < 0 {
				return rl, 0, false
			}
			length = n
		case "transfer-encoding":
			if !strings.EqualFold(value, "identity") {
				return rl, 0, false
			}
		}
	}
	return rl, length, true
}
