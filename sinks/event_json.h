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

/* The day an encoder last wrote a time of, and its text: consecutive events mostly share both
 * days (of @timestamp and of event.created), and the calendar is the dearest part of a time.
 * Often the very time too (event.created is read once per chunk, log times have whole
 * seconds): the last one written is kept whole. */
struct event_json_day {
    bool known;
    int64_t day; /* since the epoch */
    char text[10];
    bool time_known;
    int64_t time_ms;
    char time_text[26]; /* "1998-03-17T21:22:50.000Z", quoted */
};

/* What an encoder remembers from one event to the next. Owned by the caller, zeroed before its
 * first use, used by one thread at a time; it changes no output. */
struct event_json_memo {
    struct event_json_day timestamp, created;
};

/* Appends ev as one JSON object (no newline) to out. Returns 0 or LME_ENOMEM (out unchanged). */
int event_json_encode(const struct lme_event *ev, struct lme_buf *out);

/* The same, leaving out what opts says; memo (NULL: none) spares work across calls. */
int event_json_encode_with(const struct lme_event *ev, const struct event_json_opts *opts,
                           struct event_json_memo *memo, struct lme_buf *out);

/* Whether a and b encode alike. */
bool event_json_opts_equal(const struct event_json_opts *a, const struct event_json_opts *b);

#endif
