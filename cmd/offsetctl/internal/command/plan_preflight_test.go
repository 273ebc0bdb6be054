package command

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/offsetctl/offsetctl/pkg/apply"
	"github.com/offsetctl/offsetctl/pkg/state"
	"github.com/offsetctl/offsetctl/pkg/state/local"
)

// TestPlanPreflightChecklist: the runbook's pre-flight items are plan checks
// and a checklist in the Markdown comment: unmet on a bare configuration,
// all met with acknowledge, change_window, required_approvals and a recent
// healthy check in the state; the text view and the warning count leave
// them out.
func TestPlanPreflightChecklist(t *testing.T) {
	w := startWorld(t, "3.8", 20)
	block := func(extra string) string {
		return w.hcl() + fmt.Sprintf(`
offsets "replay" {
  connector = connector.sink
  reason    = "INC-1: replay after the SMT fix"
%s
  sink_partition {
    topic      = %q
    partitions = [0]
    to_offset  = 15
  }
}
`, extra, w.pipe.Topic())
	}
	st := filepath.Join(t.TempDir(), "state.json")
	dir := writeConfig(t, block(""))
	code, out, errOut := runCLI(t, dir, "plan", "-markdown", "-state", st)
	if code != 0 {
		t.Fatalf("plan: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, want := range []string{"#### Pre-flight checklist", "- [x] Offsets backed up", "- [ ] `offsets.replay`: Downstream consumers will see 5 replayed records",
		"- [ ] Monitoring: no offsetctl check is recorded", "- [ ] No review required", "- [ ] `offsets.replay`: Reason given; no change window"} {
		if !strings.Contains(out, want) {
			t.Errorf("bare configuration: the comment lacks %q:\n%s", want, out)
		}
	}
	_, text, _ := runCLI(t, dir, "plan", "-state", st)
	if strings.Contains(text, "Pre-flight") || strings.Contains(text, "preflight") || !strings.Contains(text, "0 errors, 0 warnings") {
		t.Errorf("the text plan shows the checklist or counts it as warnings:\n%s", text)
	}

	// Configured: every item met.
	writeStateFile(t, st, state.Operation{Name: "check", Kind: state.KindCheck, Status: state.StatusApplied, Who: "cron",
		Started: readinessNow.Add(-2 * time.Hour), Finished: readinessNow.Add(-2 * time.Hour)})
	dir = writeConfig(t, "offsetctl {\n  required_approvals = 1\n}\n\n"+block(`  acknowledge   = ["replays_tolerated"]
  change_window = "2026-11-20T14:00:00Z/2026-11-20T16:00:00Z"
`))
	code, out, errOut = runCLI(t, dir, "plan", "-markdown", "-state", st)
	if code != 0 {
		t.Fatalf("plan: exit %d\n%s\n%s", code, out, errOut)
	}
	if strings.Contains(out, "- [ ]") {
		t.Errorf("configured: an unmet item:\n%s", out)
	}
	for _, want := range []string{"- [x] `offsets.replay`: Downstream consumers tolerate 5 replayed records (acknowledged).",
		"- [x] `offsets.replay`: Reason given; change window 2026-11-20T14:00:00Z – 2026-11-20T16:00:00Z.",
		"- [x] Monitoring live: the last offsetctl check ran 2h0m0s before this plan and was healthy.",
		"- [x] Reviewed by a second engineer: apply needs 1 verified approval(s) of this plan."} {
		if !strings.Contains(out, want) {
			t.Errorf("configured: the comment lacks %q:\n%s", want, out)
		}
	}
	// apply records the plan's checklist with the operation, item by item,
	// as evidence for readiness: met items done, open ones skipped.
	applied := filepath.Join(t.TempDir(), "state.json")
	planFile := filepath.Join(t.TempDir(), "plan.json")
	dir = writeConfig(t, block(""))
	if code, out, errOut := runCLI(t, dir, "plan", "-out", planFile, "-state", applied); code != 0 {
		t.Fatalf("plan -out: exit %d\n%s\n%s", code, out, errOut)
	}
	if code, out, errOut := runCLI(t, dir, "apply", planFile, "-state", applied, "-grace-period", "100ms"); code != 0 {
		t.Fatalf("apply: exit %d\n%s\n%s", code, out, errOut)
	}
	got, err := local.New(applied).Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var items []string
	for _, s := range got.Operations[0].Steps {
		if s.Name == string(apply.StepPreflight) {
			items = append(items, s.Target+" "+string(s.Status))
		}
	}
	if want := "backup done, consumers skipped, stakeholders skipped, monitoring skipped, review skipped, rollback done"; strings.Join(items, ", ") != want {
		t.Errorf("pre-flight steps in the state: %s, want %s", strings.Join(items, ", "), want)
	}
	// A bad acknowledgement and a window that ends before it starts are refused.
	dir = writeConfig(t, block(`  acknowledge   = ["yolo"]
  change_window = "2026-11-20T16:00:00Z/2026-11-20T14:00:00Z"
`))
	code, _, errOut = runCLI(t, dir, "validate")
	if code != ExitError || !strings.Contains(errOut, "Invalid acknowledgement") || !strings.Contains(errOut, "Invalid change window") {
		t.Errorf("validate: exit %d\n%s", code, errOut)
	}
}
