package command

import (
	"github.com/spf13/cobra"

	"github.com/offsetctl/offsetctl/cmd/offsetctl/internal/command/views"
	"github.com/offsetctl/offsetctl/pkg/plan"
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
			return showRun(o, args[0])
		},
	}
	cmd.Flags().BoolVar(&o.markdown, "markdown", false, "render Markdown for a pull-request comment")
	return cmd
}

func showRun(o *showOptions, file string) error {
	p, err := plan.ReadFile(file)
	if err != nil {
		return err
	}
	return views.NewPlan(o.deps.Streams, o.g.JSON, o.markdown).Plan(p)
}
