/* The enrichment stage: see enrich.h. One probe thread serves every connector: the pipeline's
 * thread asks for a round when a 41220 finds no fresh results, and waits for it on a clock while
 * serving its sinks. A mutex guards the per-connector slots and the counters. */
#include "enrich.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "context.h"
#include "hash.h"
#include "log.h"

#define WAIT_SLICE_MS 10
#define MADE_CACHE 32 /* diagnoses kept for reuse: a host's few recurring situations */

struct slot {
    struct probe_report report; /* the last round's */
    bool have;                  /* a round has finished */
    bool requested, running;
    int64_t done_ms;            /* monotonic */
    uint64_t rounds;            /* finished rounds: tells a new result from the old one */
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
    struct made {                 /* diagnoses made, by what they were made from */
        uint64_t key;             /* see diagnosis_key; 0: unused */
        struct lme_buf json;
        enum diagnosis_cause cause;
        uint64_t last_use;
    } made[MADE_CACHE];
    uint64_t uses;
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

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
        lme_log(LME_LOG_INFO, "probe round done", "connector", e->cfg.connectors[i].name,
                "result", rc ? "out of memory" : "ok", NULL);

        pthread_mutex_lock(&e->mu);
        s->running = false;
        if (!rc) {
            s->report = r;
            s->have = true;
            s->done_ms = mono_ms();
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
    e->cfg = *cfg;
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
                         uint64_t *round)
{
    struct slot *s = &e->slots[i];
    int64_t deadline = mono_ms() + e->cfg.max_wait_ms;
    pthread_mutex_lock(&e->mu);
    bool fresh = s->have && mono_ms() - s->done_ms < e->cfg.cache_ms;
    uint64_t rounds = s->rounds;
    if (!fresh && !s->running && !s->requested) {
        s->requested = true;
        pthread_cond_broadcast(&e->wake);
    }
    while (!fresh && s->rounds == rounds && mono_ms() < deadline) {
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
    pthread_mutex_unlock(&e->mu);
    return have;
}

int enrich_observe(struct enrich *e, const struct lme_event *ev)
{
    return context_observe(e->context, ev);
}

/* What a diagnosis is made from, hashed: the connector, its probe round, whether that round was
 * late, and the log signals (their times aside, which the diagnosis does not show). A burst of
 * 41220s with the same key shares one diagnosis, made once. */
static uint64_t diagnosis_key(long connector, uint64_t round, bool have, bool late,
                              const struct context_signals *sig)
{
    uint64_t head[4] = { (uint64_t)connector, round, have, late };
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

/* Makes the diagnosis into m from slot i's latest report (when have) and the signals. */
static int make_diagnosis(struct enrich *e, struct made *m, long i, bool have, bool late,
                          const struct context_signals *signals)
{
    if (have) {
        pthread_mutex_lock(&e->mu);
        e->snapshot = e->slots[i].report;
        pthread_mutex_unlock(&e->mu);
    }
    struct diagnosis d;
    diagnosis_make(i >= 0 ? &e->cfg.connectors[i] : NULL, have ? &e->snapshot : NULL, signals,
                   true, &d);
    d.probes_late = late;
    m->cause = diagnosis_cause(&d);
    return diagnosis_to_json(&d, &m->json);
}

int enrich_event(struct enrich *e, const char *connector, struct lme_event *ev,
                 void (*waiting)(void *ctx), void *ctx, enum diagnosis_cause *cause)
{
    struct context_signals signals;
    context_signals(e->context, ev, &signals);
    long i = connector_index(e, connector);
    bool late = false;
    uint64_t round = 0;
    int have = i >= 0 && latest_report(e, i, waiting, ctx, &late, &round);
    uint64_t key = diagnosis_key(i, round, have, late, &signals);
    bool hit;
    struct made *m = find_made(e, key, &hit);
    if (!hit) {
        if (make_diagnosis(e, m, i, have, late, &signals) != 0)
            return LME_ENOMEM;
        m->key = key; /* a round finishing meanwhile only makes the next key differ */
    }
    m->last_use = ++e->uses;
    ev->diagnosis = (struct lme_str){ m->json.data, m->json.len };
    ev->flags |= LME_EV_DIAGNOSED;
    *cause = m->cause;
    pthread_mutex_lock(&e->mu);
    e->stats.diagnosed++;
    e->stats.late += late;
    e->stats.by_cause[m->cause]++;
    pthread_mutex_unlock(&e->mu);
    return 0;
}

int enrich_connector_state(struct enrich *e, size_t i, uint64_t *rounds,
                           struct probe_report *report)
{
    if (i >= e->cfg.n_connectors)
        return 0;
    pthread_mutex_lock(&e->mu);
    *rounds = e->slots[i].rounds;
    int have = e->slots[i].have;
    if (have)
        *report = e->slots[i].report;
    pthread_mutex_unlock(&e->mu);
    return have;
}

void enrich_get_stats(struct enrich *e, struct enrich_stats *out)
{
    pthread_mutex_lock(&e->mu);
    *out = e->stats;
    pthread_mutex_unlock(&e->mu);
}
