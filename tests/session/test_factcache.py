"""The image facts cache (profiler/session/factcache.py) and the session's use of it, and the
look below a bind mount on the host (session.bind_empty): what `record`'s start no longer asks
the engine for. No root, no engine."""

from __future__ import annotations

import os

import pytest

from profiler.recording.model import ImageEntry, ImageFacts, Mount
from profiler.session import factcache, session
from profiler.session.engine import FACTS_READER, ContainerInfo, ImageInfo

FACTS = ImageFacts(volumes=("/data",), inspected=("/data", "/etc", "/run"),
                   entries=(ImageEntry("/etc/app", "dir", 0, 0, 0o755, "", 2),
                            ImageEntry("/etc/app/key", "file", 101, 101, 0o640),
                            ImageEntry("/run/app.sock", "symlink", target="/tmp/s")))


def _key(image_id="sha256:aa", volumes=("/data",)):
    return factcache.cache_key(image_id, volumes, FACTS_READER)


def test_stored_facts_come_back_whole(tmp_path):
    where = tmp_path / "facts"
    assert factcache.load(_key(), where) is None
    assert factcache.store(FACTS, _key(), where)
    assert factcache.load(_key(), where) == FACTS
    assert (where.stat().st_mode & 0o777) == 0o700  # root's, like the compiled recorder's


def test_the_key_covers_the_image_its_volumes_and_the_reader():
    keys = {_key(), _key("sha256:bb"), _key(volumes=()), _key(volumes=("/data", "/x")),
            factcache.cache_key("sha256:aa", ("/data",), (*FACTS_READER, "/opt"))}
    assert len(keys) == 5
    assert _key(volumes=("/b", "/a")) == _key(volumes=("/a", "/b"))


@pytest.mark.parametrize("damage", [
    lambda b: b[:-10],                                # truncated
    lambda b: b.replace(b'"/etc/app"', b'"/etc/apq"'),  # changed under its digest
    lambda b: b"garbage",
])
def test_a_damaged_entry_is_ignored(tmp_path, damage):
    where = tmp_path / "facts"
    factcache.store(FACTS, _key(), where)
    path = where / f"{_key()}.json"
    path.write_bytes(damage(path.read_bytes()))
    assert factcache.load(_key(), where) is None


def test_another_keys_entry_or_a_bad_value_is_refused():
    with pytest.raises(factcache.CacheError, match="another key"):
        factcache.decode(factcache.encode(FACTS, _key("sha256:bb")), _key())
    bad = ImageFacts(entries=(ImageEntry("relative", "file"),))
    with pytest.raises(factcache.CacheError, match="bad entry"):
        factcache.decode(factcache.encode(bad, _key()), _key())


def test_an_entry_others_may_write_is_not_read(tmp_path):
    where = tmp_path / "facts"
    factcache.store(FACTS, _key(), where)
    os.chmod(where, 0o777)
    assert factcache.load(_key(), where) is None
    assert not factcache.store(FACTS, _key("sha256:cc"), where)


def test_the_cache_is_bounded_and_keeps_what_was_used_last(tmp_path, monkeypatch):
    monkeypatch.setattr(factcache, "KEEP", 3)
    where = tmp_path / "facts"
    keys = [_key(f"sha256:{i}") for i in range(5)]
    for i, k in enumerate(keys[:3]):
        factcache.store(FACTS, k, where)
        os.utime(where / f"{k}.json", ns=(i * 10**9, i * 10**9))
    assert factcache.load(keys[0], where) == FACTS  # used: now the newest
    factcache.store(FACTS, keys[3], where)
    factcache.store(FACTS, keys[4], where)
    assert sorted(p.stem for p in where.glob("*.json")) == sorted([keys[0], keys[3], keys[4]])
    assert not list(where.glob(".tmp-*"))  # written whole, through a renamed temporary file


def test_off_and_moved(monkeypatch, tmp_path):
    monkeypatch.setenv("PROFILER_FACTS_CACHE", "off")
    assert factcache.cache_dir() is None
    assert not factcache.store(FACTS, _key(), None) and factcache.load(_key(), None) is None
    monkeypatch.setenv("PROFILER_FACTS_CACHE", str(tmp_path))
    assert factcache.cache_dir() == tmp_path
    monkeypatch.delenv("PROFILER_FACTS_CACHE")
    assert factcache.cache_dir() == factcache.CACHE_DIR


class _FactsEngine:
    """Counts the reads of an image's content (a `docker cp` each, on a real engine)."""

    def __init__(self, facts=FACTS):
        self.facts, self.reads = facts, []

    def image_facts(self, image_id, volumes):
        self.reads.append(image_id)
        return self.facts


def test_the_session_reads_an_images_content_once_per_image_id(tmp_path, monkeypatch):
    monkeypatch.setenv("PROFILER_FACTS_CACHE", str(tmp_path / "facts"))
    engine = _FactsEngine()
    image = ImageInfo(id="sha256:aa", volumes=("/data",))
    assert session._image_facts(engine, image) == FACTS
    assert session._image_facts(engine, image) == FACTS
    assert session._image_facts(engine, ImageInfo(id="sha256:bb")) == FACTS
    assert engine.reads == ["sha256:aa", "sha256:bb"]


def test_facts_the_engine_could_not_read_are_not_kept(tmp_path, monkeypatch):
    monkeypatch.setenv("PROFILER_FACTS_CACHE", str(tmp_path / "facts"))
    engine = _FactsEngine(facts=None)
    image = ImageInfo(id="sha256:aa")
    assert session._image_facts(engine, image) is None
    assert session._image_facts(engine, image) is None
    assert engine.reads == ["sha256:aa", "sha256:aa"]


def test_a_bind_mount_is_looked_at_on_the_host(tmp_path):
    empty, full = tmp_path / "empty", tmp_path / "full"
    empty.mkdir()
    full.mkdir()
    (full / ".hidden").write_text("x")
    assert session.bind_empty(str(empty)) is True
    assert session.bind_empty(str(full)) is False
    assert session.bind_empty(str(full / ".hidden")) is None  # a file: the engine says
    assert session.bind_empty(str(tmp_path / "absent")) is None
    assert session.bind_empty("relative") is None


class _MountsEngine:
    def __init__(self):
        self.asked = []

    def mount_entries(self, container, target):
        self.asked.append(target)
        return 3


def test_only_what_the_host_cannot_answer_goes_to_the_engine(tmp_path):
    (tmp_path / "empty").mkdir()
    info = ContainerInfo(id="c", name="n", image="i", image_id="sha256:aa", mounts=(
        Mount("/out", "bind", str(tmp_path / "empty")),
        Mount("/gone", "bind", str(tmp_path / "absent")),
        Mount("/data", "volume", "pgdata"),
        Mount("/tmp", "tmpfs")))
    engine = _MountsEngine()
    assert session._empty_mounts(engine, "c", info) == {"/out": True, "/gone": False,
                                                        "/data": False}
    assert engine.asked == ["/gone", "/data"]
