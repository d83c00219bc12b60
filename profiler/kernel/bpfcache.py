"""A cache of the compiled recorder, so that `record` does not wait for clang at every start.

bcc compiles bpf/record.c at run time (its portability: the -D options come from the running
kernel's BTF, tracefs and kallsyms). The compile is most of a recorder's start (about 0.85 s of
1.1 s on the lab host); its output only changes when one of its inputs does. So the first start
on a host compiles as before and stores what the compile produced; later starts load that.

What is stored (an `Entry`): each function's BPF instructions, with every map reference
(`ld_imm64` with BPF_PSEUDO_MAP_FD, whose immediate bcc filled with a map fd of its own process)
turned into the index of a map; each map's kernel attributes (type, sizes, flags, the ids of its
key and value types in the program's BTF) and bcc's description of its key and leaf (the ctypes
types user space reads it with); the program's BTF as the kernel holds it; license and
kern_version. Loading makes the BTF and the maps anew, puts their fds into the instructions and
loads each program with bpf(2): the kernel's verifier checks it like any other program, so a
stale or foreign entry cannot get past it, only fail to load (then the caller compiles).

The key (`cache_key`) covers every input of the compile: the kernel (release, build, BTF), bcc
(its version and library), the clang/LLVM libraries bcc runs, the kernel headers bcc compiles
against, the source (every file of bpf/) and the -D options (which carry the BTF offsets, the
tracepoints found and the kallsyms addresses of this boot). Any change is a new key; entries of
old keys are left for the next `store` to prune.

The directory is root's (/var/cache/profiler/bpf): a cached program runs in the kernel, so an
entry is only read from a directory owned by the current user and writable by nobody else.
Writes are atomic (a temporary file renamed into place); an entry that does not parse, whose
digest does not match, or that the kernel refuses is ignored, and the recorder is compiled.

This module speaks bpf(2) directly (BPF_BTF_LOAD, BPF_MAP_CREATE, BPF_PROG_LOAD,
BPF_OBJ_GET_INFO_BY_FD; kernel ABI, stable) and imports no bcc: tracer.py, the one module that
imports bcc, extracts an entry from a compiled module and wraps a loaded one for bcc's tables.
"""

from __future__ import annotations

import base64
import ctypes as ct
import hashlib
import json
import os
import platform
import struct
from dataclasses import dataclass, field
from pathlib import Path

from . import btf, ownfiles

CACHE_DIR = Path("/var/cache/profiler/bpf")
FORMAT = 1  # the entry layout; part of the key
KEEP = 32   # entries kept (the newest): the configurations (modes, options) of a few checkouts

# bpf(2) commands and constants (include/uapi/linux/bpf.h)
_MAP_CREATE, _PROG_LOAD, _OBJ_GET_INFO_BY_FD, _BTF_LOAD, _BTF_GET_FD_BY_ID = 0, 5, 15, 18, 19
_LD_IMM64 = 0x18  # BPF_LD | BPF_IMM | BPF_DW: a 64-bit immediate in two instructions
PSEUDO_MAP_FD = 1
_SYS_BPF = {"x86_64": 321, "aarch64": 280}
_OBJ_NAME_LEN = 16


class CacheError(Exception):
    """An entry that cannot be used (corrupt, foreign, or refused by the kernel)."""


@dataclass
class MapSpec:
    name: str           # the table's name in the source (bcc's key for it)
    kind: int           # enum bpf_map_type
    key_size: int
    value_size: int
    max_entries: int
    flags: int
    btf_key: int = 0    # type ids in the entry's BTF (0: none)
    btf_value: int = 0
    key_desc: str = ""  # bcc's JSON description of the key and leaf types
    leaf_desc: str = ""


@dataclass
class FuncSpec:
    name: str
    insns: bytes
    relocs: list[tuple[int, int]] = field(default_factory=list)  # (insn index, map index)


@dataclass
class Entry:
    license: str
    kern_version: int
    btf: bytes | None
    maps: list[MapSpec]
    funcs: list[FuncSpec]

    def func(self, name: str) -> FuncSpec | None:
        return next((f for f in self.funcs if f.name == name), None)


# --- the key -------------------------------------------------------------------------------
def _file_identity(path: str) -> str:
    """A file's real path, size and modification time: a package upgrade changes them."""
    try:
        real = os.path.realpath(path)
        st = os.stat(real)
        return f"{real}:{st.st_size}:{st.st_mtime_ns}"
    except OSError:
        return f"{path}:absent"


def _loaded_libraries(words: tuple[str, ...]) -> list[str]:
    """The libraries of this process whose file name has one of `words` (bcc's, clang's and
    LLVM's once bcc is imported): their identities, sorted."""
    found = set()
    try:
        for line in Path("/proc/self/maps").read_text().splitlines():
            parts = line.split(None, 5)
            if len(parts) == 6 and parts[5].startswith("/") and \
                    any(w in os.path.basename(parts[5]) for w in words):
                found.add(parts[5])
    except OSError:
        pass
    return sorted(_file_identity(p) for p in found)


def _btf_identity() -> str:
    return btf.running_kernel_digest()


def toolchain_identity(bcc_version: str) -> list[str]:
    """bcc's version and the libraries that compile: libbcc, libclang-cpp, libLLVM."""
    return [f"bcc {bcc_version}"] + _loaded_libraries(("libbcc", "libclang", "libLLVM", "libbpf"))


def kernel_identity() -> list[str]:
    """The running kernel (release, build, BTF) and the headers bcc compiles against."""
    u = os.uname()
    modules = Path("/lib/modules") / u.release
    return [u.release, u.version, platform.machine(), _btf_identity(),
            _file_identity(str(modules / "build")), _file_identity(str(modules / "source"))]


def source_identity(bpf_dir: Path) -> list[str]:
    """Every file of bpf/ (record.c, wire.h): name and content digest."""
    return [f"{p.name}:{hashlib.sha256(p.read_bytes()).hexdigest()}"
            for p in sorted(bpf_dir.iterdir()) if p.is_file()]


def cache_key(kernel: list[str], toolchain: list[str], source: list[str],
              cflags: list[str]) -> str:
    """One digest of every input of the compile (see the module's docstring)."""
    doc = json.dumps({"format": FORMAT, "kernel": kernel, "toolchain": toolchain,
                      "source": source, "cflags": list(cflags)}, sort_keys=True)
    return hashlib.sha256(doc.encode()).hexdigest()


# --- the entry on disk ---------------------------------------------------------------------
def encode(entry: Entry, key: str) -> bytes:
    """The entry as stored: a digest line, then JSON (binary parts in base64)."""
    doc = {
        "format": FORMAT, "key": key, "license": entry.license,
        "kern_version": entry.kern_version,
        "btf": base64.b64encode(entry.btf).decode() if entry.btf is not None else None,
        "maps": [vars(m) for m in entry.maps],
        "funcs": [{"name": f.name, "insns": base64.b64encode(f.insns).decode(),
                   "relocs": [list(r) for r in f.relocs]} for f in entry.funcs],
    }
    return ownfiles.seal(doc)


def decode(data: bytes, key: str) -> Entry:
    """The entry stored for `key`; CacheError when it is corrupt, truncated or another key's."""
    try:
        doc = ownfiles.unseal(data, FORMAT, key)
        maps = [MapSpec(**m) for m in doc["maps"]]
        funcs = [FuncSpec(f["name"], base64.b64decode(f["insns"], validate=True),
                          [(int(i), int(m)) for i, m in f["relocs"]]) for f in doc["funcs"]]
        btf = base64.b64decode(doc["btf"], validate=True) if doc["btf"] is not None else None
        entry = Entry(str(doc["license"]), int(doc["kern_version"]), btf, maps, funcs)
    except CacheError:
        raise
    except (ValueError, KeyError, TypeError) as e:
        raise CacheError(f"unreadable entry: {e}") from None
    for f in entry.funcs:
        if len(f.insns) % 8 or any(not (0 <= i < len(f.insns) // 8 and 0 <= m < len(maps))
                                   for i, m in f.relocs):
            raise CacheError(f"bad function {f.name}")
    return entry


def load_entry(key: str, cache_dir: Path = CACHE_DIR) -> Entry | None:
    """The entry for `key`, or None (absent, untrusted, corrupt: then compile)."""
    data = ownfiles.read(cache_dir / f"{key}.bpfobj")
    if data is None:
        return None
    try:
        return decode(data, key)
    except CacheError:
        return None


def store_entry(entry: Entry, key: str, cache_dir: Path = CACHE_DIR) -> bool:
    """Write the entry (ownfiles.write: atomic, 0700 directory); prune the oldest beyond
    KEEP. Best effort: False when it could not be written (the recording goes on)."""
    if not ownfiles.write(cache_dir / f"{key}.bpfobj", encode(entry, key)):
        return False
    ownfiles.prune(cache_dir, "*.bpfobj", KEEP)
    return True


# --- instructions --------------------------------------------------------------------------
def map_refs(insns: bytes) -> list[tuple[int, int]]:
    """(instruction index, fd) of each map reference (ld_imm64 with BPF_PSEUDO_MAP_FD).
    CacheError for any other pseudo load (a map value, a BTF object): not handled here."""
    refs, i, n = [], 0, len(insns) // 8
    while i < n:
        code, regs, _off, imm = struct.unpack_from("<BBhi", insns, i * 8)
        if code == _LD_IMM64:
            src = regs >> 4
            if src == PSEUDO_MAP_FD:
                refs.append((i, imm))
            elif src != 0:
                raise CacheError(f"pseudo load {src} at instruction {i}")
            i += 2
            continue
        i += 1
    return refs


def patched(func: FuncSpec, fds: list[int]) -> bytes:
    """The function's instructions with the map fds of this process in place."""
    buf = bytearray(func.insns)
    for i, m in func.relocs:
        struct.pack_into("<i", buf, i * 8 + 4, fds[m])
    return bytes(buf)


# --- bpf(2) --------------------------------------------------------------------------------
_libc = ct.CDLL(None, use_errno=True)


def _bpf(cmd: int, attr: ct.Structure) -> int:
    nr = _SYS_BPF.get(platform.machine())
    if nr is None:
        raise CacheError(f"bpf(2) number unknown on {platform.machine()}")
    return _libc.syscall(ct.c_long(nr), ct.c_int(cmd), ct.byref(attr), ct.c_uint(ct.sizeof(attr)))


def _failed(what: str) -> CacheError:
    return CacheError(f"{what}: {os.strerror(ct.get_errno())}")


class _MapCreateAttr(ct.Structure):
    _fields_ = [("map_type", ct.c_uint32), ("key_size", ct.c_uint32),
                ("value_size", ct.c_uint32), ("max_entries", ct.c_uint32),
                ("map_flags", ct.c_uint32), ("inner_map_fd", ct.c_uint32),
                ("numa_node", ct.c_uint32), ("map_name", ct.c_char * _OBJ_NAME_LEN),
                ("map_ifindex", ct.c_uint32), ("btf_fd", ct.c_uint32),
                ("btf_key_type_id", ct.c_uint32), ("btf_value_type_id", ct.c_uint32),
                ("btf_vmlinux_value_type_id", ct.c_uint32), ("map_extra", ct.c_uint64)]


class _ProgLoadAttr(ct.Structure):
    _fields_ = [("prog_type", ct.c_uint32), ("insn_cnt", ct.c_uint32),
                ("insns", ct.c_uint64), ("license", ct.c_uint64),
                ("log_level", ct.c_uint32), ("log_size", ct.c_uint32),
                ("log_buf", ct.c_uint64), ("kern_version", ct.c_uint32),
                ("prog_flags", ct.c_uint32), ("prog_name", ct.c_char * _OBJ_NAME_LEN),
                ("prog_ifindex", ct.c_uint32), ("expected_attach_type", ct.c_uint32)]


class _BtfLoadAttr(ct.Structure):
    _fields_ = [("btf", ct.c_uint64), ("btf_log_buf", ct.c_uint64), ("btf_size", ct.c_uint32),
                ("btf_log_size", ct.c_uint32), ("btf_log_level", ct.c_uint32)]


class _InfoAttr(ct.Structure):
    _fields_ = [("bpf_fd", ct.c_uint32), ("info_len", ct.c_uint32), ("info", ct.c_uint64)]


class _IdAttr(ct.Structure):
    _fields_ = [("id", ct.c_uint32), ("next_id", ct.c_uint32), ("open_flags", ct.c_uint32)]


class MapInfo(ct.Structure):
    """struct bpf_map_info, as far as a map's re-creation needs it."""
    _fields_ = [("type", ct.c_uint32), ("id", ct.c_uint32), ("key_size", ct.c_uint32),
                ("value_size", ct.c_uint32), ("max_entries", ct.c_uint32),
                ("map_flags", ct.c_uint32), ("name", ct.c_char * _OBJ_NAME_LEN),
                ("ifindex", ct.c_uint32), ("btf_vmlinux_value_type_id", ct.c_uint32),
                ("netns_dev", ct.c_uint64), ("netns_ino", ct.c_uint64), ("btf_id", ct.c_uint32),
                ("btf_key_type_id", ct.c_uint32), ("btf_value_type_id", ct.c_uint32)]


class _BtfInfo(ct.Structure):
    _fields_ = [("btf", ct.c_uint64), ("btf_size", ct.c_uint32), ("id", ct.c_uint32)]


def _info(fd: int, info: ct.Structure) -> None:
    attr = _InfoAttr(bpf_fd=fd, info_len=ct.sizeof(info), info=ct.addressof(info))
    if _bpf(_OBJ_GET_INFO_BY_FD, attr) < 0:
        raise _failed("BPF_OBJ_GET_INFO_BY_FD")


def map_info(fd: int) -> MapInfo:
    info = MapInfo()
    _info(fd, info)
    return info


def btf_of(btf_id: int) -> bytes:
    """The raw BTF object the kernel holds under `btf_id` (the one a compiled module loaded)."""
    fd = _bpf(_BTF_GET_FD_BY_ID, _IdAttr(id=btf_id))
    if fd < 0:
        raise _failed("BPF_BTF_GET_FD_BY_ID")
    try:
        info = _BtfInfo()
        _info(fd, info)
        buf = ct.create_string_buffer(info.btf_size)
        info = _BtfInfo(btf=ct.addressof(buf), btf_size=info.btf_size)
        _info(fd, info)
        return buf.raw[: info.btf_size]
    finally:
        os.close(fd)


class Loaded:
    """The kernel objects of an entry: its BTF and its maps (fds, in the entry's order).
    Programs are loaded one by one (`load_prog`), as the caller attaches them."""

    def __init__(self, entry: Entry):
        self.entry = entry
        self.btf_fd = -1
        self.map_fds: list[int] = []
        try:
            if entry.btf is not None:
                self.btf_fd = self._load_btf(entry.btf)
            for m in entry.maps:
                self.map_fds.append(self._create_map(m))
        except BaseException:
            self.close()
            raise

    def _load_btf(self, data: bytes) -> int:
        buf = ct.create_string_buffer(data, len(data))
        fd = _bpf(_BTF_LOAD, _BtfLoadAttr(btf=ct.addressof(buf), btf_size=len(data)))
        if fd < 0:
            raise _failed("BPF_BTF_LOAD")
        return fd

    def _create_map(self, m: MapSpec) -> int:
        attr = _MapCreateAttr(map_type=m.kind, key_size=m.key_size, value_size=m.value_size,
                              max_entries=m.max_entries, map_flags=m.flags,
                              map_name=m.name.encode()[: _OBJ_NAME_LEN - 1])
        if m.btf_key or m.btf_value:
            if self.btf_fd < 0:
                raise CacheError(f"map {m.name} needs the entry's BTF")
            attr.btf_fd, attr.btf_key_type_id, attr.btf_value_type_id = \
                self.btf_fd, m.btf_key, m.btf_value
        fd = _bpf(_MAP_CREATE, attr)
        if fd < 0:
            raise _failed(f"BPF_MAP_CREATE {m.name}")
        return fd

    def load_prog(self, name: str, prog_type: int) -> int:
        """Load a function as `prog_type`; the verifier checks it. CacheError with the
        verifier's log when refused."""
        func = self.entry.func(name)
        if func is None:
            raise CacheError(f"no function {name}")
        insns = ct.create_string_buffer(patched(func, self.map_fds), len(func.insns))
        lic = ct.create_string_buffer(self.entry.license.encode())
        attr = _ProgLoadAttr(prog_type=prog_type, insn_cnt=len(func.insns) // 8,
                             insns=ct.addressof(insns), license=ct.addressof(lic),
                             kern_version=self.entry.kern_version,
                             prog_name=name.encode()[: _OBJ_NAME_LEN - 1])
        fd = _bpf(_PROG_LOAD, attr)
        if fd >= 0:
            return fd
        err = ct.get_errno()
        log = ct.create_string_buffer(1 << 20)
        attr.log_level, attr.log_size, attr.log_buf = 1, len(log), ct.addressof(log)
        _bpf(_PROG_LOAD, attr)
        tail = log.value.decode(errors="replace").strip().splitlines()[-3:]
        raise CacheError(f"the kernel refused {name}: {os.strerror(err)}; {' / '.join(tail)}")

    def close(self) -> None:
        for fd in self.map_fds + ([self.btf_fd] if self.btf_fd >= 0 else []):
            try:
                os.close(fd)
            except OSError:
                pass
        self.map_fds, self.btf_fd = [], -1
