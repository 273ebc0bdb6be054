package pgstate

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

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
