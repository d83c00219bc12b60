"""Pre-flight: each reason we cannot trace is one clear error (no root needed)."""

from __future__ import annotations

import platform

import pytest

from profiler.session import preflight, session
from profiler.errors import EnvironmentProblem, UsageError, WorkloadError


@pytest.fixture
def host(fake_host):
    """A fake host where everything pre-flight checks is present (tests/conftest.py)."""
    return fake_host


def test_all_present_passes(host):
    assert preflight.preflight() == ("tracepoint", None)


def test_no_btf(host):
    (host / "vmlinux").unlink()
    with pytest.raises(EnvironmentProblem, match="no BTF") as e:
        preflight.preflight()
    assert "CONFIG_DEBUG_INFO_BTF" in e.value.hint


@pytest.mark.parametrize("what, member", [
    ("ring buffer", "BPF_MAP_TYPE_RINGBUF"), ("task storage", "BPF_MAP_TYPE_TASK_STORAGE"),
    ("raw tracepoints", "BPF_PROG_TYPE_RAW_TRACEPOINT")])
def test_missing_bpf_feature_is_named(host, monkeypatch, what, member):
    others = frozenset(m for _w, _e, m in preflight.BPF_FEATURES) - {member}
    monkeypatch.setattr(preflight.btf, "running_kernel_enum", lambda enum: others)
    with pytest.raises(EnvironmentProblem, match=f"the kernel lacks .*{what}.*{member}"):
        preflight.preflight()


def test_no_capability_source(host):
    (host / "tracing" / "events" / "capability" / "cap_capable").rmdir()
    source, why = preflight.preflight()  # auto: record without capabilities, and say why
    assert source == "none" and "cap_capable tracepoint" in why and "CONFIG_KPROBES" in why
    with pytest.raises(EnvironmentProblem, match="capability source tracepoint is missing"):
        preflight.preflight("tracepoint")
    assert preflight.preflight("off") == ("none", "turned off (--capabilities off)")


def test_not_root(host, monkeypatch):
    monkeypatch.setattr(preflight.os, "geteuid", lambda: 1000)
    with pytest.raises(EnvironmentProblem, match="needs root"):
        preflight.preflight()


def test_tracefs_missing(host):
    import shutil
    shutil.rmtree(host / "tracing")
    with pytest.raises(EnvironmentProblem, match="tracefs is not mounted") as e:
        preflight.preflight()
    assert "mount -t tracefs" in e.value.hint


def test_no_syscall_tracepoints(host):
    (host / "tracing" / "events" / "raw_syscalls").rmdir()
    with pytest.raises(EnvironmentProblem, match="syscall tracepoints"):
        preflight.preflight()


def test_no_kernel_headers(host):
    (host / "modules" / platform.release() / "build").rmdir()
    with pytest.raises(EnvironmentProblem, match="no kernel headers") as e:
        preflight.preflight()
    assert "make setup" in e.value.hint


def test_no_cgroup_v2(host):
    (host / "mounts").write_text("cgroup /sys/fs/cgroup/cpu cgroup rw 0 0\n")
    with pytest.raises(EnvironmentProblem, match="cgroup v2"):
        preflight.preflight()


def test_workload_checks(tmp_path):
    with pytest.raises(WorkloadError, match="no such file"):
        preflight.check_workload(str(tmp_path / "nope.sh"))
    script = tmp_path / "w.sh"
    script.write_text("#!/bin/sh\n")
    with pytest.raises(WorkloadError, match="not executable"):
        preflight.check_workload(str(script))
    with pytest.raises(WorkloadError, match="not found"):
        preflight.check_workload("no-such-command-xyz --flag")
    with pytest.raises(UsageError):
        preflight.check_workload("'unbalanced")
    preflight.check_workload("true && curl -s http://127.0.0.1:1/ || true")


@pytest.mark.parametrize("cmd", [
    "PORT=8080 ./load.sh",  # an assignment first: the shell decides (issue 11)
    "A=1 B=2 true",
    "cat /etc/hostname | wc -l",
    "(cd /tmp && ls) >/dev/null",
    "{ true; }",
    ">/dev/null echo hi",
    "for i in 1 2; do echo $i; done",
    "$SHELL -c true",
    "f() { true; }; f",
    "! false",
    "'true' && exec true",
    "cd /tmp && ./whatever-is-there.sh",  # the first command changes what the rest means
])
def test_any_valid_shell_command_is_a_workload(cmd):
    preflight.check_workload(cmd)


@pytest.mark.parametrize("cmd,error,match", [
    ("if true; then", UsageError, "not a shell command"),
    ("echo 'open", UsageError, "not a shell command"),
    ("true &&", UsageError, "not a shell command"),
    ("/no/such/load.sh --fast", WorkloadError, "no such file"),
    ("no-such-command-xyz | wc -l", WorkloadError, "not found"),
])
def test_certain_failures_are_refused_early(cmd, error, match):
    with pytest.raises(error, match=match):
        preflight.check_workload(cmd)


def test_default_output_names():
    assert session.default_output("registry.example/team/app:1.2") == "app.recording.yaml"
    assert session.default_output("nginx@sha256:abc") == "nginx.recording.yaml"


def test_bounding_set_from_container_config():
    from profiler.session.engine import CapabilityConfig as C
    from profiler.kernel.linux import CAPABILITY_NUMBERS as N

    def names(mask):
        return {n for n, v in N.items() if mask & (1 << v)}

    default = names(session.bounding_from_config(C()))
    assert len(default) == 14 and "CAP_SYS_ADMIN" not in default
    dropped = names(session.bounding_from_config(C(drop=("ALL",), add=("chown", "CAP_SETUID"))))
    assert dropped == {"CAP_CHOWN", "CAP_SETUID"}
    assert "CAP_SYS_ADMIN" in names(session.bounding_from_config(C(privileged=True)))
    assert "CAP_NET_RAW" not in names(session.bounding_from_config(C(drop=("NET_RAW",))))


def test_port_ready_tells_a_listening_app_from_a_proxy_that_hangs_up():
    import socket
    import threading

    from profiler.session.engine import port_ready

    def serve(sock, hang_up):
        conn, _ = sock.accept()
        if hang_up:
            conn.close()  # what docker-proxy does when nothing listens in the container
        else:
            threading.Event().wait(1)
            conn.close()

    for hang_up, expected in ((True, False), (False, True)):
        srv = socket.socket()
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)
        t = threading.Thread(target=serve, args=(srv, hang_up), daemon=True)
        t.start()
        assert port_ready(srv.getsockname()[1]) is expected
        srv.close()
    free = socket.socket()
    free.bind(("127.0.0.1", 0))
    port = free.getsockname()[1]
    free.close()
    assert port_ready(port) is False
