// filecap_bind: installed with a file capability (`setcap cap_net_bind_service=+ep`, as caddy
// ships) and run by a non-root user. It binds port 80 and exits 0 when it holds
// CAP_NET_BIND_SERVICE in its effective set (what the file capability gives it at exec), 1
// when it does not (no-new-privileges strips file capabilities at exec). Under `--cap-drop
// ALL` without `--cap-add NET_BIND_SERVICE` the kernel refuses the exec itself (EPERM: the
// file's permitted capability is not in the bounding set). Used by
// tests/test_filecaps_integration.py.
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define CAP_NET_BIND_SERVICE 10

static unsigned long long cap_eff(void) {
    char line[256];
    unsigned long long v = 0;
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "CapEff: %llx", &v) == 1)
            break;
    fclose(f);
    return v;
}

int main(void) {
    unsigned long long eff = cap_eff();
    printf("uid %d euid %d CapEff %llx\n", getuid(), geteuid(), eff);
    if (!(eff & (1ULL << CAP_NET_BIND_SERVICE))) {
        printf("no CAP_NET_BIND_SERVICE: its file capability was not honoured\n");
        return 1;
    }
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(80),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) < 0 || listen(s, 1) < 0) {
        printf("cannot bind port 80: %s\n", strerror(errno));
        return 1;
    }
    printf("bound port 80\n");
    close(s);
    return 0;
}
