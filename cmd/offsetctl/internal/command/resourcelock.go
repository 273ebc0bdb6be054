package command

import (
	"context"
	"errors"
	"time"

	"github.com/offsetctl/offsetctl/pkg/apply"
	"github.com/offsetctl/offsetctl/pkg/state"
)

// lockResources locks what an apply changes: only the resources (the
// connectors and reconciled tables of a saved plan) when the backend locks
// per resource (the PostgreSQL backend), so that applies of different
// connectors run in parallel; else, or without resources, the whole state
// (lockState). A refused lock names the holder of the resource.
func lockResources(ctx context.Context, deps *Deps, b state.Backend, operation string, timeout time.Duration, resources []string) (string, error) {
	rl, ok := b.(state.ResourceLocker)
	if !ok || len(resources) == 0 {
		return lockState(ctx, deps, b, operation, timeout)
	}
	if timeout < 0 {
		return "", flagErrorf("-lock-timeout must not be negative, got %s", timeout)
	}
	who, host := operator(deps)
	lctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	id, err := rl.LockResources(lctx, state.LockInfo{Operation: operation, Who: who, Host: host, Version: Version, Created: deps.Now()}, resources)
	if errors.Is(err, state.ErrLocked) {
		return "", withHint(err, "Another apply changes the same connector or table: wait for it with -lock-timeout (for example -lock-timeout 10m). Applies of other connectors run at the same time.")
	}
	return id, err
}

// renumber gives the operations of res the serials the state stored them
// under: under a resource lock, another apply may have taken the number
// this one gave an operation.
func renumber(b state.Backend, res *apply.Result) {
	rl, ok := b.(state.ResourceLocker)
	if !ok || res == nil {
		return
	}
	for i := range res.Operations {
		res.Operations[i].Serial = rl.Renumbered(res.Operations[i].Serial)
	}
}
