"""Every reader of user input, fuzzed (issue 20, item 4): recordings (YAML and JSON lines),
project indexes, seccomp profiles, policy directories, compose files and overrides, and the
diff's side detection, given malformed, truncated, hostile and huge input and files that are
no regular file. The property is the same everywhere (fuzzing.returns_or_refuses): a typed
object, or the project's own error (profiler/errors.py) - never another exception, a hang or a
crash of the interpreter. What the CLI prints for the same inputs: test_fuzz_cli.py."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import given, strategies as st

from emitcases import GOLDEN, NGINX
from fuzzing import (HOSTILE_DOCUMENTS, NOT_UTF8, corrupted, dump_json, dump_yaml, examples,
                     mutated, place, returns_or_refuses, special_paths)
from projectcases import make_project
from profiler import safe_input
from profiler.diff import diff, diff_load, project_diff
from profiler.diff.diff import Facts
from profiler.errors import ProfilerError
from profiler.output import policy_dir
from profiler.output.policy_dir import (APPARMOR, CAPS, RUN, SECCOMP, PolicyFiles,
                                        PolicyFormatError)
from profiler.output.project_tree import OVERRIDE_FILE
from profiler.recording import project, recording_io
from profiler.recording.model import Recording
from profiler.session import longrun
from profiler.verify import verify, verify_compose

PROFILER = [sys.executable, "-m", "profiler.cli"]
RECORDING_TEXT = recording_io.dumps(recording_io.load(NGINX))
RECORDING = yaml.safe_load(RECORDING_TEXT)
SECCOMP_PROFILE = json.loads((GOLDEN / "nginx.seccomp.json").read_text())
POLICY_TEXTS = {SECCOMP: (GOLDEN / "nginx.seccomp.json").read_text(),
                CAPS: (GOLDEN / "nginx.caps.txt").read_text(),
                RUN: (GOLDEN / "nginx.run.sh").read_text(),
                APPARMOR: (GOLDEN / "nginx.apparmor.profile").read_text()}


def like_record(doc) -> str:
    """A decoded recording written the way recording_io.dumps writes one (long lists as JSON
    lines, the rest YAML), whatever the values are, so the fast reader is fuzzed too."""
    if not isinstance(doc, dict):
        return dump_yaml(doc)
    out = []
    for key, value in doc.items():
        if key in recording_io.LINE_LISTS and isinstance(value, list) and value:
            out.append(f"{key}:\n")
            out += [f"- {json.dumps(item)}\n" for item in value]
        else:
            out.append(dump_yaml({key: value}))
    return "".join(out)


# --- recordings ----------------------------------------------------------------------------------

def _recording(text: str, reader: str = "recording"):
    rec = returns_or_refuses(reader, recording_io.loads, text, "fuzz.recording.yaml",
                             expect_type=Recording)
    if isinstance(rec, Recording):  # a valid one: it writes and reads back the same
        assert recording_io.loads(recording_io.dumps(rec)) == rec
    return rec


@examples(250)
@given(mutated(RECORDING))
def test_recording_mutated_as_recorded(doc):
    _recording(like_record(doc))


@examples(150)
@given(mutated(RECORDING), st.sampled_from([dump_yaml, dump_json]))
def test_recording_mutated_as_yaml_or_json(doc, dump):
    _recording(dump(doc))


@examples(200)
@given(corrupted(RECORDING_TEXT))
def test_recording_text_corrupted(text):
    _recording(text)


@examples(150)
@given(st.one_of(mutated(RECORDING).map(like_record), corrupted(RECORDING_TEXT)))
def test_a_fuzzed_recording_to_resume_is_refused_or_merged(text):
    """record --resume reads what -o holds (session/longrun.py): refused with the project's
    error, or merged with a new run's recording into one that writes and reads back."""
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "x.recording.yaml"
        path.write_text(text, encoding="utf-8", errors="surrogateescape")
        previous = returns_or_refuses("resume", longrun.previous_recording, path)
        if isinstance(previous, Recording):
            merged = longrun.resumed(previous, recording_io.load(NGINX))
            assert recording_io.loads(recording_io.dumps(merged)) == merged


@pytest.mark.parametrize("name", sorted(HOSTILE_DOCUMENTS))
def test_recording_hostile(name):
    e = _recording(HOSTILE_DOCUMENTS[name])
    assert isinstance(e, ProfilerError), name


def test_recording_unmodified_still_loads():
    assert isinstance(_recording(RECORDING_TEXT), Recording)


# --- files that are no regular file, and files too big: every reader that opens a path --------

def _readers(base: Path) -> dict:
    """reader name -> (path it opens, call)."""
    proj = make_project(base / "project")
    pol = base / "policy"
    pol.mkdir()
    for name, text in POLICY_TEXTS.items():
        (pol / name).write_text(text)
    compose = base / "compose.yaml"
    compose.write_text("services:\n  web: {image: x}\n")
    rec = base / "r.recording.yaml"
    rec.write_text(RECORDING_TEXT)
    seccomp = base / "seccomp.json"
    seccomp.write_text(POLICY_TEXTS[SECCOMP])
    return {
        "recording": (rec, lambda: recording_io.load(rec)),
        "index": (proj / project.INDEX_FILE, lambda: project.read(proj)),
        "policy-dir": (pol / SECCOMP, lambda: verify.load_policy_dir(pol)),
        "policy-dir-caps": (pol / CAPS, lambda: diff_load.policy_dir_facts(pol, "pol")),
        "seccomp": (seccomp, lambda: diff_load.load(str(seccomp))),
        "diff-side": (rec, lambda: diff_load.load(str(rec))),
        "compose": (compose, lambda: safe_input.compose_file(compose, "hint")),
    }


READERS = ("recording", "index", "policy-dir", "policy-dir-caps", "seccomp", "diff-side",
           "compose")
KINDS = ("fifo", "dev-zero", "dev-null", "directory", "dangling", "loop")


@pytest.mark.parametrize("kind", KINDS)
def test_special_files_are_refused_in_one_line(tmp_path, kind):
    special = special_paths(tmp_path / "special")
    for reader in READERS:
        target, call = _readers(tmp_path / reader)[reader]  # each in a directory of its own
        place(target, kind, special)
        e = returns_or_refuses(f"{reader}", call)
        assert isinstance(e, ProfilerError), (reader, kind, e)
        assert "\n" not in e.message


def test_special_files_do_not_block_or_hang():
    """A FIFO with no writer: the read is refused before open(), in a child with a timeout
    (a regression would hang there, not here)."""
    code = ("import os, sys, tempfile\n"
            "from profiler.recording import recording_io\n"
            "d = tempfile.mkdtemp(); p = os.path.join(d, 'x.recording.yaml'); os.mkfifo(p)\n"
            "try:\n    recording_io.load(p)\nexcept Exception as e:\n    print(e)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert "is a FIFO, not a file" in proc.stdout, proc.stdout + proc.stderr


@pytest.mark.parametrize("name", sorted(NOT_UTF8))
def test_non_utf8_files_are_refused(tmp_path, name):
    for reader in READERS:
        target, call = _readers(tmp_path / reader)[reader]
        target.write_bytes(NOT_UTF8[name])
        e = returns_or_refuses(reader, call)
        assert isinstance(e, ProfilerError), (reader, e)


def test_files_over_the_limit_are_refused_with_the_way_out(tmp_path, monkeypatch):
    for reader in READERS:
        target, call = _readers(tmp_path / reader)[reader]
        monkeypatch.setenv("PROFILER_MAX_INPUT_MB", "0.001")  # 1 KiB: every file is over it
        target.write_text(target.read_text() + "#" * 2048 + "\n")
        e = returns_or_refuses(reader, call)
        assert isinstance(e, ProfilerError), (reader, e)
        assert "larger than 1,048 bytes" in e.message, e.message
        assert "PROFILER_MAX_INPUT_MB" in e.hint
        monkeypatch.delenv("PROFILER_MAX_INPUT_MB")


def test_a_huge_file_is_refused_without_reading_it(tmp_path, monkeypatch):
    """A sparse file of 1 TiB: refused from its size; nothing is read."""
    big = tmp_path / "huge.recording.yaml"
    with open(big, "wb") as f:
        f.truncate(1 << 40)
    with pytest.raises(ProfilerError, match="larger than 64 MiB"):
        recording_io.load(big)


# --- project indexes -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def project_dir(tmp_path_factory) -> Path:
    return make_project(tmp_path_factory.mktemp("fuzz-project") / "p")


def _index_text() -> str:
    with tempfile.TemporaryDirectory() as d:
        return (make_project(Path(d) / "p") / project.INDEX_FILE).read_text()


INDEX_TEXT = _index_text()
INDEX = yaml.safe_load(INDEX_TEXT)


@examples(250)
@given(mutated(INDEX))
def test_index_mutated(doc):
    returns_or_refuses("index", project.loads, dump_yaml(doc), expect_type=project.Project)


@examples(150)
@given(corrupted(INDEX_TEXT))
def test_index_text_corrupted(text):
    returns_or_refuses("index", project.loads, text, expect_type=project.Project)


@pytest.mark.parametrize("name", sorted(HOSTILE_DOCUMENTS))
def test_index_hostile(name):
    e = returns_or_refuses("index", project.loads, HOSTILE_DOCUMENTS[name])
    assert isinstance(e, ProfilerError)


@examples(60)
@given(mutated(INDEX))
def test_index_mutated_in_a_project_diff(project_dir, doc):
    """The index as `diff OLD_DIR NEW_DIR` reads it (with the recordings it names)."""
    with tempfile.TemporaryDirectory() as d:
        new = Path(d) / "p"
        shutil.copytree(project_dir, new)
        (new / project.INDEX_FILE).write_text(dump_yaml(doc))
        returns_or_refuses("index", project_diff.compare_projects, str(project_dir), str(new),
                           expect_type=project_diff.ProjectDiff)


# --- seccomp profiles ----------------------------------------------------------------------------

@examples(300)
@given(mutated(SECCOMP_PROFILE, n_max=4))
def test_seccomp_mutated(doc):
    returns_or_refuses("seccomp", diff.facts_from_seccomp, doc, accept=(PolicyFormatError,),
                       expect_type=Facts)
    returns_or_refuses("seccomp", policy_dir.parse, {SECCOMP: dump_json(doc)},
                       accept=(PolicyFormatError,), expect_type=PolicyFiles)


@examples(150)
@given(corrupted(POLICY_TEXTS[SECCOMP]))
def test_seccomp_text_corrupted(text):
    returns_or_refuses("seccomp", policy_dir.parse, {SECCOMP: text},
                       accept=(PolicyFormatError,), expect_type=PolicyFiles)


@pytest.mark.parametrize("name", sorted(HOSTILE_DOCUMENTS))
def test_seccomp_hostile(tmp_path, name):
    f = tmp_path / "seccomp.json"
    f.write_text(HOSTILE_DOCUMENTS[name])
    returns_or_refuses("seccomp", diff_load.load, str(f), expect_type=Facts)


# --- policy directories --------------------------------------------------------------------------

@st.composite
def policy_texts(draw):
    """The four files of a policy directory, each kept, removed, corrupted or (seccomp.json)
    mutated."""
    texts = {}
    for name, text in POLICY_TEXTS.items():
        how = draw(st.sampled_from(["keep", "keep", "drop", "corrupt"] +
                                   (["mutate"] if name == SECCOMP else [])))
        if how == "keep":
            texts[name] = text
        elif how == "corrupt":
            texts[name] = draw(corrupted(text))
        elif how == "mutate":
            texts[name] = dump_json(draw(mutated(SECCOMP_PROFILE)))
    return texts


@examples(200)
@given(policy_texts())
def test_policy_dir_pure(texts):
    returns_or_refuses("policy-dir", policy_dir.parse, texts, accept=(PolicyFormatError,),
                       expect_type=PolicyFiles)
    returns_or_refuses("policy-dir", diff.facts_from_policy, texts, accept=(PolicyFormatError,),
                       expect_type=Facts)


@examples(120)
@given(policy_texts())
def test_policy_dir_on_disk(texts):
    """What verify --policy DIR and diff DIR DIR read, from files."""
    with tempfile.TemporaryDirectory() as d:
        for name, text in texts.items():
            (Path(d) / name).write_text(text)
        returns_or_refuses("policy-dir", verify.load_policy_dir, d,
                           expect_type=verify.RunPolicy)
        returns_or_refuses("policy-dir", diff_load.load, d, expect_type=Facts)


@pytest.mark.parametrize("name", [CAPS, RUN, APPARMOR])
@pytest.mark.parametrize("doc", sorted(HOSTILE_DOCUMENTS))
def test_policy_files_hostile(name, doc):
    texts = dict(POLICY_TEXTS, **{name: HOSTILE_DOCUMENTS[doc]})
    returns_or_refuses("policy-dir", diff.facts_from_policy, texts, accept=(PolicyFormatError,),
                       expect_type=Facts)


# --- compose files and overrides -----------------------------------------------------------------

@pytest.fixture(scope="module")
def emitted(tmp_path_factory) -> Path:
    """An emitted project (web, app, cache) and its compose file, as test_verify_compose."""
    base = tmp_path_factory.mktemp("fuzz-emitted")
    rec = make_project(base / "rec")
    out = base / "out"
    proc = subprocess.run([*PROFILER, "emit", str(rec), "--format", "all", "-o", str(out)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    (base / "compose.yaml").write_text(COMPOSE_TEXT)
    return out


COMPOSE = {"x-defaults": {"restart": "no"},
           "services": {s: {"image": f"shop-{s}", "cap_add": ["NET_ADMIN"],
                            "environment": {"A": "1"}} for s in ("web", "app", "cache")}}
COMPOSE_TEXT = ("x-defaults: &defaults\n  restart: \"no\"\n" +
                dump_yaml({"services": COMPOSE["services"]}).replace(
                    "  web:\n", "  web:\n    <<: *defaults\n"))


@examples(200)
@given(st.one_of(mutated(COMPOSE).map(dump_yaml), corrupted(COMPOSE_TEXT)))
def test_compose_file_mutated(emitted, text):
    compose = emitted.parent / "fuzz-compose.yaml"
    compose.write_text(text)
    returns_or_refuses("compose", verify_compose.read_policies, emitted, compose,
                       expect_type=tuple)


@examples(120)
@given(st.data())
def test_override_mutated(emitted, data):
    override = emitted / OVERRIDE_FILE
    original = override.read_text()
    text = data.draw(st.one_of(mutated(yaml.safe_load(original)).map(dump_yaml),
                               corrupted(original)))
    try:
        override.write_text(text)
        returns_or_refuses("compose", verify_compose.read_policies, emitted,
                           emitted.parent / "compose.yaml", expect_type=tuple)
        returns_or_refuses("compose", project_diff.compare_projects, str(emitted), str(emitted),
                           expect_type=project_diff.ProjectDiff)
    finally:
        override.write_text(original)


@pytest.mark.parametrize("name", sorted(HOSTILE_DOCUMENTS))
def test_compose_hostile(emitted, name):
    compose = emitted.parent / "fuzz-compose.yaml"
    compose.write_text(HOSTILE_DOCUMENTS[name])
    e = returns_or_refuses("compose", verify_compose.read_policies, emitted, compose)
    assert isinstance(e, ProfilerError)


def test_compose_anchors_and_merge_keys_still_work(emitted):
    policies, notes = verify_compose.read_policies(emitted, emitted.parent / "compose.yaml")
    assert sorted(policies) == ["app", "cache", "web"]
    assert any("cap_add" in n for n in notes)


# --- the diff's side detection -------------------------------------------------------------------

@examples(200)
@given(st.one_of(
    mutated(RECORDING).map(like_record), mutated(RECORDING).map(dump_json),
    mutated(SECCOMP_PROFILE).map(dump_json), corrupted(RECORDING_TEXT),
    corrupted(POLICY_TEXTS[SECCOMP]), st.text(max_size=200),
    st.sampled_from(sorted(HOSTILE_DOCUMENTS.values()))))
def test_diff_side_detection(text):
    with tempfile.TemporaryDirectory() as d:
        f = Path(d) / "side"
        f.write_text(text)
        returns_or_refuses("diff-side", diff_load.load, str(f), expect_type=Facts)


@examples(100)
@given(st.binary(max_size=300))
def test_diff_side_any_bytes(data):
    with tempfile.TemporaryDirectory() as d:
        f = Path(d) / "side"
        f.write_bytes(data)
        returns_or_refuses("diff-side", diff_load.load, str(f), expect_type=Facts)


# --- the bounds themselves -----------------------------------------------------------------------

def test_a_compose_file_may_use_some_aliases():
    text = "x: &x {a: 1, b: [1, 2, 3]}\n" + "".join(f"s{i}: *x\n" for i in range(1000))
    assert len(safe_input.load_yaml(text)) == 1001


@pytest.mark.parametrize("levels,ok", [(4, True), (5, False)])
def test_the_alias_budget_is_in_nodes(levels, ok):
    """Ten aliases of the level below at each level: 4 levels add about 11,000 nodes through
    aliases (fine), 5 levels about 111,000 (over the budget of 100,000)."""
    text = "\n".join(["a0: &a0 [" + ", ".join(["x"] * 10) + "]"] +
                     [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]"
                      for i in range(1, levels)]) + "\n"
    if ok:
        safe_input.load_yaml(text)
    else:
        with pytest.raises(safe_input.InputError, match="YAML bomb"):
            safe_input.load_yaml(text)


@pytest.mark.parametrize("depth,ok", [(safe_input.MAX_DEPTH, True),
                                      (safe_input.MAX_DEPTH + 1, False)])
def test_the_depth_limit(depth, ok):
    text = "[" * depth + "]" * depth
    if ok:
        safe_input.load_yaml(text)
    else:
        with pytest.raises(safe_input.InputError, match="nested deeper than"):
            safe_input.load_yaml(text)


def test_deep_yaml_does_not_crash_the_interpreter():
    """libyaml's composer recursed in C: 100,000 `[` killed the process (SIGSEGV)."""
    code = ("from profiler.recording import recording_io\n"
            "try:\n    recording_io.loads('[' * 100000)\nexcept Exception as e:\n    print(e)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, (proc.returncode, proc.stderr[-500:])
    assert "nested deeper than" in proc.stdout
