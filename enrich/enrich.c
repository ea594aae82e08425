/* The enrichment stage: see enrich.h. One probe thread serves every connector: the pipeline's
 * thread asks for a round when a 41220 finds no fresh results, and waits for it on a clock while
 * serving its sinks. A mutex guards the per-connector slots and the counters. Diagnoses are
 * cached by what they are made from; the one field that differs per event (event_age_ms) is
 * added to a copy. */
#include "enrich.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "context.h"
#include "diagnosis.h"
#include "hash.h"
#include "incident.h"
#include "log.h"
#include "probes.h"

#define WAIT_SLICE_MS 10
#define MADE_CACHE 32 /* diagnoses kept for reuse: a host's few recurring situations */

struct slot {
    struct probe_report report; /* the last round's */
    bool have;                  /* a round has finished */
    bool requested, running;
    int64_t done_ms;            /* monotonic */
    uint64_t rounds;            /* finished rounds: tells a new result from the old one */
    enum diagnosis_cause logged_cause; /* of the last round logged (probe thread only) */
};

struct enrich {
    struct enrich_config cfg;
    struct context *context;
    struct slot *slots;
    pthread_t thread;
    bool thread_started;
    pthread_mutex_t mu;
    pthread_cond_t wake;
    bool stop;
    struct enrich_stats stats;
    struct probe_report snapshot; /* the pipeline thread's copy of a slot's report */
    struct lme_buf event_json;    /* a cached diagnosis with the event's own age added */
    struct made {                 /* diagnoses made, by what they were made from */
        uint64_t key;             /* see diagnosis_key; 0: unused */
        struct lme_buf json;
        enum diagnosis_cause cause;
        uint64_t last_use;
    } made[MADE_CACHE];
    uint64_t uses;
    enum diagnosis_cause last_cause; /* of the last enrich_event: its incident's cause */

    /* incidents (pipeline thread only) */
    struct incident_tracker *incidents;
    struct lme_event incident_events[2]; /* the last call's; borrow from the tracker's notes */
    uint64_t *judged;                    /* per connector: rounds judged so far */
    int64_t *next_probe_ms;              /* per connector: when its periodic round is due */
    struct probe_report round_report;    /* a finished round being judged */
    struct lme_buf round_json;
    struct enrich_incident_stats incident_stats;
};

int enrich_wants(const struct lme_event *ev)
{
    return ev->code.len == 5 && memcmp(ev->code.ptr, "41220", 5) == 0;
}

/* The next requested slot, or -1. Called with the mutex held. */
static long next_request(struct enrich *e)
{
    for (size_t i = 0; i < e->cfg.n_connectors; i++)
        if (e->slots[i].requested)
            return (long)i;
    return -1;
}

/* The round's line in the daemon's log names what it found, not only that it ran. A round that
 * finds what the last one found is a debug line: periodic rounds would repeat it forever. */
static void log_round(const struct enrich_connector *c, const struct probe_report *r,
                      enum diagnosis_cause *last)
{
    struct diagnosis *d = malloc(sizeof(*d));
    char failed[512], unverified[512], took[24];
    enum diagnosis_cause cause = CAUSE_UNKNOWN;
    if (d) {
        diagnosis_make(c, r, NULL, NULL, false, d);
        cause = diagnosis_cause(d);
        free(d);
    }
    probes_list(r, ENRICH_CHECK_FAILED, true, failed, sizeof(failed));
    probes_list(r, ENRICH_CHECK_UNVERIFIED, true, unverified, sizeof(unverified));
    snprintf(took, sizeof(took), "%d", r->took_ms);
    enum lme_log_level level = cause == *last ? LME_LOG_DEBUG
                               : cause == CAUSE_NONE ? LME_LOG_INFO : LME_LOG_WARN;
    *last = cause;
    lme_log(level, "probe round done", "connector",
            c->name, "cause", diagnosis_cause_name(cause), "failed", failed, "unverified",
            unverified, "took_ms", took, NULL);
}

static void *probe_thread(void *arg)
{
    struct enrich *e = arg;
    pthread_mutex_lock(&e->mu);
    for (;;) {
        long i;
        while (!e->stop && (i = next_request(e)) < 0)
            pthread_cond_wait(&e->wake, &e->mu);
        if (e->stop)
            break;
        struct slot *s = &e->slots[i];
        s->requested = false;
        s->running = true;
        pthread_mutex_unlock(&e->mu);

        struct probe_report r;
        int rc = probes_run(&e->cfg.connectors[i], e->cfg.probe_timeout_ms, &r);
        if (rc)
            lme_log(LME_LOG_ERROR, "probe round failed", "connector", e->cfg.connectors[i].name,
                    "error", "out of memory", NULL);
        else
            log_round(&e->cfg.connectors[i], &r, &s->logged_cause);

        pthread_mutex_lock(&e->mu);
        s->running = false;
        if (!rc) {
            s->report = r;
            s->have = true;
            s->done_ms = lme_mono_ms();
            s->rounds++;
            e->stats.probe_rounds++;
        }
        pthread_cond_broadcast(&e->wake);
    }
    pthread_mutex_unlock(&e->mu);
    return NULL;
}

struct enrich *enrich_create(const struct enrich_config *cfg, struct lme_err *err)
{
    struct enrich *e = calloc(1, sizeof(*e));
    if (!e || !(e->slots = calloc(cfg->n_connectors ? cfg->n_connectors : 1, sizeof(*e->slots)))) {
        free(e);
        lme_err_set(err, LME_ENOMEM, "enrichment: out of memory");
        return NULL;
    }
    for (size_t i = 0; i < cfg->n_connectors; i++)
        e->slots[i].logged_cause = CAUSE_COUNT; /* none yet: the first round is always said */
    e->cfg = *cfg;
    struct incident_config icfg = { cfg->incident_quiet_ms, cfg->incident_update_ms };
    size_t nc = cfg->n_connectors ? cfg->n_connectors : 1;
    if (!(e->incidents = incident_tracker_create(&icfg)) ||
        !(e->judged = calloc(nc, sizeof(*e->judged))) ||
        !(e->next_probe_ms = calloc(nc, sizeof(*e->next_probe_ms)))) {
        incident_tracker_destroy(e->incidents);
        free(e->judged);
        free(e->slots);
        free(e);
        lme_err_set(err, LME_ENOMEM, "enrichment: out of memory");
        return NULL;
    }
    pthread_mutex_init(&e->mu, NULL);
    pthread_cond_init(&e->wake, NULL);
    if (!(e->context = context_create(cfg->context_records, cfg->context_max_age_ms, err))) {
        enrich_destroy(e);
        return NULL;
    }
    if (cfg->n_connectors > 0) {
        if (pthread_create(&e->thread, NULL, probe_thread, e) != 0) {
            lme_err_set(err, LME_ENOMEM, "enrichment: cannot start the probe thread");
            enrich_destroy(e);
            return NULL;
        }
        e->thread_started = true;
    }
    return e;
}

void enrich_destroy(struct enrich *e)
{
    if (!e)
        return;
    if (e->thread_started) {
        pthread_mutex_lock(&e->mu);
        e->stop = true;
        pthread_cond_broadcast(&e->wake);
        pthread_mutex_unlock(&e->mu);
        pthread_join(e->thread, NULL);
    }
    pthread_mutex_destroy(&e->mu);
    pthread_cond_destroy(&e->wake);
    context_destroy(e->context);
    for (int i = 0; i < MADE_CACHE; i++)
        lme_buf_free(&e->made[i].json);
    lme_buf_free(&e->event_json);
    incident_tracker_destroy(e->incidents);
    lme_buf_free(&e->round_json);
    free(e->judged);
    free(e->next_probe_ms);
    free(e->slots);
    free(e);
}

static long connector_index(const struct enrich *e, const char *name)
{
    for (size_t i = 0; name && i < e->cfg.n_connectors; i++)
        if (strcmp(e->cfg.connectors[i].name, name) == 0)
            return (long)i;
    return -1;
}

/* Whether slot i has a report, asking for (and waiting up to max_wait_ms on) a new round when
 * it is older than cache_ms. *late tells that the round asked for did not finish in time (a
 * stale report, or none, serves); *round which round the slot holds. */
static int latest_report(struct enrich *e, long i, void (*waiting)(void *), void *ctx, bool *late,
                         uint64_t *round, int64_t *probed_at_ms)
{
    struct slot *s = &e->slots[i];
    int64_t deadline = lme_mono_ms() + e->cfg.max_wait_ms;
    pthread_mutex_lock(&e->mu);
    bool fresh = s->have && lme_mono_ms() - s->done_ms < e->cfg.cache_ms;
    uint64_t rounds = s->rounds;
    if (!fresh && !s->running && !s->requested) {
        s->requested = true;
        pthread_cond_broadcast(&e->wake);
    }
    while (!fresh && s->rounds == rounds && lme_mono_ms() < deadline) {
        if (waiting) {
            pthread_mutex_unlock(&e->mu);
            waiting(ctx);
            pthread_mutex_lock(&e->mu);
        }
        struct timespec until; /* the round's end wakes us at once */
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += WAIT_SLICE_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        if (s->rounds == rounds)
            pthread_cond_timedwait(&e->wake, &e->mu, &until);
    }
    *late = !fresh && s->rounds == rounds;
    int have = s->have;
    *round = s->rounds;
    *probed_at_ms = s->report.probed_at_ms;
    pthread_mutex_unlock(&e->mu);
    return have;
}

int enrich_observe(struct enrich *e, const struct lme_event *ev)
{
    return context_observe(e->context, ev);
}

/* What a diagnosis is made from, hashed: the connector, its probe round, whether that round was
 * late, whether the event is older than the horizon, and the log signals (their times aside,
 * which the diagnosis does not show). A burst of 41220s with the same key shares one diagnosis,
 * made once. */
static uint64_t diagnosis_key(long connector, uint64_t round, bool have, bool late, bool old,
                              const struct context_signals *sig)
{
    uint64_t head[5] = { (uint64_t)connector, round, have, late, old };
    uint64_t h = lme_hash64(head, sizeof(head), 0x6469616721ULL);
    bool flags[4] = { sig->lock_timeout, sig->mailbox_not_found, sig->connect_failure,
                      sig->mail_system_failure };
    h = lme_hash64(flags, sizeof(flags), h);
    h = lme_hash64(sig->server, strlen(sig->server), h);
    for (int k = 0; k < sig->n_seen; k++) {
        const struct context_record *rec = &sig->seen[k];
        h = lme_hash64(rec->code, strlen(rec->code), h);
        h = lme_hash64(rec->status, strlen(rec->status), h);
        h = lme_hash64(rec->text, strlen(rec->text), h);
    }
    return h ? h : 1;
}

/* The cached diagnosis made from key, or the least recently used entry, emptied, to make it in. */
static struct made *find_made(struct enrich *e, uint64_t key, bool *hit)
{
    struct made *lru = &e->made[0];
    for (int i = 0; i < MADE_CACHE; i++) {
        if (e->made[i].key == key) {
            *hit = true;
            return &e->made[i];
        }
        if (e->made[i].last_use < lru->last_use)
            lru = &e->made[i];
    }
    *hit = false;
    lru->key = 0;
    lme_buf_reset(&lru->json);
    return lru;
}

/* Makes the diagnosis into m from slot i's latest report (when have), the signals and the
 * event's age (NULL: unknown). What it says depends on the age only through the horizon, which
 * the cache key holds. */
static int make_diagnosis(struct enrich *e, struct made *m, long i, bool have, bool late,
                          const struct diagnosis_age *age, const struct context_signals *signals)
{
    if (have) {
        pthread_mutex_lock(&e->mu);
        e->snapshot = e->slots[i].report;
        pthread_mutex_unlock(&e->mu);
    }
    struct diagnosis *d = malloc(sizeof(*d)); /* large for the pipeline thread's stack */
    if (!d)
        return LME_ENOMEM;
    diagnosis_make(i >= 0 ? &e->cfg.connectors[i] : NULL, have ? &e->snapshot : NULL, signals,
                   age, true, d);
    d->probes_late = late;
    m->cause = diagnosis_cause(d);
    int rc = diagnosis_to_json(d, &m->json);
    free(d);
    return rc;
}

/* ev->diagnosis: the cached JSON, or a copy of it with the event's age when it is known. */
static int attach(struct enrich *e, const struct made *m, bool aged, int64_t age_ms,
                  struct lme_event *ev)
{
    if (!aged) {
        ev->diagnosis = (struct lme_str){ m->json.data, m->json.len };
        return 0;
    }
    char tail[48];
    int n = snprintf(tail, sizeof(tail), ",\"event_age_ms\":%" PRId64 "}", age_ms);
    lme_buf_reset(&e->event_json);
    if (lme_buf_append(&e->event_json, m->json.data, m->json.len - 1) != 0 || /* without its '}' */
        lme_buf_append(&e->event_json, tail, (size_t)n) != 0)
        return LME_ENOMEM;
    ev->diagnosis = (struct lme_str){ e->event_json.data, e->event_json.len };
    return 0;
}

int enrich_event(struct enrich *e, const char *connector, struct lme_event *ev,
                 void (*waiting)(void *ctx), void *ctx, enum diagnosis_cause *cause)
{
    struct context_signals signals;
    context_signals(e->context, ev, &signals);
    long i = connector_index(e, connector);
    bool late = false;
    uint64_t round = 0;
    int64_t probed_at_ms = 0;
    int have = i >= 0 && latest_report(e, i, waiting, ctx, &late, &round, &probed_at_ms);
    /* a 41220 without a time of its own (lme_no_timestamp) has no age */
    bool aged = have && !(ev->flags & LME_EV_NO_TIMESTAMP);
    int64_t age_ms = aged ? probed_at_ms - ev->time_ms : 0;
    struct diagnosis_age age = { age_ms, e->cfg.probe_horizon_ms };
    bool old = aged && age_ms > age.horizon_ms;
    uint64_t key = diagnosis_key(i, round, have, late, old, &signals);
    bool hit;
    struct made *m = find_made(e, key, &hit);
    if (!hit) {
        if (make_diagnosis(e, m, i, have, late, aged ? &age : NULL, &signals) != 0)
            return LME_ENOMEM;
        m->key = key; /* a round finishing meanwhile only makes the next key differ */
    }
    m->last_use = ++e->uses;
    if (attach(e, m, aged, age_ms, ev) != 0)
        return LME_ENOMEM;
    ev->flags |= LME_EV_DIAGNOSED;
    *cause = e->last_cause = m->cause;
    pthread_mutex_lock(&e->mu);
    e->stats.diagnosed++;
    e->stats.late += late;
    e->stats.by_cause[m->cause]++;
    pthread_mutex_unlock(&e->mu);
    return 0;
}

int enrich_connector_checks(struct enrich *e, size_t i, uint64_t *rounds,
                            struct enrich_check *checks, size_t *n)
{
    struct enrich_check all[ENRICH_MAX_CHECKS];
    *n = 0;
    if (i >= e->cfg.n_connectors)
        return 0;
    pthread_mutex_lock(&e->mu);
    *rounds = e->slots[i].rounds;
    int have = e->slots[i].have;
    size_t got = have ? probes_outcomes(&e->slots[i].report, all, NULL, ENRICH_MAX_CHECKS) : 0;
    pthread_mutex_unlock(&e->mu);
    for (size_t k = 0; k < got; k++) /* a share has no single name to label it with */
        if (strcmp(all[k].name, "share") != 0)
            checks[(*n)++] = all[k];
    return have;
}

/* ---- incidents ---- */

static bool code_is(const struct lme_event *ev, const char *code)
{
    return ev->code.len == 5 && memcmp(ev->code.ptr, code, 5) == 0;
}

/* The tracker's notes as events, counted. */
static void incident_events(struct enrich *e, const struct incident_note *notes, size_t n,
                            const struct lme_event **out, size_t *n_out)
{
    static const int severity[] = { [INCIDENT_PREDICTED] = 2, [INCIDENT_OPEN] = 1,
                                    [INCIDENT_RESOLVED] = 3 };
    int64_t now = lme_wall_ms();
    for (size_t k = 0; k < n; k++) {
        const struct incident_note *note = &notes[k];
        struct lme_event *o = &e->incident_events[k];
        memset(o, 0, sizeof(*o));
        o->host = (struct lme_str){ note->host.data, note->host.len };
        o->component = (struct lme_str){ note->component.data, note->component.len };
        o->time_ms = note->time_ms;
        o->created_ms = now;
        o->message = (struct lme_str){ note->message.data, note->message.len };
        o->severity = severity[note->state];
        o->thread_id = -1;
        o->origin_line = -1;
        o->flags = LME_EV_INCIDENT;
        o->diagnosis = (struct lme_str){ note->diagnosis.data, note->diagnosis.len };
        o->incident = (struct lme_str){ note->incident.data, note->incident.len };
        o->given_id = note->event_id;
        o->alert_type = note->type;
        e->incident_stats.opened[note->cause] += note->opened;
        e->incident_stats.resolved[note->cause] += note->resolved;
        e->incident_stats.predicted[note->cause] +=
            note->state == INCIDENT_PREDICTED && strcmp(note->type, "start") == 0;
    }
    *out = e->incident_events;
    *n_out = n;
}

int enrich_incidents_record(struct enrich *e, const char *connector, const struct lme_event *ev,
                            bool replayed, char incident_id[33], const struct lme_event **out,
                            size_t *n)
{
    *n = 0;
    incident_id[0] = '\0';
    if (!e->cfg.enabled || !e->cfg.incidents)
        return 0;
    bool is_41220 = enrich_wants(ev), is_41207 = code_is(ev, "41207");
    bool timed = !(ev->flags & LME_EV_NO_TIMESTAMP);
    if (!incident_may_change(e->incidents, connector, ev->time_ms, timed, is_41220, is_41207))
        return 0;
    struct incident_record rec = { .connector = connector, .host = ev->host,
                                   .component = ev->component, .time_ms = ev->time_ms,
                                   .timed = timed, .is_41220 = is_41220, .is_41207 = is_41207 };
    char event_id[33];
    if (rec.is_41220) {
        lme_event_id(ev, event_id);
        rec.event_id = event_id;
        rec.read_ms = lme_mono_ms();
        rec.wall_ms = lme_wall_ms();
        rec.cause = ev->flags & LME_EV_DIAGNOSED ? e->last_cause : CAUSE_UNKNOWN;
        rec.diagnosis = ev->diagnosis.ptr;
        rec.diagnosis_len = ev->diagnosis.len;
    }
    const struct incident_note *notes;
    size_t got;
    if (incident_record(e->incidents, &rec, replayed, incident_id, &notes, &got) != 0)
        return LME_ENOMEM;
    incident_events(e, notes, got, out, n);
    return 0;
}

/* Asks for connector i's periodic round when it is due. */
static void request_periodic(struct enrich *e, size_t i, int64_t now)
{
    int interval = e->cfg.connectors[i].probe_interval_ms;
    if (interval <= 0 || now < e->next_probe_ms[i])
        return;
    e->next_probe_ms[i] = now + interval;
    pthread_mutex_lock(&e->mu);
    struct slot *s = &e->slots[i];
    if (!s->running && !s->requested) {
        s->requested = true;
        pthread_cond_broadcast(&e->wake);
    }
    pthread_mutex_unlock(&e->mu);
}

/* Judges connector i's latest round when it is one not judged yet. */
static int judge_round(struct enrich *e, size_t i, const struct lme_event **out, size_t *n)
{
    pthread_mutex_lock(&e->mu);
    struct slot *s = &e->slots[i];
    bool fresh = s->have && s->rounds > e->judged[i];
    int64_t done_ms = s->done_ms;
    if (fresh) {
        e->round_report = s->report;
        e->judged[i] = s->rounds;
    }
    pthread_mutex_unlock(&e->mu);
    if (!fresh)
        return 0;
    const struct enrich_connector *c = &e->cfg.connectors[i];
    struct diagnosis *d = malloc(sizeof(*d));
    if (!d)
        return LME_ENOMEM;
    diagnosis_make(c, &e->round_report, NULL, NULL, false, d);
    enum diagnosis_cause cause = diagnosis_cause(d);
    lme_buf_reset(&e->round_json);
    int rc = diagnosis_to_json(d, &e->round_json);
    free(d);
    if (rc)
        return rc;
    /* only a connector probed on its own period is predicted to fail; any round can clear one */
    if (c->probe_interval_ms <= 0 && cause != CAUSE_NONE)
        return 0;
    struct incident_round round = { c->name, cause, e->round_json.data, e->round_json.len,
                                    done_ms - e->round_report.took_ms,
                                    e->round_report.probed_at_ms };
    const struct incident_note *notes;
    size_t got;
    if (incident_round(e->incidents, &round, &notes, &got) != 0)
        return LME_ENOMEM;
    incident_events(e, notes, got, out, n);
    return 0;
}

int enrich_incidents_tick(struct enrich *e, const struct lme_event **out, size_t *n)
{
    *n = 0;
    if (!e->cfg.enabled || !e->cfg.incidents)
        return 0;
    int64_t now = lme_mono_ms();
    for (size_t i = 0; i < e->cfg.n_connectors; i++) {
        request_periodic(e, i, now);
        int rc = judge_round(e, i, out, n);
        if (rc || *n)
            return rc;
    }
    const struct incident_note *notes;
    size_t got;
    if (incident_idle(e->incidents, now, &notes, &got) != 0)
        return LME_ENOMEM;
    incident_events(e, notes, got, out, n);
    return 0;
}

int enrich_incidents_save(struct enrich *e, struct lme_buf *out)
{
    return incident_save(e->incidents, out);
}

uint64_t enrich_incidents_version(struct enrich *e)
{
    return incident_version(e->incidents);
}

int enrich_incidents_restore(struct enrich *e, const char *text, struct lme_err *err)
{
    return incident_restore(e->incidents, text, lme_mono_ms(), err);
}

size_t enrich_incidents_list(struct enrich *e, struct enrich_incident_view *out, size_t max)
{
    struct incident_view v[64];
    size_t got = incident_list(e->incidents, v, max < 64 ? max : 64);
    for (size_t k = 0; k < got; k++)
        out[k] = (struct enrich_incident_view){ v[k].key, v[k].cause, v[k].host,
                                                incident_state_name(v[k].state),
                                                v[k].opened_wall_ms, v[k].count };
    return got;
}

const struct enrich_incident_stats *enrich_incidents_stats(struct enrich *e)
{
    size_t open, predicted;
    incident_count(e->incidents, &open, &predicted);
    e->incident_stats.open_now = open;
    e->incident_stats.predicted_now = predicted;
    e->incident_stats.untracked = incident_untracked(e->incidents);
    return &e->incident_stats;
}

void enrich_get_stats(struct enrich *e, struct enrich_stats *out)
{
    pthread_mutex_lock(&e->mu);
    *out = e->stats;
    pthread_mutex_unlock(&e->mu);
}

int enrich_diagnose(const struct enrich_config *cfg, const struct enrich_connector *c, bool json,
                    struct lme_buf *out, enum diagnosis_cause *cause)
{
    struct probe_report *r = malloc(sizeof(*r));
    struct diagnosis *d = malloc(sizeof(*d));
    int rc = r && d ? probes_run(c, cfg->probe_timeout_ms, r) : LME_ENOMEM;
    if (!rc) {
        diagnosis_make(c, r, NULL, NULL, false, d);
        *cause = diagnosis_cause(d);
        rc = json ? diagnosis_to_json(d, out) : diagnosis_to_text(d, out);
    }
    free(r);
    free(d);
    return rc;
}

const char *enrich_cause_name(enum diagnosis_cause c)
{
    return diagnosis_cause_name(c);
}
