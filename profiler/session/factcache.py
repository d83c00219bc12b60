"""A cache of image facts by image id, so that `record` does not read an image's content again.

An image's facts (engine.Engine.image_facts: its VOLUMEs and the entries below the directories a
run line may mount over, and /etc) are read from a container created from the image and never
started, with a `docker cp` of each directory: 1-3 s of the engine's time on a busy host, at every
recording, beside the app's own start. They depend only on the image's content, and an image id
is the digest of its configuration, which names the digests of its layers: the same id has the
same content on any engine. So they are kept by image id (with what is read and how: the roots,
the depths, the format), beside the compiled recorder (/var/cache/profiler/facts), and read
again from there.

The trust rules are the compiled recorder's (kernel/ownfiles.py): the directory is root's,
0700; an entry is read only when it and its directory are ours and writable by nobody else
(what it says decides where a hardened run line puts a tmpfs); writes are atomic; each entry
carries a digest of its body, and one that is damaged, another key's or unreadable is ignored
(the facts are read from the engine and stored anew). At most KEEP entries are kept, the least
recently used go first. PROFILER_FACTS_CACHE=DIR moves it, =off reads the engine every time.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from ..kernel import ownfiles
from ..recording.model import ImageEntry, ImageFacts

CACHE_DIR = Path("/var/cache/profiler/facts")
FORMAT = 1  # the entry's layout; part of the key
KEEP = 64   # entries kept: the images recorded on this host lately
_TYPES = ("dir", "file", "symlink", "other")


class CacheError(Exception):
    """An entry that cannot be used (damaged, another key's)."""


def cache_dir() -> Path | None:
    """Where entries are kept: PROFILER_FACTS_CACHE, else CACHE_DIR; None when it is "off"."""
    where = os.environ.get("PROFILER_FACTS_CACHE") or str(CACHE_DIR)
    return None if where == "off" else Path(where)


def cache_key(image_id: str, volumes: tuple[str, ...], reader: tuple) -> str:
    """The key of an image's facts: its id, its VOLUMEs, and `reader` (what is read and how:
    the engine's roots and depths), so that a change of either is another key."""
    doc = json.dumps({"format": FORMAT, "image": image_id, "volumes": sorted(volumes),
                      "reader": list(reader)}, sort_keys=True)
    return hashlib.sha256(doc.encode()).hexdigest()


def encode(facts: ImageFacts, key: str) -> bytes:
    """A digest line, then the facts as JSON."""
    return ownfiles.seal({
        "format": FORMAT, "key": key, "volumes": list(facts.volumes),
        "inspected": list(facts.inspected),
        "entries": [[e.path, e.type, e.uid, e.gid, e.mode, e.target, e.entries]
                    for e in facts.entries]})


def decode(data: bytes, key: str) -> ImageFacts:
    """The facts stored for `key`; CacheError when damaged, truncated or another key's."""
    try:
        doc = ownfiles.unseal(data, FORMAT, key)
        entries = []
        for path, kind, uid, gid, mode, target, below in doc["entries"]:
            if not (isinstance(path, str) and path.startswith("/") and kind in _TYPES
                    and isinstance(target, str)
                    and all(type(n) is int and n >= 0 for n in (uid, gid, mode, below))):
                raise CacheError(f"bad entry {path!r}")
            entries.append(ImageEntry(path, kind, uid, gid, mode, target, below))
        names = [doc["volumes"], doc["inspected"]]
        if not all(isinstance(v, list) and all(isinstance(x, str) for x in v) for v in names):
            raise CacheError("bad directories")
        return ImageFacts(tuple(doc["volumes"]), tuple(doc["inspected"]), tuple(entries))
    except CacheError:
        raise
    except (ValueError, KeyError, TypeError) as e:
        raise CacheError(f"unreadable entry: {e}") from None


def load(key: str, where: Path | None) -> ImageFacts | None:
    """The facts stored for `key`, or None (absent, untrusted, damaged: read the engine)."""
    if where is None:
        return None
    path = where / f"{key}.json"
    data = ownfiles.read(path)
    if data is None:
        return None
    try:
        facts = decode(data, key)
    except CacheError:
        return None
    try:
        os.utime(path)  # used now: the last to go when the cache is pruned
    except OSError:
        pass
    return facts


def store(facts: ImageFacts, key: str, where: Path | None) -> bool:
    """Write the entry (atomic, 0700 directory) and prune the least recently used beyond
    KEEP. Best effort: False when it could not be written (the recording goes on)."""
    if where is None or not ownfiles.write(where / f"{key}.json", encode(facts, key)):
        return False
    ownfiles.prune(where, "*.json", KEEP)
    return True
