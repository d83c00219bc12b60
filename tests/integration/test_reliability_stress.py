"""Correct on a busy host (issue 20): churn, other tracers, load and faults, each case with
its expected outcome. These are the bounded cases CI runs (about 3-4 minutes on a quiet 2-core
machine); bench/soak_bench.py runs the long ones and prints the figures (README, Reliability).

- churn: unrelated containers (`docker run --rm IMAGE true`, in parallel) are made and removed
  during a single-container recording, an attach recording, a match recording and a verify
  run: none of them is recorded, no internal error, nothing lost.
- other tracers at once: bpftrace on the same tracepoints and a second profiler: both work.
- a path storm under CPU saturation: more distinct paths than the recorder's file map holds;
  what it kept plus what it counted lost is exactly what the program did (never silently
  incomplete; `record` then exits 1, recording written with its loss counters).
- faults: the container OOM-killed, the engine restarted mid-recording and its socket gone
  (through a proxy socket of the test's own: the shared dockerd is never touched), profiler
  SIGKILLed (nothing half-written; the next run removes what it left), the output on a full or
  read-only file system, the container removed by someone else.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from profiler.kernel import leftovers
from profiler.kernel.leftovers import OWNER_LABEL
from profiler.recording import recording_io

from stress import BASE_IMAGE, Churn, EngineProxy, Hogs
from test_record_integration import REPO, profiler_cmd, run

pytestmark = pytest.mark.root

# A shell as PID 1 ignores SIGTERM unless it traps it: the trap makes a clean exit (verify
# counts an exit by SIGKILL after the stop timeout as a failure).
LOOP = "trap 'exit 0' TERM; while :; do cat /etc/hostname >/dev/null; sleep 0.2; done"
CHURN_MIN = 8  # containers that must have run during a recording for the case to mean much


def _ok(proc) -> None:
    assert "internal error" not in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 0, proc.stderr


def _executables(rec) -> set[str]:
    return {e.path for e in rec.processes.executables}


def _no_churn_in(rec) -> None:
    """The churn containers run `true`: the recording must not have it."""
    exes = _executables(rec)
    assert not any(p.endswith("/true") for p in exes), exes
    assert rec.total_loss == 0, rec.loss


def _rm(*names: str) -> None:
    subprocess.run(["docker", "rm", "-f", "-v", *names], capture_output=True)


@pytest.fixture
def base_image(docker_client, require_root):
    try:
        docker_client.images.get(BASE_IMAGE)
    except Exception:
        pytest.skip(f"{BASE_IMAGE} missing: run `make setup`")
    return BASE_IMAGE


# --- churn -----------------------------------------------------------------------------------

def test_churn_during_a_recording_and_its_verify(base_image, tmp_path):
    out = tmp_path / "loop.recording.yaml"
    with Churn() as churn:
        churn.wait_for(3)
        before = churn.count
        proc = run(["record", base_image, "--duration", "5", "--stop-timeout", "1", "-o",
                    str(out), "--", "sh", "-c", LOOP])
        during = churn.count - before
        _ok(proc)
        rec = recording_io.load(out)
        _no_churn_in(rec)
        assert any(p.endswith("/cat") for p in _executables(rec))
        policy = tmp_path / "policy"
        _ok(run(["emit", str(out), "--format", "all", "-o", str(policy)]))
        before = churn.count
        v = run(["verify", base_image, "--policy", str(policy), "--duration", "4",
                 "--stop-timeout", "1", "--", "sh", "-c", LOOP])
        during_verify = churn.count - before
    assert "internal error" not in v.stderr and "Traceback" not in v.stderr, v.stderr
    assert v.returncode == 0, v.stdout + v.stderr
    assert during >= CHURN_MIN and during_verify >= CHURN_MIN // 2, (during, during_verify)


def test_churn_during_an_attach_recording(base_image, tmp_path):
    name = f"rlb-attach-{secrets.token_hex(4)}"
    subprocess.run(["docker", "run", "-d", "--name", name, base_image, "sh", "-c", LOOP],
                   check=True, capture_output=True)
    try:
        out = tmp_path / "attach.recording.yaml"
        with Churn() as churn:
            churn.wait_for(3)
            before = churn.count
            proc = run(["record", "--container", name, "--duration", "5", "-o", str(out)])
            during = churn.count - before
        _ok(proc)
        _no_churn_in(recording_io.load(out))
        assert during >= CHURN_MIN, during
    finally:
        _rm(name)


def test_churn_during_a_match_recording(base_image, tmp_path):
    tag = secrets.token_hex(4)
    name = f"rlb-match-{tag}"
    out = tmp_path / "app.recordings"
    try:
        with Churn() as churn:
            churn.wait_for(3)
            before = churn.count
            proc = run(["record", "--match", f"io.profiler.test={tag}", "--duration", "6",
                        "--stop-timeout", "1", "-o", str(out), "--",
                        "docker", "run", "-d", "--name", name, "--label",
                        f"io.profiler.test={tag}", base_image, "sh", "-c", LOOP])
            during = churn.count - before
        _ok(proc)
        index = (out / "index.yaml").read_text()
        assert index.count("- id: ") == 1 and name in index, index
        rec = recording_io.load(out / f"{name}.recording.yaml")
        _no_churn_in(rec)
        assert during >= CHURN_MIN, during
    finally:
        _rm(name)


# --- other tracers ---------------------------------------------------------------------------

BPFTRACE = ("tracepoint:raw_syscalls:sys_enter { @calls = count(); } "
            "tracepoint:sched:sched_process_exec { @execs = count(); } "
            "tracepoint:cgroup:cgroup_mkdir { @cgroups = count(); } "
            "interval:s:12 { exit(); }")


def test_bpftrace_and_a_second_profiler_at_the_same_time(base_image, tmp_path):
    if shutil.which("bpftrace") is None:
        pytest.skip("bpftrace missing: run `make setup`")
    bt = subprocess.Popen(["bpftrace", "-e", BPFTRACE], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(3)  # attached
        a, b = tmp_path / "a.recording.yaml", tmp_path / "b.recording.yaml"
        first = subprocess.Popen(profiler_cmd() + ["record", base_image, "--duration", "4",
                                                   "--stop-timeout", "1", "-o", str(a), "--",
                                                   "sh", "-c", LOOP],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        second = run(["record", "--exec", "-o", str(b), "--", "sh", "-c",
                      "for i in 1 2 3; do cat /etc/hostname; sleep 1; done"], cwd=tmp_path)
        out, err = first.communicate(timeout=180)
        _ok(second)
        _ok(subprocess.CompletedProcess(first.args, first.returncode, out, err))
        for path in (a, b):
            rec = recording_io.load(path)
            assert rec.total_loss == 0 and any(p.endswith("/cat") for p in _executables(rec))
        bt_out, bt_err = bt.communicate(timeout=60)
    finally:
        if bt.poll() is None:
            bt.kill()
            bt.wait()
    assert bt.returncode == 0, bt_err
    counts = {line.split(":")[0].strip("@ "): int(line.split(":")[1])
              for line in bt_out.splitlines() if line.startswith("@")}
    assert counts.get("calls", 0) > 1000 and counts.get("execs", 0) >= 3, bt_out


# --- load: a path storm, the CPU saturated ---------------------------------------------------

def test_a_path_storm_under_cpu_saturation_is_counted_exactly(require_root, tmp_path):
    """More distinct paths than the file map holds (MAX_FILES): every one is either kept or
    counted as lost (map_full); the two add up to what the program did."""
    from profiler.kernel import tracer as tracer_mod
    from profiler.session import session

    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler")
    exe = tmp_path / "path_storm"
    subprocess.run([cc, "-O2", "-o", str(exe), str(REPO / "tests/apps/path_storm.c")], check=True)
    n = tracer_mod.MAX_FILES + 20_000
    prefix = f"/nonexistent-storm-{secrets.token_hex(4)}"
    raws = []

    def load(*a, **k):
        t = session._load_tracer(*a, **k)
        snap = t.snapshot

        def snapshot():
            raws.append(snap())
            raise _Enough  # the counts are what this case checks: no recording of 262k files

        t.snapshot = snapshot
        return t

    with Hogs(max(1, (os.cpu_count() or 2) - 1)), pytest.raises(_Enough):  # + the storm: all
        session.record_exec([str(exe), str(n), prefix], session.Options(), load_tracer=load)
    raw = raws[0]
    kept = sum(1 for p in raw.files if p.startswith(prefix.encode() + b"/"))
    lost = raw.loss["map_full"]
    assert kept + lost == n, (kept, lost, n)
    assert lost > 0  # and `record` exits 1 on any loss, the recording written with its counters


class _Enough(Exception):
    pass


# --- faults ----------------------------------------------------------------------------------

def test_the_container_oom_killed(base_image, tmp_path):
    """Killed by its memory limit mid-run: the recording is written (what it did until then),
    with its exit code 137 and a note that says why it ended."""
    out = tmp_path / "oom.recording.yaml"
    proc = run(["record", base_image, "--memory", "48m", "--settle", "0.5", "--stop-timeout",
                "1", "-o", str(out), "--", "sh", "-c",
                "cat /etc/hostname; sleep 1; head -c 400m /dev/zero | tail"])
    _ok(proc)
    rec = recording_io.load(out)
    assert rec.metadata.exit_code == 137
    assert "OOM killer" in proc.stdout + proc.stderr
    assert any(p.endswith("/tail") for p in _executables(rec))


def _record_bg(args, env=None) -> subprocess.Popen:
    return subprocess.Popen(profiler_cmd() + args, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env,
                            stdin=subprocess.DEVNULL)


def _owned_by(pid: int) -> list[str]:
    out = subprocess.run(["docker", "ps", "-aq", "--no-trunc", "--filter",
                          f"label={OWNER_LABEL}={leftovers.owner_token(pid)}"],
                         capture_output=True, text=True).stdout
    return out.split()


def _wait_owned(pid: int, timeout: float = 90) -> list[str]:
    """The ids of the containers the profiler process `pid` made, once one of them runs."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        ids = _owned_by(pid)
        if ids and subprocess.run(["docker", "inspect", "-f", "{{.State.Running}}", ids[0]],
                                  capture_output=True, text=True).stdout.strip() == "true":
            return ids
        time.sleep(0.2)
    return []


def test_the_engine_restarted_mid_recording(base_image, tmp_path):
    """The engine's socket goes away for 3 s and comes back (as in a dockerd restart; a proxy
    socket of the test's own, the shared engine is not touched): the recording goes on and
    says that the engine did not answer for a while."""
    proxy = EngineProxy(tmp_path)
    proxy.start()
    env = {**os.environ, "DOCKER_HOST": proxy.url}
    out = tmp_path / "restart.recording.yaml"
    p = _record_bg(["record", base_image, "--duration", "9", "--stop-timeout", "1", "-o",
                    str(out), "--", "sh", "-c", LOOP], env)
    try:
        assert _wait_owned(p.pid)
        time.sleep(2)
        proxy.stop()
        time.sleep(3)
        proxy.start()
        stdout, stderr = p.communicate(timeout=180)
    finally:
        proxy.stop()
        if p.poll() is None:
            p.kill()
    _ok(subprocess.CompletedProcess(p.args, p.returncode, stdout, stderr))
    assert "did not answer" in stdout + stderr
    assert recording_io.load(out).total_loss == 0


def test_the_engine_socket_gone_then_the_next_run_cleans_up(base_image, tmp_path):
    """The engine's socket disappears for good: one line, exit 2, nothing written; the
    container it could not remove is removed by the next run (its owner is dead)."""
    proxy = EngineProxy(tmp_path)
    proxy.start()
    env = {**os.environ, "DOCKER_HOST": proxy.url, "PROFILER_ENGINE_GRACE": "2"}
    out = tmp_path / "gone.recording.yaml"
    p = _record_bg(["record", base_image, "--duration", "30", "-o", str(out), "--",
                    "sh", "-c", LOOP], env)
    try:
        ids = _wait_owned(p.pid)
        assert ids
        time.sleep(1)
        proxy.stop()
        stdout, stderr = p.communicate(timeout=120)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 2, stderr
    assert "stopped answering" in stderr and "Traceback" not in stderr, stderr
    assert not out.exists() and not list(tmp_path.glob(".gone.recording.yaml*"))
    assert subprocess.run(["docker", "inspect", ids[0]], capture_output=True).returncode == 0
    done = leftovers.sweep(_engine())
    assert any(ids[0][:12] in d or "container" in d for d in done), done
    assert subprocess.run(["docker", "inspect", ids[0]], capture_output=True).returncode != 0


def _engine():
    from profiler.session.engine import Engine
    return Engine()


def test_profiler_sigkilled_leaves_nothing_the_next_run_does_not_remove(base_image, tmp_path):
    out = tmp_path / "killed.recording.yaml"
    p = _record_bg(["record", base_image, "--duration", "60", "-o", str(out), "--",
                    "sh", "-c", LOOP])
    ids = _wait_owned(p.pid)
    assert ids
    time.sleep(1)
    p.send_signal(signal.SIGKILL)
    p.wait()
    assert not out.exists() and list(tmp_path.iterdir()) == []  # nothing half-written
    assert subprocess.run(["docker", "inspect", ids[0]], capture_output=True).returncode == 0
    nxt = run(["record", base_image, "--settle", "0.2", "-o", str(tmp_path / "next.yaml"),
               "--", "true"])
    _ok(nxt)
    assert "removed what a killed run left behind: container" in nxt.stderr, nxt.stderr
    assert subprocess.run(["docker", "inspect", ids[0]], capture_output=True).returncode != 0


def _project_containers(name: str) -> list[str]:
    return subprocess.run(["docker", "ps", "-aq", "--filter",
                           f"label=com.docker.compose.project={name}"],
                          capture_output=True, text=True).stdout.split()


def test_verify_compose_sigkilled_leaves_a_project_the_next_run_brings_down(base_image,
                                                                           tmp_path):
    """verify --compose brings up a project of its own; compose creates those containers, so
    they cannot carry profiler's owner label. Killed mid-run, the project stays up; the next
    run's sweep brings it down (containers, anonymous volumes, network)."""
    from profiler.session import compose_cli

    compose = compose_cli.find()
    (tmp_path / "compose.yaml").write_text(
        f"services:\n  app:\n    image: {base_image}\n"
        f"    command: [\"sh\", \"-c\", \"{LOOP}\"]\n")
    files = [tmp_path / "compose.yaml"]
    train = f"pkill{secrets.token_hex(4)}"
    up = compose_cli.command(compose, files, train, "up", "-d")
    try:
        _ok(run(["record", "--match", f"com.docker.compose.project={train}", "--duration",
                 "2", "--stop-timeout", "1", "-o", str(tmp_path / "rec"), "--", *up],
                timeout=300))
    finally:
        compose_cli.run(compose, files, train, "down", "-v", "-t", "1")
    _ok(run(["emit", str(tmp_path / "rec"), "--format", "all", "-o", str(tmp_path / "pol")]))
    name = f"profiler-verify-kill{secrets.token_hex(3)}"
    p = _record_bg(["verify", "--compose", str(tmp_path / "compose.yaml"), "--policy",
                    str(tmp_path / "pol"), "--project-name", name, "--workload", "sleep 120"])
    try:
        end = time.monotonic() + 120
        while not _project_containers(name) and time.monotonic() < end:
            time.sleep(0.3)
        assert _project_containers(name), "verify --compose never brought its project up"
        time.sleep(1)
    finally:
        p.send_signal(signal.SIGKILL)
        p.wait()
    left = _project_containers(name)
    assert left  # what the kill left: the sweep must remove it
    done = leftovers.sweep(_engine())
    assert f"compose project {name}" in done, done
    assert _project_containers(name) == []
    nets = subprocess.run(["docker", "network", "ls", "-q", "--filter",
                           f"label=com.docker.compose.project={name}"],
                          capture_output=True, text=True).stdout.split()
    assert nets == []


def _mount_tmpfs(where: Path, *opts: str) -> None:
    where.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", ",".join(opts), "tmpfs", str(where)],
                   check=True)


def test_the_output_disk_full_or_read_only(base_image, tmp_path):
    full, ro = tmp_path / "full", tmp_path / "ro"
    _mount_tmpfs(full, "size=8k")
    _mount_tmpfs(ro, "size=1m", "ro")
    try:
        (full / "filler").write_bytes(b"x" * 4096)
        proc = run(["record", base_image, "--settle", "0.2", "-o", str(full / "rec.yaml"),
                    "--", "sh", "-c", "cat /etc/hostname /etc/os-release"])
        assert proc.returncode == 2 and "No space left on device" in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
        assert sorted(p.name for p in full.iterdir()) == ["filler"]  # nothing half-written
        proc = run(["record", base_image, "--settle", "0.2", "-o", str(ro / "rec.yaml"),
                    "--", "true"])
        assert proc.returncode == 2 and "read-only file system" in proc.stderr, proc.stderr
        assert len(proc.stderr.strip().splitlines()) <= 3  # one line and a hint
    finally:
        for m in (full, ro):
            subprocess.run(["umount", str(m)], capture_output=True)


def test_the_container_removed_by_someone_else(base_image, tmp_path):
    name = f"rlb-removed-{secrets.token_hex(4)}"
    out = tmp_path / "removed.recording.yaml"
    p = _record_bg(["record", base_image, "--name", name, "--duration", "30", "-o", str(out),
                    "--", "sh", "-c", LOOP])
    try:
        assert _wait_owned(p.pid)
        time.sleep(2)
        subprocess.run(["docker", "rm", "-f", name], check=True, capture_output=True)
        stdout, stderr = p.communicate(timeout=120)
    finally:
        if p.poll() is None:
            p.kill()
        _rm(name)
    _ok(subprocess.CompletedProcess(p.args, p.returncode, stdout, stderr))
    assert "removed by someone else" in stdout + stderr
    rec = recording_io.load(out)
    assert any(e.endswith("/cat") for e in _executables(rec)) and rec.total_loss == 0


def test_record_and_verify_remove_the_images_anonymous_volumes(docker_client, require_root,
                                                               tmp_path):
    """An image that declares a VOLUME: its anonymous volume goes with the container; a named
    volume the user passed stays."""
    image = "profiler-test-rlb-volume"
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(f"FROM {BASE_IMAGE}\nVOLUME /data\n")
    subprocess.run(["docker", "build", "-q", "-t", image, str(ctx)], check=True,
                   capture_output=True)
    named = f"rlb-named-{secrets.token_hex(4)}"
    before = set(subprocess.run(["docker", "volume", "ls", "-q"], capture_output=True,
                                text=True).stdout.split())
    try:
        out = tmp_path / "vol.recording.yaml"
        _ok(run(["record", image, "--settle", "0.2", "-v", f"{named}:/named", "-o", str(out),
                 "--", "sh", "-c", "touch /data/x /named/y"]))
        policy = tmp_path / "policy"
        _ok(run(["emit", str(out), "--format", "all", "-o", str(policy)]))
        run(["verify", image, "--policy", str(policy), "--settle", "0.2", "--", "sh", "-c",
             "touch /data/x /named/y"])
        after = set(subprocess.run(["docker", "volume", "ls", "-q"], capture_output=True,
                                   text=True).stdout.split())
        assert named in after  # the user's named volume stays
        # others may make volumes meanwhile: ours are those holding the file the runs made
        left = [v for v in after - before - {named} if (Path(subprocess.run(
            ["docker", "volume", "inspect", "-f", "{{.Mountpoint}}", v], capture_output=True,
            text=True).stdout.strip() or "/nonexistent") / "x").exists()]
        assert left == [], left  # the anonymous ones went with their containers
    finally:
        subprocess.run(["docker", "volume", "rm", "-f", named], capture_output=True)
        subprocess.run(["docker", "rmi", "-f", image], capture_output=True)
