"""The emitted project tree: what `profiler emit PROJECT_DIR -o OUT` writes for a whole
application, and what `verify --compose` and `diff` of two projects read back.

    OUT/compose.security.yaml   the override that applies every service's policy to the
                                project (render/override.py)
    OUT/apparmor-load.sh        loads the services' AppArmor profiles before `up`
    OUT/<service>/<file>        each service's policy directory (output/policy_dir.py)

One reader, `read_services`: the tree's services are the override's (a service directory an
earlier emit left would not be one), each a directory holding policy files. One writer,
`write`: the tree is made beside OUT and replaces it whole (recording_io.replace_dir, which
`record --match` uses for its project directory too), so a service that went leaves no stale
directory behind. It replaces only a directory that is empty or holds nothing but a tree emit
wrote: never a directory of the user's.
"""

from __future__ import annotations

import os
from pathlib import Path


from .. import safe_input
from ..errors import UsageError
from ..recording.project import check_service_name
from ..recording.recording_io import replace_dir
from .policy_dir import POLICY_FILES, mode
from .registry import FILE_NAMES

OVERRIDE_FILE = "compose.security.yaml"
LOAD_SCRIPT = "apparmor-load.sh"
FILES = (OVERRIDE_FILE, LOAD_SCRIPT)  # beside the service directories
EMIT_HINT = "write it with `profiler emit DIR --format compose -o OUT` (or --format all)"


def is_tree(path: Path) -> bool:
    """A directory emit wrote for a project with its override (what verify and diff read)."""
    return (Path(path) / OVERRIDE_FILE).is_file()


def read_services(out: Path, label: str | None = None) -> dict[str, Path]:
    """service -> its policy directory, for every service of OUT's override, sorted by name.
    label: how to name OUT in errors (default: the path)."""
    label = label or str(out)
    path = out / OVERRIDE_FILE
    if not os.path.lexists(path):
        raise UsageError(f"{label}/{OVERRIDE_FILE}: no such file", hint=EMIT_HINT)
    # bounded, and every service a name with a mapping (profiler/safe_input.py)
    data = safe_input.compose_file(path, "emit it again", f"{label}/{OVERRIDE_FILE}",
                                   "not an override profiler wrote: ")
    services = {}
    for name in sorted(data["services"]):
        d = out / check_service_name(name, f"{label}: service")
        if not any((d / f).is_file() for f in POLICY_FILES):
            raise UsageError(f"{d}: service {name} of the override has no policy files",
                             hint="emit the project with --format all")
        services[str(name)] = d
    return services


def _emitted(out: Path) -> bool:
    """OUT holds nothing but what emit writes for a project (so replacing it loses nothing)."""
    names = set(FILE_NAMES.values())
    for entry in out.iterdir():
        if entry.is_file() and entry.name in FILES:
            continue
        if entry.is_dir() and not entry.is_symlink() and all(
                f.is_file() and f.name in names for f in entry.iterdir()):
            continue
        return False
    return True


def check_replaceable(out: Path) -> None:
    """OUT is new, empty, or a tree emit wrote: else a UsageError (nothing is replaced)."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"{out}: exists and is not a directory")
    if out.is_dir() and any(out.iterdir()) and not _emitted(out):
        raise UsageError(f"{out}: holds files emit did not write for a project",
                         hint="give a new or empty directory with -o DIR (emit replaces it "
                              "whole)")


def write(out: Path, texts: dict[str, str]) -> list[Path]:
    """Write the tree (relative path -> text) as OUT, replacing a previous one whole."""
    check_replaceable(out)

    def fill(new: Path) -> None:
        for name, text in texts.items():
            p = new / name
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(text, encoding="utf-8")
            os.chmod(p, 0o755 if name == LOAD_SCRIPT else mode(name))

    try:
        replace_dir(out, fill)
    except OSError as e:
        raise UsageError(f"{out}: cannot write ({e.strerror})") from None
    return [out / n for n in texts]
