"""The typed, output-agnostic recording model.

Tracing produces a `Recording`; everything after it (emit, verify, diff) reads only this model.
All classes are frozen dataclasses holding tuples sorted by their natural key, so two recordings
of the same behaviour compare equal and serialise byte-identically. Serialisation to and from
plain dicts (the YAML file format, see recording_io and schema/recording.schema.json) lives here
so that the model and its file format cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from operator import attrgetter
from typing import Any

from ..kernel.linux import cap_short

# 1.1: files[].resolved, executables[].resolved; 1.2: processes.privileged_execs, io_uring;
# 1.3: metadata.capability_source; 1.4: timeline, container.env_paths (all additive)
# 1.5: a syscall may carry `arch` (a compat call) and `decoded` (false: arguments not read).
# 1.6: metadata.engine, metadata.runtime (additive)
# 1.7: processes.exec_files (file capabilities and set-id bits of executables; additive)
# 1.8: metadata.image_facts (VOLUMEs, content below the tmpfs roots), metadata.restarts,
#      container.name, mounts, networks, dns; files[].writer; the access kind map_exec
#      (all additive)
# 1.9: metadata.mode "harvest" and the top-level `harvest` block (profiler harvest; additive);
#      metadata.tracer (the entry side's design: "per-syscall" makes syscall counts lower
#      bounds; absent: "raw"; additive)
# 1.10: metadata.snapshot_at (a snapshot of a recording still running: record
#       --snapshot-every) and metadata.resumes (runs merged in by record --resume); additive
SCHEMA_VERSION = "1.10"

# Environment variables whose values a recording keeps (all others: names only, their values
# may hold secrets). They name directories an app writes to: emit gives them a tmpfs under a
# read-only root (profiler/policy/hardening.py).
PATH_ENV_NAMES: tuple[str, ...] = ("HOME", "TMPDIR")

# Kinds of file access, in display order. "append" and "truncate" are separate so that a policy
# can tell an append-only log from a file that is rewritten.
ACCESS_KINDS: tuple[str, ...] = (
    "read",
    "write",
    "append",
    "truncate",
    "create",
    "execute",
    "delete",
    "rename",
    "link",
    "chmod",
    "chown",
    "mkdir",
    "map_exec",  # mapped executable (mmap with PROT_EXEC of the file): AppArmor `m`, tmpfs exec
)

# Loss counters every recording carries (zero when nothing was lost).
LOSS_KINDS: tuple[str, ...] = (
    "ringbuf_full",  # a streamed event (new path, exec, address) could not be queued
    "map_full",  # an in-kernel aggregation map had no room for a new key
    "path_truncated",  # a path longer than the in-kernel buffer
    "user_read_failed",  # reading a path or struct from user memory failed
    "unresolved_relative",  # a relative path whose directory could not be resolved
    "arg_overflow",  # argument values beyond the per-syscall bound (counted, not stored)
)


_PATH = attrgetter("path")  # a sort key in C: files lists have 100,000s of entries


def _sorted(items, key):
    return tuple(sorted(items, key=key))


@dataclass(frozen=True)
class Syscall:
    """One syscall the app made. `name` comes from libseccomp for the call's architecture;
    a number libseccomp does not know keeps `name` = "" and is identified by `number`.

    `arch` is "" for the recording's own architecture (metadata.arch; every syscall of a
    recording older than schema 1.1 is one), else the libseccomp name of the compat
    architecture the call was made in: "x86" (i386, `int $0x80` or a 32-bit binary) or "x32"
    on an x86_64 host. Such a call has its own numbers (i386 uname is 122, which is setfsuid on
    x86_64). `decoded` is False when the recorder counted the call but did not read its
    arguments or paths (compat calls: another register convention), so the files, addresses
    and argument values it used are missing from the recording."""

    name: str
    number: int
    count: int
    errnos: tuple[tuple[str, int], ...] = ()  # (errno name, count) of failed calls, sorted
    arch: str = ""
    decoded: bool = True

    @property
    def key(self) -> str:
        base = self.name or f"__nr_{self.number}"
        return f"{base} ({self.arch})" if self.arch else base


@dataclass(frozen=True)
class ArgValues:
    """Distinct values seen for one argument of one syscall (bounded; `overflow` counts the
    calls whose value was new after the bound was reached)."""

    syscall: str
    arg: str  # e.g. "domain", "type", "protocol", "flags", "option", "request", "prot", "persona"
    index: int  # argument position (0-based) as seccomp sees it; -1 for a field read via pointer
    values: tuple[int, ...]
    overflow: int = 0


@dataclass(frozen=True)
class Capability:
    name: str  # "CAP_CHOWN"
    number: int
    granted: int
    denied: int


@dataclass(frozen=True)
class FileAccess:
    """One absolute path as the container sees it, with the kinds of access that succeeded and
    the kinds that failed."""

    path: str
    ok: tuple[str, ...] = ()  # subset of ACCESS_KINDS, in that order
    failed: tuple[str, ...] = ()
    # The same file with every symlink resolved (what AppArmor mediates), when it differs from
    # the path the app used; "" when they are the same or it is not known (older recordings,
    # kernels without BTF, and accesses that return no fd: stat, unlink, ...).
    resolved: str = ""
    # "UID:GID" of a non-root task that wrote or created the file (the last one seen; 1.8),
    # "" when only root did or it is not known: who must own a tmpfs there (hardening.py).
    writer: str = ""


@dataclass(frozen=True)
class SocketUse:
    family: str  # "AF_INET", "AF_UNIX", or "AF_<n>" when unknown
    type: str  # "SOCK_STREAM", ... (flags SOCK_NONBLOCK/SOCK_CLOEXEC stripped)
    protocol: int
    count: int


@dataclass(frozen=True)
class Endpoint:
    family: str
    address: str  # IP address, or the unix socket path ("@name" for abstract)
    port: int  # 0 for unix sockets


@dataclass(frozen=True)
class Network:
    sockets: tuple[SocketUse, ...] = ()
    listening: tuple[Endpoint, ...] = ()
    connects: tuple[Endpoint, ...] = ()


@dataclass(frozen=True)
class Executable:
    path: str
    count: int
    resolved: str = ""  # the file executed, symlinks resolved, when it is not `path`


@dataclass(frozen=True)
class Credentials:
    """A task's credentials (real and effective ids, effective and permitted capabilities)."""

    uid: int
    euid: int
    gid: int
    egid: int
    cap_effective: tuple[str, ...] = ()  # CAP_* names, by number
    cap_permitted: tuple[str, ...] = ()


@dataclass(frozen=True)
class PrivilegedExec:
    """An exec that changed the task's credentials (set-uid, set-gid, file capabilities), or
    ran a set-uid/set-gid file whose bit the kernel did not honour."""

    path: str
    count: int
    after: Credentials
    before: Credentials | None = None  # None: the exec's entry was not seen (the entrypoint)
    file_mode: int = 0  # the executable's mode bits (S_ISUID 0o4000, S_ISGID 0o2000, ...)
    file_uid: int = 0
    file_gid: int = 0
    gained: bool = False  # euid or egid changed, or capabilities were added, at this exec
    not_honoured: bool = False  # a set-id bit had no effect (no-new-privileges, nosuid mount)

    def summary(self) -> str:
        """One line for record's summary and emit's evidence: what the exec changed."""
        p = self
        a, b = p.after, p.before
        bits = []
        if p.file_mode & 0o4000:
            bits.append(f"set-uid (owner uid {p.file_uid})")
        if p.file_mode & 0o2000:
            bits.append(f"set-gid (group gid {p.file_gid})")
        kind = " and ".join(bits) or "file capabilities"
        if p.not_honoured:
            return (f"{p.path} is {kind} but ran without it (euid {a.euid}, egid {a.egid}): "
                    f"no-new-privileges or a nosuid mount")
        if b is None:
            return f"{p.path} is {kind}: ran with euid {a.euid}, egid {a.egid} (its caller not seen)"
        change = []
        if b.euid != a.euid:
            change.append(f"euid {b.euid} -> {a.euid}")
        if b.egid != a.egid:
            change.append(f"egid {b.egid} -> {a.egid}")
        gained = [c for c in a.cap_effective if c not in b.cap_effective]
        if gained:
            change.append("capabilities gained: " + ", ".join(gained))
        return f"{p.path} ({kind}) gained privilege at exec: {'; '.join(change) or 'no change'}"


@dataclass(frozen=True)
class ExecFile:
    """An executable the run exec'd whose file carries a file capability or a set-id bit, as
    record read it from the container's file system (profiler/recording/filecaps.py). The
    kernel keeps the file's permitted capabilities in the bounding set or refuses the exec
    (with the effective bit), and no-new-privileges runs it without them."""

    path: str
    mode: int = 0  # permission bits (S_ISUID 0o4000, S_ISGID 0o2000, ...)
    capabilities: tuple[str, ...] = ()  # the file's permitted set, CAP_* names
    inheritable: tuple[str, ...] = ()
    effective: bool = False  # raised into the effective set at exec (the "e" of =+ep)

    def summary(self) -> str:
        """One line: the file and what it carries."""
        bits = []
        if self.mode & 0o4000:
            bits.append("set-uid")
        if self.mode & 0o2000:
            bits.append("set-gid")
        if self.capabilities:
            bits.append("file capabilities " + ",".join(cap_short(c).lower()
                                                          for c in self.capabilities)
                        + ("=ep" if self.effective else "=p"))
        return f"{self.path} ({'; '.join(bits) or 'nothing'})"


@dataclass(frozen=True)
class Processes:
    executables: tuple[Executable, ...] = ()
    peak_tasks: int = 0
    uids: tuple[int, ...] = ()
    gids: tuple[int, ...] = ()
    privileged_execs: tuple[PrivilegedExec, ...] = ()
    # Were execs' credentials observed (the kernel's BTF gave the offsets)? None: not known (a
    # recording made before schema 1.1).
    exec_credentials_seen: bool | None = None
    # 1.7: executables with a file capability or a set-id bit (read from the file system at
    # record time); None: not looked up (an older recording, or a file system out of reach).
    exec_files: tuple[ExecFile, ...] | None = None


@dataclass(frozen=True)
class IoUring:
    """io_uring use. Requests submitted through a ring make no syscall of their own; the kernel's
    io_uring tracepoints show their opcodes, not the paths or addresses they carry."""

    operations: tuple[tuple[str, int], ...] = ()  # (IORING_OP_ name without prefix, requests)
    rings: int = 0  # rings created
    setup_flags: tuple[str, ...] = ()  # IORING_SETUP_ names without prefix, of every ring
    sq_thread_submissions: int = 0  # requests submitted by a kernel SQPOLL thread
    files: int = 0  # files looked up for requests
    tracepoints: tuple[str, ...] = ()  # the io_uring tracepoints the recorder attached to
    not_seen: tuple[str, ...] = ()  # what the recording lacks because of io_uring, in words


@dataclass(frozen=True)
class Mount:
    """A mount of the container as the engine reported it (1.8): a volume, bind or tmpfs."""

    target: str
    type: str  # "volume", "bind", "tmpfs", ...
    source: str = ""  # a named volume's name, a bind's host path; "" for an anonymous volume
    read_only: bool = False
    # Was the mount empty when the app started (no entry below it)? None: not looked at
    # (attach mode, tmpfs). An empty data directory is a first boot (hardening.boot).
    empty_at_start: bool | None = None


@dataclass(frozen=True)
class NetworkAttachment:
    """A network the container was connected to, with its aliases there (1.8)."""

    name: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class ImageEntry:
    """A file system entry of the image below a directory the run line may mount over (1.8)."""

    path: str
    type: str  # "dir", "file", "symlink", "other" (socket, fifo, device)
    uid: int = 0
    gid: int = 0
    mode: int = 0  # permission bits, set-id and sticky bits included
    target: str = ""  # a symlink's target
    entries: int = 0  # a directory: entries below it at any depth, listed here or not


@dataclass(frozen=True)
class ImageFacts:
    """What the image holds where a run line might put a tmpfs or a volume (1.8), and below
    /etc (owners and modes of the app's config and keys), read from the image at record time
    (engine.Engine.image_facts): its VOLUMEs and, below each directory of `inspected`, its
    entries (every entry two levels down, fewer below that)."""

    volumes: tuple[str, ...] = ()  # the image's VOLUME directories, sorted
    inspected: tuple[str, ...] = ()  # the directories whose content was read, sorted
    entries: tuple[ImageEntry, ...] = ()  # sorted by path


@dataclass(frozen=True)
class ContainerConfig:
    user: str = ""
    working_dir: str = ""
    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    env_names: tuple[str, ...] = ()  # names only: values may hold secrets
    # The docker run options the recording was made with (publish, volumes, tmpfs, ...), so
    # verify can start the container the same way. Values are the user's own CLI input.
    run_options: tuple[tuple[str, str], ...] = ()
    env_paths: tuple[tuple[str, str], ...] = ()  # (name, value) for PATH_ENV_NAMES that are set
    # 1.8, as the engine reported the container: its name, mounts, network mode and networks,
    # DNS settings (run.sh and compose carry them: hardening.network_options).
    name: str = ""
    mounts: tuple[Mount, ...] = ()
    network_mode: str = ""
    networks: tuple[NetworkAttachment, ...] = ()
    dns: tuple[str, ...] = ()
    dns_search: tuple[str, ...] = ()
    dns_options: tuple[str, ...] = ()


@dataclass(frozen=True)
class Workload:
    command: str
    exit_status: int | None  # None when it did not finish (interrupted)


@dataclass(frozen=True)
class Metadata:
    tool_version: str
    kernel: str
    arch: str  # libseccomp architecture name of the recording host: "x86_64", "aarch64", ...
    mode: str  # "container" | "attach" | "exec" | "harvest" (HARVEST_MODE: what production logged)
    started_at: str = ""  # ISO 8601 UTC
    ended_at: str = ""
    image: str = ""  # the reference the user gave
    image_id: str = ""
    image_tags: tuple[str, ...] = ()
    container: ContainerConfig = field(default_factory=ContainerConfig)
    command: tuple[str, ...] = ()  # the traced command (exec mode) or CMD override
    workload: Workload | None = None
    startup_observed: bool = True
    exit_code: int | None = None  # the container's or command's exit status
    # Where capability checks came from (capsource.SOURCES): "tracepoint", "kprobe", or "none"
    # (not recorded: the capabilities list says nothing). Recordings before 1.3 had only the
    # tracepoint.
    capability_source: str = "tracepoint"

    @property
    def capabilities_known(self) -> bool:
        return self.capability_source != "none"

    # The engine and the OCI runtime the container ran under ("podman 4.3.1", "crun"); written
    # only when known (schema 1.6). Older recordings were all made with Docker and runc.
    engine: str = ""
    runtime: str = ""
    # 1.8: the image's VOLUMEs and content where a run line may mount; None: not read.
    image_facts: ImageFacts | None = None
    # 1.8: restarts the recorder made (record --restart): the run saw a later boot too.
    restarts: int = 0
    # 1.9: the tracer's entry side (kernel/tracer.py DESIGNS): "raw" (every syscall counted),
    # or "per-syscall" (a syscall's entry event is detached once seen: counts are lower
    # bounds; i386 calls of 64-bit programs are not seen). Written only when not raw.
    tracer: str = "raw"
    # 1.10: set in a snapshot written while the recording still ran (record --snapshot-every):
    # when it was taken (ISO 8601 UTC). The final write at the end has "". Written when set.
    snapshot_at: str = ""
    # 1.10: how many later runs of the recorder were merged into this recording (record
    # --resume after a restart of profiler or a reboot). Written when not 0.
    resumes: int = 0

    @property
    def snapshot_note(self) -> str:
        """What emit and diff say of a snapshot ("" for a recording that ended)."""
        if not self.snapshot_at:
            return ""
        return (f"a snapshot taken at {self.snapshot_at} of a recording still running (record "
                f"--snapshot-every): what came later is not in it")

    @property
    def counts_exact(self) -> bool:
        """Whether syscall counts are every call (not lower bounds)."""
        return self.tracer != "per-syscall"

    @property
    def container_runtime(self) -> str:
        """The OCI runtime of a container recording ("runc" for recordings older than 1.6),
        "" for exec mode."""
        if self.mode == "exec":
            return self.runtime
        return self.runtime or "runc"

    @property
    def engine_name(self) -> str:
        """The engine of a container recording without its version: "docker" or "podman"
        ("docker" for recordings older than 1.6), "" for exec mode."""
        name = self.engine.split()[0].lower() if self.engine.strip() else ""
        if self.mode == "exec":
            return name
        return name or "docker"


HARVEST_MODE = "harvest"


@dataclass(frozen=True)
class HarvestInfo:
    """What a harvested evidence file (`profiler harvest`, metadata.mode "harvest", schema 1.9)
    says about how it was made, for one service. The evidence itself (syscalls, files,
    capabilities, sockets) is what the kernel logged for calls the deployed complain-mode
    policy would have refused; metadata.started_at/ended_at is the period covered and
    timeline.* when each item was first seen.

    - source: "kmsg" (/dev/kmsg, no auditd), "audit.log" (auditd's log) or "netlink" (the
      audit multicast group: not rate limited, live only)
    - records: log records attributed to this service and kept as evidence
    - runtime_records: records of the container runtime's own calls before the entrypoint's
      execve (runc init), skipped: they are not the app's
    - refused: records of calls an enforcing rule refused (kill, errno, trap): counted, not
      evidence (the app did not get to make them)
    - dropped: records the kernel dropped while harvesting, for every container (the kernel
      does not say whose): any of them may have been this service's. Non-zero: the evidence
      is incomplete (printk rate limit without auditd, audit backlog with it)
    - unattributed: records no container could be found for (process gone before it was
      looked up), for every container, like dropped
    - containers: the containers seen for this service, "NAME ID12", at most MAX_CONTAINERS;
      containers_total counts them all
    - cpu_seconds: CPU time the service's containers used during the period (their cgroups'
      counters between the first and last look): the traffic signal. 0.0 with nothing measured
    - last_new: ISO 8601 UTC time the last never-seen-before item appeared ("" none yet);
      new_items: how many items harvest added in all"""

    source: str
    records: int = 0
    runtime_records: int = 0
    refused: int = 0
    dropped: int = 0
    unattributed: int = 0
    containers: tuple[str, ...] = ()
    containers_total: int = 0
    cpu_seconds: float = 0.0
    last_new: str = ""
    new_items: int = 0

    MAX_CONTAINERS = 50


TIMELINE_KINDS: tuple[str, ...] = ("syscalls", "capabilities", "files", "sockets", "executables")


@dataclass(frozen=True)
class Timeline:
    """When each item was first seen, in ms from the start of the recording (the entrypoint's
    exec, or the attach), and how long the recording lasted. Items are keyed as in the
    recording: syscall key (name or __nr_N), CAP_ name, path, "FAMILY TYPE", executable path.
    An item missing here was seen but its time is not known (e.g. read only at the end)."""

    duration_ms: int = 0
    stop_ms: int = 0  # when the container was told to stop (0: not stopped by the recorder)
    syscalls: tuple[tuple[str, int], ...] = ()
    capabilities: tuple[tuple[str, int], ...] = ()
    files: tuple[tuple[str, int], ...] = ()
    sockets: tuple[tuple[str, int], ...] = ()
    executables: tuple[tuple[str, int], ...] = ()

    def of(self, kind: str) -> tuple[tuple[str, int], ...]:
        return getattr(self, kind)


@dataclass(frozen=True)
class Recording:
    metadata: Metadata
    syscalls: tuple[Syscall, ...] = ()
    arguments: tuple[ArgValues, ...] = ()
    capabilities: tuple[Capability, ...] = ()
    files: tuple[FileAccess, ...] = ()
    network: Network = field(default_factory=Network)
    processes: Processes = field(default_factory=Processes)
    loss: tuple[tuple[str, int], ...] = tuple((k, 0) for k in LOSS_KINDS)
    schema_version: str = SCHEMA_VERSION
    io_uring: IoUring | None = None  # None: the app used no io_uring
    timeline: Timeline | None = None  # 1.4; None: the recorder did not time first sightings
    harvest: HarvestInfo | None = None  # 1.9; set only in a harvested file (mode "harvest")

    @property
    def harvested(self) -> bool:
        """Evidence production logged (`profiler harvest`), not a traced run."""
        return self.metadata.mode == HARVEST_MODE

    # --- convenience views -------------------------------------------------------------
    @property
    def syscall_names(self) -> frozenset[str]:
        """Keys of every syscall: the name for native calls, "name (arch)" for compat ones."""
        return frozenset(s.key for s in self.syscalls)

    @property
    def compat_arches(self) -> tuple[str, ...]:
        """The compat architectures the app made calls in (sorted; empty for most apps)."""
        return tuple(sorted({s.arch for s in self.syscalls if s.arch}))

    @property
    def total_loss(self) -> int:
        return sum(n for _, n in self.loss)

    def canonical(self) -> "Recording":
        """The same recording with every collection sorted (what serialisation writes)."""
        md = self.metadata
        if md.image_facts is not None:
            f = md.image_facts
            md = replace(md, image_facts=ImageFacts(tuple(sorted(set(f.volumes))),
                                                    tuple(sorted(set(f.inspected))),
                                                    _sorted(f.entries, key=_PATH)))
        return replace(
            self,
            metadata=md,
            syscalls=_sorted(self.syscalls, key=lambda s: (s.arch, s.key, s.number)),
            arguments=_sorted(self.arguments, key=lambda a: (a.syscall, a.index, a.arg)),
            capabilities=_sorted(self.capabilities, key=lambda c: c.number),
            files=_sorted(self.files, key=_PATH),
            network=Network(
                sockets=_sorted(self.network.sockets, key=lambda s: (s.family, s.type, s.protocol)),
                listening=_sorted(set(self.network.listening), key=_ep_key),
                connects=_sorted(set(self.network.connects), key=_ep_key),
            ),
            processes=replace(
                self.processes,
                executables=_sorted(self.processes.executables, key=_PATH),
                uids=tuple(sorted(set(self.processes.uids))),
                gids=tuple(sorted(set(self.processes.gids))),
                privileged_execs=_sorted(self.processes.privileged_execs, key=_privexec_key),
                exec_files=(None if self.processes.exec_files is None
                            else _sorted(set(self.processes.exec_files), key=_PATH)),
            ),
            loss=tuple(sorted(dict(self.loss).items())),
            timeline=None if self.timeline is None else Timeline(
                self.timeline.duration_ms, self.timeline.stop_ms,
                *(tuple(sorted(self.timeline.of(k))) for k in TIMELINE_KINDS)),
        )


def _ep_key(e: Endpoint):
    return (e.family, e.address, e.port)


def _privexec_key(p: PrivilegedExec):
    return (p.path, repr(p.before), repr(p.after), p.file_mode)


# --------------------------------------------------------------------------------------------
# dict (de)serialisation. The dict form is what the YAML file holds; its shape is specified by
# schema/recording.schema.json, which recording_io validates before calling from_dict.
# --------------------------------------------------------------------------------------------


def _plain(obj: Any) -> Any:
    """Dataclass -> dict of plain types, dropping nothing. Tuples of pairs stay lists."""
    if hasattr(obj, "__dataclass_fields__"):
        return {f.name: _plain(getattr(obj, f.name)) for f in fields(obj)}
    if isinstance(obj, tuple):
        return [_plain(x) for x in obj]
    return obj


def to_dict(rec: Recording) -> dict:
    rec = rec.canonical()
    d = _plain(rec)
    # Pair lists read better as mappings in YAML.
    for s in d["syscalls"]:
        s["errnos"] = {k: v for k, v in s["errnos"]}
        # Native, decoded calls (all of them in most recordings) are written as before 1.1.
        if not s["arch"]:
            del s["arch"]
        if s["decoded"]:
            del s["decoded"]
    d["loss"] = {k: v for k, v in d["loss"]}
    # "resolved" is written only where it says something (schema 1.1; 1.0 files lack it).
    for entry in (*d["files"], *d["processes"]["executables"]):
        if not entry["resolved"]:
            del entry["resolved"]
    for entry in d["files"]:  # 1.8, only where a non-root task wrote
        if not entry["writer"]:
            del entry["writer"]
    if d["metadata"]["image_facts"] is None:
        del d["metadata"]["image_facts"]
    if not d["metadata"]["restarts"]:
        del d["metadata"]["restarts"]
    if d["metadata"]["tracer"] == "raw":  # 1.9, written only when not the default
        del d["metadata"]["tracer"]
    for key in ("snapshot_at", "resumes"):  # 1.10, written only when set
        if not d["metadata"][key]:
            del d["metadata"][key]
    if rec.schema_version in ("1.0", "1.1", "1.2"):  # written before the field: re-dumped as it was
        d["metadata"].pop("capability_source")
    for key in ("engine", "runtime"):  # schema 1.6, written only when known
        if not d["metadata"][key]:
            del d["metadata"][key]
    d["metadata"]["container"]["run_options"] = [
        [k, v] for k, v in d["metadata"]["container"]["run_options"]
    ]
    # Added in 1.1, written only when there is something to say (1.0 readers stay happy).
    procs = d["processes"]
    if not procs["privileged_execs"]:
        del procs["privileged_execs"]
    if procs["exec_credentials_seen"] is None:
        del procs["exec_credentials_seen"]
    # Added in 1.7, written only when looked up.
    if procs["exec_files"] is None:
        del procs["exec_files"]
    # Added in 1.4, written only when there is something to say.
    cont = d["metadata"]["container"]
    if cont["env_paths"]:
        cont["env_paths"] = {k: v for k, v in cont["env_paths"]}
    else:
        del cont["env_paths"]
    for key in _CONTAINER_18:  # 1.8, written only when there is something to say
        if not cont[key]:
            del cont[key]
    for m in cont.get("mounts", ()):
        if m["empty_at_start"] is None:
            del m["empty_at_start"]
    # Field order: schema_version first, then metadata, then evidence.
    order = ["schema_version", "metadata", "syscalls", "arguments", "capabilities", "files",
             "network", "processes", "loss"]
    out = {k: d[k] for k in order}
    if d["io_uring"] is not None:
        u = d["io_uring"]
        u["operations"] = {k: v for k, v in u["operations"]}
        out["io_uring"] = u
    if d["harvest"] is not None:
        out["harvest"] = d["harvest"]
    if d["timeline"] is not None:
        t = d["timeline"]
        out["timeline"] = {"duration_ms": t["duration_ms"], "stop_ms": t["stop_ms"],
                           **{k: {name: ms for name, ms in t[k]} for k in TIMELINE_KINDS}}
    return out


_CONTAINER_18 = ("name", "mounts", "network_mode", "networks", "dns", "dns_search", "dns_options")


def _image_facts(f: dict | None) -> ImageFacts | None:
    if f is None:
        return None
    return ImageFacts(volumes=tuple(f.get("volumes") or ()), inspected=tuple(f.get("inspected") or ()),
                      entries=tuple(ImageEntry(**e) for e in f.get("entries") or ()))


def _credentials(c: dict | None) -> Credentials | None:
    if c is None:
        return None
    return Credentials(c["uid"], c["euid"], c["gid"], c["egid"],
                       tuple(c.get("cap_effective") or ()), tuple(c.get("cap_permitted") or ()))


def _io_uring(u: dict | None) -> IoUring | None:
    if u is None:
        return None
    return IoUring(operations=tuple(sorted((u.get("operations") or {}).items())),
                   rings=u.get("rings", 0), setup_flags=tuple(u.get("setup_flags") or ()),
                   sq_thread_submissions=u.get("sq_thread_submissions", 0),
                   files=u.get("files", 0), tracepoints=tuple(u.get("tracepoints") or ()),
                   not_seen=tuple(u.get("not_seen") or ()))


def from_dict(d: dict) -> Recording:
    md = d["metadata"]
    cont = md.get("container") or {}
    wl = md.get("workload")
    metadata = Metadata(
        tool_version=md["tool_version"],
        kernel=md["kernel"],
        arch=md["arch"],
        mode=md["mode"],
        started_at=md.get("started_at", ""),
        ended_at=md.get("ended_at", ""),
        image=md.get("image", ""),
        image_id=md.get("image_id", ""),
        image_tags=tuple(md.get("image_tags", ())),
        container=ContainerConfig(
            user=cont.get("user", ""),
            working_dir=cont.get("working_dir", ""),
            entrypoint=tuple(cont.get("entrypoint") or ()),
            cmd=tuple(cont.get("cmd") or ()),
            env_names=tuple(cont.get("env_names") or ()),
            run_options=tuple((k, v) for k, v in cont.get("run_options") or ()),
            env_paths=tuple(sorted((cont.get("env_paths") or {}).items())),
            name=cont.get("name", ""),
            mounts=tuple(Mount(**m) for m in cont.get("mounts") or ()),
            network_mode=cont.get("network_mode", ""),
            networks=tuple(NetworkAttachment(n["name"], tuple(n.get("aliases") or ()))
                           for n in cont.get("networks") or ()),
            dns=tuple(cont.get("dns") or ()),
            dns_search=tuple(cont.get("dns_search") or ()),
            dns_options=tuple(cont.get("dns_options") or ()),
        ),
        command=tuple(md.get("command") or ()),
        workload=Workload(wl["command"], wl.get("exit_status")) if wl else None,
        startup_observed=md.get("startup_observed", True),
        exit_code=md.get("exit_code"),
        capability_source=md.get("capability_source", "tracepoint"),
        engine=md.get("engine", ""),
        runtime=md.get("runtime", ""),
        image_facts=_image_facts(md.get("image_facts")),
        restarts=md.get("restarts", 0),
        tracer=md.get("tracer", "raw"),
        snapshot_at=md.get("snapshot_at", ""),
        resumes=md.get("resumes", 0),
    )
    net = d.get("network") or {}
    procs = d.get("processes") or {}
    rec = Recording(
        schema_version=d["schema_version"],
        metadata=metadata,
        syscalls=tuple(
            Syscall(s["name"], s["number"], s["count"], tuple(sorted((s.get("errnos") or {}).items())),
                    s.get("arch", ""), s.get("decoded", True))
            for s in d.get("syscalls") or ()
        ),
        arguments=tuple(
            ArgValues(a["syscall"], a["arg"], a["index"], tuple(a["values"]), a.get("overflow", 0))
            for a in d.get("arguments") or ()
        ),
        capabilities=tuple(
            Capability(c["name"], c["number"], c["granted"], c["denied"])
            for c in d.get("capabilities") or ()
        ),
        files=tuple(
            FileAccess(f["path"], tuple(f.get("ok") or ()), tuple(f.get("failed") or ()),
                       f.get("resolved", ""), f.get("writer", ""))
            for f in d.get("files") or ()
        ),
        network=Network(
            sockets=tuple(SocketUse(**s) for s in net.get("sockets") or ()),
            listening=tuple(Endpoint(**e) for e in net.get("listening") or ()),
            connects=tuple(Endpoint(**e) for e in net.get("connects") or ()),
        ),
        processes=Processes(
            executables=tuple(Executable(**e) for e in procs.get("executables") or ()),
            peak_tasks=procs.get("peak_tasks", 0),
            uids=tuple(procs.get("uids") or ()),
            gids=tuple(procs.get("gids") or ()),
            privileged_execs=tuple(
                PrivilegedExec(p["path"], p["count"], _credentials(p["after"]),
                               _credentials(p.get("before")), p.get("file_mode", 0),
                               p.get("file_uid", 0), p.get("file_gid", 0),
                               p.get("gained", False), p.get("not_honoured", False))
                for p in procs.get("privileged_execs") or ()),
            exec_credentials_seen=procs.get("exec_credentials_seen"),
            exec_files=None if procs.get("exec_files") is None else tuple(
                ExecFile(f["path"], f.get("mode", 0), tuple(f.get("capabilities") or ()),
                         tuple(f.get("inheritable") or ()), f.get("effective", False))
                for f in procs["exec_files"]),
        ),
        loss=tuple(sorted({**{k: 0 for k in LOSS_KINDS}, **(d.get("loss") or {})}.items())),
        io_uring=_io_uring(d.get("io_uring")),
        timeline=_timeline(d.get("timeline")),
        harvest=_harvest(d.get("harvest")),
    )
    return rec.canonical()


def _harvest(h: dict | None) -> HarvestInfo | None:
    if h is None:
        return None
    return HarvestInfo(**{**h, "containers": tuple(h.get("containers") or ()),
                          "cpu_seconds": float(h.get("cpu_seconds", 0.0))})


def _timeline(t: dict | None) -> Timeline | None:
    if t is None:
        return None
    return Timeline(t.get("duration_ms", 0), t.get("stop_ms", 0),
                    *(tuple((t.get(k) or {}).items()) for k in TIMELINE_KINDS))
