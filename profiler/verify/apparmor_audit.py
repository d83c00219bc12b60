"""AppArmor's denials, read from the kernel's audit messages, each with the rule that would allow it.

When AppArmor refuses something it logs an audit record (type 1400, AVC):

    apparmor="DENIED" operation="open" class="file" profile="NAME" name="/etc/nginx/mime.types"
    pid=812 comm="nginx" requested_mask="r" denied_mask="r" fsuid=0 ouid=0

Without auditd the kernel prints it (`audit: type=1400 audit(T:SERIAL): ...`, in /dev/kmsg,
`dmesg`, `journalctl -k`); with auditd it goes to /var/log/audit/audit.log (`type=AVC
msg=audit(T:SERIAL): ...`). Field syntax is the kernel's (kernel/audit.c,
audit_log_untrustedstring): a string value is quoted, or written in hex without quotes when it
holds a space, a quote or a control character; numbers are bare. Field names and the masks are
AppArmor's (security/apparmor/lib.c, file.c, net.c, ipc.c; apparmor.d(5) for the rules).

`parse_line` is pure (tests: tests/verify/test_apparmor_audit.py, from captured lines);
`AuditCursor` takes the position of both logs before a run and reads only what came after it.
"""

from __future__ import annotations

import errno
import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..kernel.apparmor_syntax import ordered_permissions, quoted_path
from ..kernel.audit_fields import SERIAL as _SERIAL, fields as _fields

KMSG = Path("/dev/kmsg")
AUDIT_LOG = Path("/var/log/audit/audit.log")

# The kernel says so when it dropped printk'd audit records (printk_ratelimit in kauditd).
_SUPPRESSED = re.compile(r"kauditd_printk_skb: (\d+) callbacks suppressed|audit: audit_lost=")

# Permission letters of a file mask (security/apparmor/file.c aa_audit_file: "rwxamlk" plus
# c/d for create/delete, "::" separates owner from other) -> the rule's letters. AppArmor
# mediates create and delete as write.
_LETTERS = {"r": "r", "w": "w", "a": "a", "c": "w", "d": "w", "x": "ix", "m": "m", "l": "l",
            "k": "k"}


@dataclass(frozen=True)
class Denial:
    """One AppArmor audit record of a refusal."""

    serial: str  # "SECONDS.MILLIS:SERIAL", "" when the line has none
    operation: str  # "open", "mknod", "exec", "capable", "create", "signal", ...
    profile: str
    path: str  # name=, "" when the operation has none (capabilities, sockets)
    comm: str  # the task's name (15 characters at most)
    pid: int | None
    denied: str  # denied_mask ("r", "wc", "send"), or the capability name
    fields: tuple[tuple[str, str], ...]  # every field, decoded, as logged

    def field(self, key: str) -> str:
        return dict(self.fields).get(key, "")

    @property
    def target(self) -> str:
        """What was refused: the path, or for operations without one the capability, the
        socket, or the signal and its peer."""
        f = dict(self.fields)
        if self.path:
            return self.path
        if f.get("capname"):
            return f["capname"]
        if f.get("family"):
            return " ".join(x for x in (f["family"], f.get("sock_type", "")) if x)
        return " ".join(f"{k}={f[k]}" for k in ("signal", "peer") if f.get(k))

    @property
    def rule(self) -> str:
        """The AppArmor rule that would allow this (apparmor.d(5)), "" when there is none to
        give (mount and pivot_root are denied on purpose)."""
        return rule_for(self)


def parse_line(line: str) -> Denial | None:
    """A kernel/audit log line -> Denial, or None when it is no AppArmor denial."""
    at = line.find('apparmor="DENIED"')
    if at < 0:
        return None
    serial = _SERIAL.search(line, 0, at)
    fields = _fields(line[at:])
    d = dict(fields)
    pid = d.get("pid", "")
    denied = d.get("denied_mask") or d.get("capname") or d.get("requested_mask", "")
    return Denial(serial=serial.group(1) if serial else "", operation=d.get("operation", ""),
                  profile=d.get("profile", ""), path=d.get("name", ""), comm=d.get("comm", ""),
                  pid=int(pid) if pid.isdigit() else None, denied=denied, fields=fields)


def suppressed(line: str) -> bool:
    """Whether the line says the kernel dropped audit records (so some denials are unseen)."""
    return bool(_SUPPRESSED.search(line))


def file_letters(mask: str) -> str:
    """A denied file mask ("wc", "r::", "x") -> rule permissions ("w", "r", "ix")."""
    return "".join(ordered_permissions({_LETTERS[c] for c in mask if c in _LETTERS}))


def rule_for(d: Denial) -> str:
    f = dict(d.fields)
    if d.operation == "capable":
        return f"capability {f.get('capname', '')}," if f.get("capname") else ""
    if f.get("class") == "net" or (f.get("family") and f.get("sock_type")):
        if f.get("family") and f.get("sock_type"):
            return f"network {f['family']} {f['sock_type']},"
        return ""
    if d.operation == "signal":
        sig = f" set=({f['signal']})" if f.get("signal") else ""
        peer = f" peer={f['peer']}" if f.get("peer") else ""
        return f"signal ({d.denied}){sig}{peer},"
    if d.operation == "ptrace":
        peer = f" peer={f['peer']}" if f.get("peer") else ""
        return f"ptrace ({d.denied}){peer},"
    if d.operation in ("mount", "umount", "pivotroot", "remount"):
        return ""
    if d.path:
        letters = file_letters(d.denied)
        return f"{quoted_path(d.path)} {letters}," if letters else ""
    return ""


# --------------------------------------------------------------------------------------------
# reading the logs from a cursor
# --------------------------------------------------------------------------------------------

class AuditCursor:
    """The end of /dev/kmsg and of audit.log, taken before a run; `read()` gives the lines
    logged since (each record once, whichever log has it) and whether records were dropped."""

    def __init__(self, kmsg: Path = KMSG, audit_log: Path = AUDIT_LOG):
        self._kmsg_fd = None
        try:
            fd = os.open(kmsg, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
            os.lseek(fd, 0, os.SEEK_END)  # /dev/kmsg: seek to the end = only newer records
            self._kmsg_fd = fd
        except OSError:
            pass
        self._audit_log = audit_log
        try:
            self._audit_offset = audit_log.stat().st_size
        except OSError:
            self._audit_offset = 0

    @property
    def sources(self) -> list[str]:
        out = [str(KMSG)] if self._kmsg_fd is not None else []
        return out + ([str(self._audit_log)] if self._audit_log.is_file() else [])

    def _kmsg_lines(self) -> tuple[list[str], bool]:
        out: list[str] = []
        lost = False
        if self._kmsg_fd is None:
            return out, lost
        while True:
            try:
                rec = os.read(self._kmsg_fd, 8192)
            except OSError as e:
                if e.errno == errno.EPIPE:  # records overwritten before we read them
                    lost = True
                    continue
                break  # EAGAIN: nothing more
            if not rec:
                break
            # "PRI,SEQ,USEC,FLAGS;message\n" then " KEY=VALUE" continuation lines.
            text = rec.decode("utf-8", "backslashreplace")
            out.append(text.split(";", 1)[-1].split("\n", 1)[0])
        return out, lost

    def _audit_lines(self) -> list[str]:
        try:
            size = self._audit_log.stat().st_size
            start = self._audit_offset if size >= self._audit_offset else 0  # rotated
            with self._audit_log.open("rb") as f:
                f.seek(start)
                data = f.read()
        except OSError:
            return []
        self._audit_offset = start + len(data)
        return data.decode("utf-8", "backslashreplace").splitlines()

    def read(self) -> tuple[list[str], bool]:
        """(lines since the cursor, each audit record once; whether records were dropped)."""
        kmsg, dropped = self._kmsg_lines()
        seen, out = set(), []
        for line in kmsg + self._audit_lines():
            if suppressed(line):
                dropped = True
                continue
            m = _SERIAL.search(line)
            if m:
                if m.group(1) in seen:
                    continue
                seen.add(m.group(1))
            out.append(line)
        return out, dropped

    def close(self) -> None:
        if self._kmsg_fd is not None:
            os.close(self._kmsg_fd)
            self._kmsg_fd = None


def denials_of(lines: list[str], profile: str) -> list[Denial]:
    """The denials of one profile (and its child profiles, `NAME//...`) among log lines."""
    out = []
    for line in lines:
        d = parse_line(line)
        if d and (d.profile == profile or d.profile.startswith(profile + "//")):
            out.append(d)
    return out
