package command

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/offsetctl/offsetctl/pkg/apply"
	"github.com/offsetctl/offsetctl/pkg/state"
)

// readinessNow is runCLI's clock.
var readinessNow = time.Date(2026, 11, 20, 14, 30, 0, 0, time.UTC)

func writeStateFile(t *testing.T, path string, ops ...state.Operation) {
	t.Helper()
	s := state.New("readiness-lineage")
	s.Serial = 1
	for _, op := range ops {
		s.Begin(op)
	}
	b, err := state.Encode(s, "test")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func gitCmd(t *testing.T, dir string, args ...string) {
	t.Helper()
	c := exec.Command("git", append([]string{"-C", dir, "-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"}, args...)...)
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
}

const readinessHCL = `database "source" {
  url = "postgres://ro@source/shop"
}

database "sink" {
  url = "postgres://ro@sink/shop"
}

reconcile "customers" {
  source = database.source
  sink   = database.sink
  table  = "public.customers"
%s}
`

// TestReadiness: the scorecard of a fresh configuration (nothing ready) and
// of a configured one (all five rows ready), as goldens, in text and
// Markdown; the check row also reads check's metrics textfile.
func TestReadiness(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git is not installed")
	}
	t.Run("fresh", func(t *testing.T) {
		dir := writeConfig(t, strings.Replace(readinessHCL, "%s", "", 1))
		st := filepath.Join(t.TempDir(), "state.json")
		code, out, errOut := runCLI(t, dir, "readiness", "--state", st)
		if code != ExitChanges {
			t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
		}
		goldens.Assert(t, "text", []byte(out))
		_, md, _ := runCLI(t, dir, "readiness", "--state", st, "--markdown")
		goldens.Assert(t, "markdown", []byte(md))

		// A healthy check in the metrics textfile, an hour old.
		r := sampleCheckResult()
		r.StartedAt, r.Verdict = readinessNow.Add(-time.Hour), checkHealthy
		reg, _ := checkRegistry(r)
		prom := filepath.Join(t.TempDir(), "offsetctl.prom")
		if err := writeMetricsFile(prom, reg); err != nil {
			t.Fatal(err)
		}
		_, out, _ = runCLI(t, dir, "readiness", "--state", st, "--check-metrics", prom)
		if !strings.Contains(out, "the last check ran 1h0m0s ago (offsetctl.prom), healthy; 0 of 1 reconcile blocks have check thresholds") {
			t.Errorf("from the metrics file:\n%s", out)
		}
	})
	t.Run("configured", func(t *testing.T) {
		repo := t.TempDir()
		hcl := `offsetctl {
  required_approvals = 1
  allowed_signers    = "allowed_signers"
}

` + strings.Replace(readinessHCL, "%s", "\n  check {\n    mode = \"checksum\"\n  }\n", 1)
		signers, err := os.ReadFile("../../../../examples/ci/allowed_signers")
		if err != nil {
			t.Fatal(err)
		}
		for name, body := range map[string]string{"main.hcl": hcl, "README.md": "# Runbook\n", "allowed_signers": string(signers)} {
			if err := os.WriteFile(filepath.Join(repo, name), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		gitCmd(t, repo, "init", "-q")
		gitCmd(t, repo, "add", ".")
		gitCmd(t, repo, "commit", "-q", "-m", "configuration")
		backups := t.TempDir()
		if err := os.WriteFile(filepath.Join(backups, "offsets-"+readinessNow.Add(-20*time.Minute).Format(backupNameLayout)+".json"), []byte("{}"), 0o600); err != nil {
			t.Fatal(err)
		}
		st := filepath.Join(t.TempDir(), "state.json")
		day := 24 * time.Hour
		applied := readinessNow.Add(-30 * day)
		preflight := func(open string) []state.Step {
			var out []state.Step
			for _, item := range []string{"backup", "consumers", "stakeholders", "monitoring", "review", "rollback"} {
				s := state.Step{Name: string(apply.StepPreflight), Target: item, Status: state.StepDone, Started: applied, Finished: applied}
				if item == open {
					s.Status = state.StepSkipped
				}
				out = append(out, s)
			}
			return out
		}
		replay := state.Operation{Name: "replay_after_smt_fix", Kind: state.KindOffsets, Status: state.StatusApplied, Who: "alice", Started: applied, Finished: applied,
			VerifiedApprovals: []state.Approval{{Principals: "bob@example.com", Fingerprint: "SHA256:x"}}, Steps: preflight("")}
		writeStateFile(t, st,
			replay,
			state.Operation{Name: "drill on sandbox", Kind: state.KindDrill, Status: state.StatusApplied, Who: "alice", Started: readinessNow.Add(-10 * day), Finished: readinessNow.Add(-10*day + 42*time.Second)},
			state.Operation{Name: "check", Kind: state.KindCheck, Status: state.StatusApplied, Who: "cron", Started: readinessNow.Add(-3 * time.Hour), Finished: readinessNow.Add(-3 * time.Hour)},
		)
		code, out, errOut := runCLI(t, repo, "readiness", "--state", st, "--backup-dir", backups)
		if code != 0 {
			t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
		}
		goldens.Assert(t, "text", []byte(out))
		_, md, _ := runCLI(t, repo, "readiness", "--state", st, "--backup-dir", backups, "--markdown")
		goldens.Assert(t, "markdown", []byte(md))

		// Row 4 reads the pre-flight checklist apply recorded: an item left
		// open, or none recorded, is not ready.
		for _, c := range []struct {
			steps []state.Step
			want  string
		}{
			{preflight("monitoring"), "applied with pre-flight items open (from the state): replay_after_smt_fix (operation 1: monitoring)"},
			{nil, "no pre-flight checklist recorded in the state for: replay_after_smt_fix (operation 1)"},
		} {
			op := replay
			op.Steps = c.steps
			writeStateFile(t, st, op)
			code, out, _ := runCLI(t, repo, "readiness", "--state", st, "--backup-dir", backups)
			if code != ExitChanges || !strings.Contains(out, c.want) {
				t.Errorf("row 4: exit %d, want the evidence %q\n%s", code, c.want, out)
			}
		}
	})
}
