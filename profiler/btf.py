"""Struct member offsets from the running kernel's BTF (/sys/kernel/btf/vmlinux).

bcc compiles against whatever headers are installed, which may be another kernel's (see
NOTES: the fallback headers are 6.1 on a 6.18 kernel), so no struct layout may come from them.
The one field the recorder reads (task_struct.real_cred) is located here instead, in the
kernel's own type information. Format: Documentation/bpf/btf.rst (stable kernel ABI).
"""

from __future__ import annotations

import struct
from functools import lru_cache
from pathlib import Path

VMLINUX = Path("/sys/kernel/btf/vmlinux")

# Bytes that follow `struct btf_type` (12 bytes) for each kind, by vlen.
_KIND_EXTRA = {
    1: lambda vlen: 4,           # INT
    3: lambda vlen: 12,          # ARRAY
    4: lambda vlen: 12 * vlen,   # STRUCT
    5: lambda vlen: 12 * vlen,   # UNION
    6: lambda vlen: 8 * vlen,    # ENUM
    13: lambda vlen: 8 * vlen,   # FUNC_PROTO
    14: lambda vlen: 4,          # VAR
    15: lambda vlen: 12 * vlen,  # DATASEC
    17: lambda vlen: 4,          # DECL_TAG
    19: lambda vlen: 12 * vlen,  # ENUM64
}
STRUCT = 4


def member_offset(data: bytes, struct_name: str, member: str) -> int | None:
    """Byte offset of `member` in `struct struct_name`, or None when BTF does not say."""
    magic, _ver, _flags, hdr_len, type_off, type_len, str_off, str_len = \
        struct.unpack_from("<HBBIIIII", data, 0)
    if magic != 0xEB9F:
        return None
    types = hdr_len + type_off
    strings = hdr_len + str_off

    def name(off: int) -> bytes:
        end = data.index(b"\0", strings + off)
        return data[strings + off:end]

    want, field = struct_name.encode(), member.encode()
    pos, end = types, types + type_len
    while pos < end:
        name_off, info, _size = struct.unpack_from("<III", data, pos)
        kind, vlen, kflag = (info >> 24) & 0x1F, info & 0xFFFF, info >> 31
        extra = _KIND_EXTRA.get(kind, lambda v: 0)(vlen)
        if kind == STRUCT and name(name_off) == want:
            for i in range(vlen):
                m_name, _m_type, m_off = struct.unpack_from("<III", data, pos + 12 + 12 * i)
                if name(m_name) == field:
                    bits = m_off & 0xFFFFFF if kflag else m_off
                    return bits // 8 if bits % 8 == 0 else None
        pos += 12 + extra
    return None


@lru_cache(maxsize=None)
def running_kernel_offset(struct_name: str, member: str) -> int | None:
    try:
        data = VMLINUX.read_bytes()
    except OSError:
        return None
    return member_offset(data, struct_name, member)
