"""Real kernel and audit log lines for the harvest tests, each with where it was seen.

Seccomp lines of this host were captured from /dev/kmsg / dmesg on the lab host (kernel 6.18,
no auditd, 2026-12-06) while a container ran under {"defaultAction": "SCMP_ACT_LOG"}.
AppArmor is not enabled on the lab host: its ALLOWED lines are copied from public reports, and
those of DEBIAN12_LOOP were captured in the host matrix's Debian 12 VM (AppArmor enforcing).
"""

# lab host, dmesg: runc's own pre-exec call (comm runc:[2:INIT], exe "/"), then the app's
KMSG_RUNC = ('audit: type=1326 audit(1796534867.859:390): auid=4294967295 uid=0 gid=0 '
             'ses=4294967295 pid=3221 comm="runc:[2:INIT]" exe="/" sig=0 arch=c000003e '
             'syscall=72 compat=0 ip=0x40828e code=0x7ffc0000')
KMSG_SLEEP = ('audit: type=1326 audit(1796535187.623:1009): auid=4294967295 uid=0 gid=0 '
              'ses=4294967295 pid=7059 comm="sleep" exe="/usr/bin/sleep" sig=0 arch=c000003e '
              'syscall=231 compat=0 ip=0x7f153a919409 code=0x7ffc0000')
# lab host, two records as read(2) from /dev/kmsg gives them (PRI,SEQ,USEC,FLAGS;message)
KMSG_RAW_SUPPRESSED = "4,130465,12746304665,-;kauditd_printk_skb: 93 callbacks suppressed\n"
KMSG_RAW = ('5,130468,12746304674,-;audit: type=1326 audit(1796535279.063:2352): '
            'auid=4294967295 uid=0 gid=0 ses=4294967295 pid=25982 comm="sleep" '
            'exe="/usr/bin/sleep" sig=0 arch=c000003e syscall=231 compat=0 ip=0x7f88814b9409 '
            'code=0x7ffc0000\n')
# lab host, dmesg: the printk rate limit of kauditd
KMSG_SUPPRESSED = "kauditd_printk_skb: 327 callbacks suppressed"

# kubernetes-sigs/security-profiles-operator internal/pkg/daemon/enricher/source/audit_test.go
# (auditd's audit.log, enriched format; the copy lost the 0x1d separator before AUID=)
AUDITLOG_ENRICHED = ('type=SECCOMP msg=audit(1613596317.899:6461): auid=4294967295 uid=0 gid=0 '
                     'ses=4294967295 subj=system_u:system_r:spc_t:s0:c284,c594 pid=2039886 '
                     'comm="ls" exe="/bin/ls" sig=0 arch=c000003e syscall=3 compat=0 '
                     'ip=0x7f62dce3d4c7 code=0x7ffc0000AUID="unset" UID="root" GID="root" '
                     'ARCH=x86_64 SYSCALL=close')
# chromiumos platform2 debugd/src/helpers/audit_log_utils_test.cc (audit.log of an arm64
# Chromebook: a kill, not a log action; 0x1d kept here as auditd writes it)
AUDITLOG_KILL_ARM64 = ('type=SECCOMP msg=audit(1750922692.830:4911): auid=4294967295 uid=1000 '
                       'gid=1001 ses=4294967295 subj=u:r:cros_disks:s0 pid=83658 '
                       'comm="AsyncLocalStore" exe="/opt/google/drive-file-stream/drivefs" '
                       'sig=31 arch=c00000b7 syscall=227 compat=0 ip=0x7d0767988c '
                       'code=0x80000000\x1dAUID="unset" UID="chronos" GID="chronos-access" '
                       'ARCH=aarch64 SYSCALL=msync')

# roddhjav/apparmor.d#268 (journalctl -k of an Arch host, profiles in complain mode)
AA_FILE_MMAP = ('Dec 26 19:37:29 legion kernel: audit: type=1400 audit(1703615849.025:1388631): '
                'apparmor="ALLOWED" operation="file_mmap" class="file" '
                'profile="dhcpcd//null-/usr/bin/resolvconf" name="/usr/lib/libreadline.so.8.2" '
                'pid=9829 comm="resolvconf" requested_mask="rm" denied_mask="rm" fsuid=0 ouid=0')
AA_OPEN = ('Dec 26 19:37:29 legion kernel: audit: type=1400 audit(1703615849.025:1388629): '
           'apparmor="ALLOWED" operation="open" class="file" '
           'profile="dhcpcd//null-/usr/bin/resolvconf" name="/usr/lib/libreadline.so.8.2" '
           'pid=9829 comm="resolvconf" requested_mask="r" denied_mask="r" fsuid=0 ouid=0')
# roddhjav/apparmor.d#938 (dmesg of a Debian 13 host; the audit stamp was zeroed by the
# reporter)
AA_NET = ('[  246.467043] audit: type=1400 audit(0000000000.000:0000): apparmor="ALLOWED" '
          'operation="create" class="net" profile="dbus-session" pid=2654 comm="dbus-daemon" '
          'family="netlink" sock_type="raw" protocol=9 requested_mask="create" '
          'denied_mask="create"')
AA_CAP = ('[  246.467050] audit: type=1400 audit(0000000000.000:0000): apparmor="ALLOWED" '
          'operation="capable" class="cap" profile="dbus-session" pid=2654 comm="dbus-daemon" '
          'capability=12  capname="net_admin"')
# moby/moby#21861 (dmesg of an Ubuntu host, complain mode; also in tests/verify)
AA_DOCKER = ('[ 5442.864673] audit: type=1400 audit(1453830992.845:37): apparmor="ALLOWED" '
             'operation="open" profile="/usr/bin/docker" name="/home/jessie/docker/man/man1/'
             'docker-attach.1" pid=10923 comm="docker" requested_mask="r" denied_mask="r" '
             'fsuid=1000 ouid=0')

# lab host, one record as the audit netlink multicast group (AUDIT_NLGRP_READLOG) delivered it:
# message type 1326, payload without the "audit: type=" prefix of the kernel log
NETLINK_PAYLOAD = (b'audit(1796537692.979:54373): auid=4294967295 uid=0 gid=0 ses=4294967295 '
                   b'pid=7209 comm="runc:[2:INIT]" exe="/" sig=0 arch=c000003e syscall=257 '
                   b'compat=0 ip=0x40828e code=0x7ffc0000')

# The VM host matrix's Debian 12 guest (tests/hosts/guest.py, harvest leg; kernel 6.1.0-50,
# AppArmor enforcing, no auditd, Docker 20.10 with the systemd cgroup driver, 2026-12-06),
# journalctl -k: the redis sample under `emit --complain` (profile profiler-sample-redis in
# complain mode, seccomp SCMP_ACT_LOG) while `docker exec C sh -c 'echo harvested
# >/tmp/profiler-harvest-probe && ... && exec /usr/bin/unshare -U sleep 4'` ran, as user redis
# (uid 100). Every record of the run, in order (serials 14-23: the whole printk burst of 10).
# The exec of a program the profile does not name moves the task into a learning child profile
# (target=".../null-/usr/bin/unshare"); the seccomp record carries that AppArmor label in subj=.
DEBIAN12_PID = 2563
DEBIAN12_LOOP = [
    ('audit: type=1400 audit(1796548602.000:14): apparmor="ALLOWED" operation="mknod" '
     'profile="profiler-sample-redis" name="/tmp/profiler-harvest-probe" pid=2563 '
     'comm="sh" requested_mask="c" denied_mask="c" fsuid=100 ouid=100'),
    ('audit: type=1400 audit(1796548602.016:15): apparmor="ALLOWED" operation="open" '
     'profile="profiler-sample-redis" name="/tmp/profiler-harvest-probe" pid=2563 '
     'comm="sh" requested_mask="wc" denied_mask="wc" fsuid=100 ouid=100'),
    ('audit: type=1400 audit(1796548602.044:16): apparmor="ALLOWED" operation="exec" '
     'profile="profiler-sample-redis" name="/usr/bin/unshare" pid=2563 comm="sh" '
     'requested_mask="x" denied_mask="x" fsuid=100 ouid=0 '
     'target="profiler-sample-redis//null-/usr/bin/unshare"'),
    ('audit: type=1400 audit(1796548602.088:17): apparmor="ALLOWED" operation="file_mmap" '
     'profile="profiler-sample-redis//null-/usr/bin/unshare" name="/usr/bin/unshare" '
     'pid=2563 comm="unshare" requested_mask="r" denied_mask="r" fsuid=100 ouid=0'),
    ('audit: type=1400 audit(1796548602.088:18): apparmor="ALLOWED" operation="file_mmap" '
     'profile="profiler-sample-redis//null-/usr/bin/unshare" '
     'name="/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" pid=2563 comm="unshare" '
     'requested_mask="r" denied_mask="r" fsuid=100 ouid=0'),
    ('audit: type=1400 audit(1796548602.132:19): apparmor="ALLOWED" operation="open" '
     'profile="profiler-sample-redis//null-/usr/bin/unshare" name="/etc/ld.so.cache" '
     'pid=2563 comm="unshare" requested_mask="r" denied_mask="r" fsuid=100 ouid=0'),
    ('audit: type=1400 audit(1796548602.136:20): apparmor="ALLOWED" operation="open" '
     'profile="profiler-sample-redis//null-/usr/bin/unshare" '
     'name="/usr/lib/x86_64-linux-gnu/libc.so.6" pid=2563 comm="unshare" '
     'requested_mask="r" denied_mask="r" fsuid=100 ouid=0'),
    ('audit: type=1400 audit(1796548602.144:21): apparmor="ALLOWED" operation="file_mmap" '
     'profile="profiler-sample-redis//null-/usr/bin/unshare" '
     'name="/usr/lib/x86_64-linux-gnu/libc.so.6" pid=2563 comm="unshare" '
     'requested_mask="rm" denied_mask="rm" fsuid=100 ouid=0'),
    ('audit: type=1326 audit(1796548602.244:22): auid=4294967295 uid=100 gid=101 '
     'ses=4294967295 subj=profiler-sample-redis//null-/usr/bin/unshare pid=2563 '
     'comm="unshare" exe="/usr/bin/unshare" sig=0 arch=c000003e syscall=272 compat=0 '
     'ip=0x7f9b5cc340f7 code=0x7ffc0000'),
    ('audit: type=1400 audit(1796548602.272:23): apparmor="ALLOWED" operation="exec" '
     'profile="profiler-sample-redis//null-/usr/bin/unshare" name="/usr/bin/sleep" '
     'pid=2563 comm="unshare" requested_mask="x" denied_mask="x" fsuid=100 ouid=0 '
     'target="profiler-sample-redis//null-/usr/bin/unshare//null-/usr/bin/sleep"'),
]
