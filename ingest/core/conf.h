/* Configuration keys as tables: each stage describes the keys it owns, one row per key (name,
 * type, default, range, where the value goes, one line of doc), in the spirit of Fluent Bit's
 * config maps and Redis's config table. The daemon's loader (ingest/config.c) reads a JSON
 * object against such a table: defaults first, then every key present, checked; an unknown key
 * is an error that lists every key valid at that place. A key is so written once. libc only: the
 * tables carry no JSON. */
#ifndef LME_CONF_H
#define LME_CONF_H

#include <stdbool.h>
#include <stddef.h>

enum conf_type {
    CONF_BOOL,    /* true/false into an int */
    CONF_INT,     /* an integer in [min, max] into an int, long long or size_t (size) */
    CONF_STRING,  /* a non-empty string, copied (char *; NULL when absent and no default) */
    CONF_CHOICE,  /* one of choices, its index into an int (or an enum) */
    CONF_STRINGS, /* a non-empty array of non-empty strings (char **, count at count_offset) */
    CONF_OWN,     /* read by the table owner's own code (objects, secrets): listed, not read */
};

struct conf_key {
    const char *name;
    enum conf_type type;
    size_t offset;              /* of the value in the owner's struct */
    size_t size;                /* of that field */
    long long dflt;             /* CONF_BOOL, CONF_INT, CONF_CHOICE */
    const char *dflt_text;      /* CONF_STRING's default (copied), or NULL */
    long long min, max;         /* CONF_INT */
    const char *const *choices; /* CONF_CHOICE: NULL-terminated */
    size_t count_offset;        /* CONF_STRINGS: of the size_t count */
    bool required;
    const char *doc;            /* one line: what it does (docs/config.md says more) */
};

#define CONF_FIELD(st, f) offsetof(st, f), sizeof(((st *)0)->f)

#define CONF_BOOL_KEY(st, f, name, d, doc) \
    { name, CONF_BOOL, CONF_FIELD(st, f), d, NULL, 0, 1, NULL, 0, false, doc }
#define CONF_INT_KEY(st, f, name, d, lo, hi, doc) \
    { name, CONF_INT, CONF_FIELD(st, f), d, NULL, lo, hi, NULL, 0, false, doc }
#define CONF_STRING_KEY(st, f, name, d, doc) \
    { name, CONF_STRING, CONF_FIELD(st, f), 0, d, 0, 0, NULL, 0, false, doc }
#define CONF_REQUIRED_STRING_KEY(st, f, name, doc) \
    { name, CONF_STRING, CONF_FIELD(st, f), 0, NULL, 0, 0, NULL, 0, true, doc }
#define CONF_CHOICE_KEY(st, f, name, d, choices, doc) \
    { name, CONF_CHOICE, CONF_FIELD(st, f), d, NULL, 0, 0, choices, 0, false, doc }
#define CONF_STRINGS_KEY(st, f, count, name, doc) \
    { name, CONF_STRINGS, CONF_FIELD(st, f), 0, NULL, 0, 0, NULL, offsetof(st, count), true, doc }
#define CONF_OWN_KEY(name, required, doc) \
    { name, CONF_OWN, 0, 0, 0, NULL, 0, 0, NULL, 0, required, doc }

/* A table: its rows and how many. */
struct conf_table {
    const char *where; /* "inputs[]", "sinks[] (kafka)", ...: as docs/config.md heads it */
    const struct conf_key *keys;
    size_t n;
};

#define CONF_TABLE(where, keys) { where, keys, sizeof(keys) / sizeof((keys)[0]) }

/* The row named name, or NULL. */
const struct conf_key *conf_find(const struct conf_table *t, const char *name);

/* Stores v into k's field of base, as wide as the field is (int, or 64 bits). */
void conf_store_int(const struct conf_key *k, void *base, long long v);

/* Sets every default of t into base (strings copied). Returns 0 or LME_ENOMEM. */
int conf_set_defaults(const struct conf_table *t, void *base);

/* Frees the strings and string arrays t put into base; NULL-safe on the fields. */
void conf_free(const struct conf_table *t, void *base);

/* "a, b, c": every key of t, for "unknown key" errors. Returns out. */
const char *conf_key_list(const struct conf_table *t, char *out, size_t size);

#endif
