// Bench helper, built statically and run inside a container (or on the host) by bench/*.py.
//   loadgen getppid N        N raw getppid syscalls; prints the loop's wall time in ns
//   loadgen getppid-cpu N    the same; prints the loop's CPU time in ns
//   loadgen files N DIR      creates N distinct files DIR/f<i> (100,000 distinct paths)
//   loadgen now              prints CLOCK_REALTIME in ns (when the entrypoint first ran)
//   loadgen relopen N DIR    N openat(dirfd of DIR, "f") + close; prints the loop's time in ns
//                            (a relative path: what the in-kernel path walk costs)
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static long long ns(clockid_t c) {
    struct timespec t;
    clock_gettime(c, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

int main(int argc, char **argv) {
    long long start = ns(CLOCK_REALTIME);
    if (argc >= 3 && (!strcmp(argv[1], "getppid") || !strcmp(argv[1], "getppid-cpu"))) {
        // getppid-cpu: the loop's CPU time (user and system, which includes what BPF programs
        // run in its syscalls), not wall time: on a shared, oversubscribed machine the time
        // the loop waits for a CPU is not the tracer's.
        clockid_t c = argv[1][7] ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC;
        long n = atol(argv[2]);
        long long t0 = ns(c);
        for (long i = 0; i < n; i++)
            syscall(SYS_getppid);
        printf("%lld\n", ns(c) - t0);
        return 0;
    }
    if (argc >= 4 && !strcmp(argv[1], "files")) {
        long n = atol(argv[2]);
        char p[512];
        for (long i = 0; i < n; i++) {
            snprintf(p, sizeof p, "%s/f%ld", argv[3], i);
            int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
            if (fd < 0) { perror(p); return 1; }
            close(fd);
        }
        printf("%ld\n", n);
        return 0;
    }
    if (argc >= 4 && !strcmp(argv[1], "relopen")) {
        long n = atol(argv[2]);
        int dir = open(argv[3], O_RDONLY | O_DIRECTORY);
        if (dir < 0) { perror(argv[3]); return 1; }
        long long t0 = ns(CLOCK_MONOTONIC);
        for (long i = 0; i < n; i++) {
            int fd = openat(dir, "f", O_WRONLY | O_CREAT, 0600);
            if (fd < 0) { perror("openat"); return 1; }
            close(fd);
        }
        printf("%lld\n", ns(CLOCK_MONOTONIC) - t0);
        return 0;
    }
    if (argc >= 2 && !strcmp(argv[1], "now")) {
        printf("%lld\n", start);
        return 0;
    }
    fprintf(stderr, "usage: loadgen getppid[-cpu] N | files N DIR | relopen N DIR | now\n");
    return 2;
}
