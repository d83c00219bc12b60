"""Reduce one or more recordings to a `Policy`: the least privilege that covers all of them.

Pure: recordings in, a frozen model out; no files, no engine. Renderers (profiler/render/*)
turn the Policy into text. Merging is a union; what was seen in only some of the runs is kept in
`Policy.partial` so that `emit --explain` can point at a thin training workload.

The hardening decisions of the run line (no-new-privileges, read-only root, pids limit, user,
network) are made here, each with the evidence for or against it, so that the run, compose and
k8s renderers say the same thing. The rules are documented in docs/emit.md.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field

from . import syscalls as sctab
from .errors import PolicyError
from .model import ACCESS_KINDS, Recording
from .normalize import normalize_recording

# (syscall, argument) pairs whose recorded values become seccomp argument filters: small,
# enumerable sets with a fixed register position.
FILTERABLE_ARGS = {("socket", "domain"), ("personality", "persona"), ("clone", "flags")}

# Access kinds that change the file system (need a writable mount).
WRITE_KINDS = frozenset({"write", "append", "truncate", "create", "delete", "rename", "link",
                         "chmod", "chown", "mkdir"})
CREATE_KINDS = frozenset({"create", "mkdir"})
# A rename or link onto a path that an earlier access failed to find also made that path (the
# usual atomic write: write temp-1.rdb, rename it to dump.rdb). The recording does not say
# which end of a rename a path was, so a rename alone does not count.
MOVE_KINDS = frozenset({"rename", "link"})

# Where --read-only plus a tmpfs may be proposed: the FHS 3.0 places for variable and temporary
# data. A write anywhere else (/etc, /usr, /app, ...) keeps the root file system writable.
TMPFS_ROOTS = ("/tmp", "/var/tmp", "/run", "/var/run", "/var/log", "/var/cache", "/var/lib",
               "/var/spool", "/home", "/root", "/srv")
MAX_TMPFS = 8
# Separate mounts in every Docker container: --read-only does not affect them, and Docker
# bind-mounts /etc/hosts, /etc/hostname and /etc/resolv.conf writable.
_OWN_MOUNTS = ("/proc", "/sys", "/dev")
_DOCKER_FILES = frozenset({"/etc/hosts", "/etc/hostname", "/etc/resolv.conf"})

# Set-uid/set-gid programs of Debian bookworm (`find / -xdev -perm /6000` in
# profiler-base:bookworm and the nginx sample), plus the usual ones of other distributions
# (sudo, ping with file capabilities, pkexec, fusermount). Running one of them is the privilege
# gain no-new-privileges blocks.
SETID_PROGRAMS = frozenset({
    "unix_chkpwd", "gpasswd", "expiry", "newgrp", "chage", "chfn", "umount", "mount", "passwd",
    "chsh", "su", "sudo", "sudoedit", "ping", "ping6", "pkexec", "fusermount", "fusermount3",
    "ssh-keysign", "crontab", "wall", "write", "dotlockfile", "sg", "at", "traceroute6.iputils",
})

# Socket families that work inside `--network none` (no interface needed).
_LOCAL_FAMILIES = frozenset({"AF_UNIX", "AF_NETLINK"})

PIDS_FLOOR = 32  # leaves room for `docker exec` shells and short load spikes

# docker run options from the recording that the policy replaces (it decides these itself).
_MANAGED_OPTIONS = frozenset({"cap-add", "cap-drop", "security-opt", "privileged", "user",
                              "read-only", "network", "net", "pids-limit", "userns", "pid",
                              "ipc", "uts", "device", "group-add"})


@dataclass(frozen=True)
class FileRule:
    pattern: str  # normalize_path pattern: AppArmor glob syntax, specials escaped
    access: tuple[str, ...]  # access kinds that succeeded, model.ACCESS_KINDS order


@dataclass(frozen=True)
class ArgFilter:
    """Every value an argument took, in every run (the set is complete: no overflow)."""

    syscall: str
    arg: str
    index: int
    values: tuple[int, ...]


@dataclass(frozen=True)
class Decision:
    """A hardening option: whether the evidence supports it, its value, and the evidence."""

    apply: bool
    value: str
    evidence: str


@dataclass(frozen=True)
class Hardening:
    no_new_privileges: Decision
    read_only: Decision
    tmpfs: tuple[tuple[str, str], ...]  # (directory, docker tmpfs options or "")
    pids_limit: Decision
    user: Decision
    network_none: Decision


@dataclass(frozen=True)
class Partial:
    """An item seen in only some of the merged runs (1-based run numbers)."""

    kind: str  # "syscall", "capability", "file", "socket", "executable"
    item: str
    runs: tuple[int, ...]


@dataclass(frozen=True)
class Policy:
    name: str  # sanitised from the image: AppArmor profile, compose service and k8s names
    image: str  # what `docker run` should start
    command: tuple[str, ...]  # CMD override the recording ran with ("" = image default)
    arch: str
    runs: int
    syscalls: tuple[str, ...]  # names the app used (libseccomp names for arch)
    unnamed_syscalls: tuple[int, ...]  # numbers libseccomp has no name for (cannot be allowed)
    arg_filters: tuple[ArgFilter, ...]
    capabilities: tuple[str, ...]  # "CAP_CHOWN", ... granted at least once
    denied_capabilities: tuple[str, ...]  # checked and refused, never granted: not needed
    files: tuple[FileRule, ...]
    executables: tuple[str, ...]  # normalize_path patterns
    sockets: tuple[tuple[str, str], ...]  # (family, type)
    listening: tuple[tuple[str, str, int], ...]  # (family, address, port)
    connects: tuple[tuple[str, str, int], ...]
    uids: tuple[int, ...]
    gids: tuple[int, ...]
    peak_tasks: int
    run_options: tuple[tuple[str, str], ...]  # the recording's, minus the ones we decide
    hardening: Hardening
    partial: tuple[Partial, ...] = ()
    warnings: tuple[str, ...] = ()
    sources: tuple[str, ...] = field(default=())


# --------------------------------------------------------------------------------------------


def sanitize_name(image: str) -> str:
    """A name usable as AppArmor profile, compose service and Kubernetes object name: the image's
    last path component without tag or digest, lower case, [a-z0-9.-] only (RFC 1123)."""
    ref = image.split("@", 1)[0]
    last = ref.rsplit("/", 1)[-1]
    last = last.split(":", 1)[0]
    name = re.sub(r"[^a-z0-9.-]+", "-", last.lower())
    name = name.strip(".-")[:63].strip(".-")
    return name or "container"


def _image(rec: Recording) -> str:
    md = rec.metadata
    return md.image or (md.image_tags[0] if md.image_tags else "") or md.image_id


def _check_syscalls(rec: Recording, source: str) -> None:
    known = sctab.table(rec.metadata.arch)
    bad = sorted(s.name for s in rec.syscalls if s.name and s.name not in known)
    if bad:
        shown = ", ".join(bad[:5]) + (" ..." if len(bad) > 5 else "")
        raise PolicyError(
            f"{source}: syscall name(s) not known to libseccomp on {rec.metadata.arch}: {shown}",
            hint="the recording was edited by hand or made with a newer libseccomp; fix the names "
                 "or update libseccomp (python3-seccomp)")


def _arg_filters(recs: list[Recording]) -> tuple[ArgFilter, ...]:
    """Filters only where every run that made the syscall recorded the complete value set."""
    out = []
    for syscall, arg in sorted(FILTERABLE_ARGS):
        values: set[int] = set()
        index = None
        complete = True
        used = False
        for rec in recs:
            if syscall not in rec.syscall_names:
                continue
            used = True
            av = [a for a in rec.arguments if a.syscall == syscall and a.arg == arg]
            if len(av) != 1 or av[0].overflow or av[0].index < 0 or not av[0].values or \
                    (index is not None and av[0].index != index):
                complete = False
                break
            index = av[0].index
            values.update(av[0].values)
        if used and complete and index is not None:
            out.append(ArgFilter(syscall, arg, index, tuple(sorted(values))))
    return tuple(out)


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def _under_any(roots):
    """A test `path -> bool`: is path one of roots or below one (_under for many paths)."""
    exact = frozenset(roots)
    prefixes = tuple(r.rstrip("/") + "/" for r in roots)
    return lambda path: path in exact or path.startswith(prefixes)


def _option_targets(run_options) -> list[str]:
    """Mount targets of -v/--mount/--tmpfs options: writable whatever the root file system is."""
    out = []
    for key, value in run_options:
        if key in ("volume", "v"):
            parts = value.split(":")
            if len(parts) >= 2:
                out.append(parts[1])
            elif parts[0].startswith("/"):
                out.append(parts[0])
        elif key == "tmpfs":
            out.append(value.split(":", 1)[0])
        elif key == "mount":
            for kv in value.split(","):
                k, _, v = kv.partition("=")
                if k in ("target", "destination", "dst"):
                    out.append(v)
    return [t for t in out if t.startswith("/")]


def _safe_dir(d: str) -> bool:
    # docker --tmpfs takes DIR[:OPTIONS]; a ":" or "," in DIR, control characters or undecodable
    # bytes cannot be passed through safely.
    return not any(c in d for c in ":,\ufffd") and all(c.isprintable() for c in d)


def _anchor(path: str) -> str:
    """The directory to mount a tmpfs on for a write at path: the FHS temp dirs themselves, one
    level below /var/log, /var/cache, ... (the app's own directory), else the parent."""
    for root in ("/tmp", "/var/tmp", "/run", "/var/run"):
        if _under(path, root):
            return "/run" if root == "/var/run" else root
    for root in ("/var/log", "/var/cache", "/var/lib", "/var/spool", "/home", "/srv"):
        if path.startswith(root + "/"):
            rest = path[len(root) + 1:].split("/")
            return root + "/" + rest[0] if len(rest) > 1 else root
    return posixpath.dirname(path)


def _tmpfs_owner(uids, gids) -> list[str]:
    """tmpfs mount options that let the app's user write there. A tmpfs is owned by root (Docker
    keeps only the mode of the image's directory): a non-root app needs it as its own."""
    if not uids or 0 in uids:
        return []
    if len(uids) == 1:
        return [f"uid={uids[0]}"] + ([f"gid={gids[0]}"] if len(gids) == 1 else [])
    return ["mode=1777"]


def _read_only(recs: list[Recording], run_options, uids=(), gids=()) \
        -> tuple[Decision, tuple[tuple[str, str], ...]]:
    mounted = _option_targets(run_options)
    files: dict[str, frozenset[str]] = {}
    kind_sets: dict[tuple[str, ...], frozenset[str]] = {}  # a handful of distinct kind tuples
    for rec in recs:
        for f in rec.files:
            if f.ok:
                ok = kind_sets.get(f.ok)
                if ok is None:
                    ok = kind_sets[f.ok] = frozenset(f.ok)
                if f.failed and not MOVE_KINDS.isdisjoint(ok):
                    ok |= {"create"}  # see MOVE_KINDS
                old = files.get(f.path)
                files[f.path] = ok if old is None else old | ok

    mounts = _under_any(_OWN_MOUNTS + tuple(mounted))

    def exempt(p: str) -> bool:
        return p in _DOCKER_FILES or mounts(p)

    writes = {ok: not WRITE_KINDS.isdisjoint(ok) for ok in set(files.values())}
    written = sorted(p for p, ok in files.items() if writes[ok] and not exempt(p))
    if not written:
        return Decision(True, "", "no write outside /proc, /sys, /dev and mounted volumes"), ()
    anchors: set[str] = set()
    in_tmpfs_root = _under_any(TMPFS_ROOTS)
    for p in written:
        if not in_tmpfs_root(p):
            return Decision(False, "", f"writes {p!r}, outside the places a tmpfs can serve "
                                       f"({', '.join(TMPFS_ROOTS)}): keep the root writable "
                                       f"or mount a volume there"), ()
        anchors.add(_anchor(p))
    # Keep the outermost directories only.
    tops = sorted(a for a in anchors if not any(b != a and _under(a, b) for b in anchors))
    for d in tops:
        if not _safe_dir(d):
            return Decision(False, "", f"a written directory has characters a --tmpfs option "
                                       f"cannot carry: {d!r}"), ()
    if len(tops) > MAX_TMPFS:
        return Decision(False, "", f"writes in {len(tops)} directories (more than {MAX_TMPFS}): "
                                   f"a read-only root would need too many tmpfs mounts"), ()
    top_set = set(tops)
    executes: set[str] = set()
    hidden: list[tuple[str, str]] = []
    made_dirs = {p for p, ok in files.items() if "mkdir" in ok}
    # directory -> (the tmpfs top it lies in or None, whether a directory the app made lies on
    # the way up): one walk per directory, not per file.
    tops_of: dict[str, tuple[str | None, bool]] = {}

    def top_of(d: str) -> tuple[str | None, bool]:
        walked = []
        while d not in tops_of:
            if d in top_set:
                tops_of[d] = (d, False)
            elif d in ("/", ""):
                tops_of[d] = (None, False)
            else:
                walked.append(d)
                d = posixpath.dirname(d)
        top, made = tops_of[d]
        for w in reversed(walked):
            made = made or w in made_dirs
            tops_of[w] = (top, made)
        return tops_of[walked[0]] if walked else (top, made)

    for p, ok in files.items():
        d, in_made_dir = top_of(p.rpartition("/")[0])  # dirname, but "" for "/" (same here)
        if d is None:
            continue
        # A tmpfs hides what the image has there: every file the app used below d must have
        # been created by the app itself during the run (or lie in a directory it made).
        if CREATE_KINDS.isdisjoint(ok) and not in_made_dir:
            hidden.append((p, d))
        if "execute" in ok:
            executes.add(d)
    if hidden:
        p, d = min(hidden)
        return Decision(False, "", f"{p!r} is used but not created by the app: a tmpfs "
                                   f"on {d} would hide the image's copy"), ()
    owner = _tmpfs_owner(uids, gids)
    tmpfs = tuple((d, ",".join(owner + (["exec"] if d in executes else []))) for d in tops)
    return (Decision(True, "", "all writes are below " + ", ".join(tops) + " (files the app "
                     "created itself): tmpfs mounts there, the rest read-only"), tmpfs)


def _no_new_privileges(recs, executables: set[str], uids, capabilities) -> Decision:
    setid = sorted(e for e in executables if posixpath.basename(e) in SETID_PROGRAMS)
    if setid:
        return Decision(False, "", f"ran {', '.join(setid)}: set-uid/set-gid or file-capability "
                                   f"programs gain privilege at exec, which no-new-privileges "
                                   f"blocks")
    if uids and 0 not in uids and capabilities:
        return Decision(False, "", "a non-root process used " + ", ".join(capabilities) +
                        ": without root those come from file capabilities or set-uid exec, "
                        "which no-new-privileges disables")
    shown = ", ".join(sorted(executables)[:4]) + (" ..." if len(executables) > 4 else "")
    return Decision(True, "", f"no set-uid/set-gid or file-capability program was run "
                              f"(executables: {shown or 'none recorded'}); uid changes, if any, "
                              f"were setuid()/setgid() calls, which it allows")


def _user(recs, uids, gids, run_options) -> Decision:
    image_user = recs[0].metadata.container.user
    opt_user = next((v for k, v in run_options if k in ("user", "u")), "")
    if not uids:
        return Decision(False, "", "no uid was recorded")
    if 0 in uids:
        return Decision(False, "", f"processes ran as root (uids seen: "
                                   f"{', '.join(map(str, uids))})")
    ok = re.compile(r"^[A-Za-z0-9_.-]+(:[A-Za-z0-9_.-]+)?$")
    for value, what in ((opt_user, "the user the recording ran with"),
                        (image_user, "the image's USER")):
        if value and ok.match(value) and value.split(":")[0] not in ("root", "0"):
            return Decision(True, value, f"{what}; the app never ran as root "
                                         f"(uids seen: {', '.join(map(str, uids))})")
    if len(uids) == 1:
        value = f"{uids[0]}:{gids[0]}" if len(gids) == 1 else str(uids[0])
        return Decision(True, value, f"the only uid seen; the app never ran as root")
    return Decision(False, "", f"several non-root uids seen ({', '.join(map(str, uids))}) and "
                               f"no image USER to name")


def _network(sockets, listening, connects) -> Decision:
    families = sorted({f for f, _ in sockets} | {e[0] for e in listening + connects})
    remote = [f for f in families if f not in _LOCAL_FAMILIES]
    if remote:
        ports = ", ".join(f"[{a}]:{p}" if ":" in a else f"{a}:{p}" for _, a, p in listening)
        return Decision(False, "", f"opened {', '.join(remote)} sockets"
                                   + (f" (listening on {ports})" if ports else ""))
    return Decision(True, "none", "opened no network socket"
                    + (f" (only {', '.join(families)})" if families else ""))


def _pids(peak: int) -> Decision:
    if peak <= 0:
        return Decision(False, "", "the peak task count was not recorded")
    limit = max(PIDS_FLOOR, 2 * peak)
    return Decision(True, str(limit), f"peak {peak} tasks seen; limit max({PIDS_FLOOR}, 2 x peak)")


def _partial(kind: str, per_run: list[set[str]]) -> list[Partial]:
    n = len(per_run)
    if n < 2:
        return []
    seen: dict[str, list[int]] = {}
    for i, items in enumerate(per_run, 1):
        for it in items:
            seen.setdefault(it, []).append(i)
    return [Partial(kind, it, tuple(r)) for it, r in sorted(seen.items()) if len(r) < n]


def reduce(recordings: list[Recording], sources: list[str] | None = None) -> Policy:
    """Merge recordings (union) into a Policy. sources name them in messages."""
    if not recordings:
        raise PolicyError("no recording to emit from")
    sources = list(sources or [f"recording {i}" for i in range(1, len(recordings) + 1)])
    arches = sorted({r.metadata.arch for r in recordings})
    if len(arches) > 1:
        detail = ", ".join(f"{s}: {r.metadata.arch}" for s, r in zip(sources, recordings))
        raise PolicyError(f"recordings of different architectures cannot be merged ({detail})",
                          hint="emit one policy per architecture, from that architecture's "
                               "recordings")
    arch = arches[0]
    for rec, src in zip(recordings, sources):
        _check_syscalls(rec, src)
    raw = recordings
    recs = [normalize_recording(r, keep_counts=True) for r in recordings]
    first = recs[0]
    warnings: list[str] = []

    names_per_run = [{s.name for s in r.syscalls if s.name} for r in recs]
    syscall_names = sorted(set().union(*names_per_run))
    unnamed = sorted({s.number for r in recs for s in r.syscalls if not s.name})
    if unnamed:
        warnings.append(f"syscall number(s) {', '.join(map(str, unnamed))} have no libseccomp "
                        f"name on {arch}: a profile cannot allow them by name (update libseccomp)")

    caps_per_run = [{c.name for c in r.capabilities if c.granted > 0} for r in recs]
    capabilities = sorted(set().union(*caps_per_run))
    denied = sorted({c.name for r in recs for c in r.capabilities if c.denied > 0}
                    - set(capabilities))

    # path -> access kinds: the recording's own (already in ACCESS_KINDS order) when one run
    # has the path, a merged set otherwise (ordered below).
    if len(recs) == 1:  # the common case: normalised files are already sorted and unique
        file_rules = tuple(FileRule(f.path, f.ok) for f in recs[0].files if f.ok)
    else:
        files: dict[str, set[str]] = {}
        for r in recs:
            for f in r.files:
                if f.ok:
                    files.setdefault(f.path, set()).update(f.ok)
        file_rules = tuple(FileRule(p, tuple(k for k in ACCESS_KINDS if k in kinds))
                           for p, kinds in sorted(files.items()))
    files_per_run = [{f.path for f in r.files if f.ok} for r in recs] if len(recs) > 1 else []

    exec_per_run = [{e.path for e in r.processes.executables} for r in recs]
    executables = sorted(set().union(*exec_per_run))
    sock_per_run = [{(s.family, s.type) for s in r.network.sockets} for r in recs]
    sockets = sorted(set().union(*sock_per_run))
    listening = sorted({(e.family, e.address, e.port) for r in recs for e in r.network.listening})
    connects = sorted({(e.family, e.address, e.port) for r in recs for e in r.network.connects})
    uids = tuple(sorted({u for r in recs for u in r.processes.uids}))
    gids = tuple(sorted({g for r in recs for g in r.processes.gids}))
    peak = max(r.processes.peak_tasks for r in recs)

    images = sorted({_image(r) for r in recs})
    if len(images) > 1:
        warnings.append(f"the recordings are of different images ({', '.join(images)}); the "
                        f"policy covers them all and is named after the first")
    all_options = [r.metadata.container.run_options for r in recs]
    if any(o != all_options[0] for o in all_options):
        warnings.append("the recordings ran with different docker run options; the first "
                        "recording's are used")
    run_options = tuple((k, v) for k, v in all_options[0] if k not in _MANAGED_OPTIONS)
    for rec, src in zip(raw, sources):
        if rec.total_loss:
            lost = ", ".join(f"{k} {n}" for k, n in rec.loss if n)
            warnings.append(f"{src}: events were lost while recording ({lost}): the policy may "
                            f"miss what they held")
        if not rec.metadata.startup_observed:
            warnings.append(f"{src}: the container's start was not observed: start-up "
                            f"behaviour may be missing")

    read_only, tmpfs = _read_only(raw, run_options, uids, gids)
    network = _network(sockets, listening, connects)
    if network.apply and any(k in ("publish", "p", "expose") for k, _ in run_options):
        # Nothing listened on an IP socket: the recording's published ports served nothing, and
        # docker refuses to publish ports of a container without a network.
        run_options = tuple((k, v) for k, v in run_options if k not in ("publish", "p", "expose"))
        network = Decision(True, network.value, network.evidence + "; published ports dropped")
    hardening = Hardening(
        no_new_privileges=_no_new_privileges(recs, set(executables), uids, capabilities),
        read_only=read_only,
        tmpfs=tmpfs,
        pids_limit=_pids(peak),
        user=_user(recs, uids, gids, run_options),
        network_none=network,
    )
    partial = (_partial("syscall", names_per_run) + _partial("capability", caps_per_run)
               + _partial("executable", exec_per_run)
               + _partial("socket", [{f"{f} {t}" for f, t in s} for s in sock_per_run])
               + _partial("file", files_per_run))
    return Policy(
        name=sanitize_name(_image(first)),
        image=_image(first),
        command=first.metadata.command,
        arch=arch,
        runs=len(recs),
        syscalls=tuple(syscall_names),
        unnamed_syscalls=tuple(unnamed),
        arg_filters=_arg_filters(recs),
        capabilities=tuple(capabilities),
        denied_capabilities=tuple(denied),
        files=file_rules,
        executables=tuple(executables),
        sockets=tuple(sockets),
        listening=tuple(listening),
        connects=tuple(connects),
        uids=uids,
        gids=gids,
        peak_tasks=peak,
        run_options=run_options,
        hardening=hardening,
        partial=tuple(partial),
        warnings=tuple(warnings),
        sources=tuple(sources),
    )
