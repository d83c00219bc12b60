#!/usr/bin/env bash
# Build the local Debian base image every sample starts FROM (there is no Docker Hub here):
# debootstrap a minbase bookworm from the machine's own apt mirror, then `docker import` it.
#
#   scripts/build-base-image.sh [--force]
set -euo pipefail
source "$(dirname "$0")/lib.sh"

IMAGE="${PROFILER_BASE_IMAGE:-profiler-base:bookworm}"
SUITE=bookworm

need_root
take_lock
if [ "${1:-}" != "--force" ] && image_exists "$IMAGE"; then
    exit 0
fi
command -v debootstrap >/dev/null || die "debootstrap is not installed (run scripts/setup.sh)"
docker_up || die "the Docker engine does not answer (run scripts/setup.sh)"
mirror="$("$PROFILER_ROOT/scripts/apt-mirror.sh" "$SUITE")" || die "cannot find the Debian mirror in the apt sources"

work="$(mktemp -d /var/tmp/profiler-base.XXXXXX)"
trap 'rm -rf "$work"' EXIT
log="$work/debootstrap.log"
say "building base image $IMAGE (debootstrap $SUITE minbase from the apt mirror)"
t=$SECONDS
if ! debootstrap --variant=minbase "$SUITE" "$work/root" "$mirror" >"$log" 2>&1; then
    tail -n 15 "$log" >&2
    die "debootstrap failed (log above)"
fi
# Smaller image and reproducible apt behaviour inside builds.
rm -rf "$work/root/var/cache/apt/archives/"*.deb "$work/root/var/lib/apt/lists/"*
tar --numeric-owner -C "$work/root" -c . \
    | docker import -c 'CMD ["/bin/bash"]' -m "debootstrap $SUITE minbase" - "$IMAGE" >/dev/null \
    || die "docker import of $IMAGE failed"
say "base image $IMAGE built in $((SECONDS - t)) s"
