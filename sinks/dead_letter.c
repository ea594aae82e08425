/* The dead-letter file: see dead_letter.h. */
#include "dead_letter.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "lines_file.h"

struct dead_letter {
    int fd;
    char *path;
    struct lme_buf line;
};

struct dead_letter *dead_letter_open(const char *path, struct lme_err *err)
{
    struct dead_letter *dl = calloc(1, sizeof(*dl));
    if (!dl || !(dl->path = strdup(path))) {
        free(dl);
        lme_err_set(err, LME_ENOMEM, "dead-letter file: out of memory");
        return NULL;
    }
    dl->fd = lines_file_open(path, err);
    if (dl->fd < 0) {
        dead_letter_close(dl);
        return NULL;
    }
    return dl;
}

void dead_letter_close(struct dead_letter *dl)
{
    if (!dl)
        return;
    if (dl->fd >= 0)
        close(dl->fd);
    lme_buf_free(&dl->line);
    free(dl->path);
    free(dl);
}

/* The envelope is built with jansson (rare path); the event's JSON is spliced in as it is. */
int dead_letter_write(struct dead_letter *dl, const char *sink, const char *destination,
                      const char *reason, const char *error, const char *event_json, size_t len,
                      struct lme_err *err)
{
    char stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_t *env = json_pack("{s:s, s:s, s:s, s:s, s:s}", "@timestamp", stamp, "sink", sink,
                            "destination", destination, "reason", reason, "error", error);
    char *head = env ? json_dumps(env, JSON_COMPACT) : NULL;
    json_decref(env);
    if (!head)
        return lme_err_set(err, LME_ENOMEM, "dead-letter file: out of memory");

    struct lme_buf *b = &dl->line;
    lme_buf_reset(b);
    size_t head_len = strlen(head) - 1; /* without its closing brace */
    int rc = lme_buf_append(b, head, head_len) || lme_buf_append_str(b, ",\"event\":") ||
             lme_buf_append(b, event_json, len) || lme_buf_append_str(b, "}\n");
    free(head);
    if (rc)
        return lme_err_set(err, LME_ENOMEM, "dead-letter file: out of memory");
    if (lines_file_append(dl->fd, dl->path, b->data, b->len, err) != 0)
        return err->code;
    if (fdatasync(dl->fd) != 0)
        return lme_err_set(err, LME_EIO, "cannot write dead-letter file %s: %s", dl->path,
                           strerror(errno));
    return 0;
}
