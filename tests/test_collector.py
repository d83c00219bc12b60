"""The collector's settings per command and the full collections of long runs (collector.py):
a harvester that ran for hours kept its cyclic garbage, since it never reached the CLI's
thresholds; its loop and record's tick loop now collect on a clock."""

from __future__ import annotations

import gc
import weakref

import pytest

from profiler import collector


@pytest.fixture
def gc_settings():
    """The test changes the collector's settings; they are put back."""
    was, enabled = gc.get_threshold(), gc.isenabled()
    yield
    gc.set_threshold(*was)
    (gc.enable if enabled else gc.disable)()


class _Cycle:
    def __init__(self):
        self.me = self


def test_pure_commands_run_without_the_collector_and_long_runs_with_rare_ones(gc_settings):
    collector.configure("emit")
    assert not gc.isenabled()
    gc.enable()
    collector.configure("harvest")
    assert gc.get_threshold() == collector.THRESHOLDS and gc.isenabled()


def test_a_periodic_collection_comes_every_interval_of_the_clock_and_not_before():
    t, calls = [100.0], []
    p = collector.Periodic(every=300, clock=lambda: t[0], collect=lambda: calls.append(t[0]))
    for now in (100.0, 250.0, 399.9):
        t[0] = now
        p()
    assert calls == []
    t[0] = 400.0
    p()
    p()
    assert calls == [400.0]
    t[0] = 650.0  # 250 s after the last one
    p()
    t[0] = 700.0
    p()
    assert calls == [400.0, 700.0]


def test_the_periodic_collection_frees_a_cycle_the_long_run_thresholds_keep(gc_settings):
    collector.configure("harvest")
    gc.collect()  # a clean start: the young generation's count is 0
    c = _Cycle()
    ref = weakref.ref(c)
    del c
    for _ in range(1000):  # a quiet long run: far below 200,000 new objects
        [0]
    assert ref() is not None  # garbage, kept: what crept in the harvester's soak
    t = [0.0]
    p = collector.Periodic(every=300, clock=lambda: t[0])
    t[0] = 300.0
    p()
    assert ref() is None


def test_the_harvest_loop_and_the_session_ticker_collect(tmp_path, monkeypatch):
    from profiler.harvest import loop
    from profiler.session.workload import Ticker

    calls = []

    class Tracer:
        def poll(self, ms):
            pass

        def note_first_seen(self, seconds):
            pass

    tick = Ticker(Tracer(), None, 0.0, collect=lambda: calls.append("tick"))
    tick()
    assert calls == ["tick"]
    assert isinstance(Ticker(Tracer(), None, 0.0).collect, collector.Periodic)

    class H:  # a harvester with nothing to read
        source = type("S", (), {"wait": lambda self, timeout: None})()
        state = arch = None

        def step(self):
            return False

    saved = []
    t = [0.0]

    def clock():
        t[0] += 1.0
        return t[0]
    monkeypatch.setattr(loop.store, "save", lambda d, st, arch: saved.append(d) or [])
    loop.follow(H(), tmp_path, 1000, duration=5, clock=clock,
                collect=lambda: calls.append("harvest"))
    assert calls.count("harvest") >= 4 and saved == [tmp_path]
