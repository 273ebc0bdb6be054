package command

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/offsetctl/offsetctl/internal/iostreams"
)

// TestChangeRunFunctions runs plan, apply and rollback through their run
// functions, with options built in the test and no cobra command: each
// command's steps can be driven and checked on their own.
func TestChangeRunFunctions(t *testing.T) {
	w := startInertWorld(t)
	planFile := filepath.Join(w.dir, "plan.json")
	rbFile := filepath.Join(w.dir, "rollback.json")
	chg := func(planFile string, autoApprove bool) changeOptions {
		return changeOptions{cfg: configOptions{chdir: w.dir}, loc: stateLocation{path: w.st, given: true}, autoApprove: autoApprove,
			grace: 50 * time.Millisecond, watch: 100 * time.Millisecond, parallelism: 1, planFile: planFile}
	}
	tests := []struct {
		name      string
		stdin     string
		json      bool
		run       func(ctx context.Context, deps *Deps, g *globalOptions) error
		wantCode  int // exitCode of the error
		wantOut   []string
		wantErr   []string
		committed string
	}{
		{
			name: "plan -out -detailed-exitcode",
			run: func(ctx context.Context, deps *Deps, g *globalOptions) error {
				return planRun(ctx, &planOptions{deps: deps, g: g, cfg: configOptions{chdir: w.dir}, loc: stateLocation{path: w.st, given: true}, out: planFile, detailed: true})
			},
			wantCode: ExitChanges, wantOut: []string{"Plan: 1 operation", "Saved the plan to DIR/plan.json"}, committed: "50 60 70 RUNNING",
		},
		{
			name:  "apply without a plan file, answered no",
			stdin: "no\n",
			run: func(ctx context.Context, deps *Deps, g *globalOptions) error {
				return applyRun(ctx, &applyOptions{deps: deps, g: g, chg: chg("", false)})
			},
			wantCode: ExitError, wantOut: []string{"Plan: 1 operation"}, wantErr: []string{"Only 'yes' will be accepted", "apply cancelled: nothing was changed"}, committed: "50 60 70 RUNNING",
		},
		{
			name: "apply the plan file -json",
			json: true,
			run: func(ctx context.Context, deps *Deps, g *globalOptions) error {
				return applyRun(ctx, &applyOptions{deps: deps, g: g, chg: chg(planFile, false)})
			},
			wantOut:   []string{`{"type":"version","format_version":1,`, `{"type":"operation_finished","operation":"offsets.replay","serial":1,"status":"applied"}`, `{"type":"summary","ok":true,`},
			committed: "10 10 70 RUNNING",
		},
		{
			name: "rollback -out",
			run: func(ctx context.Context, deps *Deps, g *globalOptions) error {
				return rollbackRun(ctx, &rollbackOptions{deps: deps, g: g, chg: chg("", false), out: rbFile}, "")
			},
			wantOut: []string{"Saved the plan to DIR/rollback.json"}, wantErr: []string{"Rolling back operation 1 (replay, applied)."}, committed: "10 10 70 RUNNING",
		},
		{
			name: "apply the rollback plan",
			run: func(ctx context.Context, deps *Deps, g *globalOptions) error {
				return applyRun(ctx, &applyOptions{deps: deps, g: g, chg: chg(rbFile, false)})
			},
			wantOut: []string{"Apply complete! 1 operation applied"}, wantErr: []string{"alter:"}, committed: "50 60 70 RUNNING",
		},
		{
			name: "rollback with nothing left",
			run: func(ctx context.Context, deps *Deps, g *globalOptions) error {
				return rollbackRun(ctx, &rollbackOptions{deps: deps, g: g, chg: chg("", true)}, "")
			},
			wantCode: ExitError, committed: "50 60 70 RUNNING",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, in, out, errOut := iostreams.Test()
			in.WriteString(tt.stdin)
			deps := &Deps{Streams: s, Getenv: func(k string) string {
				if k == "USER" {
					return "tester"
				}
				return ""
			}, Now: time.Now}
			err := tt.run(context.Background(), deps, &globalOptions{JSON: tt.json, Timeout: 30 * time.Second})
			var printed []string
			if code := exitCode(err, func(s string) { printed = append(printed, s) }); code != tt.wantCode {
				t.Fatalf("exit %d (%v), want %d\nstdout:\n%s\nstderr:\n%s", code, err, tt.wantCode, out, errOut)
			}
			stdout, stderr := w.normalize(out.String()), w.normalize(errOut.String())+strings.Join(printed, "\n")
			for _, want := range tt.wantOut {
				if !strings.Contains(stdout, want) {
					t.Errorf("stdout lacks %q:\n%s", want, stdout)
				}
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, stderr)
				}
			}
			if got := w.committed(t); got != tt.committed {
				t.Errorf("committed %s, want %s", got, tt.committed)
			}
			var flagErr *flagError
			if errors.As(err, &flagErr) {
				t.Errorf("a usage error from a run function: %v", err)
			}
		})
	}
}
