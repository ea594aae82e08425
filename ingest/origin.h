/* Where an event comes from, handed along with it from the inputs to the router: the file (as
 * commit.h names it), the config input it belongs to, and when its bytes were read. */
#ifndef LME_ORIGIN_H
#define LME_ORIGIN_H

#include <stdint.h>

#include "err.h"
#include "event.h"

struct origin {
    uint32_t file;   /* commit_track's name of the file */
    uint32_t input;  /* index into config.inputs */
    int64_t read_ms; /* monotonic: when the chunk that completed it was read */
};

/* Receives each event (borrowed until it returns) with its origin. Returns 0, or a negative code
 * with err filled: reading stops and the code is returned to whoever asked for the read. */
typedef int (*origin_emit_fn)(void *ctx, const struct lme_event *ev, const struct origin *from,
                              struct lme_err *err);

#endif
