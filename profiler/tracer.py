"""The eBPF tracer: the only module that imports bcc.

It compiles bpf/record.c with options as -D defines, fills the syscall class tables from
libseccomp's numbers for this architecture, attaches to tracepoints and raw tracepoints only,
streams what is new (relative paths to resolve, execs, addresses), and at the end reads the
in-kernel aggregates into a plain `RawTrace` that `aggregate.build_recording` (pure) turns into
the typed model.
"""

from __future__ import annotations

import ctypes as ct
import os
import platform
from dataclasses import dataclass, field
from pathlib import Path

from . import btf, syscalls
from .errors import EnvironmentProblem

BPF_SOURCE = Path(__file__).resolve().parent.parent / "bpf" / "record.c"

PATH_LEN = 256
MAX_NR = 1024
MAX_FILES = 262144
MAX_ARG_VALUES = 64
RINGBUF_PAGES = 1024  # 4 MiB

ST_PENDING, ST_ACTIVE = 1, 2
# Classes whose result is not needed (argument recording only): no exit tracepoint.
_NO_EXIT_CLASSES = {22, 23, 24, 25, 26}


def _tracefs() -> Path:
    for p in (Path("/sys/kernel/tracing"), Path("/sys/kernel/debug/tracing")):
        if (p / "events").is_dir():
            return p
    raise EnvironmentProblem("tracefs is not mounted",
                             hint="mount -t tracefs tracefs /sys/kernel/tracing")

# Access bits: the order of model.ACCESS_KINDS, and the A_* defines of record.c.
ACCESS_BITS = ("read", "write", "append", "truncate", "create", "execute", "delete", "rename",
               "link", "chmod", "chown", "mkdir")
LOSS_SLOTS = ("ringbuf_full", "map_full", "path_truncated", "user_read_failed", "arg_overflow")

# Syscall classes of record.c (C_*), with their access bits where the class needs them.
_A = {k: 1 << i for i, k in enumerate(ACCESS_BITS)}
SYSCALL_CLASSES: dict[str, tuple[int, int]] = {
    "open": (1, 0), "openat": (2, 0), "openat2": (3, 0), "creat": (4, 0),
    "execve": (5, 0), "execveat": (6, 0),
    "truncate": (7, _A["truncate"] | _A["write"]),
    "mkdir": (7, _A["mkdir"]), "mkdirat": (8, _A["mkdir"]),
    "rmdir": (7, _A["delete"]), "unlink": (7, _A["delete"]), "unlinkat": (9, _A["delete"]),
    "mknod": (7, _A["create"]), "mknodat": (8, _A["create"]),
    "chmod": (7, _A["chmod"]), "fchmodat": (8, _A["chmod"]), "fchmodat2": (8, _A["chmod"]),
    "chown": (7, _A["chown"]), "lchown": (7, _A["chown"]), "fchownat": (8, _A["chown"]),
    "rename": (10, _A["rename"]), "renameat": (11, _A["rename"]), "renameat2": (11, _A["rename"]),
    "link": (10, _A["link"]), "linkat": (11, _A["link"]),
    "symlink": (12, _A["link"] | _A["create"]), "symlinkat": (13, _A["link"] | _A["create"]),
    "chdir": (14, 0),
    "socket": (20, 0), "bind": (21, 1), "connect": (21, 2),
    "personality": (22, 0), "prctl": (22, 0), "unshare": (22, 0),
    "ioctl": (23, 0), "mmap": (24, 0), "mprotect": (24, 0),
    "clone": (25, 0), "clone3": (26, 0),
    "setuid": (27, 0), "setgid": (27, 0), "setreuid": (27, 0), "setregid": (27, 0),
    "setresuid": (27, 0), "setresgid": (27, 0), "setfsuid": (27, 0), "setfsgid": (27, 0),
}

# Which argument each recorded value stands for (syscall, index) -> name. Index 0xff is a field
# read through a pointer (clone3's clone_args.flags), which seccomp cannot filter.
ARG_NAMES = {
    ("socket", 0): "domain", ("socket", 1): "type", ("socket", 2): "protocol",
    ("personality", 0): "persona", ("prctl", 0): "option", ("unshare", 0): "flags",
    ("ioctl", 1): "request", ("mmap", 2): "prot", ("mprotect", 2): "prot",
    ("clone", 0): "flags", ("clone3", 0xff): "flags",
}

_ARCH_DEFINE = {"x86_64": "ARCH_X86_64", "aarch64": "ARCH_ARM64"}


class _Event(ct.Structure):
    _fields_ = [("type", ct.c_uint32), ("tgid", ct.c_uint32), ("dirfd", ct.c_int32),
                ("tid", ct.c_uint32), ("aux", ct.c_int32), ("pad", ct.c_uint32),
                ("data", ct.c_uint8 * PATH_LEN)]


@dataclass
class RawTrace:
    """What the kernel aggregated, in plain Python types (input of aggregate.build_recording)."""

    arch: str
    counts: dict[int, int] = field(default_factory=dict)  # syscall nr -> calls
    errnos: dict[tuple[int, int], int] = field(default_factory=dict)  # (nr, errno) -> calls
    caps: dict[int, tuple[int, int]] = field(default_factory=dict)  # cap -> (granted, denied)
    caps_overridden: dict[int, int] = field(default_factory=dict)  # cap -> checks under kernel creds
    args: dict[tuple[int, int], dict[int, int]] = field(default_factory=dict)  # (nr,idx)->{value: n}
    files: dict[bytes, tuple[int, int]] = field(default_factory=dict)  # abs path -> (ok, failed)
    addrs: dict[tuple[int, bytes], int] = field(default_factory=dict)  # (kind, sockaddr) -> n
    execs: dict[bytes, int] = field(default_factory=dict)  # path -> count
    uids: set[int] = field(default_factory=set)
    gids: set[int] = field(default_factory=set)
    peak_tasks: int = 0
    loss: dict[str, int] = field(default_factory=dict)
    # verify mode
    denied_calls: dict[tuple[int, int, int], int] = field(default_factory=dict)  # (nr, errno, tgid)
    denied_caps: dict[tuple[int, int, int], int] = field(default_factory=dict)  # (nr, cap, tgid)
    erofs: dict[bytes, int] = field(default_factory=dict)  # path -> access bits refused by EROFS
    exe_of: dict[int, bytes] = field(default_factory=dict)  # tgid -> executable


def _readlink(path: str) -> str | None:
    try:
        return os.readlink(path)
    except OSError:
        return None


class Tracer:
    """Load the recorder. `cgroup` = (id, level) restricts it to a cgroup v2 subtree
    (container mode); None traces only tasks registered with `track` (exec mode)."""

    def __init__(self, cgroup: tuple[int, int] | None = None, arch: str | None = None,
                 initial_cwd: str = "/", all_exits: bool = False, verify: bool = False,
                 own_pid_namespace: bool = True):
        self.arch = arch or syscalls.host_arch()
        try:
            from bcc import BPF  # noqa: the one import of bcc in the project
        except ImportError:
            raise EnvironmentProblem(
                "bcc's Python bindings are not importable",
                hint="run `make setup` (installs python3-bpfcc) and use .venv/bin/profiler") from None
        if self.arch not in _ARCH_DEFINE:
            raise EnvironmentProblem(f"recording on {platform.machine()} is not supported yet",
                                     hint="supported: x86_64, aarch64")
        nr_execve = syscalls.number_of(self.arch, "execve")
        cflags = [
            f"-DPATH_LEN={PATH_LEN}", f"-DMAX_NR={MAX_NR}", f"-DMAX_FILES={MAX_FILES}",
            f"-DMAX_ARG_VALUES={MAX_ARG_VALUES}", f"-DRINGBUF_PAGES={RINGBUF_PAGES}",
            f"-DNR_EXECVE={nr_execve}", f"-DNR_CHDIR={syscalls.number_of(self.arch, 'chdir')}", f"-D{_ARCH_DEFINE[self.arch]}",
            "-Wno-unreachable-code",
        ]
        if cgroup is not None:
            cflags += [f"-DTARGET_CGID={cgroup[0]}ULL", f"-DTARGET_LEVEL={cgroup[1]}"]
            if own_pid_namespace:  # the container has its own PID namespace (not --pid host)
                ns = os.stat("/proc/self/ns/pid")
                cflags += [f"-DHOST_PIDNS_DEV={ns.st_dev}ULL", f"-DHOST_PIDNS_INO={ns.st_ino}ULL"]
        real_cred = btf.running_kernel_offset("task_struct", "real_cred")
        if real_cred is not None:  # without BTF: capability grants are taken as they come
            cflags.append(f"-DTASK_REAL_CRED_OFF={real_cred}")
        self.tells_overridden_creds = real_cred is not None
        self.verify = verify
        if all_exits or verify:
            cflags.append("-DEXIT_ALL")
            all_exits = True
        if verify:
            cflags.append("-DVERIFY")
        try:
            self.bpf = BPF(src_file=str(BPF_SOURCE).encode(), cflags=cflags)
        except Exception as e:  # bcc raises bare Exception on compile/load failure
            raise _explain_bpf_failure(e) from None
        self._fill_classes()
        if not all_exits:
            self._attach_exits()
        self._resolved: dict[tuple[int, int, bytes], bytes] = {}
        # Each task's cwd, followed from fork and chdir events (ordered in the ring buffer):
        # a short-lived process is often gone before /proc/PID/cwd could be read.
        self.initial_cwd = os.fsencode(initial_cwd or "/")
        self._cwd: dict[int, bytes] = {}
        # Directory fds (opened with O_DIRECTORY or O_PATH) per process, for dirfd-relative
        # paths; handed to children on fork like the cwd.
        self._dirfds: dict[tuple[int, int], bytes] = {}
        self._exe_of: dict[int, bytes] = {}  # tgid -> what it runs (exec, or inherited by fork)
        self._execs: dict[bytes, int] = {}
        self.new_paths = 0
        self.bpf["events"].open_ring_buffer(self._on_event)

    # --- setup ------------------------------------------------------------------------------
    def _fill_classes(self) -> None:
        cls, bits = self.bpf["sysclass"], self.bpf["sysbits"]
        for name, (c, b) in SYSCALL_CLASSES.items():
            nr = syscalls.number_of(self.arch, name)
            if nr is None or nr >= MAX_NR:
                continue  # this architecture does not have it (e.g. open on aarch64)
            cls[ct.c_int(nr)] = ct.c_uint8(c)
            bits[ct.c_int(nr)] = ct.c_uint32(b)

    def _attach_exits(self) -> None:
        """The result of the syscalls that need one (paths, chdir, set*id, sockets) comes from
        their own exit tracepoints: for every other syscall the kernel tests one bit, where a
        raw sys_exit program would cost a second BPF dispatch on every syscall."""
        events = _tracefs() / "events" / "syscalls"
        for name, (cls, _bits) in SYSCALL_CLASSES.items():
            if cls in _NO_EXIT_CLASSES or not (events / f"sys_exit_{name}").is_dir():
                continue
            try:
                self.bpf.attach_tracepoint(tp=f"syscalls:sys_exit_{name}", fn_name=b"on_sys_exit")
            except Exception as e:  # bcc raises bare Exception
                raise EnvironmentProblem(f"cannot attach to syscalls:sys_exit_{name}: {e}") from None

    def track(self, pid: int, pending: bool = False) -> None:
        """Register a task: pending (counts from its next exec) or active (counts now)."""
        self.bpf["tracked"][ct.c_uint32(pid)] = ct.c_uint32(ST_PENDING if pending else ST_ACTIVE)
        if not pending:
            live = self.bpf["tasks"]
            live[ct.c_int(0)] = ct.c_uint64(live[ct.c_int(0)].value + 1)

    # --- streaming --------------------------------------------------------------------------
    def _on_event(self, ctx, data, size) -> None:
        e = ct.cast(data, ct.POINTER(_Event)).contents
        if e.type == 4:  # fork: the child starts in its parent's cwd, with its directory fds
            child, parent = e.dirfd, e.tid
            self._cwd[child] = self._cwd.get(parent) or self._proc_cwd(parent)
            if e.tgid in self._exe_of:
                self._exe_of.setdefault(child, self._exe_of[e.tgid])
            for (tgid, fd), path in list(self._dirfds.items()):
                if tgid == e.tgid:
                    self._dirfds[(child, fd)] = path
            return
        if e.type == 3:
            return  # addresses are read from their map at the end
        path = bytes(e.data).split(b"\0", 1)[0]
        if e.type == 2:  # exec; a task that starts counting here (entrypoint, docker exec)
            if e.tid not in self._cwd:
                self._cwd[e.tid] = self._proc_cwd(e.tid)
            full = path if path.startswith(b"/") else _join(self._cwd[e.tid], path)
            self._execs[full] = self._execs.get(full, 0) + 1
            self._exe_of[e.tgid] = full
            return
        full = path if path.startswith(b"/") else self._resolve(e.tgid, e.tid, e.dirfd, path)
        if e.type == 1 and full is not None:
            self._resolved[(e.tgid, e.dirfd, path)] = full
        elif e.type == 5 and full is not None:  # chdir succeeded
            self._cwd[e.tid] = full
        elif e.type == 6 and full is not None:  # a directory fd: later dirfd-relative paths
            self._dirfds[(e.tgid, e.aux)] = full

    def _resolve(self, tgid: int, tid: int, dirfd: int, rel: bytes) -> bytes | None:
        if dirfd == -100:
            base = self._cwd.get(tid) or self._cwd.get(tgid) or self._base_dir(tgid, dirfd)
        else:
            base = self._dirfds.get((tgid, dirfd)) or self._base_dir(tgid, dirfd)
        return _join(base, rel) if base is not None else None

    def _proc_cwd(self, tid: int) -> bytes:
        return self._base_dir(tid, -100) or self.initial_cwd

    @staticmethod
    def _base_dir(tgid: int, dirfd: int) -> bytes | None:
        link = f"/proc/{tgid}/cwd" if dirfd == -100 else f"/proc/{tgid}/fd/{dirfd}"
        target = _readlink(link)
        if target is None or not target.startswith("/"):
            return None
        return os.fsencode(target)

    def poll(self, timeout_ms: int = 100) -> None:
        self.bpf.ring_buffer_poll(timeout_ms)

    def drain(self) -> None:
        self.bpf.ring_buffer_consume()

    # --- live numbers for the progress line -------------------------------------------------
    def live_stats(self) -> dict[str, int]:
        counts = self.bpf["counts"]
        seen = sum(1 for _, v in counts.items() if any(x for x in v))
        lost = sum(v.value for _, v in self.bpf["loss"].items())
        paths = self.bpf["tasks"][ct.c_int(2)].value
        return {"syscalls": seen, "paths": paths, "execs": sum(self._execs.values()), "lost": lost}

    # --- the end ----------------------------------------------------------------------------
    def snapshot(self) -> RawTrace:
        self.drain()
        b = self.bpf
        raw = RawTrace(arch=self.arch)
        for k, v in b["counts"].items():
            total = sum(v)
            if total:
                raw.counts[k.value] = total
        for k, v in b["counts_high"].items():
            raw.counts[k.value] = raw.counts.get(k.value, 0) + v.value
        for k, v in b["errnos"].items():
            raw.errnos[(k.nr, k.err)] = v.value
        ok, denied, over = b["caps_ok"], b["caps_denied"], b["caps_override"]
        for cap in range(64):
            g, d = ok[ct.c_int(cap)].value, denied[ct.c_int(cap)].value
            if g or d:
                raw.caps[cap] = (g, d)
            if over[ct.c_int(cap)].value:
                raw.caps_overridden[cap] = over[ct.c_int(cap)].value
        for k, v in b["argvals"].items():
            raw.args.setdefault((k.nr, k.idx), {})[k.val] = v.value
        unresolved = 0
        for k, v in b["files"].items():
            path = bytes(k.path).split(b"\0", 1)[0]
            if k.tgid:
                full = self._resolved.get((k.tgid, k.dirfd, path))
                if full is None:  # its event was lost: the process's view may still answer
                    full = self._resolve(k.tgid, k.tgid, k.dirfd, path)
                if full is None:
                    unresolved += 1
                    continue
                path = full
            o, f = raw.files.get(path, (0, 0))
            raw.files[path] = (o | v.ok, f | v.failed)
            if v.erofs:
                raw.erofs[path] = raw.erofs.get(path, 0) | v.erofs
        for k, v in b["addrs"].items():
            raw.addrs[(k.kind, bytes(k.addr)[: k.len])] = v.value
        raw.execs = dict(self._execs)
        raw.exe_of = dict(self._exe_of)
        if self.verify:
            for k, v in b["denied_calls"].items():
                raw.denied_calls[(k.nr, k.err, k.tgid)] = v.value
            for k, v in b["denied_caps"].items():
                raw.denied_caps[(k.nr, k.err, k.tgid)] = v.value
        for path in self._execs:  # the exec event is the authority on what was executed
            o, f = raw.files.get(path, (0, 0))
            raw.files[path] = (o | 1 << ACCESS_BITS.index("execute"), f)
        raw.uids = {k.value for k in b["uids"].keys()}
        raw.gids = {k.value for k in b["gids"].keys()}
        raw.peak_tasks = b["tasks"][ct.c_int(1)].value
        loss = b["loss"]
        raw.loss = {name: loss[ct.c_int(i)].value for i, name in enumerate(LOSS_SLOTS)}
        raw.loss["unresolved_relative"] = unresolved
        return raw

    def close(self) -> None:
        try:
            self.bpf.cleanup()
        except Exception:  # cleanup is best effort at exit
            pass


def _join(base: bytes, rel: bytes) -> bytes:
    if not rel:
        return base  # AT_EMPTY_PATH: the fd itself
    if rel.startswith(b"/"):
        return rel
    return os.path.normpath(base.rstrip(b"/") + b"/" + rel) if base != b"/" else os.path.normpath(b"/" + rel)


def _explain_bpf_failure(e: Exception) -> EnvironmentProblem:
    text = str(e)
    if os.geteuid() != 0:
        return EnvironmentProblem("recording needs root (loading eBPF programs)",
                                  hint="run with sudo")
    if "kernel headers" in text.lower() or "chdir(" in text or "/lib/modules" in text:
        return EnvironmentProblem(
            f"bcc cannot find kernel headers for {platform.release()}",
            hint="run `make setup` (installs headers, with a fallback for unpackaged kernels)")
    if "Operation not permitted" in text or "EPERM" in text:
        return EnvironmentProblem("the kernel refused to load the eBPF recorder (EPERM)",
                                  hint="check lockdown, seccomp or container restrictions on bpf()")
    first = text.strip().splitlines()[0] if text.strip() else e.__class__.__name__
    return EnvironmentProblem(f"failed to load the eBPF recorder: {first}",
                              hint="run `make setup`; see README 'Troubleshooting'")
