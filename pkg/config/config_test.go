package config

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

// testEnv is the environment the test configurations see. The secrets are
// planted so that tests can check they never show.
var testEnv = map[string]string{
	"SOURCE_DATABASE_URL":    "postgres://app:src-s3cret@source.internal:5432/shop",
	"SINK_DATABASE_URL":      "postgres://app:sink-s3cret@sink.internal:5432/shop",
	"CONNECT_PASSWORD":       "connect-s3cret",
	"CONNECT_TOKEN":          "token-s3cret",
	"KAFKA_PASSWORD":         "kafka-s3cret",
	"STATE_DATABASE_URL":     "postgres://state:state-s3cret@state.internal/offsetctl",
	"OFFSETCTL_VAR_incident": "INC-42",
}

func testGetenv(k string) string { return testEnv[k] }

// TestValid loads every file of testdata/valid on its own: each must load
// without any diagnostic, warnings included.
func TestValid(t *testing.T) {
	files, err := filepath.Glob("testdata/valid/*.hcl")
	if err != nil || len(files) == 0 {
		t.Fatalf("no valid files: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			cfg, diags := LoadFiles("testdata/valid", []string{filepath.Base(f)}, Options{Getenv: testGetenv})
			if len(diags) > 0 {
				var buf bytes.Buffer
				_ = WriteDiagnostics(&buf, cfg.Files, diags, 0, false)
				t.Fatalf("unexpected diagnostics:\n%s", buf.String())
			}
			if cfg.Partial {
				t.Error("a fully supplied configuration is Partial")
			}
			if !strings.HasPrefix(cfg.Hash, "sha256:") || len(cfg.Hash) != len("sha256:")+64 {
				t.Errorf("Hash = %q", cfg.Hash)
			}
			for _, o := range cfg.Offsets {
				if o.Hash == "" || o.Kind == "" || o.Connector == nil {
					t.Errorf("%s: incomplete: kind %q hash %q connector %v", o.Addr(), o.Kind, o.Hash, o.Connector)
				}
			}
		})
	}
}

var errorMarker = regexp.MustCompile(`#\s*ERROR:\s*(.+?)\s*$`)

type wantDiag struct {
	line    int
	summary string
}

// TestErrorFiles loads each file of testdata/error-files. Every line marked
// with "# ERROR: <summary>" must get an error diagnostic with that summary,
// and no other error may appear.
func TestErrorFiles(t *testing.T) {
	files, err := filepath.Glob("testdata/error-files/*.hcl")
	if err != nil || len(files) == 0 {
		t.Fatalf("no error files: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var want []wantDiag
			sc := bufio.NewScanner(bytes.NewReader(src))
			for line := 1; sc.Scan(); line++ {
				if m := errorMarker.FindStringSubmatch(sc.Text()); m != nil {
					want = append(want, wantDiag{line, m[1]})
				}
			}
			if len(want) == 0 {
				t.Fatal("the file has no # ERROR: marker")
			}
			cfg, diags := LoadFiles("testdata/error-files", []string{filepath.Base(f)}, Options{Getenv: testGetenv})
			matched := map[*hcl.Diagnostic]bool{}
			for _, w := range want {
				found := false
				for _, d := range diags {
					if d.Severity == hcl.DiagError && d.Summary == w.summary && d.Subject != nil && d.Subject.Start.Line == w.line && !matched[d] {
						matched[d], found = true, true
						break
					}
				}
				if !found {
					t.Errorf("line %d: no error %q", w.line, w.summary)
				}
			}
			for _, d := range diags {
				if d.Severity == hcl.DiagError && !matched[d] {
					line := 0
					if d.Subject != nil {
						line = d.Subject.Start.Line
					}
					t.Errorf("unexpected error on line %d: %s: %s", line, d.Summary, d.Detail)
				}
			}
			if t.Failed() {
				var buf bytes.Buffer
				_ = WriteDiagnostics(&buf, cfg.Files, diags, 0, false)
				t.Logf("diagnostics:\n%s", buf.String())
			}
		})
	}
}

func TestLoadDirectoryErrors(t *testing.T) {
	for _, tt := range []struct{ dir, want string }{
		{"testdata/valid/design.hcl", "Not a directory"},
		{"testdata/nope", "Cannot read the configuration directory"},
		{"testdata", "No configuration files"},
	} {
		cfg, diags := Load(tt.dir, Options{})
		if cfg == nil || len(diags) != 1 || diags[0].Summary != tt.want {
			t.Errorf("Load(%s) = %v, want %q", tt.dir, diags, tt.want)
		}
	}
}

func TestLoadSources(t *testing.T) {
	cfg, diags := LoadSources("/etc/offsetctl", map[string][]byte{
		"b.hcl": []byte("connector \"c\" {\n  connect = connect.prod\n  name    = \"c\"\n}\n"),
		"a.hcl": []byte("connect \"prod\" { url = \"http://connect:8083\" }\n"),
	}, Options{})
	if len(diags) > 0 {
		t.Fatal(diags)
	}
	if c := cfg.Connector("c"); c == nil || c.Connect != cfg.Connect("prod") || c.DeclRange.Filename != "b.hcl" {
		t.Errorf("connector = %+v", c)
	}
	if cfg.Path("x.json") != "/etc/offsetctl/x.json" {
		t.Errorf("Path = %q", cfg.Path("x.json"))
	}
}

// require_reason defaults to true: a safety tool asks why unless told not
// to. Only require_reason = false lets a block go without a reason.
func TestRequireReasonDefaultsToTrue(t *testing.T) {
	const blocks = `connect "prod" { url = "http://connect:8083" }
connector "c" {
  connect = connect.prod
  name    = "c"
}
database "src" { url = "postgres://src" }
database "dst" { url = "postgres://dst" }
offsets "rewind" {
  connector = connector.c
  sink_partition {
    topic     = "orders"
    to_offset = 1
  }
}
reconcile "customers" {
  source = database.src
  sink   = database.dst
  table  = "public.customers"
  repair = "upsert"
}
`
	for _, tt := range []struct {
		name, settings string
		wantMissing    int
	}{
		{"no offsetctl block", "", 2},
		{"offsetctl block without require_reason", "offsetctl {\n  required_approvals = 1\n}\n", 2},
		{"require_reason = true", "offsetctl {\n  require_reason = true\n}\n", 2},
		{"require_reason = false", "offsetctl {\n  require_reason = false\n}\n", 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cfg, diags := LoadSources("/etc/offsetctl", map[string][]byte{"main.hcl": []byte(tt.settings + blocks)}, Options{})
			missing := 0
			for _, d := range diags {
				if d.Summary == "Missing reason" {
					missing++
				} else {
					t.Errorf("unexpected diagnostic: %s", d.Error())
				}
			}
			if missing != tt.wantMissing {
				t.Errorf("%d Missing reason diagnostics, want %d: %v", missing, tt.wantMissing, diags)
			}
			if cfg != nil && cfg.Settings.RequireReason != (tt.wantMissing > 0) {
				t.Errorf("Settings.RequireReason = %v", cfg.Settings.RequireReason)
			}
		})
	}
}
