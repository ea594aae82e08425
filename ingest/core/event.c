/* Event helpers: the stable event id and level names. See event.h. */
#include "event.h"

#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "hash.h"

static void put_le64(unsigned char *p, uint64_t v)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(p, &v, 8);
#else
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
#endif
}

/* v as 16 lowercase hex digits, most significant first. With SSE2 all 16 at once: the bytes
 * most significant first, each split into its two nibbles, '0' added, and 'a' - '9' - 1 more
 * where a nibble is over 9; it ran for every event, a digit at a time. */
static void put_hex64(char *out, uint64_t v)
{
#ifdef __SSE2__
    const __m128i low_nibbles = _mm_set1_epi8(0x0f);
    __m128i bytes = _mm_cvtsi64_si128((long long)__builtin_bswap64(v));
    __m128i lo = _mm_and_si128(bytes, low_nibbles);
    __m128i hi = _mm_and_si128(_mm_srli_epi16(bytes, 4), low_nibbles);
    __m128i nibbles = _mm_unpacklo_epi8(hi, lo);
    __m128i letters = _mm_and_si128(_mm_cmpgt_epi8(nibbles, _mm_set1_epi8(9)),
                                    _mm_set1_epi8('a' - '9' - 1));
    __m128i digits = _mm_add_epi8(_mm_add_epi8(nibbles, _mm_set1_epi8('0')), letters);
    _mm_storeu_si128((__m128i *)out, digits);
#else
    static const char digits[] = "0123456789abcdef";
    for (int i = 15; i >= 0; i--, v >>= 4)
        out[i] = digits[v & 0xf];
#endif
}

void lme_event_id(const struct lme_event *ev, char out[33])
{
    unsigned char where[24];
    put_le64(where, ev->file_dev);
    put_le64(where + 8, ev->file_ino);
    put_le64(where + 16, ev->offset);

    uint64_t h1 = lme_hash64(ev->host.ptr, ev->host.len, 0x6c6d652d696e6765ULL);
    h1 = lme_hash64(where, sizeof(where), h1);
    uint64_t h2 = lme_hash64(ev->original.ptr, ev->original.len, h1);
    put_hex64(out, h1);
    put_hex64(out + 16, h2);
    out[32] = '\0';
}

const char *lme_event_level_name(int severity)
{
    static const char *const names[] = { NULL, "error", "warning", "info", "debug" };
    if (severity < 1 || severity > 4)
        return NULL;
    return names[severity];
}
