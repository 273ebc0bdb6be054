package config

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoad feeds arbitrary text to the decoder: it must return
// diagnostics, never panic. The corpus is every test configuration.
func FuzzLoad(f *testing.F) {
	for _, pattern := range []string{"testdata/valid/*.hcl", "testdata/error-files/*.hcl", "testdata/vars/*.hcl"} {
		files, _ := filepath.Glob(pattern)
		for _, name := range files {
			src, err := os.ReadFile(name)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(string(src))
		}
	}
	f.Add(`connect "a" { url = "http://c:1" }
connector "b" {
  connect = connect["a"]
  name    = var["x"]
}
offsets "o" {
  connector = connector.b.c
  copy_from = connector
}`)
	f.Fuzz(func(t *testing.T, src string) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, allowUnknown := range []bool{false, true} {
			cfg, _ := Load(dir, Options{Getenv: testGetenv, AllowUnknown: allowUnknown})
			if cfg == nil {
				t.Fatal("nil Config")
			}
		}
	})
}
