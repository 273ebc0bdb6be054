package command

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/offsetctl/offsetctl/pkg/config"
	"github.com/offsetctl/offsetctl/pkg/offsets"
	"github.com/offsetctl/offsetctl/pkg/plan"
	"github.com/offsetctl/offsetctl/pkg/state"
	"github.com/offsetctl/offsetctl/pkg/state/pgstate"
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

// stateFor opens the state named by --state, or else by the configuration's
// offsetctl { state "local" { path } } or state "postgres" { url } block, or
// else the default local file.
func stateFor(deps *Deps, cmd *cobra.Command, loc *stateLocation, cfg *config.Config) (state.Backend, error) {
	given := false
	if f := cmd.Flags().Lookup("state"); f != nil {
		given = f.Changed
	}
	ctx := cmd.Context()
	if ctx == nil {
		ctx = context.Background()
	}
	keys, err := stateKeys(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if keys != nil && loc.acceptPlaintext {
		keys = keys.AcceptingPlaintext()
	}
	if !given && cfg != nil && cfg.Settings.State != nil {
		sb := cfg.Settings.State
		switch sb.Type {
		case "local":
			if sb.Path != "" {
				loc.path = cfg.Path(sb.Path)
			}
		case "postgres":
			if sb.URL.IsZero() {
				// pgstate would fall back to the PG* variables: some other
				// database, silently.
				at := sb.DeclRange
				if r, ok := sb.Ranges["url"]; ok {
					at = r
				}
				return nil, withHint(fmt.Errorf("the url of the state \"postgres\" block (%s) has no value", at),
					"Set what its url reads (for env(\"NAME\"): export NAME=postgres://USER@HOST/DATABASE), or name the state with --state.")
			}
			opts := []pgstate.Option{pgstate.WithVersion(Version), pgstate.WithClock(deps.Now)}
			if keys != nil {
				opts = append(opts, pgstate.WithEncryption(keys))
			}
			if sb.Schema != "" {
				opts = append(opts, pgstate.WithSchema(sb.Schema))
			}
			b, err := pgstate.New(sb.URL.Value(), opts...)
			if err != nil {
				return nil, fmt.Errorf("the state \"postgres\" block: %w", err)
			}
			return b, nil
		}
	}
	return resolveState(deps, loc, keys)
}

// readStateRef reads the state for planning: its lineage and serial, and
// the applied lookup. A missing state plans against nothing applied.
func readStateRef(cmd *cobra.Command, b state.Backend) (*state.State, plan.StateRef, error) {
	s, err := b.Read(cmd.Context())
	if errors.Is(err, state.ErrNoState) {
		return nil, plan.StateRef{}, nil
	}
	if err != nil {
		return nil, plan.StateRef{}, err
	}
	return s, plan.StateRef{Lineage: s.Lineage, Serial: s.Serial}, nil
}

// appliedLookup adapts the state to the planner's Applied callback.
func appliedLookup(s *state.State) func(name string) (uint64, string, bool) {
	if s == nil {
		return nil
	}
	return func(name string) (uint64, string, bool) {
		op, ok := s.LastApplied(name)
		if !ok {
			return 0, "", false
		}
		return op.Serial, op.BlockHash, true
	}
}

// appliedBefore is appliedLookup of the state as it was when the plan with
// hash planHash was made: apply admits a state that moved since only by
// earlier attempts of that same plan, so leaving their operations out gives
// the state planning saw.
func appliedBefore(s *state.State, planHash string) func(name string) (uint64, string, bool) {
	if s == nil {
		return nil
	}
	return func(name string) (uint64, string, bool) {
		for i := len(s.Operations) - 1; i >= 0; i-- {
			op := &s.Operations[i]
			if op.PlanHash == planHash {
				continue
			}
			if op.Name == name && (op.Kind == state.KindOffsets || op.Kind == state.KindReconcile) && op.Status == state.StatusApplied {
				return op.Serial, op.BlockHash, true
			}
		}
		return 0, "", false
	}
}

type planOptions struct {
	deps     *Deps
	g        *globalOptions
	cfg      configOptions
	loc      stateLocation
	out      string
	markdown bool
	detailed bool
	targets  []string
}

func newPlanCmd(deps *Deps, g *globalOptions) *cobra.Command {
	o := &planOptions{deps: deps, g: g}
	cmd := &cobra.Command{
		Use:   "plan [-out FILE] [-json | -markdown] [-detailed-exitcode] [-target ADDR]...",
		Short: "Show what offsetctl would change, and how to undo it, without changing anything",
		Long: `Read the configuration (every *.hcl file in -chdir), observe the connectors its offsets
blocks name (their state, config and offsets; each sink partition's log start and end),
and show what apply would do: per partition before → after, the records replayed or
skipped, the safety checks, and the rollback plan.

Planning only reads. Save the plan with -out and commit it for review (a plan holds
offsets, keys and row hashes, never row values); offsetctl apply FILE executes exactly
that plan, after checking that nothing moved since. The state is another matter: it
holds the rows a repair overwrote, so it stays out of git (mode 0600 locally; a team
uses state "postgres").

Exit codes: 0 success, 1 error or a plan that cannot be applied; with
-detailed-exitcode, 0 means no changes and 2 means changes are present.`,
		Example: `  offsetctl plan
  offsetctl plan -out plan.json -var incident=INC-4711
  offsetctl plan -target offsets.skip_poison_pill -detailed-exitcode
  offsetctl show -markdown plan.json   # for the pull request`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return planRun(cmd, o) },
	}
	addConfigFlags(cmd, &o.cfg)
	addStateFlag(cmd, &o.loc)
	f := cmd.Flags()
	f.StringVar(&o.out, "out", "", "save the plan to FILE for offsetctl apply")
	f.BoolVar(&o.markdown, "markdown", false, "print Markdown for a pull-request comment")
	f.BoolVar(&o.detailed, "detailed-exitcode", false, "exit 0 when there are no changes, 2 when there are")
	f.StringArrayVar(&o.targets, "target", nil, "plan only this operation or connector (offsets.NAME, connector.NAME; repeatable)")
	return cmd
}

func planRun(cmd *cobra.Command, o *planOptions) error {
	if o.markdown && o.g.JSON {
		return flagErrorf("-json and -markdown cannot be combined")
	}
	ctx := cmd.Context()
	cfg, _, err := loadConfig(o.deps, o.cfg.chdir, o.cfg.in, false)
	if err != nil {
		return err
	}
	// A -target that names nothing is a typo: say so, with the closest
	// address, before observing anything (and before a "No changes").
	for _, t := range o.targets {
		if err := cfg.CheckTarget(t); err != nil {
			return withHint(err, "-target takes offsets.NAME, connector.NAME or reconcile.NAME, as the *.hcl files in "+o.cfg.chdir+" declare them.")
		}
	}
	backend, err := stateFor(o.deps, cmd, &o.loc, cfg)
	if err != nil {
		return err
	}
	defer backend.Close()
	st, ref, err := readStateRef(cmd, backend)
	if err != nil {
		return err
	}
	clients := newConfigClients(cfg, o.g.Timeout)
	defer clients.Close()
	pl := &plan.Planner{Clients: clients, Codecs: offsets.NewRegistry(), Now: o.deps.Now, Version: Version}
	p, err := pl.Plan(ctx, cfg, plan.Options{Targets: o.targets, State: ref, Applied: appliedLookup(st)})
	if err != nil {
		return err
	}
	p.Checks = append(p.Checks, plan.Preflight(cfg, p, preflightInputs(st, o.deps.Now()))...)
	notes := o.deps.Streams.Out
	if o.g.JSON || o.markdown {
		notes = o.deps.Streams.Err
	}
	if o.out != "" && !p.HasErrors() {
		if err := plan.WriteFile(o.out, p); err != nil {
			return err
		}
	}
	if err := renderPlan(o.deps, o.g, p, o.markdown); err != nil {
		return err
	}
	if p.HasErrors() {
		return errors.New("the plan has errors and cannot be applied (see Checks above); nothing was saved")
	}
	if o.out != "" {
		writeSavedNote(notes, o.out, p)
	}
	if o.detailed && p.HasChanges() {
		return &exitError{code: ExitChanges}
	}
	return nil
}

func writeSavedNote(w io.Writer, path string, p *plan.Plan) {
	fmt.Fprintf(w, "\nSaved the plan to %s (hash %s).\nReview it (offsetctl show -markdown %s for the pull request), then run:\n    offsetctl apply %s\n", path, p.Hash, path, path)
}

// preflightInputs reads the last recorded drift check from the state for the
// plan's pre-flight checklist.
func preflightInputs(st *state.State, now time.Time) plan.PreflightInputs {
	in := plan.PreflightInputs{Now: now}
	if op := lastOp(st, state.KindCheck); op != nil {
		in.LastCheck, in.LastCheckHealthy = op.Started, op.Status == state.StatusApplied
	}
	return in
}
