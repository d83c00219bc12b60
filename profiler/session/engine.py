"""The small interface to the container engine (docker SDK, never the docker CLI).

Everything the recorder and verifier need from the engine goes through `Engine`, which
satisfies the `ContainerEngine` protocol, so tests can swap in a fake (tests/conftest.py); errors
become one-line EngineErrors here. The engine's attribute dicts stay in this module: callers get
the frozen descriptions below (`EngineInfo`, `ImageInfo`, `ContainerInfo`, `ContainerState`). A
container itself is an opaque handle that only the engine that made it looks into.

The engine is Docker's dockerd or Podman's Docker-compatible API service (`podman system
service`, `systemctl start podman.socket`, DOCKER_HOST=unix:///run/podman/podman.sock); the SDK
speaks to both. Where Podman's compat API differs, this module adapts (see `engine_info` and
`_security_opts`) or says in one line what it lacks.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..errors import EngineError, UsageError
from ..recording.model import PATH_ENV_NAMES
from ..recording.run_options import FIELD_OPTION
from ..tool_errors import error_line


@dataclass(frozen=True)
class EngineInfo:
    """Which engine answers, and the OCI runtime its containers get by default."""

    name: str  # "docker" or "podman"
    version: str = ""
    runtime: str = ""  # "runc", "crun", ... ("" when the engine does not say)
    cgroup_driver: str = ""  # "cgroupfs" or "systemd"

    @property
    def label(self) -> str:
        """For messages and the recording's metadata: "podman 4.3.1"."""
        return f"{self.name} {self.version}".strip()


def engine_info(version: dict, info: dict) -> EngineInfo:
    """The engine's /version and /info answers -> EngineInfo. Podman's compat API names itself
    in /version's Components ("Podman Engine"; dockerd says "Engine") and reports its default
    runtime (crun on Debian and Fedora) in DefaultRuntime, as dockerd does (runc)."""
    components = [c for c in version.get("Components") or () if isinstance(c, dict)]
    podman = any("podman" in str(c.get("Name", "")).lower() for c in components)
    return EngineInfo(name="podman" if podman else "docker",
                      version=str(version.get("Version") or ""),
                      runtime=str(info.get("DefaultRuntime") or ""),
                      cgroup_driver=str(info.get("CgroupDriver") or ""))


@dataclass(frozen=True)
class ImageInfo:
    """What a recording says about an image."""

    id: str
    tags: tuple[str, ...] = ()
    working_dir: str = ""  # "" when the image sets none
    entrypoint: tuple[str, ...] = ()


@dataclass(frozen=True)
class CapabilityConfig:
    """The container's capability options (its bounding set follows from them)."""

    privileged: bool = False
    add: tuple[str, ...] = ()
    drop: tuple[str, ...] = ()
    # The engine's default set that add and drop apply to ("" names: Docker's).
    defaults: tuple[str, ...] = ()


@dataclass(frozen=True)
class ContainerInfo:
    """A container's configuration, as created (it does not change while it runs)."""

    id: str
    name: str
    image: str  # the reference it was created from
    image_id: str
    user: str = ""
    working_dir: str = ""
    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    env_names: tuple[str, ...] = ()  # sorted, values never leave the engine
    # ... except those of model.PATH_ENV_NAMES (HOME, TMPDIR: directories, not secrets)
    env_paths: tuple[tuple[str, str], ...] = ()
    capabilities: CapabilityConfig = CapabilityConfig()
    pid_mode: str = ""  # "host" when it shares the host's pid namespace
    runtime: str = ""  # HostConfig.Runtime: "runc", "crun"; Podman's compat API says "oci"
    labels: tuple[tuple[str, str], ...] = ()  # sorted (key, value): what --match selects on


def container_runtime(c: ContainerInfo, e: EngineInfo) -> str:
    """The OCI runtime a container runs under: its own setting when it names one, else the
    engine's default (Podman's compat inspect says only "oci")."""
    return c.runtime if c.runtime not in ("", "oci") else e.runtime


@dataclass(frozen=True)
class ContainerState:
    running: bool
    pid: int = 0
    exit_code: int = 0


class ContainerEngine(Protocol):
    """What a recording session needs from a container engine (`Engine`, or a test's fake).
    `Any` is the engine's own container handle."""

    def cgroup_driver(self) -> str: ...
    def engine_info(self) -> EngineInfo: ...
    def image(self, ref: str) -> ImageInfo: ...
    def create(self, spec: RunSpec, cgroup_parent: str | None = None,
               labels: dict | None = None) -> Any: ...
    def container(self, ref: str) -> Any: ...
    def list_running(self, labels: dict[str, str]) -> list[Any]: ...
    def describe(self, container: Any) -> ContainerInfo: ...
    def start(self, container: Any) -> None: ...
    def state(self, container: Any) -> ContainerState: ...
    def stop(self, container: Any, timeout: int) -> None: ...
    def wait(self, container: Any, timeout: float) -> int | None: ...
    def remove(self, container: Any) -> None: ...
    def last_logs(self, container: Any, lines: int = 8) -> str: ...
    def file_info(self, container: Any, path: str) -> Any: ...  # filecaps.FileInfo | None


@dataclass
class RunSpec:
    """What `docker run` options the user gave (the subset the recorder supports)."""

    image: str
    command: list[str] | None = None
    name: str | None = None
    publish: list[str] = field(default_factory=list)
    env: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)
    user: str | None = None
    entrypoint: str | None = None
    network: str | None = None
    tmpfs: list[str] = field(default_factory=list)
    read_only: bool = False
    cap_add: list[str] = field(default_factory=list)
    cap_drop: list[str] = field(default_factory=list)
    security_opt: list[str] = field(default_factory=list)
    pids_limit: int | None = None

    def options(self) -> tuple[tuple[str, str], ...]:
        """The options as (name, value) pairs, for the recording's metadata."""
        # one spelling, shared with the readers (profiler/recording/run_options.py)
        name = FIELD_OPTION
        out: list[tuple[str, str]] = []
        for key in ("publish", "volumes", "tmpfs", "cap_add", "cap_drop", "security_opt"):
            out += [(name[key], v) for v in getattr(self, key)]
        out += [(name["env"], e.split("=", 1)[0]) for e in self.env]  # names only
        for key in ("user", "entrypoint", "network", "name"):
            if getattr(self, key):
                out.append((name[key], str(getattr(self, key))))
        if self.read_only:
            out.append((name["read_only"], "true"))
        if self.pids_limit:
            out.append((name["pids_limit"], str(self.pids_limit)))
        return tuple(out)


def _ports(publish: list[str]) -> dict:
    """docker run -p syntax -> SDK ports mapping. Accepts [IP:]HOST:CONTAINER[/proto]."""
    ports: dict = {}
    for spec in publish:
        proto = "tcp"
        if "/" in spec:
            spec, proto = spec.rsplit("/", 1)
        parts = spec.split(":")
        try:
            if len(parts) == 3:
                binding = (parts[0], int(parts[1]) if parts[1] else None)
            elif len(parts) == 2:
                binding = int(parts[0])
            elif len(parts) == 1:
                binding = None
            else:
                raise ValueError
            key = f"{int(parts[-1])}/{proto}"
        except ValueError:
            raise UsageError(f"-p {spec}: not a port mapping",
                             hint="use [IP:]HOST:CONTAINER, e.g. 127.0.0.1:8080:80") from None
        ports[key] = binding
    return ports


def _env(env: list[str]) -> dict:
    out = {}
    for e in env:
        if "=" in e:
            k, v = e.split("=", 1)
        else:  # -e NAME passes the host's value, as docker run does
            k, v = e, os.environ.get(e, "")
        out[k] = v
    return out


def _security_opts(opts: list[str], engine: str = "docker") -> list[str]:
    """`seccomp=FILE` as the docker CLI takes it -> what the engine's API expects: dockerd wants
    the profile's content (the docker CLI reads the file itself), Podman's compat API (4.x)
    opens the value as a path and fails on content ("opening seccomp profile failed: ... file
    name too long"), so Podman gets the file's absolute path; the service runs on this host."""
    out = []
    for o in opts:
        key, sep, value = o.partition("=")
        if key == "seccomp" and sep and value not in ("unconfined", "builtin"):
            path = Path(value)
            try:
                text = path.read_text(encoding="utf-8")
            except OSError as e:
                raise UsageError(f"--security-opt seccomp={value}: cannot read ({e.strerror})") from None
            o = f"seccomp={path.resolve() if engine == 'podman' else text}"
        out.append(o)
    return out


def _tmpfs(tmpfs: list[str]) -> dict:
    out = {}
    for t in tmpfs:
        path, _, opts = t.partition(":")
        out[path] = opts
    return out


def tmpfs_hint(engine: str, tmpfs: list[str], why: str) -> str | None:
    """A hint when Podman refused Docker's tmpfs owner options. emit chooses them by the
    recording's engine (hardening._tmpfs_owner: uid=/gid= for Docker, U for Podman), so a
    policy emitted from a Docker recording and run under Podman carries the wrong ones. Seen
    with Podman 4.3: `unknown mount option "uid=100": invalid mount option`."""
    opts = {o.split("=", 1)[0] for t in tmpfs for o in t.partition(":")[2].split(",")}
    if engine == "podman" and "unknown mount option" in why and opts & {"uid", "gid"}:
        return ("the policy was emitted from a Docker recording (tmpfs uid=/gid=), which Podman "
                "does not take: emit it from a recording made with Podman, or write U (the "
                "container user's uid and gid) instead of uid=N,gid=N")
    return None


class Engine:
    def __init__(self):
        import docker  # the SDK; imported here so pure modules never need it

        self._docker = docker
        try:
            self.client = docker.from_env(timeout=60)
            self.client.ping()
        except Exception as e:  # DockerException, requests errors, FileNotFoundError, ...
            raise EngineError(f"the container engine is not reachable ({_short(e)})",
                              hint="start it (`make setup` starts dockerd; for Podman: "
                                   "systemctl start podman.socket and DOCKER_HOST="
                                   "unix:///run/podman/podman.sock)") from None

        self._info: EngineInfo | None = None

    def engine_info(self) -> EngineInfo:
        if self._info is None:
            try:
                self._info = engine_info(self.client.version(), self.client.info())
            except self._docker.errors.APIError as e:
                raise EngineError(f"the engine did not describe itself: {_short(e)}") from None
        return self._info

    def cgroup_driver(self) -> str:
        return self.engine_info().cgroup_driver

    def image(self, ref: str) -> ImageInfo:
        try:
            image = self.client.images.get(ref)
        except self._docker.errors.ImageNotFound:
            raise EngineError(f"image {ref!r} not found in the local engine",
                              hint="build it (`docker build -t NAME DIR`) or pull it first") from None
        except self._docker.errors.APIError as e:
            raise EngineError(f"image {ref!r}: {_short(e)}") from None
        cfg = image.attrs.get("Config") or {}
        return ImageInfo(id=image.id, tags=tuple(sorted(image.tags)),
                         working_dir=cfg.get("WorkingDir") or "",
                         entrypoint=tuple(cfg.get("Entrypoint") or ()))

    def create(self, spec: RunSpec, cgroup_parent: str | None = None, labels: dict | None = None):
        kwargs = dict(
            image=spec.image, command=spec.command, name=spec.name, detach=True,
            ports=_ports(spec.publish) or None, environment=_env(spec.env) or None,
            volumes=spec.volumes or None, user=spec.user or "", network=spec.network,
            tmpfs=_tmpfs(spec.tmpfs) or None, read_only=spec.read_only,
            cap_add=spec.cap_add or None, cap_drop=spec.cap_drop or None,
            security_opt=_security_opts(spec.security_opt, self.engine_info().name) or None,
            cgroup_parent=cgroup_parent,
            labels=labels or {}, pids_limit=spec.pids_limit,
        )
        if spec.entrypoint is not None:
            kwargs["entrypoint"] = spec.entrypoint
        try:
            return self.client.containers.create(**{k: v for k, v in kwargs.items() if v is not None})
        except self._docker.errors.ImageNotFound:
            raise EngineError(f"image {spec.image!r} not found", hint="build or pull it first") from None
        except self._docker.errors.APIError as e:
            why = _short(e)
            raise EngineError(f"cannot create the container: {why}",
                              hint=tmpfs_hint(self.engine_info().name, spec.tmpfs, why)) from None

    def start(self, container) -> None:
        try:
            container.start()
        except self._docker.errors.APIError as e:
            logs = self.last_logs(container)
            raise EngineError(f"the container failed to start: {_short(e)}{logs}") from None

    def container(self, ref: str):
        try:
            return self.client.containers.get(ref)
        except self._docker.errors.NotFound:
            raise EngineError(f"no container named {ref!r}", hint="see `docker ps`") from None

    def describe(self, container) -> ContainerInfo:
        from ..kernel.linux import DOCKER_DEFAULT_CAPS, PODMAN_DEFAULT_CAPS

        defaults = PODMAN_DEFAULT_CAPS if self.engine_info().name == "podman" else DOCKER_DEFAULT_CAPS
        attrs = container.attrs
        cfg = attrs.get("Config") or {}
        host = attrs.get("HostConfig") or {}
        return ContainerInfo(
            id=container.id, name=container.name, image=cfg.get("Image", ""),
            image_id=attrs.get("Image", ""), user=cfg.get("User") or "",
            working_dir=cfg.get("WorkingDir") or "",
            entrypoint=tuple(cfg.get("Entrypoint") or ()), cmd=tuple(cfg.get("Cmd") or ()),
            env_names=tuple(sorted({e.split("=", 1)[0] for e in cfg.get("Env") or ()})),
            env_paths=tuple(sorted((k, v) for k, _, v in (e.partition("=") for e in
                                                          cfg.get("Env") or ())
                                   if k in PATH_ENV_NAMES and v.startswith("/"))),
            capabilities=CapabilityConfig(privileged=bool(host.get("Privileged")),
                                          add=tuple(host.get("CapAdd") or ()),
                                          drop=tuple(host.get("CapDrop") or ()),
                                          defaults=defaults),
            pid_mode=host.get("PidMode") or "", runtime=host.get("Runtime") or "",
            labels=tuple(sorted((cfg.get("Labels") or {}).items())))

    def list_running(self, labels: dict[str, str]) -> list:
        """The running containers that carry every one of these labels (the engine filters)."""
        try:
            return self.client.containers.list(
                filters={"status": "running", "label": [f"{k}={v}" for k, v in labels.items()]},
                ignore_removed=True)  # one gone between the list and its inspect: not running
        except self._docker.errors.APIError as e:
            raise EngineError(f"cannot list the running containers: {_short(e)}") from None

    @staticmethod
    def state(container) -> ContainerState:
        container.reload()
        state = container.attrs["State"]
        return ContainerState(running=bool(state.get("Running", False)),
                              pid=state.get("Pid") or 0, exit_code=state.get("ExitCode", 0))

    def stop(self, container, timeout: int) -> None:
        """SIGTERM, then SIGKILL after timeout: the shutdown path is part of the recording."""
        try:
            container.stop(timeout=timeout)
        except self._docker.errors.NotFound:
            pass
        except self._docker.errors.APIError:
            pass

    def wait(self, container, timeout: float) -> int | None:
        try:
            return container.wait(timeout=timeout).get("StatusCode")
        except Exception:  # requests' ReadTimeout and friends
            return None

    def remove(self, container) -> None:
        try:
            container.remove(force=True)
        except Exception:  # already gone (auto-removed or removed by the user)
            pass

    @staticmethod
    def file_info(container, path: str):
        """A file of the container's file system (running or stopped) -> filecaps.FileInfo
        (mode, file capabilities, symlink target), None when it is not there. Docker's archive
        of one path carries security.capability as a PAX record; only its first blocks are
        read (the headers), not the file."""
        from ..recording import filecaps

        try:
            stream, _stat = container.get_archive(path, chunk_size=16384)
        except Exception:  # not found, container gone, engine error: nothing to say
            return None
        head = b""
        try:
            for chunk in stream:
                head += chunk
                if len(head) >= 65536:
                    break
        except Exception:
            return None
        finally:
            close = getattr(stream, "close", None)
            if close:
                close()
        return filecaps.from_archive(head)

    @staticmethod
    def last_logs(container, lines: int = 8) -> str:
        try:
            text = container.logs(tail=lines).decode(errors="replace").strip()
        except Exception:
            return ""
        if not text:
            return ""
        return "; last log lines: " + " | ".join(text.splitlines()[-lines:])


def port_ready(port: int, hold: float = 0.3) -> bool:
    """Does something in the container answer on 127.0.0.1:port? Docker's userland proxy
    accepts a connection even when nothing listens behind it, and then closes it at once; an
    app keeps the connection open (waiting for a request) or speaks first (a banner)."""
    import socket

    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
            s.settimeout(hold)
            try:
                return s.recv(1) != b""  # data: a banner; b"": the proxy hung up
            except socket.timeout:
                return True  # still open: the app waits for us to speak
            except OSError:
                return False  # reset by the proxy
    except OSError:
        return False


def wait_port(port: int, deadline: float, alive) -> bool:
    """Wait until the app answers on 127.0.0.1:port; False if `alive()` turns False first."""
    while time.monotonic() < deadline:
        if port_ready(port):
            return True
        if not alive():
            return False
        time.sleep(0.1)
    return False


def _short(e: Exception) -> str:
    text = getattr(e, "explanation", None) or str(e)
    return error_line(str(text), default=e.__class__.__name__)
