"""Shared inputs of the emit tests: the fixture recordings, small synthetic recordings, the
golden-file comparison (rewritten with pytest --update-golden), and running `profiler emit`
through the real entry point with its one-line error check."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

from profiler.recording import recording_io
from profiler.recording.model import (ArgValues, Capability, ContainerConfig, Endpoint, Executable,
                                      FileAccess, Metadata, Network, Processes, Recording,
                                      SocketUse, Syscall)
from profiler.kernel.syscalls import number_of

TESTS = Path(__file__).resolve().parent
FIXTURES = TESTS / "fixtures"
GOLDEN = TESTS / "golden" / "emit"
NGINX = FIXTURES / "nginx.recording.yaml"
SHELL = FIXTURES / "shell.recording.yaml"
LEGACY = FIXTURES / "legacy-1.0.recording.yaml"  # hand-kept: a schema 1.0 file
PROFILER = [sys.executable, "-m", "profiler.cli"]


def emit(*args, cwd=None, env=None):
    proc = subprocess.run([*PROFILER, "emit", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=120, stdin=subprocess.DEVNULL, env=env)
    return proc


def assert_one_line_error(proc, *words):
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    lines = [x for x in proc.stderr.splitlines() if x.strip()]
    errors = [x for x in lines if x.startswith("error:")]
    assert len(errors) == 1, proc.stderr
    for w in words:
        assert w in errors[0], (w, proc.stderr)


def nginx() -> Recording:
    return recording_io.load(NGINX)


def shell() -> Recording:
    return recording_io.load(SHELL)


def syscalls(arch: str, *names: str) -> tuple[Syscall, ...]:
    return tuple(Syscall(n, number_of(arch, n), 1) for n in names)


def recording(*, arch="x86_64", names=("read", "write", "exit_group"), files=(), caps=(),
              sockets=(), listening=(), uids=(0,), gids=(0,), peak=2, executables=(),
              user="", run_options=(), arguments=(), image="example/app:1.0",
              engine="") -> Recording:
    """A small recording built in code (only what a test sets matters)."""
    return Recording(
        metadata=Metadata(tool_version="0.1.0", kernel="6.1.0", arch=arch, mode="container",
                          image=image, engine=engine,
                          container=ContainerConfig(user=user, run_options=tuple(run_options))),
        syscalls=syscalls(arch, *names),
        arguments=tuple(arguments),
        capabilities=tuple(Capability(c, n, 1, 0) for c, n in caps),
        files=tuple(FileAccess(p, tuple(ok)) for p, ok in files),
        network=Network(sockets=tuple(SocketUse(f, t, 0, 1) for f, t in sockets),
                        listening=tuple(Endpoint(*e) for e in listening)),
        processes=Processes(executables=tuple(Executable(e, 1) for e in executables),
                            peak_tasks=peak, uids=tuple(uids), gids=tuple(gids)),
    ).canonical()


def made_with_podman(rec: Recording) -> Recording:
    """rec as if recorded through Podman's compat API (Debian 12: podman 4.3.1, crun)."""
    return replace(rec, metadata=replace(rec.metadata, engine="podman 4.3.1", runtime="crun"))


def arg(syscall: str, name: str, index: int, *values: int, overflow: int = 0) -> ArgValues:
    return ArgValues(syscall, name, index, tuple(values), overflow)


def check_golden(name: str, text: str, update: bool) -> None:
    path = GOLDEN / name
    if update:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    assert path.is_file(), f"no golden file {path}: run pytest --update-golden once"
    assert text == path.read_text(encoding="utf-8"), \
        f"{name} differs from its golden file (if intended: pytest --update-golden)"


__all__ = ["nginx", "shell", "recording", "made_with_podman", "arg", "check_golden", "replace", "NGINX", "SHELL", "LEGACY",
           "GOLDEN", "FIXTURES"]
