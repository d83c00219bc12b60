/* compat32: an x86_64 program that also makes an i386 syscall, as 32-bit code in a container
 * does (issue 11 §3). It calls uname through `int $0x80` with the i386 number (122; on x86_64
 * 122 is setfsuid), checks the answer against the native uname, and exits 0 only when both
 * agree. A recording must show `uname` under the x86 architecture, and the emitted profile
 * must allow it there.
 *
 * 64-bit code may use `int $0x80`: the kernel runs the i386 entry, which takes 32-bit
 * arguments (ebx, ecx, ...), so the buffer must lie below 4 GiB. A static, non-PIE binary's
 * .bss does. No multilib or 32-bit libc is needed. */
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>

#define I386_NR_UNAME 122 /* arch/x86/entry/syscalls/syscall_32.tbl: 122 i386 uname sys_newuname */

static struct utsname via_int80; /* static: in .bss, below 4 GiB in a non-PIE binary */

int main(void) {
    struct utsname native;
    long ret;
    if ((unsigned long)&via_int80 >> 32) {
        fprintf(stderr, "compat32: buffer above 4 GiB (built as PIE?)\n");
        return 2;
    }
    __asm__ volatile("int $0x80"
                     : "=a"(ret)
                     : "a"((long)I386_NR_UNAME), "b"((long)(unsigned long)&via_int80)
                     : "memory");
    if (ret != 0) {
        fprintf(stderr, "compat32: i386 uname failed: %ld\n", ret);
        return 1;
    }
    if (uname(&native) != 0 || strcmp(native.sysname, via_int80.sysname) != 0 ||
        strcmp(native.release, via_int80.release) != 0) {
        fprintf(stderr, "compat32: i386 uname answered %s %s\n", via_int80.sysname,
                via_int80.release);
        return 1;
    }
    printf("compat32: i386 uname: %s %s\n", via_int80.sysname, via_int80.release);
    return 0;
}
