/* json_str.h's escaper against a reference written a byte at a time: its runs of plain bytes are
 * found (and copied, before they are known to be plain) 16 (SSE2) or 8 bytes at a time, with the
 * string's last bytes read as the window that ends it, and strings of 4 to 15 bytes as two words
 * that overlap, so lengths around those widths and special bytes at every place are what
 * matter. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_str.h"

#define MAX_LEN 80
#define RANDOM_STRINGS 200000

/* The escaper as docs/schema.md states it, one byte at a time. */
static char *reference(char *w, const unsigned char *s, size_t n, bool *non_utf8)
{
    *w++ = '"';
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        size_t len;
        if (lme_byte_is_plain(c)) {
            *w++ = (char)c;
            i++;
        } else if (c < 0x80) {
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
    }
    *w++ = '"';
    return w;
}

/* s[0, n) escaped both ways, from a copy on the heap of exactly n bytes (so that a read past
 * the string is one past its allocation, for ASan). */
static void compare(const unsigned char *str, size_t n)
{
    unsigned char *s = malloc(n ? n : 1);
    assert_non_null(s);
    memcpy(s, str, n);
    char got[LME_JSON_STRING_MAX(MAX_LEN)], want[LME_JSON_STRING_MAX(MAX_LEN)];
    bool got_non_utf8 = false, want_non_utf8 = false;
    char *got_end = lme_json_put_string(got, (const char *)s, n, &got_non_utf8);
    char *want_end = reference(want, s, n, &want_non_utf8);
    free(s);
    size_t got_len = (size_t)(got_end - got), want_len = (size_t)(want_end - want);
    if (got_len != want_len || memcmp(got, want, got_len) != 0 || got_non_utf8 != want_non_utf8)
        fail_msg("%zu bytes: got '%.*s', expected '%.*s'", n, (int)got_len, got, (int)want_len,
                 want);
}

/* Each special byte at each place of plain strings of every length up to MAX_LEN. */
static void test_one_special_byte_anywhere(void **state)
{
    (void)state;
    static const unsigned char specials[] = { '"', '\\', '\n', '\r', 0x00, 0x1F, 0x7F, 0x80,
                                              0x9F, 0xA0, 0xC3, 0xFF };
    unsigned char s[MAX_LEN] = { 0 };
    for (size_t n = 0; n <= MAX_LEN; n++) {
        for (size_t k = 0; k < n; k++)
            s[k] = (unsigned char)('a' + k % 26);
        compare(s, n);
        for (size_t at = 0; at < n; at++) {
            for (size_t j = 0; j < sizeof(specials); j++) {
                unsigned char keep = s[at];
                s[at] = specials[j];
                compare(s, n);
                s[at] = keep;
            }
        }
    }
}

/* Random mixes: plain bytes, specials, valid UTF-8 characters, and bytes that are none. */
static void test_random_strings_escape_as_the_reference(void **state)
{
    (void)state;
    static const char *const pieces[] = { "a", "Z", " ", "\"", "\\", "\t", "\r\n", "\x01", "\xC3\xA9",
                                          "\xE2\x82\xAC", "\xF0\x9F\x98\x80", "\xE9", "\x80",
                                          "\xC3", "\xED\xA0\x80", "\xF4\x90\x80\x80", "0123456789abcdef" };
    uint64_t x = 0x9E3779B97F4A7C15ULL;
    unsigned char s[MAX_LEN];
    for (int r = 0; r < RANDOM_STRINGS; r++) {
        size_t n = 0;
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        size_t target = (size_t)(x >> 33) % (MAX_LEN + 1);
        while (n < target) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            const char *p = pieces[(x >> 33) % (sizeof(pieces) / sizeof(pieces[0]))];
            size_t len = strlen(p);
            if (n + len > target)
                len = target - n;
            memcpy(s + n, p, len);
            n += len;
        }
        compare(s, n);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_special_byte_anywhere),
        cmocka_unit_test(test_random_strings_escape_as_the_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
