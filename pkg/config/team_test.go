package config

import (
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
