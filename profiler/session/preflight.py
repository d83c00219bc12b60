"""Pre-flight: every reason we cannot trace, found before anything starts (root, tracefs,
syscall tracepoints, kernel headers, BTF, the BPF map and program types the recorder uses, a
cgroup v2 hierarchy, the capability source), and the checks of a workload or COMMAND that would
certainly fail. Each problem is one line with a hint."""

from __future__ import annotations

import os
import platform
import re
import shlex
import shutil
import subprocess
from pathlib import Path

from ..errors import EnvironmentProblem, UsageError, WorkloadError
from ..kernel import btf, capsource
from ..tool_errors import error_line

MOUNTS = Path("/proc/self/mounts")
TRACEFS_DIRS = (Path("/sys/kernel/tracing"), Path("/sys/kernel/debug/tracing"))
MODULES_DIR = Path("/lib/modules")


def v2_root() -> Path:
    """Where the cgroup v2 hierarchy is mounted (pure v2, or the 'unified' mount of hybrid)."""
    with open(MOUNTS) as f:
        mounts = [line.split() for line in f]
    for m in mounts:
        if m[2] == "cgroup2":
            return Path(m[1])
    raise EnvironmentProblem("no cgroup v2 hierarchy is mounted (needed to tell a container's "
                             "tasks apart)", hint="mount -t cgroup2 none /sys/fs/cgroup/unified")


# What the recorder needs of the kernel's BPF: (what, BTF enum, the member that says it is there).
BPF_FEATURES = (
    ("the BPF ring buffer (BPF_MAP_TYPE_RINGBUF, kernel 5.8+)", "bpf_map_type",
     "BPF_MAP_TYPE_RINGBUF"),
    ("BPF task storage (BPF_MAP_TYPE_TASK_STORAGE, kernel 5.11+)", "bpf_map_type",
     "BPF_MAP_TYPE_TASK_STORAGE"),
    ("raw tracepoints (BPF_PROG_TYPE_RAW_TRACEPOINT, kernel 4.17+)", "bpf_prog_type",
     "BPF_PROG_TYPE_RAW_TRACEPOINT"),
)


def preflight(capabilities: str = "auto") -> tuple[str, str | None]:
    """Every kernel feature the recorder needs, each missing one named in one line. Returns the
    capability source (capsource.SOURCES) and, when it is "none", why."""
    if os.geteuid() != 0:
        raise EnvironmentProblem("recording needs root (eBPF programs and cgroups)",
                                 hint="run with sudo")
    events = [d / "events" for d in TRACEFS_DIRS]
    if not any(p.is_dir() for p in events):
        raise EnvironmentProblem("tracefs is not mounted",
                                 hint="mount -t tracefs tracefs /sys/kernel/tracing")
    if not any((p / "raw_syscalls").is_dir() for p in events):
        raise EnvironmentProblem("the kernel has no syscall tracepoints (CONFIG_FTRACE_SYSCALLS)")
    build = MODULES_DIR / platform.release() / "build"
    if not build.exists():
        raise EnvironmentProblem(f"no kernel headers for {platform.release()} ({build})",
                                 hint="run `make setup` (installs them, with a fallback)")
    if not btf.VMLINUX.exists():
        raise EnvironmentProblem(f"the kernel has no BTF type information ({btf.VMLINUX})",
                                 hint="a kernel built with CONFIG_DEBUG_INFO_BTF (Debian 11+, "
                                      "Ubuntu 20.10+, RHEL 8.2+)")
    for what, enum, member in BPF_FEATURES:
        if member not in btf.running_kernel_enum(enum):
            raise EnvironmentProblem(f"the kernel lacks {what}",
                                     hint="record on a newer kernel (see README, Supported hosts)")
    v2_root()
    return capsource.choose(capabilities, capsource.detect(TRACEFS_DIRS))


def check_workload(cmd: str | None) -> None:
    """A workload is any shell command (run with /bin/sh -c: assignments, pipes, `&&`,
    subshells). It is refused early only where it would certainly fail: a syntax error
    (`sh -n`), or a first word that is a missing or non-executable path, or a command that
    neither the shell nor PATH knows."""
    if not cmd:
        return
    syntax = subprocess.run(["/bin/sh", "-n", "-c", cmd], capture_output=True, text=True)
    if syntax.returncode != 0:
        why = error_line(syntax.stderr, default="syntax error")
        raise UsageError(f"--workload {cmd!r}: not a shell command ({why})")
    first = _first_word(cmd)
    if first is None:  # an assignment, an expansion, a keyword or a subshell: the shell decides
        return
    if "/" in first:
        if not Path(first).exists():
            raise WorkloadError(f"workload {first}: no such file", exit_code=2)
        if not os.access(first, os.X_OK):
            raise WorkloadError(f"workload {first}: not executable",
                                hint=f"chmod +x {first}, or run it with bash", exit_code=2)
    elif shutil.which(first) is None and subprocess.run(
            ["/bin/sh", "-c", 'command -v -- "$1"', "sh", first],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode != 0:
        # `command -v` knows the shell's own builtins and keywords as well as PATH.
        raise WorkloadError(f"workload command {first!r} not found", exit_code=2)


def _first_word(cmd: str) -> str | None:
    """The command's first word when it is a plain literal (so that checking it is certain),
    else None: `PORT=8080 ./load.sh`, `$TOOL`, `(cd x && y)`, `>log cmd` are the shell's to run."""
    lex = shlex.shlex(cmd, posix=True, punctuation_chars=True)
    lex.whitespace_split = True
    try:
        word, after = lex.get_token(), lex.get_token()
    except ValueError:
        return None
    if after and after.startswith("("):  # `name() { ...; }` defines a function
        return None
    if not word or re.match(r"[A-Za-z_][A-Za-z0-9_]*=", word) or \
            set(word) & set("$`*?[~\\();<>|&{}!"):
        return None
    return word




def check_command(argv: list[str], what: str = "command") -> None:
    if "/" not in argv[0] and shutil.which(argv[0]) is None:
        raise UsageError(f"{what} {argv[0]!r} not found")
