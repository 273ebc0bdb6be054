package sandbox

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"
)

// TestRealWorkerAnswers replays the requests recorded against a real Kafka
// Connect worker (test/realstack/fixtures/rest-answers.json) and expects the
// emulator's status, Location and body to be the recorded ones. The fixture
// comes from Kafka 4.3, so the two 4.x-only details are set aside: GET / (the
// version) and the plugin "version" in connector statuses.
func TestRealWorkerAnswers(t *testing.T) {
	raw, err := os.ReadFile("../../test/realstack/fixtures/rest-answers.json")
	if err != nil {
		t.Fatalf("reading the real worker's answers: %v", err)
	}
	var fx struct {
		FormatVersion int `json:"format_version"`
		Cases         []struct {
			Name     string          `json:"name"`
			Method   string          `json:"method"`
			Path     string          `json:"path"`
			Request  json.RawMessage `json:"request"`
			Status   int             `json:"status"`
			Location string          `json:"location"`
			Body     json.RawMessage `json:"body"`
		} `json:"cases"`
	}
	if err := json.Unmarshal(raw, &fx); err != nil {
		t.Fatal(err)
	}
	if fx.FormatVersion != 1 {
		t.Fatalf("fixture format_version %d, this test reads 1", fx.FormatVersion)
	}
	s := start(t, "3.8")
	// The recording's long-running pipeline connectors; inert here, since
	// only their names and RUNNING state matter to the recorded cases.
	must(t, s, 201, "POST", "/connectors", map[string]any{"name": "pg-customers", "config": map[string]string{"connector.class": "org.example.InertSource"}})
	must(t, s, 201, "POST", "/connectors", map[string]any{"name": "jdbc-customers", "config": map[string]string{"connector.class": "org.example.InertSink", "topics": "shop.public.customers"}})
	if err := s.Kafka().CreateTopic("shop.public.customers", 1, nil); err != nil {
		t.Fatal(err)
	}
	workerID := strings.TrimPrefix(s.ConnectURL(), "http://")
	fill := func(b []byte) []byte {
		r := strings.NewReplacer("<pg-port>", "5432", "<connect-url>", s.ConnectURL(), "<worker-id>", workerID,
			"<scratch-file>", "/tmp/offsetctl-scratch", "<kafka-cluster-id>", s.ClusterID())
		return []byte(r.Replace(string(b)))
	}
	for _, c := range fx.Cases {
		if c.Path == "/" {
			continue // reports 4.3.0
		}
		var body any
		if len(c.Request) > 0 {
			var b bytes.Buffer // the recording sent compact JSON
			if err := json.Compact(&b, fill(c.Request)); err != nil {
				t.Fatal(err)
			}
			body = b.String()
		}
		a := do(t, s, c.Method, c.Path, body)
		if a.status != c.Status {
			t.Errorf("%s: %s %s: status %d %s, the real worker answered %d", c.Name, c.Method, c.Path, a.status, a.body, c.Status)
			continue
		}
		if c.Location != "" && a.header.Get("Location") != string(fill([]byte(c.Location))) {
			t.Errorf("%s: Location %q, want %q", c.Name, a.header.Get("Location"), fill([]byte(c.Location)))
		}
		if len(c.Body) == 0 {
			if a.body != "" {
				t.Errorf("%s: body %s, the real worker sent none", c.Name, a.body)
			}
			continue
		}
		want, got := decodeAny(t, fill(c.Body)), decodeAny(t, []byte(a.body))
		dropPluginVersion(want)
		if !reflect.DeepEqual(want, got) {
			t.Errorf("%s: %s %s:\n got %s\nwant %s", c.Name, c.Method, c.Path, a.body, fill(c.Body))
		}
	}
}

func decodeAny(t *testing.T, b []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("decoding %s: %v", b, err)
	}
	return v
}

// dropPluginVersion removes the connector plugin version Kafka 4.x adds to
// statuses; 3.x workers do not report it.
func dropPluginVersion(v any) {
	m, ok := v.(map[string]any)
	if !ok {
		return
	}
	if c, ok := m["connector"].(map[string]any); ok {
		if _, isState := c["state"]; isState {
			delete(c, "version")
		}
	}
	if ts, ok := m["tasks"].([]any); ok {
		for _, x := range ts {
			if tm, ok := x.(map[string]any); ok {
				if _, isState := tm["state"]; isState {
					delete(tm, "version")
				}
			}
		}
	}
}
