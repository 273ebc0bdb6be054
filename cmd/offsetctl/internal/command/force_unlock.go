package command

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/offsetctl/offsetctl/cmd/offsetctl/internal/command/views"
	"github.com/offsetctl/offsetctl/pkg/state"
	"github.com/offsetctl/offsetctl/pkg/state/local"
)

type forceUnlockOptions struct {
	deps  *Deps
	g     *globalOptions
	loc   stateLocation
	force bool
}

func newForceUnlockCmd(deps *Deps, g *globalOptions) *cobra.Command {
	o := &forceUnlockOptions{deps: deps, g: g}
	cmd := &cobra.Command{
		Use:   "force-unlock [-force] LOCK_ID",
		Short: "Release a state lock whose holder died or is stuck",
		Long: `Release the state lock LOCK_ID (the ID a refused apply printed). The ID must match the
lock held: force-unlock never releases someone else's lock by mistake.

Releasing a lock whose holder is still working lets two operations change the same
connectors at once. offsetctl therefore asks for confirmation (type "yes"); with -force
it does not ask, and without a terminal -force is required.

The local state file's lock is an operating-system lock: it disappears by itself when
its holder exits, however it exits, and no other process can take it from a running
holder. For it, force-unlock clears the information a dead holder left behind, and for a
running holder it names the process to stop instead.`,
		Example: `  offsetctl force-unlock 6f1c2c4e-8d3b-4c1a-9e55-2b7f0c9d1a40
  offsetctl force-unlock -force 6f1c2c4e-8d3b-4c1a-9e55-2b7f0c9d1a40`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.loc.parsed(cmd)
			b, err := configState(cmd.Context(), deps, &o.loc)
			if err != nil {
				return err
			}
			return forceUnlockRun(cmd.Context(), o, b, args[0])
		},
	}
	addStateFlag(cmd, &o.loc)
	addStateConfigFlags(cmd, &o.loc)
	cmd.Flags().BoolVar(&o.force, "force", false, "do not ask for confirmation")
	return cmd
}

func forceUnlockRun(ctx context.Context, o *forceUnlockOptions, b state.Backend, id string) error {
	defer b.Close()
	v := views.NewForceUnlock(o.deps.Streams)
	where := describeBackend(b)
	holder, err := b.LockHolder(ctx)
	if err != nil {
		return err
	}
	// With per-resource locks (the PostgreSQL state) several applies hold
	// locks at once: the one named by id is the holder.
	if rh, ok := b.(interface {
		ResourceLockHolder(context.Context, string) (*state.LockInfo, error)
	}); ok {
		h, err := rh.ResourceLockHolder(ctx, id)
		if err != nil {
			return err
		}
		if h != nil {
			holder = h
		}
	}
	if holder != nil {
		if holder.ID != id {
			return withHint(fmt.Errorf("force-unlock: %w", &state.LockError{Holder: holder, Err: state.ErrWrongLockID}),
				"Check the lock ID: offsetctl state show prints the current holder.")
		}
		if !o.force {
			if !o.deps.Streams.InTTY {
				return withHint(fmt.Errorf("force-unlock needs a confirmation, and stdin is not a terminal"),
					"Rerun with -force once you are sure the holder is gone: "+holder.String()+".")
			}
			if !v.Confirm(where, holder) {
				return errors.New("force-unlock cancelled: the lock is untouched")
			}
		}
	}
	err = b.ForceUnlock(ctx, id)
	switch {
	case err == nil && holder == nil:
		v.Unlocked(where, id, false)
		return nil
	case err == nil:
		v.Unlocked(where, id, true)
		return nil
	case errors.Is(err, local.ErrLiveHolder):
		return withHint(err, "Once that process has exited, the lock is released and the next apply can proceed; no force-unlock is needed.")
	case errors.Is(err, state.ErrNotLocked):
		return fmt.Errorf("%s is not locked, and no lock information with ID %s is left: nothing to force-unlock", where, id)
	case errors.Is(err, state.ErrWrongLockID):
		return withHint(err, "Check the lock ID: offsetctl state show prints the current holder.")
	}
	return err
}
