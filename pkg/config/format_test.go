package config

import (
	"os"
	"path/filepath"
	"testing"
)

func TestFormat(t *testing.T) {
	src := []byte(`connect "prod" {
url="http://connect:8083"
    timeout   = "10s"
}
offsets "x" {
  connector=connector.a
  sink_partition {
      topic = "orders"
      partitions = [0,1]
      to_offset = 1
  }
}
`)
	got, diags := Format("main.hcl", src)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	goldens.Assert(t, "formatted", got)
	again, _ := Format("main.hcl", got)
	if string(again) != string(got) {
		t.Error("formatting is not idempotent")
	}

	if _, diags := Format("bad.hcl", []byte("connect \"prod\" {\n")); !diags.HasErrors() {
		t.Error("a file that does not parse was formatted")
	}
}

// TestValidFilesAreFormatted keeps the examples in canonical layout.
func TestValidFilesAreFormatted(t *testing.T) {
	files, _ := filepath.Glob("testdata/valid/*.hcl")
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		got, diags := Format(f, src)
		if diags.HasErrors() || string(got) != string(src) {
			t.Errorf("%s is not formatted (offsetctl fmt would change it)", f)
		}
	}
}
