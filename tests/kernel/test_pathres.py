"""Path resolution from hand-made event sequences (pure, no root): fork, exec, chdir, directory
fds, relative and dirfd-relative opens, AT_EMPTY_PATH, and a lost event answered from /proc."""

from __future__ import annotations

import pytest

from profiler.kernel.pathres import PathResolver, join
from profiler.kernel.wire import AT_FDCWD

PARENT, CHILD, THREAD = 100, 200, 101


class FakeProc:
    """What /proc would say: {(pid, dirfd): path}; every lookup is remembered."""

    def __init__(self, view: dict[tuple[int, int], bytes] | None = None):
        self.view = view or {}
        self.asked: list[tuple[int, int]] = []

    def __call__(self, pid: int, dirfd: int) -> bytes | None:
        self.asked.append((pid, dirfd))
        return self.view.get((pid, dirfd))


@pytest.fixture
def proc() -> FakeProc:
    return FakeProc({(PARENT, AT_FDCWD): b"/srv"})


@pytest.fixture
def paths(proc) -> PathResolver:
    p = PathResolver(b"/", proc)
    assert p.exec(PARENT, PARENT, b"/usr/bin/app") == b"/usr/bin/app"  # the entrypoint
    return p


def test_first_exec_reads_the_cwd_from_proc_and_resolves_a_relative_executable(proc):
    p = PathResolver(b"/", proc)
    assert p.exec(PARENT, PARENT, b"./bin/app") == b"/srv/bin/app"
    assert proc.asked == [(PARENT, AT_FDCWD)]
    assert p.resolve(PARENT, PARENT, AT_FDCWD, b"conf") == b"/srv/conf"


def test_task_gone_from_proc_starts_in_the_initial_cwd():
    p = PathResolver(b"/work", FakeProc())
    assert p.exec(5, 5, b"run") == b"/work/run"


def test_relative_open_resolves_against_the_cwd_when_streamed(paths, proc):
    paths.file_seen(PARENT, PARENT, AT_FDCWD, b"../etc/app.conf")
    proc.view.clear()  # the process has exited by the end: the recorded answer stays
    assert paths.file_key(PARENT, AT_FDCWD, b"../etc/app.conf") == b"/etc/app.conf"


def test_chdir_moves_the_task_and_later_opens_follow(paths):
    paths.chdir(PARENT, PARENT, AT_FDCWD, b"data")  # relative to /srv
    paths.file_seen(PARENT, PARENT, AT_FDCWD, b"x.db")
    paths.chdir(PARENT, PARENT, 0, b"/tmp")  # absolute (record.c sends dirfd 0)
    paths.file_seen(PARENT, PARENT, AT_FDCWD, b"y")
    assert paths.file_key(PARENT, AT_FDCWD, b"x.db") == b"/srv/data/x.db"
    assert paths.file_key(PARENT, AT_FDCWD, b"y") == b"/tmp/y"


def test_fork_hands_the_cwd_and_directory_fds_to_the_child(paths, proc):
    paths.dirfd_opened(PARENT, PARENT, 0, b"/var/cache", 5)
    paths.fork(PARENT, PARENT, CHILD)
    proc.view.clear()  # the child is short-lived: /proc never sees it
    paths.chdir(PARENT, PARENT, 0, b"/elsewhere")  # the parent moving later does not move it
    assert paths.resolve(CHILD, CHILD, AT_FDCWD, b"a") == b"/srv/a"
    assert paths.resolve(CHILD, CHILD, 5, b"b") == b"/var/cache/b"


def test_a_thread_without_its_own_cwd_uses_its_process_cwd(paths):
    paths.chdir(PARENT, PARENT, 0, b"/opt")
    assert paths.resolve(PARENT, THREAD, AT_FDCWD, b"f") == b"/opt/f"


def test_dirfd_relative_opens_and_a_directory_opened_relative_to_another(paths):
    paths.dirfd_opened(PARENT, PARENT, 0, b"/data", 3)
    paths.dirfd_opened(PARENT, PARENT, 3, b"sub", 4)  # openat(3, "sub", O_DIRECTORY) = 4
    paths.file_seen(PARENT, PARENT, 4, b"file")
    assert paths.file_key(PARENT, 4, b"file") == b"/data/sub/file"


def test_at_empty_path_names_the_directory_fd_itself(paths):
    paths.dirfd_opened(PARENT, PARENT, 0, b"/data", 3)
    paths.file_seen(PARENT, PARENT, 3, b"")
    assert paths.file_key(PARENT, 3, b"") == b"/data"


def test_a_lost_dirfd_event_falls_back_to_the_process_view(paths, proc):
    proc.view[(PARENT, 9)] = b"/from/proc"
    assert paths.file_key(PARENT, 9, b"x") == b"/from/proc/x"  # its FILE event was lost too
    assert (PARENT, 9) in proc.asked


def test_unknown_everywhere_stays_unresolved(paths):
    assert paths.file_key(PARENT, 42, b"x") is None
    paths.chdir(999, 999, 42, b"nowhere")  # nothing to resolve against: the cwd is unchanged
    assert paths.resolve(999, 999, AT_FDCWD, b"x") is None


@pytest.mark.parametrize("base, rel, want", [
    (b"/", b"a/../b", b"/b"), (b"/srv/", b"./x", b"/srv/x"), (b"/srv", b"/abs", b"/abs"),
    (b"/srv", b"", b"/srv"),
])
def test_join(base, rel, want):
    assert join(base, rel) == want
