"""What the kernel logs for a complain-mode policy, one log line -> one typed record (pure).

A seccomp profile whose default action is SCMP_ACT_LOG lets every call it does not list through
and logs it; an AppArmor profile in complain mode allows and logs what it does not list. The
kernel writes each as an audit record: to auditd (/var/log/audit/audit.log) when auditd runs,
otherwise printed by kauditd into the kernel log (/dev/kmsg, dmesg):

    audit: type=1326 audit(1796534727.679:54): auid=4294967295 uid=0 gid=0 ses=4294967295
      pid=18453 comm="runc:[2:INIT]" exe="/" sig=0 arch=c000003e syscall=72 compat=0
      ip=0x40828e code=0x7ffc0000                                       (kmsg, seccomp)
    type=SECCOMP msg=audit(...): ... syscall=72 compat=0 ip=0x40828e code=0x7ffc0000  (audit.log)
    audit: type=1400 audit(...): apparmor="ALLOWED" operation="open" profile="p"
      name="/etc/x" pid=1 comm="nginx" requested_mask="r" denied_mask="r" ...        (AppArmor)

(type 1326 is AUDIT_SECCOMP, 1400 AUDIT_AVC: include/uapi/linux/audit.h; `code` is the filter's
SECCOMP_RET_* action: include/uapi/linux/seccomp.h; `arch` is the AUDIT_ARCH_* of the call.)

Without auditd, kauditd's printing is rate limited (kernel.printk_ratelimit,
printk_ratelimit_burst): records beyond the burst are dropped, and the kernel says so later with
`kauditd_printk_skb: N callbacks suppressed`; a full audit backlog says `audit: audit_lost=N ...`
(N counts every record lost since boot). `drop_of` reads both. The audit serial of printed
records also jumps over dropped ones (harvest counts the gaps as a cross-check).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..kernel.audit_fields import SERIAL, fields

# AUDIT_ARCH_* (include/uapi/linux/audit.h) -> libseccomp's architecture name.
AUDIT_ARCHES = {
    0xC000003E: "x86_64", 0x40000003: "x86", 0xC00000B7: "aarch64", 0x40000028: "arm",
    0xC0000015: "ppc64le", 0x80000015: "ppc64", 0x80000016: "s390x", 0xC00000F3: "riscv64",
}
X32_SYSCALL_BIT = 0x40000000  # an x32 call is made with AUDIT_ARCH_X86_64 and this bit set

# SECCOMP_RET_ACTION_FULL of `code` (include/uapi/linux/seccomp.h) -> the action's name.
SECCOMP_ACTIONS = {
    0x80000000: "kill_process", 0x00000000: "kill_thread", 0x00030000: "trap",
    0x00050000: "errno", 0x7FC00000: "user_notif", 0x7FF00000: "trace", 0x7FFC0000: "log",
    0x7FFF0000: "allow",
}

_SECCOMP = re.compile(r"\btype=(?:1326|SECCOMP)\b")
_AVC = re.compile(r"\btype=(?:1400|AVC)\b")
# Numbers are bounded (a 64-bit value has 20 digits): Python refuses to convert more than 4,300.
_SUPPRESSED = re.compile(r"kauditd_printk_skb: (\d{1,20}) callbacks suppressed")
_LOST = re.compile(r"\baudit: audit_lost=(\d{1,20})\b")
_CODE = re.compile(r"0x([0-9a-f]{1,8})")
_AUDIT_TIME = re.compile(r"audit\((\d{1,20})\.(\d{1,9}):(\d{1,20})\)")


@dataclass(frozen=True)
class Record:
    """One logged call. kind "seccomp": a syscall (arch, syscall, action); kind "apparmor": an
    AppArmor ALLOWED record (operation, name, mask, capname, family, sock_type, protocol)."""

    kind: str
    time: float  # seconds since the epoch (the audit stamp), 0.0 when the line has none
    serial: int  # the audit serial, -1 when the line has none
    pid: int | None
    comm: str
    exe: str = ""
    arch: str = ""  # libseccomp name; "" when the kernel's AUDIT_ARCH is not known here
    syscall: int = -1
    action: str = ""  # SECCOMP_ACTIONS value ("log" in complain mode)
    operation: str = ""
    profile: str = ""
    name: str = ""
    mask: str = ""  # requested_mask
    capname: str = ""
    family: str = ""
    sock_type: str = ""
    protocol: int = 0


@dataclass(frozen=True)
class Drop:
    """The kernel says records were dropped: `suppressed` printk callbacks (a count of this
    burst), or the audit_lost counter (`lost_total`, every record lost since boot)."""

    suppressed: int = 0
    lost_total: int | None = None


# The text of harvest's own mark record (sources.KmsgSource.mark: an AUDIT_USER_AVC message,
# the one user-space type the kernel logs with auditing disabled, as `auditctl -m` sends).
MARK_TEXT = "profiler-harvest: mark"
AUDIT_USER_AVC = 1107  # include/uapi/linux/audit.h


@dataclass(frozen=True)
class Mark:
    """Harvest's own record, printed after a burst: its serial tells how many audit records
    the kernel made since the last one printed, so the printk limit's drops at the end of a
    burst (told by the kernel only with its next printed record) are counted."""

    time: float
    serial: int


def _stamp(line: str) -> tuple[float, int]:
    m = _AUDIT_TIME.search(line)
    if not m:
        return 0.0, -1
    return int(m.group(1)) + int(m.group(2)) / 1000, int(m.group(3))


def _int(text: str, base: int = 10) -> int | None:
    if len(text) > 20:
        return None
    try:
        return int(text, base)
    except ValueError:
        return None


def parse_line(line: str) -> Record | Drop | Mark | None:
    """A kernel log or audit.log line -> a Record, a Drop, a Mark, or None (anything else,
    including a malformed record: harvest counts those as unreadable, the line is never
    trusted)."""
    if MARK_TEXT in line and f"type={AUDIT_USER_AVC} " in line:
        time, serial = _stamp(line)
        return Mark(time, serial) if serial >= 0 else None
    if "kauditd_printk_skb" in line:
        m = _SUPPRESSED.search(line)
        return Drop(suppressed=int(m.group(1))) if m else None
    m = _LOST.search(line)
    if m:
        return Drop(lost_total=int(m.group(1)))
    if _SECCOMP.search(line):
        return _seccomp(line)
    if _AVC.search(line) and 'apparmor="ALLOWED"' in line:
        return _apparmor(line)
    return None


def _body(line: str) -> str:
    """The fields after the audit stamp (so that `type=` and `msg=` are not fields)."""
    m = SERIAL.search(line)
    return line[m.end():] if m else line


def _seccomp(line: str) -> Record | None:
    f = dict(reversed(fields(_body(line))))  # the first of a repeated key wins
    arch_code = _int(f.get("arch", ""), 16)
    syscall = _int(f.get("syscall", ""))
    # auditd's enriched format appends AUID="unset" ... after a 0x1d separator, which some
    # copies lose ("code=0x7ffc0000AUID=..."): the kernel prints the code in lower-case hex.
    m = _CODE.match(f.get("code", ""))
    code = int(m.group(1), 16) if m else None
    pid = _int(f.get("pid", ""))
    if arch_code is None or syscall is None or code is None or syscall < 0:
        return None
    arch = AUDIT_ARCHES.get(arch_code, "")
    if arch == "x86_64" and syscall & X32_SYSCALL_BIT:
        arch, syscall = "x32", syscall & ~X32_SYSCALL_BIT
    time, serial = _stamp(line)
    return Record("seccomp", time, serial, pid, f.get("comm", ""), f.get("exe", ""), arch=arch,
                  syscall=syscall, action=SECCOMP_ACTIONS.get(code & 0xFFFF0000, hex(code)))


def _apparmor(line: str) -> Record | None:
    at = line.find('apparmor="ALLOWED"')
    f = dict(reversed(fields(line[at:])))
    if not f.get("operation"):
        return None
    time, serial = _stamp(line)
    return Record("apparmor", time, serial, _int(f.get("pid", "")), f.get("comm", ""),
                  operation=f["operation"], profile=f.get("profile", ""), name=f.get("name", ""),
                  mask=f.get("requested_mask", "") or f.get("denied_mask", ""),
                  capname=f.get("capname", ""), family=f.get("family", ""),
                  sock_type=f.get("sock_type", ""),
                  protocol=_int(f.get("protocol", "0")) or 0)


# The container runtime's own process before the entrypoint's execve (runc names its stages
# runc:[0:PARENT], runc:[1:CHILD], runc:[2:INIT]; crun and youki keep their names): its calls
# are made in the container's cgroup under its profile, and are not the app's
# (NOTES: what the runtime does inside the container's cgroup).
RUNTIME_COMMS = ("runc", "crun", "youki")


def is_runtime(rec: Record) -> bool:
    """Whether the record is of the runtime's own pre-exec calls (skipped, counted)."""
    return rec.comm.startswith("runc:[") or rec.comm in RUNTIME_COMMS


# kmsg records: "PRI,SEQ,USEC,FLAGS[,...];MESSAGE" then " KEY=VALUE" continuation lines
# (Documentation/ABI/testing/dev-kmsg).
_KMSG = re.compile(r"(\d{1,20}),(\d{1,20}),(\d{1,20}),[^;]*;")


def parse_kmsg(raw: str) -> tuple[int, int, str] | None:
    """One /dev/kmsg record -> (sequence number, microseconds since boot, message's first
    line), None if malformed."""
    m = _KMSG.match(raw)
    if not m:
        return None
    return int(m.group(2)), int(m.group(3)), raw[m.end():].split("\n", 1)[0]
