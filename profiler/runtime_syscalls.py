"""The syscalls the container runtime (runc, crun) makes after loading the container's seccomp
filter, and the syscalls that must answer ENOSYS rather than EPERM when the app did not use them.

The tables, with where every name came from, live in data/runtime_syscalls.yaml; this module
only loads them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import yaml


@dataclass(frozen=True)
class RuntimeTables:
    runtime: dict[str, str]  # name -> when the runtime needs it
    sources: dict[str, tuple[str, ...]]  # name -> source lists it appears in
    excluded: dict[str, str]  # names the runtime calls only before loading the filter
    enosys: dict[str, str]  # name -> which fallback needs ENOSYS


@lru_cache(maxsize=1)
def tables() -> RuntimeTables:
    text = resources.files("profiler").joinpath("data/runtime_syscalls.yaml").read_text()
    data = yaml.safe_load(text)
    calls = data["syscalls"]
    return RuntimeTables(
        runtime={n: e["when"] for n, e in sorted(calls.items())},
        sources={n: tuple(e["sources"]) for n, e in sorted(calls.items())},
        excluded=dict(sorted(data["excluded"].items())),
        enosys=dict(sorted(data["enosys"].items())),
    )


def runtime_names() -> tuple[str, ...]:
    return tuple(tables().runtime)


def enosys_names() -> tuple[str, ...]:
    return tuple(tables().enosys)
