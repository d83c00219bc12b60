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
oldest go first).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol

from ..errors import UsageError
from ..kernel.cgroups import container_id_of, v2_path
from ..recording import project

MAX_PIDS = 65_536
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
        self.pids: OrderedDict[int, str] = OrderedDict()
        self.metas: OrderedDict[str, ContainerMeta] = OrderedDict()
        self._not_containers: OrderedDict[str, None] = OrderedDict()

    def _remember_pid(self, pid: int, cid: str) -> None:
        self.pids[pid] = cid
        self.pids.move_to_end(pid)
        while len(self.pids) > MAX_PIDS:
            self.pids.popitem(last=False)

    def remember(self, meta: ContainerMeta) -> None:
        old = self.metas.get(meta.id)
        if old is not None and not meta.cgroup and old.cgroup:
            meta = ContainerMeta(meta.id, meta.name, meta.service, meta.image, meta.labels,
                                 old.cgroup, meta.pid)
        self.metas[meta.id] = meta
        self.metas.move_to_end(meta.id)
        while len(self.metas) > MAX_CONTAINERS:
            self.metas.popitem(last=False)

    def _cgroup_of(self, pid: int) -> str | None:
        try:
            text = (self._proc / str(pid) / "cgroup").read_text()
        except OSError:
            return None
        return v2_path(text) or ""

    def meta(self, cid: str) -> ContainerMeta | None:
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
        container", "container unknown to the engine"."""
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
        m = self.meta(cid)
        if m is None:
            return None, "container unknown to the engine"
        if not m.cgroup and path:
            self.remember(ContainerMeta(m.id, m.name, m.service, m.image, m.labels, path, m.pid))
            m = self.metas[cid]
        return m, ""

    def scan(self) -> list[ContainerMeta]:
        """Ask the engine for the running containers, learn each one's cgroup and the pids in
        it now (so that records of tasks that end before they are read still find their
        container). Returns them."""
        found = []
        for m in self._containers.running():
            cg = m.cgroup or (self._cgroup_of(m.pid) if m.pid else "") or ""
            m = ContainerMeta(m.id, m.name, m.service, m.image, m.labels, cg, m.pid)
            self.remember(m)
            found.append(m)
            for pid in self._procs(cg):
                self._remember_pid(pid, m.id)
        return found

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


class EngineContainers:
    """Containers as the Docker (or Podman) engine describes them (session/engine.Engine)."""

    def __init__(self, engine, label_filter: dict[str, str] | None = None,
                 name_of: Callable[[dict, str], str] = service_name):
        self._engine = engine
        self._filter = label_filter or {}
        self._service = name_of

    def _meta(self, c) -> ContainerMeta:
        attrs = c.attrs or {}
        cfg = attrs.get("Config") or {}
        labels = cfg.get("Labels") or {}
        name = (c.name or "").lstrip("/")
        pid = int((attrs.get("State") or {}).get("Pid") or 0)
        return ContainerMeta(c.id, name, self._service(labels, name), cfg.get("Image", ""),
                             tuple(sorted(labels.items())), "", pid)

    def running(self) -> list[ContainerMeta]:
        return [self._meta(c) for c in self._engine.list_running(self._filter)]

    def lookup(self, cid: str) -> ContainerMeta | None:
        from ..errors import ContainerGone

        try:
            return self._meta(self._engine.container(cid))
        except ContainerGone:
            return None
