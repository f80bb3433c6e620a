#!/usr/bin/env bash
# Make sure Debian's chromium and its chromedriver exist for the console's browser tests (tests/browser/).
# The tests drive this system browser through selenium; nothing downloads a browser build. Installs the
# Debian packages when missing; needs root (as on CI) or sudo.
set -euo pipefail
if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
  exit 0
fi
echo "chromium/chromedriver not found: installing Debian's chromium and chromium-driver packages"
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends chromium chromium-driver
