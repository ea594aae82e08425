/* The common header line read by hand: see header_scan.h. Each reader below is one part of
 * HEADER_RE (browse_log.c), named after it; each takes as much as its part allows and returns
 * false where PCRE2 would have to backtrack. PCRE2 cost about 1,300 instructions a line on the
 * benchmark (its JIT code and the call); this scan, about a third of that. */
#include "header_scan.h"

#include <stdint.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

struct cursor {
    const unsigned char *s;
    size_t n, i;
};

/* What each byte can be in the pattern, looked up once instead of compared in turn. */
enum {
    WS = 1,         /* [ \t\xA0] */
    DIGIT = 2,      /* \d */
    HEX = 4,        /* [0-9A-Fa-f] */
    COMP_FIRST = 8, /* [A-Za-z_$] */
    COMP = 16,      /* [A-Za-z0-9_$.-] */
};

#define IS_ALPHA(c) (((c) >= 'a' && (c) <= 'z') || ((c) >= 'A' && (c) <= 'Z'))
#define IS_DIGIT(c) ((c) >= '0' && (c) <= '9')
#define CLASS(c)                                                                                  \
    (((c) == ' ' || (c) == '\t' || (c) == 0xA0 ? WS : 0) | (IS_DIGIT(c) ? DIGIT | HEX | COMP : 0) | \
     (((c) >= 'a' && (c) <= 'f') || ((c) >= 'A' && (c) <= 'F') ? HEX : 0) |                        \
     (IS_ALPHA(c) || (c) == '_' || (c) == '$' ? COMP_FIRST | COMP : 0) |                          \
     ((c) == '.' || (c) == '-' ? COMP : 0))
#define ROW(b)                                                                                    \
    CLASS(b), CLASS(b + 1), CLASS(b + 2), CLASS(b + 3), CLASS(b + 4), CLASS(b + 5), CLASS(b + 6),  \
        CLASS(b + 7), CLASS(b + 8), CLASS(b + 9), CLASS(b + 10), CLASS(b + 11), CLASS(b + 12),     \
        CLASS(b + 13), CLASS(b + 14), CLASS(b + 15)

static const unsigned char classes[256] = {
    ROW(0x00), ROW(0x10), ROW(0x20), ROW(0x30), ROW(0x40), ROW(0x50), ROW(0x60), ROW(0x70),
    ROW(0x80), ROW(0x90), ROW(0xA0), ROW(0xB0), ROW(0xC0), ROW(0xD0), ROW(0xE0), ROW(0xF0),
};

static bool is(unsigned char c, unsigned what)
{
    return (classes[c] & what) != 0;
}

static bool at(const struct cursor *c, size_t k, unsigned char ch)
{
    return c->i + k < c->n && c->s[c->i + k] == ch;
}

static bool digit_at(const struct cursor *c, size_t k)
{
    return c->i + k < c->n && is(c->s[c->i + k], DIGIT);
}

/* A run of `what` bytes, as long as the line has them, at most max; returns its length. */
static size_t skip(struct cursor *c, unsigned what, size_t max)
{
    size_t from = c->i, end = c->n - from > max ? from + max : c->n;
    while (c->i < end && is(c->s[c->i], what))
        c->i++;
    return c->i - from;
}

/* WS*+; returns how many it took. Headers pad their component with runs of spaces (8 on
 * average on the benchmark, 20 and more in real logs): those are skipped 8 at a time. */
static inline __attribute__((always_inline)) size_t skip_ws(struct cursor *c)
{
    size_t from = c->i;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (c->i < c->n && c->s[c->i] == ' ') { /* most runs are none, or one byte */
        while (c->n - c->i >= 8) {
            uint64_t v;
            memcpy(&v, c->s + c->i, 8);
            v ^= 0x2020202020202020ULL; /* 0 where a space is */
            if (v) {
                c->i += (size_t)__builtin_ctzll(v) / 8; /* the first byte that is not one */
                break;
            }
            c->i += 8;
        }
    }
#endif
    while (c->i < c->n && is(c->s[c->i], WS)) /* tabs, 0xA0, and the last bytes */
        c->i++;
    return c->i - from;
}

static bool take(struct cursor *c, unsigned char ch)
{
    if (!at(c, 0, ch))
        return false;
    c->i++;
    return true;
}

/* \d{min,max}, greedy: as many digits as there are, up to max. */
static bool take_digits(struct cursor *c, size_t min, size_t max)
{
    return skip(c, DIGIT, max) >= min;
}

/* The usual date and time, every part at its longest width, checked at once: then they are
 * what the greedy readers below would take a byte at a time. */
static bool is_date_sep(unsigned char ch)
{
    return ch == '/' || ch == '.' || ch == '-';
}

/* "dddd-dd-dd", '-' any of [/.-] */
static bool is_long_date(const unsigned char *p)
{
    unsigned digits = classes[p[0]] & classes[p[1]] & classes[p[2]] & classes[p[3]] &
                      classes[p[5]] & classes[p[6]] & classes[p[8]] & classes[p[9]];
    return (digits & DIGIT) && is_date_sep(p[4]) && is_date_sep(p[7]);
}

/* "dd:dd:dd" */
static bool is_long_time(const unsigned char *p)
{
    unsigned digits = classes[p[0]] & classes[p[1]] & classes[p[3]] & classes[p[4]] &
                      classes[p[6]] & classes[p[7]];
    return (digits & DIGIT) && p[2] == ':' && p[5] == ':';
}

/* [/.-] */
static bool take_date_sep(struct cursor *c)
{
    return take(c, '/') || take(c, '.') || take(c, '-');
}

static struct browse_log_span span_since(const struct cursor *c, size_t start)
{
    return (struct browse_log_span){ (uint32_t)start, (uint32_t)(c->i - start) };
}

/* DATE's first alternative, \d{4}[/.-]\d{1,2}[/.-]\d{1,2}; the others are left to PCRE2. */
static bool read_date(struct cursor *c, struct browse_log_span *date)
{
    size_t start = c->i;
    if (c->n - c->i >= 10 && is_long_date(c->s + c->i)) {
        c->i += 10;
        *date = span_since(c, start);
        return true;
    }
    if (!take_digits(c, 4, 4) || !take_date_sep(c) || !take_digits(c, 1, 2) ||
        !take_date_sep(c) || !take_digits(c, 1, 2))
        return false;
    *date = span_since(c, start);
    return true;
}

/* TIME's first alternative, \d{1,2}:\d{2}(?::\d{2}(?:[.,]\d{1,6})?)?; each optional part is
 * taken when it can match, as PCRE2 first tries. */
static bool read_time(struct cursor *c, struct browse_log_span *time)
{
    size_t start = c->i;
    bool seconds;
    if (c->n - c->i >= 8 && is_long_time(c->s + c->i)) {
        c->i += 8;
        seconds = true;
    } else {
        if (!take_digits(c, 1, 2) || !take(c, ':') || !take_digits(c, 2, 2))
            return false;
        seconds = at(c, 0, ':') && digit_at(c, 1) && digit_at(c, 2);
        if (seconds)
            c->i += 3;
    }
    if (seconds && (at(c, 0, '.') || at(c, 0, ',')) && digit_at(c, 1)) {
        c->i++;
        take_digits(c, 1, 6);
    }
    *time = span_since(c, start);
    return true;
}

/* (?:DATE WS++ TIME WS*+ -? WS*+)?: entered only when a date can start here (a digit; "<date>"
 * is PCRE2's), since every alternative of DATE needs one; otherwise skipped, as PCRE2 would. */
static bool read_when(struct cursor *c, struct browse_log_header *h)
{
    if (c->i >= c->n || !(is(c->s[c->i], DIGIT) || c->s[c->i] == '<'))
        return true;
    if (!read_date(c, &h->date) || skip_ws(c) == 0 || !read_time(c, &h->time))
        return false;
    skip_ws(c);
    take(c, '-');
    skip_ws(c);
    return true;
}

/* (?<comp>[A-Za-z_$][A-Za-z0-9_$.-]*+) */
#ifdef __SSE2__
/* A bit for each of the 16 bytes at p that is not of [A-Za-z0-9_$.-]. Ranges are compared as
 * signed bytes, shifted so that each starts at -128. */
static unsigned not_comp16(const unsigned char *p)
{
    __m128i v = _mm_loadu_si128((const __m128i *)p);
    __m128i lower = _mm_or_si128(v, _mm_set1_epi8(0x20)); /* a letter's lowercase; others move */
    __m128i alpha = _mm_cmplt_epi8(_mm_add_epi8(lower, _mm_set1_epi8((char)(0x80 - 'a'))),
                                   _mm_set1_epi8((char)(0x80 + 26)));
    __m128i digit = _mm_cmplt_epi8(_mm_add_epi8(v, _mm_set1_epi8((char)(0x80 - '0'))),
                                   _mm_set1_epi8((char)(0x80 + 10)));
    __m128i punct = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('_')),
                                              _mm_cmpeq_epi8(v, _mm_set1_epi8('$'))),
                                 _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('.')),
                                              _mm_cmpeq_epi8(v, _mm_set1_epi8('-'))));
    __m128i ok = _mm_or_si128(_mm_or_si128(alpha, digit), punct);
    return (unsigned)_mm_movemask_epi8(ok) ^ 0xFFFFu;
}
#endif

/* [A-Za-z0-9_$.-]*+: 16 bytes at a time while the line has them (a component is 11 bytes on
 * average on the benchmark, the rest of the header follows it), then a byte at a time. */
static inline __attribute__((always_inline)) void skip_comp(struct cursor *c)
{
#ifdef __SSE2__
    while (c->n - c->i >= 16) {
        unsigned mask = not_comp16(c->s + c->i);
        if (mask) {
            c->i += (size_t)__builtin_ctz(mask);
            return;
        }
        c->i += 16;
    }
#endif
    skip(c, COMP, SIZE_MAX);
}

static bool read_component(struct cursor *c, struct browse_log_span *comp)
{
    size_t start = c->i;
    if (c->i >= c->n || !is(c->s[c->i], COMP_FIRST))
        return false;
    c->i++;
    skip_comp(c);
    *comp = span_since(c, start);
    return true;
}

/* WS*+ \( WS*+ (?<tid>[0-9A-Fa-f]{1,8}) WS*+ \) */
static bool read_thread(struct cursor *c, struct browse_log_span *tid)
{
    skip_ws(c);
    if (!take(c, '('))
        return false;
    skip_ws(c);
    size_t start = c->i;
    if (skip(c, HEX, 8) == 0)
        return false;
    *tid = span_since(c, start);
    skip_ws(c);
    return take(c, ')');
}

/* WS*+ (?<level>[1-4]) WS++ (?<code>\d{5})(?![0-9]) WS*+ :? WS*+ */
static bool read_level_and_code(struct cursor *c, struct browse_log_header *h)
{
    skip_ws(c);
    if (c->i >= c->n || c->s[c->i] < '1' || c->s[c->i] > '4')
        return false;
    h->level = (struct browse_log_span){ (uint32_t)c->i, 1 };
    c->i++;
    if (skip_ws(c) == 0)
        return false;
    size_t start = c->i;
    if (!take_digits(c, 5, 5) || digit_at(c, 0))
        return false;
    h->code = span_since(c, start);
    skip_ws(c);
    take(c, ':');
    skip_ws(c);
    return true;
}

bool header_scan(const char *line, size_t len, struct browse_log_header *h)
{
    struct cursor c = { (const unsigned char *)line, len, 0 };
    memset(h, 0, sizeof(*h));
    skip_ws(&c);
    if (!read_when(&c, h) || !read_component(&c, &h->component) ||
        !read_thread(&c, &h->thread) || !read_level_and_code(&c, h))
        return false;
    h->kind = BROWSE_LOG_HEADER;
    h->text_off = (uint32_t)c.i;
    return true;
}
