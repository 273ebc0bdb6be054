// Package local stores offsetctl's state in a file (by default
// offsetctl.state.json beside the configuration) and locks it with an
// operating-system file lock.
//
// Writing. Write encodes the state (pkg/state's format), writes it to a
// temporary file in the same directory, fsyncs it, renames it over the state
// file and fsyncs the directory, so a reader sees the old state or the new
// one, never a mix, and a crash or a full disk mid-write leaves the old state
// in place (at worst with a stray ".offsetctl.state.json.tmp-*" file, which
// is ignored). Before replacing the state it keeps the previous version, the
// same way, at <path>.backup. Files are created with mode 0600: the state
// holds before-images of sink rows.
//
// The journal. A write that only adds to the state last read or written —
// operations begun, steps and statuses recorded, images appended, as apply
// does step after step and a repair batch after batch — is appended instead
// to <path>.journal as one record (pkg/state's journal format: the state's
// metadata and only the new images, with a checksum) and fsynced, so that a
// repair writes each row image once rather than rewriting the whole state
// for every batch. Read replays the journal on the state file; a record cut
// short at its end (an append that never finished, so was never
// acknowledged) is ignored. Unlock folds the journal into the state file
// (written whole as above, then the journal removed), so between operations
// the state is the one file; a writer that dies leaves the journal, which
// the next reader replays and the next Unlock folds in. Any other write (an
// operation removed or an image replaced, a journal over 64 MiB and larger
// than the state file, a journal ending in a torn record) writes the state
// whole and removes the journal. A journal that does not fit its state file
// (damaged before its last record, of another lineage, or without the state
// file) is refused with the way out, never guessed at.
//
// Locking. The lock is flock(2) on a stable side file, <path>.lock, which is
// never removed or renamed (a lock on the state file itself would be lost at
// each rename). While held, the side file holds the lock information as JSON
// (format_version 1: id, operation, who, host, pid, version, created, path).
// Unlock empties it. flock locks belong to an open file, so two Backends on
// one path conflict even inside one process, and the operating system
// releases a lock when its holder exits, however it exits.
//
// What force-unlock can and cannot do here, honestly:
//
//   - A holder that died released its flock with its last breath: the state
//     is NOT locked, whatever its leftover lock information says (LockHolder
//     reports nil, and the next Lock simply succeeds). ForceUnlock with the
//     leftover ID only clears that information.
//   - A holder that is alive (even stuck) keeps its flock, and no other
//     process can take it away. ForceUnlock refuses with ErrLiveHolder and
//     names the process to stop; once it exits, the lock is gone. Removing
//     the side file instead would let a second holder lock a new file while
//     the first still holds the old one — two writers, which is the one thing
//     a lock must prevent.
//   - ForceUnlock on the Backend that holds the lock releases it.
//
// Only Unix-like systems (flock) are supported; elsewhere Lock fails.
package local
