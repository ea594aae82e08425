/* One followed file: see tail.h. Reads use pread at an explicit offset, so the descriptor's own
 * position never matters and a truncation is seen by size alone. */
#include "tail.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checkpoint.h"
#include "lines.h"

int tail_open(struct tail_file *t, const char *path, bool follow_link, struct lme_err *err)
{
    memset(t, 0, sizeof(*t));
    t->fd = -1;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | (follow_link ? 0 : O_NOFOLLOW));
    if (fd < 0)
        return lme_err_set(err, LME_EIO, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return lme_err_set(err, LME_EIO, "%s: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return lme_err_set(err, LME_EIO, "%s: not a regular file", path);
    }
    char absolute[PATH_MAX];
    t->path = strdup(realpath(path, absolute) ? absolute : path);
    if (!t->path) {
        close(fd);
        return lme_err_set(err, LME_ENOMEM, "out of memory");
    }
    t->fd = fd;
    t->dev = (uint64_t)st.st_dev;
    t->ino = (uint64_t)st.st_ino;
    t->size = (uint64_t)st.st_size;
    if (checkpoint_fingerprint(fd, CHECKPOINT_FINGERPRINT_BYTES, &t->fingerprint,
                               &t->fingerprint_len) != 0)
        t->fingerprint_len = 0;
    return 0;
}

int tail_reopen(struct tail_file *t, struct lme_err *err)
{
    if (t->fd >= 0)
        return 0;
    /* t->path has its links resolved: a link there now is a replacement, never the file */
    int fd = open(t->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOFOLLOW);
    if (fd < 0)
        return lme_err_set(err, LME_EIO, "%s: %s", t->path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || (uint64_t)st.st_dev != t->dev || (uint64_t)st.st_ino != t->ino) {
        close(fd);
        return lme_err_set(err, LME_EIO, "%s: no longer the file that was followed", t->path);
    }
    t->fd = fd;
    return 0;
}

ssize_t tail_read(struct tail_file *t, char *buf, size_t cap)
{
    for (;;) {
        ssize_t n = pread(t->fd, buf, cap, (off_t)t->offset);
        if (n >= 0) {
            t->offset += (uint64_t)n;
            return n;
        }
        if (errno != EINTR)
            return -errno;
    }
}

enum tail_change tail_check(struct tail_file *t)
{
    struct stat st;
    if (fstat(t->fd, &st) != 0)
        return TAIL_DELETED;
    t->size = (uint64_t)st.st_size;
    if (t->size < t->offset)
        return TAIL_TRUNCATED;
    if (st.st_nlink == 0)
        return TAIL_DELETED;
    struct stat at;
    if (stat(t->path, &at) == 0 && at.st_dev == st.st_dev && at.st_ino == st.st_ino)
        return TAIL_SAME;
    /* the name went between the two looks: deleted then, if no name is left at all */
    if (fstat(t->fd, &st) == 0 && st.st_nlink == 0)
        return TAIL_DELETED;
    return TAIL_MOVED;
}

void tail_refresh_fingerprint(struct tail_file *t)
{
    if (t->fd < 0 || t->fingerprint_len >= CHECKPOINT_FINGERPRINT_BYTES)
        return;
    uint64_t fp;
    uint32_t got;
    if (checkpoint_fingerprint(t->fd, CHECKPOINT_FINGERPRINT_BYTES, &fp, &got) == 0 &&
        got > t->fingerprint_len) {
        t->fingerprint = fp;
        t->fingerprint_len = got;
    }
}

uint64_t tail_start_near_end(struct tail_file *t, uint64_t back)
{
    if (back == 0) {
        char last;
        if (t->size == 0 || (pread(t->fd, &last, 1, (off_t)(t->size - 1)) == 1 && last == '\n'))
            return t->size;
        return lme_line_start_before(t->fd, t->size);
    }
    if (t->size <= back)
        return 0;
    /* the line straddling the cut is dropped whole, so reading starts on a line */
    return lme_next_line_start(t->fd, t->size - back - 1, t->size);
}

void tail_close(struct tail_file *t)
{
    if (t->fd >= 0)
        close(t->fd);
    t->fd = -1;
}

void tail_free(struct tail_file *t)
{
    if (!t)
        return;
    tail_close(t);
    free(t->path);
    t->path = NULL;
}
