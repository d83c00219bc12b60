"""Syscall names and numbers for every architecture, from libseccomp (python3-seccomp).

libseccomp is the authority runc and Docker use: its tables know current syscalls (clone3,
faccessat2, openat2, close_range, ...) that bcc's built-in table prints as unknown.
"""

from __future__ import annotations

import platform
from functools import lru_cache

from ..errors import EnvironmentProblem

# uname -m -> libseccomp architecture name, and the sub-architectures a 64-bit kernel also
# runs (what Docker's default profile lists in archMap).
_UNAME_TO_ARCH = {"x86_64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64", "s390x": "s390x",
                  "ppc64le": "ppc64le", "riscv64": "riscv64", "i686": "x86", "i386": "x86"}
SUB_ARCHES = {"x86_64": ("x86", "x32"), "aarch64": ("arm",), "s390x": ("s390",),
              "ppc64le": ("ppc64", "ppc"), "riscv64": ()}
# libseccomp name -> OCI/Docker "SCMP_ARCH_*" spelling.
OCI_ARCH = {"x86_64": "SCMP_ARCH_X86_64", "x86": "SCMP_ARCH_X86", "x32": "SCMP_ARCH_X32",
            "aarch64": "SCMP_ARCH_AARCH64", "arm": "SCMP_ARCH_ARM", "s390x": "SCMP_ARCH_S390X",
            "s390": "SCMP_ARCH_S390", "ppc64le": "SCMP_ARCH_PPC64LE", "ppc64": "SCMP_ARCH_PPC64",
            "ppc": "SCMP_ARCH_PPC", "riscv64": "SCMP_ARCH_RISCV64"}


def _seccomp():
    try:
        import seccomp  # Debian python3-seccomp, bindings over the system libseccomp
    except ImportError:
        raise EnvironmentProblem("libseccomp's Python bindings are not importable",
                                 hint="apt-get install python3-seccomp, and use the venv made by "
                                      "`make setup` (it sees system packages)") from None
    return seccomp


def host_arch() -> str:
    m = platform.machine()
    return _UNAME_TO_ARCH.get(m, m)


def _arch_const(arch: str):
    sc = _seccomp()
    name = {"x86_64": "X86_64", "x86": "X86", "x32": "X32", "aarch64": "AARCH64", "arm": "ARM",
            "s390x": "S390X", "s390": "S390", "ppc64le": "PPC64LE", "ppc64": "PPC64",
            "ppc": "PPC", "riscv64": "RISCV64"}.get(arch)
    if name is None or not hasattr(sc.Arch, name):
        raise EnvironmentProblem(f"architecture {arch!r} is not known to libseccomp")
    return getattr(sc.Arch, name)


@lru_cache(maxsize=None)
def name_of(arch: str, number: int) -> str:
    """libseccomp's name for a syscall number on arch, or "" when it has none."""
    if not 0 <= number < 1 << 31:
        return ""
    try:
        n = _seccomp().resolve_syscall(_arch_const(arch), number)
    except (ValueError, RuntimeError):
        return ""
    if isinstance(n, bytes):
        n = n.decode()
    return n or ""


@lru_cache(maxsize=None)
def number_of(arch: str, name: str) -> int | None:
    """The syscall number of name on arch, or None when arch does not have it."""
    try:
        nr = _seccomp().resolve_syscall(_arch_const(arch), name)
    except (ValueError, RuntimeError):
        return None
    return nr if nr >= 0 else None


@lru_cache(maxsize=None)
def table(arch: str) -> dict[str, int]:
    """All syscall names libseccomp knows on arch -> number."""
    out = {}
    for nr in range(0, 1024):
        n = name_of(arch, nr)
        if n:
            out[n] = nr
    return out
