"""The syscalls the kernel or the C library make on the app's behalf: they appear when the
environment acts on the app (SIGSTOP/SIGCONT or `docker pause` resuming a sleep with
`restart_syscall`, a retiring thread's `exit`, `rt_sigreturn` after a signal handler, abort's
signal to itself, vDSO fallbacks on other hosts), not when the app's own code path does.

Every profile allows them. The table, with the kernel and libc sources for every name and the
names considered and left out, lives in data/behalf_syscalls.yaml; this module only loads it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from .runtime_syscalls import load_syscall_table


@dataclass(frozen=True)
class BehalfTable:
    when: dict[str, str]  # name -> what in the environment makes the call appear
    sources: dict[str, tuple[str, ...]]  # name -> the sources (kernel, libc) it was read in
    excluded: dict[str, str]  # names considered and left out -> why


@lru_cache(maxsize=1)
def table() -> BehalfTable:
    when, sources, data = load_syscall_table("behalf_syscalls.yaml")
    return BehalfTable(when=when, sources=sources, excluded=dict(sorted(data["excluded"].items())))


def behalf_names() -> tuple[str, ...]:
    return tuple(table().when)
