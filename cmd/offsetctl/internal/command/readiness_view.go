package command

import (
	"fmt"
	"io"
	"strings"
)

// readinessResult is the scorecard: -json prints it, text and Markdown
// render it.
type readinessResult struct {
	FormatVersion int            `json:"format_version"`
	ReadyRows     int            `json:"ready_rows"`
	Rows          []readinessRow `json:"rows"`
}

// readinessRow is one row of the runbook's scorecard.
type readinessRow struct {
	N        int    `json:"n"`
	Item     string `json:"item"`
	Ready    bool   `json:"ready"`
	Evidence string `json:"evidence"`
	Next     string `json:"next_step,omitempty"`
}

func writeReadinessText(w io.Writer, r *readinessResult) error {
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

func writeReadinessMarkdown(w io.Writer, r *readinessResult) error {
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
