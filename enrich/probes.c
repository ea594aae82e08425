/* One probe round for one connector: see probes.h. Each probe fills its part of the report and
 * never fails the round: what cannot be checked is unverified, with why. A path below a path_map
 * folder is first checked against its share (the folder there, listable, not empty: an unmounted
 * share is an empty mount point), then looked up with winpath_resolve, which refuses a symlink
 * leading out of the folder; only then is it stat()ed or opened. */
#include "probes.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "ini.h"
#include "winpath.h"

/* What a round works with. */
struct round {
    const struct enrich_connector *c;
    struct winpath_map *map;   /* c->path_map as winpath takes it; owned */
    struct probe_report *r;
    struct probe_share spare;  /* a share looked at when r->shares is full (never, see probes.h) */
};

const char *probes_ini_status_name(enum probe_ini_status s)
{
    static const char *const names[] = { "not_configured", "ok", "missing", "not_a_file",
                                         "unreadable", "too_large", "unverified" };
    return names[s];
}

const char *probes_key_status_name(enum probe_key_status s)
{
    static const char *const names[] = { "not_checked", "ok", "no_keyfilename", "mismatch",
                                         "unverified" };
    return names[s];
}

const char *probes_why_name(enum probe_why w)
{
    static const char *const names[] = { "", "unmapped_path", "refused_path", "outside_mapping",
                                         "share_unavailable", "unknown_account", "no_account",
                                         "network_fs", "lookup_failed" };
    return names[w];
}

const char *probes_id_result(const struct probe_report *r)
{
    return r->id_why ? "unverified" : probe_file_status_name(r->id.status);
}

/* ---- where a path may be looked at ---- */

/* Whether a share's folder shows the connector's disk: a mount point whose share is not mounted
 * is an empty folder, and a folder that is missing or cannot be listed shows nothing either. */
static void share_look(struct probe_share *s)
{
    DIR *d = opendir(s->local);
    if (!d) {
        int e = s->error = errno;
        snprintf(s->detail, sizeof(s->detail), "%.200s is mapped to %.500s, which %s%s",
                 s->windows, s->local, e == ENOENT ? "does not exist"
                                       : e == ENOTDIR ? "is not a folder" : "cannot be listed: ",
                 e == ENOENT || e == ENOTDIR ? "" : strerror(e));
        return;
    }
    bool empty = true;
    for (struct dirent *de; empty && (de = readdir(d)) != NULL;)
        empty = strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0;
    closedir(d);
    s->available = !empty;
    snprintf(s->detail, sizeof(s->detail),
             empty ? "%.200s is mapped to %.500s, which is empty: the share is not mounted here"
                   : "%.200s is mapped to %.500s, which is there and not empty",
             s->windows, s->local);
}

/* The share of map entry e, looked at once per round. */
static const struct probe_share *share_of(struct round *rd, const struct winpath_map *e)
{
    struct probe_report *r = rd->r;
    for (int i = 0; i < r->n_shares; i++)
        if (strcmp(r->shares[i].local, e->local) == 0)
            return &r->shares[i];
    struct probe_share *s = r->n_shares < PROBES_MAX_SHARES ? &r->shares[r->n_shares++] : &rd->spare;
    memset(s, 0, sizeof(*s));
    snprintf(s->windows, sizeof(s->windows), "%s", e->windows);
    snprintf(s->local, sizeof(s->local), "%s", e->local);
    share_look(s);
    return s;
}

/* Where path (a local path: configured, or mapped from a Windows one) may be looked at: out gets
 * the path to stat (the real case of each name when found, else path). Returns PROBE_WHY_NONE,
 * or why it may not be looked at, with detail saying so. */
static enum probe_why locate(struct round *rd, const char *path, char *out, size_t size,
                             char *detail, size_t dsize)
{
    snprintf(out, size, "%s", path);
    const struct winpath_map *e = winpath_entry_of(rd->map, rd->c->n_path_map, path);
    if (!e)
        return PROBE_WHY_NONE; /* in no mapped folder: a local file, taken as configured */
    const struct probe_share *s = share_of(rd, e);
    if (!s->available) {
        snprintf(detail, dsize, "%.400s lies in %.400s, which this collector cannot see: not "
                 "checked", path, s->local);
        return PROBE_WHY_SHARE_UNAVAILABLE;
    }
    struct lme_err err;
    int rc = winpath_resolve(e->local, path, out, size, &err);
    if (rc == 0)
        return PROBE_WHY_NONE;
    snprintf(out, size, "%s", path); /* missing: stat() says so, the names before it were checked */
    if (rc == LME_ENOENT)
        return PROBE_WHY_NONE;
    snprintf(detail, dsize, "%.400s cannot be checked: %.500s", path, err.msg);
    return rc == LME_EINVAL ? PROBE_WHY_OUTSIDE_MAPPING : PROBE_WHY_LOOKUP_FAILED;
}

/* The Windows path the connector knows local by, or "" when no path_map entry holds it. */
static void name_of(const struct round *rd, const char *local, char *out, size_t size)
{
    if (winpath_unmap(rd->map, rd->c->n_path_map, local, out, size) != 0)
        out[0] = '\0';
}

/* ---- the ID file ---- */

static enum probe_why why_of_file(enum probe_file_status s)
{
    switch (s) {
    case PROBE_FILE_UNKNOWN_USER: return PROBE_WHY_UNKNOWN_ACCOUNT;
    case PROBE_FILE_NETWORK_FS: return PROBE_WHY_NETWORK_FS;
    case PROBE_FILE_ERROR: return PROBE_WHY_LOOKUP_FAILED;
    default: return PROBE_WHY_NONE;
    }
}

/* Fills id_local with where the ID file is looked at, and *located with whether it may be. */
static int probe_id_file(struct round *rd, char *id_local, size_t size, bool *located)
{
    const struct enrich_connector *c = rd->c;
    struct probe_report *r = rd->r;
    r->id_checked = true;
    r->id_why = locate(rd, c->id_file, id_local, size, r->id.detail, sizeof(r->id.detail));
    name_of(rd, id_local, r->id_name, sizeof(r->id_name));
    *located = r->id_why == PROBE_WHY_NONE;
    if (!*located)
        return 0;
    int rc = c->service_user ? probe_file_readable(id_local, c->service_user, &r->id)
                             : probe_file_present(id_local, &r->id);
    if (rc)
        return rc;
    r->id_why = why_of_file(r->id.status);
    if (!c->service_user && r->id.status == PROBE_FILE_OK) {
        r->id_why = PROBE_WHY_NO_ACCOUNT;
        size_t len = strlen(r->id.detail);
        snprintf(r->id.detail + len, sizeof(r->id.detail) - len,
                 "; no service_user is configured: whether the connector's account may read it "
                 "was not checked");
    }
    return 0;
}

/* ---- the Notes.ini and its KeyFileName ---- */

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

static bool same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    if (stat(a, &sa) == 0 && stat(b, &sb) == 0)
        return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
    return strcasecmp(a, b) == 0; /* neither there: the same name is the same file */
}

static void set_key(struct probe_report *r, enum probe_key_status s, enum probe_why why)
{
    r->key = s;
    r->key_why = why;
}

/* A KeyFileName with no folder to read it from: Windows would look in the process's current
 * folder, which nobody here knows; the name alone is compared. */
static void compare_by_name(const struct enrich_connector *c, const char *key, struct probe_report *r)
{
    const char *base = strrchr(c->id_file, '/');
    bool same = strcasecmp(base ? base + 1 : c->id_file, key) == 0;
    set_key(r, same ? PROBE_KEY_MATCH : PROBE_KEY_MISMATCH, PROBE_WHY_NONE);
    snprintf(r->key_detail, sizeof(r->key_detail),
             "KeyFileName=%.200s is relative and [Notes] has no Directory=; by name it %s the "
             "connector's ID file %.600s", key, same ? "matches" : "does not match", c->id_file);
}

/* Compares where KeyFileName leads (r->key_local) with the ID file, which may be stat()ed only
 * when it was located. */
static void compare_with_id(const struct round *rd, const char *id_local, bool located)
{
    struct probe_report *r = rd->r;
    const char *key = r->key_value;
    if (!located && strcasecmp(r->key_local, id_local) != 0) {
        set_key(r, PROBE_KEY_UNVERIFIED, r->id_why);
        snprintf(r->key_detail, sizeof(r->key_detail), "KeyFileName=%.200s leads to %.350s; the "
                 "connector's ID file %.350s could not be looked at, so whether they are one file "
                 "is not known", key, r->key_local, id_local);
        return;
    }
    bool same = !located || same_file(r->key_local, id_local);
    set_key(r, same ? PROBE_KEY_MATCH : PROBE_KEY_MISMATCH, PROBE_WHY_NONE);
    snprintf(r->key_detail, sizeof(r->key_detail),
             "KeyFileName=%.200s leads to %.350s, %s the connector's ID file %.350s", key,
             r->key_local, same ? "which is" : "not", id_local);
}

/* Where the Windows path win (KeyFileName, Directory= joined) is on this machine, into
 * r->key_local; then the comparison with the ID file, or why there is none. */
static void follow_key(struct round *rd, const char *win, const char *id_local, bool located)
{
    struct probe_report *r = rd->r;
    char mapped[PATH_MAX], why[1024];
    struct lme_err err;
    snprintf(r->key_name, sizeof(r->key_name), "%s", win);
    int rc = winpath_map(rd->map, rd->c->n_path_map, win, mapped, sizeof(mapped), &err);
    if (rc) {
        set_key(r, PROBE_KEY_UNVERIFIED, rc == LME_ENOENT ? PROBE_WHY_UNMAPPED_PATH
                                         : rc == LME_EINVAL ? PROBE_WHY_REFUSED_PATH
                                                            : PROBE_WHY_LOOKUP_FAILED);
        snprintf(r->key_detail, sizeof(r->key_detail),
                 "KeyFileName=%.200s (%.300s) cannot be checked: %.400s", r->key_value, win, err.msg);
        return;
    }
    enum probe_why w = locate(rd, mapped, r->key_local, sizeof(r->key_local), why, sizeof(why));
    if (w) {
        set_key(r, PROBE_KEY_UNVERIFIED, w);
        snprintf(r->key_detail, sizeof(r->key_detail), "KeyFileName=%.200s (%.200s): %.500s",
                 r->key_value, win, why);
        return;
    }
    compare_with_id(rd, id_local, located);
}

static void check_keyfilename(struct round *rd, const struct ini *ini, const char *ini_local,
                              const char *id_local, bool located)
{
    struct probe_report *r = rd->r;
    const char *key = ini_get(ini, "Notes", "KeyFileName");
    const char *dir = ini_get(ini, "Notes", "Directory");
    if (!key || !*key) {
        set_key(r, PROBE_KEY_NO_LINE, PROBE_WHY_NONE);
        snprintf(r->key_detail, sizeof(r->key_detail),
                 "%.900s has no KeyFileName= line in its [Notes] section", ini_local);
        return;
    }
    snprintf(r->key_value, sizeof(r->key_value), "%s", key);
    if (!rd->c->id_file) {
        snprintf(r->key_detail, sizeof(r->key_detail),
                 "KeyFileName=%.900s (no id_file configured to compare with)", key);
        return;
    }
    char win[PROBES_NAME];
    bool joined = !winpath_is_absolute(key) && dir && *dir;
    bool fits = joined ? winpath_join(dir, key, win, sizeof(win)) == 0
                       : (size_t)snprintf(win, sizeof(win), "%s", key) < sizeof(win);
    if (!fits) { /* a cut path would be another path */
        set_key(r, PROBE_KEY_UNVERIFIED, PROBE_WHY_REFUSED_PATH);
        snprintf(r->key_detail, sizeof(r->key_detail), "KeyFileName=%.200s%s%.200s is longer "
                 "than the %zu bytes a path is read to: refused", key, joined ? " in " : "",
                 joined ? dir : "", sizeof(win) - 1);
        return;
    }
    if (winpath_is_absolute(win))
        follow_key(rd, win, id_local, located);
    else
        compare_by_name(rd->c, key, r);
}

static void probe_notes_ini(struct round *rd, const char *id_local, bool located)
{
    const struct enrich_connector *c = rd->c;
    struct probe_report *r = rd->r;
    if (!c->notes_ini) {
        snprintf(r->ini_detail, sizeof(r->ini_detail), "no notes_ini configured");
        return;
    }
    char local[PATH_MAX];
    r->ini_why = locate(rd, c->notes_ini, local, sizeof(local), r->ini_detail, sizeof(r->ini_detail));
    name_of(rd, local, r->ini_name, sizeof(r->ini_name));
    if (r->ini_why) {
        r->ini = PROBE_INI_UNVERIFIED;
        return;
    }
    struct ini *ini = NULL;
    struct lme_err err;
    int rc = ini_load(local, PROBES_MAX_INI_BYTES, &ini, &err);
    r->ini = ini_status_of(rc);
    if (rc) {
        snprintf(r->ini_detail, sizeof(r->ini_detail), "%.1000s", err.msg);
        return;
    }
    snprintf(r->ini_detail, sizeof(r->ini_detail), "%.900s is there and readable", local);
    check_keyfilename(rd, ini, local, id_local, located);
    ini_free(ini);
}

/* ---- Exchconn.ini ---- */

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

static void probe_exchconn(struct round *rd)
{
    const struct enrich_connector *c = rd->c;
    struct probe_report *r = rd->r;
    if (!c->exchconn_ini)
        return;
    r->exchconn_checked = true;
    char local[PATH_MAX];
    r->exchconn_why = locate(rd, c->exchconn_ini, local, sizeof(local), r->exchconn_detail,
                             sizeof(r->exchconn_detail));
    struct ini *ini = NULL;
    struct lme_err err;
    if (r->exchconn_why)
        return;
    if (ini_load(local, PROBES_MAX_INI_BYTES, &ini, &err) != 0) {
        snprintf(r->exchconn_detail, sizeof(r->exchconn_detail), "%.1000s", err.msg);
        return;
    }
    r->exchconn_read = true;
    struct servers s = { ini, r->exchconn_detail, sizeof(r->exchconn_detail) };
    r->exchconn_detail[0] = '\0';
    ini_foreach_section(ini, add_server, &s);
    if (!r->exchconn_detail[0])
        snprintf(r->exchconn_detail, sizeof(r->exchconn_detail), "%.900s names no NOTESSERVER",
                 local);
    ini_free(ini);
}

/* ---- the round ---- */

int probes_run(const struct enrich_connector *c, int timeout_ms, struct probe_report *r)
{
    memset(r, 0, sizeof(*r));
    struct round rd = { .c = c, .r = r };
    if (c->n_path_map && !(rd.map = calloc(c->n_path_map, sizeof(*rd.map))))
        return LME_ENOMEM;
    for (size_t i = 0; i < c->n_path_map; i++)
        rd.map[i] = (struct winpath_map){ c->path_map[i].windows, c->path_map[i].local };
    int64_t start = lme_mono_ms();
    r->probed_at_ms = lme_wall_ms();
    if (gethostname(r->collector, sizeof(r->collector) - 1) != 0)
        snprintf(r->collector, sizeof(r->collector), "this collector");
    char id_local[PATH_MAX] = "";
    bool located = false;
    int rc = c->id_file ? probe_id_file(&rd, id_local, sizeof(id_local), &located) : 0;
    if (!rc)
        probe_notes_ini(&rd, id_local, located);
    if (!rc && c->server_host) {
        r->server_checked = true;
        if (probe_net_connect(c->server_host, c->server_port, timeout_ms, &r->server) == LME_ENOMEM)
            rc = LME_ENOMEM;
    }
    if (!rc)
        probe_exchconn(&rd);
    r->took_ms = (int)(lme_mono_ms() - start);
    free(rd.map);
    return rc;
}

/* ---- outcomes ---- */

static void put_outcome(struct enrich_check *out, const char **subjects, size_t *n, size_t max,
                        const char *name, enum enrich_check_result result, enum probe_why why,
                        const char *subject)
{
    if (*n == max)
        return;
    out[*n] = (struct enrich_check){ name, why ? ENRICH_CHECK_UNVERIFIED : result,
                                     why ? probes_why_name(why) : NULL };
    if (subjects)
        subjects[*n] = subject;
    (*n)++;
}

size_t probes_outcomes(const struct probe_report *r, struct enrich_check *out,
                       const char **subjects, size_t max)
{
    size_t n = 0;
    if (r->ini != PROBE_INI_NOT_CONFIGURED)
        put_outcome(out, subjects, &n, max, "notes_ini",
                    r->ini == PROBE_INI_OK ? ENRICH_CHECK_PASSED : ENRICH_CHECK_FAILED, r->ini_why, "");
    if (r->key != PROBE_KEY_NOT_CHECKED)
        put_outcome(out, subjects, &n, max, "keyfilename",
                    r->key == PROBE_KEY_MATCH ? ENRICH_CHECK_PASSED : ENRICH_CHECK_FAILED, r->key_why, "");
    if (r->id_checked)
        put_outcome(out, subjects, &n, max, "id_file",
                    r->id.status == PROBE_FILE_OK ? ENRICH_CHECK_PASSED : ENRICH_CHECK_FAILED,
                    r->id_why, "");
    if (r->server_checked)
        put_outcome(out, subjects, &n, max, "notes_server",
                    r->server.status == PROBE_NET_REACHABLE ? ENRICH_CHECK_PASSED : ENRICH_CHECK_FAILED,
                    PROBE_WHY_NONE, "");
    for (int i = 0; i < r->n_shares; i++)
        put_outcome(out, subjects, &n, max, "share",
                    r->shares[i].available ? ENRICH_CHECK_PASSED : ENRICH_CHECK_FAILED,
                    PROBE_WHY_NONE, r->shares[i].windows);
    return n;
}

int probes_list(const struct probe_report *r, enum enrich_check_result want, bool for_log,
                char *out, size_t size)
{
    struct enrich_check checks[ENRICH_MAX_CHECKS];
    const char *subjects[ENRICH_MAX_CHECKS];
    size_t n = probes_outcomes(r, checks, subjects, ENRICH_MAX_CHECKS);
    int count = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        const char *why = checks[i].reason;
        if (checks[i].result != want)
            continue;
        size_t len = strlen(out);
        snprintf(out + len, size - len, "%s%s%s%s%s%s%s", count ? (for_log ? "," : ", ") : "",
                 checks[i].name, subjects[i][0] ? (for_log ? ":" : " ") : "", subjects[i],
                 why ? (for_log ? "(" : " (") : "", why ? why : "", why ? ")" : "");
        count++;
    }
    return count;
}
