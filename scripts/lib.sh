# Shared helpers for the set-up scripts (sourced, not run). Bash only.
# Progress lines go to stderr so that scripts which print a value (apt-mirror.sh) stay usable.

PROFILER_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PROFILER_ROOT

say()  { printf 'setup: %s\n' "$*" >&2; }
warn() { printf 'setup: WARNING: %s\n' "$*" >&2; }
die()  { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

need_root() {
    [ "$(id -u)" -eq 0 ] || die "must run as root (try: sudo $0)"
}

# True when the Docker engine answers. `docker info` can hang on a half-dead socket: bound it.
docker_up() {
    timeout 10 docker info >/dev/null 2>&1
}

image_exists() {
    docker image inspect "$1" >/dev/null 2>&1
}

# Serialise set-up runs: several checkouts or test sessions may call the scripts at once, and
# two concurrent apt-get/docker build runs for the same image would trip over each other.
# Child scripts inherit the held lock through PROFILER_SETUP_LOCKED. The lock is fd 9: anything
# that may outlive the script (dockerd, daemons started by apt's maintainer scripts) must be run
# with `9>&-`, or it keeps the lock and the next run waits forever.
take_lock() {
    [ -n "${PROFILER_SETUP_LOCKED:-}" ] && return 0
    exec 9>>/tmp/profiler-setup.lock
    if ! flock -n 9; then
        say "waiting for another set-up run to finish"
        flock -w 1800 9 || die "another set-up run holds /tmp/profiler-setup.lock for too long"
    fi
    export PROFILER_SETUP_LOCKED=1
}

# The apt packages set-up needs on this host, one a line. Package names differ between Debian
# releases; each difference is decided by what this host's apt offers, not by a release table:
# - the docker CLI is part of docker.io up to bookworm; from trixie on it is the separate
#   package docker-cli (docker.io only recommends it, and set-up installs no recommends).
# Needs current apt lists (apt-get update) for the checks. Self-contained on purpose: the VM
# image builder (tests/hosts/build-image.sh) runs it inside the guest's chroot.
setup_packages() {
    local p
    # Whether apt offers an installable version of package $1. Defined in here so that
    # setup_packages stays self-contained (tests/hosts/build-image.sh runs `declare -f
    # setup_packages` in a chroot). The policy is read whole first: `apt-cache policy | grep -q`
    # under `set -o pipefail` (setup.sh's) fails whenever grep exits before apt-cache has
    # written everything (SIGPIPE), which silently left docker-compose out on some runs.
    has_candidate() {
        local policy
        policy="$(apt-cache policy "$1" 2>/dev/null || true)"
        [[ "$policy" =~ (^|$'\n')\ *Candidate:\ [0-9] ]]
    }
    # bpfcc-tools python3-bpfcc libbpfcc: bcc, the eBPF front end (Debian's, not PyPI's "bcc");
    # python3-seccomp: libseccomp bindings, syscall tables per arch; apparmor: apparmor_parser
    # validates emitted profiles; debootstrap: builds the local base image (no Docker Hub);
    # strace: accuracy oracle in tests, cost comparison in bench; wrk: HTTP load for bench.
    for p in \
        bpfcc-tools python3-bpfcc libbpfcc \
        python3-seccomp \
        apparmor \
        debootstrap \
        strace \
        wrk \
        python3-venv curl iproute2 make gcc libc6-dev ca-certificates util-linux procps \
        docker.io; do
        printf '%s\n' "$p"
    done
    # A real package (not only a name others provide) with an installable version.
    if has_candidate docker-cli; then
        printf '%s\n' docker-cli
    fi
    # docker-compose (1.29 in bookworm, 2.x later): tests/integration/test_production_integration.py starts
    # the emitted compose.yaml with it; the tests skip (and so fail under CI) without it.
    if has_candidate docker-compose; then
        printf '%s\n' docker-compose
    fi
}

# Installed by `make setup` where it can (a missing one is named, not fatal), and in the host
# matrix's VM images (for the harness's --bench): bpftrace, a peer recorder whose cost
# bench/record_bench.py prints beside ours, and another tracer on the same tracepoints at once
# (tests/integration/test_reliability_stress.py).
bench_packages() {
    printf '%s\n' bpftrace
}
