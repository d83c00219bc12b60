"""The recorder's "who counts" rules, checked directly against the kernel (root; must not skip
under CI=true): an exec inside the target cgroup starts counting only in a PID namespace of its
own (runc init's re-exec from a memfd happens in the host's PID namespace, sometimes already
inside the container's cgroup), and children of a counting task count. Which cgroups are
targets: one named for an expected container when the kernel announces it (any engine's layout,
profiler/cgroups.py), one a target's task creates, and, attaching, a running container's; there
tasks older than the session count at once."""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.root


@pytest.fixture
def cgroup(require_root):
    from profiler.session import v2_root

    path = v2_root() / f"profiler-test-{uuid.uuid4().hex[:8]}"
    path.mkdir()
    yield path
    for _ in range(50):
        try:
            path.rmdir()
            break
        except OSError:
            import time
            time.sleep(0.1)


def _run_in(cgroup: Path, argv: list[str]) -> None:
    """Start argv held before exec, move it into the cgroup, then let it exec."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(w)
        os.read(r, 1)
        os.execvp(argv[0], argv)
    os.close(r)
    (cgroup / "cgroup.procs").write_text(str(pid))
    os.write(w, b"x")
    os.close(w)
    os.waitpid(pid, 0)


def _tracer(cgroup: Path | None = None, **kw):
    from profiler.tracer import Tracer

    tracer = Tracer(containers=True, **kw)
    if cgroup is not None:
        tracer.add_target(cgroup.stat().st_ino)
    return tracer


def test_exec_in_host_pid_namespace_is_not_the_app(cgroup):
    tracer = _tracer(cgroup)
    try:
        _run_in(cgroup, ["/usr/bin/cat", "/etc/hostname"])  # host PID namespace: runtime-like
        _run_in(cgroup, ["unshare", "--pid", "--fork", "/usr/bin/head", "-c1", "/etc/os-release"])
        tracer.poll(100)
        raw = tracer.snapshot()
    finally:
        tracer.close()
    execs = {p.decode() for p in raw.execs}
    assert "/usr/bin/head" in execs, execs          # in its own PID namespace: counts
    assert "/usr/bin/cat" not in execs, execs       # in the host's: does not
    assert b"/etc/os-release" in raw.files and b"/etc/hostname" not in raw.files


def test_children_of_a_counting_task_count(cgroup):
    tracer = _tracer(cgroup)
    try:
        _run_in(cgroup, ["unshare", "--pid", "--fork", "/bin/sh", "-c",
                         "cat /etc/hostname >/dev/null; (ls /usr >/dev/null)"])
        tracer.poll(100)
        raw = tracer.snapshot()
    finally:
        tracer.close()
    execs = {p.decode() for p in raw.execs}
    assert {"/usr/bin/cat", "/usr/bin/ls"} <= execs, execs
    assert raw.peak_tasks >= 2


ID = "5eed" * 16  # a made-up container id


def test_new_cgroup_named_for_an_expected_container_becomes_a_target(cgroup):
    """As Docker's systemd driver (docker-<id>.scope) or cgroupfs driver (<id>) makes it at the
    start, and crun its `container` child: the cgroup does not exist when the tracer is told
    which container to expect. Podman's monitor scope, which carries the id too, is not it."""
    scope, child = cgroup / f"docker-{ID}.scope", cgroup / f"docker-{ID}.scope" / "container"
    conmon = cgroup / f"libpod-conmon-{ID}.scope"
    tracer = _tracer()
    try:
        tracer.expect_container(ID)
        for d in (scope, child, conmon):
            d.mkdir()
        _run_in(conmon, ["unshare", "--pid", "--fork", "/usr/bin/cat", "/etc/hostname"])
        _run_in(child, ["unshare", "--pid", "--fork", "/usr/bin/head", "-c1", "/etc/os-release"])
        tracer.poll(100)
        raw = tracer.snapshot()
        matched = [p.decode() for _slot, p in tracer.cgroups]
    finally:
        tracer.close()
        for d in (child, scope, conmon):
            if d.exists():
                d.rmdir()
    assert matched == [f"/{cgroup.name}/{scope.name}", f"/{cgroup.name}/{scope.name}/container"]
    assert b"/etc/os-release" in raw.files and b"/etc/hostname" not in raw.files


def test_cgroup_made_by_a_task_of_the_container_is_its_too(cgroup):
    tracer = _tracer(cgroup)
    sub = cgroup / "made-inside"
    try:
        _run_in(cgroup, ["/bin/mkdir", str(sub)])   # runs inside the target: its creator
        _run_in(sub, ["unshare", "--pid", "--fork", "/usr/bin/head", "-c1", "/etc/os-release"])
        tracer.poll(100)
        raw = tracer.snapshot()
    finally:
        tracer.close()
        sub.rmdir()
    assert b"/etc/os-release" in raw.files


def test_attach_counts_the_running_app_at_once_and_newcomers_from_their_exec(cgroup):
    """A task of the container older than the session counts at first sight (its exec was
    long ago), with its children; a younger one only from an exec in its own PID namespace."""
    old = subprocess.Popen(["/bin/sh", "-c", "read go; cat /etc/hostname >/dev/null"],
                           stdin=subprocess.PIPE)
    try:
        (cgroup / "cgroup.procs").write_text(str(old.pid))
        tracer = _tracer(cgroup, attach=True, own_pid_namespace=True)
        tracer.begin()
        try:
            old.communicate(b"go\n", timeout=10)
            _run_in(cgroup, ["/usr/bin/tail", "-c1", "/etc/issue"])   # like runc init: not it
            _run_in(cgroup, ["unshare", "--pid", "--fork", "/usr/bin/head", "-c1",
                             "/etc/os-release"])                       # like docker exec
            tracer.poll(100)
            raw = tracer.snapshot()
        finally:
            tracer.close()
    finally:
        old.kill()
        old.wait()
    execs = {p.decode() for p in raw.execs}
    assert "/usr/bin/cat" in execs and b"/etc/hostname" in raw.files, execs
    assert "/usr/bin/head" in execs and "/usr/bin/tail" not in execs, execs
    assert b"/etc/issue" not in raw.files
