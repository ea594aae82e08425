/* Which incident each 41220 in flight belongs to, by its place in its file: saved with the
 * checkpoints, so that a 41220 sent again after a restart names the incident it named before,
 * even when that incident ended and another began among the records read again. */
#ifndef LME_INCIDENT_IDS_H
#define LME_INCIDENT_IDS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct incident_id {
    uint64_t dev, ino, end_offset; /* the 41220 record: its file and where it ends */
    char id[33];
};

struct incident_ids {
    struct incident_id *v;
    size_t n, cap;
};

/* Records that the 41220 of (dev, ino) ending at end_offset belongs to incident id (32 hex).
 * Returns 0 or LME_ENOMEM. */
int incident_ids_add(struct incident_ids *ids, uint64_t dev, uint64_t ino, uint64_t end_offset,
                     const char *id);

/* The incident of that 41220, or NULL. Borrowed until the set changes. */
const char *incident_ids_find(const struct incident_ids *ids, uint64_t dev, uint64_t ino,
                              uint64_t end_offset);

/* Drops the entries whose record settled(ctx, dev, ino, end_offset) says is committed: they will
 * never be read again. */
void incident_ids_prune(struct incident_ids *ids,
                        bool (*settled)(void *ctx, uint64_t dev, uint64_t ino, uint64_t end),
                        void *ctx);

/* As a JSON array appended to out; and back from one (entries that do not read back are left
 * out). Return 0 or LME_ENOMEM. */
int incident_ids_save(const struct incident_ids *ids, struct lme_buf *out);
int incident_ids_load(struct incident_ids *ids, json_t *array);

void incident_ids_free(struct incident_ids *ids);

#endif
