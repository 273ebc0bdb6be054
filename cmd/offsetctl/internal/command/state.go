package command

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/offsetctl/offsetctl/cmd/offsetctl/internal/command/views"
	"github.com/offsetctl/offsetctl/pkg/state"
)

type stateOptions struct {
	deps *Deps
	g    *globalOptions
	loc  stateLocation
}

func newStateCmd(deps *Deps, g *globalOptions) *cobra.Command {
	o := &stateOptions{deps: deps, g: g}
	cmd := &cobra.Command{
		Use:   "state",
		Short: "Inspect the state: what offsetctl applied, when, by whom, and what it overwrote",
		Long: `The state records every operation offsetctl ran: its plan, who ran it and why, its
steps and their results, and the before-images it overwrote, which rollback restores.

  offsetctl state list            the operations, one line each
  offsetctl state show [SERIAL]   the state's summary, or one operation in detail
  offsetctl state history         the chronological log, failures and rollbacks included

These commands only read the state; they take no lock. With -json they print a document
with its own format_version.

The state is the one plan and apply use: --state (a local file or a postgres:// URL) when
given, else the offsetctl { state } block of the configuration in -chdir (default: the
current directory), else offsetctl.state.json.

The state holds the before-images of repairs: whole sink rows, personal data included.
Keep it out of git and tickets (the local file is created with mode 0600; a team keeps it
in PostgreSQL with state "postgres", readable by the roles granted on its schema).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
	}
	addStateFlag(cmd, &o.loc)
	addStateConfigFlags(cmd, &o.loc)
	cmd.AddCommand(
		&cobra.Command{
			Use:   "list",
			Short: "List the operations recorded in the state",
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, args []string) error {
				o.loc.parsed(cmd)
				b, err := configState(deps, &o.loc)
				if err != nil {
					return err
				}
				return stateListRun(cmd.Context(), o, b)
			},
		},
		&cobra.Command{
			Use:   "show [SERIAL | NAME]",
			Short: "Show the state's summary, or one operation in detail with its before-images",
			Long: `Without an argument, show a summary of the whole state (with -json: the whole state
document). With an operation's serial (as state list prints it) or name (its most
recent operation), show that operation in detail: steps, connectors, before-images
and after-images, and the backups taken for it.

Row before-images of reconcile repairs are shown by key only; -json includes the rows.`,
			Example: `  offsetctl state show
  offsetctl state show 3
  offsetctl state show replay_after_smt_fix -json`,
			Args: cobra.MaximumNArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				o.loc.parsed(cmd)
				b, err := configState(deps, &o.loc)
				if err != nil {
					return err
				}
				return stateShowRun(cmd.Context(), o, b, args)
			},
		},
		&cobra.Command{
			Use:   "history",
			Short: "Print the chronological log of operations, failures and rollbacks included",
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, args []string) error {
				o.loc.parsed(cmd)
				b, err := configState(deps, &o.loc)
				if err != nil {
					return err
				}
				return stateHistoryRun(cmd.Context(), o, b)
			},
		},
	)
	return cmd
}

// readState reads the state; a missing state is (nil, nil) after the view
// said so.
func readState(ctx context.Context, v *views.State, b state.Backend) (*state.State, error) {
	s, err := b.Read(ctx)
	if errors.Is(err, state.ErrNoState) {
		v.NoState(describeBackend(b))
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return s, nil
}

func stateListRun(ctx context.Context, o *stateOptions, b state.Backend) error {
	defer b.Close()
	v := views.NewState(o.deps.Streams, o.g.JSON)
	s, err := readState(ctx, v, b)
	if err != nil {
		return err
	}
	return v.List(s)
}

func stateShowRun(ctx context.Context, o *stateOptions, b state.Backend, args []string) error {
	defer b.Close()
	v := views.NewState(o.deps.Streams, o.g.JSON)
	s, err := readState(ctx, v, b)
	if err != nil || s == nil {
		return err
	}
	if len(args) == 0 {
		var holder *state.LockInfo
		if !o.g.JSON {
			if holder, err = b.LockHolder(ctx); err != nil {
				return err
			}
		}
		return v.Summary(describeBackend(b), s, holder)
	}
	op, err := findOperation(s, args[0], describeBackend(b))
	if err != nil {
		return err
	}
	return v.Operation(s, op)
}

func stateHistoryRun(ctx context.Context, o *stateOptions, b state.Backend) error {
	defer b.Close()
	v := views.NewState(o.deps.Streams, o.g.JSON)
	s, err := readState(ctx, v, b)
	if err != nil {
		return err
	}
	return v.History(s)
}

// findOperation finds an operation by serial (digits) or name.
func findOperation(s *state.State, arg, where string) (*state.Operation, error) {
	if n, err := strconv.ParseUint(arg, 10, 64); err == nil {
		if op, ok := s.BySerial(n); ok {
			return op, nil
		}
		return nil, withHint(fmt.Errorf("no operation %d in %s (it records %d)", n, where, len(s.Operations)),
			"List them with: offsetctl state list")
	}
	if op, ok := s.ByName(arg); ok {
		return op, nil
	}
	return nil, withHint(fmt.Errorf("no operation named %q in %s", arg, where), "List them with: offsetctl state list")
}
