"""`profiler diff` as users and CI run it: the installed command in a subprocess, golden outputs
for every format, exit codes, and one-line errors for bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import diffcases
from profiler.diff import diff, diff_render

REPO = Path(__file__).resolve().parents[2]
GOLDEN = REPO / "tests" / "golden" / "diff"
PROFILER = Path(sys.executable).parent / "profiler"
EXT = {"text": "txt", "markdown": "md", "json": "json"}


def run(args, cwd, env=None):
    e = {**os.environ, "NO_COLOR": "1", **(env or {})}
    return subprocess.run([str(PROFILER), "diff", *args], cwd=cwd, capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, env=e, timeout=120)


@pytest.fixture
def cases(tmp_path):
    diffcases.write_recordings(tmp_path)
    diffcases.write_policy(tmp_path / "policy-old")
    diffcases.write_policy(tmp_path / "policy-new", escalate=True)
    for name, escalate in (("old", False), ("new", True)):
        (tmp_path / f"seccomp-{name}.json").write_text(
            (tmp_path / f"policy-{name}" / "seccomp.json").read_text())
    return tmp_path


def check_golden(name: str, text: str, update: bool) -> None:
    path = GOLDEN / name
    if update:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return
    assert path.exists(), f"{path} missing: run pytest --update-golden"
    assert text == path.read_text(), f"{name} differs from its golden file (--update-golden)"


GOLDEN_CASES = {
    "escalation": ("baseline.recording.yaml", "escalated.recording.yaml", 1),
    "narrowing": ("baseline.recording.yaml", "narrowed.recording.yaml", 0),
    "equal": ("baseline.recording.yaml", "same.recording.yaml", 0),
    "policy-escalation": ("policy-old", "policy-new", 1),
    "seccomp-escalation": ("seccomp-old.json", "seccomp-new.json", 1),
}


@pytest.mark.parametrize("fmt", ["text", "markdown", "json"])
@pytest.mark.parametrize("case", sorted(GOLDEN_CASES))
def test_golden(cases, case, fmt, update_golden):
    old, new, code = GOLDEN_CASES[case]
    proc = run([old, new, "--format", fmt], cases)
    assert proc.returncode == code, proc.stderr
    assert proc.stderr == ""
    if fmt == "json":
        data = json.loads(proc.stdout)
        assert data["escalation"] is (code == 1)
        assert proc.stdout == json.dumps(data, indent=2, sort_keys=True) + "\n"
    check_golden(f"{case}.{EXT[fmt]}", proc.stdout, update_golden)


@pytest.mark.parametrize("case,fail_on,code", [
    ("escalation", "escalation", 1), ("escalation", "any", 1), ("escalation", "never", 0),
    ("narrowing", "escalation", 0), ("narrowing", "any", 1), ("narrowing", "never", 0),
    ("equal", "escalation", 0), ("equal", "any", 0), ("equal", "never", 0),
])
def test_exit_codes(cases, case, fail_on, code):
    old, new, _ = GOLDEN_CASES[case]
    proc = run([old, new, "--format", "json", "--fail-on", fail_on], cases)
    assert proc.returncode == code, proc.stderr


def _one_line_error(proc, *needles):
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert lines[0].startswith("error: ") and len(lines) <= 2, proc.stderr
    assert len(lines) == 1 or lines[1].startswith("hint: ")
    for n in needles:
        assert n in lines[0], proc.stderr


def test_missing_file(cases):
    _one_line_error(run(["baseline.recording.yaml", "nope.yaml"], cases),
                    "nope.yaml: no such file or directory")


def test_mixed_kinds(cases):
    _one_line_error(run(["baseline.recording.yaml", "policy-new"], cases),
                    "cannot compare a recording", "with a policy directory")
    _one_line_error(run(["seccomp-old.json", "policy-new"], cases),
                    "cannot compare a seccomp profile")


def test_corrupt_yaml(cases):
    text = (cases / "baseline.recording.yaml").read_text()
    (cases / "cut.yaml").write_text(text[: len(text) // 2] + "\n  - [unclosed\n")
    _one_line_error(run(["baseline.recording.yaml", "cut.yaml"], cases), "cut.yaml")


def test_not_a_recording(cases):
    (cases / "list.yaml").write_text("- 1\n- 2\n")
    _one_line_error(run(["list.yaml", "baseline.recording.yaml"], cases), "list.yaml")
    (cases / "bad.yaml").write_text("schema_version: '1.0'\nmetadata: {}\n")
    _one_line_error(run(["bad.yaml", "baseline.recording.yaml"], cases), "bad.yaml: invalid")


def test_corrupt_json(cases):
    (cases / "cut.json").write_text('{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [')
    _one_line_error(run(["seccomp-old.json", "cut.json"], cases), "cut.json: not valid JSON")


def test_corrupt_file_in_policy_directory(cases):
    (cases / "policy-new" / "seccomp.json").write_text("{ nope")
    _one_line_error(run(["policy-old", "policy-new"], cases),
                    "policy-new/seccomp.json: not valid JSON")


def test_empty_directory(cases):
    (cases / "empty").mkdir()
    _one_line_error(run(["policy-old", "empty"], cases), "empty: a directory without any of")


def test_binary_file(cases):
    (cases / "blob.yaml").write_bytes(b"\xff\xfe\x00binary")
    _one_line_error(run(["blob.yaml", "baseline.recording.yaml"], cases), "not a text file")


def test_bad_option_value_is_a_usage_error(cases):
    proc = run(["baseline.recording.yaml", "same.recording.yaml", "--fail-on", "sometimes"], cases)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr


def _terminal(text: str) -> str:
    from rich.console import Console
    console = Console(force_terminal=True, color_system="standard", width=300, soft_wrap=True,
                      highlight=False)
    with console.capture() as cap:
        console.print(diff_render.styled(text), end="")
    return cap.get()


def test_colour_only_on_a_terminal(cases):
    from profiler.diff.diff_load import load_pair
    report = diff.compare(*load_pair(str(cases / "baseline.recording.yaml"),
                                     str(cases / "escalated.recording.yaml")))
    plain = diff_render.render(report, "text")
    marked = diff_render.render(report, "text", colour=True)
    assert "\x1b" not in plain and "\ue000" not in plain
    assert "\x1b[1;31mhigh" in _terminal(marked)
    # without its styles, the coloured form reads exactly as the plain one
    assert diff_render.styled(marked).plain == plain


def test_container_strings_are_escaped(tmp_path):
    from dataclasses import replace
    from profiler.recording import recording_io
    from profiler.recording.model import FileAccess
    base = diffcases.baseline()
    evil = "/tmp/x|y`z[bold]\x1b[31m@here<b>\ue000red\ue001\\"
    recording_io.save(base, tmp_path / "a.yaml")
    recording_io.save(replace(base, files=base.files + (FileAccess(evil, ("read",)),)),
                      tmp_path / "b.yaml")
    from profiler.diff.diff_load import load_pair
    report = diff.compare(*load_pair(str(tmp_path / "a.yaml"), str(tmp_path / "b.yaml")))
    md = diff_render.render(report, "markdown")
    row = next(l for l in md.splitlines() if "here" in l and "| files |" in l)
    assert "\x1b" not in md and "\\x1b" in row and "\ue000" not in md
    assert row.count(" | ") == 4  # the cell's | is escaped: still five columns
    assert "`` " in row  # a backtick inside: a longer code span fence
    shown = r"/tmp/x|y`z\[bold\]\x1b\[31m\@here<b>\ue000red\ue001\\"
    plain = diff_render.render(report, "text")
    assert shown in plain
    # on a terminal the same characters appear, none taken as markup or style
    line = next(l for l in _terminal(diff_render.render(report, "text", colour=True))
                .splitlines() if "here" in l and " files " in l)
    assert shown in line


def test_directories_written_by_emit(tmp_path):
    """The policy directories `profiler emit --format all` really writes: the same behaviour
    diffs clean, the escalated recording's policy is an escalation."""
    recs = diffcases.write_recordings(tmp_path)
    for name in ("baseline", "same", "escalated"):
        proc = subprocess.run([str(PROFILER), "emit", str(recs[name]), "--format", "all",
                               "-o", str(tmp_path / name)], capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, timeout=120)
        assert proc.returncode == 0, proc.stderr
    same = run(["baseline", "same", "--format", "json", "--fail-on", "any"], tmp_path)
    assert same.returncode == 0, same.stdout + same.stderr
    esc = run(["baseline", "escalated", "--format", "json"], tmp_path)
    assert esc.returncode == 1, esc.stderr
    data = json.loads(esc.stdout)
    assert data["kind"] == "policy" and data["notes"] == []
    got = {(e["section"], e["item"]): e["risk"] for e in data["added"]}
    assert got[("syscalls", "mount")] == "high"
    assert got[("capabilities", "CAP_SYS_ADMIN")] == "high"
    assert got[("capabilities", "CAP_CHOWN")] == "low"
    assert got[("executables", "/bin/sh")] == "medium"
    # the directory it made is generalised to its data tree (profiler/policy/generalise.py), and the
    # syscalls generalised with mkdir are low-risk additions
    assert got[("files", "/var/lib/web/**")] == "medium"
    assert got[("syscalls", "rmdir")] == "low"
    assert ("run", "--read-only") in got and ("run", "--user") in got
