"""The tracer's event bookkeeping without the kernel (profiler/kernel/correlate.py): records as
the ring buffer delivers them, in order, built by hand; no bcc, no root."""

from types import SimpleNamespace

from profiler.kernel.correlate import Correlator, privexec_key
from profiler.kernel.pathres import PathResolver
from profiler.kernel.wire import AT_FDCWD, EventType, PrivExecFlag

A = "a1" * 32  # a container id


def ev(kind, tgid=10, tid=None, path=b"", dirfd=0, slot=0, aux=0):
    return SimpleNamespace(type=kind, tgid=tgid, tid=tid or tgid, path=path, dirfd=dirfd,
                           slot=slot, aux=aux)


def creds(uid, euid):
    return SimpleNamespace(uid=uid, euid=euid, gid=0, egid=0, cap_effective=0, cap_permitted=0)


def privexec(tid, path, slot=0, before=True):
    flags = PrivExecFlag.SETID_FILE | (PrivExecFlag.BEFORE_KNOWN if before else 0)
    return SimpleNamespace(tid=tid, slot=slot, path=path, flags=flags, before=creds(1000, 1000),
                           after=creds(1000, 0), file_mode=0o4755, file_uid=0, file_gid=0)


def correlator(ms=7):
    return Correlator(PathResolver(b"/", lambda pid, fd: None), lambda: ms)


def test_exec_and_fork_say_who_runs_what():
    c = correlator()
    c.event(ev(EventType.EXEC, tgid=10, path=b"/bin/sh"))
    c.event(ev(EventType.FORK, tgid=10, dirfd=11))  # the child's tid travels in dirfd
    c.event(ev(EventType.EXEC, tgid=12, path=b"/usr/bin/env"))
    seen = c.seen_in(0)
    assert seen.execs == {b"/bin/sh": 1, b"/usr/bin/env": 1}
    assert seen.exe_of == {10: b"/bin/sh", 11: b"/bin/sh", 12: b"/usr/bin/env"}
    assert seen.first["execs"] == {b"/bin/sh": 7, b"/usr/bin/env": 7}


def test_a_relative_exec_is_resolved_against_the_cwd_the_events_set():
    c = correlator()
    c.event(ev(EventType.CHDIR, tgid=10, dirfd=AT_FDCWD, path=b"/opt/app"))
    c.event(ev(EventType.EXEC, tgid=10, path=b"./run"))
    assert c.seen_in(0).execs == {b"/opt/app/run": 1}


def test_the_resolved_executable_is_kept_only_when_it_differs():
    c = correlator()
    c.event(ev(EventType.EXEC, tgid=10, path=b"/usr/bin/python3"))
    c.event(ev(EventType.EXE_RESOLVED, tgid=10, path=b"/usr/bin/python3.11"))
    c.event(ev(EventType.EXEC, tgid=20, path=b"/bin/true"))
    c.event(ev(EventType.EXE_RESOLVED, tgid=20, path=b"/bin/true"))
    c.event(ev(EventType.EXE_RESOLVED, tgid=30, path=b"/bin/nobody-exec-d-this"))
    assert c.seen_in(0).exe_resolved == {b"/usr/bin/python3": b"/usr/bin/python3.11"}


def test_a_setid_exec_is_counted_with_the_path_its_exec_resolved():
    c = correlator()
    c.event(ev(EventType.CHDIR, tgid=10, dirfd=AT_FDCWD, path=b"/usr/bin"))
    p = privexec(10, b"./sudo")
    c.privexec(p)
    assert c.seen_in(0).privexecs == {}  # until its EXEC
    c.event(ev(EventType.EXEC, tgid=10, path=b"./sudo"))
    assert c.seen_in(0).privexecs == {(b"/usr/bin/sudo",) + privexec_key(p)[1:]: 1}
    assert c.privexec_pending == {}


def test_a_setid_exec_whose_exec_was_lost_counts_with_the_path_as_given():
    c = correlator()
    mine, other = privexec(10, b"/usr/bin/su", slot=1), privexec(20, b"/bin/ping", slot=2)
    c.privexec(mine)
    c.privexec(other)
    assert c.privexecs_of(1) == {privexec_key(mine): 1}
    assert c.privexecs_of(2) == {privexec_key(other): 1}  # each slot its own
    unknown_before = privexec(30, b"/bin/x", before=False)
    assert privexec_key(unknown_before)[1] is None


def test_reading_privexecs_for_a_snapshot_changes_nothing():
    """record --snapshot-every reads while the recording runs: an exec whose EXEC comes after
    the snapshot is then counted once, with the path its exec resolved (the old flush counted
    it at the snapshot with the path as given, and again never)."""
    c = correlator()
    c.event(ev(EventType.CHDIR, tgid=10, dirfd=AT_FDCWD, path=b"/usr/bin"))
    p = privexec(10, b"./sudo")
    c.privexec(p)
    assert c.privexecs_of(0) == {privexec_key(p): 1}  # the snapshot: the path as given
    assert c.privexecs_of(0) == {privexec_key(p): 1}  # and again: nothing was consumed
    c.event(ev(EventType.EXEC, tgid=10, path=b"./sudo"))
    assert c.privexecs_of(0) == {(b"/usr/bin/sudo",) + privexec_key(p)[1:]: 1}


def test_slots_are_kept_apart_and_new_ones_announced():
    c = correlator()
    c.event(ev(EventType.EXEC, tgid=10, path=b"/bin/a", slot=1))
    c.event(ev(EventType.EXEC, tgid=10, path=b"/bin/b", slot=2))
    c.event(ev(EventType.SLOT, slot=3, path=f"/system.slice/docker-{A}.scope".encode()))
    c.event(ev(EventType.CGROUP, dirfd=3, path=b"/docker/x"))
    assert c.seen_in(1).execs == {b"/bin/a": 1} and c.seen_in(2).execs == {b"/bin/b": 1}
    assert c.new_slots == [(3, A, f"/system.slice/docker-{A}.scope".encode())]
    assert c.cgroups == [(3, b"/docker/x")]


def test_exited_tasks_are_forgotten_and_what_the_recording_reports_stays():
    """A recording of days sees millions of short-lived tasks: their per-task state (cwd,
    directory fds, what each runs) goes once they exit; execs and resolved paths stay."""
    c = correlator()
    c.event(ev(EventType.EXEC, tgid=10, path=b"/bin/sh"))
    c.event(ev(EventType.CHDIR, tgid=10, dirfd=AT_FDCWD, path=b"/srv"))
    for child in range(11, 111):  # a shell loop: a child a command
        c.event(ev(EventType.FORK, tgid=10, dirfd=child))
        c.event(ev(EventType.DIRFD, tgid=child, dirfd=AT_FDCWD, path=b"data", aux=3))
        c.event(ev(EventType.FILE, tgid=child, dirfd=3, path=b"x.db"))
        c.event(ev(EventType.EXEC, tgid=child, path=b"./tool"))
    assert c.tasks() == set(range(10, 111))
    c.forget(set(range(11, 111)))
    assert c.tasks() == {10}
    assert c.seen_in(0).execs == {b"/bin/sh": 1, b"/srv/tool": 100}
    assert c.paths.file_key(50, 3, b"x.db") == b"/srv/data/x.db"  # resolved while it lived
    c.event(ev(EventType.FORK, tgid=10, dirfd=200))  # the living parent still hands on its cwd
    c.event(ev(EventType.EXEC, tgid=200, path=b"./again"))
    assert c.seen_in(0).execs[b"/srv/again"] == 1


def test_the_tracer_forgets_a_task_only_when_two_passes_found_it_gone(monkeypatch):
    """Its last events may still wait in the ring buffer at the first pass."""
    from profiler.kernel import tracer as tracer_mod

    c = correlator()
    for tgid in (10, 11, 12):
        c.event(ev(EventType.EXEC, tgid=tgid, path=b"/bin/x"))
    t = object.__new__(tracer_mod.Tracer)
    t.events, t._forget_at, t._gone_before = c, 0.0, set()
    alive = {10, 11, 12}
    monkeypatch.setattr(tracer_mod.os.path, "exists",
                        lambda p: int(p.rsplit("/", 1)[1]) in alive)
    alive -= {11}
    t._forget_exited(now=100.0)
    assert c.tasks() == {10, 11, 12}  # gone once: kept
    t._forget_exited(now=110.0)  # too soon for another pass
    alive -= {12}
    t._forget_exited(now=131.0)
    assert c.tasks() == {10, 12}  # 11 gone twice: forgotten; 12 once
    t._forget_exited(now=162.0)
    assert c.tasks() == {10}
