/* The arena: see arena.h. Size classes: 16-byte steps up to 128 bytes, then eight classes per
 * power of two (144, 160, ..., 256, 288, ...), so a block wastes at most an eighth of itself.
 * Each block starts with a header naming its class. A class's free blocks are kept on a stack of
 * pointers beside them, not linked through them: taking one then reads nothing of the block, which
 * is cold in the cache by then (a linked list cost a cache miss per message). The block a class
 * gives next is prefetched when the one before it is taken (prefetch_next). */
#include "arena.h"

#include <stdint.h>
#include <stdlib.h>

#include "prefetch.h"

#define SMALL 128
#define N_CLASSES (8 + 8 * 25) /* up to 2^32 bytes */
#define REUSE_CLASSES 4 /* a class and the three above it */

struct block {
    uint64_t cls; /* 8 bytes: what follows stays 8-byte aligned */
};

struct free_stack {
    struct block **v;
    uint32_t n, cap;
};

struct arena {
    char *mem;
    size_t cap, carved, peak, live, n_live;
    size_t max_block;
    struct free_stack free[N_CLASSES];
};

struct arena *arena_create(size_t capacity)
{
    struct arena *a = calloc(1, sizeof(*a));
    if (!a || capacity < SMALL || !(a->mem = malloc(capacity))) {
        free(a);
        return NULL;
    }
    a->cap = capacity;
    a->max_block = capacity / 64;
    return a;
}

void arena_destroy(struct arena *a)
{
    if (!a)
        return;
    for (unsigned i = 0; i < N_CLASSES; i++)
        free(a->free[i].v);
    free(a->mem);
    free(a);
}

/* The class of a block of s bytes (header included), and its size. */
static unsigned class_of(size_t s, size_t *size)
{
    if (s <= SMALL) {
        unsigned c = (unsigned)((s + 15) / 16) - (s > 0);
        *size = 16 * ((size_t)c + 1);
        return c;
    }
    /* 2^k < s <= 2^(k+1) */
    unsigned k = 63 - (unsigned)__builtin_clzll((unsigned long long)(s - 1));
    size_t step = (size_t)1 << (k - 3);
    size_t i = (s - ((size_t)1 << k) + step - 1) / step; /* 1 to 8 */
    *size = ((size_t)1 << k) + i * step;
    return 8 + (k - 7) * 8 + (unsigned)(i - 1);
}

/* The size of class c's blocks: class_of's inverse. */
static size_t class_size(unsigned c)
{
    if (c < 8)
        return 16 * ((size_t)c + 1);
    unsigned k = 7 + (c - 8) / 8;
    return ((size_t)1 << k) + ((size_t)(c - 8) % 8 + 1) * ((size_t)1 << (k - 3));
}

/* A free block of class cls, or of one of the next classes (at most three eighths larger):
 * the region is carved further only when none is free, so that what it makes resident follows
 * what is live rather than the history of every class. */
static struct block *reuse(struct arena *a, unsigned cls, size_t *size, unsigned *got)
{
    for (unsigned c = cls; c < cls + REUSE_CLASSES && c < N_CLASSES; c++) {
        struct free_stack *fs = &a->free[c];
        if (fs->n > 0) {
            *size = class_size(c);
            *got = c;
            return fs->v[--fs->n];
        }
    }
    return NULL;
}

/* Blocks are cold when they are taken again: written last when their event was, read since by
 * librdkafka's threads, a budget's worth of other events ago. Copying an event into one cost the
 * producing thread a cache miss for every line of it (the largest item of its profile). So when a
 * block is taken, the one the next take of its class will get (the new top of the class's stack;
 * released blocks go under it) is prefetched for writing: its lines arrive while this event is
 * produced and the next is parsed. */
static void prefetch_next(const struct arena *a, unsigned cls)
{
    const struct free_stack *fs = &a->free[cls];
    if (fs->n == 0)
        return;
    const char *next = (const char *)fs->v[fs->n - 1];
    size_t size = class_size(cls);
    for (size_t off = 0; off < size; off += 64)
        lme_prefetch_for_write(next + off);
}

void *arena_take(struct arena *a, size_t n, unsigned *cls_out)
{
    if (n > a->max_block)
        return NULL;
    size_t size;
    unsigned cls = class_of(sizeof(struct block) + n, &size), got = cls;
    struct block *b = reuse(a, cls, &size, &got); /* its header is not read: cold by now */
    if (!b) {
        if (size > a->cap - a->carved)
            return NULL;
        b = (struct block *)(a->mem + a->carved);
        a->carved += size;
        if (a->carved > a->peak)
            a->peak = a->carved;
        b->cls = cls;
    }
    a->live += size;
    a->n_live++;
    prefetch_next(a, cls);
    if (cls_out)
        *cls_out = got;
    return b + 1;
}

static int grow(struct free_stack *fs)
{
    uint32_t cap = fs->cap ? 2 * fs->cap : 256;
    struct block **v = realloc(fs->v, cap * sizeof(*v));
    if (!v)
        return -1;
    fs->v = v;
    fs->cap = cap;
    return 0;
}

void arena_release(struct arena *a, void *block)
{
    arena_release_class(a, block, (unsigned)((struct block *)block - 1)->cls);
}

void arena_release_class(struct arena *a, void *block, unsigned cls)
{
    struct block *b = (struct block *)block - 1;
    a->live -= class_size(cls);
    if (--a->n_live == 0) { /* everything came back: carve from the front again */
        for (unsigned i = 0; i < N_CLASSES; i++)
            a->free[i].n = 0;
        a->carved = 0;
        return;
    }
    struct free_stack *fs = &a->free[cls];
    if (fs->n == fs->cap && grow(fs) != 0)
        return; /* out of memory: the block is not used again until the arena empties */
    if (fs->n > 0) { /* under the top, which the next take of the class was prefetched for */
        fs->v[fs->n] = fs->v[fs->n - 1];
        fs->v[fs->n - 1] = b;
        fs->n++;
        return;
    }
    fs->v[fs->n++] = b;
}

size_t arena_live(const struct arena *a)
{
    return a->live;
}

size_t arena_carved(const struct arena *a)
{
    return a->carved;
}

size_t arena_peak(const struct arena *a)
{
    return a->peak;
}
