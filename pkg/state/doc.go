// Package state is offsetctl's record of what it changed: the state document,
// its file format, and the interfaces of the backends that store and lock it.
//
// The state is the journal of one lineage of operations (a lineage is one
// state's identity, a random UUID given when it is first written). Every
// write bumps its Serial by one. Each Operation records an applied offsets or
// reconcile block, a rollback or a restore: who ran it, when, why, the plan it
// executed (by hash), the steps it took with their results, and the
// before-images it actually overwrote — the exact offsets and rows that a
// rollback puts back. Backups holds the offset backups taken before each
// change, each with a checksum of its content.
//
// The package keeps three things apart:
//
//   - the model (State, Operation, Image, Backup) and its queries (Applied,
//     BySerial, ByName, Last, Unfinished), which know nothing of files;
//   - the file format (Encode, Decode): pretty, deterministic JSON with an
//     integer format_version, decoded strictly through unexported wire
//     structs; a newer format, an unknown field, a truncated file or a
//     backup whose checksum does not match is refused, never guessed at.
//     Format 2 records what a repair wrote as the xmin (transaction id) of
//     each row version, where format 1 recorded whole rows; format 1 files
//     are read as they are and written as format 2. The journal format
//     (AppendRecord, ReplayJournal) records a write as what it added to the
//     state before it, for backends that append rather than rewrite;
//   - storage and locking (Backend, Locker), implemented by
//     pkg/state/local (a file beside the configuration, locked with flock on a
//     side file) and, later, pkg/state/pgstate. Every backend passes the
//     conformance suite in pkg/state/statetest.
//
// Contract. A caller that changes anything locks first (Lock, honouring its
// context's deadline as the lock timeout), reads, changes the State in
// memory, and writes with the lock's ID. Write refuses a lock it does not
// hold, a different lineage (ErrLineageMismatch) and a State whose Serial is
// not the serial currently stored (ErrSerialMismatch: someone wrote in
// between); on success it stores Serial+1 and sets s.Serial to it. A crash
// during apply must leave a trace: apply writes its Operation with status
// in_progress and the before-images BEFORE touching anything, and updates it
// after each step, so a later apply or rollback finds it with Unfinished.
//
// Offsets and rows are kept as raw JSON bytes (json.RawMessage), exactly as
// pkg/offsets marshals them, and source offset keys as their raw bytes: this
// package imports no client package and never reinterprets an offset.
//
// Non-goals: the package does not decide what to change or undo (pkg/plan and
// pkg/apply do), never prints, and keeps no global state: clocks, IDs and
// host names are given by the caller.
package state
