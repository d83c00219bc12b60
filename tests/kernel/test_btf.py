"""profiler.kernel.btf reads struct member offsets from BTF (pure; a synthetic blob, no root)."""

from __future__ import annotations

import struct

from profiler.kernel import btf


def _blob() -> bytes:
    strings = b"\0task_struct\0real_cred\0cred\0int\0other\0"
    off = {n: strings.index(n.encode() + b"\0") for n in ("task_struct", "real_cred", "cred", "int", "other")}
    types = b""
    # [1] INT 'int' (4 extra bytes)
    types += struct.pack("<III", off["int"], 1 << 24, 4) + struct.pack("<I", 32)
    # [2] STRUCT 'other' with one member, to be skipped
    types += struct.pack("<III", off["other"], (4 << 24) | 1, 8) + struct.pack("<III", off["cred"], 1, 0)
    # [3] STRUCT 'task_struct' {int pad[..]; real_cred at byte 1728; cred at 1736}
    types += struct.pack("<III", off["task_struct"], (4 << 24) | 2, 4096)
    types += struct.pack("<III", off["real_cred"], 1, 1728 * 8)
    types += struct.pack("<III", off["cred"], 1, 1736 * 8)
    return _with_header(types, strings)


def _with_header(types: bytes, strings: bytes) -> bytes:
    hdr = struct.pack("<HBBIIIII", 0xEB9F, 1, 0, 24, 0, len(types), len(types), len(strings))
    return hdr + types + strings


def test_member_offsets():
    data = _blob()
    assert btf.member_offset(data, "task_struct", "real_cred") == 1728
    assert btf.member_offset(data, "task_struct", "cred") == 1736
    assert btf.member_offset(data, "other", "cred") == 0
    assert btf.member_offset(data, "task_struct", "nope") is None
    assert btf.member_offset(data, "nope", "cred") is None


def test_not_btf():
    assert btf.member_offset(b"\0" * 64, "task_struct", "cred") is None


def test_running_kernel_when_present():
    if not btf.VMLINUX.exists():
        return
    real = btf.running_kernel_offset("task_struct", "real_cred")
    cred = btf.running_kernel_offset("task_struct", "cred")
    # In every kernel since 2.6.29 the two pointers sit next to each other.
    assert real is not None and cred == real + 8


def _nested_blob() -> bytes:
    """qstr { union { struct { u32 hash; u32 len; }; u64 hash_len; }; char *name; } and
    dentry { int pad[6]; qstr d_name; } at byte 32, as the kernel lays them out."""
    names = ["int", "qstr", "hash", "len", "hash_len", "name", "dentry", "d_name", "pad"]
    strings = b"\0" + b"".join(n.encode() + b"\0" for n in names)
    off = {n: strings.index(b"\0" + n.encode() + b"\0") + 1 for n in names}
    t = b""
    t += struct.pack("<III", off["int"], 1 << 24, 4) + struct.pack("<I", 32)          # [1] int
    t += struct.pack("<III", 0, (4 << 24) | 2, 8)                                      # [2] anon struct
    t += struct.pack("<III", off["hash"], 1, 0) + struct.pack("<III", off["len"], 1, 32)
    t += struct.pack("<III", 0, (5 << 24) | 2, 8)                                      # [3] anon union
    t += struct.pack("<III", 0, 2, 0) + struct.pack("<III", off["hash_len"], 1, 0)
    t += struct.pack("<III", off["qstr"], (4 << 24) | 2, 16)                           # [4] qstr
    t += struct.pack("<III", 0, 3, 0) + struct.pack("<III", off["name"], 1, 64)
    t += struct.pack("<III", 0, 8 << 24, 4)                                            # [5] typedef -> qstr
    t += struct.pack("<III", off["dentry"], (4 << 24) | 2, 48)                         # [6] dentry
    t += struct.pack("<III", off["pad"], 1, 0) + struct.pack("<III", off["d_name"], 5, 256)
    return _with_header(t, strings)


def test_members_inside_anonymous_unions_and_dotted_paths():
    data = _nested_blob()
    assert btf.member_offset(data, "qstr", "len") == 4
    assert btf.member_offset(data, "qstr", "hash_len") == 0
    assert btf.member_offset(data, "qstr", "name") == 8
    assert btf.member_offset(data, "dentry", "d_name.len") == 36  # through a typedef
    assert btf.member_offset(data, "dentry", "d_name.name") == 40
    assert btf.member_offset(data, "dentry", "d_name.nope") is None


def test_every_member_of_the_path_walk_is_found_in_the_running_kernel():
    if not btf.VMLINUX.exists():
        return
    from profiler.kernel.tracer import kpath_defines
    flags, missing = kpath_defines()
    assert missing == [] and "-DKPATH" in flags
    assert btf.running_kernel_offset("dentry", "d_name.name") == \
        btf.running_kernel_offset("dentry", "d_name.len") + 4  # qstr: u32 hash, u32 len, name


def test_running_kernel_thread_info_status():
    """The recorder tells i386 syscalls by TS_COMPAT in task_struct.thread_info.status."""
    if not btf.VMLINUX.exists():
        return
    ti = btf.running_kernel_offset("task_struct", "thread_info")
    status = btf.running_kernel_offset("task_struct", "thread_info.status")
    assert ti is not None and status is not None and status >= ti


# --- answers kept for the boot (btf.FACTS_CACHE) ----------------------------------------------
import os  # noqa: E402

import pytest  # noqa: E402


@pytest.fixture
def kept(tmp_path, monkeypatch):
    """A synthetic vmlinux BTF, boot id and facts file under tmp_path; a fresh process view."""
    (tmp_path / "vmlinux").write_bytes(_blob())
    (tmp_path / "boot_id").write_text("boot-1\n")
    monkeypatch.setattr(btf, "VMLINUX", tmp_path / "vmlinux")
    monkeypatch.setattr(btf, "BOOT_ID", tmp_path / "boot_id")
    monkeypatch.setattr(btf, "FACTS_CACHE", tmp_path / "run" / "btf-facts.json")
    monkeypatch.setattr(btf, "_facts", None)
    btf._vmlinux.cache_clear()
    yield tmp_path
    btf._vmlinux.cache_clear()


def _new_process(monkeypatch):
    monkeypatch.setattr(btf, "_facts", None)
    btf._vmlinux.cache_clear()


def test_answers_are_kept_for_the_boot(kept, monkeypatch):
    assert btf.running_kernel_offset("task_struct", "real_cred") == 1728
    assert btf.running_kernel_offset("task_struct", "nope") is None
    assert oct((kept / "run").stat().st_mode & 0o777) == oct(0o700)
    _new_process(monkeypatch)
    monkeypatch.setattr(btf, "member_offset", lambda *a: pytest.fail("BTF parsed again"))
    assert btf.running_kernel_offset("task_struct", "real_cred") == 1728
    assert btf.running_kernel_offset("task_struct", "nope") is None


def test_answers_of_another_boot_are_not_used(kept, monkeypatch):
    btf.running_kernel_offset("task_struct", "real_cred")
    _new_process(monkeypatch)
    (kept / "boot_id").write_text("boot-2\n")
    monkeypatch.setattr(btf, "member_offset", lambda *a: 99)
    assert btf.running_kernel_offset("task_struct", "real_cred") == 99


def test_a_kept_answer_of_the_wrong_type_is_not_used(kept, monkeypatch):
    btf.running_kernel_offset("task_struct", "real_cred")
    f = kept / "run" / "btf-facts.json"
    f.write_text(f.read_text().replace("1728", '"1728; system()"'))
    _new_process(monkeypatch)
    assert btf.running_kernel_offset("task_struct", "real_cred") == 1728


def test_a_facts_file_others_may_write_is_not_used(kept, monkeypatch):
    btf.running_kernel_offset("task_struct", "real_cred")
    (kept / "run" / "btf-facts.json").chmod(0o666)
    _new_process(monkeypatch)
    monkeypatch.setattr(btf, "member_offset", lambda *a: 99)
    assert btf.running_kernel_offset("task_struct", "real_cred") == 99


def test_answers_of_an_unreadable_btf_are_not_kept(kept, monkeypatch):
    (kept / "vmlinux").unlink()
    assert btf.running_kernel_offset("task_struct", "real_cred") is None
    assert not (kept / "run" / "btf-facts.json").exists()
    assert os.path.exists(kept / "boot_id")


def test_the_btf_digest_is_kept_for_the_boot(kept, monkeypatch):
    """The compiled recorder's cache key names the BTF by its digest: hashed once a boot."""
    import hashlib
    from functools import lru_cache

    digest = hashlib.sha256((kept / "vmlinux").read_bytes()).hexdigest()
    assert btf.running_kernel_digest() == digest
    _new_process(monkeypatch)
    monkeypatch.setattr(btf, "_vmlinux", lru_cache(lambda: pytest.fail("BTF read again")))
    assert btf.running_kernel_digest() == digest
    f = kept / "run" / "btf-facts.json"
    f.write_text(f.read_text().replace(digest, "x" * 64))  # not a digest: computed again
    _new_process(monkeypatch)
    monkeypatch.setattr(btf, "_vmlinux", lru_cache(lambda: b"other"))
    assert btf.running_kernel_digest() == hashlib.sha256(b"other").hexdigest()
