"""Which cgroup names are a container's (profiler/kernel/cgroups.py, the specification of
record.c's cgroup_mkdir match), on each engine's layout; a task's v2 path; a running container's
subtree."""

from __future__ import annotations

import pytest

from profiler.kernel import cgroups

ID = "3f9c2b7a" * 8  # 64 hex digits, as Docker and Podman name containers
OTHER = "0123abcd" * 8


@pytest.mark.parametrize("name, expected", [
    (ID, ID),                                  # Docker, cgroupfs driver: /docker/<id>
    (f"docker-{ID}.scope", ID),                # Docker, systemd driver
    (f"libpod-{ID}.scope", ID),                # Podman (rootful and rootless)
    (f"cri-containerd-{ID}.scope", ID),        # any engine prefix before the id
    (f"libpod-conmon-{ID}.scope", None),       # podman's monitor, not the container
    (f"docker-{ID}.slice", None),              # a slice is not a container's
    (f"docker{ID}.scope", None),               # no separator before the id
    (f"{ID}.scope", None),                     # no engine prefix
    (ID[:-1], None),                           # too short
    (ID + "0", None),                          # too long
    (ID.upper(), None),                        # engines write lower-case hex
    ("g" * 64, None),                          # not hex
    ("system.slice", None),
    ("container", None),
    ("", None),
])
def test_container_id_in_name(name, expected):
    assert cgroups.container_id_in_name(name) == expected


@pytest.mark.parametrize("path, expected", [
    (f"/docker/{ID}", ID),
    (f"/system.slice/docker-{ID}.scope", ID),
    (f"/machine.slice/libpod-{ID}.scope/container", ID),     # crun's child of the scope
    (f"/profiler-x/{ID}/app", ID),                           # the child of a container's
    (f"/profiler-x/{ID}/app/worker", None),                  # deeper: by its creator instead
    (f"/machine.slice/libpod-conmon-{ID}.scope", None),
    (f"/machine.slice/libpod-conmon-{ID}.scope/x", None),
    ("/system.slice/docker.service", None),
    ("/", None),
    (f"/kubepods/pod{OTHER}/{ID}", ID),
    (f"/{OTHER}/{ID}", ID),                                  # nested: the innermost
])
def test_container_id_of(path, expected):
    assert cgroups.container_id_of(path) == expected


@pytest.mark.parametrize("text, expected", [
    # cgroup v2 only (systemd hosts): one line
    (f"0::/system.slice/docker-{ID}.scope\n", f"/system.slice/docker-{ID}.scope"),
    # hybrid (this lab host): the v1 hierarchies, then the unified one
    (f"12:pids:/docker/{ID}\n1:name=systemd:/docker/{ID}\n0::/docker/{ID}\n", f"/docker/{ID}"),
    ("0::/\n", "/"),
    ("3:cpu:/docker/x\n", None),   # v1 only: no v2 cgroup
    ("0::\n", None),
])
def test_v2_path(text, expected):
    assert cgroups.v2_path(text) == expected


def test_subtree_ids_lists_the_directory_and_everything_below(tmp_path):
    top = tmp_path / f"docker-{ID}.scope"
    (top / "app" / "worker").mkdir(parents=True)
    (top / "other").mkdir()
    (top / "cgroup.procs").write_text("1\n")  # files are not cgroups
    ids = cgroups.subtree_ids(top)
    want = [p.stat().st_ino for p in (top, top / "app", top / "app" / "worker", top / "other")]
    assert ids[0] == top.stat().st_ino
    assert sorted(ids) == sorted(want)
