/* Header lists by event.code: see kafka_headers.h. An open-addressed table of the codes seen, each
 * with a stack of idle lists. Codes beyond the table's room (more than a connector logs) are not
 * kept: their lists are built for each message, as librdkafka would.
 *
 * A code's lists are built several at a time (8, then as many as it has, up to 256), so that they
 * sit together in the heap: built one by one between librdkafka's blocks for the messages, they
 * stayed scattered among them for good, the blocks freed around them could not merge, and every
 * allocation of the next messages' blocks took glibc's slow path (0.2 s of the benchmark's 1.4 s
 * on the producing thread). */
#include "kafka_headers.h"

#include <stdint.h>
#include <stdlib.h>

#include "event.h"

#define SLOTS 1024             /* a power of two */
#define MAX_CODES (SLOTS / 2)  /* keeps probes short */
#define CODE_MAX 5

#define FIRST_BATCH 8
#define MAX_BATCH 256

struct slot {
    uint64_t key; /* 0: empty */
    rd_kafka_headers_t **idle;
    uint32_t n, cap;
    uint32_t built;
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

/* A list for s's code, with a batch more put idle (as many as the idle limit and memory let). */
static rd_kafka_headers_t *build_batch(struct kafka_headers *kh, struct slot *s, const char *code)
{
    uint32_t batch = s->built < FIRST_BATCH ? FIRST_BATCH
                     : s->built < MAX_BATCH ? s->built
                                            : MAX_BATCH;
    for (uint32_t i = 1; i < batch && kh->idle < kh->max_idle; i++) {
        if (s->n == s->cap && grow(s) != 0)
            break;
        s->idle[s->n++] = build(kh, code);
        kh->idle++;
        s->built++;
    }
    s->built++;
    return build(kh, code);
}

rd_kafka_headers_t *kafka_headers_get(struct kafka_headers *kh, const char *code)
{
    struct slot *s = find(kh, key_of(code), 1);
    if (!s)
        return build(kh, code);
    if (s->n == 0)
        return build_batch(kh, s, code);
    kh->idle--;
    rd_kafka_headers_t *h = s->idle[--s->n];
    /* librdkafka reads a list's size when the message is made: a cache miss per message, the
     * list having come back from a report long ago. The code's next list is fetched now, while
     * the events before its turn are produced. */
    if (s->n > 0)
        __builtin_prefetch(s->idle[s->n - 1]);
    return h;
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
