#!/usr/bin/env bash
# Makes sure OpenSSH's ssh-keygen and ssh-agent (Debian package
# "openssh-client") are installed: the approval tests prove that offsetctl's
# plan signatures and OpenSSH's are interchangeable, with the real tools.
# Installs the package when running as root; otherwise prints the command.
set -euo pipefail
command -v ssh-keygen >/dev/null 2>&1 && command -v ssh-agent >/dev/null 2>&1 && command -v ssh-add >/dev/null 2>&1 && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "OpenSSH's client tools (ssh-keygen, ssh-agent) are missing. Install them, then run make again:" >&2
  echo "    sudo apt-get install -y openssh-client" >&2
  exit 1
fi
echo "Installing Debian's openssh-client package (ssh-keygen, ssh-agent) for the approval tests..." >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends openssh-client >/dev/null
