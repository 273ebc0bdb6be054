package command

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/user"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/offsetctl/offsetctl/pkg/apply"
	"github.com/offsetctl/offsetctl/pkg/config"
	"github.com/offsetctl/offsetctl/pkg/offsets"
	"github.com/offsetctl/offsetctl/pkg/plan"
	"github.com/offsetctl/offsetctl/pkg/reconcile"
	"github.com/offsetctl/offsetctl/pkg/state"
)

// applyEventsVersion is the format_version of the -json event stream of
// apply, rollback and offsets restore.
const applyEventsVersion = 1

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

// currentUser names who applies: $USER (or USERNAME, LOGNAME), else the
// account the process runs as.
func currentUser(deps *Deps) string {
	for _, k := range []string{"USER", "USERNAME", "LOGNAME"} {
		if v := deps.Getenv(k); v != "" {
			return v
		}
	}
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return "unknown"
}

type applyOptions struct {
	deps *Deps
	g    *globalOptions
	chg  changeOptions
}

func newApplyCmd(deps *Deps, g *globalOptions) *cobra.Command {
	o := &applyOptions{deps: deps, g: g}
	cmd := &cobra.Command{
		Use:   "apply [PLANFILE] [-auto-approve] [-lock-timeout D]",
		Short: "Execute a saved plan, or plan and ask before executing it",
		Long: `Execute the plan saved in PLANFILE (offsetctl plan -out). Without PLANFILE, make a plan
from the configuration, show it, and ask for "yes" before executing it (-auto-approve
skips the question).

Before anything is written, apply checks the plan file's hash, the configuration's hash,
the plan's age (offsetctl { plan_max_age }, default 24h: an older plan is refused even when
nothing moved), the state's lineage and serial (writes since by operations of other
connectors do not count), computes the plan's operations again from the configuration and
what the plan observed (a plan file edited by hand is refused, even with its hash
recomputed), and then observes every connector again: when a connector's state or its
configuration moved since the plan, it refuses and shows what moved. Offsets that moved
(a RUNNING connector consumed on) refuse only when the operation, computed again from
them, leaves what was reviewed: another absolute target, a precondition failing now, a
risk class added, or replays or skips grown beyond the block's tolerance (default: by
what the connector processed since the plan); the refusal shows reviewed vs now. Then,
per operation: it records the operation in the state, stops the connector and waits for
its tasks to stop, takes the offsets found then as the before-images (judged as above when
they moved again), changes the offsets (PATCH /offsets on Kafka
Connect 3.6+; the offsets topic or the consumer group on 3.5), reads them back and
compares them exactly with the plan, and returns the connector to its former state
(RUNNING connectors are resumed and watched until their tasks run; PAUSED ones are paused
again without running in between, so a replay starts only when you resume them, and they
are not watched; STOPPED stays STOPPED; FAILED is left STOPPED).

A reconcile block's repair = "upsert" reads the planned rows from the source and writes
the sink in transactions of at most 5,000 rows that touch only rows whose source and sink
are still as planned (rows that moved since the plan are reported as stale, not written),
recording each transaction's before-images in the state before it commits; "snapshot_signal"
inserts Debezium execute-snapshot signals and waits for the rows; "none" only reports.
Then the repaired keys and the whole-table checksums are compared again: a repair that
does not converge fails and names the keys. A repair whose keys converged while the
tables still differ (rows that moved since the plan and were left alone, extra rows
kept because delete_extra is false or a snapshot signal cannot delete them, drift
outside the plan) is not verified: what it wrote stays, the state records it as
incomplete, the summary says what still differs (counts and keys, never row values),
and apply exits 4. Make a new plan to repair what is left; offsetctl rollback undoes it.

On any failure the before-images are put back and verified, the connector's state is
restored, the state records what happened, and apply exits 1 with the story. If apply
is killed, the next apply of the same plan first reads the interrupted operation's live
offsets and compares them with its before- and after-images: applied (or the connector
was already being resumed) is recorded as applied and not done again; not applied, or
partly applied (its before-images are put back), is recorded as failed and applied
anew; offsets that match neither were moved by someone else, and apply refuses and
names them. offsetctl rollback puts the before-images back in every case.

Locks: with the PostgreSQL state, apply PLANFILE locks only the connectors and reconciled
tables the plan changes, so plans of different connectors apply at the same time; an apply
of a connector another apply holds waits -lock-timeout, then is refused naming the holder.
The local state, and apply without PLANFILE, lock the whole state.

A saved plan is applied with the configuration it was made from, read again from -chdir
(to check its hash and to reach the clusters): give apply the same -var, -var-file or
OFFSETCTL_VAR_ values the plan was made with.

Approvals: where the configuration sets required_approvals and allowed_signers, apply
counts the signatures in PLANFILE.approvals (offsetctl approve, or ssh-keygen -Y sign -n
offsetctl-plan) that verify for the plan's hash by keys the allowed_signers file lists,
one per principal, never the one applying ($USER, or a key in their SSH agent), and says
why it did not count each other one; the state records the verified approvers. Without
allowed_signers, --approved-by (or OFFSETCTL_APPROVED_BY) names the reviewers, and the
state records them as unverified.

Progress goes to stderr, the summary to stdout; with -json, stdout is a stream of JSON
events starting with a version record (without PLANFILE, -json needs -auto-approve).`,
		Example: `  offsetctl plan -out plan.json && offsetctl apply plan.json
  offsetctl apply -auto-approve -var incident=INC-4711
  offsetctl apply plan.json -lock-timeout 5m`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			file := ""
			if len(args) == 1 {
				file = args[0]
			}
			if g.JSON && file == "" && !o.chg.autoApprove {
				return flagErrorf("-json without a plan file needs -auto-approve (there is no one to answer the question)")
			}
			return applyRun(cmd, o, file)
		},
	}
	addChangeFlags(cmd, &o.chg)
	return cmd
}

func applyRun(cmd *cobra.Command, o *applyOptions, file string) error {
	var saved *plan.Plan
	o.chg.planFile = file
	if file != "" {
		// Refuse a damaged or edited plan before touching anything else.
		p, err := plan.ReadFile(file)
		if err != nil {
			return err
		}
		saved = p
		o.chg.resources = apply.PlanResources(p)
	}
	return runChange(cmd, o.deps, o.g, &o.chg, "apply", func(ctx context.Context, s *changeSession) (*plan.Plan, bool, error) {
		if saved != nil {
			return saved, true, nil
		}
		st, ref, err := readStateRef(cmd, s.backend)
		if err != nil {
			return nil, false, err
		}
		p, err := s.planner.Plan(ctx, s.cfg, plan.Options{State: ref, Applied: appliedLookup(st)})
		return p, false, err
	})
}

// changeSession is what a changing command holds while it runs: the
// configuration, the locked state and the clients.
type changeSession struct {
	cfg     *config.Config
	backend state.Backend
	lockID  string
	clients *configClients
	planner *plan.Planner
}

// runChange loads the configuration, locks the state, gets the plan from
// makePlan (saved reports a reviewed plan file: no question asked), shows
// it, asks, and applies it, rendering apply's events.
func runChange(cmd *cobra.Command, deps *Deps, g *globalOptions, o *changeOptions, operation string,
	makePlan func(ctx context.Context, s *changeSession) (p *plan.Plan, saved bool, err error)) error {
	ctx := cmd.Context()
	cfg, _, err := loadConfig(deps, o.cfg.chdir, o.cfg.in, false)
	if err != nil {
		return err
	}
	backend, err := stateFor(deps, cmd, &o.loc, cfg)
	if err != nil {
		return err
	}
	defer backend.Close()
	id, err := lockResources(ctx, deps, backend, operation, o.lockTimeout, o.resources)
	if err != nil {
		return err
	}
	defer func() {
		if uerr := backend.Unlock(context.WithoutCancel(ctx), id); uerr != nil {
			fmt.Fprintf(deps.Streams.Err, "Warning: releasing the state lock %s: %v\n", id, uerr)
		}
	}()
	clients := newConfigClients(cfg, g.Timeout)
	defer clients.Close()
	s := &changeSession{cfg: cfg, backend: backend, lockID: id, clients: clients,
		planner: &plan.Planner{Clients: clients, Codecs: offsets.NewRegistry(), Now: deps.Now, Version: Version}}
	p, saved, err := makePlan(ctx, s)
	if err != nil {
		return err
	}
	return reviewAndApply(ctx, deps, g, o, s, p, saved, "")
}

// reviewAndApply shows a plan that was not saved and reviewed, asks for
// "yes", and applies it. With out set, it saves the plan there instead
// (for review, then offsetctl apply FILE).
func reviewAndApply(ctx context.Context, deps *Deps, g *globalOptions, o *changeOptions, s *changeSession, p *plan.Plan, saved bool, out string) error {
	streams := deps.Streams
	if !saved {
		s.planner.AssessRisks(p) // a rollback or restore plan's risk classes
	}
	if !saved && !g.JSON {
		if err := renderPlan(deps, &globalOptions{}, p, false); err != nil {
			return err
		}
	}
	if p.HasErrors() {
		return fmt.Errorf("%w (see Checks above); nothing was changed", apply.ErrBlocked)
	}
	if out != "" {
		if err := plan.WriteFile(out, p); err != nil {
			return err
		}
		writeSavedNote(streams.Out, out, p)
		return nil
	}
	if !p.HasChanges() {
		if g.JSON {
			return writeEventStream(streams.Out, nil, &apply.Result{}, nil)
		}
		fmt.Fprintln(streams.Out, "\nNo changes. Nothing to apply.")
		return nil
	}
	// Policies again, at the apply's own time: a plan made inside a change
	// window and applied outside it is refused unless overridden, and the
	// approvals the plan's risk classes (or an override) need are counted
	// below.
	decision, err := plan.CheckPolicyAtApply(s.cfg, p, deps.Now(), o.overrideWindow)
	if err != nil {
		return withHint(err, "Policies are policy blocks of the configuration (offsetctl validate lists them); their owners decide what they allow.")
	}
	for _, ov := range decision.Overridden {
		fmt.Fprintf(streams.Err, "Change window overridden: %s.\n", ov)
	}
	if !saved && !o.autoApprove {
		fmt.Fprint(streams.Err, "\nDo you want to perform these actions?\n  offsetctl will change the offsets above, as shown.\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: ")
		answer, _ := bufio.NewReader(streams.In).ReadString('\n')
		if strings.TrimSpace(answer) != "yes" {
			fmt.Fprintln(streams.Err)
			return errors.New("apply cancelled: nothing was changed")
		}
		fmt.Fprintln(streams.Err)
	}
	who, host := operator(deps)
	approved, err := checkApprovals(deps, o, s.cfg, p, saved, who, decision)
	if err != nil {
		return err
	}
	var events []apply.Event
	progress := &progressRenderer{w: streams.Err}
	var checkPlan func(*state.State) error
	switch {
	case saved && p.FromConfig():
		checkPlan = func(st *state.State) error {
			// A reviewed plan lasts plan_max_age, even when nothing moved.
			if err := apply.CheckPlanAge(p, s.cfg, deps.Now()); err != nil {
				return err
			}
			// The hash proves the file is whole, not that it came from this
			// configuration: compute its operations again and compare.
			return s.planner.Verify(s.cfg, p, appliedBefore(st, p.Hash))
		}
	case saved:
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
		Hook: stopHook(),
		Observer: apply.ObserverFunc(func(e apply.Event) {
			if g.JSON {
				events = append(events, e)
				return
			}
			progress.render(e)
		}),
	})
	if err != nil {
		return err
	}
	res, applyErr := a.Apply(ctx, p, s.cfg, s.lockID)
	renumber(s.backend, res)
	if g.JSON {
		if err := writeEventStream(streams.Out, events, res, applyErr); err != nil {
			return err
		}
		if applyErr != nil {
			return &exitError{code: ExitError}
		}
		return incompleteExit(res)
	}
	writeApplySummary(streams.Out, res, applyErr)
	if applyErr != nil {
		return applyHint(applyErr)
	}
	return incompleteExit(res)
}

// incompleteExit is ExitIncomplete when an operation ran but was not
// verified (a repair that left the sink different), else nil.
func incompleteExit(res *apply.Result) error {
	if res != nil && len(res.Incomplete()) > 0 {
		return &exitError{code: ExitIncomplete}
	}
	return nil
}

// nonZero maps a flag's 0 ("none") to apply's negative ("none"; its zero
// means the default).
func nonZero(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// applyHint adds the operator's next step to apply's errors.
func applyHint(err error) error {
	var oe *apply.OperationError
	switch {
	case errors.As(err, &oe) && oe.Status == state.StatusNeedsRollback:
		return withHint(err, fmt.Sprintf("Once Kafka Connect is reachable again, run: offsetctl rollback -serial %d\n(offsetctl state show %d shows what was recorded).", oe.Serial, oe.Serial))
	case errors.As(err, &oe):
		return withHint(err, fmt.Sprintf("offsetctl state show %d shows every step and its result.", oe.Serial))
	case errors.Is(err, apply.ErrStalePlan), errors.Is(err, apply.ErrStateMoved), errors.Is(err, apply.ErrConfigChanged), errors.Is(err, apply.ErrPlanExpired):
		return withHint(err, "Make a new plan (offsetctl plan -out FILE), review it, and apply that.")
	case errors.Is(err, apply.ErrAlreadyApplied):
		return withHint(err, "offsetctl state history shows what was applied, by whom and when; offsetctl plan shows what is left to do.")
	case errors.Is(err, plan.ErrNotFromConfig):
		return withHint(err, "The plan file was edited after offsetctl plan wrote it, or was made by another offsetctl: nothing was changed.\nMake a new plan from the configuration (offsetctl plan -out FILE), review it, and apply that.")
	case errors.Is(err, apply.ErrUnfinished):
		return withHint(err, "offsetctl state show SERIAL shows how far it got.")
	}
	return err
}

// writeApplySummary prints what was done, on stdout.
func writeApplySummary(w io.Writer, res *apply.Result, err error) {
	if res == nil {
		return
	}
	applied, partitions, rows := 0, 0, 0
	var serials []uint64
	for _, op := range res.Operations {
		if op.Status == state.StatusApplied || op.Status == state.StatusIncomplete {
			applied++
			if op.Connector == "" {
				rows += op.Partitions // a repair counts rows
			} else {
				partitions += op.Partitions
			}
			serials = append(serials, op.Serial)
		}
	}
	changed := plural(partitions, "partition", "partitions")
	switch {
	case rows > 0 && partitions > 0:
		changed += " and " + plural(rows, "row", "rows")
	case rows > 0:
		changed = plural(rows, "row", "rows")
	}
	if len(res.Recovered) > 0 {
		fmt.Fprintf(w, "\nUndone first: %s, left unfinished by an earlier run of this plan.\n", serialList(res.Recovered))
	}
	incomplete := res.Incomplete()
	switch {
	case err == nil && len(incomplete) > 0:
		fmt.Fprintf(w, "\nApply incomplete! %s ran, %s changed, but %s NOT verified: the sink still differs.\n",
			plural(applied, "operation", "operations"), changed, plural(len(incomplete), "operation is", "operations are"))
		for _, op := range incomplete {
			fmt.Fprintf(w, "  operation %d (%s): %s\n", op.Serial, op.Address, op.Incomplete)
		}
		var inc []uint64
		for _, op := range incomplete {
			inc = append(inc, op.Serial)
		}
		n := inc[0]
		fmt.Fprintf(w, "Recorded in the state as %s; incomplete: %s (offsetctl state show %d). What was written stays: make a new plan to repair what is left, or undo it with offsetctl rollback -serial %d.\n",
			serialList(serials), serialList(inc), n, n)
	case err == nil && len(res.Operations) == 0:
		fmt.Fprintln(w, "\nApply complete! Nothing to do: every operation of the plan is applied already.")
	case err == nil:
		show := ""
		if len(serials) > 0 {
			show = fmt.Sprintf(" (offsetctl state show %d)", serials[0])
		}
		fmt.Fprintf(w, "\nApply complete! %s applied, %s changed and verified. Recorded in the state as %s%s.\n",
			plural(applied, "operation", "operations"), changed, serialList(serials), show)
	case len(res.Operations) > 0:
		fmt.Fprintf(w, "\nApply failed. %s applied before the failure.\n", plural(applied, "operation", "operations"))
	}
}

func serialList(s []uint64) string {
	parts := make([]string, len(s))
	for i, n := range s {
		parts[i] = fmt.Sprintf("operation %d", n)
	}
	return strings.Join(parts, ", ")
}

// progressRenderer writes apply's events as progress lines.
type progressRenderer struct {
	w io.Writer
}

func (r *progressRenderer) render(e apply.Event) {
	w := r.w
	switch e := e.(type) {
	case apply.OperationStarted:
		if e.Connector == "" { // a reconcile repair, or the rollback of one
			fmt.Fprintf(w, "%s: operation %d (%s)\n", e.Operation, e.Serial, plural(e.Changes, "row", "rows"))
		} else {
			fmt.Fprintf(w, "%s: operation %d on connector %q (%s)\n", e.Operation, e.Serial, e.Connector, plural(e.Changes, "partition", "partitions"))
		}
	case apply.StepDone:
		note := e.Message
		if e.Skipped {
			note = "skipped: " + note
		}
		fmt.Fprintf(w, "%s: %s: %s [%s]\n", e.Operation, e.Step, note, e.Elapsed.Round(10*time.Millisecond))
	case apply.StepFailed:
		fmt.Fprintf(w, "%s: %s FAILED: %v\n", e.Operation, e.Step, e.Err)
	case apply.RolledBack:
		if e.Err != nil {
			fmt.Fprintf(w, "%s: putting the before-images of %q back FAILED: %v\n", e.Operation, e.Connector, e.Err)
		} else {
			fmt.Fprintf(w, "%s: rolled back: %s of %q as before; connector %s\n", e.Operation, plural(e.Partitions, "offset", "offsets"), e.Connector, orUnknown(e.StateAfter))
		}
	case apply.Recovered:
		if e.Err == nil {
			fmt.Fprintf(w, "operation %d (%s): left unfinished by an earlier run; found %s: %s\n", e.Serial, e.Name, e.Outcome, e.Message)
		}
	case apply.Warning:
		fmt.Fprintf(w, "%s: Warning: %s\n", e.Operation, e.Message)
	case apply.OperationFinished:
		fmt.Fprintf(w, "%s: %s\n", e.Operation, e.Status)
	}
}

func orUnknown(s string) string {
	if s == "" {
		return "in an unknown state"
	}
	return s
}

// eventJSON is one record of the -json event stream.
type eventJSON struct {
	Type       string `json:"type"`
	Operation  string `json:"operation,omitempty"`
	Connector  string `json:"connector,omitempty"`
	Serial     uint64 `json:"serial,omitempty"`
	Step       string `json:"step,omitempty"`
	Message    string `json:"message,omitempty"`
	Skipped    bool   `json:"skipped,omitempty"`
	ElapsedMS  *int64 `json:"elapsed_ms,omitempty"`
	Via        string `json:"via,omitempty"`
	Partitions *int   `json:"partitions,omitempty"`
	Status     string `json:"status,omitempty"`
	StateAfter string `json:"state_after,omitempty"`
	Error      string `json:"error,omitempty"`
	// Remaining is, in a repair_report of an incomplete repair, what
	// still differs: counts and keys, never row values.
	Remaining *remainingJSON `json:"remaining,omitempty"`
}

type remainingJSON struct {
	Missing        int64    `json:"missing"`
	Extra          int64    `json:"extra"`
	Mismatched     int64    `json:"mismatched"`
	Stale          int      `json:"stale"`
	MissingKeys    []string `json:"missing_keys,omitempty"`
	ExtraKeys      []string `json:"extra_keys,omitempty"`
	MismatchedKeys []string `json:"mismatched_keys,omitempty"`
	StaleKeys      []string `json:"stale_keys,omitempty"`
	Error          string   `json:"error,omitempty"`
}

func keyStrings(ks []reconcile.Key) []string {
	var out []string
	for _, k := range ks {
		out = append(out, k.String())
	}
	return out
}

func eventRecord(e apply.Event) eventJSON {
	errText := func(err error) string {
		if err == nil {
			return ""
		}
		return err.Error()
	}
	n := func(i int) *int { return &i }
	switch e := e.(type) {
	case apply.OperationStarted:
		return eventJSON{Type: "operation_started", Operation: e.Operation, Connector: e.Connector, Serial: e.Serial, Partitions: n(e.Changes)}
	case apply.StepStarted:
		return eventJSON{Type: "step_started", Operation: e.Operation, Connector: e.Connector, Step: string(e.Step)}
	case apply.StepDone:
		ms := e.Elapsed.Milliseconds()
		return eventJSON{Type: "step_done", Operation: e.Operation, Connector: e.Connector, Step: string(e.Step), Message: e.Message, Skipped: e.Skipped, ElapsedMS: &ms}
	case apply.StepFailed:
		return eventJSON{Type: "step_failed", Operation: e.Operation, Connector: e.Connector, Step: string(e.Step), Error: errText(e.Err)}
	case apply.OffsetsAltered:
		return eventJSON{Type: "offsets_altered", Operation: e.Operation, Connector: e.Connector, Via: string(e.Via), Partitions: n(e.Partitions)}
	case apply.Verified:
		return eventJSON{Type: "verified", Operation: e.Operation, Connector: e.Connector, Partitions: n(e.Partitions)}
	case apply.RolledBack:
		return eventJSON{Type: "rolled_back", Operation: e.Operation, Connector: e.Connector, Partitions: n(e.Partitions), StateAfter: e.StateAfter, Error: errText(e.Err)}
	case apply.Recovered:
		return eventJSON{Type: "recovered", Serial: e.Serial, Operation: e.Name, Status: e.Outcome, Message: e.Message, Error: errText(e.Err)}
	case apply.Warning:
		return eventJSON{Type: "warning", Operation: e.Operation, Connector: e.Connector, Message: e.Message}
	case apply.OperationFinished:
		return eventJSON{Type: "operation_finished", Operation: e.Operation, Serial: e.Serial, Status: string(e.Status), Error: errText(e.Err)}
	case apply.RepairReport:
		status := "converged"
		var rem *remainingJSON
		switch {
		case e.Incomplete != "":
			status = "incomplete"
			rem = &remainingJSON{Stale: len(e.Stale)}
			for _, s := range e.Stale {
				rem.StaleKeys = append(rem.StaleKeys, s.Key.String())
			}
			if r := e.Remaining; r != nil {
				rem.Missing, rem.Extra, rem.Mismatched, rem.Error = r.Missing, r.Extra, r.Mismatched, r.Err
				rem.MissingKeys, rem.ExtraKeys, rem.MismatchedKeys = keyStrings(r.MissingKeys), keyStrings(r.ExtraKeys), keyStrings(r.MismatchedKeys)
			}
		case !e.Complete():
			status = "not_converged"
		}
		msg := fmt.Sprintf("%d inserted, %d updated, %d deleted, %d already repaired, %d signals, %d stale; %d keys verified, table checksums equal: %v",
			e.Inserted, e.Updated, e.Deleted, e.Already, e.Signals, len(e.Stale), e.Verified, e.TableEqual)
		if e.Incomplete != "" {
			msg += "; NOT VERIFIED: " + e.Incomplete
		}
		return eventJSON{Type: "repair_report", Operation: e.Operation, Status: status, Message: msg, Remaining: rem}
	}
	return eventJSON{Type: "unknown"}
}

// writeEventStream writes the -json stream: a version record, the events,
// and a summary record.
func writeEventStream(w io.Writer, events []apply.Event, res *apply.Result, applyErr error) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(struct {
		Type             string `json:"type"`
		FormatVersion    int    `json:"format_version"`
		OffsetctlVersion string `json:"offsetctl_version"`
	}{"version", applyEventsVersion, Version}); err != nil {
		return err
	}
	for _, e := range events {
		if err := enc.Encode(eventRecord(e)); err != nil {
			return err
		}
	}
	type opJSON struct {
		Address    string `json:"address"`
		Serial     uint64 `json:"serial"`
		Status     string `json:"status"`
		Partitions int    `json:"partitions"`
		// Incomplete says what an incomplete repair left different.
		Incomplete string `json:"incomplete,omitempty"`
	}
	// ok is true only when every operation was applied and verified;
	// incomplete lists the serials of the operations that ran but were
	// not verified (exit code 4).
	sum := struct {
		Type       string   `json:"type"`
		OK         bool     `json:"ok"`
		Lineage    string   `json:"lineage,omitempty"`
		Serial     uint64   `json:"serial"`
		Operations []opJSON `json:"operations"`
		Recovered  []uint64 `json:"recovered,omitempty"`
		Incomplete []uint64 `json:"incomplete,omitempty"`
		Error      string   `json:"error,omitempty"`
		// ErrorKind names a refusal a CI job acts on: "stale_plan" (the
		// world moved since the plan beyond its tolerance; nothing was
		// changed), "plan_expired" (older than plan_max_age).
		ErrorKind string `json:"error_kind,omitempty"`
	}{Type: "summary", OK: applyErr == nil, Operations: []opJSON{}}
	if res != nil {
		sum.Lineage, sum.Serial, sum.Recovered = res.Lineage, res.Serial, res.Recovered
		for _, op := range res.Operations {
			sum.Operations = append(sum.Operations, opJSON{op.Address, op.Serial, string(op.Status), op.Partitions, op.Incomplete})
			if op.Status == state.StatusIncomplete {
				sum.Incomplete = append(sum.Incomplete, op.Serial)
				sum.OK = false
			}
		}
	}
	if applyErr != nil {
		sum.Error = applyErr.Error()
		switch {
		case errors.Is(applyErr, apply.ErrStalePlan):
			sum.ErrorKind = "stale_plan"
		case errors.Is(applyErr, apply.ErrPlanExpired):
			sum.ErrorKind = "plan_expired"
		}
	}
	return enc.Encode(sum)
}
