#!/usr/bin/env bash
# Build the chroot in which the host matrix's quick check (harness.py --bpf-only) compiles and
# loads the recorder with one Debian release's own bcc and LLVM, on this machine's kernel.
#
#   tests/hosts/build-bpf-root.sh SUITE OUTDIR
#
# Why: bcc compiles bpf/record.c at every start with the release's clang, and what the verifier
# accepts depends on that compiler's code (Debian 13's LLVM 19 made an offset the verifier could
# not bound; forky's LLVM 21 refused an atomic add's result). A VM run takes 10-20 minutes to
# reach `record` under TCG; this chroot answers the same question in about a minute. It does not
# replace the VM: the verifier here is this machine's kernel's, not the release's.
#
# OUTDIR/rootfs: debootstrap --variant=minbase SUITE plus bcc (python3-bpfcc, libbpfcc),
# python3-seccomp (the tracer's syscall tables) and the release's generic kernel headers, linked
# as /lib/modules/$(uname -r)/build by harness.py at each run (the running kernel is this
# machine's; record.c reads no kernel struct through header offsets, README "Set-up").
# OUTDIR/info.env: SUITE, BCC (the bpfcc version), LLVM (the major version bcc links).
# Everything comes from this machine's apt mirror (scripts/apt-mirror.sh).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
source "$HERE/../../scripts/lib.sh"
source "$HERE/rootfs.sh"

suite="${1:?usage: $0 SUITE OUTDIR}"
out="${2:?usage: $0 SUITE OUTDIR}"
need_root
command -v debootstrap >/dev/null || die "debootstrap is missing (apt-get install debootstrap)"
mkdir -p "$out"
root="$out/rootfs"
log="$out/build.log"
: >"$log"

t0=$SECONDS
rootfs_bootstrap --variant=minbase
step "apt-get install bcc, python3-seccomp, kernel headers (bpf check root)"
in_root apt-get -y -q --no-install-recommends install \
    python3-bpfcc libbpfcc python3-seccomp linux-headers-amd64 || fail "apt-get install failed"
bcc="$(chroot "$root" dpkg-query -W -f '${Version}' libbpfcc)"
clang="$(chroot "$root" dpkg-query -W -f '${Depends}' libbpfcc | grep -o 'libclang-cpp[0-9]*' | head -n 1)"
rootfs_finish
printf 'SUITE=%s\nBCC=%s\nLLVM=%s\n' "$suite" "$bcc" "${clang#libclang-cpp}" >"$out/info.env"
say "[$suite] bpf check root built in $((SECONDS - t0)) s: bcc $bcc, LLVM ${clang#libclang-cpp}"
