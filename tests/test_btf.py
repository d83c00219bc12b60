"""profiler.btf reads struct member offsets from BTF (pure; a synthetic blob, no root)."""

from __future__ import annotations

import struct

from profiler import btf


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
