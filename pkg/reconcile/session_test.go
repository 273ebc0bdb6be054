package reconcile

import (
	"context"
	"testing"

	"github.com/offsetctl/offsetctl/internal/pgtest"
)

// Each side's session: one backend unless Spec.Parallel allows workers, none
// under a rate limit; no JIT; the operator-visible application name.
func TestSessionSettings(t *testing.T) {
	ctx := context.Background()
	u := pgtest.NewDB(t)
	for _, tc := range []struct {
		name    string
		spec    Spec
		workers string
	}{
		{"default", Spec{}, "0"},
		{"parallel", Spec{Parallel: 3}, "3"},
		{"rate limit wins", Spec{Parallel: 3, RateLimit: 1000}, "0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := begin(ctx, pgtest.Conn(t, u), "source", &tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			defer s.end(ctx)
			var workers, jit, app, ro string
			if err := s.tx.QueryRow(ctx, "SELECT current_setting('max_parallel_workers_per_gather'), current_setting('jit'), current_setting('application_name'), current_setting('transaction_read_only')").Scan(&workers, &jit, &app, &ro); err != nil {
				t.Fatal(err)
			}
			if workers != tc.workers || jit != "off" || app != "offsetctl" || ro != "on" {
				t.Errorf("workers %s, jit %s, application_name %s, read only %s; want %s, off, offsetctl, on", workers, jit, app, ro, tc.workers)
			}
		})
	}
}
