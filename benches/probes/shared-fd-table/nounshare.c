/*
 * nounshare PROGRAM [ARGS...]: run PROGRAM with unshare(2) answered 0 without
 * being run, through a seccomp filter (raw system calls included, so it works
 * on Rust tools that do not go through libc).
 *
 * Why: cpz gives each of its threads a private descriptor table with
 * unshare(CLONE_FILES); uring-cp's walkers share theirs. Running cpz through
 * this measures what the private table is worth (benches/RESULTS-cow.md,
 * `CPZ_SHARED=1 benches/cow.sh`). Do not use it on a program that needs
 * unshare for its safety: the call reports success and does nothing.
 *
 * Control: with NOUNSHARE_CONTROL=1 in the environment the same filter runs on
 * every system call but lets unshare through. A seccomp filter costs every
 * call something (on btrfs /usr/share, ~300k calls, about 1% of cpz's CPU):
 * compare the two, not the filtered run with a bare one.
 *
 * Build: cc -O2 -o nounshare nounshare.c
 */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: nounshare PROGRAM [ARGS...]\n");
        return 2;
    }
    const char *c = getenv("NOUNSHARE_CONTROL");
    int control = c != NULL && strcmp(c, "1") == 0;
    struct sock_filter filter[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        /* The control matches a number no system call has. */
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, control ? 0xfffffu : __NR_unshare, 0, 1),
        /* "Fails" with errno 0: the caller sees success, nothing was unshared. */
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {sizeof filter / sizeof filter[0], filter};
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
        perror("nounshare: seccomp");
        return 1;
    }
    execvp(argv[1], argv + 1);
    fprintf(stderr, "nounshare: cannot run %s: %s\n", argv[1], strerror(errno));
    return 127;
}
