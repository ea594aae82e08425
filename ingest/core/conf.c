/* Configuration key tables: see conf.h. What needs no JSON: defaults, freeing, listing. */
#include "conf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

const struct conf_key *conf_find(const struct conf_table *t, const char *name)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->keys[i].name, name) == 0)
            return &t->keys[i];
    return NULL;
}

void conf_store_int(const struct conf_key *k, void *base, long long v)
{
    char *at = (char *)base + k->offset;
    if (k->size == sizeof(int)) {
        int i = (int)v;
        memcpy(at, &i, sizeof(i));
    } else {
        int64_t w = v;
        memcpy(at, &w, sizeof(w));
    }
}

int conf_set_defaults(const struct conf_table *t, void *base)
{
    for (size_t i = 0; i < t->n; i++) {
        const struct conf_key *k = &t->keys[i];
        if (k->type == CONF_BOOL || k->type == CONF_INT || k->type == CONF_CHOICE)
            conf_store_int(k, base, k->dflt);
        if (k->type != CONF_STRING || !k->dflt_text)
            continue;
        char **at = (char **)((char *)base + k->offset);
        free(*at);
        if (!(*at = strdup(k->dflt_text)))
            return LME_ENOMEM;
    }
    return 0;
}

void conf_free(const struct conf_table *t, void *base)
{
    for (size_t i = 0; i < t->n; i++) {
        const struct conf_key *k = &t->keys[i];
        if (k->type != CONF_STRING && k->type != CONF_STRINGS)
            continue;
        char **at = (char **)((char *)base + k->offset);
        if (k->type == CONF_STRINGS) {
            size_t *n = (size_t *)((char *)base + k->count_offset);
            char **v = *(char ***)at;
            for (size_t j = 0; v && j < *n; j++)
                free(v[j]);
            *n = 0;
        }
        free(*at);
        *at = NULL;
    }
}

const char *conf_key_list(const struct conf_table *t, char *out, size_t size)
{
    out[0] = '\0';
    for (size_t i = 0; i < t->n; i++) {
        size_t len = strlen(out);
        snprintf(out + len, size - len, "%s%s", i ? ", " : "", t->keys[i].name);
    }
    return out;
}
