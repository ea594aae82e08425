/* The pipeline: see pipeline.h. Each event is encoded to JSON once and that text is handed to
 * every sink; the sinks' in-flight bytes, summed, are the one budget backpressure watches. Every
 * event gets a token from acks.c; the sinks' settlements move each file's committed offset: the
 * end of its last record such that it and everything before it was settled by every sink.
 * The file inputs (finding, following and reading files) are in follow.c. */
#include "pipeline_int.h"


#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "acks.h"
#include "buf.h"
#include "checkpoint.h"
#include "enrich.h"
#include "event_json.h"
#include "file_sink.h"
#include "kafka_sink.h"
#include "log.h"
#include "metrics.h"
#include "pipeline_stats.h"
#include "sink.h"
#include "source.h"
#include "tz.h"

#define BACKPRESSURE_POLL_MS 10
#define METRICS_INTERVAL_MS 1000 /* how fresh /metrics and /health are */

static int make_state_dir(const char *dir, struct lme_err *err)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s", dir);
    for (char *p = path + 1; *p; p++) { /* mkdir -p */
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0750) != 0 && errno != EEXIST)
            return lme_err_set(err, LME_EIO, "cannot create state_dir %s: %s", path, strerror(errno));
        *p = '/';
    }
    if (mkdir(path, 0750) != 0 && errno != EEXIST)
        return lme_err_set(err, LME_EIO, "cannot create state_dir %s: %s", path, strerror(errno));
    struct stat st; /* others who can write there could forge checkpoints: records skipped */
    if (stat(path, &st) == 0 && (st.st_mode & S_IWOTH))
        return lme_err_set(err, LME_EINVAL, "state_dir %s is writable by others (chmod o-w): refused",
                           path);
    return 0;
}

static void on_settled(void *ctx, uint64_t token)
{
    acks_settle(ctx, token);
}

static struct sink *sink_create(const struct config *cfg, const struct config_sink *cs,
                                struct lme_err *err)
{
    if (cs->type == CONFIG_SINK_FILE)
        return file_sink_create(cs->path, err);
    return kafka_sink_create(&cs->kafka, cfg->max_in_flight_bytes, err);
}

static bool same_paths(const struct config_input *a, const struct config_input *b)
{
    if (a->n_paths != b->n_paths)
        return false;
    for (size_t i = 0; i < a->n_paths; i++)
        if (strcmp(a->paths[i], b->paths[i]) != 0)
            return false;
    return true;
}

/* start_at is for an input's first start: at the daemon's very first (no checkpoints yet), or
 * when a reload adds it. A restart must not skip what was written while the daemon was down. */
static void mark_new_inputs(struct pipeline *p, const struct config *previous, bool first_start)
{
    for (size_t i = 0; i < p->cfg->n_inputs; i++) {
        bool known = !first_start && !previous;
        for (size_t k = 0; previous && k < previous->n_inputs && !known; k++)
            known = same_paths(&p->cfg->inputs[i], &previous->inputs[k]);
        p->new_input[i] = !known;
    }
}

static int load_checkpoints(struct pipeline *p, bool *first_start)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/checkpoints.json", p->cfg->state_dir);
    *first_start = access(path, F_OK) != 0;
    struct lme_err cperr;
    if (checkpoints_load(p->cfg->state_dir, &p->checkpoints, &cperr) == 0)
        return 0;
    p->bad_checkpoints = true;
    lme_log(LME_LOG_WARN,
            p->cfg->on_bad_checkpoints == CONFIG_START_END
                ? "checkpoints ignored: every file found now is read from its end (on_bad_checkpoints)"
                : "checkpoints ignored: every file is read from its start",
            "error", cperr.msg, NULL);
    return 0;
}

static int create_inputs(struct pipeline *p, struct lme_err *err)
{
    const struct config *cfg = p->cfg;
    for (size_t i = 0; i < cfg->n_inputs; i++) {
        if (!(p->zones[i] = lme_tz_open(cfg->inputs[i].timezone, err)))
            return err->code;
        p->source_cfgs[i] = (struct source_config){
            .host = cfg->inputs[i].host_name ? cfg->inputs[i].host_name : cfg->host_name,
            .tz = p->zones[i],
            .max_record_bytes = cfg->max_record_bytes,
            .encoding = cfg->inputs[i].encoding,
        };
    }
    return 0;
}

static int create_sinks(struct pipeline *p, struct lme_err *err)
{
    for (; p->n_sinks < p->cfg->n_sinks; p->n_sinks++) {
        struct sink *s = sink_create(p->cfg, &p->cfg->sinks[p->n_sinks], err);
        if (!s)
            return err->code;
        snprintf(s->name, sizeof(s->name), "%s[%zu]", s->ops->type, p->n_sinks);
        s->settled = on_settled;
        s->settled_ctx = p->acks;
        p->sinks[p->n_sinks] = s;
    }
    return 0;
}

struct pipeline *pipeline_create(const struct config *cfg, const struct config *previous,
                                 struct lme_err *err)
{
    struct pipeline *p = calloc(1, sizeof(*p));
    if (!p || !(p->sinks = calloc(cfg->n_sinks, sizeof(*p->sinks))) ||
        !(p->zones = calloc(cfg->n_inputs, sizeof(*p->zones))) ||
        !(p->source_cfgs = calloc(cfg->n_inputs, sizeof(*p->source_cfgs))) ||
        !(p->new_input = calloc(cfg->n_inputs, sizeof(*p->new_input))) ||
        !(p->chunk = malloc(READ_CHUNK))) {
        lme_err_set(err, LME_ENOMEM, "pipeline: out of memory");
        goto fail;
    }
    p->cfg = cfg;
    if (!(p->acks = acks_create(err)) || make_state_dir(cfg->state_dir, err) != 0 ||
        !(p->watch = watch_create(cfg->inotify, err)) ||
        !(p->enrich = enrich_create(&cfg->enrichment, err)))
        goto fail;
    p->last_save_ms = mono_ms();
    bool first_start;
    load_checkpoints(p, &first_start);
    mark_new_inputs(p, previous, first_start);
    if (create_inputs(p, err) != 0 || create_sinks(p, err) != 0)
        goto fail;
    if (pipeline_stats_init(&p->stats, cfg->n_inputs, cfg->n_sinks, wall_ms()) != 0) {
        lme_err_set(err, LME_ENOMEM, "pipeline: out of memory");
        goto fail;
    }
    return p;
fail:
    pipeline_destroy(p);
    return NULL;
}

void pipeline_destroy(struct pipeline *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n_sinks; i++)
        p->sinks[i]->ops->destroy(p->sinks[i]);
    for (size_t i = 0; p->zones && i < p->cfg->n_inputs; i++)
        lme_tz_destroy(p->zones[i]);
    for (size_t i = 0; i < p->n_sources; i++)
        source_free(&p->sources[i]);
    free(p->sources);
    acks_destroy(p->acks);
    enrich_destroy(p->enrich);
    watch_destroy(p->watch);
    checkpoints_free(&p->checkpoints);
    free(p->sinks);
    free(p->zones);
    free(p->source_cfgs);
    free(p->new_input);
    free(p->chunk);
    lme_buf_free(&p->json);
    lme_buf_free(&p->metrics_text);
    free(p->lags);
    pipeline_stats_free(&p->stats);
    free(p);
}

static uint64_t in_flight_bytes(const struct pipeline *p)
{
    uint64_t total = 0;
    for (size_t i = 0; i < p->n_sinks; i++)
        total += p->sinks[i]->stats.in_flight_bytes;
    return total;
}

int64_t pipeline_in_flight(const struct pipeline *p)
{
    int64_t total = 0;
    for (size_t i = 0; i < p->n_sinks; i++)
        total += (int64_t)p->sinks[i]->stats.in_flight;
    return total;
}

static void on_committed(void *ctx, uint32_t source, uint64_t end_offset, int64_t added_ms)
{
    struct pipeline *p = ctx;
    p->sources[source].committed = end_offset;
    p->sources[source].pending--;
    metrics_histogram_observe(&p->stats.latency, (double)(p->commit_now_ms - added_ms) / 1000.0);
}

int pipeline_checkpoint(struct pipeline *p, struct lme_err *err)
{
    for (size_t i = 0; i < p->n_sources; i++) {
        struct source *s = &p->sources[i];
        if (!source_used(s) || s->superseded)
            continue;
        tail_refresh_fingerprint(&s->tail);
        struct checkpoint cp = { s->tail.path, s->tail.dev, s->tail.ino, s->tail.fingerprint,
                                 s->tail.fingerprint_len, s->committed };
        if (checkpoints_set(&p->checkpoints, &cp) != 0)
            return lme_err_set(err, LME_ENOMEM, "checkpoints: out of memory");
    }
    follow_prune_checkpoints(p);
    p->last_save_ms = mono_ms();
    int rc = checkpoints_save(p->cfg->state_dir, &p->checkpoints, err);
    p->stats.checkpoint_ok += rc == 0;
    p->stats.checkpoint_errors += rc != 0;
    return rc;
}

int pipeline_poll_sinks(struct pipeline *p, int timeout_ms, struct lme_err *err)
{
    for (size_t i = 0; i < p->n_sinks; i++) {
        int rc = p->sinks[i]->ops->poll(p->sinks[i], i == 0 ? timeout_ms : 0, err);
        if (rc)
            return rc;
    }
    p->commit_now_ms = mono_ms();
    acks_advance(p->acks, on_committed, p);
    if (p->snap && p->commit_now_ms - p->last_metrics_ms >= METRICS_INTERVAL_MS)
        pipeline_publish_metrics(p);
    if (mono_ms() - p->last_save_ms >= p->cfg->checkpoint_interval_ms) {
        struct lme_err cperr;
        /* a failed save keeps the last good file; the next interval tries again */
        if (pipeline_checkpoint(p, &cperr) != 0)
            lme_log(LME_LOG_ERROR, "cannot save checkpoints", "error", cperr.msg, NULL);
    }
    return 0;
}

/* While a 41220 waits for its probes, acknowledgements keep flowing. */
static void serve_sinks_briefly(void *ctx)
{
    struct pipeline *p = ctx;
    if (!p->sink_err.code)
        pipeline_poll_sinks(p, 0, &p->sink_err);
}

/* Enrichment: every event feeds the log context; a 41220 leaves with its diagnosis. */
static int enrich(struct pipeline *p, const struct lme_event **ev, struct lme_event *diagnosed)
{
    if (!p->cfg->enrichment.enabled)
        return 0;
    if (!enrich_wants(*ev))
        return enrich_observe(p->enrich, *ev) ? lme_err_set(&p->sink_err, LME_ENOMEM, "pipeline: out of memory") : 0;
    *diagnosed = **ev;
    size_t input = p->sources[p->current].input;
    enum diagnosis_cause cause;
    if (enrich_event(p->enrich, p->cfg->inputs[input].connector, diagnosed, serve_sinks_briefly,
                     p, &cause) != 0)
        return lme_err_set(&p->sink_err, LME_ENOMEM, "pipeline: out of memory");
    p->stats.inputs[input].diagnoses[cause]++;
    *ev = diagnosed;
    return p->sink_err.code;
}

/* Every event goes to every sink; then reading waits while the budget is spent. */
int pipeline_on_event(const struct lme_event *ev, void *ctx)
{
    struct pipeline *p = ctx;
    struct lme_event diagnosed;
    int rc = enrich(p, &ev, &diagnosed);
    if (rc)
        return rc;
    pipeline_stats_event(&p->stats, p->sources[p->current].input, ev);
    lme_buf_reset(&p->json);
    if (event_json_encode(ev, &p->json) != 0)
        return lme_err_set(&p->sink_err, LME_ENOMEM, "pipeline: out of memory");
    uint64_t token;
    /* read time for the latency histogram: the chunk's (a clock read per event costs more) */
    if (acks_add(p->acks, p->current, ev->end_offset, p->read_at_ms, &token) != 0)
        return lme_err_set(&p->sink_err, LME_ENOMEM, "pipeline: out of memory");
    p->sources[p->current].pending++;
    p->sources[p->current].records++;
    for (size_t i = 0; i < p->n_sinks; i++) {
        int copies = p->sinks[i]->ops->send(p->sinks[i], ev, p->json.data, p->json.len, token,
                                            &p->sink_err);
        if (copies < 0)
            return copies;
        acks_expect(p->acks, token, copies);
    }
    while (in_flight_bytes(p) >= p->cfg->max_in_flight_bytes && !interrupted(p)) {
        rc = pipeline_poll_sinks(p, BACKPRESSURE_POLL_MS, &p->sink_err);
        if (rc)
            return rc;
    }
    return 0;
}

/* A non-zero return of a parser call: the sink's failure, or memory. */
int pipeline_stage_failed(struct pipeline *p, int rc, const char *path, struct lme_err *err)
{
    if (p->sink_err.code)
        *err = p->sink_err;
    else
        lme_err_set(err, rc, "parsing %s: out of memory", path);
    return rc;
}

int64_t pipeline_drain(struct pipeline *p, int timeout_ms, volatile sig_atomic_t *stop,
                       struct lme_err *err)
{
    int64_t deadline = timeout_ms < 0 ? INT64_MAX : mono_ms() + timeout_ms;
    for (;;) {
        int rc = pipeline_poll_sinks(p, 50, err);
        if (rc)
            return rc;
        int64_t left = pipeline_in_flight(p);
        if (left == 0 || mono_ms() >= deadline || (stop && *stop))
            return left;
    }
}

void pipeline_log_stats(const struct pipeline *p)
{
    for (size_t i = 0; i < p->n_sinks; i++) {
        const struct sink_stats *s = &p->sinks[i]->stats;
        char v[5][24];
        lme_log(LME_LOG_INFO, "sink totals", "sink", p->sinks[i]->name,
                "accepted", u64(v[0], sizeof(v[0]), s->accepted),
                "delivered", u64(v[1], sizeof(v[1]), s->delivered),
                "dead_lettered", u64(v[2], sizeof(v[2]), s->dead_lettered),
                "retried", u64(v[3], sizeof(v[3]), s->retried),
                "in_flight", u64(v[4], sizeof(v[4]), s->in_flight), NULL);
    }
    for (size_t i = 0; i < p->n_sources; i++) {
        const struct source *s = &p->sources[i];
        if (!source_used(s) || s->superseded)
            continue;
        char committed[24], read[24];
        lme_log(LME_LOG_INFO, "file settled up to", "file", s->tail.path, "offset",
                u64(committed, sizeof(committed), s->committed), "read",
                u64(read, sizeof(read), s->tail.offset), NULL);
    }
    if (p->stats.truncations > 0) {
        char n[24];
        lme_log(LME_LOG_INFO, "files truncated while followed", "count",
                u64(n, sizeof(n), p->stats.truncations), NULL);
    }
}

void pipeline_stopping(struct pipeline *p)
{
    p->ready = false;
    if (p->snap)
        metrics_snapshot_set_ready(p->snap, 0);
}

void pipeline_set_metrics(struct pipeline *p, struct metrics_snapshot *snap, int64_t started_ms)
{
    p->snap = snap;
    p->stats.started_ms = started_ms;
}

/* One lme_checkpoint_lag_bytes line per followed file; counts each input's files. */
static size_t collect_lags(struct pipeline *p)
{
    size_t n = 0;
    for (size_t i = 0; i < p->cfg->n_inputs; i++)
        p->stats.inputs[i].files = 0;
    struct lag *lags = realloc(p->lags, (p->n_sources + 1) * sizeof(*lags));
    if (!lags)
        return 0;
    p->lags = lags;
    for (size_t i = 0; i < p->n_sources; i++) {
        const struct source *s = &p->sources[i];
        if (!source_used(s) || s->superseded || s->done)
            continue;
        p->stats.inputs[s->input].files++;
        uint64_t end = s->tail.size > s->tail.offset ? s->tail.size : s->tail.offset;
        lags[n++] = (struct lag){ s->tail.path, end > s->committed ? end - s->committed : 0 };
    }
    return n;
}

void pipeline_publish_metrics(struct pipeline *p)
{
    if (!p->snap)
        return;
    int64_t now = mono_ms();
    p->last_metrics_ms = now;
    size_t n_lags = collect_lags(p);
    char reason[512];
    bool healthy = pipeline_stats_healthy(&p->stats, p->sinks, p->n_sinks, now,
                                          p->cfg->health_stall_ms, reason, sizeof(reason));
    if (!p->ready) { /* healthy means the inputs run */
        healthy = false;
        snprintf(reason, sizeof(reason), "inputs not running (starting, reloading or stopping)");
    }
    lme_buf_reset(&p->metrics_text);
    if (pipeline_stats_render(&p->stats, p->cfg, p->sinks, p->n_sinks, p->enrich, p->lags, n_lags,
                              wall_ms(), &p->metrics_text) != 0)
        return; /* out of memory: the last snapshot stays */
    metrics_snapshot_publish(p->snap, p->metrics_text.data, p->metrics_text.len, healthy, reason,
                             p->ready);
}
