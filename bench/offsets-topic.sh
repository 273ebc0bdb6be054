#!/usr/bin/env bash
# bench/offsets-topic.sh — how fast offsetctl reads a Kafka Connect offsets
# topic, beside kcat reading the same topic in the same run.
#
# bench/offsets (a Go program) starts franz-go's kfake broker on a local TCP
# port, fills connect-offsets (25 partitions) with RECORDS offset records
# (default 1,000,000) over KEYS keys (default 10,000), then reads it RUNS
# times (default 3) with offsetctl's reader (pkg/offsets.ReadTopic, in its
# own process) and with `kcat -C -e`, alternating, and prints the medians of
# wall time, CPU time and peak RSS as Markdown on stdout (progress on
# stderr), with the verdict on the targets: within 1.2x of kcat's time,
# under 200 MiB.
#
# kcat and /usr/bin/time come from Debian's packages, installed when missing
# and when running as root.
#
# Environment: RECORDS, KEYS, RUNS, PORT (0: any free port).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
RECORDS=${RECORDS:-1000000}
KEYS=${KEYS:-10000}
RUNS=${RUNS:-3}
PORT=${PORT:-0}

log() { printf '%s\n' "$*" >&2; }
die() { log "offsets-topic.sh: $*"; exit 1; }

need() { # need COMMAND PACKAGE
	command -v "$1" >/dev/null && return 0
	[[ $(id -u) -eq 0 ]] || die "$1 is missing: apt-get install -y $2 (as root)"
	log "installing $2 from Debian's packages"
	apt-get install -y "$2" >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y "$2" >/dev/null; } ||
		die "could not install $2"
}
need kcat kcat
need /usr/bin/time time

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$root" && go build -o "$work/offsets-bench" ./bench/offsets)
"$work/offsets-bench" -records "$RECORDS" -keys "$KEYS" -runs "$RUNS" -port "$PORT" -kcat "$(command -v kcat)"
