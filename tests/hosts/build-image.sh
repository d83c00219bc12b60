#!/usr/bin/env bash
# Build the VM image of one stock Debian host for the host matrix (tests/hosts/harness.py).
#
#   tests/hosts/build-image.sh SUITE OUTDIR [PACKAGE...]
#
# What a user's host has after installing Debian SUITE (debootstrap's default variant: systemd,
# cgroup v2 only, AppArmor on) plus the distribution kernel with its matching headers and the
# apt packages scripts/setup.sh installs for that release (docker.io with Debian's default
# systemd cgroup driver, bcc, libseccomp, ...), and git to clone the repository. Everything
# comes from this machine's own apt mirror (scripts/apt-mirror.sh), because the guest has no
# network. All heavy work happens here on the host, not in the slow (TCG) guest. PACKAGEs are
# installed on top (a host variant, e.g. Podman: harness.py's Host.packages).
#
# OUTDIR receives: disk.qcow2 (ext4 root filesystem, the whole disk), vmlinuz, initrd.img and
# info.env (SUITE, KERNEL, PYTHON). The guest runs /mnt/host/boot.sh from its 9p share at boot
# (profiler-hosts.service) and powers off afterwards; without a share it just boots.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
source "$HERE/../../scripts/lib.sh"
source "$HERE/rootfs.sh"

suite="${1:?usage: $0 SUITE OUTDIR}"
out="${2:?usage: $0 SUITE OUTDIR}"
shift 2
extra=("$@")
need_root
for tool in debootstrap mkfs.ext4 qemu-img; do
    command -v "$tool" >/dev/null || die "$tool is missing (apt-get install debootstrap e2fsprogs qemu-utils)"
done

mkdir -p "$out"
root="$out/rootfs"
log="$out/build.log"
: >"$log"

t0=$SECONDS
rootfs_bootstrap   # debootstrap's default variant: what a Debian install has

# The package list is setup.sh's own for this release (lib.sh), so a wrong name fails here;
# with the bench's (bpftrace: a peer whose cost the harness's --bench prints beside ours).
mapfile -t pkgs < <(chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
                    bash -c "$(declare -f setup_packages bench_packages); setup_packages; bench_packages")
[ "${#pkgs[@]}" -gt 0 ] || fail "no package list from setup_packages"
step "apt-get install kernel, headers, git and setup.sh's packages: ${pkgs[*]}${extra:+; variant: ${extra[*]}}"
in_root apt-get -y -q --no-install-recommends install \
    linux-image-amd64 linux-headers-amd64 initramfs-tools systemd-sysv udev dbus kmod \
    git "${pkgs[@]}" "${extra[@]}" || fail "apt-get install in the chroot failed"

step "guest configuration"
kernel="$(basename "$(ls -d "$root"/lib/modules/* | sort -V | tail -n 1)")"
[ -e "$root/boot/vmlinuz-$kernel" ] || fail "no /boot/vmlinuz-$kernel"
# The initramfs must find the root disk on virtio: make sure the modules are in it.
printf 'virtio_pci\nvirtio_blk\nvirtio_console\next4\n' >>"$root/etc/initramfs-tools/modules"
in_root update-initramfs -u -k "$kernel" || fail "update-initramfs failed"
echo "profiler-$suite" >"$root/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 profiler-%s\n' "$suite" >"$root/etc/hosts"
printf '/dev/vda / ext4 errors=remount-ro 0 1\nhost /mnt/host 9p trans=virtio,version=9p2000.L,msize=262144,nofail,x-systemd.device-timeout=10s 0 0\n' \
    >"$root/etc/fstab"
mkdir -p "$root/mnt/host"
in_root passwd -d root || true
cat >"$root/etc/systemd/system/profiler-hosts.service" <<'EOF'
[Unit]
Description=profiler host matrix: run /mnt/host/boot.sh, then power off
After=multi-user.target mnt-host.mount
Requires=mnt-host.mount
ConditionPathExists=/mnt/host/boot.sh

[Service]
Type=oneshot
StandardOutput=journal+console
StandardError=journal+console
ExecStart=/bin/bash /mnt/host/boot.sh
ExecStopPost=/bin/systemctl --no-block poweroff
TimeoutStartSec=infinity

[Install]
WantedBy=multi-user.target
EOF
in_root systemctl enable profiler-hosts.service || fail "cannot enable profiler-hosts.service"
in_root systemctl enable serial-getty@ttyS0.service || true
python="$(chroot "$root" python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
rootfs_finish

step "root filesystem image"
cp "$root/boot/vmlinuz-$kernel" "$out/vmlinuz"
cp "$root/boot/initrd.img-$kernel" "$out/initrd.img"
rm -f "$out/disk.raw"
mkfs.ext4 -q -L root -d "$root" "$out/disk.raw" 12G >>"$log" 2>&1 || fail "mkfs.ext4 -d failed"
qemu-img convert -O qcow2 "$out/disk.raw" "$out/disk.qcow2" >>"$log" 2>&1 || fail "qemu-img convert failed"
rm -rf "$out/disk.raw" "$root"
printf 'SUITE=%s\nKERNEL=%s\nPYTHON=%s\nBUILD_SECONDS=%s\n' "$suite" "$kernel" "$python" "$((SECONDS - t0))" \
    >"$out/info.env"
say "[$suite] image built in $((SECONDS - t0)) s: kernel $kernel, python $python"
