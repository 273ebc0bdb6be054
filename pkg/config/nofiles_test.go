package config

import (
	"strings"
	"testing"
)

// TestNoConfigurationFilesSaysHowToPointAtThem: an empty directory names
// itself, quoted, and the flag that points elsewhere.
func TestNoConfigurationFilesSaysHowToPointAtThem(t *testing.T) {
	dir := t.TempDir()
	_, diags := Load(dir, Options{})
	if !diags.HasErrors() {
		t.Fatal("an empty directory loaded")
	}
	if d := diags[0].Detail; !strings.Contains(d, `"`+dir+`"`) || !strings.Contains(d, "-chdir DIR") {
		t.Fatalf("detail %q", d)
	}
}
