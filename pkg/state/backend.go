package state

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"
)

// Errors callers branch on.
var (
	// ErrNoState: the backend holds no state yet. Start a new lineage with
	// New(NewID(...)).
	ErrNoState = errors.New("no state has been written yet")
	// ErrLocked: the state is locked by someone else. The error is a
	// *LockError that names the holder.
	ErrLocked = errors.New("state is locked")
	// ErrNotLocked: an operation needing the lock was called without it, or
	// an unlock found nothing to unlock.
	ErrNotLocked = errors.New("state is not locked")
	// ErrWrongLockID: the lock ID given is not the holder's.
	ErrWrongLockID = errors.New("lock ID does not match the lock held")
	// ErrLineageMismatch: Write was given a state of another lineage than the
	// one stored.
	ErrLineageMismatch = errors.New("state lineage does not match the stored state")
	// ErrSerialMismatch: Write was given a state whose serial is not the one
	// stored: someone wrote the state since it was read.
	ErrSerialMismatch = errors.New("state serial does not match the stored state")
)

// Backend stores one state and locks it.
//
// Read returns the stored state, or an error wrapping ErrNoState when none
// was written. Write stores s, holding the lock lockID: it refuses (without
// changing anything) when lockID is not a lock this backend holds
// (ErrNotLocked, ErrWrongLockID, or a *LockError naming the real holder),
// when a stored state has another lineage (ErrLineageMismatch), and when
// s.Serial is not the stored serial, 0 when none is stored
// (ErrSerialMismatch). On success the stored serial is s.Serial+1, and
// s.Serial and s.OffsetctlVersion are updated to what was stored. A failed or
// interrupted Write leaves the previous state readable.
//
// Close releases what the backend holds. A lock still held is released the
// way a dying process releases it, leaving its lock information behind.
type Backend interface {
	Read(ctx context.Context) (*State, error)
	Write(ctx context.Context, s *State, lockID string) error
	Locker
	Close() error
}

// Locker is the lock of one state.
//
// Lock takes the lock for info and returns its ID (info.ID if set, else a new
// one). It waits, polling with backoff, until ctx is done: the context's
// deadline is the lock timeout (-lock-timeout). When it gives up it returns a
// *LockError wrapping ErrLocked that names the holder. Locks do not nest: a
// second Lock of a held state fails even from the same process.
//
// Unlock releases the lock id; a wrong id is refused with a *LockError
// wrapping ErrWrongLockID that names the holder. ForceUnlock releases the lock
// id whoever holds it, as far as the backend can (see each backend's
// documentation for what it cannot do); it too refuses a wrong id.
// LockHolder returns the current holder, or nil when the state is not locked.
type Locker interface {
	Lock(ctx context.Context, info LockInfo) (string, error)
	Unlock(ctx context.Context, id string) error
	ForceUnlock(ctx context.Context, id string) error
	LockHolder(ctx context.Context) (*LockInfo, error)
}

// LockInfo describes a lock and who holds it. It is stored beside the lock so
// that others can see it.
type LockInfo struct {
	// ID identifies the lock; Unlock and force-unlock need it.
	ID string
	// Operation is what the holder is doing ("apply", "rollback", …).
	Operation string
	// Who holds it (user name) and on which Host; PID is the holder's
	// process (or database session) id where the backend knows it.
	Who, Host string
	PID       int
	// Version is the holder's offsetctl version.
	Version string
	// Created is when the lock was taken.
	Created time.Time
	// Path is where the state lives (a file path, a database and table).
	Path string
}

// String describes the holder for an operator:
// alice@ops-1 since 2026-11-20T10:00:00Z for "apply" (lock ID 1234).
func (i *LockInfo) String() string {
	if i == nil {
		return "an unknown holder"
	}
	who := i.Who
	if who == "" {
		who = "someone"
	}
	if i.Host != "" {
		who += "@" + i.Host
	}
	if i.PID != 0 {
		who += fmt.Sprintf(" (pid %d)", i.PID)
	}
	s := who
	if !i.Created.IsZero() {
		s += " since " + i.Created.UTC().Format(time.RFC3339)
	}
	if i.Operation != "" {
		s += fmt.Sprintf(" for %q", i.Operation)
	}
	if i.ID == "" {
		return s + " (lock ID unknown)"
	}
	return s + fmt.Sprintf(" (lock ID %s)", i.ID)
}

// LockError is a lock refused because of its holder. It wraps the reason
// (ErrLocked, ErrWrongLockID, or a backend's own) and carries the holder.
type LockError struct {
	// Holder is the current holder, nil when it could not be read.
	Holder *LockInfo
	// Err is the reason: ErrLocked, ErrWrongLockID, or a backend's reason.
	Err error
	// Hint, when set, replaces the default advice to the operator.
	Hint string
}

func (e *LockError) Error() string {
	switch {
	case errors.Is(e.Err, ErrWrongLockID):
		return fmt.Sprintf("%v: the state is locked by %s", e.Err, e.Holder)
	case errors.Is(e.Err, ErrLocked):
		hint := e.Hint
		if hint == "" && e.Holder != nil {
			hint = "wait for it to finish, or if its holder died run: offsetctl force-unlock " + e.Holder.ID
		}
		msg := fmt.Sprintf("state is locked by %s", e.Holder)
		if hint != "" {
			msg += "; " + hint
		}
		return msg
	default:
		msg := fmt.Sprintf("%v (lock held by %s)", e.Err, e.Holder)
		if e.Hint != "" {
			msg += "; " + e.Hint
		}
		return msg
	}
}

func (e *LockError) Unwrap() error { return e.Err }

// NewID returns a random version-4 UUID read from r (crypto/rand.Reader in
// production, a fixed reader in tests), for lineages and lock IDs.
func NewID(r io.Reader) (string, error) {
	var b [16]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return "", fmt.Errorf("generating an ID: %w", err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]), nil
}

// RefuseUnlock is the error of an Unlock(id) by a handle that does not hold
// the lock: the state is not locked, another ID holds it, or the right ID is
// held by someone else (holderKind names them, e.g. "process or handle"),
// who must unlock it. where names the state for messages.
func RefuseUnlock(where string, holder *LockInfo, id, holderKind string) error {
	switch {
	case holder == nil:
		return fmt.Errorf("unlocking state %s: %w", where, ErrNotLocked)
	case holder.ID != id:
		return fmt.Errorf("unlocking state: %w", &LockError{Holder: holder, Err: ErrWrongLockID})
	}
	return fmt.Errorf("unlocking state: %w", &LockError{Holder: holder, Err: fmt.Errorf("the lock is held by another %s, which must unlock it itself", holderKind)})
}

// Rekeyer is a backend whose state can be encrypted (both backends are):
// Rekey writes the stored state again, under the lock lockID, sealed with
// the current key of its keyring, its journal folded in and the previous
// version it keeps re-sealed too, at the same serial. It returns that
// serial.
type Rekeyer interface {
	Rekey(ctx context.Context, lockID string) (uint64, error)
}

// ResourceLocker is a Locker that can also lock only the resources an
// apply touches (connectors, reconciled tables, named by the caller)
// instead of the whole state: two holders of different resources hold
// their locks at the same time and write the one state without losing each
// other's operations; a holder of a resource another holds waits, and is
// refused naming that holder. A whole-state Lock excludes every resource
// lock and the other way round.
//
// LockResources takes the lock of every resource (all or none) and returns
// its ID, waiting until ctx is done like Lock; Unlock, Write and
// ForceUnlock take that ID as they take Lock's. Under a resource lock,
// Write stores the caller's own changes since its Read (operations begun,
// changed, backups taken) on top of what other holders stored meanwhile
// (see Merge); the caller's state keeps its own numbering, and the
// backend's Renumbered says which stored serial an operation got.
type ResourceLocker interface {
	LockResources(ctx context.Context, info LockInfo, resources []string) (string, error)
	// Renumbered returns the stored serial of the operation the caller's
	// state numbers local (local itself unless another holder took it).
	Renumbered(local uint64) uint64
}
