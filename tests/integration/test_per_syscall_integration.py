"""The per-syscall tracer design (`record --tracer per-syscall`, issue 21) with real eBPF
(root): it sees what the raw design sees in exec mode, a seen syscall stops being counted (its
event detached: counts are lower bounds), and a 32-bit program, whose i386 calls reach no
per-syscall event, is counted as loss with a hint, never silently missing.

Attach mode (`record --container`) runs it too, but for a container where a 32-bit program
runs already (its exec was before the attach): then the raw design, with the reason.

Each per-syscall recording leaves the kernel ~360 perf events to release (tens of ms each,
serialised; a child process of the recorder does it): these tests keep to five recordings."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest

from profiler.recording import recording_io
from test_record_integration import BASE_IMAGE, REPO, run

pytestmark = pytest.mark.root

I386_EXIT = """.globl _start
_start:
    mov $20, %eax      # i386 getpid
    int $0x80
    mov $1, %eax       # i386 exit(0)
    xor %ebx, %ebx
    int $0x80
"""


# A 32-bit program that runs until killed (i386 pause, again and again).
I386_PAUSE = """.globl _start
_start:
    mov $29, %eax      # i386 pause
    int $0x80
    jmp _start
"""


def _i386(d: Path, name: str, source: str) -> Path:
    if not (shutil.which("as") and shutil.which("ld")):
        pytest.skip("binutils (as, ld) not installed")
    (d / f"{name}.s").write_text(source)
    subprocess.run(["as", "--32", "-o", str(d / f"{name}.o"), str(d / f"{name}.s")], check=True)
    subprocess.run(["ld", "-m", "elf_i386", "-o", str(d / name), str(d / f"{name}.o")],
                   check=True)
    return d / name


@pytest.fixture(scope="module")
def i386_program(tmp_path_factory) -> Path:
    return _i386(tmp_path_factory.mktemp("i386"), "p32", I386_EXIT)


def test_exec_mode_sees_what_raw_sees(require_root, tmp_path):
    cmd = ["/bin/sh", "-c", "ls -l /etc/hostname /nonexistent >/dev/null 2>&1; "
           "cat /etc/os-release | wc -l >/dev/null; cd /etc && cat hostname >/dev/null"]
    recs = {}
    for design in ("raw", "per-syscall"):
        out = tmp_path / f"{design}.yaml"
        proc = run(["record", "--exec", "--tracer", design, "-o", str(out), "--", *cmd],
                   cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        recs[design] = recording_io.load(out)
    raw, per = recs["raw"], recs["per-syscall"]
    assert per.metadata.tracer == "per-syscall" and raw.metadata.tracer == "raw"
    assert per.syscall_names == raw.syscall_names
    assert {f.path for f in per.files} == {f.path for f in raw.files}
    assert {e.path for e in per.processes.executables} == {e.path for e in raw.processes.executables}
    assert per.total_loss == 0


def test_a_seen_syscall_is_detached(require_root, tmp_path):
    """A loop of getppid long enough to outlast the first disarm: the kernel stops running a
    program for it, so the recorded count is a lower bound (at least 1, fewer than made)."""
    loadgen = tmp_path / "loadgen"
    subprocess.run(["gcc", "-O2", "-o", str(loadgen), str(REPO / "bench" / "loadgen.c")],
                   check=True)
    calls = 20_000_000
    out = tmp_path / "loop.yaml"
    proc = run(["record", "--exec", "--tracer", "per-syscall", "-o", str(out), "--",
                str(loadgen), "getppid", str(calls)], cwd=tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stderr
    (getppid,) = [s for s in recording_io.load(out).syscalls if s.name == "getppid"]
    assert 1 <= getppid.count < calls


def test_a_32_bit_program_is_counted_as_loss(require_root, tmp_path, i386_program):
    out = tmp_path / "p32.yaml"
    proc = run(["record", "--exec", "--tracer", "per-syscall", "-o", str(out), "--",
                str(i386_program)], cwd=tmp_path)
    assert proc.returncode != 0
    assert "compat_unseen 1" in proc.stderr and "--tracer raw" in proc.stderr
    assert dict(recording_io.load(out).loss)["compat_unseen"] == 1
    # the raw design sees its i386 calls (counted, not decoded)
    out = tmp_path / "p32-raw.yaml"
    proc = run(["record", "--exec", "-o", str(out), "--", str(i386_program)], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert {(s.name, s.arch) for s in recording_io.load(out).syscalls if s.arch} == \
        {("getpid", "x86"), ("exit", "x86")}


def test_attach_mode_runs_per_syscall_unless_a_32_bit_program_runs(require_root, tmp_path):
    pause32 = _i386(tmp_path, "pause32", I386_PAUSE)
    name = f"profiler-test-attach-per-syscall-{tmp_path.name[-8:]}"
    subprocess.run(["docker", "run", "-d", "--rm", "--name", name, "-v", f"{tmp_path}:/w:ro",
                    BASE_IMAGE, "sleep", "600"], check=True, capture_output=True)
    try:
        out = tmp_path / "attach.yaml"
        proc = run(["record", "--container", name, "--tracer", "per-syscall", "-o", str(out),
                    "--workload", f"docker exec {name} cat /etc/hostname"])
        assert proc.returncode == 0, proc.stderr
        rec = recording_io.load(out)
        assert rec.metadata.tracer == "per-syscall" and rec.total_loss == 0
        assert "/etc/hostname" in {f.path for f in rec.files}  # cat's openat: a path syscall
        assert "/usr/bin/cat" in {e.path for e in rec.processes.executables}
        # a 32-bit program running before the attach: nothing would ever show its calls
        subprocess.run(["docker", "exec", "-d", name, "/w/pause32"], check=True)
        for _ in range(100):
            if "pause32" in subprocess.run(["docker", "top", name], capture_output=True,
                                           text=True).stdout:
                break
            time.sleep(0.1)
        else:
            pytest.fail("the 32-bit program did not start")
        proc = run(["record", "--container", name, "--tracer", "per-syscall", "-o", str(out),
                    "--duration", "1"])
        assert proc.returncode == 0, proc.stderr
        assert recording_io.load(out).metadata.tracer == "raw"
        assert "a 32-bit program runs in the container" in " ".join(proc.stderr.split())
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)
