package command

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/offsetctl/offsetctl/cmd/offsetctl/internal/command/views"
	"github.com/offsetctl/offsetctl/pkg/apply"
	"github.com/offsetctl/offsetctl/pkg/plan"
	"github.com/offsetctl/offsetctl/pkg/state"
)

type rollbackOptions struct {
	deps   *Deps
	g      *globalOptions
	chg    changeOptions
	serial uint64
	out    string
}

func newRollbackCmd(deps *Deps, g *globalOptions) *cobra.Command {
	o := &rollbackOptions{deps: deps, g: g}
	cmd := &cobra.Command{
		Use:   "rollback [-serial N | OPERATION] [-out FILE] [-auto-approve]",
		Short: "Put back what an operation overwrote, offsets or sink rows (default: the last one)",
		Long: `Build a plan that restores the before-images of an operation recorded in the state, and
apply it through the same path as offsetctl apply, with the same checks: stop, write,
verify exactly, return the connector to the state the operation found it in. For a
reconcile operation that repaired a sink (repair = "upsert"), it puts every row the repair
touched back from its before-image, in one transaction per table, after checking that
nobody changed those rows since the repair (it refuses and names the keys otherwise).

The operation is the last one that left something to undo (applied, or unfinished
because offsetctl was killed or its automatic rollback failed), or the one named by
-serial N (as offsetctl state list shows it) or by its name. When the unfinished one is
itself a rollback (offsetctl rollback was killed), running rollback again finishes it,
as running apply again finishes an apply: from the live offsets, it is recorded applied
or what it had left to write is written; -serial N of that rollback undoes it instead.

The plan is shown and confirmed as apply does (-auto-approve skips the question); with
-out it is saved for review instead, to be applied with offsetctl apply FILE. When the
connector ran since the operation, the plan warns that rolling back overwrites the
newer offsets.`,
		Example: `  offsetctl rollback
  offsetctl rollback -serial 3 -out rollback.json && offsetctl apply rollback.json
  offsetctl rollback replay_after_smt_fix -auto-approve`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.chg.loc.parsed(cmd)
			name := ""
			if len(args) == 1 {
				name = args[0]
				if o.serial != 0 {
					return flagErrorf("give either -serial or an operation name, not both")
				}
				if n, err := strconv.ParseUint(name, 10, 64); err == nil {
					o.serial, name = n, ""
				}
			}
			if g.JSON && o.out == "" && !o.chg.autoApprove {
				return flagErrorf("-json without -out needs -auto-approve (there is no one to answer the question)")
			}
			return rollbackRun(cmd.Context(), o, name)
		},
	}
	addChangeFlags(cmd, &o.chg)
	cmd.Flags().Uint64Var(&o.serial, "serial", 0, "roll back the operation with this serial (offsetctl state list)")
	cmd.Flags().StringVar(&o.out, "out", "", "save the rollback plan to FILE for review instead of applying it")
	return cmd
}

func rollbackRun(ctx context.Context, o *rollbackOptions, name string) error {
	v := views.NewOperation(o.deps.Streams, o.g.JSON, Version)
	s, err := openSession(ctx, o.deps, o.g, &o.chg, "rollback", v)
	if err != nil {
		return err
	}
	defer s.close(ctx)
	st, err := s.backend.Read(ctx)
	if errors.Is(err, state.ErrNoState) {
		return fmt.Errorf("%w: there is no state yet, so nothing was applied", apply.ErrNothingToRollback)
	}
	if err != nil {
		return err
	}
	target, err := plan.RollbackCandidate(st, o.serial, name)
	if err != nil {
		return err
	}
	unfinished, _ := st.UnfinishedRollbackOf(target.Serial)
	v.RollingBack(target, unfinished)
	p, err := plan.RollbackPlan(ctx, s.cfg, st, []*state.Operation{target}, s.planner.Observe, plan.BuildInfo{OffsetctlVersion: Version, Now: o.deps.Now()})
	if err != nil {
		return err
	}
	if o.out != "" {
		return s.savePlan(o.out, p)
	}
	return s.reviewAndExecute(ctx, o.deps, &o.chg, p, false)
}
