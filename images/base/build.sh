#!/usr/bin/env bash
# Build hunthub's base image from Debian itself, for machines that reach Debian's archive but no image registry:
#   images/base/build.sh [IMAGE]      (default hunthub-base:bookworm; skipped when the image exists, unless FORCE=1)
# debootstrap --variant=minbase makes a ~150 MB Debian 12 root file system; `docker import` turns it into an image.
# Elsewhere, build the other images with --build-arg BASE_IMAGE=debian:bookworm-slim instead.
set -euo pipefail

image="${1:-hunthub-base:bookworm}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
say() { printf 'images/base: %s\n' "$*" >&2; }

if [ "${FORCE:-0}" != 1 ] && docker image inspect "$image" >/dev/null 2>&1; then
  say "$image exists (FORCE=1 rebuilds it)"
  exit 0
fi
if ! command -v debootstrap >/dev/null; then
  say "installing debootstrap (Debian package)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends debootstrap >/dev/null
fi
[ "$(id -u)" = 0 ] || { say "debootstrap needs root"; exit 1; }

root="$(mktemp -d /tmp/hunthub-base.XXXXXX)"
trap 'rm -rf "$root"' EXIT
say "debootstrap bookworm (minbase) from $mirror into $root ..."
started=$(date +%s)
# the archive's own keyring verifies every package; progress: one line per package stage, counted
debootstrap --variant=minbase bookworm "$root" "$mirror" 2>&1 \
  | awk '/^I: (Retrieving|Validating|Unpacking|Configuring) /{n++; if (n % 25 == 0) printf "images/base:   %d steps ...\n", n > "/dev/stderr"} /^E: /{print > "/dev/stderr"}'
[ -x "$root/bin/sh" ] || { say "debootstrap failed"; exit 1; }
# no caches or logs in the image: smaller, and nothing from the build machine
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/var/log/*
say "importing as $image ..."
tar -C "$root" -c . | docker import --change 'CMD ["/bin/bash"]' --change 'ENV LANG=C.UTF-8' - "$image" >/dev/null
say "built $image in $(( $(date +%s) - started )) s ($(docker image inspect -f '{{.Size}}' "$image" | awk '{printf "%.0f MB", $1/1e6}'))"
