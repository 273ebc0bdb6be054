package sandbox

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"
)

// seed fills the source table with n customers when it is empty (a table
// kept on a --postgres server from an earlier run is left as it is).
func (p *Pipeline) seed(ctx context.Context, n int) error {
	tbl := pgx.Identifier{"public", p.opts.Table}.Sanitize()
	var any bool
	if err := p.src.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM "+tbl+")").Scan(&any); err != nil {
		return fmt.Errorf("seeding the source table: %w", err)
	}
	if any {
		return nil
	}
	// Ids come from the identity, so the next insert without an id follows on.
	_, err := p.src.Exec(ctx, `INSERT INTO `+tbl+` (id, email, status, updated_at)
SELECT s.id, 'customer' || s.id || '@example.com', CASE WHEN s.id % 7 = 0 THEN 'inactive' ELSE 'active' END,
       now() - make_interval(secs => ($1 - s.g))
FROM (SELECT g, nextval(pg_get_serial_sequence($2, 'id')) AS id FROM generate_series(1, $1) g OFFSET 0) s`, n, "public."+p.opts.Table)
	if err != nil {
		return fmt.Errorf("seeding the source table with %d customers: %w", n, err)
	}
	return nil
}

// bumpIdentity moves the source table's identity past its largest id.
func (p *Pipeline) bumpIdentity(ctx context.Context, tx pgx.Tx) error {
	tbl := pgx.Identifier{"public", p.opts.Table}.Sanitize()
	_, err := tx.Exec(ctx, `SELECT setval(s.seq, m.id)
FROM (SELECT pg_get_serial_sequence($1, 'id') AS seq) s, (SELECT max(id) AS id FROM `+tbl+`) m
WHERE s.seq IS NOT NULL AND m.id > coalesce((SELECT last_value FROM pg_sequences WHERE format('%I.%I', schemaname, sequencename) = s.seq), 0)`,
		"public."+p.opts.Table)
	if err != nil {
		return fmt.Errorf("moving the customer id sequence past the inserted ids: %w", err)
	}
	return nil
}

// Trickle changes the source table at about rate changes a second until ctx
// ends: an insert half of the time, otherwise an update of a random
// customer's status, and now and then a delete. Each change is its own
// transaction. seed makes the sequence of changes repeatable. It returns nil
// when ctx ends and the first error otherwise.
func (p *Pipeline) Trickle(ctx context.Context, rate float64, seed uint64) error {
	if rate <= 0 {
		return nil
	}
	rnd := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	tbl := pgx.Identifier{"public", p.opts.Table}.Sanitize()
	interval := time.Duration(float64(time.Second) / rate)
	t := time.NewTicker(interval)
	defer t.Stop()
	statuses := []string{"active", "inactive", "suspended"}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		var err error
		switch r := rnd.IntN(10); {
		case r < 5:
			_, err = p.src.Exec(ctx, "INSERT INTO "+tbl+" (email) SELECT 'trickle' || (SELECT coalesce(max(id), 0) + 1 FROM "+tbl+") || '@example.com'")
		case r < 9:
			_, err = p.src.Exec(ctx, "UPDATE "+tbl+" SET status = $1, updated_at = now() WHERE id = (SELECT id FROM "+tbl+" ORDER BY random() LIMIT 1)",
				statuses[rnd.IntN(len(statuses))])
		default:
			_, err = p.src.Exec(ctx, "DELETE FROM "+tbl+" WHERE id = (SELECT id FROM "+tbl+" ORDER BY random() LIMIT 1)")
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("changing the source table: %w", err)
		}
	}
}
