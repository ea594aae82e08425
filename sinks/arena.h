/* Memory for what a sink keeps until its destination acknowledged it, carved from one region:
 * blocks are taken and released in any order, as acknowledgements come (out of order across
 * partitions). A block's size is rounded up to its size class (at most an eighth more); a
 * released block waits on its class's free list for the next block of that class or of one a
 * little smaller; the region is carved front to back only when no free block fits; when every
 * block is released the region starts over from its front, so a slow stream keeps using the
 * same first pages. One allocation for the arena's life: keeping a message costs no malloc. Not
 * thread-safe: one owner. */
#ifndef LME_ARENA_H
#define LME_ARENA_H

#include <stddef.h>

struct arena;

/* An arena of capacity bytes. Its pages are touched only as blocks use them. Returns NULL when
 * out of memory. */
struct arena *arena_create(size_t capacity);

/* NULL-safe. Frees the region, live blocks included. */
void arena_destroy(struct arena *a);

/* A block of at least n bytes (at most half more), 8-byte aligned, or NULL when the arena has no
 * room for it now (the region is carved and no released block of its class or the next three is
 * free) or n is more than a 64th of the capacity: the caller keeps the bytes elsewhere. */
void *arena_take(struct arena *a, size_t n, unsigned *cls);

/* Gives back a block arena_take returned. */
void arena_release(struct arena *a, void *block);

/* arena_take also tells the block's class (cls, when not NULL): arena_release_class then gives
 * the block back without reading anything of it, cold by then (a cache miss per message on the
 * delivery reports' path). arena_release reads the class from the block's header. */
void arena_release_class(struct arena *a, void *block, unsigned cls);

/* Bytes of the live blocks (their classes' sizes); of the region carved now; and carved at most
 * since the arena was made (what it made resident). */
size_t arena_live(const struct arena *a);
size_t arena_carved(const struct arena *a);
size_t arena_peak(const struct arena *a);

#endif
