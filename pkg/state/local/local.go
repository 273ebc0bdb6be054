package local

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/offsetctl/offsetctl/pkg/state"
)

// DefaultPath is the state file used when the configuration names none.
const DefaultPath = "offsetctl.state.json"

// ErrLiveHolder is the reason ForceUnlock gives for a lock held by a running
// process, which a local lock cannot take away.
var ErrLiveHolder = errors.New("cannot force-unlock a lock held by a running process")

// Backend is the local file backend. Its methods are safe for concurrent
// use.
type Backend struct {
	path    string
	now     func() time.Time
	newID   func() (string, error)
	version string
	pid     int
	// keys seal the state file, its previous version and each journal
	// record; nil stores them in the clear.
	keys *state.Keyring

	mu   sync.Mutex
	held *heldLock // the lock this Backend holds, if any
	// written is the state file and journal as this Backend last read or
	// wrote them, with what they hold: while the files are still those
	// (same files, sizes and modification times), Write checks against it
	// instead of reading and decoding the whole state again, and appends to
	// the journal what changed since.
	written *writtenFile

	// afterTempWrite, when set (by tests), runs after the temporary file is
	// written and before it is synced and renamed; an error aborts the write
	// there. afterJournalWrite does the same for an append to the journal,
	// before it is synced.
	afterTempWrite    func(tmp string) error
	afterJournalWrite func(journal string) error
}

// writtenFile is a version of the state as stored: the state file, the
// journal (nil when there is none) and what they hold together.
type writtenFile struct {
	info, journal os.FileInfo
	state         *state.Written
	// appendable is false when the journal ends with something its records
	// do not account for (an append cut short, or a journal left behind by
	// a compaction): the next write is a whole one, which removes it.
	appendable bool
}

// unchanged says whether the state file and journal are still the ones w
// describes.
func (w *writtenFile) unchanged(path, journal string) bool {
	if w == nil {
		return false
	}
	fi, err := os.Stat(path)
	if err != nil || !sameVersion(fi, w.info) {
		return false
	}
	ji, err := os.Stat(journal)
	if w.journal == nil {
		return errors.Is(err, fs.ErrNotExist)
	}
	return err == nil && sameVersion(ji, w.journal)
}

func sameVersion(a, b os.FileInfo) bool {
	return os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}

// maxJournal is the size above which a write compacts the journal into the
// state file instead of appending to it, unless the state file is larger
// still: the bytes written stay proportional to the state's growth, and a
// read replays a bounded journal.
const maxJournal = 64 << 20

type heldLock struct {
	f    *os.File
	info state.LockInfo
}

var _ state.Backend = (*Backend)(nil)

// Option configures a Backend.
type Option interface{ apply(*Backend) }

type optionFunc func(*Backend)

func (f optionFunc) apply(b *Backend) { f(b) }

// WithClock sets the clock used for lock creation times (default time.Now).
func WithClock(now func() time.Time) Option { return optionFunc(func(b *Backend) { b.now = now }) }

// WithIDGenerator sets how lock IDs are made when LockInfo.ID is empty
// (default: a random UUID from crypto/rand).
func WithIDGenerator(f func() (string, error)) Option {
	return optionFunc(func(b *Backend) { b.newID = f })
}

// WithVersion sets the offsetctl version recorded as the state's writer and
// in lock information.
func WithVersion(v string) Option { return optionFunc(func(b *Backend) { b.version = v }) }

// WithEncryption seals the state file, the previous version kept beside it
// and each journal record with keys (see state.Keyring); a state stored in
// the clear is then refused, unless keys accept plaintext.
func WithEncryption(keys *state.Keyring) Option {
	return optionFunc(func(b *Backend) { b.keys = keys })
}

// New returns a Backend for the state file at path. Nothing is touched until
// a method is called.
func New(path string, opts ...Option) *Backend {
	b := &Backend{
		path:  path,
		now:   time.Now,
		newID: func() (string, error) { return state.NewID(rand.Reader) },
		pid:   os.Getpid(),
	}
	for _, o := range opts {
		o.apply(b)
	}
	return b
}

// Path returns the state file's path.
func (b *Backend) Path() string { return b.path }

// BackupPath returns where the previous version of the state is kept.
func (b *Backend) BackupPath() string { return b.path + ".backup" }

// JournalPath returns the path of the state's journal: the writes appended
// since the state file was last written whole.
func (b *Backend) JournalPath() string { return b.path + ".journal" }

// LockPath returns the lock side file's path.
func (b *Backend) LockPath() string { return b.path + ".lock" }

// Read reads and decodes the state file, and replays its journal.
func (b *Backend) Read(ctx context.Context) (*state.State, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	s, w, err := b.read()
	if err == nil {
		b.written = w
	}
	return s, err
}

// read reads the state file and replays its journal. b.mu is held.
func (b *Backend) read() (*state.State, *writtenFile, error) {
	for attempt := 0; ; attempt++ {
		s, w, err := b.readOnce()
		// A journal newer than the state file read: the journal was
		// compacted into a new state file between the two reads.
		if errors.Is(err, state.ErrJournalAhead) && attempt < 3 {
			continue
		}
		return s, w, err
	}
}

func (b *Backend) readOnce() (*state.State, *writtenFile, error) {
	data, info, err := readFile(b.path)
	if errors.Is(err, fs.ErrNotExist) {
		if _, jerr := os.Stat(b.JournalPath()); jerr == nil {
			return nil, nil, fmt.Errorf("reading state %s: the file is missing, but its journal %s is there, and a journal only makes sense on top of the state file it was written after: put that state file back (%s is the version before it was last written whole), or move the journal away to start over", b.path, b.JournalPath(), b.BackupPath())
		}
		return nil, nil, fmt.Errorf("reading state %s: %w", b.path, state.ErrNoState)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("reading state: %w", err)
	}
	s, err := state.DecodeSealed(data, b.keys)
	if err != nil {
		if errors.Is(err, state.ErrUnreadable) {
			if _, statErr := os.Stat(b.BackupPath()); statErr == nil {
				return nil, nil, fmt.Errorf("reading state %s: %w; the previous version is kept at %s: inspect it (offsetctl state show --state %s) and, if it is right, copy it over the damaged file", b.path, err, b.BackupPath(), b.BackupPath())
			}
		}
		return nil, nil, fmt.Errorf("reading state %s: %w", b.path, err)
	}
	jdata, jinfo, err := readFile(b.JournalPath())
	if errors.Is(err, fs.ErrNotExist) {
		return s, &writtenFile{info: info, state: state.Snapshot(s), appendable: true}, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("reading state %s: its journal: %w", b.path, err)
	}
	jdata, err = b.keys.OpenJournal(jdata)
	if err != nil {
		return nil, nil, fmt.Errorf("reading state %s: its journal %s: %w", b.path, b.JournalPath(), err)
	}
	whole, used, err := state.ReplayJournal(s, jdata)
	if errors.Is(err, state.ErrUnreadable) {
		return nil, nil, fmt.Errorf("reading state %s: its journal %s: %w; the state file alone is serial %d, without the changes journalled since: to go on from it (losing them), move the journal away", b.path, b.JournalPath(), err, s.Serial)
	}
	if errors.Is(err, state.ErrJournalAhead) {
		return nil, nil, fmt.Errorf("reading state %s: its journal %s: %w (was the state file replaced by an older one?): put back the state file the journal follows, or move the journal away to go on from this state file (losing what the journal holds)", b.path, b.JournalPath(), err)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("reading state %s: its journal %s: %w", b.path, b.JournalPath(), err)
	}
	return whole, &writtenFile{info: info, journal: jinfo, state: state.Snapshot(whole), appendable: used == len(jdata)}, nil
}

// readFile reads the file at path with the information of the version read.
func readFile(path string) ([]byte, os.FileInfo, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	// The journal may grow meanwhile: read what the information describes.
	data := make([]byte, fi.Size())
	if _, err := io.ReadFull(f, data); err != nil {
		return nil, nil, err
	}
	return data, fi, nil
}

// Write stores s under the lock lockID (see state.Backend).
func (b *Backend) Write(ctx context.Context, s *state.State, lockID string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.checkHeld(ctx, lockID); err != nil {
		return fmt.Errorf("writing state %s: %w", b.path, err)
	}
	lineage, serial, exists := "", uint64(0), true
	cur := b.written
	if !cur.unchanged(b.path, b.JournalPath()) {
		var err error
		_, cur, err = b.read()
		switch {
		case errors.Is(err, state.ErrNoState):
			exists = false
		case err != nil:
			return fmt.Errorf("refusing to overwrite the stored state: %w", err)
		}
	}
	if exists {
		lineage, serial = cur.state.Lineage(), cur.state.Serial()
	}
	switch {
	case !exists && s.Serial != 0:
		return fmt.Errorf("writing state %s: %w: it was read at serial %d, but no state file exists now (was it moved or deleted?)", b.path, state.ErrSerialMismatch, s.Serial)
	case exists && lineage != s.Lineage:
		return fmt.Errorf("writing state %s: %w: the stored state has lineage %s, this one %s (is --state pointing at the state of another configuration?)", b.path, state.ErrLineageMismatch, lineage, s.Lineage)
	case exists && serial != s.Serial:
		return fmt.Errorf("writing state %s: %w: it was read at serial %d, but serial %d is stored now (someone wrote it in between; read it again)", b.path, state.ErrSerialMismatch, s.Serial, serial)
	}
	next := *s
	next.Serial = s.Serial + 1
	b.written = nil
	if exists && cur.appendable && (cur.journal == nil || cur.journal.Size() <= max(maxJournal, cur.info.Size())) {
		rec, w, ok, err := state.AppendRecord(cur.state, &next, b.version)
		if err != nil {
			return fmt.Errorf("writing state %s: %w", b.path, err)
		}
		if ok {
			if rec, err = b.keys.SealRecord(rec); err != nil {
				return fmt.Errorf("writing state %s: %w", b.path, err)
			}
			ji, err := b.appendJournal(rec, cur.journal == nil)
			if err != nil {
				return fmt.Errorf("writing state %s: appending to its journal %s: %w", b.path, b.JournalPath(), err)
			}
			b.written = &writtenFile{info: cur.info, journal: ji, state: w, appendable: true}
			s.Serial, s.OffsetctlVersion = next.Serial, b.version
			return nil
		}
	}
	if err := b.writeWhole(&next, exists); err != nil {
		return err
	}
	s.Serial, s.OffsetctlVersion = next.Serial, b.version
	return nil
}

// writeWhole writes s as the state file, keeping the previous one when
// there is one, and removes the journal, which the file now includes. b.mu
// is held.
func (b *Backend) writeWhole(s *state.State, exists bool) error {
	data, err := state.EncodeSealed(s, b.version, b.keys)
	if err != nil {
		return fmt.Errorf("writing state %s: %w", b.path, err)
	}
	b.written = nil
	if exists {
		if err := b.keepPrevious(); err != nil {
			return fmt.Errorf("keeping the previous state as %s: %w", b.BackupPath(), err)
		}
	}
	if err := b.writeAtomic(b.path, data); err != nil {
		return fmt.Errorf("writing state %s: %w", b.path, err)
	}
	// The journal is stale now (its records are based on serials below the
	// file's, and reads ignore it); removing it is tidying.
	if err := os.Remove(b.JournalPath()); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil // written; the next write tries again
	}
	if err := syncDir(filepath.Dir(b.path)); err != nil {
		return nil
	}
	if fi, err := os.Stat(b.path); err == nil {
		b.written = &writtenFile{info: fi, state: state.Snapshot(s), appendable: true}
	}
	return nil
}

// appendJournal appends rec to the journal, creating it when create is set,
// and syncs it. b.mu is held.
func (b *Backend) appendJournal(rec []byte, create bool) (fi os.FileInfo, err error) {
	flags := os.O_WRONLY | os.O_APPEND
	if create {
		flags |= os.O_CREATE | os.O_EXCL
	}
	f, err := os.OpenFile(b.JournalPath(), flags, 0o600)
	if err != nil {
		return nil, err
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = cerr
		}
	}()
	if _, err := f.Write(rec); err != nil {
		return nil, err
	}
	if b.afterJournalWrite != nil {
		if err := b.afterJournalWrite(b.JournalPath()); err != nil {
			return nil, err
		}
	}
	if err := f.Sync(); err != nil {
		return nil, err
	}
	if create {
		if err := syncDir(filepath.Dir(b.path)); err != nil {
			return nil, err
		}
	}
	return f.Stat()
}

// compact writes the state, journal included, whole to the state file and
// removes the journal. b.mu is held, and the lock.
func (b *Backend) compact() error {
	if _, err := os.Stat(b.JournalPath()); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	// What this Backend last read or wrote is what the files hold, unless
	// they changed since.
	if w := b.written; w.unchanged(b.path, b.JournalPath()) {
		return b.writeWhole(w.state.State(), true)
	}
	s, _, err := b.read()
	if err != nil {
		return err
	}
	return b.writeWhole(s, true)
}

// checkHeld verifies that this Backend holds the lock lockID. b.mu is held.
func (b *Backend) checkHeld(ctx context.Context, lockID string) error {
	if b.held != nil {
		if b.held.info.ID == lockID {
			return nil
		}
		info := b.held.info
		return &state.LockError{Holder: &info, Err: state.ErrWrongLockID}
	}
	holder, err := b.lockHolder(ctx)
	if err != nil {
		return err
	}
	if holder != nil {
		if holder.ID == lockID {
			return &state.LockError{Holder: holder, Err: errors.New("the lock is held through another handle or process, not this one")}
		}
		return &state.LockError{Holder: holder, Err: state.ErrLocked}
	}
	return fmt.Errorf("%w: lock it before writing", state.ErrNotLocked)
}

// keepPrevious makes the state file's current version the backup: a second
// name for the same file (a hard link, put in place by a rename), which the
// write that follows replaces under the state's name only. Where links are
// not supported it copies the file.
func (b *Backend) keepPrevious() error {
	dir, base := filepath.Split(b.BackupPath())
	if dir == "" {
		dir = "."
	}
	tmp := filepath.Join(dir, "."+base+".tmp-link")
	_ = os.Remove(tmp)
	if err := os.Link(b.path, tmp); err != nil {
		data, err := os.ReadFile(b.path)
		if err != nil {
			return err
		}
		return b.writeAtomic(b.BackupPath(), data)
	}
	if err := os.Rename(tmp, b.BackupPath()); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return nil // the directory is synced by the write of the new version
}

// writeAtomic replaces path with data: temporary file in the same
// directory, fsync, rename, fsync of the directory.
func (b *Backend) writeAtomic(path string, data []byte) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err != nil {
		return err
	}
	if b.afterTempWrite != nil {
		if err = b.afterTempWrite(tmp); err != nil {
			return err
		}
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, errors.ErrUnsupported) {
		return fmt.Errorf("syncing directory %s: %w", dir, err)
	}
	return nil
}

// Lock takes the lock, waiting until ctx is done (see state.Locker).
func (b *Backend) Lock(ctx context.Context, info state.LockInfo) (string, error) {
	if info.ID == "" {
		id, err := b.newID()
		if err != nil {
			return "", fmt.Errorf("locking state: %w", err)
		}
		info.ID = id
	}
	if info.Created.IsZero() {
		info.Created = b.now()
	}
	info.Created = info.Created.UTC()
	if info.Path == "" {
		info.Path = b.path
	}
	if info.PID == 0 {
		info.PID = b.pid
	}
	if info.Version == "" {
		info.Version = b.version
	}
	f, err := os.OpenFile(b.LockPath(), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return "", fmt.Errorf("locking state: opening the lock file: %w", err)
	}
	delay := 10 * time.Millisecond
	for {
		ok, err := tryLock(f, true)
		if err != nil {
			f.Close()
			return "", fmt.Errorf("locking state: %s: %w", b.LockPath(), err)
		}
		if ok {
			break
		}
		timer := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			timer.Stop()
			f.Close()
			if errors.Is(ctx.Err(), context.Canceled) {
				return "", fmt.Errorf("waiting for the state lock: %w", ctx.Err())
			}
			holder, _ := b.LockHolder(context.WithoutCancel(ctx))
			le := &state.LockError{Holder: holder, Err: state.ErrLocked}
			if holder != nil && holder.PID != 0 {
				// A local lock ends with its holder's process: force-unlock
				// is not the way out of it.
				le.Hint = fmt.Sprintf("wait for it to finish (-lock-timeout), or if it is stuck stop process %d on %s: the lock ends with it", holder.PID, hostOr(holder.Host))
			}
			return "", le
		case <-timer.C:
		}
		delay = min(delay*2, 500*time.Millisecond)
	}
	if err := writeInfo(f, &info); err != nil {
		unlockFile(f)
		f.Close()
		return "", fmt.Errorf("locking state: writing the lock information to %s: %w", b.LockPath(), err)
	}
	b.mu.Lock()
	b.held = &heldLock{f: f, info: info}
	b.mu.Unlock()
	return info.ID, nil
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
		return state.RefuseUnlock(b.path, holder, id, "process or handle")
	}
	if b.held.info.ID != id {
		info := b.held.info
		return fmt.Errorf("unlocking state: %w", &state.LockError{Holder: &info, Err: state.ErrWrongLockID})
	}
	// The journal goes into the state file before the lock is released:
	// the state is one file again for whoever reads or copies it next.
	var cerr error
	if err := b.compact(); err != nil {
		cerr = fmt.Errorf("folding the journal %s into the state file (the state is whole and readable as it is, with the journal; the next write tries again): %w", b.JournalPath(), err)
	}
	return errors.Join(cerr, b.release(true))
}

// release gives up the held lock; clear empties the lock information first.
// b.mu is held.
func (b *Backend) release(clear bool) error {
	h := b.held
	b.held = nil
	var errs []error
	if clear {
		if err := h.f.Truncate(0); err != nil {
			errs = append(errs, fmt.Errorf("clearing the lock information: %w", err))
		}
	}
	if err := unlockFile(h.f); err != nil {
		errs = append(errs, err)
	}
	if err := h.f.Close(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("unlocking state %s: %w", b.path, err)
	}
	return nil
}

// ForceUnlock releases the lock id as far as a local lock allows: see the
// package documentation.
func (b *Backend) ForceUnlock(ctx context.Context, id string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.held != nil {
		if b.held.info.ID != id {
			info := b.held.info
			return fmt.Errorf("force-unlocking state: %w", &state.LockError{Holder: &info, Err: state.ErrWrongLockID})
		}
		return b.release(true)
	}
	f, err := os.OpenFile(b.LockPath(), os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("force-unlocking state %s: %w", b.path, state.ErrNotLocked)
	}
	if err != nil {
		return fmt.Errorf("force-unlocking state: %w", err)
	}
	defer f.Close()
	free, err := tryLock(f, true)
	if err != nil {
		return fmt.Errorf("force-unlocking state: %w", err)
	}
	info, _ := readInfo(f)
	if !free {
		if info == nil || info.ID != id {
			return fmt.Errorf("force-unlocking state: %w", &state.LockError{Holder: info, Err: state.ErrWrongLockID})
		}
		return fmt.Errorf("force-unlocking state: %w", &state.LockError{Holder: info, Err: ErrLiveHolder,
			Hint: fmt.Sprintf("a local lock is released by the operating system when its holder exits, and only then: stop process %d on %s, and the lock goes with it", info.PID, hostOr(info.Host))})
	}
	defer unlockFile(f)
	if info == nil {
		return fmt.Errorf("force-unlocking state %s: %w", b.path, state.ErrNotLocked)
	}
	if info.ID != id {
		return fmt.Errorf("force-unlocking state %s: %w: the lock information left behind names %s, a holder that has exited, so the state is not locked", b.path, state.ErrWrongLockID, info)
	}
	if err := f.Truncate(0); err != nil {
		return fmt.Errorf("force-unlocking state: clearing the lock information: %w", err)
	}
	return nil
}

func hostOr(h string) string {
	if h == "" {
		return "its host"
	}
	return h
}

// LockHolder returns the holder of the lock, or nil when nobody holds it
// (leftover information of a holder that died is not a lock). When the lock
// is held but its information cannot be read, the LockInfo returned has
// only Path set.
func (b *Backend) LockHolder(ctx context.Context) (*state.LockInfo, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.lockHolder(ctx)
}

// lockHolder is LockHolder with b.mu held (or not needed).
func (b *Backend) lockHolder(ctx context.Context) (*state.LockInfo, error) {
	if b.held != nil {
		info := b.held.info
		return &info, nil
	}
	f, err := os.Open(b.LockPath())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the state lock: %w", err)
	}
	defer f.Close()
	// The holder writes its information just after taking the lock: retry a
	// few times before calling it unreadable.
	for attempt := 0; ; attempt++ {
		free, err := tryLock(f, false)
		if err != nil {
			return nil, fmt.Errorf("reading the state lock: %w", err)
		}
		if free {
			unlockFile(f)
			return nil, nil
		}
		info, err := readInfo(f)
		if err == nil && info != nil {
			return info, nil
		}
		if attempt == 5 || ctx.Err() != nil {
			return &state.LockInfo{Path: b.path}, nil
		}
		time.Sleep(time.Duration(attempt+1) * 5 * time.Millisecond)
	}
}

// Close releases a lock still held, as if the process had exited: the lock
// information is left behind.
func (b *Backend) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.held == nil {
		return nil
	}
	return b.release(false)
}

// lockInfoV1 is format_version 1 of the lock side file's content. It is read
// leniently (unknown fields ignored): it is information for the operator,
// and the flock, not this file, is the lock.
type lockInfoV1 struct {
	FormatVersion int    `json:"format_version"`
	ID            string `json:"id"`
	Operation     string `json:"operation,omitempty"`
	Who           string `json:"who,omitempty"`
	Host          string `json:"host,omitempty"`
	PID           int    `json:"pid,omitempty"`
	Version       string `json:"version,omitempty"`
	Created       string `json:"created,omitempty"`
	Path          string `json:"path,omitempty"`
}

func writeInfo(f *os.File, info *state.LockInfo) error {
	w := lockInfoV1{
		FormatVersion: 1, ID: info.ID, Operation: info.Operation, Who: info.Who, Host: info.Host,
		PID: info.PID, Version: info.Version, Created: info.Created.UTC().Format(time.RFC3339Nano), Path: info.Path,
	}
	data, err := json.MarshalIndent(w, "", "  ")
	if err != nil {
		return err
	}
	data = append(data, '\n')
	if err := f.Truncate(0); err != nil {
		return err
	}
	if _, err := f.WriteAt(data, 0); err != nil {
		return err
	}
	return f.Sync()
}

// readInfo reads the lock information; nil without error when the file is
// empty (nobody left information).
func readInfo(f *os.File) (*state.LockInfo, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() == 0 {
		return nil, nil
	}
	data := make([]byte, st.Size())
	n, err := f.ReadAt(data, 0)
	if n < len(data) {
		return nil, fmt.Errorf("reading the lock information: %w", err)
	}
	var w lockInfoV1
	if err := json.Unmarshal(data, &w); err != nil {
		return nil, fmt.Errorf("reading the lock information: %w", err)
	}
	if w.ID == "" {
		return nil, errors.New("reading the lock information: it has no id")
	}
	info := &state.LockInfo{ID: w.ID, Operation: w.Operation, Who: w.Who, Host: w.Host, PID: w.PID, Version: w.Version, Path: w.Path}
	if t, err := time.Parse(time.RFC3339Nano, w.Created); err == nil {
		info.Created = t
	}
	return info, nil
}

// Rekey writes the state again, under the lock lockID, sealed with the
// current key of the Backend's keyring: the state file (its journal folded
// in, at the same serial: nothing in it changes) and the previous version
// kept as .backup. The Backend must have been made WithEncryption with a
// keyring that opens what is stored (its previous keys, or plaintext for a
// state stored in the clear). It returns the serial written.
func (b *Backend) Rekey(ctx context.Context, lockID string) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if b.keys == nil {
		return 0, errors.New("re-encrypting the state: no key is configured")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.checkHeld(ctx, lockID); err != nil {
		return 0, fmt.Errorf("re-encrypting state %s: %w", b.path, err)
	}
	s, _, err := b.read()
	if err != nil {
		return 0, err
	}
	b.written = nil
	if prev, err := os.ReadFile(b.BackupPath()); err == nil {
		plain, err := b.keys.Open(prev, "previous version of the state ("+b.BackupPath()+")")
		if err != nil {
			return 0, fmt.Errorf("re-encrypting state %s: %w", b.path, err)
		}
		sealed, err := b.keys.Seal(plain)
		if err != nil {
			return 0, err
		}
		if err := b.writeAtomic(b.BackupPath(), sealed); err != nil {
			return 0, fmt.Errorf("re-encrypting %s: %w", b.BackupPath(), err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Errorf("re-encrypting state %s: %w", b.path, err)
	}
	data, err := state.EncodeSealed(s, b.version, b.keys)
	if err != nil {
		return 0, fmt.Errorf("re-encrypting state %s: %w", b.path, err)
	}
	if err := b.writeAtomic(b.path, data); err != nil {
		return 0, fmt.Errorf("re-encrypting state %s: %w", b.path, err)
	}
	if err := os.Remove(b.JournalPath()); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Errorf("re-encrypting state %s: removing its journal, now folded in: %w", b.path, err)
	}
	if err := syncDir(filepath.Dir(b.path)); err != nil {
		return 0, err
	}
	return s.Serial, nil
}

// KeyID is the ID of the key the state is sealed with, "" when it is stored
// in the clear.
func (b *Backend) KeyID() string {
	if b.keys == nil {
		return ""
	}
	return b.keys.KeyID()
}
