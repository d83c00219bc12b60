"""Issue 21's two tracer designs as a session sees them (fakes, no root): the recording names
the design in its metadata (schema 1.9) and says what per-syscall costs; per-syscall is asked
for and falls back to raw, with the reason, where it cannot run."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from conftest import FakeEngine, FakeTracer
from profiler.kernel.tracer import PER_SYSCALL, RAW, entry_design
from profiler.recording import recording_io
from profiler.session import session
from profiler.session.engine import RunSpec

SHELL = Path(__file__).resolve().parents[1] / "fixtures" / "shell.recording.yaml"


def _record(fake, **kw) -> session.Outcome:
    opts = session.Options(**{"settle": 0.05, "stop_timeout": 7, "duration": 0.1, **kw})
    return session.record_container(RunSpec(image="app:1"), opts, engine=FakeEngine(),
                                    load_tracer=fake.load)


def test_per_syscall_is_asked_of_the_tracer_and_named_in_the_metadata(fake_host):
    tracer = FakeTracer()
    out = _record(tracer, tracer="per-syscall")
    assert tracer.loaded_with["per_syscall"] is True
    assert out.recording.metadata.tracer == "per-syscall"
    assert not out.recording.metadata.counts_exact
    assert any("lower bounds" in n and "int $0x80" in n for n in out.notes)


def test_raw_is_the_default_and_says_nothing(fake_host):
    tracer = FakeTracer()
    out = _record(tracer)
    assert tracer.loaded_with["per_syscall"] is False
    assert out.recording.metadata.tracer == "raw" and out.recording.metadata.counts_exact
    assert not any("tracer" in n for n in out.notes)


def test_asked_for_but_not_possible_falls_back_with_the_reason(fake_host):
    out = _record(FakeTracer(), tracer="per-syscall", all_errnos=True)
    assert out.recording.metadata.tracer == "raw"
    assert any("--tracer per-syscall was not used" in n for n in out.notes)


@pytest.mark.parametrize("match, all_exits, arch, tells, design", [
    (False, False, "x86_64", True, PER_SYSCALL),
    (False, False, "aarch64", False, PER_SYSCALL),   # no i386 on arm64
    (True, False, "x86_64", True, RAW),              # match: nothing could be detached
    (False, True, "x86_64", True, RAW),              # --errnos / verify
    (False, False, "x86_64", False, RAW),            # i386 programs could not be told
])
def test_entry_design(match, all_exits, arch, tells, design):
    got, why = entry_design(True, match, all_exits, arch, tells)
    assert got == design and bool(why) == (design == RAW)
    assert entry_design(False, match, all_exits, arch, tells) == (RAW, "")


def test_metadata_tracer_round_trip_and_omitted_when_raw(tmp_path):
    shell_recording = recording_io.load(SHELL)
    raw = tmp_path / "raw.yaml"
    recording_io.save(shell_recording, raw)
    assert "tracer:" not in raw.read_text()
    per = tmp_path / "per.yaml"
    rec = replace(shell_recording, metadata=replace(shell_recording.metadata, tracer="per-syscall"))
    recording_io.save(rec, per)
    assert recording_io.load(per).metadata.tracer == "per-syscall"


def _attach(fake_host, exes: dict[int, bytes], **kw) -> tuple[session.Outcome, FakeTracer]:
    """record --container of a running container whose cgroup holds the tasks `exes` (pid ->
    the first bytes of its executable, as /proc/PID/exe reads)."""
    from profiler.session.engine import ContainerInfo
    info = ContainerInfo(id="c1", name="n1", image="app:1", image_id="sha256:img",
                         working_dir="/w", pid_mode="private")
    engine, tracer = FakeEngine(container=info, running=True, pid=4242), FakeTracer()
    for pid, head in exes.items():
        d = fake_host / "proc" / str(pid)
        d.mkdir()
        (d / "bin").write_bytes(head)
        (d / "exe").symlink_to(d / "bin")
    (fake_host / "proc" / "4242" / "cgroup").write_text("0::/docker/c1\n")
    (fake_host / "proc" / "4242" / "status").write_text("CapBnd:\t0000000000000001\n")
    cgroup = fake_host / "cgroup" / "docker" / "c1"
    (cgroup / "sub").mkdir(parents=True)
    (cgroup / "cgroup.procs").write_text("4242\n")
    (cgroup / "sub" / "cgroup.procs").write_text("".join(f"{p}\n" for p in exes if p != 4242))
    opts = session.Options(**{"settle": 0.05, "stop_timeout": 7, "duration": 0.1,
                              "workload": "true", **kw})
    return session.record_attach("n1", opts, engine=engine, load_tracer=tracer.load), tracer


ELF64, ELF32 = b"\x7fELF\x02\x01\x01", b"\x7fELF\x01\x01\x01"


def test_attach_runs_per_syscall_when_asked(fake_host):
    out, tracer = _attach(fake_host, {4242: ELF64, 4243: b"#!/bin/sh\n"}, tracer="per-syscall")
    assert tracer.loaded_with["per_syscall"] is True and tracer.loaded_with["attach"]
    assert out.recording.metadata.tracer == "per-syscall"
    assert any("lower bounds" in n for n in out.notes)


def test_attach_falls_back_to_raw_when_a_32_bit_program_runs_already(fake_host):
    """Its exec, which the per-syscall design's sched_process_exec check would count as loss,
    happened before the attach: its i386 calls would be missed without a trace."""
    out, tracer = _attach(fake_host, {4242: ELF64, 4250: ELF32}, tracer="per-syscall")
    assert tracer.loaded_with["per_syscall"] is False
    assert out.recording.metadata.tracer == "raw"
    (note,) = [n for n in out.notes if "--tracer per-syscall was not used" in n]
    assert "a 32-bit program runs in the container (4250 " in note
    assert session.programs_32bit(fake_host / "cgroup" / "docker" / "c1") == [
        f"4250 {fake_host / 'proc' / '4250' / 'bin'}"]
