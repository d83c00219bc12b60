"""How thin the evidence is: the recording's timeline (schema 1.4), the tracer's raw first
sightings turned into it, and coverage.assess's verdict with its sparkline."""

from dataclasses import replace

from emitcases import recording
from profiler.recording import aggregate, coverage, recording_io
from profiler.recording.model import Metadata, Timeline
from profiler.kernel.syscalls import number_of
from profiler.kernel.wire import ArgIndex, RawTrace


def _timed(duration, stop=0, **kinds) -> object:
    return replace(recording(), timeline=Timeline(duration, stop, **{
        k: tuple(v) for k, v in kinds.items()}))


def test_a_run_that_converged():
    rec = _timed(40000, 0, syscalls=[("read", 0), ("write", 900), ("futex", 1400)],
                 capabilities=[("CAP_CHOWN", 200)])
    cov = coverage.assess(rec)
    assert cov.converged and cov.late == ()
    assert cov.sentence == "converged: last new syscall (futex) at 1.4 s of a 40.0 s run"
    assert len(cov.sparkline) == coverage.BUCKETS and cov.sparkline[0] == "█"


def test_a_run_still_learning_names_what_came_late():
    rec = _timed(10000, 0, syscalls=[("read", 0), ("writev", 9500), ("sendfile", 9800),
                                     ("wait4", 9990)],
                 executables=[("/bin/sh", 9200)])
    cov = coverage.assess(rec)
    assert not cov.converged
    assert cov.sentence == ("still learning: 3 new syscalls, 1 new executable in the last 10% "
                            "of the 10.0 s before the stop; extend the workload")
    assert [i[1] for i in cov.late] == ["/bin/sh", "writev", "sendfile", "wait4"]


def test_shutdown_after_the_stop_is_not_learning():
    rec = _timed(12000, 10000, syscalls=[("read", 0), ("accept4", 3000), ("unlink", 11000)])
    cov = coverage.assess(rec)
    assert cov.converged
    assert cov.sentence == ("converged: last new syscall (accept4) at 3.0 s of 10.0 s before "
                            "the stop; 1 more at shutdown")


def test_no_timeline_no_verdict():
    assert coverage.assess(recording()) is None


def test_sparkline():
    assert coverage.sparkline([0, 0, 0, 999], 1000, buckets=4) == "█  ▃"
    assert coverage.sparkline([], 0) == ""


def test_timeline_round_trips_through_the_file():
    rec = _timed(5000, 4000, syscalls=[("read", 0)], files=[("/tmp/x", 10)],
                 sockets=[("AF_INET SOCK_STREAM", 20)])
    text = recording_io.dumps(rec)
    assert "timeline:" in text and "stop_ms: 4000" in text
    assert recording_io.loads(text) == rec.canonical()
    assert "timeline" not in recording_io.dumps(recording())  # absent when not timed


def test_raw_first_sightings_become_the_timeline():
    nr = number_of("x86_64", "openat")
    triple = (2 << 48) | (1 << 16) | 6  # AF_INET, SOCK_STREAM, TCP
    raw = RawTrace(arch="x86_64", counts={nr: 3}, caps={0: (1, 0)},
                   args={(number_of("x86_64", "socket"), ArgIndex.SOCKET_TRIPLE): {triple: 1}},
                   execs={b"/bin/sh": 1}, duration_ms=3000, stop_ms=2500,
                   first_seen={"syscalls": {nr: 100}, "caps": {0: 200},
                               "sockets": {triple: 300}, "execs": {b"/bin/sh": 0}})
    rec, _ = aggregate.build_recording(raw, Metadata("0", "6.1", "x86_64", "container"))
    tl = rec.timeline
    assert (tl.duration_ms, tl.stop_ms) == (3000, 2500)
    assert tl.syscalls == (("openat", 100),) and tl.capabilities == (("CAP_CHOWN", 200),)
    assert tl.sockets == (("AF_INET SOCK_STREAM", 300),) and tl.executables == (("/bin/sh", 0),)
    assert aggregate.build_recording(RawTrace(arch="x86_64"),
                                     Metadata("0", "6.1", "x86_64", "container"))[0].timeline \
        is None
