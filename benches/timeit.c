/* Tiny timer for benches/bench.py (compiled by benches/run.sh into its scratch dir).
 *
 *     timeit RESULT_FILE TIMEOUT_S PROGRAM [ARGS...]
 *
 * Forks, execs PROGRAM (PATH search), waits with wait4 and writes one line to RESULT_FILE:
 *     <wall_ms> <user_ms> <sys_ms> <maxrss_kib> <exit_code>
 * exit_code is the exit status, or 128+signal if it was killed.
 *
 * Why not time from Python directly: on exec the kernel folds the *old* address space's RSS
 * high-water mark into the new program's ru_maxrss. With posix_spawn/vfork or fork from the Python
 * driver that old address space is Python's (~90 MiB), so every tool would report at least that.
 * This helper is ~1 MiB, which is then the floor of the reported peak RSS.
 *
 * After TIMEOUT_S seconds (0 = none) the child is SIGKILLed; SIGTERM/SIGINT to this helper are
 * passed on to the child as SIGKILL, so no copier outlives an interrupted benchmark.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile pid_t child = 0;

static void kill_child(int sig) {
    (void)sig;
    if (child > 0) kill(child, SIGKILL);
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: timeit RESULT_FILE TIMEOUT_S PROGRAM [ARGS...]\n");
        return 2;
    }
    FILE *out = fopen(argv[1], "w");
    if (!out) { perror(argv[1]); return 2; }
    unsigned timeout = (unsigned)strtoul(argv[2], NULL, 10);

    struct sigaction sa = {0};
    sa.sa_handler = kill_child;
    sigaction(SIGALRM, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid_t pid = fork();
    if (pid < 0) { perror("fork"); return 2; }
    if (pid == 0) {
        signal(SIGTERM, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        execvp(argv[3], argv + 3);
        fprintf(stderr, "timeit: exec %s: %s\n", argv[3], strerror(errno));
        _exit(127);
    }
    child = pid;
    if (timeout) alarm(timeout);
    int status = 0;
    struct rusage ru;
    while (wait4(pid, &status, 0, &ru) < 0) {
        if (errno != EINTR) { perror("wait4"); return 2; }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double wall = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    fprintf(out, "%.3f %.3f %.3f %ld %d\n", wall,
            ru.ru_utime.tv_sec * 1e3 + ru.ru_utime.tv_usec / 1e3,
            ru.ru_stime.tv_sec * 1e3 + ru.ru_stime.tv_usec / 1e3, ru.ru_maxrss, code);
    fclose(out);
    return 0;
}
