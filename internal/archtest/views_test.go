package archtest

import (
	"bufio"
	"bytes"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/printer"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCommandsRenderOnlyThroughViews holds the rule that offsetctl's
// commands render only through their views (cmd/offsetctl/internal/command/
// views): no file of the command package, tests aside,
//
//   - selects the Out or Err stream of an iostreams.Streams (it hands the
//     Streams to a view; reading In, as fmt - does, is not rendering),
//   - calls fmt's Print or Fprint functions, or names os.Stdout or
//     os.Stderr,
//   - encodes JSON to a writer (json.NewEncoder), or
//   - imports a renderer (text/tabwriter, pkg/plan/render, the progress
//     bar).
//
// The package is type-checked from the compiler's export data, so the rule
// follows types, not names.
func TestCommandsRenderOnlyThroughViews(t *testing.T) {
	const pkg = mod + "cmd/offsetctl/internal/command"
	dir, exports := exportData(t, pkg)
	fset := token.NewFileSet()
	var files []*ast.File
	names, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") || !buildsByDefault(t, name) {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	info := &types.Info{Uses: map[*ast.Ident]types.Object{}, Selections: map[*ast.SelectorExpr]*types.Selection{}}
	conf := types.Config{Importer: importer.ForCompiler(fset, "gc", func(path string) (io.ReadCloser, error) {
		file, ok := exports[path]
		if !ok {
			return nil, os.ErrNotExist
		}
		return os.Open(file)
	})}
	if _, err := conf.Check(pkg, fset, files, info); err != nil {
		t.Fatalf("type-checking %s: %v", pkg, err)
	}

	forbiddenImports := map[string]string{
		"text/tabwriter":                    "a table",
		"github.com/schollz/progressbar/v3": "a progress bar",
		mod + "pkg/plan/render":             "a plan",
	}
	for _, f := range files {
		for _, imp := range f.Imports {
			p := strings.Trim(imp.Path.Value, `"`)
			if what := forbiddenImports[p]; what != "" {
				t.Errorf("%s imports %s: rendering %s belongs in a view", fset.Position(imp.Pos()), p, what)
			}
		}
	}
	for sel, s := range info.Selections {
		if s.Kind() != types.FieldVal || (s.Obj().Name() != "Out" && s.Obj().Name() != "Err") {
			continue
		}
		if named := namedOf(s.Recv()); named != nil && named.Obj().Pkg() != nil &&
			named.Obj().Pkg().Path() == mod+"internal/iostreams" && named.Obj().Name() == "Streams" {
			t.Errorf("%s: %s writes to the output streams: hand the Streams to a view instead", fset.Position(sel.Pos()), exprString(fset, sel))
		}
	}
	for id, obj := range info.Uses {
		if obj.Pkg() == nil {
			continue
		}
		switch path, name := obj.Pkg().Path(), obj.Name(); {
		case path == "fmt" && (strings.HasPrefix(name, "Print") || strings.HasPrefix(name, "Fprint")):
			t.Errorf("%s: fmt.%s prints: rendering belongs in a view", fset.Position(id.Pos()), name)
		case path == "os" && (name == "Stdout" || name == "Stderr"):
			t.Errorf("%s: os.%s: the streams come from iostreams, and are written by a view", fset.Position(id.Pos()), name)
		case path == "encoding/json" && name == "NewEncoder":
			t.Errorf("%s: json.NewEncoder: JSON output is a view's typed struct", fset.Position(id.Pos()))
		}
	}
}

// exportData returns the directory of pkg and the compiler's export data
// file of each package it depends on (go list -export builds them).
func exportData(t *testing.T, pkg string) (dir string, exports map[string]string) {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", "-export", "-f", "{{.ImportPath}}\t{{.Export}}\t{{.Dir}}", pkg).Output()
	if err != nil {
		t.Fatalf("go list -export %s: %v", pkg, err)
	}
	exports = map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		parts := strings.Split(sc.Text(), "\t")
		if len(parts) != 3 {
			continue
		}
		exports[parts[0]] = parts[1]
		if parts[0] == pkg {
			dir = parts[2]
		}
	}
	return dir, exports
}

// buildsByDefault says whether a file is in the default build (the
// test-only hooks have a build tag of their own).
func buildsByDefault(t *testing.T, name string) bool {
	t.Helper()
	src, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(src), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "//go:build ") {
			return strings.HasPrefix(strings.TrimPrefix(line, "//go:build "), "!")
		}
		if strings.HasPrefix(line, "package ") {
			return true
		}
	}
	return true
}

func namedOf(t types.Type) *types.Named {
	if p, ok := t.(*types.Pointer); ok {
		t = p.Elem()
	}
	n, _ := t.(*types.Named)
	return n
}

func exprString(fset *token.FileSet, e ast.Expr) string {
	var b bytes.Buffer
	if err := printer.Fprint(&b, fset, e); err != nil {
		return "?"
	}
	return b.String()
}

// TestViewsOnlyRender: a view renders the data it is given; it opens no
// client, no state backend and no database (direct imports).
func TestViewsOnlyRender(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{join .Imports "\n"}}`, mod+"cmd/offsetctl/internal/command/views").Output()
	if err != nil {
		t.Fatal(err)
	}
	forbidden := []string{mod + "pkg/connect", mod + "pkg/state/local", mod + "pkg/state/pgstate", mod + "internal/sandbox",
		"github.com/jackc/pgx/v5", "github.com/twmb/franz-go/pkg/kgo", "github.com/twmb/franz-go/pkg/kadm", "net/http", "os/exec"}
	for _, imp := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		for _, f := range forbidden {
			if imp == f {
				t.Errorf("views imports %s: a view renders data, the command gets it", imp)
			}
		}
	}
}

// TestLeafHelpers: the small shared packages every layer may use import
// nothing of this module, so that using one brings no client, no plan and
// no state with it (pkg/config relies on it).
func TestLeafHelpers(t *testing.T) {
	for _, pkg := range []string{"internal/atomicfile", "internal/numfmt", "internal/pglsn", "internal/redact", "internal/sleep"} {
		t.Run(pkg, func(t *testing.T) {
			if own := deps(t, pkg); len(own) > 0 {
				t.Errorf("%s imports %v", pkg, own)
			}
		})
	}
}
