// Package realstack starts the real thing as a test peer: a throwaway
// PostgreSQL cluster with logical decoding, a single-node Apache Kafka broker
// (KRaft), a distributed Kafka Connect worker, Debezium's PostgreSQL source on
// a small customers table and Debezium's JDBC sink writing those rows into a
// second database. Start returns once rows flow end to end. A MariaDB
// server for Debezium's MariaDB source is started on first use
// (Stack.MariaDB), by the tests that need one.
//
// The Java artifacts come from test/realstack/fetch.sh (pinned versions in
// test/realstack/pom.xml, fetched once into test/realstack/.cache); the
// broker and worker property templates live beside it. The JVMs are started
// with plain `java -cp <cache>/lib/* ...` invocations, in process groups of
// their own, with small heaps, free loopback ports, and a parent-death signal
// so that nothing outlives a killed test binary.
//
// It is a test helper (and serves offsetctl sandbox up --real). Tests using it
// run whenever Java 17+ and Maven (or a filled cache) are present, and skip
// with one line saying what is missing otherwise; with OFFSETCTL_REALSTACK=1
// or CI=true a missing prerequisite fails them, and OFFSETCTL_REALSTACK=0
// turns them off (see Enabled). A package starts the stack at most once:
//
//	func TestMain(m *testing.M) { realstack.Main(m) }
//
//	func TestSomething(t *testing.T) {
//		st := realstack.Get(t) // skips, fails or returns the shared stack
//		...
//	}
//
// The broker has a second listener, advertised at the address of a fault
// proxy in front of it (Stack.KafkaProxy, internal/faultproxy): a client
// bootstrapped at ProxiedBootstrapServers talks to the broker only through
// the proxy, so a test can stall or cut exactly its Kafka requests while
// the worker, on the plain listener, is left alone.
//
// Stack.StartOldWorker starts a second, older worker on demand: Kafka
// Connect 3.4.1 (no PUT /stop, no /offsets endpoints), pinned in
// test/realstack/connect-3.4/pom.xml and fetched into the cache's
// connect-3.4 folder the first time, as a Connect cluster of its own against
// the same broker, with Kafka's FileStream connectors. Only the tests of
// workers older than 3.5 start it.
//
// Logs of every process are kept, and their paths printed, when a test of the
// package failed or the stack failed to start.
package realstack
