package conformance

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/offsetctl/offsetctl/pkg/connect"
)

// Kafka's file connectors: present on every real worker's plugin path that
// ships connect-file, inert in the emulator.
const (
	FileSourceClass = "org.apache.kafka.connect.file.FileStreamSourceConnector"
	FileSinkClass   = "org.apache.kafka.connect.file.FileStreamSinkConnector"
	// DebeziumPostgresClass is created STOPPED only: it never runs here.
	DebeziumPostgresClass = "io.debezium.connector.postgresql.PostgresConnector"
)

// Target is one world the suite runs against.
type Target struct {
	// Name says which world this is ("sandbox", "real"); failures quote it.
	Name string
	// ConnectURL is the worker's REST base URL (http://host:port).
	ConnectURL string
	// Bootstrap lists the Kafka brokers (host:port) the worker uses.
	Bootstrap []string
	// OffsetsTopic is the worker's offset.storage.topic.
	OffsetsTopic string
	// DebeziumSource, when set, returns a configuration of Debezium's
	// PostgreSQL source that the worker accepts at creation; the suite
	// overwrites topic.prefix, slot.name and publication.name, creates the
	// connector STOPPED and never starts it. Nil skips the cases needing it.
	DebeziumSource func() map[string]string
	// Timeout bounds each wait for the worker (a state change, a consumer
	// group emptying). Zero means 90 seconds.
	Timeout time.Duration
}

// harness is one case's view of a target: raw REST calls, waits, unique
// names, and cleanup of what the case created.
type harness struct {
	t    *testing.T
	tg   Target
	ctx  context.Context
	run  string // suffix making names unique to this Run
	cc   *connect.Client
	kcl  *kgo.Client
	adm  *kadm.Client
	dir  string
	wait time.Duration
}

func newHarness(t *testing.T, tg Target, run string) *harness {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	cc, err := connect.New(connect.Config{URL: tg.ConnectURL, RetryBackoff: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	kcl, err := kgo.NewClient(kgo.SeedBrokers(tg.Bootstrap...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kcl.Close)
	wait := tg.Timeout
	if wait <= 0 {
		wait = 90 * time.Second
	}
	return &harness{t: t, tg: tg, ctx: ctx, run: run, cc: cc, kcl: kcl, adm: kadm.NewClient(kcl), dir: t.TempDir(), wait: wait}
}

func newRunID() string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// name returns a connector or topic name unique to this run.
func (h *harness) name(base string) string { return "conf-" + base + "-" + h.run }

// response is a raw REST answer.
type response struct {
	method, path string
	status       int
	header       http.Header
	body         []byte
}

func (r *response) String() string {
	return fmt.Sprintf("%s %s: %d %s", r.method, r.path, r.status, bytes.TrimSpace(r.body))
}

// errorBody is Connect's ErrorMessage.
type errorBody struct {
	ErrorCode int     `json:"error_code"`
	Message   *string `json:"message"`
}

// do sends one request; body is JSON-encoded unless it is a string or
// []byte (sent as is, for malformed bodies) or nil. While the worker answers
// 409 because a rebalance is under way (a real worker does, briefly, after
// connectors come and go), or 500 "Request cannot be completed because a
// rebalance is expected" (its answer to GET config, info and tasks in the
// same window), the request is sent again: no case of the suite expects
// either answer.
func (h *harness) do(method, path string, body any) *response {
	h.t.Helper()
	deadline := time.Now().Add(h.wait)
	for {
		r := h.once(method, path, body)
		retry := (r.status == http.StatusConflict || r.status == http.StatusInternalServerError) && rebalancing(r.body)
		if !retry || time.Now().After(deadline) {
			return r
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (h *harness) once(method, path string, body any) *response {
	h.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			h.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(h.ctx, method, h.tg.ConnectURL+path, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Accept", "application/json")
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatalf("[%s] %s %s: %v", h.tg.Name, method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatalf("[%s] reading the answer to %s %s: %v", h.tg.Name, method, path, err)
	}
	return &response{method: method, path: path, status: resp.StatusCode, header: resp.Header, body: raw}
}

// expect checks an answer's status and, for an error, Connect's error body:
// error_code equal to the status and a message starting with prefix. For a
// success with a {"message"} body, prefix is checked against that message.
func (h *harness) expect(r *response, status int, prefix string) {
	h.t.Helper()
	if r.status != status {
		h.t.Errorf("[%s] %s %s: status %d, want %d (body %s)", h.tg.Name, r.method, r.path, r.status, status, bytes.TrimSpace(r.body))
		return
	}
	if prefix == "" && status < 400 {
		return
	}
	var e errorBody
	if err := json.Unmarshal(r.body, &e); err != nil {
		h.t.Errorf("[%s] %s %s: body is not a JSON object: %v: %s", h.tg.Name, r.method, r.path, err, r.body)
		return
	}
	if status >= 400 && e.ErrorCode != status {
		h.t.Errorf("[%s] %s %s: error_code %d, want %d", h.tg.Name, r.method, r.path, e.ErrorCode, status)
	}
	msg := "<null>"
	if e.Message != nil {
		msg = *e.Message
	}
	if !strings.HasPrefix(msg, prefix) {
		h.t.Errorf("[%s] %s %s: message %q, want it to start with %q", h.tg.Name, r.method, r.path, msg, prefix)
	}
}

// must sends a request and stops the case unless the answer has status.
func (h *harness) must(method, path string, body any, status int) *response {
	h.t.Helper()
	r := h.do(method, path, body)
	if r.status != status {
		h.t.Fatalf("[%s] %s %s: status %d, want %d (body %s)", h.tg.Name, method, path, r.status, status, bytes.TrimSpace(r.body))
	}
	return r
}

func rebalancing(body []byte) bool {
	var e errorBody
	if json.Unmarshal(body, &e) != nil || e.Message == nil {
		return false
	}
	m := strings.ToLower(*e.Message)
	return strings.Contains(m, "rebalance") || strings.Contains(m, "momentarily")
}

// create makes a connector (initial state "" = RUNNING) and deletes it when
// the case ends.
func (h *harness) create(name string, config map[string]string, initial string) *response {
	h.t.Helper()
	body := map[string]any{"name": name, "config": config}
	if initial != "" {
		body["initial_state"] = initial
	}
	r := h.must("POST", "/connectors", body, http.StatusCreated)
	h.cleanupConnector(name)
	return r
}

func (h *harness) cleanupConnector(name string) {
	h.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := h.cc.Delete(ctx, name); err != nil && !connect.IsNotFound(err) {
			h.t.Logf("[%s] deleting connector %s at cleanup: %v", h.tg.Name, name, err)
		}
	})
}

// waitState waits until the connector shows state (RUNNING: with every task
// RUNNING; STOPPED: with no tasks) and returns its status.
func (h *harness) waitState(name string, state connect.State) connect.ConnectorStatus {
	h.t.Helper()
	st, err := h.cc.WaitForState(h.ctx, name, state, connect.WaitOptions{Interval: 100 * time.Millisecond, Timeout: h.wait})
	if err != nil {
		h.t.Fatalf("[%s] %v", h.tg.Name, err)
	}
	return st
}

// waitConnectorState waits until the connector instance shows state,
// whatever its tasks show (a status not written yet is waited for).
func (h *harness) waitConnectorState(name string, state connect.State) {
	h.t.Helper()
	h.eventually(name+" to be "+string(state), func() string {
		st, err := h.cc.Status(h.ctx, name)
		if err != nil {
			return err.Error()
		}
		if st.Connector.State != state {
			return "connector " + string(st.Connector.State)
		}
		return ""
	})
}

// eventually polls check until it returns "" (success) or the wait runs
// out; then it fails with the last reason.
func (h *harness) eventually(what string, check func() string) {
	h.t.Helper()
	deadline := time.Now().Add(h.wait)
	for {
		why := check()
		if why == "" {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("[%s] waiting for %s: gave up after %s: %s", h.tg.Name, what, h.wait, why)
		}
		select {
		case <-h.ctx.Done():
			h.t.Fatalf("[%s] waiting for %s: %v (%s)", h.tg.Name, what, h.ctx.Err(), why)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// fileSource is a FileStreamSource reading an empty scratch file (on a real
// worker its task runs and reads nothing, so it never commits an offset).
func (h *harness) fileSource(name string) map[string]string {
	h.t.Helper()
	path := filepath.Join(h.dir, name+".in")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		h.t.Fatal(err)
	}
	return map[string]string{"connector.class": FileSourceClass, "tasks.max": "1", "file": path, "topic": name + "-out"}
}

// fileSink is a FileStreamSink on topic writing to a scratch file.
func (h *harness) fileSink(name, topic string) map[string]string {
	return map[string]string{"connector.class": FileSinkClass, "tasks.max": "1", "topics": topic, "file": filepath.Join(h.dir, name+".out")}
}

// createTopic creates a topic with partitions partitions holding n records
// each.
func (h *harness) createTopic(name string, partitions int32, n int) {
	h.t.Helper()
	resp, err := h.adm.CreateTopic(h.ctx, partitions, 1, nil, name)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		h.t.Fatalf("[%s] creating topic %s: %v", h.tg.Name, name, err)
	}
	if n == 0 {
		return
	}
	var recs []*kgo.Record
	for p := int32(0); p < partitions; p++ {
		for i := 0; i < n; i++ {
			recs = append(recs, &kgo.Record{Topic: name, Partition: p, Value: []byte(fmt.Sprintf("record %d of partition %d", i, p))})
		}
	}
	prod, err := kgo.NewClient(kgo.SeedBrokers(h.tg.Bootstrap...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		h.t.Fatal(err)
	}
	defer prod.Close()
	// The broker may need a moment before a new topic takes writes.
	h.eventually("topic "+name+" to take records", func() string {
		if err := prod.ProduceSync(h.ctx, recs...).FirstErr(); err != nil {
			return err.Error()
		}
		return ""
	})
}

// waitGroupEmpty waits until a consumer group has no members (or does not
// exist): a stopped sink's tasks have left it.
func (h *harness) waitGroupEmpty(group string) {
	h.t.Helper()
	h.eventually("group "+group+" to have no members", func() string {
		gs, err := h.adm.DescribeGroups(h.ctx, group)
		if err != nil {
			return err.Error()
		}
		g, ok := gs[group]
		if !ok || len(g.Members) == 0 {
			return ""
		}
		return fmt.Sprintf("%d members, state %s", len(g.Members), g.State)
	})
}

// groupOffsets reads a consumer group's committed offsets with kadm, as
// "topic/partition=offset" sorted.
func (h *harness) groupOffsets(group string) []string {
	h.t.Helper()
	resp, err := h.adm.FetchOffsets(h.ctx, group)
	if errors.Is(err, kerr.GroupIDNotFound) {
		return nil
	}
	if err != nil {
		h.t.Fatalf("[%s] fetching the offsets of group %s: %v", h.tg.Name, group, err)
	}
	var out []string
	resp.Each(func(o kadm.OffsetResponse) {
		if o.Err == nil && o.At >= 0 {
			out = append(out, fmt.Sprintf("%s/%d=%d", o.Topic, o.Partition, o.At))
		}
	})
	sort.Strings(out)
	return out
}

// offsets reads GET /connectors/{name}/offsets as sorted
// "partition=offset" lines of canonical JSON (keys sorted, numbers as
// written). Entries with a null offset are left out: a real worker may list
// a just-deleted source partition with a null offset for a while, which
// means the same as not listing it.
func (h *harness) offsets(name string) []string {
	h.t.Helper()
	r := h.must("GET", "/connectors/"+name+"/offsets", nil, http.StatusOK)
	return offsetLines(h.t, r.body)
}

// eventuallyOffsets waits until GET /connectors/{name}/offsets lists want
// (as offsets() lines) and fails, after the wait, with what it last saw.
// A real worker answers GET /offsets of a source from its in-memory index of
// the connector's partitions, which lags a PATCH or DELETE that has already
// answered 200 (observed: an empty list 80 ms after a PATCH added the
// first partitions): reading one's own writes needs a retry.
func (h *harness) eventuallyOffsets(name, after string, want ...string) {
	h.t.Helper()
	want = append([]string{}, want...)
	sort.Strings(want)
	var got []string
	deadline := time.Now().Add(h.wait)
	for {
		got = h.offsets(name)
		if sameLines(got, want) {
			return
		}
		if time.Now().After(deadline) {
			h.t.Errorf("[%s] offsets of %s after %s:\n got %v\nwant %v", h.tg.Name, name, after, got, want)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func offsetLines(t testing.TB, body []byte) []string {
	t.Helper()
	var doc struct {
		Offsets []struct {
			Partition json.RawMessage `json:"partition"`
			Offset    json.RawMessage `json:"offset"`
		} `json:"offsets"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil || doc.Offsets == nil {
		t.Fatalf("not a ConnectorOffsets body (%v): %s", err, body)
	}
	out := []string{}
	for _, o := range doc.Offsets {
		if string(o.Offset) == "null" || len(o.Offset) == 0 {
			continue
		}
		out = append(out, canonical(t, o.Partition)+"="+canonical(t, o.Offset))
	}
	sort.Strings(out)
	return out
}

// canonical re-encodes JSON with sorted keys and number literals kept.
func canonical(t testing.TB, raw []byte) string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("not JSON: %v: %s", err, raw)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func sameLines(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
