/* The outbox: incident events (docs/incidents.md) handed to the sinks and not settled by all of
 * them yet. Each is kept, copied, until its last settlement, and saved with the checkpoints, so
 * that a restart sends it again with the same event.id. Incident events are not records of a
 * file: their settlements come back with tokens of the outbox's own, which commit never sees. */
#ifndef LME_OUTBOX_H
#define LME_OUTBOX_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "event.h"

#define OUTBOX_TOKEN (UINT64_C(1) << 63) /* commit's tokens never have it */

struct outbox_entry {
    uint64_t token;
    int copies;          /* settlements still due */
    struct lme_event ev; /* its strings point into text */
    char id[33];
    char type[8];
    char *text;
    char *saved; /* its element of outbox_save's array, made at the first save that has it */
};

struct outbox {
    struct outbox_entry **v; /* in the order added: their tokens ascend */
    size_t n, cap;
    uint64_t seq;
    bool changed; /* an entry came or went since the caller last cleared it */
};

/* Whether a sink's token names an outbox entry rather than a record. */
static inline bool outbox_owns(uint64_t token)
{
    return (token & OUTBOX_TOKEN) != 0;
}

/* Keeps a copy of ev (an incident event: given_id and alert_type set) under a new token. Until
 * outbox_sent, settlements only count down: a sink may settle inside its send. Returns NULL
 * when memory runs out. Owned by the outbox. */
struct outbox_entry *outbox_add(struct outbox *ob, const struct lme_event *ev);

/* Every sink took e, and they will report `copies` settlements in all (some may have come
 * already). e goes when the last has come; do not use it after. */
void outbox_sent(struct outbox *ob, struct outbox_entry *e, int copies);

/* One settlement of an outbox token. Returns true when it was an entry's last. */
bool outbox_settle(struct outbox *ob, uint64_t token);

/* The entries as a JSON array, appended to out. Each entry is rendered once, at the first save
 * that has it: an entry waits through several saves when a sink is slow. Returns 0 or
 * LME_ENOMEM. */
int outbox_save(struct outbox *ob, struct lme_buf *out);

/* A saved entry (an element of what outbox_save wrote) as an event to send again; its bytes are
 * * appended to raw, which must outlive ev. Returns 0; LME_EINVAL when the entry does not read back (its
 * texts go into events as they are, so they are checked); LME_ENOMEM. */
int outbox_saved_event(json_t *entry, struct lme_buf *raw, struct lme_event *ev);

void outbox_free(struct outbox *ob);

#endif
