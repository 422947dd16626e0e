// The floor of a same-filesystem copy on a cloning filesystem (issue 17): the
// least a copier with a perfect list can take. The list is made beforehand
// (untimed by run.sh); the main thread makes every directory first, in list
// order; then N threads take CHUNK consecutive entries of the list at a time
// (consecutive entries are mostly one directory's; CHUNK 0: a run of one
// directory's entries, however long) and, for each: open the
// source, fstat, create the destination (O_EXCL, the source's mode), clone
// it whole (FICLONE, skipped for empty files), close both; a symlink is
// read and made. With PRIVATE=1 each thread first takes a descriptor table
// of its own (unshare(CLONE_FILES)), as cpz does. No error handling beyond
// a message: a probe, not a tool.
//
//     [PRIVATE=1] clonefloor LIST SRCROOT DSTROOT NTHREADS [CHUNK]
//     clonefloor LIST SRCROOT DSTROOT split
//     clonefloor LIST SRCROOT DSTROOT lag:L
//     SMALL=2048 clonefloor LIST SRCROOT DSTROOT 1
//
// `split`: two threads with different jobs, the work that writes to the
// filesystem in one: the main thread opens each source and fstat()s it (or
// reads a symlink) and hands it on through a ring of 1,024 slots; the other
// creates, clones and closes both (the creator sleeps until 64 are waiting
// when the ring is empty, the opener until half of it is free when full).
//
// `lag:L`: the same two threads split the other way: the main thread opens
// each source, fstat()s it and creates the destination; the other thread
// clones and closes both, never nearer than L files behind the creator (so
// the two threads insert into different leaves of the b-tree once L is a few
// hundred; L up to half the descriptor limit, raised to its hard limit).
// SMALL=N: files of at most N bytes are copied with pread + pwrite instead
// of cloned (btrfs keeps files up to 2,048 bytes inline in the b-tree, so a
// clone of one copies its bytes anyway).
//
// LIST: one entry per line, "d REL", "f REL" or "l REL", relative to SRCROOT
// (`find . -mindepth 1 -printf '%y %P\n'`).
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/fs.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static char **names;
static char *kinds;
static size_t n;
static size_t next;
static size_t chunk = 64;
static size_t *ends; // CHUNK 0: ends[i] is where the run of i's directory ends
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int src_root, dst_root, private_table;
static long small; // SMALL=N: write files of at most N bytes instead of cloning them

// Give OUT the bytes of IN (SIZE of them): cloned, or written when small.
static void fill(const char *rel, int out, int in, off_t size) {
    if (size == 0) return;
    if (size <= small) {
        char buf[65536];
        ssize_t got = pread(in, buf, size, 0);
        if (got != size || pwrite(out, buf, got, 0) != got) perror(rel);
    } else if (ioctl(out, FICLONE, in) < 0) perror(rel);
}

static void one(size_t i) {
    const char *rel = names[i];
    if (kinds[i] == 'l') {
        char target[4096];
        ssize_t len = readlinkat(src_root, rel, target, sizeof target - 1);
        if (len < 0) { perror(rel); return; }
        target[len] = 0;
        if (symlinkat(target, dst_root, rel) < 0) perror(rel);
        return;
    }
    int in = openat(src_root, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (in < 0) { perror(rel); return; }
    struct stat st;
    if (fstat(in, &st) < 0) { perror(rel); close(in); return; }
    int out = openat(dst_root, rel, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, st.st_mode & 07777);
    if (out < 0) { perror(rel); close(in); return; }
    fill(rel, out, in, st.st_size);
    close(out);
    close(in);
}

// The split's hand-off: one producer, one consumer.
#define SLOTS 1024
struct slot { size_t i; int in; mode_t mode; off_t size; char *target; };
static struct slot ring[SLOTS];
static _Atomic size_t head, tail; // produced, consumed
static _Atomic int done_pushing;

static pthread_mutex_t ring_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ring_moved = PTHREAD_COND_INITIALIZER;
static _Atomic int sleeping[3]; // [1]: the creator waits for work, [2]: the opener for room

// Wait, without spinning, until `ready` holds; `who` says which side waits.
static void wait_for(int who, int (*ready)(void)) {
    if (ready()) return;
    pthread_mutex_lock(&ring_lock);
    sleeping[who] = 1;
    while (!ready()) pthread_cond_wait(&ring_moved, &ring_lock);
    sleeping[who] = 0;
    pthread_mutex_unlock(&ring_lock);
}

// Wake the other side if it sleeps for what `ready` says is there now.
static void wake(int who, int (*ready)(void)) {
    if (!sleeping[who] || !ready()) return;
    pthread_mutex_lock(&ring_lock);
    pthread_cond_broadcast(&ring_moved);
    pthread_mutex_unlock(&ring_lock);
}

// The creator wakes when a batch is waiting, the opener when half the ring is free.
static int has_work(void) { return head - tail >= 64 || done_pushing; }
static int has_room(void) { return head - tail <= SLOTS / 2; }

static void *creator(void *unused) {
    (void)unused;
    for (;;) {
        size_t t = tail;
        if (head == t) wait_for(1, has_work);
        struct slot *s = &ring[t % SLOTS];
        if (s->i == (size_t)-1) break;
        const char *rel = names[s->i];
        if (s->target) {
            if (symlinkat(s->target, dst_root, rel) < 0) perror(rel);
            free(s->target);
        } else {
            int out = openat(dst_root, rel, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, s->mode & 07777);
            if (out < 0) perror(rel);
            else {
                fill(rel, out, s->in, s->size);
                close(out);
            }
            close(s->in);
        }
        tail = t + 1;
        wake(2, has_room);
    }
    return NULL;
}

static void push(struct slot s) {
    if (head - tail == SLOTS) wait_for(2, has_room);
    ring[head % SLOTS] = s;
    head = head + 1;
    wake(1, has_work);
}

static void split(void) {
    pthread_t t;
    pthread_create(&t, NULL, creator, NULL);
    for (size_t i = 0; i < n; i++) {
        const char *rel = names[i];
        if (kinds[i] == 'd') continue;
        if (kinds[i] == 'l') {
            char target[4096];
            ssize_t len = readlinkat(src_root, rel, target, sizeof target - 1);
            if (len < 0) { perror(rel); continue; }
            target[len] = 0;
            push((struct slot){ i, -1, 0, 0, strdup(target) });
            continue;
        }
        int in = openat(src_root, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (in < 0) { perror(rel); continue; }
        struct stat st;
        if (fstat(in, &st) < 0) { perror(rel); close(in); continue; }
        push((struct slot){ i, in, st.st_mode, st.st_size, NULL });
    }
    push((struct slot){ (size_t)-1, -1, 0, 0, NULL });
    done_pushing = 1;
    wake(1, has_work);
    pthread_join(t, NULL);
}

// lag:L: the creator (main thread) runs at least L files ahead of the
// cloner, which clones and closes. A slot holds both descriptors.
struct lagged { size_t i; int in, out; off_t size; };
static struct lagged *queue;
static size_t queue_len, lag;
static _Atomic size_t made, cloned;
static _Atomic int creator_done;
static pthread_mutex_t lag_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t lag_moved = PTHREAD_COND_INITIALIZER;

static void lag_wake(void) {
    pthread_mutex_lock(&lag_lock);
    pthread_cond_broadcast(&lag_moved);
    pthread_mutex_unlock(&lag_lock);
}

static void *cloner(void *unused) {
    (void)unused;
    for (;;) {
        pthread_mutex_lock(&lag_lock);
        while (made - cloned <= lag && !(creator_done && made != cloned)) {
            if (creator_done && made == cloned) {
                pthread_mutex_unlock(&lag_lock);
                return NULL;
            }
            pthread_cond_wait(&lag_moved, &lag_lock);
        }
        pthread_mutex_unlock(&lag_lock);
        size_t c = cloned;
        struct lagged *s = &queue[c % queue_len];
        fill(names[s->i], s->out, s->in, s->size);
        close(s->out);
        close(s->in);
        cloned = c + 1;
        if (c % 64 == 0) lag_wake();
    }
}

static void lagged(size_t l) {
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
        limit.rlim_cur = limit.rlim_max;
        setrlimit(RLIMIT_NOFILE, &limit);
        if (2 * (l + 1024) + 64 > limit.rlim_cur) {
            fprintf(stderr, "lag %zu needs %zu descriptors; the limit is %llu\n", l,
                    2 * (l + 1024) + 64, (unsigned long long)limit.rlim_cur);
            exit(2);
        }
    }
    lag = l;
    queue_len = l + 1024;
    queue = calloc(queue_len, sizeof *queue);
    pthread_t t;
    pthread_create(&t, NULL, cloner, NULL);
    for (size_t i = 0; i < n; i++) {
        const char *rel = names[i];
        if (kinds[i] == 'd') continue;
        if (kinds[i] == 'l') { one(i); continue; }
        int in = openat(src_root, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (in < 0) { perror(rel); continue; }
        struct stat st;
        if (fstat(in, &st) < 0) { perror(rel); close(in); continue; }
        int out = openat(dst_root, rel, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, st.st_mode & 07777);
        if (out < 0) { perror(rel); close(in); continue; }
        while (made - cloned >= queue_len) {
            pthread_mutex_lock(&lag_lock);
            if (made - cloned >= queue_len) pthread_cond_wait(&lag_moved, &lag_lock);
            pthread_mutex_unlock(&lag_lock);
        }
        queue[made % queue_len] = (struct lagged){ i, in, out, st.st_size };
        made = made + 1;
        if (made % 64 == 0) lag_wake();
    }
    pthread_mutex_lock(&lag_lock);
    creator_done = 1;
    pthread_cond_broadcast(&lag_moved);
    pthread_mutex_unlock(&lag_lock);
    pthread_join(t, NULL);
}

static void *worker(void *unused) {
    (void)unused;
    if (private_table && unshare(CLONE_FILES) < 0) perror("unshare");
    for (;;) {
        pthread_mutex_lock(&lock);
        size_t start = next;
        size_t end = start >= n ? n : chunk ? (start + chunk < n ? start + chunk : n) : ends[start];
        next = end;
        pthread_mutex_unlock(&lock);
        if (start >= n) break;
        for (size_t i = start; i < end; i++)
            if (kinds[i] != 'd') one(i);
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 5 || argc > 6) {
        fprintf(stderr, "usage: clonefloor LIST SRCROOT DSTROOT NTHREADS|split|lag:L [CHUNK]\n");
        return 2;
    }
    if (argc == 6) chunk = strtoul(argv[5], NULL, 10);
    small = getenv("SMALL") ? atol(getenv("SMALL")) : 0;
    private_table = getenv("PRIVATE") && strcmp(getenv("PRIVATE"), "1") == 0;
    FILE *list = fopen(argv[1], "r");
    if (!list) { perror(argv[1]); return 1; }
    size_t cap = 1 << 16;
    names = malloc(cap * sizeof *names);
    kinds = malloc(cap);
    char *line = NULL;
    size_t len = 0;
    ssize_t got;
    while ((got = getline(&line, &len, list)) > 2) {
        if (line[got - 1] == '\n') line[got - 1] = 0;
        if (n == cap) {
            cap *= 2;
            names = realloc(names, cap * sizeof *names);
            kinds = realloc(kinds, cap);
        }
        kinds[n] = line[0];
        names[n++] = strdup(line + 2);
    }
    // A run: consecutive entries with one parent directory.
    ends = malloc((n + 1) * sizeof *ends);
    for (size_t i = n; i-- > 0;) {
        const char *slash = strrchr(names[i], '/');
        size_t plen = slash ? (size_t)(slash - names[i]) : 0;
        int same = 0;
        if (i + 1 < n) {
            const char *s2 = strrchr(names[i + 1], '/');
            size_t plen2 = s2 ? (size_t)(s2 - names[i + 1]) : 0;
            same = plen == plen2 && strncmp(names[i], names[i + 1], plen) == 0;
        }
        ends[i] = same ? ends[i + 1] : i + 1;
    }
    src_root = open(argv[2], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (src_root < 0) { perror(argv[2]); return 1; }
    if (mkdir(argv[3], 0755) < 0) { perror(argv[3]); return 1; }
    dst_root = open(argv[3], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dst_root < 0) { perror(argv[3]); return 1; }
    for (size_t i = 0; i < n; i++)
        if (kinds[i] == 'd' && mkdirat(dst_root, names[i], 0755) < 0) perror(names[i]);
    if (strcmp(argv[4], "split") == 0) {
        split();
        return 0;
    }
    if (strncmp(argv[4], "lag:", 4) == 0) {
        lagged(strtoul(argv[4] + 4, NULL, 10));
        return 0;
    }
    int threads = atoi(argv[4]);
    pthread_t *t = malloc(threads * sizeof *t);
    for (int i = 0; i < threads; i++) pthread_create(&t[i], NULL, worker, NULL);
    for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
    return 0;
}
