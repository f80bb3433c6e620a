#!/usr/bin/env bash
# Make sure a redis-server binary exists for the shared-state tests (they start their own server on a free
# port). Installs Debian's package when missing; needs root (as on CI) or sudo.
set -euo pipefail
if command -v redis-server >/dev/null 2>&1; then
  exit 0
fi
echo "redis-server not found: installing Debian's redis-server package"
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
$SUDO apt-get update -q
$SUDO apt-get install -y -q redis-server
