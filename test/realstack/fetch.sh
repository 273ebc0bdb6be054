#!/usr/bin/env bash
# fetch.sh — fetch the pinned Java artifacts of offsetctl's real-stack test
# tier (Kafka broker, Kafka Connect worker, Kafka tools, Debezium PostgreSQL
# and MariaDB source and JDBC sink plugins) into a cache directory, once.
#
#   test/realstack/fetch.sh [CACHE_DIR]
#
# CACHE_DIR defaults to $OFFSETCTL_REALSTACK_CACHE, else test/realstack/.cache
# (git-ignored). It ends up holding:
#   lib/       the broker / worker / tools class path (java -cp 'lib/*')
#   plugins/   Kafka Connect plugin.path: one directory per Debezium plugin
#   STAMP      checksum of pom.xml the cache was made from
# When STAMP matches pom.xml the script does nothing (no network, no Maven);
# otherwise it needs Java 17+ and Maven, and Maven Central (or a local Maven
# repository that already holds the artifacts). Concurrent runs are
# serialised with a lock file; the cache is swapped in whole, so a failed or
# interrupted fetch never leaves a half-filled cache behind.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${1:-${OFFSETCTL_REALSTACK_CACHE:-$here/.cache}}"
mkdir -p "$(dirname "$cache")"
cache="$(cd "$(dirname "$cache")" && pwd)/$(basename "$cache")"
want="$(sha256sum "$here/pom.xml" | cut -d' ' -f1)"

fresh() { [[ -f "$cache/STAMP" && "$(cat "$cache/STAMP")" == "$want" && -d "$cache/lib" && -d "$cache/plugins" ]]; }

if fresh; then
	exit 0
fi

command -v mvn >/dev/null 2>&1 || {
	echo "fetch.sh: Maven (mvn) is needed to fetch the real-stack artifacts once: apt-get install -y maven" >&2
	exit 1
}

exec 9>"$cache.lock"
flock 9
if fresh; then # another run fetched it while we waited
	exit 0
fi

start=$(date +%s)
tmp="$cache.tmp.$$"
rm -rf "$tmp"
trap 'rm -rf "$tmp"' EXIT
echo "fetch.sh: fetching the real-stack artifacts into $cache (once)" >&2
# Maven's -q output still carries colour resets; strip escape sequences.
mvn -B -q -Dstyle.color=never -f "$here/pom.xml" -Dcache.dir="$tmp" package 2>&1 | sed 's/\x1b\[[0-9;]*m//g' >&2
rm -rf "$tmp/target"
echo "$want" >"$tmp/STAMP"
rm -rf "$cache"
mv "$tmp" "$cache"
trap - EXIT
echo "fetch.sh: done in $(($(date +%s) - start)) s ($(du -sh "$cache" | cut -f1))" >&2
