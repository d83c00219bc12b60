"""A recording session's orchestration (profiler/session/session.py) on a fake host, engine and
tracer (tests/conftest.py): start, ready, workload, graceful stop, Ctrl-C, loss and cleanup. No
root.

The workloads are real shell commands; the container and the tracer are in memory.
"""

from __future__ import annotations

import os
import signal
import socket

import pytest

from conftest import FakeEngine, FakeTracer
from profiler.session import session
from profiler.session.engine import CapabilityConfig, ContainerInfo, ImageInfo, RunSpec
from profiler.errors import EngineError, EnvironmentProblem
from profiler.kernel.wire import RawTrace


def _opts(**kw) -> session.Options:
    return session.Options(**{"settle": 0.05, "stop_timeout": 7, **kw})


def _record(engine, tracer, spec=None, **kw) -> session.Outcome:
    """A container-mode session. Without a workload, --duration or a Ctrl-C it would run as
    long as the container does, which for the fake engine's is until stopped."""
    return session.record_container(spec or RunSpec(image="app:1"), _opts(**kw),
                                    engine=engine, load_tracer=tracer.load)


def _session_cgroups(host) -> list:
    return [p.name for p in (host / "cgroup").iterdir()]


def _cleaned_up(engine, tracer, host) -> bool:
    return engine.calls[-1] == "remove" and tracer.closed and not _session_cgroups(host)


def _ctrl_c_at(*polls: int):
    """An on_poll hook that sends this process SIGINT at the given polls (as a user's Ctrl-C)."""
    def hook(n: int) -> None:
        if n in polls:
            os.kill(os.getpid(), signal.SIGINT)
    return hook


@pytest.fixture
def listening_port():
    """A port on 127.0.0.1 where something accepts, as a ready app behind -p does."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(4)
    yield srv.getsockname()[1]
    srv.close()


def test_start_ready_workload_then_graceful_stop(fake_host, listening_port, tmp_path):
    engine, tracer = FakeEngine(), FakeTracer()
    seen = tmp_path / "seen"
    out = _record(engine, tracer, ready_port=listening_port,
                  workload=f"echo $PROFILER_CONTAINER_ID $PROFILER_CONTAINER_NAME > {seen}")
    assert engine.calls == ["create", "start", "stop 7", "wait", "remove"]
    assert seen.read_text() == "c0ffee profiler-test\n"  # the workload ran with the container's ids
    md = out.recording.metadata
    assert (md.mode, md.workload.exit_status, md.exit_code) == ("container", 0, 143)
    assert not out.workload_failed and not out.interrupted
    assert out.logs == "; last log lines: fake"
    # the tracer expected the container's cgroup, resolving paths from the image's working dir
    assert tracer.loaded_with["initial_cwd"] == "/srv" and tracer.loaded_with["containers"]
    assert tracer.expected == ["c0ffee"] and not tracer.loaded_with["attach"]
    assert _cleaned_up(engine, tracer, fake_host)


def test_metadata_from_the_typed_container_description(fake_host):
    image = ImageInfo(id="sha256:1", tags=("app:1", "app:latest"), entrypoint=("/entry",))
    info = ContainerInfo(id="c1", name="n1", image="app:1", image_id="sha256:1", user="app",
                         working_dir="/w", cmd=("serve",), env_names=("HOME", "PATH"),
                         capabilities=CapabilityConfig(drop=("ALL",), add=("CHOWN",)))
    engine, tracer = FakeEngine(image=image, container=info), FakeTracer()
    spec = RunSpec(image="app:1", command=["serve"], cap_drop=["ALL"], cap_add=["CHOWN"])
    md = _record(engine, tracer, spec, duration=0.05).recording.metadata
    assert (md.image, md.image_id, md.image_tags) == ("app:1", "sha256:1", ("app:1", "app:latest"))
    c = md.container
    assert (c.user, c.working_dir, c.cmd, c.env_names) == ("app", "/w", ("serve",), ("HOME", "PATH"))
    assert c.entrypoint == ("/entry",)  # the container set none: the image's
    assert c.run_options == spec.options() and md.command == ("serve",)
    assert md.startup_observed and md.workload is None


def test_capability_checks_outside_the_configured_bounding_set_are_not_needs(fake_host):
    info = ContainerInfo(id="c1", name="n1", image="app:1", image_id="sha256:img",
                         capabilities=CapabilityConfig(drop=("ALL",)))
    raw = RawTrace(arch="x86_64", counts={0: 1}, caps={0: (2, 0)})  # CAP_CHOWN granted twice
    out = _record(FakeEngine(container=info), FakeTracer(raw), duration=0.05)
    (cap,) = out.recording.capabilities
    assert (cap.name, cap.granted) == ("CAP_CHOWN", 0)
    assert any("overridden kernel credentials" in n for n in out.notes)


def test_workload_failure_is_reported_and_the_container_still_stops(fake_host):
    engine, tracer = FakeEngine(), FakeTracer()
    out = _record(engine, tracer, workload="exit 3")
    assert out.workload_failed and out.recording.metadata.workload.exit_status == 3
    assert "stop 7" in engine.calls and _cleaned_up(engine, tracer, fake_host)


def test_container_that_exits_at_once(fake_host):
    engine, tracer = FakeEngine(exit_at_start=1), FakeTracer()
    with pytest.raises(EngineError, match="exited at once with code 1; last log lines: fake"):
        _record(engine, tracer, workload="true")
    assert _cleaned_up(engine, tracer, fake_host)


def test_under_verify_an_early_exit_is_a_finding_not_an_error(fake_host):
    engine, tracer = FakeEngine(exit_at_start=1), FakeTracer()
    out = _record(engine, tracer, verify=True)
    assert out.recording.metadata.exit_code == 1 and tracer.loaded_with["verify"]


def test_ready_port_that_never_accepts(fake_host):
    free = socket.socket()
    free.bind(("127.0.0.1", 0))
    port = free.getsockname()[1]
    free.close()
    engine, tracer = FakeEngine(), FakeTracer()
    with pytest.raises(EngineError, match=f"127.0.0.1:{port} did not accept") as e:
        _record(engine, tracer, ready_port=port, ready_timeout=0.2)
    assert "-p 127.0.0.1:PORT" in e.value.hint
    assert _cleaned_up(engine, tracer, fake_host)


def test_duration_stops_a_container_that_would_run_on(fake_host):
    engine, tracer = FakeEngine(), FakeTracer()
    out = _record(engine, tracer, duration=0.1)
    assert engine.calls == ["create", "start", "stop 7", "wait", "remove"]
    assert not out.interrupted and out.recording.metadata.exit_code == 143


def test_first_ctrl_c_stops_gracefully_and_still_returns_a_recording(fake_host):
    before = signal.getsignal(signal.SIGINT)  # SIG_IGN under a shell's background job
    engine, tracer = FakeEngine(), FakeTracer(on_poll=_ctrl_c_at(3))
    out = _record(engine, tracer)  # no workload, no duration: only Ctrl-C ends it
    assert out.interrupted and out.recording.syscalls
    assert engine.calls == ["create", "start", "stop 7", "wait", "remove"]
    assert _cleaned_up(engine, tracer, fake_host)
    assert signal.getsignal(signal.SIGINT) is before  # the handler given back


def test_ctrl_c_during_the_workload_ends_it_without_a_status(fake_host):
    engine, tracer = FakeEngine(), FakeTracer(on_poll=_ctrl_c_at(3))
    out = _record(engine, tracer, workload="sleep 30")
    assert out.interrupted and out.recording.metadata.workload.exit_status is None
    assert not out.workload_failed


def test_second_ctrl_c_aborts(fake_host):
    engine, tracer = FakeEngine(), FakeTracer(on_poll=_ctrl_c_at(3, 4))
    with pytest.raises(KeyboardInterrupt):
        _record(engine, tracer)
    assert _cleaned_up(engine, tracer, fake_host)


def test_losses_are_reported(fake_host):
    raw = RawTrace(arch="x86_64", counts={0: 1},
                   loss={"ringbuf_full": 5, "map_full": 0, "unresolved_relative": 2})
    rec = _record(FakeEngine(), FakeTracer(raw), duration=0.05).recording
    assert rec.total_loss == 7
    assert dict(rec.loss)["ringbuf_full"] == 5 and dict(rec.loss)["unresolved_relative"] == 2


def test_verify_denials_come_typed_with_the_outcome(fake_host):
    raw = RawTrace(arch="x86_64", denied_calls={(40, 1, 10): 2}, exe_of={10: b"/usr/bin/app"},
                   erofs={b"/etc/app.conf": 1 << 1})
    d = _record(FakeEngine(), FakeTracer(raw), verify=True, duration=0.05).denials
    assert [(s.syscall, s.errno, s.count, s.executables) for s in d.syscalls] == [
        ("sendfile", "EPERM", 2, ("/usr/bin/app",))]
    assert [(w.path, w.access) for w in d.writes] == [("/etc/app.conf", ("write",))]


def test_container_that_cannot_be_created_closes_the_loaded_tracer(fake_host):
    engine, tracer = FakeEngine(create_error=EngineError("cannot create the container: x")), FakeTracer()
    with pytest.raises(EngineError, match="cannot create"):
        _record(engine, tracer)
    assert tracer.closed and not _session_cgroups(fake_host)
    assert "remove" not in engine.calls  # there is no container to remove


def test_tracer_that_fails_to_load_removes_the_container(fake_host):
    engine = FakeEngine()

    def load(*args, **kw):
        raise EnvironmentProblem("the BPF program failed to load")

    with pytest.raises(EnvironmentProblem, match="failed to load"):
        session.record_container(RunSpec(image="app:1"), _opts(), engine=engine, load_tracer=load)
    assert engine.calls == ["create", "remove"] and not _session_cgroups(fake_host)


def test_the_tracer_loads_beside_the_engines_calls(fake_host):
    """The BPF load (the verifier's time, in the kernel) begins before the engine is asked
    for anything, so that it runs beside the image's inspect, the create and the look below
    the mounts instead of before them; the tracer still learns the image's working dir."""
    import threading

    began = threading.Event()

    class Engine(FakeEngine):
        def image(self, ref):
            self.load_began = began.wait(timeout=3)  # the old order never began it by now
            return super().image(ref)

    engine, tracer = Engine(), FakeTracer()

    def load(*a, **kw):
        began.set()
        return tracer.load(*a, **kw)

    session.record_container(RunSpec(image="app:1"), _opts(duration=0.05), engine=engine,
                             load_tracer=load)
    assert engine.load_began
    assert tracer.loaded_with["initial_cwd"] == "/srv" and tracer.expected == ["c0ffee"]


def test_missing_image_fails_before_anything_starts(fake_host):
    engine, tracer = FakeEngine(), FakeTracer()
    with pytest.raises(EngineError, match="not found"):
        _record(engine, tracer, RunSpec(image="nope:1"))
    # the tracer loads beside the engine's calls (the start's critical path): closed again
    assert engine.calls == [] and tracer.closed and not _session_cgroups(fake_host)


def test_container_whose_cgroup_is_not_recognised_is_refused(fake_host):
    """A cgroup layout the match does not know would give an empty recording: one error that
    names the container's cgroup, and the container removed."""
    engine, tracer = FakeEngine(pid=4242), FakeTracer(announces=False)
    (fake_host / "proc" / "4242").mkdir()
    (fake_host / "proc" / "4242" / "cgroup").write_text("0::/odd.slice/ctr.scope\n")
    (fake_host / "cgroup" / "odd.slice" / "ctr.scope").mkdir(parents=True)
    with pytest.raises(EnvironmentProblem, match="cgroup /odd.slice/ctr.scope does not carry"):
        _record(engine, tracer)
    assert engine.calls[-1] == "remove" and tracer.closed


def test_attach_targets_the_running_containers_cgroups(fake_host):
    info = ContainerInfo(id="c1", name="n1", image="app:1", image_id="sha256:img",
                         working_dir="/w", pid_mode="host")
    engine, tracer = FakeEngine(container=info, running=True, pid=4242), FakeTracer()
    (fake_host / "proc" / "4242").mkdir()
    (fake_host / "proc" / "4242" / "cgroup").write_text("0::/docker/c1\n")
    (fake_host / "proc" / "4242" / "status").write_text("CapBnd:\t0000000000000001\n")
    cgroup = fake_host / "cgroup" / "docker" / "c1"
    (cgroup / "made-by-the-app").mkdir(parents=True)
    out = session.record_attach("n1", _opts(workload="true"), engine=engine,
                                load_tracer=tracer.load)
    # its cgroup and the one it made, any it makes later (by its id), its tasks from now on
    assert tracer.targets == [cgroup.stat().st_ino, (cgroup / "made-by-the-app").stat().st_ino]
    assert tracer.expected == ["c1"] and tracer.began and not tracer.tracked and tracer.closed
    assert tracer.loaded_with["attach"] and tracer.loaded_with["containers"]
    assert tracer.loaded_with["own_pid_namespace"] is False  # --pid host
    md = out.recording.metadata
    assert (md.mode, md.image, md.startup_observed, md.workload.exit_status) == (
        "attach", "app:1", False, 0)
    assert out.notes[0].startswith("attached to a running container")
    assert "stop 7" not in engine.calls  # attach leaves the container running


def test_attach_warns_of_the_unobserved_startup_only_once_the_container_runs(fake_host):
    """A new user's `record --container typo` printed the warning, then the error."""
    info = ContainerInfo(id="c1", name="n1", image="app:1", image_id="sha256:img",
                         working_dir="/w", pid_mode="host")
    warned = []
    stopped = FakeEngine(container=info, running=False, pid=0)
    with pytest.raises(EngineError, match="not running"):
        session.record_attach("n1", _opts(), engine=stopped, load_tracer=FakeTracer().load,
                              warn=warned.append)
    assert warned == []
    engine, tracer = FakeEngine(container=info, running=True, pid=4242), FakeTracer()
    (fake_host / "proc" / "4242").mkdir()
    (fake_host / "proc" / "4242" / "cgroup").write_text("0::/docker/c1\n")
    (fake_host / "proc" / "4242" / "status").write_text("CapBnd:\t0000000000000001\n")
    (fake_host / "cgroup" / "docker" / "c1").mkdir(parents=True)
    session.record_attach("n1", _opts(workload="true"), engine=engine, load_tracer=tracer.load,
                          warn=warned.append)
    assert warned == [session.attach_warning("n1")]


def test_an_oom_kill_the_engine_learns_after_the_exit_is_still_noted(monkeypatch):
    """The engine learns of an OOM kill from containerd's event, which may come after the
    exit: on a busy host the recording's note was missing once (exit 137, OOMKilled false)."""
    from profiler.session.engine import ContainerState

    monkeypatch.setattr(session.time, "sleep", lambda s: None)
    states = iter([ContainerState(running=False, exit_code=137),
                   ContainerState(running=False, exit_code=137),
                   ContainerState(running=False, exit_code=137, oom_killed=True)])

    class Engine:
        def state(self, container):
            return next(states)

    notes = session._engine_notes(Engine(), object())
    assert any("OOM killer" in n for n in notes)
