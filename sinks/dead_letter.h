/* The dead-letter file: events a sink could never deliver (message too large, unknown topic,
 * not authorised), one JSON line each with the reason, so nothing is lost silently. Each line is
 * written with one write(2) and made durable (fdatasync) before the event counts as settled. */
#ifndef LME_DEAD_LETTER_H
#define LME_DEAD_LETTER_H

#include <stddef.h>

#include "err.h"

struct dead_letter;

/* Opens path for appending (created 0640). Returns NULL with err filled. */
struct dead_letter *dead_letter_open(const char *path, struct lme_err *err);

/* NULL-safe. */
void dead_letter_close(struct dead_letter *dl);

/* Appends {"@timestamp":..,"sink":..,"destination":..,"error":..,"reason":..,"event":<json>}.
 * event_json must be one JSON object. Returns 0 or LME_EIO/LME_ENOMEM with err filled. */
int dead_letter_write(struct dead_letter *dl, const char *sink, const char *destination,
                      const char *reason, const char *error, const char *event_json, size_t len,
                      struct lme_err *err);

#endif
