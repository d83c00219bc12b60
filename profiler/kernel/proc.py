"""What /proc says about a process that profiler needs in more than one stage.

`start_ticks`: when a process started (field 22 of /proc/PID/stat, clock ticks since boot).
A pid is reused once its process is gone; the pair (pid, start time) names one process on this
boot: the leftovers registry keys its owners by it, harvest tells a reused pid by it.
Source: proc(5), /proc/[pid]/stat.
"""

from __future__ import annotations

from pathlib import Path

PROC = Path("/proc")


def start_ticks(pid: int, proc: Path = PROC) -> int | None:
    """The process's start time in clock ticks since boot, or None when there is no such
    process. Field 2 (comm) may hold spaces and parentheses: fields are counted after its
    closing parenthesis."""
    try:
        stat = (proc / str(pid) / "stat").read_text()
        return int(stat.rpartition(")")[2].split()[19])
    except (OSError, ValueError, IndexError):
        return None
