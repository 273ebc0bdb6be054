package command

import (
	"context"
	"errors"
	"time"

	"github.com/spf13/cobra"

	"github.com/offsetctl/offsetctl/cmd/offsetctl/internal/command/views"
	"github.com/offsetctl/offsetctl/pkg/plan"
	"github.com/offsetctl/offsetctl/pkg/state"
)

type planOptions struct {
	deps     *Deps
	g        *globalOptions
	cfg      configOptions
	loc      stateLocation
	out      string
	markdown bool
	detailed bool
	targets  []string
}

func newPlanCmd(deps *Deps, g *globalOptions) *cobra.Command {
	o := &planOptions{deps: deps, g: g}
	cmd := &cobra.Command{
		Use:   "plan [-out FILE] [-json | -markdown] [-detailed-exitcode] [-target ADDR]...",
		Short: "Show what offsetctl would change, and how to undo it, without changing anything",
		Long: `Read the configuration (every *.hcl file in -chdir), observe the connectors its offsets
blocks name (their state, config and offsets; each sink partition's log start and end),
and show what apply would do: per partition before → after, the records replayed or
skipped, the safety checks, and the rollback plan.

Planning only reads. Save the plan with -out and commit it for review (a plan holds
offsets, keys and row hashes, never row values); offsetctl apply FILE executes exactly
that plan, after checking that nothing moved since. The state is another matter: it
holds the rows a repair overwrote, so it stays out of git (mode 0600 locally; a team
uses state "postgres").

Exit codes: 0 success, 1 error or a plan that cannot be applied; with
-detailed-exitcode, 0 means no changes and 2 means changes are present.`,
		Example: `  offsetctl plan
  offsetctl plan -out plan.json -var incident=INC-4711
  offsetctl plan -target offsets.skip_poison_pill -detailed-exitcode
  offsetctl show -markdown plan.json   # for the pull request`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.loc.parsed(cmd)
			return planRun(cmd.Context(), o)
		},
	}
	addConfigFlags(cmd, &o.cfg)
	addStateFlag(cmd, &o.loc)
	f := cmd.Flags()
	f.StringVar(&o.out, "out", "", "save the plan to FILE for offsetctl apply")
	f.BoolVar(&o.markdown, "markdown", false, "print Markdown for a pull-request comment")
	f.BoolVar(&o.detailed, "detailed-exitcode", false, "exit 0 when there are no changes, 2 when there are")
	f.StringArrayVar(&o.targets, "target", nil, "plan only this operation or connector (offsets.NAME, connector.NAME; repeatable)")
	return cmd
}

func planRun(ctx context.Context, o *planOptions) error {
	if o.markdown && o.g.JSON {
		return flagErrorf("-json and -markdown cannot be combined")
	}
	v := views.NewPlan(o.deps.Streams, o.g.JSON, o.markdown)
	cfg, _, err := loadConfig(o.deps, o.cfg.chdir, o.cfg.in, false)
	if err != nil {
		return err
	}
	// A -target that names nothing is a typo: say so, with the closest
	// address, before observing anything (and before a "No changes").
	for _, t := range o.targets {
		if err := cfg.CheckTarget(t); err != nil {
			return withHint(err, "-target takes offsets.NAME, connector.NAME or reconcile.NAME, as the *.hcl files in "+o.cfg.chdir+" declare them.")
		}
	}
	backend, err := stateFor(ctx, o.deps, &o.loc, cfg)
	if err != nil {
		return err
	}
	defer backend.Close()
	st, ref, err := readStateRef(ctx, backend)
	if err != nil {
		return err
	}
	clients := newConfigClients(cfg, o.g.Timeout)
	defer clients.Close()
	p, err := newPlanner(o.deps, clients).Plan(ctx, cfg, plan.Options{Targets: o.targets, State: ref, Applied: appliedLookup(st)})
	if err != nil {
		return err
	}
	p.Checks = append(p.Checks, plan.Preflight(cfg, p, preflightInputs(st, o.deps.Now()))...)
	if o.out != "" && !p.HasErrors() {
		if err := plan.WriteFile(o.out, p); err != nil {
			return err
		}
	}
	if err := v.Plan(p); err != nil {
		return err
	}
	if p.HasErrors() {
		return errors.New("the plan has errors and cannot be applied (see Checks above); nothing was saved")
	}
	if o.out != "" {
		v.Saved(o.out, p)
	}
	return planExit(o.detailed, p)
}

// preflightInputs reads the last recorded drift check from the state for the
// plan's pre-flight checklist.
func preflightInputs(st *state.State, now time.Time) plan.PreflightInputs {
	in := plan.PreflightInputs{Now: now}
	if op := lastOp(st, state.KindCheck); op != nil {
		in.LastCheck, in.LastCheckHealthy = op.Started, op.Status == state.StatusApplied
	}
	return in
}
