/* The one JSON encoding of an event (docs/schema.md): nested ECS fields, written by hand for
 * speed (jansson is kept for config and tests). Text is emitted as UTF-8: valid UTF-8 passes
 * through, every other byte is read as its Windows-1252 character and the event is tagged
 * lme_non_utf8, so the output is always valid JSON and no byte is lost. */
#ifndef LME_EVENT_JSON_H
#define LME_EVENT_JSON_H

#include <stdbool.h>

#include "buf.h"
#include "event.h"

/* What an encoding leaves out of the event. All false (zero), the default: the event as
 * docs/schema.md describes it. */
struct event_json_opts {
    bool no_original; /* event.original: the raw record, about a fifth of the bytes */
};

/* Appends ev as one JSON object (no newline) to out. Returns 0 or LME_ENOMEM (out unchanged). */
int event_json_encode(const struct lme_event *ev, struct lme_buf *out);

/* The same, leaving out what opts says. */
int event_json_encode_with(const struct lme_event *ev, const struct event_json_opts *opts,
                           struct lme_buf *out);

/* Whether a and b encode alike. */
bool event_json_opts_equal(const struct event_json_opts *a, const struct event_json_opts *b);

#endif
