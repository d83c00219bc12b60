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
    (["--interval", "0", "--follow"], "positive"),
    (["--duration", "5"], "--duration is for --follow"),
])
def test_bad_options(tmp_path, args, words):
    p = _run("-o", str(tmp_path / "h"), *args)
    assert p.returncode == 2, p.stderr
    assert words in p.stderr and "Traceback" not in p.stderr
    assert p.stderr.startswith("error:") and len(p.stderr.strip().splitlines()) <= 2
    assert not (tmp_path / "h").exists()


def test_a_directory_that_is_not_a_harvest_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    p = _run("-o", str(tmp_path))
    assert p.returncode == 2 and "holds no harvest" in p.stderr and "hint:" in p.stderr
    assert sorted(x.name for x in tmp_path.iterdir()) == ["notes.txt"]


def test_a_damaged_state_is_refused_and_kept(tmp_path):
    (tmp_path / "state.json").write_text('{"kind": "profiler-harvest-state", "vers')
    p = _run("-o", str(tmp_path))
    assert p.returncode == 2 and "state.json" in p.stderr and "Traceback" not in p.stderr
    assert (tmp_path / "state.json").read_text().endswith('"vers')
