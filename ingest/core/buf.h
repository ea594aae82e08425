/* A growable byte buffer: the one way lme-ingest builds strings of unknown length.
 * The buffer owns its memory; lme_buf_free releases it. Not thread-safe. */
#ifndef LME_BUF_H
#define LME_BUF_H

#include <stddef.h>
#include <string.h>

#include "err.h"

struct lme_buf {
    char *data;
    size_t len;
    size_t cap;
};

#define LME_BUF_INIT { NULL, 0, 0 }

/* Slow path of lme_buf_reserve. Returns 0 or LME_ENOMEM (the buffer is unchanged then). */
int lme_buf_grow(struct lme_buf *b, size_t need);

/* Makes room for `extra` more bytes. Returns 0 or LME_ENOMEM (also when len + extra does
 * not fit in a size_t). */
static inline int lme_buf_reserve(struct lme_buf *b, size_t extra)
{
    if (b->cap - b->len >= extra)
        return 0;
    if (extra > (size_t)-1 - b->len) /* len + extra would wrap */
        return LME_ENOMEM;
    return lme_buf_grow(b, b->len + extra);
}

/* Appends n bytes. Returns 0 or LME_ENOMEM. */
static inline int lme_buf_append(struct lme_buf *b, const void *p, size_t n)
{
    if (n == 0) /* an empty buffer has no memory to copy into */
        return 0;
    if (lme_buf_reserve(b, n) != 0)
        return LME_ENOMEM;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

static inline int lme_buf_append_str(struct lme_buf *b, const char *s)
{
    return lme_buf_append(b, s, strlen(s));
}

static inline void lme_buf_reset(struct lme_buf *b)
{
    b->len = 0;
}

/* Releases the memory and leaves an empty buffer; NULL-safe. */
void lme_buf_free(struct lme_buf *b);

/* Log bytes kept in JSON state files, which take only UTF-8: n bytes as 2n lowercase hex digits,
 * appended (no NUL); and back, appended to b (-1 for text that is not hex). Return 0 or
 * LME_ENOMEM. */
int lme_buf_append_hex(struct lme_buf *b, const void *p, size_t n);
int lme_buf_append_unhex(struct lme_buf *b, const char *hex, size_t len);

#endif
