package views

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/offsetctl/offsetctl/internal/iostreams"
	"github.com/offsetctl/offsetctl/pkg/config"
)

// Validate is the view of offsetctl validate.
type Validate struct{ *View }

// NewValidate returns the view of offsetctl validate.
func NewValidate(streams *iostreams.Streams, asJSON bool) *Validate {
	return &Validate{NewView(streams, asJSON)}
}

// Result writes what validate found: the diagnostics on stderr and, when
// there is no error, what the configuration declares on stdout; with -json
// one document on stdout holding both (no secret in it).
func (v *Validate) Result(cfg *config.Config, diags hcl.Diagnostics) error {
	if v.json {
		return writeValidateJSON(v.streams.Out, cfg, diags)
	}
	if err := v.Diagnostics(cfg.Files, diags); err != nil {
		return err
	}
	if diags.HasErrors() {
		return nil
	}
	warnings := ""
	if n := len(diags); n > 0 {
		warnings = fmt.Sprintf(" (%s)", Plural(n, "warning", "warnings"))
	}
	_, err := fmt.Fprintf(v.streams.Out, "The configuration is valid%s: %s.\n", warnings, summarizeConfig(cfg))
	return err
}

// summarizeConfig counts what the configuration declares.
func summarizeConfig(cfg *config.Config) string {
	parts := []string{
		Plural(len(cfg.Connects), "connect cluster", "connect clusters"),
		Plural(len(cfg.Kafkas), "kafka cluster", "kafka clusters"),
		Plural(len(cfg.Databases), "database", "databases"),
		Plural(len(cfg.Connectors), "connector", "connectors"),
		Plural(len(cfg.Offsets), "offsets operation", "offsets operations"),
		Plural(len(cfg.Reconciles), "reconcile", "reconciles"),
	}
	return strings.Join(parts, ", ")
}

// validateJSON is the -json output of validate.
type validateJSON struct {
	FormatVersion int              `json:"format_version"`
	Valid         bool             `json:"valid"`
	ErrorCount    int              `json:"error_count"`
	WarningCount  int              `json:"warning_count"`
	Diagnostics   []diagnosticJSON `json:"diagnostics"`
}

type diagnosticJSON struct {
	Severity string     `json:"severity"`
	Summary  string     `json:"summary"`
	Detail   string     `json:"detail,omitempty"`
	Range    *rangeJSON `json:"range,omitempty"`
	// Snippet is the first source line of the range.
	Snippet string `json:"snippet,omitempty"`
}

type rangeJSON struct {
	Filename string  `json:"filename"`
	Start    posJSON `json:"start"`
	End      posJSON `json:"end"`
}

type posJSON struct {
	Line   int `json:"line"`
	Column int `json:"column"`
	Byte   int `json:"byte"`
}

func writeValidateJSON(w io.Writer, cfg *config.Config, diags hcl.Diagnostics) error {
	out := validateJSON{FormatVersion: ValidateFormat, Valid: !diags.HasErrors(), Diagnostics: []diagnosticJSON{}}
	// No password reaches the output, in a snippet or a message.
	files, diags := config.RedactSecrets(cfg.Files, diags)
	for _, d := range diags {
		dj := diagnosticJSON{Summary: d.Summary, Detail: d.Detail, Severity: "warning"}
		if d.Severity == hcl.DiagError {
			dj.Severity = "error"
			out.ErrorCount++
		} else {
			out.WarningCount++
		}
		if s := d.Subject; s != nil {
			dj.Range = &rangeJSON{
				Filename: s.Filename,
				Start:    posJSON{s.Start.Line, s.Start.Column, s.Start.Byte},
				End:      posJSON{s.End.Line, s.End.Column, s.End.Byte},
			}
			if f := files[s.Filename]; f != nil && s.Start.Byte <= len(f.Bytes) {
				src := string(f.Bytes)
				start := strings.LastIndexByte(src[:s.Start.Byte], '\n') + 1
				line := src[start:]
				if i := strings.IndexByte(line, '\n'); i >= 0 {
					line = line[:i]
				}
				dj.Snippet = line
			}
		}
		out.Diagnostics = append(out.Diagnostics, dj)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
