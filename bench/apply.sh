#!/usr/bin/env bash
# bench/apply.sh — apply-and-verify and rollback of 100 connectors on the
# sandbox (issue target: each under 60 s).
#
# bench/apply (a Go program) starts the sandbox (kfake + the Kafka Connect
# emulator) with task.shutdown.graceful.timeout.ms = GRACE, creates N inert
# sink connectors committed on one topic, each with an offsets block
# rewinding one partition; it plans, applies with PARALLELISM connectors at
# a time (stop, wait GRACE, PATCH, read back, resume and watch WATCH), reads
# every offset back, then applies one rollback plan for all N operations and
# reads every offset back again. Markdown on stdout, progress on stderr.
#
# Environment: N (100), PARALLELISM (20), GRACE (5s, Kafka Connect's
# default), WATCH (2s, apply's default).
set -euo pipefail
cd "$(dirname "$0")/.."
go run ./bench/apply -n "${N:-100}" -parallelism "${PARALLELISM:-20}" -grace "${GRACE:-5s}" -watch "${WATCH:-2s}"
