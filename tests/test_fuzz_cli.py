"""Bad input through the CLI (issue 20, item 4): `emit`, `diff` and `verify` given the fuzzed
inputs of test_fuzz_readers.py. What a user sees for input we refuse: exit 2, exactly one
`error:` line on stderr (a hint may follow), no traceback, no "internal error", and no output
file. Input we accept emits (exit 0) and writes its file.

Hypothesis drives the commands in this process (cli._run: what main runs, without its
os._exit); a sample of the hostile cases runs the real entry point in a child process, where a
crash of the interpreter (the segmentation fault deep YAML caused) or a hang would show."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import assume, given, strategies as st

from emitcases import GOLDEN, NGINX
from fuzzing import (HOSTILE_DOCUMENTS, NOT_UTF8, corrupted, count, dump_json, dump_yaml,
                     examples, mutated, place, special_paths)
from projectcases import make_project
from profiler import cli
from profiler.verify import verify, verify_compose
from profiler.errors import ProfilerError
from test_fuzz_readers import (COMPOSE, COMPOSE_TEXT, INDEX, POLICY_TEXTS, RECORDING,
                               RECORDING_TEXT, SECCOMP_PROFILE, like_record, policy_texts)

PROFILER = [sys.executable, "-m", "profiler.cli"]
IMAGE = "profiler-fuzz-never-run:none"  # verify never gets as far as the engine here


def run(*args) -> tuple[int, str, str]:
    """The CLI in this process: (exit code, stdout, stderr)."""
    args = [str(a) for a in args]
    out, err = io.StringIO(), io.StringIO()
    # _run registers the command on the app each time (a process runs one command); without
    # this the app would hold one more copy per example and build them all every time.
    cli.app.registered_commands.clear()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli._run(args, args[0])
    return code, out.getvalue(), err.getvalue()


def assert_refused(code: int, stderr: str, *outputs: Path) -> None:
    assert "Traceback" not in stderr, stderr
    assert "internal error" not in stderr, stderr
    assert code == 2, (code, stderr)
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("error:")]
    assert len(errors) == 1, stderr
    assert all(ln.startswith(("error:", "hint:")) for ln in lines), stderr
    for out in outputs:
        assert not os.path.lexists(out), f"{out} written by a refused run"


def assert_refused_or_done(cmd: str, code: int, stderr: str, output: Path) -> None:
    count(f"cli-{cmd}")
    if code == 0:
        assert output.exists(), stderr
    else:
        assert_refused(code, stderr, output)


# --- emit ----------------------------------------------------------------------------------------

@examples(120)
@given(st.one_of(mutated(RECORDING).map(like_record), corrupted(RECORDING_TEXT),
                 st.sampled_from(sorted(HOSTILE_DOCUMENTS.values()))))
def test_emit_a_fuzzed_recording(text):
    with tempfile.TemporaryDirectory() as d:
        rec, out = Path(d) / "x.recording.yaml", Path(d) / "out"
        rec.write_text(text)
        code, _, err = run("emit", rec, "--format", "all", "-o", out)
        assert_refused_or_done("emit", code, err, out)


@examples(50)
@given(mutated(INDEX))
def test_emit_a_project_with_a_fuzzed_index(project_dir, doc):
    with tempfile.TemporaryDirectory() as d:
        p, out = Path(d) / "p", Path(d) / "out"
        shutil.copytree(project_dir, p)
        (p / "index.yaml").write_text(dump_yaml(doc))
        code, _, err = run("emit", p, "--format", "all", "-o", out)
        assert_refused_or_done("emit", code, err, out)


@pytest.fixture(scope="module")
def project_dir(tmp_path_factory) -> Path:
    return make_project(tmp_path_factory.mktemp("fuzz-cli-project") / "p")


# --- diff ----------------------------------------------------------------------------------------

@examples(100)
@given(st.one_of(mutated(RECORDING).map(like_record), mutated(SECCOMP_PROFILE).map(dump_json),
                 corrupted(RECORDING_TEXT), st.text(max_size=100)))
def test_diff_a_fuzzed_side(text):
    with tempfile.TemporaryDirectory() as d:
        side = Path(d) / "new.yaml"
        side.write_text(text)
        code, out, err = run("diff", NGINX, side, "--format", "json")
        count("cli-diff")
        if code in (0, 1):  # compared: escalation (1) or not (0)
            assert json.loads(out)
        else:
            assert_refused(code, err)
            assert out == ""


# --- verify: only what it refuses before running anything ----------------------------------------

@examples(80)
@given(policy_texts())
def test_verify_a_fuzzed_policy_dir(texts):
    with tempfile.TemporaryDirectory() as d:
        for name, text in texts.items():
            (Path(d) / name).write_text(text)
        try:
            verify.load_policy_dir(d)
        except ProfilerError:
            pass
        else:
            assume(False)  # a valid policy: verify would run the image
        code, _, err = run("verify", IMAGE, "--policy", d)
        count("cli-verify")
        assert_refused(code, err)


@pytest.fixture(scope="module")
def emitted(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("fuzz-cli-emitted")
    code, _, err = run("emit", make_project(base / "rec"), "--format", "all", "-o", base / "out")
    assert code == 0, err
    return base / "out"


@examples(60)
@given(st.one_of(mutated(COMPOSE).map(dump_yaml), corrupted(COMPOSE_TEXT)))
def test_verify_compose_a_fuzzed_compose_file(emitted, text):
    with tempfile.TemporaryDirectory() as d:
        compose = Path(d) / "compose.yaml"
        compose.write_text(text)
        try:
            verify_compose.read_policies(emitted, compose)
        except ProfilerError:
            pass
        else:
            assume(False)  # valid: verify would bring the project up
        code, _, err = run("verify", "--compose", compose, "--policy", emitted)
        count("cli-verify")
        assert_refused(code, err)


# --- the real entry point, for a sample of hostile inputs ---------------------------------------

def child(*args, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([*PROFILER, *map(str, args)], capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL,
                          env={**os.environ, **(env or {})})


SAMPLE = ("deep-flow-sequence", "billion-laughs", "recursive-alias", "huge-int", "bad-date",
          "nul", "deep-json")


@pytest.mark.parametrize("name", SAMPLE)
def test_entry_point_emit_hostile_recording(tmp_path, name):
    rec, out = tmp_path / "x.recording.yaml", tmp_path / "out.json"
    rec.write_text(HOSTILE_DOCUMENTS[name])
    proc = child("emit", rec, "-o", out)
    count("cli-emit")
    assert_refused(proc.returncode, proc.stderr, out)


@pytest.mark.parametrize("name", SAMPLE)
def test_entry_point_diff_hostile_side(tmp_path, name):
    side = tmp_path / "side.json"
    side.write_text(HOSTILE_DOCUMENTS[name])
    proc = child("diff", NGINX, side)
    count("cli-diff")
    assert_refused(proc.returncode, proc.stderr)
    assert proc.stdout == ""


@pytest.mark.parametrize("kind", ("fifo", "dev-zero", "directory", "dangling"))
def test_entry_point_special_files(tmp_path, kind):
    special = special_paths(tmp_path / "special")
    rec = tmp_path / "x.recording.yaml"
    place(rec, kind, special)
    pol = tmp_path / "policy"
    pol.mkdir()
    for name, text in POLICY_TEXTS.items():
        (pol / name).write_text(text)
    place(pol / "seccomp.json", kind, special)
    compose = tmp_path / "compose.yaml"
    place(compose, kind, special)
    out = tmp_path / "out"
    runs = [child("emit", rec, "-o", out), child("diff", rec, NGINX),
            child("verify", IMAGE, "--policy", pol),
            child("verify", "--compose", compose, "--policy", pol)]
    if kind == "directory":  # emit and diff take a directory as a project or policy
        runs = runs[2:]
    for proc in runs:
        count("cli-" + proc.args[3])
        assert_refused(proc.returncode, proc.stderr, out)


@pytest.mark.parametrize("name", sorted(NOT_UTF8))
def test_entry_point_not_utf8(tmp_path, name):
    rec, out = tmp_path / "x.recording.yaml", tmp_path / "out"
    rec.write_bytes(NOT_UTF8[name])
    proc = child("emit", rec, "-o", out)
    count("cli-emit")
    assert_refused(proc.returncode, proc.stderr, out)


def test_entry_point_too_big(tmp_path):
    rec, out = tmp_path / "x.recording.yaml", tmp_path / "out"
    rec.write_text(RECORDING_TEXT)
    proc = child("emit", rec, "-o", out, env={"PROFILER_MAX_INPUT_MB": "0.001"})
    count("cli-emit")
    assert_refused(proc.returncode, proc.stderr, out)
    assert "PROFILER_MAX_INPUT_MB" in proc.stderr


def test_a_newline_in_a_quoted_value_stays_one_line(tmp_path):
    """An error that quotes the input (here the schema version) is still one line."""
    rec, out = tmp_path / "x.recording.yaml", tmp_path / "out"
    first, rest = RECORDING_TEXT.split("\n", 1)
    assert first.startswith("schema_version:")
    rec.write_text('schema_version: "9\\nerror: forged\\n"\n' + rest)
    proc = child("emit", rec, "-o", out)
    assert_refused(proc.returncode, proc.stderr, out)
    assert "9\\nerror: forged" in proc.stderr


def test_the_unmodified_inputs_are_accepted(tmp_path, emitted):
    """The fuzz tests' starting points pass (the properties would hold vacuously otherwise)."""
    out = tmp_path / "out"
    assert run("emit", NGINX, "--format", "all", "-o", out)[0] == 0
    assert run("diff", NGINX, NGINX)[0] == 0
    assert isinstance(verify.load_policy_dir(out), verify.RunPolicy)
    compose = tmp_path / "compose.yaml"
    compose.write_text(COMPOSE_TEXT)
    policies, _ = verify_compose.read_policies(emitted, compose)
    assert sorted(policies) == sorted(COMPOSE["services"])
