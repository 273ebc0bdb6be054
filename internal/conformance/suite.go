package conformance

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/offsetctl/offsetctl/pkg/connect"
	"github.com/offsetctl/offsetctl/pkg/offsets"
)

// Run runs every case of the suite against tg, each as a subtest.
func Run(t *testing.T, tg Target) {
	t.Helper()
	if tg.ConnectURL == "" || len(tg.Bootstrap) == 0 || tg.OffsetsTopic == "" {
		t.Fatalf("conformance target %q: ConnectURL, Bootstrap and OffsetsTopic are required", tg.Name)
	}
	run := newRunID()
	for _, c := range Cases() {
		t.Run(c.Name, func(t *testing.T) { c.fn(newHarness(t, tg, run)) })
	}
}

// Case is one behaviour of the suite.
type Case struct {
	Name string
	fn   func(h *harness)
}

// Cases lists the suite's cases in the order Run runs them.
func Cases() []Case {
	return []Case{
		{"Root", caseRoot},
		{"UnknownPaths", caseUnknownPaths},
		{"UnknownConnector", caseUnknownConnector},
		{"Create", caseCreate},
		{"Config", caseConfig},
		{"StatesSource", func(h *harness) { caseStates(h, connect.TypeSource) }},
		{"StatesSink", func(h *harness) { caseStates(h, connect.TypeSink) }},
		{"InitialState", caseInitialState},
		{"ListExpand", caseListExpand},
		{"AlterBodies", caseAlterBodies},
		{"SourceOffsets", caseSourceOffsets},
		{"FrameworkManagedOffsets", caseFrameworkManaged},
		{"SinkOffsets", caseSinkOffsets},
		{"SinkAlterBodies", caseSinkAlterBodies},
		{"DeleteKeepsSourceOffsets", caseDeleteKeepsSourceOffsets},
		{"DeleteKeepsSinkOffsets", caseDeleteKeepsSinkOffsets},
	}
}

// Messages of the real worker (Kafka Connect 4.3) the suite checks.
const (
	msgNotStoppedPrefix = "Connectors must be in the STOPPED state before their offsets can be modified."
	msgAlteredByPlugin  = "The offsets for this connector have been altered successfully"
	msgResetByPlugin    = "The offsets for this connector have been reset successfully"
	msgAlteredFramework = "The Connect framework-managed offsets for this connector have been altered successfully. " +
		"However, if this connector manages offsets externally, they will need to be manually altered in the system that the connector uses."
	msgResetFramework = "The Connect framework-managed offsets for this connector have been reset successfully. " +
		"However, if this connector manages offsets externally, they will need to be manually reset in the system that the connector uses."
	msgNeedOffsets = "Partitions / offsets need to be provided for an alter offsets request"
)

func notStoppedMessage(name string) string {
	return "Connectors must be in the STOPPED state before their offsets can be modified. This can be done for the specified connector " +
		"by issuing a 'PUT' request to the '/connectors/" + name + "/stop' endpoint"
}

func caseRoot(h *harness) {
	r := h.must("GET", "/", nil, http.StatusOK)
	var info struct {
		Version        string `json:"version"`
		Commit         string `json:"commit"`
		KafkaClusterID string `json:"kafka_cluster_id"`
	}
	if err := json.Unmarshal(r.body, &info); err != nil || info.Version == "" || info.Commit == "" || info.KafkaClusterID == "" {
		h.t.Errorf("[%s] GET /: want version, commit and kafka_cluster_id, got %s (%v)", h.tg.Name, r.body, err)
	}
}

// errCase is one request and the error answer it must get.
type errCase struct {
	method, path string
	body         any
	status       int
	prefix       string
}

func (h *harness) expectAll(cases []errCase) {
	h.t.Helper()
	for _, c := range cases {
		h.expect(h.do(c.method, c.path, c.body), c.status, c.prefix)
	}
}

func caseUnknownPaths(h *harness) {
	h.expectAll([]errCase{
		{"GET", "/no-such-resource", nil, 404, "HTTP 404 Not Found"},
		{"GET", "/connectors/x/no-such-endpoint", nil, 404, "HTTP 404 Not Found"},
		{"GET", "/connectors/x/tasks/0/no-such-endpoint", nil, 404, "HTTP 404 Not Found"},
		{"POST", "/connectors/x/offsets", "{}", 405, "HTTP 405 Method Not Allowed"},
		{"DELETE", "/connectors/x/status", nil, 405, "HTTP 405 Method Not Allowed"},
		{"GET", "/connectors/x/stop", nil, 405, "HTTP 405 Method Not Allowed"},
		{"POST", "/connectors/x/pause", nil, 405, "HTTP 405 Method Not Allowed"},
	})
}

func caseUnknownConnector(h *harness) {
	n := h.name("missing")
	p := "/connectors/" + n
	patch := `{"offsets":[{"partition":{"filename":"a"},"offset":{"position":1}}]}`
	h.expectAll([]errCase{
		{"GET", p, nil, 404, "Connector " + n + " not found"},
		{"GET", p + "/config", nil, 404, "Connector " + n + " not found"},
		{"GET", p + "/tasks", nil, 404, "Connector " + n + " not found"},
		{"GET", p + "/status", nil, 404, "No status found for connector " + n},
		{"GET", p + "/tasks/0/status", nil, 404, "No status found for task " + n + "-0"},
		{"PUT", p + "/pause", nil, 404, "Unknown connector " + n},
		{"PUT", p + "/resume", nil, 404, "Unknown connector " + n},
		{"PUT", p + "/stop", nil, 404, "Unknown connector " + n},
		{"POST", p + "/restart", nil, 404, "Unknown connector: " + n},
		{"POST", p + "/restart?includeTasks=true", nil, 404, "Unknown connector: " + n},
		{"POST", p + "/tasks/0/restart", nil, 404, "Unknown connector: " + n},
		{"DELETE", p, nil, 404, "Connector " + n + " not found"},
		{"GET", p + "/offsets", nil, 404, "Connector " + n + " not found"},
		{"PATCH", p + "/offsets", patch, 404, "Connector " + n + " not found"},
		{"DELETE", p + "/offsets", nil, 404, "Connector " + n + " not found"},
	})
}

// withName is config plus the "name" key Connect adds.
func withName(cfg map[string]string, name string) map[string]string {
	out := map[string]string{"name": name}
	for k, v := range cfg {
		out[k] = v
	}
	return out
}

func decodeInfo(h *harness, r *response) connect.ConnectorInfo {
	h.t.Helper()
	var info connect.ConnectorInfo
	if err := json.Unmarshal(r.body, &info); err != nil {
		h.t.Fatalf("[%s] %s: not a ConnectorInfo: %v", h.tg.Name, r, err)
	}
	return info
}

// checkKeys fails when the JSON object in raw does not have exactly the
// required keys plus any of the optional ones.
func (h *harness) checkKeys(what string, raw []byte, required []string, optional ...string) {
	h.t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		h.t.Errorf("[%s] %s: not a JSON object: %v: %s", h.tg.Name, what, err, raw)
		return
	}
	allowed := map[string]bool{}
	for _, k := range optional {
		allowed[k] = true
	}
	for _, k := range required {
		if _, ok := m[k]; !ok {
			h.t.Errorf("[%s] %s: key %q missing in %s", h.tg.Name, what, k, raw)
		}
		allowed[k] = true
	}
	for k := range m {
		if !allowed[k] {
			h.t.Errorf("[%s] %s: unexpected key %q in %s", h.tg.Name, what, k, raw)
		}
	}
}

func caseCreate(h *harness) {
	n := h.name("create")
	cfg := h.fileSource(n)
	r := h.create(n, cfg, "stopped") // initial_state is case-insensitive
	if want := h.tg.ConnectURL + "/connectors/" + n; r.header.Get("Location") != want {
		h.t.Errorf("[%s] create: Location %q, want %q", h.tg.Name, r.header.Get("Location"), want)
	}
	h.checkKeys("create answer", r.body, []string{"name", "config", "tasks", "type"})
	info := decodeInfo(h, r)
	if info.Name != n || !reflect.DeepEqual(info.Config, withName(cfg, n)) || len(info.Tasks) != 0 || info.Type != connect.TypeSource {
		h.t.Errorf("[%s] create answer %s", h.tg.Name, r.body)
	}
	h.waitState(n, connect.StateStopped)

	other := h.name("create-other")
	h.expectAll([]errCase{
		{"POST", "/connectors", map[string]any{"name": n, "config": cfg}, 409, "Connector " + n + " already exists"},
		{"POST", "/connectors", map[string]any{"name": other, "config": cfg, "initial_state": "SLEEPING"}, 500,
			"Cannot construct instance of `org.apache.kafka.connect.runtime.rest.entities.CreateConnectorRequest$InitialState`, problem: No enum constant"},
		{"POST", "/connectors", map[string]any{"name": other, "config": withName(cfg, "someone-else")}, 400,
			"Connector name configuration (someone-else) doesn't match connector name in the URL (" + other + ")"},
		{"POST", "/connectors", map[string]any{"name": other, "config": map[string]string{"tasks.max": "1"}}, 400, "Connector config {"},
		// Jackson turns a number into a string: the config is judged as such.
		{"POST", "/connectors", `{"name":"` + other + `","config":{"tasks.max":1}}`, 400, "Connector config {"},
		{"POST", "/connectors", `[]`, 500, "Cannot deserialize value of type `org.apache.kafka.connect.runtime.rest.entities.CreateConnectorRequest` from Array value"},
		{"POST", "/connectors", `{"name":"` + other + `","config":{},"colour":"red"}`, 500, `Unrecognized field "colour"`},
		// A missing entity reaches the resource as null: Java 17's helpful
		// NullPointerException messages.
		{"POST", "/connectors", ``, 500, `Cannot invoke "org.apache.kafka.connect.runtime.rest.entities.CreateConnectorRequest.name()" because "createRequest" is null`},
		{"POST", "/connectors", `null`, 500, `Cannot invoke "org.apache.kafka.connect.runtime.rest.entities.CreateConnectorRequest.name()" because "createRequest" is null`},
		{"POST", "/connectors", `{"name":"` + other + `"}`, 500, `Cannot invoke "java.util.Map.get(Object)" because "connectorConfig" is null`},
		{"PUT", "/connectors/" + n + "/config", ``, 500, `Cannot invoke "java.util.Map.get(Object)" because "connectorConfig" is null`},
		{"PUT", "/connectors/" + other + "/config", ``, 500, `Cannot invoke "java.util.Map.get(Object)" because "connectorConfig" is null`},
		{"PATCH", "/connectors/" + n + "/config", ``, 500, `Cannot invoke "java.util.Map.forEach(java.util.function.BiConsumer)" because "patch" is null`},
	})
	if r := h.do("GET", "/connectors/"+other, nil); r.status != 404 {
		h.t.Errorf("[%s] a refused create left connector %s behind: %s", h.tg.Name, other, r)
	}

	// Surrounding whitespace in the name is trimmed.
	trimmed := h.name("trimmed")
	h.cleanupConnector(trimmed)
	r = h.must("POST", "/connectors", map[string]any{"name": "  " + trimmed + " ", "config": h.fileSource(trimmed), "initial_state": "STOPPED"}, 201)
	if info := decodeInfo(h, r); info.Name != trimmed {
		h.t.Errorf("[%s] create with a padded name: name %q, want %q", h.tg.Name, info.Name, trimmed)
	}
}

func caseConfig(h *harness) {
	n := h.name("config")
	cfg := h.fileSource(n)
	r := h.must("PUT", "/connectors/"+n+"/config", cfg, http.StatusCreated)
	h.cleanupConnector(n)
	if want := h.tg.ConnectURL + "/connectors/" + n; r.header.Get("Location") != want {
		h.t.Errorf("[%s] PUT config (create): Location %q, want %q", h.tg.Name, r.header.Get("Location"), want)
	}
	h.waitState(n, connect.StateRunning)
	cfg["batch.size"] = "100"
	r = h.must("PUT", "/connectors/"+n+"/config", cfg, http.StatusOK)
	if info := decodeInfo(h, r); info.Config["batch.size"] != "100" {
		h.t.Errorf("[%s] PUT config (update): %s", h.tg.Name, r.body)
	}
	r = h.must("GET", "/connectors/"+n+"/config", nil, http.StatusOK)
	var got map[string]string
	if err := json.Unmarshal(r.body, &got); err != nil || !reflect.DeepEqual(got, withName(cfg, n)) {
		h.t.Errorf("[%s] GET config: %s (%v)", h.tg.Name, r.body, err)
	}
	h.expect(h.do("PUT", "/connectors/"+n+"/config", withName(cfg, "someone-else")), 400,
		"Connector name configuration (someone-else) doesn't match connector name in the URL ("+n+")")

	// PATCH merges, null removes a key.
	r = h.must("PATCH", "/connectors/"+n+"/config", `{"batch.size":null,"conformance.note":"patched"}`, http.StatusOK)
	want := withName(cfg, n)
	delete(want, "batch.size")
	want["conformance.note"] = "patched"
	if info := decodeInfo(h, r); !reflect.DeepEqual(info.Config, want) {
		h.t.Errorf("[%s] PATCH config answer: %s, want config %v", h.tg.Name, r.body, want)
	}
	h.expect(h.do("PATCH", "/connectors/"+h.name("config-missing")+"/config", `{"a":"b"}`), 404, "Connector "+h.name("config-missing")+" not found")
	// The target state is not changed by a config update.
	h.waitState(n, connect.StateRunning)
}

// workerID is what Connect reports as worker_id: the REST host:port.
func (h *harness) workerID() string {
	u, err := url.Parse(h.tg.ConnectURL)
	if err != nil {
		h.t.Fatal(err)
	}
	return u.Host
}

// statusBody checks a /status answer's shape and returns it decoded.
func (h *harness) statusBody(name string) (connect.ConnectorStatus, []byte) {
	h.t.Helper()
	r := h.must("GET", "/connectors/"+name+"/status", nil, http.StatusOK)
	h.checkKeys("status", r.body, []string{"name", "connector", "tasks", "type"})
	var raw struct {
		Connector json.RawMessage   `json:"connector"`
		Tasks     []json.RawMessage `json:"tasks"`
	}
	if err := json.Unmarshal(r.body, &raw); err != nil {
		h.t.Fatalf("[%s] status: %v", h.tg.Name, err)
	}
	// "version" (the plugin version) is reported by Kafka Connect 4.x only.
	h.checkKeys("status.connector", raw.Connector, []string{"state", "worker_id"}, "trace", "version")
	for _, tk := range raw.Tasks {
		h.checkKeys("status.tasks[]", tk, []string{"id", "state", "worker_id"}, "trace", "version")
	}
	var st connect.ConnectorStatus
	if err := json.Unmarshal(r.body, &st); err != nil {
		h.t.Fatalf("[%s] status: %v", h.tg.Name, err)
	}
	if st.Name != name {
		h.t.Errorf("[%s] status name %q, want %q", h.tg.Name, st.Name, name)
	}
	return st, r.body
}

func (h *harness) expectStatus(name string, typ connect.ConnectorType, state connect.State, tasks int) {
	h.t.Helper()
	st, raw := h.statusBody(name)
	wid := h.workerID()
	bad := st.Type != typ || st.Connector.State != state || st.Connector.WorkerID != wid || len(st.Tasks) != tasks
	for i, tk := range st.Tasks {
		if tk.ID != i || tk.State != state || tk.WorkerID != wid {
			bad = true
		}
	}
	if bad {
		h.t.Errorf("[%s] status of %s: %s; want type %s, connector and %d task(s) %s on worker %s", h.tg.Name, name, raw, typ, tasks, state, wid)
	}
}

// stopSink stops a sink and waits until it is STOPPED and its tasks left the
// consumer group (only then may its offsets be changed).
func (h *harness) stop(name string, sink bool) {
	h.t.Helper()
	r := h.must("PUT", "/connectors/"+name+"/stop", nil, http.StatusNoContent)
	if len(r.body) != 0 {
		h.t.Errorf("[%s] PUT stop: body %q, want none", h.tg.Name, r.body)
	}
	h.waitState(name, connect.StateStopped)
	if sink {
		h.waitGroupEmpty("connect-" + name)
	}
}

func caseStates(h *harness, typ connect.ConnectorType) {
	sink := typ == connect.TypeSink
	n := h.name("states-" + string(typ))
	var cfg map[string]string
	var body string
	if sink {
		topic := n + "-in"
		h.createTopic(topic, 1, 0)
		cfg = h.fileSink(n, topic)
		body = `{"offsets":[{"partition":{"kafka_topic":"` + topic + `","kafka_partition":0},"offset":{"kafka_offset":0}}]}`
	} else {
		cfg = h.fileSource(n)
		body = `{"offsets":[{"partition":{"filename":"` + filepath.Join(h.dir, "elsewhere.txt") + `"},"offset":{"position":0}}]}`
	}
	h.create(n, cfg, "")
	h.waitState(n, connect.StateRunning)
	h.expectStatus(n, typ, connect.StateRunning, 1)

	r := h.must("GET", "/connectors/"+n, nil, http.StatusOK)
	if info := decodeInfo(h, r); !reflect.DeepEqual(info.Tasks, []connect.TaskID{{Connector: n, Task: 0}}) || info.Type != typ {
		h.t.Errorf("[%s] GET connector: %s", h.tg.Name, r.body)
	}
	r = h.must("GET", "/connectors/"+n+"/tasks", nil, http.StatusOK)
	var tasks []connect.TaskInfo
	if err := json.Unmarshal(r.body, &tasks); err != nil || len(tasks) != 1 || tasks[0].ID != (connect.TaskID{Connector: n, Task: 0}) || len(tasks[0].Config) == 0 {
		h.t.Errorf("[%s] GET tasks: %s (%v)", h.tg.Name, r.body, err)
	}
	r = h.must("GET", "/connectors/"+n+"/tasks/0/status", nil, http.StatusOK)
	h.checkKeys("task status", r.body, []string{"id", "state", "worker_id"}, "trace", "version")
	h.expect(h.do("GET", "/connectors/"+n+"/tasks/1/status", nil), 404, "No status found for task "+n+"-1")

	// Offsets can be changed only when STOPPED.
	h.expect(h.do("PATCH", "/connectors/"+n+"/offsets", body), 400, notStoppedMessage(n))
	h.expect(h.do("DELETE", "/connectors/"+n+"/offsets", nil), 400, notStoppedMessage(n))

	// Pause keeps the tasks.
	r = h.must("PUT", "/connectors/"+n+"/pause", nil, http.StatusAccepted)
	if len(r.body) != 0 {
		h.t.Errorf("[%s] PUT pause: body %q, want none", h.tg.Name, r.body)
	}
	h.waitState(n, connect.StatePaused)
	h.expectStatus(n, typ, connect.StatePaused, 1)
	h.expect(h.do("PATCH", "/connectors/"+n+"/offsets", body), 400, msgNotStoppedPrefix)
	h.expect(h.do("DELETE", "/connectors/"+n+"/offsets", nil), 400, msgNotStoppedPrefix)
	h.must("PUT", "/connectors/"+n+"/pause", nil, http.StatusAccepted)
	r = h.must("PUT", "/connectors/"+n+"/resume", nil, http.StatusAccepted)
	if len(r.body) != 0 {
		h.t.Errorf("[%s] PUT resume: body %q, want none", h.tg.Name, r.body)
	}
	h.waitState(n, connect.StateRunning)

	// Stop removes the tasks; it is idempotent.
	h.stop(n, sink)
	h.expectStatus(n, typ, connect.StateStopped, 0)
	r = h.must("GET", "/connectors/"+n, nil, http.StatusOK)
	if info := decodeInfo(h, r); len(info.Tasks) != 0 {
		h.t.Errorf("[%s] GET connector while STOPPED: %s, want no tasks", h.tg.Name, r.body)
	}
	r = h.must("GET", "/connectors/"+n+"/tasks", nil, http.StatusOK)
	if strings.TrimSpace(string(r.body)) != "[]" {
		h.t.Errorf("[%s] GET tasks while STOPPED: %s, want []", h.tg.Name, r.body)
	}
	h.stop(n, sink)
	r = h.must("PATCH", "/connectors/"+n+"/offsets", body, http.StatusOK)
	h.expect(r, 200, msgAlteredByPlugin)

	// Pause from STOPPED: the connector is PAUSED but its tasks are not
	// brought back (task configs are only generated for a started
	// connector), and its offsets can no longer be changed.
	h.must("PUT", "/connectors/"+n+"/pause", nil, http.StatusAccepted)
	h.waitConnectorState(n, connect.StatePaused)
	h.expectStatus(n, typ, connect.StatePaused, 0)
	h.expect(h.do("PATCH", "/connectors/"+n+"/offsets", body), 400, msgNotStoppedPrefix)
	h.must("PUT", "/connectors/"+n+"/resume", nil, http.StatusAccepted)
	h.waitState(n, connect.StateRunning)
	h.expectStatus(n, typ, connect.StateRunning, 1)

	// Restarts.
	r = h.must("POST", "/connectors/"+n+"/restart", nil, http.StatusNoContent)
	if len(r.body) != 0 {
		h.t.Errorf("[%s] POST restart: body %q, want none", h.tg.Name, r.body)
	}
	h.waitState(n, connect.StateRunning)
	r = h.must("POST", "/connectors/"+n+"/restart?includeTasks=true", nil, http.StatusAccepted)
	var rs connect.ConnectorStatus
	if err := json.Unmarshal(r.body, &rs); err != nil || rs.Connector.State != connect.StateRestarting || len(rs.Tasks) != 1 || rs.Tasks[0].State != connect.StateRestarting {
		h.t.Errorf("[%s] POST restart?includeTasks=true: %s, want connector and task RESTARTING (%v)", h.tg.Name, r.body, err)
	}
	h.waitState(n, connect.StateRunning)
	r = h.must("POST", "/connectors/"+n+"/restart?includeTasks=true&onlyFailed=true", nil, http.StatusAccepted)
	if err := json.Unmarshal(r.body, &rs); err != nil || rs.Connector.State != connect.StateRunning || len(rs.Tasks) != 1 || rs.Tasks[0].State != connect.StateRunning {
		h.t.Errorf("[%s] POST restart?includeTasks=true&onlyFailed=true on a healthy connector: %s, want nothing RESTARTING (%v)", h.tg.Name, r.body, err)
	}
	r = h.must("POST", "/connectors/"+n+"/tasks/0/restart", nil, http.StatusNoContent)
	if len(r.body) != 0 {
		h.t.Errorf("[%s] POST task restart: body %q, want none", h.tg.Name, r.body)
	}
	h.waitState(n, connect.StateRunning)
	h.expect(h.do("POST", "/connectors/"+n+"/tasks/7/restart", nil), 404, "Unknown task: "+n+"-7")

	// Delete.
	r = h.must("DELETE", "/connectors/"+n, nil, http.StatusNoContent)
	if len(r.body) != 0 {
		h.t.Errorf("[%s] DELETE connector: body %q, want none", h.tg.Name, r.body)
	}
	h.expect(h.do("GET", "/connectors/"+n, nil), 404, "Connector "+n+" not found")
	h.eventually("the status of "+n+" to go", func() string {
		if r := h.do("GET", "/connectors/"+n+"/status", nil); r.status != 404 {
			return r.String()
		}
		return ""
	})
	h.expect(h.do("DELETE", "/connectors/"+n, nil), 404, "Connector "+n+" not found")
}

func caseInitialState(h *harness) {
	n := h.name("initial-stopped")
	h.create(n, h.fileSource(n), "STOPPED")
	h.waitState(n, connect.StateStopped)
	h.expectStatus(n, connect.TypeSource, connect.StateStopped, 0)
	r := h.must("GET", "/connectors/"+n+"/offsets", nil, http.StatusOK)
	if got := strings.TrimSpace(string(r.body)); got != `{"offsets":[]}` {
		h.t.Errorf("[%s] offsets of a never-started source: %s, want {\"offsets\":[]}", h.tg.Name, got)
	}
	part := `{"filename":"` + filepath.Join(h.dir, "seed.txt") + `"}`
	h.expect(h.must("PATCH", "/connectors/"+n+"/offsets", `{"offsets":[{"partition":`+part+`,"offset":{"position":3}}]}`, 200), 200, msgAlteredByPlugin)
	h.must("PUT", "/connectors/"+n+"/resume", nil, http.StatusAccepted)
	h.waitState(n, connect.StateRunning)
	h.expectStatus(n, connect.TypeSource, connect.StateRunning, 1)

	// Created PAUSED: no tasks until it is resumed.
	p := h.name("initial-paused")
	h.create(p, h.fileSource(p), "PAUSED")
	h.waitConnectorState(p, connect.StatePaused)
	h.expectStatus(p, connect.TypeSource, connect.StatePaused, 0)
	h.must("PUT", "/connectors/"+p+"/resume", nil, http.StatusAccepted)
	h.waitState(p, connect.StateRunning)
	h.expectStatus(p, connect.TypeSource, connect.StateRunning, 1)
}

func caseListExpand(h *harness) {
	n := h.name("expand")
	cfg := h.fileSource(n)
	h.create(n, cfg, "STOPPED")
	h.waitState(n, connect.StateStopped)
	r := h.must("GET", "/connectors", nil, http.StatusOK)
	var names []string
	if err := json.Unmarshal(r.body, &names); err != nil || !contains(names, n) {
		h.t.Errorf("[%s] GET /connectors: %s, want a list holding %s (%v)", h.tg.Name, r.body, n, err)
	}
	r = h.must("GET", "/connectors?expand=status&expand=info", nil, http.StatusOK)
	var all map[string]json.RawMessage
	if err := json.Unmarshal(r.body, &all); err != nil {
		h.t.Fatalf("[%s] GET /connectors?expand=status&expand=info: %v: %s", h.tg.Name, err, r.body)
	}
	h.checkKeys("expanded entry", all[n], []string{"status", "info"})
	var ov connect.ConnectorOverview
	if err := json.Unmarshal(all[n], &ov); err != nil || ov.Status == nil || ov.Info == nil ||
		ov.Status.Connector.State != connect.StateStopped || !reflect.DeepEqual(ov.Info.Config, withName(cfg, n)) {
		h.t.Errorf("[%s] expanded entry of %s: %s (%v)", h.tg.Name, n, all[n], err)
	}
	// A comma-separated value is one unknown expansion: nothing is expanded.
	r = h.must("GET", "/connectors?expand=status,info", nil, http.StatusOK)
	if err := json.Unmarshal(r.body, &all); err != nil || strings.TrimSpace(string(all[n])) != "{}" {
		h.t.Errorf("[%s] GET /connectors?expand=status,info: entry of %s is %s, want {} (%v)", h.tg.Name, n, all[n], err)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func caseAlterBodies(h *harness) {
	n := h.name("bodies")
	h.create(n, h.fileSource(n), "STOPPED")
	h.waitState(n, connect.StateStopped)
	p := "/connectors/" + n + "/offsets"
	file := filepath.Join(h.dir, "a.txt")
	one := func(partition, offset string) string {
		return `{"offsets":[{"partition":` + partition + `,"offset":` + offset + `}]}`
	}
	fp := `{"filename":"` + file + `"}`
	const entities = "org.apache.kafka.connect.runtime.rest.entities."
	h.expectAll([]errCase{
		// Jackson refuses the shape: 500.
		{"PATCH", p, `[]`, 500, "Cannot deserialize value of type `" + entities + "ConnectorOffsets` from Array value"},
		{"PATCH", p, `{"offsets":{}}`, 500, "Cannot deserialize value of type `java.util.ArrayList<" + entities + "ConnectorOffset>` from Object value"},
		{"PATCH", p, `{"offsets":[123]}`, 500, "Cannot construct instance of `" + entities + "ConnectorOffset`"},
		{"PATCH", p, `{"key":[]}`, 500, `Unrecognized field "key"`},
		{"PATCH", p, `{"offsets":[{"partition":{},"offset":{},"extra":1}]}`, 500, `Unrecognized field "extra"`},
		{"PATCH", p, `not json`, 500, "Unrecognized token 'not'"},
		{"PATCH", p, `{"offsets":[null]}`, 500, `Cannot invoke "org.apache.kafka.connect.runtime.rest.entities.ConnectorOffset.partition()" because "offset" is null`},
		// No offsets: 400.
		{"PATCH", p, `{"offsets":[]}`, 400, msgNeedOffsets},
		{"PATCH", p, `{}`, 400, msgNeedOffsets},
		{"PATCH", p, `{"offsets":null}`, 400, msgNeedOffsets},
		// Values must be primitives: 500.
		{"PATCH", p, one(fp, `{"position":{"x":1}}`), 500, "Offsets may only contain primitive types as values, but field position contains MAP"},
		{"PATCH", p, one(`{"filename":["a"]}`, `{"position":1}`), 500, "Offsets may only contain primitive types as values, but field filename contains ARRAY"},
		// An empty body reaches the resource as null: Java 17's helpful
		// NullPointerException message.
		{"PATCH", p, ``, 500, `Cannot invoke "org.apache.kafka.connect.runtime.rest.entities.ConnectorOffsets.offsets()" because "offsets" is null`},
		// FileStreamSourceConnector.alterOffsets refuses: 500.
		{"PATCH", p, one(fp, `{"pos":1}`), 500, "Offset objects should either be null or contain the key 'position'"},
		{"PATCH", p, one(fp, `{"position":"5"}`), 500, "The value for the 'position' key in the offset is expected to be a Long value"},
		{"PATCH", p, one(fp, `{"position":1.5}`), 500, "The value for the 'position' key in the offset is expected to be a Long value"},
		{"PATCH", p, one(fp, `{"position":-1}`), 500, "The value for the 'position' key in the offset should be a non-negative value"},
		{"PATCH", p, one(`{"file":"x"}`, `{"position":1}`), 500, "Partition objects should contain the key 'filename'"},
	})
	// Nothing of the refused requests was written.
	if got := h.offsets(n); len(got) != 0 {
		h.t.Errorf("[%s] offsets after refused requests: %v, want none", h.tg.Name, got)
	}
}

func caseSourceOffsets(h *harness) {
	n := h.name("source")
	h.create(n, h.fileSource(n), "STOPPED")
	h.waitState(n, connect.StateStopped)
	p := "/connectors/" + n + "/offsets"
	pa := `{"filename":"` + filepath.Join(h.dir, "a.txt") + `"}`
	pb := `{"filename":"` + filepath.Join(h.dir, "b.txt") + `"}`
	line := func(partition, offset string) string {
		return canonical(h.t, []byte(partition)) + "=" + canonical(h.t, []byte(offset))
	}
	check := func(step string, want ...string) {
		h.t.Helper()
		h.eventuallyOffsets(n, step, want...)
	}
	check("nothing")

	// Integers stay integers, decimals come back as Java prints doubles,
	// other primitives as given; the last of duplicated partitions wins.
	r := h.must("PATCH", p, `{"offsets":[
		{"partition":`+pa+`,"offset":{"position":1}},
		{"partition":`+pa+`,"offset":{"position":10,"ratio":1.50,"whole":2.0,"flag":true,"note":"x"}},
		{"partition":`+pb+`,"offset":{"position":20}}]}`, 200)
	h.expect(r, 200, msgAlteredByPlugin)
	check("PATCH a and b", line(pa, `{"position":10,"ratio":1.5,"whole":2.0,"flag":true,"note":"x"}`), line(pb, `{"position":20}`))
	h.checkTopic(n, 2)

	// PATCH merges: b is kept.
	h.must("PATCH", p, `{"offsets":[{"partition":`+pa+`,"offset":{"position":11}}]}`, 200)
	check("PATCH a only", line(pa, `{"position":11}`), line(pb, `{"position":20}`))

	// A null offset deletes that partition only.
	h.must("PATCH", p, `{"offsets":[{"partition":`+pb+`,"offset":null}]}`, 200)
	check("PATCH b null", line(pa, `{"position":11}`))
	h.checkTopic(n, 1)

	// DELETE resets every partition; it is idempotent.
	h.must("PATCH", p, `{"offsets":[{"partition":`+pb+`,"offset":{"position":21}}]}`, 200)
	r = h.must("DELETE", p, nil, 200)
	h.expect(r, 200, msgResetByPlugin)
	check("DELETE")
	h.checkTopic(n, 0)
	h.expect(h.must("DELETE", p, nil, 200), 200, msgResetByPlugin)
	check("DELETE again")
}

// checkTopic reads the offsets topic and checks that connector n has want
// live records, each under the key bytes Connect writes (compact JSON,
// java.util.HashMap field order) in the partition Java's partitioner picks,
// and that the worker's answer agrees with the topic.
func (h *harness) checkTopic(n string, want int) {
	h.t.Helper()
	snap, err := offsets.ReadTopic(h.ctx, h.kcl, h.tg.OffsetsTopic)
	if err != nil {
		h.t.Fatalf("[%s] reading the offsets topic: %v", h.tg.Name, err)
	}
	recs := snap.Connector(n)
	if len(recs) != want {
		h.t.Errorf("[%s] offsets topic: %d live records of %s, want %d", h.tg.Name, len(recs), n, want)
	}
	var fromTopic []string
	for _, rec := range recs {
		if key := offsets.EncodeKey(n, rec.Partition.JavaOrder()); string(key) != string(rec.Key) {
			h.t.Errorf("[%s] offsets topic key %s, Connect writes %s", h.tg.Name, rec.Key, key)
		}
		if p := offsets.PartitionForKey(rec.Key, snap.Partitions); p != rec.TopicPartition {
			h.t.Errorf("[%s] offsets topic key %s in partition %d, Java's partitioner picks %d", h.tg.Name, rec.Key, rec.TopicPartition, p)
		}
		fromTopic = append(fromTopic, canonical(h.t, rec.Partition.JSON())+"="+canonical(h.t, rec.Offset.JSON()))
	}
	h.eventuallyOffsets(n, "reading the offsets topic", fromTopic...)
}

func caseFrameworkManaged(h *harness) {
	if h.tg.DebeziumSource == nil {
		h.t.Skipf("[%s] no Debezium source configuration for this target", h.tg.Name)
	}
	n := h.name("debezium")
	cfg := h.tg.DebeziumSource()
	cfg["connector.class"] = DebeziumPostgresClass
	cfg["topic.prefix"] = "conf" + h.run
	cfg["slot.name"] = "conf_never_started_" + h.run
	cfg["publication.name"] = "conf_never_started_" + h.run
	h.create(n, cfg, "STOPPED")
	h.waitState(n, connect.StateStopped)
	p := "/connectors/" + n + "/offsets"
	part := `{"server":"conf` + h.run + `"}`
	off := `{"lsn":24023128,"lsn_proc":24023128,"lsn_commit":24023128,"txId":750,"ts_usec":1700000000000000,"messageType":"INSERT"}`
	// Debezium does not override alterOffsets: no validation, and the
	// framework-managed caveat.
	h.expect(h.must("PATCH", p, `{"offsets":[{"partition":`+part+`,"offset":`+off+`}]}`, 200), 200, msgAlteredFramework)
	h.eventuallyOffsets(n, "PATCH", canonical(h.t, []byte(part))+"="+canonical(h.t, []byte(off)))
	h.checkTopic(n, 1)
	h.expect(h.must("PATCH", p, `{"offsets":[{"partition":`+part+`,"offset":{"anything":"goes"}}]}`, 200), 200, msgAlteredFramework)
	h.expect(h.must("DELETE", p, nil, 200), 200, msgResetFramework)
	h.eventuallyOffsets(n, "DELETE")
}

func sinkPart(topic string, p int) string {
	return fmt.Sprintf(`{"kafka_topic":%q,"kafka_partition":%d}`, topic, p)
}

func sinkLine(topic string, p int, off int64) string {
	return fmt.Sprintf(`{"kafka_partition":%d,"kafka_topic":%q}={"kafka_offset":%d}`, p, topic, off)
}

func caseSinkOffsets(h *harness) {
	n := h.name("sink")
	topic := n + "-in"
	group := "connect-" + n
	h.createTopic(topic, 3, 5)
	h.create(n, h.fileSink(n, topic), "STOPPED")
	h.waitState(n, connect.StateStopped)
	p := "/connectors/" + n + "/offsets"
	check := func(step string, want ...string) {
		h.t.Helper()
		sort.Strings(want)
		if got := h.offsets(n); !sameLines(got, want) {
			h.t.Errorf("[%s] sink offsets after %s:\n got %v\nwant %v", h.tg.Name, step, got, want)
		}
		var inGroup []string
		for _, w := range want {
			var pt struct {
				T string `json:"kafka_topic"`
				P int    `json:"kafka_partition"`
			}
			var o struct {
				O int64 `json:"kafka_offset"`
			}
			l, r, _ := strings.Cut(w, "=")
			_ = json.Unmarshal([]byte(l), &pt)
			_ = json.Unmarshal([]byte(r), &o)
			inGroup = append(inGroup, fmt.Sprintf("%s/%d=%d", pt.T, pt.P, o.O))
		}
		sort.Strings(inGroup)
		if got := h.groupOffsets(group); !sameLines(got, inGroup) && !(len(got) == 0 && len(inGroup) == 0) {
			h.t.Errorf("[%s] group %s after %s:\n got %v\nwant %v", h.tg.Name, group, step, got, inGroup)
		}
	}
	// A group that never existed reads as no offsets.
	check("nothing")

	// Numbers given as strings are accepted; the group holds what was set.
	r := h.must("PATCH", p, `{"offsets":[
		{"partition":`+sinkPart(topic, 0)+`,"offset":{"kafka_offset":"2"}},
		{"partition":{"kafka_topic":"`+topic+`","kafka_partition":"1"},"offset":{"kafka_offset":3}}]}`, 200)
	h.expect(r, 200, msgAlteredByPlugin)
	check("PATCH 0 and 1", sinkLine(topic, 0, 2), sinkLine(topic, 1, 3))

	// The group is the store: a commit made outside Connect shows.
	offs := kadm.Offsets{}
	offs.Add(kadm.Offset{Topic: topic, Partition: 2, At: 4, LeaderEpoch: -1})
	cr, err := h.adm.CommitOffsets(h.ctx, group, offs)
	if err == nil {
		err = cr.Error()
	}
	if err != nil {
		h.t.Fatalf("[%s] committing to %s: %v", h.tg.Name, group, err)
	}
	check("a kadm commit of partition 2", sinkLine(topic, 0, 2), sinkLine(topic, 1, 3), sinkLine(topic, 2, 4))

	// Merge; null deletes one partition; no range check.
	h.must("PATCH", p, `{"offsets":[{"partition":`+sinkPart(topic, 1)+`,"offset":null},{"partition":`+sinkPart(topic, 0)+`,"offset":{"kafka_offset":1000}}]}`, 200)
	check("PATCH 1 null and 0 past the end", sinkLine(topic, 0, 1000), sinkLine(topic, 2, 4))

	// DELETE deletes the group; it is idempotent.
	h.expect(h.must("DELETE", p, nil, 200), 200, msgResetByPlugin)
	check("DELETE")
	gs, err := h.adm.DescribeGroups(h.ctx, group)
	if err == nil {
		if g, ok := gs[group]; ok && g.Err == nil && g.State != "Dead" && g.State != "" {
			h.t.Errorf("[%s] group %s after DELETE offsets: state %q, want gone", h.tg.Name, group, g.State)
		}
	}
	h.expect(h.must("DELETE", p, nil, 200), 200, msgResetByPlugin)
}

func caseSinkAlterBodies(h *harness) {
	n := h.name("sink-bodies")
	topic := n + "-in"
	h.createTopic(topic, 1, 2)
	h.create(n, h.fileSink(n, topic), "STOPPED")
	h.waitState(n, connect.StateStopped)
	p := "/connectors/" + n + "/offsets"
	one := func(partition, offset string) string {
		return `{"offsets":[{"partition":` + partition + `,"offset":` + offset + `}]}`
	}
	tp := sinkPart(topic, 0)
	h.expectAll([]errCase{
		{"PATCH", p, `{"offsets":[{"offset":{"kafka_offset":1}}]}`, 400, "The partition for a sink connector offset cannot be null or missing"},
		{"PATCH", p, one(`null`, `{"kafka_offset":1}`), 400, "The partition for a sink connector offset cannot be null or missing"},
		{"PATCH", p, one(`{"kafka_topic":"`+topic+`"}`, `{"kafka_offset":1}`), 400, "The partition for a sink connector offset must contain the keys 'kafka_topic' and 'kafka_partition'"},
		{"PATCH", p, one(`{"kafka_topic":null,"kafka_partition":0}`, `{"kafka_offset":1}`), 400, "Kafka topic names must be valid strings and may not be null"},
		{"PATCH", p, one(`{"kafka_topic":"`+topic+`","kafka_partition":null}`, `{"kafka_offset":1}`), 400, "Kafka partitions must be valid numbers and may not be null"},
		{"PATCH", p, one(`{"kafka_topic":"`+topic+`","kafka_partition":"x"}`, `{"kafka_offset":1}`), 400, "Failed to parse the following Kafka partition value in the provided offsets: 'x'."},
		{"PATCH", p, one(tp, `{}`), 400, "The offset for a sink connector should either be null or contain the key 'kafka_offset'"},
		{"PATCH", p, one(tp, `{"kafka_offset":"abc"}`), 400, "Failed to parse the following Kafka offset value in the provided offsets: 'abc'."},
		{"PATCH", p, one(tp, `{"kafka_offset":-5}`), 500, "Failed to modify offsets for sink connector " + n},
		// SinkUtils parses before the primitive-values check: a map is a
		// string that is not a number.
		{"PATCH", p, one(tp, `{"kafka_offset":{"x":1}}`), 400, "Failed to parse the following Kafka offset value in the provided offsets: '{x=1}'."},
	})
	if got := h.groupOffsets("connect-" + n); len(got) != 0 {
		h.t.Errorf("[%s] group offsets after refused requests: %v", h.tg.Name, got)
	}
}

func caseDeleteKeepsSourceOffsets(h *harness) {
	n := h.name("keep-source")
	cfg := h.fileSource(n)
	h.create(n, cfg, "STOPPED")
	h.waitState(n, connect.StateStopped)
	part := `{"filename":"` + filepath.Join(h.dir, "kept.txt") + `"}`
	h.must("PATCH", "/connectors/"+n+"/offsets", `{"offsets":[{"partition":`+part+`,"offset":{"position":42}}]}`, 200)
	want := canonical(h.t, []byte(part)) + `={"position":42}`
	h.eventuallyOffsets(n, "PATCH", want)

	h.must("DELETE", "/connectors/"+n, nil, http.StatusNoContent)
	h.expect(h.do("GET", "/connectors/"+n+"/offsets", nil), 404, "Connector "+n+" not found")
	h.checkTopicHolds(n, 1)
	h.must("POST", "/connectors", map[string]any{"name": n, "config": cfg, "initial_state": "STOPPED"}, http.StatusCreated)
	h.waitState(n, connect.StateStopped)
	h.eventuallyOffsets(n, "re-creating the connector", want)
	// Reset before delete gives a truly fresh connector.
	h.must("DELETE", "/connectors/"+n+"/offsets", nil, 200)
	h.eventuallyOffsets(n, "DELETE offsets")
	h.must("DELETE", "/connectors/"+n, nil, http.StatusNoContent)
	h.checkTopicHolds(n, 0)
	h.must("POST", "/connectors", map[string]any{"name": n, "config": cfg, "initial_state": "STOPPED"}, http.StatusCreated)
	h.waitState(n, connect.StateStopped)
	h.eventuallyOffsets(n, "re-creating the connector after a reset")
}

// checkTopicHolds checks that the offsets topic holds want live records of
// connector n (which may no longer exist).
func (h *harness) checkTopicHolds(n string, want int) {
	h.t.Helper()
	snap, err := offsets.ReadTopic(h.ctx, h.kcl, h.tg.OffsetsTopic)
	if err != nil {
		h.t.Fatalf("[%s] reading the offsets topic: %v", h.tg.Name, err)
	}
	if got := len(snap.Connector(n)); got != want {
		h.t.Errorf("[%s] offsets topic: %d live records of %s, want %d", h.tg.Name, got, n, want)
	}
}

func caseDeleteKeepsSinkOffsets(h *harness) {
	n := h.name("keep-sink")
	topic := n + "-in"
	h.createTopic(topic, 1, 5)
	cfg := h.fileSink(n, topic)
	h.create(n, cfg, "STOPPED")
	h.waitState(n, connect.StateStopped)
	h.must("PATCH", "/connectors/"+n+"/offsets", `{"offsets":[{"partition":`+sinkPart(topic, 0)+`,"offset":{"kafka_offset":3}}]}`, 200)
	h.must("DELETE", "/connectors/"+n, nil, http.StatusNoContent)
	if got, want := h.groupOffsets("connect-"+n), []string{topic + "/0=3"}; !sameLines(got, want) {
		h.t.Errorf("[%s] group of the deleted sink: %v, want %v", h.tg.Name, got, want)
	}
	h.must("POST", "/connectors", map[string]any{"name": n, "config": cfg, "initial_state": "STOPPED"}, http.StatusCreated)
	h.waitState(n, connect.StateStopped)
	if got, want := h.offsets(n), []string{sinkLine(topic, 0, 3)}; !sameLines(got, want) {
		h.t.Errorf("[%s] offsets of the re-created sink: %v, want %v", h.tg.Name, got, want)
	}
}
