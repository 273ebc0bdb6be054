package command

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/offsetctl/offsetctl/cmd/offsetctl/internal/command/views"
	"github.com/offsetctl/offsetctl/pkg/state"
)

type stateOptions struct {
	deps     *Deps
	g        *globalOptions
	loc      stateLocation
	markdown bool // state history -markdown
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
	historyCmd := &cobra.Command{
		Use:   "history",
		Short: "Print the chronological log of operations, failures and rollbacks included",
		Long: `Print the chronological log of the state's operations: each start and end, failures
and rollbacks included.

With -json the document has the events and, under "operations", the audit of every
operation: who applied it and on which host, when it started and finished, the plan
hash and configuration hash, the reason, the verified approvers (principals and key
fingerprints, as apply checked their signatures against allowed_signers), names given
unverified with --approved-by, risk classes, the connectors, and the outcome. With
-markdown the audit is a table for a ticket or a change record. Both state backends
(local and postgres) answer the same.`,
		Example: `  offsetctl state history
  offsetctl state history -json
  offsetctl state history -markdown > audit.md`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.markdown && o.g.JSON {
				return flagErrorf("-json and -markdown exclude each other")
			}
			o.loc.parsed(cmd)
			b, err := configState(cmd.Context(), deps, &o.loc)
			if err != nil {
				return err
			}
			return stateHistoryRun(cmd.Context(), o, b)
		},
	}
	historyCmd.Flags().BoolVar(&o.markdown, "markdown", false, "print the audit of every operation as a Markdown table")
	cmd.AddCommand(
		&cobra.Command{
			Use:   "list",
			Short: "List the operations recorded in the state",
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, args []string) error {
				o.loc.parsed(cmd)
				b, err := configState(cmd.Context(), deps, &o.loc)
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
				b, err := configState(cmd.Context(), deps, &o.loc)
				if err != nil {
					return err
				}
				return stateShowRun(cmd.Context(), o, b, args)
			},
		},
		newRotateKeyCmd(deps, o),
		historyCmd,
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
	if o.markdown {
		return v.HistoryMarkdown(s)
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

// newRotateKeyCmd is offsetctl state rotate-key.
func newRotateKeyCmd(deps *Deps, o *stateOptions) *cobra.Command {
	var lockTimeout time.Duration
	cmd := &cobra.Command{
		Use:   "rotate-key",
		Short: "Encrypt the state with the configured key: the state, its journal and its previous version",
		Long: `Write the state again, under the state lock, encrypted with the key of the encryption block
of the configuration's offsetctl { state } block: the state (its journal folded in), and the
previous version the backend keeps (.backup beside a local state file; the column previous
in PostgreSQL). Nothing in the state changes, not even its serial.

To encrypt a state stored in the clear: add the encryption block, then run this command
(until then, offsetctl refuses to read the state in the clear, so as not to keep it so).

To rotate the key: set the new key as key and the old one as previous_key (or
previous_key_file, previous_key_command), run this command, then remove previous_key.`,
		Example: `  offsetctl state rotate-key
  offsetctl state rotate-key -lock-timeout 2m`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.loc.acceptPlaintext = true
			o.loc.parsed(cmd)
			b, err := configState(cmd.Context(), deps, &o.loc)
			if err != nil {
				return err
			}
			defer b.Close()
			return rotateKeyRun(cmd.Context(), deps, b, lockTimeout)
		},
	}
	addLockTimeoutFlag(cmd, &lockTimeout)
	return cmd
}

func rotateKeyRun(ctx context.Context, deps *Deps, b state.Backend, lockTimeout time.Duration) error {
	rk, ok := b.(state.Rekeyer)
	if !ok {
		return fmt.Errorf("the state %s cannot be encrypted", describeBackend(b))
	}
	id, err := lockState(ctx, deps, b, "rotate-key", lockTimeout)
	if err != nil {
		return err
	}
	serial, rerr := rk.Rekey(ctx, id)
	if uerr := b.Unlock(context.WithoutCancel(ctx), id); rerr == nil && uerr != nil {
		rerr = uerr
	}
	if rerr != nil {
		if strings.Contains(rerr.Error(), "no key is configured") {
			return withHint(rerr, "Add an encryption block to the configuration's offsetctl { state } block, for example: encryption { key = env(\"OFFSETCTL_STATE_KEY\") }")
		}
		return rerr
	}
	views.NewState(deps.Streams, false).Rekeyed(describeBackend(b), serial, keyIDOf(b))
	return nil
}
