/* JSON strings from log bytes: see json_str.h (the escaper itself is inline there). */
#include "json_str.h"

#include <stdint.h>
#include <string.h>

#include "err.h"

int lme_json_append_string(struct lme_buf *b, const char *s, size_t n)
{
    if (n > ((size_t)-1 - 2) / 6 || lme_buf_reserve(b, LME_JSON_STRING_MAX(n)) != 0)
        return LME_ENOMEM;
    bool non_utf8 = false;
    char *end = lme_json_put_string(b->data + b->len, s, n, &non_utf8);
    b->len = (size_t)(end - b->data);
    return 0;
}
