"""The compose command on this host: which one there is (the v2 CLI plugin `docker compose`, or
v1 `docker-compose`), and running it on a project with its files (`up -d`, `down`).

profiler supports both: Debian 12 ships docker-compose 1.29.2 (Python), trixie and newer ship
v2 (Go), installed as the docker CLI plugin; scripts/compose-v2.sh adds the v2 plugin beside 1.29
on Debian 12. They differ where profiler's override depends on them (docs/compose.md):
- a seccomp profile in `security_opt` is a file both read and send to the engine as JSON, v1
  relative to its own working directory (compose/config/types.py SecurityOpt.parse: a plain
  `open()`), v2 relative to the project directory (compose pkg/compose/create.go
  parseSecurityOpts: `p.RelativePath`), so the override names it by absolute path;
- `docker-compose` 1.29 prints "Creating ..." on stderr, v2 "Container ... Started": neither is
  parsed; containers are found by their labels (com.docker.compose.project/service).

`PROFILER_COMPOSE` chooses: `v1`, `v2`, or a command line (e.g. `docker compose`).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from ..errors import EngineError, EnvironmentProblem
from ..tool_errors import error_line

# How long one compose command may take: `up` pulls nothing (local images) but creates networks
# and starts containers one by one; on a slow VM that is tens of seconds.
TIMEOUT = 300
_VERSION = re.compile(r"(\d+)\.(\d+)\.(\d+)")


@dataclass(frozen=True)
class Compose:
    argv: tuple[str, ...]  # ("docker", "compose") or ("docker-compose",)
    version: str  # "2.26.1", "1.29.2"

    @property
    def major(self) -> int:
        return int(self.version.split(".", 1)[0])

    def __str__(self) -> str:
        return f"{' '.join(self.argv)} {self.version}"


_CANDIDATES = {"v2": ("docker", "compose"), "v1": ("docker-compose",)}


def _probe(argv: tuple[str, ...]) -> Compose | None:
    if not shutil.which(argv[0]):
        return None
    try:
        proc = subprocess.run([*argv, "version", "--short"], capture_output=True, text=True,
                              timeout=30, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = _VERSION.search(proc.stdout)
    if proc.returncode != 0 or not m:
        return None
    return Compose(argv, ".".join(m.groups()))


def available() -> list[Compose]:
    """Every compose command that answers here, v2 first."""
    found = [_probe(argv) for argv in _CANDIDATES.values()]
    return [c for c in found if c is not None]


def find(choice: str | None = None) -> Compose:
    """The compose to use: `choice` (or $PROFILER_COMPOSE) as `v1`, `v2` or a command line;
    else v2 when present, else v1. EnvironmentProblem when none answers."""
    choice = choice or os.environ.get("PROFILER_COMPOSE") or ""
    if choice:
        argv = _CANDIDATES.get(choice) or tuple(shlex.split(choice))
        found = _probe(argv) if argv else None
        if found is None:
            raise EnvironmentProblem(f"compose command {' '.join(argv) or choice!r} does not "
                                     f"answer `version`",
                                     hint="PROFILER_COMPOSE is v1, v2 or a command line such as "
                                          "'docker compose'")
        return found
    for c in available():
        return c
    raise EnvironmentProblem("no compose command: neither `docker compose` (v2) nor "
                             "`docker-compose` (v1) answers",
                             hint="apt-get install docker-compose (make setup does), or "
                                  "scripts/compose-v2.sh for the v2 plugin")


def command(compose: Compose, files: list[Path], project: str, *args: str) -> list[str]:
    """The argv of one compose command on the project made of `files` (merged in order)."""
    argv = list(compose.argv)
    for f in files:
        argv += ["-f", str(f)]
    return argv + ["-p", project, *args]


def run(compose: Compose, files: list[Path], project: str, *args: str,
        env: dict[str, str] | None = None, timeout: float = TIMEOUT) -> subprocess.CompletedProcess:
    """Run one compose command; EngineError (one line: its error line) on failure."""
    argv = command(compose, files, project, *args)
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise EngineError(f"`{shlex.join(argv)}` did not finish within {timeout:.0f} s") from None
    except OSError as e:
        raise EngineError(f"cannot run {argv[0]}: {e.strerror}") from None
    if proc.returncode != 0:
        raise EngineError(f"`{' '.join(args)}` of compose project {project} failed "
                          f"({compose}): {error_line(proc.stderr, proc.stdout)}",
                          hint=f"the command was: {shlex.join(argv)}")
    return proc

