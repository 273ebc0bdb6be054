package archtest

import (
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// uses type-checks the non-test files of pkg against the export data the go
// command builds and returns the full names (types.Func.FullName) of the
// functions and methods of this module that they refer to.
func uses(t *testing.T, pkg string) map[string]bool {
	t.Helper()
	out, err := exec.Command("go", "list", "-export", "-deps", "-f", "{{.ImportPath}}\t{{.Export}}", mod+pkg).Output()
	if err != nil {
		t.Fatalf("go list -export %s: %v", pkg, err)
	}
	exports := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if path, file, ok := strings.Cut(l, "\t"); ok {
			exports[path] = file
		}
	}
	out, err = exec.Command("go", "list", "-f", "{{.Dir}}\t{{join .GoFiles \"\\t\"}}", mod+pkg).Output()
	if err != nil {
		t.Fatalf("go list %s: %v", pkg, err)
	}
	fields := strings.Split(strings.TrimSpace(string(out)), "\t")
	dir, names := fields[0], fields[1:]
	fset := token.NewFileSet()
	var files []*ast.File
	for _, n := range names {
		f, err := parser.ParseFile(fset, filepath.Join(dir, n), nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	imp := importer.ForCompiler(fset, "gc", func(path string) (io.ReadCloser, error) {
		return os.Open(exports[path])
	})
	info := &types.Info{Uses: map[*ast.Ident]types.Object{}}
	if _, err := (&types.Config{Importer: imp}).Check(mod+pkg, fset, files, info); err != nil {
		t.Fatalf("type-checking %s: %v", pkg, err)
	}
	used := map[string]bool{}
	for _, obj := range info.Uses {
		if fn, ok := obj.(*types.Func); ok && fn.Pkg() != nil && strings.HasPrefix(fn.Pkg().Path(), mod) {
			used[strings.ReplaceAll(fn.FullName(), mod, "")] = true
		}
	}
	return used
}

// TestPlanDoesNotExecuteApplyDoesNotPlan holds the line between planning
// and executing: pkg/plan observes through the offset store's Reader and
// never calls a write (the Writer, the topic and group writers, Kafka
// Connect's offset and state changes); pkg/apply executes plans and never
// computes one (Compute, Planner.Plan, rollback and restore planning, the
// verification of saved plans, which the command wires in through
// Options.CheckPlan).
func TestPlanDoesNotExecuteApplyDoesNotPlan(t *testing.T) {
	for _, tc := range []struct {
		pkg       string
		why       string
		forbidden []string
	}{
		{"pkg/plan", "plan does not execute", []string{
			"pkg/offsets.NewWriter", "(*pkg/offsets.Writer).Write",
			"pkg/offsets.WriteSource", "pkg/offsets.CommitSinkGroup", "pkg/offsets.ResetSinkGroup", "pkg/offsets.WriteBackup",
			"(*pkg/connect.Client).AlterOffsets", "(*pkg/connect.Client).ResetOffsets",
			"(*pkg/connect.Client).Stop", "(*pkg/connect.Client).Pause", "(*pkg/connect.Client).Resume",
			"(*pkg/connect.Client).Restart", "(*pkg/connect.Client).RestartTask", "(*pkg/connect.Client).Delete",
			"(*pkg/connect.Client).Create", "(*pkg/connect.Client).PutConfig", "(*pkg/connect.Client).PatchConfig",
		}},
		{"pkg/apply", "apply does not plan", []string{
			"pkg/plan.Compute", "(*pkg/plan.Planner).Plan", "(*pkg/plan.Planner).Verify",
			"pkg/plan.RollbackPlan", "pkg/plan.RestorePlan", "pkg/plan.RollbackCandidate", "pkg/plan.VerifyBuilt",
		}},
	} {
		t.Run(tc.pkg, func(t *testing.T) {
			used := uses(t, tc.pkg)
			if len(used) == 0 {
				t.Fatalf("%s refers to no function of this module: the check reads nothing", tc.pkg)
			}
			for _, f := range tc.forbidden {
				if used[f] {
					t.Errorf("%s calls %s: %s", tc.pkg, f, tc.why)
				}
			}
		})
	}
}

// TestUsesSeesCalls: the check above finds what it looks for.
func TestUsesSeesCalls(t *testing.T) {
	for pkg, want := range map[string][]string{
		"pkg/apply": {"(*pkg/offsets.Writer).Write", "pkg/offsets.NewWriter"},
		"pkg/plan":  {"(*pkg/offsets.Reader).REST", "pkg/offsets.NewReader"},
	} {
		used := uses(t, pkg)
		for _, w := range want {
			if !used[w] {
				var all []string
				for u := range used {
					all = append(all, u)
				}
				sort.Strings(all)
				t.Errorf("%s: %s not found among %s", pkg, w, strings.Join(all, ", "))
			}
		}
	}
}
