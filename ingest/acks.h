/* Acknowledgement tracking for one source: which of its records every sink has settled, and so
 * how far the source can be committed. Records get consecutive sequence numbers in the order
 * they are handed to the sinks; each waits for a number of settlements (one per sink copy). The
 * committed offset is the end of the last record such that it and every earlier record of the
 * same source are settled: what a checkpoint may safely record. Each source has its own queue,
 * so a record stuck in one file holds back that file only. Single-threaded. */
#ifndef LME_ACKS_H
#define LME_ACKS_H

#include <stdint.h>

struct ack_record;

struct acks {
    struct ack_record *ring; /* NULL until the first record */
    uint64_t cap;            /* a power of two, or 0 */
    uint64_t head;           /* ring index of the oldest record */
    uint64_t count;
    uint64_t head_seq;       /* sequence number of the oldest record */
};

/* An empty queue; allocates nothing until the first acks_add. */
void acks_init(struct acks *a);

/* Releases the ring; the queue is empty and usable again. NULL-safe. */
void acks_free(struct acks *a);

/* Registers a record ending at end_offset, read at added_ms (any clock: it is handed back at
 * commit, for latency), waiting for no settlement yet. *seq: the previous record's plus one (the
 * first is 1). Returns 0 or LME_ENOMEM. */
int acks_add(struct acks *a, uint64_t end_offset, int64_t added_ms, uint64_t *seq);

/* The record waits for n more settlements. A settlement may arrive before its expectation (a
 * sink can settle inside send()), as long as both are in before acks_advance. */
void acks_expect(struct acks *a, uint64_t seq, int n);

/* One settlement of the record. Sequence numbers not in flight are ignored. */
void acks_settle(struct acks *a, uint64_t seq);

/* Called by acks_advance for each record leaving the head, in order. */
typedef void (*acks_committed_fn)(void *ctx, uint64_t end_offset, int64_t added_ms);

/* Removes the settled records at the head, reporting each. Returns how many are left. */
uint64_t acks_advance(struct acks *a, acks_committed_fn fn, void *ctx);

/* Records not yet removed by acks_advance. */
static inline uint64_t acks_pending(const struct acks *a)
{
    return a->count;
}

#endif
