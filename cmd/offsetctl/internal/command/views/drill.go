package views

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/offsetctl/offsetctl/internal/iostreams"
)

// Drill is the view of offsetctl drill: the drill's phases, connectors and
// time to recovery as text, Markdown or JSON (DrillResult, format_version
// DrillFormat).
type Drill struct {
	*View
	markdown bool
}

// NewDrill returns the view of drill; markdown is --markdown.
func NewDrill(streams *iostreams.Streams, asJSON, markdown bool) *Drill {
	return &Drill{View: NewView(streams, asJSON), markdown: markdown}
}

// Result writes the drill on stdout.
func (v *Drill) Result(r *DrillResult) error {
	out := v.streams.Out
	switch {
	case v.json:
		return encodeJSON(out, r, false)
	case v.markdown:
		return writeDrillMarkdown(out, r)
	}
	return writeDrillText(out, r)
}

// DrillResult is one drill: -json prints it, the text and Markdown render
// it, and the state's history records it (the drill command's
// drillOperation).
type DrillResult struct {
	FormatVersion        int              `json:"format_version"`
	Target               string           `json:"target"`
	Rewind               int64            `json:"rewind"`
	Rehearsed            []string         `json:"rehearsed,omitempty"`
	StartedAt            time.Time        `json:"started_at"`
	Phases               []DrillPhase     `json:"phases"`
	Connectors           []DrillConnector `json:"connectors"`
	RestoreSeconds       float64          `json:"restore_seconds"`
	TotalSeconds         float64          `json:"total_seconds"`
	RestoreTargetSeconds float64          `json:"restore_target_seconds"`
	TotalTargetSeconds   float64          `json:"total_target_seconds"`
	Passed               bool             `json:"passed"`
	Verdict              string           `json:"verdict"`
	Error                string           `json:"error,omitempty"`
	StateSerial          uint64           `json:"state_serial,omitempty"`
}

// DrillPhase is one timed phase of a drill.
type DrillPhase struct {
	Name    string    `json:"name"`
	Started time.Time `json:"-"`
	Seconds float64   `json:"seconds"`
	Error   string    `json:"error,omitempty"`
}

// DrillConnector is one production connector and its shadow's verdict.
type DrillConnector struct {
	Connector   string   `json:"connector"`
	Shadow      string   `json:"shadow"`
	Type        string   `json:"type"`
	Partitions  int      `json:"partitions"`
	Verified    bool     `json:"verified"`
	Differences []string `json:"differences,omitempty"`
}

// Decide sets Passed and Verdict: every offset back, the restore within 5
// minutes and the drill within 15.
func (r *DrillResult) Decide() {
	verified := r.Error == "" && len(r.Connectors) > 0
	for _, c := range r.Connectors {
		verified = verified && c.Verified
	}
	switch {
	case r.Error != "":
		r.Verdict = "failed: " + r.Error
	case !verified:
		r.Verdict = "failed: offsets not back as they were"
	case r.RestoreSeconds > r.RestoreTargetSeconds:
		r.Verdict = "failed: the restore took longer than the runbook's target"
	case r.TotalSeconds > r.TotalTargetSeconds:
		r.Verdict = "failed: the drill took longer than the runbook's target"
	default:
		r.Passed, r.Verdict = true, "passed"
	}
}

func writeDrillText(w io.Writer, r *DrillResult) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Drill on %s: %s\n\n", r.Target, r.Verdict)
	if len(r.Rehearsed) > 0 {
		fmt.Fprintf(&b, "Rehearsed: %s\n\n", strings.Join(r.Rehearsed, ", "))
	}
	for _, p := range r.Phases {
		fmt.Fprintf(&b, "  %-40s %8.3f s", p.Name, p.Seconds)
		if p.Error != "" {
			fmt.Fprintf(&b, "  %s", p.Error)
		}
		b.WriteString("\n")
	}
	b.WriteString("\n")
	for _, c := range r.Connectors {
		mark := "back byte for byte"
		if !c.Verified {
			mark = fmt.Sprintf("NOT back: %s", strings.Join(c.Differences, "; "))
		}
		fmt.Fprintf(&b, "  %s (%s, %d partitions) via %s: %s\n", c.Connector, c.Type, c.Partitions, c.Shadow, mark)
	}
	fmt.Fprintf(&b, "\nTime to recovery: %.3f s (runbook target %s); whole drill %.3f s (target %s).\n",
		r.RestoreSeconds, time.Duration(r.RestoreTargetSeconds)*time.Second, r.TotalSeconds, time.Duration(r.TotalTargetSeconds)*time.Second)
	if r.StateSerial != 0 {
		fmt.Fprintf(&b, "Recorded in the state as operation %d (kind drill).\n", r.StateSerial)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeDrillMarkdown(w io.Writer, r *DrillResult) error {
	var b strings.Builder
	fmt.Fprintf(&b, "### Rollback drill on %s: %s\n\n| phase | seconds |\n|---|---:|\n", r.Target, r.Verdict)
	for _, p := range r.Phases {
		fmt.Fprintf(&b, "| %s | %.3f |\n", p.Name, p.Seconds)
	}
	b.WriteString("\n| connector | shadow | partitions | back byte for byte |\n|---|---|---:|---|\n")
	for _, c := range r.Connectors {
		fmt.Fprintf(&b, "| `%s` | `%s` | %d | %v |\n", c.Connector, c.Shadow, c.Partitions, c.Verified)
	}
	fmt.Fprintf(&b, "\nTime to recovery **%.3f s** (target 5 min); whole drill **%.3f s** (target 15 min).\n", r.RestoreSeconds, r.TotalSeconds)
	_, err := io.WriteString(w, b.String())
	return err
}
