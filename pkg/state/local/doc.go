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
