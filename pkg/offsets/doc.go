// Package offsets is offsetctl's model of Kafka Connect offsets and their
// stores.
//
// A source connector's position is a set of (partition, offset) pairs, each a
// flat JSON object of primitive values. Map holds one such object exactly as it
// was read: its fields in their original order and its numbers as their
// original literal text, so that 64-bit LSNs, binlog positions and
// transaction ids never pass through float64 and a value written back is
// byte-for-byte the value read.
//
// The offsets topic stores each source partition under a key
// ["<connector name>", {<partition>}] serialised by Connect's JsonConverter
// (Jackson: compact, keys in the Java map's iteration order). EncodeKey builds
// those bytes, Murmur2 and PartitionForKey pick the topic partition exactly as
// the Java producer's default partitioner does. The topic reader keeps the last
// value per raw key bytes, as the worker does; the topic writer reuses existing
// key bytes verbatim and builds new ones the Java way.
//
// Sink connectors keep their position in a consumer group (SinkGroupID, the
// one naming rule: a declared group, else consumer.override.group.id, else
// connect-<name>); the sink store reads and commits it through kadm.
//
// # The offset store
//
// Every command reads and writes a connector's offsets through one API: a
// Location says where they live and by which path (ViaREST, ViaTopic,
// ViaGroup); a Reader reads them by that path or any other (Kafka Connect's
// GET /offsets, parsed once by ParseREST; the offsets topic; the consumer
// group with log bounds), and a Writer, which only apply holds, also writes
// them (PATCH /offsets with a read-back when the outcome is unknown, the
// offsets topic with Java-identical keys, the consumer group) — planning
// gets a Reader only. A Position is one partition's offset as the store
// reads and writes it. The store takes small interfaces (RESTReader,
// RESTWriter) for Kafka Connect and a function for the franz-go client, so
// that this package imports no Kafka Connect client.
//
// Backups, of `offsetctl offsets backup` and of apply's state, have one
// format (MarshalBackup, UnmarshalBackup): versioned, checksummed, exact.
//
// Codecs, one file each and gathered in an explicit Registry, know the offset
// formats of particular connectors (Debezium PostgreSQL, MySQL, SQL Server,
// the Confluent JDBC source, and a generic fallback): they decode offsets for
// display and validate proposed ones.
//
// This package never decides what to change: it reads and writes exactly what
// it is given. It imports no other offsetctl package.
package offsets
