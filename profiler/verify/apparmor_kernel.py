"""Enforce an AppArmor profile for one run: load it under a unique name, unload it afterwards.

verify runs the container under the policy's apparmor.profile where the kernel enforces
AppArmor. The profile is loaded under a name of its own (`profiler-verify-<random>`, rewritten
in memory: the header and the `peer=` rules that name the profile itself), so that a verify run
never replaces a profile the host already has loaded under the emitted name, and two runs never
share one. It is loaded with `apparmor_parser --replace` from a temp file, and removed with
`apparmor_parser --remove` when the run ends, whatever ends it (an error, Ctrl-C: the
`finally` of the context manager). verify --compose loads under the override's own names
instead (the override is applied as it is on disk); a name that was already loaded then (the
user ran the emitted apparmor-load.sh, a running project may be confined by it) is not removed
afterwards: it stays loaded with the emitted text, which is what apparmor-load.sh loads, since
removing it would leave the project's next `up` refused ("unable to apply apparmor profile")
and its running containers unconfined. The audit cursor is taken right after the load, so only the
run's own denials are read (profiler/verify/apparmor_audit.py).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

from .apparmor_audit import AuditCursor, Denial, denials_of
from ..kernel.apparmor_syntax import HEADER, profile_name
from ..errors import AppArmorError
from ..tool_errors import error_line

ENABLED = Path("/sys/module/apparmor/parameters/enabled")
SECURITYFS = Path("/sys/kernel/security/apparmor")
PARSER_TIMEOUT = 120  # apparmor_parser compiles the profile; slow hosts (TCG VMs) need tens of s

def enforced(enabled: Path = ENABLED, securityfs: Path = SECURITYFS) -> bool:
    """Whether the kernel enforces AppArmor: the module is enabled and its securityfs
    interface (where profiles are loaded) is there."""
    try:
        on = enabled.read_text().strip() == "Y"
    except OSError:
        return False
    return on and securityfs.is_dir()


def renamed(text: str, new: str) -> str:
    """The profile text with its first profile renamed to `new`, and every `peer=OLD` (rules
    about the container's own tasks) with it."""
    old = profile_name(text)
    if old is None:
        raise AppArmorError("no `profile NAME` block in apparmor.profile")
    text = HEADER.sub(lambda m: m.group(1) + new, text, count=1)
    return re.sub(r"(\bpeer=)" + re.escape(old) + r"(?=[\s,)]|$)", lambda m: m.group(1) + new,
                  text)


def unique_name() -> str:
    return f"profiler-verify-{uuid.uuid4().hex[:12]}"


def is_loaded(name: str, securityfs: Path = SECURITYFS) -> bool:
    """Whether the kernel has a profile of that name (securityfs `profiles`: one
    `NAME (MODE)` line each)."""
    try:
        lines = (securityfs / "profiles").read_text(encoding="utf-8").splitlines()
    except OSError:
        return False
    return any(line.rsplit(" (", 1)[0] == name for line in lines)


def _parser(*args: str) -> subprocess.CompletedProcess:
    exe = shutil.which("apparmor_parser") or "/usr/sbin/apparmor_parser"
    if not os.path.exists(exe):
        raise AppArmorError("apparmor_parser is not installed (Debian/Ubuntu: apt-get install "
                        "apparmor)")
    try:
        return subprocess.run([exe, *args], capture_output=True, text=True,
                              timeout=PARSER_TIMEOUT, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise AppArmorError(f"apparmor_parser did not finish within {PARSER_TIMEOUT} s") from None


def _first_line(p: subprocess.CompletedProcess) -> str:
    """apparmor_parser's error, not its banner (profiler/tool_errors.py)."""
    return error_line(p.stderr, p.stdout, default=f"exit {p.returncode}")


@dataclass
class Loaded:
    """A profile loaded for one run: its name, and the audit cursor taken after the load."""

    name: str
    cursor: AuditCursor

    def denials(self) -> tuple[list[Denial], bool]:
        """The profile's denials since the load, and whether the kernel dropped audit records
        (then some denials may be missing)."""
        lines, dropped = self.cursor.read()
        return denials_of(lines, self.name), dropped


@contextlib.contextmanager
def loaded(text: str, name: str | None = None, securityfs: Path = SECURITYFS):
    """Load `text` under `name` (default: a unique one) for the `with` block, then remove it,
    unless a profile of that name was loaded before: then it stays, as `text`."""
    name = name or unique_name()
    body = renamed(text, name)
    keep = is_loaded(name, securityfs)
    with tempfile.TemporaryDirectory(prefix="profiler-apparmor-") as tmp:
        path = Path(tmp) / name
        path.write_text(body, encoding="utf-8")
        # -K: neither read nor write the cache (a one-off profile)
        p = _parser("--replace", "-K", str(path))
        if p.returncode != 0:
            raise AppArmorError(_first_line(p))
        cursor = AuditCursor()
        try:
            yield Loaded(name, cursor)
        except BaseException:  # an error or Ctrl-C: unload all the same, and let it through
            cursor.close()
            if not keep:
                _parser("--remove", "-K", str(path))
            raise
        cursor.close()
        if keep:
            return
        p = _parser("--remove", "-K", str(path))
        if p.returncode != 0:  # say so: the host would keep a stray profile until reboot
            raise AppArmorError(f"could not unload AppArmor profile {name}: {_first_line(p)}",
                                hint=f"apparmor_parser -R {path.name} (or echo -n {name} > "
                                     f"{SECURITYFS}/.remove)")
