package apply

import (
	"context"
	"fmt"

	"github.com/offsetctl/offsetctl/pkg/config"
	"github.com/offsetctl/offsetctl/pkg/plan"
	"github.com/offsetctl/offsetctl/pkg/state"
)

// recover undoes operation serial, which a dead earlier attempt of the same
// plan left in progress (or needing rollback): its before-images are put
// back and verified, its connector returned to the state it was found in,
// and the operation recorded as failed, with the story.
func (a *Applier) recover(ctx context.Context, j *journal, cfg *config.Config, serial uint64) error {
	st := j.st // no operation runs in parallel yet
	u, _ := st.BySerial(serial)
	if isRepairState(u) {
		return a.recoverRepair(ctx, j, cfg, serial)
	}
	name := u.Name
	fail := func(err error) error {
		a.emit(Recovered{Serial: serial, Name: name, Err: err})
		return fmt.Errorf("operation %d (%s) was left %s by an earlier run of this plan, and undoing it failed: %w; nothing else was changed: run offsetctl rollback -serial %d", serial, name, u.Status, err, serial)
	}
	if len(u.Connectors) != 1 {
		return fail(fmt.Errorf("it touched %d connectors; apply recovers operations of one connector", len(u.Connectors)))
	}
	sc := u.Connectors[0]
	blk := connectorByName(cfg, sc.Name, sc.ConnectCluster)
	if blk == nil {
		return fail(fmt.Errorf("connector %q on connect.%s is not in the configuration", sc.Name, sc.ConnectCluster))
	}
	want, err := fromImages(u.BeforeImages)
	if err != nil {
		return fail(err)
	}
	typ, group := plan.Source, ""
	for _, img := range u.BeforeImages {
		if img.Sink != nil {
			typ, group = plan.Sink, img.Sink.Group
		}
	}
	c, err := a.newConn(ctx, blk, typ, "", group)
	if err != nil {
		return fail(err)
	}
	// The recovery is recorded on the interrupted operation itself.
	r := &opRun{a: a, j: j, op: &plan.Operation{Address: "recover." + fmt.Sprint(serial), Name: name}, c: c, serial: serial, former: sc.StateBefore}
	altered := false
	for _, s := range u.Steps {
		if s.Name == string(StepAlter) || s.Name == string(StepRestoreOffsets) {
			altered = true
		}
	}
	// The offsets are checked whatever the journal says: reading them is
	// cheap and the journal may lag the world by one step.
	left, rbErr := r.converge(ctx, want, sc.StateBefore, true, true)
	if u, _ = st.BySerial(serial); u == nil {
		return fail(fmt.Errorf("operation %d vanished from the state", serial))
	}
	last := ""
	for _, s := range u.Steps {
		if s.Name == string(StepRestoreOffsets) {
			break
		}
		if s.Status == state.StepDone || s.Status == state.StepSkipped {
			last = s.Name
		}
	}
	story := fmt.Sprintf("interrupted after step %s (the process running it stopped); offsetctl apply of the same plan put the before-images back and returned the connector to %s", last, sc.StateBefore)
	if !altered {
		story = fmt.Sprintf("interrupted after step %s, before any offset was written; offsetctl apply of the same plan returned the connector to %s", last, sc.StateBefore)
	}
	if rbErr != nil {
		u.Status = state.StatusNeedsRollback
		u.Error = "interrupted; undoing it failed: " + rbErr.Error()
	} else {
		u.Status = state.StatusFailed
		u.Error = story
	}
	u.Finished = a.opts.Now()
	u.Connectors[0].StateAfter = left
	if err := j.write(ctx); err != nil {
		return fail(fmt.Errorf("writing the state: %w", err))
	}
	if rbErr != nil {
		return fail(rbErr)
	}
	a.emit(Recovered{Serial: serial, Name: name})
	return nil
}
