package config

import (
	"bytes"
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
