/* A path storm (issue 20): N distinct paths opened once each, as fast as the CPU allows
 * (they do not exist: each open fails with ENOENT, which a recording keeps as well). The test
 * compares what the recorder kept plus what it counted as lost with N: exactly equal.
 * Usage: path_storm N [PREFIX] */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 2)
        return 2;
    long n = atol(argv[1]);
    const char *prefix = argc > 2 ? argv[2] : "/nonexistent-storm";
    char path[256];
    for (long i = 0; i < n; i++) {
        snprintf(path, sizeof(path), "%s/%ld", prefix, i);
        int fd = open(path, O_RDONLY);
        if (fd >= 0)
            close(fd);
    }
    return 0;
}
