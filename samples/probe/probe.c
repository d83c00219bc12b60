/*
 * probe: a purpose-built sample whose behaviour is known exactly, so that integration tests can
 * compare a recording with samples/probe/expected.yaml. It runs as root in its container, does
 * each action below once, checks that each had the intended result, and exits 0 (1 with a
 * message on stderr when something did not happen as intended).
 *
 * Built statically (gcc -O2 -static -pthread) by scripts/build-samples.sh: no dynamic loader,
 * so the syscalls seen are the program's and glibc's start-up only.
 *
 * Syscalls that expected.yaml names are made with syscall(SYS_...) so that glibc's choice of
 * wrapper cannot change them; the *at forms are used because they exist on every architecture.
 * Paths avoid symlinks (/usr/bin/true, not /bin/true; /etc/debian_version, not os-release)
 * so that the expected path is the same whether or not a recorder resolves links.
 *
 *   probe                 the standard run
 *   probe mkdir-chown     additionally mkdir /tmp/extra and chown it to 1000:1000
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif

static const char *step = "start";

static void check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "probe: %s failed at step '%s': %s\n", what, step, strerror(errno));
		exit(1);
	}
}

static long xopenat(int dirfd, const char *path, int flags, int mode)
{
	return syscall(SYS_openat, dirfd, path, flags, mode);
}

static void xclose(long fd)
{
	check(syscall(SYS_close, (int)fd) == 0, "close");
}

static void *thread_main(void *arg)
{
	struct sched_param sp;
	(void)arg;
	/* Only this thread calls sched_getparam: it shows that threads are followed. */
	long r = syscall(SYS_sched_getparam, 0, &sp);
	return (void *)(r == 0 ? (void *)1 : NULL);
}

static void identity(void)
{
	unsigned cpu, node;
	cpu_set_t set;

	step = "identity syscalls";
	check(syscall(SYS_getcpu, &cpu, &node, NULL) == 0, "getcpu");
	check(syscall(SYS_sched_getaffinity, 0, sizeof(set), &set) > 0, "sched_getaffinity");
	check(syscall(SYS_getppid) >= 0, "getppid");
	/* 0xffffffff queries the persona without changing it. */
	check(syscall(SYS_personality, 0xffffffffUL) != -1, "personality query");
	check(syscall(SYS_prctl, PR_SET_NAME, "probe-main", 0, 0, 0) == 0, "prctl(PR_SET_NAME)");
}

static void files(void)
{
	char buf[256];
	long fd, n;

	step = "read /etc/hostname";
	fd = xopenat(AT_FDCWD, "/etc/hostname", O_RDONLY | O_CLOEXEC, 0);
	check(fd >= 0, "open /etc/hostname");
	n = syscall(SYS_read, (int)fd, buf, sizeof(buf));
	check(n > 0, "read /etc/hostname");
	xclose(fd);

	step = "mkdir /tmp/probe";
	check(syscall(SYS_mkdirat, AT_FDCWD, "/tmp/probe", 0755) == 0, "mkdir /tmp/probe");

	step = "create, write, rename, unlink";
	fd = xopenat(AT_FDCWD, "/tmp/probe/file.tmp", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	check(fd >= 0, "create /tmp/probe/file.tmp");
	check(syscall(SYS_write, (int)fd, "probe\n", 6) == 6, "write /tmp/probe/file.tmp");
	xclose(fd);
	check(syscall(SYS_renameat2, AT_FDCWD, "/tmp/probe/file.tmp", AT_FDCWD, "/tmp/probe/file",
		      RENAME_NOREPLACE) == 0, "rename to /tmp/probe/file");
	check(syscall(SYS_unlinkat, AT_FDCWD, "/tmp/probe/file", 0) == 0, "unlink /tmp/probe/file");

	step = "mkdir /tmp/probe/dir";
	check(syscall(SYS_mkdirat, AT_FDCWD, "/tmp/probe/dir", 0700) == 0, "mkdir /tmp/probe/dir");

	step = "chmod, chown to 1000";
	fd = xopenat(AT_FDCWD, "/tmp/probe/owned", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	check(fd >= 0, "create /tmp/probe/owned");
	xclose(fd);
	check(syscall(SYS_fchmodat, AT_FDCWD, "/tmp/probe/owned", 0640) == 0, "chmod /tmp/probe/owned");
	/* Giving a file away needs CAP_CHOWN. */
	check(syscall(SYS_fchownat, AT_FDCWD, "/tmp/probe/owned", 1000, 1000, 0) == 0,
	      "chown /tmp/probe/owned");

	step = "cwd-relative open";
	check(syscall(SYS_chdir, "/etc") == 0, "chdir /etc");
	fd = xopenat(AT_FDCWD, "debian_version", O_RDONLY | O_CLOEXEC, 0);
	check(fd >= 0, "open debian_version relative to /etc");
	xclose(fd);

	step = "dirfd-relative open";
	long dirfd = xopenat(AT_FDCWD, "/usr/share", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	check(dirfd >= 0, "open /usr/share");
	fd = xopenat((int)dirfd, "doc", O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	check(fd >= 0, "open doc relative to /usr/share");
	xclose(fd);
	xclose(dirfd);

	step = "failing open";
	fd = xopenat(AT_FDCWD, "/nonexistent/x", O_RDONLY | O_CLOEXEC, 0);
	check(fd == -1 && errno == ENOENT, "open /nonexistent/x (expected ENOENT)");
	errno = 0;
}

static void sockets(void)
{
	struct sockaddr_in sin;
	long s;
	int one = 1;

	step = "AF_INET stream listen on 127.0.0.1:9999";
	s = syscall(SYS_socket, AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	check(s >= 0, "socket(AF_INET, SOCK_STREAM)");
	check(setsockopt((int)s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0, "SO_REUSEADDR");
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(9999);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	check(syscall(SYS_bind, (int)s, &sin, sizeof(sin)) == 0, "bind 127.0.0.1:9999");
	check(syscall(SYS_listen, (int)s, 8) == 0, "listen");
	xclose(s);

	step = "AF_UNIX datagram";
	s = syscall(SYS_socket, AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	check(s >= 0, "socket(AF_UNIX, SOCK_DGRAM)");
	xclose(s);

	step = "AF_INET6 datagram";
	s = syscall(SYS_socket, AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	check(s >= 0, "socket(AF_INET6, SOCK_DGRAM)");
	xclose(s);
}

static void fork_exec(void)
{
	int status;

	step = "fork and exec /usr/bin/true";
	pid_t pid = fork();
	check(pid >= 0, "fork");
	if (pid == 0) {
		char *const argv[] = {"true", NULL};
		char *const envp[] = {"PATH=/usr/bin:/bin", NULL};
		/* Only the forked child calls getpgid, before exec: forked tasks are followed. */
		syscall(SYS_getpgid, 0);
		syscall(SYS_execve, "/usr/bin/true", argv, envp);
		_exit(127);
	}
	check(waitpid(pid, &status, 0) == pid, "waitpid");
	errno = 0;
	check(WIFEXITED(status) && WEXITSTATUS(status) == 0, "/usr/bin/true exit status");
}

static void thread(void)
{
	pthread_t t;
	void *ret = NULL;

	step = "thread";
	errno = pthread_create(&t, NULL, thread_main, NULL);
	check(errno == 0, "pthread_create");
	errno = pthread_join(t, &ret);
	check(errno == 0, "pthread_join");
	check(ret != NULL, "sched_getparam in the thread");
	/* pthread_join only waits on a futex when the thread is still running: make the futex
	 * call explicit so that every run makes the same syscalls (a recording diffs clean). */
	static int word;
	check(syscall(SYS_futex, &word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0) >= 0, "futex wake");
}

static void mkdir_chown(void)
{
	step = "mkdir-chown /tmp/extra";
	check(syscall(SYS_mkdirat, AT_FDCWD, "/tmp/extra", 0755) == 0, "mkdir /tmp/extra");
	check(syscall(SYS_fchownat, AT_FDCWD, "/tmp/extra", 1000, 1000, 0) == 0, "chown /tmp/extra");
}

int main(int argc, char **argv)
{
	int extra = 0;

	if (argc > 2 || (argc == 2 && strcmp(argv[1], "mkdir-chown") != 0)) {
		fprintf(stderr, "usage: probe [mkdir-chown]\n");
		return 2;
	}
	extra = argc == 2;

	identity();
	files();
	sockets();
	fork_exec();
	thread();
	if (extra)
		mkdir_chown();
	printf("probe: ok%s\n", extra ? " (mkdir-chown)" : "");
	return 0;
}
