package archtest

import (
	"os/exec"
	"strings"
	"testing"
)

const mod = "github.com/offsetctl/offsetctl/"

func deps(t *testing.T, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", mod+pkg).Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", pkg, err)
	}
	var own []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if strings.HasPrefix(l, mod) && l != mod+pkg {
			own = append(own, strings.TrimPrefix(l, mod))
		}
	}
	return own
}

func TestDependencyRules(t *testing.T) {
	for _, tc := range []struct {
		pkg       string
		forbidden []string
	}{
		{"pkg/config", []string{"pkg/connect", "pkg/offsets", "pkg/reconcile", "pkg/plan", "pkg/apply", "pkg/state"}},
		{"pkg/connect", []string{"pkg/config", "pkg/plan", "pkg/apply", "pkg/state", "pkg/offsets", "pkg/reconcile"}},
		{"pkg/offsets", []string{"pkg/config", "pkg/plan", "pkg/apply", "pkg/state", "pkg/connect", "pkg/reconcile"}},
		{"pkg/reconcile", []string{"pkg/config", "pkg/plan", "pkg/apply", "pkg/state", "pkg/connect", "pkg/offsets"}},
		// plan reads the state document (rollback plans are computed from
		// its before-images, design.md: "compute changes, their rollback and
		// restore plans") but never stores it.
		{"pkg/plan", []string{"pkg/apply", "pkg/state/local", "pkg/state/pgstate", "pkg/state/statetest"}},
		{"pkg/state", []string{"pkg/config", "pkg/connect", "pkg/offsets", "pkg/reconcile", "pkg/plan", "pkg/apply"}},
		// The pull-request clients know comments, not plans.
		{"internal/forge", []string{"pkg/config", "pkg/connect", "pkg/offsets", "pkg/reconcile", "pkg/plan", "pkg/apply", "pkg/state"}},
	} {
		t.Run(tc.pkg, func(t *testing.T) {
			for _, d := range deps(t, tc.pkg) {
				for _, f := range tc.forbidden {
					if d == f || strings.HasPrefix(d, f+"/") {
						t.Errorf("%s imports %s: the dependency rules of design.md forbid it", tc.pkg, d)
					}
				}
				if strings.HasPrefix(d, "cmd/") || strings.HasPrefix(d, "internal/sandbox") || strings.HasPrefix(d, "internal/pgtest") {
					t.Errorf("%s imports %s", tc.pkg, d)
				}
			}
		})
	}
}

// TestRenderImportsOnlyThePlan: the renderings are built from the plan
// structure alone (and the offsets values it carries).
func TestRenderImportsOnlyThePlan(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{join .Imports "\n"}}`, mod+"pkg/plan/render").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if strings.HasPrefix(imp, mod) && imp != mod+"pkg/plan" && imp != mod+"pkg/offsets" {
			t.Errorf("pkg/plan/render imports %s; it may import only pkg/plan (and pkg/offsets' values)", imp)
		}
	}
}
