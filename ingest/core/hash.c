/* MurmurHash64A's construction (Austin Appleby, public domain), reading words little-endian so the
 * result does not depend on the machine. event.id is built from it, so it must never change. */
#include "hash.h"

static inline uint64_t load_le64(const unsigned char *p)
{
    return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24 |
           (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56;
}

uint64_t lme_hash64(const void *data, size_t len, uint64_t seed)
{
    const uint64_t m = 0xc6a4a7935bd1e995ULL;
    const int r = 47;
    const unsigned char *p = data;
    const size_t total = len;
    uint64_t h = seed ^ ((uint64_t)len * m);

    for (; len >= 8; p += 8, len -= 8) {
        uint64_t k = load_le64(p);
        k *= m;
        k ^= k >> r;
        k *= m;
        h ^= k;
        h *= m;
    }
    if (len > 0) {
        uint64_t tail = 0;
        if (total >= 8) { /* the word that ends the data, its bytes before p shifted out */
            tail = load_le64(p + len - 8) >> (64 - 8 * len);
        } else {
            for (size_t i = 0; i < len; i++)
                tail |= (uint64_t)p[i] << (8 * i);
        }
        h ^= tail;
        h *= m;
    }
    h ^= h >> r;
    h *= m;
    h ^= h >> r;
    return h;
}
