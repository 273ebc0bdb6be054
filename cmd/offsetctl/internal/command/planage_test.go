package command

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/offsetctl/offsetctl/internal/iostreams"
)

// cliAt is w.cli with the clock at now.
func (w *inertWorld) cliAt(t *testing.T, now time.Time, args ...string) (int, string, string) {
	t.Helper()
	s, _, out, errOut := iostreams.Test()
	deps := &Deps{Streams: s, Getenv: func(k string) string {
		if k == "USER" {
			return "tester"
		}
		return ""
	}, Now: func() time.Time { return now }}
	args = append(args, "-chdir", w.dir, "-state", w.st)
	if args[0] != "plan" {
		args = append(args, "-grace-period", "50ms", "-running-watch", "100ms")
	}
	code := runWithRestore(context.Background(), deps, args)
	return code, w.normalize(out.String()), w.normalize(errOut.String())
}

// TestApplyRefusesAnExpiredPlan: a saved plan older than plan_max_age
// (default 24 h) is refused even though nothing it observed moved; a
// configuration that allows more applies it.
func TestApplyRefusesAnExpiredPlan(t *testing.T) {
	made := time.Date(2026, 11, 20, 14, 30, 0, 0, time.UTC)
	tests := []struct {
		name     string
		settings string
		after    time.Duration
		refused  string // "" when applied
	}{
		{"within the default", "", 23 * time.Hour, ""},
		{"past the default", "", 24*time.Hour + time.Minute, "the plan expired: it was made at 2026-11-20T14:30:00Z, 24h1m0s ago, and the configuration accepts plans up to 24h0m0s old"},
		{"past a shorter max age", "offsetctl {\n  plan_max_age = \"1h\"\n}\n", 2 * time.Hour, "accepts plans up to 1h0m0s old (offsetctl { plan_max_age = \"1h0m0s\" })"},
		{"within a longer max age", "offsetctl {\n  plan_max_age = \"72h\"\n}\n", 48 * time.Hour, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := startInertWorld(t)
			w.writeConfig(t, tt.settings+inertOffsetsHCL)
			planFile := filepath.Join(w.dir, "plan.json")
			if code, out, errOut := w.cliAt(t, made, "plan", "-out", planFile); code != 0 {
				t.Fatalf("plan: %d\n%s\n%s", code, out, errOut)
			}
			code, out, errOut := w.cliAt(t, made.Add(tt.after), "apply", planFile)
			if tt.refused == "" {
				if code != 0 || w.committed(t) != "10 10 70 RUNNING" {
					t.Fatalf("apply: %d %s\n%s\n%s", code, w.committed(t), out, errOut)
				}
				return
			}
			if code != ExitError || !strings.Contains(errOut, tt.refused) || !strings.Contains(errOut, "nothing was changed") {
				t.Fatalf("apply of an expired plan: %d\n%s\n%s\nwant %q", code, out, errOut, tt.refused)
			}
			if got := w.committed(t); got != "50 60 70 RUNNING" {
				t.Fatalf("an expired plan changed the offsets: %s", got)
			}
			// -json names the refusal for CI.
			code, out, _ = w.cliAt(t, made.Add(tt.after), "apply", "-json", planFile)
			if code != ExitError || !strings.Contains(out, `"error_kind":"plan_expired"`) {
				t.Fatalf("apply -json of an expired plan: %d\n%s", code, out)
			}
		})
	}
}
