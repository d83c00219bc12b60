"""Compat syscalls with the real engine (root): an x86_64 program in a container makes an i386
syscall (uname through `int $0x80`, tests/compat32). The recording names it in the i386
table under the x86 architecture (not x86_64's 122, setfsuid), the emitted profile lists the x86
sub-architecture and nothing else, the program works under it (`profiler verify`), and without
that allowance it is refused."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import SAMPLES, Sample
from profiler.recording import recording_io
from test_record_integration import run
from test_verify_integration import _policy_for, _verify_args

pytestmark = pytest.mark.root

SOURCE = Path(__file__).resolve().parents[1] / "compat32"
IMAGE = "profiler-test-compat32"


def _build(context: Path) -> None:
    """The image: FROM profiler-base:bookworm, the program compiled here (static, non-PIE: its
    buffer lies below 4 GiB, which the i386 entry needs). Not a sample: a static program's
    profile is too small for the dynamic binaries the every-sample test runs under it."""
    shutil.copytree(SOURCE, context, dirs_exist_ok=True)
    subprocess.run(["gcc", "-O2", "-static", "-Wall", "-Wextra", "-o", str(context / "compat32"),
                    str(context / "compat32.c")], check=True, capture_output=True)
    subprocess.run(["docker", "build", "-q", "-t", IMAGE, str(context)], check=True,
                   capture_output=True, env=dict(os.environ, DOCKER_BUILDKIT="0"))


@pytest.fixture(scope="module")
def compat(tmp_path_factory, docker_client):
    from conftest import _bpf_unusable_reason

    if reason := _bpf_unusable_reason():
        pytest.skip(reason)
    _build(tmp_path_factory.mktemp("compat32-image"))
    # Nothing to drive: the probe's workload waits for the container to exit 0.
    sample = Sample(name="compat32", dir=SOURCE, image=IMAGE,
                    workload=SAMPLES / "probe" / "workload.sh")
    rec, policy = _policy_for(sample, tmp_path_factory.mktemp("compat32"))
    return sample, recording_io.load(rec), policy


def test_recording_names_the_i386_call(compat):
    _, rec, _ = compat
    (uname,) = [s for s in rec.syscalls if s.arch == "x86"]
    assert (uname.name, uname.number, uname.decoded) == ("uname", 122, False)
    assert uname.count == 1
    native = {s.name for s in rec.syscalls if not s.arch}
    assert "uname" in native  # the program's own check, through the x86_64 entry
    assert "setfsuid" not in native  # what 122 means on x86_64: the old misreading
    assert rec.compat_arches == ("x86",)


def test_profile_lists_x86_only_and_the_program_works_under_it(compat):
    sample, _, policy = compat
    prof = json.loads((policy / "seccomp.json").read_text())
    assert prof["archMap"] == [{"architecture": "SCMP_ARCH_X86_64",
                                "subArchitectures": ["SCMP_ARCH_X86"]}]
    proc = run(_verify_args(sample, policy) + ["--json"])
    report = json.loads(proc.stdout)
    assert proc.returncode == 0 and report["passed"], (report.get("syscalls"), proc.stderr[-2000:])


def test_refused_without_the_i386_uname(compat, tmp_path):
    """Negative controls. uname removed: the i386 call gets EPERM, the program fails, and
    verify names the call in its architecture. The x86 sub-architecture removed: libseccomp's
    bad-architecture action (runc leaves it at KILL) kills the program with SIGSYS."""
    sample, _, policy = compat
    no_name = tmp_path / "no-uname"
    shutil.copytree(policy, no_name)
    prof = json.loads((no_name / "seccomp.json").read_text())
    for rule in prof["syscalls"]:
        if "uname" in rule["names"]:
            rule["names"].remove("uname")
    prof["syscalls"] = [r for r in prof["syscalls"] if r["names"]]
    (no_name / "seccomp.json").write_text(json.dumps(prof))
    proc = run(_verify_args(sample, no_name) + ["--json"])
    report = json.loads(proc.stdout)
    assert proc.returncode == 1 and not report["passed"], proc.stderr[-2000:]
    assert ("uname (x86)", "EPERM") in {(d["syscall"], d["errno"]) for d in report["syscalls"]}

    no_arch = tmp_path / "no-x86"
    shutil.copytree(policy, no_arch)
    prof = json.loads((no_arch / "seccomp.json").read_text())
    prof["archMap"][0]["subArchitectures"] = []
    (no_arch / "seccomp.json").write_text(json.dumps(prof))
    proc = run(_verify_args(sample, no_arch) + ["--json"])
    report = json.loads(proc.stdout)
    assert proc.returncode == 1 and not report["passed"], proc.stderr[-2000:]
    assert report["exit_code"] == 128 + 31, report  # SIGSYS
