#!/usr/bin/env bash
# Makes sure PostgreSQL's server binaries (Debian package "postgresql") are
# installed: the tests and the demo start a throwaway cluster from them.
# Installs the package when running as root; otherwise prints the command.
set -euo pipefail
have_bins() {
  if [ -n "${OFFSETCTL_PG_BINDIR:-}" ] && [ -x "$OFFSETCTL_PG_BINDIR/initdb" ]; then return 0; fi
  for d in /usr/lib/postgresql/*/bin; do
    [ -x "$d/initdb" ] && [ -x "$d/postgres" ] && return 0
  done
  command -v initdb >/dev/null 2>&1 && command -v postgres >/dev/null 2>&1
}
have_bins && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "PostgreSQL's server binaries are missing. Install them, then run make again:" >&2
  echo "    sudo apt-get install -y postgresql" >&2
  exit 1
fi
echo "Installing Debian's PostgreSQL server package (postgresql) for the tests and the demo..." >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends postgresql postgresql-contrib >/dev/null
have_bins || { echo "postgresql was installed but no initdb was found under /usr/lib/postgresql/*/bin" >&2; exit 1; }
