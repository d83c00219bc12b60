"""The resolved path (symlinks followed) from recording to AppArmor rule, without the kernel:
the tracer's fallback when BTF lacks a member, the 1.1 schema, normalization and rendering."""

from __future__ import annotations

from dataclasses import replace

from emitcases import LEGACY, recording
from profiler.recording import recording_io
from profiler.recording.aggregate import build_recording
from profiler.recording.model import SCHEMA_VERSION, Executable, FileAccess, Metadata
from profiler.policy.normalize import normalize_recording
from profiler.policy.reduce import reduce
from profiler.render import apparmor
from profiler.kernel.tracer import KPATH_FIELDS, kpath_defines
from profiler.kernel.wire import RawTrace

LINK = "/srv/conf/current/app.conf"
REAL = "/srv/conf/releases/v2/app.conf"


def _linked():
    rec = recording(files=[(LINK, ("read",)), ("/etc/hosts", ("read",))],
                    executables=["/bin/sh"])
    return replace(rec, files=tuple(replace(f, resolved=REAL) if f.path == LINK else f
                                    for f in rec.files),
                   processes=replace(rec.processes,
                                     executables=(Executable("/bin/sh", 1, "/usr/bin/dash"),)))


def test_walk_falls_back_when_btf_lacks_a_member():
    flags, missing = kpath_defines(lambda s, m: None if (s, m) == ("mount", "mnt_parent") else 8)
    assert flags == [] and missing == ["mount.mnt_parent"]
    flags, missing = kpath_defines(lambda s, m: 16)
    assert missing == [] and flags[0] == "-DKPATH" and len(flags) == 1 + len(KPATH_FIELDS)


def test_aggregate_keeps_used_and_resolved_paths():
    raw = RawTrace(arch="x86_64", files={LINK.encode(): (1, 0), b"/etc/hosts": (1, 0)},
                   execs={b"/bin/sh": 2},
                   resolved={LINK.encode(): REAL.encode(), b"/bin/sh": b"/usr/bin/dash"})
    rec, _ = build_recording(raw, Metadata("0", "6", "x86_64", "exec"))
    assert {f.path: f.resolved for f in rec.files} == {LINK: REAL, "/etc/hosts": ""}
    assert rec.processes.executables == (Executable("/bin/sh", 2, "/usr/bin/dash"),)


def test_schema_1_1_round_trip_writes_resolved_only_where_it_says_something():
    rec = _linked()
    text = recording_io.dumps(rec)
    assert f"schema_version: '{SCHEMA_VERSION}'" in text and tuple(map(int, SCHEMA_VERSION.split('.'))) >= (1, 1)
    assert text.count('"resolved"') == 1 and "resolved: /usr/bin/dash" in text
    assert recording_io.loads(text) == rec.canonical()


def test_schema_1_0_recordings_still_load():
    old = recording_io.load(LEGACY)
    assert old.schema_version == "1.0"
    assert all(f.resolved == "" for f in old.files)


def test_normalize_patterns_the_resolved_path_too():
    rec = recording(files=[("/proc/self/fd/3", ("read",))])
    rec = replace(rec, files=(FileAccess("/proc/self/fd/3", ("read",), (), "/proc/812/status"),))
    assert normalize_recording(rec).files[0].resolved == "/proc/@{pid}/status"


def test_apparmor_rules_name_the_resolved_paths():
    text = apparmor.render(reduce([_linked()]))
    assert f'"{REAL}{{,/}}" r,' in text and LINK not in text
    assert '"/usr/bin/dash" ix,' in text and '"/bin/sh"' not in text
    assert '"/etc/hosts{,/}" r,' in text


def test_paths_resolving_to_one_file_make_one_rule():
    rec = recording(files=[("/a/link", ("read",)), ("/a/real", ("write",))])
    rec = replace(rec, files=tuple(replace(f, resolved="/a/real") if f.path == "/a/link" else f
                                   for f in rec.files))
    rules = [x for x in apparmor.render(reduce([rec])).splitlines() if '"/a/' in x]
    assert rules == ['  "/a/real" rw,']
