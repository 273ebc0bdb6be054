package views

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/offsetctl/offsetctl/internal/iostreams"
)

// OffsetsVerify is the view of offsetctl offsets verify: what it found, as
// text, Markdown or JSON (VerifyResult, format_version OffsetsVerifyFormat).
type OffsetsVerify struct {
	*View
	markdown bool
}

// NewOffsetsVerify returns the view of offsets verify; markdown is
// --markdown.
func NewOffsetsVerify(streams *iostreams.Streams, asJSON, markdown bool) *OffsetsVerify {
	return &OffsetsVerify{View: NewView(streams, asJSON), markdown: markdown}
}

// Result writes what verify found on stdout.
func (v *OffsetsVerify) Result(r *VerifyResult) error {
	out := v.streams.Out
	switch {
	case v.json:
		return encodeJSON(out, r, false)
	case v.markdown:
		return writeVerifyMarkdown(out, r)
	}
	return writeVerifyText(out, r)
}

// VerifyResult is what `offsets verify` found: -json prints it, the text and
// Markdown render it.
type VerifyResult struct {
	FormatVersion int            `json:"format_version"`
	File          string         `json:"file"`
	TakenAt       time.Time      `json:"taken_at"`
	Sound         bool           `json:"sound"`
	Connectors    int            `json:"connectors"`
	Compared      bool           `json:"compared_with_live"`
	Changes       []VerifyChange `json:"changes"`
}

// VerifyChange is one partition whose live offset is not the backup's.
type VerifyChange struct {
	Connector string `json:"connector"`
	Partition string `json:"partition"`
	// Kind is "moved" (a different value), "new" (not in the backup) or
	// "gone" (in the backup, not live).
	Kind   string `json:"kind"`
	Backup string `json:"backup,omitempty"`
	Live   string `json:"live,omitempty"`
}

// Moved says whether a live offset is not the backup's.
func (v *VerifyResult) Moved() bool { return len(v.Changes) > 0 }

func writeVerifyText(w io.Writer, v *VerifyResult) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: format and checksum verified; %d connectors, taken %s.\n", v.File, v.Connectors, v.TakenAt.UTC().Format(time.RFC3339))
	switch {
	case !v.Compared:
	case len(v.Changes) == 0:
		b.WriteString("Every live offset is byte for byte what the backup holds.\n")
	default:
		fmt.Fprintf(&b, "%d partitions moved since:\n", len(v.Changes))
		for _, c := range v.Changes {
			switch c.Kind {
			case "moved":
				fmt.Fprintf(&b, "  ~ %s %s: %s → %s\n", c.Connector, c.Partition, c.Backup, c.Live)
			case "new":
				fmt.Fprintf(&b, "  + %s %s: %s (not in the backup)\n", c.Connector, c.Partition, c.Live)
			default:
				fmt.Fprintf(&b, "  - %s %s: %s (no live offset)\n", c.Connector, c.Partition, c.Backup)
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeVerifyMarkdown(w io.Writer, v *VerifyResult) error {
	var b strings.Builder
	fmt.Fprintf(&b, "### offsets backup `%s`\n\nFormat and checksum verified; %d connectors, taken %s.\n\n", v.File, v.Connectors, v.TakenAt.UTC().Format(time.RFC3339))
	if v.Compared {
		if len(v.Changes) == 0 {
			b.WriteString("Every live offset is byte for byte what the backup holds.\n")
		} else {
			b.WriteString("| connector | partition | change | backup | live |\n|---|---|---|---|---|\n")
			for _, c := range v.Changes {
				fmt.Fprintf(&b, "| `%s` | `%s` | %s | `%s` | `%s` |\n", c.Connector, mdEscape(c.Partition), c.Kind, mdEscape(c.Backup), mdEscape(c.Live))
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// mdEscape keeps a value inside its Markdown table cell.
func mdEscape(s string) string { return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s) }
