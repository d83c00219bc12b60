"""Loss that was not loss (issue 20, item 3): a user-memory read at syscall entry fails when
the page holding the argument is not faulted in yet; the syscall itself then faults it in and
succeeds. A real proxy server lost one event in every recording (`user_read_failed`). Paths,
addresses and open_how are read again at the syscall's exit, and only what cannot be read even
then counts as lost. tests/apps/fresh_page.c puts each argument in a never-touched page of a
MAP_PRIVATE file mapping."""

from __future__ import annotations

import os
import shutil
import socket
import struct
import subprocess
from pathlib import Path

import pytest

from profiler.recording import recording_io

from test_record_integration import REPO, free_port, run

pytestmark = pytest.mark.root


def _sockaddr_in(port: int) -> bytes:
    return struct.pack("<H", socket.AF_INET) + struct.pack(">H", port) + \
        socket.inet_aton("127.0.0.1") + bytes(8)


def test_arguments_in_pages_not_faulted_in_are_recorded_with_no_loss(require_root, tmp_path):
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler")
    exe = tmp_path / "fresh_page"
    subprocess.run([cc, "-O1", "-o", str(exe), str(REPO / "tests/apps/fresh_page.c")], check=True)
    page = os.sysconf("SC_PAGESIZE")
    target = tmp_path / "the-file-opened"
    target.write_text("x")
    second = tmp_path / "opened-by-openat2"
    second.write_text("y")
    closed, bound = free_port(), free_port()
    how = struct.pack("<QQQ", os.O_RDONLY, 0, 0)  # struct open_how {flags, mode, resolve}
    pages = [str(target).encode() + b"\0", _sockaddr_in(closed), _sockaddr_in(bound), how,
             str(second).encode() + b"\0"]
    data = tmp_path / "args.bin"
    data.write_bytes(b"".join(p.ljust(page, b"\0") for p in pages))
    # the file's pages must not be in the page cache either: a fresh file is; drop them
    fd = os.open(data, os.O_RDONLY)
    os.fsync(fd)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    os.close(fd)
    out = tmp_path / "rec.yaml"
    proc = run(["record", "--exec", "-o", str(out), "--", str(exe), str(data)], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    rec = recording_io.load(out)
    assert dict(rec.loss)["user_read_failed"] == 0, rec.loss
    assert rec.total_loss == 0, rec.loss
    files = {f.path for f in rec.files}
    assert str(target) in files and str(second) in files
    listening = {(e.address, e.port) for e in rec.network.listening}
    assert ("127.0.0.1", bound) in listening, rec.network
    connects = {(e.address, e.port) for e in rec.network.connects}
    assert ("127.0.0.1", closed) in connects, rec.network
