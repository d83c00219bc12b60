"""io_uring: what a recording can and cannot see of it, and what a policy does about it.

Requests submitted through an io_uring make no syscall of their own: an IORING_OP_OPENAT opens
a file without openat(2), an IORING_OP_CONNECT connects without connect(2). seccomp never sees
them (it filters syscalls, and only io_uring_setup/io_uring_enter/io_uring_register are
syscalls), and the recorder sees them only through the kernel's io_uring tracepoints, which
show each request's opcode but not the path or address it carries (bpf/record.c, "io_uring").

So a policy that allows io_uring allows every operation through it, whatever the profile says.
Docker's default seccomp profile (moby profiles/seccomp/default.json) no longer allows the
three io_uring syscalls. emit therefore denies them by default, with ENOSYS:
the answer of a kernel built without io_uring (CONFIG_IO_URING=n), which every user of
io_uring must handle and does by falling back to plain syscalls (liburing's
io_uring_queue_init returns -ENOSYS and its callers fall back; libuv 1.45+ uses io_uring only
when io_uring_setup succeeds; Rust's tokio/io-uring and QEMU treat ENOSYS as "not
available"). EPERM, Docker's default answer, is also what `kernel.io_uring_disabled` gives and
most callers treat it alike, but ENOSYS is the one that means "absent". `emit --allow-io-uring`
allows them instead, and says what the profile then does not cover.
"""

from __future__ import annotations

# The syscalls of io_uring (the only parts of it seccomp can filter).
SYSCALLS = ("io_uring_enter", "io_uring_register", "io_uring_setup")

# enum io_uring_op, include/uapi/linux/io_uring.h: 0-48 as in Debian bookworm's
# linux-libc-dev (6.1); 49-62 from the kernel's later headers (6.4: READ_MULTISHOT; 6.7:
# WAITID, FUTEX_*; 6.8: FIXED_FD_INSTALL; 6.9: FTRUNCATE; 6.11: BIND, LISTEN; 6.15: RECV_ZC,
# EPOLL_WAIT; 6.16: READV_FIXED, WRITEV_FIXED, PIPE). A number not here is shown as OP_<n>.
OPCODES = (
    "NOP", "READV", "WRITEV", "FSYNC", "READ_FIXED", "WRITE_FIXED", "POLL_ADD", "POLL_REMOVE",
    "SYNC_FILE_RANGE", "SENDMSG", "RECVMSG", "TIMEOUT", "TIMEOUT_REMOVE", "ACCEPT",
    "ASYNC_CANCEL", "LINK_TIMEOUT", "CONNECT", "FALLOCATE", "OPENAT", "CLOSE", "FILES_UPDATE",
    "STATX", "READ", "WRITE", "FADVISE", "MADVISE", "SEND", "RECV", "OPENAT2", "EPOLL_CTL",
    "SPLICE", "PROVIDE_BUFFERS", "REMOVE_BUFFERS", "TEE", "SHUTDOWN", "RENAMEAT", "UNLINKAT",
    "MKDIRAT", "SYMLINKAT", "LINKAT", "MSG_RING", "FSETXATTR", "SETXATTR", "FGETXATTR",
    "GETXATTR", "SOCKET", "URING_CMD", "SEND_ZC", "SENDMSG_ZC", "READ_MULTISHOT", "WAITID",
    "FUTEX_WAIT", "FUTEX_WAKE", "FUTEX_WAITV", "FIXED_FD_INSTALL", "FTRUNCATE", "BIND", "LISTEN",
    "RECV_ZC", "EPOLL_WAIT", "READV_FIXED", "WRITEV_FIXED", "PIPE",
)

# IORING_SETUP_* bits (same header).
SETUP_FLAGS = (
    "IOPOLL", "SQPOLL", "SQ_AFF", "CQSIZE", "CLAMP", "ATTACH_WQ", "R_DISABLED", "SUBMIT_ALL",
    "COOP_TASKRUN", "TASKRUN_FLAG", "SQE128", "CQE32", "SINGLE_ISSUER", "DEFER_TASKRUN",
    "NO_MMAP", "REGISTERED_FD_ONLY", "NO_SQARRAY", "HYBRID_IOPOLL",
)

# Operations whose object the recording misses: a path (not in `files`, so not in the AppArmor
# rules) or a socket address (not in `network`).
PATH_OPS = frozenset({"OPENAT", "OPENAT2", "STATX", "RENAMEAT", "UNLINKAT", "MKDIRAT",
                      "SYMLINKAT", "LINKAT", "SETXATTR", "GETXATTR"})
ADDRESS_OPS = frozenset({"CONNECT", "BIND", "ACCEPT", "SENDMSG", "SENDMSG_ZC", "SEND_ZC",
                         "SOCKET", "LISTEN"})


def opcode_name(op: int) -> str:
    return OPCODES[op] if 0 <= op < len(OPCODES) else f"OP_{op}"


def setup_flag_names(bits: int) -> tuple[str, ...]:
    return tuple(SETUP_FLAGS[i] if i < len(SETUP_FLAGS) else f"BIT_{i}"
                 for i in range(bits.bit_length()) if bits >> i & 1)


def not_seen(operations, tracepoints) -> tuple[str, ...]:
    """What a recording with these operations (names) does not hold, one sentence each."""
    ops = set(operations)
    out = []
    if not tracepoints:
        out.append("the operations themselves: this kernel has no io_uring tracepoint "
                   "(only the io_uring syscalls were counted)")
    paths = sorted(ops & PATH_OPS)
    if paths:
        out.append(f"the paths of {', '.join(paths)}: not in the recording's files (nor in "
                   f"AppArmor rules made from it)")
    addrs = sorted(ops & ADDRESS_OPS)
    if addrs:
        out.append(f"the addresses and sockets of {', '.join(addrs)}: not in the recording's "
                   f"network")
    if ops - PATH_OPS - ADDRESS_OPS - {"NOP"}:
        out.append("which files or sockets the other operations used (only their opcodes are "
                   "traced)")
    return tuple(out)


def used(syscall_names) -> bool:
    """Did the app set up or enter a ring (seen as syscalls, whatever the tracepoints)?"""
    return not set(SYSCALLS).isdisjoint(syscall_names)
