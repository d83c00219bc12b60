"""`profiler harvest` against the real kernel log and the real engine (root; must not skip under
CI=true).

A recording of a thin run, its policy in complain mode (`emit --complain`), a container under it
that makes calls the recording never saw: harvest attributes them to the container, emit of
recording + harvest allows them, diff lists them with their risk. A `--follow` harvester killed
with SIGKILL and started again loses nothing it had written and counts nothing twice: its count
equals the kernel log's own.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest

from profiler.harvest import store
from profiler.kernel import syscalls as sctab
from profiler.recording import recording_io

from test_record_integration import profiler_cmd, run

BASE_IMAGE = "profiler-base:bookworm"
PIPE2 = sctab.number_of(sctab.host_arch(), "pipe2")  # 293 on x86_64
pytestmark = pytest.mark.root


def _kmsg_usable() -> str | None:
    if os.geteuid() != 0:
        return "needs root (reads /dev/kmsg)"
    try:
        logged = Path("/proc/sys/kernel/seccomp/actions_logged").read_text().split()
    except OSError:
        return "no /proc/sys/kernel/seccomp/actions_logged"
    if "log" not in logged:
        return "the kernel does not log SCMP_ACT_LOG (actions_logged lacks log)"
    return None


@pytest.fixture(scope="module")
def complain(tmp_path_factory, docker_client):
    """(the thin recording, its complain-mode seccomp profile, the allowed names)."""
    from conftest import _bpf_unusable_reason

    if reason := _bpf_unusable_reason() or _kmsg_usable():
        pytest.skip(reason)
    docker_client.images.get(BASE_IMAGE)  # made by `make setup`
    d = tmp_path_factory.mktemp("harvest")
    rec = d / "thin.recording.yaml"
    p = run(["record", BASE_IMAGE, "-o", str(rec), "--", "sh", "-c", "cat /etc/hostname"])
    assert p.returncode == 0, p.stderr
    prof = d / "complain.json"
    p = run(["emit", str(rec), "--complain", "--format", "seccomp", "-o", str(prof)])
    assert p.returncode == 0, p.stderr
    data = json.loads(prof.read_text())
    assert data["defaultAction"] == "SCMP_ACT_LOG"
    allowed = {n for s in data["syscalls"] if s["action"] == "SCMP_ACT_ALLOW" for n in s["names"]}
    return rec, prof, allowed


def _start(docker_client, profile: Path, script: str):
    tag = uuid.uuid4().hex[:10]
    c = docker_client.containers.run(BASE_IMAGE, ["sh", "-c", script], detach=True,
                                     name=f"profiler-test-harvest-{tag}",
                                     labels={"profiler.test.harvest": tag},
                                     security_opt=[f"seccomp={profile.read_text()}"])
    return c, tag


def _names(path: Path) -> dict[str, int]:
    if not path.exists():
        return {}
    return {s.key: s.count for s in recording_io.load(path).syscalls}


def test_harvest_emit_and_diff_of_what_production_added(complain, docker_client, tmp_path):
    rec, prof, allowed = complain
    # kill (the shell's builtin), pipe2 and clone (a pipeline): made by the long-lived shell
    # (its pid lives on for a one-shot harvest), which the thin run never did. Again and again:
    # kauditd prints 10 records in 5 s for the whole host (printk_ratelimit), and other
    # containers' records may take them.
    new = {"kill", "pipe2", "clone"} - allowed  # kill: allowed to apps that handle signals
    assert new, "every call of the loop is allowed by the thin run's policy"
    c, tag = _start(docker_client, prof,
                    "while :; do kill -0 $$; echo x | cat >/dev/null; sleep 2; done")
    out = tmp_path / "h"
    try:
        evidence = out / f"{c.name}.harvest.yaml"
        deadline = time.monotonic() + 90
        while True:
            p = run(["harvest", "-o", str(out), "--match", f"profiler.test.harvest={tag}"])
            assert p.returncode == 0, p.stderr
            if new <= set(_names(evidence)) or time.monotonic() > deadline:
                break
            time.sleep(1)
    finally:
        c.remove(force=True)
    harvested = recording_io.load(evidence)
    got = set(_names(evidence))
    assert new & got, (got, p.stderr)
    assert not got & allowed, "only calls the complain profile did not allow are logged"
    assert harvested.harvested and harvested.harvest.records >= len(new & got)
    assert harvested.harvest.containers == (f"{c.name} {c.id[:12]}",)
    assert store.load_dir(out)[c.name] == harvested
    # emit of recording + harvest allows them; of the recording alone, not
    merged = tmp_path / "merged.json"
    p = run(["emit", str(rec), str(evidence), "--format", "seccomp", "-o", str(merged)])
    assert p.returncode == 0, p.stderr
    names = {n for s in json.loads(merged.read_text())["syscalls"]
             if s["action"] == "SCMP_ACT_ALLOW" for n in s["names"]}
    assert got <= names, got - names
    # diff lists them, with their risk class; nothing of the recording is "removed"
    p = run(["diff", str(rec), str(evidence), "--format", "json"])
    assert p.returncode == 1, p.stderr  # an escalation
    report = json.loads(p.stdout)
    added = {a["item"]: a for a in report["added"] if a["section"] == "syscalls"}
    assert got <= set(added), (got, added)
    assert all(added[n]["risk"] in ("high", "medium", "low") for n in got)
    assert report["removed"] == []


class KmsgReference(threading.Thread):
    """Reads /dev/kmsg from the test's start to its end, as it goes, and counts the seccomp
    records of one pid and syscall: the harvester's reference. `overwritten`: the kernel's
    ring buffer turned over before this read a record (a flooded log; nothing to compare)."""

    def __init__(self, syscall: int):
        super().__init__(daemon=True)
        self.syscall, self.pid, self.count, self.overwritten = syscall, None, 0, False
        self._lines: list[str] = []
        self._done = threading.Event()
        self._fd = os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK)

    def run(self):
        while True:
            try:
                raw = os.read(self._fd, 16384).decode("utf-8", "replace")
            except BlockingIOError:
                if self._done.is_set():
                    break
                select.select([self._fd], [], [], 0.2)
                continue
            except BrokenPipeError:
                self.overwritten = True
                continue
            if "type=1326" in raw and f" syscall={self.syscall} " in raw and "runc:[" not in raw:
                self._lines.append(raw)

    def stop(self, pid: int) -> int:
        self._done.set()
        self.join(30)
        os.close(self._fd)
        return sum(f" pid={pid} " in line for line in self._lines)


def _wait(pred, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.3)


def test_a_killed_follow_harvest_resumes_without_loss_or_double_counting(complain, docker_client,
                                                                           tmp_path):
    _rec, prof, allowed = complain
    assert "pipe2" not in allowed  # the pipeline's call, made by the long-lived shell
    reference = KmsgReference(PIPE2)
    reference.start()
    c, tag = _start(docker_client, prof, "while [ ! -e /tmp/stop ]; do echo x | cat >/dev/null; "
                                         "sleep 2; done; exec sleep 120")
    out = tmp_path / "h"
    # kmsg: the source with a cursor (what is logged while no harvester runs is read at the
    # resume), which `--source auto --follow` no longer picks where the multicast group works
    cmd = profiler_cmd() + ["harvest", "-o", str(out), "--container", c.name, "--follow",
                            "--interval", "1", "--source", "kmsg"]
    evidence = out / f"{c.name}.harvest.yaml"
    pid = 0
    try:
        c.reload()
        pid = c.attrs["State"]["Pid"]
        first = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                 stdin=subprocess.DEVNULL)
        _wait(lambda: _names(evidence).get("pipe2", 0) >= 2, 60, "the first snapshots")
        written = _names(evidence)["pipe2"]
        first.send_signal(signal.SIGKILL)  # no last save: what is on disk is all it leaves
        first.wait(10)
        assert _names(evidence)["pipe2"] >= written
        time.sleep(4)  # the shell goes on logging while no harvester runs
        second = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                  stdin=subprocess.DEVNULL)
        _wait(lambda: _names(evidence).get("pipe2", 0) >= written + 2, 60, "the resumed harvest")
        c.exec_run(["touch", "/tmp/stop"])
        time.sleep(4)  # the loop ends; its last records reach the log
        second.send_signal(signal.SIGTERM)  # a last save, then exit 0
        assert second.wait(30) == 0, second.stderr.read().decode()
        final = _names(evidence)["pipe2"]
    finally:
        c.remove(force=True)
        expected = reference.stop(pid)
    assert not reference.overwritten, "the kernel log turned over under the test (flooded)"
    assert final >= written
    st = json.loads((out / "state.json").read_text())
    why = {k: st[k] for k in ("overwritten", "dropped", "serial_gaps", "unattributed", "reboots")}
    assert final == expected, (final, expected, why)  # nothing lost, nothing counted twice


def test_netlink_receives_every_record_the_printk_limit_would_thin(complain, docker_client,
                                                                    tmp_path):
    """30 logged calls (pipe2 of 30 pipelines) in about a second: the kernel log prints at most 10 in 5 s without
    auditd (printk_ratelimit), the audit multicast group delivers them all."""
    _rec, prof, allowed = complain
    assert "pipe2" not in allowed
    tag = uuid.uuid4().hex[:10]
    out = tmp_path / "h"
    h = subprocess.Popen(profiler_cmd() + ["harvest", "-o", str(out), "--source", "netlink",
                                           "--match", f"profiler.test.harvest={tag}",
                                           "--follow", "--interval", "1"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         stdin=subprocess.DEVNULL)
    c = None
    try:
        _wait(lambda: (out / "state.json").exists(), 60, "the harvester")
        c = docker_client.containers.run(
            BASE_IMAGE, ["sh", "-c", "sleep 1; i=0; while [ $i -lt 30 ]; do echo x | cat "
                                     ">/dev/null; i=$((i+1)); done; exec sleep 60"],
            detach=True, name=f"profiler-test-harvest-{tag}",
            labels={"profiler.test.harvest": tag},
            security_opt=[f"seccomp={prof.read_text()}"])
        evidence = out / f"{c.name}.harvest.yaml"
        _wait(lambda: _names(evidence).get("pipe2", 0) >= 30, 60, "30 pipe2 records")
        time.sleep(2)
    finally:
        if c is not None:
            c.remove(force=True)
        h.send_signal(signal.SIGTERM)
        assert h.wait(30) == 0, h.stderr.read().decode()
    rec = recording_io.load(evidence)
    assert _names(evidence)["pipe2"] == 30
    assert rec.harvest.source == "netlink"


def test_a_first_harvest_of_a_container_nobody_knows_is_bad_input(docker_client, tmp_path):
    """A typo in --container: one line, exit 2, nothing written (it used to write an empty
    harvest and exit 0)."""
    out = tmp_path / "h"
    proc = run(["harvest", "--container", f"nosuch-{uuid.uuid4().hex[:8]}", "-o", str(out)])
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("error: no container named") and "Traceback" not in proc.stderr
    assert not out.exists()
