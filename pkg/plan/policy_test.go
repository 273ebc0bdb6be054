package plan

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/offsetctl/offsetctl/pkg/config"
	"github.com/offsetctl/offsetctl/pkg/offsets"
)

// planAt computes a plan from cfg and the fixture observations as
// Planner.Plan does (Compute, then the policies at the plan's time),
// without a network.
func planAt(t *testing.T, pl *Planner, cfg *config.Config, obs map[string]*ConnectorObservation, at time.Time) *Plan {
	t.Helper()
	in := Inputs{Connectors: obs, Validate: pl.validate, Notes: pl.notes, Direction: pl.direction}
	ops, checks := Compute(cfg, in)
	p := &Plan{OffsetctlVersion: "0.1.0-test", CreatedAt: at, ConfigHash: cfg.Hash, Operations: ops, Checks: checks}
	addrs := make([]string, 0, len(obs))
	for a := range obs {
		addrs = append(addrs, a)
	}
	sort.Strings(addrs)
	for _, a := range addrs {
		p.Connectors = append(p.Connectors, *obs[a])
	}
	policy, pc := evaluatePolicy(cfg.Policies, p.Operations, p.CreatedAt)
	p.Policy, p.Checks = policy, append(p.Checks, pc...)
	return p
}

func riskText(rs []Risk) string {
	var out []string
	for _, r := range rs {
		s := fmt.Sprintf("%s:%d", r.Class, r.Records)
		if r.Rows != nil {
			s += fmt.Sprintf(":%d/%d/%d", r.Rows.Insert, r.Rows.Update, r.Rows.Delete)
		}
		out = append(out, s)
	}
	return strings.Join(out, " ")
}

var friday1000Berlin = time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC) // 10:00 in Berlin, a Friday

func TestRiskClasses(t *testing.T) {
	pl := &Planner{Codecs: offsets.NewRegistry()}
	for _, tc := range []struct {
		name  string
		block string
		obs   func(map[string]*ConnectorObservation)
		want  string
	}{
		{name: "rewind replays", block: `connector = connector.sink
  sink_partition {
    topic      = "orders"
    partitions = [0]
    to_offset  = 1200
  }`, want: "replay:300"},
		{name: "skip", block: `connector = connector.sink
  sink_partition {
    topic      = "orders"
    partitions = [0]
    skip       = 1500
  }`, want: "skip:1"},
		{name: "to_latest jumps", block: `connector = connector.sink
  allow_skip_records = 100
  sink_partition {
    topic      = "orders"
    partitions = [0]
    to_latest  = true
  }`, want: "jump_to_latest:100"},
		{name: "to_offset at the log end is a bounded skip", block: `connector = connector.sink
  allow_skip_records = 100
  sink_partition {
    topic      = "orders"
    partitions = [0]
    to_offset  = 1600
  }`, want: "skip:100"},
		{name: "sink reset replays the retained log", block: `connector = connector.sink
  reset     = true
  acknowledge_resnapshot = true`, want: "sink_reset:1400"},
		{name: "source reset re-snapshots", block: `connector = connector.src
  reset     = true
  acknowledge_resnapshot = true`, want: "resnapshot:0"},
		{name: "no codec cannot tell", block: `connector = connector.src
  source_partition {
    partition = { server = "db1" }
    offset    = { lsn = 1, txId = 2 }
  }`, want: "unknown:0"},
		{name: "offsets topic write on an old worker", block: `connector = connector.src
  source_partition {
    partition = { server = "db1" }
    offset    = { lsn = 1, txId = 2 }
  }`, obs: func(o map[string]*ConnectorObservation) { o["connector.src"].WriteVia = MethodTopic },
			want: "unknown:0 topic_write:0"},
		{name: "debezium codec rewinds", block: `connector = connector.src
  source_partition {
    partition = { server = "db1" }
    offset    = { lsn = 36965936, txId = 649, ts_usec = 1718000000123456 }
  }`, obs: func(o map[string]*ConnectorObservation) { o["connector.src"].Codec = "debezium-postgres" },
			want: "replay:-1"},
		{name: "debezium codec skips forward", block: `connector = connector.src
  source_partition {
    partition = { server = "db1" }
    offset    = { lsn = 197500059720, txId = 812399, ts_usec = 1718000000123456 }
  }`, obs: func(o map[string]*ConnectorObservation) { o["connector.src"].Codec = "debezium-postgres" },
			want: "skip:-1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := loadConfig(t, "offsets \"op\" {\n  reason = \"INC-1\"\n  "+tc.block+"\n}\n")
			obs := observed()
			if tc.obs != nil {
				tc.obs(obs)
			}
			p := planAt(t, pl, cfg, obs, friday1000Berlin)
			op := p.Operations[0]
			if got := riskText(op.Risks); got != tc.want {
				t.Errorf("risks = %q, want %q (status %s, checks %v)", got, tc.want, op.Status, p.Checks)
			}
			if got := string(p.HighestRisk()); got != strings.SplitN(strings.SplitN(tc.want, " ", 2)[0], ":", 2)[0] && !strings.Contains(tc.want, " ") {
				t.Errorf("highest = %q", got)
			}
		})
	}
}

// The classes the language accepts in approvals are the planner's.
func TestRiskClassNamesMatchConfig(t *testing.T) {
	var names []string
	for _, c := range RiskClasses {
		names = append(names, string(c))
	}
	if strings.Join(names, ",") != strings.Join(config.RiskClasses, ",") {
		t.Fatalf("plan %v, config %v", names, config.RiskClasses)
	}
}

const platformPolicy = `
policy "platform" {
  max_records_skipped  = 10
  max_records_replayed = 1000
  allow_sink_reset     = false
  allow_resnapshot     = false
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
`

func TestPolicyAtPlanTime(t *testing.T) {
	pl := &Planner{Codecs: offsets.NewRegistry()}
	for _, tc := range []struct {
		name      string
		block     string
		at        time.Time
		status    OperationStatus
		codes     []string // policy checks, in order
		approvals int
	}{
		{name: "small replay needs one approval", block: `connector = connector.sink
  sink_partition {
    topic      = "orders"
    partitions = [0]
    to_offset  = 1200
  }`, at: friday1000Berlin, status: StatusChange, codes: []string{"policy_window", "policy_approvals"}, approvals: 1},
		{name: "replay over the bound", block: `connector = connector.sink
  sink_partition {
    topic      = "orders"
    partitions = [0]
    to_offset  = 100
  }`, at: friday1000Berlin, status: StatusBlocked, codes: []string{"policy_max_records_replayed", "policy_window", "policy_approvals"}, approvals: 1},
		{name: "skip needs two", block: `connector = connector.sink
  sink_partition {
    topic      = "orders"
    partitions = [0]
    skip       = 1500
  }`, at: friday1000Berlin.Add(10 * time.Hour), status: StatusChange, codes: []string{"policy_window", "policy_approvals"}, approvals: 2},
		{name: "to_latest refused twice", block: `connector = connector.sink
  allow_skip_records = 100
  sink_partition {
    topic      = "orders"
    partitions = [0]
    to_latest  = true
  }`, at: friday1000Berlin, status: StatusBlocked, codes: []string{"policy_max_records_skipped", "policy_jump_to_latest", "policy_window"}},
		{name: "sink reset refused", block: `connector = connector.sink
  reset     = true
  acknowledge_resnapshot = true`, at: friday1000Berlin, status: StatusBlocked, codes: []string{"policy_max_records_replayed", "policy_sink_reset", "policy_window"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := loadConfig(t, platformPolicy+"offsets \"op\" {\n  reason = \"INC-1\"\n  "+tc.block+"\n}\n")
			p := planAt(t, pl, cfg, observed(), tc.at)
			if p.Operations[0].Status != tc.status {
				t.Errorf("status = %s, want %s", p.Operations[0].Status, tc.status)
			}
			var codes []string
			for _, c := range p.Checks {
				if strings.HasPrefix(c.Code, "policy_") {
					codes = append(codes, c.Code)
				}
			}
			if strings.Join(codes, " ") != strings.Join(tc.codes, " ") {
				t.Errorf("policy checks = %v, want %v\n%v", codes, tc.codes, p.Checks)
			}
			if p.Policy == nil || p.Policy.Approvals != tc.approvals {
				t.Errorf("policy = %+v, want %d approvals", p.Policy, tc.approvals)
			}
			// Verify computes the same from the configuration.
			if err := pl.Verify(cfg, p, nil); err != nil {
				t.Errorf("Verify: %v", err)
			}
		})
	}
}

// A saved plan whose risk class, policy result or policy check was edited
// (and its hash recomputed) is not what the configuration makes.
func TestVerifyRefusesEditedRiskAndPolicy(t *testing.T) {
	pl := &Planner{Codecs: offsets.NewRegistry()}
	cfg := loadConfig(t, platformPolicy+`offsets "op" {
  reason = "INC-1"
  connector = connector.sink
  sink_partition {
    topic      = "orders"
    partitions = [0]
    skip       = 1500
  }
}
`)
	p := planAt(t, pl, cfg, observed(), friday1000Berlin)
	good, err := Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Read("plan.json", bytes.NewReader(good)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, from, to, want string
	}{
		{"risk class", `"class": "skip"`, `"class": "replay"`, "risks are [replay records=1 orders[0]:1] in the plan, the configuration makes [skip records=1 orders[0]:1]"},
		{"risk records", `"records": 1,`, `"records": 0,`, "risks are"},
		{"approvals", `"approvals_required": 2`, `"approvals_required": 0`, "the policy result is"},
		{"window verdict", `"code": "policy_window"`, `"code": "policy_windows"`, "the warning check policy_window"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(string(good), tc.from) {
				t.Fatalf("the plan has no %s", tc.from)
			}
			edited := rehash(t, strings.Replace(string(good), tc.from, tc.to, 1))
			back, err := Read("plan.json", strings.NewReader(edited))
			if err != nil {
				t.Fatal(err)
			}
			err = pl.Verify(cfg, back, nil)
			if !errors.Is(err, ErrNotFromConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Verify = %v, want ErrNotFromConfig containing %q", err, tc.want)
			}
		})
	}
}

func TestCheckPolicyAtApply(t *testing.T) {
	pl := &Planner{Codecs: offsets.NewRegistry()}
	replay := `offsets "op" {
  reason = "INC-1"
  connector = connector.sink
  sink_partition {
    topic      = "orders"
    partitions = [0]
    to_offset  = 1200
  }
}
`
	allowWindow := `
policy "hours" {
  approvals = { replay = 1 }
  change_window {
    days      = ["mon", "tue", "wed", "thu", "fri"]
    hours     = "09:00-17:00"
    time_zone = "Europe/Berlin"
    effect    = "allow"
    %s
  }
}
`
	inside := friday1000Berlin
	outside := friday1000Berlin.Add(10 * time.Hour) // 20:00 in Berlin
	for _, tc := range []struct {
		name      string
		policy    string
		at        time.Time
		override  string
		approvals int
		want      string // error text; "" for none
	}{
		{name: "inside the window", policy: fmt.Sprintf(allowWindow, "override_approvals = 2"), at: inside, approvals: 1},
		{name: "planned inside, applied outside", policy: fmt.Sprintf(allowWindow, "override_approvals = 2"), at: outside,
			want: "policy.hours: it is 2026-11-20T19:00:00Z, outside the change window mon,tue,wed,thu,fri 09:00-17:00 Europe/Berlin; nothing was changed: apply again at a time the window allows, or override it with -override-window REASON, which needs 2 signed approval(s)"},
		{name: "overridden outside", policy: fmt.Sprintf(allowWindow, "override_approvals = 2"), at: outside, override: "INC-1 cannot wait", approvals: 2},
		{name: "no override possible", policy: fmt.Sprintf(allowWindow, ""), at: outside, override: "please",
			want: "which cannot be overridden (no override_approvals)"},
		{name: "business hours denied", policy: platformPolicy, at: inside,
			want: "inside the denied window mon,tue,wed,thu,fri 09:00-17:00 Europe/Berlin"},
		{name: "business hours with approval", policy: platformPolicy, at: inside, override: "INC-1", approvals: 1},
		{name: "weekend", policy: platformPolicy, at: inside.Add(24 * time.Hour), approvals: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := loadConfig(t, tc.policy+replay)
			p := planAt(t, pl, cfg, observed(), inside)
			d, err := CheckPolicyAtApply(cfg, p, tc.at, tc.override)
			if tc.want != "" {
				if !errors.Is(err, ErrPolicy) || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("err = %v, want ErrPolicy containing %q", err, tc.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d.Approvals != tc.approvals {
				t.Errorf("approvals = %d, want %d (%v)", d.Approvals, tc.approvals, d.Because)
			}
			if tc.override != "" && (len(d.Overridden) != 1 || !strings.Contains(d.Overridden[0], tc.override)) {
				t.Errorf("overridden = %v", d.Overridden)
			}
		})
	}
}
