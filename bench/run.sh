#!/usr/bin/env bash
# bench/run.sh — runs every benchmark script of bench/ in turn (`make bench`).
# Each script prints its results as Markdown on stdout and its progress on
# stderr. One line per benchmark; add yours below.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

bash "$here/reconcile.sh"
bash "$here/reconcile-mariadb.sh"
bash "$here/offsets-topic.sh"
bash "$here/plan.sh"
bash "$here/apply.sh"
bash "$here/repair.sh"
