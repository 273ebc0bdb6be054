package realstack

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/offsetctl/offsetctl/pkg/offsets"
)

// proofSource is a Debezium PostgreSQL source of a test's own: its table,
// slot, publication and topic prefix, so that the shared pipeline and the
// other tests are not touched. The connector, then its slot, are removed
// when the test ends.
type proofSource struct {
	name, prefix, table, slot, topic string
	db                               *pgx.Conn // the source database
}

// startProofSource creates the table and the connector (snapshot.mode
// no_data; cfg's entries override the stack's source configuration) and
// waits until it runs and its slot exists.
func startProofSource(ctx context.Context, t *testing.T, st *Stack, kind string, cfg map[string]string) *proofSource {
	t.Helper()
	run := proofRunID()
	s := &proofSource{name: kind + "-source-" + run, prefix: kind + run, table: kind + "_rows_" + run, slot: "offsetctl_" + kind + "_" + run}
	s.topic = s.prefix + ".public." + s.table
	db, err := pgx.Connect(ctx, st.SourceDB())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close(context.Background()) })
	s.db = db
	if _, err := db.Exec(ctx, "CREATE TABLE public."+pgx.Identifier{s.table}.Sanitize()+" (id integer PRIMARY KEY, item text NOT NULL)"); err != nil {
		t.Fatal(err)
	}
	c := st.SourceConnectorConfig()
	c["topic.prefix"] = s.prefix
	c["slot.name"] = s.slot
	c["publication.name"] = s.slot
	c["table.include.list"] = "public." + s.table
	c["snapshot.mode"] = "no_data"
	for k, v := range cfg {
		c[k] = v
	}
	t.Cleanup(func() { dropSlot(t, st, s.slot) }) // after the connector is deleted
	createProofConnector(ctx, t, st, s.name, c)
	waitConnectorState(ctx, t, st, s.name, "RUNNING")
	if err := poll(ctx, time.Minute, "slot "+s.slot+" to exist", st.connect, func(ctx context.Context) (bool, error) {
		var n int
		err := db.QueryRow(ctx, "SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1", s.slot).Scan(&n)
		return n == 1, err
	}); err != nil {
		t.Fatal(err)
	}
	return s
}

// insert inserts rows, one transaction each, and returns the WAL position
// before the first.
func (s *proofSource) insert(ctx context.Context, t testing.TB, ids ...int) int64 {
	t.Helper()
	before := s.wal(ctx, t)
	for _, id := range ids {
		if _, err := s.db.Exec(ctx, "INSERT INTO public."+pgx.Identifier{s.table}.Sanitize()+" (id, item) VALUES ($1, 'item')", id); err != nil {
			t.Fatal(err)
		}
	}
	return before
}

// wal is the source server's current WAL position.
func (s *proofSource) wal(ctx context.Context, t testing.TB) int64 {
	t.Helper()
	var text string
	if err := s.db.QueryRow(ctx, "SELECT pg_current_wal_lsn()::text").Scan(&text); err != nil {
		t.Fatal(err)
	}
	return lsnToInt(t, text)
}

// slotLSNs reads the slot's restart_lsn and confirmed_flush_lsn.
func (s *proofSource) slotLSNs(ctx context.Context, t testing.TB) (restart, confirmed uint64) {
	t.Helper()
	var r, c string
	if err := s.db.QueryRow(ctx, "SELECT restart_lsn::text, confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $1", s.slot).Scan(&r, &c); err != nil {
		t.Fatalf("reading slot %s: %v", s.slot, err)
	}
	restart, err1 := offsets.ParseLSN(r)
	confirmed, err2 := offsets.ParseLSN(c)
	if err1 != nil || err2 != nil {
		t.Fatalf("slot %s: restart_lsn %q, confirmed_flush_lsn %q", s.slot, r, c)
	}
	return restart, confirmed
}

// writeConfig writes main.hcl into dir.
func writeConfig(t testing.TB, dir, hcl string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(hcl), 0o644); err != nil {
		t.Fatal(err)
	}
}
