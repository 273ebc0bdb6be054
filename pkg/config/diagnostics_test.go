package config

import (
	"bytes"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/offsetctl/offsetctl/internal/golden"
)

var goldens = golden.Flag()

// TestDiagnosticText pins the rendered text of a few diagnostics: the
// summary, the file and line, the snippet with the offending range, and the
// detail.
func TestDiagnosticText(t *testing.T) {
	for _, name := range []string{"conflicting-targets", "reference-undeclared", "missing-reason", "to-latest-without-acknowledgement", "bad-lsn"} {
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

// TestImportsNoOffsetctlPackage holds the design's rule that config imports
// no client: it imports no package of this module at all, so no client can
// come in transitively.
func TestImportsNoOffsetctlPackage(t *testing.T) {
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
			if p := strings.Trim(imp.Path.Value, `"`); strings.HasPrefix(p, "github.com/offsetctl/offsetctl/") {
				t.Errorf("%s imports %s", f, p)
			}
		}
	}
}
