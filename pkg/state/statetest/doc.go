// Package statetest is the conformance suite every state backend passes:
// pkg/state/local runs it on files, pkg/state/pgstate on PostgreSQL.
//
// Run checks, through the state.Backend interface only: read and write round
// trips (before-images and backups byte for byte), serial bumps, refusal of a
// stale serial and of another lineage, writes without the lock or with a
// wrong lock ID, lock and unlock, a second lock refused within its timeout
// with the holder named, unlock with a wrong ID, force-unlock, a holder that
// dies (Close) releasing its lock, concurrent writers and lockers of which
// exactly one proceeds, a failed write leaving the previous state readable,
// and an in-progress journal entry surviving for a later reader.
//
// Backend-specific behaviour (what force-unlock can do to a live holder, how
// a torn write on disk is survived) is tested by each backend itself.
package statetest
