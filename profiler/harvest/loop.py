"""A harvest run: one pass (`profiler harvest`), or a long one (`--follow`) that saves a
snapshot every interval and at the end.

`--follow` polls the log every POLL seconds (at once when the kernel log has a new record:
kmsg is waited on), so that a record's task is looked up while it most likely still lives; it
saves every `interval` seconds, so a crash or a kill loses at most one interval, and the next
run resumes from the saved cursor (store.py). SIGTERM and SIGINT end it after a last save.
"""

from __future__ import annotations

import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .. import collector
from . import store
from .harvester import Harvester

POLL = 1.0  # seconds between passes of --follow when the log is quiet


@dataclass
class Outcome:
    files: list[Path]
    snapshots: int


def once(h: Harvester, directory: Path) -> Outcome:
    while h.step():
        pass
    h.settle()  # kmsg: a mark after the last records counts the end of a burst's drops
    return Outcome(store.save(directory, h.state, h.arch), 1)


class _Stop:
    def __init__(self):
        self.requested = False

    def __call__(self, signum, frame):
        self.requested = True


def follow(h: Harvester, directory: Path, interval: float, *, duration: float | None = None,
           on_snapshot: Callable[[Outcome], None] | None = None, poll: float = POLL,
           clock=time.monotonic, collect: Callable[[], None] | None = None) -> Outcome:
    """Harvest until SIGTERM/SIGINT (or `duration` seconds), saving every `interval`; the
    cyclic garbage is collected now and then (`collect`, default collector.Periodic: a run of
    days allocates too little to reach the CLI's thresholds)."""
    collect = collect or collector.Periodic(clock=clock)
    stop = _Stop()
    old = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    began = last_save = clock()
    out = Outcome([], 0)
    try:
        while not stop.requested:
            more = h.step()  # an engine that does not answer is counted, not raised (harvester)
            collect()
            now = clock()
            if now - last_save >= interval:
                out.files = store.save(directory, h.state, h.arch)
                out.snapshots += 1
                last_save = now
                if on_snapshot:
                    on_snapshot(out)
            if duration is not None and now - began >= duration:
                break
            if not more and not stop.requested:
                h.source.wait(min(poll, max(0.05, interval - (now - last_save))))
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)
    out.files = store.save(directory, h.state, h.arch)
    out.snapshots += 1
    return out
