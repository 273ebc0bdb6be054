package config

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/hashicorp/hcl/v2"
)

func TestDecodePolicy(t *testing.T) {
	cfg, diags := LoadFiles("testdata/valid", []string{"policy.hcl"}, Options{Getenv: testGetenv})
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	if len(cfg.Policies) != 1 {
		t.Fatalf("policies = %d", len(cfg.Policies))
	}
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	i64 := func(n int64) *int64 { return &n }
	want := &Policy{Name: "platform", Description: "Guardrails of the data platform team",
		MaxRecordsSkipped: i64(1000), MaxRecordsReplayed: i64(5000000), AllowResnapshot: false, AllowSinkReset: false,
		AllowJumpToLatest: false, AllowTopicWrite: true, MaxRowsRepaired: i64(10000), MaxRowsDeleted: i64(100),
		Approvals: map[string]int{"replay": 1, "skip": 2, "resnapshot": 2},
		Windows: []*ChangeWindow{{Days: []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday},
			Start: 9 * 60, End: 17 * 60, Hours: "09:00-17:00", TimeZone: "Europe/Berlin", Location: berlin, Effect: WindowDeny, OverrideApprovals: 1}}}
	if d := cmp.Diff(want, cfg.Policies[0], cmpopts.IgnoreTypes(hcl.Range{}, map[string]hcl.Range{}), cmp.Comparer(func(a, b *time.Location) bool { return a.String() == b.String() })); d != "" {
		t.Errorf("policy (-want +got):\n%s", d)
	}
}

// A policy with nothing set bounds nothing: every class is allowed.
func TestPolicyDefaultsAllowEverything(t *testing.T) {
	cfg, diags := LoadSources("/cfg", map[string][]byte{"policy.hcl": []byte(`policy "empty" {}` + "\n")}, Options{})
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	p := cfg.Policies[0]
	if !p.AllowResnapshot || !p.AllowSinkReset || !p.AllowJumpToLatest || !p.AllowTopicWrite || p.MaxRecordsSkipped != nil || p.MaxRowsRepaired != nil || p.Approvals != nil {
		t.Errorf("empty policy = %+v", p)
	}
}

func TestChangeWindowContains(t *testing.T) {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	w := &ChangeWindow{Days: []time.Weekday{time.Monday, time.Friday}, Start: 9 * 60, End: 17 * 60, Location: berlin}
	for _, tc := range []struct {
		at   string
		want bool
	}{
		{"2026-11-20T08:00:00Z", true},  // Friday 09:00 in Berlin (CET)
		{"2026-11-20T07:59:00Z", false}, // 08:59
		{"2026-11-20T16:00:00Z", false}, // 17:00: the end is outside
		{"2026-11-20T15:59:00Z", true},  // 16:59
		{"2026-11-21T10:00:00Z", false}, // Saturday
		{"2026-07-03T07:30:00Z", true},  // Friday 09:30 in summer (CEST)
		{"2026-11-23T23:30:00Z", false}, // Tuesday 00:30 in Berlin, Monday in UTC
	} {
		at, _ := time.Parse(time.RFC3339, tc.at)
		if got := w.Contains(at); got != tc.want {
			t.Errorf("Contains(%s) = %v, want %v", tc.at, got, tc.want)
		}
	}
}

func TestParseHours(t *testing.T) {
	for _, tc := range []struct {
		in         string
		start, end int
		err        bool
	}{
		{"09:00-17:00", 540, 1020, false},
		{"00:00-24:00", 0, 1440, false},
		{"9:30 - 10:00", 570, 600, false},
		{"17:00-09:00", 0, 0, true},
		{"09:00", 0, 0, true},
		{"09:60-10:00", 0, 0, true},
		{"24:30-25:00", 0, 0, true},
	} {
		s, e, err := parseHours(tc.in)
		if (err != nil) != tc.err || (!tc.err && (s != tc.start || e != tc.end)) {
			t.Errorf("parseHours(%q) = %d, %d, %v", tc.in, s, e, err)
		}
	}
}

// Policies enter the configuration hash (apply refuses a plan made under
// another policy), and a configuration without one keeps its hash.
func TestPolicyInHash(t *testing.T) {
	base := map[string][]byte{"a.hcl": []byte("connect \"prod\" { url = \"http://connect:8083\" }\n")}
	a, _ := LoadSources("/cfg", base, Options{})
	with := map[string][]byte{"a.hcl": base["a.hcl"], "policy.hcl": []byte("policy \"p\" {\n  max_records_skipped = 10\n}\n")}
	b, diags := LoadSources("/cfg", with, Options{})
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	with["policy.hcl"] = []byte("policy \"p\" {\n  max_records_skipped = 11\n}\n")
	c, _ := LoadSources("/cfg", with, Options{})
	if a.Hash == b.Hash || b.Hash == c.Hash {
		t.Errorf("hashes: %s %s %s", a.Hash, b.Hash, c.Hash)
	}
}
