"""Files the recorder keeps for itself between runs (compiled programs, this boot's kernel
facts), which end up compiled into, or loaded as, programs that run in the kernel.

So a file is read only when it and its directory belong to the current user (root) and nobody
else may write to them, and it is written atomically: a temporary file in the same directory,
flushed to disk, renamed into place (a reader sees the old file or the new one, never half of
one; two writers of the same file leave one whole file). Everything here is best effort: a file
that cannot be read or written is recomputed by the caller, never an error."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path


def trusted(path: Path) -> bool:
    """Ours, and not writable by group or others."""
    try:
        st = path.stat()
    except OSError:
        return False
    return st.st_uid == os.geteuid() and not st.st_mode & 0o022


def read(path: Path) -> bytes | None:
    """The file's bytes when it and its directory are trusted, else None."""
    if not (trusted(path.parent) and trusted(path)):
        return None
    try:
        return path.read_bytes()
    except OSError:
        return None


def write(path: Path, data: bytes) -> bool:
    """Write atomically, making the directory (0700) if needed; False when it could not be
    written, or the directory is not trusted."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not trusted(path.parent):
            return False
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    except OSError:
        return False
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        return True
    except OSError:
        Path(tmp).unlink(missing_ok=True)
        return False


def seal(doc: dict) -> bytes:
    """A JSON document as stored: a line with the digest of its body first, so that a reader
    can tell a whole entry from a damaged or truncated one (`unseal`)."""
    body = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(body).hexdigest().encode() + b"\n" + body


def unseal(data: bytes, fmt: int, key: str) -> dict:
    """The document of a sealed entry written in format `fmt` for `key` (its "format" and
    "key" fields); ValueError saying why when it is damaged, truncated or another's."""
    digest, sep, body = data.partition(b"\n")
    if not sep or hashlib.sha256(body).hexdigest().encode() != digest:
        raise ValueError("digest mismatch (damaged or truncated)")
    doc = json.loads(body)
    if not isinstance(doc, dict) or doc.get("format") != fmt or doc.get("key") != key:
        raise ValueError("another key's entry")
    return doc


def prune(directory: Path, pattern: str, keep: int) -> None:
    """Remove the files of `pattern` beyond the `keep` most recently modified (a cache's
    bound). Best effort."""
    try:
        entries = sorted(directory.glob(pattern), key=lambda p: p.stat().st_mtime_ns)
        for old in entries[:-keep]:
            old.unlink(missing_ok=True)
    except OSError:
        pass
