/* Growable byte buffer: see buf.h. */
#include "buf.h"

#include <stdlib.h>

#include "err.h"

int lme_buf_grow(struct lme_buf *b, size_t need)
{
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need) {
        if (cap > (size_t)-1 / 2)
            return LME_ENOMEM;
        cap *= 2;
    }
    char *p = realloc(b->data, cap);
    if (!p)
        return LME_ENOMEM;
    b->data = p;
    b->cap = cap;
    return 0;
}

void lme_buf_free(struct lme_buf *b)
{
    if (!b)
        return;
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

int lme_buf_append_hex(struct lme_buf *b, const void *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    if (lme_buf_reserve(b, 2 * n) != 0)
        return LME_ENOMEM;
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++) {
        b->data[b->len++] = digits[s[i] >> 4];
        b->data[b->len++] = digits[s[i] & 15];
    }
    return 0;
}

static int nibble(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

int lme_buf_append_unhex(struct lme_buf *b, const char *hex, size_t len)
{
    if (len % 2)
        return -1;
    if (lme_buf_reserve(b, len / 2) != 0)
        return LME_ENOMEM;
    for (size_t i = 0; i < len; i += 2) {
        int hi = nibble(hex[i]), lo = nibble(hex[i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        b->data[b->len++] = (char)(hi << 4 | lo);
    }
    return 0;
}
