"""Usage errors are bad input too (DEVELOPERS' guide: one clear line, a hint, a non-zero exit):
a wrong option, a bad option value, a missing argument or an unknown command gives
`error: ...` and `hint: see profiler ... --help`, exit 2, not click's usage block and panel."""

from __future__ import annotations

import subprocess
import sys

import pytest


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "profiler.cli", *args], capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("args, says, hint", [
    (("emit", "--fromat", "x"), "No such option: --fromat", "profiler emit --help"),
    (("emit", "-f", "bogus", "x"), "'bogus' is not one of", "profiler emit --help"),
    (("diff",), "Missing argument", "profiler diff --help"),
    (("promote", "--quiet-for"), "requires an argument", "profiler promote --help"),
    (("bogus",), "No such command 'bogus'", "profiler --help"),
])
def test_a_usage_error_is_one_line_and_a_hint(args, says, hint):
    proc = _run(*args)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 2, proc.stderr
    assert lines[0].startswith("error: ") and says in lines[0], proc.stderr
    assert lines[1] == f"hint: see `{hint}`", proc.stderr
    assert proc.stdout == ""


def test_help_and_version_still_exit_0():
    assert _run("--version").returncode == 0
    proc = _run("emit", "--help")
    assert proc.returncode == 0 and "Usage" in proc.stdout
