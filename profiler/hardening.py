"""Hardening decisions of the run line: no-new-privileges, read-only root (with tmpfs mounts),
pids limit, user and network none, each with the evidence for or against it.

Pure: `Evidence` (what the merged recordings say) in, `Hardening` out. `reduce` builds the
evidence and stores the decisions in the Policy, so that the run, compose and k8s renderers say
the same thing. Each decision is one function of the evidence; the rules, and why, are in
docs/emit.md ("Hardened run line").
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

from .model import FileAccess, PrivilegedExec

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
# docker run options that publish ports: docker refuses them for a container without a network.
PUBLISH_OPTIONS = frozenset({"publish", "p", "expose"})

PIDS_FLOOR = 32  # leaves room for `docker exec` shells and short load spikes

# A --user value passed through as given: a name or number, optionally :group.
_USER_VALUE = re.compile(r"^[A-Za-z0-9_.-]+(:[A-Za-z0-9_.-]+)?$")


@dataclass(frozen=True)
class Evidence:
    """What the merged recordings say that the decisions read (all runs together)."""

    uids: tuple[int, ...] = ()  # sorted
    gids: tuple[int, ...] = ()  # sorted
    executables: tuple[str, ...] = ()  # normalize_path patterns, sorted
    capabilities: tuple[str, ...] = ()  # "CAP_CHOWN", ... granted at least once, sorted
    sockets: tuple[tuple[str, str], ...] = ()  # (family, type)
    listening: tuple[tuple[str, str, int], ...] = ()  # (family, address, port)
    connects: tuple[tuple[str, str, int], ...] = ()
    peak_tasks: int = 0
    run_options: tuple[tuple[str, str], ...] = ()  # the recording's, minus the ones we decide
    image_user: str = ""  # the image's USER
    # Every file access of every run as recorded, not normalised: a tmpfs is mounted on a real
    # directory, and a pattern would hide which files the app created.
    files: tuple[FileAccess, ...] = ()
    # Execs that changed credentials or met a set-id file (every run), and whether every run
    # observed execs' credentials at all (False: judge set-id programs by their name).
    privileged_execs: tuple[PrivilegedExec, ...] = ()
    exec_credentials_seen: bool = False


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


def decide(ev: Evidence) -> Hardening:
    """Every hardening decision for the evidence."""
    read_only_decision, tmpfs = read_only(ev)
    return Hardening(
        no_new_privileges=no_new_privileges(ev),
        read_only=read_only_decision,
        tmpfs=tmpfs,
        pids_limit=pids_limit(ev),
        user=user(ev),
        network_none=network_none(ev),
    )


# --- no-new-privileges -----------------------------------------------------------------------

def privilege_gains(ev: Evidence) -> list[str]:
    """The execs that gained privilege (or ran a set-id file from a caller not seen),
    described: no-new-privileges would have stopped each of them."""
    return sorted({p.summary() for p in ev.privileged_execs
                   if p.gained or (p.before is None and p.file_mode & 0o6000
                                   and not p.not_honoured)})


def no_new_privileges(ev: Evidence) -> Decision:
    gains = privilege_gains(ev)
    if gains:
        return Decision(False, "", "the app relied on a privilege-gaining exec, which "
                                   "no-new-privileges blocks: " + "; ".join(gains[:3])
                        + (f" (+{len(gains) - 3} more)" if len(gains) > 3 else ""))
    setid = sorted(e for e in ev.executables if posixpath.basename(e) in SETID_PROGRAMS)
    if setid and not ev.exec_credentials_seen:  # credentials not observed: judge by name
        return Decision(False, "", f"ran {', '.join(setid)}: set-uid/set-gid or file-capability "
                                   f"programs gain privilege at exec, which no-new-privileges "
                                   f"blocks")
    if ev.uids and 0 not in ev.uids and ev.capabilities:
        return Decision(False, "", "a non-root process used " + ", ".join(ev.capabilities) +
                        ": without root those come from file capabilities or set-uid exec, "
                        "which no-new-privileges disables")
    shown = ", ".join(sorted(ev.executables)[:4]) + (" ..." if len(ev.executables) > 4 else "")
    seen = ("no exec gained privilege (every exec's credentials were observed)"
            if ev.exec_credentials_seen else "no set-uid/set-gid or file-capability program was run")
    return Decision(True, "", f"{seen} (executables: {shown or 'none recorded'}); uid changes, "
                              f"if any, were setuid()/setgid() calls, which it allows")


# --- read-only root and tmpfs ----------------------------------------------------------------

def read_only(ev: Evidence) -> tuple[Decision, tuple[tuple[str, str], ...]]:
    """--read-only, and the tmpfs mounts (directory, options) that the app's writes need."""
    kinds = _kinds_by_path(ev.files)
    written = _written(kinds, ev.run_options)
    if not written:
        return Decision(True, "", "no write outside /proc, /sys, /dev and mounted volumes"), ()
    tops, refusal = _tmpfs_tops(written)
    if refusal:
        return Decision(False, "", refusal), ()
    hidden, executes = _hidden_and_executed(kinds, tops)
    if hidden:
        p, d = min(hidden)
        return Decision(False, "", f"{p!r} is used but not created by the app: a tmpfs "
                                   f"on {d} would hide the image's copy"), ()
    owner = _tmpfs_owner(ev.uids, ev.gids)
    tmpfs = tuple((d, ",".join(owner + (["exec"] if d in executes else []))) for d in tops)
    return (Decision(True, "", "all writes are below " + ", ".join(tops) + " (files the app "
                     "created itself): tmpfs mounts there, the rest read-only"), tmpfs)


def _kinds_by_path(files: tuple[FileAccess, ...]) -> dict[str, frozenset[str]]:
    """path -> the access kinds that succeeded there in any run (a move onto a path that was
    missing counts as creating it, see MOVE_KINDS)."""
    out: dict[str, frozenset[str]] = {}
    kind_sets: dict[tuple[str, ...], frozenset[str]] = {}  # a handful of distinct kind tuples
    for f in files:
        if f.ok:
            ok = kind_sets.get(f.ok)
            if ok is None:
                ok = kind_sets[f.ok] = frozenset(f.ok)
            if f.failed and not MOVE_KINDS.isdisjoint(ok):
                ok |= {"create"}
            old = out.get(f.path)
            out[f.path] = ok if old is None else old | ok
    return out


def _written(kinds: dict[str, frozenset[str]], run_options) -> list[str]:
    """The written paths a read-only root would refuse, sorted: not below Docker's own mounts,
    its /etc files or the recording's volumes."""
    mounts = _under_any(_OWN_MOUNTS + tuple(_option_targets(run_options)))

    def exempt(p: str) -> bool:
        return p in _DOCKER_FILES or mounts(p)

    writes = {ok: not WRITE_KINDS.isdisjoint(ok) for ok in set(kinds.values())}
    return sorted(p for p, ok in kinds.items() if writes[ok] and not exempt(p))


def _tmpfs_tops(written: list[str]) -> tuple[list[str], str]:
    """The outermost directories to mount a tmpfs on for the written paths, sorted, or
    ([], the reason none can serve)."""
    anchors: set[str] = set()
    in_tmpfs_root = _under_any(TMPFS_ROOTS)
    for p in written:
        if not in_tmpfs_root(p):
            return [], (f"writes {p!r}, outside the places a tmpfs can serve "
                        f"({', '.join(TMPFS_ROOTS)}): keep the root writable "
                        f"or mount a volume there")
        anchors.add(_anchor(p))
    tops = sorted(a for a in anchors if not any(b != a and _under(a, b) for b in anchors))
    for d in tops:
        if not _safe_dir(d):
            return [], f"a written directory has characters a --tmpfs option cannot carry: {d!r}"
    if len(tops) > MAX_TMPFS:
        return [], (f"writes in {len(tops)} directories (more than {MAX_TMPFS}): "
                    f"a read-only root would need too many tmpfs mounts")
    return tops, ""


def _hidden_and_executed(kinds: dict[str, frozenset[str]], tops: list[str]) \
        -> tuple[list[tuple[str, str]], set[str]]:
    """(path, tmpfs directory) for each file below a tmpfs the app used without creating it (a
    tmpfs hides what the image has there), and the tmpfs directories something ran from."""
    top_set = set(tops)
    executes: set[str] = set()
    hidden: list[tuple[str, str]] = []
    made_dirs = {p for p, ok in kinds.items() if "mkdir" in ok}
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

    for p, ok in kinds.items():
        d, in_made_dir = top_of(p.rpartition("/")[0])  # dirname, but "" for "/" (same here)
        if d is None:
            continue
        # Every file the app used below d must have been created by the app itself during the
        # run (or lie in a directory it made).
        if CREATE_KINDS.isdisjoint(ok) and not in_made_dir:
            hidden.append((p, d))
        if "execute" in ok:
            executes.add(d)
    return hidden, executes


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


# --- pids limit, user, network ---------------------------------------------------------------

def pids_limit(ev: Evidence) -> Decision:
    peak = ev.peak_tasks
    if peak <= 0:
        return Decision(False, "", "the peak task count was not recorded")
    limit = max(PIDS_FLOOR, 2 * peak)
    return Decision(True, str(limit), f"peak {peak} tasks seen; limit max({PIDS_FLOOR}, 2 x peak)")


def user(ev: Evidence) -> Decision:
    uids, gids = ev.uids, ev.gids
    if not uids:
        return Decision(False, "", "no uid was recorded")
    if 0 in uids:
        return Decision(False, "", f"processes ran as root (uids seen: "
                                   f"{', '.join(map(str, uids))})")
    opt_user = next((v for k, v in ev.run_options if k in ("user", "u")), "")
    gains = privilege_gains(ev)
    root = ("the app ran as non-root and gained privilege only through set-id execs, which "
            "keep working under --user: " + "; ".join(gains[:3])) if gains \
        else "the app never ran as root"
    for value, what in ((opt_user, "the user the recording ran with"),
                        (ev.image_user, "the image's USER")):
        if value and _USER_VALUE.match(value) and value.split(":")[0] not in ("root", "0"):
            return Decision(True, value, f"{what}; {root} "
                                         f"(uids seen: {', '.join(map(str, uids))})")
    if len(uids) == 1:
        value = f"{uids[0]}:{gids[0]}" if len(gids) == 1 else str(uids[0])
        return Decision(True, value, f"the only uid seen; {root}")
    return Decision(False, "", f"several non-root uids seen ({', '.join(map(str, uids))}) and "
                               f"no image USER to name")


def network_none(ev: Evidence) -> Decision:
    """--network none when only local sockets were used; the recording's published ports are
    then dropped from the run line (nothing listened on them), which the evidence says."""
    families = sorted({f for f, _ in ev.sockets} | {e[0] for e in ev.listening + ev.connects})
    remote = [f for f in families if f not in _LOCAL_FAMILIES]
    if remote:
        ports = ", ".join(f"[{a}]:{p}" if ":" in a else f"{a}:{p}" for _, a, p in ev.listening)
        return Decision(False, "", f"opened {', '.join(remote)} sockets"
                                   + (f" (listening on {ports})" if ports else ""))
    evidence = "opened no network socket" + (f" (only {', '.join(families)})" if families else "")
    if any(k in PUBLISH_OPTIONS for k, _ in ev.run_options):
        evidence += "; published ports dropped"
    return Decision(True, "none", evidence)
