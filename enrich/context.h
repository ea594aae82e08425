/* Log context for the diagnosis: per host and component, the recent records that can explain a
 * 41220 (01211 lock timeouts, 00510/00505 with their status word, 64210 connection failures),
 * bounded by count and age. Other records are not kept, so watching every event stays cheap. */
#ifndef LME_CONTEXT_H
#define LME_CONTEXT_H

#include <stdbool.h>
#include <stdint.h>

#include "err.h"
#include "event.h"

#define CONTEXT_TEXT 160

struct context_record {
    char code[6];
    char status[64];            /* the status word ("Timeout on resource lock"), or "" */
    char text[CONTEXT_TEXT];    /* the message, cut */
    int64_t time_ms;
};

/* What the records before a 41220 say. */
struct context_signals {
    bool lock_timeout;      /* 01211, or a {Timeout on resource lock} status */
    bool mailbox_not_found; /* 00510/00505 with {Not found} */
    bool connect_failure;   /* 64210 "Unable to connect" */
    bool mail_system_failure; /* 00510/00505 with {Mail system failure} */
    char server[128];       /* the Notes server a 64210 names */
    struct context_record seen[8]; /* the records that count, oldest first */
    int n_seen;
};

struct context;

/* Keeps up to max_records per host and component, none older than max_age_ms (event time)
 * when asked. Returns NULL with err filled. */
struct context *context_create(int max_records, int max_age_ms, struct lme_err *err);

void context_destroy(struct context *c); /* NULL-safe */

/* Looks at every event, in order; keeps those that can explain a 41220. Returns 0 or
 * LME_ENOMEM. */
int context_observe(struct context *c, const struct lme_event *ev);

/* What the records kept for ev's host and component, no older than max_age_ms before it, say. */
void context_signals(struct context *c, const struct lme_event *ev, struct context_signals *out);

#endif
