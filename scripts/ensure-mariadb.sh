#!/usr/bin/env bash
# Makes sure MariaDB's server binaries (Debian package "mariadb-server") are
# installed: the cross-engine tests start a throwaway server from them
# (internal/mariadbcluster). Installs the package when running as root;
# otherwise prints the command.
set -euo pipefail
have_bins() {
  if [ -n "${OFFSETCTL_MARIADB_BINDIR:-}" ] && [ -x "$OFFSETCTL_MARIADB_BINDIR/mariadbd" ]; then return 0; fi
  for d in /usr/sbin /usr/bin; do
    [ -x "$d/mariadbd" ] && command -v mariadb-install-db >/dev/null 2>&1 && return 0
  done
  command -v mariadbd >/dev/null 2>&1 && command -v mariadb-install-db >/dev/null 2>&1
}
have_bins && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "MariaDB's server binaries are missing. Install them, then run make again:" >&2
  echo "    sudo apt-get install -y mariadb-server" >&2
  exit 1
fi
echo "Installing Debian's MariaDB server package (mariadb-server) for the tests..." >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends mariadb-server >/dev/null
have_bins || { echo "mariadb-server was installed but no mariadbd and mariadb-install-db were found" >&2; exit 1; }
