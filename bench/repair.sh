#!/usr/bin/env bash
# bench/repair.sh — how long offsetctl's repair (reconcile repair = "upsert")
# takes for 10,000 drifted rows (a third missing, a third extra, a third
# changed) in a 1,000,000-row table, beside the hand-written equivalent in the
# same database (INSERT ... SELECT, UPDATE ... FROM, DELETE over the same keys,
# one transaction, no before-images). offsetctl's time includes the
# before-images of every touched row, written to a file and fsynced per batch
# before the batch commits (as apply writes them to the state), and the
# optimistic row-hash checks. The verification that apply runs afterwards
# (repaired keys plus whole-table checksums) is printed on its own line.
#
# Each run builds the tables afresh (about 15 s at 1M rows on 2 cores) in a
# throwaway PostgreSQL cluster; RUNS runs (default 3) are printed one after
# the other: the machine is shared, so compare the ratios across runs.
#
# Environment: ROWS (default 1000000), DRIFT (default 10000), RUNS (default 3).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
ROWS=${ROWS:-1000000}
DRIFT=${DRIFT:-10000}
RUNS=${RUNS:-3}

echo "## Repair: offsetctl vs hand-written SQL ($DRIFT drifted rows of $ROWS)"
echo
cd "$root"
OFFSETCTL_REPAIR_ROWS=$ROWS OFFSETCTL_REPAIR_DRIFT=$DRIFT \
	go run ./internal/tools/withpg -- \
	go test ./pkg/reconcile -run '^$' -bench '^BenchmarkRepair$' -benchtime 1x -count "$RUNS" -timeout 60m |
	grep -v -E '^(goos|goarch|pkg|cpu|PASS|ok|BenchmarkRepair)'
