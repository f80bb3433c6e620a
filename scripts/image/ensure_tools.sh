#!/usr/bin/env bash
# Make sure the tools of `make image-test` exist: mmdebstrap (the Debian base image), buildah (build and run
# the image without a daemon or an OCI runtime). Installs Debian's packages when missing; needs root (as on CI)
# or sudo. Idempotent: does nothing when both are there.
set -euo pipefail
missing=()
command -v mmdebstrap >/dev/null 2>&1 || missing+=(mmdebstrap)
command -v buildah >/dev/null 2>&1 || missing+=(buildah)
if [ "${#missing[@]}" -eq 0 ]; then
  exit 0
fi
echo "installing Debian packages: ${missing[*]}"
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
# Other jobs on the machine may hold the dpkg lock for a while: wait for it instead of failing.
$SUDO apt-get -o DPkg::Lock::Timeout=600 update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends \
  "${missing[@]}"
