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

from ..recording.model import (ExecFile, FileAccess, ImageEntry, ImageFacts, Mount,
                               NetworkAttachment, PrivilegedExec)
from ..recording.run_options import PUBLISH as PUBLISH_OPTIONS

# Access kinds that run code from a file: an exec, or a mapping with PROT_EXEC (a native
# library unpacked into /tmp and loaded: snappy-java, JNI). A tmpfs under them needs `exec`.
EXEC_KINDS = frozenset({"execute", "map_exec"})
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
# FHS 3.0 places for state that must outlive a restart (/var/lib: "state information ...
# that persists between invocations"; /var/spool: data awaiting processing; /srv: the site's
# data; /home: users' files). A write there gets a named volume, never a tmpfs: a tmpfs loses
# it at every restart. (/tmp, /var/tmp, /run, /var/cache and /var/log may start empty.)
PERSISTENT_ROOTS = ("/var/lib", "/var/spool", "/srv", "/home")
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
# exec` shells and short spikes. Default: max(1024, 8 x peak, the recording's own limit): a
# worker-per-connection or thread-pool app grows with the connections production opens, up to
# what it is configured for, which a training run rarely reaches. The floor covers the stock
# configuration of common servers with room to spare: PostgreSQL's max_connections 100 (a
# process each), Apache's MaxRequestWorkers 150 (prefork) or 400 threads (event: ServerLimit
# 16 x ThreadsPerChild 25), Tomcat's maxThreads 200. Any finite limit still stops a fork bomb
# (it is a limit, not a reservation).
PIDS_FLOOR = 32
PIDS_FACTOR = 2
PIDS_FLOOR_ROBUST = 1024
PIDS_FACTOR_ROBUST = 8

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
    # What the image holds where the run line may mount (schema 1.8; None: not recorded, then
    # a tmpfs that would hide a file the app used is refused, as before 1.7).
    image_facts: ImageFacts | None = None
    # The container's mounts as the engine reported them (the first recording's).
    mounts: tuple[Mount, ...] = ()
    # Per run: (mount target, empty when the app started) of its volume and bind mounts, and
    # per run whether the recorder restarted the container (a later boot seen in that run).
    boots: tuple[tuple[tuple[str, bool], ...], ...] = ()
    restarted: tuple[bool, ...] = ()
    # The recorded container's name (the user's --name; "" when Docker chose it), network
    # mode, networks with aliases, and DNS settings.
    name: str = ""
    network_mode: str = ""
    networks: tuple[NetworkAttachment, ...] = ()
    dns: tuple[tuple[str, str], ...] = ()  # ("dns" | "dns-search" | "dns-option", value)


@dataclass(frozen=True)
class VolumeMount:
    """A volume (or the recording's bind mount) the run line mounts, and why.

    kind: "named" (a volume named after the container, `<name>-<slug of target>`: data kept
    across restarts and new containers), "anonymous" (seeded from the image, lives as long as
    the container, like its writable layer), "volume" (the recording's own named volume,
    `source`), "bind" (the recording's bind mount of `source`)."""

    target: str
    kind: str
    evidence: str
    source: str = ""
    read_only: bool = False
    # True: for the app's writes below the root (instead of a tmpfs); False: the image's VOLUME
    # or the recording's own mount (a compose project keeps those in its own file)
    for_writes: bool = False

    @property
    def slug(self) -> str:
        """The named volume's suffix: the target's path, [a-z0-9.-] only."""
        return re.sub(r"[^a-z0-9.]+", "-", self.target.lower()).strip("-.") or "root"


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
    # Volumes instead of a tmpfs, for the image's VOLUMEs and the recording's mounts (run
    # line, compose), whether or not the root is read-only.
    volumes: tuple[VolumeMount, ...] = ()
    # tmpfs directory -> why its options are what they are (owner, exec), for the comment
    tmpfs_why: tuple[tuple[str, str], ...] = ()
    # The recorded network carried (value: its name; not applied: Docker's default bridge, or
    # --network none decided), its aliases, networks docker run cannot join at once, DNS.
    network: Decision = Decision(False, "", "the default bridge network, as recorded")
    network_aliases: tuple[str, ...] = ()
    network_extra: tuple[str, ...] = ()
    dns: tuple[tuple[str, str], ...] = ()
    # The container name: value is the default of run.sh's PROFILER_NAME ("" none).
    name: Decision = Decision(False, "", "the recording did not name the container")
    # First boot vs later boots: applied when the runs covered both.
    boot: Decision = Decision(False, "", "")
    # Root in the container meets the app user's private files (a `docker exec` of an admin
    # tool, a later boot's entrypoint): value "CAP_DAC_OVERRIDE" when applied (not strict);
    # generalise.capabilities adds it to the policy.
    root_files: Decision = Decision(False, "", "")


def decide(ev: Evidence, *, strict: bool = False) -> Hardening:
    """Every hardening decision for the evidence (strict: exactly what the runs did)."""
    mounts = plan_mounts(ev, strict=strict)
    none = network_none(ev, strict=strict)
    net, aliases, extra, dns = network(ev, none)
    return Hardening(
        no_new_privileges=_assuming(no_new_privileges(ev), _NNP_ASSUMES),
        read_only=mounts.read_only,
        tmpfs=mounts.tmpfs,
        tmpfs_spare=mounts.spare,
        pids_limit=pids_limit(ev, strict=strict),
        user=_assuming(user(ev), _USER_ASSUMES),
        network_none=none,
        volumes=mounts.volumes,
        tmpfs_why=mounts.tmpfs_why,
        network=net,
        network_aliases=aliases,
        network_extra=extra,
        dns=dns,
        name=container_name(ev),
        boot=boot(ev),
        root_files=root_over_app_files(ev, strict=strict),
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


@dataclass(frozen=True)
class MountPlan:
    """read-only root or not, and what is mounted writable: tmpfs (directory, options) with
    why, spare tmpfs directories (not written in training), volumes."""

    read_only: Decision
    tmpfs: tuple[tuple[str, str], ...] = ()
    spare: tuple[str, ...] = ()
    volumes: tuple[VolumeMount, ...] = ()
    tmpfs_why: tuple[tuple[str, str], ...] = ()


def read_only(ev: Evidence, *, strict: bool = False
              ) -> tuple[Decision, tuple[tuple[str, str], ...], tuple[str, ...]]:
    """--read-only, the tmpfs mounts (directory, options) that the app's writes need plus
    (unless strict) the temp directories and home every app may write to under load, and
    which of those the run did not write (plan_mounts without its volumes)."""
    plan = plan_mounts(ev, strict=strict)
    return plan.read_only, plan.tmpfs, plan.spare


def plan_mounts(ev: Evidence, *, strict: bool = False) -> MountPlan:
    """Where the app writes, and what is mounted there: the image's VOLUMEs and the recording's
    own mounts stay volumes (data is never put on a tmpfs); below the root, a written directory
    gets a tmpfs when nothing of the image is there, an anonymous volume (a copy of the image's
    content) when something is, a named volume under PERSISTENT_ROOTS. The root is read-only
    when every write lands in one of them."""
    facts = ev.image_facts
    kinds = _kinds_by_path(ev.files)
    volumes = list(_data_volumes(ev))
    mounted_dirs = tuple(v.target for v in volumes) + tuple(_option_targets(ev.run_options))
    written = _written(kinds, ev.run_options, mounted_dirs)
    assumes = _RO_ASSUMES_STRICT if strict else _RO_ASSUMES
    tops: list[str] = []
    executes: set[str] = set()
    hidden_tops: set[str] = set()
    if written:
        tops, refusal = _tmpfs_tops(written)
        if refusal:
            return MountPlan(Decision(False, "", refusal), volumes=tuple(volumes))
        hidden, executes = _hidden_and_executed(kinds, tops)
        if hidden and facts is None:  # not known what else the image has there: keep it
            p, d = min(hidden)
            return MountPlan(Decision(False, "", f"{p!r} is used but not created by the app: "
                                                 f"a tmpfs on {d} would hide the image's copy"),
                             volumes=tuple(volumes))
        hidden_tops = {d for _, d in hidden}
    extra = [] if strict else _spare_dirs(ev, kinds, tops + list(mounted_dirs))
    empty = list(PODMAN_EMPTY_TMPFS) if ev.engine == "podman" else []
    tmpfs, why = [], []
    for d in sorted(tops + extra):
        spare = d not in tops
        persistent = _under_any(PERSISTENT_ROOTS)(d)
        content = _image_content(facts, d)
        if persistent:
            volumes.append(VolumeMount(d, "named", for_writes=True, evidence=(
                (f"the app wrote under {d}" if not spare else f"{d} is the app's home, not "
                 f"written in training") +
                f", a place for state that outlives a restart (FHS /var/lib, /var/spool, /srv, "
                f"/home): a tmpfs would lose it at every restart; a named volume keeps it "
                f"(Docker seeds it from the image's {d} when empty)")))
        elif content or d in hidden_tops:
            volumes.append(VolumeMount(d, "anonymous", for_writes=True, evidence=(
                (f"the image has {content} in {d}" if content else
                 f"the app used files of the image in {d}")
                + ": an empty tmpfs would hide them; an anonymous volume starts as Docker's "
                  "copy of them, keeps the root read-only, and lives as long as the container "
                  "(as its writable layer would)" + ("; not written in training" if spare
                                                     else ""))))
        else:
            owner, owner_why = _owner_for(ev, d, kinds)
            opts = owner + (["exec"] if d in executes else []) + empty
            tmpfs.append((d, ",".join(opts)))
            if owner_why:
                why.append((d, owner_why))
    tmpfs_dirs = [d for d, _ in tmpfs]
    anon = [v.target for v in volumes if v.kind in ("anonymous", "named")
            and (v.target in tops or v.target in extra)]
    evidence = ("all writes are below " + ", ".join(tops) + " (files the app created itself)"
                if tops else "no write outside /proc, /sys, /dev and mounted volumes")
    if anon:
        evidence += "; volumes on " + ", ".join(sorted(anon))
    spare_tmpfs = [d for d in extra if d in tmpfs_dirs]
    if spare_tmpfs:
        evidence += "; tmpfs also on " + ", ".join(spare_tmpfs) + " (temp directories and " \
                    "home, where apps write under load)"
    return MountPlan(Decision(True, "", evidence + ": the rest read-only", assumes),
                     tuple(tmpfs), tuple(spare_tmpfs),
                     tuple(sorted(volumes, key=lambda v: v.target)), tuple(why))


def _data_volumes(ev: Evidence) -> list[VolumeMount]:
    """The image's VOLUMEs and the container's own mounts the run line must carry: never a
    tmpfs on them. A VOLUME (or an anonymous `-v DIR`) gets a named volume: Docker would give
    every new container a fresh empty one, and the data of the last would be out of reach.
    The recording's named volumes and binds are carried as they were (unless its run options
    carry them already)."""
    given = set(_option_targets(ev.run_options))
    out: dict[str, VolumeMount] = {}
    for m in ev.mounts:
        t = m.target.rstrip("/") or "/"
        if t in given or not t.startswith("/") or not _safe_dir(t) or m.type == "tmpfs":
            continue
        if m.type == "bind" and m.source and _safe_dir(m.source):
            out[t] = VolumeMount(t, "bind", f"the recording bind-mounted {m.source} here",
                                 m.source, m.read_only)
        elif m.type == "volume" and m.source and _safe_volume_name(m.source):
            out[t] = VolumeMount(t, "volume", f"the recording mounted volume {m.source} here",
                                 m.source, m.read_only)
    for v in (ev.image_facts.volumes if ev.image_facts else ()):
        t = v.rstrip("/") or "/"
        if t in given or t in out or not _safe_dir(t):
            continue
        out[t] = VolumeMount(t, "named", (
            f"the image declares VOLUME {t}: its data must outlive the container; Docker would "
            f"give each new container an empty anonymous volume (and a tmpfs would lose the "
            f"data at every restart): a named volume keeps it across restarts and new "
            f"containers, seeded from the image on first use"))
    for m in ev.mounts:  # an anonymous -v DIR of the recording that is no VOLUME
        t = m.target.rstrip("/") or "/"
        if m.type == "volume" and not m.source and t not in out and t not in given \
                and _safe_dir(t):
            out[t] = VolumeMount(t, "named", f"the recording had an anonymous volume on {t}: "
                                             f"a named volume keeps its data across containers")
    return list(out.values())


def _safe_volume_name(name: str) -> bool:
    return re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name) is not None


def _image_content(facts: ImageFacts | None, d: str) -> str:
    """What the image holds below d, in words ("" when nothing, or not known): an empty tmpfs
    on d would hide it."""
    if facts is None or not any(_under(d, r) for r in facts.inspected):
        return ""
    below = [e for e in facts.entries if e.path != d and _under(e.path, d)]
    if not below:
        return ""
    entry = next((e for e in facts.entries if e.path == d), None)
    n = entry.entries if entry is not None and entry.entries else len(below)
    shown = []
    for e in sorted(below, key=lambda e: (e.type != "symlink", e.path))[:3]:
        shown.append(f"{e.path} -> {e.target}" if e.type == "symlink" else
                     e.path + ("/" if e.type == "dir" else ""))
    return f"{n} entr{'y' if n == 1 else 'ies'} ({', '.join(shown)}{', ...' if n > 3 else ''})"


def _image_dir(facts: ImageFacts | None, d: str) -> ImageEntry | None:
    if facts is None:
        return None
    return next((e for e in facts.entries if e.path == d and e.type == "dir"), None)


def _owner_for(ev: Evidence, d: str, kinds: dict[str, frozenset[str]]) -> tuple[list[str], str]:
    """tmpfs options that let the users who wrote below d write there, and why: the non-root
    users the recorder saw writing there (a daemon that starts as root and drops to its own
    user writes as that user), else the owner of the image's directory (what the app found
    there under Docker's defaults), else the one non-root uid of the run (_tmpfs_owner)."""
    below = _under_any((d,))
    writers = sorted({f.writer for f in ev.files if f.writer and below(f.path)
                      and not WRITE_KINDS.isdisjoint(f.ok)})
    entry = _image_dir(ev.image_facts, d)
    if writers:
        if len(writers) == 1:
            uid, _, gid = writers[0].partition(":")
            if ev.engine == "podman":  # no uid=/gid= (see _tmpfs_owner); U is the run's user
                return ["mode=1777"], f"written by uid {uid}; mode 1777 (Podman takes no uid=)"
            mode = f"{entry.mode & 0o7777:04o}" if entry is not None else "0755"
            return [f"uid={uid}", f"gid={gid}", f"mode={mode}"], \
                (f"owned by uid {uid}, gid {gid}, the user that wrote there in training, mode "
                 f"{mode}" + (" as the image's directory" if entry is not None else ""))
        return ["mode=1777"], (f"several users wrote there in training "
                               f"({', '.join(writers)}): writable by all, sticky")
    if entry is not None and (entry.uid or entry.gid):
        if ev.engine == "podman":
            return ["mode=1777"], (f"the image's {d} is owned by uid {entry.uid}; mode 1777 "
                                   f"(Podman takes no uid=)")
        return [f"uid={entry.uid}", f"gid={entry.gid}", f"mode={entry.mode & 0o7777:04o}"], \
            (f"owned as the image's {d} is (uid {entry.uid}, gid {entry.gid}, mode "
             f"{entry.mode & 0o7777:04o})")
    owner = _tmpfs_owner(ev.uids, ev.gids, ev.engine)
    return owner, ("writable by the app's non-root user" if owner else "")


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
        if any(below(t) for t in tops):
            continue  # a volume or tmpfs lies below: one on d would cover its parent
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


def _written(kinds: dict[str, frozenset[str]], run_options, mounted=()) -> list[str]:
    """The written paths a read-only root would refuse, sorted: not below Docker's own mounts,
    its /etc files, the recording's volumes or the volumes the run line mounts."""
    mounts = _under_any(_OWN_MOUNTS + tuple(_option_targets(run_options)) + tuple(mounted))

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
        if not EXEC_KINDS.isdisjoint(ok):
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
    given = _recorded_pids_limit(ev.run_options)
    limit = max(floor, factor * peak, given)
    why = (f"peak {peak} tasks (processes and threads) seen; limit max({floor}, {factor} x peak"
           + (f", the recording's own --pids-limit {given}" if given else "") + ")")
    if strict:
        return Decision(True, str(limit), "an estimate: " + why,
                        f"assumes the workload drove at least 1/{factor} of production's peak "
                        f"concurrency (threads count as tasks)")
    return Decision(True, str(limit),
                    why + f": the floor {floor} covers stock server configurations (100 "
                          f"PostgreSQL connections, 150 Apache workers, 200 Tomcat threads) "
                          f"whatever the training run reached",
                    f"assumes the app is not configured for more than {limit} processes and "
                    f"threads (raise it with the app's connection or thread limits)")


def _recorded_pids_limit(run_options) -> int:
    for k, v in run_options:
        if k == "pids-limit":
            try:
                return max(0, int(v))
            except ValueError:
                return 0
    return 0


# --- the recorded container's name, network, DNS; first boot vs later boots ----------------

def container_name(ev: Evidence) -> Decision:
    """run.sh takes the container's name from PROFILER_NAME, by default the recorded --name: a
    fixed --name makes a second instance conflict ("name already in use"), none at all breaks
    the peers that resolve the container by its name on a user-defined network."""
    if ev.name and re.fullmatch(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*", ev.name):
        return Decision(True, ev.name, f"the recording named the container {ev.name}; a second "
                                       f"instance: PROFILER_NAME=OTHER ./run.sh (a fixed "
                                       f"--name would conflict)")
    return Decision(False, "", "the recording did not name the container (Docker chose a "
                               "name); PROFILER_NAME=NAME ./run.sh names it")


_DEFAULT_NETWORKS = frozenset({"", "default", "bridge"})


def network(ev: Evidence, none: Decision):
    """The recorded network, aliases, other networks and DNS settings to carry: run.sh must
    be the recorded container, and peers resolve it (and it resolves them) on a user-defined
    network only. Returns (Decision, aliases, other networks, dns options)."""
    dns = tuple((k, v) for k, v in ev.dns if v.isprintable() and v)
    if none.apply:
        return Decision(False, "", "--network none decided (" + none.evidence + ")"), (), (), ()
    mode = ev.network_mode
    recorded = next((v for k, v in ev.run_options if k == "network"), "")
    mode = mode or recorded
    names = [n.name for n in ev.networks]
    if mode in _DEFAULT_NETWORKS and (not names or set(names) <= _DEFAULT_NETWORKS):
        return Decision(False, "", "the default bridge network, as recorded"), (), (), dns
    if mode.startswith("container:"):
        return Decision(False, "", f"the recording shared the network of {mode}: that "
                                   f"container's id changes; join it by hand"), (), (), dns
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", mode):
        mode = next((n for n in names if n not in _DEFAULT_NETWORKS), mode)
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", mode or "-"):
        return Decision(False, "", f"the recorded network {mode!r} cannot be passed safely"), \
            (), (), dns
    att = next((n for n in ev.networks if n.name == mode), None)
    aliases = tuple(a for a in (att.aliases if att else ())
                    if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", a) and a != ev.name)
    extra = tuple(n for n in names if n != mode and n not in _DEFAULT_NETWORKS
                  and re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", n))
    if mode == "host":
        why = "as recorded: the host's network stack (no network namespace of its own)"
    elif mode == "none":
        why = "as recorded: no network"
    else:
        why = (f"as recorded: its peers resolve it (and it resolves them) on {mode}"
               + (f", aliases {', '.join(aliases)}" if aliases else ""))
    return Decision(True, mode, why), aliases, extra, dns


def boot(ev: Evidence) -> Decision:
    """Which boots the runs saw. Many images initialise a data directory on their first start
    (postgres's initdb into an empty volume) and do other things on later starts (recovery,
    upgrades, a pid file left behind). A run whose volume or bind mount started empty saw a
    first boot; one whose mounts all held data, a later boot. Applied when both were seen."""
    runs = [r for r in ev.boots if r]
    if not runs:
        return Decision(False, "", "")
    restarted = dict(enumerate(ev.restarted, 1))
    first = [i for i, r in enumerate(ev.boots, 1) if r and any(e for _, e in r)]
    later = [i for i, r in enumerate(ev.boots, 1)
             if r and (not any(e for _, e in r) or restarted.get(i))]
    empty = sorted({t for r in ev.boots for t, e in r if e})
    held = sorted({t for r in ev.boots for t, e in r if not e})
    if first and later:
        return Decision(True, "both", f"first boot seen in run(s) {_runs(first)} ("
                                      f"{', '.join(empty)} started empty), a later boot in "
                                      f"run(s) {_runs(later)}" + (" (record --restart)" if any(ev.restarted) else "")
            + ": the policy covers both")
    if first:
        return Decision(False, "first", (
            f"only a first boot was recorded ({', '.join(empty)} started empty: the app "
            f"initialised it); a later boot (`docker restart`, or a new container on the kept "
            f"volume: recovery, upgrades) runs code the recording did not see: record with "
            f"--restart (a later boot in the same run), or once more on the same data "
            f"(-v NAME:DIR) and emit from both recordings"))
    return Decision(False, "later", (
        f"only a later boot was recorded ({', '.join(held)} held data at the start); the first "
        f"boot's initialisation (e.g. initdb into an empty volume: a new instance) runs code "
        f"the recording did not see: record once with an empty volume and emit from both "
        f"recordings"))


# --- root beside the app's own user ------------------------------------------------------------

# A daemon that starts as root and drops to its own user (named -u bind, postgres's entrypoint,
# apache2, squid) keeps its private files at modes only that user passes: rndc.key 0640
# bind:bind, a data directory 0700. Root in the same container meets them in two ways the
# training run rarely shows: an operator's `docker exec` (root by default: the container's
# user) of the app's admin tool (rndc status reads rndc.key; pg_ctl, mariadb-admin, redis-cli
# and rabbitmqctl read the app's keys, config or data), and a later boot, whose root entrypoint
# walks what the app wrote on the first boot (`chown -R` of a data directory that was empty
# when the first boot was recorded). Root passes a mode that excludes it only with
# CAP_DAC_OVERRIDE (path_resolution(7), capabilities(7); the kernel asks CAP_DAC_READ_SEARCH
# first for reads and searches, then CAP_DAC_OVERRIDE, which Docker's default set holds: only
# DAC_OVERRIDE is given back). What it costs: the capability is effective only in processes
# running as root in the container (the app's own processes run as its user with no effective
# capability, and no-new-privileges keeps them from regaining one); that root holds
# CAP_SETUID and CAP_SETGID already (the app drops to its user with them), so it could become
# the file's owner and read the file anyway.
ROOT_FILES_CAP = "CAP_DAC_OVERRIDE"
_ROOT_FILES_NEEDS = ("CAP_SETUID", "CAP_SETGID")


def root_over_app_files(ev: Evidence, *, strict: bool = False) -> Decision:
    """CAP_DAC_OVERRIDE for root in a container whose app drops to its own user, when the
    evidence shows root will meet that user's files at modes that exclude root: image files
    the app used, owned by its user, that root (as "other", or as the group for gid 0) cannot
    read (a file) or search (a directory); or files the app's user created below a directory
    the root part handed over (chown) on a first boot, which a later boot's root walks."""
    if ROOT_FILES_CAP in ev.capabilities:
        return Decision(False, "", f"{ROOT_FILES_CAP} was granted during the recording")
    users = [u for u in ev.uids if u != 0]
    if 0 not in ev.uids or not users or not _exec_user_is_root(ev):
        return Decision(False, "", "")
    if not all(c in ev.capabilities for c in _ROOT_FILES_NEEDS):
        return Decision(False, "", "")
    found = _private_image_files(ev, set(users)) + _handed_over(ev, set(users))
    if not found:
        return Decision(False, "", "")
    shown = "; ".join(found[:3]) + (f" and {len(found) - 3} more" if len(found) > 3 else "")
    evidence = (f"the app starts as root and drops to uid {', '.join(map(str, users))}; root "
                f"in the container (`docker exec` of an admin tool, a later boot's entrypoint) "
                f"meets that user's files at modes that exclude root: {shown}")
    if strict:
        return Decision(False, "", evidence + "; not added (emit --strict)")
    return Decision(True, ROOT_FILES_CAP, evidence)


def _exec_user_is_root(ev: Evidence) -> bool:
    """Is the container's user (what `docker exec` runs as by default) root?"""
    opt_user = next((v for k, v in ev.run_options if k == "user"), "")
    user = (opt_user or ev.image_user).split(":")[0]
    return user in ("", "root", "0")


def _excludes_root(e: ImageEntry) -> bool:
    """Do e's permission bits keep root without capabilities from reading a file or
    searching a directory? Root's class is the group for gid 0, else other."""
    bits = (e.mode >> 3 if e.gid == 0 else e.mode) & 0o7
    if e.type == "dir":
        return not bits & 0o1
    return e.type == "file" and not bits & 0o4


def _private_image_files(ev: Evidence, users: set[int]) -> list[str]:
    """Image entries owned by the app's user at modes that exclude root, which the app used
    (a file accessed, or a file accessed below a directory)."""
    if ev.image_facts is None:
        return []
    used = sorted({f.path for f in ev.files if f.ok})
    out = []
    for e in ev.image_facts.entries:
        if e.uid not in users or not _excludes_root(e):
            continue
        if e.type == "file" and e.path not in used:
            continue
        if e.type == "dir" and not any(_under(p, e.path) and p != e.path for p in used):
            continue
        line = f"{e.path} ({e.mode & 0o7777:04o} {e.uid}:{e.gid}, in the image)"
        if line not in out:
            out.append(line)
    return out


def _handed_over(ev: Evidence, users: set[int]) -> list[str]:
    """Directories chown'd during a first boot below which the app's user then created files:
    a later boot's root part (a `chown -R`, a permission fix-up) walks what the app made there,
    at modes the app chose. Only when no run saw a later boot (then it would be recorded)."""
    later = any(ev.restarted) or any(r and not any(e for _, e in r) for r in ev.boots)
    if later or "CAP_CHOWN" not in ev.capabilities:
        return []
    chowned = sorted({f.path for f in ev.files if "chown" in f.ok})
    made: dict[str, int] = {}
    for f in ev.files:
        if not f.writer or not CREATE_KINDS.intersection(f.ok):
            continue
        uid = f.writer.split(":")[0]
        if not uid.isdigit() or int(uid) not in users:
            continue
        for d in chowned:
            if _under(f.path, d) and f.path != d:
                made[d] = made.get(d, 0) + 1
    return [f"{d} (chown'd by root, then {n} file(s) created there by the app's user, "
            f"which a later boot's root walks)" for d, n in sorted(made.items())]


def _runs(ns) -> str:
    return ", ".join(map(str, ns))


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
