// Package sleep waits for a duration or until a context is done, whichever
// comes first: the one sleep of retries, polls and watches.
package sleep

import (
	"context"
	"time"
)

// Ctx waits for d, or returns ctx.Err() as soon as ctx is done. A d of
// zero or less returns at once, with ctx.Err().
func Ctx(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil || d <= 0 {
		return err
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
