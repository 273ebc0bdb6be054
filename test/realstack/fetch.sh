#!/usr/bin/env bash
# fetch.sh — fetch the pinned Java artifacts of offsetctl's real-stack test
# tier (Kafka broker, Kafka Connect worker, Kafka tools, Debezium PostgreSQL
# and MariaDB source and JDBC sink plugins) into a cache directory, once.
#
#   test/realstack/fetch.sh [CACHE_DIR [CLASSPATH]]
#
# CACHE_DIR defaults to $OFFSETCTL_REALSTACK_CACHE, else test/realstack/.cache
# (git-ignored). It ends up holding:
#   lib/       the broker / worker / tools class path (java -cp 'lib/*')
#   plugins/   Kafka Connect plugin.path: one directory per Debezium plugin
#   STAMP      checksum of pom.xml the cache was made from
# CLASSPATH names a second, separately pinned class path, a folder of
# test/realstack with its own pom.xml (connect-3.4: the Kafka Connect 3.4.1
# worker); it is fetched into CACHE_DIR/CLASSPATH (lib/ and STAMP only), only
# by the tests that need it.
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
pom="$here/pom.xml"
variant="${2:-}"
if [[ -n "$variant" ]]; then
	pom="$here/$variant/pom.xml"
	[[ "$variant" != */* && -f "$pom" ]] || {
		echo "fetch.sh: no class path named $variant (test/realstack/$variant/pom.xml)" >&2
		exit 1
	}
	cache="$cache/$variant"
	mkdir -p "$(dirname "$cache")"
fi
want="$(sha256sum "$pom" | cut -d' ' -f1)"

fresh() { [[ -f "$cache/STAMP" && "$(cat "$cache/STAMP")" == "$want" && -d "$cache/lib" && (-n "$variant" || -d "$cache/plugins") ]]; }

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
mvn -B -q -Dstyle.color=never -f "$pom" -Dcache.dir="$tmp" package 2>&1 | sed 's/\x1b\[[0-9;]*m//g' >&2
rm -rf "$tmp/target"
echo "$want" >"$tmp/STAMP"
rm -rf "$cache"
mv "$tmp" "$cache"
trap - EXIT
echo "fetch.sh: done in $(($(date +%s) - start)) s ($(du -sh "$cache" | cut -f1))" >&2
