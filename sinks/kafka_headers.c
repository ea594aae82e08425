/* Header lists by event.code: see kafka_headers.h. An open-addressed table of the codes seen, each
 * with a stack of idle lists. Codes beyond the table's room (more than a connector logs) are not
 * kept: their lists are built for each message, as librdkafka would. */
#include "kafka_headers.h"

#include <stdint.h>
#include <stdlib.h>

#include "event.h"

#define SLOTS 1024             /* a power of two */
#define MAX_CODES (SLOTS / 2)  /* keeps probes short */
#define CODE_MAX 5

struct slot {
    uint64_t key; /* 0: empty */
    rd_kafka_headers_t **idle;
    uint32_t n, cap;
};

struct kafka_headers {
    struct slot slots[SLOTS];
    size_t codes, idle, max_idle, built;
};

struct kafka_headers *kafka_headers_create(size_t max_idle)
{
    struct kafka_headers *kh = calloc(1, sizeof(*kh));
    if (kh)
        kh->max_idle = max_idle;
    return kh;
}

void kafka_headers_destroy(struct kafka_headers *kh)
{
    if (!kh)
        return;
    for (size_t i = 0; i < SLOTS; i++) {
        for (uint32_t j = 0; j < kh->slots[i].n; j++)
            rd_kafka_headers_destroy(kh->slots[i].idle[j]);
        free(kh->slots[i].idle);
    }
    free(kh);
}

/* The code's bytes and a presence bit, so that no code ("") is a key too. */
static uint64_t key_of(const char *code)
{
    uint64_t k = 1;
    for (int i = 0; i < CODE_MAX && code[i]; i++)
        k |= (uint64_t)(unsigned char)code[i] << (8 * (i + 1));
    return k;
}

/* The slot of key; a new one when add and there is room; else NULL. */
static struct slot *find(struct kafka_headers *kh, uint64_t key, int add)
{
    size_t i = (size_t)((key * UINT64_C(0x9E3779B97F4A7C15)) >> 54) & (SLOTS - 1);
    for (;; i = (i + 1) & (SLOTS - 1)) {
        struct slot *s = &kh->slots[i];
        if (s->key == key)
            return s;
        if (s->key != 0)
            continue;
        if (!add || kh->codes == MAX_CODES)
            return NULL;
        s->key = key;
        kh->codes++;
        return s;
    }
}

static rd_kafka_headers_t *build(struct kafka_headers *kh, const char *code)
{
    static const char version[] = { '0' + LME_SCHEMA_VERSION };
    rd_kafka_headers_t *h = rd_kafka_headers_new(2);
    rd_kafka_header_add(h, "lme.schema_version", -1, version, sizeof(version));
    if (code[0])
        rd_kafka_header_add(h, "event.code", -1, code, -1);
    kh->built++;
    return h;
}

rd_kafka_headers_t *kafka_headers_get(struct kafka_headers *kh, const char *code)
{
    struct slot *s = find(kh, key_of(code), 0);
    if (!s || s->n == 0)
        return build(kh, code);
    kh->idle--;
    return s->idle[--s->n];
}

static int grow(struct slot *s)
{
    uint32_t cap = s->cap ? 2 * s->cap : 64;
    rd_kafka_headers_t **v = realloc(s->idle, cap * sizeof(*v));
    if (!v)
        return -1;
    s->idle = v;
    s->cap = cap;
    return 0;
}

void kafka_headers_put(struct kafka_headers *kh, rd_kafka_headers_t *h, const char *code)
{
    struct slot *s = kh->idle < kh->max_idle ? find(kh, key_of(code), 1) : NULL;
    if (!s || (s->n == s->cap && grow(s) != 0)) {
        rd_kafka_headers_destroy(h);
        return;
    }
    s->idle[s->n++] = h;
    kh->idle++;
}

size_t kafka_headers_built(const struct kafka_headers *kh)
{
    return kh->built;
}
