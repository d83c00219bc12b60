"""The wire format between bpf/record.c and Python: every number both sides must agree on.

This module is the one source. bpf/wire.h, which record.c includes, is generated from it
(`python -m profiler.kernel.wire > bpf/wire.h`) and a unit test fails when the committed
header differs from the generated one, or when record.c defines a name the header defines or
sizes a per-slot array with a bare number. The header is committed rather than written at load time
so record.c reads whole beside it, the generated C is reviewed in diffs, and recording writes no
file.

What crosses the boundary:
- enums and constants the kernel program and Python both use (event types, address kinds,
  argument-index sentinels, syscall classes, access bits, loss slots, task states, the row
  width and slots of every per-container array, who claimed a slot);
- `Event`, the layout of a ring-buffer record (the ctypes struct Python decodes; the header's
  `struct event` is generated from it). The in-kernel maps' key and value layouts need no copy
  here: bcc builds their ctypes types from the compiled program;
- `SYSCALL_CLASSES`, which syscall belongs to which class (user space fills record.c's
  `sysclass`/`sysbits` maps from it), and `ARG_NAMES`, what each recorded argument is;
- `RawTrace`, the in-kernel aggregates as plain Python data (the tracer's result, the input of
  the pure `aggregate.build_recording`), so pure code needs no import of the tracer.
"""

from __future__ import annotations

import ctypes as ct
from dataclasses import dataclass, field
from enum import IntEnum, IntFlag


def _with_doc(cls, value: int, doc: str = ""):
    """Members are written `NAME = value, "what it means"`; the text becomes the C comment."""
    obj = int.__new__(cls, value)
    obj._value_ = value
    obj.doc = doc
    return obj


PATH_LEN = 256  # bytes of a path kept in the kernel (file keys, events), NUL included
AT_FDCWD = -100  # the dirfd of a path relative to the task's cwd (C name AT_FDCWD_: no clash)
ST_CAP_SHIFT = 16  # VERIFY: state bits 16-23 hold 1 + the capability last refused in this call
KP_COMPOSED = 1  # KPATH: the dirfd of a file key (tgid 0) whose relative path the kernel completed
CONTAINER_ID_LEN = 64  # hex digits of a container id (Docker, Podman), as cgroup names carry it
MAX_SLOTS = 64  # containers one tracer tells apart (match mode); a slot is a task state's top byte
SLOT_NONE = 0xFFFFFFFF  # in record.c's `expected`: a container that found no slot (match mode)
ST_SLOT_SHIFT = 24  # state bits 24-31 hold the task's slot (its container; 0 in single mode)
ST_GEN_SHIFT = 4  # MATCH: state bits 4-15 hold the generation of the slot the task was given
ST_GEN_MASK = 0xFFF  # generations wrap at 4096 (a slot is reused once its container is dropped)
LOSS_ROW = 8  # entries of `loss` per slot (room for Loss to grow without moving the rows)
# entries of caps_ok/caps_denied/caps_override/caps_probe per slot: one per capability number a
# kernel_cap_t can hold (64 bits, include/linux/capability.h); record.c ignores a larger number
CAP_ROW = 64


class EventType(IntEnum):
    """What a ring-buffer record announces (`Event.type`)."""

    __new__ = _with_doc
    FILE = 1, "a new relative file key: user space resolves it while the process lives"
    EXEC = 2, "an exec (path: the executable as passed to exec)"
    # 3 was ADDR: addresses are no longer streamed (their map is the truth, nothing consumed them)
    FORK = 4, "a fork (tid: the parent's tid, dirfd: the child's tid)"
    CHDIR = 5, "a chdir that succeeded (path: the task's new cwd)"
    DIRFD = 6, "a directory fd opened (O_DIRECTORY or O_PATH; aux: the new fd)"
    EXE_RESOLVED = 7, "KPATH: the file the EXEC just streamed (same tgid) runs, symlinks resolved"
    PRIVEXEC = 8, "an exec that changed credentials or met a set-id file (a PrivExecEvent)"
    CGROUP = 9, "a cgroup became a target (dirfd: its slot, aux: its level, path: its v2 path)"
    SLOT = 10, "MATCH: a new container got a slot (dirfd: the slot, path: its cgroup v2 path)"
    NOSLOT = 11, ("MATCH: a new container found every slot taken and is not traced (path: its "
                  "cgroup v2 path); user space judges whose it is")


class AddrKind(IntEnum):
    """What an address was used for (kept in `sysbits` for bind/connect, and in addr_key.kind)."""

    __new__ = _with_doc
    BIND = 1, "bind: the app listens there"
    CONNECT = 2, "connect: the app talks to it"


class ArgIndex(IntEnum):
    """Argument indexes with a special meaning in recorded argument values (arg_key.idx)."""

    __new__ = _with_doc
    SOCKET_TRIPLE = 0xFE, "socket's (domain, type, protocol), packed domain<<48|type<<16|proto"
    VIA_POINTER = 0xFF, "a field read through a pointer (clone3's clone_args.flags)"


class SysClass(IntEnum):
    """Syscall classes: what record.c keeps of a syscall (filled into `sysclass`)."""

    __new__ = _with_doc
    OPEN = 1, "open(path, flags)"
    OPENAT = 2, "openat(dirfd, path, flags)"
    OPENAT2 = 3, "openat2(dirfd, path, how*)"
    CREAT = 4, "creat(path)"
    EXECVE = 5, "execve(path)"
    EXECVEAT = 6, "execveat(dirfd, path)"
    PATH0 = 7, "f(path, ...): access kind from `sysbits`"
    AT1 = 8, "f(dirfd, path, ...): access kind from `sysbits`"
    UNLINKAT = 9, "unlinkat(dirfd, path, flags)"
    TWO0 = 10, "f(old, new): rename, link"
    TWOAT = 11, "f(olddirfd, old, newdirfd, new): renameat(2), linkat"
    SYMLINK = 12, "symlink(target, linkpath)"
    SYMLINKAT = 13, "symlinkat(target, newdirfd, linkpath)"
    CHDIR = 14, "chdir(path): streamed so user space can follow each task's cwd"
    SOCKET = 20, "socket(domain, type, protocol)"
    ADDR = 21, "bind/connect(fd, sockaddr*, len): AddrKind from `sysbits`"
    ARG0 = 22, "record argument 0 (personality, prctl, unshare)"
    ARG1 = 23, "record argument 1 (ioctl request)"
    ARG2 = 24, "record argument 2 (mmap/mprotect prot)"
    CLONE = 25, "record CLONE_NEW* bits of argument 0"
    CLONE3 = 26, "record CLONE_NEW* bits of clone_args.flags"
    SETID = 27, "set*uid/set*gid: sample uid/gid on success"


# Classes whose result is not needed (argument recording only): no exit tracepoint.
NO_EXIT_CLASSES = frozenset({SysClass.ARG0, SysClass.ARG1, SysClass.ARG2, SysClass.CLONE,
                             SysClass.CLONE3})


class Access(IntFlag):
    """Access bits of a file key; their names, lower-cased, are model.ACCESS_KINDS in order."""

    __new__ = _with_doc
    READ = 1 << 0
    WRITE = 1 << 1
    APPEND = 1 << 2
    TRUNCATE = 1 << 3
    CREATE = 1 << 4
    EXECUTE = 1 << 5
    DELETE = 1 << 6
    RENAME = 1 << 7
    LINK = 1 << 8
    CHMOD = 1 << 9
    CHOWN = 1 << 10
    MKDIR = 1 << 11
    MAP_EXEC = 1 << 12, "mapped executable: mmap(PROT_EXEC) of the file's fd (KPATH only)"


ACCESS_BITS: tuple[str, ...] = tuple(a.name.lower() for a in Access)


class Loss(IntEnum):
    """Slots of record.c's `loss` array; their names, lower-cased, are model.LOSS_KINDS."""

    __new__ = _with_doc
    RINGBUF_FULL = 0, "a streamed event could not be queued"
    MAP_FULL = 1, "an in-kernel map had no room for a new key"
    PATH_TRUNCATED = 2, "a path longer than PATH_LEN"
    USER_READ_FAILED = 3, "reading a path or struct from user memory failed"
    ARG_OVERFLOW = 4, "a syscall argument had more distinct values than MAX_ARG_VALUES"
    SLOTS_EXHAUSTED = 5, ("MATCH: a container of the recorded application found every slot "
                          "taken (it was not traced; counted by user space from EV_NOSLOT)")
    COMPAT_UNSEEN = 6, "PERSYSCALL: a 32-bit program ran; its i386 syscalls were not seen"


# Counted for the whole tracer (in slot 0's row), not for one container: match mode reports them
# in every slot's RawTrace; a single-container recording cannot have them and does not list them.
TRACER_LOSS = frozenset({Loss.SLOTS_EXHAUSTED})
# Counted only by the per-syscall design (record.c PERSYSCALL): listed in its recordings only.
PER_SYSCALL_LOSS = frozenset({Loss.COMPAT_UNSEEN})
assert len(Loss) <= LOSS_ROW


LOSS_SLOTS: tuple[str, ...] = tuple(m.name.lower() for m in Loss)  # index = Loss value


class PrivExecFlag(IntFlag):
    """Bits of `PrivExecEvent.flags`."""

    __new__ = _with_doc
    BEFORE_KNOWN = 1, "`before` holds the credentials at the execve's entry"
    SETID_FILE = 2, "the executable file has S_ISUID or S_ISGID (file_mode, file_uid, file_gid)"
    NOT_HONOURED = 4, "a set-id bit whose owner the new credentials did not take (NNP, nosuid)"


class UringSlot(IntEnum):
    """Slots of record.c's `uring` array (io_uring use; the opcodes are counted in `uring_ops`)."""

    __new__ = _with_doc
    RINGS = 0, "rings created (io_uring:io_uring_create)"
    SETUP_FLAGS = 1, "the IORING_SETUP_* flags of every ring, OR-ed"
    SQ_THREAD = 2, "requests submitted by a kernel SQPOLL thread, not by an io_uring_enter"
    FILES = 3, "files looked up for requests (io_uring:io_uring_file_get)"


URING_OPS = 256  # opcodes are a u8 in the io_uring tracepoints
URING_ROW = len(UringSlot)  # entries of `uring` per slot


class TasksSlot(IntEnum):
    """Slots of record.c's `tasks` array, per container slot."""

    __new__ = _with_doc
    LIVE = 0, "tracked tasks alive now"
    PEAK = 1, "the most tracked tasks alive at once"
    FILE_KEYS = 2, "distinct file keys inserted into `files`"


TASKS_ROW = len(TasksSlot)  # entries of `tasks` per slot


class Claim(IntEnum):
    """Who took a slot in record.c's `slot_claims` (MATCH): claims are atomic inserts."""

    __new__ = _with_doc
    KERNEL = 1, "the kernel, for a new container's cgroup nobody named"
    USER = 2, "user space, for a container it expects (expect_container)"


class TaskState(IntFlag):
    """Bits of a task's state (task storage `tstate`, and `tracked` for a task not seen yet)."""

    # Above these: the slot's generation (ST_GEN_SHIFT, MATCH), VERIFY's last refused
    # capability (ST_CAP_SHIFT), the slot (ST_SLOT_SHIFT).

    __new__ = _with_doc
    PENDING = 1, "exec mode: registered, waiting for its first exec"
    ACTIVE = 2, "counts"
    INFLIGHT = 4, "flag: a file/address syscall is between enter and exit"
    ENTERED = 8, "VERIFY: the current syscall passed sys_enter (seccomp let it run)"


class CompatArch(IntEnum):
    """Compat architectures of x86_64 syscalls (compat_key.arch, denial_key.arch; 0 native)."""

    # Member names, lower-cased, are libseccomp's architecture names.

    __new__ = _with_doc
    X86 = 1, "i386 (int $0x80, 32-bit code): the kernel sets TS_COMPAT in thread_info.status"
    X32 = 2, "x32: the syscall number carries __X32_SYSCALL_BIT"


# Which syscall is in which class, with its access bits (or AddrKind) where the class needs
# them; user space fills `sysclass` and `sysbits` from this by libseccomp's numbers.
_A = Access
SYSCALL_CLASSES: dict[str, tuple[SysClass, int]] = {
    "open": (SysClass.OPEN, 0), "openat": (SysClass.OPENAT, 0),
    "openat2": (SysClass.OPENAT2, 0), "creat": (SysClass.CREAT, 0),
    "execve": (SysClass.EXECVE, 0), "execveat": (SysClass.EXECVEAT, 0),
    "truncate": (SysClass.PATH0, _A.TRUNCATE | _A.WRITE),
    "mkdir": (SysClass.PATH0, _A.MKDIR), "mkdirat": (SysClass.AT1, _A.MKDIR),
    "rmdir": (SysClass.PATH0, _A.DELETE), "unlink": (SysClass.PATH0, _A.DELETE),
    "unlinkat": (SysClass.UNLINKAT, _A.DELETE),
    "mknod": (SysClass.PATH0, _A.CREATE), "mknodat": (SysClass.AT1, _A.CREATE),
    "chmod": (SysClass.PATH0, _A.CHMOD), "fchmodat": (SysClass.AT1, _A.CHMOD),
    "fchmodat2": (SysClass.AT1, _A.CHMOD),
    "chown": (SysClass.PATH0, _A.CHOWN), "lchown": (SysClass.PATH0, _A.CHOWN),
    "fchownat": (SysClass.AT1, _A.CHOWN),
    "rename": (SysClass.TWO0, _A.RENAME), "renameat": (SysClass.TWOAT, _A.RENAME),
    "renameat2": (SysClass.TWOAT, _A.RENAME),
    "link": (SysClass.TWO0, _A.LINK), "linkat": (SysClass.TWOAT, _A.LINK),
    "symlink": (SysClass.SYMLINK, _A.LINK | _A.CREATE),
    "symlinkat": (SysClass.SYMLINKAT, _A.LINK | _A.CREATE),
    "chdir": (SysClass.CHDIR, 0),
    "socket": (SysClass.SOCKET, 0),
    "bind": (SysClass.ADDR, AddrKind.BIND), "connect": (SysClass.ADDR, AddrKind.CONNECT),
    "personality": (SysClass.ARG0, 0), "prctl": (SysClass.ARG0, 0),
    "unshare": (SysClass.ARG0, 0),
    "ioctl": (SysClass.ARG1, 0), "mmap": (SysClass.ARG2, 0), "mprotect": (SysClass.ARG2, 0),
    "clone": (SysClass.CLONE, 0), "clone3": (SysClass.CLONE3, 0),
    **{name: (SysClass.SETID, 0) for name in (
        "setuid", "setgid", "setreuid", "setregid", "setresuid", "setresgid", "setfsuid",
        "setfsgid")},
}

# Which argument each recorded value stands for: (syscall, index) -> name. A value read through
# a pointer (ArgIndex.VIA_POINTER) is one seccomp cannot filter.
ARG_NAMES = {
    ("socket", 0): "domain", ("socket", 1): "type", ("socket", 2): "protocol",
    ("personality", 0): "persona", ("prctl", 0): "option", ("unshare", 0): "flags",
    ("ioctl", 1): "request", ("mmap", 2): "prot", ("mprotect", 2): "prot",
    ("clone", 0): "flags", ("clone3", ArgIndex.VIA_POINTER): "flags",
}


class Event(ct.Structure):
    """One ring-buffer record (record.c's `struct event`, generated from this)."""

    _fields_ = [("type", ct.c_uint32), ("tgid", ct.c_uint32), ("dirfd", ct.c_int32),
                ("tid", ct.c_uint32), ("aux", ct.c_int32), ("slot", ct.c_uint32),
                ("data", ct.c_uint8 * PATH_LEN)]

    @property
    def path(self) -> bytes:
        """`data` as a path: the bytes before the first NUL."""
        return bytes(self.data).split(b"\0", 1)[0]


class Creds(ct.Structure):
    """A task's credentials as record.c reads them from struct cred.

    The offsets come from the running kernel's BTF (profiler/kernel/btf.py); kernel_cap_t is 64
    bits on every kernel we support (u32[2] before 6.3, same layout)."""

    _fields_ = [("uid", ct.c_uint32), ("euid", ct.c_uint32), ("gid", ct.c_uint32),
                ("egid", ct.c_uint32), ("cap_effective", ct.c_uint64),
                ("cap_permitted", ct.c_uint64)]


class PrivExecEvent(ct.Structure):
    """An exec that changed credentials or ran a set-id file: a ring-buffer record of its own.

    record.c's `struct privexec_event`; `type` comes first as in `Event`, so the reader can
    tell the two apart."""

    _fields_ = [("type", ct.c_uint32), ("tgid", ct.c_uint32), ("tid", ct.c_uint32),
                ("flags", ct.c_uint32), ("file_mode", ct.c_uint32), ("file_uid", ct.c_uint32),
                ("file_gid", ct.c_uint32), ("slot", ct.c_uint32), ("before", Creds),
                ("after", Creds), ("data", ct.c_uint8 * PATH_LEN)]

    path = Event.path


_EVENT_DOC = {
    "type": "EventType",
    "dirfd": "the path's dirfd (0 for an absolute path); FORK: the child's tid; CGROUP: the slot",
    "tid": "the task; FORK: the parent's tid",
    "aux": "DIRFD: the new fd; CGROUP: the level",
    "slot": "the slot (container) of the task, or of the cgroup",
    "data": "a path (FILE, EXEC, CHDIR, DIRFD, EXE_RESOLVED, CGROUP, SLOT)",
}
_PRIVEXEC_DOC = {
    "type": "EventType.PRIVEXEC",
    "flags": "PrivExecFlag",
    "file_mode": "the executable's i_mode (SETID_FILE)",
    "slot": "the slot (container) of the task",
    "before": "at the execve's entry (BEFORE_KNOWN)",
    "after": "after the exec (the task's new cred)",
    "data": "the executable as passed to exec",
}


@dataclass
class RawTrace:
    """What the kernel aggregated, in plain Python types (input of aggregate.build_recording)."""

    arch: str
    counts: dict[int, int] = field(default_factory=dict)  # syscall nr -> calls
    # compat syscalls (another architecture's numbers, keyed by its libseccomp name): counted
    # only, their arguments are not read
    compat_counts: dict[tuple[str, int], int] = field(default_factory=dict)  # (arch, nr) -> calls
    compat_errnos: dict[tuple[str, int, int], int] = field(default_factory=dict)  # (arch, nr, errno)
    errnos: dict[tuple[int, int], int] = field(default_factory=dict)  # (nr, errno) -> calls
    caps: dict[int, tuple[int, int]] = field(default_factory=dict)  # cap -> (granted, denied)
    caps_overridden: dict[int, int] = field(default_factory=dict)  # cap -> checks under kernel creds
    caps_probed: dict[int, int] = field(default_factory=dict)  # cap -> noaudit probes (capsource)
    cap_source: str = "tracepoint"  # capsource.SOURCES: where capability checks came from
    args: dict[tuple[int, int], dict[int, int]] = field(default_factory=dict)  # (nr,idx)->{value: n}
    files: dict[bytes, tuple[int, int]] = field(default_factory=dict)  # abs path -> (ok, failed)
    addrs: dict[tuple[int, bytes], int] = field(default_factory=dict)  # (kind, sockaddr) -> n
    # (path, before Creds fields or None, after Creds fields, flags, mode, uid, gid) -> execs
    privexecs: dict[tuple, int] = field(default_factory=dict)
    creds_readable: bool = True  # BTF gave the struct cred offsets (privexecs can be seen)
    uring_ops: dict[int, int] = field(default_factory=dict)  # io_uring opcode -> submissions
    uring: dict[str, int] = field(default_factory=dict)  # UringSlot name (lower) -> value
    uring_tracepoints: tuple[str, ...] = ()  # io_uring tracepoints attached (detected)
    execs: dict[bytes, int] = field(default_factory=dict)  # path -> count
    uids: set[int] = field(default_factory=set)
    gids: set[int] = field(default_factory=set)
    peak_tasks: int = 0
    loss: dict[str, int] = field(default_factory=dict)
    # verify mode
    denied_calls: dict[tuple[int, int, int], int] = field(default_factory=dict)  # (nr, errno, tgid)
    denied_caps: dict[tuple[int, int, int], int] = field(default_factory=dict)  # (nr, cap, tgid)
    denied_compat: dict[tuple[str, int, int, int], int] = field(default_factory=dict)  # (arch, nr, errno, tgid)
    erofs: dict[bytes, int] = field(default_factory=dict)  # path -> access bits refused by EROFS
    writers: dict[bytes, tuple[int, int]] = field(default_factory=dict)  # path -> (uid, gid)
    exe_of: dict[int, bytes] = field(default_factory=dict)  # tgid -> executable
    # path as used -> the same file with symlinks resolved, where they differ (opens, execs)
    resolved: dict[bytes, bytes] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # what the user should know about the trace
    # first sightings in ms from the start (Recording.timeline): "syscalls" nr -> ms, "caps"
    # cap -> ms, "sockets" packed socket triple -> ms, "execs" path -> ms; and the run's length
    first_seen: dict[str, dict] = field(default_factory=dict)
    duration_ms: int = 0
    stop_ms: int = 0  # when the graceful stop began (0: no stop, e.g. attach or exec mode)


# --- the C header -------------------------------------------------------------------------------
_HEADER_ENUMS = (  # (enum, C prefix); the enum's docstring heads its block
    (EventType, "EV_"), (AddrKind, "ADDR_"), (ArgIndex, "ARG_"), (SysClass, "C_"),
    (Access, "A_"), (Loss, "L_"), (TaskState, "ST_"), (PrivExecFlag, "PX_"), (UringSlot, "URING_"),
    (TasksSlot, "TASKS_"), (Claim, "CLAIM_"), (CompatArch, "COMPAT_"),
)
_C_TYPES = {ct.c_uint32: "u32", ct.c_int32: "s32", ct.c_uint8: "u8", ct.c_uint64: "u64",
            Creds: "struct creds"}


def _define(name: str, value: str, doc: str = "") -> str:
    line = f"#define {name} {value}"
    return f"{line:<32}// {doc}" if doc else line


def _struct(name: str, struct: type[ct.Structure], docs: dict[str, str]) -> list[str]:
    lines = [f"struct {name} {{"]
    for fname, ftype in struct._fields_:
        if issubclass(ftype, ct.Array):
            length = "PATH_LEN" if ftype._length_ == PATH_LEN else str(ftype._length_)
            decl = f"{_C_TYPES[ftype._type_]} {fname}[{length}];"
        else:
            decl = f"{_C_TYPES[ftype]} {fname};"
        doc = docs.get(fname)
        lines.append(f"    {decl.ljust(20) if len(decl) < 20 else decl + ' '}// {doc}" if doc
                     else f"    {decl}")
    return lines + ["};"]


def c_header() -> str:
    """bpf/wire.h as generated from this module."""
    out = [
        "// Generated from profiler/kernel/wire.py (`python -m profiler.kernel.wire > bpf/wire.h`):"
        " do not edit.",
        "// The numbers and layouts bpf/record.c shares with profiler's Python; their meaning is",
        "// documented there. tests/kernel/test_wire.py fails when this file and wire.py disagree.",
        "#ifndef PROFILER_WIRE_H",
        "#define PROFILER_WIRE_H",
        "",
        _define("PATH_LEN", str(PATH_LEN), "bytes of a path kept in the kernel, NUL included"),
        _define("AT_FDCWD_", f"({AT_FDCWD})", "a path relative to the task's cwd"),
        _define("ST_CAP_SHIFT", str(ST_CAP_SHIFT),
                "VERIFY: state bits 16-23 hold 1 + the capability refused in this call"),
        _define("KP_COMPOSED", str(KP_COMPOSED),
                "KPATH: file_key.dirfd (tgid 0) of a relative path completed in the kernel"),
        _define("URING_OPS", str(URING_OPS), "slots of `uring_ops` (io_uring opcodes)"),
        _define("CONTAINER_ID_LEN", str(CONTAINER_ID_LEN),
                "hex digits of a container id, as cgroup names carry it"),
        _define("MAX_SLOTS", str(MAX_SLOTS), "containers one tracer tells apart (MATCH)"),
        _define("SLOT_NONE", hex(SLOT_NONE), "in `expected`: a container that found no slot (MATCH)"),
        _define("ST_SLOT_SHIFT", str(ST_SLOT_SHIFT), "state bits 24-31 hold the task's slot"),
        _define("ST_GEN_SHIFT", str(ST_GEN_SHIFT), "MATCH: state bits 4-15 hold the slot's generation"),
        _define("ST_GEN_MASK", hex(ST_GEN_MASK), "generations wrap at 4096"),
        _define("LOSS_ROW", str(LOSS_ROW), "entries of `loss` per slot"),
        _define("CAP_ROW", str(CAP_ROW), "entries of each caps_* array per slot"),
        _define("URING_ROW", str(URING_ROW), "entries of `uring` per slot (UringSlot)"),
        _define("TASKS_ROW", str(TASKS_ROW), "entries of `tasks` per slot (TasksSlot)"),
    ]
    for enum, prefix in _HEADER_ENUMS:
        out += ["", f"// {enum.__doc__}"]
        for m in enum:
            value = (f"(1 << {m.value.bit_length() - 1})" if enum is Access
                     else hex(m.value) if enum is ArgIndex else str(m.value))
            out.append(_define(prefix + m.name, value, m.doc))
    out += ["", f"// {Event.__doc__}"]
    out += _struct("event", Event, _EVENT_DOC)
    out += ["", f"// {Creds.__doc__.splitlines()[0]}"]
    out += _struct("creds", Creds, {})
    out += ["", f"// {PrivExecEvent.__doc__.splitlines()[0]}"]
    out += _struct("privexec_event", PrivExecEvent, _PRIVEXEC_DOC)
    out += ["", "#endif  // PROFILER_WIRE_H", ""]
    return "\n".join(out)


if __name__ == "__main__":
    print(c_header(), end="")
