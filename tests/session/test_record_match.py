"""`profiler record --match` (session.record_match, cmd_record) on a fake host, engine and
tracer (tests/conftest.py: FakeFleet, FakeTracer in match mode): which containers are kept,
how slots group into services, attach of running ones, COMMAND, Ctrl-C, and what is written.
No root; the real thing is tests/integration/test_record_match_integration.py."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from conftest import FakeFleet, FakeTracer
from profiler import cli
from profiler.recording import project, recording_io
from profiler.session import session
from profiler.session.engine import CapabilityConfig, ContainerInfo
from profiler.errors import EngineError, UsageError, WorkloadError
from profiler.recording.project import Selector
from profiler.kernel.wire import RawTrace

SHOP = (Selector("com.docker.compose.project", "shop"),)
READ, WRITE, OPEN, KILL = 0, 1, 2, 62  # x86_64 syscall numbers


def _id(n: int) -> str:
    return f"{n:064x}"


def _ctr(n: int, service: str | None, project_name: str = "shop", name: str | None = None,
         **kw) -> ContainerInfo:
    labels = {"com.docker.compose.project": project_name}
    if service:
        labels["com.docker.compose.service"] = service
    return ContainerInfo(id=_id(n), name=name or f"{project_name}_{service}_{n}",
                         image=f"{project_name}-{service}:1", image_id=f"sha256:{service}",
                         labels=tuple(sorted(labels.items())), **kw)


def _raw(*nrs: int, **kw) -> RawTrace:
    return RawTrace(arch="x86_64", counts={nr: 1 for nr in nrs}, **kw)


def _opts(**kw) -> session.Options:
    return session.Options(**{"settle": 0.02, "stop_timeout": 7, **kw})


def _starting(fleet: FakeFleet, tracer: FakeTracer, *ids: str, at: int = 1):
    """An on_poll hook: the containers start at poll `at` (as COMMAND or a restart would)."""
    def hook(n: int) -> None:
        if n == at:
            for cid in ids:
                fleet.run(cid, tracer)
    return hook


def _ctrl_c_at(*polls: int):
    def hook(n: int) -> None:
        if n in polls:
            os.kill(os.getpid(), signal.SIGINT)
    return hook


def _match(fleet, tracer, command=("true",), selectors=SHOP, warn=None, **kw):
    return session.record_match(selectors, _opts(**kw), list(command) if command else None,
                                warn=warn, engine=fleet, load_tracer=tracer.load)


def test_only_matching_containers_are_kept_and_commands_ones_stopped(fake_host):
    web, other = _ctr(1, "web"), _ctr(2, "web", project_name="blog")
    fleet = FakeFleet(web, other)
    tracer = FakeTracer(containers={web.id: _raw(READ), other.id: _raw(KILL)})
    tracer.on_poll = _starting(fleet, tracer, web.id, other.id)
    out = _match(fleet, tracer, workload="true")
    assert tracer.loaded_with["match"] and not tracer.loaded_with["attach"]
    assert [s.name for s in out.services] == ["web"]
    assert tracer.dropped == {tracer.slot_of[other.id]} and tracer.kept == {tracer.slot_of[web.id]}
    (svc,) = out.project.services
    assert [c.id for c in svc.containers] == [web.id] and not svc.containers[0].attached
    assert [s.name for s in out.services[0].recording.syscalls] == ["read"]
    assert out.project.compose_project == "shop" and out.project.selectors == SHOP
    md = out.services[0].recording.metadata
    assert (md.mode, md.startup_observed, md.image, md.workload.exit_status) == (
        "container", True, "shop-web:1", 0)
    assert fleet.calls == [f"stop {web.name} 7"]  # COMMAND's container; the other is not ours
    assert tracer.closed


def test_replicas_and_restarts_merge_into_one_recording_per_service(fake_host):
    web1, web2, db = _ctr(1, "web"), _ctr(2, "web"), _ctr(3, "db")
    fleet = FakeFleet(web1, web2, db)
    tracer = FakeTracer(containers={web1.id: _raw(READ), web2.id: _raw(WRITE),
                                    db.id: _raw(OPEN, caps={0: (1, 0)})})

    def hook(n: int) -> None:
        if n == 1:
            for c in (web1, web2, db):
                fleet.run(c.id, tracer)
        if n == 3:  # `docker restart` of the db: its cgroup again, the same slot
            assert tracer.start(db.id) == tracer.slot_of[db.id]

    tracer.on_poll = hook
    out = _match(fleet, tracer, duration=0.2)
    assert [s.name for s in out.services] == ["db", "web"]
    db_out, web_out = out.services
    assert {s.name for s in web_out.recording.syscalls} == {"read", "write"}
    assert [c.name for c in db_out.recording.capabilities if c.granted] == ["CAP_CHOWN"]
    svc = out.project.service("web")
    assert [c.id for c in svc.containers] == [web1.id, web2.id]
    assert len(out.project.service("db").containers) == 1  # the restart is the same container
    assert len(tracer.announced) == 3


def test_running_containers_are_attached_with_a_warning(fake_host):
    cache, web = _ctr(1, "cache"), _ctr(2, "web")
    fleet = FakeFleet(cache, web, running=[cache.id], pids={cache.id: 4242})
    (fake_host / "proc" / "4242").mkdir()
    (fake_host / "proc" / "4242" / "cgroup").write_text(f"0::/docker/{cache.id}\n")
    cgroup = fake_host / "cgroup" / "docker" / cache.id
    cgroup.mkdir(parents=True)
    tracer = FakeTracer(containers={web.id: _raw(READ)}, raw=_raw(WRITE))
    tracer.on_poll = _starting(fleet, tracer, web.id)
    warnings = []
    out = _match(fleet, tracer, warn=warnings.append, workload="true")
    assert tracer.loaded_with["attach"] and tracer.began
    assert warnings == [session.attach_warning(cache.name)]
    assert tracer.targets == [cgroup.stat().st_ino] and cache.id in tracer.expected
    assert project.Instance(cache.id, cache.name, True) in out.project.service("cache").containers
    rec = {s.name: s for s in out.services}["cache"]
    assert rec.recording.metadata.startup_observed is False
    assert rec.recording.metadata.mode == "attach" and rec.notes[0] == session.ATTACH_NOTE
    assert fleet.calls == [f"stop {web.name} 7"]  # the attached one was not COMMAND's


def test_without_a_command_nothing_is_stopped_and_the_end_is_the_apps(fake_host):
    web = _ctr(1, "web")
    fleet = FakeFleet(web)
    tracer = FakeTracer(containers={web.id: _raw(READ)})

    def hook(n: int) -> None:
        if n == 1:
            fleet.run(web.id, tracer)
        if n == 5:
            fleet.up.discard(web.id)  # it exits by itself

    tracer.on_poll = hook
    out = _match(fleet, tracer, command=None)
    assert [s.name for s in out.services] == ["web"] and not out.interrupted
    assert fleet.calls == []


def test_a_container_gone_before_it_is_looked_at_is_dropped(fake_host):
    web, oneshot = _ctr(1, "web"), _ctr(2, "migrate")
    fleet = FakeFleet(web, oneshot)
    fleet.gone.add(oneshot.id)
    tracer = FakeTracer(containers={web.id: _raw(READ)})
    tracer.on_poll = _starting(fleet, tracer, web.id, oneshot.id)
    out = _match(fleet, tracer, duration=0.1)
    assert [s.name for s in out.services] == ["web"]
    assert tracer.dropped == {tracer.slot_of[oneshot.id]}


def test_command_that_fails_writes_nothing_and_stops_what_it_started(fake_host):
    web = _ctr(1, "web")
    fleet = FakeFleet(web)
    tracer = FakeTracer()
    tracer.on_poll = _starting(fleet, tracer, web.id)
    with pytest.raises(WorkloadError, match=r"sh -c 'sleep 0.2; exit 3' failed \(exit 3\)"):
        _match(fleet, tracer, command=["sh", "-c", "sleep 0.2; exit 3"])
    assert fleet.calls == [f"stop {web.name} 7"] and tracer.closed


def test_command_not_found_fails_before_anything_loads(fake_host):
    fleet, tracer = FakeFleet(), FakeTracer()
    with pytest.raises(UsageError, match="'no-such-compose' not found"):
        _match(fleet, tracer, command=["no-such-compose", "up"])
    assert not tracer.loaded_with


def test_nothing_matched_is_an_error(fake_host):
    other = _ctr(1, "web", project_name="blog")
    fleet = FakeFleet(other)
    tracer = FakeTracer()
    tracer.on_poll = _starting(fleet, tracer, other.id)
    with pytest.raises(EngineError, match="no container matched --match "
                                          "com.docker.compose.project=shop") as e:
        _match(fleet, tracer, duration=0.1)
    assert "com.docker.compose.service" in e.value.hint and tracer.closed


def test_a_service_name_that_cannot_name_a_policy_ends_the_session(fake_host):
    bad = _ctr(1, None, name="/-weird")
    fleet = FakeFleet(bad)
    tracer = FakeTracer()
    tracer.on_poll = _starting(fleet, tracer, bad.id)
    with pytest.raises(UsageError, match="container name '-weird' cannot name a policy"):
        _match(fleet, tracer)  # without the check it would wait for Ctrl-C
    assert fleet.calls == ["stop /-weird 7"] and tracer.closed


@pytest.mark.parametrize("selectors, why", [
    ((), "at least one LABEL=VALUE"),
    ((Selector("a", "1"), Selector("a", "2")), "one label two values"),
])
def test_bad_selectors(fake_host, selectors, why):
    with pytest.raises(UsageError, match=why):
        _match(FakeFleet(), FakeTracer(), selectors=selectors)


def test_first_ctrl_c_stops_gracefully_and_keeps_the_recordings(fake_host):
    before = signal.getsignal(signal.SIGINT)  # SIG_IGN under a shell's background job
    web = _ctr(1, "web")
    fleet = FakeFleet(web)
    tracer = FakeTracer(containers={web.id: _raw(READ)})
    start = _starting(fleet, tracer, web.id)
    ctrl_c = _ctrl_c_at(4)
    tracer.on_poll = lambda n: (start(n), ctrl_c(n))
    out = _match(fleet, tracer, workload="sleep 30")
    assert out.interrupted and out.services[0].recording.syscalls
    assert out.services[0].recording.metadata.workload.exit_status is None
    assert fleet.calls == [f"stop {web.name} 7"]
    assert signal.getsignal(signal.SIGINT) is before  # the handler given back


def test_second_ctrl_c_aborts_and_still_stops_commands_containers(fake_host):
    web = _ctr(1, "web")
    fleet = FakeFleet(web)
    tracer = FakeTracer()
    start = _starting(fleet, tracer, web.id)
    stop, stopping = fleet.stop, threading.Event()

    def slow_stop(container, timeout):  # the second Ctrl-C comes while it stops gracefully
        stopping.set()
        time.sleep(0.3)
        stop(container, timeout)

    fleet.stop = slow_stop

    def hook(n: int) -> None:
        start(n)
        if n == 4 or stopping.is_set():
            os.kill(os.getpid(), signal.SIGINT)

    tracer.on_poll = hook
    with pytest.raises(KeyboardInterrupt):
        _match(fleet, tracer)
    assert fleet.calls == [f"stop {web.name} 7"] and tracer.closed  # waited for, not repeated


def test_verify_gives_each_services_denials(fake_host):
    web, db = _ctr(1, "web"), _ctr(2, "db")
    fleet = FakeFleet(web, db)
    tracer = FakeTracer(containers={
        web.id: _raw(READ, denied_calls={(KILL, 1, 10): 2}, exe_of={10: b"/usr/sbin/nginx"}),
        db.id: _raw(READ)})
    tracer.on_poll = _starting(fleet, tracer, web.id, db.id)
    out = _match(fleet, tracer, verify=True, workload="true")
    assert tracer.loaded_with["verify"]
    denials = {s.name: s.denials for s in out.services}
    assert [(d.syscall, d.count, d.executables) for d in denials["web"].syscalls] == [
        ("kill", 2, ("/usr/sbin/nginx",))]
    assert denials["db"].syscalls == ()


def test_bounding_set_comes_from_each_containers_configuration(fake_host):
    web = _ctr(1, "web", capabilities=CapabilityConfig(drop=("ALL",)))
    fleet = FakeFleet(web)
    tracer = FakeTracer(containers={web.id: _raw(READ, caps={0: (2, 0)})})
    tracer.on_poll = _starting(fleet, tracer, web.id)
    (svc,) = _match(fleet, tracer, workload="true").services
    (cap,) = svc.recording.capabilities
    assert (cap.name, cap.granted) == ("CAP_CHOWN", 0)  # outside its bounding set: not a need


# --- the command line -----------------------------------------------------------------------

@pytest.fixture
def shop(fake_host, monkeypatch):
    """`profiler record --match` on the fakes: two services that COMMAND starts."""
    web, db = _ctr(1, "web"), _ctr(2, "db")
    fleet = FakeFleet(web, db)
    tracer = FakeTracer(containers={web.id: _raw(READ), db.id: _raw(WRITE)})
    tracer.on_poll = _starting(fleet, tracer, web.id, db.id)
    monkeypatch.setattr(session, "Engine", lambda: fleet)
    monkeypatch.setattr(session, "_load_tracer", tracer.load)
    monkeypatch.chdir(fake_host)
    return fleet, tracer


def _cli(*args: str) -> int:
    return cli._run(["record", *args], "record")


def test_cli_writes_each_services_recording_then_the_index(shop, fake_host, monkeypatch):
    order = []
    real = recording_io.atomic_write
    monkeypatch.setattr(recording_io, "atomic_write",
                        lambda path, text: (order.append(os.path.basename(path)),
                                            real(path, text))[1])
    code = _cli("--match", "com.docker.compose.project=shop", "--settle", "0.02",
                "--workload", "true", "--", "true")
    assert code == 0
    assert order == ["db.recording.yaml", "web.recording.yaml", project.INDEX_FILE]
    out = fake_host / "shop.recordings"  # the default: the first --match's value
    index = project.read(out)
    assert [s.name for s in index.services] == ["db", "web"]
    recs = project.load_recordings(out, index)
    assert [s.name for s in recs["web"].syscalls] == ["read"]


def test_cli_workload_failure_writes_nothing(shop, fake_host):
    code = _cli("--match", "com.docker.compose.project=shop", "--settle", "0.02",
                "--workload", "exit 4", "-o", "out", "--", "true")
    assert code == 1 and not (fake_host / "out").exists()
    assert shop[0].calls  # the containers COMMAND started were stopped all the same


@pytest.mark.parametrize("args, code", [
    (["--match", "nolabel"], 2),
    (["--match", "a=b", "--container", "x"], 2),
    (["--match", "a=b", "-p", "127.0.0.1:80:80", "--", "true"], 2),
])
def test_cli_bad_input(shop, fake_host, args, code, capsys):
    assert _cli(*args) == code
    assert not shop[1].loaded_with


def test_cli_refuses_a_directory_that_is_not_a_project(shop, fake_host, capsys):
    (fake_host / "mine").mkdir()
    (fake_host / "mine" / "notes.txt").write_text("x")
    assert _cli("--match", "a=b", "-o", "mine", "--", "true") == 2
    assert "not a project directory" in capsys.readouterr().err
    assert not shop[1].loaded_with


def test_default_project_dir():
    from profiler.commands.record import default_project_dir
    assert default_project_dir((Selector("com.docker.compose.project", "shop"),)) == "shop.recordings"
    assert default_project_dir((Selector("app", "../x y"),)) == "_x_y.recordings"


def test_a_container_started_while_the_tracer_loaded_is_named_in_a_note(fake_host):
    """Not running when listed, running (and never announced) once armed: its start was missed
    and, without attach mode, its tasks would not count; the user is told."""
    late, web = _ctr(1, "late"), _ctr(2, "web")
    fleet = FakeFleet(late, web)
    tracer = FakeTracer(containers={web.id: _raw(READ)})
    load = tracer.load

    def loading(*args, **kw):
        fleet.up.add(late.id)  # started meanwhile, its cgroup made before the tracer was armed
        return load(*args, **kw)

    tracer.on_poll = _starting(fleet, tracer, web.id)
    out = session.record_match(SHOP, _opts(workload="true"), ["true"], engine=fleet,
                               load_tracer=loading)
    assert not tracer.loaded_with["attach"] and tracer.slot_of.get(late.id) is None
    assert any(n.startswith(f"{late.name} started while the recorder loaded") for n in out.notes)
    assert [s.name for s in out.services] == ["web"]


def test_ready_port_that_never_accepts(fake_host):
    import socket
    free = socket.socket()
    free.bind(("127.0.0.1", 0))
    port = free.getsockname()[1]
    free.close()
    web = _ctr(1, "web")
    fleet = FakeFleet(web)
    tracer = FakeTracer()
    tracer.on_poll = _starting(fleet, tracer, web.id)
    with pytest.raises(EngineError, match=f"127.0.0.1:{port} did not accept"):
        _match(fleet, tracer, ready_port=port, ready_timeout=0.2, workload="true")
    assert fleet.calls == [f"stop {web.name} 7"] and tracer.closed


def test_cli_replaces_a_previous_project_directory_whole(shop, fake_host):
    out = fake_host / "out"
    out.mkdir()
    (out / project.INDEX_FILE).write_text("old index")
    (out / "gone.recording.yaml").write_text("a service of the last recording")
    code = _cli("--match", "com.docker.compose.project=shop", "--settle", "0.02",
                "--workload", "true", "-o", "out", "--", "true")
    assert code == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "db.recording.yaml", project.INDEX_FILE, "web.recording.yaml"]
    assert oct(out.stat().st_mode & 0o777) == "0o755"
    assert [p.name for p in fake_host.iterdir() if p.name.startswith(".out.")] == []


def test_cli_a_failed_write_leaves_the_previous_directory(shop, fake_host, monkeypatch):
    out = fake_host / "out"
    out.mkdir()
    (out / project.INDEX_FILE).write_text("old index")

    def full(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(project, "write", full)
    code = _cli("--match", "com.docker.compose.project=shop", "--settle", "0.02",
                "--workload", "true", "-o", "out", "--", "true")
    assert code == 3  # an OSError is not one of ours: the internal-error line
    assert [p.name for p in out.iterdir()] == [project.INDEX_FILE]
    assert (out / project.INDEX_FILE).read_text() == "old index"
    assert [p.name for p in fake_host.iterdir() if p.name.startswith(".out.")] == []


def test_unrelated_containers_leave_no_trace_in_the_matchers_memory(fake_host):
    """A busy host churns thousands of unrelated containers a day during a long match
    recording: the matcher remembers only the matching ones (its memory is bounded by the
    application, not by the host's churn)."""
    web = _ctr(1, "web")
    others = [_ctr(n, "job", project_name="ci") for n in range(2, 202)]
    fleet = FakeFleet(web, *others)
    tracer = FakeTracer(containers={c.id: _raw(READ) for c in (web, *others)})
    tracer.load(None, match=True)
    matcher = session._Matcher(fleet, tracer, SHOP)
    tracer.on_container = matcher.announced
    for c in (*others, web):
        fleet.run(c.id, tracer)
    assert matcher.seen == {web.id}
    assert tracer.dropped == {tracer.slot_of[c.id] for c in others}
    assert tracer.kept == {tracer.slot_of[web.id]}


def test_containers_that_found_no_slot_are_judged_by_their_labels(fake_host):
    """A burst of container starts can take every slot of the recorder before user space drops
    the unrelated ones (the 2-hour soak lost 166 such starts and failed). A container that then
    finds no slot is judged like an announced one: an unrelated one is no loss of the
    application's, one of the application is (named, counted), one gone before its labels were
    read is an unidentified container, as ever."""
    web, web2, other = _ctr(1, "web"), _ctr(2, "web"), _ctr(3, "web", project_name="blog")
    fleet = FakeFleet(web, web2, other)
    tracer = FakeTracer(containers={web.id: _raw(READ)})

    def hook(n: int) -> None:
        if n == 1:
            fleet.run(web.id, tracer)
        if n == 2:
            tracer.start_unslotted(other.id)
            tracer.start_unslotted(web2.id)
            tracer.start_unslotted(_id(99))  # gone already

    tracer.on_poll = hook
    out = _match(fleet, tracer, command=None, duration=0.2)
    assert (tracer.unslotted_lost, tracer.unslotted_unrelated) == (1, 2)
    assert [s.name for s in out.services] == ["web"]
    (lost,) = [n for n in out.notes if "every container slot" in n and "not recorded" in n]
    assert web2.name in lost and other.name not in lost
    assert any(n.startswith("1 other container(s) started and were removed") for n in out.notes)
    assert any(n.startswith("1 unrelated container(s) started while every") for n in out.notes)
