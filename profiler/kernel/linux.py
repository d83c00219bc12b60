"""Static Linux ABI tables: capabilities, socket families and types, namespace flags.

Sources: include/uapi/linux/capability.h (capabilities 0-40, Linux 5.9+), include/linux/socket.h
(address families), include/linux/net.h (socket types), include/uapi/linux/sched.h (CLONE_NEW*),
include/uapi/asm-generic/mman-common.h (PROT_*), include/uapi/asm-generic/errno-base.h and
errno.h (EPERM, ENOSYS). These numbers are kernel ABI and do not change.
Errno names come from Python's errno module (the host C library's table).
"""

from __future__ import annotations

import errno as _errno

CAPABILITIES: dict[int, str] = {
    0: "CAP_CHOWN", 1: "CAP_DAC_OVERRIDE", 2: "CAP_DAC_READ_SEARCH", 3: "CAP_FOWNER",
    4: "CAP_FSETID", 5: "CAP_KILL", 6: "CAP_SETGID", 7: "CAP_SETUID", 8: "CAP_SETPCAP",
    9: "CAP_LINUX_IMMUTABLE", 10: "CAP_NET_BIND_SERVICE", 11: "CAP_NET_BROADCAST",
    12: "CAP_NET_ADMIN", 13: "CAP_NET_RAW", 14: "CAP_IPC_LOCK", 15: "CAP_IPC_OWNER",
    16: "CAP_SYS_MODULE", 17: "CAP_SYS_RAWIO", 18: "CAP_SYS_CHROOT", 19: "CAP_SYS_PTRACE",
    20: "CAP_SYS_PACCT", 21: "CAP_SYS_ADMIN", 22: "CAP_SYS_BOOT", 23: "CAP_SYS_NICE",
    24: "CAP_SYS_RESOURCE", 25: "CAP_SYS_TIME", 26: "CAP_SYS_TTY_CONFIG", 27: "CAP_MKNOD",
    28: "CAP_LEASE", 29: "CAP_AUDIT_WRITE", 30: "CAP_AUDIT_CONTROL", 31: "CAP_SETFCAP",
    32: "CAP_MAC_OVERRIDE", 33: "CAP_MAC_ADMIN", 34: "CAP_SYSLOG", 35: "CAP_WAKE_ALARM",
    36: "CAP_BLOCK_SUSPEND", 37: "CAP_AUDIT_READ", 38: "CAP_PERFMON", 39: "CAP_BPF",
    40: "CAP_CHECKPOINT_RESTORE",
}
CAPABILITY_NUMBERS = {v: k for k, v in CAPABILITIES.items()}

# The errnos a seccomp profile answers with (errnoRet, defaultErrnoRet): Linux's numbers, also
# where the host's C library numbers them differently.
EPERM = 1
ENOSYS = 38

# Docker's default capability set (moby oci/caps/defaults.go).
DOCKER_DEFAULT_CAPS = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
)
# Podman's, as Debian 12 ships it: default_capabilities in /usr/share/containers/containers.conf
# of golang-github-containers-common 0.50.1+ds1-4 (Docker's without MKNOD, NET_RAW and
# AUDIT_WRITE). A host whose containers.conf sets another list differs; the compat API does not
# say.
PODMAN_DEFAULT_CAPS = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
    "CAP_NET_BIND_SERVICE", "CAP_SETFCAP", "CAP_SETGID", "CAP_SETPCAP", "CAP_SETUID",
    "CAP_SYS_CHROOT",
)

FAMILIES: dict[int, str] = {
    0: "AF_UNSPEC", 1: "AF_UNIX", 2: "AF_INET", 3: "AF_AX25", 4: "AF_IPX", 5: "AF_APPLETALK",
    6: "AF_NETROM", 7: "AF_BRIDGE", 8: "AF_ATMPVC", 9: "AF_X25", 10: "AF_INET6", 11: "AF_ROSE",
    12: "AF_DECnet", 13: "AF_NETBEUI", 14: "AF_SECURITY", 15: "AF_KEY", 16: "AF_NETLINK",
    17: "AF_PACKET", 18: "AF_ASH", 19: "AF_ECONET", 20: "AF_ATMSVC", 21: "AF_RDS", 22: "AF_SNA",
    23: "AF_IRDA", 24: "AF_PPPOX", 25: "AF_WANPIPE", 26: "AF_LLC", 27: "AF_IB", 28: "AF_MPLS",
    29: "AF_CAN", 30: "AF_TIPC", 31: "AF_BLUETOOTH", 32: "AF_IUCV", 33: "AF_RXRPC",
    34: "AF_ISDN", 35: "AF_PHONET", 36: "AF_IEEE802154", 37: "AF_CAIF", 38: "AF_ALG",
    39: "AF_NFC", 40: "AF_VSOCK", 41: "AF_KCM", 42: "AF_QIPCRTR", 43: "AF_SMC", 44: "AF_XDP",
    45: "AF_MCTP",
}
FAMILY_NUMBERS = {v: k for k, v in FAMILIES.items()}

SOCK_TYPES: dict[int, str] = {
    1: "SOCK_STREAM", 2: "SOCK_DGRAM", 3: "SOCK_RAW", 4: "SOCK_RDM", 5: "SOCK_SEQPACKET",
    6: "SOCK_DCCP", 10: "SOCK_PACKET",
}
SOCK_TYPE_MASK = 0xF  # type & 0xf; SOCK_NONBLOCK (0o4000) and SOCK_CLOEXEC (0o2000000) are flags
SOCK_NONBLOCK = 0o4000
SOCK_CLOEXEC = 0o2000000

CLONE_NAMESPACE_FLAGS: dict[int, str] = {
    0x00000080: "CLONE_NEWTIME", 0x00020000: "CLONE_NEWNS", 0x02000000: "CLONE_NEWCGROUP",
    0x04000000: "CLONE_NEWUTS", 0x08000000: "CLONE_NEWIPC", 0x10000000: "CLONE_NEWUSER",
    0x20000000: "CLONE_NEWPID", 0x40000000: "CLONE_NEWNET",
}
CLONE_NAMESPACE_MASK = sum(CLONE_NAMESPACE_FLAGS)

PROT_READ, PROT_WRITE, PROT_EXEC = 1, 2, 4


def family_name(n: int) -> str:
    return FAMILIES.get(n, f"AF_{n}")


def sock_type_name(n: int) -> str:
    return SOCK_TYPES.get(n & SOCK_TYPE_MASK, f"SOCK_{n & SOCK_TYPE_MASK}")


def capability_name(n: int) -> str:
    return CAPABILITIES.get(n, f"CAP_{n}")


# A capability has two spellings: the kernel's (`CAP_CHOWN`: recordings, denials, the
# capability tables) and Docker's (`CHOWN`: --cap-add, caps.txt, compose and Kubernetes, which
# also take lower case). Every conversion between them goes through these two.
def cap_full(name: str) -> str:
    """The kernel's spelling: "chown", "CHOWN" or "CAP_CHOWN" -> "CAP_CHOWN"."""
    name = name.upper()
    return name if name.startswith("CAP_") else "CAP_" + name


def cap_short(name: str) -> str:
    """Docker's spelling: "CAP_CHOWN", "cap_chown" or "chown" -> "CHOWN"."""
    return name.upper().removeprefix("CAP_")


def errno_name(n: int) -> str:
    return _errno.errorcode.get(n, f"E{n}")
