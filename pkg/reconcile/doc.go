// Package reconcile compares a source table with a sink table in PostgreSQL
// (the source may also be MariaDB or MySQL) and finds the rows that drifted:
// missing in the sink, extra in the sink, or present on both sides with
// different content (naming the columns that
// differ).
//
// The main entry point is Compare, which takes one connection per side and a
// Spec (tables, key, column mapping, timestamp precision, filter, mode) and
// returns a *Result: row counts, whole-table checksums, optional per-partition
// checksums, and the keys of the differing rows with their row hashes. Row
// values are returned only when Spec.ShowValues asks for them, because they
// may be personal data.
//
// # How rows are compared
//
// Each row is reduced, inside PostgreSQL, to one canonical text: the record
// text of a row of canonicalised columns (timestamps in UTC at a chosen
// precision, numerics by value, json as jsonb, text as text). Record text
// quotes every field that needs it, so NULL, the empty string and the string
// "NULL" are distinct and field boundaries cannot collide. The row hash is
// hashtextextended of that text, a 64-bit hash PostgreSQL computes cheaply.
//
// Rows are grouped into cells. For a single integer key a cell is a key range
// of equal width between the smallest and the largest key of both sides; for
// other keys (text, uuid, timestamp, composite) a cell is a set of rows with
// the same low bits of a 64-bit key hash. The first pass asks both sides at
// once (two connections, in parallel) for the count and the sum of row hashes
// (modulo 2^64) of every cell: one parallel scan per side, the hashes
// computed by the parallel workers, close to the cost of a plain whole-table
// checksum. Cells that differ are split into finer cells and compared again
// while the rows they hold are many (for key ranges through the key's index,
// reading only those ranges); then the (key, row hash) pairs of the rows in
// the differing cells are streamed in key order from both sides and merged,
// with client memory bounded by the batches in flight and the differences
// kept. When drift is spread over most cells, the whole table is streamed
// once instead of being scanned again. For the mismatched rows, per-column
// hashes of those keys only name the columns that differ.
//
// Client memory is bounded by the batches in flight (cell checksums arrive
// sorted by cell and are merged as they come; so are the streamed keys), the
// ids of the differing cells, and the differences kept (Spec.MaxKeys per
// kind); never by the table size.
//
// # What it promises
//
// Each side runs in one READ ONLY, REPEATABLE READ transaction with
// application_name offsetctl, a statement_timeout and a lock_timeout, so it
// never writes, never blocks writers or DDL for long, and never runs away.
// Identifiers are quoted with pgx; values are bound. The only SQL text an
// operator can add is Spec.Where, which is lexically checked (no ';', no
// comments, no parameters, balanced parentheses and quotes), run only inside
// the read-only transaction, and parse-checked with LIMIT 0 before use.
//
// In-flight changes are not drift: with Spec.Settle, the differing keys are
// checked again in fresh transactions after the delay, and only those still
// different are reported (Result.Settled says how many settled).
//
// Repair (repair.go) writes a planned set of differences into the sink:
// source rows fetched in one read-only snapshot, loaded with COPY into a
// temporary table, and applied in bounded batches that touch only rows whose
// hashes are still the planned ones (others are reported stale), with the
// before-image of every touched row handed to the caller before its batch
// commits and, after, the xmin of every row version it wrote; with a second
// sink connection a batch writes while the one before it still writes or
// commits (batches commit in order; two ready at once have their
// before-images recorded together).
// RestoreRows puts the before-images back (refusing rows written since),
// Verify compares again. signal.go builds
// Debezium execute-snapshot signals for repair = "snapshot_signal".
//
// # A MariaDB or MySQL source
//
// CompareMySQL, RepairMySQL and VerifyMySQL do the same with a MariaDB or
// MySQL source (go-sql-driver/mysql, pkg/mysqlurl; one connection in START
// TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY with max_statement_time)
// and a PostgreSQL sink. The row hash is then computed from one canonical
// text per value that both databases produce for equal data as Debezium's
// JDBC sink writes it (xcanon.go: the type-pair table, tested on both
// servers), framed and hashed with MD5 (SHA-256 for MySQL, whose 9.7 has no
// MD5() by default), whose first 64 bits both engines can compute; pairs without an exact canonical form are refused, naming the
// column. Keys are ordered by value (integers, decimals) or by the UTF-8
// bytes of their canonical text (everything else), never by a collation, so
// the two key streams merge in one order.
//
// Non-goals: comparing tables without a unique, NOT NULL key, and comparing
// values of unrelated types.
package reconcile
