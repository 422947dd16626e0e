// The floor of a cold tree copy: the least a copier with a perfect list and
// N files in flight can take. Lists the tree first (untimed by run.sh's
// caller: it is given the list), then N threads take files from the list in
// turn: open, read it all (pread, 128 KiB), write it to DST at the same
// offsets (unless DST is "-": read only), close. Directories are made first,
// in list order, by the main thread.
//
//     floor LIST SRCROOT DSTROOT|- NTHREADS
//
// LIST: one entry per line, "d REL" for a directory, "f REL" for a file,
// relative to SRCROOT (as `find . -printf` writes them in run.sh).
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char **files;
static size_t nfiles;
static size_t next_file;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int src_root, dst_root = -1;

static void *worker(void *unused) {
    (void)unused;
    char *buf = malloc(128 << 10);
    if (!buf) return NULL;
    for (;;) {
        pthread_mutex_lock(&lock);
        size_t i = next_file++;
        pthread_mutex_unlock(&lock);
        if (i >= nfiles) break;
        int in = openat(src_root, files[i], O_RDONLY | O_NOATIME | O_CLOEXEC);
        if (in < 0) { perror(files[i]); continue; }
        int out = -1;
        if (dst_root >= 0) {
            out = openat(dst_root, files[i], O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
            if (out < 0) perror(files[i]);
        }
        off_t off = 0;
        ssize_t n;
        while ((n = pread(in, buf, 128 << 10, off)) > 0) {
            if (out >= 0 && pwrite(out, buf, n, off) != n) { perror(files[i]); break; }
            off += n;
        }
        close(in);
        if (out >= 0) close(out);
    }
    free(buf);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: floor LIST SRCROOT DSTROOT|- NTHREADS\n");
        return 2;
    }
    FILE *list = fopen(argv[1], "r");
    src_root = open(argv[2], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (strcmp(argv[3], "-") != 0) dst_root = open(argv[3], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int n = atoi(argv[4]);
    if (!list || src_root < 0 || (strcmp(argv[3], "-") != 0 && dst_root < 0) || n < 1 || n > 1024) {
        fprintf(stderr, "floor: bad arguments\n");
        return 2;
    }
    size_t cap = 1 << 16;
    files = malloc(cap * sizeof *files);
    char line[8192];
    while (fgets(line, sizeof line, list)) {
        line[strcspn(line, "\n")] = 0;
        if (strncmp(line, "d ", 2) == 0) {
            if (dst_root >= 0 && mkdirat(dst_root, line + 2, 0755) != 0) perror(line + 2);
        } else if (strncmp(line, "f ", 2) == 0) {
            if (nfiles == cap) files = realloc(files, (cap *= 2) * sizeof *files);
            files[nfiles++] = strdup(line + 2);
        }
    }
    pthread_t *t = calloc(n, sizeof *t);
    for (int i = 0; i < n; i++) pthread_create(&t[i], NULL, worker, NULL);
    for (int i = 0; i < n; i++) pthread_join(t[i], NULL);
    return 0;
}
