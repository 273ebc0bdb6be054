package command

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/spf13/cobra"

	"github.com/offsetctl/offsetctl/cmd/offsetctl/internal/command/views"
	"github.com/offsetctl/offsetctl/pkg/config"
	"github.com/offsetctl/offsetctl/pkg/offsets"
)

type validateOptions struct {
	deps   *Deps
	g      *globalOptions
	inputs configInputs
	dir    string
	chdir  string
}

func newValidateCmd(deps *Deps, g *globalOptions) *cobra.Command {
	o := &validateOptions{deps: deps, g: g}
	cmd := &cobra.Command{
		Use:   "validate [DIR]",
		Short: "Check the configuration: syntax, blocks, types, references and rules",
		Long: `Check the configuration in DIR (or -chdir DIR, as plan and apply take it; default: the
current directory): every *.hcl file,
decoded as one configuration. Each problem is reported with its file, line and a snippet.

validate needs no network and no secrets: a variable without a value and an unset
environment variable read with env() are taken as unknown, and the checks that need
their value are skipped (plan checks them). Values given with -var, -var-file or
OFFSETCTL_VAR_NAME are used and checked.

Exit status: 0 when the configuration is valid (warnings are printed), 1 otherwise.
With -json the result is printed as JSON on stdout.`,
		Example: `  offsetctl validate
  offsetctl validate ./offsets -var incident=INC-123
  offsetctl validate -json | jq '.diagnostics[].summary'`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.dir = "."
			if o.chdir != "" {
				if len(args) == 1 {
					return flagErrorf("give the directory once: either DIR or -chdir DIR")
				}
				o.dir = o.chdir
			}
			if len(args) == 1 {
				o.dir = args[0]
			}
			return validateRun(o)
		},
	}
	o.inputs.bind(cmd)
	cmd.Flags().StringVar(&o.chdir, "chdir", "", "the directory holding the configuration (*.hcl), as plan and apply take it")
	return cmd
}

func validateRun(o *validateOptions) error {
	deps := o.deps
	cfg, diags := config.Load(o.dir, config.Options{Vars: o.inputs.Vars, VarFiles: o.inputs.VarFiles, Getenv: deps.Getenv, AllowUnknown: true})
	if !diags.HasErrors() {
		diags = append(diags, checkOffsetFormats(cfg, offsets.NewRegistry())...)
	}
	if o.g.JSON {
		if err := writeValidateJSON(deps.Streams.Out, cfg, diags); err != nil {
			return err
		}
		if diags.HasErrors() {
			return reported()
		}
		return nil
	}
	if err := views.NewView(deps.Streams, false).Diagnostics(cfg.Files, diags); err != nil {
		return err
	}
	if diags.HasErrors() {
		return reported()
	}
	warnings := ""
	if n := len(diags); n > 0 {
		warnings = fmt.Sprintf(" (%s)", plural(n, "warning", "warnings"))
	}
	_, err := fmt.Fprintf(deps.Streams.Out, "The configuration is valid%s: %s.\n", warnings, summarizeConfig(cfg))
	return err
}

// checkOffsetFormats checks what the offset codecs can check without the
// live offsets: that each connector's format names a codec, and that each
// source_partition offset that replaces (not merges) is valid for it.
func checkOffsetFormats(cfg *config.Config, codecs *offsets.Registry) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, c := range cfg.Connectors {
		if c.Format == "" {
			continue
		}
		if _, ok := codecs.Lookup(c.Format); !ok {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Unknown offset format",
				Detail:   fmt.Sprintf("There is no offset format %q. The known formats are %s; leave format out to choose it from the connector's class.", c.Format, strings.Join(codecs.Names(), ", ")),
				Subject:  rangePtr(c.Ranges["format"]),
			})
		}
	}
	for _, op := range cfg.Offsets {
		if op.Connector == nil || op.Connector.Format == "" {
			continue
		}
		codec, ok := codecs.Lookup(op.Connector.Format)
		if !ok {
			continue
		}
		for _, sp := range op.SourcePartitions {
			if sp.Offset == nil || sp.Merge || sp.Partition == nil {
				continue
			}
			partition, perr := offsets.ParseMap(sp.Partition)
			offset, oerr := offsets.ParseMap(sp.Offset)
			if perr != nil || oerr != nil {
				continue // the configuration allows only flat objects; nothing to add
			}
			var verr *offsets.ValidationError
			if err := codec.Validate(partition, offset, nil); errors.As(err, &verr) {
				for _, p := range verr.Problems {
					diags = append(diags, &hcl.Diagnostic{
						Severity: hcl.DiagError,
						Summary:  "Invalid offset",
						Detail:   fmt.Sprintf("This is not a valid %s offset: %s", codec.Name(), p.Message),
						Subject:  rangePtr(sp.Ranges["offset"]),
					})
				}
			} else if err != nil {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid offset", Detail: err.Error(), Subject: rangePtr(sp.Ranges["offset"])})
			}
		}
	}
	return diags
}

func rangePtr(r hcl.Range) *hcl.Range {
	if r == (hcl.Range{}) {
		return nil
	}
	return &r
}

// summarizeConfig counts what the configuration declares.
func summarizeConfig(cfg *config.Config) string {
	parts := []string{
		plural(len(cfg.Connects), "connect cluster", "connect clusters"),
		plural(len(cfg.Kafkas), "kafka cluster", "kafka clusters"),
		plural(len(cfg.Databases), "database", "databases"),
		plural(len(cfg.Connectors), "connector", "connectors"),
		plural(len(cfg.Offsets), "offsets operation", "offsets operations"),
		plural(len(cfg.Reconciles), "reconcile", "reconciles"),
	}
	return strings.Join(parts, ", ")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// validateJSON is the -json output of validate, format_version 1.
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
	out := validateJSON{FormatVersion: 1, Valid: !diags.HasErrors(), Diagnostics: []diagnosticJSON{}}
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
