"""The syscalls the kernel or libc make on the app's behalf, with the real engine (root).

An app is trained undisturbed: its sleep is never interrupted and it ends with exit_group while
its worker thread still sleeps, so the recording holds neither `restart_syscall` nor `exit`. In
production the container is paused and unpaused (`docker pause`, the cgroup freezer) and
stopped and continued (SIGSTOP/SIGCONT) during its sleep, which the kernel resumes with
`restart_syscall`, and its worker thread retires first (`exit`). Under the emitted policy it
still runs (`profiler verify` passes); without the policy's block for these calls it fails.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from profiler.recording import recording_io
from test_record_integration import run

pytestmark = pytest.mark.root

HERE = Path(__file__).parents[1]
IMAGE = "profiler-test-behalf"
WAIT_EXIT_0 = HERE.parent / "samples" / "probe" / "workload.sh"  # waits for the exit, checks 0
DISTURB = ('set -e; c="$PROFILER_CONTAINER_ID"; docker pause "$c"; sleep 1; docker unpause "$c"; '
           'docker kill -s STOP "$c"; sleep 1; docker kill -s CONT "$c"; ' + str(WAIT_EXIT_0))


@pytest.fixture(scope="module")
def trained(tmp_path_factory, sample_image):
    from conftest import _bpf_unusable_reason

    if reason := _bpf_unusable_reason():
        pytest.skip(reason)
    sample_image("probe")  # the base image exists (and docker answers)
    ctx = tmp_path_factory.mktemp("behalf-image")
    subprocess.run(["gcc", "-O2", "-static", "-pthread", "-Wall", "-Wextra", "-o",
                    str(ctx / "sleeper"), str(HERE / "fixtures" / "behalf" / "sleeper.c")],
                   check=True)
    (ctx / "Dockerfile").write_text("FROM profiler-base:bookworm\nCOPY sleeper /sleeper\n"
                                    'ENTRYPOINT ["/sleeper"]\n')
    subprocess.run(["docker", "build", "-q", "-t", IMAGE, str(ctx)], check=True,
                   capture_output=True)
    work = tmp_path_factory.mktemp("behalf")
    rec = work / "sleeper.recording.yaml"
    # Training: the worker (100 s) outlives main (2 s); nothing disturbs the sleep.
    proc = run(["record", IMAGE, "--workload", str(WAIT_EXIT_0), "-o", str(rec), "--", "100", "2"])
    assert proc.returncode == 0, proc.stderr
    policy = work / "policy"
    proc = run(["emit", str(rec), "--format", "all", "-o", str(policy)])
    assert proc.returncode == 0, proc.stderr
    return recording_io.load(rec), policy


def _verify(policy):
    # Production: the worker retires at once, main sleeps 6 s through a pause and a stop.
    return run(["verify", IMAGE, "--policy", str(policy), "--workload", DISTURB, "--json",
                "--", "0", "6"])


def test_training_never_showed_them(trained):
    rec, _ = trained
    assert {"clock_nanosleep", "exit_group"} <= rec.syscall_names
    assert not {"restart_syscall", "exit"} & rec.syscall_names


def test_paused_stopped_and_a_retiring_thread_run_under_the_policy(trained):
    _, policy = trained
    proc = _verify(policy)
    report = json.loads(proc.stdout)
    assert proc.returncode == 0, (report.get("syscalls"), report.get("exit_code"), proc.stderr)
    assert report["passed"] and report["denials"] == 0


def test_without_the_block_the_app_fails(trained, tmp_path):
    # Shows what the block is for (and that the test above can fail).
    _, policy = trained
    edited = tmp_path / "policy"
    shutil.copytree(policy, edited)
    prof = json.loads((edited / "seccomp.json").read_text())
    prof["syscalls"] = [r for r in prof["syscalls"] if "on the app's behalf" not in r["comment"]]
    (edited / "seccomp.json").write_text(json.dumps(prof))
    proc = _verify(edited)
    report = json.loads(proc.stdout)
    assert proc.returncode == 1, proc.stdout
    denied = {s["syscall"] for s in report["syscalls"]}
    assert {"restart_syscall", "exit"} <= denied, report["syscalls"]
