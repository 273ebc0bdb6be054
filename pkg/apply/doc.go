// Package apply executes a saved (or freshly made) offsetctl plan against the
// live world, safely, and records what it did in the state.
//
// # Contract
//
// [Applier.Apply] is given a *plan.Plan, the configuration it was made from,
// and the ID of a state lock the caller already holds (the caller locks with
// state.Backend.Lock, honouring -lock-timeout, so that plan, review and apply
// of a configuration happen under one lock). Before anything is written it
// checks, and refuses with a sentinel error the CLI can word:
//
//   - the plan's content against its hash (plan.ErrHashMismatch);
//   - the configuration's hash against the one the plan was made from
//     (ErrConfigChanged);
//   - the state's lineage and serial against the plan's (ErrWrongState,
//     ErrStateMoved, or ErrAlreadyApplied when every operation the plan
//     changes was applied since it was made); an earlier, interrupted
//     attempt of the same plan is the one exception, see below;
//   - Options.CheckPlan, with the state read: the apply command computes a
//     saved plan's operations again from the configuration there and
//     refuses one that is not what the configuration makes of the plan's
//     observations (plan.ErrNotFromConfig);
//   - unfinished operations in the state (ErrUnfinished), error checks in
//     the plan (ErrBlocked), and worker versions too old to stop a
//     connector when the plan does not delete and re-create it
//     (ErrUnsupported);
//   - then it re-observes every connector it will touch and refuses a stale
//     plan (ErrStalePlan, a *StaleError listing what moved): a connector's
//     state, its configuration, or any observed offset that changed.
//
// Then, per operation (one connector each), in plan order:
//
//  1. journal: a state operation with status in_progress, the connector's
//     state and the before-images of every partition the plan changes is
//     written BEFORE the first change;
//  2. stop: PUT /stop, then wait until the connector is STOPPED with no tasks;
//  3. settle: wait the task shutdown grace period
//     (task.shutdown.graceful.timeout.ms, Options.GracePeriod), check that a
//     sink's consumer group has no members, and read the offsets twice across
//     the grace period: a change means a task still writes (a zombie), and
//     offsets that differ from the journal mean the plan is stale — both
//     refuse;
//  4. alter: PATCH /offsets (Kafka Connect 3.6+), or on 3.5 the offsets
//     topic writer (sources) or consumer-group commits (sinks);
//  5. verify: read the offsets back and compare them exactly with the plan;
//  6. restore-state: return the connector to the state it was found in, and
//     wait for its tasks to run;
//  7. record: mark the operation applied.
//
// # Workers older than 3.5: delete and re-create
//
// A worker older than Kafka Connect 3.5 has no PUT /stop (pause leaves the
// tasks running, and they commit offsets on their way down), so the only
// safe way is the runbook's: delete the connector, whose offsets stay in
// the offsets topic or its consumer group, write them, re-create it. An
// offsets block asks for it with acknowledge = ["delete_recreate"]; the plan
// then carries the operation's halt "delete_recreate" (shown as "-/+
// connector … DELETED, then RE-CREATED", with a warning check), and without
// it the plan refuses the operation, naming the acknowledgement. The steps
// are those above, two of them replaced:
//
//  1. journal also reads the connector's exact configuration
//     (GET /connectors/{name}/config), refuses one that differs from the
//     plan's observation, and records it in the state with the halt
//     (state.Connector.SavedConfig, format_version 5), written before the
//     delete;
//  2. delete: DELETE /connectors/{name}, then wait until the worker no
//     longer lists it; settle (3) then waits for its tasks to finish, checks
//     a sink's group is empty and reads the offsets twice, as above; alter
//     (4) writes the offsets topic (sources) or commits to the group
//     (sinks), Java-exactly, and verify (5) reads them back there (such
//     workers have no GET /offsets);
//  6. recreate: POST /connectors with the saved configuration, then wait
//     until its tasks run and watch them, as a resume. The re-created tasks
//     read their offsets from where alter wrote them.
//
// record (7) drops the saved configuration (it can hold secrets) once the
// connector exists again. A failure rolls back the same way (delete if it
// exists, write the before-images, re-create), and a connector that cannot
// be re-created is a failure that keeps the saved configuration. A run killed
// after the delete leaves the configuration in the state: the next apply of
// the same plan re-creates the connector from it whatever it finds (applied:
// recorded as applied; not or partly applied: the before-images put back,
// then the plan applied again), and a rollback plan ([plan.RollbackPlan])
// of a delete_recreate operation deletes and re-creates the same way (a
// rollback cannot be planned while the connector is missing: it says to
// apply the plan again). A PAUSED connector is refused (re-created, it
// would run before it could be paused again); a FAILED one comes back
// running, with a warning.
//
// The state is written when the journal is made, before offsets are
// written (the intent) and after (the result), before the connector is
// returned to its state (after which it may consume and move the offsets on),
// and with the final status; the other steps are recorded with the next
// write. A later run does not trust the journal's last step for how far an
// operation got: it reads the live offsets.
//
// Former states: RUNNING (and UNASSIGNED/RESTARTING, whose target state is
// started) is resumed and waited for until every task runs, then watched for
// Options.RunningWatch in case a task fails on its new offsets. PAUSED is
// paused straight from STOPPED and never resumed, so no task consumes in
// between (an operator who paused a connector holds its replay until they
// resume it; a bad offset shows then, not during apply): the restore-state
// step says so. STOPPED is left STOPPED. FAILED is left STOPPED, with a
// Warning: resume it when the cause is fixed.
//
// # Failure and rollback
//
// When a step fails, apply puts the before-images back (stopping the connector
// again if it had been resumed), verifies them, returns the connector to its
// former state and records the operation as failed — or as needs_rollback when
// putting the before-images back failed too — and returns an *OperationError
// that tells the story. Operations earlier in the plan stay applied; later
// ones are not attempted. With Options.Parallel > 1, that many connectors
// are worked on at a time (one connector's operations always in plan
// order); after a failure no new operation starts, and those in flight
// finish or roll back.
//
// Rollback is the same path: [plan.RollbackCandidate] picks the operation
// (the last unfinished one, else the last applied or incomplete one that is
// not itself a rollback), [plan.RollbackPlan] builds a plan of kind rollback
// (address rollback.N) that sets the before-images, and Apply executes it
// with every check above; on success the undone operation is marked
// rolled_back. [plan.RestorePlan] builds the same kind of plan from an
// offsets backup file. Apply plans nothing itself: a saved rollback or
// restore plan is computed again by [plan.Planner.VerifyBuilt], which the command
// passes in as Options.CheckPlan.
//
// # Incomplete repairs
//
// A repair whose repaired keys converged while the whole-table checksums
// still differ (planned rows that moved since the plan and were left alone
// as stale, extra rows kept, drift outside the plan) is not a failure and
// is not rolled back, but it is not verified either: the tables are compared
// again row by row, the RepairReport carries what still differs (counts and
// keys) and the operation is recorded as incomplete. Apply goes on with the
// next operation and returns no error; [Result.Incomplete] lists such
// operations.
//
// A process that dies mid-apply leaves an in_progress operation. The next
// Apply of the same plan settles it from its live offsets (recover.go):
// found applied, it is recorded as applied, its connector returned to its
// former state, and it is not applied again (a rewind would replay twice);
// found not applied or partly applied, its before-images are put back, its
// connector returned, it is recorded as failed with the story, and the plan
// is applied again; found moved by someone else, Apply refuses. Apply of any
// other plan refuses until `offsetctl rollback` (a plan from [plan.RollbackPlan]
// applied through the same path) has undone it. Options.Hook lets tests stop
// the run after any step, abandoning everything the way kill -9 would.
//
// # Repairs
//
// A reconcile operation (repair.go) runs journal → repair → verify → record.
// repair = "upsert" writes the sink through reconcile.Repair in bounded
// batches (on two sink connections when the pool allows), journaling each
// touched row's before-image before its batch commits and, after, the xmin
// of each row version written; "snapshot_signal" inserts Debezium execute-snapshot signals and
// waits for the rows to arrive; "none" only verifies. Verification compares
// the repaired keys and the whole-table checksums again; a repair that does
// not converge fails and names the keys, and rows already written are put
// back. Rollback restores the before-images, refusing rows written since
// (another xmin) and deleted rows that are back.
//
// # What apply never does
//
// It never prints: it reports typed [Event]s to an [Observer], and the CLI
// renders them. It never writes offsets while a task can still run: on a
// worker without PUT /stop (older than 3.5) it deletes the connector first
// when the plan says so, and refuses otherwise. It never deletes a connector
// whose configuration the state does not hold. It keeps no global state.
package apply
