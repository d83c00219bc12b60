"""The cyclic garbage collector: how each command sets it, and the full collections of long runs.

Python starts a young collection after 700 new container objects, and a full one after 100 of
those (gc.get_threshold()). Profiler's commands set it otherwise (cli.main calls configure):

- the pure commands (emit, diff, promote) run without it: a recording of 100,000 paths makes
  millions of container objects, none in a cycle, and emit spent a third of its time in the
  collector; what cycles they make go with the process (8% faster than rare collections);
- every other command collects rarely, with mypy's thresholds (mypy/build.py): a young
  collection after 200,000 new objects, a full one after 900 of those.

Those thresholds are reached in minutes by a recording, and never by a long run that allocates
little: a `harvest --follow` makes some 700 objects a minute, so its first young collection
came after about 4.5 hours, and every cycle until then stayed in memory (json's encoder
closures at each save, exceptions with their tracebacks): about 1 MiB an hour in its soak
(docs/harvest.md). Long runs (harvest --follow, record's tick loop) therefore call a Periodic
in their loop: a full collection every FULL_EVERY seconds, whatever the thresholds say.
"""

from __future__ import annotations

import gc
import time
from typing import Callable

PURE_COMMANDS = ("emit", "diff", "promote")
THRESHOLDS = (200_000, 30, 30)  # young, middle, old generation (gc.set_threshold)
# A full collection of a harvester's heap takes a few ms, a long recording's (its aggregates
# are not containers in cycles, but are traversed) tens of ms: once in five minutes is nothing.
FULL_EVERY = 300.0  # seconds


def configure(command: str) -> None:
    """Set the collector for `command` (the CLI's first word)."""
    if command in PURE_COMMANDS:
        gc.disable()
    else:
        gc.set_threshold(*THRESHOLDS)


class Periodic:
    """A full collection when `every` seconds have passed since the last (or since creation);
    call it in a long run's loop, as often as the loop goes round (it only reads the clock)."""

    def __init__(self, every: float = FULL_EVERY, clock: Callable[[], float] = time.monotonic,
                 collect: Callable[[], object] = gc.collect):
        self.every, self._clock, self._collect = every, clock, collect
        self._next = clock() + every

    def __call__(self) -> None:
        now = self._clock()
        if now >= self._next:
            self._collect()
            self._next = now + self.every
