# A Debian root filesystem from this machine's apt mirror, and commands run inside it: what the
# host matrix's two builders share (build-image.sh: a VM's disk; build-bpf-root.sh: the quick
# check's chroot). Sourced, not run, after scripts/lib.sh; the caller sets `suite`, `root` and
# `log` and calls rootfs_bootstrap, then in_root.

rootfs_mounted=()
rootfs_cleanup() {
    local m
    for m in "${rootfs_mounted[@]}"; do umount -l "$m" 2>/dev/null || true; done
    rootfs_mounted=()
}
trap rootfs_cleanup EXIT
step() { say "[$suite] $*"; echo "== $*" >>"$log"; }
fail() { tail -n 20 "$log" >&2; die "[$suite] $* (log: $log)"; }
in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
                DEBIAN_FRONTEND=noninteractive LC_ALL=C "$@" >>"$log" 2>&1 </dev/null; }

# rootfs_bootstrap [DEBOOTSTRAP OPTION...]: debootstrap the suite into $root, mount what apt and
# maintainer scripts need, point apt at the mirror only, and `apt-get update`. Services started
# by packages stay off (policy-rc.d; rootfs_finish removes it).
rootfs_bootstrap() {
    local mirror script=() m
    mirror="$("$PROFILER_ROOT/scripts/apt-mirror.sh" "$suite")" || die "no Debian mirror in the apt sources"
    step "debootstrap $suite from the apt mirror"
    # This host's debootstrap may be older than the suite (bookworm's knows no forky): testing and
    # unstable releases all bootstrap with the sid script.
    [ -e "/usr/share/debootstrap/scripts/$suite" ] || script=(/usr/share/debootstrap/scripts/sid)
    debootstrap "$@" --include=ca-certificates "$suite" "$root" "$mirror" "${script[@]}" >>"$log" 2>&1 \
        || fail "debootstrap failed"
    for m in proc sys dev dev/pts; do
        mount --bind "/$m" "$root/$m" && rootfs_mounted=("$root/$m" "${rootfs_mounted[@]}")
    done
    printf 'deb %s %s main\n' "$mirror" "$suite" >"$root/etc/apt/sources.list"
    rm -f "$root/etc/apt/sources.list.d/"*
    cp /etc/resolv.conf "$root/etc/resolv.conf"
    printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
    chmod +x "$root/usr/sbin/policy-rc.d"
    # The machine's mirror may be a snapshot whose testing suite's Release file has passed its
    # Valid-Until (seen with forky): the guest has no network, so freshness means nothing there.
    echo 'Acquire::Check-Valid-Until "false";' >"$root/etc/apt/apt.conf.d/99profiler-hosts"
    in_root apt-get -q update || fail "apt-get update in the chroot failed"
}

# rootfs_finish: what rootfs_bootstrap set up only for building, undone.
rootfs_finish() {
    rm -f "$root/usr/sbin/policy-rc.d" "$root/var/cache/apt/archives/"*.deb
    echo "" >"$root/etc/resolv.conf"
    rootfs_cleanup
}
