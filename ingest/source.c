/* A followed file turned into events: see source.h. The file is read by offset (tail.c) and
 * each read goes to the decoder (decode.c), which emits events with file offsets. */
#include "source.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int source_open(struct source *s, const char *path, const struct source_config *cfg,
                struct lme_err *err)
{
    memset(s, 0, sizeof(*s));
    s->cfg = cfg;
    return tail_open(&s->tail, path, cfg->follow_symlinks, err);
}

/* The encoding of a file read from past its start: its first bytes say, read here. */
static enum config_encoding encoding_past_start(const struct source *s)
{
    unsigned char head[2];
    ssize_t n = pread(s->tail.fd, head, sizeof(head), 0);
    return decode_file_encoding(s->cfg->encoding, head, n > 0 ? (size_t)n : 0);
}

int source_start(struct source *s, struct lme_err *err)
{
    enum config_encoding encoding = s->cfg->encoding;
    if (s->tail.offset > 0) {
        encoding = encoding_past_start(s);
        if (encoding == CONFIG_ENCODING_UTF16LE && s->tail.offset % 2 == 1)
            s->tail.offset--; /* the LF's first byte: a blank line, skipped */
    }
    struct parser_config pc = {
        .path = s->tail.path,
        .host = s->cfg->host,
        .tz = s->cfg->tz,
        .file_dev = s->tail.dev,
        .file_ino = s->tail.ino,
        .max_record_bytes = s->cfg->max_record_bytes,
        .start_offset = s->tail.offset,
    };
    s->decode = decode_create(&pc, encoding, err);
    return s->decode ? 0 : err->code;
}

int source_read(struct source *s, char *chunk, size_t cap, int64_t now_ms, parser_emit_fn emit,
                void *ctx, size_t *got, struct lme_err *err)
{
    *got = 0;
    ssize_t n = tail_read(&s->tail, chunk, cap);
    if (n < 0)
        return lme_err_set(err, LME_EIO, "%s: %s", s->tail.path, strerror((int)-n));
    if (n == 0)
        return 0;
    *got = (size_t)n;
    return decode_feed(s->decode, chunk, (size_t)n, now_ms, emit, ctx);
}

int source_flush(struct source *s, int64_t now_ms, parser_emit_fn emit, void *ctx)
{
    if (!s->decode)
        return 0;
    return decode_flush(s->decode, now_ms, emit, ctx);
}

static void drop_reader(struct source *s)
{
    decode_destroy(s->decode);
    s->decode = NULL;
}

int source_finish(struct source *s, int64_t now_ms, parser_emit_fn emit, void *ctx)
{
    int rc = 0;
    if (s->decode)
        rc = decode_finish(s->decode, now_ms, emit, ctx);
    drop_reader(s);
    tail_close(&s->tail);
    return rc;
}

bool source_holds(const struct source *s)
{
    return s->decode && decode_holds(s->decode);
}

void source_suspend(struct source *s)
{
    if (s->decode)
        s->tail.offset = decode_unemitted(s->decode);
    drop_reader(s);
    tail_close(&s->tail);
}

int source_resume(struct source *s, struct lme_err *err)
{
    int rc = tail_reopen(&s->tail, err);
    if (!rc)
        rc = source_start(s, err);
    if (rc)
        tail_close(&s->tail);
    return rc;
}

void source_free(struct source *s)
{
    if (!s)
        return;
    drop_reader(s);
    tail_free(&s->tail);
}
