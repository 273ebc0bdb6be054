package apply_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/offsetctl/offsetctl/pkg/apply"
	"github.com/offsetctl/offsetctl/pkg/config"
	"github.com/offsetctl/offsetctl/pkg/offsets"
	"github.com/offsetctl/offsetctl/pkg/plan"
	"github.com/offsetctl/offsetctl/pkg/state"
)

// TestApplyVerifiesSavedRollbackPlans: a rollback plan saved to a file (as
// offsetctl rollback -out does) is computed again from the state at apply; a
// file edited by hand, its hash recomputed, is refused before anything is
// written, and the unedited one applies.
func TestApplyVerifiesSavedRollbackPlans(t *testing.T) {
	ctx := context.Background()
	w, cfg, b, id := appliedSinkWorld(t)
	st := readState(t, b)
	rp, err := plan.RollbackPlan(ctx, cfg, st, []*state.Operation{&st.Operations[0]}, w.observe, plan.BuildInfo{OffsetctlVersion: "test"})
	if err != nil {
		t.Fatal(err)
	}
	file := savePlan(t, w, "rollback.json", rp)

	for _, tc := range []struct {
		name    string
		edit    func(p *plan.Plan)
		wantErr string
	}{
		{"offset changed", func(p *plan.Plan) { p.Operations[0].Changes[0].Sink.After = 0 },
			"rollback.1: change 1 (orders[0]): after is 0 in the plan, the configuration makes 50"},
		{"relabelled", func(p *plan.Plan) { p.Operations[0].Address, p.Operations[0].Name = "rollback.7", "rollback of x" },
			"rollback.7 rolls back operation 7, which the state does not have"},
		{"reason changed", func(p *plan.Plan) { p.Operations[0].Reason = "nothing to see" },
			`reason is "nothing to see" in the plan`},
		{"made a restore", func(p *plan.Plan) {
			p.Operations[0].Kind = plan.KindRestore
			p.Operations[0].Address = "restore.orders"
		},
			"names the one backup file it restores; this one names 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := applyEdited(ctx, t, w, b, cfg, id, file, tc.edit)
			if !errors.Is(err, plan.ErrNotFromConfig) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("apply of the edited rollback plan: %v, want ErrNotFromConfig with %q", err, tc.wantErr)
			}
			if got := statuses(readState(t, b)); got != "1 offsets applied" {
				t.Fatalf("state after the refusal: %s", got)
			}
			if got := w.sinkOffsets("orders-sink"); got["orders[0]"] != 10 {
				t.Fatalf("offsets after the refusal: %v", got)
			}
		})
	}

	if err := applyEdited(ctx, t, w, b, cfg, id, file, func(*plan.Plan) {}); err != nil {
		t.Fatalf("apply of the saved rollback plan: %v", err)
	}
	if got := w.sinkOffsets("orders-sink"); got["orders[0]"] != 50 || got["orders[1]"] != 60 {
		t.Fatalf("offsets after the rollback: %v", got)
	}
}

// appliedSinkWorld is sinkWorld with sinkHCL's replay applied (operation 1)
// and the state locked.
func appliedSinkWorld(t *testing.T) (*world, *config.Config, state.Backend, string) {
	t.Helper()
	w := sinkWorld(t, "")
	cfg := w.config(sinkHCL)
	b := w.backend()
	id := lock(t, b)
	if _, err := w.applier(b, nil, nil).Apply(context.Background(), w.plan(cfg, b), cfg, id); err != nil {
		t.Fatalf("apply: %v", err)
	}
	return w, cfg, b, id
}

// savePlan writes p to name in w's directory and returns the path.
func savePlan(t *testing.T, w *world, name string, p *plan.Plan) string {
	t.Helper()
	file := filepath.Join(w.dir, name)
	// As the command layer does for a plan it built: the risk classes,
	// which apply's recomputation gives the plan too.
	(&plan.Planner{}).AssessRisks(p)
	if err := plan.WriteFile(file, p); err != nil {
		t.Fatal(err)
	}
	return file
}

// applyEdited applies the plan saved in file after edit changed it and the
// file was written again (its hash recomputed, as a careful hand would), with
// the check the apply command makes of saved rollback and restore plans.
func applyEdited(ctx context.Context, t *testing.T, w *world, b state.Backend, cfg *config.Config, id, file string, edit func(*plan.Plan)) error {
	t.Helper()
	p, err := plan.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	edit(p)
	edited := filepath.Join(t.TempDir(), "edited.json")
	if err := plan.WriteFile(edited, p); err != nil {
		t.Fatal(err)
	}
	if p, err = plan.ReadFile(edited); err != nil {
		t.Fatalf("the edited file, its hash recomputed, does not read: %v", err)
	}
	_, err = verifyingApplier(t, w, b, cfg, p).Apply(ctx, p, cfg, id)
	return err
}

// verifyingApplier is w.applier with the check the apply command makes of
// a saved plan built from the state or a backup.
func verifyingApplier(t *testing.T, w *world, b state.Backend, cfg *config.Config, p *plan.Plan) *apply.Applier {
	t.Helper()
	a, err := apply.New(apply.Options{
		Backend: b, Clients: w.clients, Observe: w.observe, Who: "tester", Host: "testhost",
		GracePeriod: testGrace, PollInterval: 10 * time.Millisecond, WaitTimeout: 10 * time.Second, RunningWatch: -1,
		CheckPlan: func(st *state.State) error { return (&plan.Planner{}).VerifyBuilt(context.Background(), cfg, p, st) },
	})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestStateBackupIsAnOffsetsBackup: the backup apply journals before a
// change is in the one backup format, the one offsetctl offsets backup
// writes and offsets restore reads.
func TestStateBackupIsAnOffsetsBackup(t *testing.T) {
	_, _, b, _ := appliedSinkWorld(t)
	st := readState(t, b)
	if len(st.Backups) != 1 {
		t.Fatalf("backups: %+v", st.Backups)
	}
	bk, err := offsets.UnmarshalBackup(st.Backups[0].Content)
	if err != nil {
		t.Fatalf("the state's backup is not an offsets backup: %v", err)
	}
	c := bk.Connectors[0]
	if c.Name != "orders-sink" || c.Type != offsets.ConnectorTypeSink || c.Group != "connect-orders-sink" || len(c.Sink) != 3 || c.Sink[0].Committed != 50 || c.Sink[2].Committed != 70 {
		t.Fatalf("backup: %+v", c)
	}
}

// TestApplyVerifiesSavedRestorePlans: a restore plan saved to a file (as
// offsetctl offsets restore -out does) names its backup file and is computed
// again from it at apply: an edited plan is refused, and so is a plan whose
// backup is gone; the unedited one applies.
func TestApplyVerifiesSavedRestorePlans(t *testing.T) {
	ctx := context.Background()
	w := sinkWorld(t, "")
	cfg := w.config(sinkHCL)
	b := w.backend()
	id := lock(t, b)
	backup := filepath.Join(w.dir, "backup.json")
	bk := &offsets.Backup{TakenAt: time.Date(2026, 11, 20, 14, 30, 0, 0, time.UTC), Connectors: []offsets.BackupConnector{{
		Name: "orders-sink", Type: offsets.ConnectorTypeSink, Class: sinkClass, Group: "connect-orders-sink",
		Sink: []offsets.SinkOffset{{Topic: "orders", Partition: 0, Committed: 5, LogStart: 0, LogEnd: 100}, {Topic: "orders", Partition: 1, Committed: 6, LogStart: 0, LogEnd: 100}},
	}}}
	if err := offsets.WriteBackup(backup, bk); err != nil {
		t.Fatal(err)
	}
	rp, err := plan.RestorePlan(ctx, cfg, nil, bk, backup, w.observe, plan.BuildInfo{OffsetctlVersion: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if len(rp.Restores) != 1 || rp.Restores[backup] == nil {
		t.Fatalf("the restore plan does not name its backup: %+v", rp.Restores)
	}
	file := savePlan(t, w, "restore.json", rp)
	for _, tc := range []struct {
		name    string
		edit    func(p *plan.Plan)
		wantErr string
	}{
		{"offset changed", func(p *plan.Plan) { p.Operations[0].Changes[0].Sink.After = 0 }, "after is 0 in the plan"},
		{"backup gone", func(p *plan.Plan) {
			p.Restores = map[string]*plan.RestoreData{filepath.Join(w.dir, "gone.json"): p.Restores[backup]}
		}, "gone.json, which cannot be read"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := applyEdited(ctx, t, w, b, cfg, id, file, tc.edit)
			if !errors.Is(err, plan.ErrNotFromConfig) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("apply of the edited restore plan: %v, want ErrNotFromConfig with %q", err, tc.wantErr)
			}
			if got := w.sinkOffsets("orders-sink"); got["orders[0]"] != 50 {
				t.Fatalf("offsets after the refusal: %v", got)
			}
		})
	}
	if err := applyEdited(ctx, t, w, b, cfg, id, file, func(*plan.Plan) {}); err != nil {
		t.Fatalf("apply of the saved restore plan: %v", err)
	}
	if got := w.sinkOffsets("orders-sink"); got["orders[0]"] != 5 || got["orders[1]"] != 6 || got["orders[2]"] != 70 {
		t.Fatalf("offsets after the restore: %v", got)
	}
}
