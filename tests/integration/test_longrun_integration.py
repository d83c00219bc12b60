"""An attach recording that survives a crash (issue 19 item 3; profiler/session/longrun.py), on
the real engine and eBPF: `record --container --snapshot-every 1` is SIGKILLed while the
container loops; its -o file is then a complete recording of the loop (no temp file left);
`record --container --resume` then goes on from it while the container does something new,
and the final recording holds both runs' evidence."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from profiler.recording import recording_io
from test_record_integration import BASE_IMAGE, profiler_cmd

pytestmark = pytest.mark.root

# The loop: a file read and an exec (cat) every 0.2 s. From the second run on, the container
# also writes /tmp/second (a shell builtin redirection: openat for writing, by the loop's
# shell), once /tmp/go exists.
LOOP = ("trap 'exit 0' TERM; while :; do cat /etc/hostname >/dev/null; "
        "if [ -e /tmp/go ]; then echo x > /tmp/second; fi; sleep 0.2; done")


def _wait_for(what, timeout=90.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if what():
            return True
        time.sleep(0.2)
    return False


def test_snapshots_survive_sigkill_and_resume_adds_the_new_evidence(require_root,
                                                                     docker_client, tmp_path):
    name = f"profiler-test-longrun-{os.getpid()}"
    ctr = docker_client.containers.run(BASE_IMAGE, ["sh", "-c", LOOP], name=name, detach=True)
    out = tmp_path / "loop.recording.yaml"
    try:
        first = subprocess.Popen(
            profiler_cmd() + ["record", "--container", name, "--snapshot-every", "1",
                              "-o", str(out)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
        # A few snapshots: the file appears, then is replaced with one that saw the loop's cat.
        assert _wait_for(lambda: out.exists() or first.poll() is not None), "no snapshot"
        assert first.poll() is None, first.communicate()[1]
        time.sleep(3)
        first.send_signal(signal.SIGKILL)  # no graceful end: no final write
        first.wait(30)
        rec = recording_io.load(out)  # a whole, valid recording
        assert rec.metadata.snapshot_at and rec.metadata.mode == "attach"
        assert "/usr/bin/cat" in {e.path for e in rec.processes.executables}
        assert {"execve", "read", "wait4"} <= rec.syscall_names, rec.syscall_names
        assert "/tmp/second" not in {f.path for f in rec.files}
        # At most the temp file of a snapshot the kill interrupted (rare: a write takes ms of
        # the second); the next run removes it (kernel/leftovers.py).
        assert all(p == out or p.name.endswith(".tmp") for p in tmp_path.iterdir())
        snapshot_execs = {e.path: e.count for e in rec.processes.executables}["/usr/bin/cat"]

        # The restart: resume into the snapshot; the container now does something new.
        second = subprocess.Popen(
            profiler_cmd() + ["record", "--container", name, "--snapshot-every", "1",
                              "--resume", "-o", str(out)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)
        time.sleep(2)
        ctr.exec_run(["touch", "/tmp/go"])
        assert _wait_for(lambda: second.poll() is not None or
                         "/tmp/second" in {f.path for f in recording_io.load(out).files}), \
            "the second run's snapshots never saw /tmp/second"
        second.send_signal(signal.SIGINT)  # graceful: the final write
        _, err = second.communicate(timeout=60)
        assert second.returncode == 0, err
    finally:
        ctr.remove(force=True)
    rec = recording_io.load(out)
    assert rec.metadata.snapshot_at == "" and rec.metadata.resumes == 1
    files = {f.path: f for f in rec.files}
    assert "write" in files["/tmp/second"].ok or "create" in files["/tmp/second"].ok
    # the first run's evidence is still there, and both runs' counts add up
    cats = {e.path: e.count for e in rec.processes.executables}["/usr/bin/cat"]
    assert cats > snapshot_execs
    assert {"execve", "read", "wait4"} <= rec.syscall_names
    assert "resumed:" in err
    assert [p.name for p in tmp_path.iterdir()] == [out.name]  # no temp file left
