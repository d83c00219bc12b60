"""Attach recordings that run for days (profiler/session/longrun.py, issue 19 item 3): snapshots
written while the recording runs, resume after a restart of profiler, and the merge of two
runs' recordings (aggregate.merge_recordings). On the fakes of tests/conftest.py; no root. The
real thing (SIGKILL, then --resume) is tests/integration/test_longrun_integration.py."""

from __future__ import annotations

from dataclasses import replace

import pytest

from conftest import FakeEngine, FakeFleet, FakeTracer
from test_record_match import _cli, shop  # noqa: F401 (a fixture)
from profiler.errors import UsageError
from profiler.kernel.wire import RawTrace
from profiler.recording import aggregate, project, recording_io
from profiler.recording.model import (Capability, FileAccess, Metadata, Recording, Syscall,
                                      Timeline)
from profiler.recording.project import Selector
from profiler.session import longrun, session
from profiler.session.engine import ContainerInfo

READ, WRITE, OPENAT, EXECVE = 0, 1, 257, 59
INFO = ContainerInfo(id="c1", name="n1", image="app:1", image_id="sha256:img")


def _rec(started="2026-12-06T08:00:00Z", image_id="sha256:img", **kw) -> Recording:
    md = Metadata(tool_version="t", kernel="k", arch="x86_64", mode="attach", image="app:1",
                  image_id=image_id, started_at=started, ended_at=started,
                  startup_observed=False)
    return Recording(metadata=md, **kw).canonical()


# --- merging two runs' recordings -----------------------------------------------------------

def test_merge_adds_counts_unites_sets_and_moves_the_later_timeline():
    earlier = _rec(
        syscalls=(Syscall("read", READ, 5, (("EAGAIN", 1),)),),
        capabilities=(Capability("CAP_CHOWN", 0, 1, 0),),
        files=(FileAccess("/etc/app.conf", ("read",)),),
        timeline=Timeline(duration_ms=60_000, syscalls=(("read", 10),)))
    later = _rec(
        started="2026-12-06T09:00:00Z",  # an hour later
        syscalls=(Syscall("read", READ, 2, (("EAGAIN", 2),)), Syscall("write", WRITE, 7)),
        capabilities=(Capability("CAP_CHOWN", 0, 3, 1), Capability("CAP_KILL", 5, 1, 0)),
        files=(FileAccess("/etc/app.conf", ("write",)), FileAccess("/tmp/x", ("create",))),
        timeline=Timeline(duration_ms=1_000, syscalls=(("read", 5), ("write", 20))))
    m = aggregate.merge_recordings(earlier, later)
    assert {s.name: (s.count, s.errnos) for s in m.syscalls} == {
        "read": (7, (("EAGAIN", 3),)), "write": (7, ())}
    assert {c.name: (c.granted, c.denied) for c in m.capabilities} == {
        "CAP_CHOWN": (4, 1), "CAP_KILL": (1, 0)}
    assert {f.path: f.ok for f in m.files} == {"/etc/app.conf": ("read", "write"),
                                              "/tmp/x": ("create",)}
    # first sightings from the first run's start: the earlier one wins, the later's moved 1 h
    assert dict(m.timeline.syscalls) == {"read": 10, "write": 3_600_020}
    assert m.timeline.duration_ms == 3_601_000
    assert (m.metadata.started_at, m.metadata.resumes) == ("2026-12-06T08:00:00Z", 1)
    # a container-mode run's docker run options (verify starts the container with them) stay
    started = replace(earlier, metadata=replace(earlier.metadata, container=replace(
        earlier.metadata.container, run_options=(("publish", "127.0.0.1:8080:80"),))))
    assert aggregate.merge_recordings(started, later).metadata.container.run_options == (
        ("publish", "127.0.0.1:8080:80"),)
    again = aggregate.merge_recordings(m, later)
    assert again.metadata.resumes == 2
    # what merging writes is a valid recording
    assert recording_io.loads(recording_io.dumps(again)) == again


# --- snapshots ------------------------------------------------------------------------------

def test_snapshots_are_taken_every_interval_and_a_failing_one_is_said_once():
    now = [0.0]
    taken, said = [], []

    def take():
        taken.append(now[0])
        if len(taken) in (2, 3):
            raise UsageError("disk full")

    snaps = longrun.Snapshots(10, take, said.append, clock=lambda: now[0])
    for t in range(0, 45):
        now[0] = float(t)
        snaps()
    assert taken == [10.0, 20.0, 30.0, 40.0]
    assert len(said) == 1 and "disk full" in said[0]
    assert snaps.taken == 2 and snaps.failed == 2 and "4 snapshot" not in snaps.summary()


@pytest.mark.parametrize("every", [0, 0.5, -1, float("nan"), float("inf")])
def test_snapshot_every_must_be_a_second_or_more(every):
    with pytest.raises(UsageError, match="--snapshot-every"):
        longrun.check_every(every)


def _attach_host(fake_host):
    (fake_host / "proc" / "4242").mkdir()
    (fake_host / "proc" / "4242" / "cgroup").write_text("0::/docker/c1\n")
    (fake_host / "proc" / "4242" / "status").write_text("CapBnd:\t000001ffffffffff\n")
    (fake_host / "cgroup" / "docker" / "c1").mkdir(parents=True)


def _growing(tracer: FakeTracer, stop_at: int):
    """An on_poll hook: the app makes one more read a poll, and a write from poll 20 on; the
    container stops at `stop_at`."""
    def hook(n: int) -> None:
        counts = {READ: n, **({WRITE: 1} if n >= 20 else {})}
        tracer.raw = RawTrace(arch="x86_64", counts=counts)
        if n == stop_at:
            tracer.engine.running = False
    return hook


def test_attach_writes_snapshots_of_the_recording_so_far_while_it_runs(fake_host):
    _attach_host(fake_host)
    engine, tracer = FakeEngine(container=INFO, running=True, pid=4242), FakeTracer()
    tracer.engine = engine
    tracer.on_poll = _growing(tracer, stop_at=40)
    written = []
    out = session.record_attach("n1", session.Options(snapshot_every=0.02), engine=engine,
                                load_tracer=tracer.load, write=written.append)
    assert len(written) >= 2
    assert all(r.metadata.snapshot_at for r in written)  # each says it is a snapshot
    reads = [next(s.count for s in r.syscalls if s.name == "read") for r in written]
    assert reads == sorted(reads) and reads[0] < reads[-1]  # the evidence so far, growing
    assert out.recording.metadata.snapshot_at == ""  # the final one is not a snapshot
    assert {s.name for s in out.recording.syscalls} == {"read", "write"}
    assert any("snapshot(s) written" in n for n in out.notes)


def test_attach_resumes_into_the_previous_recording(fake_host):
    _attach_host(fake_host)
    engine, tracer = FakeEngine(container=INFO, running=True, pid=4242), FakeTracer()
    tracer.engine = engine
    tracer.on_poll = _growing(tracer, stop_at=5)
    previous = _rec(syscalls=(Syscall("read", READ, 100), Syscall("openat", OPENAT, 3)))
    written = []
    out = session.record_attach("n1", session.Options(snapshot_every=0.001), engine=engine,
                                load_tracer=tracer.load, previous=previous,
                                write=written.append)
    for rec in [*written, out.recording]:  # every snapshot holds the previous run's evidence
        assert {s.name: s.count for s in rec.syscalls}["openat"] == 3
    assert {s.name: s.count for s in out.recording.syscalls} == {"read": 105, "openat": 3}
    assert out.recording.metadata.resumes == 1
    assert out.recording.metadata.started_at == previous.metadata.started_at
    assert any(n.startswith("resumed:") for n in out.notes)


def test_attach_refuses_to_resume_a_recording_of_another_image(fake_host):
    _attach_host(fake_host)
    engine, tracer = FakeEngine(container=INFO, running=True, pid=4242), FakeTracer()
    with pytest.raises(UsageError, match="recorded image app:1 .sha256:other.*runs app:1"):
        session.record_attach("n1", session.Options(), engine=engine, load_tracer=tracer.load,
                              previous=_rec(image_id="sha256:other"), source="x.yaml")
    assert not tracer.loaded_with  # refused before anything was traced


# --- the command line -----------------------------------------------------------------------

@pytest.fixture
def attached(fake_host, monkeypatch):
    _attach_host(fake_host)
    engine, tracer = FakeEngine(container=INFO, running=True, pid=4242), FakeTracer()
    tracer.engine = engine
    tracer.on_poll = _growing(tracer, stop_at=3)
    monkeypatch.setattr(session, "Engine", lambda: engine)
    monkeypatch.setattr(session, "_load_tracer", tracer.load)
    monkeypatch.chdir(fake_host)
    return engine, tracer


def test_cli_resume_merges_and_marks_nothing_as_a_snapshot_at_the_end(attached, fake_host):
    out = fake_host / "app.recording.yaml"
    recording_io.save(longrun.as_snapshot(_rec(syscalls=(Syscall("openat", OPENAT, 3),)),
                                          "2026-12-06T08:05:00Z"), out)
    assert _cli("--container", "n1", "--resume", "--snapshot-every", "1", "-o", str(out)) == 0
    rec = recording_io.load(out)
    assert {s.name for s in rec.syscalls} == {"openat", "read"}
    assert rec.metadata.snapshot_at == "" and rec.metadata.resumes == 1
    assert not list(fake_host.glob(".app.recording.yaml.*"))  # no temp file left


def test_cli_resume_without_a_file_starts_afresh(attached, fake_host):
    assert _cli("--container", "n1", "--resume", "-o", "new.recording.yaml") == 0
    rec = recording_io.load(fake_host / "new.recording.yaml")
    assert rec.metadata.resumes == 0 and {s.name for s in rec.syscalls} == {"read"}


@pytest.mark.parametrize("content, says", [
    ("schema_version: '1.9'\nmetadata: [", "cannot be resumed"),  # damaged
    ("just: text\n", "cannot be resumed"),  # not a recording
    (None, "recorded image"),  # a recording of another image
])
def test_cli_resume_refuses_a_file_it_cannot_merge_into_and_leaves_it(attached, fake_host,
                                                                      capsys, content, says):
    out = fake_host / "x.recording.yaml"
    if content is None:
        recording_io.save(_rec(image_id="sha256:other"), out)
    else:
        out.write_text(content)
    before = out.read_bytes()
    assert _cli("--container", "n1", "--resume", "-o", str(out)) == 2
    err = capsys.readouterr().err
    assert says in err and "hint:" in err and "Traceback" not in err
    assert out.read_bytes() == before
    assert not attached[1].loaded_with


@pytest.mark.parametrize("args", [
    ["app:1", "--snapshot-every", "5"],
    ["--exec", "--resume", "--", "true"],
    ["--container", "n1", "--snapshot-every", "0.1"],
])
def test_cli_refuses_snapshots_and_resume_where_they_make_no_sense(attached, capsys, args):
    assert _cli(*args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0].startswith("error: ") and "--snapshot-every" in err[0] or "--resume" in err[0]
    assert not attached[1].loaded_with


# --- match mode -----------------------------------------------------------------------------

SHOP = (Selector("com.docker.compose.project", "shop"),)


def _ctr(n: int, service: str) -> ContainerInfo:
    labels = {"com.docker.compose.project": "shop", "com.docker.compose.service": service}
    return ContainerInfo(id=f"{n:064x}", name=f"shop_{service}_{n}", image=f"shop-{service}:1",
                         image_id=f"sha256:{service}", labels=tuple(sorted(labels.items())))


def test_match_writes_project_snapshots_and_resumes_a_project(fake_host):
    web, db = _ctr(1, "web"), _ctr(2, "db")
    fleet = FakeFleet(web, db)
    tracer = FakeTracer(containers={web.id: RawTrace(arch="x86_64", counts={READ: 2})})

    def hook(n: int) -> None:
        if n == 1:
            fleet.run(web.id, tracer)
        if n == 30:
            fleet.up.discard(web.id)
    tracer.on_poll = hook
    old_db = _rec(syscalls=(Syscall("write", WRITE, 9),))
    old_web = _rec(syscalls=(Syscall("openat", OPENAT, 1),))
    previous = (project.Project(SHOP, (project.Service("db", "shop-db:1"),
                                       project.Service("web", "shop-web:1"))),
                {"db": old_db, "web": old_web})
    written = []
    out = session.record_match(SHOP, session.Options(snapshot_every=0.01, settle=0.01), None,
                               engine=fleet, load_tracer=tracer.load, previous=previous,
                               write=lambda proj, recs: written.append((proj, recs)))
    assert written
    proj, recs = written[-1]
    assert [s.name for s in proj.services] == ["db", "web"]  # db: kept from the previous run
    assert all(r.metadata.snapshot_at for r in recs.values())
    final = out.recordings()
    assert {s.name: s.count for s in final["web"].syscalls} == {"read": 2, "openat": 1}
    assert final["db"] == old_db and final["web"].metadata.snapshot_at == ""
    # the previous web recording was of another image (_rec's): said, and merged all the same
    assert any(n.startswith("service web: its image changed") for n in out.notes)


def test_cli_match_resume_refuses_another_projects_directory(fake_host, capsys, monkeypatch):
    d = fake_host / "blog.recordings"
    project.write(d, project.Project((Selector("com.docker.compose.project", "blog"),),
                                     (project.Service("web", "w:1"),)), {"web": _rec()})
    before = sorted((p.name, p.read_bytes()) for p in d.iterdir())
    monkeypatch.setattr(session, "_load_tracer", lambda *a, **k: pytest.fail("traced"))
    assert _cli("--match", "com.docker.compose.project=shop", "--resume", "-o", str(d)) == 2
    assert "recorded --match com.docker.compose.project=blog" in capsys.readouterr().err
    assert sorted((p.name, p.read_bytes()) for p in d.iterdir()) == before


# --- emit and diff say what a snapshot is ---------------------------------------------------

def test_emit_and_diff_say_a_snapshot_is_one():
    from profiler.diff.diff import compare, facts_from_recording
    from profiler.policy.reduce import reduce

    snap = longrun.as_snapshot(_rec(syscalls=(Syscall("read", READ, 1),)), "2026-12-06T08:05:00Z")
    policy = reduce([snap], ["s.yaml"])
    assert any("snapshot taken at 2026-12-06T08:05:00Z" in w for w in policy.warnings)
    report = compare(facts_from_recording(_rec()), facts_from_recording(snap), "a.yaml", "s.yaml")
    assert any("snapshot taken at" in n for n in report.notes)


def test_cli_match_snapshots_replace_the_project_directory_whole(shop, fake_host, monkeypatch):
    written = []
    real = recording_io.replace_dir

    def replace_dir(directory, fill):
        result = real(directory, fill)
        index = project.read(directory)
        written.append([recording_io.load(directory / s.recording).metadata.snapshot_at
                        for s in index.services])
        return result
    monkeypatch.setattr(recording_io, "replace_dir", replace_dir)
    assert _cli("--match", "com.docker.compose.project=shop", "--settle", "0.02",
                "--duration", "2.5", "--snapshot-every", "1", "-o", "out", "--", "true") == 0
    assert len(written) >= 2  # snapshots, then the final write
    assert all(all(taken) for taken in written[:-1]) and written[-1] == ["", ""]
    assert not [p for p in fake_host.iterdir() if p.name.startswith(".out.")]  # no temp dir
