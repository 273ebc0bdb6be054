package command

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/offsetctl/offsetctl/pkg/state"
)

// recordOperation appends op (a drill or a check: a record, not a change)
// to the state's history under the state lock, starting a lineage when
// there is no state yet. It returns the operation's serial.
func recordOperation(ctx context.Context, deps *Deps, b state.Backend, op state.Operation) (uint64, error) {
	who, host := operator(deps)
	id, err := b.Lock(ctx, state.LockInfo{Operation: string(op.Kind), Who: who, Host: host})
	if err != nil {
		return 0, fmt.Errorf("locking the state to record the %s: %w", op.Kind, err)
	}
	defer b.Unlock(context.WithoutCancel(ctx), id)
	st, err := b.Read(ctx)
	if errors.Is(err, state.ErrNoState) {
		lineage, lerr := state.NewID(rand.Reader)
		if lerr != nil {
			return 0, fmt.Errorf("starting a new state: %w", lerr)
		}
		st, err = state.New(lineage), nil
	}
	if err != nil {
		return 0, fmt.Errorf("reading the state to record the %s: %w", op.Kind, err)
	}
	if op.Who == "" {
		op.Who, op.Host = who, host
	}
	rec := st.Begin(op)
	serial := rec.Serial
	if err := b.Write(ctx, st, id); err != nil {
		return 0, fmt.Errorf("recording the %s in the state: %w", op.Kind, err)
	}
	return serial, nil
}
