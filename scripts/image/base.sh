#!/usr/bin/env bash
# Make the Debian-based stand-in for python:3.11-slim that `make image-test` builds on (no container registry is
# reachable here): Debian bookworm's python3 (3.11) and python3-venv, made by mmdebstrap from Debian packages
# alone and imported into buildah's local storage.
#
# Cached between runs on the same machine: the image is tagged with a hash of this script (its package list and
# options are the inputs), and the rootfs tarball is kept under ${THINKGATE_IMAGE_CACHE:-~/.cache/thinkgate/image}
# (outside the clone, so a fresh clone reuses it). Prints the image name on stdout, progress on stderr.
set -euo pipefail
SUITE=bookworm
PACKAGES=python3,python3-venv,ca-certificates
key=$(sha256sum "$0" | cut -c1-12)
image="localhost/thinkgate-base:${SUITE}-${key}"
cache="${THINKGATE_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/thinkgate/image}"
tarball="$cache/rootfs-${SUITE}-${key}.tar"

if buildah inspect --type image "$image" >/dev/null 2>&1; then
  echo "base image $image: cached" >&2
  echo "$image"
  exit 0
fi
mkdir -p "$cache"
if [ ! -s "$tarball" ]; then
  echo "base image: mmdebstrap $SUITE with $PACKAGES -> $tarball" >&2
  start=$(date +%s)
  # minbase + the interpreter; no documentation, man pages or translations (as in the slim image)
  mmdebstrap --variant=minbase --format=tar --include="$PACKAGES" \
    --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
    --dpkgopt='path-exclude=/usr/share/info/*' \
    "$SUITE" "$tarball.partial" >&2
  mv "$tarball.partial" "$tarball"
  echo "base image: rootfs in $(( $(date +%s) - start ))s, $(du -h "$tarball" | cut -f1)" >&2
fi
ctr=$(buildah from scratch)
trap 'buildah rm "$ctr" >/dev/null 2>&1 || true' EXIT
buildah add --quiet "$ctr" "$tarball" / >/dev/null
buildah config --env LANG=C.UTF-8 --cmd python3 \
  --label org.opencontainers.image.description="Debian $SUITE minbase + $PACKAGES (mmdebstrap)" "$ctr"
buildah commit --quiet "$ctr" "$image" >/dev/null
echo "base image $image: imported" >&2
echo "$image"
