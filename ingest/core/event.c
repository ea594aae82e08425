/* Event helpers: the stable event id and level names. See event.h. */
#include "event.h"

#include "hash.h"

static void put_le64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put_hex64(char *out, uint64_t v)
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 15; i >= 0; i--, v >>= 4)
        out[i] = digits[v & 0xf];
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
