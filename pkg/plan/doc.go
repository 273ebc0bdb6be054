// Package plan observes the live world and computes what offsetctl will do.
// It reads and never writes; pkg/apply executes what it computes.
//
// # What a plan is
//
// A *Plan is a promise about a world that can move. It holds:
//
//   - what was observed (Connectors: per connector its type, state, config
//     hash, worker version, the path its offsets are read and written by,
//     and every offset with the log bounds of sink partitions; Timestamps:
//     the to_timestamp lookups; Restores: what each restore file held for
//     the connectors restored from it; per reconcile operation, the range
//     checksums and the keys and row hashes of the differing rows, never
//     row values);
//   - the operations, in the order apply follows: per offsets block (or
//     rollback, or restore) the changes with their before, after and
//     rollback offsets and the records replayed or skipped; per reconcile
//     block the repair and the rows it touches;
//   - the checks with their verdicts (ok, warning, error: a plan with an
//     error is not applied);
//   - where it came from: the configuration hash, the state lineage and
//     serial it was planned against, the -target addresses, the offsetctl
//     version and time, and a hash over all of it.
//
// # How it is made
//
// observe → compute → checks → file:
//
//  1. Observe (observe.go, reconcile.go): Planner.Plan reads what the
//     selected blocks touch — Kafka Connect's GET endpoints, the offsets
//     topic and consumer groups through the offset store's Reader
//     (pkg/offsets; RESTOffsets adapts a Connect client, read only), log
//     bounds and timestamp lookups, restore files, and for reconcile blocks
//     the source and sink tables (pkg/reconcile). Problems of the world
//     found here (no offsets API, invalid records in the offsets topic) are
//     checks; an error means the world could not be read. Where the
//     offsets topic is read, the config topic is read too, and what Kafka
//     Connect's internal topics say of the connector (an exactly-once
//     worker, its creation, writes after it stopped) is recorded as its
//     Evidence (hazards.go) for the hazard checks.
//  2. Compute (compute.go): Compute is a pure function of the
//     configuration and the Inputs observed: it makes the operations and
//     the checks of what was declared (targets out of range, skips that do
//     not match, codecs refusing an offset, policy). It reads nothing, so
//     the same inputs make the same plan.
//  3. Checks: the checks of observation and computation are the plan's;
//     Plan.HasErrors says whether it may be applied.
//  4. File (file.go): Marshal and WriteFile save deterministic JSON with a
//     format_version and the hash; Read and ReadFile refuse another
//     version, unknown fields and an edited hash. Renderings live in
//     plan/render and are built from the Plan alone.
//
// Plans that are not made from the configuration are made here too:
// RollbackPlan from the state (the before-images of the operations it
// undoes, RollbackCandidate picks them) and RestorePlan from an offsets
// backup file; both observe through an ObserveFunc and assemble a Plan like
// any other.
//
// # Verifying a saved plan
//
// The hash proves a plan file is whole, not that it is what offsetctl
// would make. Before apply writes anything, the command computes a saved
// plan again from what it recorded: Planner.Verify for plans made from the
// configuration (FromConfig), VerifyBuilt for rollback and restore plans
// (from the state the apply read, or the backup file the plan names). Any
// difference is refused with ErrNotFromConfig, naming it. Whether the world
// still looks as observed is apply's staleness check.
//
// The package reads the state document (for rollback plans and for what
// was applied) but none of its backends, never imports apply, and renders
// nothing.
package plan
