"""Recording files: round trip, determinism, and every kind of bad file (no root needed)."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from profiler.recording import recording_io
from profiler.errors import RecordingError, UsageError
from profiler.recording.model import FileAccess, Syscall

FIXTURE = Path(__file__).parents[1] / "fixtures" / "nginx.recording.yaml"
LEGACY = Path(__file__).parents[1] / "fixtures" / "legacy-1.0.recording.yaml"  # hand-kept, schema 1.0


def test_round_trip_is_byte_identical():
    rec = recording_io.load(FIXTURE)
    text = recording_io.dumps(rec)
    assert recording_io.dumps(recording_io.loads(text)) == text
    assert text == FIXTURE.read_text()


def test_output_is_sorted_whatever_the_input_order():
    rec = recording_io.load(FIXTURE)
    shuffled = replace(rec, syscalls=tuple(reversed(rec.syscalls)), files=tuple(reversed(rec.files)))
    assert recording_io.dumps(shuffled) == recording_io.dumps(rec)
    names = [s.name for s in recording_io.loads(recording_io.dumps(shuffled)).syscalls]
    assert names == sorted(names)


def test_hand_written_block_yaml_loads_too():
    """A recording edited by hand into ordinary YAML (not one JSON line per entry) still loads."""
    import yaml

    rec = recording_io.load(FIXTURE)
    block = yaml.safe_dump(yaml.safe_load(FIXTURE.read_text()), sort_keys=False)
    assert "- {" not in block
    assert recording_io.loads(block) == rec
    mixed = FIXTURE.read_text().replace('- {"name": "accept4"', "- {name: accept4", 1)
    assert recording_io.loads(mixed) == rec  # a YAML flow mapping among the JSON lines


def test_long_lists_are_one_line_per_entry():
    text = FIXTURE.read_text()
    assert '- {"path": "/etc/passwd", "ok": ["read"], "failed": []}' in text.splitlines()


def test_unknown_syscall_numbers_are_kept_by_number():
    rec = recording_io.load(FIXTURE)
    rec = replace(rec, syscalls=rec.syscalls + (Syscall("", 999, 3),))
    back = recording_io.loads(recording_io.dumps(rec))
    assert any(s.number == 999 and s.name == "" and s.count == 3 for s in back.syscalls)
    assert "__nr_999" in back.syscall_names


@pytest.mark.parametrize("text, message", [
    ("", "empty or not a recording"),
    ("- a\n- b\n", "empty or not a recording"),
    ("schema_version: '1.0'\nmetadata: [\n", "not valid YAML"),
    ("schema_version: '2.0'\nmetadata: {}\n", "schema version 2.0 is not supported"),
    ("metadata: {}\n", "not a recording (no schema_version; its top-level keys: metadata)"),
    ("services:\n  web: {image: x}\n", "not a recording (no schema_version; its top-level keys: services)"),
    ("schema_version: ''\nmetadata: {}\n", "schema version (missing) is not supported"),
])
def test_bad_files_give_one_clear_error(text, message):
    with pytest.raises(RecordingError) as e:
        recording_io.loads(text, "x.yaml")
    assert message in e.value.message
    assert "\n" not in e.value.message


def test_schema_violations_name_the_place():
    text = FIXTURE.read_text().replace('"count": 1,', '"count": -1,', 1)
    with pytest.raises(RecordingError) as e:
        recording_io.loads(text, "x.yaml")
    assert "syscalls/0/count" in e.value.message


def test_bad_access_kind_is_rejected():
    rec = recording_io.load(FIXTURE)
    text = recording_io.dumps(replace(rec, files=(FileAccess("/x", ("read",)),)))
    with pytest.raises(RecordingError):
        recording_io.loads(text.replace('"ok": ["read"]', '"ok": ["fly"]'))


def test_missing_file_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError):
        recording_io.load(tmp_path / "nope.yaml")


def test_atomic_write_leaves_no_partial_file(tmp_path):
    target = tmp_path / "out.yaml"
    target.write_text("old\n")
    # A lone surrogate cannot be encoded: the write fails half-way through.
    with pytest.raises(UnicodeEncodeError):
        recording_io.atomic_write(target, "new content " * 1000 + "\udcff")
    assert target.read_text() == "old\n"
    assert sorted(os.listdir(tmp_path)) == ["out.yaml"]


def test_unwritable_destinations(tmp_path):
    with pytest.raises(UsageError):
        recording_io.check_writable(tmp_path / "missing-dir" / "x.yaml")
    with pytest.raises(UsageError):
        recording_io.check_writable(tmp_path)
    with pytest.raises(UsageError):
        recording_io.atomic_write(tmp_path / "missing-dir" / "x.yaml", "x")


# The quick check of flat list entries must say exactly what the schema says.
_KIND_OR_NOT = st.one_of(st.sampled_from(["read", "write", "mkdir", "chown", "Read", ""]),
                         st.integers(), st.none(), st.booleans(), st.lists(st.text(), max_size=1),
                         st.dictionaries(st.text(max_size=2), st.text(), max_size=1))
_VALUE = st.one_of(st.text(max_size=5), st.integers(), st.none(), st.booleans(),
                   st.lists(_KIND_OR_NOT, max_size=3))
_ENTRY = st.one_of(
    st.dictionaries(st.sampled_from(["path", "ok", "failed", "x"]), _VALUE, max_size=4),
    st.fixed_dictionaries({"path": st.text(max_size=5)},
                          optional={"ok": st.lists(st.sampled_from(["read", "write", "bad"])),
                                    "failed": st.lists(st.sampled_from(["create", "x"]))}),
    st.lists(st.text(), max_size=1), st.text(max_size=3), st.none())


@given(st.lists(_ENTRY, max_size=4))
def test_quick_check_agrees_with_the_schema(entries):
    import fastjsonschema
    full = fastjsonschema.compile(recording_io._inlined_schema()["properties"]["files"])
    try:
        full(entries)
        valid = True
    except fastjsonschema.JsonSchemaException:
        valid = False
    assert recording_io._quick_checks()["files"](entries) == valid


def test_quick_check_failure_still_gives_the_schema_message():
    rec = recording_io.load(FIXTURE)
    first = next(line for line in recording_io.dumps(rec).splitlines()
                 if line.startswith('- {"path": '))
    text = recording_io.dumps(rec).replace(first, '- {"path": 7}')
    with pytest.raises(RecordingError, match=r"invalid recording at files/0/path: must be string"):
        recording_io.loads(text)


def test_errors_outside_the_quick_checked_lists_name_the_field():
    # The fast validator's messages have no field names; the detailed one words the error.
    text = FIXTURE.read_text()
    without_arch = "\n".join(line for line in text.splitlines() if not line.startswith("  arch:"))
    with pytest.raises(RecordingError, match=r"at metadata: must contain \['arch'\] properties"):
        recording_io.loads(without_arch)


def test_compat_syscalls_keep_their_arch():
    """Schema 1.5: a compat call keeps its architecture (i386 uname is 122, which is setfsuid on
    x86_64) and says its arguments were not read; native calls are written as before."""
    rec = recording_io.load(FIXTURE)
    rec = replace(rec, schema_version="1.5", syscalls=rec.syscalls + (
        Syscall("uname", 122, 3, (("EFAULT", 1),), arch="x86", decoded=False),
        Syscall("setfsuid", 122, 1)))
    text = recording_io.dumps(rec)
    assert '{"name": "uname", "number": 122, "count": 3, "errnos": {"EFAULT": 1}, ' \
           '"arch": "x86", "decoded": false}' in text
    assert '{"name": "setfsuid", "number": 122, "count": 1, "errnos": {}}\n' in text
    back = recording_io.loads(text)
    assert back == rec.canonical()
    assert back.compat_arches == ("x86",)
    assert {"uname (x86)", "setfsuid"} <= back.syscall_names
    assert back.syscalls[-1].arch == "x86"  # native calls sort first


def test_a_1_0_recording_is_native_only():
    rec = recording_io.load(LEGACY)
    assert rec.schema_version == "1.0" and rec.compat_arches == ()
    assert all(s.arch == "" and s.decoded for s in rec.syscalls)


def test_compat_arch_must_be_a_name():
    text = FIXTURE.read_text().replace('"errnos": {}}', '"errnos": {}, "arch": ""}', 1)
    with pytest.raises(RecordingError, match="arch"):
        recording_io.loads(text)
