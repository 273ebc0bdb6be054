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
// Sink connectors keep their position in a consumer group (connect-<name> by
// default); the sink store reads and commits it through kadm.
//
// Codecs, one file each and gathered in an explicit Registry, know the offset
// formats of particular connectors (Debezium PostgreSQL, MySQL, SQL Server,
// the Confluent JDBC source, and a generic fallback): they decode offsets for
// display and validate proposed ones.
//
// This package never decides what to change: it reads and writes exactly what
// it is given. It imports no other offsetctl package.
package offsets
