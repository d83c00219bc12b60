// setuid_helper: installed set-uid root (chmod 4755, owned by root) and run by a non-root
// user, it reads a root-only file (mode 0600) with the euid 0 it gains at exec, as a
// privileged helper does. Exit 0 when it could, 1 when it could not (no-new-privileges).
// Used by tests/test_privexec_integration.py.
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "/secret";
    char buf[128];
    printf("uid %d euid %d\n", getuid(), geteuid());
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        printf("cannot read %s: %s\n", path, strerror(errno));
        return 1;
    }
    int n = read(fd, buf, sizeof buf - 1);
    close(fd);
    printf("read %d bytes of %s\n", n, path);
    return n > 0 ? 0 : 1;
}
