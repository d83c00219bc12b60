"""Whose is a logged call: pid -> cgroup -> container -> compose service.

An audit record names the calling task by its pid (in the initial pid namespace) only. While the
task lives, /proc/PID/cgroup gives its cgroup v2 path and the path the container
(kernel/cgroups.container_id_of); the engine gives the container's name, labels and image, and
project.service_of its service. A task that is gone by the time the record is read cannot be
asked: so the index remembers every pid it has seen in a container (`scan` reads the
cgroup.procs of each selected container, at every poll of `--follow`), and every container it
has met, also after the container is gone. What still cannot be attributed is counted, by
reason, never guessed.

Memory is bounded: at most MAX_PIDS pids and MAX_CONTAINERS containers are remembered (the
oldest go first); and a gone container is forgotten PID_TTL seconds after it was last seen
running or described, once no remembered pid names it (as its pids are), so that a long `--follow` amid container churn
holds what runs and what just ran, not every container of the past hours (a soak with a
container replaced every 30 s grew by its descriptions).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Callable, Protocol

from ..errors import EngineError, UsageError
from ..kernel.cgroups import container_id_of, v2_path
from ..recording import project

MAX_PIDS = 65_536
PID_TTL = 300.0  # seconds
MAX_CONTAINERS = 4_096


@dataclass(frozen=True)
class ContainerMeta:
    """A container as the engine described it, and the service it belongs to."""

    id: str  # 64 hex
    name: str
    service: str  # project.service_of; "" when its labels/name cannot name a policy
    image: str = ""
    labels: tuple[tuple[str, str], ...] = ()
    cgroup: str = ""  # its cgroup v2 path ("/docker/<id>"), "" when not known
    pid: int = 0  # its first task's pid while it runs, 0 otherwise
    started: float = 0.0  # when it (last) started, epoch seconds; 0.0 not known

    @property
    def short(self) -> str:
        return f"{self.name} {self.id[:12]}"


class Containers(Protocol):
    """What harvest asks the engine (session/engine.Engine behind it; a fake in tests)."""

    def running(self) -> list[ContainerMeta]: ...
    def lookup(self, cid: str) -> ContainerMeta | None: ...


@dataclass(frozen=True)
class Selection:
    """Which containers harvest keeps: `--match LABEL=VALUE` (all must match), `--container
    NAME` (its name or id), or every container."""

    selectors: tuple[project.Selector, ...] = ()
    container: str = ""

    def keeps(self, c: ContainerMeta) -> bool:
        if self.container:
            name = self.container.lstrip("/")
            return c.name.lstrip("/") == name or (len(name) >= 12 and c.id.startswith(name))
        return project.matches(dict(c.labels), self.selectors)


def service_name(labels: dict[str, str], name: str) -> str:
    try:
        return project.service_of(labels, name)
    except UsageError:
        return ""


class Index:
    """pid -> container id, container id -> ContainerMeta, bounded, fed by /proc and scans."""

    def __init__(self, containers: Containers, proc: Path = Path("/proc"),
                 cgroup_root: Path | None = None):
        self._containers = containers
        self._proc = proc
        self._cgroup_root = cgroup_root
        self.pids: OrderedDict[int, str] = OrderedDict()  # oldest sighting first
        self._seen: dict[int, float] = {}  # pid -> when last seen alive (monotonic)
        self.metas: OrderedDict[str, ContainerMeta] = OrderedDict()
        self._meta_seen: dict[str, float] = {}  # container id -> last seen running (monotonic)
        self._not_containers: OrderedDict[str, None] = OrderedDict()
        self._running: list[ContainerMeta] | None = None  # what the engine's last list said

    def _remember_pid(self, pid: int, cid: str) -> None:
        now = time.monotonic()
        self.pids[pid] = cid
        self.pids.move_to_end(pid)
        self._seen[pid] = now
        self._prune_pids(now)

    def _prune_pids(self, now: float) -> None:
        # A pid not seen alive for PID_TTL seconds is forgotten: its records were read long
        # since (--follow reads as they come), and the pid may be reused.
        while self.pids and (len(self.pids) > MAX_PIDS or
                             self._seen[next(iter(self.pids))] < now - PID_TTL):
            old, _ = self.pids.popitem(last=False)
            del self._seen[old]

    def remember(self, meta: ContainerMeta) -> None:
        old = self.metas.get(meta.id)
        if old is not None and not meta.cgroup and old.cgroup:
            meta = replace(meta, cgroup=old.cgroup)
        self.metas[meta.id] = meta
        self.metas.move_to_end(meta.id)
        self._meta_seen[meta.id] = time.monotonic()
        while len(self.metas) > MAX_CONTAINERS:
            old_id, _ = self.metas.popitem(last=False)
            self._meta_seen.pop(old_id, None)

    def _cgroup_of(self, pid: int) -> str | None:
        try:
            text = (self._proc / str(pid) / "cgroup").read_text()
        except OSError:
            return None
        return v2_path(text) or ""

    def meta(self, cid: str) -> ContainerMeta | None:
        """The container's description (remembered, or the engine's); None when the engine
        does not know it. EngineError when the engine does not answer."""
        m = self.metas.get(cid)
        if m is None and cid not in self._not_containers:
            m = self._containers.lookup(cid)
            if m is None:
                self._not_containers[cid] = None
                while len(self._not_containers) > MAX_CONTAINERS:
                    self._not_containers.popitem(last=False)
            else:
                self.remember(m)
        return m

    def container_of(self, pid: int | None) -> tuple[ContainerMeta | None, str]:
        """(the container, "") or (None, why not): "no pid", "process gone", "not in a
        container", "container unknown to the engine", "engine not answering" (never raises:
        a pass applies its lines whole or the cursor would not match the counts)."""
        if pid is None:
            return None, "no pid"
        path = self._cgroup_of(pid)
        cid = container_id_of(path) if path else None
        if cid is not None:
            self._remember_pid(pid, cid)
        elif path is None:  # gone: what the index learned while it lived
            cid = self.pids.get(pid)
            if cid is None:
                return None, "process gone"
        else:
            return None, "not in a container"
        try:
            m = self.meta(cid)
        except EngineError:
            return None, "engine not answering"
        if m is None:
            return None, "container unknown to the engine"
        if not m.cgroup and path:
            self.remember(replace(m, cgroup=path))
            m = self.metas[cid]
        if path and self._running is not None and all(r.id != cid for r in self._running):
            self._running.append(m)  # started since the engine's last list: scan it too
        return m, ""

    @property
    def listed(self) -> bool:
        """Whether the engine has listed the running containers at least once."""
        return self._running is not None

    def engine_changed(self) -> bool:
        """Whether the engine said a container started since the last ask (its events)."""
        changed = getattr(self._containers, "changed", None)
        if changed is not None and changed.is_set():
            changed.clear()
            return True
        return False

    def scan(self, ask_engine: bool = True) -> list[ContainerMeta]:
        """Learn the pids in each running container's cgroup now (so that records of tasks
        that end before they are read still find their container). `ask_engine`: list the
        running containers anew (a call to the engine); otherwise the ones the last list gave.
        Returns the running containers."""
        if ask_engine or self._running is None:
            found = []
            for m in self._containers.running():
                cg = m.cgroup or (self._cgroup_of(m.pid) if m.pid else "") or ""
                m = replace(m, cgroup=cg)
                self.remember(m)
                found.append(m)
            self._running = found
        for m in self._running:
            for pid in self._procs(m.cgroup):
                self._remember_pid(pid, m.id)
        if ask_engine:
            self._forget_gone()
        return self._running

    def _forget_gone(self) -> None:
        """Drop the descriptions of containers not seen for PID_TTL seconds that neither run
        nor own a remembered pid: a record names a pid, so none can be theirs any more."""
        now = time.monotonic()  # (scan has just remembered the running ones: seen now)
        self._prune_pids(now)
        keep = set(self.pids.values())
        for cid in [c for c in self.metas if c not in keep
                    and self._meta_seen.get(c, now) < now - PID_TTL]:
            del self.metas[cid]
            self._meta_seen.pop(cid, None)

    def _procs(self, cgroup: str) -> list[int]:
        root = self._cgroup_root
        if not cgroup or root is None:
            return []
        out = []
        base = root / cgroup.lstrip("/")
        try:
            dirs = [base] + [p for p in base.rglob("*") if p.is_dir()]
        except OSError:
            return out
        for d in dirs:
            try:
                out.extend(int(x) for x in (d / "cgroup.procs").read_text().split())
            except (OSError, ValueError):
                continue
        return out

    def cpu_usec(self, cgroup: str) -> int | None:
        """The cgroup's CPU time so far (cgroup v2 cpu.stat usage_usec), None if unreadable."""
        if not cgroup or self._cgroup_root is None:
            return None
        try:
            text = (self._cgroup_root / cgroup.lstrip("/") / "cpu.stat").read_text()
        except OSError:
            return None
        for line in text.splitlines():
            k, _, v = line.partition(" ")
            if k == "usage_usec" and v.strip().isdigit():
                return int(v)
        return None


def _epoch(iso: str) -> float:
    """Docker's StartedAt ("2026-12-06T05:33:01.123456789Z") -> epoch seconds, 0.0 unknown."""
    if not iso or iso.startswith("0001-"):
        return 0.0
    head, _, frac = iso.rstrip("Z").partition(".")
    try:
        t = datetime.fromisoformat(head + "+00:00").timestamp()
    except ValueError:
        return 0.0
    return t + (float("0." + frac[:6]) if frac[:6].isdigit() else 0.0)


class EngineContainers:
    """Containers as the Docker (or Podman) engine describes them (session/engine.Engine).
    `watch()` follows the engine's events: `changed` is set when a container starts, so that
    the harvester lists the containers at once (their pids are scanned from then on)."""

    def __init__(self, engine, label_filter: dict[str, str] | None = None,
                 name_of: Callable[[dict, str], str] = service_name, container: str = ""):
        self._engine = engine
        self._filter = label_filter or {}
        self._container = container  # --container: ask for that one, not the whole host
        self._service = name_of
        self.changed = threading.Event()

    def watch(self) -> None:
        """Follow the engine's container start events in a thread (until the process ends, or
        the engine stops answering: then the periodic list is all there is)."""
        def follow():
            try:
                events = self._engine.client.events(decode=True, filters={
                    "type": "container", "event": ["start"],
                    **({"label": [f"{k}={v}" for k, v in self._filter.items()]}
                       if self._filter else {})})
                for _ in events:
                    self.changed.set()
            except Exception:  # the engine went away: the periodic list goes on
                return

        threading.Thread(target=follow, name="engine-events", daemon=True).start()

    def _meta(self, c) -> ContainerMeta:
        attrs = c.attrs or {}
        cfg = attrs.get("Config") or {}
        labels = cfg.get("Labels") or {}
        name = (c.name or "").lstrip("/")
        state = attrs.get("State") or {}
        return ContainerMeta(c.id, name, self._service(labels, name), cfg.get("Image", ""),
                             tuple(sorted(labels.items())), "", int(state.get("Pid") or 0),
                             _epoch(state.get("StartedAt") or ""))

    def running(self) -> list[ContainerMeta]:
        if self._container:
            from ..errors import ContainerGone

            try:
                c = self._engine.container(self._container)
            except ContainerGone:
                return []
            m = self._meta(c)
            return [m] if m.pid else []  # State.Pid is 0 unless it runs
        return [self._meta(c) for c in self._engine.list_running(self._filter)]

    def lookup(self, cid: str) -> ContainerMeta | None:
        from ..errors import ContainerGone

        try:
            return self._meta(self._engine.container(cid))
        except ContainerGone:
            return None
