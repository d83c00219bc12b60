"""The eBPF tracer: the only module that imports bcc.

It compiles bpf/record.c (which includes bpf/wire.h, generated from profiler.kernel.wire) with
options as -D defines, fills the syscall class tables from libseccomp's numbers for this
architecture, attaches to tracepoints and raw tracepoints (plus, for capability checks on kernels
without their tracepoint, a kprobe on cap_capable: profiler/kernel/capsource.py decides), feeds
what is streamed (forks, execs, chdirs, directory fds, relative paths) to a pathres.PathResolver
(where the kernel did not complete a relative path itself: record.c KPATH), and at the end reads
the in-kernel aggregates into a plain `wire.RawTrace` that `aggregate.build_recording` (pure) turns
into the typed model.

Every aggregate is kept per container slot (record.c, "Slots"): `snapshot()` is slot 0's (exec
mode, one container); in match mode (`match=True`) the kernel gives each new container a slot,
`on_container` hears of it, user space keeps or drops it, and `snapshot_slots()` returns one
RawTrace per kept slot. What the events tell (executables, privilege changes, first sightings)
is kept per slot here too, from the slot each event carries.
"""

from __future__ import annotations

import atexit
import ctypes as ct
import errno
import json
import os
import platform
import re
import time
from pathlib import Path
from typing import Callable

from . import bpfcache, btf, capsource, syscalls
from ..errors import EnvironmentProblem
from .correlate import Correlator, Seen
from ..tool_errors import error_line
from .pathres import PathResolver, proc_base
from .wire import (
    CAP_ROW, KP_COMPOSED, LOSS_ROW, LOSS_SLOTS, MAX_SLOTS, NO_EXIT_CLASSES, PER_SYSCALL_LOSS,
    SLOT_NONE, ST_GEN_MASK,
    SYSCALL_CLASSES, TASKS_ROW, TRACER_LOSS, URING_OPS, URING_ROW, Access, ArgIndex, Claim,
    CompatArch, Event,
    EventType, Loss, PrivExecEvent, RawTrace, SysClass, TaskState, TasksSlot, UringSlot,
)

BPF_DIR = Path(__file__).resolve().parents[2] / "bpf"
BPF_SOURCE = BPF_DIR / "record.c"  # includes wire.h from the same directory

MAX_NR = 1024
MAX_FILES = 262144
MAX_ARG_VALUES = 64
RINGBUF_PAGES = 1024  # 4 MiB
# Match mode: the containers share the aggregation hash maps, which are this many times larger
# (record.c HASH_SCALE); the per-slot arrays have a row per slot instead.
MATCH_HASH_SCALE = 4
_BPF_NOEXIST = 1  # bpf(2) update flag: fail when the key exists (an atomic claim)


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


def preload() -> None:
    """Import bcc's bindings now (in the calling thread), if they import: a caller about to
    load the tracer in a thread of its own while it imports other things does this first, so
    that the thread's Python work is short and it reaches the verifier (kernel time, without
    the GIL) early. A failure is said by Tracer(), where the import is repeated."""
    try:
        import bcc  # noqa: F401 (the one import of bcc in the project is Tracer's, below)
    except ImportError:
        pass


class Tracer:
    """Load the recorder. `containers`: only tasks in the cgroups of the containers named with
    `expect_container` (before they start) or `add_target` (running ones; `attach` says tasks
    older than `begin()` count at once); otherwise only tasks registered with `track` (exec
    mode). `match` (with `containers`): every container that starts also gets a slot of its
    own, announced to `on_container(slot, container_id, cgroup_v2_path)` from poll()/drain();
    `drop(slot)` the ones not wanted. One that found every slot taken is not traced; it is
    announced to `on_unslotted(container_id, cgroup_v2_path) -> bool` (True: it is one of the
    recorded application's, or nobody can say; then it counts as slots_exhausted loss)."""

    def __init__(self, containers: bool = False, attach: bool = False, arch: str | None = None,
                 initial_cwd: str = "/", all_exits: bool = False, verify: bool = False,
                 own_pid_namespace: bool = True, capabilities: str | None = None,
                 match: bool = False, per_syscall: bool = False):
        if match and not containers:
            raise ValueError("match mode traces containers: containers=True")
        self.match = match
        self.nslots = MAX_SLOTS if match else 1  # rows of the per-slot aggregates
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
            f"-DNR_EXECVE={nr_execve}", f"-DNR_CHDIR={syscalls.number_of(self.arch, 'chdir')}",
            f"-DNR_MMAP={syscalls.number_of(self.arch, 'mmap')}",
            f"-D{_ARCH_DEFINE[self.arch]}", f"-DNSLOTS={self.nslots}",
            f"-DHASH_SCALE={MATCH_HASH_SCALE if match else 1}", "-Wno-unreachable-code",
        ]
        if containers:
            cflags.append("-DCONTAINERS")
            if match:
                cflags.append("-DMATCH")
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
        self.verify = verify
        if all_exits or verify:
            cflags.append("-DEXIT_ALL")
            all_exits = True
        if verify:
            cflags.append("-DVERIFY")
        # The entry side's design (docs/architecture.md, "The cost of recording"): "raw" (one
        # program on raw_syscalls:sys_enter) or, asked for, "per-syscall" where it can run.
        self.design, self.design_why = entry_design(per_syscall, match, all_exits, self.arch,
                                                    ti_status is not None)
        if self.design == PER_SYSCALL:
            cflags.append("-DPERSYSCALL")
        try:
            # on_sys_exit is the exits' program (_attach_exits), the largest for the verifier
            preload = () if all_exits else (("on_sys_exit", BPF.TRACEPOINT),)
            if self.design == PER_SYSCALL:
                preload += (("on_sys_enter", BPF.TRACEPOINT),)
            self.bpf, self.from_cache = _load_recorder(BPF, cflags, preload)
        except Exception as e:  # bcc raises bare Exception on compile/load failure
            raise _explain_bpf_failure(e) from None
        self._fill_classes()
        if capabilities == capsource.KPROBE:
            self._attach_cap_kprobe()
        if not all_exits:
            self._attach_exits()
        self.entries: EntryEvents | None = None
        if self.design == PER_SYSCALL:
            self.entries = EntryEvents(self.bpf, self.arch, self._class_numbers())
        self.paths = PathResolver(os.fsencode(initial_cwd or "/"), proc_base)
        self.events = Correlator(self.paths, self._ms)  # what the streamed events say
        self.cgroups = self.events.cgroups  # (slot, v2 path) of each cgroup matched
        self.on_container: Callable[[int, str, bytes], None] | None = None
        self.on_unslotted: Callable[[str, bytes], bool] | None = None
        self.unslotted_lost = 0  # containers of the application that found no slot (loss)
        self.unslotted_unrelated = 0  # other containers that found no slot (not traced: fine)
        self._slots: set[int] = {0} if not match else set()  # slots in use
        self._dropped: set[int] = set()
        self._kept: set[int] = set()
        self._t0: float | None = None
        self._stop_ms = 0
        self._disarmed_at = 0.0
        self._dropped_at: dict[int, float] = {}  # dropped slot -> when (recycled later)
        self.stray_events = 0  # events naming a slot not handed out (ignored, counted)
        self._forget_at = time.monotonic()  # _forget_exited's last pass
        self._gone_before: set[int] = set()  # tasks found gone at that pass
        self.recycled = 0  # dropped slots reused for other containers
        if match:  # slot 0 is never a container's here: its loss row counts for the tracer
            self._claim(0)
        self.bpf["events"].open_ring_buffer(self._on_event)
        self.arm()

    def arm(self) -> None:
        """Let the programs act: the last thing user space does once every map it fills is
        filled. bcc attaches each program as it loads it, so they ran during BPF() and the
        steps above; until now record.c gave no task a state and no cgroup a slot (`armed`)."""
        self.bpf["armed"][ct.c_int(0)] = ct.c_uint32(1)


    # --- setup ------------------------------------------------------------------------------
    def _fill_classes(self) -> None:
        cls, bits = self.bpf["sysclass"], self.bpf["sysbits"]
        for name, (c, b) in self._classes():
            nr = syscalls.number_of(self.arch, name)
            if nr is None or nr >= MAX_NR:
                continue  # this architecture does not have it (e.g. open on aarch64)
            cls[ct.c_int(nr)] = ct.c_uint8(int(c))
            bits[ct.c_int(nr)] = ct.c_uint32(int(b))

    def _class_numbers(self) -> set[int]:
        """The syscall numbers with a class: their entry programs stay attached."""
        out = set()
        for name, _cb in self._classes():
            nr = syscalls.number_of(self.arch, name)
            if nr is not None:
                out.add(nr)
        return out

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

    def set_initial_cwd(self, cwd: str) -> None:
        """The cwd of a task /proc no longer answers for (a container's working directory),
        when it was not known at the load: before expect_container, so before any event."""
        self.paths.initial_cwd = os.fsencode(cwd or "/")

    def track(self, pid: int, pending: bool = False) -> None:
        """Register a task: pending (counts from its next exec) or active (counts now)."""
        state = TaskState.PENDING if pending else TaskState.ACTIVE
        self.bpf["tracked"][ct.c_uint32(pid)] = ct.c_uint32(int(state))
        if not pending:
            live, key = self.bpf["tasks"], ct.c_int(TasksSlot.LIVE)  # slot 0's row
            live[key] = ct.c_uint64(live[key].value + 1)

    def expect_container(self, container_id: str, slot: int = 0) -> None:
        """The container's cgroup, which its start will create, becomes a target (slot) as soon
        as the kernel announces it (record.c's cgroup_mkdir); so do its restarts'."""
        self._use(slot)
        key = self._expected_key(container_id)
        if key is None:
            raise ValueError(f"not a full container id: {container_id!r}")
        self.bpf["expected"][key] = ct.c_uint32(slot)

    def _expected_key(self, container_id: str):
        """record.c's container_key of a container id; None when it is not a full id."""
        key = self.bpf["expected"].Key()
        raw = container_id.encode()
        if len(raw) != ct.sizeof(key):
            return None
        ct.memmove(ct.addressof(key), raw, len(raw))
        return key

    def add_target(self, cgroup_id: int, slot: int = 0) -> None:
        """An existing cgroup v2 (by id) whose tasks belong to container `slot`."""
        self._use(slot)
        self.bpf["targets"][ct.c_uint64(cgroup_id)] = ct.c_uint32(slot)

    def _use(self, slot: int) -> None:
        if not 0 <= slot < self.nslots:
            raise ValueError(f"slot {slot} out of range: this tracer has {self.nslots} "
                             f"(match mode has {MAX_SLOTS}, from new_slot())")
        self._slots.add(slot)

    # --- match mode: one slot per container ------------------------------------------------
    def _claim(self, slot: int) -> bool:
        """Take a slot in record.c's `slot_claims` unless the kernel (or we) took it: the
        insert fails when the key exists, so the kernel and user space never share a slot."""
        from bcc.libbcc import lib  # noqa: bcc's bpf(2) wrappers (bcc is imported by now)

        key, who = ct.c_uint32(slot), ct.c_uint32(Claim.USER)
        return lib.bpf_update_elem(self.bpf["slot_claims"].map_fd, ct.byref(key), ct.byref(who),
                                   _BPF_NOEXIST) == 0

    def new_slot(self) -> int:
        """A slot for a container named by user space (a running one: expect_container and
        add_target with it), from the top down; the kernel hands out slots from the bottom up."""
        if not self.match:
            raise ValueError("new_slot is for match mode (Tracer(match=True))")
        for slot in range(self.nslots - 1, 0, -1):
            if slot not in self._slots and self._claim(slot):
                self._slots.add(slot)
                return slot
        raise EnvironmentProblem(f"all {MAX_SLOTS - 1} container slots of the recorder are taken",
                                 hint="record fewer containers at once")

    def drop(self, slot: int) -> None:
        """Not wanted: its tasks stop counting at once (record.c checks `dropped` on every
        event), its cgroups stop being targets (a restart finds its slot dropped), and
        snapshot_slots leaves it out."""
        if not self.match or not 0 < slot < self.nslots:
            raise ValueError(f"not a match-mode slot: {slot}")
        if slot in self._dropped:
            return
        self.bpf["dropped"][ct.c_int(slot)] = ct.c_uint32(1)
        self._dropped.add(slot)
        self._dropped_at[slot] = time.monotonic()
        targets = self.bpf["targets"]
        for k, v in list(targets.items()):
            if v.value == slot:
                try:
                    del targets[k]
                except KeyError:  # the cgroup went meanwhile
                    pass
        self._bump_gen(slot)  # its tasks' states are stale from now: refused, then deleted

    def _bump_gen(self, slot: int) -> None:
        gen = self.bpf["slot_gen"]
        gen[ct.c_int(slot)] = ct.c_uint32((gen[ct.c_int(slot)].value + 1) & ST_GEN_MASK)

    # A dropped slot is reused once no BPF program can still be writing to it (a program that
    # passed the generation test just before the drop ends within microseconds). Dropped slots
    # are taken back RECYCLE_BATCH at a time (one pass over the hash maps purges them all), or
    # all that are ready when fewer than RECYCLE_LOW are free: a burst of container starts (a
    # node scaling up, a test suite) must not find every slot waiting.
    RECYCLE_AFTER_S = 0.1
    RECYCLE_BATCH = 8
    RECYCLE_LOW = 32

    def _recycle(self, force: bool = False) -> None:
        """Give dropped slots back to the kernel's claims: so many unrelated containers may
        start and end during a match recording (a busy host, a CI runner) that MAX_SLOTS would
        run out. A slot's old data goes first (its array rows zeroed, its hash keys deleted,
        its `expected` entries removed so that a restart of the dropped container is claimed
        and judged again); its claim is released last."""
        if not self.match or not self._dropped_at:
            return
        now = time.monotonic()
        ready = [s for s, t in self._dropped_at.items() if now - t >= self.RECYCLE_AFTER_S]
        free = self.nslots - 1 - len(self._slots)
        if not ready or not (force or free < self.RECYCLE_LOW
                             or len(ready) >= self.RECYCLE_BATCH):
            return
        self.bpf.ring_buffer_consume()  # their last events: before their rows are reused
        gone = set(ready)
        for slot in ready:
            self._bump_gen(slot)  # a state made in the moment of the drop is stale too
        self._purge(gone)
        for slot in ready:
            self.events.seen.pop(slot, None)
            self._slots.discard(slot)
            self._dropped.discard(slot)
            self._kept.discard(slot)
            del self._dropped_at[slot]
            self.bpf["dropped"][ct.c_int(slot)] = ct.c_uint32(0)
            try:
                del self.bpf["slot_claims"][ct.c_uint32(slot)]
            except KeyError:
                pass
        self.cgroups[:] = [(s, p) for s, p in self.cgroups if s not in gone]
        self.recycled += len(ready)

    def _purge(self, slots: set[int]) -> None:
        """Zero the slots' rows of the per-slot arrays and delete their keys from the hash
        maps (each key names its slot). Keys only, one bpf(2) call each: a batch lookup would
        allocate the map's whole capacity (tens of MiB for `files`) at every pass."""
        b = self.bpf
        rows = [("counts", MAX_NR), ("caps_ok", CAP_ROW), ("caps_denied", CAP_ROW),
                ("caps_override", CAP_ROW), ("caps_probe", CAP_ROW), ("loss", LOSS_ROW), ("tasks", TASKS_ROW),
                ("uring_ops", URING_OPS), ("uring", URING_ROW)]
        for name, length in rows:
            table = b[name]
            zero = table.Leaf()
            for slot in slots:
                for i in range(slot * length, (slot + 1) * length):
                    table[ct.c_int(i)] = zero
        by_field = ["errnos", "compat_counts", "compat_errnos", "argvals", "files", "addrs",
                    "expected"] + (["aliases"] if self.kernel_paths else []) + \
            (["denied_calls", "denied_caps"] if self.verify else [])
        for name in by_field:
            table = b[name]
            pairs = table.items() if name == "expected" else ((k, None) for k in table.keys())
            for k, v in list(pairs):
                slot = v.value if name == "expected" else k.slot
                if slot in slots:
                    try:
                        del table[k]
                    except KeyError:
                        pass
        for name, shift in (("counts_high", 32), ("argdistinct", 40), ("uids", 32), ("gids", 32)):
            table = b[name]
            for k in list(table.keys()):
                if k.value >> shift in slots:
                    try:
                        del table[k]
                    except KeyError:
                        pass

    def keep(self, slot: int) -> None:
        """Wanted: nothing to change in the kernel (a new slot counts from its start)."""
        self._kept.add(slot)

    def _live_slots(self) -> list[int]:
        return sorted(self._slots - self._dropped)

    def is_target(self, cgroup_id: int) -> bool:
        return ct.c_uint64(cgroup_id) in self.bpf["targets"]

    def begin(self) -> None:
        """Attach mode: tasks started before now count at first sight (the running app); younger
        ones from their exec inside the container (a `docker exec`) or their fork by a counting
        task. CLOCK_MONOTONIC is the clock of task_struct.start_time and bpf_ktime_get_ns."""
        self.bpf["session"][ct.c_int(0)] = ct.c_uint64(time.clock_gettime_ns(time.CLOCK_MONOTONIC))

    # --- streaming --------------------------------------------------------------------------
    def _seen_in(self, slot: int) -> Seen:
        return self.events.seen_in(slot)

    def _on_event(self, ctx, data, size) -> None:
        """Decode each streamed record and hand it to the correlator (the events arrive in
        order); only the slot bookkeeping the tracer needs at once stays here."""
        e = ct.cast(data, ct.POINTER(Event)).contents
        if e.type == EventType.PRIVEXEC:  # a record of its own layout, just before its EXEC
            self.events.privexec(ct.cast(data, ct.POINTER(PrivExecEvent)).contents)
            return
        if e.type == EventType.SLOT and (not self.match or not 0 < e.slot < self.nslots
                                         or e.slot in self._slots):
            self.stray_events += 1  # no slot the kernel could have handed out: ignored
            return
        if e.slot >= self.nslots:
            self.stray_events += 1  # no slot of ours: ignored, counted
            return
        self.events.event(e)
        if e.type == EventType.SLOT:  # record.c claim_slot: the kernel's new slot
            self._slots.add(e.slot)

    def _announce(self) -> None:
        """New slots to on_container, outside bcc's ring-buffer callback (whose exceptions
        ctypes would swallow): the callee may raise, or call drop/keep."""
        while self.events.new_slots:
            slot, cid, path = self.events.new_slots.pop(0)
            if self.on_container is not None:
                self.on_container(slot, cid, path)
        while self.events.unslotted:
            cid, path = self.events.unslotted.pop(0)
            if self.on_unslotted is None or self.on_unslotted(cid, path):
                self.unslotted_lost += 1  # its `expected` entry (SLOT_NONE) stays: once only
            else:
                self.unslotted_unrelated += 1
                self._forget_unslotted(cid)

    def _forget_unslotted(self, container_id: str) -> None:
        """Delete an unrelated container's SLOT_NONE entry from `expected`: a busy host's
        containers would fill it over a long recording. A later cgroup of it (a restart) is
        claimed and judged again, as a dropped container's is."""
        table, key = self.bpf["expected"], self._expected_key(container_id)
        if key is None:
            return
        try:
            if table[key].value == SLOT_NONE:
                del table[key]
        except KeyError:
            pass

    def poll(self, timeout_ms: int = 100) -> None:
        self.bpf.ring_buffer_poll(timeout_ms)
        self._announce()
        self._recycle()
        self._disarm()
        self._forget_exited()

    # Per-task state (cwds, directory fds, what each process runs) of tasks that exited is
    # dropped, so a recording's memory follows the tasks alive, not every task it ever saw. A
    # task must be found gone on two passes FORGET_EVERY_S apart: its last events, still in
    # the ring buffer at the first pass, have been consumed by the second.
    FORGET_EVERY_S = 30.0

    def _forget_exited(self, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        if now - self._forget_at < self.FORGET_EVERY_S:
            return
        self._forget_at = now
        gone = {t for t in self.events.tasks() if not os.path.exists(f"/proc/{t}")}
        self.events.forget(gone & self._gone_before)
        self._gone_before = gone - self._gone_before

    def drain(self) -> None:
        self.bpf.ring_buffer_consume()
        self._announce()
        self._recycle()
        self._disarm()

    DISARM_EVERY_S = 0.2

    def _disarm(self) -> None:
        """Per-syscall design: the seen syscalls without a class are handed to the detacher
        (their first call is counted in the kernel already)."""
        if self.entries is None:
            return
        now = time.monotonic()
        if now - self._disarmed_at < self.DISARM_EVERY_S:
            return
        self._disarmed_at = now
        self.entries.seen(self._row("counts", 0, MAX_NR))

    # --- reading per-slot arrays -----------------------------------------------------------
    def _row(self, name: str, slot: int, length: int) -> list[int]:
        """Entries [slot * length, (slot + 1) * length) of a u64 array map, in one bpf(2) call
        (BPF_MAP_LOOKUP_BATCH, kernel 5.6+; the batch starts after the key it is given); per
        entry where the kernel refuses. A per-CPU array's entries are summed over the CPUs."""
        from bcc.libbcc import lib  # noqa: bcc's bpf(2) wrappers (bcc is imported by now)

        table = self.bpf[name]
        start = slot * length
        keys, values = (ct.c_uint32 * length)(), (table.Leaf * length)()
        before, after, count = ct.c_uint32(start - 1), ct.c_uint32(0), ct.c_uint32(length)
        res = lib.bpf_lookup_batch(table.map_fd, ct.byref(before) if start else None,
                                   ct.byref(after), keys, values, ct.byref(count))
        if not ((res == 0 or ct.get_errno() == errno.ENOENT) and count.value == length):
            values = [table[ct.c_int(start + i)] for i in range(length)]
        return [sum(v) if isinstance(v, ct.Array) else getattr(v, "value", v) for v in values]

    # --- live numbers for the progress line -------------------------------------------------
    def live_stats(self) -> dict[str, int]:
        """For the progress line, right after note_first_seen: the syscalls seen are those it
        timed, so the per-CPU count slots are not read a second time."""
        slots = self._live_slots()
        seen = [self._seen_in(s) for s in slots]
        lost = sum(sum(self._row("loss", s, LOSS_ROW)) for s in sorted(set(slots) | {0}))
        paths = sum(self._row("tasks", s, TASKS_ROW)[TasksSlot.FILE_KEYS] for s in slots)
        return {"syscalls": len(set().union(*(x.first["syscalls"] for x in seen))),
                "paths": paths, "execs": sum(sum(x.execs.values()) for x in seen), "lost": lost}

    # --- first sightings (Recording.timeline) ----------------------------------------------
    def _ms(self) -> int:
        return 0 if self._t0 is None else int((time.monotonic() - self._t0) * 1000)

    def note_first_seen(self, elapsed: float) -> None:
        """Time the syscalls, capabilities and socket kinds first seen since the last call
        (`elapsed` s after the start), per slot. The session calls it four times a second,
        outside the hot path: it reads each live slot's row of per-syscall counts and of
        capabilities (one bpf(2) call each) and the argument map, all small and bounded; the
        file map (up to 100,000s of paths) is not read, so files have no first-seen time.
        Executables are timed as their exec event arrives."""
        if self._t0 is None:
            self._t0 = time.monotonic() - elapsed
        ms, b = int(elapsed * 1000), self.bpf
        slots = self._live_slots()
        for slot in slots:
            first = self._seen_in(slot).first
            for nr, n in enumerate(self._row("counts", slot, MAX_NR)):
                if n and nr not in first["syscalls"]:
                    first["syscalls"][nr] = ms
            for cap, n in enumerate(self._row("caps_ok", slot, CAP_ROW)):
                if n and cap not in first["caps"]:
                    first["caps"][cap] = ms
        for k, _ in b["counts_high"].items():
            if k.value >> 32 in slots:
                self._seen_in(k.value >> 32).first["syscalls"].setdefault(k.value & 0xFFFFFFFF, ms)
        for k, _ in b["argvals"].items():
            if k.idx == ArgIndex.SOCKET_TRIPLE and k.slot in slots:
                self._seen_in(k.slot).first["sockets"].setdefault(k.val, ms)

    def mark_stop(self, elapsed: float) -> None:
        """The container is being stopped `elapsed` s after the start: what comes after is
        shutdown, not the workload (coverage.py judges the run up to here)."""
        self.note_first_seen(elapsed)
        self._stop_ms = int(elapsed * 1000)

    # --- the end ----------------------------------------------------------------------------
    def snapshot(self) -> RawTrace:
        """Slot 0's aggregates: exec mode's, or the one container's."""
        return self._snapshot([0])[0]

    def snapshot_slots(self) -> dict[int, RawTrace]:
        """One RawTrace per slot that was not dropped and saw anything. In match mode each
        also carries the tracer's own losses (slot 0's row: a container that found no slot, a
        full ring buffer when one appeared), which every recording should know of."""
        self.drain()  # the last containers announced (on_container may drop them) first
        slots = [s for s in self._live_slots() if s or not self.match]
        raws = self._snapshot(slots)
        if self.match:
            tracer_loss = self._row("loss", 0, LOSS_ROW)
            tracer_loss[Loss.SLOTS_EXHAUSTED] += self.unslotted_lost
            for raw in raws.values():
                for i, name in enumerate(LOSS_SLOTS):
                    if Loss(i) not in PER_SYSCALL_LOSS:  # match mode runs the raw design
                        raw.loss[name] = raw.loss.get(name, 0) + tracer_loss[i]
        return {s: raw for s, raw in raws.items() if _saw_anything(raw)}

    def _snapshot(self, slots: list[int]) -> dict[int, RawTrace]:
        self.drain()
        if self._t0 is not None:  # what appeared since the last sample: at the end, at the latest
            self.note_first_seen(time.monotonic() - self._t0)
        b = self.bpf
        raws = {slot: self._raw_of_slot(slot) for slot in slots}
        for k, v in b["counts_high"].items():
            raw = raws.get(k.value >> 32)
            if raw is not None:
                nr = k.value & 0xFFFFFFFF
                raw.counts[nr] = raw.counts.get(nr, 0) + v.value
        for k, v in b["errnos"].items():
            if k.slot in raws:
                raws[k.slot].errnos[(k.nr, k.err)] = v.value
        for k, v in b["compat_counts"].items():
            if k.slot in raws:
                raws[k.slot].compat_counts[(CompatArch(k.arch).name.lower(), k.nr)] = v.value
        for k, v in b["compat_errnos"].items():
            if k.slot in raws:
                raws[k.slot].compat_errnos[(CompatArch(k.arch).name.lower(), k.nr, k.err)] = v.value
        for k, v in b["argvals"].items():
            if k.slot in raws:
                raws[k.slot].args.setdefault((k.nr, k.idx), {})[k.val] = v.value
        unresolved = dict.fromkeys(raws, 0)
        for k, v in b["files"].items():
            raw = raws.get(k.slot)
            if raw is None:
                continue
            path = self._used_path(k)
            if path is None:  # relative, and its directory is not known
                unresolved[k.slot] += 1
                continue
            o, f = raw.files.get(path, (0, 0))
            raw.files[path] = (o | v.ok, f | v.failed)
            if v.erofs:
                raw.erofs[path] = raw.erofs.get(path, 0) | v.erofs
            if v.writer >> 63:  # a non-root task wrote there: (uid, gid)
                raw.writers[path] = (v.writer & 0xFFFFFFFF, (v.writer >> 32) & 0x7FFFFFFF)
        for k, v in b["addrs"].items():
            if k.slot in raws:
                raws[k.slot].addrs[(k.kind, bytes(k.addr)[: k.len])] = v.value
        aliases = self._aliases(raws.keys())
        if self.verify:
            for k, v in b["denied_calls"].items():
                raw = raws.get(k.slot)
                if raw is None:
                    continue
                if k.arch:
                    raw.denied_compat[(CompatArch(k.arch).name.lower(), k.nr, k.err, k.tgid)] = v.value
                else:
                    raw.denied_calls[(k.nr, k.err, k.tgid)] = v.value
            for k, v in b["denied_caps"].items():
                if k.slot in raws:
                    raws[k.slot].denied_caps[(k.nr, k.err, k.tgid)] = v.value
        for table, attr in (("uids", "uids"), ("gids", "gids")):
            for k in b[table].keys():
                raw = raws.get(k.value >> 32)
                if raw is not None:
                    getattr(raw, attr).add(k.value & 0xFFFFFFFF)
        for slot, raw in raws.items():
            seen = self._seen_in(slot)
            raw.resolved = aliases.get(slot, {}) | seen.exe_resolved
            raw.execs = dict(seen.execs)
            raw.privexecs = self.events.privexecs_of(slot)  # (reads: a snapshot changes nothing)
            raw.exe_of = dict(seen.exe_of)
            for path in seen.execs:  # the exec event is the authority on what was executed
                o, f = raw.files.get(path, (0, 0))
                raw.files[path] = (o | int(Access.EXECUTE), f)
            raw.loss["unresolved_relative"] = unresolved[slot]
        return raws

    def _raw_of_slot(self, slot: int) -> RawTrace:
        """A slot's RawTrace from its rows of the per-slot arrays (the hash maps come after)."""
        raw = RawTrace(arch=self.arch)
        first = self._seen_in(slot).first
        raw.first_seen = {k: dict(v) for k, v in first.items()} if self._t0 else {}
        raw.duration_ms = self._ms()
        raw.stop_ms = self._stop_ms
        for nr, n in enumerate(self._row("counts", slot, MAX_NR)):
            if n:
                raw.counts[nr] = n
        raw.cap_source = self.cap_source
        rows = [self._row(name, slot, CAP_ROW)
                for name in ("caps_ok", "caps_denied", "caps_override", "caps_probe")]
        for cap, (ok, denied, over, probe) in enumerate(zip(*rows)):
            if ok or denied:
                raw.caps[cap] = (ok, denied)
            if over:
                raw.caps_overridden[cap] = over
            if probe:
                raw.caps_probed[cap] = probe
        if self.kpath_missing:
            raw.notes.append(
                f"this kernel's BTF lacks {', '.join(self.kpath_missing)}: relative paths were "
                "resolved from the events seen (a directory fd made by dup, fcntl or inherited "
                "may not resolve) and symlinks were not resolved for AppArmor")
        raw.creds_readable = self.sees_exec_creds
        if self.stray_events:
            raw.notes.append(f"{self.stray_events} event(s) named no container slot of this "
                             f"recorder and were ignored")
        for op, n in enumerate(self._row("uring_ops", slot, URING_OPS)):
            if n:
                raw.uring_ops[op] = n
        uring = self._row("uring", slot, URING_ROW)
        raw.uring = {s.name.lower(): uring[int(s)] for s in UringSlot}
        raw.uring_tracepoints = self.uring_tracepoints
        raw.peak_tasks = self._row("tasks", slot, TASKS_ROW)[TasksSlot.PEAK]
        loss = self._row("loss", slot, LOSS_ROW)
        raw.loss = {name: loss[i] for i, name in enumerate(LOSS_SLOTS)
                    if (Loss(i) not in TRACER_LOSS or self.match)
                    and (Loss(i) not in PER_SYSCALL_LOSS or self.design == PER_SYSCALL)}
        return raw

    def _used_path(self, k) -> bytes | None:
        """A file key's path as the app used it, absolute; None when relative and unresolved."""
        path = bytes(k.path).split(b"\0", 1)[0]
        if k.tgid:
            return self.paths.file_key(k.tgid, k.dirfd, path)  # the process's view if lost
        if k.dirfd == KP_COMPOSED:
            return os.path.normpath(path)  # "/dir/" + the relative path as the app wrote it
        return path

    def _aliases(self, slots) -> dict[int, dict[bytes, bytes]]:
        """Per slot: opened paths as used -> as resolved in the kernel (KPATH), where they
        differ."""
        out: dict[int, dict[bytes, bytes]] = {}
        if not self.kernel_paths:
            return out
        for k, v in self.bpf["aliases"].items():
            if k.slot not in slots:
                continue
            used = self._used_path(k) or b""
            real = bytes(v.path).split(b"\0", 1)[0]
            if used.startswith(b"/") and real.startswith(b"/") and real != used:
                out.setdefault(k.slot, {})[used] = real
        return out

    def close(self) -> None:
        """Detach and unload. Each perf event's release waits for RCU grace periods (tens of
        ms each on a busy host, serialised by the kernel): the tracepoints' events are handed
        to a short-lived child whose exit releases them, so the recording ends at once."""
        fds = []
        if self.entries is not None:
            fds += self.entries.take_all()
        try:
            tp = getattr(self.bpf, "tracepoint_fds", {})
            fds += list(tp.values())
            tp.clear()
        except Exception:  # noqa: best effort, bcc's own cleanup below
            pass
        release_in_background(fds)
        try:
            self.bpf.cleanup()
        except Exception:  # cleanup is best effort at exit
            pass


# --- the entry side's design --------------------------------------------------------------
RAW, PER_SYSCALL = "raw", "per-syscall"
DESIGNS = (RAW, PER_SYSCALL)

# x86_64 syscalls whose sys_enter_<name> event is named for the kernel function, not the
# syscall (arch/x86/entry/syscalls/syscall_64.tbl: entry point sys_newstat for stat, ...).
# Events neither named for a syscall nor listed here stay attached for good.
_EVENT_ALIASES = {
    "x86_64": {"newstat": "stat", "newfstat": "fstat", "newlstat": "lstat",
               "newuname": "uname", "sendfile64": "sendfile", "umount": "umount2"},
}


def entry_design(asked: bool, match: bool, all_exits: bool, arch: str,
                 tells_compat: bool) -> tuple[str, str]:
    """(the design, why the raw one runs when per-syscall was asked for, else "")."""
    if not asked:
        return RAW, ""
    why = ("match mode (a container that starts later may not have seen a syscall: every "
           "event would stay attached)" if match else
           "--errnos or verify (every syscall's result, and calls seccomp refused, which "
           "reach no entry event)" if all_exits else
           "this kernel's BTF does not tell i386 programs apart (thread_info.status)"
           if arch == "x86_64" and not tells_compat else "")
    return (RAW, why) if why else (PER_SYSCALL, "")


def release_in_background(fds: list[int]) -> None:
    """Close perf event fds without waiting for the kernel's release of each: a child
    inherits them and holds them until our copies are closed (it reads its stdin to the end),
    and its exit releases them; our closes return at once. The child is reaped by a daemon
    thread (or by init, if we end first)."""
    import subprocess
    import threading

    fds = [fd for fd in fds if isinstance(fd, int) and fd >= 0]
    if not fds:
        return
    child = None
    try:
        child = subprocess.Popen(["cat"], pass_fds=fds, stdin=subprocess.PIPE,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except OSError:
        pass  # no child: our closes below release them (slowly)
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass
    if child is not None:
        child.stdin.close()  # its EOF: it exits, and the kernel releases the events there
        threading.Thread(target=child.wait, daemon=True).start()


class EntryEvents:
    """The per-syscall design's entry side: on_sys_enter attached to syscalls:sys_enter_<name>
    of every syscall the kernel traces. The syscalls with a class keep it; any other is
    detached once seen (`seen`, from the counts), the most called first, by a thread of its
    own: each detach waits for the kernel's grace periods. What a detached syscall does
    later is not counted (counts are lower bounds)."""

    def __init__(self, bpf, arch: str, keep: set[int]):
        import threading
        from bcc.libbcc import lib  # noqa: bcc is imported by now (tracer.py is its home)

        self._lib, self._lock = lib, threading.Lock()
        fn = bpf.load_func(b"on_sys_enter", bpf.TRACEPOINT)
        self.fds: dict[str, int] = {}  # event -> perf fd, while attached
        self.nr_of: dict[str, int] = {}  # event -> its syscall number, where known
        aliases = _EVENT_ALIASES.get(arch, {})
        events = _tracefs() / "events" / "syscalls"
        for d in sorted(events.iterdir()):
            if not d.name.startswith("sys_enter_"):
                continue
            name = d.name[len("sys_enter_"):]
            fd = lib.bpf_attach_tracepoint(fn.fd, b"syscalls", d.name.encode())
            if fd < 0:
                self._close_all()
                raise EnvironmentProblem(f"cannot attach to syscalls:{d.name}",
                                         hint="record without --tracer per-syscall")
            self.fds[d.name] = fd
            nr = syscalls.number_of(arch, aliases.get(name, name))
            if nr is not None and nr not in keep:
                self.nr_of[d.name] = nr
        self._pending: dict[str, int] = {}  # event -> calls seen, to detach
        self._wake = threading.Event()
        self._stop = False
        self.detached = 0
        self._thread = threading.Thread(target=self._detacher, daemon=True)
        self._thread.start()

    def seen(self, counts: list[int]) -> None:
        """Slot 0's per-syscall counts: the events of seen syscalls without a class go."""
        with self._lock:
            for event, nr in self.nr_of.items():
                if event in self.fds and nr < len(counts) and counts[nr]:
                    self._pending[event] = counts[nr]
        if self._pending:
            self._wake.set()

    def _detacher(self) -> None:
        while not self._stop:
            self._wake.wait(0.5)
            self._wake.clear()
            while not self._stop:
                with self._lock:
                    if not self._pending:
                        break
                    event = max(self._pending, key=self._pending.get)
                    del self._pending[event]
                    fd = self.fds.pop(event, None)
                if fd is not None:
                    self._lib.bpf_close_perf_event_fd(fd)
                    self.detached += 1

    def take_all(self) -> list[int]:
        """Stop detaching; the fds still attached, for the caller to release."""
        self._stop = True
        self._wake.set()
        self._thread.join(timeout=5)
        with self._lock:
            fds, self.fds = list(self.fds.values()), {}
            self._pending.clear()
        return fds

    def _close_all(self) -> None:
        for fd in self.fds.values():
            os.close(fd)
        self.fds = {}


# --- the compiled recorder, from the cache (profiler/bpfcache.py) or from clang ---------------
def cache_dir() -> Path:
    """Where compiled recorders are kept: PROFILER_BPF_CACHE, else /var/cache/profiler/bpf;
    PROFILER_BPF_CACHE=off compiles at every start."""
    return Path(os.environ.get("PROFILER_BPF_CACHE") or bpfcache.CACHE_DIR)


def recorder_key(cflags: list[str]) -> str:
    """The cache key of the recorder compiled with `cflags` on this host (bcc imported)."""
    import bcc  # noqa: the version of the bindings that compile

    return bpfcache.cache_key(bpfcache.kernel_identity(),
                              bpfcache.toolchain_identity(getattr(bcc, "__version__", "?")),
                              bpfcache.source_identity(BPF_DIR), cflags)


def recorder_source() -> str:
    """record.c with its quoted includes made absolute. bcc compiles a "virtual" main file,
    and clang looks for a quoted include in the process's working directory before the -I
    directories: a `wire.h` where `profiler record` was started (found in /tmp) replaced ours,
    and the compile failed, or could have built a recorder with another file's numbers."""
    return re.sub(r'^#include "([^"/]+)"', lambda m: f'#include "{BPF_DIR / m.group(1)}"',
                  BPF_SOURCE.read_text(), flags=re.M)


def _load_recorder(BPF, cflags: list[str], preload: tuple[tuple[str, int], ...] = ()):
    """(the loaded recorder, whether it came from the cache). A cached entry the kernel
    refuses, or any trouble with the cache, falls back to compiling (and re-storing).
    `preload`: (function, program type) of functions the caller will attach itself, loaded
    from a cache entry beside the auto-attached ones."""
    where = cache_dir()
    key = None
    if str(where) != "off":
        key = recorder_key(cflags)
        entry = bpfcache.load_entry(key, where)
        if entry is not None:
            try:
                return _cached_bpf(BPF, entry, preload), True
            except Exception:  # refused by the kernel, or bcc's bare Exception from an attach:
                pass           # compiled below (whose error, if any, is the one reported)
    bpf = BPF(text=recorder_source().encode(), cflags=cflags)
    if key is not None:
        try:
            bpfcache.store_entry(_extract(bpf), key, where)
        except bpfcache.CacheError:
            pass  # not cacheable (a construct bpfcache does not relocate): compile next time too
    return bpf, False


def _module_lib():
    """bcc's libbcc with the two table-listing calls its bindings do not declare."""
    from bcc.libbcc import lib  # noqa: bcc is imported by now

    lib.bpf_num_tables.restype = ct.c_size_t
    lib.bpf_num_tables.argtypes = [ct.c_void_p]
    lib.bpf_table_name.restype = ct.c_char_p
    lib.bpf_table_name.argtypes = [ct.c_void_p, ct.c_size_t]
    return lib


def _extract(bpf) -> bpfcache.Entry:
    """What a compiled bcc module holds, as a cache entry: its maps as the kernel made them
    (and the BTF they name), its functions' instructions with map fds turned into indexes."""
    lib, mod = _module_lib(), bpf.module
    maps, index_of_fd, btf_ids = [], {}, set()
    for i in range(lib.bpf_num_tables(mod)):
        name = lib.bpf_table_name(mod, i)
        fd = lib.bpf_table_fd(mod, name)
        if fd < 0:
            raise bpfcache.CacheError(f"table {name!r} has no map")
        info = bpfcache.map_info(fd)
        if info.btf_id:
            btf_ids.add(info.btf_id)
        maps.append(bpfcache.MapSpec(
            name.decode(), info.type, info.key_size, info.value_size, info.max_entries,
            info.map_flags, info.btf_key_type_id, info.btf_value_type_id,
            (lib.bpf_table_key_desc(mod, name) or b"").decode(),
            (lib.bpf_table_leaf_desc(mod, name) or b"").decode()))
        index_of_fd[fd] = len(maps) - 1
    if len(btf_ids) > 1:
        raise bpfcache.CacheError("maps of more than one BTF object")
    funcs = []
    for i in range(lib.bpf_num_functions(mod)):
        name = lib.bpf_function_name(mod, i)
        insns = ct.string_at(lib.bpf_function_start(mod, name), lib.bpf_function_size(mod, name))
        relocs = []
        for at, fd in bpfcache.map_refs(insns):
            if fd not in index_of_fd:
                raise bpfcache.CacheError(f"{name!r} refers to fd {fd}, not a table's")
            relocs.append((at, index_of_fd[fd]))
        funcs.append(bpfcache.FuncSpec(name.decode(), insns, relocs))
    return bpfcache.Entry(lib.bpf_module_license(mod).decode(), lib.bpf_module_kern_version(mod),
                          bpfcache.btf_of(btf_ids.pop()) if btf_ids else None, maps, funcs)


def _autoloaded(BPF, entry: bpfcache.Entry) -> list[tuple[str, int]]:
    """(function, program type) of the functions bcc attaches by their name."""
    out = []
    for f in entry.funcs:
        if f.name.startswith("tracepoint__"):
            out.append((f.name, BPF.TRACEPOINT))
        elif f.name.startswith("raw_tracepoint__"):
            out.append((f.name, BPF.RAW_TRACEPOINT))
    return out


def _load_side_by_side(objects: bpfcache.Loaded, jobs: list[tuple[str, int]]) -> dict[str, int]:
    """Load the programs on every CPU at once (the verifier's time is most of a cached start;
    bpf(2) runs without the GIL), the longest first. Name -> fd; on any refusal the loaded
    ones are closed and the first error raised."""
    from concurrent.futures import ThreadPoolExecutor

    jobs = sorted(jobs, key=lambda j: -len(objects.entry.func(j[0]).insns))
    with ThreadPoolExecutor(max_workers=min(len(jobs), os.cpu_count() or 1) or 1) as pool:
        futures = [(name, pool.submit(objects.load_prog, name, kind)) for name, kind in jobs]
    fds, error = {}, None
    for name, fut in futures:
        try:
            fds[name] = fut.result()
        except Exception as e:  # noqa: the first refusal is the one reported
            error = error or e
    if error is not None:
        for fd in fds.values():
            os.close(fd)
        raise error
    return fds


def _cached_bpf(BPF, entry: bpfcache.Entry, preload: tuple[tuple[str, int], ...] = ()):
    """A bcc.BPF over a cache entry instead of a compiled module: the maps and programs are
    the kernel's objects made by bpfcache.Loaded, and bcc's own code does the rest (tables,
    attaching, ring buffer, cleanup). The auto-attached programs and `preload` are loaded side
    by side before bcc attaches them."""
    from bcc import table as bcc_table  # noqa: bcc is imported by now

    kinds = {bcc_table.BPF_MAP_TYPE_HASH: bcc_table.HashTable,
             bcc_table.BPF_MAP_TYPE_ARRAY: bcc_table.Array,
             bcc_table.BPF_MAP_TYPE_PERCPU_ARRAY: bcc_table.PerCpuArray,
             bcc_table.BPF_MAP_TYPE_PERCPU_HASH: bcc_table.PerCpuHash,
             bcc_table.BPF_MAP_TYPE_RINGBUF: bcc_table.RingBuf}

    class CachedBPF(BPF):
        def __init__(self):  # BPF.__init__'s state, without compiling a module
            for attr in ("kprobe_fds", "uprobe_fds", "tracepoint_fds", "raw_tracepoint_fds",
                         "kfunc_entry_fds", "kfunc_exit_fds", "lsm_fds", "perf_buffers",
                         "open_perf_events", "funcs", "tables"):
                setattr(self, attr, {})
            self._ringbuf_manager, self.tracefile, self.module, self.debug = None, None, None, 0
            self.objects = bpfcache.Loaded(entry)
            atexit.register(self.cleanup)
            try:
                jobs = _autoloaded(BPF, entry) + [j for j in preload if entry.func(j[0])]
                for name, fd in _load_side_by_side(self.objects, jobs).items():
                    self.funcs[name.encode()] = BPF.Function(self, name.encode(), fd)
                self._trace_autoload()
            except BaseException:
                self.cleanup()
                raise

        def _trace_autoload(self):
            for f in entry.funcs:
                name = f.name.encode()
                if name.startswith(b"tracepoint__"):
                    tp = name[len(b"tracepoint__"):].replace(b"__", b":")
                    self.attach_tracepoint(tp=tp, fn_name=name)
                elif name.startswith(b"raw_tracepoint__"):
                    self.attach_raw_tracepoint(tp=name[len(b"raw_tracepoint__"):], fn_name=name)
                elif name.startswith((b"kprobe__", b"kretprobe__", b"kfunc__", b"kretfunc__",
                                      b"lsm__")):
                    raise bpfcache.CacheError(f"auto-attached {name!r} is not handled here")

        def load_func(self, func_name, prog_type, device=None, attach_type=-1):
            name = func_name if isinstance(func_name, bytes) else func_name.encode()
            if name not in self.funcs:
                fd = self.objects.load_prog(name.decode(), prog_type)
                self.funcs[name] = BPF.Function(self, name, fd)
            return self.funcs[name]

        def get_table(self, name, keytype=None, leaftype=None, reducer=None):
            name = name.decode() if isinstance(name, bytes) else name
            at = next((i for i, m in enumerate(entry.maps) if m.name == name), None)
            if at is None:
                raise KeyError(name)
            m, fd = entry.maps[at], self.objects.map_fds[at]
            cls = kinds.get(m.kind)
            if cls is None:
                raise KeyError(f"{name}: map type {m.kind}")
            key = keytype or (BPF._decode_table_type(json.loads(m.key_desc))
                              if m.key_desc else ct.c_int)
            leaf = leaftype or BPF._decode_table_type(json.loads(m.leaf_desc))
            if cls is bcc_table.RingBuf:
                t = cls(self, at, fd, key, leaf, name.encode())
            else:
                t = cls(self, at, fd, key, leaf)
            t.ttype, t.flags, t.max_entries = m.kind, m.flags, m.max_entries
            return t

        def close(self):
            super().close()
            self.objects.close()

    return CachedBPF()


def _saw_anything(raw: RawTrace) -> bool:
    """A slot whose container ran (an exec counts a syscall) or was attached to."""
    return bool(raw.counts or raw.compat_counts or raw.errnos or raw.execs or raw.caps)


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
    first = error_line(text, default=e.__class__.__name__)
    return EnvironmentProblem(f"failed to load the eBPF recorder: {first}",
                              hint="run `make setup`; see README, Troubleshooting")
