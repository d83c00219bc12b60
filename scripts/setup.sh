#!/usr/bin/env bash
# Set up everything profiler needs on a Debian host (12 bookworm, 13 trixie or newer), as root,
# without questions: apt packages, kernel headers for bcc, tracefs, a running Docker engine, the
# venv, the base image and the sample images. Idempotent: each step first checks and does
# nothing when its result is already there, so a second run takes a few seconds.
#
#   scripts/setup.sh            (what `make setup` runs)
#
# Environment: PROFILER_DEBIAN_MIRROR overrides the mirror read from the apt sources;
# PROFILER_SKIP_SAMPLES=1 skips building the sample images; PROFILER_DOCKER_WAIT (seconds,
# default 120) bounds the wait for a starting Docker engine (slow hosts and VMs need more than
# 30 s). For a host without network (the VMs of tests/hosts/), what would be downloaded can be
# provided instead: PROFILER_WHEELHOUSE=DIR installs the venv's PyPI packages from DIR only
# (pip --no-index --find-links DIR), and PROFILER_IMAGE_ARCHIVE=FILE is `docker load`ed
# (a `docker save` of the base and sample images) before any image is built. Unset, set-up
# does what it always did online.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

export DEBIAN_FRONTEND=noninteractive
exec </dev/null   # never wait for a question
START=$SECONDS
LOGDIR=/var/log/profiler-setup
ARCH="$(dpkg --print-architecture 2>/dev/null || echo unknown)"
KVER="$(uname -r)"

need_root
[ -r /etc/debian_version ] || die "this set-up supports Debian hosts only (12 bookworm and newer)"
command -v apt-get >/dev/null || die "apt-get not found: this set-up supports Debian hosts only"
mkdir -p "$LOGDIR"
take_lock

# --- apt packages --------------------------------------------------------------------------
# The list and its per-release names are setup_packages' (lib.sh). A machine may already have
# Docker's own packages (docker-ce conflicts with docker.io): then no Debian docker package.
packages() {
    local p
    for p in $(setup_packages); do
        case "$p" in
            docker.io) command -v dockerd >/dev/null || echo "$p" ;;
            docker-cli) command -v docker >/dev/null || echo "$p" ;;
            *) echo "$p" ;;
        esac
    done
}
APT_UPDATED=0
# apt_update [--soft]: once per run; --soft returns 1 instead of dying (optional packages).
apt_update() {
    [ "$APT_UPDATED" -eq 1 ] && return 0
    say "apt-get update"
    if apt-get -q -o DPkg::Lock::Timeout=300 update >"$LOGDIR/apt-update.log" 2>&1 9>&-; then
        APT_UPDATED=1
        return 0
    fi
    [ "${1:-}" = --soft ] && return 1
    tail -n 5 "$LOGDIR/apt-update.log" >&2
    die "apt-get update failed (log: $LOGDIR/apt-update.log)"
}
apt_install() {
    apt_update
    say "apt-get install $*"
    apt-get -y -q --no-install-recommends -o DPkg::Lock::Timeout=300 \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
        install "$@" >"$LOGDIR/apt-install.log" 2>&1 9>&- \
        || { tail -n 10 "$LOGDIR/apt-install.log" >&2; die "apt-get install $* failed (log: $LOGDIR/apt-install.log)"; }
}
installed() {
    [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}

missing_packages() {
    missing=()
    for p in $(packages); do installed "$p" || missing+=("$p"); done
}
# Without a docker command, whether it is a package of its own (docker-cli) is in apt's lists.
command -v docker >/dev/null || apt_update
missing_packages
if [ "${#missing[@]}" -gt 0 ]; then
    t=$SECONDS
    apt_update
    missing_packages   # again with current lists: some names depend on the release's packages
    apt_install "${missing[@]}"
    say "packages installed in $((SECONDS - t)) s"
fi
say "packages ok"

# Packages only the benches and the stress tests use (bpftrace as a peer tracer): installed when
# apt can, a warning otherwise. A host without a package mirror (the offline VMs of the host
# matrix, tests/hosts/) still gets everything profiler itself needs.
bench_missing=()
for p in $(bench_packages); do installed "$p" || bench_missing+=("$p"); done
if [ "${#bench_missing[@]}" -gt 0 ]; then
    if apt_update --soft && apt-get -y -q --no-install-recommends -o DPkg::Lock::Timeout=300 \
            install "${bench_missing[@]}" >"$LOGDIR/apt-install-bench.log" 2>&1 9>&-; then
        say "bench packages installed: ${bench_missing[*]}"
    else
        warn "bench packages not installed (${bench_missing[*]}; log: $LOGDIR/apt-install-bench.log): make bench and the stress tests that compare with them need them"
    fi
fi

# --- kernel headers (bcc compiles its programs against them at run time) --------------------
MOD="/lib/modules/$KVER"
headers_ok() { [ -d "$MOD/build/include" ]; }
if ! headers_ok; then
    apt_update
    if apt-cache show "linux-headers-$KVER" >/dev/null 2>&1; then
        apt_install "linux-headers-$KVER"
    fi
fi
if ! headers_ok; then
    case "$ARCH" in
        amd64|arm64) meta="linux-headers-$ARCH" ;;
        *) die "no kernel headers for $KVER and no fallback for architecture $ARCH" ;;
    esac
    installed "$meta" || apt_install "$meta"
    build="$(ls -d /usr/src/linux-headers-*-"$ARCH" 2>/dev/null | sort -V | tail -n 1)"
    [ -n "$build" ] || die "$meta installed but no /usr/src/linux-headers-*-$ARCH found"
    common="${build%-"$ARCH"}-common"
    mkdir -p "$MOD"
    ln -sfn "$build" "$MOD/build"
    [ -d "$common" ] && ln -sfn "$common" "$MOD/source"
    headers_ok || die "kernel headers still unusable at $MOD/build"
fi
build_target="$(readlink -f "$MOD/build")"
case "$build_target" in
    *"$KVER"*) say "kernel headers ok ($build_target)" ;;
    *) warn "kernel headers do not match the running kernel $KVER: $MOD/build -> $build_target." \
            "That is safe for profiler (its BPF reads tracepoint arguments and helpers only," \
            "no kernel struct), not for other bcc tools." ;;
esac

# --- tracefs -------------------------------------------------------------------------------
tracing_ok() {
    [ -d /sys/kernel/tracing/events/raw_syscalls ] || [ -d /sys/kernel/debug/tracing/events/raw_syscalls ]
}
if ! tracing_ok; then
    if [ -d /sys/kernel/tracing ]; then
        mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null || true
    fi
    if ! tracing_ok && [ -d /sys/kernel/debug ]; then
        # Older kernels expose tracing only under debugfs.
        mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null || true
    fi
    tracing_ok || die "cannot mount tracefs (mount -t tracefs tracefs /sys/kernel/tracing failed); is CONFIG_FTRACE on?"
fi
say "tracefs ok"

# --- Docker engine -------------------------------------------------------------------------
if ! docker_up; then
    if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
        systemctl start docker >/dev/null 2>&1 9>&- || true
    fi
    if ! docker_up && ! pgrep -x dockerd >/dev/null; then
        # No init system to ask: start the engine ourselves, detached from this session.
        rm -f /var/run/docker.pid
        say "starting dockerd (log: $LOGDIR/dockerd.log)"
        setsid nohup dockerd >>"$LOGDIR/dockerd.log" 2>&1 </dev/null 9>&- &
    fi
    command -v docker >/dev/null || die "the docker command is missing although the engine is installed" \
        "(on Debian 13 and newer it is the package docker-cli)"
    wait_s="${PROFILER_DOCKER_WAIT:-120}"
    t=$SECONDS
    until [ -S /var/run/docker.sock ] && timeout 10 docker info >/dev/null 2>&1; do
        [ $((SECONDS - t)) -ge "$wait_s" ] && break
        sleep 1
    done
    docker_up || { tail -n 5 "$LOGDIR/dockerd.log" >&2 2>/dev/null || true
                   journalctl -u docker -n 5 --no-pager >&2 2>/dev/null || true
                   die "the Docker engine did not answer within $wait_s s (log: $LOGDIR/dockerd.log" \
                       "or journalctl -u docker; a slow host may need PROFILER_DOCKER_WAIT=300)"; }
fi
say "docker engine ok ($(docker version -f '{{.Server.Version}}' 2>/dev/null))"

# --- venv ----------------------------------------------------------------------------------
# Made from Debian's interpreter with --system-site-packages so that bcc (python3-bpfcc) and
# libseccomp's bindings (python3-seccomp), which are not on PyPI, import inside it.
VENV="$PROFILER_ROOT/.venv"
STAMP="$VENV/.profiler-setup-stamp"
venv_sound() {
    [ -x "$VENV/bin/python" ] && grep -qs '^include-system-site-packages = true' "$VENV/pyvenv.cfg"
}
if ! venv_sound || [ ! -e "$STAMP" ] || [ "$PROFILER_ROOT/pyproject.toml" -nt "$STAMP" ] \
    || [ ! -x "$VENV/bin/profiler" ]; then
    if ! venv_sound; then
        say "creating venv .venv"
        rm -rf "$VENV"
        /usr/bin/python3 -m venv --system-site-packages "$VENV" >"$LOGDIR/venv.log" 2>&1 \
            || { tail -n 5 "$LOGDIR/venv.log" >&2; die "cannot create the venv (python3-venv installed?)"; }
    fi
    pip_src=()
    if [ -n "${PROFILER_WHEELHOUSE:-}" ]; then
        [ -d "$PROFILER_WHEELHOUSE" ] || die "PROFILER_WHEELHOUSE=$PROFILER_WHEELHOUSE is not a directory"
        pip_src=(--no-index --find-links "$PROFILER_WHEELHOUSE")
    fi
    say "pip install -e '.[test]'${pip_src:+ (offline, from $PROFILER_WHEELHOUSE)}"
    (cd "$PROFILER_ROOT" && PIP_NO_INPUT=1 "$VENV/bin/pip" install -q --disable-pip-version-check \
        "${pip_src[@]}" -e '.[test]') >"$LOGDIR/pip.log" 2>&1 \
        || { grep -E '^(ERROR|error):|No matching distribution|Could not' "$LOGDIR/pip.log" | tail -n 5 >&2
             die "pip install failed (log: $LOGDIR/pip.log)"; }
    "$VENV/bin/python" -c 'import bcc, seccomp' 2>"$LOGDIR/venv-import.log" \
        || die "the venv cannot import bcc/seccomp: $(tail -n 1 "$LOGDIR/venv-import.log")"
    touch "$STAMP"
fi
say "venv ok (.venv/bin/profiler)"

# compose v2 as a docker CLI plugin beside Debian 12's docker-compose 1.29 (samples/shop is
# tested with both); optional: without network (the host matrix's VMs) only a warning.
"$PROFILER_ROOT/scripts/compose-v2.sh" \
    || warn "compose v2 plugin not installed: only the distribution's docker-compose is usable"

# --- images --------------------------------------------------------------------------------
if [ -n "${PROFILER_IMAGE_ARCHIVE:-}" ]; then
    [ -r "$PROFILER_IMAGE_ARCHIVE" ] || die "PROFILER_IMAGE_ARCHIVE=$PROFILER_IMAGE_ARCHIVE cannot be read"
    say "docker load -i $PROFILER_IMAGE_ARCHIVE"
    t=$SECONDS
    docker load -i "$PROFILER_IMAGE_ARCHIVE" >"$LOGDIR/docker-load.log" 2>&1 \
        || { tail -n 5 "$LOGDIR/docker-load.log" >&2; die "docker load of $PROFILER_IMAGE_ARCHIVE failed"; }
    say "images loaded in $((SECONDS - t)) s"
fi
"$PROFILER_ROOT/scripts/build-base-image.sh"
say "base image ok"
if [ "${PROFILER_SKIP_SAMPLES:-0}" != 1 ]; then
    "$PROFILER_ROOT/scripts/build-samples.sh"
    say "sample images ok"
fi

say "done in $((SECONDS - START)) s"
