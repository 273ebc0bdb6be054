package views

import (
	"fmt"
	"io"
	"strings"

	"github.com/offsetctl/offsetctl/internal/iostreams"
)

// Readiness is the view of offsetctl readiness: the scorecard as text,
// Markdown or JSON (ReadinessResult, format_version ReadinessFormat).
type Readiness struct {
	*View
	markdown bool
}

// NewReadiness returns the view of readiness; markdown is --markdown.
func NewReadiness(streams *iostreams.Streams, asJSON, markdown bool) *Readiness {
	return &Readiness{View: NewView(streams, asJSON), markdown: markdown}
}

// Scorecard writes the scorecard on stdout.
func (v *Readiness) Scorecard(r *ReadinessResult) error {
	out := v.streams.Out
	switch {
	case v.json:
		return encodeJSON(out, r, false)
	case v.markdown:
		return writeReadinessMarkdown(out, r)
	}
	return writeReadinessText(out, r)
}

// ReadinessResult is the scorecard: -json prints it, text and Markdown
// render it.
type ReadinessResult struct {
	FormatVersion int            `json:"format_version"`
	ReadyRows     int            `json:"ready_rows"`
	Rows          []ReadinessRow `json:"rows"`
}

// ReadinessRow is one row of the runbook's scorecard.
type ReadinessRow struct {
	N        int    `json:"n"`
	Item     string `json:"item"`
	Ready    bool   `json:"ready"`
	Evidence string `json:"evidence"`
	Next     string `json:"next_step,omitempty"`
}

func writeReadinessText(w io.Writer, r *ReadinessResult) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Readiness: %d of %d ready\n", r.ReadyRows, len(r.Rows))
	for _, row := range r.Rows {
		mark := "not ready"
		if row.Ready {
			mark = "ready"
		}
		fmt.Fprintf(&b, "\n%d. %s: %s\n   evidence: %s\n", row.N, row.Item, mark, row.Evidence)
		if row.Next != "" {
			fmt.Fprintf(&b, "   next:     %s\n", row.Next)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeReadinessMarkdown(w io.Writer, r *ReadinessResult) error {
	var b strings.Builder
	fmt.Fprintf(&b, "### Readiness: %d of %d ready\n\n| # | item | ready | evidence | next step |\n|---|---|---|---|---|\n", r.ReadyRows, len(r.Rows))
	for _, row := range r.Rows {
		mark := "❌"
		if row.Ready {
			mark = "✅"
		}
		fmt.Fprintf(&b, "| %d | %s | %s | %s | %s |\n", row.N, row.Item, mark, mdEscape(row.Evidence), mdEscape(row.Next))
	}
	_, err := io.WriteString(w, b.String())
	return err
}
