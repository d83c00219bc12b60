"""The compiled-recorder cache (profiler/bpfcache.py): its key, its entries on disk, and, as
root, a recorder loaded from it (the verifier checks it) recording what a compiled one records;
a corrupt entry, or one the kernel refuses, falls back to compiling. No timing here: the start
time is bench/record_bench.py's."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from profiler.kernel import bpfcache
from profiler.kernel.bpfcache import CacheError, Entry, FuncSpec, MapSpec

REPO = Path(__file__).resolve().parents[2]

KERNEL = ["6.18.44", "#1 SMP", "x86_64", "btf-digest", "/usr/src/h:1:2", "/usr/src/c:1:2"]
TOOLS = ["bcc 0.26.0", "/usr/lib/libbcc.so.0.26.0:10:20", "/usr/lib/libLLVM-14.so.1:30:40"]
SOURCE = ["record.c:aa", "wire.h:bb"]
CFLAGS = ["-DMAX_NR=1024", "-DKPATH"]


def _ld_map(fd: int, src: int = bpfcache.PSEUDO_MAP_FD) -> bytes:
    """ld_imm64 r1, <map fd> (two instructions)."""
    return struct.pack("<BBhi", 0x18, 1 | (src << 4), 0, fd) + struct.pack("<BBhi", 0, 0, 0, 0)


EXIT = struct.pack("<BBhi", 0x95, 0, 0, 0)
MOV0 = struct.pack("<BBhi", 0xb7, 0, 0, 0)  # r0 = 0


def _entry() -> Entry:
    insns = MOV0 + _ld_map(7) + MOV0 + _ld_map(9) + EXIT
    refs = bpfcache.map_refs(insns)
    fds = {7: 0, 9: 1}
    return Entry("GPL", 0, b"\x9f\xeb-btf", [
        MapSpec("counts", 2, 4, 8, 1024, 0, 0, 0, '"int"', '"unsigned long long"'),
        MapSpec("tstate", 29, 4, 4, 0, 1, 3, 4, '"int"', '"unsigned int"')],
        [FuncSpec("raw_tracepoint__sys_enter", insns, [(i, fds[fd]) for i, fd in refs])])


# --- the key ---------------------------------------------------------------------------------
def test_key_changes_with_every_input():
    base = bpfcache.cache_key(KERNEL, TOOLS, SOURCE, CFLAGS)
    assert base == bpfcache.cache_key(list(KERNEL), list(TOOLS), list(SOURCE), list(CFLAGS))
    changed = [
        bpfcache.cache_key(["6.19.0"] + KERNEL[1:], TOOLS, SOURCE, CFLAGS),        # release
        bpfcache.cache_key(KERNEL[:3] + ["other-btf"] + KERNEL[4:], TOOLS, SOURCE, CFLAGS),
        bpfcache.cache_key(KERNEL, ["bcc 0.35.0"] + TOOLS[1:], SOURCE, CFLAGS),   # bcc
        bpfcache.cache_key(KERNEL, TOOLS[:2] + ["/usr/lib/libLLVM-19.so.1:1:2"], SOURCE, CFLAGS),
        bpfcache.cache_key(KERNEL, TOOLS, ["record.c:ab", "wire.h:bb"], CFLAGS),  # source
        bpfcache.cache_key(KERNEL, TOOLS, SOURCE, CFLAGS + ["-DMATCH"]),          # options
        bpfcache.cache_key(KERNEL, TOOLS, SOURCE, ["-DMAX_NR=1024"]),
    ]
    assert len({base, *changed}) == len(changed) + 1


def test_source_identity_follows_every_file_of_bpf(tmp_path):
    (tmp_path / "record.c").write_text("int x;")
    (tmp_path / "wire.h").write_text("#define A 1")
    before = bpfcache.source_identity(tmp_path)
    (tmp_path / "wire.h").write_text("#define A 2")
    assert bpfcache.source_identity(tmp_path) != before
    assert len(bpfcache.source_identity(REPO / "bpf")) >= 2  # record.c and wire.h


# --- entries on disk ---------------------------------------------------------------------------
def test_entry_round_trip(tmp_path):
    d = tmp_path / "cache"
    assert bpfcache.store_entry(_entry(), "k1", d)
    assert bpfcache.load_entry("k1", d) == _entry()
    assert oct(d.stat().st_mode & 0o777) == oct(0o700)
    assert [p.name for p in d.iterdir()] == ["k1.bpfobj"]  # no temporary file left


def test_absent_or_other_key_is_a_miss(tmp_path):
    d = tmp_path / "cache"
    assert bpfcache.load_entry("k1", d) is None
    bpfcache.store_entry(_entry(), "k1", d)
    (d / "k2.bpfobj").write_bytes((d / "k1.bpfobj").read_bytes())  # k1's content under k2
    assert bpfcache.load_entry("k2", d) is None


@pytest.mark.parametrize("damage", ["flip", "truncate", "empty", "garbage", "bad-json"])
def test_corrupt_entry_is_a_miss(tmp_path, damage):
    d = tmp_path / "cache"
    bpfcache.store_entry(_entry(), "k1", d)
    f = d / "k1.bpfobj"
    data = f.read_bytes()
    if damage == "flip":
        i = len(data) // 2
        data = data[:i] + bytes([data[i] ^ 1]) + data[i + 1:]
    elif damage == "truncate":
        data = data[: len(data) - 10]
    elif damage == "empty":
        data = b""
    elif damage == "garbage":
        data = os.urandom(300)
    else:  # a matching digest over a body that is not an entry
        import hashlib
        body = b'{"format": 1, "key": "k1"}'
        data = hashlib.sha256(body).hexdigest().encode() + b"\n" + body
    f.write_bytes(data)
    assert bpfcache.load_entry("k1", d) is None
    with pytest.raises(CacheError):
        bpfcache.decode(data, "k1")


def test_relocation_out_of_range_is_refused():
    e = _entry()
    e.funcs[0].relocs.append((999, 0))
    with pytest.raises(CacheError, match="bad function"):
        bpfcache.decode(bpfcache.encode(e, "k"), "k")


def test_directory_others_may_write_is_not_trusted(tmp_path):
    d = tmp_path / "cache"
    bpfcache.store_entry(_entry(), "k1", d)
    d.chmod(0o777)
    assert bpfcache.load_entry("k1", d) is None
    assert not bpfcache.store_entry(_entry(), "k2", d)
    d.chmod(0o700)
    assert bpfcache.load_entry("k1", d) == _entry()


def test_old_entries_are_pruned(tmp_path):
    d = tmp_path / "cache"
    for i in range(bpfcache.KEEP + 3):
        bpfcache.store_entry(_entry(), f"k{i}", d)
        os.utime(d / f"k{i}.bpfobj", ns=(i * 10**9, i * 10**9))
    bpfcache.store_entry(_entry(), "last", d)
    names = {p.name for p in d.iterdir()}
    assert len(names) == bpfcache.KEEP and "last.bpfobj" in names and "k0.bpfobj" not in names


def test_unwritable_cache_is_not_an_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert not bpfcache.store_entry(_entry(), "k1", blocker / "cache")


# --- instructions ----------------------------------------------------------------------------
def test_map_references_found_and_patched():
    insns = MOV0 + _ld_map(7) + _ld_map(9) + EXIT
    assert bpfcache.map_refs(insns) == [(1, 7), (3, 9)]
    out = bpfcache.patched(FuncSpec("f", insns, [(1, 1), (3, 0)]), [40, 41])
    assert bpfcache.map_refs(out) == [(1, 41), (3, 40)]
    assert out[:8] == MOV0 and out[-8:] == EXIT


def test_other_pseudo_loads_are_not_cached():
    with pytest.raises(CacheError, match="pseudo load 2"):
        bpfcache.map_refs(_ld_map(7, src=2) + EXIT)  # BPF_PSEUDO_MAP_VALUE
    assert bpfcache.map_refs(_ld_map(5, src=0) + EXIT) == []  # a plain 64-bit constant


# --- the real recorder (root) --------------------------------------------------------------------
def _tracer_in(cache: Path, monkeypatch):
    monkeypatch.setenv("PROFILER_BPF_CACHE", str(cache))
    from profiler.kernel.tracer import Tracer
    return Tracer()


@pytest.mark.root
def test_recorder_is_stored_then_loaded_from_the_cache(require_root, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    first = _tracer_in(cache, monkeypatch)
    first.close()
    entries = list(cache.glob("*.bpfobj"))
    assert not first.from_cache and len(entries) == 1
    stamp = entries[0].stat().st_mtime_ns
    second = _tracer_in(cache, monkeypatch)
    try:
        assert second.from_cache
        assert second.live_stats()["lost"] == 0  # its maps answer through bcc's tables
    finally:
        second.close()
    assert entries[0].stat().st_mtime_ns == stamp  # read, not re-written


def test_the_recorders_own_header_is_included_by_its_absolute_path():
    from profiler.kernel.tracer import BPF_DIR, recorder_source
    src = recorder_source()
    assert f'#include "{BPF_DIR / "wire.h"}"' in src
    assert '#include "wire.h"' not in src


@pytest.mark.root
def test_a_wire_h_in_the_working_directory_is_not_compiled_in(require_root, tmp_path, monkeypatch):
    """bcc's compile looked for record.c's quoted include in the process's working directory
    first: a stale wire.h in /tmp broke `profiler record` started there."""
    (tmp_path / "wire.h").write_text('#error "not the recorder\'s wire.h"\n')
    monkeypatch.chdir(tmp_path)
    t = _tracer_in(tmp_path / "cache", monkeypatch)  # an empty cache: compiled here
    t.close()
    assert not t.from_cache


@pytest.mark.root
def test_corrupt_entry_falls_back_to_compiling(require_root, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    _tracer_in(cache, monkeypatch).close()
    entry = next(cache.glob("*.bpfobj"))
    entry.write_bytes(entry.read_bytes()[:-100])
    t = _tracer_in(cache, monkeypatch)
    t.close()
    assert not t.from_cache
    key = entry.name.removesuffix(".bpfobj")
    assert bpfcache.load_entry(key, cache) is not None  # replaced by a whole one


@pytest.mark.root
def test_entry_the_verifier_refuses_falls_back_to_compiling(require_root, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    _tracer_in(cache, monkeypatch).close()
    path = next(cache.glob("*.bpfobj"))
    key = path.name.removesuffix(".bpfobj")
    e = bpfcache.decode(path.read_bytes(), key)
    f = e.func("raw_tracepoint__sys_enter")
    f.insns = EXIT + f.insns[8:]  # exits before r0 is set: the verifier refuses it
    path.write_bytes(bpfcache.encode(e, key))  # a well-formed entry, digest and all
    t = _tracer_in(cache, monkeypatch)
    t.close()
    assert not t.from_cache
    assert bpfcache.load_entry(key, cache).func("raw_tracepoint__sys_enter").insns[:8] != EXIT


def _record_exec(tmp_path: Path, cache: Path, name: str):
    from profiler.recording import recording_io
    out = tmp_path / f"{name}.yaml"
    exe = REPO / ".venv" / "bin" / "profiler"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "profiler.cli"]
    proc = subprocess.run(cmd + ["record", "--exec", "-o", str(out), "--", "/bin/sh", "-c",
                                 "cat /etc/hostname >/dev/null; ls /etc >/dev/null"],
                          capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=180,
                          cwd=tmp_path, env=dict(os.environ, PROFILER_BPF_CACHE=str(cache)))
    assert proc.returncode == 0, proc.stderr
    return recording_io.load(out)


@pytest.mark.root
def test_cached_recorder_records_what_the_compiled_one_does(require_root, tmp_path):
    cache = tmp_path / "cache"
    compiled = _record_exec(tmp_path, cache, "compiled")
    entry = next(cache.glob("*.bpfobj"))
    stamp = entry.stat().st_mtime_ns
    cached = _record_exec(tmp_path, cache, "cached")
    assert entry.stat().st_mtime_ns == stamp  # the second run loaded it
    assert cached.syscall_names == compiled.syscall_names
    assert {f.path for f in cached.files} == {f.path for f in compiled.files}
    assert "/etc/hostname" in {f.path for f in cached.files}
    assert cached.total_loss == 0
