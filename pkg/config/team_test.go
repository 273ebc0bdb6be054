package config

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// plan_max_age: how old a reviewed plan apply accepts; 24 h unless set.
func TestPlanMaxAge(t *testing.T) {
	for _, tt := range []struct {
		name, settings string
		want           time.Duration
		diag           string // the one diagnostic's summary, "" for none
	}{
		{"default", "", 24 * time.Hour, ""},
		{"offsetctl block without it", "offsetctl {\n  required_approvals = 1\n}\n", 24 * time.Hour, ""},
		{"set", "offsetctl {\n  plan_max_age = \"90m\"\n}\n", 90 * time.Minute, ""},
		{"not a duration", "offsetctl {\n  plan_max_age = \"a day\"\n}\n", 0, "Invalid duration"},
		{"negative", "offsetctl {\n  plan_max_age = \"-1h\"\n}\n", 0, "Invalid duration"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg, diags := LoadSources("/etc/offsetctl", map[string][]byte{"main.hcl": []byte(tt.settings + `connect "prod" { url = "http://connect:8083" }`)}, Options{})
			if tt.diag != "" {
				if len(diags) != 1 || diags[0].Summary != tt.diag || !strings.Contains(diags[0].Error(), "plan_max_age") {
					t.Fatalf("diagnostics %v, want one %q naming plan_max_age", diags, tt.diag)
				}
				return
			}
			if len(diags) > 0 {
				t.Fatal(diags)
			}
			if got := cfg.Settings.MaxPlanAge(); got != tt.want {
				t.Errorf("MaxPlanAge() = %s, want %s", got, tt.want)
			}
		})
	}
	// Setting it changes the configuration's hash (a plan records it);
	// leaving it out keeps the hash of configurations made before it.
	load := func(src string) string {
		cfg, diags := LoadSources("/etc/offsetctl", map[string][]byte{"main.hcl": []byte(src + `connect "prod" { url = "http://connect:8083" }`)}, Options{})
		if len(diags) > 0 {
			t.Fatal(diags)
		}
		return cfg.Hash
	}
	if load("") == load("offsetctl {\n  plan_max_age = \"1h\"\n}\n") {
		t.Error("plan_max_age does not enter the configuration's hash")
	}
	if load("") != load("offsetctl {\n  require_reason = true\n}\n") {
		t.Error("an offsetctl block with defaults changes the configuration's hash")
	}
}

// tolerance = { replays = N, skips = N }: how far the risk may grow between
// the reviewed plan and apply.
func TestTolerance(t *testing.T) {
	const head = `connect "prod" { url = "http://connect:8083" }
connector "c" {
  connect = connect.prod
  name    = "c"
}
offsets "rewind" {
  connector = connector.c
  reason    = "INC-1"
`
	const tail = `  sink_partition {
    topic     = "orders"
    to_offset = 1
  }
}
`
	n := func(v int64) *int64 { return &v }
	for _, tt := range []struct {
		name, attr string
		want       *Tolerance
		diag       string // in the diagnostic's detail, "" for none
	}{
		{"not given", "", nil, ""},
		{"both", "  tolerance = { replays = 1000, skips = 0 }\n", &Tolerance{Replays: n(1000), Skips: n(0)}, ""},
		{"replays only", "  tolerance = { replays = 5 }\n", &Tolerance{Replays: n(5)}, ""},
		{"empty", "  tolerance = {}\n", &Tolerance{}, ""},
		{"unknown key", "  tolerance = { replay = 5 }\n", nil, `tolerance has no "replay": it takes replays and skips (whole numbers of records). Did you mean "replays"?`},
		{"negative", "  tolerance = { skips = -1 }\n", nil, `"tolerance.skips" must be a whole number of at least 0`},
		{"not a number", "  tolerance = { skips = \"all\" }\n", nil, "tolerance.skips must be a whole number"},
		{"not an object", "  tolerance = 5\n", nil, "tolerance is an object"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg, diags := LoadSources("/etc/offsetctl", map[string][]byte{"main.hcl": []byte(head + tt.attr + tail)}, Options{})
			if tt.diag != "" {
				if len(diags) != 1 || !strings.Contains(diags[0].Error(), tt.diag) {
					t.Fatalf("diagnostics %v, want one with %q", diags, tt.diag)
				}
				return
			}
			if len(diags) > 0 {
				t.Fatal(diags)
			}
			got := cfg.Offsets[0].Tolerance
			str := func(t *Tolerance) string {
				if t == nil {
					return "nil"
				}
				f := func(p *int64) string {
					if p == nil {
						return "default"
					}
					return fmt.Sprint(*p)
				}
				return f(t.Replays) + "/" + f(t.Skips)
			}
			if str(got) != str(tt.want) {
				t.Errorf("Tolerance = %s, want %s", str(got), str(tt.want))
			}
		})
	}
}
