// Package golden compares rendered output with golden files kept under
// testdata/<TestName>/<case>.golden, and rewrites them when the test binary is
// run with -update.
//
// It is a test helper: import it only from _test.go files. The -update flag is
// registered by Flag, which a package's tests call once (usually from a
// package-level var), so that only test binaries that compare goldens know the
// flag; `make golden` runs exactly those packages.
package golden

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sergi/go-diff/diffmatchpatch"
)

// Updater holds the value of the -update flag of one test binary.
type Updater struct{ update *bool }

// Flag registers -update on the default flag set and returns the Updater that
// reads it. Call it once per test package:
//
//	var goldens = golden.Flag()
func Flag() *Updater {
	return &Updater{update: flag.Bool("update", false, "rewrite golden files with the current output")}
}

// Path returns the golden file for the running (sub)test and case name:
// testdata/<TestName>/<name>.golden, with the subtest path turned into folders.
func Path(t testing.TB, name string) string {
	t.Helper()
	return filepath.Join("testdata", filepath.FromSlash(t.Name()), name+".golden")
}

// Assert compares got with the golden file called name for the running test.
// With -update it writes got instead. A mismatch fails the test with a readable
// line diff.
func (u *Updater) Assert(t testing.TB, name string, got []byte) {
	t.Helper()
	path := Path(t, name)
	if u != nil && u.update != nil && *u.update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatalf("golden: %v", err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatalf("golden: %v", err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("golden: %v (run the test with -update to create it)", err)
	}
	if string(want) == string(got) {
		return
	}
	t.Errorf("output differs from %s (run with -update to accept):\n%s", path, Diff(string(want), string(got)))
}

// Diff returns a line diff of want and got, with - for lines only in want and
// + for lines only in got.
func Diff(want, got string) string {
	dmp := diffmatchpatch.New()
	a, b, lines := dmp.DiffLinesToChars(want, got)
	diffs := dmp.DiffCharsToLines(dmp.DiffMain(a, b, false), lines)
	var sb strings.Builder
	for _, d := range diffs {
		prefix := "  "
		switch d.Type {
		case diffmatchpatch.DiffDelete:
			prefix = "- "
		case diffmatchpatch.DiffInsert:
			prefix = "+ "
		}
		for _, line := range strings.SplitAfter(d.Text, "\n") {
			if line == "" {
				continue
			}
			sb.WriteString(prefix)
			sb.WriteString(line)
			if !strings.HasSuffix(line, "\n") {
				sb.WriteString("\n")
			}
		}
	}
	return sb.String()
}
