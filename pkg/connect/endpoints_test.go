package connect_test

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"

	"github.com/offsetctl/offsetctl/pkg/connect"
)

const statusBody = `{"name":"pg-orders","connector":{"state":"RUNNING","worker_id":"10.0.0.5:8083"},` +
	`"tasks":[{"id":0,"state":"RUNNING","worker_id":"10.0.0.5:8083"},{"id":1,"state":"FAILED","worker_id":"10.0.0.6:8083","trace":"boom\n\tat x"}],"type":"source"}`

var wantStatus = connect.ConnectorStatus{
	Name:      "pg-orders",
	Connector: connect.InstanceState{State: connect.StateRunning, WorkerID: "10.0.0.5:8083"},
	Tasks: []connect.TaskStatus{
		{ID: 0, State: connect.StateRunning, WorkerID: "10.0.0.5:8083"},
		{ID: 1, State: connect.StateFailed, WorkerID: "10.0.0.6:8083", Trace: "boom\n\tat x"},
	},
	Type: connect.TypeSource,
}

const infoBody = `{"name":"pg-orders","config":{"connector.class":"io.debezium.connector.postgresql.PostgresConnector","topic.prefix":"shop","name":"pg-orders"},` +
	`"tasks":[{"connector":"pg-orders","task":0}],"type":"source"}`

var wantInfo = connect.ConnectorInfo{
	Name:   "pg-orders",
	Config: map[string]string{"connector.class": "io.debezium.connector.postgresql.PostgresConnector", "topic.prefix": "shop", "name": "pg-orders"},
	Tasks:  []connect.TaskID{{Connector: "pg-orders", Task: 0}},
	Type:   connect.TypeSource,
}

func strp(s string) *string { return &s }

// TestEndpoints checks each method's request line, body and decoded answer
// against the wire shapes of Kafka Connect.
func TestEndpoints(t *testing.T) {
	tests := []struct {
		name string
		wire []exchange
		call func(ctx context.Context, c *connect.Client) (any, error)
		want any
	}{
		{
			name: "root",
			wire: []exchange{{method: "GET", uri: "/", status: 200, body: `{"version":"3.6.1","commit":"5e3c2b738d253ff5","kafka_cluster_id":"a1b2"}`}},
			call: func(ctx context.Context, c *connect.Client) (any, error) { return c.Root(ctx) },
			want: connect.ServerInfo{Version: "3.6.1", Commit: "5e3c2b738d253ff5", KafkaClusterID: "a1b2"},
		},
		{
			name: "list connectors sorted",
			wire: []exchange{{method: "GET", uri: "/connectors", status: 200, body: `["s3-sink","pg-orders"]`}},
			call: func(ctx context.Context, c *connect.Client) (any, error) { return c.ListConnectors(ctx) },
			want: []string{"pg-orders", "s3-sink"},
		},
		{
			name: "list expanded uses repeated expand parameters",
			wire: []exchange{{method: "GET", uri: "/connectors?expand=status&expand=info", status: 200,
				body: `{"pg-orders":{"status":` + statusBody + `,"info":` + infoBody + `},"half":{"info":` + infoBody + `}}`}},
			call: func(ctx context.Context, c *connect.Client) (any, error) { return c.ListConnectorsExpanded(ctx) },
			want: map[string]connect.ConnectorOverview{
				"pg-orders": {Status: &wantStatus, Info: &wantInfo},
				"half":      {Info: &wantInfo},
			},
		},
		{
			name: "connector info",
			wire: []exchange{{method: "GET", uri: "/connectors/pg-orders", status: 200, body: infoBody}},
			call: func(ctx context.Context, c *connect.Client) (any, error) { return c.Connector(ctx, "pg-orders") },
			want: wantInfo,
		},
		{
			name: "name is path-escaped",
			wire: []exchange{{method: "GET", uri: "/connectors/a%20b%2Fc%3F/config", status: 200, body: `{"name":"a b/c?"}`}},
			call: func(ctx context.Context, c *connect.Client) (any, error) { return c.Config(ctx, "a b/c?") },
			want: map[string]string{"name": "a b/c?"},
		},
		{
			name: "put config creates",
			wire: []exchange{{method: "PUT", uri: "/connectors/pg-orders/config", wantBody: `{"tasks.max":"1"}`, status: 201, body: infoBody}},
			call: func(ctx context.Context, c *connect.Client) (any, error) {
				info, created, err := c.PutConfig(ctx, "pg-orders", map[string]string{"tasks.max": "1"})
				return []any{info, created}, err
			},
			want: []any{wantInfo, true},
		},
		{
			name: "put config updates",
			wire: []exchange{{method: "PUT", uri: "/connectors/pg-orders/config", wantBody: `{"tasks.max":"2"}`, status: 200, body: infoBody}},
			call: func(ctx context.Context, c *connect.Client) (any, error) {
				info, created, err := c.PutConfig(ctx, "pg-orders", map[string]string{"tasks.max": "2"})
				return []any{info, created}, err
			},
			want: []any{wantInfo, false},
		},
		{
			name: "patch config with null removing a key",
			wire: []exchange{{method: "PATCH", uri: "/connectors/pg-orders/config", wantBody: `{"old.key":null,"tasks.max":"3"}`, status: 200, body: infoBody}},
			call: func(ctx context.Context, c *connect.Client) (any, error) {
				return c.PatchConfig(ctx, "pg-orders", map[string]*string{"tasks.max": strp("3"), "old.key": nil})
			},
			want: wantInfo,
		},
		{
			name: "create stopped",
			wire: []exchange{{method: "POST", uri: "/connectors",
				wantBody: `{"name":"pg-orders","config":{"topic.prefix":"shop"},"initial_state":"STOPPED"}`,
				status:   201, body: `{"name":"pg-orders","config":{"topic.prefix":"shop","name":"pg-orders"},"tasks":[],"type":"source"}`}},
			call: func(ctx context.Context, c *connect.Client) (any, error) {
				return c.Create(ctx, connect.CreateRequest{Name: "pg-orders", Config: map[string]string{"topic.prefix": "shop"}, InitialState: connect.StateStopped})
			},
			want: connect.ConnectorInfo{Name: "pg-orders", Config: map[string]string{"topic.prefix": "shop", "name": "pg-orders"}, Tasks: []connect.TaskID{}, Type: connect.TypeSource},
		},
		{
			name: "create without initial state omits it",
			wire: []exchange{{method: "POST", uri: "/connectors", wantBody: `{"name":"pg-orders","config":{}}`, status: 201, body: infoBody}},
			call: func(ctx context.Context, c *connect.Client) (any, error) {
				return c.Create(ctx, connect.CreateRequest{Name: "pg-orders"})
			},
			want: wantInfo,
		},
		{
			name: "status",
			wire: []exchange{{method: "GET", uri: "/connectors/pg-orders/status", status: 200, body: statusBody}},
			call: func(ctx context.Context, c *connect.Client) (any, error) { return c.Status(ctx, "pg-orders") },
			want: wantStatus,
		},
		{
			name: "task status",
			wire: []exchange{{method: "GET", uri: "/connectors/pg-orders/tasks/1/status", status: 200, body: `{"id":1,"state":"FAILED","worker_id":"w:8083","trace":"boom"}`}},
			call: func(ctx context.Context, c *connect.Client) (any, error) { return c.TaskStatus(ctx, "pg-orders", 1) },
			want: connect.TaskStatus{ID: 1, State: connect.StateFailed, WorkerID: "w:8083", Trace: "boom"},
		},
		{
			name: "tasks",
			wire: []exchange{{method: "GET", uri: "/connectors/pg-orders/tasks", status: 200, body: `[{"id":{"connector":"pg-orders","task":0},"config":{"task.class":"X"}}]`}},
			call: func(ctx context.Context, c *connect.Client) (any, error) { return c.Tasks(ctx, "pg-orders") },
			want: []connect.TaskInfo{{ID: connect.TaskID{Connector: "pg-orders", Task: 0}, Config: map[string]string{"task.class": "X"}}},
		},
		{
			name: "pause",
			wire: []exchange{{method: "PUT", uri: "/connectors/pg-orders/pause", status: 202}},
			call: func(ctx context.Context, c *connect.Client) (any, error) { return nil, c.Pause(ctx, "pg-orders") },
		},
		{
			name: "resume",
			wire: []exchange{{method: "PUT", uri: "/connectors/pg-orders/resume", status: 202}},
			call: func(ctx context.Context, c *connect.Client) (any, error) { return nil, c.Resume(ctx, "pg-orders") },
		},
		{
			name: "stop",
			wire: []exchange{{method: "PUT", uri: "/connectors/pg-orders/stop", status: 204}},
			call: func(ctx context.Context, c *connect.Client) (any, error) { return nil, c.Stop(ctx, "pg-orders") },
		},
		{
			name: "restart connector only",
			wire: []exchange{{method: "POST", uri: "/connectors/pg-orders/restart", status: 204}},
			call: func(ctx context.Context, c *connect.Client) (any, error) {
				st, err := c.Restart(ctx, "pg-orders", false, false)
				return st == nil, err
			},
			want: true,
		},
		{
			name: "restart with tasks",
			wire: []exchange{{method: "POST", uri: "/connectors/pg-orders/restart?includeTasks=true&onlyFailed=true", status: 202, body: statusBody}},
			call: func(ctx context.Context, c *connect.Client) (any, error) {
				return c.Restart(ctx, "pg-orders", true, true)
			},
			want: &wantStatus,
		},
		{
			name: "restart task",
			wire: []exchange{{method: "POST", uri: "/connectors/pg-orders/tasks/3/restart", status: 204}},
			call: func(ctx context.Context, c *connect.Client) (any, error) {
				return nil, c.RestartTask(ctx, "pg-orders", 3)
			},
		},
		{
			name: "delete",
			wire: []exchange{{method: "DELETE", uri: "/connectors/pg-orders", status: 204}},
			call: func(ctx context.Context, c *connect.Client) (any, error) { return nil, c.Delete(ctx, "pg-orders") },
		},
		{
			name: "offsets of a sink",
			wire: []exchange{{method: "GET", uri: "/connectors/s3-sink/offsets", status: 200,
				body: `{"offsets":[{"partition":{"kafka_topic":"shop.public.orders","kafka_partition":0},"offset":{"kafka_offset":1500}},` +
					`{"partition":{"kafka_topic":"shop.public.orders","kafka_partition":1},"offset":null}]}`}},
			call: func(ctx context.Context, c *connect.Client) (any, error) { return c.Offsets(ctx, "s3-sink") },
			want: connect.ConnectorOffsets{Offsets: []connect.ConnectorOffset{
				{Partition: json.RawMessage(`{"kafka_topic":"shop.public.orders","kafka_partition":0}`), Offset: json.RawMessage(`{"kafka_offset":1500}`)},
				{Partition: json.RawMessage(`{"kafka_topic":"shop.public.orders","kafka_partition":1}`), Offset: json.RawMessage(`null`)},
			}},
		},
		{
			name: "no offsets is an empty list",
			wire: []exchange{{method: "GET", uri: "/connectors/s3-sink/offsets", status: 200, body: `{"offsets":[]}`}},
			call: func(ctx context.Context, c *connect.Client) (any, error) { return c.Offsets(ctx, "s3-sink") },
			want: connect.ConnectorOffsets{Offsets: []connect.ConnectorOffset{}},
		},
		{
			name: "alter offsets sends nil offset as null",
			wire: []exchange{{method: "PATCH", uri: "/connectors/s3-sink/offsets",
				wantBody: `{"offsets":[{"partition":{"kafka_topic":"t","kafka_partition":0},"offset":{"kafka_offset":10}},{"partition":{"kafka_topic":"t","kafka_partition":1},"offset":null}]}`,
				status:   200, body: `{"message":"The Connect framework-managed offsets for this connector have been altered successfully."}`}},
			call: func(ctx context.Context, c *connect.Client) (any, error) {
				return c.AlterOffsets(ctx, "s3-sink", connect.ConnectorOffsets{Offsets: []connect.ConnectorOffset{
					{Partition: json.RawMessage(`{"kafka_topic":"t","kafka_partition":0}`), Offset: json.RawMessage(`{"kafka_offset":10}`)},
					{Partition: json.RawMessage(`{"kafka_topic":"t","kafka_partition":1}`)},
				}})
			},
			want: "The Connect framework-managed offsets for this connector have been altered successfully.",
		},
		{
			name: "reset offsets",
			wire: []exchange{{method: "DELETE", uri: "/connectors/pg-orders/offsets", status: 200, body: `{"message":"The offsets for this connector have been reset successfully"}`}},
			call: func(ctx context.Context, c *connect.Client) (any, error) { return c.ResetOffsets(ctx, "pg-orders") },
			want: "The offsets for this connector have been reset successfully",
		},
		{
			name: "plugins",
			wire: []exchange{{method: "GET", uri: "/connector-plugins", status: 200,
				body: `[{"class":"io.debezium.connector.postgresql.PostgresConnector","type":"source","version":"2.7.0.Final"},{"class":"org.apache.kafka.connect.mirror.MirrorSourceConnector","type":"source"}]`}},
			call: func(ctx context.Context, c *connect.Client) (any, error) { return c.Plugins(ctx) },
			want: []connect.PluginInfo{
				{Class: "io.debezium.connector.postgresql.PostgresConnector", Type: "source", Version: "2.7.0.Final"},
				{Class: "org.apache.kafka.connect.mirror.MirrorSourceConnector", Type: "source"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newScript(t, tt.wire...)
			got, err := tt.call(context.Background(), s.client(t))
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if tt.want == nil {
				return
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %s\nwant %s", show(got), show(tt.want))
			}
		})
	}
}

func show(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%#v", v)
	}
	return string(b)
}

// TestBasePathPrefix checks that a URL path prefix (a proxy mount point) is
// kept and that a trailing slash does not double.
func TestBasePathPrefix(t *testing.T) {
	s := newScript(t, exchange{method: "GET", uri: "/kafka-connect/connectors", status: 200, body: `[]`})
	c := s.client(t, func(cfg *connect.Config) { cfg.URL += "/kafka-connect/" })
	if _, err := c.ListConnectors(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestRefusedBeforeSending checks inputs refused locally: nothing reaches the
// server (the script expects no request).
func TestRefusedBeforeSending(t *testing.T) {
	s := newScript(t)
	c := s.client(t)
	ctx := context.Background()
	sinkPart := json.RawMessage(`{"kafka_topic":"t","kafka_partition":0}`)
	tests := []struct {
		name    string
		call    func() error
		wantErr string
	}{
		{"empty name", func() error { _, err := c.Status(ctx, " "); return err }, "connector name is empty"},
		{"empty name delete", func() error { return c.Delete(ctx, "") }, "connector name is empty"},
		{"no offsets", func() error { _, err := c.AlterOffsets(ctx, "x", connect.ConnectorOffsets{}); return err }, "no partitions given"},
		{"partition not an object", func() error {
			_, err := c.AlterOffsets(ctx, "x", connect.ConnectorOffsets{Offsets: []connect.ConnectorOffset{{Partition: json.RawMessage(`[1]`)}}})
			return err
		}, "offset 0: the partition must be a JSON object"},
		{"missing partition", func() error {
			_, err := c.AlterOffsets(ctx, "x", connect.ConnectorOffsets{Offsets: []connect.ConnectorOffset{{Offset: json.RawMessage(`{}`)}}})
			return err
		}, "the partition must be a JSON object, got nothing"},
		{"offset an array", func() error {
			_, err := c.AlterOffsets(ctx, "x", connect.ConnectorOffsets{Offsets: []connect.ConnectorOffset{{Partition: sinkPart, Offset: json.RawMessage(`[]`)}}})
			return err
		}, "offset 0: the offset must be a JSON object or null"},
		{"invalid json offset", func() error {
			_, err := c.AlterOffsets(ctx, "x", connect.ConnectorOffsets{Offsets: []connect.ConnectorOffset{{Partition: sinkPart, Offset: json.RawMessage(`{"a":}`)}}})
			return err
		}, "the offset must be a JSON object or null"},
		{"bad initial state", func() error {
			_, err := c.Create(ctx, connect.CreateRequest{Name: "x", InitialState: "STARTED"})
			return err
		}, `initial state "STARTED" is not one of RUNNING, PAUSED, STOPPED`},
		{"empty patch", func() error { _, err := c.PatchConfig(ctx, "x", nil); return err }, "the patch is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if err == nil || !contains(err.Error(), tt.wantErr) {
				t.Fatalf("error %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}
