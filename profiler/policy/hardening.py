"""Hardening decisions of the run line: no-new-privileges, read-only root (with tmpfs mounts),
pids limit, user and network none, each with the evidence for or against it and what it
assumes about the app beyond the training run.

A training run is thinner than production: a smoke test uploads small bodies that stay in
memory, production uploads large ones spooled to /tmp; it opens a few connections where
production opens hundreds. So by default each decision asks "what would the app do tomorrow
that it did not do today?" and leaves room for it where that costs little: a read-only root
always gets a tmpfs on the temp directories and the app's home, a pids limit carries headroom
over the peak seen, --network none is not applied to an app that was meant to serve or that
prepared name resolution. `strict=True` (emit --strict) keeps the tight rules: exactly what the
run did. Every Decision says what it assumes (`assumption`), and the renderers print it.

Pure: `Evidence` (what the merged recordings say) in, `Hardening` out. `reduce` builds the
evidence and stores the decisions in the Policy, so that the run, compose and k8s renderers say
the same thing. Each decision is one function of the evidence; the rules, and why, are in
docs/emit.md ("Hardened run line").
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

from ..recording.model import ExecFile, FileAccess, PrivilegedExec
from ..recording.run_options import PUBLISH as PUBLISH_OPTIONS

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
# Files glibc's resolver reads before a DNS or hosts lookup (resolv.conf(5), nsswitch.conf(5),
# gai.conf(5)): an app that read them meant to resolve names, so it expects a network.
# (nsswitch.conf is left out: getpwnam() reads it too, for user names, not hosts.)
_RESOLVER_FILES = frozenset({"/etc/resolv.conf", "/etc/hosts", "/etc/gai.conf",
                             "/etc/host.conf"})

# --pids-limit. Tasks are processes and threads. strict: max(32, 2 x peak), room for `docker
# exec` shells and short spikes. Default: max(64, 4 x peak): a worker-per-connection or
# thread-pool app grows with concurrency, which a training run rarely drives to production's
# level; four times the peak seen still stops a fork bomb (it is a limit, not a reservation).
PIDS_FLOOR = 32
PIDS_FACTOR = 2
PIDS_FLOOR_ROBUST = 64
PIDS_FACTOR_ROBUST = 4

# Where every app may write under load although the training run did not: the FHS 3.0 temp
# directories (/var/run is a symlink to /run in Debian and most images, so /run covers it).
# With a read-only root each gets a tmpfs (unless strict), and so do $TMPDIR and the app's home.
TEMP_DIRS = ("/tmp", "/var/tmp", "/run")

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
    # $TMPDIR and $HOME of the container's environment, when the recording has their values
    # ("" when unset or not recorded); home is /root for an app that ran as root.
    tmpdir: str = ""
    home: str = ""
    # Every file access of every run as recorded, not normalised: a tmpfs is mounted on a real
    # directory, and a pattern would hide which files the app created.
    files: tuple[FileAccess, ...] = ()
    # Execs that changed credentials or met a set-id file (every run), and whether every run
    # observed execs' credentials at all (False: judge set-id programs by their name).
    privileged_execs: tuple[PrivilegedExec, ...] = ()
    exec_credentials_seen: bool = False
    # Executables whose file carries a capability or a set-id bit, read from the file system
    # at record time (model.ExecFile; every run): the first exec (the entrypoint) included,
    # whose caller's credentials the recorder cannot see.
    exec_files: tuple[ExecFile, ...] = ()
    # The engine the run line is for ("docker" or "podman", metadata.engine): the two take
    # different tmpfs options (_tmpfs_owner).
    engine: str = "docker"


@dataclass(frozen=True)
class Decision:
    """A hardening option: whether the evidence supports it, its value, the evidence, and what
    it assumes about the app beyond the training run ("" when it assumes nothing: an option
    left out cannot break the app)."""

    apply: bool
    value: str
    evidence: str
    assumption: str = ""


@dataclass(frozen=True)
class Hardening:
    no_new_privileges: Decision
    read_only: Decision
    tmpfs: tuple[tuple[str, str], ...]  # (directory, docker tmpfs options or "")
    pids_limit: Decision
    user: Decision
    network_none: Decision
    # the tmpfs directories the runs did not write: temp directories and home, for tomorrow
    tmpfs_spare: tuple[str, ...] = ()


def decide(ev: Evidence, *, strict: bool = False) -> Hardening:
    """Every hardening decision for the evidence (strict: exactly what the runs did)."""
    read_only_decision, tmpfs, spare = read_only(ev, strict=strict)
    return Hardening(
        no_new_privileges=_assuming(no_new_privileges(ev), _NNP_ASSUMES),
        read_only=read_only_decision,
        tmpfs=tmpfs,
        tmpfs_spare=spare,
        pids_limit=pids_limit(ev, strict=strict),
        user=_assuming(user(ev), _USER_ASSUMES),
        network_none=network_none(ev, strict=strict),
    )


_NNP_ASSUMES = ("assumes nothing in the container ever needs a set-uid/set-gid or "
                "file-capability program (sudo, su, ping on old images), including a "
                "`docker exec` by an operator")
_USER_ASSUMES = ("assumes the app never needs root later: binding a port below 1024 without "
                 "NET_BIND_SERVICE, writing root-owned files of the image, a root-only code path")


def _assuming(d: Decision, assumption: str) -> Decision:
    """d with its assumption, when it is applied and says none itself."""
    if not d.apply or d.assumption:
        return d
    return Decision(d.apply, d.value, d.evidence, assumption)


# --- no-new-privileges -----------------------------------------------------------------------

def privilege_gains(ev: Evidence) -> list[str]:
    """The execs that gained privilege (or ran a set-id file from a caller not seen),
    described: no-new-privileges would have stopped each of them."""
    return sorted({p.summary() for p in ev.privileged_execs
                   if p.gained or (p.before is None and p.file_mode & 0o6000
                                   and not p.not_honoured)})


def no_new_privileges(ev: Evidence) -> Decision:
    nonroot = [u for u in ev.uids if u != 0]
    fcaps = [f for f in ev.exec_files if f.capabilities]
    if fcaps and nonroot:
        shown = "; ".join(f.summary() for f in fcaps[:3]) + (
            f" (+{len(fcaps) - 3} more)" if len(fcaps) > 3 else "")
        return Decision(False, "", f"a non-root user (uid {nonroot[0]}) ran programs with file "
                                   f"capabilities, which no-new-privileges strips at exec (they "
                                   f"would run without them): {shown}")
    gains = privilege_gains(ev)
    if gains:
        return Decision(False, "", "the app relied on a privilege-gaining exec, which "
                                   "no-new-privileges blocks: " + "; ".join(gains[:3])
                        + (f" (+{len(gains) - 3} more)" if len(gains) > 3 else ""))
    setid_files = [f.summary() for f in ev.exec_files if f.mode & 0o4000 and nonroot]
    if setid_files and not ev.exec_credentials_seen:  # the file says so, whatever its name
        return Decision(False, "", "a non-root user ran set-uid programs, which gain "
                                   "privilege at exec; no-new-privileges blocks that: "
                                   + "; ".join(setid_files[:3]))
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
    if fcaps:  # run as root: it keeps what --cap-add gives it, no-new-privileges or not
        seen += ("; programs with file capabilities ran as root only (" +
                 ", ".join(f.path for f in fcaps[:3]) + "): their capabilities stay in the "
                 "bounding set (--cap-add)")
    return Decision(True, "", f"{seen} (executables: {shown or 'none recorded'}); uid changes, "
                              f"if any, were setuid()/setgid() calls, which it allows")


# --- read-only root and tmpfs ----------------------------------------------------------------

_RO_ASSUMES = ("assumes the app writes nowhere but the tmpfs directories (anything else "
               "fails with EROFS); tmpfs contents are lost at restart, count against the "
               "container's memory, and are noexec unless marked exec")
_RO_ASSUMES_STRICT = ("assumes the app never writes outside the directories the training run "
                      "wrote (strict: no tmpfs for temp directories it did not use)")


def read_only(ev: Evidence, *, strict: bool = False
              ) -> tuple[Decision, tuple[tuple[str, str], ...], tuple[str, ...]]:
    """--read-only, the tmpfs mounts (directory, options) that the app's writes need plus
    (unless strict) the temp directories and home every app may write to under load, and
    which of those the run did not write."""
    kinds = _kinds_by_path(ev.files)
    written = _written(kinds, ev.run_options)
    assumes = _RO_ASSUMES_STRICT if strict else _RO_ASSUMES
    tops: list[str] = []
    executes: set[str] = set()
    if written:
        tops, refusal = _tmpfs_tops(written)
        if refusal:
            return Decision(False, "", refusal), (), ()
        hidden, executes = _hidden_and_executed(kinds, tops)
        if hidden:
            p, d = min(hidden)
            return Decision(False, "", f"{p!r} is used but not created by the app: a tmpfs "
                                       f"on {d} would hide the image's copy"), (), ()
    extra = [] if strict else _spare_dirs(ev, kinds, tops)
    owner = _tmpfs_owner(ev.uids, ev.gids, ev.engine)
    empty = list(PODMAN_EMPTY_TMPFS) if ev.engine == "podman" else []
    tmpfs = tuple((d, ",".join(owner + (["exec"] if d in executes else []) + empty))
                  for d in sorted(tops + extra))
    evidence = ("all writes are below " + ", ".join(tops) + " (files the app created itself)"
                if tops else "no write outside /proc, /sys, /dev and mounted volumes")
    if extra:
        evidence += "; tmpfs also on " + ", ".join(extra) + " (temp directories and home, " \
                    "where apps write under load)"
    return Decision(True, "", evidence + ": the rest read-only", assumes), tmpfs, tuple(extra)


def _spare_dirs(ev: Evidence, kinds: dict[str, frozenset[str]], tops: list[str]) -> list[str]:
    """The temp directories, $TMPDIR and home that get a tmpfs although the run did not write
    there, sorted: not below a tmpfs already chosen or a mounted volume, and none under which
    the app used a file of the image (a tmpfs would hide it)."""
    home = ev.home or ("/root" if 0 in ev.uids else "")
    candidates = {d.rstrip("/") or "/" for d in (*TEMP_DIRS, ev.tmpdir, home) if d}
    mounted = _under_any(_OWN_MOUNTS + tuple(_option_targets(ev.run_options)) + tuple(tops))
    image_files = [p for p, ok in kinds.items() if CREATE_KINDS.isdisjoint(ok)]
    out = []
    for d in sorted(candidates):
        if d == "/" or not d.startswith("/") or not _safe_dir(d) or mounted(d):
            continue
        if any(_under(d, c) for c in candidates if c != d):
            continue  # inside another candidate: that tmpfs covers it
        below = _under_any((d,))
        if any(below(p) for p in image_files):
            continue  # the app used the image's files there: keep them visible
        out.append(d)
    return out


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
        if key == "volume":
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


# Podman copies the image's files below a tmpfs directory into the tmpfs by default
# (`tmpcopyup`, podman v4.3.1 pkg/util/mountOpts.go; "notmpcopyup: Disable copying files from
# the image to the tmpfs", podman run --mount docs), Docker does not: the decisions above assume
# Docker's empty tmpfs (the app creates what it uses there). Copied files also break apps: crun
# 1.8.1 mounts the tmpfs with mode 1777 and copies the image's files in with their owners, and
# the kernel's fs.protected_regular (1 under systemd) then refuses even root an O_CREAT open of
# a file another user owns in a sticky world-writable directory. Seen on Debian 12 with Podman
# 4.3: nginx `open() "/var/log/nginx/error.log" failed (13: Permission denied)` (the image's
# www-data file). So a Podman tmpfs starts empty, as Docker's does.
PODMAN_EMPTY_TMPFS = ("notmpcopyup",)


def _tmpfs_owner(uids, gids, engine: str = "docker") -> list[str]:
    """tmpfs mount options that let the app's user write there. A tmpfs is owned by root (Docker
    keeps only the mode of the image's directory): a non-root app needs it as its own.

    Docker passes uid=/gid= to the kernel's tmpfs. Podman (4.3, Debian 12) refuses them
    ("unknown mount option": its pkg/util/mountOpts.go ProcessOptions accepts only rw/ro,
    [no]exec, [no]suid, [no]dev, propagation, size, mode, [no]tmpcopyup and U) and takes `U`
    instead, which it turns into uid=/gid= of the container's user when it creates the
    container (libpod/container_internal_common.go, `case "U"`, podman v4.3.1; Podman's
    docs/source/markdown/options/mount.md: "Set the uid and gid options for the tmpfs
    filesystem based on the UID and GID of the container"). The run line's --user is that
    user, so `U` does what Docker's uid=,gid= do. mode= works on both."""
    if not uids or 0 in uids:
        return []
    if len(uids) == 1:
        if engine == "podman":
            return ["U"]
        return [f"uid={uids[0]}"] + ([f"gid={gids[0]}"] if len(gids) == 1 else [])
    return ["mode=1777"]


# --- pids limit, user, network ---------------------------------------------------------------

def pids_limit(ev: Evidence, *, strict: bool = False) -> Decision:
    peak = ev.peak_tasks
    if peak <= 0:
        return Decision(False, "", "the peak task count was not recorded")
    floor, factor = (PIDS_FLOOR, PIDS_FACTOR) if strict else (PIDS_FLOOR_ROBUST, PIDS_FACTOR_ROBUST)
    limit = max(floor, factor * peak)
    return Decision(True, str(limit),
                    f"an estimate: peak {peak} tasks (processes and threads) seen; limit "
                    f"max({floor}, {factor} x peak)",
                    f"assumes the workload drove at least 1/{factor} of production's peak "
                    f"concurrency (threads count as tasks)")


def user(ev: Evidence) -> Decision:
    uids, gids = ev.uids, ev.gids
    if not uids:
        return Decision(False, "", "no uid was recorded")
    if 0 in uids:
        return Decision(False, "", f"processes ran as root (uids seen: "
                                   f"{', '.join(map(str, uids))})")
    opt_user = next((v for k, v in ev.run_options if k == "user"), "")
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


_NET_ASSUMES = ("assumes the app never opens a network connection: no DNS lookup, outbound "
                "request, metrics or health endpoint, on any code path")


def network_none(ev: Evidence, *, strict: bool = False) -> Decision:
    """--network none when only local sockets were used; the recording's published ports are
    then dropped from the run line (nothing listened on them), which the evidence says. Unless
    strict, not for an app that was published (meant to serve) or read the resolver's files
    (meant to look a name up): its training run did not reach the network code."""
    families = sorted({f for f, _ in ev.sockets} | {e[0] for e in ev.listening + ev.connects})
    remote = [f for f in families if f not in _LOCAL_FAMILIES]
    if remote:
        ports = ", ".join(f"[{a}]:{p}" if ":" in a else f"{a}:{p}" for _, a, p in ev.listening)
        return Decision(False, "", f"opened {', '.join(remote)} sockets"
                                   + (f" (listening on {ports})" if ports else ""))
    evidence = "opened no network socket" + (f" (only {', '.join(families)})" if families else "")
    published = [v for k, v in ev.run_options if k in PUBLISH_OPTIONS]
    if not strict:
        resolver = sorted({f.path for f in ev.files if f.path in _RESOLVER_FILES and f.ok})
        if published:
            return Decision(False, "", f"{evidence}, but the recording published "
                                       f"{', '.join(published)}: the app is meant to serve, and "
                                       f"the training run did not reach that code")
        if resolver:
            return Decision(False, "", f"{evidence}, but it read {', '.join(resolver)}: it "
                                       f"prepared a name lookup, so it expects a network")
    if published:
        evidence += "; published ports dropped"
    return Decision(True, "none", evidence, _NET_ASSUMES)
