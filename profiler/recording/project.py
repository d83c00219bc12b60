"""An application of several containers: which containers belong to it, how they group into
services, and the directory that holds one recording per service.

`profiler record --match LABEL=VALUE` traces every container that starts and carries all the
given labels (`selectors`, `matches`); each container belongs to a service (`service_of`: the
compose service label, else the container's name); restarts and replicas of a service merge into
that service's one recording. The result is a *project directory*:

    DIR/index.yaml              what was matched, and each service's recording and containers
    DIR/<service>.recording.yaml  one ordinary recording per service (recording_io)

`emit DIR`, `verify --compose` and `diff OLD_DIR NEW_DIR` read it with `read` and
`load_recordings`. A service name comes from the container (labels, names), so it is checked
against `SERVICE_NAME` before it names a file, a compose key, an AppArmor profile or a Kubernetes
object; a name that does not fit is refused, never rewritten silently into another service's.

The Kubernetes node agent the docs describe (docs/architecture.md) would be the same mechanism
with pod labels from the CRI as the labels: nothing here is Docker-specific.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..errors import RecordingError, UsageError
from .model import Recording
from .. import safe_input
from . import recording_io

INDEX_FILE = "index.yaml"
KIND = "profiler-project"
VERSION = 1
RECORDING_SUFFIX = ".recording.yaml"

# Labels the engines put on a container, in the order service_of asks them. Compose v1 and v2
# both set com.docker.compose.service / .project (compose-spec "Labels"; docker/compose
# api/types/labels.go); Kubernetes' CRI sets io.kubernetes.container.name on every container.
SERVICE_LABELS = ("com.docker.compose.service", "io.kubernetes.container.name")
PROJECT_LABEL = "com.docker.compose.project"

# A compose service name ([a-zA-Z0-9._-], compose-spec) that is also a safe file name and, lower
# cased, close to an RFC 1123 name; at most 63 characters (a DNS label).
SERVICE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")
_CONTAINER_ID = re.compile(r"[0-9a-f]{64}")
# A label key as Docker accepts it is nearly anything; we accept the printable, unspaced ones.
_LABEL_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_./-]*")


@dataclass(frozen=True)
class Selector:
    """One `--match LABEL=VALUE`: the container's label LABEL equals VALUE."""

    label: str
    value: str

    def __str__(self) -> str:
        return f"{self.label}={self.value}"


def parse_selector(text: str) -> Selector:
    """`LABEL=VALUE` -> Selector; UsageError (exit 2) with a hint for anything else."""
    label, sep, value = text.partition("=")
    if not sep or not _LABEL_KEY.fullmatch(label) or not value or "\n" in value:
        raise UsageError(f"--match {text!r}: expected LABEL=VALUE",
                         hint="e.g. --match com.docker.compose.project=shop")
    return Selector(label, value)


def matches(labels: Mapping[str, str], selectors: tuple[Selector, ...]) -> bool:
    """True when the container carries every selector's label with that value (AND)."""
    return all(labels.get(s.label) == s.value for s in selectors)


def check_service_name(name: str, what: str = "service name") -> str:
    if not SERVICE_NAME.fullmatch(name):
        raise UsageError(f"{what} {name!r} cannot name a policy",
                         hint="service names are 1-63 of [A-Za-z0-9_.-], starting with a "
                              "letter or digit")
    return name


def service_of(labels: Mapping[str, str], container_name: str) -> str:
    """The service a container belongs to: its compose (or Kubernetes) service label, else its
    own name (without Docker's leading '/'). UsageError when that cannot name a policy."""
    for key in SERVICE_LABELS:
        if labels.get(key):
            return check_service_name(labels[key], f"service label {key}")
    return check_service_name(container_name.lstrip("/"), "container name")


@dataclass(frozen=True)
class Instance:
    """One container that ran for a service during the recording."""

    id: str  # the full 64-hex container id
    name: str  # the container's name when it was seen
    attached: bool = False  # already running when recording began: its start-up was not seen


@dataclass(frozen=True)
class Service:
    name: str  # SERVICE_NAME
    image: str  # the image reference the containers ran
    containers: tuple[Instance, ...] = ()

    @property
    def recording(self) -> str:
        """The service's recording file, relative to the project directory."""
        return self.name + RECORDING_SUFFIX


@dataclass(frozen=True)
class Project:
    selectors: tuple[Selector, ...]
    services: tuple[Service, ...]  # sorted by name, names unique
    compose_project: str | None = None  # the compose project label all services share, if any
    started_at: str = ""  # ISO 8601 UTC
    ended_at: str = ""

    def service(self, name: str) -> Service:
        for s in self.services:
            if s.name == name:
                return s
        raise UsageError(f"no service {name!r} in this project",
                         hint="services: " + ", ".join(s.name for s in self.services))


# ---------------------------------------------------------------------------------------------
# the index file
# ---------------------------------------------------------------------------------------------

def dumps(project: Project) -> str:
    data = {
        "kind": KIND,
        "version": VERSION,
        "match": [str(s) for s in project.selectors],
        "compose_project": project.compose_project,
        "started_at": project.started_at,
        "ended_at": project.ended_at,
        "services": [
            {"name": s.name, "recording": s.recording, "image": s.image,
             "containers": [{"id": c.id, "name": c.name, "attached": c.attached}
                            for c in s.containers]}
            for s in sorted(project.services, key=lambda s: s.name)
        ],
    }
    head = ("# profiler project: one recording per service (profiler record --match).\n"
            "# Read by: profiler emit DIR, profiler verify --compose, profiler diff OLD NEW.\n")
    return head + yaml.safe_dump(data, sort_keys=False, default_flow_style=False)


def _bad(source: str, why: str) -> RecordingError:
    return RecordingError(f"{source}: not a profiler project index ({why})",
                          hint=f"a project directory is made by `profiler record --match ... "
                               f"-o DIR`; its {INDEX_FILE} should not be edited by hand")


def loads(text: str, source: str = INDEX_FILE) -> Project:
    try:
        data = safe_input.load_yaml(text)
    except safe_input.InputError as e:
        raise _bad(source, e.reason) from None
    if not isinstance(data, dict) or data.get("kind") != KIND:
        raise _bad(source, f"kind is not {KIND}")
    if data.get("version") != VERSION:
        raise _bad(source, f"version {repr(data.get('version'))[:40]}; this profiler reads "
                           f"{VERSION}")
    try:
        selectors = tuple(parse_selector(str(m)) for m in data.get("match") or ())
        services = []
        for s in data["services"] or ():
            name = check_service_name(str(s["name"]))
            if s.get("recording", name + RECORDING_SUFFIX) != name + RECORDING_SUFFIX:
                raise _bad(source, f"service {name}: recording must be {name}{RECORDING_SUFFIX}")
            containers = []
            for c in s.get("containers") or ():
                cid = str(c["id"])
                if not _CONTAINER_ID.fullmatch(cid):
                    raise _bad(source, f"service {name}: container id {cid[:80]!r}")
                containers.append(Instance(cid, str(c.get("name", "")),
                                           bool(c.get("attached", False))))
            services.append(Service(name, str(s.get("image", "")), tuple(containers)))
    except (KeyError, TypeError, AttributeError) as e:
        raise _bad(source, f"missing or malformed field {e}") from None
    except UsageError as e:
        raise _bad(source, e.message) from None
    names = [s.name for s in services]
    if len(set(names)) != len(names):
        raise _bad(source, "a service is listed twice")
    cp = data.get("compose_project")
    return Project(selectors, tuple(sorted(services, key=lambda s: s.name)),
                   str(cp) if cp is not None else None,
                   str(data.get("started_at") or ""), str(data.get("ended_at") or ""))


def is_project_dir(path: str | os.PathLike) -> bool:
    """True for a directory holding an index file (what `emit`/`diff` take instead of a file)."""
    p = Path(path)
    return p.is_dir() and (p / INDEX_FILE).is_file()


def read(directory: str | os.PathLike) -> Project:
    """The index of a project directory. UsageError when there is none, RecordingError when it
    is not one profiler wrote."""
    d = Path(directory)
    index = d / INDEX_FILE
    if not d.is_dir():
        raise UsageError(f"{d}: no such project directory",
                         hint="make one with `profiler record --match LABEL=VALUE -o DIR`")
    try:
        text = safe_input.read_text(index, str(index), error=RecordingError)
    except FileNotFoundError:
        raise UsageError(f"{d}: no {INDEX_FILE} (not a project directory)",
                         hint="make one with `profiler record --match LABEL=VALUE -o DIR`; "
                              "a single recording is given as FILE.recording.yaml") from None
    return loads(text, str(index))


def load_recordings(directory: str | os.PathLike, project: Project) -> dict[str, Recording]:
    """service name -> its Recording, for every service of the index (errors name the file)."""
    d = Path(directory)
    return {s.name: recording_io.load(d / s.recording) for s in project.services}


def write(directory: str | os.PathLike, project: Project,
          recordings: Mapping[str, Recording]) -> list[Path]:
    """Write every service's recording, then the index (the index is written last: a directory
    whose index is present is complete). Returns the paths written. UsageError when a service
    has no recording or the directory cannot be written."""
    d = Path(directory)
    missing = [s.name for s in project.services if s.name not in recordings]
    if missing:
        raise UsageError(f"no recording for service(s) {', '.join(missing)}")
    try:
        d.mkdir(parents=True, exist_ok=True)
    except (PermissionError, FileExistsError, NotADirectoryError) as e:
        raise UsageError(f"{d}: cannot make the project directory ({e.strerror})") from None
    written = []
    for s in project.services:
        path = d / s.recording
        recording_io.save(recordings[s.name], path)
        written.append(path)
    recording_io.atomic_write(d / INDEX_FILE, dumps(project))
    written.append(d / INDEX_FILE)
    return written
