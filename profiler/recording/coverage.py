"""How thin is the evidence: did a training run converge, or was it still learning when it ended?

A recording's timeline (model.Timeline, schema 1.4) says when each syscall, capability, socket
kind and executable was first seen. A run whose last new item came early and was followed by a
long stretch of the same behaviour has probably seen what the workload does; one that was still
finding new syscalls in its last tenth would have found more with a longer or broader workload.
`assess` turns that into one sentence and a sparkline of new items over time, for record's
summary and emit --explain. Files have no first-seen time (the recorder does not read the file
map while it runs), so they are not in it.
"""

from __future__ import annotations

from dataclasses import dataclass

from .model import Recording

KINDS = ("syscalls", "capabilities", "sockets", "executables")
TAIL = 0.10  # "the last 10% of the run"
SPARK = "▁▂▃▄▅▆▇█"
BUCKETS = 20


@dataclass(frozen=True)
class Coverage:
    converged: bool
    sentence: str  # e.g. "converged: last new syscall at 1.4 s of a 40.0 s run"
    sparkline: str  # new items per twentieth of the run ("" without a timeline)
    late: tuple[tuple[str, str, int], ...] = ()  # (kind, item, ms) first seen in the last 10%


def _s(ms: int) -> str:
    return f"{ms / 1000:.1f} s"


def sparkline(times: list[int], duration_ms: int, buckets: int = BUCKETS) -> str:
    """New items per bucket of the run, as block characters (a space: none)."""
    if duration_ms <= 0:
        return ""
    counts = [0] * buckets
    for t in times:
        counts[min(buckets - 1, max(0, t * buckets // duration_ms))] += 1
    top = max(counts) or 1
    return "".join(" " if c == 0 else SPARK[min(len(SPARK) - 1, (c * len(SPARK) - 1) // top)]
                   for c in counts)


def assess(rec: Recording) -> Coverage | None:
    """The run's coverage, or None when the recording has no timeline (recorded before 1.4).
    The run is judged up to the container's stop (what comes after is its shutdown, which
    always brings a few new calls)."""
    tl = rec.timeline
    if tl is None or tl.duration_ms <= 0:
        return None
    end = tl.stop_ms or tl.duration_ms
    items = [(kind, name, ms) for kind in KINDS for name, ms in tl.of(kind)]
    spark = sparkline([ms for _, _, ms in items], tl.duration_ms)
    shutdown = sum(1 for _, _, ms in items if ms > end)
    after = f"; {shutdown} more at shutdown" if shutdown else ""
    items = [i for i in items if i[2] <= end]
    if not items:
        return Coverage(True, f"nothing timed before the stop of a {_s(tl.duration_ms)} run",
                        spark)
    cut = end * (1 - TAIL)
    late = tuple(sorted((i for i in items if i[2] >= cut and i[2] > 0),
                        key=lambda i: (i[2], i[0], i[1])))
    if late:
        counts: dict[str, int] = {}
        for kind, _, _ in late:
            counts[kind] = counts.get(kind, 0) + 1
        what = ", ".join(f"{counts[k]} new {k if counts[k] > 1 else k.rstrip('s')}"
                         for k in KINDS if k in counts)
        return Coverage(False, f"still learning: {what} in the last {int(TAIL * 100)}% of the "
                               f"{_s(end)} before the stop{after}; extend the workload",
                        spark, late)
    kind, name, ms = max(items, key=lambda i: i[2])
    return Coverage(True, f"converged: last new {kind.rstrip('s')} ({name}) at {_s(ms)} of "
                          f"{_s(end)} before the stop{after}" if tl.stop_ms else
                          f"converged: last new {kind.rstrip('s')} ({name}) at {_s(ms)} of a "
                          f"{_s(end)} run", spark)
