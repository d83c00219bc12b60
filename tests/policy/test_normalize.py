"""Each normalisation rule of docs/normalization.md, and that ordinary paths are left alone."""

from dataclasses import replace

import pytest
from hypothesis import example, given, strategies as st

from profiler.recording.model import (Capability, Executable, FileAccess, Metadata, Processes,
                                      Recording, Syscall)
from profiler.policy import normalize
from profiler.kernel.apparmor_syntax import escape
from profiler.policy.normalize import normalize_path, normalize_recording

HEX = "0123456789abcdef" * 4


@pytest.mark.parametrize("raw,pattern", [
    # /proc/<pid>, self, thread-self, task ids, fd numbers
    ("/proc/12/status", "/proc/@{pid}/status"),
    ("/proc/self/maps", "/proc/@{pid}/maps"),
    ("/proc/self", "/proc/@{pid}"),
    ("/proc/thread-self/comm", "/proc/@{pid}/task/@{tid}/comm"),
    ("/proc/1/task/7/stat", "/proc/@{pid}/task/@{tid}/stat"),
    ("/proc/self/task/99/attr/current", "/proc/@{pid}/task/@{tid}/attr/current"),
    ("/proc/self/fd/3", "/proc/@{pid}/fd/*"),
    ("/proc/42/fdinfo/10", "/proc/@{pid}/fdinfo/*"),
    # terminals
    ("/dev/pts/3", "/dev/pts/*"),
    # Python tempfile names, anywhere
    ("/tmp/tmpa8x2kq", "/tmp/tmp*"),
    ("/tmp/tmpab12cd_x", "/tmp/tmp*"),
    ("/tmp/tmpabcde_xy", "/tmp/tmp*"),
    ("/tmp/tmpabcdefgh", "/tmp/tmpabcdefgh"),
    ("/tmp/tmpab12cd_x.txt", "/tmp/tmp*.txt"),
    ("/tmp/tmpab12cd_x/data.txt", "/tmp/tmp*/data.txt"),
    ("/app/cache/tmpQ3zk81w", "/app/cache/tmp*"),
    # mktemp templates with a dot
    ("/tmp/tmp.AbC123xyzQ", "/tmp/tmp.*"),
    ("/var/tmp/build.x7Yq2P", "/var/tmp/build.*"),
    # mkstemp templates without a separator: below temp dirs, and sed -i anywhere
    ("/dev/shm/sem.mp-AbCdEf", "/dev/shm/sem.mp-*"),
    ("/tmp/nginx-k3m9Qz", "/tmp/nginx-*"),
    ("/etc/nginx/sedAb3xYz", "/etc/nginx/sed*"),
    # container ids
    (f"/var/lib/docker/containers/{HEX}/hostname", "/var/lib/docker/containers/*/hostname"),
    (f"/sys/fs/cgroup/docker-{HEX}.scope/memory.max", "/sys/fs/cgroup/docker-*.scope/memory.max"),
    # lexical clean-up
    ("/x//y/./z", "/x/y/z"),
    # escaping of AppArmor glob characters
    ('/a/b*c?[d]{e},^"@f\\g', '/a/b\\*c\\?\\[d\\]\\{e\\}\\,\\^\\"\\@f\\\\g'),
    ("/tmp/tmpab12cd_x.{a}", "/tmp/tmp*.\\{a\\}"),
    # control characters and U+FFFD are left for the renderer to reject
    ("/tmp/a\x01b", "/tmp/a\x01b"),
    ("/tmp/\ufffd", "/tmp/\ufffd"),
])
def test_rule(raw, pattern):
    assert normalize_path(raw) == pattern


@pytest.mark.parametrize("path", [
    "/etc/nginx/nginx.conf", "/etc/ld.so.cache", "/usr/lib/x86_64-linux-gnu/libc.so.6",
    "/usr/lib/x86_64-linux-gnu/libstdc++.so.6.0.30", "/run/nginx.pid", "/proc/sys/net/core/somaxconn",
    "/proc/cpuinfo", "/proc/sys/kernel/hostname", "/sys/kernel/mm/transparent_hugepage/enabled",
    "/dev/null", "/dev/pts/ptmx", "/dev/pts", "/tmp", "/tmp/tmp_files", "/tmp/tmpstorage",
    "/tmp/MyApp", "/tmp/.X11-unix", "/tmp/nginx_client_body_temp", "/usr/share/Makefile",
    "/usr/share/doc/README", "/etc/nginx/sed", "/home/user/seddata", "/var/lib/app/store.sqlite",
    "/usr/lib/python3.11/config-3.11-x86_64-linux-gnu", "/etc/ssl/certs/ca-certificates.crt",
    "/var/cache/fontconfig/" + "a" * 32 + "-le64.cache-7", "/proc/self_status", "relative/path",
    "/app/tmpdir", "/opt/App.Settings", "/usr/lib/tmpfs_root", "/srv/tmpabcde_xy",
])
def test_ordinary_path_untouched(path):
    assert normalize_path(path) == path


@given(st.lists(st.text(alphabet="abcdefghijklmnopqrstuvwxyz-_.", min_size=1, max_size=12)
                .filter(lambda w: w not in (".", "..")), min_size=1, max_size=5))
def test_lowercase_words_outside_proc_and_temp_are_untouched(words):
    path = "/usr/" + "/".join(words)
    assert normalize_path(path) == path


def _unescape(pattern: str) -> str:
    out, it = [], iter(pattern)
    for c in it:
        out.append(next(it) if c == "\\" else c)
    return "".join(out)


def _live(pattern: str) -> list[str]:
    """Characters of pattern that AppArmor would treat as glob syntax (not escaped)."""
    out, escaped = [], False
    for c in pattern:
        if escaped:
            escaped = False
        elif c == "\\":
            escaped = True
        elif c in '*?[]{}^,"@':
            out.append(c)
    return out


@given(st.text(min_size=0, max_size=40))
def test_escape_is_reversible_and_leaves_no_live_glob(text):
    e = escape(text)
    assert _unescape(e) == text
    assert _live(e) == []


@given(st.text(min_size=0, max_size=40))
def test_normalised_paths_have_only_inserted_globs_live(text):
    pattern = normalize_path("/srv/" + text.replace("/", ""))
    assert set(_live(pattern)) <= {"*"}


def _rec(files=(), execs=(), syscalls=(), caps=(), started=""):
    md = Metadata(tool_version="0", kernel="6.1", arch="x86_64", mode="container",
                  started_at=started)
    return Recording(metadata=md, files=tuple(files), syscalls=tuple(syscalls),
                     capabilities=tuple(caps),
                     processes=Processes(executables=tuple(execs), peak_tasks=7))


def test_recording_merges_patterns_and_unions_kinds():
    rec = _rec(files=[FileAccess("/proc/12/status", ("read",)),
                      FileAccess("/proc/self/status", ("read", "write"), ("chmod",)),
                      FileAccess("/tmp/tmpa8x2kq", ("create",)),
                      FileAccess("/tmp/tmpZZ91kq", ("write", "delete"))])
    n = normalize_recording(rec)
    assert n.files == (FileAccess("/proc/@{pid}/status", ("read", "write"), ("chmod",)),
                       FileAccess("/tmp/tmp*", ("write", "create", "delete")))


def test_two_runs_of_the_same_behaviour_are_equal():
    a = _rec(files=[FileAccess("/proc/12/status", ("read",)), FileAccess("/tmp/tmpa8x2kq", ("write",))],
             execs=[Executable("/tmp/tmpa8x2kq/run", 1)],
             syscalls=[Syscall("read", 0, 10, (("EAGAIN", 3),))],
             caps=[Capability("CAP_CHOWN", 0, 2, 0)], started="2026-01-01T00:00:00Z")
    b = _rec(files=[FileAccess("/proc/99/status", ("read",)), FileAccess("/tmp/tmp81kqzz", ("write",))],
             execs=[Executable("/tmp/tmp81kqzz/run", 4)],
             syscalls=[Syscall("read", 0, 999, (("EAGAIN", 1),))],
             caps=[Capability("CAP_CHOWN", 0, 5, 0)], started="2026-02-02T00:00:00Z")
    assert a != b
    assert normalize_recording(a) == normalize_recording(b)


def test_counts_become_presence_or_are_summed():
    rec = _rec(syscalls=[Syscall("read", 0, 10, (("EAGAIN", 3),))],
               caps=[Capability("CAP_CHOWN", 0, 0, 4)],
               execs=[Executable("/tmp/tmpa8x2kq/run", 1), Executable("/tmp/tmp81kqzz/run", 2)])
    n = normalize_recording(rec)
    assert n.syscalls[0].count == 1 and n.syscalls[0].errnos == (("EAGAIN", 1),)
    assert (n.capabilities[0].granted, n.capabilities[0].denied) == (0, 1)
    assert n.processes.peak_tasks == 0
    k = normalize_recording(rec, keep_counts=True)
    assert k.processes.executables == (Executable("/tmp/tmp*/run", 3),)
    assert k.processes.peak_tasks == 7 and k.syscalls[0].count == 10


def test_fixture_normalises(tmp_path):
    from profiler.recording import recording_io
    rec = recording_io.load("tests/fixtures/legacy-1.0.recording.yaml")
    n = normalize_recording(rec)
    paths = [f.path for f in n.files]
    assert "/proc/@{pid}/status" in paths and "/tmp/tmp*" in paths
    # the normalised recording still serialises and validates
    assert recording_io.loads(recording_io.dumps(n)) == n
    assert replace(n, files=()) == replace(normalize_recording(n), files=())


# The fast path of normalize_path (cached directory + last component) must give exactly what
# the full component walk gives, for every shape of path: temp dirs at every depth, /proc,
# /dev/pts, "//" and "/./", trailing slashes, temp-like names.
_WORDS = st.sampled_from(["tmp", "var", "dev", "shm", "proc", "self", "pts", "task", "fd", "1",
                          "42", "", ".", "..", "tmpAb3x9Q", "tmp.Ab3x9QzK1", "sedAb12Cd",
                          "lib.so.6", "file.Ab3x9Q", "x\n", "a,b", "@{x}", "data_1x2y3z4"])


@given(st.lists(st.one_of(_WORDS, st.text(alphabet="tmpsed.AZ09_x\n", max_size=12)),
                min_size=1, max_size=6))
def test_fast_path_equals_full_walk(parts):
    path = "/" + "/".join(parts)
    normalize._directory.cache_clear()
    assert normalize_path(path) == normalize._normalize_path(path)


@given(st.text(alphabet="ab1Z._\n-", max_size=16))
@example("a.ab1Zab1Zab\n")  # 10 random characters, then the newline "$" matches before
def test_dot_temp_prefilter_never_skips_a_match(name):
    # _temp_name runs _DOT_TEMP only when the text after the last dot has 6-11 characters.
    if normalize._DOT_TEMP.match(name):
        assert normalize._dot_suffix(name)


@given(st.one_of(st.text(alphabet="tmpsedAZ09_.x-\n", max_size=20), st.text(max_size=20)))
def test_name_prefilter_never_skips_a_temp_name(name):
    # _name calls _temp_name outside temp dirs only for names starting "tmp"/"sed" or with
    # 6-11 characters after the last dot; every other name must be one _temp_name rejects.
    if not normalize._may_be_temp(name):
        assert normalize._temp_name(name, False) is None


@given(st.lists(st.lists(st.one_of(_WORDS, st.text(alphabet="tmpsed.AZ09_x\n,", max_size=12)),
                         min_size=1, max_size=5), min_size=1, max_size=8))
def test_merged_files_have_the_patterns_normalize_path_gives(paths):
    # normalize_recording inlines normalize_path's fast path; it must agree with it.
    paths = sorted({"/" + "/".join(p) for p in paths})
    rec = _rec(files=[FileAccess(p, ("read",)) for p in paths])
    got = {f.path for f in normalize_recording(rec).files}
    assert got == {normalize_path(p) for p in paths}
