/* The one JSON encoding of an event (docs/schema.md): nested ECS fields, written by hand for
 * speed (jansson is kept for config and tests). Text is emitted as UTF-8: valid UTF-8 passes
 * through, every other byte is read as its Windows-1252 character and the event is tagged
 * lme_non_utf8, so the output is always valid JSON and no byte is lost. */
#ifndef LME_EVENT_JSON_H
#define LME_EVENT_JSON_H

#include "buf.h"
#include "event.h"

/* Appends ev as one JSON object (no newline) to out. Returns 0 or LME_ENOMEM (out unchanged). */
int event_json_encode(const struct lme_event *ev, struct lme_buf *out);

#endif
