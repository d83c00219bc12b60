"""`profiler harvest` on bad input: one line, a hint where it helps, exit 2, nothing written."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

ENV = {**os.environ, "COLUMNS": "200"}


def _run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "profiler.cli", "harvest", *args],
                          capture_output=True, text=True, env=ENV, cwd=cwd, timeout=60)


@pytest.mark.parametrize("args, words", [
    (["--match", "nolabel"], "expected LABEL=VALUE"),
    (["--match", "a=b", "--container", "x"], "cannot be combined"),
    (["--container", "x", "--interval", "0", "--follow"], "positive"),
    (["--container", "x", "--duration", "5"], "--duration is for --follow"),
    ([], "say which containers"),
    (["--match", "a=b", "--source", "netlink"], "live only"),
])
def test_bad_options(tmp_path, args, words):
    p = _run("-o", str(tmp_path / "h"), *args)
    assert p.returncode == 2, p.stderr
    assert words in p.stderr and "Traceback" not in p.stderr
    assert p.stderr.startswith("error:") and len(p.stderr.strip().splitlines()) <= 2
    assert not (tmp_path / "h").exists()


def test_a_directory_that_is_not_a_harvest_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    p = _run("-o", str(tmp_path), "--container", "x")
    assert p.returncode == 2 and "holds no harvest" in p.stderr and "hint:" in p.stderr
    assert sorted(x.name for x in tmp_path.iterdir()) == ["notes.txt"]


def test_a_damaged_state_is_refused_and_kept(tmp_path):
    (tmp_path / "state.json").write_text('{"kind": "profiler-harvest-state", "vers')
    p = _run("-o", str(tmp_path), "--container", "x")
    assert p.returncode == 2 and "state.json" in p.stderr and "Traceback" not in p.stderr
    assert (tmp_path / "state.json").read_text().endswith('"vers')


def test_help_says_what_cannot_be_harvested_and_what_to_use_instead():
    p = subprocess.run([sys.executable, "-m", "profiler.cli", "harvest", "--help"],
                       capture_output=True, text=True, env=ENV, timeout=60)
    text = " ".join(p.stdout.split())
    assert p.returncode == 0
    assert "cannot be harvested" in text and "record --container NAME" in text
    assert "1.6x" in text


@pytest.mark.skipif(os.path.exists("/var/log/audit/audit.log"), reason="auditd's log is here")
def test_a_source_that_cannot_be_read_leaves_no_directory(tmp_path):
    """Found by a new user's try-out: the error came after the output directory was made."""
    p = _run("-o", str(tmp_path / "h"), "--match", "a=b", "--source", "audit.log")
    assert p.returncode == 2 and "audit.log" in p.stderr and "Traceback" not in p.stderr
    assert not (tmp_path / "h").exists()
