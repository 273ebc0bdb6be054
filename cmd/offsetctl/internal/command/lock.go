package command

import (
	"context"
	"errors"
	"time"

	"github.com/spf13/cobra"

	"github.com/offsetctl/offsetctl/pkg/state"
)

// addLockTimeoutFlag binds -lock-timeout for the commands that change the
// state (apply, rollback, offsets restore).
func addLockTimeoutFlag(cmd *cobra.Command, d *time.Duration) {
	cmd.Flags().DurationVar(d, "lock-timeout", 0, "how long to wait for the state lock held by someone else (0: try once)")
}

// lockState takes the state lock for operation ("apply", "rollback", …),
// waiting at most timeout (0: one attempt). The holder is recorded as the
// user on this host, as operator names them. A
// refused lock returns the backend's *state.LockError, which names the
// holder, with a hint. The caller unlocks with b.Unlock(ctx, id).
func lockState(ctx context.Context, deps *Deps, b state.Backend, operation string, timeout time.Duration) (string, error) {
	if timeout < 0 {
		return "", flagErrorf("-lock-timeout must not be negative, got %s", timeout)
	}
	who, host := operator(deps)
	lctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	id, err := b.Lock(lctx, state.LockInfo{Operation: operation, Who: who, Host: host, Version: Version, Created: deps.Now()})
	if errors.Is(err, state.ErrLocked) {
		return "", withHint(err, "Wait for the holder with -lock-timeout (for example -lock-timeout 5m), or see the holder with: offsetctl state show")
	}
	return id, err
}
