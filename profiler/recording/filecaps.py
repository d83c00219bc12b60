"""File capabilities and set-id bits of the executables a run exec'd, read from the container's
file system at record time, and what they mean for the bounding set and no-new-privileges.

A file capability lives in the file's `security.capability` extended attribute (struct
vfs_cap_data, include/uapi/linux/capability.h; `setcap cap_net_bind_service=+ep FILE` writes
it, as caddy's image does). What the kernel does with it at exec (security/commoncap.c,
bprm_caps_from_vfs_caps and cap_bprm_creds_from_file):

- The new permitted set is (file permitted & bounding set) | (file inheritable & the task's
  inheritable). When the file's effective bit is set and a permitted capability of the file
  is missing from the bounding set, the exec itself fails with EPERM ("insufficient to execute
  correctly"), for root and non-root alike: `--cap-drop ALL` without `--cap-add` of that
  capability makes the program unrunnable (caddyserver/caddy-docker#396).
- Under no-new-privileges the gain is cut to what the task already had: a non-root caller runs
  the program without the file's capabilities (it starts, then fails where it needed them).

The eBPF recorder sees set-id bits and credential changes at exec (bpf/record.c, privileged
execs), but not an extended attribute, and not the caller's credentials for the first exec (the
entrypoint, started by the runtime). So record reads each executable's attribute and mode
afterwards, through the engine's archive API (Docker's archive carries `security.capability`
as a PAX record, `SCHILY.xattr.security.capability`) or, for a process on the host, from the
file itself.
"""

from __future__ import annotations

import io
import os
import struct
import tarfile
from dataclasses import dataclass

from ..kernel.linux import CAPABILITIES

XATTR = "security.capability"
PAX_XATTR = "SCHILY.xattr." + XATTR
# include/uapi/linux/capability.h
VFS_CAP_REVISION_MASK = 0xFF000000
VFS_CAP_FLAGS_EFFECTIVE = 0x000001
_REVISIONS = {0x01000000: 1, 0x02000000: 2, 0x03000000: 2}  # revision -> u32 words per set
SETID_BITS = 0o6000
# How many executables record looks up (one archive request each).
MAX_LOOKUPS = 64


@dataclass(frozen=True)
class FileCaps:
    """A decoded security.capability attribute."""

    permitted: tuple[str, ...] = ()  # CAP_* names
    inheritable: tuple[str, ...] = ()
    effective: bool = False  # the "e" of `=+ep`: raised into the effective set at exec


def parse(value: bytes) -> FileCaps | None:
    """struct vfs_cap_data (revision 1, 2 or 3) -> FileCaps; None for a value the kernel would
    reject too (unknown revision, short)."""
    if len(value) < 4:
        return None
    (magic,) = struct.unpack_from("<I", value)
    words = _REVISIONS.get(magic & VFS_CAP_REVISION_MASK)
    if words is None or len(value) < 4 + 8 * words:
        return None
    permitted = inheritable = 0
    for i in range(words):
        p, inh = struct.unpack_from("<II", value, 4 + 8 * i)
        permitted |= p << (32 * i)
        inheritable |= inh << (32 * i)
    return FileCaps(_names(permitted), _names(inheritable), bool(magic & VFS_CAP_FLAGS_EFFECTIVE))


def _names(mask: int) -> tuple[str, ...]:
    return tuple(CAPABILITIES.get(n, f"CAP_{n}") for n in range(64) if mask >> n & 1)


@dataclass(frozen=True)
class FileInfo:
    """What record keeps of an executable's file: its set-id bits and file capabilities."""

    mode: int = 0  # permission bits (07777)
    caps: FileCaps | None = None
    link: str = ""  # a symlink's target (archives do not follow links)

    @property
    def setid(self) -> int:
        return self.mode & SETID_BITS


def from_archive(data: bytes) -> FileInfo | None:
    """The first member of a tar archive (the engine's archive of one path) -> FileInfo."""
    try:  # a stream: the archive may hold only its first blocks
        with tarfile.open(fileobj=io.BytesIO(data), mode="r|") as tar:
            member = tar.next()
    except (tarfile.TarError, OSError):
        return None
    if member is None:
        return None
    raw = member.pax_headers.get(PAX_XATTR)
    caps = parse(raw.encode("utf-8", "surrogateescape")) if raw is not None else None
    return FileInfo(member.mode & 0o7777, caps, member.linkname if member.issym() else "")


def from_host(path: str) -> FileInfo | None:
    """A file on this host (record --exec) -> FileInfo; None when it is gone."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    try:
        caps = parse(os.getxattr(path, XATTR))
    except OSError:  # ENODATA: no file capability (or no xattr support)
        caps = None
    return FileInfo(st.st_mode & 0o7777, caps)


def follow(lookup, path: str, hops: int = 8) -> FileInfo | None:
    """lookup(path) -> FileInfo | None, following symlinks (absolute or relative) like exec."""
    for _ in range(hops):
        info = lookup(path)
        if info is None or not info.link:
            return info
        base = path.rsplit("/", 1)[0] or "/"
        path = os.path.normpath(info.link if info.link.startswith("/")
                                else f"{base}/{info.link}")
    return None


def bounding_needs_of(f) -> tuple[str, ...]:
    """The capabilities that must stay in the bounding set for an executable (model.ExecFile)
    to run as it was built to: all of its file's permitted set (with the effective bit the
    kernel refuses the exec without them; without it the program raises them itself)."""
    return f.capabilities


# Where a bare program name is looked up: the PATH Docker gives a container whose image sets
# none (moby oci/defaults.go DefaultPathEnv, Linux).
DEFAULT_PATH = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")


def exec_file(path: str, info: FileInfo | None):
    """An ExecFile for an executable whose file carries a capability or a set-id bit."""
    from .model import ExecFile

    if info is None or not (info.setid or (info.caps and info.caps.permitted)):
        return None
    caps = info.caps or FileCaps()
    return ExecFile(path, info.mode, caps.permitted, caps.inheritable, caps.effective)


def exec_files(lookup, executables, programs=()) -> tuple:
    """The run's executables (model.Executable: path, resolved) and other programs (the
    entrypoint a failed start never exec'd; a bare name is looked up on DEFAULT_PATH) ->
    ExecFiles of those that carry a file capability or a set-id bit. lookup(path) ->
    FileInfo | None reads one file (symlinks are followed here)."""
    wanted: dict[str, str] = {}
    for e in executables:
        wanted.setdefault(e.path, e.resolved or e.path)
    for prog in programs:
        if prog and prog not in wanted:
            wanted[prog] = prog
    out = []
    for path, target in sorted(wanted.items())[:MAX_LOOKUPS]:
        if "*" in target or "{" in target:  # a normalised pattern: no single file
            continue
        candidates = [target] if target.startswith("/") else [f"{d}/{target}" for d in DEFAULT_PATH]
        for c in candidates:
            info = follow(lookup, c)
            if info is not None:
                found = exec_file(c if not target.startswith("/") else path, info)
                if found is not None:
                    out.append(found)
                break
    return tuple(sorted(out, key=lambda f: f.path))
