package reconcile

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/offsetctl/offsetctl/internal/sleep"
)

// side is one side of a comparison: its connection, its read-only
// transaction, its table and its SQL.
type side struct {
	name    string // "source" or "sink"
	conn    *pgx.Conn
	tx      pgx.Tx
	tbl     *table
	sql     *sideSQL
	queries int
	rate    *rateLimiter
	lsn     uint64 // the WAL position when the snapshot was taken
}

// begin opens the side's READ ONLY, REPEATABLE READ transaction and sets the
// session up for the comparison: application name, timeouts, UTC, ISO dates,
// shortest exact floats, enough work_mem for the cell aggregate, no JIT (the
// planner settings of side.plan inflate costs past its thresholds, and
// compiling the hash expressions costs up to a second per query while saving
// nothing measurable), and Spec.Parallel parallel workers (none under a rate
// limit).
func begin(ctx context.Context, conn *pgx.Conn, name string, spec *Spec) (*side, error) {
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, fmt.Errorf("starting a read-only transaction on the %s: %w", name, err)
	}
	st, lt := spec.StatementTimeout, spec.LockTimeout
	if st == 0 {
		st = 30 * time.Minute
	}
	if lt == 0 {
		lt = 5 * time.Second
	}
	workers := strconv.Itoa(spec.Parallel)
	if spec.RateLimit > 0 {
		workers = "0"
	}
	// The first statement takes the snapshot; the WAL position read in it
	// is at or past every change the snapshot sees (the insert position:
	// an asynchronous commit is visible before it is written).
	var lsn int64
	err = tx.QueryRow(ctx, `SELECT (CASE WHEN pg_is_in_recovery() THEN coalesce(pg_last_wal_replay_lsn(), '0/0')
			ELSE pg_current_wal_insert_lsn() END - '0/0'::pg_lsn)::bigint,
		set_config('application_name', 'offsetctl', true),
		set_config('statement_timeout', $1, true),
		set_config('lock_timeout', $2, true),
		set_config('idle_in_transaction_session_timeout', $1, true),
		set_config('TimeZone', 'UTC', true),
		set_config('DateStyle', 'ISO, YMD', true),
		set_config('IntervalStyle', 'postgres', true),
		set_config('extra_float_digits', '1', true),
		set_config('bytea_output', 'hex', true),
		set_config('jit', 'off', true),
		set_config('work_mem', CASE WHEN pg_size_bytes(current_setting('work_mem')) < 64 * 1024 * 1024 THEN '64MB' ELSE current_setting('work_mem') END, true),
		set_config('max_parallel_workers_per_gather', $3, true)`,
		fmt.Sprintf("%dms", st.Milliseconds()), fmt.Sprintf("%dms", lt.Milliseconds()), workers).Scan(&lsn, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil)
	if err != nil {
		_ = tx.Rollback(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("setting up the %s session: %w", name, err)
	}
	s := &side{name: name, conn: conn, tx: tx, lsn: uint64(max(lsn, 0))}
	if spec.RateLimit > 0 {
		s.rate = &rateLimiter{perSecond: float64(spec.RateLimit), start: time.Now()}
	}
	return s, nil
}

// end closes the transaction. It only read, so rolling back is enough.
func (s *side) end(ctx context.Context) {
	if s != nil && s.tx != nil {
		_ = s.tx.Rollback(context.WithoutCancel(ctx))
		s.tx = nil
	}
}

// plan sets the planner up for the next query. For the cell aggregates
// (aggregate true): no sort (a hash aggregate is always right there) and rows
// handed from the parallel workers to the leader at no planner cost (see
// side.cells). For queries restricted to key ranges (ranged true): no
// sequential scan, so that each range is read through the key's index rather
// than every row being checked against every range.
func (s *side) plan(ctx context.Context, aggregate, ranged bool) error {
	sort, tuple, setup, seq := "on", "0.1", "1000", "on"
	if aggregate {
		sort, tuple, setup = "off", "0", "0"
	}
	if ranged {
		seq = "off"
	}
	_, err := s.tx.Exec(ctx, `SELECT set_config('enable_sort', $1, true), set_config('parallel_tuple_cost', $2, true),
		set_config('parallel_setup_cost', $3, true), set_config('enable_seqscan', $4, true)`, sort, tuple, setup, seq)
	return err
}

// rateLimiter keeps the average rows per second of one side under a limit.
type rateLimiter struct {
	perSecond float64
	start     time.Time
	rows      int64
}

// wait accounts for n rows read and sleeps until the average is under the
// limit again.
func (r *rateLimiter) wait(ctx context.Context, n int64) error {
	if r == nil {
		return nil
	}
	r.rows += n
	due := r.start.Add(time.Duration(float64(r.rows) / r.perSecond * float64(time.Second)))
	if d := time.Until(due); d > 0 {
		return sleep.Ctx(ctx, d)
	}
	return nil
}

// both runs f on the two sides at once and returns the first real error.
func both(ctx context.Context, a, b *side, f func(ctx context.Context, s *side) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, s := range []*side{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(ctx, s); err != nil {
				errs[i] = err
				cancel()
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
	}
	return errors.Join(errs...)
}
