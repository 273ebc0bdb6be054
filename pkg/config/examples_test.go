package config

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestExamples validates every runbook scenario of examples/ as offsetctl
// validate does: without secrets or variable values. Examples that vanish
// (moved, renamed, a glob gone wrong) fail it: they are documentation the
// README points to, not an optional extra.
func TestExamples(t *testing.T) {
	dirs, err := exampleDirs("../../examples")
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range dirs {
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

// exampleDirs returns the scenario folders of root (each folder of it), and
// an error when there are none or a folder holds no *.hcl.
func exampleDirs(root string) ([]string, error) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("reading the examples: %w", err)
	}
	var dirs []string
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join(root, e.Name())
		files, err := filepath.Glob(filepath.Join(dir, "*.hcl"))
		if err != nil {
			return nil, err
		}
		if len(files) > 0 {
			dirs = append(dirs, dir)
			continue
		}
		// A folder that lays out a repository (examples/ci) keeps its
		// configurations one level down.
		nested, err := filepath.Glob(filepath.Join(dir, "*", "*.hcl"))
		if err != nil {
			return nil, err
		}
		if len(nested) == 0 {
			return nil, fmt.Errorf("%s holds no *.hcl, nor do its folders: every example folder is a configuration", dir)
		}
		seen := map[string]bool{}
		for _, f := range nested {
			if d := filepath.Dir(f); !seen[d] {
				seen[d] = true
				dirs = append(dirs, d)
			}
		}
	}
	if len(dirs) == 0 {
		return nil, fmt.Errorf("no example folders in %s: the examples are gone", root)
	}
	return dirs, nil
}

func TestExampleDirsRefusesNoExamples(t *testing.T) {
	empty := t.TempDir()
	noHCL := t.TempDir()
	if err := os.Mkdir(filepath.Join(noHCL, "skip-poison-pill"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, root string }{
		{"no folder", filepath.Join(empty, "nope")},
		{"empty folder", empty},
		{"a folder without hcl", noHCL},
	} {
		if dirs, err := exampleDirs(tc.root); err == nil {
			t.Errorf("%s: exampleDirs = %v, want an error", tc.name, dirs)
		}
	}
}
