package pgstate

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/offsetctl/offsetctl/pkg/state"
)

// Per-resource locks.
//
// A whole-state lock is the exclusive session-level advisory lock on the
// state's key. A resource lock is the same key taken shared (so whole-state
// locks and resource locks exclude each other, and resource locks of one
// state coexist) plus an exclusive advisory lock on each resource's key,
// FNV-1a of "offsetctl state\x00<schema>\x00<name>\x00<resource>", all on
// the holder's dedicated connection, with one visible row per resource in
// the table resource_locks. Resources are taken all or none, in sorted
// order; a holder that cannot take one releases the others and tries again
// until its context is done, then is refused naming the holder of that
// resource.
//
// Writes of a resource holder merge (state.Merge): in the write's
// transaction the states row is locked (FOR UPDATE, which serialises the
// writers of one state), and when another holder stored since this one read
// or last wrote, the stored state (document and journal) is read, this
// holder's own operations and backups are laid on top, renumbered after the
// stored ones if another holder took their numbers, and the result is
// written at the next serial: as a journal row when it only adds to what is
// stored, else whole.

var _ state.ResourceLocker = (*Backend)(nil)

func (b *Backend) resourceKey(r string) int64 { return lockKey(b.schema, b.name+"\x00"+r) }

// LockResources takes the lock of the resources (see state.ResourceLocker).
func (b *Backend) LockResources(ctx context.Context, info state.LockInfo, resources []string) (string, error) {
	if len(resources) == 0 {
		return b.Lock(ctx, info)
	}
	res := slices.Clone(resources)
	slices.Sort(res)
	res = slices.Compact(res)
	if err := context.Cause(ctx); errors.Is(err, context.Canceled) {
		return "", fmt.Errorf("waiting for the state lock: %w", err)
	}
	if err := b.completeLockInfo(&info); err != nil {
		return "", err
	}
	first := context.WithoutCancel(ctx)
	setup, cancel := context.WithTimeout(first, 30*time.Second)
	defer cancel()
	c, err := b.lockConn(setup)
	if err != nil {
		return "", err
	}
	if err := c.QueryRow(setup, `SELECT pg_backend_pid()`).Scan(&info.PID); err != nil {
		c.Close(first)
		return "", fmt.Errorf("locking state %s: %w", b.where, err)
	}
	delay := 10 * time.Millisecond
	var blocked string // the resource that was held, "" for the whole state
	for {
		ok, which, err := b.tryResources(setup, c, res)
		if err != nil {
			c.Close(first)
			return "", fmt.Errorf("locking state %s: %w", b.where, err)
		}
		if ok {
			break
		}
		blocked = which
		timer := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			timer.Stop()
		case <-timer.C:
		}
		if ctx.Err() != nil {
			c.Close(first)
			if errors.Is(ctx.Err(), context.Canceled) {
				return "", fmt.Errorf("waiting for the state lock: %w", ctx.Err())
			}
			hctx, hcancel := context.WithTimeout(first, 10*time.Second)
			defer hcancel()
			var holder *state.LockInfo
			if blocked == "" {
				holder, _ = b.LockHolder(hctx)
			} else {
				holder, _ = b.ResourceHolder(hctx, blocked)
			}
			lerr := &state.LockError{Holder: holder, Err: state.ErrLocked}
			if blocked != "" {
				return "", fmt.Errorf("%s is being changed: %w", blocked, lerr)
			}
			return "", lerr
		}
		delay = min(delay*2, 500*time.Millisecond)
	}
	batch := &pgx.Batch{}
	for _, r := range res {
		batch.Queue(`INSERT INTO `+b.table("resource_locks")+` (name, resource, id, operation, who, host, pid, version, created)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
			ON CONFLICT (name, resource) DO UPDATE SET id = $3, operation = $4, who = $5, host = $6, pid = $7, version = $8, created = $9`,
			b.name, r, info.ID, info.Operation, info.Who, info.Host, info.PID, info.Version, info.Created)
	}
	if err := c.SendBatch(setup, batch).Close(); err != nil {
		c.Close(first)
		return "", fmt.Errorf("locking state %s: writing the resource lock rows: %w", b.where, err)
	}
	b.mu.Lock()
	b.held = &heldLock{conn: c, info: info, resources: res}
	b.mu.Unlock()
	return info.ID, nil
}

// tryResources takes the state's key shared and every resource's key, or
// none of them; which names what was held by someone else ("" for the
// whole state).
func (b *Backend) tryResources(ctx context.Context, c *pgx.Conn, res []string) (ok bool, which string, err error) {
	if err := c.QueryRow(ctx, `SELECT pg_try_advisory_lock_shared($1)`, b.key).Scan(&ok); err != nil || !ok {
		return false, "", err
	}
	var taken []int64
	release := func() error {
		for _, k := range taken {
			if _, err := c.Exec(ctx, `SELECT pg_advisory_unlock($1)`, k); err != nil {
				return err
			}
		}
		_, err := c.Exec(ctx, `SELECT pg_advisory_unlock_shared($1)`, b.key)
		return err
	}
	for _, r := range res {
		k := b.resourceKey(r)
		var got bool
		if err := c.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, k).Scan(&got); err != nil {
			return false, "", err
		}
		if !got {
			return false, r, release()
		}
		taken = append(taken, k)
	}
	return true, "", nil
}

// ResourceHolder returns the holder of resource's lock, or nil when nobody
// holds it.
func (b *Backend) ResourceHolder(ctx context.Context, resource string) (*state.LockInfo, error) {
	c, err := b.connect(ctx)
	if err != nil {
		return nil, err
	}
	defer c.Close(context.WithoutCancel(ctx))
	k := b.resourceKey(resource)
	var pid int
	err = c.QueryRow(ctx, `SELECT pid FROM pg_locks
		WHERE locktype = 'advisory' AND granted AND objsubid = 1
		  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
		  AND classid = $1::bigint::oid AND objid = $2::bigint::oid`,
		int64(uint64(k)>>32), int64(uint64(k)&0xffffffff)).Scan(&pid)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the lock of %s: %w", resource, err)
	}
	for attempt := 0; ; attempt++ {
		info, err := b.resourceRow(ctx, c, `resource = $2`, resource)
		if err != nil {
			return nil, err
		}
		if info != nil && info.PID == pid {
			return info, nil
		}
		if attempt == 5 || ctx.Err() != nil {
			return &state.LockInfo{PID: pid, Path: b.where}, nil
		}
		time.Sleep(time.Duration(attempt+1) * 5 * time.Millisecond)
	}
}

// resourceRow reads the first resource lock row matching cond ($1 is the
// state's name, $2 arg), nil when there is none.
func (b *Backend) resourceRow(ctx context.Context, c *pgx.Conn, cond string, arg any) (*state.LockInfo, error) {
	info := state.LockInfo{Path: b.where}
	var resource string
	err := c.QueryRow(ctx, `SELECT resource, id, operation, who, host, pid, version, created FROM `+b.table("resource_locks")+
		` WHERE name = $1 AND `+cond+` ORDER BY resource LIMIT 1`, b.name, arg).
		Scan(&resource, &info.ID, &info.Operation, &info.Who, &info.Host, &info.PID, &info.Version, &info.Created)
	if errors.Is(err, pgx.ErrNoRows) || missingTables(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the resource lock rows: %w", err)
	}
	info.Created = info.Created.UTC()
	return &info, nil
}

// Renumbered returns the stored serial of the operation this Backend's
// caller numbers local (see state.ResourceLocker).
func (b *Backend) Renumbered(local uint64) uint64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.held == nil {
		return local
	}
	return b.held.renum.Operation(local)
}

// writeMerging is Write under a resource lock. b.mu is held.
func (b *Backend) writeMerging(ctx context.Context, s *state.State, lockID string) error {
	h := b.held
	var written *state.Written
	var stored uint64
	var didMerge bool
	var newBase *state.State // the caller's state as written, while nothing was merged
	err := pgx.BeginFunc(ctx, h.conn, func(tx pgx.Tx) error {
		var rows int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM `+b.table("resource_locks")+` WHERE name = $1 AND id = $2`, b.name, lockID).Scan(&rows); err != nil {
			return err
		}
		if rows != len(h.resources) {
			return fmt.Errorf("%w: the resource lock rows no longer carry lock ID %s (was it force-unlocked?)", state.ErrNotLocked, lockID)
		}
		var lineage string
		var serial int64
		err := tx.QueryRow(ctx, `SELECT lineage, serial FROM `+b.table("states")+` WHERE name = $1 FOR UPDATE`, b.name).Scan(&lineage, &serial)
		noRow := errors.Is(err, pgx.ErrNoRows)
		if err != nil && !noRow {
			return err
		}
		next := *s
		switch {
		case noRow:
			// The first state: nobody else stored one.
			if s.Serial != 0 {
				return fmt.Errorf("%w: it was read at serial %d, but no state is stored now", state.ErrSerialMismatch, s.Serial)
			}
			next.Serial = 1
			data, err := state.Encode(&next, b.version)
			if err != nil {
				return err
			}
			// Another first writer may insert at the same moment: the
			// primary key makes one of them fail, and its apply stops
			// before changing anything (its first write is the journal).
			if _, err := tx.Exec(ctx, `INSERT INTO `+b.table("states")+` (name, lineage, serial, document) VALUES ($1, $2, $3, $4)`,
				b.name, next.Lineage, int64(next.Serial), string(data)); err != nil {
				return err
			}
			written, stored = state.Snapshot(&next), next.Serial
			newBase = state.Clone(&next)
			return nil
		case !h.merged && uint64(serial) == s.Serial && lineage == s.Lineage:
			// Nobody else wrote since this holder read: as Write does.
			next.Serial = s.Serial + 1
			rec, w, ok, err := state.AppendRecord(b.written, &next, b.version)
			if err != nil {
				return err
			}
			if ok {
				if _, err := tx.Exec(ctx, `INSERT INTO `+b.table("journal")+` (name, serial, record) VALUES ($1, $2, $3)`,
					b.name, int64(next.Serial), string(rec)); err != nil {
					return err
				}
				_, err = tx.Exec(ctx, `UPDATE `+b.table("states")+` SET serial = $2, updated_at = now() WHERE name = $1`, b.name, int64(next.Serial))
				written, stored, newBase = w, next.Serial, state.Clone(&next)
				return err
			}
			data, err := state.Encode(&next, b.version)
			if err != nil {
				return err
			}
			written, stored, newBase = state.Snapshot(&next), next.Serial, state.Clone(&next)
			return b.replace(ctx, tx, data, next.Lineage, next.Serial)
		}
		// Someone else stored since: lay this holder's changes on top.
		var cur *state.State
		if w := b.written; w != nil && w.Lineage() == lineage && w.Serial() == uint64(serial) {
			cur = w.State()
		} else if cur, err = b.load(ctx, tx); err != nil {
			return err
		}
		base := h.base
		if base == nil {
			// This holder read no state; its state is new. It joins the
			// stored lineage.
			base = state.New(lineage)
			if s.Lineage != lineage {
				adopted := *s
				adopted.Lineage = lineage
				s = &adopted
			}
		}
		merged, err := state.Merge(cur, base, s, &h.renum)
		if err != nil {
			return err
		}
		didMerge = true
		merged.Serial = uint64(serial) + 1
		rec, w, ok, err := state.AppendRecord(state.Snapshot(cur), merged, b.version)
		if err != nil {
			return err
		}
		if ok {
			if _, err := tx.Exec(ctx, `INSERT INTO `+b.table("journal")+` (name, serial, record) VALUES ($1, $2, $3)`,
				b.name, int64(merged.Serial), string(rec)); err != nil {
				return err
			}
			_, err = tx.Exec(ctx, `UPDATE `+b.table("states")+` SET serial = $2, updated_at = now() WHERE name = $1`, b.name, int64(merged.Serial))
			written, stored = w, merged.Serial
			return err
		}
		data, err := state.Encode(merged, b.version)
		if err != nil {
			return err
		}
		written, stored = state.Snapshot(merged), merged.Serial
		return b.replace(ctx, tx, data, merged.Lineage, merged.Serial)
	})
	if err != nil {
		b.written = nil
		return fmt.Errorf("writing state %s: %w", b.where, err)
	}
	if newBase != nil {
		// Nothing merged yet: the stored numbering is the caller's, and
		// what it wrote is its new base (Merge lays later changes on it).
		h.base = newBase
	}
	if didMerge {
		// Another holder's writes are in the stored state now: every
		// later write of this holder merges.
		h.merged = true
		if h.base == nil {
			h.base = state.New(written.Lineage())
		}
	}
	b.written = written
	s.Serial, s.OffsetctlVersion = stored, b.version
	s.Lineage = written.Lineage()
	return nil
}

// unlockResources releases a resource lock: the journal is folded into the
// document first (as Unlock does), then the rows are deleted and the
// session, which holds the advisory locks, is closed. b.mu is held.
func (b *Backend) unlockResources(ctx context.Context, h *heldLock, id string) error {
	var ferr error
	if err := b.fold(ctx, h.conn); err != nil {
		ferr = fmt.Errorf("folding the journal (table %s) into the state document (the state is whole and readable as it is, with the journal; the next write tries again): %w", b.table("journal"), err)
	}
	b.held = nil
	_, err := h.conn.Exec(ctx, `DELETE FROM `+b.table("resource_locks")+` WHERE name = $1 AND id = $2`, b.name, id)
	if err == nil {
		_, err = h.conn.Exec(ctx, `SELECT pg_advisory_unlock_all()`)
	}
	cerr := h.conn.Close(context.WithoutCancel(ctx))
	if err = errors.Join(err, cerr); err != nil {
		return errors.Join(ferr, fmt.Errorf("unlocking state %s: %w", b.where, err))
	}
	return ferr
}

// forceUnlockResources releases the resource lock id whoever holds it: it
// ends the holder's session when it is alive (which releases its advisory
// locks) and deletes its rows. done is false when no resource lock has
// that ID.
func (b *Backend) forceUnlockResources(ctx context.Context, c *pgx.Conn, id string) (done bool, err error) {
	row, err := b.resourceRow(ctx, c, `id = $2`, id)
	if err != nil || row == nil {
		return false, err
	}
	var alive bool
	if err := c.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1)`, row.PID).Scan(&alive); err != nil {
		return true, fmt.Errorf("force-unlocking state %s: %w", b.where, err)
	}
	if alive {
		var ok bool
		if err := c.QueryRow(ctx, `SELECT pg_terminate_backend($1)`, row.PID).Scan(&ok); err != nil || !ok {
			return true, fmt.Errorf("force-unlocking state: %w", &state.LockError{Holder: row,
				Err:  fmt.Errorf("could not end the holder's database session (pid %d): %v", row.PID, err),
				Hint: "connect as the holder's role or one with pg_signal_backend, or stop the holder"})
		}
		for delay := 5 * time.Millisecond; ; delay = min(delay*2, 200*time.Millisecond) {
			if err := c.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1)`, row.PID).Scan(&alive); err != nil {
				return true, fmt.Errorf("force-unlocking state %s: %w", b.where, err)
			}
			if !alive {
				break
			}
			select {
			case <-ctx.Done():
				return true, fmt.Errorf("force-unlocking state %s: the holder's session (pid %d) was told to end but is still there: %w", b.where, row.PID, ctx.Err())
			case <-time.After(delay):
			}
		}
	}
	if _, err := c.Exec(ctx, `DELETE FROM `+b.table("resource_locks")+` WHERE name = $1 AND id = $2`, b.name, id); err != nil {
		return true, fmt.Errorf("force-unlocking state %s: %w", b.where, err)
	}
	return true, nil
}

// ResourceLockHolder returns the holder of the resource lock id, nil when
// no resource lock has that ID (for force-unlock, which names one holder
// among several).
func (b *Backend) ResourceLockHolder(ctx context.Context, id string) (*state.LockInfo, error) {
	c, err := b.connect(ctx)
	if err != nil {
		return nil, err
	}
	defer c.Close(context.WithoutCancel(ctx))
	return b.resourceRow(ctx, c, `id = $2`, id)
}
