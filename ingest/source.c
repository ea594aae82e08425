/* A followed file turned into events: see source.h. UTF-16 files are converted one read at a
 * time; their events' offsets are mapped back to file offsets before anyone sees them. */
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

static bool starts_with_bom(const struct tail_file *t)
{
    unsigned char bom[2];
    return pread(t->fd, bom, 2, 0) == 2 && bom[0] == 0xFF && bom[1] == 0xFE;
}

int source_start(struct source *s, struct lme_err *err)
{
    bool bom = starts_with_bom(&s->tail);
    bool utf16 = s->cfg->encoding == CONFIG_ENCODING_UTF16LE ||
                 (s->cfg->encoding == CONFIG_ENCODING_AUTO && bom);
    if (utf16 && bom && s->tail.offset == 0)
        s->tail.offset = 2; /* the BOM is no text */
    if (utf16 && !(s->utf16 = utf16_create(s->tail.offset, err)))
        return err->code;
    struct parser_config pc = {
        .path = s->tail.path,
        .host = s->cfg->host,
        .tz = s->cfg->tz,
        .file_dev = s->tail.dev,
        .file_ino = s->tail.ino,
        .max_record_bytes = s->cfg->max_record_bytes,
        .start_offset = utf16 ? 0 : s->tail.offset, /* UTF-8 stream offsets, mapped back */
    };
    if (!(s->parser = parser_create(&pc, err))) {
        utf16_destroy(s->utf16);
        s->utf16 = NULL;
        return err->code;
    }
    return 0;
}

/* What the parser's callback forwards to: the caller's callback, passed down with each call. */
struct forward {
    const struct source *s;
    parser_emit_fn emit;
    void *ctx;
};

/* The parser's events, with UTF-16 stream offsets mapped back to the file's. */
static int on_event(const struct lme_event *ev, void *ctx)
{
    const struct forward *fw = ctx;
    if (!fw->s->utf16)
        return fw->emit(ev, fw->ctx);
    struct lme_event mapped = *ev;
    mapped.offset = utf16_file_offset(fw->s->utf16, ev->offset);
    mapped.end_offset = utf16_file_offset(fw->s->utf16, ev->end_offset);
    return fw->emit(&mapped, fw->ctx);
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
    struct forward fw = { s, emit, ctx };
    if (!s->utf16)
        return parser_feed(s->parser, chunk, (size_t)n, now_ms, on_event, &fw);
    lme_buf_reset(&s->utf8);
    if (utf16_feed(s->utf16, chunk, (size_t)n, &s->utf8) != 0)
        return lme_err_set(err, LME_ENOMEM, "%s: out of memory", s->tail.path);
    int rc = parser_feed(s->parser, s->utf8.data, s->utf8.len, now_ms, on_event, &fw);
    /* line ends the parser is done with are forgotten: memory stays bounded */
    utf16_file_offset(s->utf16, parser_unemitted(s->parser));
    return rc;
}

int source_flush(struct source *s, int64_t now_ms, parser_emit_fn emit, void *ctx)
{
    if (!s->parser)
        return 0;
    struct forward fw = { s, emit, ctx };
    return parser_flush(s->parser, now_ms, on_event, &fw);
}

static void drop_reader(struct source *s)
{
    parser_destroy(s->parser);
    utf16_destroy(s->utf16);
    s->parser = NULL;
    s->utf16 = NULL;
    lme_buf_free(&s->utf8);
}

int source_finish(struct source *s, int64_t now_ms, parser_emit_fn emit, void *ctx)
{
    int rc = 0;
    if (s->parser) {
        struct forward fw = { s, emit, ctx };
        rc = parser_finish(s->parser, now_ms, on_event, &fw);
    }
    drop_reader(s);
    tail_close(&s->tail);
    return rc;
}

bool source_holds(const struct source *s)
{
    return s->parser && parser_holds(s->parser);
}

void source_suspend(struct source *s)
{
    if (s->parser) {
        uint64_t at = parser_unemitted(s->parser);
        s->tail.offset = s->utf16 ? utf16_file_offset(s->utf16, at) : at;
    }
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
