/* The incidents of connectors: see incident.h. One entry per key (a connector's name, or
 * "host/component" for inputs without one) that is in an incident or names a connector; an entry
 * that is well and names none is dropped, so the table holds what is failing, not every component
 * ever seen. */
#include "incident.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diagnosis.h"
#include "hash.h"
#include "json_str.h"
#include "tz.h"

#define KEY_MAX 512
#define MAX_NOTES 2

struct incident {
    char *key;
    uint64_t key_hash;
    char *connector;          /* NULL: keyed by host and component */
    struct lme_buf host, component; /* of the last 41220 (or record, for a connector) */
    enum incident_state state;
    char id[33];
    char last_id[33];         /* the last incident's, for 41220s replayed after it ended */
    enum diagnosis_cause cause;
    uint64_t count;           /* 41220s */
    uint64_t seq;             /* notes made: numbers the next one */
    int64_t first_seen, last_seen, opened_at, last_update; /* log time */
    int64_t opened_wall_ms;
    int64_t last_read_ms;     /* monotonic: when its last 41220 was read (not saved) */
    struct lme_buf diagnosis; /* of the moment */
};

struct incident_tracker {
    struct incident_config cfg;
    struct incident **v;
    size_t n, cap;
    size_t n_active;          /* predicted or open: while none, most records cost one test */
    int64_t quiet_due;        /* the earliest log time at which an open incident goes quiet
                                 (INT64_MAX: none); records before it cannot resolve one */
    bool quiet_stale;         /* quiet_due must be worked out again */
    struct incident_note notes[MAX_NOTES];
    size_t n_notes;
    uint64_t version; /* changes with anything incident_save writes */
    uint64_t untracked; /* 41220s of new keys refused while the table was full */
    struct incident *last; /* the entry the last record found: the next is mostly of it too */
};

const char *incident_state_name(enum incident_state s)
{
    static const char *const names[] = { "well", "predicted", "open", "resolved" };
    return names[s];
}

/* The causes a probe round can see come and go: a passing round resolves an incident of one. */
static bool probe_cause(enum diagnosis_cause c)
{
    switch (c) {
    case CAUSE_NOTES_INI_MISSING:
    case CAUSE_KEYFILENAME_MISMATCH:
    case CAUSE_ID_FILE_MISSING:
    case CAUSE_ID_FILE_UNREADABLE:
    case CAUSE_NOTES_SERVER_UNRESOLVABLE:
    case CAUSE_NOTES_SERVER_UNREACHABLE:
    case CAUSE_SHARE_UNAVAILABLE:
        return true;
    default:
        return false;
    }
}

/* A failing round predicts a failure of the connector only when it saw a fault of the connector's:
 * a share this collector cannot see says nothing of the connector. */
static bool predicts(enum diagnosis_cause c)
{
    return probe_cause(c) && c != CAUSE_SHARE_UNAVAILABLE;
}

struct incident_tracker *incident_tracker_create(const struct incident_config *cfg)
{
    struct incident_tracker *t = calloc(1, sizeof(*t));
    if (t) {
        t->cfg = *cfg;
        t->quiet_stale = true;
    }
    return t;
}

static void incident_free(struct incident *inc)
{
    if (!inc)
        return;
    free(inc->key);
    free(inc->connector);
    lme_buf_free(&inc->host);
    lme_buf_free(&inc->component);
    lme_buf_free(&inc->diagnosis);
    free(inc);
}

static void clear(struct incident_tracker *t)
{
    t->last = NULL;
    t->quiet_stale = true;
    for (size_t i = 0; i < t->n; i++)
        incident_free(t->v[i]);
    t->n = t->n_active = 0;
}

void incident_tracker_destroy(struct incident_tracker *t)
{
    if (!t)
        return;
    clear(t);
    free(t->v);
    for (int i = 0; i < MAX_NOTES; i++) {
        lme_buf_free(&t->notes[i].incident);
        lme_buf_free(&t->notes[i].diagnosis);
        lme_buf_free(&t->notes[i].message);
        lme_buf_free(&t->notes[i].host);
        lme_buf_free(&t->notes[i].component);
    }
    free(t);
}

/* ---- the table ---- */

/* b holds p[0, n), and a NUL after it (not counted): hosts and keys are also read as C strings. */
static int set_buf(struct lme_buf *b, const char *p, size_t n)
{
    lme_buf_reset(b);
    if (lme_buf_reserve(b, n + 1) != 0)
        return LME_ENOMEM;
    if (n)
        memcpy(b->data, p, n);
    b->data[n] = '\0';
    b->len = n;
    return 0;
}


/* A key: the connector's name, or the host and component (shown as "host/component"). It is
 * looked up for every record while incidents are open: hashed and compared in its parts, never
 * printed. */
static uint64_t key_hash(const char *connector, struct lme_str host, struct lme_str component)
{
    if (connector)
        return lme_hash64(connector, strlen(connector), 0);
    return lme_hash64(component.ptr, component.len, lme_hash64(host.ptr, host.len, 1));
}

static bool same_bytes(const struct lme_buf *b, struct lme_str s)
{
    return b->len == s.len && (s.len == 0 || memcmp(b->data, s.ptr, s.len) == 0);
}

static bool is_key_of(const struct incident *inc, const char *connector, struct lme_str host,
                      struct lme_str component)
{
    if (!inc->connector != !connector)
        return false;
    return connector ? strcmp(inc->connector, connector) == 0
                     : same_bytes(&inc->host, host) && same_bytes(&inc->component, component);
}

static struct incident *find(const struct incident_tracker *t, const char *connector,
                             struct lme_str host, struct lme_str component, uint64_t hash)
{
    for (size_t i = 0; i < t->n; i++)
        if (t->v[i]->key_hash == hash && is_key_of(t->v[i], connector, host, component))
            return t->v[i];
    return NULL;
}

/* A new entry, well. */
static struct incident *add(struct incident_tracker *t, const char *connector, struct lme_str host,
                            struct lme_str component, uint64_t hash)
{
    if (t->n == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 8;
        struct incident **v = realloc(t->v, cap * sizeof(*v));
        if (!v)
            return NULL;
        t->v = v;
        t->cap = cap;
    }
    struct incident *inc = calloc(1, sizeof(*inc));
    char key[KEY_MAX];
    if (connector)
        snprintf(key, sizeof(key), "%s", connector);
    else
        snprintf(key, sizeof(key), "%.*s/%.*s", (int)host.len, host.ptr, (int)component.len,
                 component.ptr);
    if (!inc || !(inc->key = strdup(key)) || (connector && !(inc->connector = strdup(connector))) ||
        set_buf(&inc->host, host.ptr, host.len) || set_buf(&inc->component, component.ptr, component.len)) {
        incident_free(inc);
        return NULL;
    }
    inc->key_hash = hash;
    t->v[t->n++] = inc;
    return inc;
}

/* A well entry that names no connector holds nothing worth keeping. */
static void forget_if_idle(struct incident_tracker *t, struct incident *inc)
{
    if (inc->state != INCIDENT_WELL || inc->connector)
        return;
    for (size_t i = 0; i < t->n; i++) {
        if (t->v[i] == inc) {
            t->v[i] = t->v[--t->n];
            incident_free(inc);
            t->last = NULL;
            return;
        }
    }
}

static void set_state(struct incident_tracker *t, struct incident *inc, enum incident_state s)
{
    t->version++;
    t->quiet_stale = true;
    bool was = inc->state != INCIDENT_WELL, is = s != INCIDENT_WELL;
    t->n_active += (size_t)is - (size_t)was;
    inc->state = s;
}

static void put_hex64(char *w, uint64_t v)
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 15; i >= 0; i--, v >>= 4)
        w[i] = digits[v & 15];
}

/* 32 hex digits of two hashes of a and b. */
static void make_id(const void *a, size_t a_len, uint64_t b, char out[33])
{
    uint64_t h1 = lme_hash64(a, a_len, b ^ 0x696e636964656e74ULL);
    uint64_t h2 = lme_hash64(a, a_len, h1 ^ b);
    put_hex64(out, h1);
    put_hex64(out + 16, h2);
    out[32] = '\0';
}

/* ---- notes ---- */

static int put_lit(struct lme_buf *b, const char *s)
{
    return lme_buf_append_str(b, s);
}

static int put_str_member(struct lme_buf *b, const char *key, const char *v, size_t n)
{
    return put_lit(b, ",\"") || put_lit(b, key) || put_lit(b, "\":") ||
           lme_json_append_string(b, v, n);
}

/* The last time formatted: an incident's times are mostly equal (all three at an open). */
struct time_memo {
    int64_t ms;
    char text[25];
};

static int put_time_member(struct lme_buf *b, const char *key, int64_t ms, struct time_memo *memo)
{
    if (memo->text[0] == '\0' || memo->ms != ms) {
        lme_utc_format(ms, memo->text);
        memo->ms = ms;
    }
    return put_lit(b, ",\"") || put_lit(b, key) || put_lit(b, "\":\"") ||
           lme_buf_append(b, memo->text, 24) || put_lit(b, "\"");
}

static int put_count(struct lme_buf *b, uint64_t v)
{
    char digits[24];
    size_t i = sizeof(digits);
    do
        digits[--i] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    return lme_buf_append(b, digits + i, sizeof(digits) - i);
}

static int put_count_member(struct lme_buf *b, const char *key, uint64_t v)
{
    return put_lit(b, ",\"") || put_lit(b, key) || put_lit(b, "\":") || put_count(b, v);
}

/* lme.incident of the entry as it is now; state and resolution as the note says. */
static int render_incident(const struct incident *inc, enum incident_state state, const char *change,
                           const char *resolution, int64_t resolved_at, struct lme_buf *b)
{
    const char *cause = diagnosis_cause_name(inc->cause);
    struct time_memo memo = { 0, "" };
    int rc = put_lit(b, "{\"id\":\"") || put_lit(b, inc->id) || put_lit(b, "\"") ||
             put_str_member(b, "state", incident_state_name(state), strlen(incident_state_name(state))) ||
             put_str_member(b, "change", change, strlen(change)) ||
             put_str_member(b, "key", inc->key, strlen(inc->key));
    if (!rc && inc->connector)
        rc = put_str_member(b, "connector", inc->connector, strlen(inc->connector));
    if (!rc && inc->host.len)
        rc = put_str_member(b, "host", inc->host.data, inc->host.len);
    if (!rc && inc->component.len)
        rc = put_str_member(b, "component", inc->component.data, inc->component.len);
    if (!rc)
        rc = put_str_member(b, "cause", cause, strlen(cause)) || put_count_member(b, "count", inc->count);
    if (!rc && inc->count)
        rc = put_time_member(b, "first_seen", inc->first_seen, &memo) ||
             put_time_member(b, "last_seen", inc->last_seen, &memo);
    if (!rc)
        rc = put_time_member(b, "opened_at", inc->opened_at, &memo);
    if (!rc && resolution)
        rc = put_time_member(b, "resolved_at", resolved_at, &memo) ||
             put_str_member(b, "resolution", resolution, strlen(resolution));
    return rc || put_lit(b, "}");
}

/* The event's message; written by hand, as snprintf was a third of a note's cost. */
static int render_message(const struct incident *inc, enum incident_state state,
                          const char *resolution, struct lme_buf *b)
{
    static const struct {
        const char *resolution, *text;
    } why[] = {
        { "41207", "it initialized its Notes interface again (41207)" },
        { "quiet", "no 41220 for the quiet period" },
        { "probes", "its probes pass again" },
    };
    const char *cause = diagnosis_cause_name(inc->cause);
    const char *because = "";
    for (size_t i = 0; resolution && i < sizeof(why) / sizeof(why[0]); i++)
        if (strcmp(resolution, why[i].resolution) == 0)
            because = why[i].text;
    lme_buf_reset(b);
    int rc = put_lit(b, inc->connector ? "Connector " : "") || put_lit(b, inc->key);
    if (state == INCIDENT_PREDICTED)
        rc = rc || put_lit(b, " will fail to open a Notes session: its probes find ");
    else if (state == INCIDENT_RESOLVED)
        rc = rc || put_lit(b, ": incident resolved, ") || put_lit(b, because) ||
             put_lit(b, "; 41220 logged ") || put_count(b, inc->count) ||
             put_lit(b, " times, probable cause ");
    else
        rc = rc || put_lit(b, " has no Notes session: 41220 logged ") || put_count(b, inc->count) ||
             put_lit(b, " times so far, probable cause ");
    if (rc || put_lit(b, cause) || lme_buf_reserve(b, 1))
        return LME_ENOMEM;
    b->data[b->len] = '\0'; /* as set_buf leaves it: readers take the message as a C string */
    return 0;
}

/* A note of inc's change (its name: predicted, open, updated, resolved) to state
 * (INCIDENT_RESOLVED: resolution says why); type is its event.type. */
static int note(struct incident_tracker *t, struct incident *inc, enum incident_state state,
                const char *change, const char *type, int64_t time_ms, const char *resolution)
{
    struct incident_note *n = &t->notes[t->n_notes];
    make_id(inc->id, 32, 0x6e6f7465ULL + inc->seq++, n->event_id); /* the incident's n-th note */
    n->type = type;
    n->time_ms = time_ms;
    n->state = state;
    n->cause = inc->cause;
    n->opened = false;
    n->resolved = state == INCIDENT_RESOLVED;
    lme_buf_reset(&n->incident);
    /* the end carries no diagnosis: the open and updated events have it, and a resolve says why
     * in lme.incident (it would double the alert bytes of a flapping connector for nothing) */
    bool with_diagnosis = state != INCIDENT_RESOLVED;
    if (render_incident(inc, state, change, resolution, time_ms, &n->incident) ||
        set_buf(&n->diagnosis, inc->diagnosis.data, with_diagnosis ? inc->diagnosis.len : 0) ||
        render_message(inc, state, resolution, &n->message))
        return LME_ENOMEM;
    if (set_buf(&n->host, inc->host.data, inc->host.len) ||
        set_buf(&n->component, inc->component.data, inc->component.len))
        return LME_ENOMEM;
    t->n_notes++;
    return 0;
}

static int resolve(struct incident_tracker *t, struct incident *inc, int64_t at, const char *why)
{
    int rc = note(t, inc, INCIDENT_RESOLVED, "resolved", "end", at, why);
    memcpy(inc->last_id, inc->id, 33);
    set_state(t, inc, INCIDENT_WELL);
    inc->count = 0;
    lme_buf_reset(&inc->diagnosis);
    return rc;
}

/* ---- records ---- */

static int take_41220(struct incident_tracker *t, struct incident *inc,
                      const struct incident_record *rec)
{
    t->version++;
    t->quiet_stale = true;
    bool changed = rec->cause != inc->cause;
    inc->cause = rec->cause;
    inc->last_seen = rec->time_ms;
    inc->last_read_ms = rec->read_ms;
    inc->count++;
    if (set_buf(&inc->host, rec->host.ptr, rec->host.len) ||
        set_buf(&inc->component, rec->component.ptr, rec->component.len) ||
        (rec->diagnosis && set_buf(&inc->diagnosis, rec->diagnosis, rec->diagnosis_len)))
        return LME_ENOMEM;
    if (inc->state != INCIDENT_OPEN) {
        bool was_predicted = inc->state == INCIDENT_PREDICTED;
        if (!was_predicted) {
            make_id(rec->event_id, 32, 0x6f70656eULL, inc->id);
            inc->seq = 0;
        }
        set_state(t, inc, INCIDENT_OPEN);
        inc->first_seen = inc->opened_at = inc->last_update = rec->time_ms;
        inc->opened_wall_ms = rec->wall_ms;
        int rc = note(t, inc, INCIDENT_OPEN, "open", was_predicted ? "change" : "start",
                      rec->time_ms, NULL);
        if (!rc)
            t->notes[t->n_notes - 1].opened = true;
        return rc;
    }
    if (!changed && rec->time_ms - inc->last_update < t->cfg.update_ms)
        return 0;
    inc->last_update = rec->time_ms;
    return note(t, inc, INCIDENT_OPEN, "updated", "change", rec->time_ms, NULL);
}

/* The earliest time an open incident goes quiet, worked out again when something moved it. */
static int64_t quiet_due(struct incident_tracker *t)
{
    if (!t->quiet_stale)
        return t->quiet_due;
    t->quiet_due = INT64_MAX;
    for (size_t i = 0; i < t->n; i++) {
        const struct incident *inc = t->v[i];
        if (inc->state == INCIDENT_OPEN && inc->last_seen + t->cfg.quiet_ms < t->quiet_due)
            t->quiet_due = inc->last_seen + t->cfg.quiet_ms;
    }
    t->quiet_stale = false;
    return t->quiet_due;
}

bool incident_may_change(struct incident_tracker *t, const char *connector, int64_t time_ms,
                         bool timed, bool is_41220, bool is_41207)
{
    if (is_41220 || (is_41207 && connector))
        return true;
    if (t->n_active == 0)
        return false;
    return is_41207 || (timed && time_ms >= quiet_due(t));
}

int incident_record(struct incident_tracker *t, const struct incident_record *rec, bool replayed,
                    char id[33], const struct incident_note **notes, size_t *n)
{
    t->n_notes = 0;
    *notes = t->notes;
    *n = 0;
    id[0] = '\0';
    /* a connector's 41207 tells which host and process it is, for a prediction to name */
    bool learn = rec->is_41207 && rec->connector;
    if (!incident_may_change(t, rec->connector, rec->time_ms, rec->timed, rec->is_41220,
                             rec->is_41207))
        return 0;
    struct incident *inc = t->last;
    if (!inc || !is_key_of(inc, rec->connector, rec->host, rec->component)) {
        uint64_t hash = key_hash(rec->connector, rec->host, rec->component);
        inc = find(t, rec->connector, rec->host, rec->component, hash);
        if (!inc && !rec->is_41220 && !learn)
            return 0;
        if (!inc && t->n >= INCIDENT_MAX_KEYS) { /* a log of countless components: bounded */
            t->untracked += rec->is_41220;
            return 0;
        }
        if (!inc && !(inc = add(t, rec->connector, rec->host, rec->component, hash)))
            return LME_ENOMEM;
        t->last = inc;
    }
    if (replayed) { /* judged before the restart: the state already holds it */
        if (rec->is_41220)
            memcpy(id, inc->state == INCIDENT_OPEN ? inc->id : inc->last_id, 33);
        forget_if_idle(t, inc);
        return 0;
    }
    t->version += learn;
    if (learn && inc->state == INCIDENT_WELL &&
        (set_buf(&inc->host, rec->host.ptr, rec->host.len) ||
         set_buf(&inc->component, rec->component.ptr, rec->component.len)))
        return LME_ENOMEM;
    int rc = 0;
    if (inc->state == INCIDENT_OPEN && rec->timed &&
        rec->time_ms - inc->last_seen >= t->cfg.quiet_ms)
        rc = resolve(t, inc, inc->last_seen + t->cfg.quiet_ms, "quiet");
    bool same_process = inc->host.len == rec->host.len && inc->component.len == rec->component.len &&
                        memcmp(inc->host.data, rec->host.ptr, rec->host.len) == 0 &&
                        memcmp(inc->component.data, rec->component.ptr, rec->component.len) == 0;
    if (!rc && rec->is_41207 && inc->state == INCIDENT_OPEN && same_process)
        rc = resolve(t, inc, rec->time_ms, "41207");
    if (!rc && rec->is_41220) {
        rc = take_41220(t, inc, rec);
        memcpy(id, inc->id, 33);
    }
    *n = t->n_notes;
    forget_if_idle(t, inc);
    return rc;
}

/* ---- probe rounds and silence ---- */

int incident_round(struct incident_tracker *t, const struct incident_round *round,
                   const struct incident_note **notes, size_t *n)
{
    t->n_notes = 0;
    *notes = t->notes;
    *n = 0;
    static const struct lme_str none = { "", 0 };
    size_t key_len = strlen(round->connector);
    uint64_t hash = key_hash(round->connector, none, none);
    struct incident *inc = find(t, round->connector, none, none, hash);
    bool failing = predicts(round->cause);
    if (!inc && !failing)
        return 0;
    if (!inc && !(inc = add(t, round->connector, none, none, hash)))
        return LME_ENOMEM;
    int rc = 0;
    if (failing && inc->state == INCIDENT_WELL) {
        char material[64];
        int len = snprintf(material, sizeof(material), "%" PRId64, round->probed_at_ms);
        make_id(round->connector, key_len, lme_hash64(material, (size_t)len, 1), inc->id);
        inc->seq = 0;
        inc->cause = round->cause;
        inc->count = 0;
        inc->opened_at = round->probed_at_ms;
        inc->opened_wall_ms = round->probed_at_ms;
        set_state(t, inc, INCIDENT_PREDICTED);
        if (set_buf(&inc->diagnosis, round->diagnosis, round->diagnosis_len))
            return LME_ENOMEM;
        rc = note(t, inc, INCIDENT_PREDICTED, "predicted", "start", round->probed_at_ms, NULL);
    } else if (failing && inc->state == INCIDENT_PREDICTED && round->cause != inc->cause) {
        t->version++;
        inc->cause = round->cause;
        if (set_buf(&inc->diagnosis, round->diagnosis, round->diagnosis_len))
            return LME_ENOMEM;
        rc = note(t, inc, INCIDENT_PREDICTED, "updated", "change", round->probed_at_ms, NULL);
    } else if (round->cause == CAUSE_NONE && inc->state == INCIDENT_PREDICTED) {
        rc = resolve(t, inc, round->probed_at_ms, "probes");
    } else if (round->cause == CAUSE_NONE && inc->state == INCIDENT_OPEN &&
               probe_cause(inc->cause) && round->started_ms > inc->last_read_ms) {
        rc = resolve(t, inc, round->probed_at_ms, "probes");
    }
    *n = t->n_notes;
    return rc;
}

int incident_idle(struct incident_tracker *t, int64_t now_ms, const struct incident_note **notes,
                  size_t *n)
{
    t->n_notes = 0;
    *notes = t->notes;
    *n = 0;
    int rc = 0;
    for (size_t i = 0; i < t->n && t->n_notes < MAX_NOTES && !rc; i++) {
        struct incident *inc = t->v[i];
        if (inc->state == INCIDENT_OPEN && now_ms - inc->last_read_ms >= t->cfg.quiet_ms) {
            rc = resolve(t, inc, inc->last_seen + t->cfg.quiet_ms, "quiet");
            forget_if_idle(t, inc); /* the entry at i changed: the next call sees it */
            break;
        }
    }
    *n = t->n_notes;
    return rc;
}

size_t incident_list(const struct incident_tracker *t, struct incident_view *out, size_t max)
{
    size_t k = 0;
    for (size_t i = 0; i < t->n && k < max; i++) {
        const struct incident *inc = t->v[i];
        if (inc->state == INCIDENT_WELL)
            continue;
        out[k++] = (struct incident_view){ inc->key, diagnosis_cause_name(inc->cause),
                                           inc->host.len ? inc->host.data : "", inc->state,
                                           inc->opened_wall_ms, inc->count };
    }
    return k;
}

uint64_t incident_untracked(const struct incident_tracker *t)
{
    return t->untracked;
}

uint64_t incident_version(const struct incident_tracker *t)
{
    return t->version;
}

void incident_count(const struct incident_tracker *t, size_t *open, size_t *predicted)
{
    *open = *predicted = 0;
    for (size_t i = 0; i < t->n; i++) {
        *open += t->v[i]->state == INCIDENT_OPEN;
        *predicted += t->v[i]->state == INCIDENT_PREDICTED;
    }
}

/* ---- state ---- */

/* Bytes from the log (keys, hosts, components) as hex: state files are JSON, which takes only
 * UTF-8, and these are any bytes. */
static int set_hex(json_t *e, const char *key, const char *p, size_t n)
{
    struct lme_buf b = LME_BUF_INIT;
    int rc = lme_buf_append_hex(&b, p, n) || json_object_set_new(e, key, json_stringn(b.data ? b.data : "", b.len));
    lme_buf_free(&b);
    return rc;
}

static int get_hex(json_t *e, const char *key, struct lme_buf *out)
{
    json_t *v = json_object_get(e, key);
    lme_buf_reset(out);
    if (!json_is_string(v))
        return -1;
    return lme_buf_append_unhex(out, json_string_value(v), json_string_length(v));
}

static json_t *entry_json(const struct incident *inc, size_t diagnosis)
{
    json_t *e = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
                          "state", incident_state_name(inc->state), "id", inc->id,
                          "last_id", inc->last_id, "cause", diagnosis_cause_name(inc->cause),
                          "count", (json_int_t)inc->count, "seq", (json_int_t)inc->seq,
                          "first_seen", (json_int_t)inc->first_seen,
                          "last_seen", (json_int_t)inc->last_seen,
                          "opened_at", (json_int_t)inc->opened_at,
                          "last_update", (json_int_t)inc->last_update,
                          "opened_wall", (json_int_t)inc->opened_wall_ms);
    if (!e)
        return NULL;
    if ((inc->connector && json_object_set_new(e, "connector", json_string(inc->connector))) ||
        set_hex(e, "host_hex", inc->host.data, inc->host.len) ||
        set_hex(e, "component_hex", inc->component.data, inc->component.len) ||
        json_object_set_new(e, "diagnosis", json_integer((json_int_t)diagnosis))) {
        json_decref(e);
        return NULL;
    }
    return e;
}

/* The index of inc's diagnosis in texts, added when it is new: the entries of one storm of
 * components share a few diagnoses, and each is a kilobyte or two. */
static int diagnosis_index(const struct incident *inc, json_t *texts, uint64_t *hashes, size_t *index)
{
    uint64_t h = lme_hash64(inc->diagnosis.data ? inc->diagnosis.data : "", inc->diagnosis.len, 0);
    size_t n = json_array_size(texts);
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(texts, i);
        if (hashes[i] == h && json_string_length(v) == inc->diagnosis.len &&
            (inc->diagnosis.len == 0 ||
             memcmp(json_string_value(v), inc->diagnosis.data, inc->diagnosis.len) == 0)) {
            *index = i;
            return 0;
        }
    }
    hashes[n] = h;
    *index = n;
    return json_array_append_new(texts, json_stringn(inc->diagnosis.data ? inc->diagnosis.data : "",
                                                     inc->diagnosis.len));
}

int incident_save(const struct incident_tracker *t, struct lme_buf *out)
{
    json_t *entries = json_array(), *texts = json_array();
    uint64_t *hashes = malloc((t->n ? t->n : 1) * sizeof(*hashes));
    json_t *root = json_pack("{s:o, s:o}", "entries", entries, "diagnoses", texts);
    int rc = root && hashes ? 0 : -1;
    for (size_t i = 0; !rc && i < t->n; i++) {
        size_t d;
        json_t *e = diagnosis_index(t->v[i], texts, hashes, &d) ? NULL : entry_json(t->v[i], d);
        rc = !e || json_array_append_new(entries, e);
    }
    char *text = rc ? NULL : json_dumps(root, JSON_COMPACT);
    json_decref(root);
    free(hashes);
    rc = text ? lme_buf_append_str(out, text) : LME_ENOMEM;
    free(text);
    return rc;
}

static int state_of(const char *name, enum incident_state *s)
{
    for (int i = INCIDENT_WELL; i <= INCIDENT_OPEN; i++)
        if (name && strcmp(name, incident_state_name((enum incident_state)i)) == 0) {
            *s = (enum incident_state)i;
            return 0;
        }
    return -1;
}

static int cause_of(const char *name, enum diagnosis_cause *c)
{
    for (int i = 0; i < CAUSE_COUNT; i++)
        if (name && strcmp(name, diagnosis_cause_name((enum diagnosis_cause)i)) == 0) {
            *c = (enum diagnosis_cause)i;
            return 0;
        }
    return -1;
}

/* An id: 32 lowercase hex digits, or "" where empty is allowed. */
static int copy_id(json_t *e, const char *key, bool may_be_empty, char out[33])
{
    const char *v = json_string_value(json_object_get(e, key));
    size_t len = v ? strlen(v) : 0;
    if (!v || (len != 32 && !(len == 0 && may_be_empty)) || strspn(v, "0123456789abcdef") != len)
        return -1;
    memcpy(out, v, len + 1);
    return 0;
}

/* A diagnosis goes into events as it is: it must be a JSON object (or nothing). */
static bool is_object_text(const char *text, size_t len)
{
    if (len == 0)
        return true;
    json_t *v = json_loadb(text, len, 0, NULL);
    bool ok = json_is_object(v);
    json_decref(v);
    return ok;
}

static int restore_entry(struct incident_tracker *t, json_t *e, json_t *texts, int64_t now_ms)
{
    const char *connector = json_string_value(json_object_get(e, "connector"));
    json_t *index = json_object_get(e, "diagnosis");
    json_t *diagnosis = json_is_integer(index) ? json_array_get(texts, (size_t)json_integer_value(index)) : NULL;
    enum incident_state state;
    enum diagnosis_cause cause;
    struct lme_buf host = LME_BUF_INIT, component = LME_BUF_INIT;
    int rc = get_hex(e, "host_hex", &host) || get_hex(e, "component_hex", &component) ||
             !json_is_string(diagnosis) ||
             state_of(json_string_value(json_object_get(e, "state")), &state) ||
             cause_of(json_string_value(json_object_get(e, "cause")), &cause) ? -1 : 0;
    struct lme_str h = { host.data, host.len }, c = { component.data, component.len };
    struct incident *inc = rc ? NULL : add(t, connector, h, c, key_hash(connector, h, c));
    lme_buf_free(&host);
    lme_buf_free(&component);
    if (rc)
        return rc;
    if (!inc)
        return LME_ENOMEM;
    if (copy_id(e, "id", state == INCIDENT_WELL, inc->id) || copy_id(e, "last_id", true, inc->last_id) ||
        !is_object_text(json_string_value(diagnosis), json_string_length(diagnosis)))
        return -1;
    inc->cause = cause;
    inc->count = (uint64_t)json_integer_value(json_object_get(e, "count"));
    inc->seq = (uint64_t)json_integer_value(json_object_get(e, "seq"));
    inc->first_seen = json_integer_value(json_object_get(e, "first_seen"));
    inc->last_seen = json_integer_value(json_object_get(e, "last_seen"));
    inc->opened_at = json_integer_value(json_object_get(e, "opened_at"));
    inc->last_update = json_integer_value(json_object_get(e, "last_update"));
    inc->opened_wall_ms = json_integer_value(json_object_get(e, "opened_wall"));
    inc->last_read_ms = now_ms;
    set_state(t, inc, state);
    return set_buf(&inc->diagnosis, json_string_value(diagnosis), json_string_length(diagnosis));
}

int incident_restore(struct incident_tracker *t, const char *text, int64_t now_ms,
                     struct lme_err *err)
{
    clear(t);
    json_error_t jerr;
    json_t *all = json_loads(text, 0, &jerr);
    json_t *entries = json_object_get(all, "entries"), *texts = json_object_get(all, "diagnoses");
    if (!json_is_array(entries) || !json_is_array(texts)) {
        json_decref(all);
        return lme_err_set(err, LME_EINVAL, "incidents: the saved state does not read back");
    }
    size_t i;
    json_t *e;
    int rc = 0;
    json_array_foreach(entries, i, e) {
        if ((rc = restore_entry(t, e, texts, now_ms)) != 0)
            break;
    }
    json_decref(all);
    if (rc == LME_ENOMEM)
        return lme_err_set(err, LME_ENOMEM, "incidents: out of memory");
    if (rc) {
        clear(t);
        return lme_err_set(err, LME_EINVAL, "incidents: entry %zu of the saved state does not read back", i);
    }
    return 0;
}
