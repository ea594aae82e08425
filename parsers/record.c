/* Lines to records: see record.h. The pending record's bytes are copied into one buffer (capped
 * at the limit); its header is classified once, when its line arrives, and the captures kept. */
#include "record.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

struct record_reader {
    struct browse_log *bl; /* borrowed */
    size_t max;
    uint64_t offset; /* absolute offset of the next line's first byte */

    /* A line whose terminator has not arrived yet. */
    struct lme_buf partial;
    uint64_t partial_dropped; /* its bytes beyond the limit */

    /* The pending record. */
    bool active;
    bool may_join;             /* a BROKEN header the next line may complete */
    struct lme_buf rec;        /* raw bytes, at most max */
    size_t content_len;        /* up to the end of the last non-blank line */
    uint64_t rec_offset;
    uint64_t dropped;          /* bytes not kept */
    bool cut;                  /* text was lost: the record is truncated */
    struct browse_log_header hdr;
    size_t header_len;         /* header = rec[0, header_len) unless joined */
    struct lme_buf joined;     /* header text of a wrapped header, two lines joined */
    bool header_joined;
    size_t body_off;
};

struct record_reader *record_reader_create(struct browse_log *bl, size_t max_record_bytes,
                                           uint64_t start_offset, struct lme_err *err)
{
    if (max_record_bytes < 64) {
        lme_err_set(err, LME_EINVAL, "record limit %zu is below the minimum of 64 bytes",
                    max_record_bytes);
        return NULL;
    }
    struct record_reader *r = calloc(1, sizeof(*r));
    if (!r) {
        lme_err_set(err, LME_ENOMEM, "record reader: out of memory");
        return NULL;
    }
    r->bl = bl;
    r->max = max_record_bytes;
    r->offset = start_offset;
    return r;
}

void record_reader_destroy(struct record_reader *r)
{
    if (!r)
        return;
    lme_buf_free(&r->partial);
    lme_buf_free(&r->rec);
    lme_buf_free(&r->joined);
    free(r);
}

static bool is_blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c != ' ' && c != '\t' && c != '\r' && c != '\v' && c != '\f' && c != 0xA0)
            return false;
    }
    return true;
}

/* How much of a line is kept to look at: the limit plus a CRLF, so that a line whose text fits
 * is always seen whole, line end included. */
static size_t line_cap(const struct record_reader *r)
{
    return r->max + 2;
}

/* Appends a line to the pending record. line[0, avail) is what is at hand (avail <= max + 2),
 * full its true length with terminator, n its content length (no terminator) within avail.
 * The record counts as cut only when text is lost: a line end or blank line that does not fit
 * costs nothing, since event.original ends with the last line that has text. */
/* The length of the UTF-8 sequence a lead byte starts, or 0 for a byte that starts none. */
static size_t utf8_lead_len(unsigned char c)
{
    return c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
}

static bool is_continuation(unsigned char c)
{
    return (c & 0xC0) == 0x80;
}

/* A cut at take inside s[0, avail) backed off to the start of a UTF-8 character it would split,
 * so that a valid text is not cut into an invalid one. Only when the bytes on both sides of the
 * cut are the character's (a Windows-1252 "é" before plain text is left alone). */
static size_t utf8_safe_cut(const char *line, size_t take, size_t avail)
{
    const unsigned char *s = (const unsigned char *)line;
    if (take == 0 || take >= avail || !is_continuation(s[take]))
        return take;
    size_t k = take;
    while (k > 0 && take - k < 3 && is_continuation(s[k - 1]))
        k--;
    if (k == 0)
        return take;
    size_t len = utf8_lead_len(s[k - 1]);
    return len > take - (k - 1) ? k - 1 : take;
}

static int append_line(struct record_reader *r, const char *line, size_t avail, uint64_t full,
                       size_t n)
{
    if (r->cut) { /* once cut, a record takes nothing more */
        r->dropped += full;
        return 0;
    }
    size_t start = r->rec.len;
    size_t take = avail < r->max - start ? avail : r->max - start;
    take = utf8_safe_cut(line, take, avail);
    if (lme_buf_append(&r->rec, line, take) != 0)
        return LME_ENOMEM;
    r->dropped += full - take;
    size_t content = n < take ? n : take;
    if (!is_blank(line, content))
        r->content_len = start + content;
    /* full > avail: more than the limit plus a line end, so text we never saw is lost */
    if ((n > take && !is_blank(line + take, n - take)) || full > avail)
        r->cut = true;
    return 0;
}

static int start_record(struct record_reader *r, const char *line, size_t avail, uint64_t full,
                        size_t n, const struct browse_log_header *h)
{
    r->active = true;
    r->may_join = h->kind == BROWSE_LOG_BROKEN;
    r->header_joined = false;
    r->hdr = *h;
    r->rec_offset = r->offset;
    r->dropped = 0;
    r->cut = false;
    r->content_len = 0;
    lme_buf_reset(&r->rec);
    if (append_line(r, line, avail, full, n) != 0)
        return LME_ENOMEM;
    r->header_len = n < r->rec.len ? n : r->rec.len;
    r->body_off = r->rec.len;
    return 0;
}

static int emit_pending(struct record_reader *r, uint64_t end_offset, record_emit_fn emit,
                        void *ctx)
{
    struct browse_log_record rec = {
        .text = r->rec.data,
        .len = r->content_len,
        .header = r->header_joined ? r->joined.data : r->rec.data,
        .header_len = r->header_joined ? r->joined.len : r->header_len,
        .body_off = r->body_off,
        .hdr = r->hdr,
        .offset = r->rec_offset,
        .end_offset = end_offset,
        .truncated_bytes = r->cut ? r->dropped : 0,
    };
    r->active = false;
    r->may_join = false;
    return emit(&rec, ctx);
}

/* A header cut short at a line's end ("date time -" alone, or "... LME-NOTES-") may be completed
 * by the next line: join the two (with a space, or without one when the first ends inside a
 * word) and keep the join when it reads as a full header. */
static int try_join(struct record_reader *r, const char *line, size_t n, bool *joined)
{
    static const char *const seps[] = { " ", "" };
    size_t hlen = r->header_len;
    while (hlen > 0 && is_blank(r->rec.data + hlen - 1, 1))
        hlen--;
    size_t skip = 0;
    while (skip < n && is_blank(line + skip, 1))
        skip++;

    *joined = false;
    for (int i = 0; i < 2 && !*joined; i++) {
        struct lme_buf *b = &r->joined;
        lme_buf_reset(b);
        if (lme_buf_append(b, r->rec.data, hlen) != 0 || lme_buf_append_str(b, seps[i]) != 0 ||
            lme_buf_append(b, line + skip, n - skip) != 0)
            return LME_ENOMEM;
        struct browse_log_header h;
        if (browse_log_classify(r->bl, b->data, b->len, &h) == BROWSE_LOG_HEADER) {
            r->hdr = h;
            r->header_joined = true;
            *joined = true;
        }
    }
    return 0;
}

static int process_line(struct record_reader *r, const char *line, size_t avail, uint64_t full,
                        record_emit_fn emit, void *ctx)
{
    size_t n = avail;
    if (n > 0 && line[n - 1] == '\n')
        n--;
    if (n > 0 && line[n - 1] == '\r')
        n--;

    if (r->may_join) {
        r->may_join = false;
        bool joined;
        if (try_join(r, line, n, &joined) != 0)
            return LME_ENOMEM;
        if (joined) {
            if (append_line(r, line, avail, full, n) != 0)
                return LME_ENOMEM;
            r->body_off = r->rec.len;
            return 0;
        }
    }

    /* Classify only what a record can keep, so the captures lie within the stored header. */
    struct browse_log_header h;
    enum browse_log_kind kind = browse_log_classify(r->bl, line, n < r->max ? n : r->max, &h);
    if (kind == BROWSE_LOG_CONTINUATION) {
        if (r->active)
            return append_line(r, line, avail, full, n);
        if (is_blank(line, n) && full <= avail)
            return 0; /* a blank line, seen whole: no text lost */
        h.kind = BROWSE_LOG_ORPHAN;
        if (start_record(r, line, avail, full, n, &h) != 0)
            return LME_ENOMEM;
        return emit_pending(r, r->offset + full, emit, ctx);
    }

    if (r->active) {
        int rc = emit_pending(r, r->offset, emit, ctx);
        if (rc != 0)
            return rc;
    }
    return start_record(r, line, avail, full, n, &h);
}

static int line_done(struct record_reader *r, const char *line, size_t avail, uint64_t full,
                     record_emit_fn emit, void *ctx)
{
    int rc = process_line(r, line, avail, full, emit, ctx);
    r->offset += full;
    return rc;
}

static int partial_add(struct record_reader *r, const char *p, size_t n)
{
    size_t room = line_cap(r) - r->partial.len;
    size_t take = n < room ? n : room;
    if (lme_buf_append(&r->partial, p, take) != 0)
        return LME_ENOMEM;
    r->partial_dropped += n - take;
    return 0;
}

static int partial_done(struct record_reader *r, record_emit_fn emit, void *ctx)
{
    int rc = line_done(r, r->partial.data, r->partial.len, r->partial.len + r->partial_dropped,
                       emit, ctx);
    lme_buf_reset(&r->partial);
    r->partial_dropped = 0;
    return rc;
}

int record_reader_feed(struct record_reader *r, const char *data, size_t len, record_emit_fn emit,
                       void *ctx)
{
    const char *p = data, *end = data + len;

    if (r->partial.len > 0 || r->partial_dropped > 0) {
        const char *nl = memchr(p, '\n', len);
        size_t take = nl ? (size_t)(nl - p) + 1 : len;
        if (partial_add(r, p, take) != 0)
            return LME_ENOMEM;
        p += take;
        if (!nl)
            return 0;
        int rc = partial_done(r, emit, ctx);
        if (rc != 0)
            return rc;
    }

    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            return partial_add(r, p, (size_t)(end - p));
        size_t full = (size_t)(nl - p) + 1;
        int rc = line_done(r, p, full < line_cap(r) ? full : line_cap(r), full, emit, ctx);
        if (rc != 0)
            return rc;
        p = nl + 1;
    }
    return 0;
}

int record_reader_finish(struct record_reader *r, record_emit_fn emit, void *ctx)
{
    if (r->partial.len > 0 || r->partial_dropped > 0) {
        int rc = partial_done(r, emit, ctx);
        if (rc != 0)
            return rc;
    }
    if (!r->active)
        return 0;
    return emit_pending(r, r->offset, emit, ctx);
}

int record_reader_flush(struct record_reader *r, record_emit_fn emit, void *ctx)
{
    if (!r->active || r->partial.len > 0 || r->partial_dropped > 0)
        return 0; /* a partial line may continue the pending record: wait for its end */
    return emit_pending(r, r->offset, emit, ctx);
}

int record_reader_holds(const struct record_reader *r)
{
    return r->active || r->partial.len > 0 || r->partial_dropped > 0;
}

uint64_t record_reader_unemitted(const struct record_reader *r)
{
    return r->active ? r->rec_offset : r->offset;
}
