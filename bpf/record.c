// profiler's recorder: what the traced tasks do, aggregated in the kernel.
//
// Compiled by bcc (profiler/kernel/tracer.py is its only loader). Tracepoints and raw tracepoints, plus
// one optional kprobe (capability checks on kernels without their tracepoint): kprobes, fentry
// and BPF-LSM are absent on many hosts. No kernel struct is read through header offsets: only
// tracepoint arguments, helpers, and struct pt_regs (the syscall ABI register frame, whose
// layout is fixed by the architecture's ptrace ABI, and the kprobe's argument registers).
//
// The one exception is the in-kernel path walk (KPATH, below): it reads the fd table, fs_struct,
// dentries and mounts at offsets taken from the running kernel's BTF (profiler/kernel/btf.py), never
// from headers.
//
// Options arrive as -D defines from tracer.py:
//   CONTAINERS                 only tasks in a cgroup v2 listed in `targets` (container and attach
//                              modes); absent in exec mode (tracked map alone decides)
//   MATCH                      match mode (with CONTAINERS): every new container cgroup gets a
//                              slot of its own (see "Slots" below)
//   NSLOTS                     rows of the per-slot aggregates: MAX_SLOTS in match mode, else 1
//   HASH_SCALE                 the aggregation hash maps' sizes are multiplied by it (match
//                              mode: the containers share them)
//   ATTACH                     attach mode: tasks older than the session count at first sight
//   TASK_START_TIME_OFF        task_struct.start_time, from the running kernel's BTF (attach mode)
//   NR_EXECVE, NR_CHDIR        the execve and chdir numbers of this architecture
//   MAX_FILES, MAX_ARG_VALUES, MAX_NR, RINGBUF_PAGES
// The numbers shared with Python (and PATH_LEN, struct event) come from wire.h, generated from
// profiler/kernel/wire.py; tracer.py passes bpf/ as an include directory.
//   ARCH_X86_64 / ARCH_ARM64   how to read syscall arguments from pt_regs
//   KPATH, KP_*                relative paths and symlinks resolved in the kernel (offsets
//                              from BTF); absent: relative paths are streamed to user space
//   CAP_TRACEPOINT / CAP_KPROBE  where capability checks come from (profiler/kernel/capsource.py): the
//                              capability:cap_capable tracepoint (6.14+), or a kprobe and
//                              kretprobe on cap_capable that tracer.py attaches; neither: none
//   NOAUDIT_SITE(a)            CAP_TRACEPOINT: true for a return address inside a kernel
//                              function that only makes noaudit checks (capsource.py)
//   TASK_REAL_CRED_OFF         offset of task_struct.real_cred, from BTF (profiler/kernel/btf.py)
//   TASK_TI_STATUS_OFF         offset of task_struct.thread_info.status (x86_64, from the
//                              running kernel's BTF): tells i386 syscalls (see "compat" below)
//   PERSYSCALL                 the entry side runs on syscalls:sys_enter_<name> events
//                              (on_sys_enter, attached and detached by tracer.py: a seen syscall
//                              without a class runs no program at all) instead of the raw
//                              sys_enter tracepoint; i386 calls reach no such event: a 32-bit
//                              exec is counted as L_COMPAT_UNSEEN (docs/architecture.md)
//
// Which cgroups are targets: user space lists a container's id in `expected` before the
// container starts (its cgroup does not exist yet, and who creates it, the engine, runc or
// systemd, and where, depends on the cgroup driver), and the kernel announces every new cgroup
// (tracepoint cgroup:cgroup_mkdir): a new v2 cgroup whose path names an expected container
// (`<id>`, `docker-<id>.scope`, `libpod-<id>.scope`, or anything below one), or that a task of
// a target creates (sub-cgroups the app makes), becomes a target, mapped to its container's
// slot. Attach mode lists the running container's cgroups in `targets` directly. The hot path
// then tests the current task's own cgroup id against `targets` (one hash lookup, and only for
// a task not yet known: a known task's state is in its task storage).
//
// Who counts: a task counts once it has exec'd inside the target (the entrypoint, or a command
// started by `docker exec`), or was forked by a task that counts. The container runtime's own
// setup (runc init: mount, pivot_root, sethostname, capability checks, ...) runs before that exec
// and is therefore never recorded.
//
// Slots: every aggregate is kept per container slot (arrays: a row per slot; hash keys: a slot
// field). A task's slot is the top byte of its state (task storage, handed to a fork's child
// through `tracked` with the rest of the state), so the hot path indexes by it with no other
// lookup, whatever the number of containers. Exec mode and single-container mode use slot 0
// alone (NSLOTS 1: the maps are the size they always were). Match mode (MATCH): a new v2 cgroup
// named for a container (its own name, or its parent's: crun's `<scope>/container`) that
// `expected` does not list gets a fresh slot, claimed in `slot_claims` (user space claims its
// slots there too, for running containers, from the top down), is put in `expected` (a restart
// makes the cgroup again and finds the same slot), becomes a target at once and is announced
// once (EV_SLOT). A slot user space drops (`dropped`) stops at once: its cgroups stop being
// targets and its generation (`slot_gen`) moves on, so its tasks' states are stale: refused (one
// array load per syscall) and deleted. User space later reuses the slot (many unrelated
// containers may come and go during one recording): it zeroes the slot's rows, deletes its keys
// and releases its claim.
//
// Nothing happens before user space sets `armed` (bcc attaches the programs while it loads
// them, before user space has filled the maps): no task gets a state, no cgroup a slot.
//
// Bounded sets (syscalls, errnos, capabilities, argument values, uids) are counted in maps and
// read once at the end. Unbounded, new things (a path, an address) are also kept in maps (the
// source of truth); what user space must follow while the process is alive (relative paths,
// forks, execs, cwds) is streamed once when first seen. Every loss is counted in `loss`.

#include <uapi/linux/ptrace.h>
#include "wire.h"   // generated from profiler/kernel/wire.py: event types, classes, bits, struct event

#define CLONE_NS_MASK 0x7e020080ULL
#define PROT_EXEC_ 0x4   // include/uapi/asm-generic/mman-common.h
// Access bits that change the file system: a task that succeeded with one wrote there.
#define WRITE_BITS (A_WRITE | A_APPEND | A_TRUNCATE | A_CREATE | A_DELETE | A_RENAME | A_LINK | \
                    A_CHMOD | A_CHOWN | A_MKDIR)
#define ADDR_LEN 128   // >= sizeof(struct sockaddr_un) (110)

struct file_key {
    u32 tgid;      // 0 for absolute paths (shared by all tasks)
    s32 dirfd;     // 0 for absolute paths; AT_FDCWD or a directory fd otherwise
    u32 slot;
    char path[PATH_LEN];
};

struct file_val {
    u64 ok;        // access bits that succeeded (u64: 32-bit atomics need BPF cpu v3)
    u64 failed;    // access bits that failed
    u64 erofs;     // access bits that failed with EROFS (a read-only root file system)
    u64 writer;    // 1 << 63 | gid << 32 | uid of a non-root task whose write succeeded (the
                   // last one): who must own a tmpfs there (profiler/hardening.py); 0: none
};

struct denial_key {
    u32 nr;
    u32 err;       // errno (syscall denials) or capability (capability denials)
    u32 tgid;
    u32 arch;      // 0 native, else COMPAT_*
    u32 slot;
};

struct inflight {
    u32 nr;
    u32 bits;
    u32 two;       // a second path is in inflight2
    u32 retry;     // the path was not readable at entry (page not faulted in): read at exit
    u32 dirfd_open;  // an open with O_DIRECTORY or O_PATH: its fd may be used as a dirfd
    u32 fd_result;   // an open: a result >= 0 is an fd for the file (KPATH: its resolved path)
    u32 addr_kind;   // bind/connect whose address was not readable at entry: read at exit
    u32 how_retry;   // openat2 whose open_how was not readable at entry: read at exit
    u64 uptr;
    u64 uptr2;       // the address (addr_kind) or the open_how (how_retry)
    struct file_key key;
};

struct addr_key {
    u32 kind;      // AddrKind: ADDR_BIND or ADDR_CONNECT
    u32 len;
    u32 slot;
    u8 addr[ADDR_LEN];
};

struct arg_key {
    u32 nr;
    u16 idx;       // an argument's index, or ARG_*
    u16 slot;
    u64 val;
};

struct err_key {
    u32 nr;
    u32 err;
    u32 slot;
};

// Compat syscalls (x86_64 only): an i386 call (`int $0x80`, a 32-bit binary) or an x32 call has
// its own numbers (i386 uname is 122, setfsuid's number on x86_64). They are counted apart,
// keyed by architecture; their arguments are not read (another register convention).
// COMPAT_X86 (i386: the kernel sets TS_COMPAT in thread_info.status for the call) and
// COMPAT_X32 (the number carries __X32_SYSCALL_BIT) come from wire.h.
#define TS_COMPAT_ 0x0002             // arch/x86/include/asm/thread_info.h (since 2.6.x)
#define X32_SYSCALL_BIT_ 0x40000000   // arch/x86/include/uapi/asm/unistd.h

struct compat_key {
    u32 arch;      // COMPAT_*
    u32 nr;        // as the kernel saw it (x32: with the x32 bit, as libseccomp numbers it)
    u32 slot;
};

struct compat_err_key {
    u32 arch;
    u32 nr;
    u32 err;
    u32 slot;
};

// A task's state lives in task storage (a pointer chase, cheaper than hashing on every
// syscall). `tracked` only hands a state to a task that has not run a syscall yet (a fork's
// child, a task registered by user space); the task adopts it on first sight.
// Arrays have a row per slot (index slot * row length + item); hash keys carry the slot.
#define SLOT_OF(st) ((st) >> ST_SLOT_SHIFT)
#define SLOT_BITS(slot) ((u32)(slot) << ST_SLOT_SHIFT)
#define ST_SLOT_MASK SLOT_BITS(0xff)
#define GEN_OF(st) (((st) >> ST_GEN_SHIFT) & ST_GEN_MASK)
#define ST_ID_MASK (ST_SLOT_MASK | ((u32)ST_GEN_MASK << ST_GEN_SHIFT))   // which slot instance
BPF_TASK_STORAGE(tstate, u32);
BPF_HASH(tracked, u32, u32, 65536);
BPF_ARRAY(sysclass, u8, MAX_NR);
BPF_ARRAY(sysbits, u32, MAX_NR);
BPF_PERCPU_ARRAY(counts, u64, NSLOTS * MAX_NR);
BPF_HASH(counts_high, u64, u64, 1024 * HASH_SCALE);   // slot << 32 | nr
BPF_HASH(errnos, struct err_key, u64, 8192 * HASH_SCALE);
BPF_HASH(compat_counts, struct compat_key, u64, 2048 * HASH_SCALE);
BPF_HASH(compat_errnos, struct compat_err_key, u64, 1024 * HASH_SCALE);
BPF_ARRAY(caps_ok, u64, NSLOTS * CAP_ROW);
BPF_ARRAY(caps_denied, u64, NSLOTS * CAP_ROW);
BPF_ARRAY(caps_override, u64, NSLOTS * CAP_ROW);   // checked under credentials the kernel substituted
BPF_ARRAY(caps_probe, u64, NSLOTS * CAP_ROW);    // noaudit checks: the kernel choosing a code path
BPF_HASH(argvals, struct arg_key, u64, 16384 * HASH_SCALE);
BPF_HASH(argdistinct, u64, u64, 1024 * HASH_SCALE);   // slot << 40 | nr << 8 | idx
BPF_F_TABLE("hash", struct file_key, struct file_val, files, MAX_FILES, BPF_F_NO_PREALLOC);
// A path syscall between its enter and its exit: one record per task (two for rename/link),
// in task storage so that the hot file path does no hash insert and delete per call. A record
// is live while its nr is not 0.
BPF_TASK_STORAGE(inflight1, struct inflight);
BPF_TASK_STORAGE(inflight2, struct inflight);
BPF_HASH(addrs, struct addr_key, u64, 4096 * HASH_SCALE);
BPF_HASH(uids, u64, u8, 1024 * HASH_SCALE);   // slot << 32 | uid
BPF_HASH(gids, u64, u8, 1024 * HASH_SCALE);
BPF_ARRAY(loss, u64, NSLOTS * LOSS_ROW);   // Loss; MATCH: slot 0's row counts for the tracer
#ifdef VERIFY
BPF_HASH(denied_calls, struct denial_key, u64, 8192 * HASH_SCALE);  // refused by seccomp: never entered
BPF_HASH(denied_caps, struct denial_key, u64, 4096 * HASH_SCALE);   // refused capability, and the call failed
#endif
BPF_ARRAY(tasks, u64, NSLOTS * TASKS_ROW);   // (slot, TasksSlot)
BPF_PERCPU_ARRAY(scratch, struct inflight, 1);   // a zeroed template (never written)
// Armed: [0] is set by user space last, once every map it fills is filled (tracer.py arm()).
// bcc attaches each program as it loads it, so the programs run before user space is ready;
// until then no task gets a state and no cgroup becomes a target (or takes a slot).
BPF_ARRAY(armed, u32, 1);
#ifdef CONTAINERS
struct container_key {
    char id[CONTAINER_ID_LEN];   // the engine's container id, 64 lower-case hex digits
};
BPF_HASH(expected, struct container_key, u32, 4 * MAX_SLOTS);   // container id -> slot
BPF_HASH(targets, u64, u32, 4096);                              // cgroup v2 id -> slot
BPF_PERCPU_ARRAY(cgpath, struct event, 1);                      // a new cgroup's path, for the scan
#endif
#ifdef MATCH
BPF_ARRAY(dropped, u32, NSLOTS);              // slot -> 1: user space does not want it
BPF_HASH(slot_claims, u32, u32, NSLOTS);      // slot -> who took it (CLAIM_KERNEL, CLAIM_USER)
BPF_ARRAY(slot_hint, u32, 1);                 // where the kernel's next claim begins
// slot -> its generation. A dropped slot is reused for another container (tracer.py recycles
// it: user space zeroes its rows, purges its keys and releases its claim); a task state carries
// the generation it was given, and one of an older generation is stale: refused and deleted.
BPF_ARRAY(slot_gen, u32, NSLOTS);
#endif
#ifdef ATTACH
BPF_ARRAY(session, u64, 1);   // [0] CLOCK_MONOTONIC ns when the session began; 0: not yet
#endif
BPF_RINGBUF_OUTPUT(events, RINGBUF_PAGES);

static __always_inline void lose(u32 slot, int kind) {
    u32 k = slot * LOSS_ROW + kind;
    u64 *v = loss.lookup(&k);
    if (v)
        __sync_fetch_and_add(v, 1);
}

// The slot of the current task's cgroup when it is a target, else -1; exec mode: 0.
static __always_inline int target_slot(void) {
#ifdef CONTAINERS
    u64 cg = bpf_get_current_cgroup_id();
    u32 *s = targets.lookup(&cg);
    return s ? (int)*s : -1;
#else
    return 0;
#endif
}

static __always_inline int is_armed(void) {
    int z = 0;
    u32 *a = armed.lookup(&z);
    return a && *a;
}

// Whether a task of this state still counts for its slot (MATCH: user space may drop a slot,
// and reuse it: the state's generation must be the slot's).
static __always_inline int slot_live(u32 st) {
#ifdef MATCH
    u32 s = SLOT_OF(st);
    u32 *g = slot_gen.lookup(&s);
    return g && (*g & ST_GEN_MASK) == GEN_OF(st);
#else
    return 1;
#endif
}

// The state bits naming a slot (and, MATCH, its current generation) for a new task state.
static __always_inline u32 slot_bits(u32 slot) {
    u32 bits = SLOT_BITS(slot);
#ifdef MATCH
    u32 *g = slot_gen.lookup(&slot);
    if (g)
        bits |= (*g & ST_GEN_MASK) << ST_GEN_SHIFT;
#endif
    return bits;
}

#ifdef ATTACH
// Attach mode: a task that existed when the session began belongs to the running app and counts
// at first sight (its exec happened before we looked). A younger one counts like in a new
// container: from its exec inside the target (a `docker exec`), or from its fork by a counting
// task. Until user space has set the session's start every task counts.
static __always_inline u32 attach_first_sight(void) {
    int k = 0;
    u64 *began = session.lookup(&k);
    if (!began || !*began)
        return ST_ACTIVE;
#ifdef TASK_START_TIME_OFF
    u64 task = bpf_get_current_task(), start = 0;
    bpf_probe_read_kernel(&start, sizeof(start), (void *)(task + TASK_START_TIME_OFF));
    return start < *began ? ST_ACTIVE : 0;
#else
    return ST_ACTIVE;
#endif
}
#endif

static __always_inline void task_born(u32 slot) {
    u32 k0 = slot * TASKS_ROW + TASKS_LIVE, k1 = slot * TASKS_ROW + TASKS_PEAK;
    u64 *live = tasks.lookup(&k0);
    u64 *peak = tasks.lookup(&k1);
    if (!live || !peak)
        return;
    // The atomic's return value is not used: LLVM refuses it ("Invalid usage of the XADD
    // return value") unless it targets BPF cpu v3, which newer bcc/LLVM (forky: bcc 0.35,
    // LLVM 21) do not by default. Reading the counter after the add gives a real live count.
    __sync_fetch_and_add(live, 1);
    u64 now = *live;
    if (now > *peak)
        *peak = now;
}

// The state of the current task: its task storage, or, on first sight of a task inside the
// target, a new storage entry (with a state handed over through `tracked`, or none but the
// target's slot). Tasks outside the target get no storage. Storage is consulted before the
// cgroup: a task that has it was seen inside the target, and one helper call is saved on every
// syscall of the app. A task of a dropped slot (MATCH) has no state.
static __always_inline u32 *task_state_of(struct task_struct *t) {
    u32 *st = tstate.task_storage_get(t, 0, 0);
    if (st) {
        if (slot_live(*st))
            return st;
#ifdef MATCH
        tstate.task_storage_delete(t);   // stale: its slot was dropped (and may serve another)
#endif
        return 0;
    }
    if (!is_armed())
        return 0;   // user space is not ready (see `armed`)
    int slot = target_slot();
    if (slot < 0)
        return 0;
    u32 tid = (u32)bpf_get_current_pid_tgid();
    u32 *h = tracked.lookup(&tid);
#ifndef CONTAINERS
    // Exec mode has no cgroup to bound "seen, not counted": remembering that for every task on
    // the host would also catch the traced child in the moment between its fork and its
    // registration. Only tasks handed a state get storage.
    if (!h)
        return 0;
#endif
#ifdef MATCH
    if (h && !slot_live(*h)) {   // forked by a task of a slot dropped since
        tracked.delete(&tid);
        return 0;
    }
#endif
    u32 init = h ? *h : slot_bits(slot);   // a fork's child has its parent's slot
#ifdef ATTACH
    if (!h)
        init |= attach_first_sight();
#endif
    st = tstate.task_storage_get(t, &init, BPF_LOCAL_STORAGE_GET_F_CREATE);
    if (!st)
        return h;   // storage refused (nested context): the hash entry still answers
    // Else LLVM 19+ may return both pointers as one `h | st` (one of them is null on each path),
    // and the verifier refuses bitwise operations on pointers (cap_return on Debian 13, forky).
    asm volatile("" : "+r"(st));
    if (h)
        tracked.delete(&tid);
#ifdef ATTACH
    else if (init & ST_ACTIVE)
        task_born(slot);   // a task of the running app, counted from now
#endif
    return st;
}

static __always_inline u32 *task_state(void) {
    return task_state_of((struct task_struct *)bpf_get_current_task_btf());
}

// The architecture of the current syscall: 0 native, or COMPAT_*. On the native path this is
// one load from the task (already at hand) and two compares. The load is a direct read through
// the BTF-typed task pointer, which the verifier checks against the running kernel's BTF (the
// offset comes from the same BTF, via profiler/kernel/btf.py): no helper call.
static __always_inline u32 compat_arch(struct task_struct *t, u32 nr) {
#if defined(ARCH_X86_64) && defined(TASK_TI_STATUS_OFF)
    u32 status = *(u32 *)((u8 *)t + TASK_TI_STATUS_OFF);
    if (status & TS_COMPAT_)
        return COMPAT_X86;
#endif
#if defined(ARCH_X86_64)
    if (nr & X32_SYSCALL_BIT_)
        return COMPAT_X32;
#endif
    return 0;
}

// Add one to a counter that lookup_or_try_init returned; none (a full map) counts as a loss.
static __always_inline void bump(u32 slot, u64 *c) {
    if (c)
        __sync_fetch_and_add(c, 1);
    else
        lose(slot, L_MAP_FULL);
}

static __always_inline void count_compat(u32 slot, u32 arch, u32 nr) {
    struct compat_key k = {.arch = arch, .nr = nr, .slot = slot};
    u64 zero = 0;
    bump(slot, compat_counts.lookup_or_try_init(&k, &zero));
}

static __always_inline void count_nr(u32 slot, u32 nr) {
    if (nr < MAX_NR) {
        u32 i = slot * MAX_NR + nr;
        u64 *c = counts.lookup(&i);
        if (c)
            *c += 1;   // per-CPU slot: no atomic needed
    } else {
        u64 k = ((u64)slot << 32) | nr, zero = 0;
        bump(slot, counts_high.lookup_or_try_init(&k, &zero));
    }
}

static __always_inline void sample_ids(u32 slot) {
    u64 ug = bpf_get_current_uid_gid();
    u64 uid = ((u64)slot << 32) | (u32)ug, gid = ((u64)slot << 32) | (u32)(ug >> 32);
    u8 one = 1;
    if (uids.update(&uid, &one) < 0) lose(slot, L_MAP_FULL);
    if (gids.update(&gid, &one) < 0) lose(slot, L_MAP_FULL);
}

// ---- syscall arguments: the register frame, or (PERSYSCALL) the event's record -------------
#ifdef PERSYSCALL
// syscalls:sys_enter_<name>'s record (tracefs format): every argument widened to 8 bytes.
struct sys_enter_args {
    u64 common;
    int nr;
    int pad;
    u64 args[6];
};
#define SYSCTX struct sys_enter_args
static __always_inline u64 sysarg(SYSCTX *a, int i) {
    u64 v = 0;
    // A helper read, as from the register frame: the verifier refuses a ctx access at an
    // offset LLVM might compute from i.
    switch (i) {
    case 0: bpf_probe_read_kernel(&v, sizeof(v), &a->args[0]); break;
    case 1: bpf_probe_read_kernel(&v, sizeof(v), &a->args[1]); break;
    case 2: bpf_probe_read_kernel(&v, sizeof(v), &a->args[2]); break;
    case 3: bpf_probe_read_kernel(&v, sizeof(v), &a->args[3]); break;
    case 4: bpf_probe_read_kernel(&v, sizeof(v), &a->args[4]); break;
    }
    return v;
}
#else
#define SYSCTX struct pt_regs
static __always_inline u64 sysarg(struct pt_regs *regs, int i) {
    u64 v = 0;
#if defined(ARCH_X86_64)
    switch (i) {
    case 0: bpf_probe_read_kernel(&v, sizeof(v), &regs->di); break;
    case 1: bpf_probe_read_kernel(&v, sizeof(v), &regs->si); break;
    case 2: bpf_probe_read_kernel(&v, sizeof(v), &regs->dx); break;
    case 3: bpf_probe_read_kernel(&v, sizeof(v), &regs->r10); break;
    case 4: bpf_probe_read_kernel(&v, sizeof(v), &regs->r8); break;   // mmap's fd
    }
#elif defined(ARCH_ARM64)
    // arm64 syscall entry keeps the original x0 in orig_x0; x1..x5 in regs[1..5].
    if (i == 0)
        bpf_probe_read_kernel(&v, sizeof(v), &regs->orig_x0);
    else
        bpf_probe_read_kernel(&v, sizeof(v), &regs->regs[i]);
#endif
    return v;
}
#endif

static __always_inline u32 sysnr_from_regs(struct pt_regs *regs) {
    u64 v = 0;
#if defined(ARCH_X86_64)
    bpf_probe_read_kernel(&v, sizeof(v), &regs->orig_ax);
#elif defined(ARCH_ARM64)
    bpf_probe_read_kernel(&v, sizeof(v), &regs->syscallno);
#endif
    return (u32)v;
}

static __always_inline void record_arg(u32 slot, u32 nr, u32 idx, u64 val) {
    struct arg_key k = {.nr = nr, .idx = idx, .slot = slot, .val = val};
    u64 *c = argvals.lookup(&k);
    if (c) {
        __sync_fetch_and_add(c, 1);
        return;
    }
    u64 dk = ((u64)slot << 40) | ((u64)nr << 8) | idx;
    u64 zero = 0;
    u64 *n = argdistinct.lookup_or_try_init(&dk, &zero);
    if (!n) {
        lose(slot, L_MAP_FULL);
        return;
    }
    if (*n >= MAX_ARG_VALUES) {
        lose(slot, L_ARG_OVERFLOW);
        return;
    }
    __sync_fetch_and_add(n, 1);
    u64 one = 1;
    if (argvals.update(&k, &one) < 0)
        lose(slot, L_MAP_FULL);
}

// ---- paths resolved in the kernel (KPATH) ---------------------------------------------------
// A relative path is completed with the directory its dirfd (or the cwd) refers to *now*, read
// from the task's fd table or fs_struct: no matter how the fd was made (open, dup, fcntl,
// inherited across exec, SCM_RIGHTS, /proc/self/fd/N) or how the cwd was set (chdir, fchdir).
// The same walk names the file an open returned and the executable an exec loaded, with every
// symlink resolved: the path AppArmor mediates. Like the kernel's d_path (fs/d_path.c
// prepend_path): dentry names up to the task's root, crossing mount points through struct
// mount. Bounded: at most KP_DEPTH dentries and mount crossings; a deeper walk is a loss.
#ifdef KPATH
#define KP_HALF 512      // the walk writes leftwards from here; the relative part goes after it
#define KP_MASK 1023
#define KP_DEPTH 32

struct kpbuf {
    char b[2 * KP_HALF + 1024];   // every index is masked with KP_MASK, reads stay inside
    char out[PATH_LEN];           // a zero-padded resolved path (alias value, compared by word)
    u32 pos;                      // where the walk's path starts in b; kept here, not in a
                                  // register, so the verifier does not tell every length
                                  // apart: its states then merge at each step of the loop
};

struct alias_val {
    char path[PATH_LEN];
};

BPF_PERCPU_ARRAY(kpscratch, struct kpbuf, 1);
// Path as used (an open's key) -> the file's path with symlinks resolved, where they differ;
// filled only when a key is first seen.
BPF_F_TABLE("hash", struct file_key, struct alias_val, aliases, MAX_FILES, BPF_F_NO_PREALLOC);

static __always_inline u64 kread(u64 addr) {
    u64 v = 0;
    bpf_probe_read_kernel(&v, sizeof(v), (void *)addr);
    return v;
}

// (mnt, dentry) of a struct path at addr.
static __always_inline int kp_path_at(u64 addr, u64 *mnt, u64 *dentry) {
    *mnt = kread(addr + KP_PATH_MNT);
    *dentry = kread(addr + KP_PATH_DENTRY);
    return (*mnt && *dentry) ? 0 : -1;
}

// What fd (or the cwd, for AT_FDCWD) of the current task refers to.
static __always_inline int kp_dir(s32 fd, u64 *mnt, u64 *dentry) {
    u64 task = bpf_get_current_task();
    if (fd == AT_FDCWD_)
        return kp_path_at(kread(task + KP_TASK_FS) + KP_FS_PWD, mnt, dentry);
    if (fd < 0)
        return -1;
    u64 fdt = kread(kread(task + KP_TASK_FILES) + KP_FILES_FDT);
    u32 max = 0;
    bpf_probe_read_kernel(&max, sizeof(max), (void *)(fdt + KP_FDT_MAX));
    if ((u32)fd >= max)
        return -1;
    u64 file = kread(kread(fdt + KP_FDT_FD) + (u64)fd * 8);
    if (!file)
        return -1;
    return kp_path_at(file + KP_FILE_PATH, mnt, dentry);
}

// dst (PATH_LEN bytes) = the path of (mnt, dentry) as the task sees it, then "/" rel when rel
// is not empty. rel may be dst itself (it is copied first). 0, or -1 when the walk did not
// reach a root within KP_DEPTH steps (a loss of the task's slot).
static __always_inline int kp_compose(u32 slot, char *dst, const char *rel, u64 mnt, u64 dentry) {
    int z = 0;
    struct kpbuf *pb = kpscratch.lookup(&z);
    if (!pb)
        return -1;
    u64 fs = kread(bpf_get_current_task() + KP_TASK_FS);
    u64 rootm = kread(fs + KP_FS_ROOT + KP_PATH_MNT);
    u64 rootd = kread(fs + KP_FS_ROOT + KP_PATH_DENTRY);
    pb->pos = KP_HALF;
    int done = 0;
    for (int i = 0; i < KP_DEPTH; i++) {
        if (dentry == rootd && mnt == rootm) {
            done = 1;
            break;
        }
        u64 parent = kread(dentry + KP_D_PARENT);
        if (dentry == kread(mnt + KP_VFSMNT_ROOT) || dentry == parent) {
            u64 m = mnt - KP_MOUNT_MNT;   // container_of(mnt, struct mount, mnt)
            u64 up = kread(m + KP_MOUNT_PARENT);
            if (!up || up == m) {         // the namespace's root mount (outside a chroot)
                done = 1;
                break;
            }
            dentry = kread(m + KP_MOUNT_MOUNTPOINT);
            mnt = up + KP_MOUNT_MNT;
            continue;
        }
        u32 len = 0, pos = pb->pos;
        bpf_probe_read_kernel(&len, sizeof(len), (void *)(dentry + KP_D_NAME_LEN));
        if (len == 0 || len > 255 || len >= pos)
            break;
        pos -= len;
        asm volatile("" : "+r"(len));   // keep the mask below: the verifier needs it, clang not
        bpf_probe_read_kernel(&pb->b[pos & KP_MASK], len & 255, (void *)kread(dentry + KP_D_NAME_NAME));
        pos -= 1;
        pb->b[pos & KP_MASK] = '/';
        pb->pos = pos;
        dentry = parent;
    }
    u32 pos = pb->pos;
    if (!done) {
        lose(slot, L_PATH_TRUNCATED);
        return -1;
    }
    if (rel && rel[0]) {
        pb->b[KP_HALF] = '/';
        bpf_probe_read_kernel_str(&pb->b[KP_HALF + 1], PATH_LEN, rel);
    } else if (pos == KP_HALF) {
        pb->b[KP_HALF] = '/';   // the root itself
        pb->b[KP_HALF + 1] = 0;
    } else {
        pb->b[KP_HALF] = 0;
    }
    if (bpf_probe_read_kernel_str(dst, PATH_LEN, &pb->b[pos & KP_MASK]) >= PATH_LEN)
        lose(slot, L_PATH_TRUNCATED);
    return 0;
}

// A relative key completed with its directory: (0, KP_COMPOSED, "/dir/rel"). -1 when the
// dirfd names nothing (the key is left for user space to resolve).
static __always_inline int kp_relative(struct file_key *key) {
    u64 mnt = 0, dentry = 0;
    if (kp_dir(key->dirfd, &mnt, &dentry) < 0 ||
        kp_compose(key->slot, key->path, key->path, mnt, dentry) < 0)
        return -1;
    key->tgid = 0;
    key->dirfd = KP_COMPOSED;
    return 0;
}

// The file an open returned, symlinks resolved, kept in `aliases` when it is not the key's.
static __always_inline void kp_alias(struct file_key *key, s32 fd) {
    int z = 0;
    struct kpbuf *pb = kpscratch.lookup(&z);
    struct inflight *zero = scratch.lookup(&z);
    u64 mnt = 0, dentry = 0;
    if (!pb || !zero || kp_dir(fd, &mnt, &dentry) < 0)
        return;
    bpf_probe_read_kernel(pb->out, PATH_LEN, zero->key.path);   // zero-padded, comparable
    if (kp_compose(key->slot, pb->out, 0, mnt, dentry) < 0)
        return;
    u64 *a = (u64 *)pb->out, *b = (u64 *)key->path;
    int same = 1;
    for (int i = 0; i < PATH_LEN / 8; i++) {
        if (a[i] != b[i]) {
            same = 0;
            break;
        }
    }
    if (!same && aliases.update(key, (struct alias_val *)pb->out) < 0)
        lose(key->slot, L_MAP_FULL);
}

// The executable the current task runs now (mm->exe_file), symlinks resolved.
static __always_inline int kp_exe(u32 slot, char *dst) {
    u64 mm = kread(bpf_get_current_task() + KP_TASK_MM);
    u64 file = mm ? kread(mm + KP_MM_EXE) : 0;
    u64 mnt = 0, dentry = 0;
    if (!file || kp_path_at(file + KP_FILE_PATH, &mnt, &dentry) < 0)
        return -1;
    return kp_compose(slot, dst, 0, mnt, dentry);
}
#endif

// Read a user path into an in-flight record. Relative paths keep (tgid, dirfd) for user space.
// A string in a page that is not faulted in yet cannot be read here (BPF cannot fault); the
// syscall itself faults it in, so such a read is retried at exit (finish_path).
static __always_inline int read_path(struct inflight *f, u64 uptr, s32 dirfd, u32 tgid) {
    struct file_key *key = &f->key;
    f->uptr = uptr;
    key->tgid = tgid;      // provisional: cleared for absolute paths in finish_path
    key->dirfd = dirfd;
    int n = bpf_probe_read_user_str(key->path, PATH_LEN, (void *)uptr);
    if (n < 0) {
        f->retry = 1;
        return 0;
    }
    if (n >= PATH_LEN)
        lose(key->slot, L_PATH_TRUNCATED);
    return 0;
}

static __always_inline int finish_path(struct inflight *f, long ret) {
    if (f->retry) {
        int n = bpf_probe_read_user_str(f->key.path, PATH_LEN, (void *)f->uptr);
        if (n < 0) {
            if (ret != -14)   // EFAULT: a bad pointer, no path was used (nothing lost)
                lose(f->key.slot, L_USER_READ_FAILED);
            return -1;
        }
        if (n >= PATH_LEN)
            lose(f->key.slot, L_PATH_TRUNCATED);
    }
    if (f->key.path[0] == '/') {
        f->key.tgid = 0;
        f->key.dirfd = 0;
    }
#ifdef KPATH
    // At exit: the path is readable (see retry), and no path syscall but chdir (not traced
    // under KPATH) moves the cwd or closes the dirfd it names.
    else if (kp_relative(&f->key) < 0 && ret < 0)
        return -1;   // a failed call on a dirfd that names nothing touched no file
#endif
    return 0;
}

static __always_inline struct inflight *begin(u32 slot, int second) {
    int z = 0;
    struct inflight *tmpl = scratch.lookup(&z);
    if (!tmpl)
        return 0;
    struct task_struct *t = (struct task_struct *)bpf_get_current_task_btf();
    struct inflight *f = second
        ? inflight2.task_storage_get(t, tmpl, BPF_LOCAL_STORAGE_GET_F_CREATE)
        : inflight1.task_storage_get(t, tmpl, BPF_LOCAL_STORAGE_GET_F_CREATE);
    if (!f) {
        lose(slot, L_MAP_FULL);
        return 0;
    }
    // Start from the zeroed template: the key's unused bytes must be zero (it is a hash key).
    bpf_probe_read_kernel(f, sizeof(*f), tmpl);
    f->key.slot = slot;
    return f;
}

static __always_inline struct inflight *current_inflight(int second) {
    struct task_struct *t = (struct task_struct *)bpf_get_current_task_btf();
    struct inflight *f = second ? inflight2.task_storage_get(t, 0, 0)
                                : inflight1.task_storage_get(t, 0, 0);
    return (f && f->nr) ? f : 0;
}

static __always_inline u32 open_bits(u64 flags) {
    u32 b = 0;
    u32 acc = flags & 3;
    if (acc == 0) b |= A_READ;
    if (acc == 1) b |= A_WRITE;
    if (acc == 2) b |= A_READ | A_WRITE;
    if (flags & 0x400) b |= A_APPEND;     // O_APPEND
    if (flags & 0x200) b |= A_TRUNCATE;      // O_TRUNC
    if (flags & 0x40) b |= A_CREATE;      // O_CREAT
    if ((flags & 0x410000) == 0x410000) b |= A_CREATE | A_WRITE;  // O_TMPFILE
    return b;
}

static __always_inline void enter_file(SYSCTX *regs, u32 nr, u8 cls, u32 tid, u32 tgid,
                                       u32 *st) {
    u32 slot = SLOT_OF(*st);
    struct inflight *f = begin(slot, 0);
    if (!f)
        return;
    f->nr = nr;
    u32 *sb = sysbits.lookup(&nr);
    u32 bits = sb ? *sb : 0;
    u64 p0 = sysarg(regs, 0), p1 = sysarg(regs, 1);
    int rc = 0;
    switch (cls) {
    case C_OPEN:
        f->fd_result = 1;
        bits = open_bits(p1);
        f->dirfd_open = (p1 & 0x210000) != 0;
        rc = read_path(f, p0, AT_FDCWD_, tgid);
        break;
    case C_OPENAT: {
        f->fd_result = 1;
        u64 fl = sysarg(regs, 2);
        bits = open_bits(fl);
        f->dirfd_open = (fl & 0x210000) != 0;   // O_DIRECTORY | O_PATH
        rc = read_path(f, p1, (s32)p0, tgid);
        break;
    }
    case C_OPENAT2: {
        f->fd_result = 1;
        u64 how_flags = 0;
        if (bpf_probe_read_user(&how_flags, sizeof(how_flags), (void *)sysarg(regs, 2)) < 0) {
            f->how_retry = 1;   // not faulted in yet: the syscall copies it in, read at exit
            f->uptr2 = sysarg(regs, 2);
        }
        bits = open_bits(how_flags);
        rc = read_path(f, p1, (s32)p0, tgid);
        break;
    }
    case C_CREAT:
        f->fd_result = 1;
        bits = A_WRITE | A_CREATE | A_TRUNCATE;
        rc = read_path(f, p0, AT_FDCWD_, tgid);
        break;
    case C_EXECVE:
        bits = A_EXECUTE;
        rc = read_path(f, p0, AT_FDCWD_, tgid);
        break;
    case C_EXECVEAT:
        bits = A_EXECUTE;
        rc = read_path(f, p1, (s32)p0, tgid);
        break;
    case C_PATH0:
    case C_CHDIR:
        rc = read_path(f, p0, AT_FDCWD_, tgid);
        break;
    case C_AT1:
        rc = read_path(f, p1, (s32)p0, tgid);
        break;
    case C_UNLINKAT:
        bits = A_DELETE;
        rc = read_path(f, p1, (s32)p0, tgid);
        break;
    case C_TWO0:
    case C_TWOAT:
    case C_SYMLINK:
    case C_SYMLINKAT: {
        u64 oldp = p0, newp = p1;
        s32 olddir = AT_FDCWD_, newdir = AT_FDCWD_;
        if (cls == C_TWOAT) {
            oldp = p1; olddir = (s32)p0; newp = sysarg(regs, 3); newdir = (s32)sysarg(regs, 2);
        } else if (cls == C_SYMLINKAT) {
            newp = sysarg(regs, 2); newdir = (s32)p1;
        }
        if (cls == C_TWO0 || cls == C_TWOAT) {
            rc = read_path(f, oldp, olddir, tgid);
            struct inflight *g = begin(slot, 1);
            if (g) {
                g->nr = nr;
                g->bits = bits;
                if (read_path(g, newp, newdir, tgid) == 0)
                    f->two = 1;
            }
        } else {
            // symlink: the target is an arbitrary string, only the link path is accessed.
            rc = read_path(f, newp, newdir, tgid);
        }
        break;
    }
    }
    if (rc < 0) {
        f->nr = 0;
        return;
    }
    f->bits = bits;
    *st |= ST_INFLIGHT;
}

// Count the address of a bind/connect in `addrs`; -1 when it could not be read (BPF cannot
// fault a page in: an address in a page not touched yet is read again at the syscall's exit,
// after the kernel's own copy faulted it in).
static __always_inline int count_addr(u32 slot, u32 kind, void *uaddr) {
    struct addr_key k = {.slot = slot, .kind = kind};
    // Fixed-size reads by family: no garbage past the address, so equal addresses share a key.
    u16 fam = 0;
    if (bpf_probe_read_user(&fam, sizeof(fam), uaddr) < 0)
        return -1;
    int rc = 0;
    if (fam == 2) {            // AF_INET: family, port, address
        rc = bpf_probe_read_user(k.addr, 8, uaddr);
        k.len = 8;
    } else if (fam == 10) {    // AF_INET6: family, port, flowinfo, address
        rc = bpf_probe_read_user(k.addr, 24, uaddr);
        k.len = 24;
    } else if (fam == 1) {     // AF_UNIX: a path, or "\0name" for an abstract socket
        __builtin_memcpy(k.addr, &fam, 2);
        u8 first = 0;
        bpf_probe_read_user(&first, 1, uaddr + 2);
        if (first == 0) {
            k.addr[2] = '@';
            rc = bpf_probe_read_user_str(&k.addr[3], ADDR_LEN - 3, uaddr + 3);
        } else {
            rc = bpf_probe_read_user_str(&k.addr[2], ADDR_LEN - 2, uaddr + 2);
        }
        k.len = ADDR_LEN;
    } else {
        __builtin_memcpy(k.addr, &fam, 2);
        k.len = 2;
    }
    if (rc < 0)
        return -1;
    // The map is the truth and user space reads it at the end: addresses are not streamed (a
    // full ring buffer would count them as lost when nothing was).
    u64 *seen = addrs.lookup(&k);
    if (seen) {
        __sync_fetch_and_add(seen, 1);
        return 0;
    }
    u64 one = 1;
    if (addrs.update(&k, &one) < 0)
        lose(slot, L_MAP_FULL);
    return 0;
}

static __always_inline void enter_addr(SYSCTX *regs, u32 nr, u32 *st) {
    u32 slot = SLOT_OF(*st);
    u32 *sb = sysbits.lookup(&nr);
    u32 kind = sb ? *sb : 0;
    void *uaddr = (void *)sysarg(regs, 1);
    if (count_addr(slot, kind, uaddr) == 0)
        return;
    struct inflight *f = begin(slot, 0);   // read it again at the exit
    if (!f) {
        lose(slot, L_USER_READ_FAILED);
        return;
    }
    f->nr = nr;
    f->addr_kind = kind + 1;   // AddrKind may be 0
    f->uptr2 = (u64)uaddr;
    *st |= ST_INFLIGHT;
}

// At exit: an address not readable at entry. The kernel copied it in (faulting its page in)
// unless the pointer was bad: then the call failed with EFAULT and no address was used.
static __always_inline void exit_addr(struct inflight *f, long ret) {
    if (count_addr(f->key.slot, f->addr_kind - 1, (void *)f->uptr2) < 0 && ret != -14)
        lose(f->key.slot, L_USER_READ_FAILED);
}

// ---- privilege-changing execs: set-uid, set-gid, file capabilities -------------------------
// The credentials at an execve's entry are kept in task storage; at sched_process_exec the
// task's new credentials and its executable's mode are compared with them, and an exec that
// changed them, or ran a set-id file, is streamed (struct privexec_event). Every struct member
// offset is the running kernel's, from BTF (profiler/kernel/btf.py CRED_MEMBERS): without them this
// section is not compiled and the recording says privilege changes were not seen.
#ifdef TASK_CRED_OFF
struct cred_stash {
    struct creds c;
    u64 valid;     // set at execve entry, cleared by the exec that consumes it
};
BPF_TASK_STORAGE(execcreds, struct cred_stash);

static __always_inline void read_creds(struct creds *c) {
    u64 task = bpf_get_current_task(), cred = 0;
    bpf_probe_read_kernel(&cred, sizeof(cred), (void *)(task + TASK_CRED_OFF));
    if (!cred)
        return;
    bpf_probe_read_kernel(&c->uid, 4, (void *)(cred + CRED_UID_OFF));
    bpf_probe_read_kernel(&c->euid, 4, (void *)(cred + CRED_EUID_OFF));
    bpf_probe_read_kernel(&c->gid, 4, (void *)(cred + CRED_GID_OFF));
    bpf_probe_read_kernel(&c->egid, 4, (void *)(cred + CRED_EGID_OFF));
    bpf_probe_read_kernel(&c->cap_effective, 8, (void *)(cred + CRED_CAP_EFF_OFF));
    bpf_probe_read_kernel(&c->cap_permitted, 8, (void *)(cred + CRED_CAP_PRM_OFF));
}

static __always_inline void stash_creds(void) {
    struct task_struct *t = (struct task_struct *)bpf_get_current_task_btf();
    struct cred_stash *s = execcreds.task_storage_get(t, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
    if (!s)
        return;
    read_creds(&s->c);
    s->valid = 1;
}

static __always_inline void note_exec_creds(u32 slot, u32 tid, void *filename) {
    struct creds before = {}, after = {};
    u32 flags = 0;
    struct task_struct *t = (struct task_struct *)bpf_get_current_task_btf();
    struct cred_stash *s = execcreds.task_storage_get(t, 0, 0);
    if (s && s->valid) {
        before = s->c;
        s->valid = 0;
        flags |= PX_BEFORE_KNOWN;
    }
    read_creds(&after);
    // The executable: current->mm->exe_file->f_inode (set by the exec before this tracepoint).
    u64 task = bpf_get_current_task(), mm = 0, file = 0, inode = 0;
    u16 mode = 0;
    u32 fuid = 0, fgid = 0;
    bpf_probe_read_kernel(&mm, sizeof(mm), (void *)(task + TASK_MM_OFF));
    if (mm)
        bpf_probe_read_kernel(&file, sizeof(file), (void *)(mm + MM_EXE_FILE_OFF));
    if (file)
        bpf_probe_read_kernel(&inode, sizeof(inode), (void *)(file + FILE_INODE_OFF));
    if (inode) {
        bpf_probe_read_kernel(&mode, sizeof(mode), (void *)(inode + INODE_MODE_OFF));
        bpf_probe_read_kernel(&fuid, sizeof(fuid), (void *)(inode + INODE_UID_OFF));
        bpf_probe_read_kernel(&fgid, sizeof(fgid), (void *)(inode + INODE_GID_OFF));
    }
    int suid = mode & 04000, sgid = (mode & 02010) == 02010;   // S_ISGID without g+x: locking
    if (suid || sgid)
        flags |= PX_SETID_FILE;
    if ((suid && after.euid != fuid) || (sgid && after.egid != fgid))
        flags |= PX_NOT_HONOURED;
    int changed = (flags & PX_BEFORE_KNOWN) &&
        (before.euid != after.euid || before.egid != after.egid ||
         (after.cap_effective & ~before.cap_effective) ||
         (after.cap_permitted & ~before.cap_permitted));
    if (!changed && !(flags & PX_SETID_FILE))
        return;   // the common exec: nothing gained, no set-id file
    struct privexec_event *e = events.ringbuf_reserve(sizeof(struct privexec_event));
    if (!e) {
        lose(slot, L_RINGBUF_FULL);
        return;
    }
    e->type = EV_PRIVEXEC;
    e->tgid = bpf_get_current_pid_tgid() >> 32;
    e->tid = tid;
    e->flags = flags;
    e->file_mode = mode;
    e->file_uid = fuid;
    e->file_gid = fgid;
    e->slot = slot;
    e->before = before;
    e->after = after;
    bpf_probe_read_kernel_str(e->data, PATH_LEN, filename);
    events.ringbuf_submit(e, 0);
}
#endif

#ifdef KPATH
// mmap(PROT_EXEC) of a file: the file (symlinks resolved, what AppArmor's `m` names) gets
// A_MAP_EXEC. Native libraries unpacked into /tmp and mapped (snappy-java, a JVM's JNI) need
// an exec tmpfs there. The fd's path is walked once per distinct file and task storage's
// second in-flight record (free outside a rename/link) holds the key.
static __always_inline void map_exec(u32 slot, s32 fd) {
    struct task_struct *t = (struct task_struct *)bpf_get_current_task_btf();
    int z = 0;
    struct inflight *tmpl = scratch.lookup(&z);
    if (!tmpl)
        return;
    struct inflight *f = inflight2.task_storage_get(t, tmpl, BPF_LOCAL_STORAGE_GET_F_CREATE);
    if (!f || f->nr)
        return;
    u64 mnt = 0, dentry = 0;
    if (kp_dir(fd, &mnt, &dentry) < 0)
        return;
    f->key.tgid = 0;
    f->key.dirfd = 0;
    f->key.slot = slot;
    if (kp_compose(slot, f->key.path, 0, mnt, dentry) < 0)
        return;
    struct file_val zero = {};
    struct file_val *v = files.lookup(&f->key);
    if (!v) {
        if (files.update(&f->key, &zero) < 0) {
            lose(slot, L_MAP_FULL);
            return;
        }
        v = files.lookup(&f->key);
        if (!v)
            return;
    }
    if (!(v->ok & A_MAP_EXEC))
        __sync_fetch_and_or(&v->ok, A_MAP_EXEC);
}
#endif

// A native syscall's entry in a task that counts: the count, then what its class keeps.
static __always_inline void enter_native(u32 *st, u32 nr, SYSCTX *regs) {
    u32 slot = SLOT_OF(*st);
    count_nr(slot, nr);
    if (nr >= MAX_NR)
        return;
    u8 *cls = sysclass.lookup(&nr);
    if (!cls || !*cls)
        return;   // most syscalls end here: counted, nothing else to keep
    u64 pt = bpf_get_current_pid_tgid();
    u32 tid = (u32)pt;
    u32 tgid = pt >> 32;
    u8 c = *cls;
#ifdef TASK_CRED_OFF
    if (c == C_EXECVE || c == C_EXECVEAT)
        stash_creds();   // the credentials before the exec (see "privilege-changing execs")
#endif
    if (c <= C_CHDIR) {
        enter_file(regs, nr, c, tid, tgid, st);
    } else if (c == C_SOCKET) {
        record_arg(slot, nr, 0, sysarg(regs, 0));
        record_arg(slot, nr, 1, sysarg(regs, 1));
        record_arg(slot, nr, 2, sysarg(regs, 2));
        // The (domain, type, protocol) triple, packed, so families and types stay paired.
        record_arg(slot, nr, ARG_SOCKET_TRIPLE, (sysarg(regs, 0) << 48) |
                   ((sysarg(regs, 1) & 0xffffffff) << 16) | (sysarg(regs, 2) & 0xffff));
    } else if (c == C_ADDR) {
        enter_addr(regs, nr, st);
    } else if (c == C_ARG0) {
        record_arg(slot, nr, 0, sysarg(regs, 0));
    } else if (c == C_ARG1) {
        record_arg(slot, nr, 1, sysarg(regs, 1));
    } else if (c == C_ARG2) {
        u64 prot = sysarg(regs, 2);
        record_arg(slot, nr, 2, prot);
#ifdef KPATH
        if (nr == NR_MMAP && (prot & PROT_EXEC_) && (s32)sysarg(regs, 4) >= 0)
            map_exec(slot, (s32)sysarg(regs, 4));
#endif
    } else if (c == C_CLONE) {
        record_arg(slot, nr, 0, sysarg(regs, 0) & CLONE_NS_MASK);
    } else if (c == C_CLONE3) {
        u64 fl = 0;
        if (bpf_probe_read_user(&fl, sizeof(fl), (void *)sysarg(regs, 0)) < 0)
            lose(slot, L_USER_READ_FAILED);
        record_arg(slot, nr, ARG_VIA_POINTER, fl & CLONE_NS_MASK);
    } else if (c == C_SETID) {
        *st |= ST_INFLIGHT;
    }
}

#ifdef PERSYSCALL
// Attached by tracer.py to syscalls:sys_enter_<name> of every syscall: while a syscall without
// a class is unseen (its first call is counted here, before user space can know of it), and
// for good for the syscalls whose arguments or result matter. Never fires for i386 calls
// (x86's ARCH_TRACE_IGNORE_COMPAT_SYSCALLS): see sched_process_exec.
int on_sys_enter(struct sys_enter_args *args) {
    u32 *st = task_state();
    if (!st || !(*st & ST_ACTIVE))
        return 0;
    enter_native(st, (u32)args->nr, args);
    return 0;
}
#else
RAW_TRACEPOINT_PROBE(sys_enter) {
    struct task_struct *t = (struct task_struct *)bpf_get_current_task_btf();
    u32 *st = task_state_of(t);
    if (!st || !(*st & ST_ACTIVE))
        return 0;
#ifdef VERIFY
    *st |= ST_ENTERED;
#endif
    u32 nr = (u32)ctx->args[1];
    u32 arch = compat_arch(t, nr);
    if (arch) {
        count_compat(SLOT_OF(*st), arch, nr);   // counted only: arguments and paths are not read
        return 0;
    }
    enter_native(st, nr, (struct pt_regs *)ctx->args[0]);
    return 0;
}
#endif

// Stream a path event: EV_FILE a new relative file key, EV_CHDIR the task's new cwd, EV_DIRFD a
// directory fd opened (aux = the new fd). dirfd says what a relative path is relative to.
static __always_inline void stream_path(u32 type, struct inflight *f, u32 tid, s32 aux) {
    struct event *e = events.ringbuf_reserve(sizeof(struct event));
    if (!e) {
        lose(f->key.slot, L_RINGBUF_FULL);
        return;
    }
    e->type = type;
    e->tgid = f->key.tgid ? f->key.tgid : (u32)(bpf_get_current_pid_tgid() >> 32);
    e->dirfd = f->key.tgid ? f->key.dirfd : 0;
    e->tid = tid;
    e->aux = aux;
    e->slot = f->key.slot;
    __builtin_memcpy(e->data, f->key.path, PATH_LEN);
    events.ringbuf_submit(e, 0);
}

static __always_inline void finish_file(struct inflight *f, long ret, u32 tgid, u32 tid) {
    if (f->addr_kind) {
        exit_addr(f, ret);
        return;
    }
    if (f->how_retry) {   // openat2's flags, now that the kernel copied open_how in
        u64 how_flags = 0;
        if (bpf_probe_read_user(&how_flags, sizeof(how_flags), (void *)f->uptr2) == 0)
            f->bits = open_bits(how_flags);
        else if (ret != -14)
            lose(f->key.slot, L_USER_READ_FAILED);
    }
    if (f->retry && ret == 0 && (f->bits & A_EXECUTE))
        return;   // a successful exec replaced the memory; the exec event carries the path
    if (finish_path(f, ret) < 0)
        return;
    if (f->nr == NR_CHDIR) {
        if (ret == 0)
            stream_path(EV_CHDIR, f, tid, 0);
        return;
    }
#ifndef KPATH
    if (f->dirfd_open && ret >= 0)
        stream_path(EV_DIRFD, f, tid, (s32)ret);
#endif
    struct file_val zero = {};
    struct file_val *v = files.lookup(&f->key);
    int is_new = 0;
    if (!v) {
        if (files.update(&f->key, &zero) < 0) {
            lose(f->key.slot, L_MAP_FULL);
            return;
        }
        v = files.lookup(&f->key);
        if (!v)
            return;
        is_new = 1;
        u32 k2 = f->key.slot * TASKS_ROW + TASKS_FILE_KEYS;
        u64 *nfiles = tasks.lookup(&k2);
        if (nfiles)
            __sync_fetch_and_add(nfiles, 1);
    }
    if (ret >= 0) {
        __sync_fetch_and_or(&v->ok, f->bits);
        if (f->bits & WRITE_BITS) {
            u64 ug = bpf_get_current_uid_gid();
            if ((u32)ug)   // a plain store: any one non-root writer will do
                v->writer = (1ULL << 63) | ug;
        }
    } else
        __sync_fetch_and_or(&v->failed, f->bits);
    if (ret == -30)   // EROFS
        __sync_fetch_and_or(&v->erofs, f->bits);
    if (is_new && f->key.tgid)   // relative: user space resolves it from its cwd/dirfd view
        stream_path(EV_FILE, f, tid, 0);
#ifdef KPATH
    if (is_new && f->fd_result && ret >= 0)
        kp_alias(&f->key, (s32)ret);
#endif
}

static __always_inline int handle_exit(u32 nr, long ret, u32 arch) {
    if ((s32)nr < 0)
        return 0;   // orig_ax = -1: a signal cancelled the syscall's restart; no syscall here
    u32 *st = task_state();
    if (!st || !(*st & ST_ACTIVE))
        return 0;
    u64 pt = bpf_get_current_pid_tgid();
    u32 tid = (u32)pt;
    u32 slot = SLOT_OF(*st);
#ifdef VERIFY
    u32 entered = *st & ST_ENTERED;
    u32 capp1 = (*st >> ST_CAP_SHIFT) & 0xff;
    *st &= ~(ST_ENTERED | (0xffu << ST_CAP_SHIFT));
    if (ret < 0 && ret >= -4095) {
        struct denial_key dk = {.nr = nr, .tgid = pt >> 32, .arch = arch, .slot = slot};
        u64 zero = 0, *c = 0;
        if (!entered) {           // seccomp answered for the syscall: it never ran
            dk.err = -ret;
            c = denied_calls.lookup_or_try_init(&dk, &zero);
        } else if (capp1 && (ret == -1 || ret == -13)) {   // EPERM, EACCES after a refused cap
            dk.err = capp1 - 1;
            c = denied_caps.lookup_or_try_init(&dk, &zero);
        }
        if (c)
            __sync_fetch_and_add(c, 1);
        if (!entered)
            return 0;
    }
#endif
    if (arch) {   // a compat call: its errno apart, and nothing was in flight (not decoded)
        if (ret < 0 && ret >= -4095) {
            struct compat_err_key ck = {.arch = arch, .nr = nr, .err = -ret, .slot = slot};
            u64 zero = 0;
            bump(slot, compat_errnos.lookup_or_try_init(&ck, &zero));
        }
        return 0;
    }
    if (ret < 0 && ret >= -4095) {
        struct err_key k = {.nr = nr, .err = -ret, .slot = slot};
        u64 zero = 0;
        bump(slot, errnos.lookup_or_try_init(&k, &zero));
    }
    if (!(*st & ST_INFLIGHT))
        return 0;
    *st &= ~ST_INFLIGHT;
    u32 tgid = pt >> 32;
    struct inflight *f = current_inflight(0);
    if (f) {
        finish_file(f, ret, tgid, tid);
        if (f->two) {
            struct inflight *g = current_inflight(1);
            if (g) {
                finish_file(g, ret, tgid, tid);
                g->nr = 0;
            }
        }
        f->nr = 0;
    } else if (ret == 0) {
        sample_ids(slot);   // a set*id call succeeded
    }
    return 0;
}

#ifdef EXIT_ALL
// Every syscall's result (errnos of all failed calls; verify's view of seccomp denials, which
// never reach sys_enter). Costs a second BPF dispatch per syscall.
RAW_TRACEPOINT_PROBE(sys_exit) {
    u32 nr = sysnr_from_regs((struct pt_regs *)ctx->args[0]);
    // TS_COMPAT is still set here: the kernel clears it on the way back to user mode.
    u32 arch = compat_arch((struct task_struct *)bpf_get_current_task_btf(), nr);
    return handle_exit(nr, ctx->args[1], arch);
}
#else
// Attached by tracer.py to syscalls:sys_exit_<name> for the syscalls whose result matters
// (paths, chdir, set*id, sockets): for every other syscall the kernel only tests a bitmap.
struct sys_exit_args {
    u64 common;
    int nr;
    int pad;
    long ret;
};

// Per-syscall events never fire for compat calls (x86 defines ARCH_TRACE_IGNORE_COMPAT_SYSCALLS,
// kernel/trace/trace_syscalls.c): these are native calls.
int on_sys_exit(struct sys_exit_args *args) {
    return handle_exit(args->nr, args->ret, 0);
}
#endif

#ifdef CONTAINERS
// `path + off`, the offset masked behind a compiler barrier so that the verifier sees it bounded:
// LLVM 19 (Debian 13's bcc) compares a zero-extended copy of an offset and adds the unchecked
// original, which the verifier refuses ("value 4294934461 makes ctx pointer be out of bounds").
// A data_loc string is shorter than 64 KiB, so the mask changes no offset.
static __always_inline const char *path_at(const char *path, int off) {
    asm volatile("" : "+r"(off));
    return path + (off & 0xFFFF);
}

// The offset of the container id named by the path component that ends at `end` (exclusive), or
// -1; as profiler/kernel/cgroups.py's `container_id_in_name` (its unit tests are this function's
// specification): the whole component (`/docker/<id>`: cgroupfs driver), or the 64 characters
// between a `-` and a `.scope` suffix (`docker-<id>.scope`, `libpod-<id>.scope`: systemd
// driver), except podman's monitor `libpod-conmon-<id>.scope`. Every read is a helper's, at an
// offset path_at bounds for the verifier; mkdir is rare.
static __always_inline int component_id(const char *path, int end) {
    if (end < CONTAINER_ID_LEN + 1)
        return -1;
    char sep = 0;
    bpf_probe_read_kernel(&sep, 1, path_at(path, end - CONTAINER_ID_LEN - 1));
    if (sep == '/')
        return end - CONTAINER_ID_LEN;
    if (end < CONTAINER_ID_LEN + 8)   // "/x-" + id + ".scope"
        return -1;
    u64 tail = 0, before = 0;
    bpf_probe_read_kernel(&tail, 6, path_at(path, end - 6));
    if (tail != 0x65706f63732eULL)   // ".scope", little-endian
        return -1;
    int id = end - 6 - CONTAINER_ID_LEN;
    bpf_probe_read_kernel(&before, 1, path_at(path, id - 1));
    if (before != '-')
        return -1;
    bpf_probe_read_kernel(&before, 8, path_at(path, id - 8));
    if (before == 0x2d6e6f6d6e6f632dULL)   // "-conmon-"
        return -1;
    return id;
}

// The container id that the path component ending at `end` names, into `key`: 1, or 0 when
// the component names none.
static __always_inline int id_at(struct container_key *key, const char *path, int end) {
    int at = component_id(path, end);
    if (at < 0)
        return 0;
    bpf_probe_read_kernel(key->id, CONTAINER_ID_LEN, path_at(path, at));
    return 1;
}

// Where the parent's name ends in the cgroup path of length len (copied into `cgpath` for the
// scan), or 0. The child's name is at most CONTAINER_ID_LEN bytes (crun's `container`).
static __always_inline int parent_end(const char *path, int len) {
    int z = 0;
    struct event *buf = cgpath.lookup(&z);
    if (!buf || bpf_probe_read_kernel_str(buf->data, PATH_LEN, path) != len + 1)
        return 0;
    for (int k = 1; k <= CONTAINER_ID_LEN; k++) {
        int j = len - 1 - k;
        if (j <= 0)
            break;
        if (buf->data[j & (PATH_LEN - 1)] == '/')
            return j;
    }
    return 0;
}

static __always_inline void add_target(u64 id, u32 slot, const char *path, int level) {
    if (targets.update(&id, &slot) < 0) {
        lose(slot, L_MAP_FULL);
        return;
    }
    struct event *e = events.ringbuf_reserve(sizeof(struct event));
    if (!e) {
        lose(slot, L_RINGBUF_FULL);
        return;
    }
    e->type = EV_CGROUP;
    e->tgid = 0;
    e->dirfd = slot;
    e->tid = 0;
    e->aux = level;
    e->slot = slot;
    bpf_probe_read_kernel_str(e->data, PATH_LEN, path);
    events.ringbuf_submit(e, 0);
}

#ifdef MATCH
// Lower-case hex digits only: a container id as cgroups.container_id_in_name accepts it (in
// match mode a name's shape alone would take any 64-character cgroup name for a container).
// Eight bytes at a time, without a branch per character (a per-character loop is more paths
// than the verifier will walk): for a byte b < 0x80, b + 0x50 has its top bit set iff b >= '0',
// b + 0x46 iff b > '9', b + 0x1f iff b >= 'a', b + 0x19 iff b > 'f'; no sum carries into the
// next byte.
#define BYTES8(b) (0x0101010101010101ULL * (b))
static __always_inline int is_hex_id(const struct container_key *key) {
    const u64 top = BYTES8(0x80);
    #pragma unroll
    for (int i = 0; i < CONTAINER_ID_LEN / 8; i++) {
        u64 w = 0;
        __builtin_memcpy(&w, &key->id[i * 8], 8);
        u64 digit = (w + BYTES8(0x50)) & ~(w + BYTES8(0x46));
        u64 af = (w + BYTES8(0x1f)) & ~(w + BYTES8(0x19));
        if ((w & top) || ((digit | af) & top) != top)
            return 0;
    }
    return 1;
}

// A container nobody named: the first free slot from the hint up, claimed in `slot_claims`
// (an insert that fails when the slot is taken: the kernel and user space never share one),
// put in `expected` (its restarts find it) and announced (EV_SLOT; the record is reserved
// first, so that a slot user space never hears of is never handed out). SLOT_NONE when there
// is no slot left: the container is announced as EV_NOSLOT instead (once: `expected` then
// remembers it as SLOT_NONE), and user space judges whose it is. A burst of a busy host's
// unrelated containers can take every slot before user space has dropped them; only one of
// the recorded application is a loss (L_SLOTS_EXHAUSTED, counted by user space), and an
// unrelated one's SLOT_NONE entry is deleted again (`expected` stays bounded).
static __always_inline u32 claim_slot(struct container_key *key, const char *path) {
    struct event *e = events.ringbuf_reserve(sizeof(struct event));
    if (!e) {
        lose(0, L_RINGBUF_FULL);
        return SLOT_NONE;
    }
    int z = 0;
    u32 *hint = slot_hint.lookup(&z);
    // Never slot 0 (the tracer's own row): user space claims it too, but only once the programs
    // are attached, and a container may start in between (on a busy engine it did). From the
    // hint up, then around: slots user space recycled are below it.
    u32 from = hint && *hint ? *hint : 1, slot = SLOT_NONE, who = CLAIM_KERNEL;
    for (u32 i = 0; i < NSLOTS; i++) {
        u32 s = from + i;
        if (s >= NSLOTS)
            s -= NSLOTS;
        if (s == 0)
            continue;
        if (slot_claims.insert(&s, &who) == 0) {
            slot = s;
            break;
        }
    }
    if (slot != SLOT_NONE && hint)
        *hint = slot + 1 < NSLOTS ? slot + 1 : 1;
    // SLOT_NONE too: `expected` remembers the container either way (announced once).
    if (expected.insert(key, &slot) < 0) {   // named meanwhile (a slot stays unused), or full
        events.ringbuf_discard(e, 0);
        u32 *known = expected.lookup(key);
        if (!known)
            lose(0, L_MAP_FULL);
        return known ? *known : SLOT_NONE;
    }
    u32 shown = slot == SLOT_NONE ? 0 : slot;
    e->type = slot == SLOT_NONE ? EV_NOSLOT : EV_SLOT;
    e->tgid = 0;
    e->dirfd = shown;
    e->tid = 0;
    e->aux = 0;
    e->slot = shown;
    bpf_probe_read_kernel_str(e->data, PATH_LEN, path);
    events.ringbuf_submit(e, 0);
    return slot;
}
#endif

// Every new cgroup, on every hierarchy (the v1 ones too on hybrid hosts: `root` says which). A
// container's own cgroup appears here before any of its tasks runs, whoever creates it.
TRACEPOINT_PROBE(cgroup, cgroup_mkdir) {
    if (args->root != 0 || !is_armed())   // hierarchy id 0 is the v2 (default) hierarchy
        return 0;
    const char *path = (const char *)args + (args->data_loc_path & 0xFFFF);
    int len = (args->data_loc_path >> 16) - 1;   // the recorded string's size, NUL included
    // A cgroup made by a task of a target (the app's own sub-cgroups) is that container's.
    u64 creator = bpf_get_current_cgroup_id();
    u32 *known = targets.lookup(&creator);
    u32 slot = known ? *known : SLOT_NONE;
    if (!known) {
        // One named for an expected container, or the child of one (crun's `<scope>/container`).
        struct container_key own = {}, parent = {};
        int named = id_at(&own, path, len);
        if (named)
            known = expected.lookup(&own);
        if (!known) {
            int end = parent_end(path, len);
            if (end && id_at(&parent, path, end)) {
                known = expected.lookup(&parent);
                if (!named) {
                    own = parent;
                    named = 1;
                }
            }
        }
        if (known)
            slot = *known;
#ifdef MATCH
        else if (named && is_hex_id(&own))
            slot = claim_slot(&own, path);   // a container nobody named: a slot of its own
#endif
    }
    if (slot >= NSLOTS)
        return 0;   // not a container's, or SLOT_NONE
#ifdef MATCH
    u32 *off = dropped.lookup(&slot);
    if (off && *off)
        return 0;   // user space does not want this container (a restart of a dropped one)
#endif
    add_target(args->id, slot, path, args->level);
    return 0;
}
#endif

TRACEPOINT_PROBE(sched, sched_process_fork) {
    u32 parent = args->parent_pid;
    u32 *st = task_state();   // runs in the parent
    if (!st || !(*st & ST_ACTIVE))
        return 0;
    u32 child = args->child_pid;
    u32 slot = SLOT_OF(*st);
    u32 v = ST_ACTIVE | (*st & ST_ID_MASK);   // the parent's slot (and its generation)
    if (tracked.update(&child, &v) < 0) {
        lose(slot, L_MAP_FULL);
        return 0;
    }
    task_born(slot);
    // Streamed so that user space can hand the parent's cwd to the child.
    struct event *e = events.ringbuf_reserve(sizeof(struct event));
    if (!e) {
        lose(slot, L_RINGBUF_FULL);
        return 0;
    }
    e->type = EV_FORK;
    e->tgid = bpf_get_current_pid_tgid() >> 32;
    e->dirfd = child;
    e->tid = parent;
    e->aux = 0;
    e->slot = slot;
    events.ringbuf_submit(e, 0);
    return 0;
}

TRACEPOINT_PROBE(sched, sched_process_exec) {
    u32 tid = (u32)bpf_get_current_pid_tgid();
    u32 *st = task_state();
    if (!st)
        return 0;
    u32 slot = SLOT_OF(*st);
    if (!(*st & ST_ACTIVE)) {
#ifndef CONTAINERS
        // Exec mode: only the registered (pending) child starts counting at its exec.
        if (!(*st & ST_PENDING))
            return 0;
#endif
        // Container mode: the first exec inside the target is where the app (or a command
        // run by `docker exec`) starts; what the runtime did before it is not the app's.
#ifdef HOST_PIDNS_INO
        // runc init re-executes itself from a memfd copy (/dev/fd/N) at its very start, and
        // runc may already have moved it into the cgroup: an exec still in the host's PID
        // namespace is the runtime's, never the container's.
        struct bpf_pidns_info ns = {};
        if (bpf_get_ns_current_pid_tgid(HOST_PIDNS_DEV, HOST_PIDNS_INO, &ns, sizeof(ns)) == 0)
            return 0;
#endif
        *st = ST_ACTIVE | (*st & ST_ID_MASK);
        task_born(slot);
        count_nr(slot, NR_EXECVE);
    }
    sample_ids(slot);
#ifdef PERSYSCALL
    // A 32-bit program: the kernel set TS_COMPAT for its first return to user space. Its
    // syscalls reach no per-syscall event; counted as lost, never silently missing.
    if (compat_arch((struct task_struct *)bpf_get_current_task_btf(), 0))
        lose(slot, L_COMPAT_UNSEEN);
#endif
#ifdef TASK_CRED_OFF
    note_exec_creds(slot, tid, (void *)args + (args->data_loc_filename & 0xFFFF));
#endif
    struct event *e = events.ringbuf_reserve(sizeof(struct event));
    if (!e) {
        lose(slot, L_RINGBUF_FULL);
        return 0;
    }
    u32 e_tgid = bpf_get_current_pid_tgid() >> 32;
    e->type = EV_EXEC;
    e->tgid = e_tgid;
    e->dirfd = 0;
    e->tid = tid;
    e->aux = 0;
    e->slot = slot;
    unsigned short off = args->data_loc_filename & 0xFFFF;
    bpf_probe_read_kernel_str(e->data, PATH_LEN, (void *)args + off);
#ifdef KPATH
    u64 mnt = 0, dentry = 0;
    if (e->data[0] != '/' && kp_dir(AT_FDCWD_, &mnt, &dentry) == 0)
        kp_compose(slot, (char *)e->data, (char *)e->data, mnt, dentry);   // the cwd is the caller's
#endif
    events.ringbuf_submit(e, 0);
#ifdef KPATH
    // What was executed, symlinks resolved: the path AppArmor's exec rule must name.
    struct event *x = events.ringbuf_reserve(sizeof(struct event));
    if (!x) {
        lose(slot, L_RINGBUF_FULL);
        return 0;
    }
    x->type = EV_EXE_RESOLVED;
    x->tgid = e_tgid;
    x->dirfd = 0;
    x->tid = tid;
    x->aux = 0;
    x->slot = slot;
    if (kp_exe(slot, (char *)x->data) < 0)
        x->data[0] = 0;
    events.ringbuf_submit(x, 0);
#endif
    return 0;
}

TRACEPOINT_PROBE(sched, sched_process_exit) {
    u32 tid = (u32)bpf_get_current_pid_tgid();
    struct task_struct *t = (struct task_struct *)bpf_get_current_task_btf();
    u32 *st = tstate.task_storage_get(t, 0, 0);   // no create: exiting tasks need no state
    if (!st)
        st = tracked.lookup(&tid);
    if (!st)
        return 0;
    if ((*st & ST_ACTIVE) && slot_live(*st)) {   // a stale task's slot may count another's
        u32 k0 = SLOT_OF(*st) * TASKS_ROW + TASKS_LIVE;
        u64 *live = tasks.lookup(&k0);
        if (live)
            __sync_fetch_and_add(live, -1);
    }
    tracked.delete(&tid);   // task storage (state, in-flight records) goes with the task
    return 0;
}

// ---- capability checks --------------------------------------------------------------------
// Each check of an active task is counted once: under credentials the kernel substituted (not
// the app's), as a noaudit probe (the kernel choosing a code path: never a need), or as granted
// or refused.
static __always_inline void count_cap(u32 *st, int cap, u64 cred, long ret, int probe) {
    if (cap < 0 || cap >= CAP_ROW)
        return;
    u32 i = SLOT_OF(*st) * CAP_ROW + cap;   // the capability in its slot's row
#ifdef TASK_REAL_CRED_OFF
    // A check made with credentials other than the task's own (overlayfs acting with its
    // mounter's credentials, access(2) with the real uid's) is not the app exercising its
    // capabilities. The offset comes from the running kernel's BTF (profiler/kernel/btf.py).
    u64 task = bpf_get_current_task();
    u64 real = 0;
    bpf_probe_read_kernel(&real, sizeof(real), (void *)(task + TASK_REAL_CRED_OFF));
    if (real && real != cred) {
        u64 *o = caps_override.lookup(&i);
        if (o)
            __sync_fetch_and_add(o, 1);
        return;
    }
#endif
    if (probe) {
        u64 *p = caps_probe.lookup(&i);
        if (p)
            __sync_fetch_and_add(p, 1);
        return;
    }
    u64 *c = ret == 0 ? caps_ok.lookup(&i) : caps_denied.lookup(&i);
    if (c)
        __sync_fetch_and_add(c, 1);
#ifdef VERIFY
    if (ret != 0)
        *st = (*st & ~(0xffu << ST_CAP_SHIFT)) | ((u32)(cap + 1) << ST_CAP_SHIFT);
#endif
}

#ifdef CAP_TRACEPOINT
TRACEPOINT_PROBE(capability, cap_capable) {
    u32 *st = task_state();
    if (!st || !(*st & ST_ACTIVE))
        return 0;
    int probe = 0;
#ifdef NOAUDIT_SITE
    // The tracepoint has no audit option: a check made from a function that only asks with
    // CAP_OPT_NOAUDIT (its address range is NOAUDIT_SITE) is a probe. Four frames suffice:
    // cap_capable, security_capable, the wrapper (seen on 6.18: cap_capable, then
    // security_vm_enough_memory_mm). None of those functions makes another, audited check.
    u64 frames[4] = {};
    int n = bpf_get_stack(args, frames, sizeof(frames), 0);
    #pragma unroll
    for (int i = 0; i < 4; i++) {
        if (i * 8 < n && NOAUDIT_SITE(frames[i]))
            probe = 1;
    }
#endif
    count_cap(st, args->cap, (u64)args->cred, args->ret, probe);
    return 0;
}
#endif

#ifdef CAP_KPROBE
// cap_capable(const struct cred *cred, struct user_namespace *targ_ns, int cap,
//             unsigned int opts) (5.1+; capsource.py checks the names in BTF). The entry keeps
// the arguments, the return counts the check with its result.
#define CAP_OPT_NOAUDIT 2   // BIT(1), include/linux/security.h
struct cap_call {
    u64 cred;
    s32 cap;
    u32 opts;
};
BPF_HASH(cap_calls, u32, struct cap_call, 4096);

int cap_enter(struct pt_regs *ctx) {
    u32 *st = task_state();
    if (!st || !(*st & ST_ACTIVE))
        return 0;
    u32 tid = (u32)bpf_get_current_pid_tgid();
    struct cap_call c = {.cred = PT_REGS_PARM1(ctx), .cap = (s32)PT_REGS_PARM3(ctx),
                         .opts = (u32)PT_REGS_PARM4(ctx)};
    if (cap_calls.update(&tid, &c) < 0)
        lose(SLOT_OF(*st), L_MAP_FULL);
    return 0;
}

int cap_return(struct pt_regs *ctx) {
    u32 tid = (u32)bpf_get_current_pid_tgid();
    struct cap_call *c = cap_calls.lookup(&tid);
    if (!c)
        return 0;
    struct cap_call call = *c;
    cap_calls.delete(&tid);
    u32 *st = task_state();
    if (!st)
        return 0;
    count_cap(st, call.cap, call.cred, (long)(int)PT_REGS_RC(ctx),
              (call.opts & CAP_OPT_NOAUDIT) != 0);
    return 0;
}
#endif

// ---- io_uring --------------------------------------------------------------------------------
// Requests submitted through a ring make no open/read/connect syscall of their own: only the
// io_uring tracepoints see them. Which of them exist differs by kernel (io_uring_submit_sqe
// became io_uring_submit_req in 6.2); tracer.py detects them in tracefs and defines
// URING_SUBMIT_REQ / URING_SUBMIT_SQE (with URING_SQ_THREAD_FIELD when the event has
// sq_thread), URING_CREATE and URING_FILE_GET for those present. Only opcodes, ring set-up
// flags and counts are visible there: not the paths or addresses the requests carry.
BPF_ARRAY(uring_ops, u64, NSLOTS * URING_OPS);   // (slot, opcode) -> requests submitted
BPF_ARRAY(uring, u64, NSLOTS * URING_ROW);       // (slot, UringSlot)

// The slot whose counts an io_uring event adds to, or -1 when it is not a counting task's.
static __always_inline int uring_counts(int sq_thread) {
    u32 *st = task_state();
    if (st && (*st & ST_ACTIVE))
        return SLOT_OF(*st);
#ifdef TARGET_CGID
    // An SQPOLL kernel thread is the app's (its cgroup) but is not made by a traced fork.
    if (sq_thread)
        return target_slot();
#endif
    return -1;
}

static __always_inline void uring_add(int slot, int which, u64 n) {
    u32 k = slot * URING_ROW + which;
    u64 *v = uring.lookup(&k);
    if (v)
        __sync_fetch_and_add(v, n);
}

static __always_inline void uring_submitted(u32 opcode, int sq_thread) {
    int slot = uring_counts(sq_thread);
    if (slot < 0)
        return;
    u32 k = slot * URING_OPS + (opcode & (URING_OPS - 1));
    u64 *c = uring_ops.lookup(&k);
    if (c)
        __sync_fetch_and_add(c, 1);
    if (sq_thread)
        uring_add(slot, URING_SQ_THREAD, 1);
}

#ifdef URING_SQ_THREAD_FIELD
#define URING_SQ(a) ((a)->sq_thread)
#else
#define URING_SQ(a) 0
#endif

#if defined(URING_SUBMIT_REQ)
TRACEPOINT_PROBE(io_uring, io_uring_submit_req) {
    uring_submitted(args->opcode, URING_SQ(args));
    return 0;
}
#elif defined(URING_SUBMIT_SQE)
TRACEPOINT_PROBE(io_uring, io_uring_submit_sqe) {
    uring_submitted(args->opcode, URING_SQ(args));
    return 0;
}
#endif

#ifdef URING_CREATE
TRACEPOINT_PROBE(io_uring, io_uring_create) {
    int slot = uring_counts(0);
    if (slot < 0)
        return 0;
    uring_add(slot, URING_RINGS, 1);
    u32 k = slot * URING_ROW + URING_SETUP_FLAGS;
    u64 *v = uring.lookup(&k);
    if (v)
        __sync_fetch_and_or(v, (u64)args->flags);
    return 0;
}
#endif

#ifdef URING_FILE_GET
TRACEPOINT_PROBE(io_uring, io_uring_file_get) {
    int slot = uring_counts(0);
    if (slot >= 0)
        uring_add(slot, URING_FILES, 1);
    return 0;
}
#endif
