/* JSON strings from log bytes: the one escaper every JSON writer of lme-ingest uses. Bytes that
 * are not UTF-8 are read as Windows-1252, the code page these logs were written in, so any input
 * gives valid JSON and no byte is dropped (docs/schema.md). */
#ifndef LME_JSON_STR_H
#define LME_JSON_STR_H

#include <stdbool.h>
#include <stddef.h>

#include <stdint.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "buf.h"

/* The most a string of n bytes takes as JSON, quotes included. */
#define LME_JSON_STRING_MAX(n) (6 * (n) + 2)

/* Writes s[0, n) as a JSON string, quotes included, at w, which must have room for
 * LME_JSON_STRING_MAX(n) bytes. Returns the end of what was written; sets *non_utf8 when a byte
 * had to be read as Windows-1252. Defined below, inline: it runs for every field of every event
 * (the encoder's hottest code), and a call per string cost the parse benchmark about 15%. What
 * needs no escaping is found 16 bytes at a time with SSE2 (8 without it) and copied as it is. */
static inline char *lme_json_put_string(char *w, const char *s, size_t n, bool *non_utf8);

/* Appends s[0, n) as a JSON string to b. Returns 0 or LME_ENOMEM. */
int lme_json_append_string(struct lme_buf *b, const char *s, size_t n);

/* ---- the inline implementation ---- */

/* Windows-1252 for 0x80..0x9F; 0xA0..0xFF are U+00A0..U+00FF. The five bytes 1252 leaves
 * undefined map to the C1 controls of the same value, so every byte has a character. */
static const uint16_t lme_cp1252_high[32] = {
    0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0x008D, 0x017D, 0x008F, 0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178,
};

/* Length of the valid UTF-8 sequence at s (1 < length <= 4), or 0 when the bytes are not one. */
static inline size_t lme_utf8_seq_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0)
            lo = 0xA0;
        if (c == 0xED)
            hi = 0x9F; /* no UTF-16 surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0)
            lo = 0x90;
        if (c == 0xF4)
            hi = 0x8F;
    } else
        return 0;
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    return len;
}

static inline char *lme_put_codepoint(char *w, unsigned cp)
{
    if (cp < 0x800) {
        *w++ = (char)(0xC0 | cp >> 6);
        *w++ = (char)(0x80 | (cp & 0x3F));
        return w;
    }
    *w++ = (char)(0xE0 | cp >> 12);
    *w++ = (char)(0x80 | ((cp >> 6) & 0x3F));
    *w++ = (char)(0x80 | (cp & 0x3F));
    return w;
}

static inline char *lme_put_escaped_ascii(char *w, unsigned char c)
{
    static const char hex[] = "0123456789abcdef";
    char esc = 0;
    switch (c) {
    case '"': esc = '"'; break;
    case '\\': esc = '\\'; break;
    case '\n': esc = 'n'; break;
    case '\r': esc = 'r'; break;
    case '\t': esc = 't'; break;
    case '\b': esc = 'b'; break;
    case '\f': esc = 'f'; break;
    default: break;
    }
    if (esc) {
        *w++ = '\\';
        *w++ = esc;
        return w;
    }
    memcpy(w, "\\u00", 4);
    w += 4;
    *w++ = hex[c >> 4];
    *w++ = hex[c & 0xF];
    return w;
}

/* Bytes written as they are: printable ASCII but '"' and '\\'. A table, for the short strings
 * read a byte at a time (five comparisons a byte cost the encoder 300 instructions an event). */
#define LME_JSON_PLAIN(c) ((c) >= 0x20 && (c) < 0x80 && (c) != '"' && (c) != '\\')
#define LME_JSON_PLAIN_ROW(b)                                                                     \
    LME_JSON_PLAIN(b), LME_JSON_PLAIN(b + 1), LME_JSON_PLAIN(b + 2), LME_JSON_PLAIN(b + 3),        \
        LME_JSON_PLAIN(b + 4), LME_JSON_PLAIN(b + 5), LME_JSON_PLAIN(b + 6), LME_JSON_PLAIN(b + 7), \
        LME_JSON_PLAIN(b + 8), LME_JSON_PLAIN(b + 9), LME_JSON_PLAIN(b + 10),                      \
        LME_JSON_PLAIN(b + 11), LME_JSON_PLAIN(b + 12), LME_JSON_PLAIN(b + 13),                    \
        LME_JSON_PLAIN(b + 14), LME_JSON_PLAIN(b + 15)
static const bool lme_json_plain_bytes[256] = {
    LME_JSON_PLAIN_ROW(0x00), LME_JSON_PLAIN_ROW(0x10), LME_JSON_PLAIN_ROW(0x20),
    LME_JSON_PLAIN_ROW(0x30), LME_JSON_PLAIN_ROW(0x40), LME_JSON_PLAIN_ROW(0x50),
    LME_JSON_PLAIN_ROW(0x60), LME_JSON_PLAIN_ROW(0x70),
};

static inline bool lme_byte_is_plain(unsigned char c)
{
    return lme_json_plain_bytes[c];
}

/* True when none of the 8 bytes needs attention: no control byte, '"', '\\' or byte >= 0x80. */
static inline bool lme_word_is_plain(uint64_t v)
{
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    uint64_t ctl = (v - ones * 0x20) & ~v; /* high bit set where byte < 0x20 */
    uint64_t quote = v ^ (ones * '"');
    uint64_t bslash = v ^ (ones * '\\');
    uint64_t hits = ctl | ((quote - ones) & ~quote) | ((bslash - ones) & ~bslash) | v;
    return (hits & highs) == 0;
}

/* Short strings (a code, a host, a component): when all of s[0, n), 4 <= n < 16, is plain,
 * copies it to w as two loads and two stores that overlap, and returns true; checked as two
 * words, not a byte at a time (that loop cost the encoder 200 instructions an event). */
static inline bool lme_json_put_short(char *w, const unsigned char *s, size_t n)
{
    if (n >= 8) {
        uint64_t head, tail;
        memcpy(&head, s, 8);
        memcpy(&tail, s + n - 8, 8);
        if (!lme_word_is_plain(head) || !lme_word_is_plain(tail))
            return false;
        memcpy(w, &head, 8);
        memcpy(w + n - 8, &tail, 8);
        return true;
    }
    uint32_t head, tail;
    memcpy(&head, s, 4);
    memcpy(&tail, s + n - 4, 4);
    if (!lme_word_is_plain((uint64_t)tail << 32 | head))
        return false;
    memcpy(w, &head, 4);
    memcpy(w + n - 4, &tail, 4);
    return true;
}

#ifdef __SSE2__
/* A bit for each of the 16 bytes of v that needs attention: a control byte, '"', '\\', or a
 * byte from 0x80 (compared as signed, those are below 0x20 too). */
static inline unsigned lme_json_special16(__m128i v)
{
    const __m128i space = _mm_set1_epi8(0x20), quote = _mm_set1_epi8('"');
    const __m128i bslash = _mm_set1_epi8('\\');
    __m128i bad = _mm_or_si128(_mm_cmplt_epi8(v, space),
                               _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bslash)));
    return (unsigned)_mm_movemask_epi8(bad);
}

/* Long strings: copies s[0, n), n >= 16, to w 16 bytes at a time while checking them, and
 * returns how many bytes from the start need no escaping. The last bytes are read (and
 * written) as the 16 that end the string. Bytes past the returned count may be written too:
 * never past w[n], and the escaped rest of the string, at least as long, overwrites them. */
static inline size_t lme_json_put_long(char *w, const unsigned char *s, size_t n)
{
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(s + i));
        _mm_storeu_si128((__m128i *)(w + i), v);
        unsigned mask = lme_json_special16(v);
        if (mask)
            return i + (size_t)__builtin_ctz(mask);
    }
    if (i == n)
        return n;
    __m128i v = _mm_loadu_si128((const __m128i *)(s + n - 16));
    _mm_storeu_si128((__m128i *)(w + n - 16), v);
    unsigned mask = lme_json_special16(v) >> (i - (n - 16));
    return mask ? i + (size_t)__builtin_ctz(mask) : n;
}
#else
/* The same, 8 bytes at a time, the last bytes one at a time. */
static inline size_t lme_json_put_long(char *w, const unsigned char *s, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t v;
        memcpy(&v, s + i, 8);
        if (!lme_word_is_plain(v))
            break;
        memcpy(w + i, &v, 8);
    }
    for (; i < n && lme_byte_is_plain(s[i]); i++)
        w[i] = (char)s[i];
    return i;
}
#endif

/* Copies the bytes at the start of s[0, n) that need no escaping to w and returns how many; may
 * write bytes past them as lme_json_put_long says. */
static inline size_t lme_json_put_plain(char *w, const unsigned char *s, size_t n)
{
    if (n >= 16)
        return lme_json_put_long(w, s, n);
    if (n >= 4 && lme_json_put_short(w, s, n))
        return n;
    size_t i = 0;
    for (; i < n && lme_byte_is_plain(s[i]); i++)
        w[i] = (char)s[i];
    return i;
}

/* The rest of a string from its first byte that needs attention, s[i]: out of line, since most
 * strings have none and the inline part stays small enough to be inlined everywhere. */
char *lme_json_put_escaped(char *w, const unsigned char *s, size_t i, size_t n, bool *non_utf8);

/* The escaper: the plain bytes that start the string copied as they are (most strings are all
 * plain), the rest by lme_json_put_escaped. */
static inline char *lme_json_put_string(char *w, const char *str, size_t n, bool *non_utf8)
{
    const unsigned char *s = (const unsigned char *)str;
    *w++ = '"';
    size_t k = lme_json_put_plain(w, s, n);
    w += k;
    if (k < n)
        w = lme_json_put_escaped(w, s, k, n, non_utf8);
    *w++ = '"';
    return w;
}

#endif
