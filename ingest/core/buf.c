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
