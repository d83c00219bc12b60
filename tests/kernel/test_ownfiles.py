"""profiler.kernel.ownfiles: files the recorder keeps for itself are read only when nobody else
may have written them, and written whole or not at all (no root needed)."""

from __future__ import annotations

from profiler.kernel import ownfiles


def test_round_trip_in_a_private_directory(tmp_path):
    f = tmp_path / "keep" / "x"
    assert ownfiles.write(f, b"one")
    assert ownfiles.write(f, b"two")  # replaced whole
    assert ownfiles.read(f) == b"two"
    assert oct(f.parent.stat().st_mode & 0o777) == oct(0o700)
    assert [p.name for p in f.parent.iterdir()] == ["x"]  # no temporary file left


def test_what_others_may_write_is_not_read(tmp_path):
    f = tmp_path / "keep" / "x"
    ownfiles.write(f, b"one")
    f.chmod(0o646)
    assert ownfiles.read(f) is None
    f.chmod(0o600)
    f.parent.chmod(0o770)
    assert ownfiles.read(f) is None
    assert not ownfiles.write(f, b"two")  # nor written there
    f.parent.chmod(0o700)
    assert ownfiles.read(f) == b"one"


def test_absent_or_unwritable_is_not_an_error(tmp_path):
    assert ownfiles.read(tmp_path / "nope" / "x") is None
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert not ownfiles.write(blocker / "x", b"data")
    d = tmp_path / "keep"
    d.mkdir(mode=0o700)
    (d / "x").mkdir()  # a directory where the file goes: the rename fails
    assert not ownfiles.write(d / "x", b"data")
    assert sorted(p.name for p in d.iterdir()) == ["x"]  # the temporary file was removed
