/* lme_crashpoint: an LD_PRELOAD library that cuts a process short at one chosen step of its
 * writes, for the crash-consistency tests (tests/integration/test_crash_consistency.c).
 *
 * It wraps write, fsync, fdatasync, rename, renameat and renameat2. A call counts when it
 * touches the directory named by LME_CRASH_DIR: for write, fsync and fdatasync the descriptor's
 * file (its /proc/self/fd link) lies in that directory or is the directory itself; for the
 * renames the old or the new path lies in it. Counted calls are numbered per kind from 1; the
 * kinds are "write", "fsync", "fdatasync" and "rename" (renameat and renameat2 count as
 * "rename").
 *
 *   LME_CRASH_DIR=/abs/dir      the directory whose files are watched (a canonical path)
 *   LME_CRASH_AT=KIND:N         the N-th counted call of KIND ends the process with _exit(137)
 *   LME_CRASH_WHEN=before       ... without performing the call (the default)
 *   LME_CRASH_WHEN=after        ... right after performing it
 *   LME_CRASH_WHEN=torn         write only: after writing the first half of its bytes, what a
 *                               kill -9 landing inside a multi-page write leaves behind
 *   LME_CRASH_TRACE=/abs/file   appends "KIND N PATH\n" for every counted call, so that a test
 *                               can list the steps of a run first, then cut at each
 *
 * Without LME_CRASH_DIR every call passes straight through. _exit skips atexit handlers and
 * stdio flushing, as a kill does; what the kernel already has (the page cache) stays, so this
 * models a process crash, not a power loss. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum kind { K_WRITE, K_FSYNC, K_FDATASYNC, K_RENAME, K_COUNT };
static const char *const kind_names[K_COUNT] = { "write", "fsync", "fdatasync", "rename" };
enum when { W_BEFORE, W_AFTER, W_TORN };

static ssize_t (*real_write)(int, const void *, size_t);
static int (*real_fsync)(int);
static int (*real_fdatasync)(int);
static int (*real_rename)(const char *, const char *);
static int (*real_renameat)(int, const char *, int, const char *);
static int (*real_renameat2)(int, const char *, int, const char *, unsigned int);

static struct {
    char dir[PATH_MAX];
    size_t dir_len; /* 0: nothing watched */
    int at_kind;    /* -1: never crash */
    long at_n;
    enum when when;
    int trace_fd;
    long counts[K_COUNT];
} cp = { .at_kind = -1, .trace_fd = -1 };

static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void init(void)
{
    real_write = (ssize_t(*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
    real_fsync = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    real_fdatasync = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    real_rename = (int (*)(const char *, const char *))dlsym(RTLD_NEXT, "rename");
    real_renameat = (int (*)(int, const char *, int, const char *))dlsym(RTLD_NEXT, "renameat");
    real_renameat2 = (int (*)(int, const char *, int, const char *, unsigned int))dlsym(
        RTLD_NEXT, "renameat2");

    const char *dir = getenv("LME_CRASH_DIR");
    if (dir && *dir && strlen(dir) < sizeof(cp.dir)) {
        strcpy(cp.dir, dir);
        cp.dir_len = strlen(dir);
        while (cp.dir_len > 1 && cp.dir[cp.dir_len - 1] == '/')
            cp.dir[--cp.dir_len] = '\0';
    }
    const char *at = getenv("LME_CRASH_AT");
    const char *colon = at ? strchr(at, ':') : NULL;
    for (int k = 0; colon && k < K_COUNT; k++) {
        if (strlen(kind_names[k]) == (size_t)(colon - at) &&
            strncmp(at, kind_names[k], (size_t)(colon - at)) == 0) {
            cp.at_kind = k;
            cp.at_n = strtol(colon + 1, NULL, 10);
        }
    }
    const char *when = getenv("LME_CRASH_WHEN");
    if (when && strcmp(when, "after") == 0)
        cp.when = W_AFTER;
    else if (when && strcmp(when, "torn") == 0)
        cp.when = W_TORN;
    const char *trace = getenv("LME_CRASH_TRACE");
    if (trace && *trace)
        cp.trace_fd = open(trace, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
}

static void ensure_init(void)
{
    pthread_once(&init_once, init);
}

static int in_dir(const char *path)
{
    return cp.dir_len > 0 && path && strncmp(path, cp.dir, cp.dir_len) == 0 &&
           (path[cp.dir_len] == '\0' || path[cp.dir_len] == '/');
}

/* The file behind fd into buf; "" when it has none. */
static const char *fd_path(int fd, char *buf, size_t size)
{
    char link[64];
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    int saved = errno;
    ssize_t n = readlink(link, buf, size - 1);
    errno = saved;
    buf[n > 0 ? n : 0] = '\0';
    return buf;
}

/* Numbers a call of kind touching path (0 when it does not count) and traces it. */
static long count(enum kind k, const char *path)
{
    if (!in_dir(path))
        return 0;
    long n = __atomic_add_fetch(&cp.counts[k], 1, __ATOMIC_SEQ_CST);
    if (cp.trace_fd >= 0) {
        char line[PATH_MAX + 64];
        int len = snprintf(line, sizeof(line), "%s %ld %.*s\n", kind_names[k], n, PATH_MAX, path);
        int saved = errno;
        ssize_t w = len > 0 ? real_write(cp.trace_fd, line, (size_t)len) : 0;
        (void)w; /* tracing is best effort */
        errno = saved;
    }
    return n;
}

static int is_crash_point(enum kind k, long n, enum when w)
{
    return n > 0 && cp.at_kind == (int)k && cp.at_n == n && cp.when == w;
}

static void crash(void)
{
    _exit(137); /* what a shell reports for kill -9 */
}

ssize_t write(int fd, const void *buf, size_t n)
{
    ensure_init();
    if (cp.dir_len == 0)
        return real_write(fd, buf, n);
    char path[PATH_MAX];
    long k = count(K_WRITE, fd_path(fd, path, sizeof(path)));
    if (is_crash_point(K_WRITE, k, W_BEFORE))
        crash();
    if (is_crash_point(K_WRITE, k, W_TORN)) {
        if (n / 2 > 0)
            real_write(fd, buf, n / 2);
        crash();
    }
    ssize_t rc = real_write(fd, buf, n);
    if (is_crash_point(K_WRITE, k, W_AFTER))
        crash();
    return rc;
}

static int sync_call(enum kind kind, int (*real)(int), int fd)
{
    ensure_init();
    if (cp.dir_len == 0)
        return real(fd);
    char path[PATH_MAX];
    long k = count(kind, fd_path(fd, path, sizeof(path)));
    if (is_crash_point(kind, k, W_BEFORE))
        crash();
    int rc = real(fd);
    if (is_crash_point(kind, k, W_AFTER))
        crash();
    return rc;
}

int fsync(int fd)
{
    return sync_call(K_FSYNC, real_fsync, fd);
}

int fdatasync(int fd)
{
    return sync_call(K_FDATASYNC, real_fdatasync, fd);
}

/* path made absolute: under dirfd's directory, or the working directory for AT_FDCWD. */
static const char *absolute(int dirfd, const char *path, char *out, size_t size)
{
    char dir[PATH_MAX];
    if (path[0] == '/')
        snprintf(out, size, "%s", path);
    else if (dirfd == AT_FDCWD)
        snprintf(out, size, "%s/%s", getcwd(dir, sizeof(dir)) ? dir : ".", path);
    else
        snprintf(out, size, "%s/%s", fd_path(dirfd, dir, sizeof(dir)), path);
    return out;
}

/* A rename counts (once) when its old or its new path lies in the watched directory. */
static long count_rename(int olddirfd, const char *oldpath, int newdirfd, const char *newpath)
{
    char a[2 * PATH_MAX + 2], b[2 * PATH_MAX + 2];
    absolute(newdirfd, newpath, b, sizeof(b));
    if (in_dir(b))
        return count(K_RENAME, b);
    return count(K_RENAME, absolute(olddirfd, oldpath, a, sizeof(a)));
}

#define RENAME_BODY(call)                                                                         \
    ensure_init();                                                                                \
    if (cp.dir_len == 0)                                                                          \
        return call;                                                                              \
    long k = count_rename(olddirfd, oldpath, newdirfd, newpath);                                  \
    if (is_crash_point(K_RENAME, k, W_BEFORE))                                                    \
        crash();                                                                                  \
    int rc = call;                                                                                \
    if (is_crash_point(K_RENAME, k, W_AFTER))                                                     \
        crash();                                                                                  \
    return rc

int rename(const char *oldpath, const char *newpath)
{
    int olddirfd = AT_FDCWD, newdirfd = AT_FDCWD;
    RENAME_BODY(real_rename(oldpath, newpath));
}

int renameat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath)
{
    RENAME_BODY(real_renameat(olddirfd, oldpath, newdirfd, newpath));
}

int renameat2(int olddirfd, const char *oldpath, int newdirfd, const char *newpath,
              unsigned int flags)
{
    RENAME_BODY(real_renameat2(olddirfd, oldpath, newdirfd, newpath, flags));
}
