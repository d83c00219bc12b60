"""`profiler diff` on real recordings (root, eBPF, Docker; must not skip under CI=true).

Two recordings of the probe sample doing the same thing must diff clean: what differs between
the runs (pids, container ids, timestamps, counts) is noise that normalisation removes. The
probe's `mkdir-chown` variant (samples/probe/probe.c: also mkdir /tmp/extra and chown it to
1000:1000) must be an escalation that names the new mkdir and chown, and CAP_CHOWN as the reason
the chown is a risk.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from profiler.recording import recording_io

REPO = Path(__file__).resolve().parents[2]
PROFILER = REPO / ".venv" / "bin" / "profiler"

pytestmark = pytest.mark.root


def profiler(*args, timeout=180):
    return subprocess.run([str(PROFILER), *args], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=timeout)


@pytest.fixture(scope="module")
def probe_runs(tmp_path_factory, sample_image):
    from conftest import _bpf_unusable_reason

    if reason := _bpf_unusable_reason():
        pytest.skip(reason)
    sample = sample_image("probe")
    d = tmp_path_factory.mktemp("diff-probe")
    runs = {"a": [], "b": [], "extra": ["--", "mkdir-chown"]}
    for name, extra in runs.items():
        proc = profiler("record", sample.image, "-o", str(d / f"{name}.yaml"), *extra)
        assert proc.returncode == 0, proc.stderr
    return d


def test_two_recordings_of_the_same_run_diff_clean(probe_runs):
    a, b = recording_io.load(probe_runs / "a.yaml"), recording_io.load(probe_runs / "b.yaml")
    assert a.metadata.started_at != b.metadata.started_at  # really two runs
    proc = profiler("diff", str(probe_runs / "a.yaml"), str(probe_runs / "b.yaml"),
                    "--format", "json", "--fail-on", "any")
    data = json.loads(proc.stdout)
    assert (data["added"], data["removed"]) == ([], []), proc.stdout
    assert proc.returncode == 0, proc.stderr


def test_mkdir_chown_is_an_escalation_naming_them(probe_runs):
    old, new = str(probe_runs / "a.yaml"), str(probe_runs / "extra.yaml")
    proc = profiler("diff", old, new, "--format", "json")
    assert proc.returncode == 1, proc.stderr
    data = json.loads(proc.stdout)
    assert data["escalation"] is True
    added = {(e["section"], e["item"]): e for e in data["added"]}
    extra = added[("files", "/tmp/extra")]
    assert {"mkdir", "chown"} <= set(extra["detail"].split(", "))
    assert extra["risk"] == "medium" and "CAP_CHOWN" in extra["reason"]
    # The standard run already chowns /tmp/probe/owned to 1000 (samples/probe/expected.yaml),
    # so CAP_CHOWN, mkdirat and fchownat are needed on both sides: the diff must not call them
    # new, and NEW's recording must hold them as the evidence for the chown.
    rec = recording_io.load(new)
    assert {"mkdirat", "fchownat"} <= rec.syscall_names
    assert any(c.name == "CAP_CHOWN" and c.granted for c in rec.capabilities)
    assert ("capabilities", "CAP_CHOWN") not in added
    # the same, as a pull-request comment
    md = profiler("diff", old, new, "--format", "markdown")
    assert md.returncode == 1
    assert md.stdout.startswith("### profiler diff: privilege escalation")
    assert "| files | `/tmp/extra` |" in md.stdout
    # and backwards it is a narrowing
    back = profiler("diff", new, old, "--format", "json")
    assert back.returncode == 0
    assert json.loads(back.stdout)["removed"]
