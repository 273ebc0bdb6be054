package plan_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/offsetctl/offsetctl/internal/golden"
	"github.com/offsetctl/offsetctl/internal/sandbox"
	"github.com/offsetctl/offsetctl/pkg/config"
	"github.com/offsetctl/offsetctl/pkg/connect"
	"github.com/offsetctl/offsetctl/pkg/offsets"
	"github.com/offsetctl/offsetctl/pkg/plan"
	"github.com/offsetctl/offsetctl/pkg/plan/render"
)

var goldens = golden.Flag()

// clients opens the sandbox's clusters for the planner.
type clients struct {
	kafka *kgo.Client
}

func (c *clients) Connect(b *config.Connect) (*connect.Client, error) {
	return connect.New(connect.Config{URL: b.URL})
}
func (c *clients) Kafka(*config.Kafka) (*kgo.Client, error) { return c.kafka, nil }

// base time of the records in the orders topic: record i of a partition
// has timestamp base + i minutes.
var base = time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)

// planWorld is a sandbox with deterministic offsets: an inert sink on a
// three-partition topic with committed offsets, and two stopped
// Debezium-PostgreSQL-shaped sources with fixed offsets.
type planWorld struct {
	sb      *sandbox.Sandbox
	kc      *kgo.Client
	c       *connect.Client
	backup  string
	hclHead string
}

func newPlanWorld(t *testing.T) *planWorld {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sb, err := sandbox.Start(ctx, sandbox.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sb.Close)
	kc, err := kgo.NewClient(kgo.SeedBrokers(sb.BootstrapServers()...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(kc.Close)
	adm := kadm.NewClient(kc)
	if _, err := adm.CreateTopic(ctx, 3, 1, nil, "orders"); err != nil {
		t.Fatal(err)
	}
	var recs []*kgo.Record
	for p := int32(0); p < 3; p++ {
		for i := 0; i < 100; i++ {
			recs = append(recs, &kgo.Record{Topic: "orders", Partition: p, Value: []byte(fmt.Sprintf(`{"id":%d}`, i)), Timestamp: base.Add(time.Duration(i) * time.Minute)})
		}
	}
	pc, err := kgo.NewClient(kgo.SeedBrokers(sb.BootstrapServers()...), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if err := pc.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	c, err := connect.New(connect.Config{URL: sb.ConnectURL()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Create(ctx, connect.CreateRequest{Name: "orders-sink", Config: map[string]string{"connector.class": "org.example.InertSink", "topics": "orders"}}); err != nil {
		t.Fatal(err)
	}
	commit := kadm.Offsets{}
	commit.AddOffset("orders", 0, 80, -1)
	commit.AddOffset("orders", 1, 90, -1)
	if _, err := adm.CommitOffsets(ctx, "connect-orders-sink", commit); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"inventory", "inventory-v2"} {
		if _, err := c.Create(ctx, connect.CreateRequest{Name: name, InitialState: connect.StateStopped,
			Config: map[string]string{"connector.class": sandbox.PostgresSourceClass, "topic.prefix": "dbserver1",
				"database.hostname": "db.invalid", "database.user": "debezium", "database.dbname": "inventory"}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.AlterOffsets(ctx, "inventory", connect.ConnectorOffsets{Offsets: []connect.ConnectorOffset{{
		Partition: []byte(`{"server":"dbserver1"}`),
		Offset:    []byte(`{"lsn":97500059720,"lsn_proc":97500059720,"lsn_commit":97500059720,"txId":812345,"ts_usec":1718000000123456,"messageType":"COMMIT"}`),
	}}}); err != nil {
		t.Fatal(err)
	}
	w := &planWorld{sb: sb, kc: kc, c: c}
	// A backup taken when the source was elsewhere.
	b := &offsets.Backup{OffsetctlVersion: "test", TakenAt: base, OffsetsTopic: sb.OffsetsTopic(), Connectors: []offsets.BackupConnector{
		offsets.SourceBackup("inventory", sandbox.PostgresSourceClass, []offsets.Record{{
			Key: []byte(`["inventory",{"server":"dbserver1"}]`), Connector: "inventory", Partition: mustMap(`{"server":"dbserver1"}`),
			Offset: mustMap(`{"lsn":97500000000,"lsn_proc":97500000000,"lsn_commit":97500000000,"txId":812300,"ts_usec":1717999000000000,"messageType":"COMMIT"}`),
		}}),
	}}
	w.backup = filepath.Join(t.TempDir(), "inventory-backup.json")
	if err := offsets.WriteBackup(w.backup, b); err != nil {
		t.Fatal(err)
	}
	w.hclHead = fmt.Sprintf(`connect "sandbox" {
  url = %q
}

kafka "sandbox" {
  brokers = [%q]
}

connector "orders_sink" {
  connect = connect.sandbox
  kafka   = kafka.sandbox
  name    = "orders-sink"
}

connector "inventory" {
  connect = connect.sandbox
  kafka   = kafka.sandbox
  name    = "inventory"
}

connector "inventory_v2" {
  connect = connect.sandbox
  kafka   = kafka.sandbox
  name    = "inventory-v2"
}
`, sb.ConnectURL(), sb.BootstrapServers()[0])
	return w
}

func mustMap(s string) offsets.Map {
	m, err := offsets.ParseMap([]byte(s))
	if err != nil {
		panic(err)
	}
	return m
}

func (w *planWorld) plan(t *testing.T, body string) *plan.Plan {
	t.Helper()
	p, _, _ := w.planWith(t, body)
	return p
}

// planWith plans body and returns the plan with the configuration and the
// planner that made it.
func (w *planWorld) planWith(t *testing.T, body string) (*plan.Plan, *config.Config, *plan.Planner) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(w.hclHead+body), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, diags := config.Load(dir, config.Options{})
	if diags.HasErrors() {
		t.Fatalf("config: %s", diags.Error())
	}
	pl := &plan.Planner{Clients: &clients{kafka: w.kc}, Codecs: offsets.NewRegistry(), Version: "0.1.0-test",
		Now: func() time.Time { return time.Date(2026, 11, 20, 14, 30, 0, 0, time.UTC) }}
	p, err := pl.Plan(context.Background(), cfg, plan.Options{State: plan.StateRef{Lineage: "9b2e61c0", Serial: 3}})
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	return p, cfg, pl
}

var hashRE = regexp.MustCompile(`sha256:[0-9a-f]{64}`)

// evidenceTimeRE matches the times of a connector's evidence, which are
// those of the sandbox's records (written when the test runs): a fixed
// time stands for them.
var evidenceTimeRE = regexp.MustCompile(`("(?:created|newest_offset|stopped_at)": )"[^"]*"`)

func (w *planWorld) normalize(s string) string {
	s = strings.ReplaceAll(s, w.sb.ConnectURL(), "http://CONNECT")
	s = strings.ReplaceAll(s, w.sb.ClusterID(), "CLUSTER")
	s = strings.ReplaceAll(s, w.backup, "BACKUP")
	s = evidenceTimeRE.ReplaceAllString(s, `$1"2000-01-01T00:00:00Z"`)
	return hashRE.ReplaceAllString(s, "sha256:HASH")
}

// TestPlanGoldens plans each kind of change against the sandbox and pins the
// three renderings.
func TestPlanGoldens(t *testing.T) {
	w := newPlanWorld(t)
	cases := []struct{ name, body string }{
		{"sink_rewind", `
offsets "replay_after_smt_fix" {
  connector = connector.orders_sink
  reason    = "INC-4711: the SMT dropped records"

  sink_partition {
    topic      = "orders"
    partitions = [0]
    to_offset  = 50
  }

  sink_partition {
    topic      = "orders"
    partitions = [1]
    shift_by   = -10
  }
}
`},
		{"sink_skip", `
offsets "skip_poison_pill" {
  connector = connector.orders_sink
  reason    = "INC-4712: record 80 of partition 0 cannot be parsed"

  sink_partition {
    topic      = "orders"
    partitions = [0]
    skip       = 80
  }
}
`},
		{"sink_to_latest", `
offsets "jump" {
  connector          = connector.orders_sink
  reason             = "test"
  allow_skip_records = 130

  sink_partition {
    topic     = "orders"
    to_latest = true
  }
}
`},
		// A platform team's policy over a pull request's plan: the Markdown
		// golden is what the PR comment shows.
		{"policy", `
policy "platform" {
  max_records_skipped  = 100
  allow_jump_to_latest = false
  approvals = {
    replay = 1
    skip   = 2
  }
  change_window {
    days               = ["mon", "tue", "wed", "thu", "fri"]
    hours              = "09:00-17:00"
    time_zone          = "Europe/Berlin"
    effect             = "deny"
    override_approvals = 1
  }
}

offsets "skip_poison_pill" {
  connector = connector.orders_sink
  reason    = "INC-4712: record 80 of partition 0 cannot be parsed"

  sink_partition {
    topic      = "orders"
    partitions = [0]
    skip       = 80
  }
}

offsets "jump" {
  connector          = connector.orders_sink
  reason             = "INC-4713: drop the backlog of partition 1"
  allow_skip_records = 10

  sink_partition {
    topic      = "orders"
    partitions = [1]
    to_latest  = true
  }
}
`},
		{"sink_to_timestamp", `
offsets "align_with_restored_sink" {
  connector = connector.orders_sink
  reason    = "the sink database was restored from the 10:30 backup"

  sink_partition {
    topic        = "orders"
    partitions   = [0, 1]
    to_timestamp = "2026-11-20T10:30:00Z"
  }
}
`},
		{"source_merge", `
offsets "rewind_inventory" {
  connector = connector.inventory
  reason    = "test"

  source_partition {
    partition = { server = "dbserver1" }
    offset    = { lsn = lsn("16/B3700000"), lsn_proc = lsn("16/B3700000"), lsn_commit = lsn("16/B3700000") }
    merge     = true
  }
}
`},
		{"source_restore", `
offsets "restore_inventory" {
  connector = connector.inventory
  reason    = "test"
  restore   = "BACKUP"
}
`},
		{"copy_from", `
offsets "move_inventory" {
  connector = connector.inventory_v2
  reason    = "test"
  copy_from = connector.inventory
}
`},
		{"source_reset", `
offsets "reset_inventory" {
  connector              = connector.inventory
  reason                 = "test"
  reset                  = true
  acknowledge_resnapshot = true
}
`},
		{"refused", `
offsets "too_far" {
  connector = connector.orders_sink
  reason    = "test"

  sink_partition {
    topic      = "orders"
    partitions = [0]
    to_offset  = 150
  }

  sink_partition {
    topic      = "orders"
    partitions = [2]
    skip       = 7
  }
}
`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, cfg, pl := w.planWith(t, strings.ReplaceAll(tc.body, "BACKUP", w.backup))
			// What the plan file records is enough to compute its
			// operations again from the configuration.
			data, err := plan.Marshal(p)
			if err != nil {
				t.Fatal(err)
			}
			p.Hash = "" // the renderings below are of a plan not saved
			back, err := plan.Read("plan.json", bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			if err := pl.Verify(cfg, back, nil); err != nil {
				t.Fatalf("Verify of the plan as saved: %v", err)
			}
			var txt, md, js strings.Builder
			if err := render.Text(&txt, p, render.Options{}); err != nil {
				t.Fatal(err)
			}
			if err := render.Markdown(&md, p, 0); err != nil {
				t.Fatal(err)
			}
			if err := render.JSON(&js, p); err != nil {
				t.Fatal(err)
			}
			goldens.Assert(t, "text", []byte(w.normalize(txt.String())))
			goldens.Assert(t, "markdown", []byte(w.normalize(md.String())))
			goldens.Assert(t, "json", []byte(w.normalize(js.String())))
		})
	}
}

// TestVerifyRefusesEditedPlans: a plan whose operations are not what the
// configuration makes of the plan's own observations is refused, naming the
// first difference; a plan from another configuration names both hashes.
func TestVerifyRefusesEditedPlans(t *testing.T) {
	w := newPlanWorld(t)
	body := `
offsets "replay" {
  connector = connector.orders_sink
  reason    = "INC-4711: the SMT dropped records"

  sink_partition {
    topic      = "orders"
    partitions = [0]
    to_offset  = 50
  }

  sink_partition {
    topic        = "orders"
    partitions   = [1]
    to_timestamp = "2026-11-20T10:30:00Z"
  }
}

offsets "rewind_inventory" {
  connector = connector.inventory
  reason    = "INC-4713: replay the inventory changes"

  source_partition {
    partition = { server = "dbserver1" }
    offset    = { lsn = lsn("16/B3700000"), lsn_proc = lsn("16/B3700000"), lsn_commit = lsn("16/B3700000") }
    merge     = true
  }
}

offsets "too_far" {
  connector = connector.orders_sink
  reason    = "INC-4714: beyond the log end"

  sink_partition {
    topic      = "orders"
    partitions = [2]
    to_offset  = 150
  }
}
`
	for _, tc := range []struct {
		name string
		edit func(p *plan.Plan)
		want string
	}{
		{"as planned", func(*plan.Plan) {}, ""},
		{"after offset", func(p *plan.Plan) { p.Operations[0].Changes[0].Sink.After = 55 },
			"offsets.replay: change 1 (orders[0]): after is 55 in the plan, the configuration makes 50"},
		{"after and counts", func(p *plan.Plan) {
			sc := p.Operations[0].Changes[0].Sink
			sc.After, sc.Replays = 70, 10
		}, "offsets.replay: change 1 (orders[0]): after is 70 in the plan, the configuration makes 50"},
		{"rollback", func(p *plan.Plan) { p.Operations[0].Changes[1].Sink.Rollback = 0 },
			"offsets.replay: change 2 (orders[1]): rollback is 0 in the plan, the configuration makes 90"},
		{"timestamp target", func(p *plan.Plan) {
			p.Operations[0].Changes[1].Sink.After = 20
		}, "offsets.replay: change 2 (orders[1]): after is 20 in the plan, the configuration makes 30"},
		{"source offset", func(p *plan.Plan) {
			m := mustMap(`{"lsn":1,"lsn_proc":1,"lsn_commit":1,"txId":812345,"ts_usec":1718000000123456,"messageType":"COMMIT"}`)
			p.Operations[1].Changes[0].Source.After = &m
		}, `offsets.rewind_inventory: change 1 (source partition {"server":"dbserver1"}): after is {"lsn":1,`},
		{"blocked made a change", func(p *plan.Plan) {
			p.Operations[2].Status = plan.StatusChange
			p.Checks = nil
		}, `offsets.too_far: status is change in the plan, the configuration makes blocked`},
		{"error check removed", func(p *plan.Plan) {
			var kept []plan.Check
			for _, c := range p.Checks {
				if c.Severity != plan.SeverityError {
					kept = append(kept, c)
				}
			}
			p.Checks = kept
		}, `offsets.too_far: the configuration makes the error check above_log_end`},
		{"reason", func(p *plan.Plan) { p.Operations[0].Reason = "INC-9999" },
			`offsets.replay: reason is "INC-9999" in the plan, the configuration makes "INC-4711: the SMT dropped records"`},
		{"operation added", func(p *plan.Plan) {
			op := p.Operations[0]
			op.Address, op.Name = "offsets.extra", "extra"
			p.Operations = append(p.Operations, op)
		}, "the plan holds operation offsets.extra, which the configuration does not make"},
		{"operation removed", func(p *plan.Plan) { p.Operations = p.Operations[1:] },
			"operation 1 of the plan is offsets.rewind_inventory, the configuration makes offsets.replay there"},
		{"change removed", func(p *plan.Plan) { p.Operations[0].Changes = p.Operations[0].Changes[:1] },
			"offsets.replay: the number of changes is 1 in the plan, the configuration makes 2"},
		{"another configuration", func(p *plan.Plan) { p.ConfigHash = "sha256:0123" },
			"the plan was made from configuration sha256:0123; the configuration now is sha256:"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, cfg, pl := w.planWith(t, body)
			tc.edit(p)
			data, err := plan.Marshal(p) // a hand edit recomputes the hash
			if err != nil {
				t.Fatal(err)
			}
			back, err := plan.Read("plan.json", bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			err = pl.Verify(cfg, back, nil)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Verify of the plan as made: %v", err)
			case tc.want == "":
			case err == nil || !strings.Contains(err.Error(), tc.want):
				t.Fatalf("Verify = %v, want an error containing %q", err, tc.want)
			case tc.name == "another configuration" && !errors.Is(err, plan.ErrConfigMismatch):
				t.Fatalf("not ErrConfigMismatch: %v", err)
			case tc.name != "another configuration" && !errors.Is(err, plan.ErrNotFromConfig):
				t.Fatalf("not ErrNotFromConfig: %v", err)
			}
		})
	}
}
