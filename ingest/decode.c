/* A log's bytes to events whatever their encoding: see decode.h. Until decided, the stream's
 * first bytes wait in `held`; the decision creates nothing new (the converter is made up front
 * when UTF-16LE is possible), so deciding cannot fail. In UTF-8 the parser counts file offsets
 * less the mark dropped (`skip`); in UTF-16LE it counts UTF-8 offsets from the stream's start,
 * which utf16.c maps back. */
#include "decode.h"

#include <stdlib.h>
#include <string.h>

#include "utf16.h"

#define HELD_MAX 3 /* the longest mark: all its bytes are held when its last one decides */

/* The byte order marks: the encoding each tells, and the configurations that read it. */
static const struct {
    const char *bytes;
    size_t len;
    enum config_encoding encoding;
    enum config_encoding not_under; /* the setting under which it is text */
} marks[] = {
    { "\xFF\xFE", 2, CONFIG_ENCODING_UTF16LE, CONFIG_ENCODING_UTF8 },
    { "\xEF\xBB\xBF", 3, CONFIG_ENCODING_UTF8, CONFIG_ENCODING_UTF16LE },
};

struct decode {
    struct parser *parser;
    uint64_t start;         /* file offset of the first byte fed */
    enum config_encoding configured;
    bool decided;
    uint64_t skip;          /* the mark dropped, in bytes */
    unsigned char held[HELD_MAX];
    size_t n_held;
    struct utf16 *utf16;    /* NULL: UTF-8, bytes go to the parser as they are */
    struct lme_buf utf8;    /* one feed's conversion */
};

/* The caller's callback, passed down with each call for on_event to forward to. */
struct forward {
    struct decode *d;
    parser_emit_fn emit;
    void *ctx;
};

struct decode *decode_create(const struct parser_config *pc, enum config_encoding encoding,
                             struct lme_err *err)
{
    struct decode *d = calloc(1, sizeof(*d));
    if (!d) {
        lme_err_set(err, LME_ENOMEM, "decoder: out of memory");
        return NULL;
    }
    d->start = pc->start_offset;
    d->configured = encoding;
    d->decided = d->start > 0; /* no mark to look for: the caller decided */
    if (d->decided && encoding == CONFIG_ENCODING_AUTO) {
        lme_err_set(err, LME_EINVAL, "decoder: past the start the encoding must be decided");
        goto fail;
    }
    if (encoding != CONFIG_ENCODING_UTF8 && !(d->utf16 = utf16_create(d->start, err)))
        goto fail;
    if (!(d->parser = parser_create(pc, err)))
        goto fail;
    return d;
fail:
    decode_destroy(d);
    return NULL;
}

void decode_destroy(struct decode *d)
{
    if (!d)
        return;
    parser_destroy(d->parser);
    utf16_destroy(d->utf16);
    lme_buf_free(&d->utf8);
    free(d);
}

enum config_encoding decode_file_encoding(enum config_encoding configured,
                                          const unsigned char *head, size_t n)
{
    if (configured != CONFIG_ENCODING_AUTO)
        return configured;
    return n >= 2 && head[0] == 0xFF && head[1] == 0xFE ? CONFIG_ENCODING_UTF16LE
                                                        : CONFIG_ENCODING_UTF8;
}

/* Decides from the bytes held, when they tell; at the stream's end (`ended`) they always do. */
static bool try_decide(struct decode *d, bool ended)
{
    enum config_encoding enc =
        d->configured == CONFIG_ENCODING_AUTO ? CONFIG_ENCODING_UTF8 : d->configured;
    uint64_t skip = 0;
    for (size_t i = 0; i < sizeof(marks) / sizeof(marks[0]); i++) {
        size_t n = d->n_held < marks[i].len ? d->n_held : marks[i].len;
        if (d->configured == marks[i].not_under || memcmp(d->held, marks[i].bytes, n) != 0)
            continue;
        if (n < marks[i].len && !ended)
            return false; /* a mark's beginning: its next byte tells */
        if (n == marks[i].len) {
            enc = marks[i].encoding;
            skip = marks[i].len;
        }
        break;
    }
    d->decided = true;
    d->skip = skip;
    if (enc == CONFIG_ENCODING_UTF16LE) {
        utf16_skip(d->utf16, skip);
    } else {
        utf16_destroy(d->utf16);
        d->utf16 = NULL;
    }
    return true;
}

static uint64_t file_offset(struct decode *d, uint64_t parser_offset)
{
    if (!d->utf16)
        return parser_offset + d->skip;
    return utf16_file_offset(d->utf16, parser_offset - d->start);
}

/* The parser's events with their offsets made file offsets. */
static int on_event(const struct lme_event *ev, void *ctx)
{
    const struct forward *fw = ctx;
    struct lme_event mapped = *ev;
    mapped.offset = file_offset(fw->d, ev->offset);
    mapped.end_offset = file_offset(fw->d, ev->end_offset);
    return fw->emit(&mapped, fw->ctx);
}

/* Whether the parser's offsets are the file's, so its events can go out as they are. */
static bool unmapped(const struct decode *d)
{
    return !d->utf16 && d->skip == 0;
}

/* Feeds decided bytes. */
static int feed_text(struct forward *fw, const char *data, size_t len, int64_t now_ms)
{
    struct decode *d = fw->d;
    if (unmapped(d)) /* the usual case */
        return parser_feed(d->parser, data, len, now_ms, fw->emit, fw->ctx);
    if (!d->utf16)
        return parser_feed(d->parser, data, len, now_ms, on_event, fw);
    lme_buf_reset(&d->utf8);
    if (utf16_feed(d->utf16, data, len, &d->utf8) != 0)
        return LME_ENOMEM;
    int rc = parser_feed(d->parser, d->utf8.data, d->utf8.len, now_ms, on_event, fw);
    /* line ends the parser is done with are forgotten: memory stays bounded */
    file_offset(d, parser_unemitted(d->parser));
    return rc;
}

/* Feeds the bytes held once decided: those after the mark. */
static int feed_held(struct forward *fw, int64_t now_ms)
{
    struct decode *d = fw->d;
    size_t n = d->n_held;
    d->n_held = 0;
    if (n <= d->skip)
        return 0;
    return feed_text(fw, (const char *)d->held + d->skip, n - (size_t)d->skip, now_ms);
}

int decode_feed(struct decode *d, const char *data, size_t len, int64_t now_ms,
                parser_emit_fn emit, void *ctx)
{
    struct forward fw = { d, emit, ctx };
    if (!d->decided) {
        bool decided = false;
        while (len > 0 && !decided) {
            d->held[d->n_held++] = (unsigned char)*data++;
            len--;
            decided = try_decide(d, false);
        }
        if (!decided)
            return 0;
        /* the mark's last byte decided it, so it is either all held or not there */
        int rc = feed_held(&fw, now_ms);
        if (rc)
            return rc;
    }
    return len > 0 ? feed_text(&fw, data, len, now_ms) : 0;
}

int decode_flush(struct decode *d, int64_t now_ms, parser_emit_fn emit, void *ctx)
{
    if (!d->decided)
        return 0;
    if (unmapped(d))
        return parser_flush(d->parser, now_ms, emit, ctx);
    struct forward fw = { d, emit, ctx };
    return parser_flush(d->parser, now_ms, on_event, &fw);
}

int decode_finish(struct decode *d, int64_t now_ms, parser_emit_fn emit, void *ctx)
{
    struct forward fw = { d, emit, ctx };
    if (!d->decided) {
        try_decide(d, true);
        int rc = feed_held(&fw, now_ms);
        if (rc)
            return rc;
    }
    if (unmapped(d))
        return parser_finish(d->parser, now_ms, emit, ctx);
    return parser_finish(d->parser, now_ms, on_event, &fw);
}

bool decode_holds(const struct decode *d)
{
    return d->n_held > 0 || parser_holds(d->parser);
}

uint64_t decode_unemitted(struct decode *d)
{
    if (!d->decided)
        return d->start;
    return file_offset(d, parser_unemitted(d->parser));
}

const struct parser_stats *decode_stats(const struct decode *d)
{
    return parser_stats(d->parser);
}
