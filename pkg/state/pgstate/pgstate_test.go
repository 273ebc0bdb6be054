package pgstate

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

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

// TestConformance runs the suite in one database, a schema per test (a
// database per test would cost a second each).
func TestConformance(t *testing.T) {
	url := pgtest.NewDB(t)
	n := 0
	statetest.Run(t, func(t *testing.T) func() state.Backend {
		n++
		schema := fmt.Sprintf("state_%d", n)
		return func() state.Backend { return open(t, url, WithSchema(schema)) }
	})
}

// TestForceUnlockEndsALiveHolder: unlike a file lock, a stuck holder's
// session can be ended; its later write fails.
func TestForceUnlockEndsALiveHolder(t *testing.T) {
	url := pgtest.NewDB(t)
	ctx := context.Background()
	a, b := open(t, url), open(t, url)
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

// TestStatesDoNotShareALock: two state names in one schema lock apart.
func TestStatesDoNotShareALock(t *testing.T) {
	url := pgtest.NewDB(t)
	ctx := context.Background()
	prod, staging := open(t, url, WithName("prod")), open(t, url, WithName("staging"))
	id1, err := prod.Lock(ctx, state.LockInfo{Who: "a"})
	if err != nil {
		t.Fatal(err)
	}
	id2, err := staging.Lock(ctx, state.LockInfo{Who: "b"})
	if err != nil {
		t.Fatalf("locking another state name: %v", err)
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
