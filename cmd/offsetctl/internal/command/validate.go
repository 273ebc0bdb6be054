package command

import (
	"errors"
	"fmt"
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
	v := views.NewValidate(deps.Streams, o.g.JSON)
	if err := v.Result(cfg, diags); err != nil {
		return err
	}
	if diags.HasErrors() {
		return reported()
	}
	return nil
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
