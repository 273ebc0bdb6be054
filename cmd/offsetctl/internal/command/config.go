package command

import (
	"github.com/hashicorp/hcl/v2"
	"github.com/spf13/cobra"

	"github.com/offsetctl/offsetctl/cmd/offsetctl/internal/command/views"
	"github.com/offsetctl/offsetctl/pkg/config"
)

// configOptions are the flags of the commands that read a configuration.
type configOptions struct {
	chdir string
	in    configInputs
}

func addConfigFlags(cmd *cobra.Command, o *configOptions) {
	cmd.Flags().StringVar(&o.chdir, "chdir", ".", "the directory holding the configuration (*.hcl)")
	o.in.bind(cmd)
}

// configInputs are the flags that give a configuration its variable values:
// -var and -var-file, as validate and plan take them.
type configInputs struct {
	Vars     []string
	VarFiles []string
}

func (in *configInputs) bind(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringArrayVar(&in.Vars, "var", nil, "set a variable, NAME=VALUE (repeatable; wins over -var-file and OFFSETCTL_VAR_NAME)")
	f.StringArrayVar(&in.VarFiles, "var-file", nil, "read variable values from an HCL (NAME = VALUE) or .json file (repeatable; a later file wins)")
}

// loadConfig loads the configuration in dir with the variables of in and
// prints its diagnostics, warnings included, to stderr. It returns a silent
// error when there were errors: the diagnostics said everything. With
// allowUnknown, missing variables and unset environment variables are not
// errors (validate); plan and apply pass false.
func loadConfig(deps *Deps, dir string, in configInputs, allowUnknown bool) (*config.Config, hcl.Diagnostics, error) {
	cfg, diags := config.Load(dir, config.Options{
		Vars:         in.Vars,
		VarFiles:     in.VarFiles,
		Getenv:       deps.Getenv,
		AllowUnknown: allowUnknown,
	})
	if err := views.NewView(deps.Streams, false).Diagnostics(cfg.Files, diags); err != nil {
		return nil, diags, err
	}
	if diags.HasErrors() {
		return nil, diags, reported()
	}
	return cfg, diags, nil
}
