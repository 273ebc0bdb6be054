package command

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/offsetctl/offsetctl/internal/redact"
	"github.com/offsetctl/offsetctl/pkg/config"
	"github.com/offsetctl/offsetctl/pkg/plan"
	"github.com/offsetctl/offsetctl/pkg/state"
	"github.com/offsetctl/offsetctl/pkg/state/local"
	"github.com/offsetctl/offsetctl/pkg/state/pgstate"
)

// stateLocation says where the state lives.
//
// --state names it outright: a local file, or the postgres:// URL of the
// PostgreSQL backend. Without --state, every command that uses the state
// follows the configuration's `offsetctl { state "local" { path } }` or
// `state "postgres" { url }` block (stateFor), as Terraform's
// state commands follow the backend: plan and apply read the configuration
// anyway; the state commands and force-unlock read it from -chdir for its
// state block only (configState). Without a configuration, or without a
// state block, the state is offsetctl.state.json in the current directory.
type stateLocation struct {
	path  string // --state
	given bool   // --state was given (set by parsed)

	// The configuration of the state commands and force-unlock (plan and
	// apply have their own configOptions).
	chdir string
	in    configInputs

	// acceptPlaintext lets the configured keys read a state stored in the
	// clear (offsetctl state rotate-key, which encrypts it).
	acceptPlaintext bool
}

// parsed records, once cobra parsed the flags, whether --state was given:
// the run functions then need no cobra command.
func (loc *stateLocation) parsed(cmd *cobra.Command) {
	if f := cmd.Flags().Lookup("state"); f != nil {
		loc.given = f.Changed
	}
}

// addStateFlag binds --state on cmd.
func addStateFlag(cmd *cobra.Command, loc *stateLocation) {
	cmd.PersistentFlags().StringVar(&loc.path, "state", local.DefaultPath, "the state: a local file, or a postgres:// URL (without it: the configuration's offsetctl { state } block, else the default file)")
}

// addStateConfigFlags binds -chdir, -var and -var-file on a command that
// reads the configuration only for its state block.
func addStateConfigFlags(cmd *cobra.Command, loc *stateLocation) {
	f := cmd.PersistentFlags()
	f.StringVar(&loc.chdir, "chdir", ".", "the directory holding the configuration (*.hcl) whose offsetctl { state } block names the state")
	f.StringArrayVar(&loc.in.Vars, "var", nil, "set a variable the state block uses, NAME=VALUE (repeatable)")
	f.StringArrayVar(&loc.in.VarFiles, "var-file", nil, "read variable values from an HCL or .json file (repeatable)")
}

// isPostgresURL says whether --state names the PostgreSQL backend.
func isPostgresURL(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// resolveState opens the state backend named by loc.path: the PostgreSQL
// backend for a postgres:// URL, else the local file.
func resolveState(deps *Deps, loc *stateLocation, keys *state.Keyring) (state.Backend, error) {
	if isPostgresURL(loc.path) {
		opts := []pgstate.Option{pgstate.WithVersion(Version), pgstate.WithClock(deps.Now)}
		if keys != nil {
			opts = append(opts, pgstate.WithEncryption(keys))
		}
		b, err := pgstate.New(loc.path, opts...)
		if err != nil {
			return nil, withHint(fmt.Errorf("--state: %w", err), "Give --state as postgres://USER@HOST:PORT/DATABASE, with the password in PGPASSWORD or ~/.pgpass rather than on the command line.")
		}
		return b, nil
	}
	opts := []local.Option{local.WithVersion(Version), local.WithClock(deps.Now)}
	if keys != nil {
		opts = append(opts, local.WithEncryption(keys))
	}
	return local.New(loc.path, opts...), nil
}

// configState opens the state of the state commands and force-unlock:
// --state when given; else, when -chdir holds a configuration, its state
// block (or the default file when it has none); else the default file.
func configState(ctx context.Context, deps *Deps, loc *stateLocation) (state.Backend, error) {
	if !hasConfigFiles(loc.chdir) {
		return resolveState(deps, loc, nil)
	}
	if loc.given {
		// --state names the state; the configuration, when it loads,
		// still says how it is encrypted.
		cfg, _, err := loadConfig(deps, loc.chdir, loc.in, true)
		if err != nil {
			return resolveState(deps, loc, nil)
		}
		return stateFor(ctx, deps, loc, cfg)
	}
	// Unknown values are allowed (as validate allows them): these commands
	// need the state block only, not the variables of the operations.
	cfg, _, err := loadConfig(deps, loc.chdir, loc.in, true)
	if err != nil {
		return nil, err
	}
	return stateFor(ctx, deps, loc, cfg)
}

// hasConfigFiles says whether dir holds a configuration (*.hcl files, as
// config.Load reads them).
func hasConfigFiles(dir string) bool {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range entries {
		if n := e.Name(); !e.IsDir() && !strings.HasPrefix(n, ".") && strings.HasSuffix(n, ".hcl") {
			return true
		}
	}
	return false
}

// describeBackend names the state for messages, never with a password.
func describeBackend(b state.Backend) string {
	switch b := b.(type) {
	case *local.Backend:
		return redact.URL(b.Path())
	case *pgstate.Backend:
		return b.Where()
	}
	return "the state"
}

// stateFor opens the state named by --state, or else by the configuration's
// offsetctl { state "local" { path } } or state "postgres" { url } block, or
// else the default local file.
func stateFor(ctx context.Context, deps *Deps, loc *stateLocation, cfg *config.Config) (state.Backend, error) {
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
	if !loc.given && cfg != nil && cfg.Settings.State != nil {
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
func readStateRef(ctx context.Context, b state.Backend) (*state.State, plan.StateRef, error) {
	s, err := b.Read(ctx)
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
