package command

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/offsetctl/offsetctl/cmd/offsetctl/internal/command/views"
	"github.com/offsetctl/offsetctl/pkg/apply"
	"github.com/offsetctl/offsetctl/pkg/plan"
)

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
			o.chg.loc.parsed(cmd)
			if len(args) == 1 {
				o.chg.planFile = args[0]
			}
			if g.JSON && o.chg.planFile == "" && !o.chg.autoApprove {
				return flagErrorf("-json without a plan file needs -auto-approve (there is no one to answer the question)")
			}
			return applyRun(cmd.Context(), o)
		},
	}
	addChangeFlags(cmd, &o.chg)
	return cmd
}

func applyRun(ctx context.Context, o *applyOptions) error {
	v := views.NewOperation(o.deps.Streams, o.g.JSON, Version)
	// Refuse a damaged or edited plan before touching anything else.
	var saved *plan.Plan
	if o.chg.planFile != "" {
		p, err := plan.ReadFile(o.chg.planFile)
		if err != nil {
			return err
		}
		saved = p
		o.chg.resources = apply.PlanResources(p)
	}
	s, err := openSession(ctx, o.deps, o.g, &o.chg, "apply", v)
	if err != nil {
		return err
	}
	defer s.close(ctx)
	p := saved
	if p == nil {
		st, ref, err := readStateRef(ctx, s.backend)
		if err != nil {
			return err
		}
		if p, err = s.planner.Plan(ctx, s.cfg, plan.Options{State: ref, Applied: appliedLookup(st)}); err != nil {
			return err
		}
	}
	return s.reviewAndExecute(ctx, o.deps, &o.chg, p, saved != nil)
}
