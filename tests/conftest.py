"""Shared test switches and fixtures.

- `--update-golden`: rewrite golden files instead of comparing (fixture `update_golden`).
- Under CI=true a skipped test marked `@pytest.mark.root` fails: CI installs and starts
  everything, so a skip there means a real part did not work. A root test also marked
  `@pytest.mark.kernel_feature` needs a kernel feature CI's kernel lacks (kprobes): its skip
  stays a skip there, since no set-up step could provide it.
- `docker_client`, `sample_image`, `require_root`: the real parts the root tests use; each skips
  with the reason when its part is unavailable (and so fails in CI).
- `fake_host`, `FakeEngine`, `FakeTracer`: what a recording session (profiler/session/session.py)
runs
  on, without root: a host made of directories, an engine and a tracer in memory.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest
import yaml
from hypothesis import settings

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "samples"


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


# --- hypothesis: bounded and, under CI, derandomized -----------------------------------------
# Each test sets its own max_examples (fuzzing.examples); the profile sets the rest. Under
# CI=true examples come from a fixed seed (derandomize): a failure reproduces with the same
# command, and every run fuzzes the same number of inputs. Locally they are random (and
# hypothesis keeps failing examples in .hypothesis/ to try first next time).
settings.register_profile("ci", derandomize=True, deadline=None, database=None,
                          print_blob=True)
settings.register_profile("dev", deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if in_ci() else "dev"))


def pytest_terminal_summary(terminalreporter):
    """The inputs the fuzz tests gave each reader in this run (tests/fuzzing.py)."""
    fuzzing = sys.modules.get("fuzzing")
    counts = getattr(fuzzing, "COUNTS", None)
    if counts:
        terminalreporter.write_line(
            f"inputs fuzzed: {sum(counts.values())} ("
            + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) + ")")


# --- golden files ------------------------------------------------------------------------------

def pytest_addoption(parser):
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="write golden files from the current output instead of comparing against them",
    )


@pytest.fixture
def update_golden(request) -> bool:
    """True when the run was started with --update-golden."""
    return bool(request.config.getoption("--update-golden"))


# --- CI: a skipped root test is a failed test -------------------------------------------------

def _skip_reason(report) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if (
        report.skipped
        and not hasattr(report, "wasxfail")
        and item.get_closest_marker("root") is not None
        and item.get_closest_marker("kernel_feature") is None
        and in_ci()
    ):
        report.outcome = "failed"
        report.longrepr = (
            f"root test skipped under CI=true, which counts as a failure "
            f"(CI must provide root, BPF and Docker): {_skip_reason(report)}"
        )


# --- Docker --------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def docker_client():
    """A docker SDK client for the local engine; skips when no engine answers."""
    try:
        import docker
    except ImportError as e:  # pragma: no cover - docker is a declared dependency
        pytest.skip(f"docker SDK not importable: {e}")
    try:
        client = docker.from_env(timeout=60)
        client.ping()
    except Exception as e:  # the SDK raises several unrelated types for "no engine"
        pytest.skip(f"Docker engine unreachable ({e}); run `make setup` as root")
    yield client
    client.close()


@dataclass(frozen=True)
class Sample:
    """One samples/<name>/ directory, as described by its sample.yaml."""

    name: str
    dir: Path
    image: str
    run: dict = field(default_factory=dict)  # docker run options in profiler record's spelling
    ready_port: int | None = None
    workload: Path | None = None
    port_env: str | None = None  # env var through which the workload takes the host port
    production: Path | None = None  # a heavier workload than the training one
    spec: dict = field(default_factory=dict)  # the whole sample.yaml

    @property
    def publish(self) -> list[str]:
        return list(self.run.get("publish") or [])

    @property
    def expected(self) -> dict | None:
        name = self.spec.get("expected")
        return yaml.safe_load((self.dir / name).read_text()) if name else None


def load_sample(name: str) -> Sample:
    d = SAMPLES / name
    spec = yaml.safe_load((d / "sample.yaml").read_text())
    return Sample(
        name=name,
        dir=d,
        image=spec["image"],
        run=spec.get("run") or {},
        ready_port=spec.get("ready_port"),
        workload=(d / spec["workload"]) if spec.get("workload") else None,
        port_env=spec.get("port_env"),
        production=(d / spec["production"]) if spec.get("production") else None,
        spec=spec,
    )


def sample_names() -> list[str]:
    """The single-container samples (a compose sample, `kind: compose`, has its own tests)."""
    return sorted(p.parent.name for p in SAMPLES.glob("*/sample.yaml")
                  if yaml.safe_load(p.read_text()).get("kind", "container") == "container")


@pytest.fixture(scope="session")
def sample_image(docker_client):
    """`sample_image(name)` -> Sample, after making sure its image exists and is current.
    scripts/build-samples.sh builds it when absent or when the sample directory changed, and
    does nothing otherwise."""
    ready: dict[str, Sample] = {}

    def ensure(name: str) -> Sample:
        if name not in ready:
            if not (SAMPLES / name / "sample.yaml").is_file():
                raise ValueError(f"no sample {name!r} under {SAMPLES}")
            if os.geteuid() != 0:
                pytest.skip("building sample images needs root")
            proc = subprocess.run(
                ["bash", str(REPO / "scripts" / "build-samples.sh"), name],
                capture_output=True, text=True, stdin=subprocess.DEVNULL,
            )
            if proc.returncode != 0:
                tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-15:])
                pytest.fail(f"building sample {name!r} failed:\n{tail}", pytrace=False)
            ready[name] = load_sample(name)
        return ready[name]

    return ensure


# --- root and BPF ----------------------------------------------------------------------------

# A raw tracepoint that does nothing: compiling, loading and attaching it proves bcc, the
# kernel headers, tracefs and the BPF permission all work. Run in a child so that a crash or a
# slow LLVM start-up stays out of the test process.
_BPF_CHECK = r"""
from bcc import BPF
b = BPF(text="RAW_TRACEPOINT_PROBE(sys_enter) { return 0; }")
b.cleanup()
"""

_bpf_status: list[str | None] = []  # [reason] once probed; None reason = usable


def _bpf_unusable_reason() -> str | None:
    if _bpf_status:
        return _bpf_status[0]
    reason = None
    if os.geteuid() != 0:
        reason = "needs root (eBPF and the Docker engine)"
    else:
        try:  # the recorder's own pre-flight names the missing part best
            from profiler.errors import ProfilerError
            from profiler.session.preflight import preflight
            preflight()
        except ProfilerError as e:
            reason = f"eBPF not usable here: {e.message}"
        except ImportError:
            pass
    if reason is None and os.geteuid() == 0:
        try:
            proc = subprocess.run([sys.executable, "-c", _BPF_CHECK], capture_output=True,
                                  text=True, timeout=120, stdin=subprocess.DEVNULL)
            if proc.returncode != 0:
                last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
                reason = f"eBPF not usable here (run `make setup`): {last}"
        except subprocess.TimeoutExpired:
            reason = "eBPF check timed out after 120 s"
    _bpf_status.append(reason)
    return reason


@pytest.fixture
def require_root():
    """Skip unless running as root with a working bcc/eBPF set-up."""
    reason = _bpf_unusable_reason()
    if reason:
        pytest.skip(reason)


# --- a recording session without root: fake host, engine and tracer ---------------------------

@pytest.fixture
def fake_host(tmp_path, monkeypatch):
    """A host where everything pre-flight checks is present, made of directories under
    tmp_path: tracefs with syscall tracepoints, kernel headers, a cgroup v2 mount (a test can
    see that a session leaves nothing there) and a /proc for a container's cgroup."""
    from profiler.kernel import btf, capsource
    from profiler.session import preflight, session

    tracing = tmp_path / "tracing"
    (tracing / "events" / "raw_syscalls").mkdir(parents=True)
    modules = tmp_path / "modules"
    (modules / platform.release() / "build").mkdir(parents=True)
    cgroup = tmp_path / "cgroup"
    cgroup.mkdir()
    (tmp_path / "proc").mkdir()
    mounts = tmp_path / "mounts"
    mounts.write_text(f"cgroup2 {cgroup} cgroup2 rw 0 0\n")
    monkeypatch.setattr(preflight, "TRACEFS_DIRS", (tracing,))
    monkeypatch.setattr(preflight, "MODULES_DIR", modules)
    monkeypatch.setattr(preflight, "MOUNTS", mounts)
    monkeypatch.setattr(session, "PROC", tmp_path / "proc")
    monkeypatch.setattr(preflight.os, "geteuid", lambda: 0)
    # BTF with every BPF feature pre-flight asks for, and the capability tracepoint
    (tracing / "events" / "capability" / "cap_capable").mkdir(parents=True)
    (tmp_path / "vmlinux").write_bytes(b"")
    monkeypatch.setattr(btf, "VMLINUX", tmp_path / "vmlinux")
    every = frozenset(member for _what, _enum, member in preflight.BPF_FEATURES)
    monkeypatch.setattr(btf, "running_kernel_enum", lambda enum: every)
    monkeypatch.setattr(capsource, "KPROBE_PMU", tmp_path / "no-kprobe-pmu")
    return tmp_path


class FakeEngine:
    """An engine.ContainerEngine in memory, with one image and the containers it creates (or
    `running`, for attach). A container runs from start until stop, or, with `exit_at_start`,
    has already exited with that code when first asked. `calls` is the order of events."""

    def __init__(self, image=None, container=None, exit_at_start: int | None = None,
                 running: bool = False, pid: int = 0, create_error: Exception | None = None,
                 engine=None, files=None):
        from profiler.session.engine import ContainerInfo, EngineInfo, ImageInfo

        self.files = files or {}  # path -> filecaps.FileInfo (the container's file system)

        self.engine = engine or EngineInfo("docker", "20.10.24", "runc", "cgroupfs")

        self.image_info = image or ImageInfo(id="sha256:img", tags=("app:1",), working_dir="/srv")
        self.info = container or ContainerInfo(id="c0ffee", name="profiler-test",
                                               image="app:1", image_id=self.image_info.id)
        self.exit_at_start = exit_at_start
        self.running = running
        self.exit_code = 0
        self.pid = pid
        self.create_error = create_error
        self.calls: list[str] = []
        self.spec = None
        self._lock = threading.Lock()

    def _log(self, call: str) -> None:
        with self._lock:
            self.calls.append(call)

    def cgroup_driver(self) -> str:
        return "cgroupfs"

    def engine_info(self):
        return self.engine


    def image(self, ref: str):
        from profiler.errors import EngineError

        if ref not in (*self.image_info.tags, self.image_info.id):
            raise EngineError(f"image {ref!r} not found in the local engine")
        return self.image_info

    def create(self, spec, cgroup_parent=None, labels=None):
        self._log("create")
        if self.create_error is not None:
            raise self.create_error
        self.spec = spec
        return self.info.id  # the handle: anything only this engine looks into

    def container(self, ref: str):
        return self.info.id

    def describe(self, container):
        return self.info

    def start(self, container) -> None:
        self._log("start")
        self.running = self.exit_at_start is None
        self.exit_code = self.exit_at_start or 0

    def state(self, container):
        from profiler.session.engine import ContainerState

        return ContainerState(running=self.running, pid=self.pid, exit_code=self.exit_code)

    def stop(self, container, timeout: int) -> None:
        self._log(f"stop {timeout}")
        if self.running:
            self.running, self.exit_code = False, 143  # as SIGTERM ends a shell

    def wait(self, container, timeout: float):
        self._log("wait")
        return None if self.running else self.exit_code

    def remove(self, container) -> None:
        self._log("remove")
        self.running = False

    def last_logs(self, container, lines: int = 8) -> str:
        return "; last log lines: fake"

    def file_info(self, container, path: str):
        return self.files.get(path)

    def list_running(self, labels: dict) -> list:
        ok = self.running and all(dict(self.info.labels).get(k) == v for k, v in labels.items())
        return [self.info.id] if ok else []


class FakeFleet(FakeEngine):
    """An engine with many containers (record --match): `containers` (ContainerInfo), by id; a
    test starts one with `run(id, tracer)` (running, and its cgroup made: tracer.start), which
    `list_running(labels)` then lists; `gone` ids are no longer known to the engine. A handle
    is the container's id; `calls` logs "stop NAME TIMEOUT"."""

    def __init__(self, *containers, running=(), pids=None):
        super().__init__()
        self.containers = {c.id: c for c in containers}
        self.up: set[str] = set(running)
        self.pids: dict[str, int] = dict(pids or {})
        self.gone: set[str] = set()

    def run(self, container_id: str, tracer=None) -> None:
        self.up.add(container_id)
        if tracer is not None:
            tracer.start(container_id)

    def image(self, ref: str):
        from profiler.session.engine import ImageInfo

        return ImageInfo(id=ref, tags=(ref,))

    def container(self, ref: str):
        from profiler.errors import ContainerGone

        for c in self.containers.values():
            if ref in (c.id, c.name) and c.id not in self.gone:
                return c.id
        raise ContainerGone(f"no container named {ref!r}")

    def describe(self, container):
        return self.containers[container]

    def state(self, container):
        from profiler.session.engine import ContainerState

        return ContainerState(running=container in self.up, pid=self.pids.get(container, 0))

    def stop(self, container, timeout: int) -> None:
        self._log(f"stop {self.containers[container].name} {timeout}")
        self.up.discard(container)

    def list_running(self, labels: dict) -> list:
        return [cid for cid in sorted(self.up) if cid not in self.gone and
                all(dict(self.containers[cid].labels).get(k) == v for k, v in labels.items())]


class FakeTracer:
    """A session.TraceSource that returns `raw` from snapshot. `on_poll(n)` runs at the n-th
    poll (from 1), in the session's thread: a test sends itself Ctrl-C from there. An expected
    container's cgroup is announced at once (as the kernel does at its start) unless
    `announces` is False (a cgroup layout the match does not know).

    Match mode (loaded with match=True), as record.c does it: `starts` are containers (id,
    cgroup v2 path) that start by themselves once armed; at the first poll each gets a slot
    (1, 2, ... as the kernel hands them out) and `on_container(slot, id, path)` is called. A
    test starts more later with `start()` (from `on_poll`); an id already bound to a slot (a
    restart, or one named with `expect_container`) keeps its slot and is not announced again.
    `new_slot()` hands out slots from the top (MAX_SLOTS - 1 down), as the real tracer does.
    `containers` says what each container (by id) did: `snapshot_slots()` returns it for its
    slot (`raw` for a slot only given to `add_target`), except for dropped slots."""

    def __init__(self, raw=None, on_poll: Callable[[int], None] | None = None,
                 announces: bool = True, starts=(), containers=None):
        from profiler.kernel.wire import RawTrace

        self.raw = raw or RawTrace(arch="x86_64", counts={0: 3, 59: 1},
                                   execs={b"/usr/bin/app": 1})
        self.on_poll = on_poll
        self.announces = announces
        self.polls = 0
        self.tracked: list[int] = []
        self.expected: list[str] = []
        self.targets: list[int] = []
        self.cgroups: list[tuple[int, bytes]] = []
        self.began = False
        self.closed = False
        self.loaded_with: dict = {}
        self.on_container: Callable[[int, str, bytes], None] | None = None
        self.on_unslotted: Callable[[str, bytes], bool] | None = None
        self.unslotted_lost = self.unslotted_unrelated = 0
        self.pending_starts: list[tuple[str, bytes]] = list(starts)
        self.containers = dict(containers or {})  # container id -> RawTrace
        self.slot_of: dict[str, int] = {}  # container id -> slot
        self.slots: set[int] = set()  # every slot in use (bound to an id or a target)
        self.dropped: set[int] = set()
        self.kept: set[int] = set()
        self.announced: list[tuple[int, str, bytes]] = []  # on_container calls made
        self._next_kernel_slot = 1
        self._next_user_slot = None

    def load(self, containers, initial_cwd="/", all_exits=False, verify=False,
             own_pid_namespace=True, attach=False, capabilities=None, match=False,
             per_syscall=False):
        """The session.TracerLoader that hands out this tracer."""
        self.loaded_with = dict(containers=containers, initial_cwd=initial_cwd,
                                all_exits=all_exits, verify=verify,
                                own_pid_namespace=own_pid_namespace, attach=attach,
                                capabilities=capabilities, match=match,
                                per_syscall=per_syscall)
        self.design = "per-syscall" if per_syscall and not (all_exits or verify) else "raw"
        return self

    def set_initial_cwd(self, cwd: str) -> None:
        self.loaded_with["initial_cwd"] = cwd

    def track(self, pid: int, pending: bool = False) -> None:
        self.tracked.append(pid)

    def expect_container(self, container_id: str, slot: int = 0) -> None:
        self.expected.append(container_id)
        self.slot_of[container_id] = slot
        self.slots.add(slot)
        if self.announces:
            self.cgroups.append((slot, b"/docker/" + container_id.encode()))

    def add_target(self, cgroup_id: int, slot: int = 0) -> None:
        self.targets.append(cgroup_id)
        self.slots.add(slot)

    def is_target(self, cgroup_id: int) -> bool:
        return cgroup_id in self.targets

    def begin(self) -> None:
        self.began = True

    # --- match mode -------------------------------------------------------------------------
    def start(self, container_id: str, path: bytes | None = None) -> int:
        """A container's cgroup appears (match mode): its slot, announced if new."""
        path = path or b"/docker/" + container_id.encode()
        slot = self.slot_of.get(container_id)
        if slot is None:
            slot = self._next_kernel_slot
            self._next_kernel_slot += 1
            self.slot_of[container_id] = slot
            self.slots.add(slot)
            self.announced.append((slot, container_id, path))
            if self.on_container is not None:
                self.on_container(slot, container_id, path)
        if slot not in self.dropped:
            self.cgroups.append((slot, path))
        return slot

    def start_unslotted(self, container_id: str) -> None:
        """A container's cgroup appears while every slot is taken (record.c's EV_NOSLOT)."""
        path = b"/docker/" + container_id.encode()
        if self.on_unslotted is None or self.on_unslotted(container_id, path):
            self.unslotted_lost += 1
        else:
            self.unslotted_unrelated += 1

    def _announce_starts(self) -> None:
        if not self.loaded_with.get("match"):
            return
        starts, self.pending_starts = self.pending_starts, []
        for cid, path in starts:
            self.start(cid, path)

    def new_slot(self) -> int:
        from profiler.kernel.wire import MAX_SLOTS

        if self._next_user_slot is None:
            self._next_user_slot = MAX_SLOTS - 1
        slot = self._next_user_slot
        self._next_user_slot -= 1
        self.slots.add(slot)
        return slot

    def drop(self, slot: int) -> None:
        self.dropped.add(slot)

    def keep(self, slot: int) -> None:
        self.kept.add(slot)

    def snapshot_slots(self):
        if not self.loaded_with.get("match"):
            return {0: self.raw}
        ids = {slot: cid for cid, slot in self.slot_of.items()}
        return {slot: self.containers.get(ids.get(slot), self.raw)
                for slot in sorted(self.slots - self.dropped)}

    # --- streaming and the end ----------------------------------------------------------------
    def drain(self) -> None:
        self._announce_starts()

    def poll(self, timeout_ms: int = 100) -> None:
        self.polls += 1
        self._announce_starts()
        if self.on_poll is not None:
            self.on_poll(self.polls)
        time.sleep(0.002)  # not a busy loop; no test depends on how long a poll takes

    def live_stats(self) -> dict[str, int]:
        return {"syscalls": len(self.raw.counts), "paths": 0, "execs": 0, "lost": 0}

    def note_first_seen(self, elapsed: float) -> None:
        pass

    def mark_stop(self, elapsed: float) -> None:
        pass

    def snapshot(self):
        return self.raw

    def close(self) -> None:
        self.closed = True
