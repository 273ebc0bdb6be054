package examples

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The state holds repairs' before-images (whole sink rows, personal data):
// no document may tell the operator to commit it, and the README says where
// the before-images live and who can read them.
func TestDocsKeepTheStateOutOfGit(t *testing.T) {
	root := ".."
	commitIt := regexp.MustCompile(`(?i)\bcommit (it|the state)\b`)
	var docs []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == ".cache" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(path, ".md") {
			docs = append(docs, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) < 5 {
		t.Fatalf("found only %d Markdown files under %s", len(docs), root)
	}
	for _, path := range docs {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, para := range strings.Split(string(b), "\n\n") {
			flat := strings.Join(strings.Fields(para), " ")
			if !strings.Contains(flat, "offsetctl.state.json") && !strings.Contains(strings.ToLower(flat), "state file") {
				continue
			}
			for _, m := range commitIt.FindAllStringIndex(flat, -1) {
				before := strings.ToLower(flat[max(0, m[0]-4):m[0]])
				if !strings.HasSuffix(before, "not ") {
					t.Errorf("%s tells the operator to commit the state, which holds row before-images:\n%s", path, flat)
				}
			}
		}
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	flat := strings.Join(strings.Fields(string(readme)), " ")
	for _, want := range []string{"The plan goes to git; the state does not.", "mode 0600", "`states` and `journal` tables", "grant nobody else `SELECT`"} {
		if !strings.Contains(flat, want) {
			t.Errorf("README.md lacks %q (where the before-images live and who can read them)", want)
		}
	}
}

// The CLI opens the databases of reconcile blocks itself: no README may say
// it cannot.
func TestDocsDoNotDenyTheCLIOpensDatabases(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("reconcile-customers", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	flat := strings.Join(strings.Fields(string(b)), " ")
	for _, stale := range []string{"opens these databases only once", "until then the test below"} {
		if strings.Contains(flat, stale) {
			t.Errorf("reconcile-customers/README.md still says %q: the CLI opens the databases (TestReconcileThroughTheCLI)", stale)
		}
	}
	if !strings.Contains(flat, "$ offsetctl plan -out customers.plan") {
		t.Errorf("reconcile-customers/README.md does not show the CLI run")
	}
}
