/* Which incident each 41220 in flight belongs to: see incident_ids.h. A plain array: it holds the
 * 41220s between the committed offsets and what was sent, a handful but in a broker outage. */
#include "incident_ids.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

int incident_ids_add(struct incident_ids *ids, uint64_t dev, uint64_t ino, uint64_t end_offset,
                     const char *id)
{
    if (ids->n == ids->cap) {
        size_t cap = ids->cap ? 2 * ids->cap : 64;
        struct incident_id *v = realloc(ids->v, cap * sizeof(*v));
        if (!v)
            return LME_ENOMEM;
        ids->v = v;
        ids->cap = cap;
    }
    struct incident_id *e = &ids->v[ids->n++];
    *e = (struct incident_id){ dev, ino, end_offset, "" };
    memcpy(e->id, id, 32);
    e->id[32] = '\0';
    return 0;
}

const char *incident_ids_find(const struct incident_ids *ids, uint64_t dev, uint64_t ino,
                              uint64_t end_offset)
{
    for (size_t i = ids->n; i-- > 0;) /* the latest reading of a place wins */
        if (ids->v[i].end_offset == end_offset && ids->v[i].ino == ino && ids->v[i].dev == dev)
            return ids->v[i].id;
    return NULL;
}

void incident_ids_prune(struct incident_ids *ids,
                        bool (*settled)(void *ctx, uint64_t dev, uint64_t ino, uint64_t end),
                        void *ctx)
{
    size_t kept = 0;
    for (size_t i = 0; i < ids->n; i++)
        if (!settled(ctx, ids->v[i].dev, ids->v[i].ino, ids->v[i].end_offset))
            ids->v[kept++] = ids->v[i];
    ids->n = kept;
}

int incident_ids_save(const struct incident_ids *ids, struct lme_buf *out)
{
    if (lme_buf_append(out, "[", 1) != 0)
        return LME_ENOMEM;
    for (size_t i = 0; i < ids->n; i++) {
        const struct incident_id *e = &ids->v[i];
        char text[160]; /* 64-bit numbers as strings: JSON numbers are not */
        int n = snprintf(text, sizeof(text), "%s[\"%" PRIu64 "\",\"%" PRIu64 "\",\"%" PRIu64 "\",\"%s\"]",
                         i ? "," : "", e->dev, e->ino, e->end_offset, e->id);
        if (lme_buf_append(out, text, (size_t)n) != 0)
            return LME_ENOMEM;
    }
    return lme_buf_append(out, "]", 1);
}

static int u64_of(json_t *v, uint64_t *out)
{
    const char *s = json_string_value(v);
    char *end;
    if (!s || !*s)
        return -1;
    *out = strtoull(s, &end, 10);
    return *end ? -1 : 0;
}

int incident_ids_load(struct incident_ids *ids, json_t *array)
{
    size_t i;
    json_t *e;
    json_array_foreach(array, i, e) {
        uint64_t dev, ino, end;
        const char *id = json_string_value(json_array_get(e, 3));
        if (u64_of(json_array_get(e, 0), &dev) || u64_of(json_array_get(e, 1), &ino) ||
            u64_of(json_array_get(e, 2), &end) || !id || strlen(id) != 32)
            continue;
        if (incident_ids_add(ids, dev, ino, end, id) != 0)
            return LME_ENOMEM;
    }
    return 0;
}

void incident_ids_free(struct incident_ids *ids)
{
    free(ids->v);
    *ids = (struct incident_ids){ 0 };
}
