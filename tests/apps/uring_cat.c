// uring_cat: reads a file through io_uring (IORING_OP_OPENAT, then IORING_OP_READ) by raw
// syscalls (io_uring_setup + mmap + io_uring_enter; no liburing), as an app that prefers
// io_uring would. When io_uring_setup fails (ENOSYS on a kernel without it, EPERM where it is
// disabled) it falls back to openat/read, as liburing users do. Before that it reads a
// configuration file with plain syscalls, as every app does at start.
// Used by tests/test_privexec_integration.py.
#include <errno.h>
#include <fcntl.h>
#include <linux/io_uring.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

struct ring {
    int fd;
    unsigned *sq_tail, *sq_mask, *sq_array, *cq_head, *cq_tail, *cq_mask;
    struct io_uring_sqe *sqes;
    struct io_uring_cqe *cqes;
};

static int ring_init(struct ring *r) {
    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    r->fd = syscall(__NR_io_uring_setup, 4, &p);
    if (r->fd < 0)
        return -errno;
    size_t sqsz = p.sq_off.array + p.sq_entries * sizeof(unsigned);
    size_t cqsz = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
    char *sq = mmap(0, sqsz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd,
                    IORING_OFF_SQ_RING);
    char *cq = mmap(0, cqsz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, r->fd,
                    IORING_OFF_CQ_RING);
    r->sqes = mmap(0, p.sq_entries * sizeof(struct io_uring_sqe), PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_POPULATE, r->fd, IORING_OFF_SQES);
    if (sq == MAP_FAILED || cq == MAP_FAILED || r->sqes == MAP_FAILED)
        return -errno;
    r->sq_tail = (unsigned *)(sq + p.sq_off.tail);
    r->sq_mask = (unsigned *)(sq + p.sq_off.ring_mask);
    r->sq_array = (unsigned *)(sq + p.sq_off.array);
    r->cq_head = (unsigned *)(cq + p.cq_off.head);
    r->cq_tail = (unsigned *)(cq + p.cq_off.tail);
    r->cq_mask = (unsigned *)(cq + p.cq_off.ring_mask);
    r->cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
    return 0;
}

static int submit_wait(struct ring *r, const struct io_uring_sqe *sqe) {
    unsigned tail = *r->sq_tail, idx = tail & *r->sq_mask;
    r->sqes[idx] = *sqe;
    r->sq_array[idx] = idx;
    __atomic_store_n(r->sq_tail, tail + 1, __ATOMIC_RELEASE);
    if (syscall(__NR_io_uring_enter, r->fd, 1, 1, IORING_ENTER_GETEVENTS, NULL, 0) < 0)
        return -errno;
    unsigned head = __atomic_load_n(r->cq_head, __ATOMIC_ACQUIRE);
    while (head == __atomic_load_n(r->cq_tail, __ATOMIC_ACQUIRE))
        ;
    int res = r->cqes[head & *r->cq_mask].res;
    __atomic_store_n(r->cq_head, head + 1, __ATOMIC_RELEASE);
    return res;
}

int main(int argc, char **argv) {
    const char *path = argc > 1 ? argv[1] : "/etc/debian_version";
    char buf[256];
    int cfg = open("/etc/os-release", O_RDONLY);   // plain syscalls, as at every start
    if (cfg >= 0) {
        read(cfg, buf, sizeof buf);
        close(cfg);
    }
    struct ring r;
    int n, rc = ring_init(&r);
    if (rc < 0) {
        printf("io_uring unavailable (%s): plain syscalls\n", strerror(-rc));
        int fd = open(path, O_RDONLY);
        n = fd < 0 ? -errno : read(fd, buf, sizeof buf - 1);
        if (fd >= 0)
            close(fd);
    } else {
        struct io_uring_sqe sqe;
        memset(&sqe, 0, sizeof sqe);
        sqe.opcode = IORING_OP_OPENAT;
        sqe.fd = AT_FDCWD;
        sqe.addr = (unsigned long)path;
        sqe.open_flags = O_RDONLY;
        int fd = submit_wait(&r, &sqe);
        if (fd < 0) {
            fprintf(stderr, "io_uring openat: %s\n", strerror(-fd));
            return 1;
        }
        memset(&sqe, 0, sizeof sqe);
        sqe.opcode = IORING_OP_READ;
        sqe.fd = fd;
        sqe.addr = (unsigned long)buf;
        sqe.len = sizeof buf - 1;
        n = submit_wait(&r, &sqe);
        close(fd);
        printf("read through io_uring\n");
    }
    if (n <= 0) {
        fprintf(stderr, "read %s: %s\n", path, n < 0 ? strerror(-n) : "empty");
        return 1;
    }
    buf[n] = 0;
    printf("%s", buf);
    return 0;
}
