package config

import (
	"testing"

	"github.com/hashicorp/hcl/v2"
)

func TestVariablePrecedence(t *testing.T) {
	tests := []struct {
		name       string
		env        map[string]string
		varFiles   []string
		vars       []string
		wantA      string
		wantSource string
		wantB      int64
		wantLocal  string
	}{
		{name: "default", vars: []string{"password=x"}, wantA: "from default", wantSource: "default", wantB: 1, wantLocal: "from default/1/"},
		{name: "env over default", env: map[string]string{"OFFSETCTL_VAR_a": "from env", "OFFSETCTL_VAR_c": `["x", "y"]`}, vars: []string{"password=x"},
			wantA: "from env", wantSource: "env OFFSETCTL_VAR_a", wantB: 1, wantLocal: "from env/1/x,y"},
		{name: "var-file over env", env: map[string]string{"OFFSETCTL_VAR_a": "from env"}, varFiles: []string{"testdata/vars/first.vars"},
			wantA: "from first.vars", wantSource: "-var-file testdata/vars/first.vars", wantB: 1, wantLocal: "from first.vars/1/"},
		{name: "later var-file wins", varFiles: []string{"testdata/vars/first.vars", "testdata/vars/second.json"},
			wantA: "from second.json", wantSource: "-var-file testdata/vars/second.json", wantB: 2, wantLocal: "from second.json/2/"},
		{name: "var over var-file and env", env: map[string]string{"OFFSETCTL_VAR_a": "from env", "OFFSETCTL_VAR_b": "3"}, varFiles: []string{"testdata/vars/first.vars"},
			vars: []string{"a=from -var", "b=4"}, wantA: "from -var", wantSource: "-var", wantB: 4, wantLocal: "from -var/4/"},
		{name: "later var wins, value keeps its equals signs", varFiles: []string{"testdata/vars/first.vars"},
			vars: []string{"a=first", "a=second=2"}, wantA: "second=2", wantSource: "-var", wantB: 1, wantLocal: "second=2/1/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, diags := LoadFiles("testdata/vars", []string{"main.hcl"}, Options{
				Getenv:   func(k string) string { return tt.env[k] },
				VarFiles: tt.varFiles,
				Vars:     tt.vars,
			})
			if len(diags) > 0 {
				t.Fatalf("diagnostics: %v", diags)
			}
			a := cfg.Variable("a")
			if got := a.Value.AsString(); got != tt.wantA {
				t.Errorf("var.a = %q, want %q", got, tt.wantA)
			}
			if a.ValueSource != tt.wantSource {
				t.Errorf("var.a source = %q, want %q", a.ValueSource, tt.wantSource)
			}
			if got, _ := cfg.Variable("b").Value.AsBigFloat().Int64(); got != tt.wantB {
				t.Errorf("var.b = %d, want %d", got, tt.wantB)
			}
			if got := cfg.Locals["summary"].AsString(); got != tt.wantLocal {
				t.Errorf("local.summary = %q, want %q", got, tt.wantLocal)
			}
		})
	}
}

func TestVariableSecretSource(t *testing.T) {
	cfg, diags := LoadFiles("testdata/vars", []string{"main.hcl"}, Options{
		Getenv: func(k string) string { return map[string]string{"OFFSETCTL_VAR_password": "pw-from-env"}[k] },
	})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	pw := cfg.Connect("prod").BasicAuth.Password
	if pw.Value() != "pw-from-env" || pw.Source() != "variable password (env OFFSETCTL_VAR_password)" {
		t.Errorf("password = %q from %q", pw.Value(), pw.Source())
	}
}

func TestVariableErrors(t *testing.T) {
	tests := []struct {
		name        string
		opts        Options
		wantSummary string
		wantSev     hcl.DiagnosticSeverity
	}{
		{name: "missing value", opts: Options{}, wantSummary: "No value for required variable", wantSev: hcl.DiagError},
		{name: "undeclared -var", opts: Options{Vars: []string{"password=x", "pasword=y"}}, wantSummary: "Value for undeclared variable", wantSev: hcl.DiagError},
		{name: "not NAME=VALUE", opts: Options{Vars: []string{"password=x", "a"}}, wantSummary: "Invalid -var option", wantSev: hcl.DiagError},
		{name: "wrong type from -var", opts: Options{Vars: []string{"password=x", "b=many"}}, wantSummary: "Invalid value for variable", wantSev: hcl.DiagError},
		{name: "wrong type from env", opts: Options{Vars: []string{"password=x"}, Getenv: func(k string) string {
			return map[string]string{"OFFSETCTL_VAR_c": "not a list"}[k]
		}}, wantSummary: "Invalid value for variable", wantSev: hcl.DiagError},
		{name: "undeclared in var-file is a warning", opts: Options{VarFiles: []string{"testdata/vars/first.vars", "testdata/vars/undeclared.vars"}}, wantSummary: "Value for undeclared variable", wantSev: hcl.DiagWarning},
		{name: "missing var-file", opts: Options{Vars: []string{"password=x"}, VarFiles: []string{"testdata/vars/nope.vars"}}, wantSummary: "Cannot read a variables file", wantSev: hcl.DiagError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, diags := LoadFiles("testdata/vars", []string{"main.hcl"}, tt.opts)
			var found bool
			for _, d := range diags {
				if d.Summary == tt.wantSummary && d.Severity == tt.wantSev {
					found = true
				} else if d.Severity == hcl.DiagError {
					t.Errorf("unexpected error: %s: %s", d.Summary, d.Detail)
				}
			}
			if !found {
				t.Errorf("no %q among %v", tt.wantSummary, diags)
			}
		})
	}
}

func TestAllowUnknown(t *testing.T) {
	// Without inputs, validate mode loads the design example: the
	// unknown values leave their fields empty and the Config is Partial.
	cfg, diags := LoadFiles("testdata/valid", []string{"design.hcl"}, Options{AllowUnknown: true})
	if len(diags) > 0 {
		t.Fatalf("diagnostics: %v", diags)
	}
	if !cfg.Partial {
		t.Error("Partial = false, want true")
	}
	if v := cfg.Variable("incident"); v.Value.IsKnown() || v.ValueSource != "unset" {
		t.Errorf("var.incident = %#v from %q, want unknown", v.Value, v.ValueSource)
	}
	if !cfg.Database("source").URL.IsZero() {
		t.Error("an unset env() gave a value")
	}
	// Without AllowUnknown the same inputs are errors.
	_, diags = LoadFiles("testdata/valid", []string{"design.hcl"}, Options{})
	if !diags.HasErrors() {
		t.Error("no error without inputs")
	}
}

// TestAllowUnknownAcknowledgements: acknowledgements and reasons from
// variables without values are not reported missing by validate.
func TestAllowUnknownAcknowledgements(t *testing.T) {
	src := `offsetctl { require_reason = true }
variable "ack" { type = bool }
variable "why" { type = string }
connect "c" { url = "http://c:8083" }
connector "s" {
  connect = connect.c
  name    = "s"
}
offsets "reset" {
  connector              = connector.s
  reason                 = var.why
  reset                  = true
  acknowledge_resnapshot = var.ack
}
`
	cfg, diags := LoadSources(".", map[string][]byte{"main.hcl": []byte(src)}, Options{AllowUnknown: true})
	if len(diags) > 0 || !cfg.Partial {
		t.Fatalf("diagnostics %v, partial %v", diags, cfg.Partial)
	}
	_, diags = LoadSources(".", map[string][]byte{"main.hcl": []byte(src)}, Options{Vars: []string{"ack=false", "why="}})
	want := map[string]bool{"Missing reason": true, "Missing re-snapshot acknowledgement": true}
	for _, d := range diags {
		if !want[d.Summary] {
			t.Errorf("unexpected %s: %s", d.Summary, d.Detail)
		}
		delete(want, d.Summary)
	}
	if len(want) > 0 {
		t.Errorf("missing diagnostics: %v", want)
	}
}
