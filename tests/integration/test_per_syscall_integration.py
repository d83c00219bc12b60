"""The per-syscall tracer design (`record --tracer per-syscall`, issue 21) with real eBPF
(root): it sees what the raw design sees in exec mode, a seen syscall stops being counted (its
event detached: counts are lower bounds), and a 32-bit program, whose i386 calls reach no
per-syscall event, is counted as loss with a hint, never silently missing.

Each per-syscall recording leaves the kernel ~360 perf events to release (tens of ms each,
serialised; a child process of the recorder does it): these tests keep to three recordings."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from profiler.recording import recording_io
from test_record_integration import REPO, run

pytestmark = pytest.mark.root

I386_EXIT = """.globl _start
_start:
    mov $20, %eax      # i386 getpid
    int $0x80
    mov $1, %eax       # i386 exit(0)
    xor %ebx, %ebx
    int $0x80
"""


@pytest.fixture(scope="module")
def i386_program(tmp_path_factory) -> Path:
    if not (shutil.which("as") and shutil.which("ld")):
        pytest.skip("binutils (as, ld) not installed")
    d = tmp_path_factory.mktemp("i386")
    (d / "p.s").write_text(I386_EXIT)
    subprocess.run(["as", "--32", "-o", str(d / "p.o"), str(d / "p.s")], check=True)
    subprocess.run(["ld", "-m", "elf_i386", "-o", str(d / "p32"), str(d / "p.o")], check=True)
    return d / "p32"


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
