#!/usr/bin/env bash
# bench/plan.sh — time of `plan` over 100 connectors × 50 partitions on the
# sandbox (issue target: under 5 s on this machine).
set -euo pipefail
cd "$(dirname "$0")/.."
echo "## plan: 100 connectors × 50 partitions on the sandbox"
echo
go test ./pkg/plan/ -run '^$' -bench 'BenchmarkPlan100x50' -benchtime 3x -count 1 2>&1 | grep -E 'Benchmark|plan of' | sed 's/^/    /'
echo
echo "Target: under 5 s per plan."
