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
#include "lines_file.h"

#define FLUSH_AT (256 * 1024)

static const struct conf_key keys[] = {
    CONF_OWN_KEY("type", true, "file"),
    CONF_REQUIRED_STRING_KEY(struct file_sink_config, path, "path",
                             "a file (appended to, created 0640) or - for standard output"),
};

const struct conf_table file_sink_config_keys = CONF_TABLE("sinks[] (file)", keys);

struct file_sink {
    struct sink base;
    int fd;
    int owns_fd;
    char *path;
    struct lme_buf out;
    uint64_t *tokens; /* of the events in out */
    size_t n_tokens, cap_tokens;
};

static int flush(struct file_sink *fs, struct lme_err *err)
{
    if (fs->out.len > 0 &&
        lines_file_append(fs->fd, fs->path, fs->out.data, fs->out.len, err) != 0)
        return err->code;
    lme_buf_reset(&fs->out);
    fs->base.stats.delivered += fs->n_tokens;
    fs->base.stats.in_flight = 0;
    fs->base.stats.in_flight_bytes = 0;
    for (size_t i = 0; i < fs->n_tokens; i++)
        sink_settle(&fs->base, fs->tokens[i]);
    fs->n_tokens = 0;
    return 0;
}

static int keep_token(struct file_sink *fs, uint64_t token)
{
    if (fs->n_tokens == fs->cap_tokens) {
        size_t cap = fs->cap_tokens ? 2 * fs->cap_tokens : 1024;
        uint64_t *t = realloc(fs->tokens, cap * sizeof(*t));
        if (!t)
            return LME_ENOMEM;
        fs->tokens = t;
        fs->cap_tokens = cap;
    }
    fs->tokens[fs->n_tokens++] = token;
    return 0;
}

static int file_sink_send(struct sink *s, const struct lme_event *ev, const char *json, size_t len,
                          uint64_t token, struct lme_err *err)
{
    (void)ev;
    struct file_sink *fs = (struct file_sink *)s;
    size_t old_len = fs->out.len;
    if (lme_buf_append(&fs->out, json, len) || lme_buf_append(&fs->out, "\n", 1) ||
        keep_token(fs, token)) {
        fs->out.len = old_len;
        return lme_err_set(err, LME_ENOMEM, "%s: out of memory", s->name);
    }
    s->stats.accepted++;
    s->stats.in_flight++;
    s->stats.in_flight_bytes += len + 1;
    if (fs->out.len >= FLUSH_AT) {
        int rc = flush(fs, err);
        if (rc)
            return rc;
    }
    return 1;
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
    free(fs->tokens);
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
    fs->base.stats.queue = -1;
    snprintf(fs->base.name, sizeof(fs->base.name), "file");
    if (strcmp(path, "-") == 0) {
        fs->fd = STDOUT_FILENO;
        return &fs->base;
    }
    fs->fd = lines_file_open(path, err);
    fs->owns_fd = 1;
    if (fs->fd < 0) {
        file_sink_destroy(&fs->base);
        return NULL;
    }
    return &fs->base;
}
