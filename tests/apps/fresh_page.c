/* Syscall arguments in pages that are not faulted in yet (issue 20): a user-memory read at
 * syscall entry fails there (BPF cannot fault a page in), while the syscall itself faults the
 * page in and succeeds. Each argument lives in a page of its own of a MAP_PRIVATE file mapping
 * that this program never touches (a mapping per page: see below): a path (openat), an address (connect, bind), an open_how
 * (openat2). Usage: fresh_page DATAFILE PORT. The data file is written by the test:
 *   page 0: a NUL-terminated path; page 1: a sockaddr_in for connect; page 2: one for bind;
 *   page 3: struct open_how; page 4: the path for openat2.
 * Exits 0 when every call did what it should (the connect is refused: nothing listens).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: fresh_page DATAFILE\n");
        return 2;
    }
    long page = sysconf(_SC_PAGESIZE);
    int fd = open(argv[1], O_RDONLY);
    if (fd < 0) {
        perror("open");
        return 2;
    }
    /* Each page of the file in a mapping of its own, with a PROT_NONE page between them: the
     * kernel's fault-around maps neighbouring pages of the same mapping when one is faulted in,
     * so one mapping would have the syscall for page 0 map the pages of the later calls. */
    char *m = mmap(NULL, 10 * page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
        perror("mmap");
        return 2;
    }
    for (int i = 0; i < 5; i++) {
        if (mmap(m + 2 * i * page, page, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd,
                 i * page) == MAP_FAILED) {
            perror("mmap");
            return 2;
        }
    }
#define ARG(i) (m + 2 * (i) * page)
    int ok = 1;
    int f = openat(AT_FDCWD, ARG(0), O_RDONLY);
    if (f < 0) { perror("openat"); ok = 0; } else close(f);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(s, (struct sockaddr *)ARG(1), sizeof(struct sockaddr_in)) == 0 ||
        errno != ECONNREFUSED) { perror("connect"); ok = 0; }
    close(s);
    s = socket(AF_INET, SOCK_STREAM, 0);
    if (bind(s, (struct sockaddr *)ARG(2), sizeof(struct sockaddr_in)) < 0) {
        perror("bind"); ok = 0;
    }
    close(s);
    f = syscall(SYS_openat2, AT_FDCWD, ARG(4), ARG(3), 24);
    if (f < 0 && errno != ENOSYS) { perror("openat2"); ok = 0; } else if (f >= 0) close(f);
    return ok ? 0 : 1;
}
