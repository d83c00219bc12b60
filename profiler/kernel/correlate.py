"""What the streamed events say about each slot's tasks, taken in the order they arrive: who
runs what (an EXEC; a FORK's child runs what its parent ran), the executable with symlinks
resolved (EXE_RESOLVED after its EXEC), set-uid/set-gid execs (a PRIVEXEC record just before
its EXEC, keyed by the path the EXEC resolved, or by the path as given when the EXEC was lost),
relative paths (fed to the path resolver), matched cgroups and the kernel's new slots.

Pure: it takes decoded records (wire.Event, wire.PrivExecEvent, or anything with their fields)
and needs no bcc and no root; the tracer's ring-buffer callback feeds it (kernel/tracer.py),
and the tests feed it by hand (tests/kernel/test_correlate.py).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Callable

from . import cgroups
from .pathres import PathResolver
from .wire import EventType, PrivExecFlag


@dataclass
class Seen:
    """What the events told about one slot's tasks."""

    execs: dict[bytes, int] = field(default_factory=dict)
    exe_of: dict[int, bytes] = field(default_factory=dict)  # tgid -> what it runs (exec, fork)
    # exec path -> the executable with symlinks resolved
    exe_resolved: dict[bytes, bytes] = field(default_factory=dict)
    privexecs: dict[tuple, int] = field(default_factory=dict)
    # first sightings (Tracer.note_first_seen): kind -> key -> ms since the tracer's start
    first: dict[str, dict] = field(default_factory=lambda: {
        "syscalls": {}, "caps": {}, "sockets": {}, "execs": {}})


def creds(c) -> tuple[int, int, int, int, int, int]:
    return (c.uid, c.euid, c.gid, c.egid, c.cap_effective, c.cap_permitted)


def privexec_key(p) -> tuple:
    """RawTrace.privexecs key: (path, before or None, after, flags, mode, file uid, file gid)."""
    before = creds(p.before) if p.flags & PrivExecFlag.BEFORE_KNOWN else None
    return (p.path, before, creds(p.after), int(p.flags), p.file_mode, p.file_uid, p.file_gid)


class Correlator:
    """Events in, per-slot facts out. `clock()`: ms since the tracer's start (first sightings
    of executables)."""

    def __init__(self, paths: PathResolver, clock: Callable[[], int]):
        self.paths = paths
        self._clock = clock
        self.seen: dict[int, Seen] = {}  # slot -> what its events told
        self.privexec_pending: dict[int, tuple] = {}  # tid -> (slot, a PRIVEXEC before its EXEC)
        self.cgroups: list[tuple[int, bytes]] = []  # (slot, v2 path) of each cgroup matched
        self.new_slots: list[tuple[int, str, bytes]] = []  # EV_SLOT: (slot, container id, path)
        self.unslotted: list[tuple[str, bytes]] = []  # EV_NOSLOT: (container id, path)

    def seen_in(self, slot: int) -> Seen:
        seen = self.seen.get(slot)
        if seen is None:
            seen = self.seen[slot] = Seen()
        return seen

    def privexec(self, p) -> None:
        """A PRIVEXEC record: kept until its EXEC (the next event of that thread) names the
        path."""
        self.privexec_pending[p.tid] = (p.slot, privexec_key(p))

    def event(self, e) -> None:
        seen = self.seen_in(e.slot)
        if e.type == EventType.FORK:  # the child's tid travels in `dirfd`
            self.paths.fork(e.tgid, e.tid, e.dirfd)
            if e.tgid in seen.exe_of:
                seen.exe_of.setdefault(e.dirfd, seen.exe_of[e.tgid])
        elif e.type == EventType.EXEC:  # a task starts counting here (entrypoint, docker exec)
            full = self.paths.exec(e.tgid, e.tid, e.path)
            seen.execs[full] = seen.execs.get(full, 0) + 1
            seen.first["execs"].setdefault(full, self._clock())
            seen.exe_of[e.tgid] = full
            pending = self.privexec_pending.pop(e.tid, None)
            if pending is not None:  # the path as resolved for the exec
                self.count_privexec(e.slot, (full,) + pending[1][1:])
        elif e.type == EventType.EXE_RESOLVED:  # follows its EXEC: same tgid
            used, real = seen.exe_of.get(e.tgid), e.path
            if used is not None and real.startswith(b"/") and real != used:
                seen.exe_resolved[used] = real
        elif e.type == EventType.FILE:
            self.paths.file_seen(e.tgid, e.tid, e.dirfd, e.path)
        elif e.type == EventType.CHDIR:
            self.paths.chdir(e.tgid, e.tid, e.dirfd, e.path)
        elif e.type == EventType.DIRFD:
            self.paths.dirfd_opened(e.tgid, e.tid, e.dirfd, e.path, e.aux)
        elif e.type == EventType.CGROUP:
            self.cgroups.append((e.dirfd, e.path))
        elif e.type == EventType.SLOT:  # record.c claim_slot: the kernel's new slot
            cid = cgroups.container_id_of(os.fsdecode(e.path)) or ""
            self.new_slots.append((e.slot, cid, e.path))
        elif e.type == EventType.NOSLOT:  # record.c claim_slot: every slot was taken
            cid = cgroups.container_id_of(os.fsdecode(e.path)) or ""
            self.unslotted.append((cid, e.path))

    def tasks(self) -> set[int]:
        """Every tid/tgid some per-task state is kept for (cwds, directory fds, what a process
        runs)."""
        out = self.paths.tasks()
        for seen in self.seen.values():
            out |= seen.exe_of.keys()
        return out

    def forget(self, gone: set[int]) -> None:
        """Drop the per-task state of tasks that exited, so that memory follows the tasks alive,
        not every task a long recording ever saw. What the recording reports (execs, resolved
        paths, privileged execs) is per slot and stays; so do PRIVEXEC records still waiting
        for their EXEC (rare: privexecs_of counts them)."""
        self.paths.forget(gone)
        for seen in self.seen.values():
            for tgid in gone & seen.exe_of.keys():
                del seen.exe_of[tgid]

    def count_privexec(self, slot: int, key: tuple) -> None:
        privexecs = self.seen_in(slot).privexecs
        privexecs[key] = privexecs.get(key, 0) + 1

    def privexecs_of(self, slot: int) -> dict[tuple, int]:
        """A slot's privileged execs for a snapshot: those counted, plus PRIVEXEC records still
        waiting for their EXEC (lost, or not yet written by the kernel), with the path as
        given. Reading changes nothing: a snapshot taken while the recording runs (record
        --snapshot-every) must not count an exec whose EXEC arrives after it under the wrong
        path, nor twice."""
        out = dict(self.seen_in(slot).privexecs)
        for s, key in self.privexec_pending.values():
            if s == slot:
                out[key] = out.get(key, 0) + 1
        return out
