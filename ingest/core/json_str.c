/* JSON strings from log bytes: see json_str.h (the escaper itself is inline there). */
#include "json_str.h"

#include <stdint.h>
#include <string.h>

#include "err.h"

/* Each byte that needs attention escaped, or the UTF-8 character it starts copied, or its
 * Windows-1252 character written as UTF-8; then the plain run after it copied as it is. */
char *lme_json_put_escaped(char *w, const unsigned char *s, size_t i, size_t n, bool *non_utf8)
{
    while (i < n) {
        unsigned char c = s[i];
        size_t len;
        if (c < 0x80) {
            w = lme_put_escaped_ascii(w, c);
            i++;
        } else if ((len = lme_utf8_seq_len(s + i, n - i)) != 0) {
            memcpy(w, s + i, len);
            w += len;
            i += len;
        } else {
            w = lme_put_codepoint(w, c < 0xA0 ? lme_cp1252_high[c - 0x80] : c);
            *non_utf8 = true;
            i++;
        }
        size_t k = lme_json_put_plain(w, s + i, n - i);
        w += k;
        i += k;
    }
    return w;
}

int lme_json_append_string(struct lme_buf *b, const char *s, size_t n)
{
    if (n > ((size_t)-1 - 2) / 6 || lme_buf_reserve(b, LME_JSON_STRING_MAX(n)) != 0)
        return LME_ENOMEM;
    bool non_utf8 = false;
    char *end = lme_json_put_string(b->data + b->len, s, n, &non_utf8);
    b->len = (size_t)(end - b->data);
    return 0;
}
