"""The harvest directory: the state, and one evidence file per service that emit and diff read.

    DIR/state.json               cursor + aggregates (harvest/state.py): the harvest's memory
    DIR/<service>.harvest.yaml   one recording-format file per service (metadata.mode
                                 "harvest", the `harvest` block: model.HarvestInfo)

`profiler emit A.recording.yaml DIR/A.harvest.yaml` merges the evidence like another
recording; `profiler diff A.recording.yaml DIR/A.harvest.yaml` lists what production added,
with risk classes. `load_dir(DIR)` is the loader other commands use (promote): service ->
Recording, each with `.harvest` set.

A snapshot saves the state first (atomically), then rewrites the evidence files from it
(each atomically): after a crash at any point, every evidence file says no more than the state
the next run resumes from.
"""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path

from .. import __version__
from ..errors import UsageError
from ..kernel import syscalls as sctab
from ..kernel.linux import CAPABILITY_NUMBERS
from ..recording import recording_io
from ..recording.model import (HARVEST_MODE, Capability, ContainerConfig, Executable, FileAccess,
                               HarvestInfo, Metadata, Network, Processes, Recording, SocketUse,
                               Syscall, Timeline)
from .state import ServiceEvidence, State, dumps, loads

STATE_FILE = "state.json"
SUFFIX = ".harvest.yaml"


def iso(epoch: float) -> str:
    if not epoch:
        return ""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def _ms(when: float, start: float) -> int:
    return max(0, int(round((when - start) * 1000)))


def evidence(name: str, svc: ServiceEvidence, st: State, arch: str | None = None) -> Recording:
    """One service's harvest as a recording (mode "harvest")."""
    arch = arch or sctab.host_arch()
    syscalls = []
    for a, number, count in svc.syscalls.values():
        syscalls.append(Syscall(sctab.name_of(a, number), number, count,
                                arch="" if a == arch else a))
    capabilities = [Capability(c, CAPABILITY_NUMBERS.get(c, -1), n, 0)
                    for c, n in svc.capabilities.items() if c in CAPABILITY_NUMBERS]
    sockets = []
    for key, n in svc.sockets.items():
        family, stype, proto = key.split()
        sockets.append(SocketUse(family, stype, int(proto), n))
    start = svc.started or st.started
    first: dict[str, list] = {}
    for k, when in svc.first.items():
        kind, _, item = k.partition("\0")
        first.setdefault(kind, []).append((item, _ms(when, start)))
    timeline = Timeline(duration_ms=_ms(svc.ended or st.updated, start),
                        **{k: tuple(v) for k, v in first.items()
                           if k in ("syscalls", "capabilities", "files", "sockets",
                                    "executables")})
    cont = sorted(svc.containers.items(), key=lambda kv: (kv[1], kv[0]))
    info = HarvestInfo(
        source=st.source or "kmsg", records=svc.records, runtime_records=svc.runtime_records,
        refused=svc.refused, dropped=st.drops, unattributed=sum(st.unattributed.values()),
        containers=tuple(f"{n} {cid[:12]}" for cid, n in cont), containers_total=svc.containers_total,
        cpu_seconds=round(svc.cpu_usec / 1e6, 3), last_new=iso(svc.last_new),
        new_items=len(svc.first))
    md = Metadata(tool_version=__version__, kernel=platform.release(), arch=arch,
                  mode=HARVEST_MODE, started_at=iso(start), ended_at=iso(svc.ended or st.updated),
                  image=svc.image, container=ContainerConfig(name=name),
                  startup_observed=False, capability_source="none")
    return Recording(
        metadata=md, syscalls=tuple(syscalls), capabilities=tuple(capabilities),
        files=tuple(FileAccess(p, tuple(k)) for p, k in svc.files.items()),
        network=Network(sockets=tuple(sockets)),
        processes=Processes(executables=tuple(Executable(p, n)
                                              for p, n in svc.executables.items())),
        timeline=timeline, harvest=info).canonical()


def save(directory: Path, st: State, arch: str | None = None) -> list[Path]:
    """Write the state, then every service's evidence file; returns the evidence files."""
    recording_io.atomic_write(directory / STATE_FILE, dumps(st))
    out = []
    for name, svc in sorted(st.services.items()):
        path = directory / f"{name}{SUFFIX}"
        recording_io.save(evidence(name, svc, st, arch), path)
        out.append(path)
    return out


def load_state(directory: Path) -> State | None:
    """The saved state of a harvest directory, None when there is none yet."""
    p = directory / STATE_FILE
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f"{p}: cannot read ({getattr(e, 'strerror', None) or e.__class__.__name__})") from None
    return loads(text, str(p))


def prepare(directory: Path, check=None) -> None:
    """Make the output directory (its parent must exist); refuse one that is not a harvest's.
    `check()`, when given, runs after those refusals and before anything is made (it raises
    to refuse)."""
    if directory.exists() and not directory.is_dir():
        raise UsageError(f"{directory}: exists and is not a directory")
    if directory.is_dir() and not (directory / STATE_FILE).exists() and \
            any(p for p in directory.iterdir() if not p.name.startswith(".")):
        raise UsageError(f"{directory}: a directory that holds no harvest ({STATE_FILE})",
                         hint="give harvest an empty or new directory of its own (-o DIR)")
    if check is not None:
        check()
    try:
        directory.mkdir(exist_ok=True)
    except FileNotFoundError:
        raise UsageError(f"{directory}: parent directory does not exist") from None
    except OSError as e:
        raise UsageError(f"{directory}: cannot create ({e.strerror})") from None
    if not os.access(directory, os.W_OK):
        raise UsageError(f"{directory}: cannot write there (permission denied)")


def load_dir(directory: str | os.PathLike) -> dict[str, Recording]:
    """Every service's harvested evidence in a harvest directory: service -> Recording (with
    `.harvest`: model.HarvestInfo). UsageError when it is not a harvest directory."""
    d = Path(directory)
    if not (d / STATE_FILE).is_file():
        raise UsageError(f"{d}: not a harvest directory (no {STATE_FILE})",
                         hint="make one with `profiler harvest -o DIR`")
    return {p.name[:-len(SUFFIX)]: recording_io.load(p) for p in sorted(d.glob(f"*{SUFFIX}"))}
