// Package pgstate stores offsetctl's state in PostgreSQL, for teams that
// apply from several machines (CI runners, operators' laptops) and need one
// shared, locked state.
//
// Tables. In a schema of its own (default "offsetctl", created on first
// lock), the table states holds one row per state name: the state document
// exactly as pkg/state encodes it (text, not jsonb, so number literals and
// field order survive), its lineage and current serial, and the previous
// document. The table journal holds, per state name, the writes made since
// the document was last written whole: one row per serial, each a record of
// pkg/state's journal format (the state's metadata and only the images new
// since the serial before). The table locks holds the visible lock row of each state name: id,
// operation, who, host, version, created, and the PostgreSQL backend pid of
// the session that holds the lock.
//
// Locking. The lock itself is a session-level advisory lock, taken on a
// dedicated connection (pgx.Conn, never a pool: an advisory lock belongs to
// the session that took it) which the Backend keeps for as long as it holds
// the lock, and through which it writes. The key is a 64-bit FNV-1a hash of
// "offsetctl state\x00<schema>\x00<name>", so two states never share a key.
// A lock row whose session is gone (the advisory lock is not held) is
// leftover information, not a lock: LockHolder reports nil and the next Lock
// succeeds, as with the local backend.
//
// Force-unlock. Unlike a local file lock, a PostgreSQL lock can be taken from
// a live but stuck holder: ForceUnlock with the right ID terminates the
// holder's session (pg_terminate_backend; it needs the same role, or
// pg_signal_backend), which releases its advisory lock and makes any write it
// still attempts fail, then deletes the lock row.
//
// Write runs in one transaction on the lock's connection: it checks that the
// lock row still carries the caller's lock ID, the stored lineage and serial
// (SELECT … FOR UPDATE), then either inserts a journal row (a write that only
// adds to the state this Backend last read or wrote: a repair's batches of
// row images cost what they add, not the whole state each time) or replaces
// the document, keeping the previous one, and empties the journal. Read
// replays the journal on the document, in one repeatable-read snapshot.
// Unlock folds the journal into the document in one transaction before it
// releases the lock; a holder that dies leaves its rows, which readers
// replay and the next Unlock folds in.
//
// Per-resource locks (LockResources, state.ResourceLocker): an apply of a
// reviewed plan locks only the connectors and reconciled tables it touches,
// so applies of different resources run in parallel against one state; see
// resources.go for the keys, the table resource_locks and how their writes
// merge.
package pgstate
