package plan_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/offsetctl/offsetctl/internal/sandbox"
	"github.com/offsetctl/offsetctl/pkg/config"
	"github.com/offsetctl/offsetctl/pkg/connect"
	"github.com/offsetctl/offsetctl/pkg/offsets"
	"github.com/offsetctl/offsetctl/pkg/plan"
)

// hazardWorld is a sandbox for one case of the hazard catalogue.
type hazardWorld struct {
	t  *testing.T
	sb *sandbox.Sandbox
	kc *kgo.Client
	c  *connect.Client
}

func newHazardWorld(t *testing.T, opts sandbox.Options) *hazardWorld {
	t.Helper()
	ctx := context.Background()
	sb, err := sandbox.Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sb.Close)
	kc, err := kgo.NewClient(kgo.SeedBrokers(sb.BootstrapServers()...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kc.Close)
	c, err := connect.New(connect.Config{URL: sb.ConnectURL()})
	if err != nil {
		t.Fatal(err)
	}
	return &hazardWorld{t: t, sb: sb, kc: kc, c: c}
}

// source creates an inert source connector in the given state.
func (w *hazardWorld) source(name string, state connect.State, extra map[string]string) {
	w.t.Helper()
	cfg := map[string]string{"connector.class": "io.confluent.connect.jdbc.JdbcSourceConnector", "tasks.max": "1"}
	for k, v := range extra {
		cfg[k] = v
	}
	ctx := context.Background()
	if _, err := w.c.Create(ctx, connect.CreateRequest{Name: name, Config: cfg}); err != nil {
		w.t.Fatal(err)
	}
	if state == connect.StateStopped { // created STOPPED is 3.7+; stop it
		if err := w.c.Stop(ctx, name); err != nil {
			w.t.Fatal(err)
		}
		if _, err := w.c.WaitForState(ctx, name, connect.StateStopped, connect.WaitOptions{Interval: 20 * time.Millisecond, Timeout: 20 * time.Second}); err != nil {
			w.t.Fatal(err)
		}
	}
}

// offset writes a source offset record into topic as a worker would, with
// the given timestamp (zero: now).
func (w *hazardWorld) offset(topic, connector, partition, offset string, at time.Time) {
	w.t.Helper()
	ctx := context.Background()
	snap, err := offsets.ReadTopic(ctx, w.kc, topic)
	if err != nil {
		w.t.Fatal(err)
	}
	key := offsets.EncodeKey(connector, mustMap(partition).JavaOrder())
	p, err := kgo.NewClient(kgo.SeedBrokers(w.sb.BootstrapServers()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		w.t.Fatal(err)
	}
	defer p.Close()
	r := &kgo.Record{Topic: topic, Partition: offsets.PartitionForKey(key, snap.Partitions), Key: key, Value: []byte(offset), Timestamp: at}
	if err := p.ProduceSync(ctx, r).FirstErr(); err != nil {
		w.t.Fatal(err)
	}
}

// waitConfig waits until the sandbox's config topic (written
// asynchronously, as a worker's is) shows what ok looks for.
func (w *hazardWorld) waitConfig(name string, ok func(h *offsets.ConnectorHistory) bool) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for {
		snap, err := offsets.ReadConfigTopic(ctx, w.kc, "")
		if err != nil {
			w.t.Fatal(err)
		}
		if h := snap.Connector(name); h != nil && ok(h) {
			return
		}
		select {
		case <-ctx.Done():
			w.t.Fatalf("the config topic never showed what the test waits for of %s", name)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// plan plans body (BROKER stands for the sandbox's broker) against the
// sandbox.
func (w *hazardWorld) plan(body string) *plan.Plan {
	w.t.Helper()
	dir := w.t.TempDir()
	head := fmt.Sprintf(`connect "sb" {
  url = %q
}
kafka "sb" {
  brokers = [%q]
}
`, w.sb.ConnectURL(), w.sb.BootstrapServers()[0])
	body = strings.ReplaceAll(body, "BROKER", w.sb.BootstrapServers()[0])
	if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(head+body), 0o644); err != nil {
		w.t.Fatal(err)
	}
	cfg, diags := config.Load(dir, config.Options{})
	if diags.HasErrors() {
		w.t.Fatalf("config: %s", diags.Error())
	}
	pl := &plan.Planner{Clients: &clients{kafka: w.kc}, Codecs: offsets.NewRegistry(), Version: "0.1.0-test", Now: time.Now}
	p, err := pl.Plan(context.Background(), cfg, plan.Options{})
	if err != nil {
		w.t.Fatalf("plan: %v", err)
	}
	return p
}

const hazardSourceHCL = `
connector "src" {
  connect = connect.sb
  kafka   = kafka.sb
  name    = "orders-source"
}
offsets "rewind" {
  connector = connector.src
  reason    = "test"
  source_partition {
    partition = { table = "orders" }
    offset    = { incrementing = 5 }
  }
}
`

const hazardSinkHCL = `
connector "sink" {
  connect = connect.sb
  kafka   = kafka.sb
  name    = "orders-sink"
}
offsets "rewind" {
  connector = connector.sink
  reason    = "test"
  sink_partition {
    topic      = "orders"
    partitions = [0]
    to_offset  = 1
  }
}
`

// TestHazardChecks plans against sandboxes that show each hazard of the
// catalogue handled here (and its harmless twin), and checks the verdict:
// the check's code and severity, and whether the operation is blocked.
func TestHazardChecks(t *testing.T) {
	long := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name  string
		opts  sandbox.Options
		setup func(w *hazardWorld)
		hcl   string
		code  string // "" : none of the hazard codes
		sev   plan.Severity
	}{
		{
			name: "exactly-once worker refuses topic mode",
			opts: sandbox.Options{ConnectVersion: "3.5", ExactlyOnceSource: true},
			setup: func(w *hazardWorld) {
				w.source("orders-source", "", nil)
				w.waitConfig("orders-source", func(h *offsets.ConnectorHistory) bool { return h.TaskCountRecord })
				w.offset(w.sb.OffsetsTopic(), "orders-source", `{"table":"orders"}`, `{"incrementing":9}`, time.Time{})
			},
			hcl: hazardSourceHCL, code: "exactly_once_topic_write", sev: plan.SeverityError,
		},
		{
			name: "no exactly-once worker, topic mode planned",
			opts: sandbox.Options{ConnectVersion: "3.5"},
			setup: func(w *hazardWorld) {
				w.source("orders-source", "", nil)
				w.waitConfig("orders-source", func(h *offsets.ConnectorHistory) bool { return !h.Created.IsZero() })
				w.offset(w.sb.OffsetsTopic(), "orders-source", `{"table":"orders"}`, `{"incrementing":9}`, time.Time{})
			},
			hcl: hazardSourceHCL,
		},
		{
			name: "own offsets topic on a 3.5 worker: read in Connect's order",
			opts: sandbox.Options{ConnectVersion: "3.5"},
			setup: func(w *hazardWorld) {
				w.source("orders-source", connect.StateStopped, map[string]string{"offsets.storage.topic": "orders-offsets"})
				if _, err := kadm.NewClient(w.kc).CreateTopic(context.Background(), 3, 1, nil, "orders-offsets"); err != nil {
					w.t.Fatal(err)
				}
				w.offset("orders-offsets", "orders-source", `{"table":"orders"}`, `{"incrementing":9}`, time.Time{})
			},
			hcl: hazardSourceHCL, code: "own_offsets_topic", sev: plan.SeverityWarning,
		},
		{
			name: "own offsets topic on a 3.8 worker: PATCH writes both",
			opts: sandbox.Options{ConnectVersion: "3.8"},
			setup: func(w *hazardWorld) {
				w.source("orders-source", connect.StateStopped, map[string]string{"offsets.storage.topic": "orders-offsets"})
			},
			hcl: hazardSourceHCL, code: "own_offsets_topic", sev: plan.SeverityOK,
		},
		{
			name: "offsets left by a deleted connector of the same name",
			opts: sandbox.Options{ConnectVersion: "3.5"},
			setup: func(w *hazardWorld) {
				w.offset(w.sb.OffsetsTopic(), "orders-source", `{"table":"orders"}`, `{"incrementing":9}`, long)
				w.source("orders-source", connect.StateStopped, nil)
				w.waitConfig("orders-source", func(h *offsets.ConnectorHistory) bool { return !h.Created.IsZero() })
			},
			hcl: hazardSourceHCL, code: "offsets_predate_connector", sev: plan.SeverityWarning,
		},
		{
			name: "offsets written by the connector itself",
			opts: sandbox.Options{ConnectVersion: "3.5"},
			setup: func(w *hazardWorld) {
				w.source("orders-source", connect.StateStopped, nil)
				w.waitConfig("orders-source", func(h *offsets.ConnectorHistory) bool { return !h.Created.IsZero() })
				w.offset(w.sb.OffsetsTopic(), "orders-source", `{"table":"orders"}`, `{"incrementing":9}`, time.Now().Add(time.Second))
			},
			hcl: hazardSourceHCL,
		},
		{
			name: "a source task still commits after STOPPED",
			opts: sandbox.Options{ConnectVersion: "3.5"},
			setup: func(w *hazardWorld) {
				w.source("orders-source", connect.StateStopped, nil)
				w.waitConfig("orders-source", func(h *offsets.ConnectorHistory) bool { return h.TargetState == "STOPPED" })
				// What a task on a worker that missed the stop writes, a
				// minute after it.
				w.offset(w.sb.OffsetsTopic(), "orders-source", `{"table":"orders"}`, `{"incrementing":9}`, time.Now().Add(time.Minute))
			},
			hcl: hazardSourceHCL, code: "zombie_tasks", sev: plan.SeverityError,
		},
		{
			name: "offsets left by a deleted connector of the same name, on a 3.8 worker",
			opts: sandbox.Options{ConnectVersion: "3.8"},
			setup: func(w *hazardWorld) {
				w.offset(w.sb.OffsetsTopic(), "orders-source", `{"table":"orders"}`, `{"incrementing":9}`, long)
				w.source("orders-source", connect.StateStopped, nil)
				w.waitConfig("orders-source", func(h *offsets.ConnectorHistory) bool { return !h.Created.IsZero() })
			},
			hcl: hazardSourceHCL, code: "offsets_predate_connector", sev: plan.SeverityWarning,
		},
		{
			name: "offsets written by the connector itself, on a 3.8 worker",
			opts: sandbox.Options{ConnectVersion: "3.8"},
			setup: func(w *hazardWorld) {
				w.source("orders-source", connect.StateStopped, nil)
				w.waitConfig("orders-source", func(h *offsets.ConnectorHistory) bool { return h.TargetState == "STOPPED" })
				w.offset(w.sb.OffsetsTopic(), "orders-source", `{"table":"orders"}`, `{"incrementing":9}`, time.Now().Add(time.Second))
			},
			hcl: hazardSourceHCL,
		},
		{
			name: "a source task still commits after STOPPED, on a 3.8 worker",
			opts: sandbox.Options{ConnectVersion: "3.8"},
			setup: func(w *hazardWorld) {
				w.source("orders-source", connect.StateStopped, nil)
				w.waitConfig("orders-source", func(h *offsets.ConnectorHistory) bool { return h.TargetState == "STOPPED" })
				w.offset(w.sb.OffsetsTopic(), "orders-source", `{"table":"orders"}`, `{"incrementing":9}`, time.Now().Add(time.Minute))
			},
			hcl: hazardSourceHCL, code: "zombie_tasks", sev: plan.SeverityError,
		},
		{
			name: "no kafka block on a 3.8 worker: the hazards are said unchecked",
			opts: sandbox.Options{ConnectVersion: "3.8"},
			setup: func(w *hazardWorld) {
				w.offset(w.sb.OffsetsTopic(), "orders-source", `{"table":"orders"}`, `{"incrementing":9}`, long)
				w.source("orders-source", connect.StateStopped, nil)
				w.waitConfig("orders-source", func(h *offsets.ConnectorHistory) bool { return !h.Created.IsZero() })
			},
			hcl: strings.Replace(hazardSourceHCL, "  kafka   = kafka.sb\n", "", 1), code: "hazards_unchecked", sev: plan.SeverityOK,
		},
		{
			name: "an offsets topic that cannot be read on a 3.8 worker: the hazards are said unchecked",
			opts: sandbox.Options{ConnectVersion: "3.8"},
			setup: func(w *hazardWorld) {
				w.source("orders-source", connect.StateStopped, nil)
			},
			hcl: `
kafka "missing" {
  brokers       = ["BROKER"]
  offsets_topic = "no-such-offsets"
}
` + strings.Replace(hazardSourceHCL, "kafka.sb", "kafka.missing", 1), code: "hazards_unchecked", sev: plan.SeverityWarning,
		},
		{
			name: "a sink group keeps a member after STOPPED",
			opts: sandbox.Options{ConnectVersion: "3.8"},
			setup: func(w *hazardWorld) {
				ctx := context.Background()
				if _, err := kadm.NewClient(w.kc).CreateTopic(ctx, 1, 1, nil, "orders"); err != nil {
					w.t.Fatal(err)
				}
				if _, err := w.c.Create(ctx, connect.CreateRequest{Name: "orders-sink", InitialState: connect.StateStopped,
					Config: map[string]string{"connector.class": "org.example.InertSink", "topics": "orders"}}); err != nil {
					w.t.Fatal(err)
				}
				// A consumer that missed the stop, in the connector's group.
				z, err := kgo.NewClient(kgo.SeedBrokers(w.sb.BootstrapServers()...), kgo.ConsumerGroup("connect-orders-sink"),
					kgo.ConsumeTopics("orders"), kgo.ClientID("connector-consumer-orders-sink-0"))
				if err != nil {
					w.t.Fatal(err)
				}
				w.t.Cleanup(z.Close)
				for {
					pctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
					z.PollFetches(pctx) // joins the group
					cancel()
					d, err := kadm.NewClient(w.kc).DescribeGroups(ctx, "connect-orders-sink")
					if err == nil && len(d["connect-orders-sink"].Members) > 0 {
						break
					}
				}
			},
			hcl: hazardSinkHCL, code: "zombie_tasks", sev: plan.SeverityError,
		},
	}
	hazardCodes := map[string]bool{"exactly_once_topic_write": true, "own_offsets_topic": true, "offsets_predate_connector": true, "zombie_tasks": true, "config_topic_unread": true, "hazards_unchecked": true}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newHazardWorld(t, tc.opts)
			tc.setup(w)
			p := w.plan(tc.hcl)
			var found []plan.Check
			for _, c := range p.Checks {
				if hazardCodes[c.Code] {
					found = append(found, c)
				}
			}
			if tc.code == "" {
				if len(found) > 0 {
					t.Fatalf("hazard checks where none is due: %+v", found)
				}
				if p.Operations[0].Status == plan.StatusBlocked {
					t.Fatalf("blocked: %+v", p.Checks)
				}
				return
			}
			if len(found) != 1 || found[0].Code != tc.code || found[0].Severity != tc.sev {
				t.Fatalf("hazard checks %+v, want one %s %s", found, tc.sev, tc.code)
			}
			t.Logf("%s %s: %s", found[0].Severity, found[0].Code, found[0].Message)
			blocked := p.Operations[0].Status == plan.StatusBlocked
			if blocked != (tc.sev == plan.SeverityError) {
				t.Fatalf("operation status %s with a %s check", p.Operations[0].Status, tc.sev)
			}
			if !strings.Contains(found[0].Message, "orders-") {
				t.Fatalf("the message does not name the connector: %s", found[0].Message)
			}
		})
	}
}
