package command

import (
	"github.com/spf13/cobra"

	"github.com/offsetctl/offsetctl/pkg/plan"
	"github.com/offsetctl/offsetctl/pkg/plan/render"
)

type showOptions struct {
	deps     *Deps
	g        *globalOptions
	markdown bool
}

func newShowCmd(deps *Deps, g *globalOptions) *cobra.Command {
	o := &showOptions{deps: deps, g: g}
	cmd := &cobra.Command{
		Use:   "show [-json | -markdown] PLANFILE",
		Short: "Render a saved plan as text, Markdown (for a pull request) or JSON",
		Long: `Render a plan saved with offsetctl plan -out. The file's hash is verified first: a plan
that was edited after it was written is refused, and so is a plan of a format_version
this offsetctl does not read.

Nothing is contacted: show reads only the file.`,
		Example: `  offsetctl show plan.json
  offsetctl show -markdown plan.json > comment.md
  offsetctl show -json plan.json | jq '.summary'`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.markdown && g.JSON {
				return flagErrorf("-json and -markdown cannot be combined")
			}
			p, err := plan.ReadFile(args[0])
			if err != nil {
				return err
			}
			return renderPlan(deps, g, p, o.markdown)
		},
	}
	cmd.Flags().BoolVar(&o.markdown, "markdown", false, "render Markdown for a pull-request comment")
	return cmd
}

// renderPlan writes p to stdout in the chosen rendering.
func renderPlan(deps *Deps, g *globalOptions, p *plan.Plan, markdown bool) error {
	out := deps.Streams.Out
	switch {
	case g.JSON:
		return render.JSON(out, p)
	case markdown:
		return render.Markdown(out, p, 0)
	}
	return render.Text(out, p, render.Options{Color: deps.Streams.Color})
}
