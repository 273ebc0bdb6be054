package sandbox

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
)

// expect gives the status and a part of the body expected from a version
// (its minor number).
type expect func(minor int) (int, string)

const (
	httpNotFound   = `{"error_code":404,"message":"HTTP 404 Not Found"}`
	httpNotAllowed = `{"error_code":405,"message":"HTTP 405 Method Not Allowed"}`
)

func is(status int, contains string) expect {
	return func(int) (int, string) { return status, contains }
}

// from expects status and contains from minor on, and before earlier.
func from(minor, status int, contains string, before expect) expect {
	return func(v int) (int, string) {
		if v >= minor {
			return status, contains
		}
		return before(v)
	}
}

// missing is the answer for PATCH and DELETE /offsets before 3.6: no such
// path on 3.4, a path without that method on 3.5.
func missing(v int) (int, string) {
	if v < 5 {
		return 404, httpNotFound
	}
	return 405, httpNotAllowed
}

// TestEndpointsPerVersion walks every endpoint offsetctl touches, in an order
// that sets up the states the later requests need, for each emulated
// version, and checks the status and a telling part of the body.
func TestEndpointsPerVersion(t *testing.T) {
	const (
		src = `{"name":"src","config":{"connector.class":"org.example.InertSource","tasks.max":"2"}}`
		snk = `{"name":"snk","config":{"connector.class":"org.example.InertSink","topics":"orders"}}`
	)
	notFound, notAllowed := httpNotFound, httpNotAllowed
	cases := []struct {
		name, method, path, body string
		want                     expect
	}{
		{"root", "GET", "/", "", is(200, `"version":"3.`)},
		{"create source", "POST", "/connectors", src, is(201, `"tasks":[],"type":"source"`)},
		{"create sink", "POST", "/connectors", snk, is(201, `"type":"sink"`)},
		{"create existing", "POST", "/connectors", src, is(409, `"message":"Connector src already exists"`)},
		{"create: body is an array", "POST", "/connectors", `[]`, is(500, "CreateConnectorRequest")},
		{"create: empty body", "POST", "/connectors", ``, is(500, `{"error_code":500,"message":"Cannot invoke \"org.apache.kafka.connect.runtime.rest.entities.CreateConnectorRequest.name()\" because \"createRequest\" is null"}`)},
		{"create: no class", "POST", "/connectors", `{"name":"x","config":{}}`, is(400, "contains no connector type")},
		{"create: name mismatch", "POST", "/connectors", `{"name":"x","config":{"name":"y","connector.class":"A"}}`, is(400, "Connector name configuration (y) doesn't match connector name in the URL (x)")},
		{"create: sink without topics", "POST", "/connectors", `{"name":"x","config":{"connector.class":"io.debezium.connector.jdbc.JdbcSinkConnector","connection.url":"jdbc:postgresql://h/d"}}`, is(400, "Must configure one of topics or topics.regex")},
		{"create: initial_state", "POST", "/connectors", `{"name":"born-stopped","config":{"connector.class":"A"},"initial_state":"stopped"}`, from(7, 201, `"tasks":[]`, is(500, `Unrecognized field \"initial_state\"`))},
		{"create: bad initial_state", "POST", "/connectors", `{"name":"y","config":{"connector.class":"A"},"initial_state":"SLEEPING"}`, from(7, 500, "InitialState", is(500, `Unrecognized field \"initial_state\"`))},
		{"list", "GET", "/connectors", "", is(200, `"snk","src"`)},
		{"list expanded", "GET", "/connectors?expand=status&expand=info", "", is(200, `"src":{"info":{"name":"src"`)},
		{"list: comma is not a separator", "GET", "/connectors?expand=status,info", "", is(200, `"src":{}`)},
		{"info", "GET", "/connectors/src", "", is(200, `"tasks":[{"connector":"src","task":0},{"connector":"src","task":1}]`)},
		{"info unknown", "GET", "/connectors/nope", "", is(404, `"Connector nope not found"`)},
		{"config", "GET", "/connectors/src/config", "", is(200, `"name":"src"`)},
		{"config unknown", "GET", "/connectors/nope/config", "", is(404, `"Connector nope not found"`)},
		{"status", "GET", "/connectors/src/status", "", is(200, `"connector":{"state":"RUNNING"`)},
		{"status unknown", "GET", "/connectors/nope/status", "", is(404, `"No status found for connector nope"`)},
		{"tasks", "GET", "/connectors/src/tasks", "", is(200, `"task.class":"org.example.InertSourceTask"`)},
		{"tasks-config", "GET", "/connectors/src/tasks-config", "", is(200, `"src-1":{`)},
		{"task status", "GET", "/connectors/src/tasks/1/status", "", is(200, `{"id":1,"state":"RUNNING"`)},
		{"task status unknown", "GET", "/connectors/src/tasks/7/status", "", is(404, `"No status found for task src-7"`)},
		{"task id not a number", "GET", "/connectors/src/tasks/x/status", "", is(404, notFound)},
		{"restart task", "POST", "/connectors/src/tasks/0/restart", "", is(204, "")},
		{"restart unknown task", "POST", "/connectors/src/tasks/7/restart", "", is(404, `"Unknown task: src-7"`)},
		{"restart connector", "POST", "/connectors/src/restart", "", is(204, "")},
		{"restart with tasks", "POST", "/connectors/src/restart?includeTasks=true", "", is(202, `"tasks":[{"id":0,"state":"RESTARTING"`)},
		{"restart only failed", "POST", "/connectors/src/restart?includeTasks=true&onlyFailed=true", "", is(202, `"connector":{"state":"RUNNING"`)},
		{"restart unknown", "POST", "/connectors/nope/restart", "", is(404, `"Unknown connector: nope"`)},
		{"pause", "PUT", "/connectors/src/pause", "", is(202, "")},
		{"paused status", "GET", "/connectors/src/status", "", is(200, `"tasks":[{"id":0,"state":"PAUSED"`)},
		{"pause unknown", "PUT", "/connectors/nope/pause", "", is(404, `"Unknown connector nope"`)},
		{"offsets while paused", "GET", "/connectors/src/offsets", "", from(5, 200, `{"offsets":[]}`, is(404, notFound))},
		{"alter while paused", "PATCH", "/connectors/src/offsets", `{"offsets":[{"partition":{"f":"a"},"offset":{"pos":1}}]}`, from(6, 400, "must be in the STOPPED state", missing)},
		{"resume", "PUT", "/connectors/src/resume", "", is(202, "")},
		{"resume unknown", "PUT", "/connectors/nope/resume", "", is(404, `"Unknown connector nope"`)},
		{"stop", "PUT", "/connectors/src/stop", "", from(5, 204, "", is(404, notFound))},
		{"stop again", "PUT", "/connectors/src/stop", "", from(5, 204, "", is(404, notFound))},
		{"stop unknown", "PUT", "/connectors/nope/stop", "", from(5, 404, `"Unknown connector nope"`, is(404, notFound))},
		{"stopped status", "GET", "/connectors/src/status", "", from(5, 200, `"connector":{"state":"STOPPED","worker_id":"<worker>"},"tasks":[]`, is(200, `"state":"RUNNING"`))},
		{"stopped info", "GET", "/connectors/src", "", from(5, 200, `"tasks":[]`, is(200, `"task":1`))},
		{"pause a stopped connector", "PUT", "/connectors/src/pause", "", is(202, "")},
		// Paused from STOPPED: no tasks (3.4 has no stop, so it keeps them).
		{"paused again", "GET", "/connectors/src/status", "", from(5, 200, `"connector":{"state":"PAUSED","worker_id":"<worker>"},"tasks":[]`, is(200, `"tasks":[{"id":0,"state":"PAUSED"`))},
		{"stop once more", "PUT", "/connectors/src/stop", "", from(5, 204, "", is(404, notFound))},
		{"offsets unknown", "GET", "/connectors/nope/offsets", "", from(5, 404, `"Connector nope not found"`, is(404, notFound))},
		{"alter", "PATCH", "/connectors/src/offsets", `{"offsets":[{"partition":{"f":"a"},"offset":{"pos":1}}]}`, from(6, 200, "The Connect framework-managed offsets for this connector have been altered successfully", missing)},
		{"alter unknown", "PATCH", "/connectors/nope/offsets", `{"offsets":[{"partition":{"f":"a"},"offset":{"pos":1}}]}`, from(6, 404, `"Connector nope not found"`, missing)},
		{"alter: empty list", "PATCH", "/connectors/src/offsets", `{"offsets":[]}`, from(6, 400, "Partitions / offsets need to be provided", missing)},
		{"alter: no offsets field", "PATCH", "/connectors/src/offsets", `{}`, from(6, 400, "Partitions / offsets need to be provided", missing)},
		{"alter: array body", "PATCH", "/connectors/src/offsets", `[]`, from(6, 500, "ConnectorOffsets", missing)},
		{"alter: offsets is an object", "PATCH", "/connectors/src/offsets", `{"offsets":{}}`, from(6, 500, "java.util.ArrayList", missing)},
		{"alter: unknown field", "PATCH", "/connectors/src/offsets", `{"key":[]}`, from(6, 500, `Unrecognized field \"key\"`, missing)},
		{"alter: empty body", "PATCH", "/connectors/src/offsets", ``, from(6, 500, `because \"offsets\" is null`, missing)},
		{"alter: nested value", "PATCH", "/connectors/src/offsets", `{"offsets":[{"partition":{"f":"a"},"offset":{"pos":[1]}}]}`, from(6, 500, "field pos contains ARRAY", missing)},
		{"alter: beyond a long", "PATCH", "/connectors/src/offsets", `{"offsets":[{"partition":{"f":"a"},"offset":{"pos":9223372036854775808}}]}`, from(6, 500, "java.math.BigInteger", missing)},
		{"offsets after alter", "GET", "/connectors/src/offsets", "", from(6, 200, `{"offsets":[{"partition":{"f":"a"},"offset":{"pos":1}}]}`, from(5, 200, `{"offsets":[]}`, is(404, notFound)))},
		{"reset", "DELETE", "/connectors/src/offsets", "", from(6, 200, "have been reset successfully", missing)},
		{"offsets after reset", "GET", "/connectors/src/offsets", "", from(5, 200, `{"offsets":[]}`, is(404, notFound))},
		{"sink alter while running", "PATCH", "/connectors/snk/offsets", `{"offsets":[{"partition":{"kafka_topic":"orders","kafka_partition":0},"offset":{"kafka_offset":5}}]}`, from(6, 400, "must be in the STOPPED state", missing)},
		{"stop sink", "PUT", "/connectors/snk/stop", "", from(5, 204, "", is(404, notFound))},
		{"sink alter", "PATCH", "/connectors/snk/offsets", `{"offsets":[{"partition":{"kafka_topic":"orders","kafka_partition":"0"},"offset":{"kafka_offset":"5"}}]}`, from(6, 200, "framework-managed", missing)},
		{"sink alter: no partition", "PATCH", "/connectors/snk/offsets", `{"offsets":[{"offset":{"kafka_offset":5}}]}`, from(6, 400, "The partition for a sink connector offset cannot be null or missing", missing)},
		{"sink alter: bad partition", "PATCH", "/connectors/snk/offsets", `{"offsets":[{"partition":{"kafka_topic":"orders","kafka_partition":1.5},"offset":{"kafka_offset":5}}]}`, from(6, 400, "Failed to parse the following Kafka partition value in the provided offsets: '1.5'", missing)},
		{"sink alter: no kafka_offset", "PATCH", "/connectors/snk/offsets", `{"offsets":[{"partition":{"kafka_topic":"orders","kafka_partition":0},"offset":{"x":5}}]}`, from(6, 400, "should either be null or contain the key 'kafka_offset'", missing)},
		{"sink alter: bad offset", "PATCH", "/connectors/snk/offsets", `{"offsets":[{"partition":{"kafka_topic":"orders","kafka_partition":0},"offset":{"kafka_offset":"ten"}}]}`, from(6, 400, "Failed to parse the following Kafka offset value in the provided offsets: 'ten'", missing)},
		{"sink offsets", "GET", "/connectors/snk/offsets", "", from(6, 200, `{"offsets":[{"partition":{"kafka_partition":0,"kafka_topic":"orders"},"offset":{"kafka_offset":5}}]}`, from(5, 200, `{"offsets":[]}`, is(404, notFound)))},
		{"sink offset deleted", "PATCH", "/connectors/snk/offsets", `{"offsets":[{"partition":{"kafka_topic":"orders","kafka_partition":0},"offset":null}]}`, from(6, 200, "framework-managed", missing)},
		{"sink offsets after delete", "GET", "/connectors/snk/offsets", "", from(5, 200, `{"offsets":[]}`, is(404, notFound))},
		{"sink reset without a group", "DELETE", "/connectors/snk/offsets", "", from(6, 200, "have been reset successfully", missing)},
		{"put config creates", "PUT", "/connectors/new/config", `{"connector.class":"A"}`, is(201, `"name":"new"`)},
		{"put config updates", "PUT", "/connectors/new/config", `{"connector.class":"A","tasks.max":"3"}`, is(200, `"tasks.max":"3"`)},
		{"put config: name mismatch", "PUT", "/connectors/new/config", `{"connector.class":"A","name":"old"}`, is(400, "doesn't match connector name in the URL (new)")},
		{"patch config", "PATCH", "/connectors/new/config", `{"tasks.max":null,"x":"1"}`, from(8, 200, `"x":"1"`, is(405, notAllowed))},
		{"patch config unknown", "PATCH", "/connectors/nope/config", `{"x":"1"}`, from(8, 404, `"Connector nope not found"`, is(405, notAllowed))},
		{"delete", "DELETE", "/connectors/new", "", is(204, "")},
		{"delete unknown", "DELETE", "/connectors/new", "", is(404, `"Connector new not found"`)},
		{"unknown path", "GET", "/connectors/src/nothing", "", is(404, notFound)},
		{"unknown method", "DELETE", "/connectors/src/status", "", is(405, notAllowed)},
		{"plugins", "GET", "/connector-plugins", "", is(200, `"class":"io.debezium.connector.postgresql.PostgresConnector","type":"source"`)},
	}
	for _, v := range []string{"3.4", "3.5", "3.6", "3.7", "3.8"} {
		t.Run(v, func(t *testing.T) {
			s := start(t, v)
			if err := s.Kafka().CreateTopic("orders", 1, nil); err != nil {
				t.Fatal(err)
			}
			minor := s.version.minor
			worker := strings.TrimPrefix(s.ConnectURL(), "http://")
			for _, c := range cases {
				want, sub := c.want(minor)
				var body any
				if c.body != "" || c.method == "POST" && c.path == "/connectors" || c.method == "PATCH" {
					body = c.body
				}
				a := do(t, s, c.method, c.path, body)
				if a.status != want {
					t.Errorf("%s: %s %s: got %d %s, want %d", c.name, c.method, c.path, a.status, a.body, want)
					continue
				}
				sub = strings.ReplaceAll(sub, "<worker>", worker)
				if sub != "" && !strings.Contains(a.body, sub) {
					t.Errorf("%s: %s %s: body %s, want it to contain %s", c.name, c.method, c.path, a.body, sub)
				}
			}
			if got := must(t, s, 200, "GET", "/", nil).body; !strings.Contains(got, fmt.Sprintf(`"version":"%s.0"`, v)) {
				t.Errorf("GET / = %s, want version %s.0", got, v)
			}
		})
	}
}

// TestMediaTypes checks the Jersey answers to a body that is not JSON and to
// a client that does not accept JSON.
func TestMediaTypes(t *testing.T) {
	s := start(t, "3.8")
	for _, c := range []struct {
		method, path, header, value string
		want                        int
		body                        string
	}{
		{"POST", "/connectors", "Content-Type", "text/plain", 415, `{"error_code":415,"message":"HTTP 415 Unsupported Media Type"}`},
		{"GET", "/connectors", "Accept", "text/html", 406, `{"error_code":406,"message":"HTTP 406 Not Acceptable"}`},
		{"GET", "/connectors", "Accept", "text/html, application/json;q=0.5", 200, `[]`},
		{"POST", "/connectors", "Content-Type", "application/json; charset=utf-8", 500, `{"error_code":500,"message":"Cannot invoke \"org.apache.kafka.connect.runtime.rest.entities.CreateConnectorRequest.name()\" because \"createRequest\" is null"}`},
	} {
		req, err := http.NewRequest(c.method, s.ConnectURL()+c.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set(c.header, c.value)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.want || string(b) != c.body {
			t.Errorf("%s %s with %s: %s: %d %s, want %d %s", c.method, c.path, c.header, c.value, resp.StatusCode, b, c.want, c.body)
		}
	}
}
