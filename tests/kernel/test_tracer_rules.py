"""The recorder's "who counts" rules, checked directly against the kernel (root; must not skip
under CI=true): an exec inside the target cgroup starts counting only in a PID namespace of its
own (runc init's re-exec from a memfd happens in the host's PID namespace, sometimes already
inside the container's cgroup), and children of a counting task count. Which cgroups are
targets: one named for an expected container when the kernel announces it (any engine's layout,
profiler/kernel/cgroups.py), one a target's task creates, and, attaching, a running container's;
there tasks older than the session count at once."""

from __future__ import annotations

import ctypes as ct
import os
import subprocess
import uuid
from pathlib import Path

import pytest

from profiler.errors import EnvironmentProblem

pytestmark = pytest.mark.root


@pytest.fixture
def cgroup(require_root):
    from profiler.session.preflight import v2_root

    path = v2_root() / f"profiler-test-{uuid.uuid4().hex[:8]}"
    path.mkdir()
    yield path
    for _ in range(50):
        try:
            path.rmdir()
            break
        except OSError:
            import time
            time.sleep(0.1)


def _run_in(cgroup: Path, argv: list[str]) -> None:
    """Start argv held before exec, move it into the cgroup, then let it exec."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(w)
        os.read(r, 1)
        os.execvp(argv[0], argv)
    os.close(r)
    (cgroup / "cgroup.procs").write_text(str(pid))
    os.write(w, b"x")
    os.close(w)
    os.waitpid(pid, 0)


def _tracer(cgroup: Path | None = None, **kw):
    from profiler.kernel.tracer import Tracer

    tracer = Tracer(containers=True, **kw)
    if cgroup is not None:
        tracer.add_target(cgroup.stat().st_ino)
    return tracer


def test_exec_in_host_pid_namespace_is_not_the_app(cgroup):
    tracer = _tracer(cgroup)
    try:
        _run_in(cgroup, ["/usr/bin/cat", "/etc/hostname"])  # host PID namespace: runtime-like
        _run_in(cgroup, ["unshare", "--pid", "--fork", "/usr/bin/head", "-c1", "/etc/os-release"])
        tracer.poll(100)
        raw = tracer.snapshot()
    finally:
        tracer.close()
    execs = {p.decode() for p in raw.execs}
    assert "/usr/bin/head" in execs, execs          # in its own PID namespace: counts
    assert "/usr/bin/cat" not in execs, execs       # in the host's: does not
    assert b"/etc/os-release" in raw.files and b"/etc/hostname" not in raw.files


def test_children_of_a_counting_task_count(cgroup):
    tracer = _tracer(cgroup)
    try:
        _run_in(cgroup, ["unshare", "--pid", "--fork", "/bin/sh", "-c",
                         "cat /etc/hostname >/dev/null; (ls /usr >/dev/null)"])
        tracer.poll(100)
        raw = tracer.snapshot()
    finally:
        tracer.close()
    execs = {p.decode() for p in raw.execs}
    assert {"/usr/bin/cat", "/usr/bin/ls"} <= execs, execs
    assert raw.peak_tasks >= 2


ID = "5eed" * 16  # a made-up container id


def test_new_cgroup_named_for_an_expected_container_becomes_a_target(cgroup):
    """As Docker's systemd driver (docker-<id>.scope) or cgroupfs driver (<id>) makes it at the
    start, and crun its `container` child: the cgroup does not exist when the tracer is told
    which container to expect. Podman's monitor scope, which carries the id too, is not it."""
    scope, child = cgroup / f"docker-{ID}.scope", cgroup / f"docker-{ID}.scope" / "container"
    conmon = cgroup / f"libpod-conmon-{ID}.scope"
    tracer = _tracer()
    try:
        tracer.expect_container(ID)
        for d in (scope, child, conmon):
            d.mkdir()
        _run_in(conmon, ["unshare", "--pid", "--fork", "/usr/bin/cat", "/etc/hostname"])
        _run_in(child, ["unshare", "--pid", "--fork", "/usr/bin/head", "-c1", "/etc/os-release"])
        tracer.poll(100)
        raw = tracer.snapshot()
        matched = [p.decode() for _slot, p in tracer.cgroups]
    finally:
        tracer.close()
        for d in (child, scope, conmon):
            if d.exists():
                d.rmdir()
    assert matched == [f"/{cgroup.name}/{scope.name}", f"/{cgroup.name}/{scope.name}/container"]
    assert b"/etc/os-release" in raw.files and b"/etc/hostname" not in raw.files


def test_cgroup_made_by_a_task_of_the_container_is_its_too(cgroup):
    tracer = _tracer(cgroup)
    sub = cgroup / "made-inside"
    try:
        _run_in(cgroup, ["/bin/mkdir", str(sub)])   # runs inside the target: its creator
        _run_in(sub, ["unshare", "--pid", "--fork", "/usr/bin/head", "-c1", "/etc/os-release"])
        tracer.poll(100)
        raw = tracer.snapshot()
    finally:
        tracer.close()
        sub.rmdir()
    assert b"/etc/os-release" in raw.files


def test_attach_counts_the_running_app_at_once_and_newcomers_from_their_exec(cgroup):
    """A task of the container older than the session counts at first sight (its exec was
    long ago), with its children; a younger one only from an exec in its own PID namespace."""
    old = subprocess.Popen(["/bin/sh", "-c", "read go; cat /etc/hostname >/dev/null"],
                           stdin=subprocess.PIPE)
    try:
        (cgroup / "cgroup.procs").write_text(str(old.pid))
        tracer = _tracer(cgroup, attach=True, own_pid_namespace=True)
        tracer.begin()
        try:
            old.communicate(b"go\n", timeout=10)
            _run_in(cgroup, ["/usr/bin/tail", "-c1", "/etc/issue"])   # like runc init: not it
            _run_in(cgroup, ["unshare", "--pid", "--fork", "/usr/bin/head", "-c1",
                             "/etc/os-release"])                       # like docker exec
            tracer.poll(100)
            raw = tracer.snapshot()
        finally:
            tracer.close()
    finally:
        old.kill()
        old.wait()
    execs = {p.decode() for p in raw.execs}
    assert "/usr/bin/cat" in execs and b"/etc/hostname" in raw.files, execs
    assert "/usr/bin/head" in execs and "/usr/bin/tail" not in execs, execs
    assert b"/etc/issue" not in raw.files


# --- match mode: every container that starts gets a slot of its own (issue 13) ---------------

A, B, C = ("a1" * 32, "b2" * 32, "c3" * 32)  # made-up container ids


def _host_busy() -> bool:
    """Other containers come and go on this host (CI's is quiet; a shared one is not)."""
    return os.environ.get("CI") != "true"


def _matching(**kw):
    """A match-mode tracer that records what on_container heard and drops the ids in `drop`."""
    tracer = _tracer(match=True, **kw)
    tracer.heard = []
    tracer.drop_ids = set()
    tracer.others = 0

    def on_container(slot, cid, path):
        if cid not in (A, B, C):  # another container of this (possibly busy) host: dropped,
            tracer.drop(slot)     # as the session's matcher drops what does not match
            tracer.others += 1
            return
        tracer.heard.append((slot, cid, path.decode()))
        if cid in tracer.drop_ids:
            tracer.drop(slot)
        else:
            tracer.keep(slot)

    def on_unslotted(cid, path):  # every slot was taken: ours are a loss, others are not
        tracer.unslotted.append(cid)
        return cid in (A, B, C) and cid not in tracer.drop_ids

    tracer.unslotted = []
    tracer.on_container = on_container
    tracer.on_unslotted = on_unslotted
    return tracer


def _in_ns(*argv):
    return ["unshare", "--pid", "--fork", *argv]  # an exec in a PID namespace of its own: counts


def test_match_gives_each_new_container_its_own_slot(cgroup):
    """Docker's systemd-driver and cgroupfs-driver shapes, and crun's `container` child whose
    scope existed before the tracer: each gets a slot, announced once, whoever made the cgroup;
    each slot's trace has its own files and execs and not the others'. A 64-character name that
    is not hex is not a container."""
    scope_a, dir_b = cgroup / f"docker-{A}.scope", cgroup / B
    scope_c = cgroup / f"libpod-{C}.scope"
    scope_c.mkdir()
    not_an_id = cgroup / ("x" * 64)
    conmon = cgroup / f"libpod-conmon-{'d4' * 32}.scope"   # podman's monitor: no container
    tracer = _matching()
    made = [scope_a, dir_b, scope_c / "container", not_an_id, conmon]
    try:
        for d in made:
            d.mkdir()
        tracer.poll(100)
        _run_in(scope_a, _in_ns("/usr/bin/head", "-c1", "/etc/os-release"))
        _run_in(dir_b, _in_ns("/usr/bin/tail", "-c1", "/etc/hostname"))
        _run_in(scope_c / "container", _in_ns("/usr/bin/cat", "/etc/issue"))
        _run_in(not_an_id, _in_ns("/usr/bin/cat", "/etc/debian_version"))
        _run_in(conmon, _in_ns("/usr/bin/cat", "/etc/debian_version"))
        tracer.poll(100)
        raws = tracer.snapshot_slots()
    finally:
        tracer.close()
        for d in reversed(made):
            d.rmdir()
        scope_c.rmdir()
    slot = {cid: s for s, cid, _ in tracer.heard}
    assert sorted(slot) == sorted([A, B, C]) and len(tracer.heard) == 3, tracer.heard
    assert len(set(slot.values())) == 3 and 0 not in slot.values()
    assert {p for _, _, p in tracer.heard} == {
        f"/{cgroup.name}/{scope_a.name}", f"/{cgroup.name}/{B}",
        f"/{cgroup.name}/{scope_c.name}/container"}
    assert set(raws) == set(slot.values())
    own = {A: (b"/usr/bin/head", b"/etc/os-release"), B: (b"/usr/bin/tail", b"/etc/hostname"),
           C: (b"/usr/bin/cat", b"/etc/issue")}
    for cid, (exe, path) in own.items():
        raw = raws[slot[cid]]
        assert exe in raw.execs and path in raw.files, (cid, raw.execs, sorted(raw.files))
        others = [p for o, (_, p) in own.items() if o != cid]
        assert not any(p in raw.files for p in others), (cid, sorted(raw.files))
        assert b"/etc/debian_version" not in raw.files
        assert raw.counts and raw.peak_tasks >= 1


def test_match_dropped_container_stops_counting_and_its_restart_is_no_target(cgroup):
    """Dropped (its labels do not match): a task already counting in it stops, it is left out
    of the snapshots, and its cgroup made again (a restart) is not a target."""
    dir_a, dir_c = cgroup / A, cgroup / C
    tracer = _matching()
    waiting = None
    try:
        dir_a.mkdir()
        dir_c.mkdir()
        _run_in(dir_a, _in_ns("/usr/bin/head", "-c1", "/etc/os-release"))
        waiting = subprocess.Popen(
            _in_ns("/bin/sh", "-c", "head -c1 /etc/hostname; echo; read go; cat /etc/issue"),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            preexec_fn=lambda: (dir_c / "cgroup.procs").write_text("0"))
        waiting.stdout.readline()   # it has read /etc/hostname, counting
        tracer.poll(100)
        c_slot = next(s for s, cid, _ in tracer.heard if cid == C)
        before = tracer._snapshot([c_slot])[c_slot]   # what it counted before the drop
        tracer.drop(c_slot)
        waiting.communicate(b"go\n", timeout=10)
        waiting = None
        after = tracer._snapshot([c_slot])[c_slot]
        dir_c.rmdir()
        dir_c.mkdir()   # the container restarts: its cgroup again
        tracer.poll(100)
        restarted_is_target = tracer.is_target(dir_c.stat().st_ino)
        raws = tracer.snapshot_slots()
    finally:
        if waiting is not None:
            waiting.kill()
        tracer.close()
        for d in (dir_a, dir_c):
            if d.exists():
                d.rmdir()
    assert b"/etc/hostname" in before.files   # it counted until the drop
    # (the read it was blocked in may have been counted: it entered before the drop)
    from profiler.kernel import syscalls

    openat = syscalls.number_of(before.arch, "openat")
    assert b"/etc/issue" not in after.files and after.execs == before.execs
    assert after.counts[openat] == before.counts[openat]
    assert not restarted_is_target
    assert set(raws) == {s for s, cid, _ in tracer.heard if cid == A}
    assert len(tracer.heard) == 2   # the restart is not announced again


def test_match_restart_keeps_the_slot_and_records_the_second_run(cgroup):
    """A restart makes the container's cgroup again: same slot, not announced again, and what
    the second run does is recorded in it."""
    dir_a = cgroup / A
    tracer = _matching()
    try:
        dir_a.mkdir()
        _run_in(dir_a, _in_ns("/usr/bin/head", "-c1", "/etc/os-release"))
        dir_a.rmdir()
        dir_a.mkdir()
        _run_in(dir_a, _in_ns("/usr/bin/tail", "-c1", "/etc/hostname"))
        tracer.poll(100)
        raws = tracer.snapshot_slots()
        matched = list(tracer.cgroups)
    finally:
        tracer.close()
        if dir_a.exists():
            dir_a.rmdir()
    assert len(tracer.heard) == 1, tracer.heard
    slot = tracer.heard[0][0]
    assert [s for s, _ in matched] == [slot, slot]
    raw = raws[slot]
    assert {b"/usr/bin/head", b"/usr/bin/tail"} <= set(raw.execs)
    assert {b"/etc/os-release", b"/etc/hostname"} <= set(raw.files)


def test_match_user_space_slots_and_exhaustion(cgroup):
    """A running container named by user space takes a slot from new_slot (the kernel never
    hands that one out) and is not announced; with every slot taken, a new container is counted
    as a loss (once, also across its restarts) and not traced."""
    from profiler.kernel.wire import MAX_SLOTS

    dir_a, dir_b = cgroup / A, cgroup / B
    tracer = _matching()
    try:
        mine = tracer.new_slot()
        tracer.expect_container(A, mine)
        dir_a.mkdir()
        _run_in(dir_a, _in_ns("/usr/bin/head", "-c1", "/etc/os-release"))
        taken = []  # all but slot 0 and mine (fewer when the kernel took one for another
        while True:  # container of a busy host meanwhile)
            try:
                taken.append(tracer.new_slot())
            except EnvironmentProblem:
                break
        for _ in range(2):
            dir_b.mkdir()
            _run_in(dir_b, _in_ns("/usr/bin/tail", "-c1", "/etc/hostname"))
            dir_b.rmdir()
        tracer.poll(100)
        raws = tracer.snapshot_slots()
        with pytest.raises(Exception, match="slots"):
            tracer.new_slot()
    finally:
        tracer.close()
        for d in (dir_a, dir_b):
            if d.exists():
                d.rmdir()
    assert mine == MAX_SLOTS - 1 and mine not in taken and 0 not in taken
    assert tracer.heard == []
    assert set(raws) == {mine}
    assert b"/etc/os-release" in raws[mine].files and b"/etc/hostname" not in raws[mine].files
    # once for B (across its restart); a busy host's containers that start while every slot
    # is taken are judged unrelated by on_unslotted and are no loss
    assert raws[mine].loss["slots_exhausted"] == 1
    assert tracer.unslotted.count(B) == 1
    assert tracer.unslotted_unrelated == len(tracer.unslotted) - 1


def test_match_an_unrelated_container_without_a_slot_is_no_loss_and_is_judged_again(cgroup):
    """With every slot taken, an unrelated container (judged so by on_unslotted) is not traced
    and no loss; its SLOT_NONE entry is deleted (a busy host's containers would fill
    `expected`), so once a slot is free its restart is claimed and announced again."""
    dir_b = cgroup / B
    tracer = _matching()
    tracer.drop_ids.add(B)
    try:
        taken = []
        while True:
            try:
                taken.append(tracer.new_slot())
            except EnvironmentProblem:
                break
        dir_b.mkdir()
        tracer.poll(100)
        raws = tracer.snapshot_slots()
        from profiler.kernel.wire import SLOT_NONE
        left = [v.value for k, v in tracer.bpf["expected"].items()
                if bytes(k.id).decode() == B]
        dir_b.rmdir()
        tracer._slots.discard(taken[0])  # a slot given back (as _recycle does)
        from ctypes import c_uint32
        del tracer.bpf["slot_claims"][c_uint32(taken[0])]
        dir_b.mkdir()
        tracer.poll(100)
    finally:
        tracer.close()
        if dir_b.exists():
            dir_b.rmdir()
    assert tracer.unslotted.count(B) == 1 and left == [] and SLOT_NONE not in left
    assert all(raw.loss["slots_exhausted"] == 0 for raw in raws.values())
    assert [(s, cid) for s, cid, _ in tracer.heard] == [(taken[0], B)]


def test_match_kernel_never_hands_out_slot_0(cgroup):
    """Slot 0 is the tracer's own row. User space claims it once the programs are attached; a
    container whose cgroup appears before that claim must still get another slot (the claim is
    taken back here to stand for that moment)."""
    from bcc.libbcc import lib

    tracer = _matching()
    key = ct.c_uint32(0)
    assert lib.bpf_delete_elem(tracer.bpf["slot_claims"].map_fd, ct.byref(key)) == 0
    made = cgroup / f"docker-{A}.scope"
    try:
        made.mkdir()
        tracer.poll(100)
    finally:
        tracer.close()
        made.rmdir()
    assert [(cid, slot > 0) for slot, cid, _ in tracer.heard if cid == A] == [(A, True)], \
        tracer.heard
