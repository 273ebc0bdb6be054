// Package conformance is one suite of Kafka Connect behaviour that offsetctl
// relies on, run against two worlds: the sandbox's emulated worker
// (internal/sandbox) and a real Kafka Connect worker (internal/realstack).
// Both runs make the same requests and the same assertions — status codes,
// message prefixes, status shapes and states, what the offsets endpoints
// read and write, and where the offsets live (offsets topic, consumer
// group) — so a behaviour the emulator gets wrong shows up as a failure of
// the sandbox run while the real run passes.
//
//	func TestSandbox(t *testing.T) {
//		s, _ := sandbox.Start(ctx, sandbox.Options{})
//		conformance.Run(t, conformance.Target{Name: "sandbox", ConnectURL: s.ConnectURL(), ...})
//	}
//
// Every case creates its own uniquely named connectors and topics and
// deletes its connectors when it ends. It uses Kafka's own file connectors
// (org.apache.kafka.connect.file.*), which run harmlessly on a real worker
// (a source reading an empty file, a sink writing to a scratch file) and are
// inert in the emulator, plus Debezium's PostgreSQL source created STOPPED
// and never started when the target can configure one. Every wait polls;
// nothing assumes that a real worker's status follows a request at once.
//
// NOTES.md records where the real worker differs from the reference
// (the shared reference kafka-connect-offsets.md) and from the emulator as
// it was before the fixes this suite brought.
package conformance
