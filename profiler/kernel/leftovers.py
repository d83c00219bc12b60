"""What a run leaves on the host if it is killed, and the next run's clean-up of it.

A run of `record` or `verify` makes things that outlive it if it dies without its `finally`
blocks (SIGKILL, the OOM killer, a power cut of the terminal): the container it created, an
AppArmor profile it loaded into the kernel for a verify run, scratch directories and files
(a project directory being assembled beside its target). Each is registered while it exists:

- containers carry the label `io.profiler.owner=<pid>:<start time>` (engine.OWNER_LABEL), set
  when they are created, so there is no moment when one exists unregistered;
- a compose project `verify --compose` brings up (compose creates its containers, so they cannot
  carry the label) is registered by its project name before `up`: the sweep removes the
  containers (with their anonymous volumes) and networks labelled with that project, and its
  named volumes when the project had none before the run (then every one is the run's);
- everything else is listed in a small JSON file of the run's own in STATE_DIR (/run/profiler/
  runs: /run is a tmpfs, emptied at boot, as kernel-loaded profiles are), written before the
  thing is made and updated when it is gone; the file goes when the run ends.

At its start, every run sweeps: the containers and files of owners that are no longer alive (a
pid that is gone, or reused by a process that started at another time) are removed. Runs that
are alive are never touched: several engineers (or CI jobs) may record on one host at once.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from .proc import start_ticks

STATE_DIR = Path(os.environ.get("PROFILER_STATE_DIR", "/run/profiler/runs"))
# compose_volumes: a registered compose project that had no volume before its run, so that
# every volume it has is the run's (verify --compose's own project): the sweep removes them.
KINDS = ("apparmor", "path", "compose", "compose_volumes")
# Every container profiler creates carries its owner (engine.create's labels): a run killed
# before it could remove its container leaves it to the next run to remove.
OWNER_LABEL = "io.profiler.owner"
# Where a loaded AppArmor profile is removed by name (verify/apparmor_kernel.py's SECURITYFS).
APPARMOR_REMOVE = Path("/sys/kernel/security/apparmor/.remove")


def _start_time(pid: int) -> str | None:
    """The process's start time as it stands in an owner token (proc.start_ticks), or None
    when there is no such process."""
    ticks = start_ticks(pid)
    return None if ticks is None else str(ticks)


def _pid_namespace() -> str:
    try:
        return str(os.stat("/proc/self/ns/pid").st_ino)
    except OSError:
        return "0"


def owner_token(pid: int | None = None) -> str:
    """`<pid>:<start time>:<pid namespace>`: names a process uniquely on this boot (pids are
    reused); the namespace tells a run in another PID namespace (profiler in a container with
    the engine's socket), whose pid means nothing here."""
    pid = os.getpid() if pid is None else pid
    return f"{pid}:{_start_time(pid)}:{_pid_namespace()}"


def alive(token: str) -> bool:
    """False only for an owner known to be gone: a pid of our namespace that is not running,
    or runs a process that started at another time. Another namespace's owner counts as alive
    (it cannot be judged from here, so its things are never removed)."""
    pid, _, rest = token.partition(":")
    start, _, ns = rest.partition(":")
    if ns and ns != _pid_namespace():
        return True
    try:
        return _start_time(int(pid)) == start
    except ValueError:
        return False


class Registry:
    """This run's entry in STATE_DIR: what it made that is not a container."""

    def __init__(self, state_dir: Path | None = None, token: str | None = None):
        self.dir = state_dir or STATE_DIR
        self.token = token or owner_token()
        self.items: dict[str, list[str]] = {k: [] for k in KINDS}

    @property
    def file(self) -> Path:
        return self.dir / (self.token.split(":")[0] + "-" + self.token.split(":")[1] + ".json")

    def add(self, kind: str, value: str) -> None:
        """Register before making it: a kill in between leaves a name that is not there, which
        the sweep skips."""
        self.items[kind].append(value)
        self._save()

    def discard(self, kind: str, value: str) -> None:
        if value in self.items[kind]:
            self.items[kind].remove(value)
            self._save()

    def _save(self) -> None:
        if not any(self.items.values()):
            try:
                self.file.unlink()
            except OSError:
                pass
            return
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".run.", dir=self.dir)
            with os.fdopen(fd, "w") as f:
                json.dump({"owner": self.token, **{k: v for k, v in self.items.items() if v}}, f)
            os.replace(tmp, self.file)
        except OSError:  # no /run (not root): the in-process clean-up still runs
            pass


_registry: Registry | None = None


def registry() -> Registry:
    """The current process's registry (made on first use)."""
    global _registry
    if _registry is None or _registry.token != owner_token():
        _registry = Registry()
    return _registry


def remove_apparmor(name: str) -> bool:
    """Unload a profile by name (securityfs's .remove: no file of the profile is needed)."""
    try:
        APPARMOR_REMOVE.write_text(name)
        return True
    except OSError:
        return False


def sweep(engine=None, state_dir: Path | None = None, remove_profile=remove_apparmor
          ) -> list[str]:
    """Remove what runs that are no longer alive left: their containers and compose projects
    (with `engine`), loaded AppArmor profiles and scratch paths. Returns one line per thing
    removed. A compose project is kept in the registry when no engine is given to remove it."""
    done: list[str] = []
    d = state_dir or STATE_DIR
    try:
        files = sorted(d.glob("*.json"))
    except OSError:
        files = []
    for f in files:
        try:
            data = json.loads(f.read_text())
            owner = str(data["owner"])
        except (OSError, ValueError, KeyError, TypeError):
            continue  # being written (the temp file is renamed in place), or not ours
        if alive(owner):
            continue
        for name in data.get("apparmor") or ():
            if remove_profile(str(name)):
                done.append(f"AppArmor profile {name}")
        projects = [str(n) for n in data.get("compose") or ()]
        if projects and engine is None:
            continue  # the next sweep with an engine removes them (and this file)
        scratch = {str(n) for n in data.get("compose_volumes") or ()}
        for name in projects:
            if engine.remove_project(name, volumes=name in scratch):
                done.append(f"compose project {name}")
        for path in data.get("path") or ():
            p = Path(str(path))
            if not p.is_absolute() or not p.name.startswith((".", "profiler-")):
                continue  # only what profiler names so (scratch names), never a user's path
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p, ignore_errors=True)
                done.append(f"scratch directory {p}")
            elif p.exists() or p.is_symlink():
                try:
                    p.unlink()
                    done.append(f"scratch file {p}")
                except OSError:
                    pass
        try:
            f.unlink()
        except OSError:
            pass
    if engine is not None:
        for c in engine.list_owned():
            owner = (c.labels or {}).get(OWNER_LABEL, "")
            if owner and not alive(owner):
                engine.remove(c)
                done.append(f"container {c.name}")
    return done


__all__ = ["Registry", "registry", "sweep", "owner_token", "alive", "STATE_DIR", "OWNER_LABEL"]
