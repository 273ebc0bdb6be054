package config

import (
	"bytes"
	"fmt"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"

	"github.com/offsetctl/offsetctl/internal/golden"
)

var goldens = golden.Flag()

// TestDiagnosticText pins the rendered text of a few diagnostics: the
// summary, the file and line, the snippet with the offending range, and the
// detail.
func TestDiagnosticText(t *testing.T) {
	for _, name := range []string{"conflicting-targets", "reference-undeclared", "missing-reason", "to-latest-without-acknowledgement", "bad-lsn", "connect-url-password"} {
		t.Run(name, func(t *testing.T) {
			cfg, diags := LoadFiles("testdata/error-files", []string{name + ".hcl"}, Options{Getenv: testGetenv})
			var buf bytes.Buffer
			if err := WriteDiagnostics(&buf, cfg.Files, diags, 0, false); err != nil {
				t.Fatal(err)
			}
			goldens.Assert(t, "diagnostics", buf.Bytes())
		})
	}
}

// TestDiagnosticsHideVariableValues: HCL's writer would print "var.pw is
// ..." under a failed function call; a variable may be a secret.
func TestDiagnosticsHideVariableValues(t *testing.T) {
	dir := t.TempDir()
	src := `variable "pw" { default = "pw-s3cret" }
database "d" { url = "postgres://u:${var.pw}@h/${lsn(var.pw)}" }
`
	if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, diags := Load(dir, Options{})
	if !diags.HasErrors() {
		t.Fatal("no error")
	}
	var buf bytes.Buffer
	if err := WriteDiagnostics(&buf, cfg.Files, diags, 0, false); err != nil {
		t.Fatal(err)
	}
	// The snippet shows the source (var.pw), never the value; the detail of
	// lsn's error quotes its argument, which here is the secret: the test
	// pins that the writer adds no "var.pw is" line of its own.
	if strings.Contains(buf.String(), "var.pw is") || strings.Contains(buf.String(), "var.pw as") {
		t.Errorf("a variable value is printed:\n%s", buf.String())
	}
	if diags[0].Expression == nil {
		t.Error("the caller's diagnostics were changed")
	}
}

// TestDiagnosticsRedactPasswords: no password written in a file reaches a
// printed diagnostic, in its snippet or its message, whatever the
// diagnostic is about; the snippet keeps its lines and columns.
func TestDiagnosticsRedactPasswords(t *testing.T) {
	tests := []struct {
		name, src string
		wantLine  string // the snippet line, masked
	}{
		{"syntax error on the line", `database "d" { url = "postgres://app:hunter2-s3cret@db/shop" }}` + "\n",
			`database "d" { url = "postgres://app:**************@db/shop" }}`},
		{"decode error quoting the value", `connect "c" { url = "ftp://admin:hunter2-s3cret@connect:8083" }` + "\n",
			`connect "c" { url = "ftp://admin:**************@connect:8083" }`},
		{"libpq password keyword", `database "d" { url = "host=db password=hunter2-s3cret" }
database "d" { url = "host=db" }` + "\n",
			`database "d" { url = "host=db password=**************" }`},
		{"password of a query", `database "d" { url = "postgres://db/shop?password=hunter2-s3cret&sslmode=x" }
reconcile "r" {}` + "\n",
			`database "d" { url = "postgres://db/shop?password=**************&sslmode=x" }`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, diags := LoadSources(".", map[string][]byte{"main.hcl": []byte(tt.src)}, Options{})
			if len(diags) == 0 {
				t.Fatal("no diagnostics")
			}
			// A message that quotes the password, as a check might.
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Quoted", Detail: "The url is postgres://app:hunter2-s3cret@db/shop.", Subject: diags[0].Subject})
			var buf bytes.Buffer
			if err := WriteDiagnostics(&buf, cfg.Files, diags, 0, false); err != nil {
				t.Fatal(err)
			}
			out := buf.String()
			if strings.Contains(out, "hunter2") {
				t.Errorf("a password is printed:\n%s", out)
			}
			if !strings.Contains(out, tt.wantLine) {
				t.Errorf("no masked snippet line %q:\n%s", tt.wantLine, out)
			}
			if !strings.Contains(out, "The url is postgres://app:xxxxx@db/shop.") {
				t.Errorf("the message is not masked:\n%s", out)
			}
			if !bytes.Contains(cfg.Files["main.hcl"].Bytes, []byte("hunter2-s3cret")) {
				t.Error("the caller's files were changed")
			}
		})
	}
}

// TestLiteralPasswordWarning: a password written in a URL in a
// configuration file draws a warning (not an error) on that string; a
// password read from the environment or a variable does not.
func TestLiteralPasswordWarning(t *testing.T) {
	tests := []struct {
		name, src string
		wantLines []int
	}{
		{"literal url", `database "d" { url = "postgres://app:pw@db/shop" }`, []int{1}},
		{"literal part of a template", `variable "host" { default = "db" }
database "d" { url = "postgres://app:pw@${var.host}/shop" }`, []int{2}},
		{"variable default", `variable "u" { default = "postgres://app:pw@db/shop" }
database "d" { url = var.u }`, []int{1}},
		{"state block", `offsetctl {
  state "postgres" { url = "postgresql://app:pw@db/state" }
}`, []int{2}},
		{"libpq keyword", `database "d" { url = "host=db user=app password=pw dbname=shop" }`, []int{1}},
		{"from the environment", `database "d" { url = env("SINK_DATABASE_URL") }`, nil},
		{"password interpolated", `variable "pw" { default = "" }
database "d" { url = "postgres://app:${var.pw}@db/shop" }`, nil},
		{"user without password", `database "d" { url = "postgres://app@db/shop" }`, nil},
		{"password file", `database "d" { url = "postgres://app@db/shop?passfile=/etc/offsetctl/pgpass" }`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, diags := LoadSources(".", map[string][]byte{"main.hcl": []byte(tt.src + "\n")}, Options{Getenv: func(string) string { return "postgres://db/x" }})
			var lines []int
			for _, d := range diags {
				if d.Summary != "Password written in the configuration" {
					t.Errorf("unexpected diagnostic: %s: %s", d.Summary, d.Detail)
					continue
				}
				if d.Severity != hcl.DiagWarning {
					t.Errorf("severity %v, want a warning", d.Severity)
				}
				if !strings.Contains(d.Detail, `env("NAME")`) || !strings.Contains(d.Detail, "PGPASSWORD") || !strings.Contains(d.Detail, "pgpass") || strings.Contains(d.Detail, "pw@") {
					t.Errorf("detail: %s", d.Detail)
				}
				lines = append(lines, d.Subject.Start.Line)
			}
			if fmt.Sprint(lines) != fmt.Sprint(tt.wantLines) {
				t.Errorf("warnings on lines %v, want %v", lines, tt.wantLines)
			}
		})
	}
}

// TestImportsNoOffsetctlPackage holds the design's rule that config imports
// no client: it imports no package of this module but the leaf helpers
// below (standard library only, tested so in internal/archtest), so no
// client can come in transitively.
func TestImportsNoOffsetctlPackage(t *testing.T) {
	leaves := map[string]bool{
		"github.com/offsetctl/offsetctl/internal/redact": true,
		"github.com/offsetctl/offsetctl/internal/pglsn":  true,
	}
	files, _ := filepath.Glob("*.go")
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range af.Imports {
			if p := strings.Trim(imp.Path.Value, `"`); strings.HasPrefix(p, "github.com/offsetctl/offsetctl/") && !leaves[p] {
				t.Errorf("%s imports %s", f, p)
			}
		}
	}
}
