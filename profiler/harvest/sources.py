"""Where the kernel's audit records are read from, each from a cursor that survives a restart.

- /dev/kmsg (no auditd): every record carries a sequence number (Documentation/ABI/testing/
  dev-kmsg); the cursor is the last one read and the boot it belongs to
  (/proc/sys/kernel/random/boot_id: the numbers start again at a reboot). Records the ring
  buffer overwrote before they were read are counted (`overwritten`): a gap in the numbers,
  or EPIPE from read().
- auditd's /var/log/audit/audit.log: the cursor is the file's inode and the offset of the
  first line not read; after a rotation the rest of the old file (audit.log.1, same inode) is
  read first. Only whole lines are consumed.
- the audit netlink multicast group (AUDIT_NLGRP_READLOG, kernel 3.16+, CAP_AUDIT_READ;
  what journald's audit socket reads): every record as the kernel emits it, with or without
  auditd, and not subject to the printk rate limit that thins /dev/kmsg to 10 records in 5 s.
  Live only: it has no cursor, so what is logged while no harvester listens is missed; the
  audit serials of the records tell how many (counted as dropped), and the kernel's
  audit_lost counter (AUDIT_GET) those lost to a full backlog.

`read()` returns the lines after the cursor and the cursor after them; the caller persists the
cursor together with what it made of the lines (harvest/state.py), so a restart resumes exactly
there: nothing counted twice, nothing skipped.
"""

from __future__ import annotations

import errno
import os
import select
import socket
import struct
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import EnvironmentProblem
from .records import AUDIT_USER_AVC, MARK_TEXT, parse_kmsg

KMSG = Path("/dev/kmsg")
AUDIT_LOG = Path("/var/log/audit/audit.log")
BOOT_ID = Path("/proc/sys/kernel/random/boot_id")
MAX_BATCH = 20_000  # records per read(): a long backlog is worked through in bounded pieces


@dataclass
class Batch:
    lines: list[str] = field(default_factory=list)
    # when each line was logged (epoch seconds, estimated from the kernel's clock), or None:
    # drops are counted only while a selected container ran (kernel lines carry no audit stamp)
    stamps: list[float | None] = field(default_factory=list)
    cursor: dict = field(default_factory=dict)
    overwritten: int = 0  # kernel log records lost before they were read (any kind)
    rebooted: bool = False  # the cursor was of another boot: its unread records are gone
    more: bool = False  # MAX_BATCH reached: call read() again at once
    lost_total: int | None = None  # the kernel's audit_lost counter, where the source reads it


def _boot_id(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


class KmsgSource:
    name = "kmsg"

    def __init__(self, path: Path = KMSG, boot_id: Path = BOOT_ID):
        self.path = path
        self.boot = _boot_id(boot_id)
        try:
            self._fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except PermissionError:
            raise EnvironmentProblem(f"{path}: permission denied (reading the kernel log needs "
                                     f"root or CAP_SYSLOG)", hint="run harvest as root") from None
        except OSError as e:
            raise EnvironmentProblem(f"{path}: cannot open ({e.strerror})") from None
        self._last: int | None = None  # last sequence number read through this fd

    def read(self, cursor: dict) -> Batch:
        out = Batch()
        start = cursor.get("seq") if cursor.get("boot_id") == self.boot else None
        if cursor.get("seq") is not None and start is None:
            out.rebooted = True
        last = self._last if self._last is not None else start
        # the kernel log's clock counts from boot, as CLOCK_MONOTONIC does (not in suspend)
        boot = time.time() - time.clock_gettime(time.CLOCK_MONOTONIC)
        n = 0
        while n < MAX_BATCH:
            try:
                raw = os.read(self._fd, 16384)
            except OSError as e:
                if e.errno == errno.EPIPE:  # overwritten under us: the next read resyncs
                    continue
                if e.errno in (errno.EAGAIN, errno.EWOULDBLOCK):
                    break
                raise EnvironmentProblem(f"{self.path}: read failed ({e.strerror})") from None
            if not raw:
                break
            parsed = parse_kmsg(raw.decode("utf-8", "backslashreplace"))
            if parsed is None:
                continue
            seq, usec, text = parsed
            if start is not None and seq <= start:
                continue  # read before the restart: already counted
            if last is not None and seq > last + 1:
                out.overwritten += seq - last - 1
            last = seq
            out.lines.append(text)
            out.stamps.append(boot + usec / 1e6)
            n += 1
        out.more = n >= MAX_BATCH
        self._last = last
        out.cursor = {"source": self.name, "boot_id": self.boot, "seq": last}
        return out

    def mark(self) -> bool:
        """Have the kernel log harvest's mark record (records.Mark), as `auditctl -m` does:
        printed once the printk limit lets it, its serial counts the records suppressed at the
        end of a burst. False when the kernel refused (no CAP_AUDIT_WRITE, no audit)."""
        text = MARK_TEXT.encode() + b"\0"
        msg = _NLMSG.pack(_NLMSG.size + len(text), AUDIT_USER_AVC, NLM_F_REQUEST, 1, 0) + text
        try:
            with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC,
                               NETLINK_AUDIT) as s:
                s.send(msg)
            return True
        except OSError:
            return False

    def wait(self, timeout: float) -> None:
        """Block until the kernel log has a new record, or timeout seconds."""
        try:
            select.select([self._fd], [], [], timeout)
        except (OSError, ValueError):
            pass

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class AuditLogSource:
    name = "audit.log"

    def __init__(self, path: Path = AUDIT_LOG):
        self.path = path
        if not path.is_file():
            raise EnvironmentProblem(f"{path}: no such file (is auditd running?)",
                                     hint="harvest --source kmsg reads the kernel log instead")

    def _read_from(self, path: Path, offset: int, out: list[str]) -> int:
        """Whole lines of path from offset into out; returns the offset after them."""
        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read(64 << 20)
        end = data.rfind(b"\n") + 1
        # "\n" only: auditd's enriched format separates its interpreted fields with 0x1d,
        # which str.splitlines() would take for a line break.
        text = data[:end].decode("utf-8", "backslashreplace")
        out.extend(text[:-1].split("\n") if text else ())
        return offset + end

    def read(self, cursor: dict) -> Batch:
        out = Batch()
        try:
            st = os.stat(self.path)
        except OSError as e:
            raise EnvironmentProblem(f"{self.path}: cannot read ({e.strerror})") from None
        inode, offset = cursor.get("inode"), int(cursor.get("offset") or 0)
        if inode is not None and inode != st.st_ino:
            rotated = Path(f"{self.path}.1")
            try:
                if os.stat(rotated).st_ino == inode:
                    self._read_from(rotated, offset, out.lines)
                else:
                    out.overwritten = -1  # the old file is gone: how much was lost is unknown
            except OSError:
                out.overwritten = -1
            offset = 0
        elif st.st_size < offset:  # truncated in place
            offset = 0
        try:
            offset = self._read_from(self.path, offset, out.lines)
        except OSError as e:
            raise EnvironmentProblem(f"{self.path}: cannot read ({e.strerror})") from None
        out.cursor = {"source": self.name, "path": str(self.path), "inode": st.st_ino,
                      "offset": offset}
        return out

    def wait(self, timeout: float) -> None:
        import time

        time.sleep(timeout)

    def close(self) -> None:
        pass


NETLINK_AUDIT = 9  # include/uapi/linux/netlink.h
AUDIT_NLGRP_READLOG = 1  # include/uapi/linux/audit.h: "multicast group to listen for log messages"
AUDIT_GET = 1000  # get the audit status (struct audit_status)
_NLMSG = struct.Struct("=IHHII")  # struct nlmsghdr: len, type, flags, seq, pid
NLM_F_REQUEST = 1


def netlink_messages(data: bytes) -> list[tuple[int, bytes]]:
    """(type, payload) of each netlink message in a datagram (a truncated one is dropped)."""
    out, at = [], 0
    while at + _NLMSG.size <= len(data):
        length, kind, _flags, _seq, _pid = _NLMSG.unpack_from(data, at)
        if length < _NLMSG.size or at + length > len(data):
            break
        out.append((kind, data[at + _NLMSG.size:at + length]))
        at += (length + 3) & ~3  # NLMSG_ALIGN
    return out


def audit_line(kind: int, payload: bytes) -> str:
    """A multicast audit record as the kernel log would print it ("audit: type=N audit(...)")."""
    return f"audit: type={kind} " + payload.rstrip(b"\0\n").decode("utf-8", "backslashreplace")


class NetlinkSource:
    name = "netlink"

    def __init__(self, boot_id: Path = BOOT_ID):
        self.boot = _boot_id(boot_id)
        try:
            self._sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_NONBLOCK
                                       | socket.SOCK_CLOEXEC, NETLINK_AUDIT)
        except OSError as e:
            raise EnvironmentProblem(f"the audit netlink socket cannot be opened ({e.strerror})",
                                     hint="--source kmsg reads the kernel log instead") from None
        try:
            self._sock.bind((0, AUDIT_NLGRP_READLOG))
        except PermissionError:
            self._sock.close()
            raise EnvironmentProblem("the audit multicast group needs CAP_AUDIT_READ",
                                     hint="run harvest as root") from None
        except OSError as e:
            self._sock.close()
            raise EnvironmentProblem(f"the kernel refused the audit multicast group "
                                     f"({e.strerror}; kernel 3.16+ with CONFIG_AUDIT)",
                                     hint="--source kmsg reads the kernel log instead") from None
        for opt in (getattr(socket, "SO_RCVBUFFORCE", 33), socket.SO_RCVBUF):
            try:  # room for a burst (a container start logs hundreds of records)
                self._sock.setsockopt(socket.SOL_SOCKET, opt, 8 << 20)
                break
            except OSError:
                continue
        self.overflows = 0  # times the socket's buffer overflowed (ENOBUFS)

    def read(self, cursor: dict) -> Batch:
        out = Batch()
        if cursor.get("boot_id") not in (None, self.boot):
            out.rebooted = True
        n = 0
        while n < MAX_BATCH:
            try:
                data = self._sock.recv(1 << 16)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as e:
                if e.errno == errno.ENOBUFS:  # records lost: the serial gaps count them
                    self.overflows += 1
                    continue
                raise EnvironmentProblem(f"audit netlink: read failed ({e.strerror})") from None
            for kind, payload in netlink_messages(data):
                out.lines.append(audit_line(kind, payload))
                out.stamps.append(None)  # the audit stamp is in the line
                n += 1
        out.more = n >= MAX_BATCH
        out.lost_total = audit_lost()
        out.cursor = {"source": self.name, "boot_id": self.boot}
        return out

    def wait(self, timeout: float) -> None:
        try:
            select.select([self._sock], [], [], timeout)
        except (OSError, ValueError):
            pass

    def close(self) -> None:
        self._sock.close()


def audit_lost() -> int | None:
    """The kernel's count of audit records lost since boot (struct audit_status.lost, by an
    AUDIT_GET request), None when it cannot be asked."""
    try:
        with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC,
                           NETLINK_AUDIT) as s:
            s.settimeout(1.0)
            s.send(_NLMSG.pack(_NLMSG.size, AUDIT_GET, NLM_F_REQUEST, 1, 0))
            for kind, payload in netlink_messages(s.recv(1 << 16)):
                if kind == AUDIT_GET and len(payload) >= 28:
                    # mask, enabled, failure, pid, rate_limit, backlog_limit, lost (u32 each)
                    return struct.unpack_from("=7I", payload)[6]
    except OSError:
        return None
    return None


def auditd_running(proc: Path = Path("/proc")) -> bool:
    """Whether an auditd process runs (then the kernel sends audit records to it, not to the
    kernel log)."""
    try:
        entries = list(proc.iterdir())
    except OSError:
        return False
    for p in entries:
        if p.name.isdigit():
            try:
                if (p / "comm").read_text().strip() == "auditd":
                    return True
            except OSError:
                continue
    return False


def auto_choice(follow: bool, auditd: bool, audit_log: bool) -> str:
    """What `--source auto` reads: auditd's log where auditd runs (every record, from a
    cursor); else, for `--follow`, the audit multicast group, since /dev/kmsg thins audit records
    to 10 per 5 s for the whole host (printk_ratelimit_burst): a complain-mode app's first
    `docker exec` outside its profile logs about that many in a fraction of a second (seen on
    Debian 12, which installs no auditd: 10 records in 0.3 s, the whole burst); else (one pass,
    which needs the records of the past) /dev/kmsg."""
    if auditd and audit_log:
        return "audit.log"
    return "netlink" if follow else "kmsg"


def open_source(choice: str, follow: bool = False):
    """The source to read: "kmsg", "audit.log", "netlink", or "auto" (auto_choice; netlink
    falls back to kmsg where the kernel refuses the multicast group)."""
    if choice == "auto":
        choice = auto_choice(follow, auditd_running(), AUDIT_LOG.is_file())
        if choice == "netlink":
            try:
                return NetlinkSource()
            except EnvironmentProblem:
                return KmsgSource()
    if choice == "netlink":
        return NetlinkSource()
    return AuditLogSource() if choice == "audit.log" else KmsgSource()
