/* The file sink: JSON lines through one buffer, written out when it fills and at every poll.
 * See file_sink.h. */
#include "file_sink.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"

#define FLUSH_AT (256 * 1024)

struct file_sink {
    struct sink base;
    int fd;
    int owns_fd;
    char *path;
    struct lme_buf out;
    uint64_t buffered; /* events in out */
};

static int flush(struct file_sink *fs, struct lme_err *err)
{
    const char *p = fs->out.data;
    size_t n = fs->out.len;
    while (n > 0) {
        ssize_t w = write(fs->fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return lme_err_set(err, LME_EIO, "cannot write %s: %s", fs->path, strerror(errno));
        p += w;
        n -= (size_t)w;
    }
    lme_buf_reset(&fs->out);
    fs->base.stats.delivered += fs->buffered;
    fs->base.stats.in_flight = 0;
    fs->base.stats.in_flight_bytes = 0;
    fs->buffered = 0;
    return 0;
}

static int file_sink_send(struct sink *s, const struct lme_event *ev, const char *json, size_t len,
                          struct lme_err *err)
{
    (void)ev;
    struct file_sink *fs = (struct file_sink *)s;
    if (lme_buf_append(&fs->out, json, len) || lme_buf_append(&fs->out, "\n", 1))
        return lme_err_set(err, LME_ENOMEM, "%s: out of memory", s->name);
    s->stats.accepted++;
    s->stats.in_flight++;
    s->stats.in_flight_bytes += len + 1;
    fs->buffered++;
    return fs->out.len >= FLUSH_AT ? flush(fs, err) : 0;
}

static int file_sink_poll(struct sink *s, int timeout_ms, struct lme_err *err)
{
    (void)timeout_ms; /* nothing to wait for: a write completes at once */
    return flush((struct file_sink *)s, err);
}

static void file_sink_destroy(struct sink *s)
{
    struct file_sink *fs = (struct file_sink *)s;
    if (!fs)
        return;
    if (fs->owns_fd && fs->fd >= 0)
        close(fs->fd);
    lme_buf_free(&fs->out);
    free(fs->path);
    free(fs);
}

static const struct sink_ops file_sink_ops = {
    .type = "file",
    .send = file_sink_send,
    .poll = file_sink_poll,
    .destroy = file_sink_destroy,
};

struct sink *file_sink_create(const char *path, struct lme_err *err)
{
    struct file_sink *fs = calloc(1, sizeof(*fs));
    if (!fs || !(fs->path = strdup(path))) {
        free(fs);
        lme_err_set(err, LME_ENOMEM, "file sink: out of memory");
        return NULL;
    }
    fs->base.ops = &file_sink_ops;
    snprintf(fs->base.name, sizeof(fs->base.name), "file");
    if (strcmp(path, "-") == 0) {
        fs->fd = STDOUT_FILENO;
        return &fs->base;
    }
    fs->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    fs->owns_fd = 1;
    if (fs->fd < 0) {
        lme_err_set(err, LME_EIO, "cannot open %s: %s", path, strerror(errno));
        file_sink_destroy(&fs->base);
        return NULL;
    }
    return &fs->base;
}
