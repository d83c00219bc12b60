"""Turn the tracer's RawTrace into the typed Recording (pure; unit-tested from fixtures).

Decisions made here, and why:
- Syscall names come from libseccomp for the recording's architecture; a number it does not
  know is kept by number (name "") rather than dropped.
- A compat call (i386 or x32 on an x86_64 host) is named from its own architecture's table and
  kept with that architecture, marked as not decoded (only counted: the recorder reads no
  argument or path of it). A note says so, since files it touched are missing.
- A capability check made with credentials other than the task's own (the tracepoint's cred is
  not the task's real_cred: overlayfs acts with its mounter's credentials on open, stat and
  copy-up) is not the app using a capability; the tracer counts those apart (caps_overridden)
  and they are reported in a note, never as needs. Where BTF is missing the tracer cannot tell,
  and the next rule is the fallback.
- A capability check that succeeded for a capability outside the container's bounding set
  cannot have used the app's own credentials: the kernel made it under overridden credentials
  (overlayfs checks with its mounter's creds on open and stat). Such grants are not the app's
  needs and are dropped; denied checks stay (they are often "noaudit" probes, e.g. mmap's
  vm_enough_memory asking for CAP_SYS_ADMIN, which emit does not treat as needs).
- A path keeps the file it named with symlinks resolved (`resolved`) where the kernel reported
  one that differs (opens and execs, see record.c KPATH): AppArmor mediates that one.
- An exec is a privilege gain when its euid or egid changed or capabilities were added
  (effective or permitted) between the execve's entry and the exec; a set-id file whose bit had
  no effect (no-new-privileges, a nosuid mount) is kept too, marked not honoured. Each becomes a
  note in record's summary.
- io_uring: the opcodes come from the kernel's io_uring tracepoints where the kernel has them;
  the recording says that io_uring was used and what it therefore lacks (iouring.not_seen).
- A noaudit check (the kernel choosing a code path: may this task use the admin memory reserve
  on mmap and exec, may it see another task's /proc fields) is not a need, granted or not; the
  tracer counts those apart (caps_probed; profiler/kernel/capsource.py says how each source tells
  them) and they are reported in a note.
- Where the tracer had no capability source, the metadata says so (capability_source "none")
  and the recording's capabilities list is empty: unknown, not "none needed".
- Paths are decoded as UTF-8; bytes that are not UTF-8 become U+FFFD (policy renderers refuse
  to turn such a name into a rule).
- A verify run's denials (build_denials) are decoded here too, next to the recording, so that
  verify reads names rather than the tracer's numbers; a denial is attributed to the
  executables of the processes it happened in ("(unknown)" when their exec was not seen).
- Traces of one service (its replicas, its restarts: one slot each, or the same slot) become one
  (merge_raw) before they become a recording: counts add up, sets and access bits unite, peaks
  and lengths are the largest, first sightings the earliest; every field has its rule.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass, fields, replace

from ..kernel import iouring, linux, syscalls
from .model import (
    ACCESS_KINDS, LOSS_KINDS, ArgValues, Capability, Credentials, Endpoint, Executable,
    FileAccess, IoUring, Metadata, Network, PrivilegedExec, Processes, Recording, SocketUse,
    Syscall, TIMELINE_KINDS, Timeline,
)
from ..kernel.wire import (ACCESS_BITS, ARG_NAMES, TRACER_LOSS, AddrKind, ArgIndex, PrivExecFlag,
                           RawTrace)

assert ACCESS_BITS == ACCESS_KINDS, "record.c access bits and the model must agree"


def _bits_to_kinds(bits: int) -> tuple[str, ...]:
    return tuple(k for i, k in enumerate(ACCESS_BITS) if bits & (1 << i))


def _decode(b: bytes) -> str:
    return b.decode("utf-8", errors="replace")


def decode_sockaddr(data: bytes) -> Endpoint | None:
    """A sockaddr as record.c keeps it (family-specific fixed-size prefix) -> Endpoint."""
    if len(data) < 2:
        return None
    family = struct.unpack_from("<H", data)[0]
    name = linux.family_name(family)
    if family == 2 and len(data) >= 8:
        port = struct.unpack_from(">H", data, 2)[0]
        return Endpoint(name, str(ipaddress.IPv4Address(data[4:8])), port)
    if family == 10 and len(data) >= 24:
        port = struct.unpack_from(">H", data, 2)[0]
        return Endpoint(name, str(ipaddress.IPv6Address(data[8:24])), port)
    if family == 1:
        path = data[2:].split(b"\0", 1)[0]
        return Endpoint(name, _decode(path), 0)
    return Endpoint(name, "", 0)


def _cap_names(bits: int) -> tuple[str, ...]:
    return tuple(linux.capability_name(c) for c in range(64) if bits >> c & 1)


def _credentials(c: tuple | None) -> Credentials | None:
    if c is None:
        return None
    uid, euid, gid, egid, eff, prm = c
    return Credentials(uid, euid, gid, egid, _cap_names(eff), _cap_names(prm))


def privileged_execs(raw: RawTrace) -> tuple[PrivilegedExec, ...]:
    """RawTrace.privexecs -> PrivilegedExec entries (same exec, same change: one entry)."""
    out: dict[tuple, int] = {}
    for (path, before, after, flags, mode, fuid, fgid), n in raw.privexecs.items():
        gained = before is not None and (
            before[1] != after[1] or before[3] != after[3]
            or bool(after[4] & ~before[4]) or bool(after[5] & ~before[5]))
        key = (path, before, after, mode, fuid, fgid, gained,
               bool(flags & PrivExecFlag.NOT_HONOURED))
        out[key] = out.get(key, 0) + n
    return tuple(PrivilegedExec(_decode(path), n, _credentials(after), _credentials(before),
                                mode & 0o7777, fuid, fgid, gained, blocked)
                 for (path, before, after, mode, fuid, fgid, gained, blocked), n in out.items())


def io_uring_use(raw: RawTrace, syscall_names) -> IoUring | None:
    """What the io_uring tracepoints saw, or None when the app used no io_uring."""
    if not raw.uring_ops and not raw.uring.get("rings") and not iouring.used(syscall_names):
        return None
    ops = tuple(sorted((iouring.opcode_name(op), n) for op, n in raw.uring_ops.items()))
    return IoUring(operations=ops, rings=raw.uring.get("rings", 0),
                   setup_flags=iouring.setup_flag_names(raw.uring.get("setup_flags", 0)),
                   sq_thread_submissions=raw.uring.get("sq_thread", 0),
                   files=raw.uring.get("files", 0), tracepoints=tuple(raw.uring_tracepoints),
                   not_seen=iouring.not_seen([o for o, _ in ops], raw.uring_tracepoints))


def _compat_syscalls(raw: RawTrace, notes: list[str]) -> list[Syscall]:
    errs: dict[tuple[str, int], dict[str, int]] = {}
    for (carch, nr, err), n in raw.compat_errnos.items():
        errs.setdefault((carch, nr), {})[linux.errno_name(err)] = n
    out = []
    for key in raw.compat_counts.keys() | errs.keys():
        carch, nr = key
        out.append(Syscall(syscalls.name_of(carch, nr), nr, raw.compat_counts.get(key, 0),
                           tuple(sorted(errs.get(key, {}).items())), arch=carch, decoded=False))
    for carch in sorted({s.arch for s in out}):
        names = sorted(s.key for s in out if s.arch == carch)
        shown = ", ".join(names[:8]) + (" ..." if len(names) > 8 else "")
        notes.append(f"{len(names)} {carch} (compat) syscall(s) counted: {shown}; their "
                     f"arguments and paths were not read, so files they touched are missing")
    return out


def build_recording(raw: RawTrace, metadata: Metadata,
                    cap_bounding: int | None = None) -> tuple[Recording, list[str]]:
    """RawTrace -> Recording, plus notes for the user about what was interpreted."""
    notes: list[str] = list(raw.notes)
    arch = raw.arch
    errs: dict[int, dict[str, int]] = {}
    for (nr, err), n in raw.errnos.items():
        errs.setdefault(nr, {})[linux.errno_name(err)] = n
    sysc = []
    for nr, count in raw.counts.items():
        name = syscalls.name_of(arch, nr)
        sysc.append(Syscall(name, nr, count, tuple(sorted(errs.get(nr, {}).items()))))
    # A syscall can fail before the enter probe counted it only if tracing started mid-call.
    for nr in errs.keys() - raw.counts.keys():
        sysc.append(Syscall(syscalls.name_of(arch, nr), nr, 0, tuple(sorted(errs[nr].items()))))
    sysc.extend(_compat_syscalls(raw, notes))

    caps = []
    for cap, (granted, denied) in raw.caps.items():
        if granted and cap_bounding is not None and not cap_bounding & (1 << cap):
            notes.append(f"{linux.capability_name(cap)}: {granted} check(s) passed under "
                         "overridden kernel credentials (e.g. overlayfs); not counted as a need")
            granted = 0
        caps.append(Capability(linux.capability_name(cap), cap, granted, denied))

    for cap, n in sorted(raw.caps_probed.items()):
        notes.append(f"{linux.capability_name(cap)}: {n} check(s) the kernel made only to choose "
                     "a code path (noaudit, e.g. the memory reserve on mmap and exec); not needs")

    for cap, n in sorted(raw.caps_overridden.items()):
        notes.append(f"{linux.capability_name(cap)}: {n} check(s) made by the kernel under "
                     "substituted credentials (e.g. overlayfs); not the app's, not counted")

    args = []
    triples: dict[int, int] = {}
    for (nr, idx), values in raw.args.items():
        if idx == ArgIndex.SOCKET_TRIPLE:  # socket (domain, type, protocol) packed by record.c
            triples.update(values)
            continue
        name = syscalls.name_of(arch, nr) or f"__nr_{nr}"
        argname = ARG_NAMES.get((name, idx), f"arg{idx}")
        index = -1 if idx == ArgIndex.VIA_POINTER else idx
        args.append(ArgValues(name, argname, index, tuple(sorted(values))))

    real = raw.resolved  # path as used -> symlinks resolved, where the kernel said so
    writers = raw.writers  # path -> (uid, gid) of a non-root task that wrote there
    files = [FileAccess(_decode(p), _bits_to_kinds(ok), _bits_to_kinds(failed),
                        _decode(real[p]) if p in real else "",
                        "%d:%d" % writers[p] if p in writers else "")
             for p, (ok, failed) in raw.files.items()]

    merged: dict[tuple[str, str, int], int] = {}
    for t, n in triples.items():
        key = _socket_kind(t)
        merged[key] = merged.get(key, 0) + n
    sockets = [SocketUse(f, t, p, n) for (f, t, p), n in merged.items()]
    listening, connects = [], []
    for (kind, data), _n in raw.addrs.items():
        ep = decode_sockaddr(data)
        if ep is None:
            continue
        (listening if kind == AddrKind.BIND else connects).append(ep)

    execs = [Executable(_decode(p), n, _decode(real[p]) if p in real else "")
             for p, n in raw.execs.items()]
    privexecs = privileged_execs(raw)
    for p in privexecs:
        notes.append(p.summary())
    if not raw.creds_readable:
        notes.append("privilege changes at exec (set-uid, set-gid, file capabilities) were not "
                     "observed: this kernel's BTF lacks a struct cred offset the recorder needs")
    uring = io_uring_use(raw, {s.name for s in sysc})
    if uring is not None:
        shown = ", ".join(f"{o} x{n}" for o, n in uring.operations) or "none traced"
        notes.append(f"io_uring was used ({uring.rings} ring(s); operations: {shown}); "
                     "not seen: " + "; ".join(uring.not_seen or ("nothing else",)))
    loss = {k: raw.loss.get(k, 0) for k in raw.loss}
    rec = Recording(
        metadata=replace(metadata, capability_source=raw.cap_source),
        syscalls=tuple(sysc),
        arguments=tuple(args),
        capabilities=tuple(caps),
        files=tuple(files),
        network=Network(tuple(sockets), tuple(listening), tuple(connects)),
        processes=Processes(tuple(execs), raw.peak_tasks, tuple(raw.uids), tuple(raw.gids),
                            privexecs, raw.creds_readable),
        loss=tuple(sorted({**{k: 0 for k in LOSS_KINDS}, **loss}.items())),
        io_uring=uring,
        timeline=_timeline(raw, {s.number: s.key for s in sysc}),
    )
    return rec.canonical(), notes


# ---------------------------------------------------------------------------------------------
# one service's traces merged (replicas, restarts)
# ---------------------------------------------------------------------------------------------

def _add(values):
    return sum(values)


def _or(values):
    out = 0
    for v in values:
        out |= v
    return out


def _per_key(rule):
    """dict values merged key by key with `rule` (dicts missing a key do not take part)."""
    def merge(dicts):
        out: dict = {}
        for d in dicts:
            for k, v in d.items():
                out.setdefault(k, []).append(v)
        return {k: rule(vs) for k, vs in out.items()}
    return merge


def _per_item(rule):
    """tuples merged position by position with `rule`."""
    return lambda tuples: tuple(rule(vs) for vs in zip(*tuples))


def _first_wins(dicts):
    out: dict = {}
    for d in dicts:
        for k, v in d.items():
            out.setdefault(k, v)
    return out


def _ordered_union(seqs):
    return list(dict.fromkeys(x for seq in seqs for x in seq))


def _same(name):
    def merge(values):
        if len(set(values)) > 1:
            raise ValueError(f"traces of different {name}s cannot be merged: {sorted(set(values))}")
        return values[0]
    return merge


_TRACER_LOSS = frozenset(m.name.lower() for m in TRACER_LOSS)


def _loss(dicts):
    """Losses add up, but a tracer-wide one (every slot of a match-mode tracer carries the same
    count) is counted once."""
    return {k: (max if k in _TRACER_LOSS else _add)(vs) for k, vs in _per_key(list)(dicts).items()}


def _uring(dicts):
    return {k: (_or if k == "setup_flags" else _add)(vs)
            for k, vs in _per_key(list)(dicts).items()}


_ADD_PER_KEY = _per_key(_add)
# RawTrace field -> how the values of several traces become one. Every field has a rule (checked
# below), so a field added to RawTrace must say how it merges.
_MERGE = {
    "arch": _same("architecture"),
    "counts": _ADD_PER_KEY, "compat_counts": _ADD_PER_KEY, "compat_errnos": _ADD_PER_KEY,
    "errnos": _ADD_PER_KEY,
    "caps": _per_key(_per_item(_add)),
    "caps_overridden": _ADD_PER_KEY, "caps_probed": _ADD_PER_KEY,
    "cap_source": lambda values: values[0],  # a difference is noted (merge_raw)
    "args": _per_key(_ADD_PER_KEY),
    "files": _per_key(_per_item(_or)),
    "addrs": _ADD_PER_KEY,
    "privexecs": _ADD_PER_KEY,
    "creds_readable": all,
    "uring_ops": _ADD_PER_KEY,
    "uring": _uring,
    "uring_tracepoints": lambda seqs: tuple(_ordered_union(seqs)),
    "execs": _ADD_PER_KEY,
    "uids": lambda sets: set().union(*sets),
    "gids": lambda sets: set().union(*sets),
    "peak_tasks": max,
    "loss": _loss,
    "denied_calls": _ADD_PER_KEY, "denied_caps": _ADD_PER_KEY, "denied_compat": _ADD_PER_KEY,
    "erofs": _per_key(_or),
    "writers": _first_wins,
    "exe_of": _first_wins,
    "resolved": _first_wins,
    "notes": _ordered_union,
    "first_seen": _per_key(_per_key(min)),
    "duration_ms": max,
    "stop_ms": max,
}
assert set(_MERGE) == {f.name for f in fields(RawTrace)}, "every RawTrace field needs a merge rule"


def merge_raw(raws: list[RawTrace]) -> RawTrace:
    """Several traces of one service (replicas, restarts) as one: counts summed, sets and
    access bits united, peaks and durations the largest, first sightings the earliest."""
    if not raws:
        raise ValueError("nothing to merge")
    merged = RawTrace(**{name: rule([getattr(r, name) for r in raws])
                         for name, rule in _MERGE.items()})
    sources = _ordered_union([[r.cap_source] for r in raws])
    if len(sources) > 1:
        merged.notes.append(f"the merged traces saw capability checks from different sources "
                            f"({', '.join(sources)}); {sources[0]} is named")
    return merged


# ---------------------------------------------------------------------------------------------
# a recording resumed: an earlier run's recording and a later run's as one (record --resume)
# ---------------------------------------------------------------------------------------------

def _seconds_between(earlier: str, later: str) -> float:
    """Seconds from one ISO 8601 UTC time of a recording's metadata to another (0 if either
    is missing or unreadable: a time that cannot be placed is put at the start)."""
    from datetime import datetime

    try:
        a = datetime.strptime(earlier, "%Y-%m-%dT%H:%M:%SZ")
        b = datetime.strptime(later, "%Y-%m-%dT%H:%M:%SZ")
    except (TypeError, ValueError):
        return 0.0
    return max(0.0, (b - a).total_seconds())


def _by(items, key, merge):
    """Items of both recordings keyed by `key`; those with a key in both merged by `merge`."""
    out: dict = {}
    for item in items:
        k = key(item)
        out[k] = merge(out[k], item) if k in out else item
    return tuple(out.values())


def _kinds(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(k for k in ACCESS_KINDS if k in a or k in b)


def _merge_errnos(a, b):
    out = dict(a)
    for name, n in b:
        out[name] = out.get(name, 0) + n
    return tuple(sorted(out.items()))


def _merge_uring(a: IoUring | None, b: IoUring | None) -> IoUring | None:
    if a is None or b is None:
        return a or b
    ops = dict(a.operations)
    for op, n in b.operations:
        ops[op] = ops.get(op, 0) + n
    return IoUring(tuple(sorted(ops.items())), a.rings + b.rings,
                   tuple(_ordered_union([a.setup_flags, b.setup_flags])),
                   a.sq_thread_submissions + b.sq_thread_submissions, a.files + b.files,
                   tuple(_ordered_union([a.tracepoints, b.tracepoints])),
                   tuple(_ordered_union([a.not_seen, b.not_seen])))


def _merge_timeline(a: Timeline | None, b: Timeline | None, offset_ms: int) -> Timeline | None:
    """First sightings in ms from the earlier run's start: the later run's are moved by the
    time between the two starts (its first sightings of items the earlier run saw go)."""
    if b is not None:
        b = Timeline(b.duration_ms + offset_ms, b.stop_ms + offset_ms if b.stop_ms else 0,
                     *(tuple((k, ms + offset_ms) for k, ms in b.of(kind))
                       for kind in TIMELINE_KINDS))
    if a is None or b is None:
        return a or b
    kinds = []
    for kind in TIMELINE_KINDS:
        first = dict(b.of(kind))
        first.update(a.of(kind))  # the earlier sighting wins
        kinds.append(tuple(first.items()))
    return Timeline(max(a.duration_ms, b.duration_ms), b.stop_ms or a.stop_ms, *kinds)


def _merge_exec_files(a, b):
    if a is None or b is None:
        return a if b is None else b
    return tuple({f.path: f for f in (*a, *b)}.values())


def merge_recordings(earlier: Recording, later: Recording) -> Recording:
    """A recording resumed after a restart of profiler (record --resume): the earlier run's
    evidence and the later run's as one, by merge_raw's rules: counts add up, sets and access
    bits unite, peaks are the largest, first sightings the earliest (the later run's timeline
    is moved by the time between the two starts). Metadata is the later run's (the container
    as it is now), but for the start and whether it was observed, which are the earlier's, and
    the run options and CMD override, which an attach run does not know; `resumes` counts the
    runs merged after the first, `restarts` add up. The caller has checked that both recorded the same
    image (session/longrun.py)."""
    a, b = earlier.metadata, later.metadata
    if a.arch != b.arch:
        raise ValueError(f"recordings of different architectures cannot be merged: {a.arch}, {b.arch}")
    sources = {a.capability_source, b.capability_source}
    source = "none" if "none" in sources else a.capability_source
    # The container as it is now, but what only a run that started it knows (the docker run
    # options verify starts it with, a CMD override) from the earlier run, when it had them.
    container = replace(b.container, run_options=b.container.run_options or a.container.run_options)
    metadata = replace(
        b, container=container, command=b.command or a.command,
        started_at=a.started_at or b.started_at, resumes=a.resumes + b.resumes + 1,
        restarts=a.restarts + b.restarts, capability_source=source,
        startup_observed=a.startup_observed,
        tracer="per-syscall" if "per-syscall" in (a.tracer, b.tracer) else b.tracer,
        image_facts=b.image_facts if b.image_facts is not None else a.image_facts)
    pa, pb = earlier.processes, later.processes
    seen = {pa.exec_credentials_seen, pb.exec_credentials_seen} - {None}
    processes = Processes(
        executables=_by((*pa.executables, *pb.executables), lambda e: e.path,
                        lambda x, y: Executable(x.path, x.count + y.count,
                                                x.resolved or y.resolved)),
        peak_tasks=max(pa.peak_tasks, pb.peak_tasks),
        uids=tuple(sorted({*pa.uids, *pb.uids})), gids=tuple(sorted({*pa.gids, *pb.gids})),
        privileged_execs=_by((*pa.privileged_execs, *pb.privileged_execs),
                             lambda p: replace(p, count=0),
                             lambda x, y: replace(x, count=x.count + y.count)),
        exec_credentials_seen=all(seen) if seen else None,
        exec_files=_merge_exec_files(pa.exec_files, pb.exec_files))
    loss = dict(earlier.loss)
    for k, n in later.loss:
        loss[k] = loss.get(k, 0) + n
    na, nb = earlier.network, later.network
    offset_ms = int(_seconds_between(a.started_at, b.started_at) * 1000)
    rec = Recording(
        metadata=metadata,
        syscalls=_by((*earlier.syscalls, *later.syscalls), lambda s: (s.arch, s.number),
                     lambda x, y: Syscall(x.name or y.name, x.number, x.count + y.count,
                                          _merge_errnos(x.errnos, y.errnos), x.arch,
                                          x.decoded and y.decoded)),
        arguments=_by((*earlier.arguments, *later.arguments), lambda v: (v.syscall, v.index, v.arg),
                      lambda x, y: replace(x, values=tuple(sorted({*x.values, *y.values})),
                                           overflow=x.overflow + y.overflow)),
        capabilities=_by((*earlier.capabilities, *later.capabilities), lambda c: c.number,
                         lambda x, y: replace(x, granted=x.granted + y.granted,
                                              denied=x.denied + y.denied)),
        files=_by((*earlier.files, *later.files), lambda f: f.path,
                  lambda x, y: FileAccess(x.path, _kinds(x.ok, y.ok), _kinds(x.failed, y.failed),
                                          x.resolved or y.resolved, y.writer or x.writer)),
        network=Network(
            _by((*na.sockets, *nb.sockets), lambda s: (s.family, s.type, s.protocol),
                lambda x, y: replace(x, count=x.count + y.count)),
            tuple({*na.listening, *nb.listening}), tuple({*na.connects, *nb.connects})),
        processes=processes,
        loss=tuple(sorted(loss.items())),
        io_uring=_merge_uring(earlier.io_uring, later.io_uring),
        timeline=_merge_timeline(earlier.timeline, later.timeline, offset_ms),
        harvest=None,
    )
    return rec.canonical()


# Every field of a recording is merged above: a field added to Recording must say how.
assert {f.name for f in fields(Recording)} == {
    "metadata", "syscalls", "arguments", "capabilities", "files", "network", "processes",
    "loss", "schema_version", "io_uring", "timeline", "harvest"}, \
    "merge_recordings must merge every Recording field"


def _socket_kind(triple: int) -> tuple[str, str, int]:
    """record.c packs socket()'s (domain, type, protocol) into one argument value."""
    domain, stype, proto = triple >> 48, (triple >> 16) & 0xFFFFFFFF, triple & 0xFFFF
    return linux.family_name(domain), linux.sock_type_name(stype), proto


def _timeline(raw: RawTrace, syscall_keys: dict[int, str]) -> Timeline | None:
    """When each item was first seen (the tracer's samples), or None when it did not time."""
    first = raw.first_seen
    if not first:
        return None
    sockets: dict[str, int] = {}
    for triple, ms in first.get("sockets", {}).items():
        family, stype, _ = _socket_kind(triple)
        key = f"{family} {stype}"
        sockets[key] = min(ms, sockets.get(key, ms))
    return Timeline(
        duration_ms=raw.duration_ms,
        stop_ms=raw.stop_ms,
        syscalls=tuple((syscall_keys[nr], ms) for nr, ms in first.get("syscalls", {}).items()
                       if nr in syscall_keys),
        capabilities=tuple((linux.capability_name(c), ms)
                           for c, ms in first.get("caps", {}).items()),
        sockets=tuple(sockets.items()),
        executables=tuple((_decode(p), ms) for p, ms in first.get("execs", {}).items()),
    )


# ---------------------------------------------------------------------------------------------
# a verify run's denials
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DeniedSyscall:
    """Calls the seccomp filter refused (they reached sys_exit but never sys_enter)."""

    syscall: str  # the name, or "__nr_N" for a number libseccomp does not know
    errno: str  # "EPERM", "ENOSYS", ...
    count: int
    executables: tuple[str, ...]
    fix: str = ""  # what would allow it: verify's report fills it in (verify.analyze)


@dataclass(frozen=True)
class DeniedCapability:
    """Refused capability checks whose syscall then failed with EPERM or EACCES."""

    capability: str  # "CAP_SETUID"
    syscall: str
    count: int
    executables: tuple[str, ...]
    fix: str = ""


@dataclass(frozen=True)
class DeniedWrite:
    """Accesses to a path refused with EROFS (a read-only root file system)."""

    path: str
    access: tuple[str, ...]  # access kinds, in ACCESS_KINDS order
    fix: str = ""


@dataclass(frozen=True)
class Denials:
    """Each tuple sorted by its first fields (name, then errno or syscall; paths by their bytes)."""

    syscalls: tuple[DeniedSyscall, ...] = ()
    capabilities: tuple[DeniedCapability, ...] = ()
    writes: tuple[DeniedWrite, ...] = ()
    # Set-uid/set-gid execs whose bit the kernel did not honour (no-new-privileges, nosuid), as
    # PrivilegedExec.summary() lines: what verify names as the cause of a failure after them.
    unhonoured_setid: tuple[str, ...] = ()


def _executables(tgids: set[int], exe_of: dict[int, bytes]) -> tuple[str, ...]:
    return tuple(sorted({_decode(exe_of[t]) if t in exe_of else "(unknown)" for t in tgids}))


def _syscall_label(arch: str, nr: int) -> str:
    return syscalls.name_of(arch, nr) or f"__nr_{nr}"


def build_denials(raw: RawTrace) -> Denials:
    """The denials of a verify-mode RawTrace, per syscall (or capability) across processes."""
    calls: dict[tuple[str, int], tuple[int, set[int]]] = {}
    denied = [(_syscall_label(raw.arch, nr), err, tgid, n)
              for (nr, err, tgid), n in raw.denied_calls.items()]
    # A compat call (i386, x32) has its own numbers: named in its table, and as such.
    denied += [(f"{_syscall_label(arch, nr)} ({arch})", err, tgid, n)
               for (arch, nr, err, tgid), n in raw.denied_compat.items()]
    for name, err, tgid, n in denied:
        key = (name, err)
        cnt, tg = calls.get(key, (0, set()))
        calls[key] = (cnt + n, tg | {tgid})
    caps: dict[tuple[str, str], tuple[int, set[int]]] = {}
    for (nr, cap, tgid), n in raw.denied_caps.items():
        key = (linux.capability_name(cap), _syscall_label(raw.arch, nr))
        cnt, tg = caps.get(key, (0, set()))
        caps[key] = (cnt + n, tg | {tgid})
    return Denials(
        unhonoured_setid=tuple(sorted({p.summary() for p in privileged_execs(raw)
                                       if p.not_honoured})),
        syscalls=tuple(DeniedSyscall(name, linux.errno_name(err), n,
                                     _executables(tgids, raw.exe_of))
                       for (name, err), (n, tgids) in sorted(calls.items())),
        capabilities=tuple(DeniedCapability(cap, sc, n, _executables(tgids, raw.exe_of))
                           for (cap, sc), (n, tgids) in sorted(caps.items())),
        writes=tuple(DeniedWrite(_decode(path), _bits_to_kinds(bits))
                     for path, bits in sorted(raw.erofs.items())))
