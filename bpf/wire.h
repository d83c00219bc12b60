// Generated from profiler/kernel/wire.py (`python -m profiler.kernel.wire > bpf/wire.h`): do not edit.
// The numbers and layouts bpf/record.c shares with profiler's Python; their meaning is
// documented there. tests/kernel/test_wire.py fails when this file and wire.py disagree.
#ifndef PROFILER_WIRE_H
#define PROFILER_WIRE_H

#define PATH_LEN 256            // bytes of a path kept in the kernel, NUL included
#define AT_FDCWD_ (-100)        // a path relative to the task's cwd
#define ST_CAP_SHIFT 16         // VERIFY: state bits 16-23 hold 1 + the capability refused in this call
#define KP_COMPOSED 1           // KPATH: file_key.dirfd (tgid 0) of a relative path completed in the kernel
#define URING_OPS 256           // slots of `uring_ops` (io_uring opcodes)
#define CONTAINER_ID_LEN 64     // hex digits of a container id, as cgroup names carry it
#define MAX_SLOTS 64            // containers one tracer tells apart (MATCH)
#define SLOT_NONE 0xffffffff    // in `expected`: a container that found no slot (MATCH)
#define ST_SLOT_SHIFT 24        // state bits 24-31 hold the task's slot
#define ST_GEN_SHIFT 4          // MATCH: state bits 4-15 hold the slot's generation
#define ST_GEN_MASK 0xfff       // generations wrap at 4096
#define LOSS_ROW 8              // entries of `loss` per slot
#define CAP_ROW 64              // entries of each caps_* array per slot
#define URING_ROW 4             // entries of `uring` per slot (UringSlot)
#define TASKS_ROW 3             // entries of `tasks` per slot (TasksSlot)

// What a ring-buffer record announces (`Event.type`).
#define EV_FILE 1               // a new relative file key: user space resolves it while the process lives
#define EV_EXEC 2               // an exec (path: the executable as passed to exec)
#define EV_FORK 4               // a fork (tid: the parent's tid, dirfd: the child's tid)
#define EV_CHDIR 5              // a chdir that succeeded (path: the task's new cwd)
#define EV_DIRFD 6              // a directory fd opened (O_DIRECTORY or O_PATH; aux: the new fd)
#define EV_EXE_RESOLVED 7       // KPATH: the file the EXEC just streamed (same tgid) runs, symlinks resolved
#define EV_PRIVEXEC 8           // an exec that changed credentials or met a set-id file (a PrivExecEvent)
#define EV_CGROUP 9             // a cgroup became a target (dirfd: its slot, aux: its level, path: its v2 path)
#define EV_SLOT 10              // MATCH: a new container got a slot (dirfd: the slot, path: its cgroup v2 path)
#define EV_NOSLOT 11            // MATCH: a new container found every slot taken and is not traced (path: its cgroup v2 path); user space judges whose it is

// What an address was used for (kept in `sysbits` for bind/connect, and in addr_key.kind).
#define ADDR_BIND 1             // bind: the app listens there
#define ADDR_CONNECT 2          // connect: the app talks to it

// Argument indexes with a special meaning in recorded argument values (arg_key.idx).
#define ARG_SOCKET_TRIPLE 0xfe  // socket's (domain, type, protocol), packed domain<<48|type<<16|proto
#define ARG_VIA_POINTER 0xff    // a field read through a pointer (clone3's clone_args.flags)

// Syscall classes: what record.c keeps of a syscall (filled into `sysclass`).
#define C_OPEN 1                // open(path, flags)
#define C_OPENAT 2              // openat(dirfd, path, flags)
#define C_OPENAT2 3             // openat2(dirfd, path, how*)
#define C_CREAT 4               // creat(path)
#define C_EXECVE 5              // execve(path)
#define C_EXECVEAT 6            // execveat(dirfd, path)
#define C_PATH0 7               // f(path, ...): access kind from `sysbits`
#define C_AT1 8                 // f(dirfd, path, ...): access kind from `sysbits`
#define C_UNLINKAT 9            // unlinkat(dirfd, path, flags)
#define C_TWO0 10               // f(old, new): rename, link
#define C_TWOAT 11              // f(olddirfd, old, newdirfd, new): renameat(2), linkat
#define C_SYMLINK 12            // symlink(target, linkpath)
#define C_SYMLINKAT 13          // symlinkat(target, newdirfd, linkpath)
#define C_CHDIR 14              // chdir(path): streamed so user space can follow each task's cwd
#define C_SOCKET 20             // socket(domain, type, protocol)
#define C_ADDR 21               // bind/connect(fd, sockaddr*, len): AddrKind from `sysbits`
#define C_ARG0 22               // record argument 0 (personality, prctl, unshare)
#define C_ARG1 23               // record argument 1 (ioctl request)
#define C_ARG2 24               // record argument 2 (mmap/mprotect prot)
#define C_CLONE 25              // record CLONE_NEW* bits of argument 0
#define C_CLONE3 26             // record CLONE_NEW* bits of clone_args.flags
#define C_SETID 27              // set*uid/set*gid: sample uid/gid on success

// Access bits of a file key; their names, lower-cased, are model.ACCESS_KINDS in order.
#define A_READ (1 << 0)
#define A_WRITE (1 << 1)
#define A_APPEND (1 << 2)
#define A_TRUNCATE (1 << 3)
#define A_CREATE (1 << 4)
#define A_EXECUTE (1 << 5)
#define A_DELETE (1 << 6)
#define A_RENAME (1 << 7)
#define A_LINK (1 << 8)
#define A_CHMOD (1 << 9)
#define A_CHOWN (1 << 10)
#define A_MKDIR (1 << 11)
#define A_MAP_EXEC (1 << 12)    // mapped executable: mmap(PROT_EXEC) of the file's fd (KPATH only)

// Slots of record.c's `loss` array; their names, lower-cased, are model.LOSS_KINDS.
#define L_RINGBUF_FULL 0        // a streamed event could not be queued
#define L_MAP_FULL 1            // an in-kernel map had no room for a new key
#define L_PATH_TRUNCATED 2      // a path longer than PATH_LEN
#define L_USER_READ_FAILED 3    // reading a path or struct from user memory failed
#define L_ARG_OVERFLOW 4        // a syscall argument had more distinct values than MAX_ARG_VALUES
#define L_SLOTS_EXHAUSTED 5     // MATCH: a container of the recorded application found every slot taken (it was not traced; counted by user space from EV_NOSLOT)
#define L_COMPAT_UNSEEN 6       // PERSYSCALL: a 32-bit program ran; its i386 syscalls were not seen

// Bits of a task's state (task storage `tstate`, and `tracked` for a task not seen yet).
#define ST_PENDING 1            // exec mode: registered, waiting for its first exec
#define ST_ACTIVE 2             // counts
#define ST_INFLIGHT 4           // flag: a file/address syscall is between enter and exit
#define ST_ENTERED 8            // VERIFY: the current syscall passed sys_enter (seccomp let it run)

// Bits of `PrivExecEvent.flags`.
#define PX_BEFORE_KNOWN 1       // `before` holds the credentials at the execve's entry
#define PX_SETID_FILE 2         // the executable file has S_ISUID or S_ISGID (file_mode, file_uid, file_gid)
#define PX_NOT_HONOURED 4       // a set-id bit whose owner the new credentials did not take (NNP, nosuid)

// Slots of record.c's `uring` array (io_uring use; the opcodes are counted in `uring_ops`).
#define URING_RINGS 0           // rings created (io_uring:io_uring_create)
#define URING_SETUP_FLAGS 1     // the IORING_SETUP_* flags of every ring, OR-ed
#define URING_SQ_THREAD 2       // requests submitted by a kernel SQPOLL thread, not by an io_uring_enter
#define URING_FILES 3           // files looked up for requests (io_uring:io_uring_file_get)

// Slots of record.c's `tasks` array, per container slot.
#define TASKS_LIVE 0            // tracked tasks alive now
#define TASKS_PEAK 1            // the most tracked tasks alive at once
#define TASKS_FILE_KEYS 2       // distinct file keys inserted into `files`

// Who took a slot in record.c's `slot_claims` (MATCH): claims are atomic inserts.
#define CLAIM_KERNEL 1          // the kernel, for a new container's cgroup nobody named
#define CLAIM_USER 2            // user space, for a container it expects (expect_container)

// Compat architectures of x86_64 syscalls (compat_key.arch, denial_key.arch; 0 native).
#define COMPAT_X86 1            // i386 (int $0x80, 32-bit code): the kernel sets TS_COMPAT in thread_info.status
#define COMPAT_X32 2            // x32: the syscall number carries __X32_SYSCALL_BIT

// One ring-buffer record (record.c's `struct event`, generated from this).
struct event {
    u32 type;           // EventType
    u32 tgid;
    s32 dirfd;          // the path's dirfd (0 for an absolute path); FORK: the child's tid; CGROUP: the slot
    u32 tid;            // the task; FORK: the parent's tid
    s32 aux;            // DIRFD: the new fd; CGROUP: the level
    u32 slot;           // the slot (container) of the task, or of the cgroup
    u8 data[PATH_LEN];  // a path (FILE, EXEC, CHDIR, DIRFD, EXE_RESOLVED, CGROUP, SLOT)
};

// A task's credentials as record.c reads them from struct cred.
struct creds {
    u32 uid;
    u32 euid;
    u32 gid;
    u32 egid;
    u64 cap_effective;
    u64 cap_permitted;
};

// An exec that changed credentials or ran a set-id file: a ring-buffer record of its own.
struct privexec_event {
    u32 type;           // EventType.PRIVEXEC
    u32 tgid;
    u32 tid;
    u32 flags;          // PrivExecFlag
    u32 file_mode;      // the executable's i_mode (SETID_FILE)
    u32 file_uid;
    u32 file_gid;
    u32 slot;           // the slot (container) of the task
    struct creds before; // at the execve's entry (BEFORE_KNOWN)
    struct creds after; // after the exec (the task's new cred)
    u8 data[PATH_LEN];  // the executable as passed to exec
};

#endif  // PROFILER_WIRE_H
