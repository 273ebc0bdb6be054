package connect

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"sync"
	"testing"
	"time"
)

// FuzzAnswers: whatever a Connect worker answers (any status, any body),
// every call of the client returns a value or an error, never a panic, and
// an error is worded (never empty). Offsets read from an answer encode
// again, as AlterOffsets would send them, to the same partitions and
// offsets. The seeds are the real worker's answers recorded in
// test/realstack/fixtures/rest-answers.json.
func FuzzAnswers(f *testing.F) {
	data, err := os.ReadFile("../../test/realstack/fixtures/rest-answers.json")
	if err != nil {
		f.Fatalf("the real-stack fixture is missing: %v", err)
	}
	var fx struct {
		Cases []struct {
			Status   int             `json:"status"`
			Body     json.RawMessage `json:"body"`
			BodyText *string         `json:"body_text"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(data, &fx); err != nil || len(fx.Cases) == 0 {
		f.Fatalf("rest-answers.json: %v", err)
	}
	for _, c := range fx.Cases {
		body := []byte(c.Body)
		if c.BodyText != nil {
			body = []byte(*c.BodyText)
		}
		f.Add(uint16(c.Status), body)
	}
	for _, s := range []string{
		`{"offsets":[{"partition":{"server":"shop"},"offset":null}]}`,
		`{"offsets":[{"partition":{"kafka_partition":0,"kafka_topic":"t"},"offset":{"kafka_offset":"2"}}]}`,
		`{"offsets":[123]}`, `{"offsets":null}`, `{"name":"c","connector":{"state":"RUNNING","worker_id":"w"},"tasks":[{"id":0,"state":"FAILED","trace":"x"}],"type":"sink"}`,
		`{"c":{"status":{"name":"c","connector":{"state":"STOPPED"},"tasks":[]},"info":{"name":"c","config":{"a":"b"},"tasks":[],"type":"source"}}}`,
		`{"version":"7.5.0-ccs","commit":"x","kafka_cluster_id":"k"}`, `{"version":"3.8.0-SNAPSHOT"}`, `[{"class":"a","type":"source","version":"1"}]`,
		`{"error_code":409,"message":"Cannot complete request momentarily due to stale configuration"}`, `{} {}`, `"x"`,
	} {
		f.Add(uint16(200), []byte(s))
	}
	var mu sync.Mutex
	var status int
	var body []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		st, b := status, body
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(st)
		_, _ = w.Write(b)
	}))
	f.Cleanup(srv.Close)
	c, err := New(Config{URL: srv.URL, Timeout: 5 * time.Second, MaxRetries: 1, RetryBackoff: time.Millisecond})
	if err != nil {
		f.Fatal(err)
	}
	c.sleep = func(context.Context, time.Duration) error { return nil }
	f.Fuzz(func(t *testing.T, st uint16, b []byte) {
		mu.Lock()
		status, body = 200+int(st)%400, b
		mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		worded := func(what string, err error) {
			if err != nil && err.Error() == "" {
				t.Fatalf("%s: an empty error for status %d body %q", what, status, b)
			}
		}
		_, err := c.Root(ctx)
		worded("Root", err)
		_, err = c.Capabilities(ctx)
		worded("Capabilities", err)
		_, err = c.ListConnectors(ctx)
		worded("ListConnectors", err)
		_, err = c.ListConnectorsExpanded(ctx)
		worded("ListConnectorsExpanded", err)
		_, err = c.Connector(ctx, "c")
		worded("Connector", err)
		_, err = c.Config(ctx, "c")
		worded("Config", err)
		_, err = c.Status(ctx, "c")
		worded("Status", err)
		_, err = c.TaskStatus(ctx, "c", 0)
		worded("TaskStatus", err)
		_, err = c.Tasks(ctx, "c")
		worded("Tasks", err)
		_, err = c.Plugins(ctx)
		worded("Plugins", err)
		_, err = c.Restart(ctx, "c", true, false)
		worded("Restart", err)
		worded("Stop", c.Stop(ctx, "c"))
		_, err = c.ResetOffsets(ctx, "c")
		worded("ResetOffsets", err)
		_, _, err = c.PutConfig(ctx, "c", map[string]string{"a": "b"})
		worded("PutConfig", err)
		_, err = c.Create(ctx, CreateRequest{Name: "c", Config: map[string]string{"a": "b"}})
		worded("Create", err)
		offs, err := c.Offsets(ctx, "c")
		worded("Offsets", err)
		if err != nil {
			return
		}
		if err := checkOffsets(offs); err != nil {
			return // AlterOffsets would refuse to send them
		}
		payload, err := marshal(offs)
		if err != nil {
			t.Fatalf("offsets read from %q do not encode: %v", b, err)
		}
		var back ConnectorOffsets
		if err := decode(payload, &back); err != nil {
			t.Fatalf("offsets read from %q encode as %q, which does not decode: %v", b, payload, err)
		}
		if len(back.Offsets) != len(offs.Offsets) {
			t.Fatalf("offsets read from %q: %d partitions, %d after a round trip", b, len(offs.Offsets), len(back.Offsets))
		}
		for i := range offs.Offsets {
			if !sameJSON(offs.Offsets[i].Partition, back.Offsets[i].Partition) || !sameJSON(offs.Offsets[i].Offset, back.Offsets[i].Offset) {
				t.Fatalf("offsets read from %q changed on a round trip: %s -> %s", b, offs.Offsets[i], back.Offsets[i])
			}
		}
	})
}

// sameJSON: equal JSON values, numbers compared by their literal.
func sameJSON(a, b json.RawMessage) bool {
	var x, y any
	if len(a) == 0 || string(a) == "null" {
		return len(b) == 0 || string(b) == "null"
	}
	if decode(a, &x) != nil || decode(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}
