"""Facts about the running kernel from its BTF (/sys/kernel/btf/vmlinux).

bcc compiles against whatever headers are installed, which may be another kernel's (see
NOTES: the fallback headers are 6.1 on a 6.18 kernel), so no struct layout may come from them.
Every kernel struct field the recorder reads (task_struct.real_cred, an exec's credentials and
its file's mode (CRED_MEMBERS), and the fd table, fs_struct,
dentry and mount fields of the in-kernel path walk) is located here instead, in the kernel's own
type information. Format: Documentation/bpf/btf.rst (stable kernel ABI).

A member may sit inside anonymous structs and unions (mm_struct wraps all its fields in one,
qstr keeps `len` in an anonymous struct inside an anonymous union): the lookup descends into
them. A dotted member ("f_path.dentry", "d_name.len") follows named struct members.

Also read here: the parameter names of a kernel function the recorder probes (cap_capable,
profiler/kernel/capsource.py), and the enum members that say which BPF map and program types the
kernel has (pre-flight).
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from functools import lru_cache
from pathlib import Path

from . import ownfiles

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
STRUCT, UNION = 4, 5
ENUM, FUNC, FUNC_PROTO, ENUM64 = 6, 12, 13, 19
# Kinds whose size/type field names another type that is "the same" for a member lookup:
# TYPEDEF, VOLATILE, CONST, RESTRICT, TYPE_TAG.
_ALIASES = {8, 9, 10, 11, 18}


class _Types:
    """The type section, indexed by type id (id 0 is void)."""

    def __init__(self, data: bytes):
        magic, _ver, _flags, hdr_len, type_off, type_len, str_off, _str_len = \
            struct.unpack_from("<HBBIIIII", data, 0)
        if magic != 0xEB9F:
            raise ValueError("not BTF")
        self.data = data
        self.strings = hdr_len + str_off
        self.pos = [0]  # type id -> offset of its btf_type
        self.by_name: dict[bytes, list[int]] = {}
        pos, end = hdr_len + type_off, hdr_len + type_off + type_len
        while pos < end:
            name_off, info, _size = struct.unpack_from("<III", data, pos)
            kind, vlen = (info >> 24) & 0x1F, info & 0xFFFF
            if kind in (STRUCT, UNION) and name_off:
                self.by_name.setdefault(self.name(name_off), []).append(len(self.pos))
            self.pos.append(pos)
            pos += 12 + _KIND_EXTRA.get(kind, lambda v: 0)(vlen)

    def name(self, off: int) -> bytes:
        start = self.strings + off
        return self.data[start:self.data.index(b"\0", start)]

    def header(self, tid: int) -> tuple[int, int, int, int, int]:
        name_off, info, size_or_type = struct.unpack_from("<III", self.data, self.pos[tid])
        return name_off, (info >> 24) & 0x1F, info & 0xFFFF, info >> 31, size_or_type

    def strip(self, tid: int) -> int:
        """The type behind typedefs and qualifiers."""
        for _ in range(32):
            _n, kind, _v, _k, target = self.header(tid)
            if kind not in _ALIASES:
                return tid
            tid = target
        return tid

    def member(self, tid: int, field: bytes) -> tuple[int, int] | None:
        """(bit offset, type id) of `field` in struct/union tid, searching anonymous members."""
        _n, kind, vlen, kflag, _size = self.header(tid)
        if kind not in (STRUCT, UNION):
            return None
        base = self.pos[tid] + 12
        for i in range(vlen):
            m_name, m_type, m_off = struct.unpack_from("<III", self.data, base + 12 * i)
            bits = m_off & 0xFFFFFF if kflag else m_off
            if m_name and self.name(m_name) == field:
                return bits, m_type
            if not m_name:  # anonymous struct or union: its members belong to this one
                inner = self.member(self.strip(m_type), field)
                if inner is not None:
                    return bits + inner[0], inner[1]
        return None


def member_offset(data: bytes, struct_name: str, member: str) -> int | None:
    """Byte offset of `member` (dotted for nested named members) in `struct struct_name`, or
    None when BTF does not say (or the member is a bit field)."""
    try:
        types = _types(data)
    except (ValueError, struct.error):
        return None
    for tid in types.by_name.get(struct_name.encode(), ()):
        if types.header(tid)[1] != STRUCT:
            continue
        bits, cur = 0, tid
        for part in member.split("."):
            found = types.member(types.strip(cur), part.encode())
            if found is None:
                break
            bits, cur = bits + found[0], found[1]
        else:
            return bits // 8 if bits % 8 == 0 else None
    return None


def func_params(data: bytes, func: str) -> tuple[str, ...] | None:
    """The parameter names of kernel function `func`, or None when BTF has no such function."""
    try:
        types = _types(data)
    except (ValueError, struct.error):
        return None
    want = func.encode()
    for tid in range(1, len(types.pos)):
        name_off, kind, _vlen, _kflag, proto = types.header(tid)
        if kind == FUNC and types.name(name_off) == want:
            _n, pkind, vlen, _k, _ret = types.header(proto)
            if pkind != FUNC_PROTO:
                return None
            base = types.pos[proto] + 12  # btf_param: name_off, type
            return tuple(types.name(struct.unpack_from("<I", data, base + 8 * i)[0]).decode()
                         for i in range(vlen))
    return None


def enum_members(data: bytes, enum: str) -> frozenset[str]:
    """The member names of `enum enum` (empty when BTF has no such enum)."""
    try:
        types = _types(data)
    except (ValueError, struct.error):
        return frozenset()
    want = enum.encode()
    for tid in range(1, len(types.pos)):
        name_off, kind, vlen, _kflag, _size = types.header(tid)
        if kind in (ENUM, ENUM64) and types.name(name_off) == want:
            step = 8 if kind == ENUM else 12
            base = types.pos[tid] + 12
            return frozenset(types.name(struct.unpack_from("<I", data, base + step * i)[0])
                             .decode() for i in range(vlen))
    return frozenset()


_parsed: dict[int, _Types] = {}  # id(data) -> parsed types, for the one blob read at a time


def _types(data: bytes) -> _Types:
    t = _parsed.get(id(data))
    if t is None or t.data is not data:
        _parsed.clear()
        t = _parsed[id(data)] = _Types(data)
    return t


@lru_cache(maxsize=1)
def _vmlinux() -> bytes | None:
    try:
        return VMLINUX.read_bytes()
    except OSError:
        return None


# --- what was looked up, kept for the boot ------------------------------------------------------
# Parsing the running kernel's BTF (5 MB, 100,000s of types) took 0.13 s of every recorder start,
# in pre-flight, for a few dozen answers that cannot change before the next boot (vmlinux's BTF
# is part of the kernel image). So the answers are kept in /run (a tmpfs, emptied at boot) under
# the boot's id and the kernel's build, and a start parses BTF only for a question not asked
# before. The offsets are compiled into the recorder, so the file is used only when it is ours,
# nobody else may write to it, and each answer has its kind's type.
FACTS_CACHE = Path("/run/profiler/btf-facts.json")
BOOT_ID = Path("/proc/sys/kernel/random/boot_id")
_facts: dict | None = None  # this process's view of FACTS_CACHE: {"identity": .., "facts": {..}}


def _identity() -> str | None:
    """The boot, the kernel's build, and the BTF file itself (a test may point VMLINUX
    elsewhere: its answers are not the kernel's)."""
    try:
        u, st = os.uname(), VMLINUX.stat()
        return (f"{BOOT_ID.read_text().strip()} {u.release} {u.version} "
                f"{VMLINUX}:{st.st_size}:{st.st_mtime_ns}")
    except OSError:
        return None


def _loaded_facts() -> dict:
    global _facts
    if _facts is None:
        _facts = {"identity": _identity(), "facts": {}}
        try:
            doc = json.loads(ownfiles.read(FACTS_CACHE) or b"{}")
            if _facts["identity"] and doc.get("identity") == _facts["identity"] and \
                    isinstance(doc.get("facts"), dict):
                _facts["facts"] = doc["facts"]
        except (ValueError, AttributeError):
            pass
    return _facts


def _remember(key: str, value) -> None:
    """Add an answer and rewrite the file (best effort). Answers from an unreadable BTF, or
    from another BTF than the one the file is for, stay in this process."""
    facts = _loaded_facts()
    facts["facts"][key] = value
    if facts["identity"] and _vmlinux() is not None and _identity() == facts["identity"]:
        ownfiles.write(FACTS_CACHE, json.dumps(facts, sort_keys=True).encode())


def _is_offset(v) -> bool:
    return v is None or (type(v) is int and v >= 0)


def _is_names(v) -> bool:
    return isinstance(v, list) and all(isinstance(x, str) for x in v)


def _asked(key: str, valid, compute):
    """The kept answer to `key` when it has the right type, else computed and kept."""
    facts = _loaded_facts()["facts"]
    if key in facts and valid(facts[key]):
        return facts[key]
    value = compute()
    _remember(key, value)
    return value


def running_kernel_digest() -> str:
    """The SHA-256 of the running kernel's BTF ("no-btf" without one): part of the compiled
    recorder's cache key (bpfcache.kernel_identity). Kept for the boot like the answers above:
    hashing the 5 MB took 6-8 ms of CPU of every start, on the way to the verifier."""
    def compute():
        data = _vmlinux()
        return "no-btf" if data is None else hashlib.sha256(data).hexdigest()
    return _asked("digest", lambda v: v == "no-btf" or (
        isinstance(v, str) and len(v) == 64 and all(c in "0123456789abcdef" for c in v)),
        compute)


def running_kernel_offset(struct_name: str, member: str) -> int | None:
    def compute():
        data = _vmlinux()
        return None if data is None else member_offset(data, struct_name, member)
    return _asked(f"offset {struct_name}.{member}", _is_offset, compute)


# The struct members the recorder reads to see an exec's credentials and its file's set-id bits,
# as -D defines for record.c: (define, struct, member).
CRED_MEMBERS = (
    ("TASK_CRED_OFF", "task_struct", "cred"),
    ("CRED_UID_OFF", "cred", "uid"), ("CRED_EUID_OFF", "cred", "euid"),
    ("CRED_GID_OFF", "cred", "gid"), ("CRED_EGID_OFF", "cred", "egid"),
    ("CRED_CAP_EFF_OFF", "cred", "cap_effective"), ("CRED_CAP_PRM_OFF", "cred", "cap_permitted"),
    ("TASK_MM_OFF", "task_struct", "mm"), ("MM_EXE_FILE_OFF", "mm_struct", "exe_file"),
    ("FILE_INODE_OFF", "file", "f_inode"), ("INODE_MODE_OFF", "inode", "i_mode"),
    ("INODE_UID_OFF", "inode", "i_uid"), ("INODE_GID_OFF", "inode", "i_gid"),
)


def cred_defines() -> list[str] | None:
    """-D flags for every CRED_MEMBERS offset of the running kernel, or None when one is
    missing (then privilege changes at exec are not recorded, and the recording says so)."""
    out = []
    for define, struct_name, member in CRED_MEMBERS:
        off = running_kernel_offset(struct_name, member)
        if off is None:
            return None
        out.append(f"-D{define}={off}")
    return out
def running_kernel_func_params(func: str) -> tuple[str, ...] | None:
    def compute():
        data = _vmlinux()
        params = None if data is None else func_params(data, func)
        return None if params is None else list(params)
    params = _asked(f"params {func}", lambda v: v is None or _is_names(v), compute)
    return None if params is None else tuple(params)


def running_kernel_enum(enum: str) -> frozenset[str]:
    def compute():
        data = _vmlinux()
        return [] if data is None else sorted(enum_members(data, enum))
    return frozenset(_asked(f"enum {enum}", _is_names, compute))
