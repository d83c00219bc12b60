"""The syntax of a kernel audit record, as /dev/kmsg, dmesg and auditd's audit.log carry it.

    audit: type=1326 audit(1796534727.679:54): auid=4294967295 uid=0 ... syscall=72 code=0x7ffc0000
    type=SECCOMP msg=audit(1796534727.679:54): auid=4294967295 uid=0 ... syscall=72 code=0x7ffc0000

Field syntax is the kernel's (kernel/audit.c, audit_log_untrustedstring): a string value is
quoted, or written in hex without quotes when it holds a space, a quote or a control character;
numbers are bare. auditd may add interpreted upper-case fields (FSUID="user"). A record's
identity is audit(SECONDS.MILLIS:SERIAL), the same in both logs. Read by verify's AppArmor
denials (verify/apparmor_audit.py) and by harvest (profiler/harvest/records.py).
"""

from __future__ import annotations

import re

# key=value, value quoted or a bare token; keys may be upper case (auditd's interpreted fields).
FIELD = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)=("[^"]*"|\S+)')
# The record's identity: audit(SECONDS.MILLIS:SERIAL).
SERIAL = re.compile(r"audit\((\d+\.\d+:\d+)\)")
# Fields that carry untrusted strings (hex when unquoted); others are numbers or keywords.
STRINGS = frozenset({"name", "comm", "profile", "peer", "target", "exe", "peer_addr", "addr",
                     "srcname", "fstype", "info"})
_HEX = re.compile(r"(?:[0-9A-F]{2})+")


def value(key: str, raw: str) -> str:
    """A field's value as logged -> its text (quotes removed, hex strings decoded)."""
    if raw.startswith('"') and raw.endswith('"') and len(raw) >= 2:
        return raw[1:-1]
    if key in STRINGS and _HEX.fullmatch(raw):
        try:
            return bytes.fromhex(raw).decode("utf-8", "backslashreplace")
        except ValueError:
            return raw
    return raw


def fields(text: str) -> tuple[tuple[str, str], ...]:
    """Every key=value field of text, decoded, in order."""
    return tuple((k, value(k, v)) for k, v in FIELD.findall(text))
