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


def load_syscall_table(file: str) -> tuple[dict[str, str], dict[str, tuple[str, ...]], dict]:
    """A data/ syscall table (`syscalls: {name: {sources, when}}` and more keys) ->
    (name -> when, name -> sources, the whole document). Shared with behalf_syscalls."""
    data = yaml.safe_load(resources.files("profiler").joinpath(f"data/{file}").read_text())
    calls = sorted(data["syscalls"].items())
    return ({n: e["when"] for n, e in calls}, {n: tuple(e["sources"]) for n, e in calls}, data)


@lru_cache(maxsize=1)
def tables() -> RuntimeTables:
    when, sources, data = load_syscall_table("runtime_syscalls.yaml")
    return RuntimeTables(
        runtime=when,
        sources=sources,
        excluded=dict(sorted(data["excluded"].items())),
        enosys=dict(sorted(data["enosys"].items())),
    )
