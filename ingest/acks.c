/* Acknowledgement tracking: see acks.h. A ring of the records in flight, indexed by token minus
 * the head's token; it grows by doubling and holds as many records as the byte budget lets in. */
#include "acks.h"

#include <stdlib.h>
#include <string.h>

struct record {
    int32_t pending; /* settlements still expected (negative while one precedes its expectation) */
    uint32_t source;
    uint64_t end_offset;
    int64_t added_ms;
};

struct acks {
    struct record *ring;
    uint64_t cap;        /* a power of two */
    uint64_t head;       /* ring index of the oldest record */
    uint64_t count;
    uint64_t head_token; /* token of the oldest record */
};

struct acks *acks_create(struct lme_err *err)
{
    struct acks *a = calloc(1, sizeof(*a));
    if (a) {
        a->cap = 1024;
        a->ring = calloc(a->cap, sizeof(*a->ring));
    }
    if (!a || !a->ring) {
        acks_destroy(a);
        lme_err_set(err, LME_ENOMEM, "acknowledgement tracking: out of memory");
        return NULL;
    }
    a->head_token = 1;
    return a;
}

void acks_destroy(struct acks *a)
{
    if (!a)
        return;
    free(a->ring);
    free(a);
}

static struct record *at(const struct acks *a, uint64_t token)
{
    if (token < a->head_token || token - a->head_token >= a->count)
        return NULL;
    return &a->ring[(a->head + (token - a->head_token)) & (a->cap - 1)];
}

/* Doubles the ring, unrolling it so the head is at index 0. */
static int grow(struct acks *a)
{
    struct record *ring = malloc(2 * a->cap * sizeof(*ring));
    if (!ring)
        return LME_ENOMEM;
    for (uint64_t i = 0; i < a->count; i++)
        ring[i] = a->ring[(a->head + i) & (a->cap - 1)];
    free(a->ring);
    a->ring = ring;
    a->cap *= 2;
    a->head = 0;
    return 0;
}

int acks_add(struct acks *a, uint32_t source, uint64_t end_offset, int64_t now_ms,
             uint64_t *token)
{
    if (a->count == a->cap && grow(a) != 0)
        return LME_ENOMEM;
    a->ring[(a->head + a->count) & (a->cap - 1)] =
        (struct record){ 0, source, end_offset, now_ms };
    *token = a->head_token + a->count;
    a->count++;
    return 0;
}

void acks_expect(struct acks *a, uint64_t token, int n)
{
    struct record *r = at(a, token);
    if (r)
        r->pending += n;
}

void acks_settle(struct acks *a, uint64_t token)
{
    struct record *r = at(a, token);
    if (r)
        r->pending--;
}

uint64_t acks_advance(struct acks *a, acks_committed_fn fn, void *ctx)
{
    while (a->count > 0) {
        struct record *r = &a->ring[a->head];
        if (r->pending > 0)
            break;
        fn(ctx, r->source, r->end_offset, r->added_ms);
        a->head = (a->head + 1) & (a->cap - 1);
        a->head_token++;
        a->count--;
    }
    return a->count;
}

uint64_t acks_pending(const struct acks *a)
{
    return a->count;
}
