package command

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/offsetctl/offsetctl/internal/iostreams"
)

func runCLIAt(t *testing.T, now time.Time, dir string, args ...string) (int, string, string) {
	t.Helper()
	s, _, out, errOut := iostreams.Test()
	deps := &Deps{Streams: s, Getenv: func(string) string { return "" }, Now: func() time.Time { return now }}
	if dir != "" {
		args = append(args, "-chdir", dir)
	}
	code := run(context.Background(), deps, args)
	return code, out.String(), errOut.String()
}

// TestApplyPolicyWindowAndApprovals: a plan made inside a policy's change
// window and applied outside it is refused; -override-window lets it
// through with the approvals the window asks, which raise what apply
// counts above required_approvals; the plan shows its risk and the
// approvals in every rendering.
func TestApplyPolicyWindowAndApprovals(t *testing.T) {
	w := startWorld(t, "3.8", 10)
	dir := writeConfig(t, w.hcl()+fmt.Sprintf(`
policy "platform" {
  approvals = { replay = 1 }
  change_window {
    days               = ["mon", "tue", "wed", "thu", "fri"]
    hours              = "09:00-17:00"
    time_zone          = "Europe/Berlin"
    effect             = "allow"
    override_approvals = 2
  }
}

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
	inside := time.Date(2026, 11, 20, 14, 30, 0, 0, time.UTC)  // Friday 15:30 in Berlin
	outside := time.Date(2026, 11, 20, 19, 30, 0, 0, time.UTC) // Friday 20:30 in Berlin
	code, out, errOut := runCLIAt(t, inside, dir, "plan", "-out", planFile, "-state", state)
	if code != 0 || !strings.Contains(out, "highest risk: replay") || !strings.Contains(out, "# risk: replay: 5 records replayed on 1 partition") ||
		!strings.Contains(out, "Policy (policy.platform): apply needs 1 signed approval(s): policy.platform asks 1 for replay (offsets.rewind)") {
		t.Fatalf("plan exit %d\n%s\n%s", code, out, errOut)
	}
	for _, f := range []string{"-markdown", "-json"} {
		code, out, errOut := runCLIAt(t, inside, "", "show", f, planFile)
		if code != 0 || !strings.Contains(out, "replay") || !strings.Contains(out, "policy.platform") {
			t.Fatalf("show %s: exit %d\n%s\n%s", f, code, out, errOut)
		}
	}
	before := w.snapshot(t)
	apply := func(now time.Time, extra ...string) (int, string, string) {
		return runCLIAt(t, now, dir, append([]string{"apply", planFile, "-state", state, "-grace-period", "100ms"}, extra...)...)
	}
	code, out, errOut = apply(outside, "-approved-by", "alice")
	if code != ExitError || !strings.Contains(errOut, "refused by policy: policy.platform: it is 2026-11-20T19:30:00Z, outside the change window mon,tue,wed,thu,fri 09:00-17:00 Europe/Berlin") ||
		!strings.Contains(errOut, "-override-window REASON, which needs 2 signed approval(s)") {
		t.Fatalf("apply outside the window: exit %d\n%s\n%s", code, out, errOut)
	}
	code, out, errOut = apply(outside, "-override-window", "INC-1: the sink must catch up tonight", "-approved-by", "alice")
	if code != ExitError || !strings.Contains(errOut, "requires 2 approval(s) (by policy: policy.platform asks 1 for replay (offsets.rewind); policy.platform asks 2 to override its change window) and 1 were given") {
		t.Fatalf("override with one approval: exit %d\n%s\n%s", code, out, errOut)
	}
	if after := w.snapshot(t); fmt.Sprint(after.Group) != fmt.Sprint(before.Group) {
		t.Fatalf("a refused apply changed offsets: %v -> %v", before.Group, after.Group)
	}
	code, out, errOut = apply(outside, "-override-window", "INC-1: the sink must catch up tonight", "-approved-by", "alice", "-approved-by", "bob")
	if code != 0 || !strings.Contains(errOut, "Change window overridden: policy.platform: it is 2026-11-20T19:30:00Z, outside the change window") {
		t.Fatalf("override with two approvals: exit %d\n%s\n%s", code, out, errOut)
	}
}
