// Package sandbox is the world offsetctl's demo and tests run against: an
// in-process Kafka (franz-go's kfake, reachable over the real protocol on a
// loopback port) and an emulated Kafka Connect worker serving the real REST
// API over HTTP, plus a small CDC pipeline on PostgreSQL whose offsets mean
// something.
//
// # Starting it
//
//	s, err := sandbox.Start(ctx, sandbox.Options{ConnectVersion: "3.6", Logf: t.Logf})
//	defer s.Close()
//	s.ConnectURL()        // http://127.0.0.1:PORT, the Connect REST API
//	s.BootstrapServers()  // []string{"127.0.0.1:PORT"}
//	s.OffsetsTopic()      // "connect-offsets": compacted, 25 partitions
//
// Start also creates Connect's other internal topics (connect-configs,
// connect-status; compacted). Starting takes a few milliseconds; connectors
// of classes the emulator does not run are inert (no goroutine, no client),
// so a test can create hundreds.
//
// # The emulated worker
//
// Everything goes through HTTP: the emulator is a faithful server for a
// REST client (pkg/connect), not a Go shortcut. It answers as the Kafka
// Connect release named by Options.ConnectVersion ("3.4" to "3.8", default
// 3.8), checked against apache/kafka's ConnectorsResource, herders and
// Worker at those tags:
//
//   - 3.4: no PUT /stop, no /offsets: Jersey's 404 {"error_code":404,
//     "message":"HTTP 404 Not Found"};
//   - 3.5: PUT /stop (STOPPED state) and GET /offsets; PATCH and DELETE
//     /offsets answer Jersey's 405 "HTTP 405 Method Not Allowed";
//   - 3.6: PATCH and DELETE /offsets;
//   - 3.7: initial_state on POST /connectors (before: 500, Jackson's
//     "Unrecognized field \"initial_state\"");
//   - 3.8: PATCH /connectors/{name}/config (before: 405).
//
// Endpoints: GET /, GET/POST /connectors (?expand=status&expand=info),
// GET/DELETE /connectors/{name}, GET/PUT(/PATCH) .../config, .../status,
// .../tasks, .../tasks-config, .../tasks/{id}/status, POST .../restart
// (?includeTasks, ?onlyFailed), POST .../tasks/{id}/restart, PUT .../pause,
// .../resume, .../stop, GET/PATCH/DELETE .../offsets, GET .../topics,
// PUT .../topics/reset, GET /connector-plugins. Status codes and messages are
// the real worker's (201 + absolute Location on create, 202 pause/resume,
// 204 stop/delete/task restart, 404 "Connector X not found" / "Unknown
// connector X" / "No status found for connector X" as each endpoint says it,
// 409 "Connector X already exists", 400 for config errors and for offsets of
// a connector that is not STOPPED, 500 with Jackson's message for malformed
// bodies and Java 17's helpful NullPointerException text for an empty one).
// The answers recorded from a real worker in
// test/realstack/fixtures/rest-answers.json are replayed by
// TestRealWorkerAnswers, and internal/conformance runs one suite against the
// emulator and a real worker.
//
// States: pause keeps the tasks (PAUSED), stop removes them (STOPPED,
// "tasks": []), resume works from either; a connector paused while STOPPED,
// or created PAUSED, has no tasks until it is resumed (task configs are only
// generated for a started connector). A failed task shows FAILED with a
// trace while its connector stays RUNNING, restart follows the includeTasks /
// onlyFailed plan (RESTARTING in the 202 body). Deleting a connector keeps
// its offsets. Status has no lag: it changes when the request returns, and
// PUT /stop returns after the tasks stopped (up to TaskShutdownTimeout).
//
// # Offsets
//
// Source offsets live in the offsets topic exactly as Connect writes them:
// the key is the compact Jackson array ["<connector>",{partition}] with the
// partition in java.util.HashMap order (pkg/offsets.EncodeKey, JavaOrder),
// the value the offset map in HashMap order, integers as written (Java longs;
// larger integers are refused with Connect's 500), other numbers as Java
// Doubles print, and the partition is murmur2(key) % partitions
// (pkg/offsets.PartitionForKey). The worker's view is built like
// KafkaBasedLog: a consumer of every partition from the beginning folds the
// records into a map keyed by raw key bytes (last wins, a tombstone deletes),
// read to the end before GET /offsets answers and before a task starts. So a
// record written straight to the topic (as offsetctl does for workers older
// than 3.6) is honoured when its key bytes are the ones Connect would
// write, and ignored otherwise. PATCH merges (only listed partitions are
// written; "offset": null writes a tombstone), DELETE tombstones every
// partition.
//
// Sink offsets are the consumer group connect-<name> (or
// consumer.override.group.id), read and changed with kadm: PATCH commits (or
// deletes, for null), DELETE deletes the group; while the group has members
// both fail with Connect's 500 about zombie sink tasks.
//
// # Connector plugins
//
//   - io.debezium.connector.postgresql.PostgresConnector (PostgresSourceClass)
//     runs a Debezium-shaped source task: it reads the change table
//     (ChangeTable, filled by a trigger with pg_current_wal_insert_lsn() and
//     txid_current() per changed row) of the database named by database.*
//     after its stored position (lsn_proc, else lsn), writes Debezium change
//     events (JSON without schemas; a tombstone after a delete) to
//     <topic.prefix>.<schema>.<table>, and commits {"lsn_proc","lsn","txId",
//     "ts_usec","messageType"} (plus "lsn_commit" once a transaction before
//     the current one was streamed) under {"server":<topic.prefix>} every
//     offset.flush.interval.ms (a connector key here; a worker setting in
//     Connect) and once when it stops, unless it failed. A rewound offset
//     really replays. With no stored offset, snapshot.mode=initial emits the
//     current rows as read events ("op":"r") and stores Debezium's snapshot
//     offset {"last_snapshot_record","lsn","txId","ts_usec","snapshot":
//     "INITIAL","snapshot_completed"}; no_data starts at the current end; left
//     unset, the task streams the change table from its start (so a reset
//     replays every change). poll.interval.ms sets how often it reads.
//   - io.debezium.connector.jdbc.JdbcSinkConnector (JdbcSinkClass) runs a
//     JDBC-shaped sink task: a kgo consumer in the connector's group that
//     upserts each event's "after" row into table.name.format (${topic}
//     substituted) on primary.key.fields through connection.url
//     (jdbc:postgresql://...) with connection.username/password, deletes on
//     "d" events, commits after every batch, and leaves the group when it
//     stops. A skipped offset is a record that never reaches the table.
//   - Any other class is inert: a source, or a sink when topics or
//     topics.regex is set (a few well-known classes have their real type).
//     Kafka's file and MirrorMaker connectors answer offsets changes with the
//     message of connectors that implement alterOffsets; all others with the
//     "Connect framework-managed offsets" message.
//
// # The pipeline
//
//	p, err := s.StartPipeline(ctx, sandbox.PipelineOptions{SourceDB: srcURL, SinkDB: sinkURL})
//
// creates public.customers(id bigint primary key, email, status, updated_at
// timestamptz), the change table and its trigger in the source database,
// the sink table, the topic shop.public.customers, and the connectors
// customers-source and customers-sink (group connect-customers-sink) through
// the REST API. Helpers: Insert, InsertN, Update, Delete, SourceRows,
// SinkRows, Changes, SourcePosition, WaitSourceCaughtUp, WaitSinkCaughtUp,
// SourceConfig, SinkConfig; Sandbox.ReadTopic reads any topic to its end.
//
// # Faults
//
// s.Faults() switches, per connector name: FailTask, FailConnector,
// SetRebalancing (409 on the requests Connect forwards to the leader, 500 on
// the reads that check for a rebalance, as DistributedHerder does),
// SetZombie (tasks ignore stop: a source keeps committing, a sink keeps its
// group membership), DropEveryNth (a sink skips records but commits them),
// SetUnassigned.
//
// # Differences from a real worker
//
// One worker, always the leader; no config-topic replay, no status lag, no
// per-connector offsets topics or exactly-once support, no connector config
// validation beyond the checks listed in worker.go, no transforms or
// converters, GET /connector-plugins lists connectors only. The source task
// is not logical replication: it reads committed rows of the change table in
// LSN order, so overlapping writer transactions may be streamed out of
// commit order, and rewinds below a replication slot's confirmed position
// (which real PostgreSQL refuses to replay) do replay here.
package sandbox
