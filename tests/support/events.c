/* Test support: see events.h. */
#include "events.h"

#include <glob.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>

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
        p += n + 1;
    }
    return events;
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
