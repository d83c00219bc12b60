"""Generalisation of AppArmor file rules by kind (profiler/policy/generalise.py,
data/path_shapes.yaml), as the rendered profile grants it: a name training never saw is
matched by a tree or a name shape. Each kind fails on the code before generalisation."""

from __future__ import annotations

import re

from emitcases import nginx, recording
from profiler.policy.reduce import reduce
from profiler.render import apparmor
from test_render_apparmor import RULE, assert_parses, file_section, needs_parser


# --- AppArmor: trees and name shapes ----------------------------------------------------------

def _aare(pattern: str) -> re.Pattern:
    """An AppArmor glob as profiler writes it (`**`, `*`, `{,/}`, octal escapes) as a regex."""
    pattern = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), pattern)
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("{,/}", i):
            out, i = out + "/?", i + 4
        elif pattern.startswith("**", i):
            out, i = out + ".*", i + 2
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return re.compile(out)


def _perms(text: str, path: str) -> set[str]:
    """The permission letters the profile's file rules give a path (the union of every
    matching rule, as AppArmor does)."""
    out: set[str] = set()
    for line in file_section(text):
        m = re.match(r'^  "(.*)" ([a-z]+),$', line)
        if m and _aare(m.group(1)).fullmatch(path):
            out.update(m.group(2))
    return out


def _profile(files, **kw) -> str:
    return apparmor.render(reduce([recording(names=("read", "write", "exit_group", "openat"),
                                             files=files)], **kw))


def test_a_temp_name_training_never_saw():
    text = _profile([("/tmp/upload_a8x2kq.part", ["create", "write", "delete"])])
    assert "w" in _perms(text, "/tmp/xyz123")
    assert "w" in _perms(text, "/tmp/spool/deep/other.bin")
    assert "w" not in _perms(_profile([("/tmp/upload_a8x2kq.part", ["create", "write"])],
                                      strict=True), "/tmp/xyz123")


def test_shared_memory_and_semaphores():
    text = _profile([("/dev/shm/sem.app-1234", ["create", "read", "write"]),
                     ("/dev/shm/pg_shm.9911", ["create", "read", "write"])])
    for path in ("/dev/shm/sem.app-5678", "/dev/shm/PostgreSQL.2113", "/dev/shm/sem.other"):
        assert {"r", "w"} <= _perms(text, path), path


def test_unpacked_library_keeps_its_mapping_under_a_new_name():
    text = _profile([("/tmp/snappy-1.1.10-5c2a-libsnappyjava.so", ["create", "write", "read"])])
    assert {"r", "m"} <= _perms(text, "/tmp/snappy-1.1.10-77ff-libsnappyjava.so")
    assert "m" not in _perms(text, "/tmp/notalib.txt")  # the tree gives no mapping


def test_data_tree_a_database_manages():
    """CREATE DATABASE: a directory training never saw, below the data directory the app
    created and removed entries in."""
    text = _profile([("/var/lib/postgresql/15/main/base/16384/2619", ["create", "write"]),
                     ("/var/lib/postgresql/15/main/pg_wal/000000010000000000000001",
                      ["write", "rename"]),
                     ("/etc/postgresql/15/main/postgresql.conf", ["read"])])
    assert "w" in _perms(text, "/var/lib/postgresql/15/main/base/16999/")
    assert "w" in _perms(text, "/var/lib/postgresql/15/main/base/16999/1259")
    # files only read stay instances; nothing outside the data tree is widened
    assert "w" not in _perms(text, "/etc/postgresql/15/main/other.conf")
    assert _perms(text, "/etc/postgresql/15/main/other.conf") == set()


def test_a_tree_only_read_is_not_widened():
    text = _profile([("/var/lib/app/db", ["read", "write"]), ("/var/lib/app/ro", ["read"])])
    assert _perms(text, "/var/lib/app/new") == set()


def test_numbered_names_the_app_created():
    text = _profile([("/app/uploads/file_123.txt", ["create", "write"]),
                     ("/etc/app/conf.d/10-main.conf", ["read"])])
    assert "w" in _perms(text, "/app/uploads/file_98765.txt")
    assert "w" not in _perms(text, "/app/uploads/other/file_1.txt")  # never across a /
    assert _perms(text, "/etc/app/conf.d/20-other.conf") == set()  # read-only: instances


def test_execution_from_a_tree_stays_on_the_instance():
    text = _profile([("/tmp/build/tool", ["create", "write", "execute"])])
    assert "w" in _perms(text, "/tmp/other")
    assert not {"x", "i"} & _perms(text, "/tmp/other")
    assert "i" in _perms(text, "/tmp/build/tool")


@needs_parser
def test_generalised_profiles_parse(tmp_path):
    text = _profile([("/tmp/a1b2c3d4", ["create", "write"]),
                     ("/tmp/x/libfoo123.so", ["create", "write", "read"]),
                     ("/dev/shm/sem.q1", ["create", "read", "write"]),
                     ("/var/lib/app/data/1.db", ["create", "write", "delete", "mkdir"]),
                     ("/app/out_77.log", ["create", "append"])])
    assert_parses(text, tmp_path)
    assert_parses(apparmor.render(reduce([nginx()])), tmp_path)


def test_generalised_files_are_rows_of_explain():
    policy = reduce([recording(files=[("/tmp/one", ["create", "write"]),
                                      ("/tmp/two", ["create", "write"])])])
    rows = [g for g in policy.generalised if g.kind == "file"]
    assert [(g.allowed, g.because) for g in rows] == [("/tmp/**", "/tmp/one, /tmp/two")]
    assert "temp tree" in rows[0].why and "path_shapes.yaml" in rows[0].source


def test_rules_keep_their_file_kinds_and_order():
    policy = reduce([recording(files=[("/tmp/a", ["append"]), ("/tmp/b", ["read", "rename"])])])
    (rule,) = [f for f in policy.files if f.pattern == "/tmp/**"]
    assert rule.access == ("read", "append", "rename")
    # rename needs r and w on the source; w covers a (AppArmor refuses both in one rule)
    assert [RULE.match(x).groups() for x in file_section(apparmor.render(policy))] == \
        [("/tmp/**", "rw")]
