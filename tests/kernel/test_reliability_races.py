"""Races between the kernel programs and user space (issue 20), made deterministic.

bcc attaches each TRACEPOINT_PROBE/RAW_TRACEPOINT_PROBE program while it loads it: they run
before `BPF()` returns, while the maps user space fills afterwards are still empty. A container
whose cgroup appeared in that window used to take match mode's slot 0 (the tracer's own row)
and crash the session ("internal error: ValueError: not a match-mode slot: 0"). The cgroups
here are real cgroup v2 directories named like containers (64 hex digits), made with mkdir at
the exact moment under test: the kernel's cgroup_mkdir tracepoint sees them as Docker's.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.root


def _v2_root() -> Path:
    from profiler.session.session import v2_root
    return v2_root()


@pytest.fixture
def fake_cgroups(require_root):
    """mkdir(name) -> a new cgroup v2 directory named like a container, under a parent of this
    test's own (removed afterwards, children first)."""
    parent = _v2_root() / f"profiler-test-{secrets.token_hex(4)}"
    parent.mkdir()
    made: list[Path] = []

    def mkdir(cid: str | None = None) -> Path:
        p = parent / (cid or secrets.token_hex(32))
        p.mkdir()
        made.append(p)
        return p

    yield mkdir
    for p in reversed(made):
        try:
            p.rmdir()
        except OSError:
            pass
    parent.rmdir()


def test_a_container_cgroup_made_while_the_programs_load_takes_no_slot(fake_cgroups, monkeypatch):
    """The cgroup appears after the programs are attached and before user space has claimed
    slot 0 and filled its tables: nothing may happen until the tracer is armed."""
    from profiler.kernel import tracer as tracer_mod

    original = tracer_mod.Tracer._fill_classes
    early = []

    def fill_classes_late(self):
        early.append(fake_cgroups())  # the programs are attached by now (bcc loads = attaches)
        original(self)

    monkeypatch.setattr(tracer_mod.Tracer, "_fill_classes", fill_classes_late)
    t = tracer_mod.Tracer(containers=True, match=True, own_pid_namespace=False)
    try:
        announced, slots = [], []

        def drop_all(slot, cid, path):
            slots.append(slot)
            if b"/profiler-test-" in path:  # ours; a busy host's own containers come too
                announced.append((slot, cid))
            t.drop(slot)  # the session drops what does not match: slot 0 raised ValueError

        t.on_container = drop_all
        t.drain()
        assert announced == [] and t.stray_events == 0
        late = fake_cgroups()  # once armed, a new container is announced in a slot of its own
        t.drain()
        assert [cid for _, cid in announced] == [late.name]
        assert all(0 < slot < t.nslots for slot in slots)
        assert t._row("loss", 0, 8) == [0] * 8
    finally:
        t.close()


def test_slots_of_dropped_containers_are_reused(fake_cgroups):
    """Hundreds of unrelated containers on a busy host, each announced and dropped: the 63
    slots are given out again, and a container that matches after them is still traced in a
    slot of its own, with nothing lost."""
    from profiler.kernel.tracer import Tracer
    from profiler.kernel.wire import MAX_SLOTS

    t = Tracer(containers=True, match=True, own_pid_namespace=False)
    try:
        wanted = secrets.token_hex(32)
        kept = {}

        def judge(slot, cid, path):
            if cid == wanted:
                t.keep(slot)
                kept[slot] = cid
            else:
                t.drop(slot)

        t.on_container = judge
        t.RECYCLE_AFTER_S = 0.0
        n = 2 * MAX_SLOTS  # (a flood of container cgroups: other recorders on the host see it)
        for _ in range(n):
            fake_cgroups()
            t.drain()
        fake_cgroups(wanted)
        t.drain()
        assert list(kept.values()) == [wanted]
        assert t.recycled >= n - MAX_SLOTS
        assert sum(t._row("loss", 0, 8)) == 0  # no slots_exhausted, no map_full
        # the wanted one's cgroup is a target of its slot; the dropped ones' are not
        slot = next(iter(kept))
        assert sorted(v.value for v in t.bpf["targets"].values()) == [slot]
    finally:
        t.close()


LOOP = r"""
import os, sys
if sys.argv[1] != "-":                     # join the cgroup, then exec: counts from here
    with open(os.path.join(sys.argv[1], "cgroup.procs"), "w") as f:
        f.write(str(os.getpid()))
    os.execv(sys.executable, [sys.executable, "-c", sys.argv[2], "-", sys.argv[2]])
for _ in range(2):                         # a loop while its slot is its own, then after reuse
    sys.stdin.readline()
    for _ in range(2000):
        os.getppid()
    sys.stdout.write("done\n"); sys.stdout.flush()
sys.stdin.readline()
"""


def test_a_task_of_a_dropped_container_never_counts_for_the_slots_next_owner(fake_cgroups):
    """A task that lives on in a dropped (unrelated) container keeps its state in task
    storage; when its slot serves another container, that state is stale (its generation is
    older) and it must not count there."""
    from profiler.kernel.tracer import Tracer
    from profiler.kernel.syscalls import number_of

    t = Tracer(containers=True, match=True, own_pid_namespace=False)
    try:
        slots = {}
        t.on_container = lambda slot, cid, path: slots.setdefault(cid, slot) and t.keep(slot)
        old = fake_cgroups()
        t.drain()
        proc = subprocess.Popen([sys.executable, "-c", LOOP, str(old), LOOP],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        getppid = number_of(t.arch, "getppid")
        try:
            slot = slots[old.name]
            proc.stdin.write("go\n"); proc.stdin.flush()
            assert proc.stdout.readline() == "done\n"
            assert t._row("counts", slot, 1024)[getppid] >= 2000  # it counts in its own slot
            t.drop(slot)
            t.RECYCLE_AFTER_S = 0.0
            t._recycle(force=True)
            assert slot not in t._slots
            # the next container takes the slot again (the claim hint wraps round)
            t.bpf["slot_hint"][0] = type(t.bpf["slot_hint"][0])(slot)
            new = fake_cgroups()
            t.drain()
            assert slots[new.name] == slot
            proc.stdin.write("go\n"); proc.stdin.flush()
            assert proc.stdout.readline() == "done\n"
            assert t._row("counts", slot, 1024)[getppid] == 0
        finally:
            proc.kill()
            proc.wait()
    finally:
        t.close()
