package state

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportsNoClientPackage holds the rule of design.md: the state packages
// import none of offsetctl's client, planning or configuration packages.
func TestImportsNoClientPackage(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", ".", "./local", "./statetest", "./pgstate").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	const module = "github.com/offsetctl/offsetctl/"
	allowed := map[string]bool{
		module + "pkg/state": true, module + "pkg/state/local": true,
		module + "pkg/state/statetest": true, module + "pkg/state/pgstate": true,
	}
	for _, p := range strings.Fields(string(out)) {
		if strings.HasPrefix(p, module) && !allowed[p] {
			t.Errorf("the state packages import %s", p)
		}
	}
}
