#!/usr/bin/env bash
# Make the compose v2 CLI plugin (`docker compose`) available next to Debian 12's
# docker-compose 1.29, so that profiler's compose support is tested with both.
#
#   scripts/compose-v2.sh          idempotent; PROFILER_COMPOSE_V2=0 skips it
#
# Debian packages compose v2 as `docker-compose` from trixie on: a Go binary installed as the
# docker CLI plugin /usr/libexec/docker/cli-plugins/docker-compose (it needs only libc >= 2.34,
# which bookworm has). Installing that package on bookworm would replace v1, so instead its .deb
# is fetched with apt from this machine's own mirror (scripts/apt-mirror.sh trixie), with a
# private apt state that leaves the system's sources untouched, and only the plugin binary is
# unpacked to /usr/local/lib/docker/cli-plugins/, where the docker CLI looks for plugins. On a
# host whose `docker compose` already works (trixie and newer, Docker's own packages) nothing is
# done.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

SUITE="${PROFILER_COMPOSE_V2_SUITE:-trixie}"
DEST=/usr/local/lib/docker/cli-plugins
STATE=/var/cache/profiler-compose-v2

[ "${PROFILER_COMPOSE_V2:-1}" = 0 ] && { say "compose v2: skipped (PROFILER_COMPOSE_V2=0)"; exit 0; }
need_root
if docker compose version >/dev/null 2>&1; then
    exit 0
fi
mirror="$("$PROFILER_ROOT/scripts/apt-mirror.sh" "$SUITE")" \
    || die "compose v2: no Debian mirror for $SUITE (set PROFILER_DEBIAN_MIRROR)"
say "compose v2: fetching docker-compose from $SUITE"
mkdir -p "$STATE/lists/partial" "$STATE/cache/archives/partial" "$STATE/deb"
printf 'deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] %s %s main\n' \
    "$mirror" "$SUITE" >"$STATE/sources.list"
: >"$STATE/status"
apt_opts=(-o "Dir::Etc::SourceList=$STATE/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
          -o "Dir::State::Lists=$STATE/lists" -o "Dir::Cache=$STATE/cache"
          -o "Dir::State::status=$STATE/status")
apt-get "${apt_opts[@]}" -qq update >"$STATE/update.log" 2>&1 \
    || { tail -n 5 "$STATE/update.log" >&2; die "compose v2: apt-get update for $SUITE failed"; }
version="$(apt-cache "${apt_opts[@]}" policy docker-compose | sed -n 's/^ *Candidate: //p')"
case "$version" in
    2.*) ;;
    *) die "compose v2: $SUITE offers docker-compose '${version:-none}', not a 2.x" ;;
esac
rm -f "$STATE"/deb/*.deb
(cd "$STATE/deb" && apt-get "${apt_opts[@]}" -qq download "docker-compose=$version") \
    >"$STATE/download.log" 2>&1 \
    || { tail -n 5 "$STATE/download.log" >&2; die "compose v2: download of docker-compose $version failed"; }
mkdir -p "$DEST"
tmp="$(mktemp -d)"
dpkg-deb -x "$STATE"/deb/docker-compose_*.deb "$tmp"
install -m 0755 "$tmp/usr/libexec/docker/cli-plugins/docker-compose" "$DEST/docker-compose.new"
mv -f "$DEST/docker-compose.new" "$DEST/docker-compose"
rm -rf "$tmp"
docker compose version >/dev/null 2>&1 \
    || die "compose v2: $DEST/docker-compose does not run as a docker CLI plugin"
say "compose v2: $(docker compose version) installed as a docker CLI plugin ($DEST)"
