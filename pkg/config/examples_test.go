package config

import (
	"bytes"
	"path/filepath"
	"testing"
)

// TestExamples validates every runbook scenario of examples/ as offsetctl
// validate does: without secrets or variable values.
func TestExamples(t *testing.T) {
	files, err := filepath.Glob("../../examples/*/*.hcl")
	if err != nil {
		t.Fatal(err)
	}
	dirs := map[string]bool{}
	for _, f := range files {
		dirs[filepath.Dir(f)] = true
	}
	if len(dirs) == 0 {
		t.Skip("no examples/*/*.hcl yet")
	}
	for dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			cfg, diags := Load(dir, Options{AllowUnknown: true})
			if diags.HasErrors() {
				var buf bytes.Buffer
				_ = WriteDiagnostics(&buf, cfg.Files, diags, 0, false)
				t.Errorf("examples/%s does not validate:\n%s", filepath.Base(dir), buf.String())
			}
		})
	}
}
