/* The two clocks every stage reads: wall time (for what events and logs say) and monotonic time
 * (for every duration and deadline, which must not jump when the wall clock is set). */
#ifndef LME_CLOCK_H
#define LME_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Milliseconds since the epoch, UTC. */
static inline int64_t lme_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds on a clock that never goes back; only differences mean anything. */
static inline int64_t lme_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#endif
