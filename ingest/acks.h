/* Acknowledgement tracking: which records every sink has settled, and so how far each source
 * can be committed. Records get consecutive tokens in the order they are handed to the sinks;
 * each waits for a number of settlements (one per sink copy). A source's committed offset is the
 * end of its last record such that it and every record before it, of every source, are settled:
 * what a checkpoint may safely record. Single-threaded. */
#ifndef LME_ACKS_H
#define LME_ACKS_H

#include <stdint.h>

#include "err.h"

struct acks;

/* Returns NULL with err filled when memory runs out. Free with acks_destroy. */
struct acks *acks_create(struct lme_err *err);

/* NULL-safe. */
void acks_destroy(struct acks *a);

/* Registers a record of `source` ending at end_offset, read at now_ms (any clock: it is handed
 * back at commit, for latency), waiting for no settlement yet; its token is the previous one
 * plus one (the first is 1). Returns 0 or LME_ENOMEM. */
int acks_add(struct acks *a, uint32_t source, uint64_t end_offset, int64_t now_ms,
             uint64_t *token);

/* The record waits for n more settlements. A settlement may arrive before its expectation (a
 * sink can settle inside send()), as long as both are in before acks_advance. */
void acks_expect(struct acks *a, uint64_t token, int n);

/* One settlement of the record. Tokens not in flight are ignored. */
void acks_settle(struct acks *a, uint64_t token);

/* Called by acks_advance for each record leaving the head, in token order. */
typedef void (*acks_committed_fn)(void *ctx, uint32_t source, uint64_t end_offset,
                                  int64_t added_ms);

/* Removes the settled records at the head, reporting each. Returns how many left. */
uint64_t acks_advance(struct acks *a, acks_committed_fn fn, void *ctx);

/* Records not yet removed by acks_advance. */
uint64_t acks_pending(const struct acks *a);

#endif
