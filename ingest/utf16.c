/* UTF-16LE to UTF-8 with a map back to file offsets: see utf16.h. The input is cut just after
 * each LF code unit and each piece converted by iconv, so the offsets after every LF are known.
 * Bytes that end an input mid-character wait in a small carry, completed by the next feed. */
#include "utf16.h"

#include <errno.h>
#include <iconv.h>
#include <stdlib.h>
#include <string.h>

#define CARRY_MAX 4    /* a surrogate pair, the longest UTF-16 character */
#define ENDS_INIT 64   /* first capacity of the line-end queue */

static const char REPLACEMENT[] = "\xEF\xBF\xBD"; /* U+FFFD */

struct line_end {
    uint64_t utf8_off; /* just after the LF in the UTF-8 stream */
    uint64_t file_off; /* just after its two bytes in the file */
};

/* How far the conversion went; saved by utf16_feed and put back when it fails. */
struct cursor {
    uint64_t utf8_off; /* UTF-8 bytes produced */
    uint64_t file_off; /* file offset of carry[0], or of the next byte fed when the carry is empty */
    unsigned char carry[CARRY_MAX];
    size_t ncarry;
};

struct utf16 {
    iconv_t cd;
    struct cursor cur;
    struct line_end base;  /* the last line end a query used (at first the create offset) */
    struct line_end *ends; /* queue of line ends not yet used: ends[head..n) */
    size_t head, n, cap;
};

struct utf16 *utf16_create(uint64_t file_offset, struct lme_err *err)
{
    struct utf16 *u = calloc(1, sizeof(*u));
    if (!u) {
        lme_err_set(err, LME_ENOMEM, "UTF-16 conversion: out of memory");
        return NULL;
    }
    u->cd = iconv_open("UTF-8", "UTF-16LE");
    if (u->cd == (iconv_t)-1) {
        int code = errno == ENOMEM ? LME_ENOMEM : LME_EINVAL;
        lme_err_set(err, code, "UTF-16 conversion: iconv cannot convert UTF-16LE to UTF-8: %s",
                    strerror(errno));
        free(u);
        return NULL;
    }
    u->cur.file_off = file_offset;
    u->base = (struct line_end){ 0, file_offset };
    return u;
}

void utf16_destroy(struct utf16 *u)
{
    if (!u)
        return;
    iconv_close(u->cd);
    free(u->ends);
    free(u);
}

void utf16_skip(struct utf16 *u, uint64_t n)
{
    u->cur.file_off += n;
    u->base.file_off += n;
}

/* Makes room for one more line end: compacts when at least half the array was used by queries
 * (so each entry is moved O(1) times on average), else doubles it. */
static int ends_reserve(struct utf16 *u)
{
    if (u->n < u->cap)
        return 0;
    if (u->head > 0 && u->head >= u->n / 2) {
        memmove(u->ends, u->ends + u->head, (u->n - u->head) * sizeof(*u->ends));
        u->n -= u->head;
        u->head = 0;
        return 0;
    }
    size_t cap = u->cap ? 2 * u->cap : ENDS_INIT;
    if (cap > (size_t)-1 / sizeof(*u->ends))
        return LME_ENOMEM;
    struct line_end *ends = realloc(u->ends, cap * sizeof(*ends));
    if (!ends)
        return LME_ENOMEM;
    u->ends = ends;
    u->cap = cap;
    return 0;
}

static int ends_push(struct utf16 *u)
{
    if (ends_reserve(u) != 0)
        return LME_ENOMEM;
    u->ends[u->n++] = (struct line_end){ u->cur.utf8_off, u->cur.file_off };
    return 0;
}

/* Length of p up to and including its first LF code unit (code units start at even positions),
 * or n when there is none; *lf says which. */
static size_t segment_len(const char *p, size_t n, int *lf)
{
    for (size_t i = 0; i + 1 < n; i += 2) {
        if (p[i] == '\n' && p[i + 1] == '\0') {
            *lf = 1;
            return i + 2;
        }
    }
    *lf = 0;
    return n;
}

/* Converts p[0..n), which starts on a character boundary at the cursor, appending to out and
 * advancing the cursor. *used: bytes consumed, fewer than n only when p ends with an incomplete
 * character. */
static int convert_segment(struct utf16 *u, const char *p, size_t n, struct lme_buf *out,
                           size_t *used)
{
    char *in = (char *)p; /* iconv's prototype is not const-correct; it does not write */
    size_t left = n;
    while (left > 0) {
        /* 2 bytes of UTF-16 give at most 3 of UTF-8 (a pair: 4 give 4), plus a replacement */
        if (lme_buf_reserve(out, left / 2 * 3 + sizeof(REPLACEMENT)) != 0)
            return LME_ENOMEM;
        char *o = out->data + out->len;
        size_t room = out->cap - out->len;
        size_t rc = iconv(u->cd, &in, &left, &o, &room);
        int saved_errno = errno;
        u->cur.utf8_off += (uint64_t)(o - (out->data + out->len));
        out->len = (size_t)(o - out->data);
        if (rc != (size_t)-1)
            break;
        /* EINVAL: an incomplete character ends the input (never one ending with an LF); the
         * bound keeps the carry safe from an iconv that would say so of longer input */
        if (saved_errno == EINVAL && left < CARRY_MAX)
            break;
        if (saved_errno == E2BIG) /* not expected with the room reserved, but harmless */
            continue;
        /* EILSEQ: in UTF-16 only an unpaired surrogate, one code unit */
        lme_buf_append(out, REPLACEMENT, sizeof(REPLACEMENT) - 1); /* room reserved above */
        u->cur.utf8_off += sizeof(REPLACEMENT) - 1;
        size_t skip = left < 2 ? left : 2;
        in += skip;
        left -= skip;
    }
    *used = n - left;
    u->cur.file_off += *used;
    return 0;
}

/* Converts the whole characters of p (as convert_segment) piece by piece, recording the line
 * end after each LF. The rest (at most CARRY_MAX - 1 bytes) is an incomplete character. */
static int convert(struct utf16 *u, const char *p, size_t n, struct lme_buf *out, size_t *used)
{
    size_t done = 0;
    while (done < n) {
        int lf;
        size_t seg = segment_len(p + done, n - done, &lf);
        size_t got;
        if (convert_segment(u, p + done, seg, out, &got) != 0)
            return LME_ENOMEM;
        done += got;
        if (got < seg)
            break;
        if (lf && ends_push(u) != 0)
            return LME_ENOMEM;
    }
    *used = done;
    return 0;
}

/* Completes the carried bytes with input one byte at a time until they are consumed or the
 * input runs out; a carry holds at most 3 bytes and 4 always decide a character, so this stops
 * after a few bytes. */
static int drain_carry(struct utf16 *u, const char **in, size_t *len, struct lme_buf *out)
{
    struct cursor *c = &u->cur;
    while (c->ncarry > 0 && *len > 0) {
        c->carry[c->ncarry++] = (unsigned char)**in;
        (*in)++;
        (*len)--;
        size_t used;
        if (convert(u, (const char *)c->carry, c->ncarry, out, &used) != 0)
            return LME_ENOMEM;
        memmove(c->carry, c->carry + used, c->ncarry - used);
        c->ncarry -= used;
    }
    return 0;
}

static int feed(struct utf16 *u, const char *in, size_t len, struct lme_buf *out)
{
    if (drain_carry(u, &in, &len, out) != 0)
        return LME_ENOMEM;
    if (u->cur.ncarry > 0) /* the input ran out first */
        return 0;
    size_t used;
    if (convert(u, in, len, out, &used) != 0)
        return LME_ENOMEM;
    memcpy(u->cur.carry, in + used, len - used);
    u->cur.ncarry = len - used;
    return 0;
}

int utf16_feed(struct utf16 *u, const char *in, size_t len, struct lme_buf *out)
{
    struct cursor saved = u->cur;
    size_t saved_out = out->len;
    size_t saved_ends = u->n - u->head; /* compaction may move the queue, never drop from it */
    if (feed(u, in, len, out) == 0)
        return 0;
    u->cur = saved;
    out->len = saved_out;
    u->n = u->head + saved_ends;
    iconv(u->cd, NULL, NULL, NULL, NULL); /* back to the initial state, as at the saved cursor */
    return LME_ENOMEM;
}

uint64_t utf16_file_offset(struct utf16 *u, uint64_t utf8_off)
{
    while (u->head < u->n && u->ends[u->head].utf8_off <= utf8_off)
        u->base = u->ends[u->head++];
    if (u->head == u->n) /* all used: start the array over for free */
        u->head = u->n = 0;
    if (utf8_off == u->cur.utf8_off) /* the end: every line end is used, this point is exact */
        u->base = (struct line_end){ u->cur.utf8_off, u->cur.file_off };
    return u->base.file_off;
}
