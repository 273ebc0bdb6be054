#!/usr/bin/env bash
# bench/repair.sh — how long offsetctl's repair (reconcile repair = "upsert")
# takes for 10,000 drifted rows (a third missing, a third extra, a third
# changed) in a 1,000,000-row table, beside two hand-written equivalents
# (INSERT ... SELECT, UPDATE ... FROM, DELETE over the same keys, one
# transaction, no before-images): in the same database, and over postgres_fdw
# (the source table as a foreign table, as between two databases).
# offsetctl's time includes what apply does and the hand-written SQL does not:
# the source rows read over a second connection with their row hashes, the
# optimistic row-hash checks, the before-images of every touched row written
# to a file and fsynced per batch before the batch commits, the after-images
# (the xmin of each row version written) for the rollback's check. The verification that apply runs afterwards
# (repaired keys plus whole-table checksums) is printed on its own line.
#
# The tables are built once (about 15 s at 1M rows on 2 cores) in a
# throwaway PostgreSQL cluster; each of REPEAT rounds (default 5) puts the
# sink tables back into their drifted state (vacuumed, analysed, checkpointed)
# and times the three methods, in turns first. The table gives the medians and
# every round's time: the machine is shared, single measurements are noisy.
#
# Environment: ROWS (default 1000000), DRIFT (default 10000), REPEAT
# (default 5), RUNS (default 1: whole runs, each building the tables afresh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
ROWS=${ROWS:-1000000}
DRIFT=${DRIFT:-10000}
REPEAT=${REPEAT:-5}
RUNS=${RUNS:-1}

echo "## Repair: offsetctl vs hand-written SQL ($DRIFT drifted rows of $ROWS)"
echo
cd "$root"
OFFSETCTL_REPAIR_ROWS=$ROWS OFFSETCTL_REPAIR_DRIFT=$DRIFT OFFSETCTL_REPAIR_REPEAT=$REPEAT \
	go run ./internal/tools/withpg -- \
	go test ./pkg/reconcile -run '^$' -bench '^BenchmarkRepair$' -benchtime 1x -count "$RUNS" -timeout 60m |
	grep -v -E '^(goos|goarch|pkg|cpu|PASS|ok|BenchmarkRepair)'
