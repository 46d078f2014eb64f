#!/usr/bin/env bash
# Installs what av's demo and tests need on Debian/Ubuntu, then the npm dependencies. Run as root (or via sudo).
#   gnome-keyring + dbus: the real Secret Service in a headless session (secret-tool: libsecret-tools)
#   awscli: the real AWS CLI v2, run by av as /usr/bin/python3 -I /usr/bin/aws
#   util-linux (setpriv), passwd (useradd), procps: the unprivileged attacker user in the attack tests
#   strace, gcc + libc6-dev: attack tests that trace the CLI and build an LD_PRELOAD library
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: run as root (sudo $0): it installs Debian packages" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq gnome-keyring libsecret-tools dbus dbus-daemon awscli python3 util-linux passwd procps strace gcc libc6-dev sudo >/dev/null
# A dropped connection to the registry (ECONNRESET) should not fail a whole CI run: try npm ci up to three times.
for attempt in 1 2 3; do
  if npm ci --no-audit --no-fund; then break; fi
  if [ "$attempt" = 3 ]; then exit 1; fi
  echo "install-deps: npm ci failed (attempt $attempt of 3); retrying in 10 s" >&2
  sleep 10
done
