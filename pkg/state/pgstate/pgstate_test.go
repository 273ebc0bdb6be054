package pgstate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/offsetctl/offsetctl/internal/pgtest"
	"github.com/offsetctl/offsetctl/pkg/state"
	"github.com/offsetctl/offsetctl/pkg/state/statetest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func open(t *testing.T, url string, opts ...Option) *Backend {
	t.Helper()
	b, err := New(url, append([]Option{WithVersion("test")}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// TestPostgres runs everything in one database, a schema per test (a
// database per test would cost a second each).
func TestPostgres(t *testing.T) {
	url := pgtest.NewDB(t)
	n := 0
	schema := func() Option {
		n++
		return WithSchema(fmt.Sprintf("state_%d", n))
	}
	t.Run("Conformance", func(t *testing.T) {
		statetest.Run(t, func(t *testing.T) func() state.Backend {
			s := schema()
			return func() state.Backend { return open(t, url, s) }
		})
	})
	t.Run("ForceUnlockEndsALiveHolder", func(t *testing.T) { testForceUnlockEndsALiveHolder(t, url, schema()) })
	t.Run("StatesDoNotShareALock", func(t *testing.T) { testStatesDoNotShareALock(t, url, schema()) })
	t.Run("WritesUnderALockAreJournalled", func(t *testing.T) { testWritesUnderALockAreJournalled(t, url, schema()) })
	t.Run("ReadsASchemaWithoutAJournalTable", func(t *testing.T) { testReadsASchemaWithoutAJournalTable(t, url, schema()) })
	t.Run("Encryption", func(t *testing.T) {
		statetest.RunEncryption(t, func(t *testing.T) (func(*state.Keyring) state.Backend, func() []byte) {
			s := schema()
			return func(keys *state.Keyring) state.Backend {
					if keys != nil {
						return open(t, url, s, WithEncryption(keys))
					}
					return open(t, url, s)
				}, func() []byte {
					b := open(t, url, s)
					var all []byte
					for _, q := range []string{
						`SELECT document || E'\n' || coalesce(previous, '') FROM ` + b.table("states"),
						`SELECT record FROM ` + b.table("journal") + ` ORDER BY serial`,
					} {
						rows, err := pgxQuery(t, url, q)
						if err != nil {
							t.Fatal(err)
						}
						for _, r := range rows {
							all = append(append(all, r...), '\n')
						}
					}
					return all
				}
		})
	})
	t.Run("ConformanceEncrypted", func(t *testing.T) {
		keys, err := state.NewKeyring(nil, bytes.Repeat([]byte{9}, state.KeySize))
		if err != nil {
			t.Fatal(err)
		}
		statetest.Run(t, func(t *testing.T) func() state.Backend {
			s := schema()
			return func() state.Backend { return open(t, url, s, WithEncryption(keys)) }
		})
	})
}

// pgxQuery returns the first column of every row of q as bytes.
func pgxQuery(t *testing.T, url, q string) ([][]byte, error) {
	ctx := context.Background()
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		return nil, err
	}
	defer c.Close(ctx)
	rows, err := c.Query(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out [][]byte
	for rows.Next() {
		out = append(out, append([]byte(nil), rows.RawValues()[0]...))
	}
	return out, rows.Err()
}

// testReadsASchemaWithoutAJournalTable: a schema made before the journal
// table existed (it comes with the next lock) reads as it is.
func testReadsASchemaWithoutAJournalTable(t *testing.T, url string, schema Option) {
	ctx := context.Background()
	b := open(t, url, schema)
	id, err := b.Lock(ctx, state.LockInfo{Who: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	s := state.New("lin")
	s.Begin(state.Operation{Name: "skip", Kind: state.KindOffsets, Started: time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)})
	if err := b.Write(ctx, s, id); err != nil {
		t.Fatal(err)
	}
	if err := b.Unlock(ctx, id); err != nil {
		t.Fatal(err)
	}
	pgtest.Exec(t, url, "DROP TABLE "+pgx.Identifier{b.schema, "journal"}.Sanitize())
	got, err := open(t, url, schema).Read(ctx)
	if err != nil || got.Serial != 1 || len(got.Operations) != 1 {
		t.Fatalf("Read of a schema without a journal table: %v, %v", got, err)
	}
}

// testWritesUnderALockAreJournalled: under a lock, writes that only add to
// the state are rows of the journal table (each image once) and leave the
// document as it was; readers see them; a holder that dies leaves them, the
// next one adds to them, and Unlock folds them into the document.
func testWritesUnderALockAreJournalled(t *testing.T, url string, schema Option) {
	ctx := context.Background()
	b := open(t, url, schema)
	id, err := b.Lock(ctx, state.LockInfo{Who: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	s := state.New("lin")
	op := s.Begin(state.Operation{Name: "customers", Kind: state.KindReconcile, Started: time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)})
	if err := b.Write(ctx, s, id); err != nil {
		t.Fatal(err)
	}
	for batch := range 3 {
		for k := batch * 100; k < (batch+1)*100; k++ {
			op.BeforeImages = append(op.BeforeImages, state.Image{Row: &state.RowImage{Database: "sink", Table: "d.customers",
				Key: json.RawMessage(fmt.Sprintf(`{"id":"%d"}`, k)), Row: json.RawMessage(fmt.Sprintf(`{"id":%d,"name":"n %d"}`, k, k))}})
		}
		if err := b.Write(ctx, s, id); err != nil {
			t.Fatal(err)
		}
	}
	b.Close() // dies, the lock with it
	c := pgtest.Conn(t, url)
	table := func(t string) string { return pgx.Identifier{b.schema, t}.Sanitize() }
	var docSerial, serial, records, journalBytes int64
	if err := c.QueryRow(ctx, `SELECT (document::json->>'serial')::bigint, serial, (SELECT count(*) FROM `+table("journal")+`), (SELECT coalesce(sum(length(record)), 0) FROM `+table("journal")+`) FROM `+table("states")).
		Scan(&docSerial, &serial, &records, &journalBytes); err != nil {
		t.Fatal(err)
	}
	whole, _ := state.Encode(s, "test")
	if docSerial != 1 || serial != 4 || records != 3 || journalBytes > int64(len(whole))*13/10 {
		t.Fatalf("document at serial %d, state at %d, %d journal records of %d bytes (state %d bytes); want 1, 4, 3 records, each image once", docSerial, serial, records, journalBytes, len(whole))
	}

	next := open(t, url, schema)
	got, err := next.Read(ctx)
	if err != nil || got.Serial != 4 || len(got.Operations[0].BeforeImages) != 300 {
		t.Fatalf("a reader sees serial %v, %v; want 4 with 300 images", got, err)
	}
	id, err = next.Lock(ctx, state.LockInfo{Who: "bob"})
	if err != nil {
		t.Fatal(err)
	}
	got.Operations[0].Finish(state.StatusFailed, time.Date(2026, 11, 26, 10, 1, 0, 0, time.UTC), errors.New("killed"))
	if err := next.Write(ctx, got, id); err != nil {
		t.Fatal(err)
	}
	if err := next.Unlock(ctx, id); err != nil {
		t.Fatal(err)
	}
	var doc string
	if err := c.QueryRow(ctx, `SELECT document, (SELECT count(*) FROM `+table("journal")+`) FROM `+table("states")).Scan(&doc, &records); err != nil {
		t.Fatal(err)
	}
	if want, _ := state.Encode(got, "test"); doc != string(want) || records != 0 {
		t.Errorf("after Unlock: %d journal records, document equal to the state written whole: %v", records, doc == string(want))
	}
}

// testForceUnlockEndsALiveHolder: unlike a file lock, a stuck holder's
// session can be ended; its later write fails.
func testForceUnlockEndsALiveHolder(t *testing.T, url string, schema Option) {
	ctx := context.Background()
	a, b := open(t, url, schema), open(t, url, schema)
	id, err := a.Lock(ctx, state.LockInfo{Who: "stuck"})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.ForceUnlock(ctx, "wrong"); !errors.Is(err, state.ErrWrongLockID) {
		t.Fatalf("ForceUnlock with a wrong ID: %v", err)
	}
	if err := b.ForceUnlock(ctx, id); err != nil {
		t.Fatalf("ForceUnlock: %v", err)
	}
	if h, err := b.LockHolder(ctx); h != nil || err != nil {
		t.Errorf("LockHolder after force-unlock = %+v, %v", h, err)
	}
	id2, err := b.Lock(ctx, state.LockInfo{Who: "rescuer"})
	if err != nil {
		t.Fatalf("Lock after force-unlock: %v", err)
	}
	if err := a.Write(ctx, state.New("lin"), id); err == nil {
		t.Errorf("the force-unlocked holder could still write")
	}
	if err := b.Write(ctx, state.New("lin"), id2); err != nil {
		t.Errorf("the new holder cannot write: %v", err)
	}
	b.Unlock(ctx, id2)
}

// testStatesDoNotShareALock: two state names in one schema lock apart.
func testStatesDoNotShareALock(t *testing.T, url string, schema Option) {
	ctx := context.Background()
	prod, staging := open(t, url, schema, WithName("prod")), open(t, url, schema, WithName("staging"))
	id1, err := prod.Lock(ctx, state.LockInfo{Who: "a"})
	if err != nil {
		t.Fatal(err)
	}
	id2, err := staging.Lock(ctx, state.LockInfo{Who: "b"})
	if err != nil {
		t.Fatalf("locking another state name: %v", err)
	}
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if _, err := open(t, url, schema, WithName("prod")).Lock(short, state.LockInfo{Who: "c"}); !errors.Is(err, state.ErrLocked) {
		t.Errorf("a second lock of prod: %v, want ErrLocked", err)
	}
	prod.Unlock(ctx, id1)
	staging.Unlock(ctx, id2)
}

func TestNoPasswordInMessages(t *testing.T) {
	b, err := New("postgres://app:s3cret-pw@127.0.0.1:1/nodb?connect_timeout=1")
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.Read(context.Background())
	if err == nil || strings.Contains(err.Error(), "s3cret-pw") || strings.Contains(b.Where(), "s3cret-pw") {
		t.Errorf("error %v / where %s", err, b.Where())
	}
	if _, err := New("postgres://app:s3cret-pw@host:notaport/db"); err == nil || strings.Contains(err.Error(), "s3cret-pw") {
		t.Errorf("New error: %v", err)
	}
}
