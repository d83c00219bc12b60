"""The recorder's "who counts" rules, checked directly against the kernel (root; must not skip
under CI=true): an exec inside the target cgroup starts counting only in a PID namespace of its
own (runc init's re-exec from a memfd happens in the host's PID namespace, sometimes already
inside the container's cgroup), and children of a counting task count."""

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


def test_exec_in_host_pid_namespace_is_not_the_app(cgroup):
    from profiler.tracer import Tracer

    tracer = Tracer(cgroup=(cgroup.stat().st_ino, 1))
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
    from profiler.tracer import Tracer

    tracer = Tracer(cgroup=(cgroup.stat().st_ino, 1))
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
