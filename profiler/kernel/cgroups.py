"""Which cgroup v2 directories are a container's, on every layout the engines make.

A container's tasks are told apart by their cgroup v2 id (the inode of its directory). Where that
directory is depends on the engine and its cgroup driver, and it exists only from the container's
start on:
- Docker, cgroupfs driver: `/docker/<id>` (or `/<parent>/<id>` with --cgroup-parent);
- Docker, systemd driver (the default on cgroup v2 hosts): `/system.slice/docker-<id>.scope`;
- Podman: `/machine.slice/libpod-<id>.scope` (rootful), possibly with a `container` child made
  by crun, and a sibling `libpod-conmon-<id>.scope` for its monitor (not the container).
So the recorder does not place the container: it names the container's id before the start, and
bpf/record.c's cgroup_mkdir program recognises the new cgroup by the id in its path. This module
is the specification of that match (`container_id_of`, mirrored in C by cgroup_mkdir and
`component_id`; their unit tests here, the kernel side's in tests/kernel/test_tracer_rules.py) and
the user-space side for a running container (attach mode): its cgroup from /proc/PID/cgroup, and
every directory below it. In match mode (issue 13) the same match decides what is a container at
all: a new cgroup whose name (or its parent's) carries an id that nobody named gets a slot of its
own in the kernel, so `container_id_in_name`'s hex test is made there too.
"""

from __future__ import annotations

import os
import string
from pathlib import Path

from .wire import CONTAINER_ID_LEN

_HEX = frozenset(string.hexdigits.lower())
_SCOPE = ".scope"
_CONMON = "-conmon-"  # podman's monitor scope: libpod-conmon-<id>.scope


def container_id_in_name(name: str) -> str | None:
    """The 64-character container id a cgroup directory name carries, or None.

    The whole name (`<id>`), or the characters between the last `-` and a `.scope` suffix
    (`docker-<id>.scope`, `libpod-<id>.scope`), except a conmon scope. The kernel side checks
    the shape only and looks the candidate up among the expected ids, so hex-ness is not tested
    there; it is here, so that this function alone says what a container id looks like."""
    if len(name) == CONTAINER_ID_LEN:
        cand = name
    elif len(name) >= CONTAINER_ID_LEN + 8 and name.endswith(_SCOPE):
        at = len(name) - len(_SCOPE) - CONTAINER_ID_LEN
        if name[at - 1] != "-" or name[:at].endswith(_CONMON):
            return None
        cand = name[at:at + CONTAINER_ID_LEN]
    else:
        return None
    return cand if set(cand) <= _HEX else None


def container_id_of(path: str) -> str | None:
    """The container a new cgroup is for: the id its own name carries, or its parent's (crun's
    `libpod-<id>.scope/container`). Deeper cgroups are the container's when one of its tasks
    makes them (record.c's cgroup_mkdir checks the creator first), or, for a running
    container, when they exist as we attach (`subtree_ids`)."""
    parts = path.rstrip("/").split("/")
    for name in parts[-1:-3:-1]:
        cid = container_id_in_name(name)
        if cid:
            return cid
    return None


def v2_path(proc_cgroup: str) -> str | None:
    """A task's cgroup v2 path from the text of /proc/PID/cgroup (the `0::` line; hybrid
    hosts list the v1 hierarchies too), or None when it is in no v2 cgroup."""
    for line in proc_cgroup.splitlines():
        if line.startswith("0::"):
            return line[3:].strip() or None
    return None


def subtree(directory: Path) -> list[Path]:
    """`directory` and every cgroup directory below it, as they are now (one removed while we
    walk is left out)."""
    out = [directory]
    for root, dirs, _files in os.walk(directory, onerror=lambda e: None):
        out += [Path(root, d) for d in dirs]
    return out


def subtree_ids(directory: Path) -> list[int]:
    """The cgroup ids (directory inodes) of `directory` and of every cgroup below it: the
    sub-cgroups a running container made before we looked."""
    ids = [directory.stat().st_ino]
    for d in subtree(directory)[1:]:
        try:
            ids.append(d.stat().st_ino)
        except OSError:  # removed while we walked
            pass
    return ids


def procs(directory: Path) -> list[int]:
    """The PIDs (tgids) in `directory` and every cgroup below it (cgroup.procs), as they are
    now; a cgroup that goes meanwhile is skipped."""
    out = []
    for d in subtree(directory):
        try:
            out += [int(x) for x in (d / "cgroup.procs").read_text().split()]
        except (OSError, ValueError):
            continue
    return out
