// Package sourcedb reads, from a source database itself, what a source
// connector's offsets depend on: for a Debezium PostgreSQL connector, its
// replication slot (where it is confirmed, what WAL it still holds, who holds
// it) and its publication; for a Debezium MariaDB or MySQL connector, the
// server's binary logs (SHOW BINARY LOGS), its GTID state and binlog
// settings. An offset edit that moves a connector below what
// the source still retains is silently useless (nothing is replayed) or fatal
// (the task fails at start); only the source can tell, so plan asks it here.
//
// The package only reads: one short read-only session per observation, with
// application_name offsetctl and a statement timeout. Judging what it read
// against an offset edit is a pure function (JudgePostgres, JudgeBinlog), so that a plan's
// verdicts can be computed again from what the plan recorded.
package sourcedb

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/offsetctl/offsetctl/pkg/offsets"
)

// DefaultSlot and DefaultPublication are Debezium PostgreSQL's defaults for
// slot.name and publication.name.
const (
	DefaultSlot        = "debezium"
	DefaultPublication = "dbz_publication"
)

// PostgresSlot is what pg_replication_slots says of one slot.
type PostgresSlot struct {
	Name   string
	Exists bool
	// Plugin is the output plugin (pgoutput, decoderbufs); Database the
	// database the slot decodes.
	Plugin, Database string
	// Active tells whether a walsender streams the slot now, and ActivePID
	// its process (0 when none).
	Active    bool
	ActivePID int32
	// RestartLSN is the oldest WAL the slot retains; ConfirmedFlushLSN the
	// position below which PostgreSQL never sends a change again. Zero when
	// NULL.
	RestartLSN, ConfirmedFlushLSN uint64
	// WALStatus is reserved, extended, unreserved or lost (PostgreSQL 13+;
	// "" before).
	WALStatus string
	// SafeWALSize is the WAL that can still be written before the slot is
	// in danger of losing what it needs (PostgreSQL 13+; nil when NULL or
	// unknown).
	SafeWALSize *int64
}

// Publication is what pg_publication says of the connector's publication.
type Publication struct {
	Name      string
	Exists    bool
	AllTables bool
	// Tables are the schema-qualified tables it publishes (empty with
	// AllTables).
	Tables []string
}

// PostgresObservation is what was read from a Debezium PostgreSQL source.
type PostgresObservation struct {
	ObservedAt    time.Time
	ServerVersion int // server_version_num
	CurrentLSN    uint64
	Slot          PostgresSlot
	Publication   Publication
}

// Querier is what ObservePostgres reads through: a pgx connection or
// transaction.
type Querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// ObservePool reads the slot and publication named from the database of
// pool, in one read-only transaction bounded by timeout (a statement
// timeout too), with application_name offsetctl.
func ObservePool(ctx context.Context, pool *pgxpool.Pool, slot, publication string, timeout time.Duration) (*PostgresObservation, error) {
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tx, err := pool.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, fmt.Errorf("connecting to the source database: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if _, err := tx.Exec(ctx, `SELECT set_config('application_name', 'offsetctl', true), set_config('statement_timeout', $1, true)`,
		strconv.FormatInt(timeout.Milliseconds(), 10)); err != nil {
		return nil, fmt.Errorf("setting up the read-only session on the source database: %w", err)
	}
	return ObservePostgres(ctx, tx, slot, publication)
}

// ObservePostgres reads the slot and publication named (Debezium's
// defaults when empty) through q.
func ObservePostgres(ctx context.Context, q Querier, slot, publication string) (*PostgresObservation, error) {
	if slot == "" {
		slot = DefaultSlot
	}
	if publication == "" {
		publication = DefaultPublication
	}
	obs := &PostgresObservation{}
	var current string
	if err := q.QueryRow(ctx, `SELECT current_setting('server_version_num')::int,
		CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() ELSE pg_current_wal_lsn() END::text, now()`).
		Scan(&obs.ServerVersion, &current, &obs.ObservedAt); err != nil {
		return nil, fmt.Errorf("reading the source database's WAL position: %w", err)
	}
	var err error
	if obs.CurrentLSN, err = offsets.ParseLSN(current); err != nil {
		return nil, fmt.Errorf("the source database's WAL position %q: %w", current, err)
	}
	obs.ObservedAt = obs.ObservedAt.UTC()
	if err := readSlot(ctx, q, obs, slot); err != nil {
		return nil, err
	}
	if err := readPublication(ctx, q, &obs.Publication, publication); err != nil {
		return nil, err
	}
	return obs, nil
}

func readSlot(ctx context.Context, conn Querier, obs *PostgresObservation, name string) error {
	s := &obs.Slot
	s.Name = name
	walCols := "NULL::text, NULL::bigint"
	if obs.ServerVersion >= 130000 {
		walCols = "wal_status, safe_wal_size"
	}
	var plugin, database, restart, confirmed, walStatus *string
	var pid *int32
	err := conn.QueryRow(ctx, `SELECT plugin, database, active, active_pid, restart_lsn::text, confirmed_flush_lsn::text, `+walCols+`
		FROM pg_replication_slots WHERE slot_name = $1`, name).
		Scan(&plugin, &database, &s.Active, &pid, &restart, &confirmed, &walStatus, &s.SafeWALSize)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading the replication slot %q from pg_replication_slots: %w", name, err)
	}
	s.Exists = true
	s.Plugin, s.Database, s.WALStatus = deref(plugin), deref(database), deref(walStatus)
	if pid != nil {
		s.ActivePID = *pid
	}
	for _, f := range []struct {
		text *string
		dst  *uint64
		name string
	}{{restart, &s.RestartLSN, "restart_lsn"}, {confirmed, &s.ConfirmedFlushLSN, "confirmed_flush_lsn"}} {
		if f.text == nil {
			continue
		}
		v, err := offsets.ParseLSN(*f.text)
		if err != nil {
			return fmt.Errorf("the slot %q's %s %q: %w", name, f.name, *f.text, err)
		}
		*f.dst = v
	}
	return nil
}

func readPublication(ctx context.Context, conn Querier, p *Publication, name string) error {
	p.Name = name
	err := conn.QueryRow(ctx, `SELECT puballtables FROM pg_publication WHERE pubname = $1`, name).Scan(&p.AllTables)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading the publication %q from pg_publication: %w", name, err)
	}
	p.Exists = true
	if p.AllTables {
		return nil
	}
	rows, err := conn.Query(ctx, `SELECT schemaname || '.' || tablename FROM pg_publication_tables WHERE pubname = $1 ORDER BY 1`, name)
	if err != nil {
		return fmt.Errorf("reading the tables of the publication %q: %w", name, err)
	}
	p.Tables, err = pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("reading the tables of the publication %q: %w", name, err)
	}
	return nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
