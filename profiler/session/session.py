"""A recording session: the traced run in each mode, and a graceful stop. Pre-flight is
session/preflight.py, the workload and the wait loops session/workload.py.

Four modes: a new container from an image (the container's whole life from its entrypoint's
exec), attach to a running container (startup not observed), a plain command tree on the host
(exec mode, the accuracy oracle against strace), and match mode (`record_match`: every
container that starts carrying given labels, each in its own tracer slot, those running
attached, merged per service into one recording each; profiler/recording/project.py names the
services and writes the directory). The session drives the tracer and the
engine; turning the result into the model is aggregate.build_recording's job (and
aggregate.build_denials's, for what a policy refused).

The engine and the tracer come in behind small interfaces (engine.ContainerEngine, and
TraceSource/TracerLoader below), so tests drive a session with fakes (tests/conftest.py); the
host facts pre-flight (preflight.py) and the cgroups read are module constants that tests point
elsewhere.
"""

from __future__ import annotations

import os
import platform
import shlex
import signal
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Protocol

from .. import __version__
from ..recording import aggregate, filecaps, project
from . import longrun
from ..kernel import cgroups, leftovers, syscalls
from ..recording.aggregate import Denials, build_denials, build_recording
from .preflight import check_command, check_workload, preflight, v2_root
from .workload import (Interrupt, Progress, Ticker, run_command, until, while_ticking,
                       workload_until)
from . import factcache
from .engine import (FACTS_READER, OWNER_LABEL, CapabilityConfig, ContainerEngine, ContainerInfo, Engine,
                     ImageInfo, RunSpec, container_runtime, wait_port)
from ..errors import (ContainerGone, EngineError, EnvironmentProblem, ProfilerError, UsageError,
                      WorkloadError)
from ..recording.model import ContainerConfig, ImageFacts, Metadata, Recording, Workload
from ..recording.project import Instance, Project, Selector, Service
from ..kernel.wire import RawTrace

# Where pre-flight looks (module constants so that tests can point them elsewhere).
PROC = Path("/proc")  # a container's cgroup and bounding set (attach mode)


@dataclass
class Options:
    workload: str | None = None
    ready_port: int | None = None
    duration: float | None = None
    settle: float = 1.0
    stop_timeout: int = 10
    ready_timeout: float = 60.0
    allow_workload_failure: bool = False
    all_errnos: bool = False  # trace every syscall's exit (all errnos; about +0.3x per syscall)
    verify: bool = False  # also count seccomp and capability denials (profiler verify)
    capabilities: str = "auto"  # capsource.CHOICES: where capability checks come from
    # Restart the container once after the workload and run the workload again: the recording
    # then holds a later boot too (on the data the first boot left in its volumes).
    restart: bool = False
    # The tracer's entry side (kernel/tracer.py DESIGNS): "raw", or "per-syscall" (issue 21:
    # opt-in; a container started by record, or --exec; else the raw one runs, with a note).
    tracer: str = "raw"
    # Attach and match mode (session/longrun.py): build and write the recording every this many
    # seconds while it runs (0: only at the end).
    snapshot_every: float = 0.0


@dataclass
class Outcome:
    recording: Recording
    notes: list[str] = field(default_factory=list)
    workload_failed: bool = False
    interrupted: bool = False
    elapsed: float = 0.0
    denials: Denials = field(default_factory=Denials)  # what a policy refused (verify runs)
    logs: str = ""  # the container's last log lines ("; last log lines: ..."), if any




class TraceSource(Protocol):
    """What a session needs from the tracer (tracer.Tracer, or a test's fake)."""

    cgroups: list[tuple[int, bytes]]  # (slot, v2 path) of each cgroup the kernel matched
    # match mode: called from poll()/drain() with (slot, container id, cgroup v2 path) for each
    # container the kernel gave a new slot; the callee then calls keep(slot) or drop(slot)
    on_container: Callable[[int, str, bytes], None] | None
    # match mode: called likewise for a container that found every slot taken (not traced);
    # returns True when it is the application's (a loss), False when it is unrelated
    on_unslotted: Callable[[str, bytes], bool] | None

    # the cwd of a task /proc no longer answers for (the image's working directory): given
    # after the load, before the container is expected
    def set_initial_cwd(self, cwd: str) -> None: ...
    def track(self, pid: int, pending: bool = False) -> None: ...
    def expect_container(self, container_id: str, slot: int = 0) -> None: ...
    def add_target(self, cgroup_id: int, slot: int = 0) -> None: ...
    def is_target(self, cgroup_id: int) -> bool: ...
    def begin(self) -> None: ...
    def drain(self) -> None: ...
    def poll(self, timeout_ms: int = 100) -> None: ...
    def live_stats(self) -> dict[str, int]: ...
    def note_first_seen(self, elapsed: float) -> None: ...
    def mark_stop(self, elapsed: float) -> None: ...
    def snapshot(self) -> RawTrace: ...
    def close(self) -> None: ...
    # match mode (issue 13): one slot per container
    def new_slot(self) -> int: ...  # a slot for expect_container/add_target (a running one)
    def drop(self, slot: int) -> None: ...  # not wanted: stops counting, left out of snapshots
    def keep(self, slot: int) -> None: ...
    def snapshot_slots(self) -> dict[int, RawTrace]: ...  # slot -> its RawTrace (kept slots)


class TracerLoader(Protocol):
    """Compiles and attaches a tracer: `containers` for the tasks of the containers it is then
    told about (`attach`: running ones), or not, for only the tasks given to `track`."""

    def __call__(self, containers: bool, initial_cwd: str = "/", all_exits: bool = False,
                 verify: bool = False, own_pid_namespace: bool = True, attach: bool = False,
                 capabilities: str | None = None, match: bool = False,
                 per_syscall: bool = False) -> TraceSource: ...


def bounding_from_config(caps: CapabilityConfig) -> int:
    """The container's capability bounding set, from its configuration (the engine's default set,
    plus --cap-add, minus --cap-drop; all for --privileged). Known before the container runs,
    unlike /proc/PID/status, which a short-lived container may not live long enough to show."""
    from ..kernel.linux import CAPABILITIES, CAPABILITY_NUMBERS, DOCKER_DEFAULT_CAPS, cap_full

    every = {n for n in CAPABILITIES}
    if caps.privileged:
        return sum(1 << n for n in every)

    def numbers(names) -> set[int]:
        out: set[int] = set()
        for name in names or ():
            name = name.upper()
            if name == "ALL":
                out |= every
            else:
                n = CAPABILITY_NUMBERS.get(cap_full(name))
                if n is not None:
                    out.add(n)
        return out

    bounding = {CAPABILITY_NUMBERS[c] for c in caps.defaults or DOCKER_DEFAULT_CAPS}
    bounding -= numbers(caps.drop)
    bounding |= numbers(caps.add)
    return sum(1 << n for n in bounding)


def _cap_bounding(pid: int) -> int | None:
    try:
        for line in (PROC / str(pid) / "status").read_text().splitlines():
            if line.startswith("CapBnd:"):
                return int(line.split()[1], 16)
    except OSError:
        return None
    return None


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _load_tracer(containers: bool, initial_cwd: str = "/", all_exits: bool = False,
                 verify: bool = False, own_pid_namespace: bool = True, attach: bool = False,
                 capabilities: str | None = None, match: bool = False,
                 per_syscall: bool = False):
    from ..kernel.tracer import Tracer  # the bcc import happens only when we really trace
    return Tracer(containers=containers, attach=attach, initial_cwd=initial_cwd,
                  all_exits=all_exits, verify=verify, own_pid_namespace=own_pid_namespace,
                  capabilities=capabilities, match=match, per_syscall=per_syscall)


def _preload_tracer() -> None:
    """The tracer's module and bcc, imported in this thread before the load's thread begins:
    their Python work would otherwise share the GIL with the engine SDK's import in this
    thread, and the load would reach the verifier later (measured: the tracer's thread was the
    last one ready at every start)."""
    from ..kernel import tracer

    tracer.preload()


PER_SYSCALL_NOTE = ("recorded with the per-syscall tracer (--tracer per-syscall): a syscall's "
                    "entry event is detached once seen, so syscall counts are lower bounds; "
                    "i386 calls of 64-bit programs (int $0x80) reach no such event and are "
                    "not seen (a 32-bit program's exec is counted as loss)")


def _design_notes(opts: Options, tracer, why: str = "") -> list[str]:
    """What the recording must say of the tracer's design: per-syscall's limits, or why the
    raw design ran although per-syscall was asked for (`why`: the session's own reason, when
    it did not ask the tracer for it; else the tracer's)."""
    design = getattr(tracer, "design", "raw")
    if design == "per-syscall":
        return [PER_SYSCALL_NOTE]
    if opts.tracer == "per-syscall":
        why = why or getattr(tracer, "design_why", "") or "this recording mode"
        return [f"--tracer per-syscall was not used ({why}): recorded with the raw tracer"]
    return []


def _caps_note(why: str | None) -> list[str]:
    return [f"capabilities were not recorded: {why}; emit will not print a capability line "
            f"from this recording unless told (--caps-unknown)"] if why else []


# ---------------------------------------------------------------------------------------------
# container mode
# ---------------------------------------------------------------------------------------------

def _check_cgroup_matched(tracer: TraceSource, engine: ContainerEngine, container) -> None:
    """After the start: the container's cgroup must have been recognised (cgroups.py), or the
    recording would be silently empty. Says which cgroup the container got when it was not."""
    tracer.drain()
    if tracer.cgroups:
        return
    rel = None
    try:
        rel = cgroups.v2_path((PROC / str(engine.state(container).pid) / "cgroup").read_text())
    except OSError:  # exited already: its cgroup is gone, and it was never announced
        pass
    if rel and tracer.is_target((v2_root() / rel.lstrip("/")).stat().st_ino):
        return  # matched, only its announcement was lost
    where = f"cgroup {rel}" if rel else "cgroup (never announced)"
    raise EnvironmentProblem(
        f"the container's {where} does not carry its id: this cgroup layout is not supported",
        hint="supported: Docker's cgroupfs and systemd drivers, Podman "
             "(profiler/kernel/cgroups.py)")


def _metadata(mode: str, arch: str, started_at: str, container: ContainerConfig, *,
              image_ref: str = "", image: ImageInfo | None = None, command=(),
              workload: str | None = None, workload_status: int | None = None,
              startup_observed: bool = True, exit_code: int | None = None,
              engine: ContainerEngine | None = None, info: ContainerInfo | None = None,
              image_facts: ImageFacts | None = None) -> Metadata:
    """The recording's metadata, ended now; with the engine and the container, which engine
    and OCI runtime it ran under (emit's runtime block, docs/emit.md)."""
    einfo = engine.engine_info() if engine is not None else None
    return Metadata(
        tool_version=__version__, kernel=platform.release(), arch=arch, mode=mode,
        started_at=started_at, ended_at=_now(), image=image_ref,
        image_id=image.id if image else "", image_tags=image.tags if image else (),
        container=container, command=tuple(command),
        workload=Workload(workload, workload_status) if workload else None,
        startup_observed=startup_observed, exit_code=exit_code,
        engine=einfo.label if einfo else "",
        runtime=container_runtime(info, einfo) if einfo and info else "",
        image_facts=image_facts)


def _container_config(c: ContainerInfo, image_entrypoint: tuple[str, ...] = (),
                      run_options: tuple[tuple[str, str], ...] = (),
                      empty: dict[str, bool] | None = None) -> ContainerConfig:
    """The container as the engine describes it; `empty`: mount target -> nothing below it
    before the app started (record_container looks, attach cannot)."""
    empty = empty or {}
    return ContainerConfig(user=c.user, working_dir=c.working_dir,
                           entrypoint=c.entrypoint or image_entrypoint, cmd=c.cmd,
                           env_names=c.env_names, run_options=run_options,
                           env_paths=c.env_paths, name=c.name.lstrip("/"),
                           mounts=tuple(replace(m, empty_at_start=empty.get(m.target))
                                        for m in c.mounts),
                           network_mode=c.network_mode, networks=c.networks, dns=c.dns,
                           dns_search=c.dns_search, dns_options=c.dns_options)


def _image_facts(engine: ContainerEngine, image: ImageInfo) -> ImageFacts | None:
    """What the image holds where the run line may mount (hardening.py reads it); None, said
    in the summary's notes by the caller, when the engine could not show it. Kept by image id
    (factcache.py): an image's content never changes under its id."""
    read = getattr(engine, "image_facts", None)
    if read is None:
        return None
    where = factcache.cache_dir()
    key = factcache.cache_key(image.id, image.volumes, FACTS_READER)
    facts = factcache.load(key, where)
    if facts is None:
        facts = read(image.id, image.volumes)
        if facts is not None:
            factcache.store(facts, key, where)
    return facts


def _empty_mounts(engine: ContainerEngine, container, info: ContainerInfo) -> dict[str, bool]:
    """Volume and bind targets of a created container -> whether nothing lies below them (the
    app's first boot for a data directory). Read before the start: a bind's host directory
    here, anything else (or a bind source this process cannot list) through the engine."""
    look = getattr(engine, "mount_entries", None)
    out = {}
    for m in info.mounts:
        if m.type not in ("volume", "bind"):
            continue
        empty = bind_empty(m.source) if m.type == "bind" else None
        if empty is None and look:
            n = look(container, m.target)
            empty = None if n is None else n == 0
        if empty is not None:
            out[m.target] = empty
    return out


def bind_empty(source: str) -> bool | None:
    """Whether a bind mount's host directory holds no entry, read on this host: the container
    sees that directory itself, and it runs on this host (its kernel is the one traced). It
    spares the engine a `docker cp` of the target (it mounts the container's file system to
    read it: 0.1 s and more on a busy host) before the start. None when `source` is not a
    directory this process can list (a file, a path of another mount namespace): then the
    engine is asked."""
    if not source.startswith("/"):
        return None
    try:
        with os.scandir(source) as it:
            return next(it, None) is None
    except OSError:  # absent here, not a directory, not readable
        return None


class _Background:
    """fn() in a daemon thread, begun at once; `result()` waits for it and returns its value
    or raises its error in the caller's thread; `value()` waits and returns the value or
    None, never raising (a caller cleaning up after its own error)."""

    def __init__(self, fn: Callable[[], object]):
        self._box: dict = {}

        def run():
            try:
                self._box["value"] = fn()
            except BaseException as e:  # re-raised in the caller's thread
                self._box["error"] = e

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()

    def result(self):
        self._thread.join()
        if "error" in self._box:
            raise self._box["error"]
        return self._box.get("value")

    def value(self):
        self._thread.join()
        return self._box.get("value")


def record_container(spec: RunSpec, opts: Options, progress: Progress | None = None,
                     engine: ContainerEngine | None = None,
                     load_tracer: TracerLoader | None = None) -> Outcome:
    caps, caps_why = preflight(opts.capabilities)
    check_workload(opts.workload)
    if load_tracer is None:
        load_tracer = _load_tracer
        _preload_tracer()
    # The BPF load begins first: the verifier works in the kernel without the GIL, beside the
    # engine SDK's import and connect, the image's inspect, the container's create and the
    # look below its mounts (the engine works in its daemon). The image's working directory,
    # which the tracer needs only for the events of the container, is given once known.
    loading = _Background(lambda: load_tracer(True, "/", opts.all_errnos, opts.verify,
                                              capabilities=caps,
                                              per_syscall=opts.tracer == "per-syscall"))
    container = None
    tracer = None
    sweeping = None
    try:
        try:
            engine = engine or Engine()
            # What killed runs left (others' containers: never ours, whose owner is alive) is
            # swept beside our own calls to the engine.
            sweeping = _Background(lambda: sweep_leftovers(engine))
            image = engine.image(spec.image)
            session = f"profiler-{uuid.uuid4().hex[:12]}"
            container = engine.create(spec, labels={"io.profiler.session": session,
                                                    OWNER_LABEL: leftovers.owner_token()})
            info = engine.describe(container)
            empty = _empty_mounts(engine, container, info)
        finally:  # a tracer loaded for a container that failed is closed below all the same
            if sweeping is not None:
                sweeping.value()
            tracer = loading.value()
        tracer = loading.result()
        tracer.set_initial_cwd(image.working_dir or "/")
        # The image's content (1-3 s of `docker cp` on a busy host, unless cached by image id:
        # session/factcache.py) is read from a container of its own while the app runs
        # (started after ours: the engine would share its start between the two); verify
        # needs none.
        facts_thread: _Background | None = None
        # Its cgroup does not exist yet: the kernel announces it at the start (any driver).
        tracer.expect_container(info.id)
        started_at = _now()
        t0 = time.monotonic()
        with Interrupt() as intr:
            engine.start(container)
            if not opts.verify:
                facts_thread = _Background(lambda: _image_facts(engine, image))
            _check_cgroup_matched(tracer, engine, container)
            bounding = bounding_from_config(info.capabilities)
            exit_code, wl_status, restarts = _drive(
                engine, container, tracer, opts, intr, progress, t0,
                env_extra={"PROFILER_CONTAINER_ID": info.id,
                           "PROFILER_CONTAINER_NAME": info.name})
            raw = tracer.snapshot()
        end_notes = _engine_notes(engine, container)
        facts = facts_thread.value() if facts_thread is not None else None
        metadata = _metadata(
            "container", raw.arch, started_at,
            _container_config(info, image.entrypoint, spec.options(), empty),
            image_ref=spec.image, image=image, command=spec.command or (),
            workload=opts.workload, workload_status=wl_status, exit_code=exit_code,
            engine=engine, info=info, image_facts=facts)
        metadata = replace(metadata, restarts=restarts, tracer=getattr(tracer, "design", "raw"))
        rec, notes = build_recording(raw, metadata, cap_bounding=bounding)
        notes = _design_notes(opts, tracer) + notes
        if facts is None and not opts.verify:
            notes.append("the image's content could not be read (docker cp): emit keeps the "
                         "root writable where a tmpfs might hide a file the app used")
        # The entrypoint too: a start the kernel refused (EPERM at exec) ran no executable.
        program = (info.entrypoint + info.cmd)[:1]
        rec, more = _with_exec_files(rec, lambda p: engine.file_info(container, p), program)
        out = _finish(rec, _caps_note(caps_why) + notes + more + end_notes, opts, wl_status,
                      intr.hit,
                      time.monotonic() - t0)
        out.denials = build_denials(raw)
        out.logs = engine.last_logs(container)
        return out
    finally:
        if container is not None:
            engine.remove(container)
        if tracer is not None:
            tracer.close()


def _drive(engine: ContainerEngine, container, tracer: TraceSource, opts: Options, intr,
           progress, t0, env_extra) -> tuple[int | None, int | None, int]:
    """Wait for readiness, run the workload (with opts.restart: restart the container and run
    it again), stop gracefully. Returns (exit code, workload's, restarts made)."""

    def alive() -> bool:
        return engine.state(container).running

    tick = Ticker(tracer, progress, t0)
    deadline = time.monotonic() + (opts.duration if opts.duration else 10**9)
    _wait_ready(engine, container, opts, intr, alive, tick)
    state = engine.state(container)
    if state.gone:
        raise EngineError("the container was removed (by someone else?) before it was ready; "
                          "nothing was written")
    if not state.running and state.exit_code != 0 and not opts.verify:
        # (verify goes on: an early exit under a policy is a finding, with its denials)
        oom = " (killed by the OOM killer: its --memory limit)" if state.oom_killed else ""
        raise EngineError(f"the container exited at once with code {state.exit_code}{oom}"
                          f"{engine.last_logs(container)}")

    wl_status = None
    if opts.workload and not intr.hit:
        wl_status = workload_until(opts.workload, env_extra, intr, deadline, tick)
    else:
        until(intr, deadline, tick, alive)
    restarts = 0
    if opts.restart and not intr.hit and alive():
        # A later boot of the same container: its volumes hold what the first boot left, as
        # after a `docker restart` in production (recovery, "already initialised" paths).
        while_ticking(lambda: engine.stop(container, opts.stop_timeout), tick)
        engine.wait(container, timeout=5)
        engine.start(container)
        restarts = 1
        _wait_ready(engine, container, opts, intr, alive, tick)
        if opts.workload and not intr.hit:
            second = workload_until(opts.workload, env_extra, intr, deadline, tick)
            wl_status = second if wl_status in (None, 0) else wl_status

    # Graceful stop (SIGTERM, then SIGKILL after the timeout) while we keep draining events.
    tracer.mark_stop(time.monotonic() - t0)
    while_ticking(lambda: engine.stop(container, opts.stop_timeout), tick)
    exit_code = engine.wait(container, timeout=5)
    tick()
    return exit_code, wl_status, restarts


def sweep_leftovers(engine: ContainerEngine | None) -> None:
    """Before a run that makes containers or profiles: remove what killed runs left behind
    (profiler/kernel/leftovers.py), and say so on stderr."""
    if engine is not None and not hasattr(engine, "list_owned"):
        engine = None  # a test's fake engine: files only
    try:
        done = leftovers.sweep(engine)
    except EngineError:
        return  # the run itself will say what is wrong with the engine
    for what in done:
        print(f"profiler: removed what a killed run left behind: {what}", file=sys.stderr)


def _engine_notes(engine: ContainerEngine, container) -> list[str]:
    """What the engine did to the recording behind its back: the container removed by someone
    else (what it did until then is recorded; its end was not graceful), the engine not
    answering for a while (a restart: without live-restore it kills its containers)."""
    notes = []
    end = engine.state(container) if container is not None else None
    # Killed (137): by `docker rm -f` (its removal follows the kill at once), or by the OOM
    # killer, which the engine learns from containerd's OOM event, which may come after the
    # exit (on a busy host the note was missing once): asked again for up to 2 s.
    waited = 0.0
    while end is not None and not end.running and not end.gone and end.exit_code == 137 \
            and not end.oom_killed and waited < 2.0:
        time.sleep(0.25)
        waited += 0.25
        end = engine.state(container)
    if end is not None and end.gone:
        notes.append("the container was removed by someone else during the recording: what it "
                     "did until then is recorded, its shutdown is not")
    if end is not None and end.oom_killed:
        notes.append("the kernel's OOM killer ended the container (its --memory limit): what it "
                     "did until then is recorded")
    outages = getattr(engine, "outages", ())
    if outages:
        notes.append(f"the container engine did not answer for {sum(outages):.0f} s during the "
                     f"recording (restarted?); the recording covers what the container did")
    return notes


def _wait_ready(engine: ContainerEngine, container, opts: Options, intr, alive, tick) -> None:
    """Ready: a port that accepts, or a short settle time."""
    if _await_ready(opts, intr, alive, tick) or intr.hit or opts.verify:
        return
    state = engine.state(container)
    if not state.running:
        raise EngineError(f"the container exited with code {state.exit_code} before "
                          f"127.0.0.1:{opts.ready_port} accepted"
                          f"{engine.last_logs(container)}")
    raise _not_ready(opts)


def _await_ready(opts: Options, intr, alive, tick) -> bool:
    """Tick until 127.0.0.1:--ready-port accepts (False: not within --ready-timeout, or
    `alive()` turned False), or, without a port, for the settle time."""
    if not opts.ready_port:
        settle_until = time.monotonic() + opts.settle
        while time.monotonic() < settle_until and not intr.hit and alive():
            tick()
        return True
    ready_by = time.monotonic() + opts.ready_timeout
    while time.monotonic() < ready_by and not intr.hit:
        ok = wait_port(opts.ready_port, min(time.monotonic() + 0.3, ready_by), alive)
        tick()
        if ok or not alive():
            return ok
    return False


def _not_ready(opts: Options) -> EngineError:
    return EngineError(f"127.0.0.1:{opts.ready_port} did not accept connections within "
                       f"{opts.ready_timeout:.0f} s",
                       hint="publish the port with -p 127.0.0.1:PORT:CONTAINERPORT")


def _with_exec_files(rec: Recording, lookup, programs=()) -> tuple[Recording, list[str]]:
    """rec with processes.exec_files: the file capabilities and set-id bits of what it exec'd
    (profiler/recording/filecaps.py), read from the file system the run used; and a note for each."""
    found = filecaps.exec_files(lookup, rec.processes.executables, programs)
    rec = replace(rec, processes=replace(rec.processes, exec_files=found))
    return rec, [f"exec'd {f.summary()}" for f in found if f.capabilities]


def _finish(rec: Recording, notes, opts: Options, wl_status, interrupted, elapsed) -> Outcome:
    failed = bool(opts.workload) and wl_status not in (0, None)
    return Outcome(rec, notes, workload_failed=failed, interrupted=interrupted, elapsed=elapsed)


# ---------------------------------------------------------------------------------------------
# attach mode
# ---------------------------------------------------------------------------------------------

def attach_warning(name: str) -> str:
    """What the user is told, before anything else, of a container recorded from the middle."""
    return f"attaching to {name}: its startup is not observed"


ATTACH_NOTE = "attached to a running container: its startup was not observed"


def programs_32bit(path: Path) -> list[str]:
    """"PID EXE" of each task in the container's cgroup tree whose executable is a 32-bit ELF
    (ELFCLASS32: i386 or x32): its calls reach no per-syscall event, and, running before we
    attached, no exec of it will be seen either. An executable that cannot be read (the task
    ended) is not one."""
    out = []
    for pid in cgroups.procs(path):
        exe = PROC / str(pid) / "exe"
        try:
            with exe.open("rb") as f:
                ident = f.read(5)
            if ident[:4] == b"\x7fELF" and ident[4:5] == b"\x01":
                out.append(f"{pid} {os.readlink(exe)}")
        except OSError:
            continue
    return out


def record_attach(ref: str, opts: Options, progress: Progress | None = None,
                  engine: ContainerEngine | None = None,
                  load_tracer: TracerLoader | None = None, previous: Recording | None = None,
                  write: Callable[[Recording], None] | None = None,
                  warn: Callable[[str], None] | None = None, source: str = "-o") -> Outcome:
    """Attach to a running container until it stops, the workload ends, --duration or Ctrl-C.
    `previous` (record --resume): the recording this run's evidence is merged into (the same
    image, checked here before anything is traced; `source` names its file). `write`, with
    opts.snapshot_every: called with a snapshot (longrun.as_snapshot) every interval; the
    caller writes the final one (the outcome's recording, merged with `previous`)."""
    caps, caps_why = preflight(opts.capabilities)
    check_workload(opts.workload)
    engine = engine or Engine()
    sweep_leftovers(engine)  # a killed run's temp files (a snapshot written when it was killed)
    load_tracer = load_tracer or _load_tracer
    container = engine.container(ref)
    state = engine.state(container)
    if not state.running:
        raise EngineError(f"container {ref!r} is not running")
    info = engine.describe(container)
    if previous is not None:
        longrun.check_same_image(previous, info.image_id, info.image, source)
    if warn is not None:  # once the container is known to run: no warning before an error
        warn(attach_warning(ref))
    path = _container_cgroup(ref, state.pid)
    # The per-syscall design sees a 32-bit program at its exec; one running already would be
    # missed whole: then the raw design runs (and the recording says why).
    old32 = programs_32bit(path) if opts.tracer == "per-syscall" else []
    tracer = load_tracer(True, info.working_dir or "/", opts.all_errnos,
                         own_pid_namespace=info.pid_mode != "host", attach=True,
                         capabilities=caps, per_syscall=opts.tracer == "per-syscall" and not old32)
    try:
        # Its cgroup and the ones below it, and any made from now on; its tasks count from now
        # (tasks older than that at once, record.c's attach_first_sight). The session's start
        # first: a task seen before it is set would count at once, whatever its age (a
        # `docker exec` in that moment would have its runtime set-up recorded).
        tracer.begin()
        for cgroup_id in cgroups.subtree_ids(path):
            tracer.add_target(cgroup_id)
        tracer.expect_container(info.id)
        image = engine.image(info.image_id)
        started_at = _now()
        t0 = time.monotonic()
        bounding = _cap_bounding(state.pid)
        asked = _Memo(engine)  # each snapshot builds the recording: the engine is asked once
        # The image's content (1-3 s of `docker cp` on a busy host, unless cached) is read once,
        # while the app runs, not in the tick loop of the first snapshot.
        facts = _Background(lambda: _image_facts(engine, image))

        def build(wl_status: int | None) -> tuple[Recording, list[str]]:
            """The recording from the tracer's aggregates now (read, not cleared)."""
            raw = tracer.snapshot()
            metadata = _metadata("attach", raw.arch, started_at, _container_config(info),
                                 image_ref=info.image, image=image, workload=opts.workload,
                                 workload_status=wl_status, startup_observed=False,
                                 engine=asked, info=info, image_facts=facts.result())
            metadata = replace(metadata, tracer=getattr(tracer, "design", "raw"))
            rec, notes = build_recording(raw, metadata, cap_bounding=bounding)
            rec, more = _with_exec_files(rec, lambda p: asked.file_info(container, p))
            return longrun.resumed(previous, rec), notes + more

        snaps = longrun.Snapshots(
            opts.snapshot_every if write is not None else 0,
            lambda: write(longrun.as_snapshot(build(None)[0], longrun.now_iso())), warn)
        with Interrupt() as intr:
            env = {"PROFILER_CONTAINER_ID": info.id, "PROFILER_CONTAINER_NAME": info.name}
            deadline = time.monotonic() + (opts.duration or 10**9)
            ticker = Ticker(tracer, progress, t0, poll_ms=100)

            def tick() -> None:
                ticker()
                snaps()

            def alive() -> bool:
                return engine.state(container).running

            wl_status = None
            if opts.workload:
                wl_status = workload_until(opts.workload, env, intr, deadline, tick, alive)
            else:
                until(intr, deadline, tick, alive)
            rec, notes = build(wl_status)
        why32 = (f"a 32-bit program runs in the container ({old32[0]}): its i386 calls reach "
                 f"no per-syscall event") if old32 else ""
        notes[:0] = [ATTACH_NOTE, *_caps_note(caps_why), *_design_notes(opts, tracer, why32)]
        if previous is not None:
            notes.insert(1, longrun.resume_note(previous))
        notes += _engine_notes(engine, container)
        if snaps.summary():
            notes.append(snaps.summary())
        return _finish(rec, notes, opts, wl_status, intr.hit, time.monotonic() - t0)
    finally:
        tracer.close()


class _Memo:
    """The engine, with the answers a recording's build needs remembered for the session: the
    image, its facts (read from a container of its own: seconds, when not cached), the
    engine's description and each executable's file (a `docker cp` each). A snapshot every interval then costs the
    tracer's maps and the build, not the engine. Everything else goes to the engine."""

    _REMEMBERED = ("image", "image_facts", "file_info", "engine_info")

    def __init__(self, engine: ContainerEngine):
        self._engine = engine
        self._answers: dict = {}

    def __getattr__(self, name: str):
        value = getattr(self._engine, name)
        if name not in self._REMEMBERED:
            return value

        def remembered(*args):
            key = (name, *(a if isinstance(a, (str, int, tuple)) else id(a) for a in args))
            if key not in self._answers:
                self._answers[key] = value(*args)
            return self._answers[key]
        return remembered


def _container_cgroup(ref: str, pid: int) -> Path:
    """The cgroup v2 directory of a running container's main process."""
    try:
        rel = cgroups.v2_path((PROC / str(pid) / "cgroup").read_text())
    except OSError:
        raise EngineError(f"container {ref!r} stopped while we looked at it") from None
    if not rel:
        raise EnvironmentProblem(f"container {ref!r} is not in the cgroup v2 hierarchy")
    return v2_root() / rel.lstrip("/")


# ---------------------------------------------------------------------------------------------
# exec mode
# ---------------------------------------------------------------------------------------------

def record_exec(argv: list[str], opts: Options, progress: Progress | None = None,
                load_tracer: TracerLoader | None = None) -> Outcome:
    """Trace a host command and its descendants from the command's first instruction: the child
    is forked and held before exec, registered as pending, then released; it counts from its
    exec on (the tracer counts that execve itself)."""
    caps, caps_why = preflight(opts.capabilities)
    if not argv:
        raise UsageError("--exec needs a command after --", hint="profiler record --exec -- ls -l")
    check_command(argv)
    tracer = (load_tracer or _load_tracer)(False, os.getcwd(), opts.all_errnos, capabilities=caps,
                                           per_syscall=opts.tracer == "per-syscall")
    try:
        go_r, go_w = os.pipe()
        err_r, err_w = os.pipe2(os.O_CLOEXEC)
        started_at = _now()
        pid = os.fork()
        if pid == 0:  # child: wait for the go, then exec (the errno goes back on failure)
            try:
                os.close(go_w)
                os.close(err_r)
                os.read(go_r, 1)
                os.close(go_r)
                os.execvp(argv[0], argv)
            except OSError as e:
                os.write(err_w, str(e.errno).encode())
            finally:
                os._exit(127)
        os.close(go_r)
        os.close(err_w)
        tracer.track(pid, pending=True)
        t0 = time.monotonic()
        os.write(go_w, b"x")
        os.close(go_w)
        failure = os.read(err_r, 16)
        os.close(err_r)
        if failure:
            os.waitpid(pid, 0)
            raise UsageError(f"cannot run {argv[0]!r}: {os.strerror(int(failure))}")
        with Interrupt() as intr:
            deadline = time.monotonic() + (opts.duration or 10**9)
            status = None
            tick = Ticker(tracer, progress, t0, poll_ms=20)
            while status is None:
                done, st = os.waitpid(pid, os.WNOHANG)
                if done:
                    status = os.waitstatus_to_exitcode(st)
                    break
                if intr.hit or time.monotonic() > deadline:
                    os.kill(pid, signal.SIGTERM)
                    _, st = os.waitpid(pid, 0)
                    status = os.waitstatus_to_exitcode(st)
                    break
                tick()
            raw = tracer.snapshot()
        metadata = _metadata("exec", raw.arch, started_at, ContainerConfig(working_dir=os.getcwd()),
                             command=argv, exit_code=status)
        metadata = replace(metadata, tracer=getattr(tracer, "design", "raw"))
        rec, notes = build_recording(raw, metadata, cap_bounding=None)
        notes = _design_notes(opts, tracer) + notes
        rec, more = _with_exec_files(rec, filecaps.from_host)
        return _finish(rec, _caps_note(caps_why) + notes + more, opts, None, intr.hit,
                       time.monotonic() - t0)
    finally:
        tracer.close()


# ---------------------------------------------------------------------------------------------
# match mode: every container that starts carrying the labels, one recording per service
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ServiceOutcome:
    """One service of a match session: its containers' merged recording and denials."""

    name: str
    recording: Recording
    notes: tuple[str, ...] = ()
    denials: Denials = field(default_factory=Denials)  # what a policy refused (verify runs)


@dataclass
class MatchOutcome:
    project: Project  # what project.write puts in the index
    services: tuple[ServiceOutcome, ...]  # sorted by name, as project.services
    notes: list[str] = field(default_factory=list)  # about the session, not one service
    workload_failed: bool = False
    workload_status: int | None = None
    interrupted: bool = False
    elapsed: float = 0.0

    def recordings(self) -> dict[str, Recording]:
        return {s.name: s.recording for s in self.services}


@dataclass(frozen=True)
class _Member:
    """A container kept for the recording: its slot in the tracer and its service."""

    slot: int
    handle: object  # the engine's
    info: ContainerInfo
    service: str
    attached: bool


class _Matcher:
    """Decides, for each container the kernel announces (tracer.on_container, called from poll
    and drain), whether it is kept: it must still exist and carry every selector's label. Its
    service name is checked then; a bad one fails the session at the next tick (`check`), not
    inside the tracer's callback."""

    def __init__(self, engine: ContainerEngine, tracer, selectors: tuple[Selector, ...]):
        self.engine, self.tracer, self.selectors = engine, tracer, selectors
        self.members: dict[int, _Member] = {}
        # Matching container ids the kernel announced (or attach took): only matching ones,
        # whose number is bounded by the application; a busy host's unrelated containers
        # (thousands a day on a CI runner) must not grow a long recording's memory.
        self.seen: set[str] = set()
        # matching containers first seen since the tracer was armed (kept, or with a bad
        # service name): those COMMAND started, when there is one
        self.new: dict[str, object] = {}
        self.error: ProfilerError | None = None
        self.unidentified = 0  # containers gone before their labels could be read
        self.lost_starts: list[str] = []  # matching containers that found no slot (not traced)
        self.unrelated_unslotted = 0  # other containers that found no slot (no loss)

    def announced(self, slot: int, container_id: str, cgroup_path: bytes) -> None:
        try:
            handle = self.engine.container(container_id)
            info = self.engine.describe(handle)
        except ContainerGone:  # gone already (a one-shot container, or removed): its labels
            self.tracer.drop(slot)  # cannot be read any more
            self.unidentified += 1
            return
        except EngineError as e:  # the engine stopped answering: the session fails
            self.tracer.drop(slot)
            self.error = self.error or e
            return
        if not project.matches(dict(info.labels), self.selectors):
            self.tracer.drop(slot)
            return
        self.seen.add(info.id)
        self.new[info.id] = handle
        self._keep(slot, handle, info, attached=False)

    def unslotted(self, container_id: str, cgroup_path: bytes) -> bool:
        """A container that found every slot of the recorder taken (a burst of container
        starts faster than unrelated ones are dropped): True when it is the application's
        (its start is lost: counted as slots_exhausted) or the engine cannot say."""
        try:
            info = self.engine.describe(self.engine.container(container_id))
        except ContainerGone:  # as for an announced one: gone before its labels were read
            self.unidentified += 1
            return False
        except EngineError as e:
            self.error = self.error or e
            return True
        if not project.matches(dict(info.labels), self.selectors):
            self.unrelated_unslotted += 1
            return False
        self.lost_starts.append(info.name)
        return True

    def attach(self, handle, note: Callable[[str], None]) -> None:
        """A matching container that ran before the tracer was armed: its cgroups become a new
        slot's targets (attach semantics: its tasks count at first sight)."""
        info = self.engine.describe(handle)
        if info.id in self.seen:  # started while the tracer loaded, and announced: traced whole
            return
        try:
            path = _container_cgroup(info.name, self.engine.state(handle).pid)
        except EngineError:  # stopped while we looked
            return
        slot = self.tracer.new_slot()
        for cgroup_id in cgroups.subtree_ids(path):
            self.tracer.add_target(cgroup_id, slot)
        self.tracer.expect_container(info.id, slot)  # a restart makes its cgroup again
        self.seen.add(info.id)
        if self._keep(slot, handle, info, attached=True):
            note(attach_warning(info.name))

    def _keep(self, slot: int, handle, info: ContainerInfo, attached: bool) -> bool:
        try:
            service = project.service_of(dict(info.labels), info.name)
        except UsageError as e:
            self.tracer.drop(slot)
            self.error = self.error or e
            return False
        self.tracer.keep(slot)
        self.members[slot] = _Member(slot, handle, info, service, attached)
        return True

    def check(self) -> None:
        if self.error is not None:
            raise self.error

    def running(self) -> bool:
        """Any kept container still running (no workload: the recording ends with the app)."""
        return any(self.engine.state(m.handle).running for m in self.members.values())


def record_match(selectors: tuple[Selector, ...], opts: Options, command: list[str] | None = None,
                 progress: Progress | None = None, warn: Callable[[str], None] | None = None,
                 engine: ContainerEngine | None = None,
                 load_tracer: TracerLoader | None = None, previous=None,
                 write: Callable[[Project, dict[str, Recording]], None] | None = None
                 ) -> MatchOutcome:
    """Trace every container that starts carrying all the selectors' labels, from its
    entrypoint's first instruction, whoever starts it (COMMAND, a restart policy, a script);
    those already running are attached. COMMAND runs once the tracer is armed, the workload
    when COMMAND has exited; the end comes with the workload, --duration, Ctrl-C, or (no
    workload) when no kept container runs any more. Containers COMMAND started are then
    stopped gracefully. One recording per service: its containers' slots merged (replicas,
    restarts). Nothing is written here at the end: cmd_record writes `MatchOutcome.project`.
    With opts.snapshot_every, `write(project, recordings)` is called every interval with
    snapshots (longrun.as_snapshot). `previous` (record --resume, longrun.previous_project):
    the project this run's services are merged into."""
    if not selectors:
        raise UsageError("record --match needs at least one LABEL=VALUE",
                         hint="e.g. --match com.docker.compose.project=shop")
    labels = {s.label: s.value for s in selectors}
    if len(labels) != len(selectors):
        raise UsageError("--match gives one label two values: no container can match",
                         hint="give each LABEL once")
    caps, caps_why = preflight(opts.capabilities)
    check_workload(opts.workload)
    if command:
        check_command(command)
    engine = engine or Engine()
    sweep_leftovers(engine)
    load_tracer = load_tracer or _load_tracer
    warn = warn or (lambda _text: None)
    # Listed before loading: with containers to attach, their tasks count at first sight
    # (attach mode), while those of containers started from now on count from their exec.
    attach = bool(engine.list_running(labels))
    tracer = load_tracer(True, "/", opts.all_errnos, opts.verify, attach=attach,
                         capabilities=caps, match=True)
    matcher = _Matcher(engine, tracer, selectors)
    asked = _Memo(engine)  # snapshots: the engine is asked once per image and file
    notes: list[str] = _caps_note(caps_why)
    stops: dict[str, threading.Thread] = {}  # container id -> its stop

    def stop_started() -> list[threading.Thread]:
        """Begin to stop COMMAND's containers, gracefully, in parallel (each may take the stop
        timeout), also after an error or a second Ctrl-C; those begun already are not stopped
        twice. Returns every stop begun, for the caller to wait on."""
        for cid, handle in (matcher.new.items() if command else ()):
            if cid not in stops:
                stops[cid] = threading.Thread(target=engine.stop,
                                              args=(handle, opts.stop_timeout), daemon=True)
                stops[cid].start()
        return list(stops.values())

    try:
        tracer.on_container = matcher.announced
        tracer.on_unslotted = matcher.unslotted
        if attach:
            tracer.begin()
        tracer.drain()  # containers started while the tracer loaded are announced now
        for handle in engine.list_running(labels):
            if attach:
                matcher.attach(handle, warn)
            else:  # started while the tracer loaded, before it was armed: its start is lost
                info = engine.describe(handle)
                if info.id not in matcher.seen:
                    notes.append(f"{info.name} started while the recorder loaded: not recorded "
                                 f"(restart it, or record again)")
        matcher.check()
        started_at = _now()
        t0 = time.monotonic()

        def take_snapshot() -> None:
            raws = tracer.snapshot_slots()
            services = _services(matcher.members.values(), raws, opts, None, started_at, asked,
                                 [])
            if not services:
                return  # nothing traced yet
            proj = Project(selectors, tuple(p for p, _ in services),
                           _compose_project(matcher.members.values()), started_at, _now())
            proj, recs = longrun.resumed_project(previous, proj,
                                                 {o.name: o.recording for _, o in services})
            taken = longrun.now_iso()
            write(proj, {n: longrun.as_snapshot(r, taken) for n, r in recs.items()})

        snaps = longrun.Snapshots(opts.snapshot_every if write is not None else 0,
                                  take_snapshot, warn)
        with Interrupt() as intr:
            tick = Ticker(tracer, progress, t0)

            def step() -> None:
                tick()
                matcher.check()
                snaps()

            deadline = time.monotonic() + (opts.duration or 10**9)
            if command:
                status = run_command(command, intr, deadline, step)
                if status not in (0, None):
                    raise WorkloadError(f"{shlex.join(command)} failed (exit {status}); "
                                        f"nothing was written",
                                        hint="run it by hand to see why")
            if not _await_ready(opts, intr, lambda: True, step) and not intr.hit \
                    and not opts.verify:
                raise _not_ready(opts)
            wl_status = None
            if opts.workload and not intr.hit:
                wl_status = workload_until(opts.workload, {}, intr, deadline, step)
            else:
                last_look = [0.0, True]

                def alive() -> bool:  # asks the engine once a second, not on every tick
                    if not matcher.members:
                        return True  # nothing started yet: wait for it (or Ctrl-C, --duration)
                    if time.monotonic() - last_look[0] >= 1.0:
                        last_look[:] = [time.monotonic(), matcher.running()]
                    return last_look[1]

                until(intr, deadline, step, alive)
            tracer.mark_stop(time.monotonic() - t0)
            for stop in stop_started():  # while the tracer keeps draining
                while stop.is_alive():
                    step()
            tracer.drain()
            raws = tracer.snapshot_slots()  # (which hears the last announcements first)
            matcher.check()
        if not matcher.members:
            raise EngineError("no container matched " + " ".join(f"--match {s}" for s in selectors)
                              + "; nothing was written",
                              hint="see the labels with `docker inspect -f '{{json .Config.Labels}}' "
                                   "NAME`; compose sets com.docker.compose.project and "
                                   "com.docker.compose.service")
        if matcher.unidentified:
            notes.append(f"{matcher.unidentified} other container(s) started and were removed "
                         f"before their labels could be read (not recorded; if one of them was "
                         f"the application's, record again)")
        if matcher.lost_starts:
            notes.append(f"{', '.join(sorted(set(matcher.lost_starts)))} started while every "
                         f"container slot of the recorder was taken (a burst of container "
                         f"starts on this host): not recorded (counted as slots_exhausted loss; "
                         f"record again)")
        if matcher.unrelated_unslotted:
            notes.append(f"{matcher.unrelated_unslotted} unrelated container(s) started while "
                         f"every container slot was taken: not traced (they do not match)")
        notes += _engine_notes(engine, None)
        services = _services(matcher.members.values(), raws, opts, wl_status, started_at, asked,
                             notes)
        if not services:
            raise EngineError("the matched containers made no traced call; nothing was written",
                              hint="were they started after the recorder was armed?")
        failed = bool(opts.workload) and wl_status not in (0, None)
        proj = Project(selectors, tuple(p for p, _ in services),
                       _compose_project(matcher.members.values()), started_at, _now())
        outcomes = {o.name: o for _, o in services}
        if previous is not None:
            now = {n: o.recording for n, o in outcomes.items()}
            notes += longrun.image_changes(previous, now)
            proj, recs = longrun.resumed_project(previous, proj, now)
            for name, rec in recs.items():
                o = outcomes.get(name)
                outcomes[name] = (replace(o, recording=rec) if o is not None else
                                  ServiceOutcome(name, rec, ("not seen in this run: its "
                                                             "recording is the previous one",)))
            notes.insert(0, f"resumed: merged with the project already there (from "
                            f"{previous[0].started_at or '?'})")
        if snaps.summary():
            notes.append(snaps.summary())
        return MatchOutcome(
            project=proj, services=tuple(outcomes[n] for n in sorted(outcomes)), notes=notes,
            workload_failed=failed, workload_status=wl_status, interrupted=intr.hit,
            elapsed=time.monotonic() - t0)
    finally:
        try:
            for stop in stop_started():
                stop.join()
        finally:
            tracer.close()


def _compose_project(members) -> str | None:
    values = {dict(m.info.labels).get(project.PROJECT_LABEL) for m in members}
    return values.pop() if len(values) == 1 and None not in values else None


def _services(members, raws: dict[int, RawTrace], opts: Options, wl_status: int | None,
              started_at: str, engine: ContainerEngine, session_notes: list[str]
              ) -> list[tuple[Service, ServiceOutcome]]:
    """Group the kept slots by service and merge each service's (replicas, restarts: a
    restarted container keeps its slot) into one recording. A service none of whose slots saw
    anything is left out, with a note."""
    by_service: dict[str, list[_Member]] = {}
    for m in sorted(members, key=lambda m: m.slot):
        by_service.setdefault(m.service, []).append(m)
    out = []
    for name in sorted(by_service):
        group = by_service[name]
        traced = [raws[m.slot] for m in group if m.slot in raws]
        if not traced:
            session_notes.append(f"service {name}: its containers made no traced call; it has "
                                 f"no recording")
            continue
        raw = aggregate.merge_raw(traced)
        first = group[0].info
        attached = any(m.attached for m in group)
        try:
            image = engine.image(first.image_id)
        except EngineError:  # removed since: the recording names the reference only
            image = None
        metadata = _metadata(
            "attach" if attached else "container", raw.arch, started_at,
            _container_config(first, image.entrypoint if image else ()),
            image_ref=first.image, image=image, workload=opts.workload,
            workload_status=wl_status, startup_observed=not attached, engine=engine, info=first,
            image_facts=_image_facts(engine, image) if image else None)
        bounding = 0
        for m in group:
            bounding |= bounding_from_config(m.info.capabilities)
        rec, notes = build_recording(raw, metadata, cap_bounding=bounding)
        # (from the first container, while the engine still has it: file_info says nothing
        # about one already removed)
        rec, more = _with_exec_files(rec, lambda p: engine.file_info(group[0].handle, p),
                                     (first.entrypoint + first.cmd)[:1])
        notes += more
        if attached:
            notes.insert(0, ATTACH_NOTE)
        images = sorted({m.info.image for m in group})
        if len(images) > 1:
            notes.append(f"its containers ran different images ({', '.join(images)}); the "
                         f"recording names {first.image}")
        instances = tuple(Instance(m.info.id, m.info.name, m.attached) for m in group)
        out.append((Service(name, first.image, instances),
                    ServiceOutcome(name, rec, tuple(notes), build_denials(raw))))
    return out


def default_output(image: str) -> str:
    base = image.split("@", 1)[0].rsplit("/", 1)[-1].split(":", 1)[0] or "recording"
    return f"{base}.recording.yaml"


__all__ = ["Options", "Outcome", "RunSpec", "record_container", "record_attach", "record_exec",
           "record_match", "MatchOutcome", "ServiceOutcome", "default_output", "syscalls"]
