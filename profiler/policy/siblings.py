"""Sibling syscalls: other ways to do what the app already did, allowed beyond the training run.

A training run takes one code path; production takes its neighbours. Seen on the redis sample
(samples/redis/production.sh under the profile of its training run): a 1 MiB reply goes out
with writev where small ones used write, BGSAVE reaps its child with wait4, `INFO server`
calls uname; each was refused and the connection or the command failed. A syscall in a family
below does the same thing as one the app used, through the same kernel object and the same
permission checks (the man pages named with each family say so), so allowing it grants no new
privilege: it is allowed when any member of its family was seen, unless `emit --strict`.

Families are deliberately narrow: nothing here creates a new kind of object (socket families,
namespaces, io_uring, bpf, ptrace stay as recorded), changes credentials, or loads code.
Sources: the Linux man-pages 6.03 pages named below (Debian 12), and the redis sample as the
measured case.
"""

from __future__ import annotations

# family name -> (members, the man pages that say they are the same operation)
FAMILIES: dict[str, tuple[tuple[str, ...], str]] = {
    "read": (("read", "readv", "pread64", "preadv", "preadv2"), "read(2), readv(2), pread(2)"),
    "write": (("write", "writev", "pwrite64", "pwritev", "pwritev2"),
              "write(2), writev(2), pwrite(2)"),
    "send": (("sendto", "sendmsg", "sendmmsg"), "send(2), sendmmsg(2)"),
    "receive": (("recvfrom", "recvmsg", "recvmmsg"), "recv(2), recvmmsg(2)"),
    "accept": (("accept", "accept4"), "accept(2)"),
    # a process that creates tasks also waits for them (a forked child must be reaped)
    "children": (("clone", "clone3", "fork", "vfork", "wait4", "waitid"),
                 "clone(2), wait(2), wait4(2)"),
    "wait for events": (("poll", "ppoll", "select", "pselect6", "epoll_wait", "epoll_pwait"),
                        "poll(2), select(2), epoll_wait(2)"),
    "file status": (("stat", "fstat", "lstat", "newfstatat"), "stat(2)"),
    "directory entries": (("getdents", "getdents64"), "getdents(2)"),
    "duplicate fd": (("dup", "dup2", "dup3"), "dup(2)"),
    "pipe": (("pipe", "pipe2"), "pipe(2)"),
    "sleep": (("nanosleep", "clock_nanosleep"), "nanosleep(2), clock_nanosleep(2)"),
    "flush": (("fsync", "fdatasync"), "fsync(2)"),
    "memory": (("mmap", "munmap", "mremap", "madvise", "mprotect", "brk"),
               "mmap(2), mremap(2), madvise(2), brk(2)"),
    # read-only facts about the process and the system
    "process information": (("uname", "sysinfo", "getrusage", "times", "getrlimit",
                             "prlimit64"), "uname(2), sysinfo(2), getrusage(2), getrlimit(2)"),
    "rename": (("rename", "renameat", "renameat2"), "rename(2)"),
    "unlink": (("unlink", "unlinkat"), "unlink(2)"),
    "mkdir": (("mkdir", "mkdirat"), "mkdir(2)"),
}


# Members that only count as "seen": task creation keeps its own rules (clone's namespace
# flags are an argument filter, clone3 answers ENOSYS so that libc uses clone).
TRIGGER_ONLY = frozenset({"clone", "clone3", "fork", "vfork"})


def siblings(used, known) -> tuple[str, ...]:
    """The names, sorted, that share a family with a name in `used` and are not in it
    themselves; only names in `known` (the architecture's syscall table)."""
    used = set(used)
    out: set[str] = set()
    for members, _ in FAMILIES.values():
        if used.intersection(members):
            out.update(m for m in members
                       if m not in used and m in known and m not in TRIGGER_ONLY)
    return tuple(sorted(out))
