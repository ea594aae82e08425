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

/* Copies s[0, n) to w: up to 32 bytes as two loads and two stores that overlap (no call). */
static inline void lme_json_copy(char *w, const unsigned char *s, size_t n)
{
    if (n >= 8 && n <= 16) {
        uint64_t head, tail;
        memcpy(&head, s, 8);
        memcpy(&tail, s + n - 8, 8);
        memcpy(w, &head, 8);
        memcpy(w + n - 8, &tail, 8);
    } else if (n > 16 && n <= 32) {
        char head[16], tail[16];
        memcpy(head, s, 16);
        memcpy(tail, s + n - 16, 16);
        memcpy(w, head, 16);
        memcpy(w + n - 16, tail, 16);
    } else if (n >= 4 && n < 8) {
        uint32_t head, tail;
        memcpy(&head, s, 4);
        memcpy(&tail, s + n - 4, 4);
        memcpy(w, &head, 4);
        memcpy(w + n - 4, &tail, 4);
    } else if (n < 4) {
        for (size_t i = 0; i < n; i++)
            w[i] = (char)s[i];
    } else {
        memcpy(w, s, n);
    }
}

#ifdef __SSE2__
/* A bit for each of the 16 bytes at s that needs attention: a control byte, '"', '\\', or a byte
 * from 0x80 (compared as signed, those are below 0x20 too). */
static inline unsigned lme_json_special16(const unsigned char *s)
{
    const __m128i space = _mm_set1_epi8(0x20), quote = _mm_set1_epi8('"');
    const __m128i bslash = _mm_set1_epi8('\\');
    __m128i v = _mm_loadu_si128((const __m128i *)s);
    __m128i bad = _mm_or_si128(_mm_cmplt_epi8(v, space),
                               _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bslash)));
    return (unsigned)_mm_movemask_epi8(bad);
}

/* How many bytes from s[i] on, up to s[n], need no escaping: 16 at a time. The last bytes of a
 * string of 16 or more are read as the 16 that end it (all of them the string's); a shorter
 * string is read a byte at a time. */
static inline size_t lme_json_plain_run(const unsigned char *s, size_t i, size_t n)
{
    size_t from = i;
    for (; i + 16 <= n; i += 16) {
        unsigned mask = lme_json_special16(s + i);
        if (mask)
            return i + (size_t)__builtin_ctz(mask) - from;
    }
    if (i == n)
        return n - from;
    if (n < 16) {
        while (i < n && lme_byte_is_plain(s[i]))
            i++;
        return i - from;
    }
    unsigned mask = lme_json_special16(s + n - 16) >> (i - (n - 16));
    return (mask ? i + (size_t)__builtin_ctz(mask) : n) - from;
}
#else
/* True when none of the 8 bytes needs attention: no control byte, '"', '\\' or byte >= 0x80. */
static inline bool lme_word_is_plain(uint64_t v)
{
    const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
    uint64_t ctl = (v - ones * 0x20) & ~v;          /* high bit set where byte < 0x20 */
    uint64_t quote = v ^ (ones * '"');
    uint64_t bslash = v ^ (ones * '\\');
    uint64_t hits = ctl | ((quote - ones) & ~quote) | ((bslash - ones) & ~bslash) | v;
    return (hits & highs) == 0;
}

/* How many bytes from s[i] on, up to s[n], need no escaping: 8 at a time. */
static inline size_t lme_json_plain_run(const unsigned char *s, size_t i, size_t n)
{
    size_t from = i;
    for (; i + 8 <= n; i += 8) {
        uint64_t v;
        memcpy(&v, s + i, 8);
        if (!lme_word_is_plain(v))
            break;
    }
    while (i < n && lme_byte_is_plain(s[i]))
        i++;
    return i - from;
}
#endif

/* The escaper: each run of plain bytes copied as it is, then the byte that ended it escaped, or
 * the UTF-8 character it starts copied, or its Windows-1252 character written as UTF-8. */
static inline char *lme_json_put_string(char *w, const char *str, size_t n, bool *non_utf8)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    *w++ = '"';
    for (;;) {
        size_t k = lme_json_plain_run(s, i, n);
        lme_json_copy(w, s + i, k);
        w += k;
        i += k;
        if (i >= n)
            break;
        unsigned char c = s[i];
        if (c < 0x80) {
            w = lme_put_escaped_ascii(w, c);
            i++;
            continue;
        }
        size_t len = lme_utf8_seq_len(s + i, n - i);
        if (len) {
            memcpy(w, s + i, len);
            w += len;
            i += len;
            continue;
        }
        w = lme_put_codepoint(w, c < 0xA0 ? lme_cp1252_high[c - 0x80] : c);
        *non_utf8 = true;
        i++;
    }
    *w++ = '"';
    return w;
}

#endif
