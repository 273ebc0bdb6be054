package command

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/offsetctl/offsetctl/cmd/offsetctl/internal/command/views"
	"github.com/offsetctl/offsetctl/internal/iostreams"
)

// Version is offsetctl's version, set at build time with
// -ldflags "-X github.com/offsetctl/offsetctl/cmd/offsetctl/internal/command.Version=...".
var Version = "0.1.0-dev"

// Deps are what commands need from the outside world, injected so tests can
// replace them. Nothing here is global.
type Deps struct {
	Streams *iostreams.Streams
	Getenv  func(string) string
	Now     func() time.Time
}

// globalOptions are the flags every command accepts.
type globalOptions struct {
	ConnectURL         string
	ConnectUser        string
	ConnectHeaders     []string
	ConnectCAFile      string
	ConnectCertFile    string
	ConnectKeyFile     string
	InsecureSkipVerify bool
	BootstrapServers   string
	OffsetsTopic       string
	JSON               bool
	NoColor            bool
	Timeout            time.Duration
}

// Main runs offsetctl with args and returns the process exit code.
func Main(ctx context.Context, args []string, streams *iostreams.Streams) int {
	deps := &Deps{Streams: streams, Getenv: os.Getenv, Now: time.Now}
	return run(ctx, deps, args)
}

func run(ctx context.Context, deps *Deps, args []string) int {
	root, _ := newRootCmd(deps)
	root.SetArgs(normalizeArgs(root, args))
	// cobra writes its help and usage texts to the streams the view gives.
	v := views.NewView(deps.Streams, false)
	v.Cobra(root)
	cmd, err := root.ExecuteContextC(ctx)
	if err != nil {
		if fe, ok := err.(*flagError); ok || isCobraUsageError(err) {
			msg := err.Error()
			if ok {
				msg = fe.Error()
			}
			v.UsageError(msg, cmd.UsageString())
			return ExitError
		}
	}
	return exitCode(err, v.Error)
}

func isCobraUsageError(err error) bool {
	m := err.Error()
	for _, p := range []string{"unknown flag", "unknown shorthand flag", "unknown command", "flag needs an argument", "invalid argument", "accepts ", "requires at least", "requires at most", "bad flag syntax"} {
		if strings.HasPrefix(m, p) {
			return true
		}
	}
	return false
}

func newRootCmd(deps *Deps) (*cobra.Command, *globalOptions) {
	g := &globalOptions{}
	root := &cobra.Command{
		Use:   "offsetctl",
		Short: "Plan and apply Kafka Connect offset surgery and sink reconciliation",
		Long: `offsetctl plans and applies the two riskiest jobs of a CDC operator: offset surgery on
Kafka Connect connectors, and reconciliation of a sink that drifted from its source.

Nothing changes without a reviewed plan, and every plan carries its way back.

Exit codes: 0 success (no changes, no drift); 1 error or refusal; 2 changes present
(plan -detailed-exitcode) or drift found (diff); 3 fmt -check found unformatted files;
4 apply ran, but a repair left the sink different from its source (recorded as
incomplete: plan again, or roll it back).

Flags may be written with one dash or two (-out, --out), as Terraform accepts them.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			return g.resolve(deps)
		},
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return &flagError{err: err} })
	root.SetHelpCommand(newHelpCmd())
	pf := root.PersistentFlags()
	pf.StringVar(&g.ConnectURL, "connect-url", "", "Kafka Connect REST URL (env OFFSETCTL_CONNECT_URL)")
	pf.StringVar(&g.ConnectUser, "connect-user", "", "basic-auth user for Kafka Connect; the password is read from OFFSETCTL_CONNECT_PASSWORD (env OFFSETCTL_CONNECT_USER)")
	pf.StringArrayVar(&g.ConnectHeaders, "connect-header", nil, "extra HTTP header for Kafka Connect, as 'Name: value' (repeatable); a bearer token is read from OFFSETCTL_CONNECT_TOKEN")
	pf.StringVar(&g.ConnectCAFile, "connect-ca-file", "", "PEM file of CA certificates to trust for Kafka Connect's TLS")
	pf.StringVar(&g.ConnectCertFile, "connect-cert-file", "", "PEM client certificate for Kafka Connect's TLS")
	pf.StringVar(&g.ConnectKeyFile, "connect-key-file", "", "PEM private key of the client certificate")
	pf.BoolVar(&g.InsecureSkipVerify, "connect-insecure-skip-verify", false, "do not verify Kafka Connect's TLS certificate (testing only)")
	pf.StringVar(&g.BootstrapServers, "bootstrap-servers", "", "Kafka bootstrap servers, comma-separated (env OFFSETCTL_BOOTSTRAP_SERVERS)")
	pf.StringVar(&g.OffsetsTopic, "offsets-topic", "", "the Connect offsets topic (env OFFSETCTL_OFFSETS_TOPIC, default connect-offsets)")
	pf.BoolVar(&g.JSON, "json", false, "print machine-readable JSON instead of text")
	pf.BoolVar(&g.NoColor, "no-color", false, "do not colour the output")
	pf.DurationVar(&g.Timeout, "timeout", 30*time.Second, "timeout of each request to Kafka Connect, Kafka or PostgreSQL")

	// The top-level commands, one file each. Keep this list in the order
	// `offsetctl --help` shows them.
	root.AddCommand(
		newDemoCmd(deps, g),
		newVersionCmd(deps, g),
		newConnectorsCmd(deps, g),
		newOffsetsCmd(deps, g),
		newValidateCmd(deps, g),
		newFmtCmd(deps, g),
		newPlanCmd(deps, g),
		newApproveCmd(deps, g),
		newApplyCmd(deps, g),
		newRollbackCmd(deps, g),
		newShowCmd(deps, g),
		newDiffCmd(deps, g),
		newCheckCmd(deps, g),
		newDrillCmd(deps, g),
		newReadinessCmd(deps, g),
		newStateCmd(deps, g),
		newForceUnlockCmd(deps, g),
		newSandboxCmd(deps, g),
		newCICmd(deps, g),
	)
	refuseUnknownSubcommands(root)
	return root, g
}

// refuseUnknownSubcommands makes every group command below root (offsets,
// state, sandbox) refuse an unknown subcommand with a usage error: cobra runs
// a command without a RunE as a request for its help, exit code 0. Without
// arguments a group still prints its help.
func refuseUnknownSubcommands(c *cobra.Command) {
	for _, sub := range c.Commands() {
		if sub.HasSubCommands() && !sub.Runnable() {
			sub.Args = cobra.NoArgs
			sub.DisableFlagsInUseLine = true
			sub.RunE = func(cmd *cobra.Command, args []string) error { return cmd.Help() }
		}
		refuseUnknownSubcommands(sub)
	}
}

// newHelpCmd replaces cobra's help command, which answers an unknown topic
// with the root usage and exit code 0: here it is an error (exit 1).
func newHelpCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "help [command]",
		Short:   "Help about any command",
		Long:    "Help prints the help of any command, as COMMAND --help does.",
		Example: `  offsetctl help offsets backup`,
		RunE: func(c *cobra.Command, args []string) error {
			cmd, rest, err := c.Root().Find(args)
			if err != nil || cmd == nil || len(rest) > 0 {
				return withHint(fmt.Errorf("unknown help topic %q", strings.Join(args, " ")),
					"offsetctl --help lists the commands.")
			}
			cmd.InitDefaultHelpFlag()
			return cmd.Help()
		},
	}
}

// resolve fills unset flags from the environment and checks them.
func (g *globalOptions) resolve(deps *Deps) error {
	envDefault(&g.ConnectURL, deps.Getenv("OFFSETCTL_CONNECT_URL"))
	envDefault(&g.ConnectUser, deps.Getenv("OFFSETCTL_CONNECT_USER"))
	envDefault(&g.BootstrapServers, deps.Getenv("OFFSETCTL_BOOTSTRAP_SERVERS"))
	envDefault(&g.OffsetsTopic, deps.Getenv("OFFSETCTL_OFFSETS_TOPIC"))
	envDefault(&g.OffsetsTopic, "connect-offsets")
	if g.NoColor {
		deps.Streams.Color = false
	}
	if g.Timeout <= 0 {
		return flagErrorf("--timeout must be positive, got %s", g.Timeout)
	}
	return nil
}

func envDefault(dst *string, v string) {
	if *dst == "" {
		*dst = v
	}
}

// normalizeArgs turns Terraform-style single-dash long flags (-out FILE,
// -auto-approve) into the double-dash form pflag expects. Only names that are
// defined flags of some command are rewritten, so negative numbers and "-"
// stay as they are.
func normalizeArgs(root *cobra.Command, args []string) []string {
	// help is defined by cobra only when a command runs: list it here so
	// that -help works as --help does.
	long := map[string]bool{"help": true}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		c.Flags().VisitAll(func(f *pflag.Flag) { long[f.Name] = true })
		c.PersistentFlags().VisitAll(func(f *pflag.Flag) { long[f.Name] = true })
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	walk(root)
	out := make([]string, 0, len(args))
	for i, a := range args {
		if a == "--" {
			out = append(out, args[i:]...)
			break
		}
		if strings.HasPrefix(a, "-") && !strings.HasPrefix(a, "--") && len(a) > 2 {
			name := a[1:]
			if k, _, ok := strings.Cut(name, "="); ok {
				name = k
			}
			if long[name] {
				a = "-" + a
			}
		}
		out = append(out, a)
	}
	return out
}
