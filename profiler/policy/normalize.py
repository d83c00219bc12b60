"""Normalisation: turn recorded paths into AppArmor-glob patterns with run-to-run noise removed.

One implementation serves emit (the patterns go into policy) and diff (two recordings of the same
behaviour must compare equal). Every rule is listed, with its reason, in docs/normalization.md;
tests/policy/test_normalize.py tests each one and that ordinary paths are left alone.

`normalize_path` returns AppArmor glob syntax: characters AppArmor's globbing treats specially are
backslash-escaped, and only the globs/variables this module inserts (`*`, `@{pid}`, `@{tid}`) are
live. Control characters and U+FFFD (undecodable bytes) are left as they are: the AppArmor
renderer rejects them, and diff shows them escaped.
"""

from __future__ import annotations

import re
from functools import lru_cache
from dataclasses import replace

from ..kernel.apparmor_syntax import PID, SPECIAL_RE, TID, escape
from ..recording.model import (ACCESS_KINDS, Capability, Endpoint, Executable, FileAccess, Network,
                               Processes, Recording, SocketUse)

# Directories where programs create temporary files (FHS 3.0: /tmp, /var/tmp; POSIX shm
# objects live in /dev/shm). Looser temp-name rules apply below these only.
TEMP_DIRS = ("/tmp", "/var/tmp", "/dev/shm")
_TEMP_PREFIXES = tuple(d + "/" for d in TEMP_DIRS)

_DIGITS = re.compile(r"[0-9]+")
_HEX64 = re.compile(r"(?<![0-9a-f])[0-9a-f]{64}(?![0-9a-f])")
# Python tempfile: prefix "tmp" + 8 chars of [a-z0-9_] + suffix (Lib/tempfile.py,
# _RandomNameSequence). 6-8 chars are accepted (older and hand-made variants), upper case too.
_PY_TEMP = re.compile(r"^tmp([A-Za-z0-9_]{6,8})(\..*)?$")
# mktemp(1)/mkstemp(3) templates with a dot before the X's: GNU mktemp's default is
# tmp.XXXXXXXXXX (10), glibc needs at least 6.
_DOT_TEMP = re.compile(r"^(.+\.)([A-Za-z0-9]{6,10})$")
# mkstemp(3) template without a separator, e.g. GNU sed -i's "sedXXXXXX" next to the edited file
# (sed/execute.c: ck_mkstemp(..., "sed", ...)): the last 6 characters are random.
_TAIL_TEMP = re.compile(r"^(.+?)([A-Za-z0-9]{6})$")


_RANDOMISH = re.compile(r"[0-9A-Z_]")


def _looks_random(s: str) -> bool:
    """True for a string that reads as random characters, not a word: at least 6 characters and
    a digit, or lower case together with an upper-case letter after the first position
    ("Makefile", "README" and "nginx" are words; "a8x2kq", "AbcDef" are not)."""
    if len(s) < 6:
        return False
    if any(c.isdigit() for c in s):
        return True
    return any(c.islower() for c in s) and any(c.isupper() for c in s[1:])


def _temp_name(name: str, in_temp_dir: bool) -> str | None:
    """The escaped pattern for a temp-file name, or None when `name` is not one."""
    if len(name) < 6 or not _RANDOMISH.search(name):
        return None  # every rule below needs 6+ characters with a digit, upper case or "_"
    m = _PY_TEMP.match(name) if name.startswith("tmp") else None
    if m:
        rand = m.group(1)
        # Python's alphabet includes "_": below a temp dir, an 8-character part of Python's
        # alphabet with "_" inside (not leading: "tmp_files" is a word) is random too.
        pythonish = in_temp_dir and len(rand) == 8 and "_" in rand[1:] and rand.islower()
        if _looks_random(rand) or pythonish:
            return "tmp*" + escape(m.group(2) or "")
    m = _DOT_TEMP.match(name) if _dot_suffix(name) else None
    if m and _looks_random(m.group(2)):
        return escape(m.group(1)) + "*"
    m = _TAIL_TEMP.match(name) if in_temp_dir or name.startswith("sed") else None
    if m and (in_temp_dir or m.group(1) == "sed"):
        rand = m.group(2)
        if _looks_random(rand) and any(c.isalpha() for c in rand):
            return escape(m.group(1)) + "*"
    return None


def _dot_suffix(name: str) -> bool:
    """6-11 characters after the last dot, which is not the first character: where _DOT_TEMP's
    random part can be (6-10 characters, and "$" also matches before a final newline)."""
    dot = name.rfind(".")
    return dot > 0 and 6 <= len(name) - dot - 1 <= 11


def _may_be_temp(name: str) -> bool:
    """Outside temp dirs, can _temp_name match? Only names starting "tmp" or "sed" or with a
    _dot_suffix can (its three rules): most names skip it."""
    return name.startswith(("tmp", "sed")) or _dot_suffix(name)


def _may_change(name: str) -> bool:
    """Could _name(name, False) differ from name? Temp names, special characters, 64-character
    ids, the empty name."""
    return _may_be_temp(name) or len(name) >= 64 or SPECIAL_RE.search(name) is not None \
        or not name


def _name(name: str, in_temp_dir: bool) -> str:
    """Escape one path component, replacing temp-name randomness and container ids by `*`."""
    if in_temp_dir or _may_be_temp(name):
        t = _temp_name(name, in_temp_dir)
        if t is not None:
            return t
    if len(name) < 64:
        return escape(name)
    pieces = _HEX64.split(name)
    return "*".join(escape(p) for p in pieces)


# Directory names repeat across paths; file names mostly do not (not cached: a cache that keeps
# missing costs more than the work).
_component = lru_cache(maxsize=65536)(_name)


def _collapse(path: str) -> str:
    # "//" and "/./" name the same file as "/" (a lexical identity; ".." is not, because of
    # symlinks, and is kept).
    if "//" in path:
        path = re.sub(r"/+", "/", path)
    while "/./" in path:
        path = path.replace("/./", "/")
    if path.endswith("/.") and len(path) > 2:
        path = path[:-1]
    return path


def normalize_path(path: str) -> str:
    """The AppArmor glob pattern for a recorded path (rules: docs/normalization.md)."""
    if not path.startswith("/"):
        return escape(path)
    # The common case, and the fast one: a path's directory repeats across many paths, so it is
    # normalised once (cached) and only the last component is new. This gives what the full
    # walk below gives: whether a component is below a temp dir depends only on the components
    # before it.
    head, _, name = path.rpartition("/")
    directory = _directory(head) if name != "." else None
    if directory is None:
        return _normalize_path(path)
    prefix, below_temp = directory
    return prefix + "/" + (_name(name, below_temp) if name else "")


# Paths whose rules look beyond one component, and so take the full walk.
_SPECIAL_HEADS = ("/proc/", "/dev/pts/")


@lru_cache(maxsize=65536)
def _directory(head: str) -> tuple[str, bool] | None:
    """For the paths head + "/" + NAME (NAME without "/" and not "."): the normalize_path of
    head, and whether NAME is below a temp dir. None when such paths need the full walk: a
    relative or top-level one, "//" or "/./" to collapse, /proc and /dev/pts (whose rules look
    at later components)."""
    d = head + "/"
    if not head.startswith("/") or "//" in d or "/./" in d or d.startswith(_SPECIAL_HEADS):
        return None
    below_temp = head in TEMP_DIRS or head.startswith(_TEMP_PREFIXES)
    return _normalize_path(head), below_temp


def _normalize_path(path: str) -> str:
    path = _collapse(path)
    parts = path.split("/")[1:]  # components after the leading "/"
    out: list[str] = []
    i = 0
    if len(parts) >= 2 and parts[0] == "proc":
        head = parts[1]
        if _DIGITS.fullmatch(head) or head == "self":
            out = ["proc", PID]
            i = 2
        elif head == "thread-self":
            # /proc/thread-self is a symlink to /proc/<pid>/task/<tid>; AppArmor mediates the
            # resolved path.
            out = ["proc", PID, "task", TID]
            i = 2
        if i and len(parts) > i + 1 and parts[i] == "task" and _DIGITS.fullmatch(parts[i + 1]):
            out += ["task", TID]
            i += 2
        if i and len(parts) > i + 1 and parts[i] in ("fd", "fdinfo") and \
                _DIGITS.fullmatch(parts[i + 1]):
            # File descriptor numbers depend on what else the process had open.
            out += [parts[i], "*"]
            i += 2
    elif len(parts) == 3 and parts[0] == "dev" and parts[1] == "pts" and \
            _DIGITS.fullmatch(parts[2]):
        return "/dev/pts/*"
    in_temp = path in TEMP_DIRS or path.startswith(_TEMP_PREFIXES)
    for k in range(i, len(parts)):
        # Below a temp dir means: not the temp dir's own name or its parents ("/", /var, /dev).
        below_temp = in_temp and k >= 1 and not (k == 1 and parts[0] in ("var", "dev"))
        out.append(_component(parts[k], below_temp) if parts[k] else "")
    return "/" + "/".join(out)


# --------------------------------------------------------------------------------------------
# Whole recordings
# --------------------------------------------------------------------------------------------


def _presence(n: int) -> int:
    """A count reduced to what is not noise: 0 (never) or 1 (at least once)."""
    return 1 if n > 0 else 0


def _kinds(kinds) -> tuple[str, ...]:
    s = set(kinds)
    return tuple(k for k in ACCESS_KINDS if k in s) + tuple(sorted(s - set(ACCESS_KINDS)))


def _merge_files(files) -> tuple[FileAccess, ...]:
    merged: dict[str, FileAccess] = {}
    canonical = {}  # kinds tuple -> already canonical? (a handful of distinct tuples)
    plain_dirs: dict[str, bool] = {}  # directory -> it is its own pattern, not below a temp dir
    for f in files:
        path = f.path
        # normalize_path's fast path, inlined for the 100,000s of paths of a big recording: a
        # plain name in a plain directory is its own pattern.
        head, _, name = path.rpartition("/")
        plain = plain_dirs.get(head)
        if plain is None:
            plain = plain_dirs[head] = _directory(head) == (head, False)
        if plain and name != "." and not _may_change(name):
            pattern = path
        else:
            pattern = normalize_path(path)
        seen = merged.get(pattern)
        if seen is None:  # the common case: one path, one pattern; its kinds stay as they are
            ok = canonical.get(f.ok)
            if ok is None:
                ok = canonical[f.ok] = _canonical_kinds(f.ok)
            failed = canonical.get(f.failed)
            if failed is None:
                failed = canonical[f.failed] = _canonical_kinds(f.failed)
            resolved = normalize_path(f.resolved) if f.resolved else ""
            if not ok or not failed:
                merged[pattern] = FileAccess(pattern, _kinds(f.ok), _kinds(f.failed), resolved)
            elif pattern == f.path and resolved == f.resolved:
                merged[pattern] = f  # the entry itself (most paths, 100,000s of them)
            else:
                merged[pattern] = FileAccess(pattern, f.ok, f.failed, resolved)
        else:
            # Paths that share a pattern share their resolved one too, but for temp names
            # that happen to resolve differently: the first one seen is kept.
            merged[pattern] = FileAccess(pattern, _kinds(seen.ok + f.ok),
                                         _kinds(seen.failed + f.failed),
                                         seen.resolved or (normalize_path(f.resolved)
                                                           if f.resolved else ""))
    return tuple(merged.values())  # sorted by Recording.canonical()


_KIND_INDEX = {k: i for i, k in enumerate(ACCESS_KINDS)}


@lru_cache(maxsize=4096)  # a handful of distinct kind tuples recur across all paths
def _canonical_kinds(kinds: tuple[str, ...]) -> bool:
    """Already in ACCESS_KINDS order without repeats (what recordings hold)?"""
    idx = [_KIND_INDEX.get(k, -1) for k in kinds]
    return all(i >= 0 for i in idx) and idx == sorted(set(idx))


def _endpoint(e: Endpoint) -> Endpoint:
    if e.address.startswith("/"):
        return replace(e, address=normalize_path(e.address))
    return e


def normalize_recording(rec: Recording, *, keep_counts: bool = False) -> Recording:
    """The recording with run-to-run noise removed (rules: docs/normalization.md).

    File and executable paths (and unix socket paths) become normalize_path patterns, and
    entries that now share a pattern are merged (access kinds unioned). Timestamps are cleared.
    Unless keep_counts, every count becomes presence (0 or 1) and peak_tasks 0, so that two
    recordings of the same behaviour are equal; with keep_counts merged counts are summed.
    """
    count = (lambda n: n) if keep_counts else _presence

    execs: dict[str, int] = {}
    exec_real: dict[str, str] = {}  # pattern -> resolved pattern (the first one seen)
    for e in rec.processes.executables:
        p = normalize_path(e.path)
        execs[p] = execs.get(p, 0) + e.count
        if e.resolved:
            exec_real.setdefault(p, normalize_path(e.resolved))
    sockets: dict[tuple, int] = {}
    for s in rec.network.sockets:
        k = (s.family, s.type, s.protocol)
        sockets[k] = sockets.get(k, 0) + s.count

    out = replace(
        rec,
        metadata=replace(rec.metadata, started_at="", ended_at=""),
        syscalls=tuple(
            replace(s, count=count(s.count), errnos=tuple((e, count(n)) for e, n in s.errnos))
            for s in rec.syscalls),
        arguments=tuple(replace(a, overflow=count(a.overflow)) for a in rec.arguments),
        capabilities=tuple(
            Capability(c.name, c.number, count(c.granted), count(c.denied))
            for c in rec.capabilities),
        files=_merge_files(rec.files),
        network=Network(
            sockets=tuple(SocketUse(f, t, p, count(n)) for (f, t, p), n in sockets.items()),
            listening=tuple(_endpoint(e) for e in rec.network.listening),
            connects=tuple(_endpoint(e) for e in rec.network.connects),
        ),
        processes=Processes(
            executables=tuple(Executable(p, count(n), exec_real.get(p, ""))
                              for p, n in execs.items()),
            peak_tasks=rec.processes.peak_tasks if keep_counts else 0,
            uids=rec.processes.uids,
            gids=rec.processes.gids,
            privileged_execs=rec.processes.privileged_execs,  # evidence, kept as recorded
            exec_credentials_seen=rec.processes.exec_credentials_seen,
            exec_files=rec.processes.exec_files,  # evidence, kept as recorded
        ),
    )
    return out.canonical()


__all__ = ["normalize_path", "normalize_recording", "TEMP_DIRS"]
