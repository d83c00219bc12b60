"""Directory fds made every way but open, each used for one relative path (run by
test_record_paths_integration in exec mode): dup2, fcntl(F_DUPFD_CLOEXEC), inherited across
exec, received over a unix socket (SCM_RIGHTS), fchdir, and a /proc/self/fd/N path.
Creates ROOT/<how>/f for each; `python3 kpath_dirfds.py ROOT`."""

import fcntl
import os
import socket
import sys

O_NEW = os.O_CREAT | os.O_WRONLY


def make(name: str, dir_fd: int | None = None) -> None:
    os.close(os.open(name, O_NEW, 0o600, dir_fd=dir_fd))


def main(root: str) -> None:
    if len(sys.argv) > 2:  # the exec'd child: its dirfd was inherited
        make("f", dir_fd=int(sys.argv[2]))
        return
    dirs = {}
    for how in ("dup2", "dupfd", "inherited", "scm", "fchdir", "procfd"):
        os.makedirs(f"{root}/{how}", exist_ok=True)
        dirs[how] = os.open(f"{root}/{how}", os.O_RDONLY | os.O_DIRECTORY)
    os.dup2(dirs["dup2"], 50)
    make("f", dir_fd=50)
    make("f", dir_fd=fcntl.fcntl(dirs["dupfd"], fcntl.F_DUPFD_CLOEXEC, 60))
    os.set_inheritable(dirs["inherited"], True)
    pid = os.fork()
    if pid == 0:
        os.execv(sys.executable, [sys.executable, __file__, root, str(dirs["inherited"])])
    os.waitpid(pid, 0)
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    socket.send_fds(a, [b"x"], [dirs["scm"]])
    _msg, fds, _flags, _addr = socket.recv_fds(b, 1, 1)
    make("f", dir_fd=fds[0])
    os.fchdir(dirs["fchdir"])
    make("f")
    make(f"/proc/self/fd/{dirs['procfd']}/f")


if __name__ == "__main__":
    main(sys.argv[1])
