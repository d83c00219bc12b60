"""Path resolution: turn the relative paths record.c streams into absolute ones (pure).

record.c keeps a relative path as (tgid, dirfd, path) and streams it once; what it is relative
to is known only in user space, followed here from the events of the ring buffer (which arrive in
order): each task's cwd (inherited on fork, set by chdir, read at its first exec) and each
process's directory fds (opened with O_DIRECTORY or O_PATH, handed to children on fork).

Why follow events rather than read /proc: a short-lived process is often gone before
/proc/PID/cwd could be read. /proc is the fallback only, for a task first seen without a fork
event (the entrypoint, a `docker exec`) or a directory fd whose event was lost; it is injected as
`proc_base(pid, dirfd)` so the tests need no /proc.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from .wire import AT_FDCWD

ProcBase = Callable[[int, int], bytes | None]


def proc_base(pid: int, dirfd: int) -> bytes | None:
    """What a live process's view says: its cwd (dirfd AT_FDCWD) or the target of its fd."""
    link = f"/proc/{pid}/cwd" if dirfd == AT_FDCWD else f"/proc/{pid}/fd/{dirfd}"
    try:
        target = os.readlink(link)
    except OSError:
        return None
    return os.fsencode(target) if target.startswith("/") else None


def join(base: bytes, rel: bytes) -> bytes:
    """`rel` seen from the directory `base`, normalised (no file system access)."""
    if not rel:
        return base  # AT_EMPTY_PATH: the fd itself
    if rel.startswith(b"/"):
        return rel
    return os.path.normpath(base.rstrip(b"/") + b"/" + rel) if base != b"/" else os.path.normpath(b"/" + rel)


class PathResolver:
    """Each task's cwd and each process's directory fds, fed by the tracer's events.

    `initial_cwd` is the cwd assumed for a task /proc no longer answers for (the container's
    working directory, or the directory exec mode started in)."""

    def __init__(self, initial_cwd: bytes, proc_base: ProcBase):
        self.initial_cwd = initial_cwd
        self._proc_base = proc_base
        self._cwd: dict[int, bytes] = {}  # tid -> cwd
        self._dirfds: dict[tuple[int, int], bytes] = {}  # (tgid, fd) -> directory
        self._resolved: dict[tuple[int, int, bytes], bytes] = {}  # file key -> absolute path

    # --- events -----------------------------------------------------------------------------
    def fork(self, parent_tgid: int, parent_tid: int, child: int) -> None:
        """The child starts in its parent's cwd, with its directory fds."""
        self._cwd[child] = self._cwd.get(parent_tid) or self._proc_cwd(parent_tid)
        for (tgid, fd), path in list(self._dirfds.items()):
            if tgid == parent_tgid:
                self._dirfds[(child, fd)] = path

    def exec(self, tgid: int, tid: int, path: bytes) -> bytes:
        """A task exec'd `path`: returns it absolute. A task first seen here (the entrypoint,
        a `docker exec`) has its cwd read from /proc."""
        if tid not in self._cwd:
            self._cwd[tid] = self._proc_cwd(tid)
        return path if path.startswith(b"/") else join(self._cwd[tid], path)

    def chdir(self, tgid: int, tid: int, dirfd: int, path: bytes) -> None:
        full = self._absolute(tgid, tid, dirfd, path)
        if full is not None:
            self._cwd[tid] = full

    def dirfd_opened(self, tgid: int, tid: int, dirfd: int, path: bytes, fd: int) -> None:
        """`fd` now names the directory `path`: later paths relative to it resolve."""
        full = self._absolute(tgid, tid, dirfd, path)
        if full is not None:
            self._dirfds[(tgid, fd)] = full

    def file_seen(self, tgid: int, tid: int, dirfd: int, rel: bytes) -> None:
        """A new relative file key: resolved now, while the process's view is the one it used."""
        full = self._absolute(tgid, tid, dirfd, rel)
        if full is not None:
            self._resolved[(tgid, dirfd, rel)] = full

    def tasks(self) -> set[int]:
        """The tids and tgids this resolver holds state for."""
        return set(self._cwd) | {tgid for tgid, _ in self._dirfds}

    def forget(self, gone: set[int]) -> None:
        """Tasks that exited: their cwd and directory fds go (a recording of days sees
        millions of short-lived tasks). Resolved file keys stay: the recording needs them."""
        for tid in gone & self._cwd.keys():
            del self._cwd[tid]
        for key in [k for k in self._dirfds if k[0] in gone]:
            del self._dirfds[key]

    # --- answers ----------------------------------------------------------------------------
    def file_key(self, tgid: int, dirfd: int, rel: bytes) -> bytes | None:
        """The absolute path of a relative file key: as resolved when it was streamed, else (its
        event was lost) from the process's view now; None when neither knows."""
        full = self._resolved.get((tgid, dirfd, rel))
        return full if full is not None else self.resolve(tgid, tgid, dirfd, rel)

    def resolve(self, tgid: int, tid: int, dirfd: int, rel: bytes) -> bytes | None:
        """`rel` relative to the task's cwd (dirfd AT_FDCWD) or to the process's `dirfd`."""
        if dirfd == AT_FDCWD:
            base = self._cwd.get(tid) or self._cwd.get(tgid) or self._proc_base(tgid, dirfd)
        else:
            base = self._dirfds.get((tgid, dirfd)) or self._proc_base(tgid, dirfd)
        return join(base, rel) if base is not None else None

    def _absolute(self, tgid: int, tid: int, dirfd: int, path: bytes) -> bytes | None:
        return path if path.startswith(b"/") else self.resolve(tgid, tid, dirfd, path)

    def _proc_cwd(self, tid: int) -> bytes:
        return self._proc_base(tid, AT_FDCWD) or self.initial_cwd
