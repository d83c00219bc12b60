// set_file_cap FILE CAP: gives FILE the file capability CAP=+ep (what `setcap
// cap_...=+ep FILE` of libcap2-bin does), by writing its security.capability xattr
// (struct vfs_cap_data, revision 2, linux/capability.h). Run in a `docker build` step, which
// holds CAP_SETFCAP, so that the test image needs no package from a mirror.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/xattr.h>

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: set_file_cap FILE CAP_NUMBER\n");
        return 2;
    }
    int cap = atoi(argv[2]);
    uint32_t data[5] = {0x02000000 | 1 /* VFS_CAP_REVISION_2 | VFS_CAP_FLAGS_EFFECTIVE */};
    data[1 + 2 * (cap / 32)] = 1u << (cap % 32);  // permitted
    if (setxattr(argv[1], "security.capability", data, sizeof data, 0) < 0) {
        perror("setxattr");
        return 1;
    }
    return 0;
}
