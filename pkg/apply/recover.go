package apply

import (
	"context"
	"fmt"
	"strings"

	"github.com/offsetctl/offsetctl/pkg/config"
	"github.com/offsetctl/offsetctl/pkg/offsets"
	"github.com/offsetctl/offsetctl/pkg/plan"
	"github.com/offsetctl/offsetctl/pkg/state"
)

// recover settles operation serial, which a dead earlier attempt of the same
// plan left in progress (or needing rollback). It does not trust the last
// step the journal records (the process may have died between a change and
// its record): it reads the live offsets and compares them with the
// operation's before- and after-images.
//
//   - applied (every partition holds its after-image, or the journal records
//     a verified write and the connector being resumed, after which it may
//     have consumed): the operation is recorded as applied and its connector
//     returned to the state it was found in; apply then skips it, so the
//     records it replays are not replayed twice;
//   - not applied (every partition holds its before-image): the connector is
//     returned to its state, the operation recorded as failed, and apply
//     applies the plan again;
//   - partly applied (each partition holds one image or the other): the
//     before-images are put back and verified, the connector returned to its
//     state, the operation recorded as failed, and apply applies the plan
//     again from the start (the connector did not run in between);
//   - neither (some partition holds something else: someone moved it):
//     nothing is changed and apply refuses, naming the partitions.
//
// The verdict is told in a Recovered event and in a "recover" step of the
// operation in the state.
func (a *Applier) recover(ctx context.Context, j *journal, cfg *config.Config, serial uint64) error {
	st := j.st // no operation runs in parallel yet
	u, _ := st.BySerial(serial)
	if isRepairState(u) {
		return a.recoverRepair(ctx, j, cfg, serial)
	}
	name := u.Name
	fail := func(err error) error {
		a.emit(Recovered{Serial: serial, Name: name, Err: err})
		return fmt.Errorf("operation %d (%s) was left %s by an earlier run of this plan, and recovering it failed: %w; nothing else was changed: run offsetctl rollback -serial %d", serial, name, u.Status, err, serial)
	}
	if len(u.Connectors) != 1 {
		return fail(fmt.Errorf("it touched %d connectors; apply recovers operations of one connector", len(u.Connectors)))
	}
	sc := u.Connectors[0]
	blk := connectorByName(cfg, sc.Name, sc.ConnectCluster)
	if blk == nil {
		return fail(fmt.Errorf("connector %q on connect.%s is not in the configuration", sc.Name, sc.ConnectCluster))
	}
	want, err := plan.ImagePositions(u.BeforeImages)
	if err != nil {
		return fail(err)
	}
	typ, group := plan.Source, ""
	for _, img := range u.BeforeImages {
		if img.Sink != nil {
			typ, group = plan.Sink, img.Sink.Group
		}
	}
	c, err := a.newConn(ctx, blk, typ, "", group, plan.Halt(sc.Halt))
	if err != nil {
		return fail(err)
	}
	c.saved = sc.SavedConfig
	if c.saved != nil {
		c.locateOffsets(c.saved) // the connector may be deleted: its saved configuration says where its offsets are
	}
	// The recovery is recorded on the interrupted operation itself.
	r := &opRun{a: a, j: j, op: &plan.Operation{Address: "recover." + fmt.Sprint(serial), Name: name}, c: c, serial: serial, former: sc.StateBefore}
	after, err := plan.ImagePositions(u.After)
	if err != nil {
		return fail(err)
	}
	last, resumed := journaled(u.Steps)

	// What the world says: the journal may lag it by a step (the process
	// can die after a write and before its record), so the live offsets
	// decide, compared with the operation's before- and after-images.
	live, err := c.store.Read(ctx, after)
	if err != nil {
		return fail(fmt.Errorf("reading the live offsets of %q to see how far it got: %w", c.name, err))
	}
	v := judge(want, after, live)
	if resumed && v.kind != foundApplied {
		// The journal says the offsets were written and verified and the
		// connector was being returned to its state: it may have run and
		// consumed from the new offsets since, so they moved on; undoing
		// now would replay a second time.
		v = verdict{kind: foundApplied, detail: fmt.Sprintf("the journal records the offsets written and verified and the connector being resumed, and it may have run since (live now: %s)", strings.Join(v.live, ", "))}
	}
	var story, outcome string
	var left string
	var rbErr error
	switch v.kind {
	case foundApplied:
		// Applied: record it as applied (with the verification the live
		// read is) and return the connector to its former state; undoing
		// it and applying it again would replay twice.
		left, rbErr = r.converge(ctx, nil, sc.StateBefore, false, true)
		outcome = "applied"
		story = fmt.Sprintf("interrupted after step %s (the process running it stopped); offsetctl apply of the same plan found it applied (%s), recorded it as applied and returned the connector to %s", last, v.detail, orUnknownState(left))
		if rbErr == nil {
			u.Status = state.StatusApplied
		}
	case foundNotApplied:
		left, rbErr = r.converge(ctx, want, sc.StateBefore, true, true)
		outcome = "not applied"
		story = fmt.Sprintf("interrupted after step %s, before any offset was written (the live offsets equal the before-images); offsetctl apply of the same plan returned the connector to %s", last, sc.StateBefore)
		if rbErr == nil {
			u.Status = state.StatusFailed
		}
	case foundPartly:
		// Partly applied: undo, so that the plan is applied again from
		// the start with every check (the connector never ran between).
		left, rbErr = r.converge(ctx, want, sc.StateBefore, true, true)
		outcome = "partly applied, undone"
		story = fmt.Sprintf("interrupted after step %s, partly applied (%s); offsetctl apply of the same plan put the before-images back and returned the connector to %s", last, v.detail, sc.StateBefore)
		if rbErr == nil {
			u.Status = state.StatusFailed
		}
	default:
		// Neither: someone else moved the offsets. Writing either image
		// would overwrite their change; refuse, leaving it all as it is.
		err := fmt.Errorf("%w: it was interrupted after step %s, and the live offsets of %q match neither its before-images nor its after-images, so someone or something else moved them: %s; offsetctl changed nothing: look at them with offsetctl offsets show %s, then run offsetctl rollback -serial %d to write the before-images over them, or make a new plan",
			ErrStalePlan, last, c.name, strings.Join(v.moved, "; "), c.name, serial)
		a.emit(Recovered{Serial: serial, Name: name, Err: err})
		return fmt.Errorf("operation %d (%s) was left %s by an earlier run of this plan: %w", serial, name, u.Status, err)
	}
	if u, _ = st.BySerial(serial); u == nil {
		return fail(fmt.Errorf("operation %d vanished from the state", serial))
	}
	if rbErr != nil {
		u.Status = state.StatusNeedsRollback
		u.Error = "interrupted; undoing it failed: " + rbErr.Error()
		if v.kind == foundApplied {
			u.Error = "interrupted after its offsets were written; returning the connector to " + sc.StateBefore + " failed: " + rbErr.Error()
		}
	} else if u.Status == state.StatusFailed {
		u.Error = story
	}
	u.Finished = a.opts.Now()
	u.Connectors[0].StateAfter = left
	if rbErr == nil {
		// The connector exists again: its saved configuration (secrets
		// included) is no longer needed.
		u.Connectors[0].SavedConfig = nil
	}
	u.Steps = append(u.Steps, state.Step{Name: string(StepRecover), Target: c.name, Status: state.StepDone, Started: u.Finished, Finished: u.Finished, Message: story})
	if err := j.write(ctx); err != nil {
		return fail(fmt.Errorf("writing the state: %w", err))
	}
	if rbErr != nil {
		return fail(rbErr)
	}
	a.emit(Recovered{Serial: serial, Name: name, Outcome: outcome, Message: story})
	return nil
}

// journaled returns the last step the journal records as done (or
// skipped) before any recovery, and whether it records that the connector
// was being returned to its state after a verified write (the start of
// restore-state is written before the connector is resumed).
func journaled(steps []state.Step) (last string, resumed bool) {
	verified := false
	for _, s := range steps {
		if s.Name == string(StepRestoreOffsets) || s.Name == string(StepRecover) {
			break
		}
		if s.Name == string(StepPreflight) {
			continue // the plan's checklist, not a step apply ran
		}
		if s.Status == state.StepDone || s.Status == state.StepSkipped {
			last = s.Name
			if s.Name == string(StepVerify) {
				verified = true
			}
		}
		if (s.Name == string(StepRestoreState) || s.Name == string(StepRecreate)) && verified {
			resumed = true
		}
	}
	if last == "" {
		last = "(none)"
	}
	return last, resumed
}

func orUnknownState(s string) string {
	if s == "" {
		return "an unknown state"
	}
	return s
}

type foundKind int

const (
	foundNotApplied foundKind = iota
	foundApplied
	foundPartly
	foundNeither
)

// verdict is what the live offsets say about an interrupted operation.
type verdict struct {
	kind   foundKind
	detail string   // for the story
	moved  []string // for foundNeither: the partitions that match neither image
	live   []string // every partition's live value
}

// judge compares the live offsets with the before- and after-images:
// applied when every partition holds its after-image, not applied when
// every one holds its before-image, partly when each holds one or the
// other, neither when any holds something else.
func judge(before, after, live []offsets.Position) verdict {
	var v verdict
	nAfter, nBefore := 0, 0
	for _, a := range after {
		l := offsets.Lookup(live, a)
		b := offsets.Lookup(before, a)
		v.live = append(v.live, fmt.Sprintf("%s %s", a, l.Value()))
		isAfter, isBefore := a.SameValue(l), b.SameValue(l)
		switch {
		case isAfter && isBefore: // the operation did not change it
			nAfter++
			nBefore++
		case isAfter:
			nAfter++
		case isBefore:
			nBefore++
		default:
			v.moved = append(v.moved, fmt.Sprintf("%s is %s (before-image %s, after-image %s)", a, l.Value(), b.Value(), a.Value()))
		}
	}
	n := len(after)
	switch {
	case len(v.moved) > 0:
		v.kind = foundNeither
	case nAfter == n:
		v.kind = foundApplied
		v.detail = fmt.Sprintf("the live offsets equal its after-images: %s", strings.Join(v.live, ", "))
	case nBefore == n:
		v.kind = foundNotApplied
	default:
		v.kind = foundPartly
		v.detail = fmt.Sprintf("%d of %d partition(s) held the after-image: %s", nAfter, n, strings.Join(v.live, ", "))
	}
	return v
}
