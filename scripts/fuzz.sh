#!/usr/bin/env bash
# Runs every fuzz target of the module for FUZZTIME each (default 10m), one
# after the other (go test -fuzz runs one target per invocation). `make fuzz`
# runs it under internal/tools/withpg, so that the packages whose TestMain
# wants PostgreSQL share one throwaway cluster.
#
#   FUZZTIME=30s bash scripts/fuzz.sh            # every target
#   FUZZTIME=1h  bash scripts/fuzz.sh FuzzBackup # the targets named
#   FUZZFLAGS="-parallel 1" ...                  # more go test flags
#
# A failure is reported and the loop goes on; the exit status is 1 when any
# target failed. A failing input is written by go test to the package's
# testdata/fuzz/<Target>/: fix the code, keep the input as a regression test.
set -uo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
FUZZTIME=${FUZZTIME:-10m}
only=" $* "

failed=()
ran=0
while IFS=: read -r file target; do
  [ -n "$target" ] || continue
  if [ "$only" != "  " ] && [[ "$only" != *" $target "* ]]; then
    continue
  fi
  pkg="./$(dirname "$file")"
  echo "== $target ($pkg) for $FUZZTIME"
  ran=$((ran + 1))
  if ! "$GO" test -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" ${FUZZFLAGS:-} "$pkg"; then
    failed+=("$target ($pkg)")
  fi
done < <(grep -r -o -E --include='*_test.go' '^func Fuzz[A-Za-z0-9_]+\(f \*testing\.F\)' . |
         sed -E 's#^\./##; s/:func (Fuzz[A-Za-z0-9_]+).*/:\1/' | sort)

if [ "$ran" = 0 ]; then
  echo "no fuzz target matched:$only" >&2
  exit 1
fi
if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzzing found failures in:" >&2
  printf '  %s\n' "${failed[@]}" >&2
  exit 1
fi
echo "fuzzing: $ran targets, no failure"
