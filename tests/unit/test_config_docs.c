/* docs/config.md against the key tables (conf.h): every table's keys are the rows of the docs'
 * table for that place, no more, no less, and every default the docs give (and every range "A to
 * B" every integer key's row gives) is the table's, and the man page names every key. So the
 * reference cannot drift from the code that reads the keys.
 * Usage: test_config_docs DOCS/config.md DEPLOY/lme-ingest.8 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "enrich.h"
#include "file_sink.h"
#include "inputs.h"
#include "kafka_sink.h"

static char *docs, *man;

/* Which heading of docs/config.md documents which table. */
static const struct {
    const struct conf_table *table;
    const char *heading;
} places[] = {
    { &config_top_keys, "## Top level" },
    { &config_metrics_keys, "## `metrics`" },
    { &inputs_config_keys, "## `inputs[]`" },
    { &kafka_sink_config_keys, "## `sinks[]`: `{\"type\": \"kafka\"" },
    { &file_sink_config_keys, "## `sinks[]`: `{\"type\": \"file\"" },
    { &enrich_connector_keys, "## `connectors`" },
    { &enrich_config_keys, "## `enrichment`" },
};

struct row {
    char key[64];
    char dflt[256];
    char meaning[2048];
};

/* Splits the markdown row "| `key` | type | default | meaning |" into r. */
static int split_row(const char *line, struct row *r)
{
    const char *cell[5];
    size_t len[5];
    const char *p = line;
    for (int i = 0; i < 5; i++) {
        p = strchr(p, '|');
        if (!p)
            return -1;
        cell[i] = ++p;
        const char *end = strchr(p, '|');
        len[i] = end ? (size_t)(end - p) : strlen(p);
    }
    const char *k = memchr(cell[0], '`', len[0]);
    const char *kend = k ? memchr(k + 1, '`', len[0] - (size_t)(k + 1 - cell[0])) : NULL;
    if (!kend)
        return -1;
    snprintf(r->key, sizeof(r->key), "%.*s", (int)(kend - k - 1), k + 1);
    snprintf(r->dflt, sizeof(r->dflt), "%.*s", (int)len[2], cell[2]);
    snprintf(r->meaning, sizeof(r->meaning), "%.*s", (int)len[3], cell[3]);
    return 0;
}

/* The rows of the first table after heading. Returns how many. */
static size_t rows_after(const char *heading, struct row *rows, size_t max)
{
    const char *at = strstr(docs, heading);
    if (!at)
        fail_msg("docs/config.md has no heading %s", heading);
    size_t n = 0;
    bool in_table = false;
    for (const char *line = strchr(at, '\n'); line && n < max; line = strchr(line + 1, '\n')) {
        const char *start = line + 1;
        if (strncmp(start, "| `", 3) == 0) {
            in_table = true;
            if (split_row(start, &rows[n]) == 0)
                n++;
        } else if (in_table && strncmp(start, "|", 1) != 0) {
            break;
        } else if (!in_table && strncmp(start, "## ", 3) == 0) {
            break;
        }
    }
    return n;
}

static const struct row *find_row(const struct row *rows, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(rows[i].key, key) == 0)
            return &rows[i];
    return NULL;
}

/* The default the docs give, as the table would write it. */
static void check_default(const char *where, const struct conf_key *k, const struct row *r)
{
    char want[256] = "";
    if (k->type == CONF_INT)
        snprintf(want, sizeof(want), "%lld", k->dflt);
    else if (k->type == CONF_BOOL)
        snprintf(want, sizeof(want), "%s", k->dflt ? "true" : "false");
    else if (k->type == CONF_CHOICE)
        snprintf(want, sizeof(want), "`%s`", k->choices[k->dflt]);
    else if (k->type == CONF_STRING && k->dflt_text)
        snprintf(want, sizeof(want), "`%s`", k->dflt_text);
    if (!want[0])
        return;
    const char *d = r->dflt;
    while (*d == ' ')
        d++;
    if (strncmp(d, want, strlen(want)) != 0 ||
        (k->type == CONF_INT && d[strlen(want)] >= '0' && d[strlen(want)] <= '9'))
        fail_msg("%s: key %s: the docs say the default is '%s', the table %s", where, k->name,
                 r->dflt, want);
}

/* Every integer key's row gives its range "A to B", and it is the table's. */
static void check_range(const char *where, const struct conf_key *k, const struct row *r)
{
    if (k->type != CONF_INT)
        return;
    char want[64];
    snprintf(want, sizeof(want), "%lld to %lld", k->min, k->max);
    if (!strstr(r->meaning, want))
        fail_msg("%s: key %s: docs/config.md does not give its range (%s)", where, k->name, want);
    for (const char *p = r->meaning; (p = strstr(p, " to ")) != NULL; p += 4) {
        const char *a = p;
        while (a > r->meaning && a[-1] >= '0' && a[-1] <= '9')
            a--;
        if (a == p)
            continue;
        long long lo = strtoll(a, NULL, 10), hi = strtoll(p + 4, NULL, 10);
        if (lo != k->min || hi != k->max)
            fail_msg("%s: key %s: the docs give the range %lld to %lld, the table %lld to %lld",
                     where, k->name, lo, hi, k->min, k->max);
    }
}

static void test_every_table_matches_its_docs(void **state)
{
    (void)state;
    for (size_t p = 0; p < sizeof(places) / sizeof(places[0]); p++) {
        const struct conf_table *t = places[p].table;
        struct row rows[64];
        size_t n = rows_after(places[p].heading, rows, 64);
        assert_true(n > 0);
        for (size_t i = 0; i < t->n; i++) {
            const struct row *r = find_row(rows, n, t->keys[i].name);
            if (!r)
                fail_msg("%s: key %s is read but docs/config.md does not document it", t->where,
                         t->keys[i].name);
            check_default(t->where, &t->keys[i], r);
            check_range(t->where, &t->keys[i], r);
        }
        for (size_t i = 0; i < n; i++)
            if (!conf_find(t, rows[i].key))
                fail_msg("%s: docs/config.md documents %s, which no table reads", t->where,
                         rows[i].key);
    }
}

static bool word_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* Whether word appears in text on its own (not inside a longer name). */
static bool has_word(const char *text, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = text; (p = strstr(p, word)) != NULL; p += n)
        if ((p == text || !word_char(p[-1])) && !word_char(p[n]))
            return true;
    return false;
}

/* The man page names every key of every table. */
static void test_the_man_page_names_every_key(void **state)
{
    (void)state;
    for (size_t p = 0; p < sizeof(places) / sizeof(places[0]); p++) {
        const struct conf_table *t = places[p].table;
        for (size_t i = 0; i < t->n; i++) {
            if (strcmp(t->keys[i].name, "type") == 0)
                continue; /* the discriminator: "file", "kafka" are named */
            if (!has_word(man, t->keys[i].name))
                fail_msg("%s: key %s is not in the man page", t->where, t->keys[i].name);
        }
    }
}

static void test_tables_are_well_formed(void **state)
{
    (void)state;
    for (size_t p = 0; p < sizeof(places) / sizeof(places[0]); p++) {
        const struct conf_table *t = places[p].table;
        for (size_t i = 0; i < t->n; i++) {
            const struct conf_key *k = &t->keys[i];
            assert_non_null(k->doc);
            assert_true(k->doc[0] != '\0');
            if (k->type == CONF_INT)
                assert_true(k->min <= k->dflt && k->dflt <= k->max);
            if (k->type == CONF_INT || k->type == CONF_BOOL || k->type == CONF_CHOICE)
                assert_true(k->size == sizeof(int) || k->size == sizeof(int64_t));
            for (size_t j = 0; j < i; j++)
                assert_string_not_equal(t->keys[j].name, k->name);
        }
    }
}

/* The whole file at path, or NULL. */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        return NULL;
    }
    static char texts[2][1 << 20];
    static int next;
    char *text = texts[next++ % 2];
    size_t len = fread(text, 1, sizeof(texts[0]) - 1, f);
    fclose(f);
    text[len] = '\0';
    return text;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s DOCS/config.md DEPLOY/lme-ingest.8\n", argv[0]);
        return 2;
    }
    if (!(docs = slurp(argv[1])) || !(man = slurp(argv[2])))
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_table_matches_its_docs),
        cmocka_unit_test(test_the_man_page_names_every_key),
        cmocka_unit_test(test_tables_are_well_formed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
