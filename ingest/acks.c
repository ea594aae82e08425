/* Acknowledgement tracking for one source: see acks.h. A ring of the records in flight, indexed
 * by sequence number minus the head's; it grows by doubling and holds as many records as the
 * byte budget lets in. */
#include "acks.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"

#define ACKS_FIRST_CAP 64

struct ack_record {
    int32_t pending; /* settlements still expected (negative while one precedes its expectation) */
    uint64_t end_offset;
    int64_t added_ms;
};

void acks_init(struct acks *a)
{
    memset(a, 0, sizeof(*a));
    a->head_seq = 1;
}

void acks_free(struct acks *a)
{
    if (!a)
        return;
    uint64_t next = a->head_seq + a->count; /* sequence numbers never repeat for one source */
    free(a->ring);
    acks_init(a);
    a->head_seq = next;
}

static struct ack_record *at(const struct acks *a, uint64_t seq)
{
    if (seq < a->head_seq || seq - a->head_seq >= a->count)
        return NULL;
    return &a->ring[(a->head + (seq - a->head_seq)) & (a->cap - 1)];
}

/* Doubles the ring, unrolling it so the head is at index 0. */
static int grow(struct acks *a)
{
    uint64_t cap = a->cap ? 2 * a->cap : ACKS_FIRST_CAP;
    struct ack_record *ring = malloc(cap * sizeof(*ring));
    if (!ring)
        return LME_ENOMEM;
    for (uint64_t i = 0; i < a->count; i++)
        ring[i] = a->ring[(a->head + i) & (a->cap - 1)];
    free(a->ring);
    a->ring = ring;
    a->cap = cap;
    a->head = 0;
    return 0;
}

int acks_add(struct acks *a, uint64_t end_offset, int64_t added_ms, uint64_t *seq)
{
    if (a->count == a->cap && grow(a) != 0)
        return LME_ENOMEM;
    a->ring[(a->head + a->count) & (a->cap - 1)] = (struct ack_record){ 0, end_offset, added_ms };
    *seq = a->head_seq + a->count;
    a->count++;
    return 0;
}

void acks_expect(struct acks *a, uint64_t seq, int n)
{
    struct ack_record *r = at(a, seq);
    if (r)
        r->pending += n;
}

void acks_settle(struct acks *a, uint64_t seq)
{
    struct ack_record *r = at(a, seq);
    if (r)
        r->pending--;
}

uint64_t acks_advance(struct acks *a, acks_committed_fn fn, void *ctx)
{
    while (a->count > 0) {
        struct ack_record *r = &a->ring[a->head];
        if (r->pending > 0)
            break;
        fn(ctx, r->end_offset, r->added_ms);
        a->head = (a->head + 1) & (a->cap - 1);
        a->head_seq++;
        a->count--;
    }
    return a->count;
}
