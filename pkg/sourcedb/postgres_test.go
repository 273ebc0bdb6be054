package sourcedb

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/offsetctl/offsetctl/internal/mariadbtest"
	"github.com/offsetctl/offsetctl/internal/pgcluster"
	"github.com/offsetctl/offsetctl/internal/pgtest"
	"github.com/offsetctl/offsetctl/pkg/offsets"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Run(func() int { return mariadbtest.Run(m.Run) })) }

// source is a database with a captured table, its publication and a
// logical replication slot, as Debezium PostgreSQL leaves them.
type source struct {
	url, slot string
	conn      *pgx.Conn
}

func newSource(t *testing.T, slot string) *source {
	t.Helper()
	url := pgtest.NewDB(t)
	pgtest.Exec(t, url, `CREATE TABLE public.customers (id int PRIMARY KEY, email text);
		CREATE PUBLICATION dbz_publication FOR TABLE public.customers`)
	s := &source{url: url, slot: slot, conn: pgtest.Conn(t, url)}
	if slot != "" {
		s.exec(t, "SELECT pg_create_logical_replication_slot($1, 'pgoutput')", slot)
		// A slot keeps the database from being dropped: drop it first
		// (cleanups run last-registered first).
		t.Cleanup(func() {
			c := pgtest.Conn(t, url)
			_, _ = c.Exec(context.Background(), "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1", slot)
		})
	}
	return s
}

func (s *source) exec(t *testing.T, sql string, args ...any) {
	t.Helper()
	if _, err := s.conn.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// advance confirms the slot up to the WAL written so far, as Debezium does
// when it commits an offset (logical decoding reads flushed WAL only, so
// the segment is switched first).
func (s *source) advance(t *testing.T) {
	t.Helper()
	s.exec(t, "SELECT pg_switch_wal()")
	s.exec(t, "SELECT pg_replication_slot_advance($1, pg_current_wal_flush_lsn())", s.slot)
}

func (s *source) lsn(t *testing.T) uint64 {
	t.Helper()
	var text string
	if err := s.conn.QueryRow(context.Background(), "SELECT pg_current_wal_lsn()::text").Scan(&text); err != nil {
		t.Fatal(err)
	}
	v, err := offsets.ParseLSN(text)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func (s *source) observe(t *testing.T) *PostgresObservation {
	t.Helper()
	obs, err := ObservePool(context.Background(), pgtest.Pool(t, s.url), s.slot, "", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return obs
}

func codes(fs []Finding, sev Severity) string {
	var out []string
	for _, f := range fs {
		if f.Severity == sev {
			out = append(out, f.Code)
		}
	}
	return strings.Join(out, ",")
}

func finding(t *testing.T, fs []Finding, code string) Finding {
	t.Helper()
	for _, f := range fs {
		if f.Code == code {
			return f
		}
	}
	t.Fatalf("no %s finding in %+v", code, fs)
	return Finding{}
}

// TestSlotBelowConfirmedFlush: a rewind below what the slot confirmed is
// refused (nothing below it is ever sent again), passes when acknowledged,
// and a rewind above it passes; the plan line shows slot, target and gap.
func TestSlotBelowConfirmedFlush(t *testing.T) {
	s := newSource(t, "debezium")
	before := s.lsn(t)
	s.exec(t, "INSERT INTO public.customers SELECT g, 'c'||g FROM generate_series(1, 100) g")
	s.advance(t)
	obs := s.observe(t)
	if !obs.Slot.Exists || obs.Slot.Plugin != "pgoutput" || obs.Slot.Active || obs.Slot.ConfirmedFlushLSN <= before || !obs.Publication.Exists {
		t.Fatalf("observed %+v", obs)
	}
	if obs.ServerVersion >= 130000 && obs.Slot.WALStatus == "" {
		t.Fatalf("no wal_status on PostgreSQL %d", obs.ServerVersion)
	}
	edit := PostgresEdit{Target: before, HasTarget: true, ConnectorState: "STOPPED", Tables: []string{"public.customers"}}
	fs := JudgePostgres(obs, edit)
	f := finding(t, fs, AckNoReplayBelowSlot)
	gap := thousands(obs.Slot.ConfirmedFlushLSN - before)
	if f.Severity != SeverityError || !strings.Contains(f.Message, offsets.FormatLSN(obs.Slot.ConfirmedFlushLSN)) || !strings.Contains(f.Message, gap+" bytes") || !strings.Contains(f.Message, `acknowledge = ["no_replay_below_slot"]`) {
		t.Fatalf("finding %+v", f)
	}
	edit.Acknowledged = []string{AckNoReplayBelowSlot}
	if f := finding(t, JudgePostgres(obs, edit), AckNoReplayBelowSlot); f.Severity != SeverityWarning {
		t.Fatalf("acknowledged: %+v", f)
	}
	edit = PostgresEdit{Target: obs.Slot.ConfirmedFlushLSN, HasTarget: true, ConnectorState: "STOPPED", Tables: []string{"public.customers"}}
	if errs := codes(JudgePostgres(obs, edit), SeverityError); errs != "" {
		t.Fatalf("a target at confirmed_flush_lsn: errors %s", errs)
	}
	sum := finding(t, JudgePostgres(obs, edit), "source_slot").Message
	for _, w := range []string{`slot "debezium" (pgoutput, inactive)`, "confirmed_flush_lsn " + offsets.FormatLSN(obs.Slot.ConfirmedFlushLSN), "0 bytes above confirmed_flush_lsn"} {
		if !strings.Contains(sum, w) {
			t.Errorf("summary %q lacks %q", sum, w)
		}
	}
}

// TestSlotWALGone: once the slot moved past the target and a checkpoint let
// PostgreSQL recycle the WAL, the rewind is an error naming restart_lsn and
// the way out.
func TestSlotWALGone(t *testing.T) {
	s := newSource(t, "gone")
	target := s.lsn(t)
	s.exec(t, "INSERT INTO public.customers SELECT g, 'c'||g FROM generate_series(1, 1000) g")
	// restart_lsn moves once decoding passes a checkpoint's running
	// transactions record with no older transaction running (other tests
	// share the server: try again for a while).
	var obs *PostgresObservation
	for i := 0; i < 50; i++ {
		s.advance(t)
		s.exec(t, "CHECKPOINT")
		s.advance(t)
		if obs = s.observe(t); obs.Slot.RestartLSN > target {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if obs.Slot.RestartLSN <= target {
		t.Fatalf("precondition: restart_lsn %s not past the target %s", offsets.FormatLSN(obs.Slot.RestartLSN), offsets.FormatLSN(target))
	}
	f := finding(t, JudgePostgres(obs, PostgresEdit{Target: target, HasTarget: true, ConnectorState: "STOPPED", Acknowledged: []string{AckNoReplayBelowSlot}}), "below_restart_lsn")
	if f.Severity != SeverityError || !strings.Contains(f.Message, "restart_lsn "+offsets.FormatLSN(obs.Slot.RestartLSN)) || !strings.Contains(f.Message, "incremental snapshot") {
		t.Fatalf("finding %+v", f)
	}
}

// TestSlotMissingAndPublication: no slot, no publication, a publication
// that leaves a captured table out.
func TestSlotMissingAndPublication(t *testing.T) {
	s := newSource(t, "")
	s.slot = "not_there"
	s.exec(t, "CREATE TABLE public.orders (id int PRIMARY KEY)")
	obs := s.observe(t)
	if obs.Slot.Exists {
		t.Fatalf("a slot that does not exist: %+v", obs.Slot)
	}
	if got := codes(JudgePostgres(obs, PostgresEdit{ConnectorState: "STOPPED"}), SeverityError); got != "slot_missing" {
		t.Fatalf("errors %q, want slot_missing", got)
	}
	obs.Slot = PostgresSlot{Name: "debezium", Exists: true, Plugin: "pgoutput"}
	fs := JudgePostgres(obs, PostgresEdit{ConnectorState: "STOPPED", Tables: []string{"public.customers", "public.orders"}})
	if f := finding(t, fs, "publication_incomplete"); !strings.Contains(f.Message, "public.orders") || strings.Contains(f.Message, "public.customers,") {
		t.Fatalf("finding %+v", f)
	}
	s.exec(t, "DROP PUBLICATION dbz_publication")
	obs = s.observe(t)
	if obs.Publication.Exists {
		t.Fatal("a dropped publication observed")
	}
	obs.Slot = PostgresSlot{Name: "debezium", Exists: true}
	finding(t, JudgePostgres(obs, PostgresEdit{ConnectorState: "STOPPED"}), "publication_missing")
}

// TestSlotHeldByAnotherConsumer: a slot streamed by another process (here
// PostgreSQL's own pg_recvlogical) while the connector is STOPPED.
func TestSlotHeldByAnotherConsumer(t *testing.T) {
	s := newSource(t, "held")
	bin, err := pgcluster.BinDir()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "pg_recvlogical"), "-d", s.url, "-S", s.slot, "--start", "-f", "/dev/null",
		"-o", "proto_version=1", "-o", "publication_names=dbz_publication", "--no-loop")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = cmd.Wait() })
	var obs *PostgresObservation
	for i := 0; i < 100; i++ {
		if obs = s.observe(t); obs.Slot.Active {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !obs.Slot.Active || obs.Slot.ActivePID == 0 {
		t.Fatalf("the slot never became active: %+v", obs.Slot)
	}
	f := finding(t, JudgePostgres(obs, PostgresEdit{ConnectorState: "STOPPED"}), "slot_held_by_other")
	if f.Severity != SeverityError || !strings.Contains(f.Message, "pid ") {
		t.Fatalf("finding %+v", f)
	}
	if got := codes(JudgePostgres(obs, PostgresEdit{ConnectorState: "RUNNING"}), SeverityError); got != "" {
		t.Fatalf("a running connector holding its slot: errors %s", got)
	}
}

// TestObserveIsReadOnly: ObservePostgres reads through a read-only
// transaction, as ObservePool opens one.
func TestObserveIsReadOnly(t *testing.T) {
	s := newSource(t, "ro")
	pool := pgtest.Pool(t, s.url)
	obs, err := ObservePool(context.Background(), pool, s.slot, "", 5*time.Second)
	if err != nil || !obs.Slot.Exists {
		t.Fatalf("%+v %v", obs, err)
	}
	tx, err := pool.BeginTx(context.Background(), pgx.TxOptions{AccessMode: pgx.ReadOnly})
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(context.Background())
	if _, err := ObservePostgres(context.Background(), tx, s.slot, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(context.Background(), "CREATE TABLE ro_probe (x int)"); err == nil {
		t.Fatal("a read-only transaction could write")
	}
}
