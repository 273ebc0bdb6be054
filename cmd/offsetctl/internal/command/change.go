package command

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/offsetctl/offsetctl/cmd/offsetctl/internal/command/views"
	"github.com/offsetctl/offsetctl/pkg/apply"
	"github.com/offsetctl/offsetctl/pkg/config"
	"github.com/offsetctl/offsetctl/pkg/offsets"
	"github.com/offsetctl/offsetctl/pkg/plan"
	"github.com/offsetctl/offsetctl/pkg/state"
)

// changeOptions are the flags shared by the commands that change the world
// through pkg/apply: apply, rollback and offsets restore.
type changeOptions struct {
	cfg         configOptions
	loc         stateLocation
	autoApprove bool
	lockTimeout time.Duration
	grace       time.Duration
	waitTimeout time.Duration
	watch       time.Duration
	parallelism int
	approvedBy  []string
	// planFile is the saved plan being applied ("" when the plan is made
	// on the spot): its approvals are beside it.
	planFile string
	// overrideWindow is the reason given to -override-window: apply at a
	// time a policy's change window forbids, with the approvals the window
	// asks for an override.
	overrideWindow string
	// resources are what the saved plan changes: a backend that locks per
	// resource locks only them (nil: the whole state).
	resources []string
}

func addChangeFlags(cmd *cobra.Command, o *changeOptions) {
	addConfigFlags(cmd, &o.cfg)
	addStateFlag(cmd, &o.loc)
	addLockTimeoutFlag(cmd, &o.lockTimeout)
	f := cmd.Flags()
	f.BoolVar(&o.autoApprove, "auto-approve", false, "do not ask for confirmation before changing anything")
	f.DurationVar(&o.grace, "grace-period", apply.DefaultGracePeriod, "the workers' task.shutdown.graceful.timeout.ms: how long to wait after a stop before trusting that no task still writes offsets")
	f.DurationVar(&o.waitTimeout, "wait-timeout", apply.DefaultWaitTimeout, "how long to wait for a connector to stop or to run again")
	f.IntVar(&o.parallelism, "parallelism", 1, "how many connectors to work on at a time (each connector's operations stay in order; after a failure no new one starts)")
	f.DurationVar(&o.watch, "running-watch", apply.DefaultRunningWatch, "how long a resumed connector is watched for a task failing on its new offsets (0: not watched)")
	f.StringVar(&o.overrideWindow, "override-window", "", "apply at a time a policy's change_window forbids, for this reason; it needs the signed approvals the window's override_approvals asks (a window without it cannot be overridden)")
	f.StringArrayVar(&o.approvedBy, "approved-by", nil, "who approved the change, recorded as unverified (repeatable; also OFFSETCTL_APPROVED_BY, comma-separated); only where the configuration sets no allowed_signers, which makes approvals verified signatures (offsetctl approve)")
}

// session is what a changing command holds while it runs: the
// configuration, the state (locked), the clients and the planner. It is
// opened by openSession and closed, lock released, by close.
type session struct {
	cfg     *config.Config
	backend state.Backend
	lockID  string
	clients *configClients
	planner *plan.Planner
	view    *views.Operation
}

// openSession loads the configuration, opens the state it names and locks
// it for operation ("apply", "rollback", "restore"), and opens the clients.
// With o.resources (a saved plan's connectors and tables) a backend that
// locks per resource locks only them.
// The caller closes the session.
func openSession(ctx context.Context, deps *Deps, g *globalOptions, o *changeOptions, operation string, v *views.Operation) (*session, error) {
	cfg, _, err := loadConfig(deps, o.cfg.chdir, o.cfg.in, false)
	if err != nil {
		return nil, err
	}
	backend, err := stateFor(ctx, deps, &o.loc, cfg)
	if err != nil {
		return nil, err
	}
	id, err := lockResources(ctx, deps, backend, operation, o.lockTimeout, o.resources)
	if err != nil {
		backend.Close()
		return nil, err
	}
	clients := newConfigClients(cfg, g.Timeout)
	return &session{cfg: cfg, backend: backend, lockID: id, clients: clients, view: v,
		planner: newPlanner(deps, clients)}, nil
}

// close closes the clients, releases the lock (a failure is a warning: the
// work is done) and closes the state.
func (s *session) close(ctx context.Context) {
	s.clients.Close()
	if err := s.backend.Unlock(context.WithoutCancel(ctx), s.lockID); err != nil {
		s.view.LockNotReleased(s.lockID, err)
	}
	s.backend.Close()
}

// newPlanner is the planner of plan and of the changing commands.
func newPlanner(deps *Deps, clients *configClients) *plan.Planner {
	return &plan.Planner{Clients: clients, Codecs: offsets.NewRegistry(), Now: deps.Now, Version: Version}
}

// review shows a plan that was not reviewed already (reviewed: it was read
// from a plan file), refuses a plan with errors, checks the policies again
// at the apply's own time, and asks for "yes" unless -auto-approve. proceed
// is false when the plan has nothing to do (the view said so). The
// decision says how many approvals the policies ask.
func (s *session) review(deps *Deps, o *changeOptions, p *plan.Plan, reviewed bool) (proceed bool, decision plan.ApplyDecision, err error) {
	v := s.view
	if !reviewed {
		if err := v.Plan(p); err != nil {
			return false, decision, err
		}
	}
	if p.HasErrors() {
		return false, decision, fmt.Errorf("%w (see Checks above); nothing was changed", apply.ErrBlocked)
	}
	if !p.HasChanges() {
		return false, decision, v.NoChanges()
	}
	// Policies again, at the apply's own time: a plan made inside a change
	// window and applied outside it is refused unless overridden, and the
	// approvals the plan's risk classes (or an override) need are counted
	// by execute.
	decision, err = plan.CheckPolicyAtApply(s.cfg, p, deps.Now(), o.overrideWindow)
	if err != nil {
		return false, decision, withHint(err, "Policies are policy blocks of the configuration (offsetctl validate lists them); their owners decide what they allow.")
	}
	for _, ov := range decision.Overridden {
		v.WindowOverridden(ov)
	}
	if !reviewed && !o.autoApprove && !v.Confirm() {
		return false, decision, errors.New("apply cancelled: nothing was changed")
	}
	return true, decision, nil
}

// reviewAndExecute is the end of every changing command: review the plan,
// then execute it when there is something to do and the operator said yes.
// A plan made on the spot (a rollback or restore plan, or apply without
// PLANFILE) gets its risk classes first.
func (s *session) reviewAndExecute(ctx context.Context, deps *Deps, o *changeOptions, p *plan.Plan, reviewed bool) error {
	if !reviewed {
		s.planner.AssessRisks(p)
	}
	proceed, decision, err := s.review(deps, o, p, reviewed)
	if !proceed {
		return err
	}
	return s.execute(ctx, deps, o, p, reviewed, decision)
}

// savePlan shows a plan built by rollback or offsets restore, with its risk
// classes, and saves it for review instead of applying it.
func (s *session) savePlan(out string, p *plan.Plan) error {
	v := s.view
	s.planner.AssessRisks(p)
	if err := v.Plan(p); err != nil {
		return err
	}
	if p.HasErrors() {
		return fmt.Errorf("%w (see Checks above); nothing was saved", apply.ErrBlocked)
	}
	if err := plan.WriteFile(out, p); err != nil {
		return err
	}
	v.Saved(out, p)
	return nil
}

// execute applies a reviewed plan under the session's lock: it counts the
// approvals, then runs pkg/apply with the view as its observer (each event
// rendered when it happens), and ends with the view's summary. reviewed
// says the plan came from a plan file: it must be younger than
// plan_max_age, and its operations are computed again (from the
// configuration, or for a rollback or restore plan from the state or the
// backup it names) and compared. decision is what the policies ask.
func (s *session) execute(ctx context.Context, deps *Deps, o *changeOptions, p *plan.Plan, reviewed bool, decision plan.ApplyDecision) error {
	who, host := operator(deps)
	approved, err := checkApprovals(deps, s.view, o, s.cfg, p, reviewed, who, decision)
	if err != nil {
		return err
	}
	var checkPlan func(*state.State) error
	switch {
	case reviewed && p.FromConfig():
		checkPlan = func(st *state.State) error {
			// A reviewed plan lasts plan_max_age, even when nothing moved.
			if err := apply.CheckPlanAge(p, s.cfg, deps.Now()); err != nil {
				return err
			}
			// The hash proves the file is whole, not that it came from this
			// configuration: compute its operations again and compare.
			return s.planner.Verify(s.cfg, p, appliedBefore(st, p.Hash))
		}
	case reviewed:
		// A rollback or restore plan: compute it again from the state or
		// the backup file it names.
		checkPlan = func(st *state.State) error {
			if err := apply.CheckPlanAge(p, s.cfg, deps.Now()); err != nil {
				return err
			}
			return s.planner.VerifyBuilt(ctx, s.cfg, p, st)
		}
	}
	a, err := apply.New(apply.Options{
		Backend: s.backend, Clients: s.clients, Observe: s.planner.Observe, Now: deps.Now, Who: who, Host: host, CheckPlan: checkPlan,
		Approvals: approved.names, VerifiedApprovals: approved.verified,
		GracePeriod: nonZero(o.grace), WaitTimeout: o.waitTimeout, RunningWatch: nonZero(o.watch), Parallel: o.parallelism,
		Hook:     stopHook(),
		Observer: s.view,
	})
	if err != nil {
		return err
	}
	if err := s.view.Start(); err != nil {
		return err
	}
	res, applyErr := a.Apply(ctx, p, s.cfg, s.lockID)
	renumber(s.backend, res)
	if err := s.view.Result(res, applyErr); err != nil {
		return err
	}
	return applyExit(res, applyErr, s.view.JSON())
}

// nonZero maps a flag's 0 ("none") to apply's negative ("none"; its zero
// means the default).
func nonZero(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}
