"""Capability sources end to end (root): samples/probe recorded through each source this host
has, and with capabilities off (profiler/kernel/capsource.py).

- tracepoint (kernel 6.14+): CAP_CHOWN is a need; the kernel's noaudit CAP_SYS_ADMIN probes on
  mmap and exec are a note, not a refused need.
- kprobe (kernels with kprobes): the same, from cap_capable's opts. Marked kernel_feature too:
  this lab host and its CI have no kprobes (CONFIG_KPROBES off), which no set-up can provide, so
  there its skip is not a CI failure (tests/conftest.py).
- off: no capabilities, said in the metadata and the summary; emit refuses a caps line.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from profiler.kernel import capsource
from profiler.recording import recording_io
from profiler.session.preflight import TRACEFS_DIRS

from test_record_integration import run

pytestmark = pytest.mark.root


def _record(sample_image, require_root, out: Path, source: str):
    sample = sample_image("probe")
    proc = run(["record", sample.image, "--capabilities", source, "-o", str(out)])
    assert proc.returncode == 0, proc.stderr
    return recording_io.load(out), sample.expected, proc.stderr


def _needs(source: str):
    why = capsource.detect(TRACEFS_DIRS).missing(source)
    if why:
        pytest.skip(f"capability source {source} is missing here: {why}")


def _assert_probe_caps(rec, exp, stderr, source):
    assert rec.metadata.capability_source == source
    granted = {c.name for c in rec.capabilities if c.granted}
    refused = {c.name for c in rec.capabilities if c.denied}
    assert set(exp["capabilities"]["required"]) <= granted, granted
    assert not set(exp["capabilities"]["absent"]) & granted, granted
    # mmap and exec ask for CAP_SYS_ADMIN with CAP_OPT_NOAUDIT: a probe, not a refused need
    assert "CAP_SYS_ADMIN" not in refused, refused
    assert "capability checks refused" not in stderr, stderr
    assert "CAP_SYS_ADMIN:" in stderr and "choose a code path" in " ".join(stderr.split())


def test_tracepoint_path(sample_image, require_root, tmp_path):
    _needs(capsource.TRACEPOINT)
    _assert_probe_caps(*_record(sample_image, require_root, tmp_path / "tp.recording.yaml",
                                capsource.TRACEPOINT), capsource.TRACEPOINT)


@pytest.mark.kernel_feature
def test_kprobe_path(sample_image, require_root, tmp_path):
    _needs(capsource.KPROBE)
    _assert_probe_caps(*_record(sample_image, require_root, tmp_path / "kp.recording.yaml",
                                capsource.KPROBE), capsource.KPROBE)


def test_capabilities_off(sample_image, require_root, tmp_path):
    out = tmp_path / "off.recording.yaml"
    rec, _exp, stderr = _record(sample_image, require_root, out, "off")
    assert rec.metadata.capability_source == "none" and rec.capabilities == ()
    assert "not recorded" in stderr and "--caps-unknown" in " ".join(stderr.split())
    proc = run(["emit", str(out), "--format", "caps"])
    assert proc.returncode == 2 and proc.stdout == "", proc.stdout
    assert "capabilities were not recorded" in proc.stderr
    proc = run(["emit", str(out), "--format", "caps", "--caps-unknown", "keep-default"])
    assert proc.returncode == 0 and "--cap-drop" not in proc.stdout
