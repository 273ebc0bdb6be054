package command

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/offsetctl/offsetctl/pkg/state/local"
)

// TestApplyRequiresApprovals: with required_approvals set, apply refuses
// until enough reviewers other than the one applying are named.
func TestApplyRequiresApprovals(t *testing.T) {
	w := startWorld(t, "3.8", 10)
	dir := writeConfig(t, "offsetctl {\n  required_approvals = 1\n}\n\n"+w.hcl()+fmt.Sprintf(`
offsets "rewind" {
  connector = connector.sink
  reason    = "INC-1"

  sink_partition {
    topic      = %q
    partitions = [0]
    to_offset  = 5
  }
}
`, w.pipe.Topic()))
	state := filepath.Join(t.TempDir(), "state.json")
	planFile := filepath.Join(t.TempDir(), "plan.json")
	if code, out, errOut := runCLI(t, dir, "plan", "-out", planFile, "-state", state); code != 0 {
		t.Fatalf("plan exit %d\n%s\n%s", code, out, errOut)
	}
	before := w.snapshot(t)
	code, out, errOut := runCLI(t, dir, "apply", planFile, "-state", state, "-grace-period", "100ms")
	if code != ExitError || !strings.Contains(errOut, "requires 1 approval(s)") || !strings.Contains(errOut, "--approved-by") {
		t.Fatalf("apply without approval: exit %d\n%s\n%s", code, out, errOut)
	}
	if after := w.snapshot(t); fmt.Sprint(after.Group) != fmt.Sprint(before.Group) {
		t.Fatalf("a refused apply changed offsets: %v -> %v", before.Group, after.Group)
	}
	code, out, errOut = runCLI(t, dir, "apply", planFile, "-state", state, "-grace-period", "100ms", "-approved-by", "alice")
	if code != 0 {
		t.Fatalf("apply with approval: exit %d\n%s\n%s", code, out, errOut)
	}
	// The state holds the offset backup taken before the change.
	st, err := local.New(state).Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Backups) != 1 || st.Backups[0].Connector != w.pipe.SinkConnector() || !strings.Contains(string(st.Backups[0].Content), `"committed":10`) {
		t.Fatalf("backups in the state: %+v", st.Backups)
	}
}
