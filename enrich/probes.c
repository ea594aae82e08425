/* One probe round for one connector: see probes.h. Each probe fills its part of the report and
 * never fails the round: what cannot be checked is said so in its detail. */
#include "probes.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "ini.h"

static int64_t now_ms(int clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *probes_ini_status_name(enum probe_ini_status s)
{
    static const char *const names[] = { "not_configured", "ok", "missing", "not_a_file",
                                         "unreadable", "too_large" };
    return names[s];
}

const char *probes_key_status_name(enum probe_key_status s)
{
    static const char *const names[] = { "not_checked", "ok", "no_keyfilename", "mismatch",
                                         "unmapped" };
    return names[s];
}

static enum probe_ini_status ini_status_of(int code)
{
    switch (code) {
    case 0: return PROBE_INI_OK;
    case LME_ENOENT: return PROBE_INI_MISSING;
    case LME_EINVAL: return PROBE_INI_NOT_FILE;
    case LME_ERANGE: return PROBE_INI_TOO_LARGE;
    default: return PROBE_INI_UNREADABLE;
    }
}

/* The local file a Windows path leads to, found case-insensitively below its mapped prefix. */
static int map_to_local(const struct enrich_connector *c, const char *win, char *out, size_t size,
                        struct lme_err *err)
{
    if (win[0] == '/') { /* already a local path (a Notes.ini written for this machine) */
        snprintf(out, size, "%s", win);
        return 0;
    }
    char mapped[PATH_MAX];
    int rc = winpath_map(c->path_map, c->n_path_map, win, mapped, sizeof(mapped), err);
    if (rc)
        return rc;
    const char *root = NULL; /* the longest local prefix the mapped path starts with */
    size_t best = 0;
    for (size_t i = 0; i < c->n_path_map; i++) {
        size_t n = strlen(c->path_map[i].local);
        if (n > best && strncmp(mapped, c->path_map[i].local, n) == 0) {
            root = c->path_map[i].local;
            best = n;
        }
    }
    if (!root || winpath_resolve(root, mapped, out, size, err) != 0)
        snprintf(out, size, "%s", mapped); /* as mapped: the comparison says it is missing */
    return 0;
}

static bool same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    if (stat(a, &sa) == 0 && stat(b, &sb) == 0)
        return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
    return strcasecmp(a, b) == 0; /* neither there: the same name is the same file */
}

static void check_keyfilename(const struct enrich_connector *c, const struct ini *ini,
                              struct probe_report *r)
{
    const char *key = ini_get(ini, "Notes", "KeyFileName");
    const char *dir = ini_get(ini, "Notes", "Directory");
    if (!key || !*key) {
        r->key = PROBE_KEY_NO_LINE;
        snprintf(r->key_detail, sizeof(r->key_detail),
                 "%.900s has no KeyFileName= line in its [Notes] section", c->notes_ini);
        return;
    }
    snprintf(r->key_value, sizeof(r->key_value), "%s", key);
    if (!c->id_file) {
        snprintf(r->key_detail, sizeof(r->key_detail), "KeyFileName=%.900s (no id_file configured to compare with)", key);
        return;
    }
    char win[PATH_MAX];
    if (key[0] != '/' && !winpath_is_absolute(key) && dir && *dir)
        winpath_join(dir, key, win, sizeof(win));
    else
        snprintf(win, sizeof(win), "%s", key);
    struct lme_err err;
    if (key[0] != '/' && !winpath_is_absolute(win)) { /* relative, no Directory: by name only */
        const char *base = strrchr(c->id_file, '/');
        bool same = strcasecmp(base ? base + 1 : c->id_file, win) == 0;
        r->key = same ? PROBE_KEY_MATCH : PROBE_KEY_MISMATCH;
        snprintf(r->key_detail, sizeof(r->key_detail),
                 "KeyFileName=%.200s is relative and [Notes] has no Directory=; by name it %s the "
                 "connector's ID file %.600s", key, same ? "matches" : "does not match", c->id_file);
        return;
    }
    if (map_to_local(c, win, r->key_local, sizeof(r->key_local), &err) != 0) {
        r->key = PROBE_KEY_UNMAPPED;
        snprintf(r->key_detail, sizeof(r->key_detail), "KeyFileName=%.200s (%.300s) cannot be checked: %.400s",
                 key, win, err.msg);
        return;
    }
    bool same = same_file(r->key_local, c->id_file);
    r->key = same ? PROBE_KEY_MATCH : PROBE_KEY_MISMATCH;
    snprintf(r->key_detail, sizeof(r->key_detail), "KeyFileName=%.200s leads to %.350s, %s the connector's ID file %.350s",
             key, r->key_local, same ? "which is" : "not", c->id_file);
}

static void probe_notes_ini(const struct enrich_connector *c, struct probe_report *r)
{
    if (!c->notes_ini) {
        snprintf(r->ini_detail, sizeof(r->ini_detail), "no notes_ini configured");
        return;
    }
    struct ini *ini = NULL;
    struct lme_err err;
    int rc = ini_load(c->notes_ini, PROBES_MAX_INI_BYTES, &ini, &err);
    r->ini = ini_status_of(rc);
    if (rc) {
        snprintf(r->ini_detail, sizeof(r->ini_detail), "%.1000s", err.msg);
        return;
    }
    snprintf(r->ini_detail, sizeof(r->ini_detail), "%.900s is there and readable", c->notes_ini);
    check_keyfilename(c, ini, r);
    ini_free(ini);
}

struct servers {
    const struct ini *ini;
    char *out;
    size_t size;
};

static int add_server(const char *section, void *ctx)
{
    struct servers *s = ctx;
    const char *server = ini_get(s->ini, section, "NOTESSERVER");
    if (server) {
        size_t len = strlen(s->out);
        snprintf(s->out + len, s->size - len, "%s[%.100s] NOTESSERVER=%.200s", len ? "; " : "",
                 section, server);
    }
    return 0;
}

static void probe_exchconn(const struct enrich_connector *c, struct probe_report *r)
{
    if (!c->exchconn_ini)
        return;
    r->exchconn_checked = true;
    struct ini *ini = NULL;
    struct lme_err err;
    if (ini_load(c->exchconn_ini, PROBES_MAX_INI_BYTES, &ini, &err) != 0) {
        snprintf(r->exchconn_detail, sizeof(r->exchconn_detail), "%.1000s", err.msg);
        return;
    }
    struct servers s = { ini, r->exchconn_detail, sizeof(r->exchconn_detail) };
    r->exchconn_detail[0] = '\0';
    ini_foreach_section(ini, add_server, &s);
    if (!r->exchconn_detail[0])
        snprintf(r->exchconn_detail, sizeof(r->exchconn_detail), "%.900s names no NOTESSERVER",
                 c->exchconn_ini);
    ini_free(ini);
}

int probes_run(const struct enrich_connector *c, int timeout_ms, struct probe_report *r)
{
    memset(r, 0, sizeof(*r));
    int64_t start = now_ms(CLOCK_MONOTONIC);
    r->probed_at_ms = now_ms(CLOCK_REALTIME);
    probe_notes_ini(c, r);
    if (c->id_file) {
        r->id_checked = true;
        if (probe_file_readable(c->id_file, c->service_user, &r->id) != 0)
            return LME_ENOMEM;
    }
    if (c->server_host) {
        r->server_checked = true;
        if (probe_net_connect(c->server_host, c->server_port, timeout_ms, &r->server) == LME_ENOMEM)
            return LME_ENOMEM;
    }
    probe_exchconn(c, r);
    r->took_ms = (int)(now_ms(CLOCK_MONOTONIC) - start);
    return 0;
}
