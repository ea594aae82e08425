/* JSON strings from log bytes: the one escaper every JSON writer of lme-ingest uses. Bytes that
 * are not UTF-8 are read as Windows-1252, the code page these logs were written in, so any input
 * gives valid JSON and no byte is dropped (docs/schema.md). */
#ifndef LME_JSON_STR_H
#define LME_JSON_STR_H

#include <stdbool.h>
#include <stddef.h>

#include <stdint.h>
#include <string.h>

#include "buf.h"

/* The most a string of n bytes takes as JSON, quotes included. */
#define LME_JSON_STRING_MAX(n) (6 * (n) + 2)

/* Writes s[0, n) as a JSON string, quotes included, at w, which must have room for
 * LME_JSON_STRING_MAX(n) bytes. Returns the end of what was written; sets *non_utf8 when a byte
 * had to be read as Windows-1252. Defined below, inline: it runs for every field of every event
 * (the encoder's hottest code), and a call per string cost the parse benchmark about 15%. */
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

static inline bool lme_byte_is_plain(unsigned char c)
{
    return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

static inline char *lme_json_put_string(char *w, const char *str, size_t n, bool *non_utf8)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    *w++ = '"';
    while (i < n) {
        size_t start = i;
        for (; i + 8 <= n; i += 8) {
            uint64_t v;
            memcpy(&v, s + i, 8);
            if (!lme_word_is_plain(v))
                break;
        }
        while (i < n && lme_byte_is_plain(s[i]))
            i++;
        memcpy(w, s + start, i - start);
        w += i - start;
        if (i >= n)
            break;
        unsigned char c = s[i];
        if (c < 0x80) {
            w = lme_put_escaped_ascii(w, c);
            i++;
            continue;
        }
        size_t k = lme_utf8_seq_len(s + i, n - i);
        if (k) {
            memcpy(w, s + i, k);
            w += k;
            i += k;
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
