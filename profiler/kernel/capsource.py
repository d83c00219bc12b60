"""Where the recorder learns about capability checks, and how it tells a need from a probe.

The kernel checks a capability in `cap_capable()` (security/commoncap.c). The recorder watches it
through one of two sources, detected on the running kernel, never assumed:

- "tracepoint": the `capability:cap_capable` tracepoint (kernel 6.14+, include/trace/events/
  capability.h). It carries no audit option, so the recorder tells the kernel's path-choosing
  probes apart by where the check was made: a check whose kernel stack passes through one of
  NOAUDIT_FUNCTIONS (each always asks with CAP_OPT_NOAUDIT) is a probe. Their addresses come from
  /proc/kallsyms of the running kernel.
- "kprobe": a kprobe and a kretprobe on `cap_capable(const struct cred *cred, struct
  user_namespace *targ_ns, int cap, unsigned int opts)` (this signature since 5.1, where `int
  audit` became `opts`; unchanged through 6.1, 6.8 and 6.12), as bcc's tools/capable.py does. The
  option itself says which checks are probes (CAP_OPT_NOAUDIT, include/linux/security.h). The
  signature is confirmed from the running kernel's BTF before the probe is compiled.
- "none": neither exists (or the user turned capabilities off). The recording says so, and emit
  refuses to print a capability line from it unless asked (render/caps.py).

A probe is what the kernel asks only to choose a code path (e.g. `cap_vm_enough_memory` on every
mmap and exec: may this task use the admin memory reserve?); a refusal there fails nothing, so
it is reported as a note, never as a need or a refused need.
"""

from __future__ import annotations

import bisect
import os
import re
from dataclasses import dataclass
from pathlib import Path

from . import btf, ownfiles
from ..errors import EnvironmentProblem, UsageError

TRACEPOINT, KPROBE, NONE = "tracepoint", "kprobe", "none"
SOURCES = (TRACEPOINT, KPROBE, NONE)
# What the user may ask for (`profiler record --capabilities`): "auto" takes the first source
# that exists; "off" records without capabilities.
CHOICES = ("auto", TRACEPOINT, KPROBE, "off")

# Where they are looked for (module constants so that tests can point them elsewhere).
KPROBE_PMU = Path("/sys/bus/event_source/devices/kprobe")  # perf's kprobe PMU (CONFIG_KPROBES)
KALLSYMS = Path("/proc/kallsyms")

# Kernel functions that ask cap_capable only with CAP_OPT_NOAUDIT (Linux 6.1-6.18 sources):
# - cap_vm_enough_memory (security/commoncap.c): CAP_SYS_ADMIN, whether the task may dip into
#   the admin memory reserve, from security_vm_enough_memory_mm (security/security.c; the LSM
#   hook, into which 6.18 inlines it: its stack shows cap_capable right under it) on mmap, brk,
#   mprotect, mremap, fork and exec (the CAP_SYS_ADMIN "refusal" every recording showed, issue
#   11 section 7); security_vm_enough_memory_mm makes no other capability check;
# - ns_capable_noaudit, has_capability_noaudit, has_ns_capability_noaudit (kernel/capability.c):
#   the noaudit wrappers, e.g. ptrace_has_cap (kernel/ptrace.c) for /proc reads with
#   PTRACE_MODE_NOAUDIT, and seccomp_prepare_filter (kernel/seccomp.c).
# A compiler may split a function into NAME and NAME.cold: both count.
NOAUDIT_FUNCTIONS = ("cap_vm_enough_memory", "security_vm_enough_memory_mm",
                     "ns_capable_noaudit", "has_capability_noaudit", "has_ns_capability_noaudit")


@dataclass(frozen=True)
class Detected:
    """What the running kernel offers; each None or the reason it is missing."""

    tracepoint: str | None
    kprobe: str | None

    def missing(self, source: str) -> str | None:
        return self.tracepoint if source == TRACEPOINT else self.kprobe


def detect(tracefs_dirs) -> Detected:
    """Which sources exist, looking for tracepoints and kprobe_events under tracefs_dirs."""
    tp = None
    if not any((d / "events" / "capability" / "cap_capable").is_dir() for d in tracefs_dirs):
        tp = "no capability:cap_capable tracepoint (kernels before 6.14)"
    kp = None
    if not KPROBE_PMU.is_dir() and not any((d / "kprobe_events").exists() for d in tracefs_dirs):
        kp = "no kprobes (CONFIG_KPROBES off)"
    else:
        params = btf.running_kernel_func_params("cap_capable")
        if params is None:
            kp = "cap_capable is not in the kernel's BTF"
        elif len(params) != 4 or params[3] != "opts":
            kp = f"cap_capable({', '.join(params)}) has no opts argument (kernels before 5.1)"
    return Detected(tp, kp)


def check_choice(requested: str) -> None:
    if requested not in CHOICES:
        raise UsageError(f"--capabilities {requested}: not one of {', '.join(CHOICES)}")


def choose(requested: str, found: Detected) -> tuple[str, str | None]:
    """(source, why capabilities are not recorded or None). A source the user named that is
    missing is an error; "auto" falls back to "none" with the reasons."""
    check_choice(requested)
    if requested == "off":
        return NONE, "turned off (--capabilities off)"
    if requested in (TRACEPOINT, KPROBE):
        why = found.missing(requested)
        if why:
            raise EnvironmentProblem(f"capability source {requested} is missing: {why}",
                                     hint="use --capabilities auto (or off to record without "
                                          "capabilities)")
        return requested, None
    for source in (TRACEPOINT, KPROBE):
        if not found.missing(source):
            return source, None
    return NONE, f"{found.tracepoint}; {found.kprobe}"


# --- the tracepoint's noaudit call sites -----------------------------------------------------

def noaudit_ranges(kallsyms: str) -> list[tuple[int, int, str]]:
    """[start, end) text addresses of NOAUDIT_FUNCTIONS (and their .cold parts) in a kallsyms
    listing; a function ends where the next text symbol begins. Empty when the addresses are
    hidden (kptr_restrict shows zeros)."""
    wanted = set(NOAUDIT_FUNCTIONS) | {f + ".cold" for f in NOAUDIT_FUNCTIONS}
    starts: set[int] = set()
    found: dict[str, int] = {}
    for line in kallsyms.splitlines():
        parts = line.split()
        if len(parts) != 3 or parts[1] not in ("t", "T", "w", "W"):  # modules have a 4th field
            continue
        addr = int(parts[0], 16)
        if addr == 0:
            return []
        starts.add(addr)
        if parts[2] in wanted:
            found[parts[2]] = addr
    ordered = sorted(starts)
    out = []
    for name, addr in sorted(found.items(), key=lambda kv: kv[1]):
        i = bisect.bisect_right(ordered, addr)
        if i < len(ordered):
            out.append((addr, ordered[i], name))
    return out


def noaudit_define(ranges: list[tuple[int, int, str]]) -> str | None:
    """The -D define record.c tests a return address with: NOAUDIT_SITE(a) is true inside one
    of ranges. None when there are none."""
    if not ranges:
        return None
    tests = "||".join(f"((a)>=0x{s:x}ULL&&(a)<0x{e:x}ULL)" for s, e, _ in ranges)
    return f"-DNOAUDIT_SITE(a)=({tests})"


# The define of this boot, kept for the next recorders of the same boot: reading and sorting
# kallsyms's 100,000s of lines took 0.1-0.5 s of every start. The addresses are fixed for a boot
# (KASLR chooses them when it begins; modules, which come and go, hold none of these functions),
# and /run is a tmpfs, emptied at the next boot anyway. The define is compiled into the
# recorder, so a cached one is used only from a file of ours nobody else may write to, and only
# when it has exactly the shape noaudit_define gives.
BOOT_ID = Path("/proc/sys/kernel/random/boot_id")
BOOT_CACHE = Path("/run/profiler/noaudit-define")
_RANGE = r"\(\(a\)>=0x[0-9a-f]+ULL&&\(a\)<0x[0-9a-f]+ULL\)"
_DEFINE_SHAPE = re.compile(rf"-DNOAUDIT_SITE\(a\)=\({_RANGE}(?:\|\|{_RANGE})*\)")


def running_noaudit_define() -> str | None:
    try:
        boot = BOOT_ID.read_text().strip()
    except OSError:
        boot = ""
    if boot:
        cached = _boot_cached(boot)
        if cached is not None:
            return cached
    try:
        define = noaudit_define(noaudit_ranges(KALLSYMS.read_text()))
    except OSError:
        return None
    if boot and define:  # hidden addresses (none found) are looked at again next time
        _boot_remember(boot, define)
    return define


def _boot_cached(boot: str) -> str | None:
    try:
        cached_boot, release, define = (ownfiles.read(BOOT_CACHE) or b"").decode().split("\t")
    except (UnicodeDecodeError, ValueError):
        return None
    if cached_boot != boot or release != os.uname().release or \
            not _DEFINE_SHAPE.fullmatch(define):
        return None
    return define


def _boot_remember(boot: str, define: str) -> None:
    ownfiles.write(BOOT_CACHE, f"{boot}\t{os.uname().release}\t{define}".encode())
