package pgstate

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/offsetctl/offsetctl/pkg/state"
)

// DefaultSchema and DefaultName are used when the configuration names none.
const (
	DefaultSchema = "offsetctl"
	DefaultName   = "default"
)

// Backend is the PostgreSQL state backend. Its methods are safe for
// concurrent use.
type Backend struct {
	url     string // never printed: it may hold a password
	where   string // host/database schema.name, for messages and LockInfo.Path
	schema  string
	name    string
	key     int64
	now     func() time.Time
	newID   func() (string, error)
	version string
	// keys seal the document, the previous one and each journal record;
	// nil stores them in the clear.
	keys *state.Keyring

	mu   sync.Mutex
	held *heldLock
	// written is the state as this Backend last read or wrote it: a write
	// that only adds to it goes to the journal table as one record.
	written *state.Written
}

type heldLock struct {
	conn *pgx.Conn
	info state.LockInfo
	// resources are the resources locked (sorted), nil for the whole
	// state (see resources.go).
	resources []string
	// base is the state as the holder of a resource lock last read it
	// (nil: no state), renum the numbers Merge gave its operations, and
	// merged whether another holder's writes were merged in: from then on
	// every write merges.
	base   *state.State
	renum  state.Renumbering
	merged bool
}

var _ state.Backend = (*Backend)(nil)

// Option configures a Backend.
type Option interface{ apply(*Backend) }

type optionFunc func(*Backend)

func (f optionFunc) apply(b *Backend) { f(b) }

// WithSchema sets the schema of the state tables (default "offsetctl").
func WithSchema(s string) Option { return optionFunc(func(b *Backend) { b.schema = s }) }

// WithName sets the state's name, so one schema can hold several states
// (default "default").
func WithName(n string) Option { return optionFunc(func(b *Backend) { b.name = n }) }

// WithClock sets the clock used for lock creation times (default time.Now).
func WithClock(now func() time.Time) Option { return optionFunc(func(b *Backend) { b.now = now }) }

// WithIDGenerator sets how lock IDs are made when LockInfo.ID is empty.
func WithIDGenerator(f func() (string, error)) Option {
	return optionFunc(func(b *Backend) { b.newID = f })
}

// WithEncryption seals the state document, the previous one kept beside it
// and each journal record with keys (see state.Keyring); a state stored in
// the clear is then refused, unless keys accept plaintext.
func WithEncryption(keys *state.Keyring) Option {
	return optionFunc(func(b *Backend) { b.keys = keys })
}

// WithVersion sets the offsetctl version recorded as the state's writer.
func WithVersion(v string) Option { return optionFunc(func(b *Backend) { b.version = v }) }

// New returns a Backend for the database at connString (a URL or libpq
// key/value string; libpq's PG* variables fill what it leaves out). It
// checks the string but does not connect.
func New(connString string, opts ...Option) (*Backend, error) {
	cfg, err := pgx.ParseConfig(connString)
	if err != nil {
		return nil, errors.New("postgres state: the connection string does not parse (it is not repeated here: it may hold a password)")
	}
	b := &Backend{
		url:    connString,
		schema: DefaultSchema,
		name:   DefaultName,
		now:    time.Now,
		newID:  func() (string, error) { return state.NewID(rand.Reader) },
	}
	for _, o := range opts {
		o.apply(b)
	}
	b.where = fmt.Sprintf("postgres://%s:%d/%s %s.%s", cfg.Host, cfg.Port, cfg.Database, b.schema, b.name)
	b.key = lockKey(b.schema, b.name)
	return b, nil
}

// Where describes the state's location, without credentials.
func (b *Backend) Where() string { return b.where }

func lockKey(schema, name string) int64 {
	h := fnv.New64a()
	h.Write([]byte("offsetctl state\x00" + schema + "\x00" + name))
	return int64(h.Sum64())
}

func (b *Backend) table(t string) string { return pgx.Identifier{b.schema, t}.Sanitize() }

func (b *Backend) connect(ctx context.Context) (*pgx.Conn, error) {
	c, err := pgx.Connect(ctx, b.url)
	if err != nil {
		return nil, fmt.Errorf("connecting to the state database %s: %w", b.where, err)
	}
	return c, nil
}

// missingTables reports whether err says the schema or tables do not exist
// yet (nothing was ever locked there).
func missingTables(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "42P01" || pe.Code == "3F000")
}

// ensureTables creates the schema and tables, serialised between concurrent
// creators by a transaction-level advisory lock.
func (b *Backend) ensureTables(ctx context.Context, c *pgx.Conn) error {
	return pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, lockKey(b.schema, "\x00tables")); err != nil {
			return err
		}
		stmts := []string{
			`CREATE SCHEMA IF NOT EXISTS ` + pgx.Identifier{b.schema}.Sanitize(),
			`CREATE TABLE IF NOT EXISTS ` + b.table("states") + ` (
				name       text PRIMARY KEY,
				lineage    text NOT NULL,
				serial     bigint NOT NULL,
				document   text NOT NULL,
				previous   text,
				updated_at timestamptz NOT NULL DEFAULT now()
			)`,
			`CREATE TABLE IF NOT EXISTS ` + b.table("journal") + ` (
				name   text NOT NULL,
				serial bigint NOT NULL,
				record text NOT NULL,
				PRIMARY KEY (name, serial)
			)`,
			`CREATE TABLE IF NOT EXISTS ` + b.table("locks") + ` (
				name      text PRIMARY KEY,
				id        text NOT NULL,
				operation text NOT NULL DEFAULT '',
				who       text NOT NULL DEFAULT '',
				host      text NOT NULL DEFAULT '',
				pid       integer NOT NULL,
				version   text NOT NULL DEFAULT '',
				created   timestamptz NOT NULL
			)`,
			`CREATE TABLE IF NOT EXISTS ` + b.table("resource_locks") + ` (
				name      text NOT NULL,
				resource  text NOT NULL,
				id        text NOT NULL,
				operation text NOT NULL DEFAULT '',
				who       text NOT NULL DEFAULT '',
				host      text NOT NULL DEFAULT '',
				pid       integer NOT NULL,
				version   text NOT NULL DEFAULT '',
				created   timestamptz NOT NULL,
				PRIMARY KEY (name, resource)
			)`,
		}
		for _, s := range stmts {
			if _, err := tx.Exec(ctx, s); err != nil {
				return err
			}
		}
		return nil
	})
}

// Read reads the state document and replays the records journalled since
// it was written.
func (b *Backend) Read(ctx context.Context) (*state.State, error) {
	c, err := b.connect(ctx)
	if err != nil {
		return nil, err
	}
	defer c.Close(context.WithoutCancel(ctx))
	var st *state.State
	err = pgx.BeginTxFunc(ctx, c, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		st, err = b.load(ctx, tx)
		return err
	})
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	b.written = state.Snapshot(st)
	if h := b.held; h != nil && h.resources != nil {
		// The holder's numbering starts again from what it read.
		h.base, h.renum, h.merged = state.Clone(st), state.Renumbering{}, false
	}
	b.mu.Unlock()
	return st, nil
}

// load reads the state document and its journal in tx.
func (b *Backend) load(ctx context.Context, tx pgx.Tx) (*state.State, error) {
	var doc string
	var hasJournal bool
	// A schema made by an offsetctl before the journal has no journal
	// table until its next lock: it has no journal then.
	err := tx.QueryRow(ctx, `SELECT document, to_regclass($2) IS NOT NULL FROM `+b.table("states")+` WHERE name = $1`, b.name, b.table("journal")).Scan(&doc, &hasJournal)
	if errors.Is(err, pgx.ErrNoRows) || missingTables(err) {
		return nil, fmt.Errorf("reading state %s: %w", b.where, state.ErrNoState)
	}
	if err != nil {
		return nil, fmt.Errorf("reading state %s: %w", b.where, err)
	}
	s, err := state.DecodeSealed([]byte(doc), b.keys)
	if err != nil {
		if errors.Is(err, state.ErrUnreadable) {
			return nil, fmt.Errorf("reading state %s: %w; the previous version is kept in the column previous of %s", b.where, err, b.table("states"))
		}
		return nil, fmt.Errorf("reading state %s: %w", b.where, err)
	}
	if !hasJournal {
		return s, nil
	}
	rows, err := tx.Query(ctx, `SELECT record FROM `+b.table("journal")+` WHERE name = $1 ORDER BY serial`, b.name)
	if err != nil {
		return nil, fmt.Errorf("reading state %s: its journal: %w", b.where, err)
	}
	var journal []byte
	for rows.Next() {
		journal = append(journal, rows.RawValues()[0]...)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading state %s: its journal: %w", b.where, err)
	}
	if len(journal) == 0 {
		return s, nil
	}
	if journal, err = b.keys.OpenJournal(journal); err != nil {
		return nil, fmt.Errorf("reading state %s: its journal (table %s): %w", b.where, b.table("journal"), err)
	}
	// Each record is written whole by one transaction, and the document
	// and its records are replaced together: every byte must be used.
	whole, used, err := state.ReplayJournal(s, journal)
	if err == nil && used != len(journal) {
		err = fmt.Errorf("%w: the journal's records do not follow the document (serial %d)", state.ErrUnreadable, s.Serial)
	}
	if err != nil {
		return nil, fmt.Errorf("reading state %s: its journal (table %s): %w", b.where, b.table("journal"), err)
	}
	return whole, nil
}

// Write stores s under the lock lockID (see state.Backend).
func (b *Backend) Write(ctx context.Context, s *state.State, lockID string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.held == nil {
		holder, err := b.lockHolder(ctx)
		if err != nil {
			return fmt.Errorf("writing state %s: %w", b.where, err)
		}
		if holder != nil {
			return fmt.Errorf("writing state %s: %w", b.where, &state.LockError{Holder: holder, Err: state.ErrLocked})
		}
		return fmt.Errorf("writing state %s: %w: lock it before writing", b.where, state.ErrNotLocked)
	}
	if b.held.info.ID != lockID {
		info := b.held.info
		return fmt.Errorf("writing state %s: %w", b.where, &state.LockError{Holder: &info, Err: state.ErrWrongLockID})
	}
	if b.held.resources != nil {
		return b.writeMerging(ctx, s, lockID)
	}
	next := *s
	next.Serial = s.Serial + 1
	// A write that only adds to the state last read or written is one
	// journal record; any other is the whole document.
	rec, written, ok, err := state.AppendRecord(b.written, &next, b.version)
	if err != nil {
		return fmt.Errorf("writing state %s: %w", b.where, err)
	}
	var data []byte
	if !ok {
		if data, err = state.EncodeSealed(&next, b.version, b.keys); err != nil {
			return fmt.Errorf("writing state %s: %w", b.where, err)
		}
		written = state.Snapshot(&next)
	} else if rec, err = b.keys.SealRecord(rec); err != nil {
		return fmt.Errorf("writing state %s: %w", b.where, err)
	}
	b.written = nil
	err = pgx.BeginFunc(ctx, b.held.conn, func(tx pgx.Tx) error {
		var rowID string
		err := tx.QueryRow(ctx, `SELECT id FROM `+b.table("locks")+` WHERE name = $1`, b.name).Scan(&rowID)
		if errors.Is(err, pgx.ErrNoRows) || (err == nil && rowID != lockID) {
			return fmt.Errorf("%w: the lock row no longer carries lock ID %s (was it force-unlocked?)", state.ErrNotLocked, lockID)
		}
		if err != nil {
			return err
		}
		var lineage string
		var serial int64
		err = tx.QueryRow(ctx, `SELECT lineage, serial FROM `+b.table("states")+` WHERE name = $1 FOR UPDATE`, b.name).Scan(&lineage, &serial)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			if s.Serial != 0 || data == nil {
				return fmt.Errorf("%w: it was read at serial %d, but no state is stored now", state.ErrSerialMismatch, s.Serial)
			}
			_, err = tx.Exec(ctx, `INSERT INTO `+b.table("states")+` (name, lineage, serial, document) VALUES ($1, $2, $3, $4)`,
				b.name, next.Lineage, int64(next.Serial), string(data))
			return err
		case err != nil:
			return err
		case lineage != s.Lineage:
			return fmt.Errorf("%w: the stored state has lineage %s, this one %s", state.ErrLineageMismatch, lineage, s.Lineage)
		case uint64(serial) != s.Serial:
			return fmt.Errorf("%w: it was read at serial %d, but serial %d is stored now (someone wrote it in between; read it again)", state.ErrSerialMismatch, s.Serial, serial)
		}
		if data == nil {
			if _, err := tx.Exec(ctx, `INSERT INTO `+b.table("journal")+` (name, serial, record) VALUES ($1, $2, $3)`,
				b.name, int64(next.Serial), string(rec)); err != nil {
				return err
			}
			_, err = tx.Exec(ctx, `UPDATE `+b.table("states")+` SET serial = $2, updated_at = now() WHERE name = $1`, b.name, int64(next.Serial))
			return err
		}
		return b.replace(ctx, tx, data, next.Lineage, next.Serial)
	})
	if err != nil {
		return fmt.Errorf("writing state %s: %w", b.where, err)
	}
	b.written = written
	s.Serial, s.OffsetctlVersion = next.Serial, b.version
	return nil
}

// replace stores data as the whole document at serial, keeping the one
// before, and empties the journal, which data includes.
func (b *Backend) replace(ctx context.Context, tx pgx.Tx, data []byte, lineage string, serial uint64) error {
	if _, err := tx.Exec(ctx, `UPDATE `+b.table("states")+` SET previous = document, document = $2, lineage = $3, serial = $4, updated_at = now() WHERE name = $1`,
		b.name, string(data), lineage, int64(serial)); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `DELETE FROM `+b.table("journal")+` WHERE name = $1`, b.name)
	return err
}

// fold writes the state, journal included, as the whole document, in one
// transaction on the lock's connection. b.mu is held, and the lock.
func (b *Backend) fold(ctx context.Context, conn *pgx.Conn) error {
	return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		var lineage string
		var serial, records int64
		err := tx.QueryRow(ctx, `SELECT s.lineage, s.serial, (SELECT count(*) FROM `+b.table("journal")+` j WHERE j.name = s.name)
			FROM `+b.table("states")+` s WHERE s.name = $1 FOR UPDATE`, b.name).Scan(&lineage, &serial, &records)
		if errors.Is(err, pgx.ErrNoRows) || (err == nil && records == 0) {
			return nil
		}
		if err != nil {
			return err
		}
		// What this Backend last read or wrote, unless it is not the
		// stored state.
		var st *state.State
		if w := b.written; w != nil && w.Lineage() == lineage && w.Serial() == uint64(serial) {
			st = w.State()
		} else if st, err = b.load(ctx, tx); err != nil {
			return err
		}
		data, err := state.EncodeSealed(st, b.version, b.keys)
		if err != nil {
			return err
		}
		return b.replace(ctx, tx, data, st.Lineage, st.Serial)
	})
}

// Lock takes the lock, waiting until ctx is done (see state.Locker). It
// tries at least once, even with a context already past its deadline.
func (b *Backend) Lock(ctx context.Context, info state.LockInfo) (string, error) {
	if err := context.Cause(ctx); errors.Is(err, context.Canceled) {
		return "", fmt.Errorf("waiting for the state lock: %w", err)
	}
	if err := b.completeLockInfo(&info); err != nil {
		return "", err
	}
	// The first attempt runs even when ctx has expired (-lock-timeout 0).
	first := context.WithoutCancel(ctx)
	setup, cancel := context.WithTimeout(first, 30*time.Second)
	defer cancel()
	c, err := b.lockConn(setup)
	if err != nil {
		return "", err
	}
	delay := 10 * time.Millisecond
	tryCtx := setup
	for {
		var ok bool
		if err := c.QueryRow(tryCtx, `SELECT pg_try_advisory_lock($1)`, b.key).Scan(&ok); err != nil {
			c.Close(first)
			if ctx.Err() != nil {
				break
			}
			return "", fmt.Errorf("locking state %s: %w", b.where, err)
		}
		if ok {
			if err := c.QueryRow(setup, `SELECT pg_backend_pid()`).Scan(&info.PID); err != nil {
				c.Close(first)
				return "", fmt.Errorf("locking state %s: %w", b.where, err)
			}
			_, err := c.Exec(setup, `INSERT INTO `+b.table("locks")+` (name, id, operation, who, host, pid, version, created)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
				ON CONFLICT (name) DO UPDATE SET id = $2, operation = $3, who = $4, host = $5, pid = $6, version = $7, created = $8`,
				b.name, info.ID, info.Operation, info.Who, info.Host, info.PID, info.Version, info.Created)
			if err != nil {
				c.Close(first)
				return "", fmt.Errorf("locking state %s: writing the lock row: %w", b.where, err)
			}
			b.mu.Lock()
			b.held = &heldLock{conn: c, info: info}
			b.mu.Unlock()
			return info.ID, nil
		}
		tryCtx = ctx
		timer := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			timer.Stop()
		case <-timer.C:
		}
		if ctx.Err() != nil {
			c.Close(first)
			break
		}
		delay = min(delay*2, 500*time.Millisecond)
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		return "", fmt.Errorf("waiting for the state lock: %w", ctx.Err())
	}
	hctx, hcancel := context.WithTimeout(first, 10*time.Second)
	defer hcancel()
	holder, _ := b.LockHolder(hctx)
	return "", &state.LockError{Holder: holder, Err: state.ErrLocked}
}

// Unlock releases the lock id held by this Backend.
func (b *Backend) Unlock(ctx context.Context, id string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.held == nil {
		holder, err := b.lockHolder(ctx)
		if err != nil {
			return fmt.Errorf("unlocking state: %w", err)
		}
		return state.RefuseUnlock(b.where, holder, id, "session")
	}
	if b.held.info.ID != id {
		info := b.held.info
		return fmt.Errorf("unlocking state: %w", &state.LockError{Holder: &info, Err: state.ErrWrongLockID})
	}
	h := b.held
	if h.resources != nil {
		return b.unlockResources(ctx, h, id)
	}
	// The journal goes into the document before the lock is released.
	var ferr error
	if err := b.fold(ctx, h.conn); err != nil {
		ferr = fmt.Errorf("folding the journal (table %s) into the state document (the state is whole and readable as it is, with the journal; the next write tries again): %w", b.table("journal"), err)
	}
	b.held = nil
	_, err := h.conn.Exec(ctx, `DELETE FROM `+b.table("locks")+` WHERE name = $1 AND id = $2`, b.name, id)
	if err == nil {
		_, err = h.conn.Exec(ctx, `SELECT pg_advisory_unlock($1)`, b.key)
	}
	// Closing the session releases the advisory lock in any case.
	cerr := h.conn.Close(context.WithoutCancel(ctx))
	if err = errors.Join(err, cerr); err != nil {
		return errors.Join(ferr, fmt.Errorf("unlocking state %s: %w", b.where, err))
	}
	return ferr
}

// ForceUnlock releases the lock id whoever holds it: see the package
// documentation.
func (b *Backend) ForceUnlock(ctx context.Context, id string) error {
	b.mu.Lock()
	held := b.held
	b.mu.Unlock()
	if held != nil {
		if held.info.ID != id {
			info := held.info
			return fmt.Errorf("force-unlocking state: %w", &state.LockError{Holder: &info, Err: state.ErrWrongLockID})
		}
		return b.Unlock(ctx, id)
	}
	c, err := b.connect(ctx)
	if err != nil {
		return err
	}
	defer c.Close(context.WithoutCancel(ctx))
	if done, err := b.forceUnlockResources(ctx, c, id); done || err != nil {
		return err
	}
	row, err := b.lockRow(ctx, c)
	if err != nil {
		return fmt.Errorf("force-unlocking state %s: %w", b.where, err)
	}
	if row == nil {
		return fmt.Errorf("force-unlocking state %s: %w", b.where, state.ErrNotLocked)
	}
	if row.ID != id {
		return fmt.Errorf("force-unlocking state: %w", &state.LockError{Holder: row, Err: state.ErrWrongLockID})
	}
	pid, err := b.advisoryHolder(ctx, c)
	if err != nil {
		return fmt.Errorf("force-unlocking state %s: %w", b.where, err)
	}
	if pid != 0 {
		var ok bool
		if err := c.QueryRow(ctx, `SELECT pg_terminate_backend($1)`, pid).Scan(&ok); err != nil || !ok {
			return fmt.Errorf("force-unlocking state: %w", &state.LockError{Holder: row,
				Err:  fmt.Errorf("could not end the holder's database session (pid %d): %v", pid, err),
				Hint: "connect as the holder's role or one with pg_signal_backend, or stop the holder"})
		}
		// The session ends a moment later; wait for its lock to go.
		for delay := 5 * time.Millisecond; ; delay = min(delay*2, 200*time.Millisecond) {
			p, err := b.advisoryHolder(ctx, c)
			if err != nil {
				return fmt.Errorf("force-unlocking state %s: %w", b.where, err)
			}
			if p != pid {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("force-unlocking state %s: the holder's session (pid %d) was told to end but still holds the lock: %w", b.where, pid, ctx.Err())
			case <-time.After(delay):
			}
		}
	}
	if _, err := c.Exec(ctx, `DELETE FROM `+b.table("locks")+` WHERE name = $1 AND id = $2`, b.name, id); err != nil {
		return fmt.Errorf("force-unlocking state %s: %w", b.where, err)
	}
	return nil
}

// LockHolder returns the holder of the lock, or nil when nobody holds it (a
// lock row without a live session is not a lock).
func (b *Backend) LockHolder(ctx context.Context) (*state.LockInfo, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.lockHolder(ctx)
}

func (b *Backend) lockHolder(ctx context.Context) (*state.LockInfo, error) {
	if b.held != nil {
		info := b.held.info
		return &info, nil
	}
	c, err := b.connect(ctx)
	if err != nil {
		return nil, err
	}
	defer c.Close(context.WithoutCancel(ctx))
	pid, err := b.advisoryHolder(ctx, c)
	if err != nil || pid == 0 {
		return nil, err
	}
	// The holder writes its row just after taking the advisory lock.
	for attempt := 0; ; attempt++ {
		row, err := b.lockRow(ctx, c)
		if err != nil {
			return nil, err
		}
		if row != nil && row.PID == pid {
			return row, nil
		}
		// A holder of resource locks holds the state's key shared.
		if rr, err := b.resourceRow(ctx, c, `pid = $2`, pid); err != nil {
			return nil, err
		} else if rr != nil {
			return rr, nil
		}
		if attempt == 5 || ctx.Err() != nil {
			return &state.LockInfo{PID: pid, Path: b.where}, nil
		}
		time.Sleep(time.Duration(attempt+1) * 5 * time.Millisecond)
	}
}

// advisoryHolder returns the backend pid holding the state's advisory lock
// in this database, or 0.
func (b *Backend) advisoryHolder(ctx context.Context, c *pgx.Conn) (int, error) {
	var pid int
	err := c.QueryRow(ctx, `SELECT pid FROM pg_locks
		WHERE locktype = 'advisory' AND granted AND objsubid = 1
		  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
		  AND classid = $1::bigint::oid AND objid = $2::bigint::oid`,
		int64(uint64(b.key)>>32), int64(uint64(b.key)&0xffffffff)).Scan(&pid)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("reading the state lock: %w", err)
	}
	return pid, nil
}

// lockRow reads the visible lock row, nil when there is none.
func (b *Backend) lockRow(ctx context.Context, c *pgx.Conn) (*state.LockInfo, error) {
	info := state.LockInfo{Path: b.where}
	err := c.QueryRow(ctx, `SELECT id, operation, who, host, pid, version, created FROM `+b.table("locks")+` WHERE name = $1`, b.name).
		Scan(&info.ID, &info.Operation, &info.Who, &info.Host, &info.PID, &info.Version, &info.Created)
	if errors.Is(err, pgx.ErrNoRows) || missingTables(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the state lock row: %w", err)
	}
	info.Created = info.Created.UTC()
	return &info, nil
}

// Close releases a lock still held by closing its session, as if the
// process had died: the lock row is left behind.
func (b *Backend) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.held == nil {
		return nil
	}
	h := b.held
	b.held = nil
	// The server ends a closed session a moment later; release the advisory
	// lock now so that "closed" means "unlocked" (best effort: a broken
	// connection is released by the server alone).
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	h.conn.Exec(ctx, `SELECT pg_advisory_unlock_all()`)
	return h.conn.Close(ctx)
}

// Rekey writes the state again, under the lock lockID, sealed with the
// current key of the Backend's keyring: the document (its journal folded
// in, at the same serial: nothing in it changes) and the previous document.
// The Backend must have been made WithEncryption with a keyring that opens
// what is stored (its previous keys, or plaintext for a state stored in the
// clear). It returns the serial written.
func (b *Backend) Rekey(ctx context.Context, lockID string) (uint64, error) {
	if b.keys == nil {
		return 0, errors.New("re-encrypting the state: no key is configured")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.held == nil || b.held.info.ID != lockID {
		return 0, fmt.Errorf("re-encrypting state %s: %w: lock it first", b.where, state.ErrNotLocked)
	}
	var serial uint64
	err := pgx.BeginFunc(ctx, b.held.conn, func(tx pgx.Tx) error {
		var previous *string
		err := tx.QueryRow(ctx, `SELECT previous FROM `+b.table("states")+` WHERE name = $1 FOR UPDATE`, b.name).Scan(&previous)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("%w", state.ErrNoState)
		}
		if err != nil {
			return err
		}
		st, err := b.load(ctx, tx)
		if err != nil {
			return err
		}
		data, err := state.EncodeSealed(st, b.version, b.keys)
		if err != nil {
			return err
		}
		var prev any
		if previous != nil {
			plain, err := b.keys.Open([]byte(*previous), "previous document of the state")
			if err != nil {
				return err
			}
			sealed, err := b.keys.Seal(plain)
			if err != nil {
				return err
			}
			prev = string(sealed)
		}
		if _, err := tx.Exec(ctx, `UPDATE `+b.table("states")+` SET document = $2, previous = $3, updated_at = now() WHERE name = $1`,
			b.name, string(data), prev); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM `+b.table("journal")+` WHERE name = $1`, b.name); err != nil {
			return err
		}
		serial = st.Serial
		return nil
	})
	b.written = nil
	if err != nil {
		return 0, fmt.Errorf("re-encrypting state %s: %w", b.where, err)
	}
	return serial, nil
}

// KeyID is the ID of the key the state is sealed with, "" when it is stored
// in the clear.
func (b *Backend) KeyID() string {
	if b.keys == nil {
		return ""
	}
	return b.keys.KeyID()
}

// completeLockInfo fills what the caller left out of a lock's information:
// its ID, when, where and by which offsetctl.
func (b *Backend) completeLockInfo(info *state.LockInfo) error {
	if info.ID == "" {
		id, err := b.newID()
		if err != nil {
			return fmt.Errorf("locking state: %w", err)
		}
		info.ID = id
	}
	if info.Created.IsZero() {
		info.Created = b.now()
	}
	info.Created = info.Created.UTC().Truncate(time.Microsecond)
	if info.Path == "" {
		info.Path = b.where
	}
	if info.Version == "" {
		info.Version = b.version
	}
	return nil
}

// lockConn opens the dedicated connection a lock is held on, with the
// state tables in place.
func (b *Backend) lockConn(ctx context.Context) (*pgx.Conn, error) {
	c, err := b.connect(ctx)
	if err != nil {
		return nil, err
	}
	if err := b.ensureTables(ctx, c); err != nil {
		c.Close(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("locking state %s: creating the state tables: %w", b.where, err)
	}
	return c, nil
}
