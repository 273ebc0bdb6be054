package render

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/offsetctl/offsetctl/internal/golden"
	"github.com/offsetctl/offsetctl/pkg/offsets"
	"github.com/offsetctl/offsetctl/pkg/plan"
)

var goldens = golden.Flag()

func m(s string) *offsets.Map {
	v, err := offsets.ParseMap([]byte(s))
	if err != nil {
		panic(err)
	}
	return &v
}

func base() *plan.Plan {
	return &plan.Plan{
		OffsetctlVersion: "0.1.0-test",
		CreatedAt:        time.Date(2026, 11, 20, 14, 30, 0, 0, time.UTC),
		ConfigHash:       "sha256:cfg",
		State:            plan.StateRef{Lineage: "9b2e61c0", Serial: 3},
		Connectors: []plan.ConnectorObservation{
			{Address: "connector.orders_sink", Name: "orders-jdbc-sink", Cluster: "prod", WorkerVersion: "3.8.0", Exists: true,
				Type: plan.Sink, State: "RUNNING", ReadVia: plan.MethodREST, WriteVia: plan.MethodREST},
			{Address: "connector.inventory", Name: "inventory-postgres-source", Cluster: "prod", WorkerVersion: "3.5.2", Exists: true,
				Type: plan.Source, State: "RUNNING", ReadVia: plan.MethodREST, WriteVia: plan.MethodTopic},
		},
	}
}

func sinkRewind() plan.Operation {
	return plan.Operation{Address: "offsets.replay_after_smt_fix", Name: "replay_after_smt_fix", Kind: plan.KindOffsets,
		Connector: "connector.orders_sink", Reason: "INC-4711: SMT dropped records between 10:00 and 10:40",
		Status: plan.StatusChange, Method: plan.MethodREST, AllowSkipRecords: -1,
		Changes: []plan.Change{
			{Action: plan.ActionUpdate, Sink: &plan.SinkChange{Topic: "dbserver1.public.orders", Partition: 0, Before: 15000, After: 12000, Rollback: 15000, LogStart: 0, LogEnd: 15020, Replays: 3000}},
			{Action: plan.ActionUpdate, Sink: &plan.SinkChange{Topic: "dbserver1.public.orders", Partition: 1, Before: 14800, After: 11900, Rollback: 14800, LogStart: 100, LogEnd: 14800, Replays: 2900}},
			{Action: plan.ActionNoOp, Sink: &plan.SinkChange{Topic: "dbserver1.public.orders", Partition: 2, Before: 12100, After: 12100, Rollback: 12100, LogStart: 0, LogEnd: 12100}},
		},
		Risks: []plan.Risk{{Class: plan.RiskReplay, Records: 5900, Partitions: []plan.RiskPartition{
			{Partition: "dbserver1.public.orders[0]", Records: 3000}, {Partition: "dbserver1.public.orders[1]", Records: 2900}}}}}
}

func skip() plan.Operation {
	return plan.Operation{Address: "offsets.skip_poison_pill", Name: "skip_poison_pill", Kind: plan.KindOffsets,
		Connector: "connector.orders_sink", Status: plan.StatusChange, Method: plan.MethodREST, AllowSkipRecords: 1,
		Changes: []plan.Change{{Action: plan.ActionUpdate, Sink: &plan.SinkChange{Topic: "dbserver1.public.orders", Partition: 3, Before: 99812, After: 99813, Rollback: 99812, LogEnd: 120000, Skips: 1}}},
		Risks:   []plan.Risk{{Class: plan.RiskSkip, Records: 1, Partitions: []plan.RiskPartition{{Partition: "dbserver1.public.orders[3]", Records: 1}}}}}
}

func sourceRewind() plan.Operation {
	return plan.Operation{Address: "offsets.rewind_inventory", Name: "rewind_inventory", Kind: plan.KindOffsets,
		Connector: "connector.inventory", Status: plan.StatusChange, Method: plan.MethodTopic, AllowSkipRecords: -1,
		Changes: []plan.Change{{Action: plan.ActionUpdate, Source: &plan.SourceChange{
			Partition: *m(`{"server":"dbserver1"}`),
			Before:    m(`{"lsn":97500059720,"lsn_proc":97500059720,"lsn_commit":97500059720,"txId":812345,"ts_usec":1718000000123456}`),
			After:     m(`{"lsn":36965936,"lsn_proc":36965936,"lsn_commit":36965936,"txId":649,"ts_usec":1718000000123456}`),
			Rollback:  m(`{"lsn":97500059720,"lsn_proc":97500059720,"lsn_commit":97500059720,"txId":812345,"ts_usec":1718000000123456}`),
		}}},
		Risks: []plan.Risk{
			{Class: plan.RiskReplay, Records: -1, Partitions: []plan.RiskPartition{{Partition: `{"server":"dbserver1"}`, Records: -1}}},
			{Class: plan.RiskTopicWrite, Partitions: []plan.RiskPartition{{Partition: `{"server":"dbserver1"}`}}},
		}}
}

func sourceReset() plan.Operation {
	return plan.Operation{Address: "offsets.reset_inventory", Name: "reset_inventory", Kind: plan.KindOffsets,
		Connector: "connector.inventory", Status: plan.StatusChange, Method: plan.MethodTopic, AllowSkipRecords: -1,
		Changes: []plan.Change{{Action: plan.ActionDelete, Source: &plan.SourceChange{
			Partition: *m(`{"server":"dbserver1"}`), Before: m(`{"lsn":97500059720,"txId":812345}`), Rollback: m(`{"lsn":97500059720,"txId":812345}`)}}},
		Risks: []plan.Risk{
			{Class: plan.RiskResnapshot, Partitions: []plan.RiskPartition{{Partition: `{"server":"dbserver1"}`}}},
			{Class: plan.RiskTopicWrite, Partitions: []plan.RiskPartition{{Partition: `{"server":"dbserver1"}`}}},
		}}
}

// toLatest jumps a sink partition to the log end.
func toLatest() plan.Operation {
	return plan.Operation{Address: "offsets.drop_backlog", Name: "drop_backlog", Kind: plan.KindOffsets,
		Connector: "connector.orders_sink", Reason: "INC-4800: the backlog is obsolete", Status: plan.StatusChange, Method: plan.MethodREST, AllowSkipRecords: 20000,
		Changes: []plan.Change{{Action: plan.ActionUpdate, Sink: &plan.SinkChange{Topic: "dbserver1.public.orders", Partition: 4, Before: 100000, After: 118000, Rollback: 100000, LogEnd: 118000, Skips: 18000}}},
		Risks:   []plan.Risk{{Class: plan.RiskJumpToLatest, Records: 18000, Partitions: []plan.RiskPartition{{Partition: "dbserver1.public.orders[4]", Records: 18000}}}}}
}

func TestRenderings(t *testing.T) {
	cases := map[string]func(p *plan.Plan){
		"sink_rewind":   func(p *plan.Plan) { p.Operations = []plan.Operation{sinkRewind()} },
		"sink_skip":     func(p *plan.Plan) { p.Operations = []plan.Operation{skip()} },
		"source_rewind": func(p *plan.Plan) { p.Operations = []plan.Operation{sourceRewind()} },
		"source_reset": func(p *plan.Plan) {
			p.Operations = []plan.Operation{sourceReset()}
			p.Checks = []plan.Check{{Severity: plan.SeverityWarning, Code: "resnapshot", Operation: "offsets.reset_inventory", Message: "deleting the offsets makes Debezium take a new snapshot (snapshot.mode=initial)"}}
		},
		"already_applied": func(p *plan.Plan) {
			op := sinkRewind()
			op.Status, op.AppliedSerial, op.Changes = plan.StatusAlreadyApplied, 2, nil
			p.Operations = []plan.Operation{op}
		},
		"errors": func(p *plan.Plan) {
			op := skip()
			op.Status = plan.StatusBlocked
			p.Operations = []plan.Operation{op}
			p.Checks = []plan.Check{
				{Severity: plan.SeverityOK, Code: "connector_exists", Message: "connector orders-jdbc-sink exists"},
				{Severity: plan.SeverityError, Code: "skip_precondition", Operation: "offsets.skip_poison_pill", Message: "skip = 99812 expects the committed offset of dbserver1.public.orders[3] to be 99812, but it is 99815"},
			}
		},
		// What a pull request shows under a platform team's policy: risk
		// classes, the approvals they need, a bound broken, the window.
		"policy": func(p *plan.Plan) {
			blocked := toLatest()
			blocked.Status = plan.StatusBlocked
			p.Operations = []plan.Operation{sinkRewind(), skip(), blocked}
			p.Policy = &plan.PolicyResult{Policies: []string{"policy.platform"}, Approvals: 2, Because: []string{
				"policy.platform asks 1 for replay (offsets.replay_after_smt_fix)",
				"policy.platform asks 2 for skip (offsets.skip_poison_pill)",
				"policy.platform asks 2 for jump_to_latest (offsets.drop_backlog)"}}
			p.Checks = []plan.Check{
				{Severity: plan.SeverityError, Code: "policy_max_records_skipped", Operation: "offsets.drop_backlog", Message: "policy.platform allows at most 1,000 skipped records per operation (max_records_skipped), and this operation skips 18,000: skip fewer, split the operation, or ask the policy's owners"},
				{Severity: plan.SeverityError, Code: "policy_jump_to_latest", Operation: "offsets.drop_backlog", Message: "policy.platform does not allow jump_to_latest changes (allow_jump_to_latest = false): jump_to_latest: 18,000 records skipped to the log end on 1 partition; an unbounded data gap if the log end moves"},
				{Severity: plan.SeverityWarning, Code: "policy_window", Message: "policy.platform: the plan was made at 2026-11-20T14:30:00Z, inside the denied window mon,tue,wed,thu,fri 09:00-17:00 Europe/Berlin; apply refuses at such a time unless overridden with apply -override-window REASON, which needs 1 signed approval(s)"},
				{Severity: plan.SeverityWarning, Code: "policy_approvals", Message: "apply needs 2 signed approval(s) by policy: policy.platform asks 1 for replay (offsets.replay_after_smt_fix); policy.platform asks 2 for skip (offsets.skip_poison_pill); policy.platform asks 2 for jump_to_latest (offsets.drop_backlog)"},
			}
		},
		"mixed": func(p *plan.Plan) {
			p.Operations = []plan.Operation{sinkRewind(), skip(), sourceRewind()}
			p.Checks = []plan.Check{{Severity: plan.SeverityWarning, Code: "pg_slot", Operation: "offsets.rewind_inventory", Message: "0/2340730 is below the replication slot's confirmed_flush_lsn 16/B374D848: PostgreSQL will not resend it"}}
		},
	}
	for name, build := range cases {
		t.Run(name, func(t *testing.T) {
			p := base()
			build(p)
			var txt, md, js bytes.Buffer
			if err := Text(&txt, p, Options{}); err != nil {
				t.Fatal(err)
			}
			if err := Markdown(&md, p, 0); err != nil {
				t.Fatal(err)
			}
			if err := JSON(&js, p); err != nil {
				t.Fatal(err)
			}
			goldens.Assert(t, "text", txt.Bytes())
			goldens.Assert(t, "markdown", md.Bytes())
			goldens.Assert(t, "json", js.Bytes())
		})
	}
}

func TestMarkdownTruncatesHonestly(t *testing.T) {
	p := base()
	for i := 0; i < 400; i++ {
		op := sinkRewind()
		op.Address = fmt.Sprintf("offsets.replay_%03d", i)
		op.Name = fmt.Sprintf("replay_%03d", i)
		p.Operations = append(p.Operations, op)
	}
	var md bytes.Buffer
	if err := Markdown(&md, p, 0); err != nil {
		t.Fatal(err)
	}
	if md.Len() >= MarkdownLimit {
		t.Fatalf("markdown is %d characters, over the limit", md.Len())
	}
	if !strings.Contains(md.String(), "are not shown") || !strings.Contains(md.String(), "offsetctl show") {
		t.Fatal("no truncation note")
	}
	if !strings.Contains(md.String(), "Rollback plan") {
		t.Fatal("the rollback section was dropped")
	}
}

func TestColorOnlyWhenAsked(t *testing.T) {
	p := base()
	p.Operations = []plan.Operation{skip()}
	var plain, color bytes.Buffer
	_ = Text(&plain, p, Options{})
	_ = Text(&color, p, Options{Color: true})
	if strings.Contains(plain.String(), "\x1b[") || !strings.Contains(color.String(), "\x1b[") {
		t.Fatal("colour escapes wrong")
	}
}

// Source offsets show as their connector's codec shows them: a Debezium
// PostgreSQL LSN as X/Y (with its decimal value) in text and Markdown; the
// JSON rendering, like the plan file, keeps the exact number.
func TestSourceOffsetsShowAsTheCodecShowsThem(t *testing.T) {
	for _, tc := range []struct {
		codec    string
		want     []string // in text and Markdown
		wantJSON string
	}{
		{codec: "debezium-postgres", want: []string{`"lsn": 0/1000000 (16,777,216)`, `"lsn": 16/B374D848 (97,500,059,720)`, `"txId": 812345`},
			wantJSON: `"lsn": 16777216`},
		{codec: "generic", want: []string{`"lsn": 16777216`, `"lsn": 97500059720`}, wantJSON: `"lsn": 16777216`},
	} {
		t.Run(tc.codec, func(t *testing.T) {
			p := base()
			p.Connectors[1].Codec = tc.codec
			op := sourceRewind()
			op.Changes[0].Source.After = m(`{"lsn":16777216,"lsn_proc":16777216,"lsn_commit":16777216,"txId":649,"ts_usec":1718000000123456}`)
			p.Operations = []plan.Operation{op}
			var txt, md, js bytes.Buffer
			if err := Text(&txt, p, Options{}); err != nil {
				t.Fatal(err)
			}
			if err := Markdown(&md, p, 0); err != nil {
				t.Fatal(err)
			}
			if err := JSON(&js, p); err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(txt.String(), w) {
					t.Errorf("text lacks %q:\n%s", w, txt.String())
				}
				if !strings.Contains(md.String(), w) {
					t.Errorf("Markdown lacks %q:\n%s", w, md.String())
				}
			}
			if !strings.Contains(js.String(), tc.wantJSON) {
				t.Errorf("JSON lacks the exact %q:\n%s", tc.wantJSON, js.String())
			}
		})
	}
}
