package command

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/offsetctl/offsetctl/cmd/offsetctl/internal/command/views"
	"github.com/offsetctl/offsetctl/pkg/offsets"
	"github.com/offsetctl/offsetctl/pkg/plan"
)

type offsetsRestoreOptions struct {
	deps *Deps
	g    *globalOptions
	chg  changeOptions
	out  string
}

// newOffsetsRestoreCmd is `offsetctl offsets restore FILE`, attached under
// `offsetctl offsets`.
func newOffsetsRestoreCmd(deps *Deps, g *globalOptions) *cobra.Command {
	o := &offsetsRestoreOptions{deps: deps, g: g}
	cmd := &cobra.Command{
		Use:   "restore FILE [-out PLANFILE] [-auto-approve]",
		Short: "Restore connectors' offsets from a backup (offsets backup), through a reviewed plan",
		Long: `Read a backup written by offsetctl offsets backup (its checksum and format_version are
verified), and build a plan that sets every partition it holds back to its backed-up
offset, for each connector of the backup that the configuration declares. Partitions
the backup does not hold are left as they are (the plan warns about them).

The plan is shown and confirmed, and applied exactly as offsetctl apply does it: with
the state's journal and before-images, stop, write, verify, resume, and automatic
rollback on failure; offsetctl rollback undoes it afterwards. With -out the plan is
saved for review instead.`,
		Example: `  offsetctl offsets restore backups/offsets-20261120T1430.json
  offsetctl offsets restore backup.json -out restore.json && offsetctl apply restore.json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.chg.loc.parsed(cmd)
			if g.JSON && o.out == "" && !o.chg.autoApprove {
				return flagErrorf("-json without -out needs -auto-approve (there is no one to answer the question)")
			}
			return offsetsRestoreRun(cmd.Context(), o, args[0])
		},
	}
	addChangeFlags(cmd, &o.chg)
	cmd.Flags().StringVar(&o.out, "out", "", "save the restore plan to PLANFILE for review instead of applying it")
	return cmd
}

func offsetsRestoreRun(ctx context.Context, o *offsetsRestoreOptions, file string) error {
	v := views.NewOperation(o.deps.Streams, o.g.JSON, Version)
	b, err := offsets.ReadBackup(file)
	if err != nil {
		return err
	}
	s, err := openSession(ctx, o.deps, o.g, &o.chg, "restore", v)
	if err != nil {
		return err
	}
	defer s.close(ctx)
	st, _, err := readStateRef(ctx, s.backend)
	if err != nil {
		return err
	}
	p, err := plan.RestorePlan(ctx, s.cfg, st, b, file, s.planner.Observe, plan.BuildInfo{OffsetctlVersion: Version, Now: o.deps.Now()})
	if err != nil {
		return err
	}
	if o.out != "" {
		return s.savePlan(o.out, p)
	}
	return s.reviewAndExecute(ctx, o.deps, &o.chg, p, false)
}
