/* Test support: see events.h. */
#include "events.h"

#include <glob.h>
#include <stdbool.h>
#include <stdint.h>
#include <unistd.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>

/* The lines already written by this process: 64-bit hashes, open addressing. */
static uint64_t *seen;
static size_t seen_cap, seen_n;

static uint64_t line_hash(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 1099511628211ULL;
    return h ? h : 1;
}

/* Adds h to the set; returns false when it was there. */
static bool seen_add(uint64_t h)
{
    if (2 * (seen_n + 1) > seen_cap) {
        size_t cap = seen_cap ? 2 * seen_cap : 4096;
        uint64_t *v = calloc(cap, sizeof(*v));
        if (!v)
            return true;
        for (size_t i = 0; i < seen_cap; i++)
            for (size_t k = seen[i] % cap; seen[i]; k = (k + 1) % cap)
                if (!v[k]) {
                    v[k] = seen[i];
                    break;
                }
        free(seen);
        seen = v;
        seen_cap = cap;
    }
    for (size_t k = h % seen_cap;; k = (k + 1) % seen_cap) {
        if (seen[k] == h)
            return false;
        if (!seen[k]) {
            seen[k] = h;
            seen_n++;
            return true;
        }
    }
}

/* Each test process keeps its first EVENTS_SEEN_MAX distinct events: enough for every shape a
 * test makes, while the 200,000 alike records of a soak do not make validation the suite's
 * longest step. */
#define EVENTS_SEEN_MAX 10000

void events_seen(const char *line, size_t len)
{
    const char *dir = getenv("LME_EVENTS_SEEN");
    if (!dir || !*dir || len == 0 || seen_n >= EVENTS_SEEN_MAX || !seen_add(line_hash(line, len)))
        return;
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%d.jsonl", dir, (int)getpid());
    FILE *f = fopen(path, "a");
    if (!f)
        return;
    fwrite(line, 1, len, f);
    fputc('\n', f);
    fclose(f);
}

json_t *events_parse(const char *text, size_t len)
{
    json_t *events = json_array();
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        json_error_t jerr;
        /* \u0000 is valid JSON, and input may carry NUL bytes */
        json_t *ev = json_loadb(p, n, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
        if (!json_is_object(ev)) {
            fprintf(stderr, "not a JSON object (%s): %.*s\n", jerr.text, (int)n, p);
            json_decref(ev);
            json_decref(events);
            return NULL;
        }
        json_array_append_new(events, ev);
        events_seen(p, n);
        p += n + 1;
    }
    return events;
}

json_t *events_parse_records(const char *text, size_t len)
{
    json_t *all = events_parse(text, len);
    json_t *records = all ? json_array() : NULL;
    size_t i;
    json_t *ev;
    json_array_foreach(all, i, ev) {
        if (!event_is_incident(ev))
            json_array_append(records, ev);
    }
    json_decref(all);
    return records;
}

int event_is_incident(json_t *ev)
{
    const char *dataset = event_str(ev, "event.dataset");
    return dataset && strcmp(dataset, "lme.incident") == 0;
}

json_t *event_get(json_t *ev, const char *dotted)
{
    char key[128];
    snprintf(key, sizeof(key), "%s", dotted);
    char *save = NULL;
    for (char *part = strtok_r(key, ".", &save); part && ev; part = strtok_r(NULL, ".", &save))
        ev = json_object_get(ev, part);
    return ev;
}

const char *event_str(json_t *ev, const char *dotted)
{
    return json_string_value(event_get(ev, dotted));
}

int event_has_tag(json_t *ev, const char *tag)
{
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(ev, "tags"), i, t)
        if (strcmp(json_string_value(t), tag) == 0)
            return 1;
    return 0;
}

int log_files_settled(const char *log, const char *dir, long long expected)
{
    char pattern[PATH_MAX], want[PATH_MAX + 96], real[PATH_MAX];
    snprintf(pattern, sizeof(pattern), "%s/*.log", dir);
    glob_t g;
    if (glob(pattern, 0, NULL, &g) != 0)
        return 0;
    int ok = 1;
    for (size_t i = 0; ok && i < g.gl_pathc; i++) {
        struct stat st;
        if (stat(g.gl_pathv[i], &st) != 0 || !realpath(g.gl_pathv[i], real)) {
            ok = 0;
            break;
        }
        snprintf(want, sizeof(want), "msg=\"file settled up to\" file=%s offset=%lld read=%lld", real,
                 expected < 0 ? (long long)st.st_size : expected, (long long)st.st_size);
        if (!strstr(log, want)) {
            fprintf(stderr, "missing in the log: %s\n", want);
            ok = 0;
        }
    }
    globfree(&g);
    return ok;
}

long long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

long long checkpoint_offset(const char *state_dir, const char *path)
{
    char cp_path[PATH_MAX];
    snprintf(cp_path, sizeof(cp_path), "%s/checkpoints.json", state_dir);
    struct stat st;
    json_t *root = json_load_file(cp_path, 0, NULL);
    if (!root || stat(path, &st) != 0) {
        json_decref(root);
        return -1;
    }
    char ino[32];
    snprintf(ino, sizeof(ino), "%llu", (unsigned long long)st.st_ino);
    long long offset = -1;
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(root, "files"), i, e)
        if (strcmp(event_str(e, "ino") ? event_str(e, "ino") : "", ino) == 0)
            offset = json_integer_value(json_object_get(e, "offset"));
    json_decref(root);
    return offset;
}
