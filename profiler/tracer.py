"""The eBPF tracer: the only module that imports bcc.

It compiles bpf/record.c (which includes bpf/wire.h, generated from profiler.wire) with options as
-D defines, fills the syscall class tables from libseccomp's numbers for this architecture,
attaches to tracepoints and raw tracepoints (plus, for capability checks on kernels without
their tracepoint, a kprobe on cap_capable: profiler/capsource.py decides), feeds what is
streamed (forks, execs, chdirs, directory fds, relative paths) to a pathres.PathResolver (where the kernel did not complete a
relative path itself: record.c KPATH), and at the end reads the in-kernel
aggregates into a plain `wire.RawTrace` that `aggregate.build_recording` (pure) turns into the
typed model.
"""

from __future__ import annotations

import ctypes as ct
import os
import platform
import time
from pathlib import Path

from . import btf, capsource, syscalls
from .errors import EnvironmentProblem
from .pathres import PathResolver, proc_base
from .wire import (
    KP_COMPOSED, LOSS_SLOTS, MAX_SLOTS, NO_EXIT_CLASSES, SYSCALL_CLASSES, URING_OPS, Access, ArgIndex, CompatArch,
    Event, EventType, PrivExecEvent, PrivExecFlag, RawTrace, SysClass, TaskState, UringSlot,
)

BPF_DIR = Path(__file__).resolve().parent.parent / "bpf"
BPF_SOURCE = BPF_DIR / "record.c"  # includes wire.h from the same directory

MAX_NR = 1024
MAX_FILES = 262144
MAX_ARG_VALUES = 64
RINGBUF_PAGES = 1024  # 4 MiB


def _tracefs() -> Path:
    for p in (Path("/sys/kernel/tracing"), Path("/sys/kernel/debug/tracing")):
        if (p / "events").is_dir():
            return p
    raise EnvironmentProblem("tracefs is not mounted",
                             hint="mount -t tracefs tracefs /sys/kernel/tracing")


_ARCH_DEFINE = {"x86_64": "ARCH_X86_64", "aarch64": "ARCH_ARM64"}

# The kernel struct members record.c's in-kernel path walk (KPATH) reads, as its -D defines:
# define -> (struct, member), offsets from the running kernel's BTF. Missing any of them, the
# recorder falls back to resolving relative paths in user space from the events it streams.
KPATH_FIELDS = {
    "KP_TASK_FILES": ("task_struct", "files"), "KP_TASK_FS": ("task_struct", "fs"),
    "KP_TASK_MM": ("task_struct", "mm"), "KP_FILES_FDT": ("files_struct", "fdt"),
    "KP_FDT_MAX": ("fdtable", "max_fds"), "KP_FDT_FD": ("fdtable", "fd"),
    "KP_FILE_PATH": ("file", "f_path"), "KP_PATH_MNT": ("path", "mnt"),
    "KP_PATH_DENTRY": ("path", "dentry"), "KP_FS_ROOT": ("fs_struct", "root"),
    "KP_FS_PWD": ("fs_struct", "pwd"), "KP_D_PARENT": ("dentry", "d_parent"),
    "KP_D_NAME_LEN": ("dentry", "d_name.len"), "KP_D_NAME_NAME": ("dentry", "d_name.name"),
    "KP_MOUNT_MNT": ("mount", "mnt"), "KP_MOUNT_PARENT": ("mount", "mnt_parent"),
    "KP_MOUNT_MOUNTPOINT": ("mount", "mnt_mountpoint"), "KP_VFSMNT_ROOT": ("vfsmount", "mnt_root"),
    "KP_MM_EXE": ("mm_struct", "exe_file"),
}


def kpath_defines(offset=btf.running_kernel_offset) -> tuple[list[str], list[str]]:
    """(-D flags enabling the in-kernel path walk, or [] when BTF lacks a member; the members
    BTF lacks, as "struct.member")."""
    found = {d: offset(s, m) for d, (s, m) in KPATH_FIELDS.items()}
    missing = [".".join(KPATH_FIELDS[d]) for d, off in found.items() if off is None]
    if missing:
        return [], missing
    return ["-DKPATH"] + [f"-D{d}={off}" for d, off in found.items()], []
# io_uring tracepoints record.c can use, by the define that compiles its probe, in order of
# preference (the submit event was io_uring_submit_sqe before kernel 6.2): (define, event,
# fields the probe reads).
_URING_EVENTS = (
    ("URING_SUBMIT_REQ", "io_uring_submit_req", ("opcode",)),
    ("URING_SUBMIT_SQE", "io_uring_submit_sqe", ("opcode",)),
    ("URING_CREATE", "io_uring_create", ("flags",)),
    ("URING_FILE_GET", "io_uring_file_get", ()),
)


def _tracepoint_fields(category: str, event: str) -> set[str] | None:
    """The field names of a tracepoint from its tracefs format file, None when it is absent."""
    try:
        fmt = (_tracefs() / "events" / category / event / "format").read_text()
    except (OSError, EnvironmentProblem):
        return None
    names = set()
    for line in fmt.splitlines():
        decl = line.strip().partition("field:")[2].partition(";")[0]
        if decl:
            names.add(decl.split()[-1].split("[")[0])
    return names


def uring_defines() -> tuple[list[str], tuple[str, ...]]:
    """-D flags for the io_uring tracepoints this kernel has (detected in tracefs, never
    assumed), and their names ("io_uring:io_uring_submit_req", ...)."""
    flags, attached = [], []
    for define, event, needs in _URING_EVENTS:
        if define == "URING_SUBMIT_SQE" and "-DURING_SUBMIT_REQ" in flags:
            continue
        fields = _tracepoint_fields("io_uring", event)
        if fields is None or not set(needs) <= fields:
            continue
        flags.append(f"-D{define}")
        attached.append(f"io_uring:{event}")
        if define.startswith("URING_SUBMIT") and "sq_thread" in fields:
            flags.append("-DURING_SQ_THREAD_FIELD")
    return flags, tuple(attached)


class Tracer:
    """Load the recorder. `containers`: only tasks in the cgroups of the containers named with
    `expect_container` (before they start) or `add_target` (running ones; `attach` says tasks
    older than `begin()` count at once); otherwise only tasks registered with `track` (exec
    mode)."""

    def __init__(self, containers: bool = False, attach: bool = False, arch: str | None = None,
                 initial_cwd: str = "/", all_exits: bool = False, verify: bool = False,
                 own_pid_namespace: bool = True, capabilities: str | None = None):
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
            f"-I{BPF_DIR}", f"-DMAX_NR={MAX_NR}", f"-DMAX_FILES={MAX_FILES}",
            f"-DMAX_ARG_VALUES={MAX_ARG_VALUES}", f"-DRINGBUF_PAGES={RINGBUF_PAGES}",
            f"-DNR_EXECVE={nr_execve}", f"-DNR_CHDIR={syscalls.number_of(self.arch, 'chdir')}", f"-D{_ARCH_DEFINE[self.arch]}",
            "-Wno-unreachable-code",
        ]
        if containers:
            cflags += ["-DCONTAINERS", f"-DMAX_SLOTS={MAX_SLOTS}"]
            if attach:
                cflags.append("-DATTACH")
                start_time = btf.running_kernel_offset("task_struct", "start_time")
                if start_time is not None:  # without it every task of the container counts
                    cflags.append(f"-DTASK_START_TIME_OFF={start_time}")
            if own_pid_namespace:  # the container has its own PID namespace (not --pid host)
                ns = os.stat("/proc/self/ns/pid")
                cflags += [f"-DHOST_PIDNS_DEV={ns.st_dev}ULL", f"-DHOST_PIDNS_INO={ns.st_ino}ULL"]
        real_cred = btf.running_kernel_offset("task_struct", "real_cred")
        if real_cred is not None:  # without BTF: capability grants are taken as they come
            cflags.append(f"-DTASK_REAL_CRED_OFF={real_cred}")
        self.tells_overridden_creds = real_cred is not None
        kpath, self.kpath_missing = kpath_defines()
        cflags += kpath
        self.kernel_paths = bool(kpath)  # else: relative paths resolved from streamed events
        cred_flags = btf.cred_defines()
        self.sees_exec_creds = cred_flags is not None
        cflags += cred_flags or []
        uring_flags, self.uring_tracepoints = uring_defines()
        cflags += uring_flags
        if capabilities is None:  # the caller did not choose (pre-flight does): detect
            capabilities = capsource.choose("auto", capsource.detect((_tracefs(),)))[0]
        self.cap_source = capabilities  # capsource.SOURCES
        if capabilities == capsource.TRACEPOINT:
            cflags.append("-DCAP_TRACEPOINT")
            noaudit = capsource.running_noaudit_define()
            if noaudit:
                cflags.append(noaudit)
        elif capabilities == capsource.KPROBE:
            cflags.append("-DCAP_KPROBE")
        # i386 syscalls are told by TS_COMPAT in thread_info.status, whose offset only the
        # running kernel's BTF may give. Without it they would be counted as native calls.
        ti_status = btf.running_kernel_offset("task_struct", "thread_info.status") \
            if self.arch == "x86_64" else None
        if ti_status is not None:
            cflags.append(f"-DTASK_TI_STATUS_OFF={ti_status}")
        self.tells_compat = ti_status is not None  # else i386 calls count as native (as before)
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
        if capabilities == capsource.KPROBE:
            self._attach_cap_kprobe()
        if not all_exits:
            self._attach_exits()
        self.paths = PathResolver(os.fsencode(initial_cwd or "/"), proc_base)
        self._exe_of: dict[int, bytes] = {}  # tgid -> what it runs (exec, or inherited by fork)
        self._execs: dict[bytes, int] = {}
        self._exe_resolved: dict[bytes, bytes] = {}  # exec path -> its file, symlinks resolved
        self._privexecs: dict[tuple, int] = {}
        self._privexec_pending: dict[int, tuple] = {}  # tid -> a PRIVEXEC before its EXEC
        self.cgroups: list[tuple[int, bytes]] = []  # (slot, v2 path) of each cgroup matched
        # first sightings (note_first_seen): kind -> key -> ms since _t0
        self._first: dict[str, dict] = {"syscalls": {}, "caps": {}, "sockets": {}, "execs": {}}
        self._t0: float | None = None
        self._stop_ms = 0
        self.bpf["events"].open_ring_buffer(self._on_event)

    # --- setup ------------------------------------------------------------------------------
    def _fill_classes(self) -> None:
        cls, bits = self.bpf["sysclass"], self.bpf["sysbits"]
        for name, (c, b) in self._classes():
            nr = syscalls.number_of(self.arch, name)
            if nr is None or nr >= MAX_NR:
                continue  # this architecture does not have it (e.g. open on aarch64)
            cls[ct.c_int(nr)] = ct.c_uint8(int(c))
            bits[ct.c_int(nr)] = ct.c_uint32(int(b))

    def _classes(self):
        """The syscall classes to trace: without chdir when the kernel's own cwd completes
        relative paths (KPATH), as nothing else needs it."""
        return [(name, cb) for name, cb in SYSCALL_CLASSES.items()
                if not (self.kernel_paths and cb[0] == SysClass.CHDIR)]

    def _attach_exits(self) -> None:
        """The result of the syscalls that need one (paths, chdir, set*id, sockets) comes from
        their own exit tracepoints: for every other syscall the kernel tests one bit, where a
        raw sys_exit program would cost a second BPF dispatch on every syscall."""
        events = _tracefs() / "events" / "syscalls"
        for name, (cls, _bits) in self._classes():
            if cls in NO_EXIT_CLASSES or not (events / f"sys_exit_{name}").is_dir():
                continue
            try:
                self.bpf.attach_tracepoint(tp=f"syscalls:sys_exit_{name}", fn_name=b"on_sys_exit")
            except Exception as e:  # bcc raises bare Exception
                raise EnvironmentProblem(f"cannot attach to syscalls:sys_exit_{name}: {e}") from None

    def _attach_cap_kprobe(self) -> None:
        try:
            self.bpf.attach_kprobe(event=b"cap_capable", fn_name=b"cap_enter")
            self.bpf.attach_kretprobe(event=b"cap_capable", fn_name=b"cap_return")
        except Exception as e:  # bcc raises bare Exception
            raise EnvironmentProblem(f"cannot attach a kprobe to cap_capable: {e}",
                                     hint="record with --capabilities off, or on a kernel with "
                                          "kprobes or the capability:cap_capable tracepoint"
                                     ) from None

    def track(self, pid: int, pending: bool = False) -> None:
        """Register a task: pending (counts from its next exec) or active (counts now)."""
        state = TaskState.PENDING if pending else TaskState.ACTIVE
        self.bpf["tracked"][ct.c_uint32(pid)] = ct.c_uint32(int(state))
        if not pending:
            live = self.bpf["tasks"]
            live[ct.c_int(0)] = ct.c_uint64(live[ct.c_int(0)].value + 1)

    def expect_container(self, container_id: str, slot: int = 0) -> None:
        """The container's cgroup, which its start will create, becomes a target (slot) as soon
        as the kernel announces it (record.c's cgroup_mkdir)."""
        table = self.bpf["expected"]
        key = table.Key()
        raw = container_id.encode()
        if len(raw) != ct.sizeof(key):
            raise ValueError(f"not a full container id: {container_id!r}")
        ct.memmove(ct.addressof(key), raw, len(raw))
        table[key] = ct.c_uint32(slot)

    def add_target(self, cgroup_id: int, slot: int = 0) -> None:
        """An existing cgroup v2 (by id) whose tasks belong to container `slot`."""
        self.bpf["targets"][ct.c_uint64(cgroup_id)] = ct.c_uint32(slot)

    def is_target(self, cgroup_id: int) -> bool:
        return ct.c_uint64(cgroup_id) in self.bpf["targets"]

    def begin(self) -> None:
        """Attach mode: tasks started before now count at first sight (the running app); younger
        ones from their exec inside the container (a `docker exec`) or their fork by a counting
        task. CLOCK_MONOTONIC is the clock of task_struct.start_time and bpf_ktime_get_ns."""
        self.bpf["session"][ct.c_int(0)] = ct.c_uint64(time.clock_gettime_ns(time.CLOCK_MONOTONIC))

    # --- streaming --------------------------------------------------------------------------
    def _on_event(self, ctx, data, size) -> None:
        """Feed each streamed event to the path resolver (the events arrive in order)."""
        e = ct.cast(data, ct.POINTER(Event)).contents
        if e.type == EventType.PRIVEXEC:  # a record of its own layout, just before its EXEC
            p = ct.cast(data, ct.POINTER(PrivExecEvent)).contents
            self._privexec_pending[p.tid] = _privexec_key(p)
            return
        if e.type == EventType.FORK:  # the child's tid travels in `dirfd`
            self.paths.fork(e.tgid, e.tid, e.dirfd)
            if e.tgid in self._exe_of:
                self._exe_of.setdefault(e.dirfd, self._exe_of[e.tgid])
        elif e.type == EventType.EXEC:  # a task that starts counting here (entrypoint, docker exec)
            full = self.paths.exec(e.tgid, e.tid, e.path)
            self._execs[full] = self._execs.get(full, 0) + 1
            self._first["execs"].setdefault(full, self._ms())
            self._exe_of[e.tgid] = full
            pending = self._privexec_pending.pop(e.tid, None)
            if pending is not None:  # the path as resolved for the exec
                self._count_privexec((full,) + pending[1:])
        elif e.type == EventType.EXE_RESOLVED:  # follows its EXEC: same tgid
            used, real = self._exe_of.get(e.tgid), e.path
            if used is not None and real.startswith(b"/") and real != used:
                self._exe_resolved[used] = real
        elif e.type == EventType.FILE:
            self.paths.file_seen(e.tgid, e.tid, e.dirfd, e.path)
        elif e.type == EventType.CHDIR:
            self.paths.chdir(e.tgid, e.tid, e.dirfd, e.path)
        elif e.type == EventType.DIRFD:
            self.paths.dirfd_opened(e.tgid, e.tid, e.dirfd, e.path, e.aux)
        elif e.type == EventType.CGROUP:
            self.cgroups.append((e.dirfd, e.path))

    def _count_privexec(self, key: tuple) -> None:
        self._privexecs[key] = self._privexecs.get(key, 0) + 1

    def poll(self, timeout_ms: int = 100) -> None:
        self.bpf.ring_buffer_poll(timeout_ms)

    def drain(self) -> None:
        self.bpf.ring_buffer_consume()

    # --- live numbers for the progress line -------------------------------------------------
    def live_stats(self) -> dict[str, int]:
        """For the progress line, right after note_first_seen: the syscalls seen are those it
        timed, so the per-CPU count slots are not read a second time."""
        seen = len(self._first["syscalls"])
        lost = sum(v.value for _, v in self.bpf["loss"].items())
        paths = self.bpf["tasks"][ct.c_int(2)].value
        return {"syscalls": seen, "paths": paths, "execs": sum(self._execs.values()), "lost": lost}

    # --- first sightings (Recording.timeline) ----------------------------------------------
    def _ms(self) -> int:
        return 0 if self._t0 is None else int((time.monotonic() - self._t0) * 1000)

    def note_first_seen(self, elapsed: float) -> None:
        """Time the syscalls, capabilities and socket kinds first seen since the last call
        (`elapsed` s after the start). The session calls it four times a second, outside the
        hot path: it reads the per-syscall count slots, the capability array and the argument
        map, all small and bounded; the file map (up to 100,000s of paths) is not read, so
        files have no first-seen time. Executables are timed as their exec event arrives."""
        if self._t0 is None:
            self._t0 = time.monotonic() - elapsed
        ms, b, first = int(elapsed * 1000), self.bpf, self._first
        for k, v in b["counts"].items():
            if any(v) and k.value not in first["syscalls"]:
                first["syscalls"][k.value] = ms
        for k, _ in b["counts_high"].items():
            first["syscalls"].setdefault(k.value, ms)
        ok = b["caps_ok"]
        for cap in range(64):
            if cap not in first["caps"] and ok[ct.c_int(cap)].value:
                first["caps"][cap] = ms
        for k, _ in b["argvals"].items():
            if k.idx == ArgIndex.SOCKET_TRIPLE:
                first["sockets"].setdefault(k.val, ms)

    def mark_stop(self, elapsed: float) -> None:
        """The container is being stopped `elapsed` s after the start: what comes after is
        shutdown, not the workload (coverage.py judges the run up to here)."""
        self.note_first_seen(elapsed)
        self._stop_ms = int(elapsed * 1000)

    # --- the end ----------------------------------------------------------------------------
    def snapshot(self) -> RawTrace:
        self.drain()
        if self._t0 is not None:  # what appeared since the last sample: at the end, at the latest
            self.note_first_seen(time.monotonic() - self._t0)
        b = self.bpf
        raw = RawTrace(arch=self.arch)
        raw.first_seen = {k: dict(v) for k, v in self._first.items()} if self._t0 else {}
        raw.duration_ms = self._ms()
        raw.stop_ms = self._stop_ms
        for k, v in b["counts"].items():
            total = sum(v)
            if total:
                raw.counts[k.value] = total
        for k, v in b["counts_high"].items():
            raw.counts[k.value] = raw.counts.get(k.value, 0) + v.value
        for k, v in b["errnos"].items():
            raw.errnos[(k.nr, k.err)] = v.value
        for k, v in b["compat_counts"].items():
            raw.compat_counts[(CompatArch(k.arch).name.lower(), k.nr)] = v.value
        for k, v in b["compat_errnos"].items():
            raw.compat_errnos[(CompatArch(k.arch).name.lower(), k.nr, k.err)] = v.value
        raw.cap_source = self.cap_source
        ok, denied, over, probe = b["caps_ok"], b["caps_denied"], b["caps_override"], b["caps_probe"]
        for cap in range(64):
            g, d = ok[ct.c_int(cap)].value, denied[ct.c_int(cap)].value
            if g or d:
                raw.caps[cap] = (g, d)
            if over[ct.c_int(cap)].value:
                raw.caps_overridden[cap] = over[ct.c_int(cap)].value
            if probe[ct.c_int(cap)].value:
                raw.caps_probed[cap] = probe[ct.c_int(cap)].value
        for k, v in b["argvals"].items():
            raw.args.setdefault((k.nr, k.idx), {})[k.val] = v.value
        unresolved = 0
        for k, v in b["files"].items():
            path = bytes(k.path).split(b"\0", 1)[0]
            if not k.tgid and k.dirfd == KP_COMPOSED:
                path = os.path.normpath(path)  # "/dir/" + the relative path as the app wrote it
            if k.tgid:
                full = self.paths.file_key(k.tgid, k.dirfd, path)  # the process's view if lost
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
        raw.resolved = self._aliases() | self._exe_resolved
        if self.kpath_missing:
            raw.notes.append(
                f"this kernel's BTF lacks {', '.join(self.kpath_missing)}: relative paths were "
                "resolved from the events seen (a directory fd made by dup, fcntl or inherited "
                "may not resolve) and symlinks were not resolved for AppArmor")
        raw.execs = dict(self._execs)
        for pending in self._privexec_pending.values():  # their EXEC was lost: the path as given
            self._count_privexec(pending)
        self._privexec_pending.clear()
        raw.privexecs = dict(self._privexecs)
        raw.creds_readable = self.sees_exec_creds
        ops = b["uring_ops"]
        for op in range(URING_OPS):
            n = ops[ct.c_int(op)].value
            if n:
                raw.uring_ops[op] = n
        uring = b["uring"]
        raw.uring = {s.name.lower(): uring[ct.c_int(int(s))].value for s in UringSlot}
        raw.uring_tracepoints = self.uring_tracepoints
        raw.exe_of = dict(self._exe_of)
        if self.verify:
            for k, v in b["denied_calls"].items():
                if k.arch:
                    raw.denied_compat[(CompatArch(k.arch).name.lower(), k.nr, k.err, k.tgid)] = v.value
                else:
                    raw.denied_calls[(k.nr, k.err, k.tgid)] = v.value
            for k, v in b["denied_caps"].items():
                raw.denied_caps[(k.nr, k.err, k.tgid)] = v.value
        for path in self._execs:  # the exec event is the authority on what was executed
            o, f = raw.files.get(path, (0, 0))
            raw.files[path] = (o | int(Access.EXECUTE), f)
        raw.uids = {k.value for k in b["uids"].keys()}
        raw.gids = {k.value for k in b["gids"].keys()}
        raw.peak_tasks = b["tasks"][ct.c_int(1)].value
        loss = b["loss"]
        raw.loss = {name: loss[ct.c_int(i)].value for i, name in enumerate(LOSS_SLOTS)}
        raw.loss["unresolved_relative"] = unresolved
        return raw

    def _aliases(self) -> dict[bytes, bytes]:
        """Opened paths as used -> as resolved in the kernel (KPATH), where they differ."""
        if not self.kernel_paths:
            return {}
        out = {}
        for k, v in self.bpf["aliases"].items():
            used = bytes(k.path).split(b"\0", 1)[0]
            if k.tgid:
                used = self.paths.file_key(k.tgid, k.dirfd, used) or b""
            elif k.dirfd == KP_COMPOSED:
                used = os.path.normpath(used)
            real = bytes(v.path).split(b"\0", 1)[0]
            if used.startswith(b"/") and real.startswith(b"/") and real != used:
                out[used] = real
        return out

    def close(self) -> None:
        try:
            self.bpf.cleanup()
        except Exception:  # cleanup is best effort at exit
            pass


def _creds(c) -> tuple[int, int, int, int, int, int]:
    return (c.uid, c.euid, c.gid, c.egid, c.cap_effective, c.cap_permitted)


def _privexec_key(p: PrivExecEvent) -> tuple:
    """RawTrace.privexecs key: (path, before or None, after, flags, mode, file uid, file gid)."""
    before = _creds(p.before) if p.flags & PrivExecFlag.BEFORE_KNOWN else None
    return (p.path, before, _creds(p.after), int(p.flags), p.file_mode, p.file_uid, p.file_gid)


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
                              hint="run `make setup`; see README, Troubleshooting")
