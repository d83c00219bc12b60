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
import threading
import time
from pathlib import Path
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..errors import ContainerGone, EngineError, UsageError
from ..kernel.leftovers import OWNER_LABEL, owner_token
from ..recording.model import PATH_ENV_NAMES, ImageEntry, ImageFacts, Mount, NetworkAttachment
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
    volumes: tuple[str, ...] = ()  # its VOLUME directories, sorted


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
    mounts: tuple[Mount, ...] = ()  # as inspect says (volumes, binds, tmpfs), by target
    network_mode: str = ""  # HostConfig.NetworkMode: "default", "bridge", "host", a network
    networks: tuple[NetworkAttachment, ...] = ()  # its networks and its aliases there
    dns: tuple[str, ...] = ()
    dns_search: tuple[str, ...] = ()
    dns_options: tuple[str, ...] = ()


def container_runtime(c: ContainerInfo, e: EngineInfo) -> str:
    """The OCI runtime a container runs under: its own setting when it names one, else the
    engine's default (Podman's compat inspect says only "oci")."""
    return c.runtime if c.runtime not in ("", "oci") else e.runtime


@dataclass(frozen=True)
class ContainerState:
    running: bool
    pid: int = 0
    exit_code: int | None = 0
    gone: bool = False  # removed (by someone else: `docker rm -f`) while we looked at it
    oom_killed: bool = False  # the kernel's OOM killer ended it (its --memory limit)


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
    def remove_project(self, project: str, volumes: bool = False) -> bool: ...
    def project_volumes(self, project: str) -> list[str]: ...
    def last_logs(self, container: Any, lines: int = 8) -> str: ...
    def file_info(self, container: Any, path: str) -> Any: ...  # filecaps.FileInfo | None
    def image_facts(self, image_id: str, volumes: tuple[str, ...]) -> ImageFacts | None: ...
    def mount_entries(self, container: Any, target: str) -> int | None: ...


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
    memory: str | None = None  # docker run --memory (e.g. 64m)
    mounts: list[str] = field(default_factory=list)  # docker --mount values

    def options(self) -> tuple[tuple[str, str], ...]:
        """The options as (name, value) pairs, for the recording's metadata."""
        # one spelling, shared with the readers (profiler/recording/run_options.py)
        name = FIELD_OPTION
        out: list[tuple[str, str]] = []
        for key in ("publish", "volumes", "tmpfs", "mounts", "cap_add", "cap_drop",
                    "security_opt"):
            out += [(name[key], v) for v in getattr(self, key)]
        out += [(name["env"], e.split("=", 1)[0]) for e in self.env]  # names only
        for key in ("user", "entrypoint", "network", "name", "memory"):
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


def _mounts(values: list[str], docker_types) -> list:
    """docker --mount values (type=volume|bind,source=,target=[,readonly]) -> the SDK's Mount.
    A value the SDK cannot take is a UsageError."""
    out = []
    for value in values:
        kv = {}
        for part in value.split(","):
            k, eq, v = part.partition("=")
            kv[k] = v if eq else "true"
        target = kv.get("target") or kv.get("destination") or kv.get("dst")
        if not target:
            raise UsageError(f"--mount {value}: no target", hint="type=volume,target=DIR")
        out.append(docker_types.Mount(target, kv.get("source") or kv.get("src") or None,
                                      type=kv.get("type", "volume"),
                                      read_only=kv.get("readonly", kv.get("ro")) in ("true", "1")))
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


# How long a read of a container's state waits for an engine that stopped answering (a dockerd
# restart takes seconds) before the session fails; PROFILER_ENGINE_GRACE overrides it (s).
ENGINE_GRACE_S = 20.0
ENGINE_HINT = ("start it (`make setup` starts dockerd; for Podman: systemctl start podman.socket "
               "and DOCKER_HOST=unix:///run/podman/podman.sock)")


class Engine:
    def __init__(self):
        import docker  # the SDK; imported here so pure modules never need it
        import requests

        self._docker = docker
        # The engine's socket gone (engine stopped or restarting), or the connection cut.
        self._unreachable = (requests.exceptions.ConnectionError, requests.exceptions.Timeout,
                             ConnectionError, FileNotFoundError)
        try:
            self.grace = float(os.environ.get("PROFILER_ENGINE_GRACE", ENGINE_GRACE_S))
        except ValueError:
            self.grace = ENGINE_GRACE_S
        self.outages: list[float] = []  # seconds the engine did not answer, each time it came back
        try:
            # Without a version the SDK asks the engine for its API version (/version): that
            # answer is the check that the engine is reachable (a ping would ask again).
            self.client = docker.from_env(timeout=60)
        except Exception as e:  # DockerException, requests errors, FileNotFoundError, ...
            raise EngineError(f"the container engine is not reachable ({_short(e)})",
                              hint=ENGINE_HINT) from None

        self._info: EngineInfo | None = None
        # Which engine answers (/version and /info: 20-80 ms of the daemon's time on a busy
        # host) is asked for in the background: create and describe need it, and it is waited
        # for only there.
        self._info_call = threading.Thread(target=self._fetch_info, daemon=True)
        self._info_error: EngineError | None = None
        self._info_call.start()

    def _fetch_info(self) -> None:
        try:
            self._info = self._call("describe the engine", lambda: engine_info(
                self.client.version(), self.client.info()))
        except EngineError as e:
            self._info_error = e
        except Exception as e:  # APIError, or an answer engine_info cannot read
            self._info_error = EngineError(f"the engine did not describe itself: {_short(e)}")

    def _call(self, what: str, fn, retry: bool = False):
        """fn() with the engine's failures as EngineErrors (its answers, APIError and NotFound,
        pass through for the caller to word). `retry`: an engine that stops answering is asked
        again for `grace` seconds (a restart) before the session fails."""
        began = None
        while True:
            try:
                out = fn()
            except self._docker.errors.APIError:
                raise
            except self._unreachable as e:
                now = time.monotonic()
                began = began if began is not None else now
                if retry and now - began < self.grace:
                    time.sleep(0.5)
                    continue
                raise EngineError(f"the container engine stopped answering ({what}: {_short(e)})",
                                  hint=ENGINE_HINT) from None
            except self._docker.errors.DockerException as e:
                raise EngineError(f"{what}: {_short(e)}") from None
            if began is not None:
                self.outages.append(time.monotonic() - began)
            return out

    def engine_info(self) -> EngineInfo:
        self._info_call.join()
        if self._info is None:  # the background call failed: asked again, in this thread
            self._info_error = None
            self._fetch_info()
            if self._info_error is not None:
                raise self._info_error
        return self._info

    def cgroup_driver(self) -> str:
        return self.engine_info().cgroup_driver

    def image(self, ref: str) -> ImageInfo:
        try:
            image = self._call("inspect an image", lambda: self.client.images.get(ref))
        except self._docker.errors.ImageNotFound:
            raise EngineError(f"image {ref!r} not found in the local engine",
                              hint="build it (`docker build -t NAME DIR`) or pull it first") from None
        except self._docker.errors.APIError as e:
            raise EngineError(f"image {ref!r}: {_short(e)}") from None
        cfg = image.attrs.get("Config") or {}
        return ImageInfo(id=image.id, tags=tuple(sorted(image.tags)),
                         working_dir=cfg.get("WorkingDir") or "",
                         entrypoint=tuple(cfg.get("Entrypoint") or ()),
                         volumes=tuple(sorted(cfg.get("Volumes") or ())))

    def image_facts(self, image_id: str, volumes: tuple[str, ...]) -> ImageFacts | None:
        """The image's content below IMAGE_ROOTS and its VOLUMEs (what a tmpfs or a volume
        there would hide or be seeded with), read from a container created from it and never
        started (`docker cp` of each directory: a tar stream whose headers are kept), then
        removed with its anonymous volumes. None when the engine refused (said by the caller).
        It carries the owner label like every container profiler makes: a run killed while
        reading it leaves it to the next run's sweep (kernel/leftovers.py)."""
        try:
            c = self.client.containers.create(image_id, entrypoint=["/profiler-never-started"],
                                              network_disabled=True,
                                              labels={"io.profiler.inspect": "1",
                                                      OWNER_LABEL: owner_token()})
        except self._docker.errors.APIError:
            return None
        try:
            inspected, entries = [], []
            for root in sorted(set(IMAGE_ROOTS) | set(volumes)):
                try:
                    stream, _ = c.get_archive(root)
                except self._docker.errors.APIError:  # not in the image
                    continue
                inspected.append(root)
                entries += tar_entries(_ChunkReader(stream), root)
            return ImageFacts(tuple(sorted(volumes)), tuple(inspected), tuple(entries))
        except self._docker.errors.APIError:
            return None
        finally:
            try:
                c.remove(force=True, v=True)
            except Exception:
                pass

    def mount_entries(self, container, target: str) -> int | None:
        """How many entries lie below a mount of a created (not yet started) container, or
        None when the engine cannot say."""
        try:
            stream, _ = container.get_archive(target.rstrip("/") + "/.")
            return sum(1 for e in tar_entries(_ChunkReader(stream), target, depth=0)
                       if e.path != target)
        except Exception:  # APIError, a broken stream
            return None

    def create(self, spec: RunSpec, cgroup_parent: str | None = None, labels: dict | None = None):
        kwargs = dict(
            image=spec.image, command=spec.command, name=spec.name, detach=True,
            ports=_ports(spec.publish) or None, environment=_env(spec.env) or None,
            volumes=spec.volumes or None, user=spec.user or "", network=spec.network,
            tmpfs=_tmpfs(spec.tmpfs) or None, read_only=spec.read_only,
            cap_add=spec.cap_add or None, cap_drop=spec.cap_drop or None,
            security_opt=_security_opts(spec.security_opt, self.engine_info().name
                                        if spec.security_opt else "docker") or None,
            cgroup_parent=cgroup_parent,
            labels=labels or {}, pids_limit=spec.pids_limit, mem_limit=spec.memory,
            mounts=_mounts(spec.mounts, self._docker.types) or None,
        )
        if spec.entrypoint is not None:
            kwargs["entrypoint"] = spec.entrypoint
        try:
            return self._call("create", lambda: self.client.containers.create(
                **{k: v for k, v in kwargs.items() if v is not None}))
        except self._docker.errors.ImageNotFound:
            raise EngineError(f"image {spec.image!r} not found", hint="build or pull it first") from None
        except self._docker.errors.APIError as e:
            why = _short(e)
            raise EngineError(f"cannot create the container: {why}",
                              hint=tmpfs_hint(self.engine_info().name, spec.tmpfs, why)) from None

    def start(self, container) -> None:
        try:
            self._call("start", container.start)
        except self._docker.errors.APIError as e:
            logs = self.last_logs(container)
            raise EngineError(f"the container failed to start: {_short(e)}{logs}") from None

    def container(self, ref: str):
        try:
            return self._call("inspect", lambda: self.client.containers.get(ref), retry=True)
        except self._docker.errors.NotFound:
            raise ContainerGone(f"no container named {ref!r}", hint="see `docker ps`") from None
        except self._docker.errors.APIError as e:
            raise EngineError(f"container {ref!r}: {_short(e)}") from None

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
            labels=tuple(sorted((cfg.get("Labels") or {}).items())),
            mounts=mounts_of(attrs), network_mode=host.get("NetworkMode") or "",
            networks=networks_of(attrs, container.id, container.name),
            dns=tuple(host.get("Dns") or ()), dns_search=tuple(host.get("DnsSearch") or ()),
            dns_options=tuple(host.get("DnsOptions") or ()))

    def list_running(self, labels: dict[str, str]) -> list:
        """The running containers that carry every one of these labels (the engine filters)."""
        try:
            return self._call("list containers", lambda: self.client.containers.list(
                filters={"status": "running", "label": [f"{k}={v}" for k, v in labels.items()]},
                ignore_removed=True), retry=True)  # one gone meanwhile: not running
        except self._docker.errors.APIError as e:
            raise EngineError(f"cannot list the running containers: {_short(e)}") from None

    def list_owned(self) -> list:
        """Every container (running or not) that carries profiler's owner label."""
        try:
            return self._call("list containers", lambda: self.client.containers.list(
                all=True, filters={"label": [OWNER_LABEL]}, ignore_removed=True))
        except self._docker.errors.APIError as e:
            raise EngineError(f"cannot list profiler's containers: {_short(e)}") from None

    def state(self, container) -> ContainerState:
        """Running or not; `gone` when someone removed it. An engine that stops answering is
        waited for (a restart) up to `grace` seconds, then EngineError."""
        try:
            self._call("inspect", container.reload, retry=True)
        except self._docker.errors.NotFound:
            return ContainerState(running=False, exit_code=None, gone=True)
        except self._docker.errors.APIError as e:
            raise EngineError(f"cannot read the container's state: {_short(e)}") from None
        state = container.attrs["State"]
        return ContainerState(running=bool(state.get("Running", False)),
                              pid=state.get("Pid") or 0, exit_code=state.get("ExitCode", 0),
                              oom_killed=bool(state.get("OOMKilled")),
                              # `docker rm -f` under way: it goes, as if already gone
                              gone=state.get("Status") in ("removing", "dead"))

    def stop(self, container, timeout: int) -> None:
        """SIGTERM, then SIGKILL after timeout: the shutdown path is part of the recording."""
        try:
            container.stop(timeout=timeout)
        except Exception:  # gone already, or the engine is not answering: the caller goes on
            pass

    def wait(self, container, timeout: float) -> int | None:
        try:
            return container.wait(timeout=timeout).get("StatusCode")
        except Exception:  # requests' ReadTimeout and friends
            return None

    def remove(self, container) -> None:
        try:  # v: with its anonymous volumes (an image's VOLUMEs); named volumes stay
            container.remove(force=True, v=True)
        except Exception:  # already gone (auto-removed or removed by the user)
            pass

    def remove_project(self, project: str, volumes: bool = False) -> bool:
        """Remove a compose project's containers (running or not, with their anonymous
        volumes) and networks, found by compose's project label: what `compose down` removes,
        without the compose files. Its named volumes stay (they may hold a user's data) unless
        `volumes`: for a project whose every volume its run made (verify --compose's own).
        True when something was removed."""
        label = f"com.docker.compose.project={project}"
        try:
            containers = self._call("list containers", lambda: self.client.containers.list(
                all=True, filters={"label": [label]}, ignore_removed=True))
            for c in containers:
                self.remove(c)
            networks = self._call("list networks", lambda: self.client.networks.list(
                filters={"label": [label]}))
            named = self._call("list volumes", lambda: self.client.volumes.list(
                filters={"label": label})) if volumes else []
        except self._docker.errors.APIError as e:
            raise EngineError(f"cannot remove the compose project {project}: {_short(e)}") \
                from None
        gone = 0
        for thing in [*networks, *named]:
            try:
                thing.remove()
                gone += 1
            except Exception:  # in use by someone else's container, or gone
                pass
        return bool(containers or gone)

    def project_volumes(self, project: str) -> list[str]:
        """The names of the volumes compose made for a project (its label on them)."""
        label = f"com.docker.compose.project={project}"
        try:
            return sorted(v.name for v in self._call("list volumes", lambda: self.client.volumes
                                                     .list(filters={"label": label})))
        except self._docker.errors.APIError as e:
            raise EngineError(f"cannot list the volumes of {project}: {_short(e)}") from None

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


# Where a hardened run line may mount a tmpfs or a volume (hardening.TMPFS_ROOTS, /var/run is
# /run's symlink): what the image holds there is read at record time (Engine.image_facts).
# /etc too, for its owners and modes: a daemon that drops to its own user keeps its keys and
# config there (/etc/bind/rndc.key 0640 bind:bind, /etc/postgresql/*/pg_hba.conf 0640
# postgres), which an operator's `docker exec` as root reads (hardening.root_over_app_files).
IMAGE_ROOTS = ("/tmp", "/var/tmp", "/run", "/var/log", "/var/cache", "/var/lib", "/var/spool",
               "/home", "/root", "/srv", "/etc")
# Entries listed below a root: all of them down to this depth, then up to _PER_DIR per directory
# (/var/lib/dpkg/info holds thousands); every listed directory counts all entries below it.
_FULL_DEPTH = 2
_PER_DIR = 16
# What image_facts reads and how, in session/factcache.py's key: a change of the roots, the
# depths or the reading (bump READER) makes every image's facts be read anew.
READER = 1
FACTS_READER = (READER, *IMAGE_ROOTS, _FULL_DEPTH, _PER_DIR)


class _ChunkReader:
    """A file-like reader over the SDK's iterator of byte chunks (tarfile's stream mode)."""

    def __init__(self, chunks):
        self._it = iter(chunks)
        self._buf = b""

    def read(self, n: int = -1) -> bytes:
        while n < 0 or len(self._buf) < n:
            try:
                self._buf += next(self._it)
            except StopIteration:
                break
        if n < 0:
            out, self._buf = self._buf, b""
        else:
            out, self._buf = self._buf[:n], self._buf[n:]
        return out


def tar_entries(fileobj, root: str, depth: int = _FULL_DEPTH) -> list[ImageEntry]:
    """The entries of a `docker cp` tar of root (its members are named after root's last
    component), as ImageEntries with container paths: all down to `depth` levels below root,
    up to _PER_DIR more per directory, every directory with the count of entries below it."""
    import posixpath
    import tarfile

    root = root.rstrip("/") or "/"
    base = posixpath.basename(root)
    counts: dict[str, int] = {}
    listed: dict[str, int] = {}
    out: list[ImageEntry] = []
    with tarfile.open(fileobj=fileobj, mode="r|") as tar:
        for m in tar:
            name = m.name.rstrip("/")
            rel = name[len(base):].lstrip("/") if name == base or name.startswith(base + "/") \
                else name.lstrip("./")
            path = posixpath.join(root, rel) if rel else root
            level = rel.count("/") + 1 if rel else 0
            parent = posixpath.dirname(path)
            d = parent
            while rel and _under(d, root):
                counts[d] = counts.get(d, 0) + 1
                if d == root:
                    break
                d = posixpath.dirname(d)
            if level > depth:
                if level > depth + 1 or listed.get(parent, 0) >= _PER_DIR:
                    continue
            listed[parent] = listed.get(parent, 0) + 1
            kind = ("dir" if m.isdir() else "symlink" if m.issym() else
                    "file" if m.isfile() or m.islnk() else "other")
            out.append(ImageEntry(path, kind, m.uid, m.gid, m.mode & 0o7777,
                                  m.linkname if m.issym() else ""))
    return [ImageEntry(e.path, e.type, e.uid, e.gid, e.mode, e.target, counts.get(e.path, 0))
            if e.type == "dir" else e for e in out]


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def mounts_of(attrs: dict) -> tuple[Mount, ...]:
    """inspect's Mounts -> Mount (sorted by target); a volume Docker named with 64 hex digits
    for a VOLUME or `-v DIR` is anonymous (source "")."""
    out = []
    for m in attrs.get("Mounts") or ():
        kind = m.get("Type") or ""
        source = m.get("Name") if kind == "volume" else m.get("Source")
        anonymous = kind == "volume" and len(source or "") == 64 and \
            all(c in "0123456789abcdef" for c in source)
        out.append(Mount(m.get("Destination") or "", kind, "" if anonymous else source or "",
                         not m.get("RW", True)))
    return tuple(sorted(out, key=lambda m: m.target))


def networks_of(attrs: dict, cid: str, name: str) -> tuple[NetworkAttachment, ...]:
    """NetworkSettings.Networks -> NetworkAttachment, without the aliases Docker adds itself
    (the container's short id and name)."""
    nets = (attrs.get("NetworkSettings") or {}).get("Networks") or {}
    own = {cid[:12], cid, name.lstrip("/")}
    return tuple(NetworkAttachment(n, tuple(sorted({a for a in (v or {}).get("Aliases") or ()
                                                    if a not in own})))
                 for n, v in sorted(nets.items()))


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
