/* Prefetching a cache line that is about to be written, for memory that went cold between two
 * uses (the Kafka sink's arena blocks and tickets, reused a budget's worth of events later). */
#ifndef LME_PREFETCH_H
#define LME_PREFETCH_H

/* Asks for the line holding p, to be written: PREFETCHW on x86-64 (a no-op on processors
 * without it). In asm because __builtin_prefetch's write hint emits a read prefetch without
 * -mprfchw (the line then comes shared, and the store still waits to own it), and because GCC
 * deleted a loop of __builtin_prefetch calls as a loop without effects. */
static inline void lme_prefetch_for_write(const void *p)
{
#if defined(__x86_64__)
    __asm__ volatile("prefetchw %0" : : "m"(*(const char *)p));
#else
    __builtin_prefetch(p, 1, 3);
#endif
}

#endif
