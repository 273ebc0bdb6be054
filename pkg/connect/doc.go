// Package connect is offsetctl's typed client for the Kafka Connect REST API:
// connectors and their configuration, status, pause/resume/stop/restart,
// offsets (GET, PATCH, DELETE, KIP-875), plugins, worker version detection,
// and a helper that waits for a connector to reach a state.
//
// # Main types
//
// [New] builds a [Client] from a [Config] (URL, basic or bearer
// authentication, extra headers, TLS). Every method takes a context first
// and maps to one endpoint: [Client.Offsets], [Client.AlterOffsets],
// [Client.ResetOffsets], [Client.Stop], [Client.Resume], [Client.Status] and
// so on. [Client.Capabilities] reads the worker version (Confluent Platform
// versions such as "7.6.0-ccs" are mapped to Apache Kafka's) and says which
// endpoints exist ([Capabilities.Require]); methods do not check it
// themselves. [Client.WaitForState] polls the status until the connector
// and its tasks show a state.
//
// Offsets are carried as [ConnectorOffset] values whose Partition and
// Offset are [encoding/json.RawMessage]: the bytes Connect sent, never
// decoded here, so 64-bit integers and key order survive. Parsing them is
// the job of package offsets.
//
// # Errors
//
// A non-2xx answer is an [*APIError] with the status and Connect's
// error_code and message (or the start of a non-JSON body); use
// [IsNotFound], [IsConflict], [IsAlreadyExists], [IsBadRequest],
// [IsUnauthorized], [IsRequestTimeout], [IsUnsupportedEndpoint] and
// [IsRetryable]. IsNotFound is true only when Connect itself says the
// connector (task, status) does not exist, never for a missing endpoint on
// an older worker or a 404 page from a proxy. A refused
// connection is an [*UnreachableError]; other transport failures are a
// [*TransportError]; a 2xx body that is not the promised JSON is a
// [*DecodeError]. All wrap with %w, so errors.As works through the context
// each method adds.
//
// # Retries: who retries what
//
// The client retries, up to Config.MaxRetries times with exponential
// backoff from Config.RetryBackoff (capped at [MaxRetryBackoff]), exactly
// two kinds of failure, for every method, because both mean the request was
// not acted upon:
//   - 409 Conflict caused by a rebalance, an unknown leader or a stale
//     configuration (but not 409 "already exists" from create);
//   - a refused connection: nothing was sent.
//
// Retries stop as soon as the context ends. Nothing else is ever retried.
// In particular Connect's "500 Request timed out" (see [IsRequestTimeout])
// and client-side timeouts mean the operation may still complete on the
// worker: the caller must re-read the state (status, offsets) before
// deciding to try again. Config.Timeout bounds each attempt.
//
// # Secrets
//
// Passwords and tokens never appear in output: credentials written in the
// URL (user:password@) are moved to basic authentication and removed from
// the URL; [Config] prints (String, GoString, MarshalJSON) with passwords,
// tokens and header values masked; errors name the base URL without
// credentials and never echo request headers.
//
// # Non-goals
//
// The client does not decode offsets, does not decide when it is safe to
// alter them (that is package plan's and apply's job), and does not read
// Kafka directly.
package connect
