package views

import (
	"fmt"
	"io"

	"github.com/offsetctl/offsetctl/internal/iostreams"
	"github.com/offsetctl/offsetctl/pkg/plan"
	"github.com/offsetctl/offsetctl/pkg/plan/render"
)

// Plan is the view of plan and show: the plan as text, Markdown (for a
// pull request) or JSON, all rendered by pkg/plan/render from the one plan
// structure.
type Plan struct {
	*View
	markdown bool
}

// NewPlan returns the view of plan and show; markdown is -markdown.
func NewPlan(streams *iostreams.Streams, asJSON, markdown bool) *Plan {
	return &Plan{View: NewView(streams, asJSON), markdown: markdown}
}

// Plan writes p on stdout in the chosen rendering.
func (v *Plan) Plan(p *plan.Plan) error {
	out := v.streams.Out
	switch {
	case v.json:
		return render.JSON(out, p)
	case v.markdown:
		return render.Markdown(out, p, 0)
	}
	return render.Text(out, p, render.Options{Color: v.streams.Color})
}

// Saved says where the plan was saved and how to review and apply it: on
// stdout after text, on stderr after JSON or Markdown (stdout holds the
// document).
func (v *Plan) Saved(path string, p *plan.Plan) {
	w := v.streams.Out
	if v.json || v.markdown {
		w = v.streams.Err
	}
	savedNote(w, path, p)
}

func savedNote(w io.Writer, path string, p *plan.Plan) {
	fmt.Fprintf(w, "\nSaved the plan to %s (hash %s).\nReview it (offsetctl show -markdown %s for the pull request), then run:\n    offsetctl apply %s\n", path, p.Hash, path, path)
}
