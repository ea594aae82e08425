/* The pipeline: see pipeline.h. Wires the three parts and runs their loop:
 *   inputs (inputs.c: files -> parser -> events with their origin)
 *   -> router (router.c: enrichment, JSON, every sink, the byte budget)
 *   -> commit (commit.c: the sinks' settlements -> committed offsets -> checkpoints).
 * Dependencies run one way: this file knows all three, inputs and router each know commit, and
 * commit knows neither. Checkpoints are saved here, in the main loop, and nowhere else. */
#include "pipeline.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"
#include "commit.h"
#include "inputs.h"
#include "log.h"
#include "metrics.h"
#include "pipeline_stats.h"
#include "router.h"

#define METRICS_INTERVAL_MS 1000 /* how fresh /metrics and /health are */
#define IN_FLIGHT_WAIT_MS 10     /* wait between turns while acknowledgements are due */

struct pipeline {
    const struct config *cfg;
    struct commit *commit;
    struct inputs *inputs;
    struct router *router;
    struct pipeline_stats view;    /* what /metrics shows, gathered from the three parts */
    struct metrics_snapshot *snap; /* NULL: no metrics endpoint */
    struct lme_buf rendered;       /* this pipeline's own counts */
    struct lme_buf metrics_text;   /* the same, counters raised by what earlier pipelines counted */
    struct metrics_carry carry;    /* those earlier counts (a reload), per series */
    int64_t last_metrics_ms;
    bool ready;                    /* the inputs were scanned */
    int64_t save_failing_since;    /* monotonic; 0: the last save worked */
    int64_t save_error_logged_ms;
    volatile sig_atomic_t *stop, *reload;
};

static bool interrupted(const struct pipeline *p)
{
    return (p->stop && *p->stop) || (p->reload && *p->reload);
}

/* The nearest existing folder of path (itself, or an ancestor) into out. */
static void existing_ancestor(const char *path, char *out, size_t size)
{
    snprintf(out, size, "%s", path);
    struct stat st;
    while (stat(out, &st) != 0) {
        char *slash = strrchr(out, '/');
        if (!slash || slash == out) {
            snprintf(out, size, "%s", slash == out ? "/" : ".");
            return;
        }
        *slash = '\0';
    }
}

/* Whether folder (missing, or holding path) can be made: a trial folder made and removed in its
 * nearest existing ancestor, since permissions alone do not tell (root, read-only mounts,
 * /proc). */
static int check_creatable(const char *what, const char *path, const char *folder,
                           struct lme_err *err)
{
    char parent[PATH_MAX], trial[PATH_MAX + 32];
    existing_ancestor(folder, parent, sizeof(parent));
    snprintf(trial, sizeof(trial), "%s/.lme-ingest-check-XXXXXX", parent);
    if (!mkdtemp(trial))
        return lme_err_set(err, LME_EIO, "%s %s cannot be created in %s: %s", what, path, parent,
                           strerror(errno));
    rmdir(trial);
    return 0;
}

/* state_dir: an existing one must be a folder we may write, owned by us or root, that others
 * may not write (they could forge checkpoints: records skipped); a missing one must be
 * creatable. */
static int check_state_dir(const char *dir, struct lme_err *err)
{
    struct stat st;
    if (stat(dir, &st) != 0)
        return check_creatable("state_dir", dir, dir, err);
    if (!S_ISDIR(st.st_mode))
        return lme_err_set(err, LME_EINVAL, "state_dir %s is not a folder", dir);
    if (st.st_mode & S_IWOTH)
        return lme_err_set(err, LME_EINVAL, "state_dir %s is writable by others (chmod o-w): refused",
                           dir);
    if (st.st_uid != 0 && st.st_uid != geteuid())
        return lme_err_set(err, LME_EINVAL,
                           "state_dir %s is owned by uid %u, neither root nor the daemon's user: refused",
                           dir, (unsigned)st.st_uid);
    if (access(dir, W_OK | X_OK) != 0)
        return lme_err_set(err, LME_EIO, "state_dir %s is not writable: %s", dir, strerror(errno));
    return 0;
}

/* A file the daemon will append to: writable when it exists, else its folder (or the folder
 * that will hold it, created with state_dir) writable. */
static int check_writable_file(const char *what, const char *path, struct lme_err *err)
{
    struct stat st;
    if (stat(path, &st) == 0) {
        if (S_ISDIR(st.st_mode))
            return lme_err_set(err, LME_EINVAL, "%s %s is a folder", what, path);
        if (access(path, W_OK) != 0)
            return lme_err_set(err, LME_EIO, "%s %s is not writable: %s", what, path, strerror(errno));
        return 0;
    }
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *(slash == dir ? slash + 1 : slash) = '\0';
    else
        snprintf(dir, sizeof(dir), ".");
    return check_creatable(what, path, dir, err);
}

/* librdkafka reads these files only when the producer starts: a missing one would stop the
 * start, or a reload, long after check-config said "ok". */
static int check_kafka_files(const struct kafka_sink_config *k, size_t sink, struct lme_err *err)
{
    static const char *const file_props[] = { "ssl.ca.location", "ssl.certificate.location",
                                              "ssl.key.location", "ssl.crl.location",
                                              "ssl.keystore.location", "sasl.kerberos.keytab" };
    for (size_t i = 0; i < k->n_props; i++)
        for (size_t f = 0; f < sizeof(file_props) / sizeof(file_props[0]); f++) {
            const char *v = k->prop_values[i];
            if (strcmp(k->prop_names[i], file_props[f]) != 0 || strcmp(v, "probe") == 0)
                continue;
            if (access(v, R_OK) != 0)
                return lme_err_set(err, LME_EINVAL, "sinks[%zu].rdkafka: property '%s': cannot read %s: %s",
                                   sink, k->prop_names[i], v, strerror(errno));
        }
    return check_writable_file("the dead-letter file", k->dead_letter_path, err);
}

int pipeline_preflight(const struct config *cfg, struct lme_err *err)
{
    int rc = check_state_dir(cfg->state_dir, err);
    for (size_t i = 0; !rc && i < cfg->n_sinks; i++) {
        const struct config_sink *s = &cfg->sinks[i];
        if (s->type == CONFIG_SINK_KAFKA)
            rc = check_kafka_files(&s->kafka, i, err);
        else if (strcmp(s->file.path, "-") != 0)
            rc = check_writable_file("the output file", s->file.path, err);
    }
    return rc;
}

static int make_state_dir(const char *dir, struct lme_err *err)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s", dir);
    for (char *c = path + 1; *c; c++) { /* mkdir -p */
        if (*c != '/')
            continue;
        *c = '\0';
        if (mkdir(path, 0750) != 0 && errno != EEXIST)
            return lme_err_set(err, LME_EIO, "cannot create state_dir %s: %s", path, strerror(errno));
        *c = '/';
    }
    if (mkdir(path, 0750) != 0 && errno != EEXIST)
        return lme_err_set(err, LME_EIO, "cannot create state_dir %s: %s", path, strerror(errno));
    return check_state_dir(path, err); /* it may have appeared meanwhile, made by someone else */
}

static void report_bad_checkpoints(const struct pipeline *p)
{
    struct lme_err why;
    if (!commit_bad_checkpoints(p->commit, &why))
        return;
    lme_log(LME_LOG_WARN,
            p->cfg->on_bad_checkpoints == CONFIG_START_END
                ? "checkpoints ignored: every file found now is read from its end (on_bad_checkpoints)"
                : "checkpoints ignored: every file is read from its start",
            "error", why.msg, NULL);
}

static bool on_waiting(void *ctx);

struct pipeline *pipeline_create(const struct config *cfg, const struct config *previous,
                                 struct lme_err *err)
{
    struct pipeline *p = calloc(1, sizeof(*p));
    if (!p) {
        lme_err_set(err, LME_ENOMEM, "pipeline: out of memory");
        return NULL;
    }
    p->cfg = cfg;
    if (pipeline_preflight(cfg, err) != 0 || make_state_dir(cfg->state_dir, err) != 0 ||
        !(p->commit = commit_create(cfg->state_dir, cfg->checkpoint_interval_ms, err)))
        goto fail;
    report_bad_checkpoints(p);
    if (!(p->inputs = inputs_create(cfg, previous, p->commit, err)) ||
        !(p->router = router_create(cfg, p->commit, on_waiting, p, err)))
        goto fail;
    if (pipeline_stats_init(&p->view, cfg->n_inputs, cfg->n_sinks, lme_wall_ms()) != 0) {
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
    router_destroy(p->router);
    inputs_destroy(p->inputs);
    commit_destroy(p->commit);
    lme_buf_free(&p->rendered);
    lme_buf_free(&p->metrics_text);
    metrics_carry_free(&p->carry);
    pipeline_stats_free(&p->view);
    free(p);
}

/* ---- the main loop's chores ---- */

#define SAVE_ERROR_LOG_MS 60000 /* while saves keep failing, say so this often */

/* A failed save keeps the last good file; commit says when to try again (every interval), and
 * the log says it when saves start failing, once a minute while they fail, and when they work
 * again: a full disk must not write two error lines a second. */
static void save_checkpoints(struct pipeline *p)
{
    struct lme_err err;
    int64_t now = lme_mono_ms();
    if (router_save_state(p->router, &err) == 0 && commit_save(p->commit, &err) == 0) {
        if (p->save_failing_since)
            lme_log(LME_LOG_INFO, "checkpoints saved again", NULL);
        p->save_failing_since = 0;
        return;
    }
    if (!p->save_failing_since || now - p->save_error_logged_ms >= SAVE_ERROR_LOG_MS) {
        lme_log(LME_LOG_ERROR, "cannot save checkpoints", "error", err.msg, NULL);
        p->save_error_logged_ms = now;
    }
    if (!p->save_failing_since)
        p->save_failing_since = now;
}

/* Between reads: committed offsets move, checkpoints are saved when due, metrics published. */
static void serve(struct pipeline *p)
{
    int64_t now = lme_mono_ms();
    commit_advance(p->commit, now);
    if (commit_save_due_in(p->commit, now) == 0)
        save_checkpoints(p);
    if (p->snap && now - p->last_metrics_ms >= METRICS_INTERVAL_MS)
        pipeline_publish_metrics(p);
}

/* Serves the sinks, then the chores. */
static int poll_and_serve(struct pipeline *p, int timeout_ms, struct lme_err *err)
{
    int rc = router_poll(p->router, timeout_ms, err);
    if (!rc)
        serve(p);
    return rc;
}

/* The router waits (budget, probes): keep /metrics and /health fresh; stop waiting when asked
 * to stop. Runs inside a parser callback: publishing only reads the inputs. */
static bool on_waiting(void *ctx)
{
    struct pipeline *p = ctx;
    if (p->snap && lme_mono_ms() - p->last_metrics_ms >= METRICS_INTERVAL_MS)
        pipeline_publish_metrics(p);
    return !interrupted(p);
}

/* ---- run --once ---- */

/* A backfill's progress on a terminal: files and bytes done, the rate, the time left. */
struct progress {
    bool on;
    size_t files, files_left;
    uint64_t bytes, bytes_left;
    int64_t start_ms, last_ms;
};

static uint64_t records_so_far(const struct pipeline *p)
{
    const struct router_stats *rs = router_stats(p->router);
    uint64_t n = 0;
    for (size_t i = 0; i < p->cfg->n_inputs; i++)
        n += rs->inputs[i].records;
    return n;
}

static void progress_start(struct pipeline *p, struct progress *pr)
{
    memset(pr, 0, sizeof(*pr));
    pr->on = isatty(STDERR_FILENO);
    pr->start_ms = pr->last_ms = lme_mono_ms();
    inputs_backlog(p->inputs, &pr->files, &pr->bytes);
}

static void progress_show(struct pipeline *p, struct progress *pr, bool last)
{
    int64_t now = lme_mono_ms();
    if (!pr->on || (!last && now - pr->last_ms < 1000))
        return;
    pr->last_ms = now;
    size_t files_left;
    uint64_t bytes_left;
    inputs_backlog(p->inputs, &files_left, &bytes_left);
    uint64_t done = pr->bytes > bytes_left ? pr->bytes - bytes_left : 0;
    double secs = (double)(now - pr->start_ms) / 1000.0;
    double left = done > 0 && pr->bytes > done ? secs * (double)(pr->bytes - done) / (double)done : 0;
    fprintf(stderr, "\rlme-ingest: %zu/%zu files, %.1f of %.1f MB, %.0f records/s, %d:%02d left  %s",
            pr->files - (files_left < pr->files ? files_left : pr->files), pr->files,
            (double)done / 1e6, (double)pr->bytes / 1e6,
            secs > 0 ? (double)records_so_far(p) / secs : 0, (int)left / 60, (int)left % 60,
            last ? "\n" : "");
    fflush(stderr);
}

int pipeline_read_inputs(struct pipeline *p, volatile sig_atomic_t *stop, struct lme_err *err)
{
    p->stop = stop;
    inputs_set_interrupts(p->inputs, stop, NULL);
    int rc = inputs_scan(p->inputs, true, true, err);
    p->ready = true;
    struct progress pr;
    progress_start(p, &pr);
    bool done = false;
    while (!rc && !done && !interrupted(p)) {
        rc = inputs_backfill(p->inputs, router_send, p->router, &done, err);
        if (!rc)
            rc = poll_and_serve(p, 0, err);
        progress_show(p, &pr, false);
    }
    progress_show(p, &pr, true);
    return rc;
}

/* ---- the daemon ---- */

/* How long the loop may sleep: until the next poll, sooner while acknowledgements are due, when
 * a silent file's last record falls due (multiline_flush_ms), or when a checkpoint save is. */
static int idle_wait_ms(const struct pipeline *p)
{
    int64_t now = lme_mono_ms();
    int wait = router_in_flight(p->router) > 0 ? IN_FLIGHT_WAIT_MS : p->cfg->poll_interval_ms;
    int save = commit_save_due_in(p->commit, now);
    if (save < wait)
        wait = save > 1 ? save : 1;
    return inputs_due_in(p->inputs, now, wait);
}

int pipeline_follow(struct pipeline *p, volatile sig_atomic_t *stop,
                    volatile sig_atomic_t *reload, struct lme_err *err)
{
    p->stop = stop;
    p->reload = reload;
    inputs_set_interrupts(p->inputs, stop, reload);
    int rc = inputs_scan(p->inputs, true, false, err);
    p->ready = true;
    if (p->snap)
        pipeline_publish_metrics(p);
    bool names_changed = false;
    while (!rc && !interrupted(p)) {
        if (names_changed || inputs_scan_due(p->inputs, lme_mono_ms()))
            rc = inputs_scan(p->inputs, false, false, err);
        bool busy = false;
        if (!rc)
            rc = inputs_turn(p->inputs, router_send, p->router, &busy, err);
        if (!rc)
            rc = router_tick(p->router, err);
        if (!rc)
            rc = poll_and_serve(p, 0, err);
        if (rc || busy)
            continue;
        names_changed = inputs_wait(p->inputs, idle_wait_ms(p));
    }
    return rc;
}

int pipeline_release_rotated(struct pipeline *p, struct lme_err *err)
{
    return inputs_release_rotated(p->inputs, router_send, p->router, err);
}

int64_t pipeline_drain(struct pipeline *p, int timeout_ms, volatile sig_atomic_t *stop,
                       struct lme_err *err)
{
    int64_t deadline = timeout_ms < 0 ? INT64_MAX : lme_mono_ms() + timeout_ms;
    for (;;) {
        int rc = poll_and_serve(p, 50, err);
        if (rc)
            return rc;
        int64_t left = router_in_flight(p->router);
        if (left == 0 || lme_mono_ms() >= deadline || (stop && *stop))
            return left;
    }
}

int pipeline_checkpoint(struct pipeline *p, struct lme_err *err)
{
    commit_advance(p->commit, lme_mono_ms());
    int rc = router_save_state(p->router, err);
    return rc ? rc : commit_save(p->commit, err);
}

static const char *u64(char *buf, size_t size, uint64_t v)
{
    snprintf(buf, size, "%llu", (unsigned long long)v);
    return buf;
}

/* A sink's counter over the whole run: this pipeline's count and what earlier ones carried. */
static uint64_t run_total(const struct pipeline *p, const char *family, const struct sink *s,
                          uint64_t now)
{
    char series[256], labels[200];
    snprintf(series, sizeof(series), "%s{%s}", family,
             metrics_labels(labels, sizeof(labels), "sink", s->name, NULL));
    return now + (uint64_t)metrics_carry_get(&p->carry, series);
}

void pipeline_log_stats(const struct pipeline *p)
{
    size_t n;
    struct sink *const *sinks = router_sinks(p->router, &n);
    for (size_t i = 0; i < n; i++) {
        const struct sink *k = sinks[i];
        const struct sink_stats *s = &k->stats;
        char v[5][24];
        lme_log(LME_LOG_INFO, "sink totals", "sink", k->name, "accepted",
                u64(v[0], sizeof(v[0]), run_total(p, "lme_sink_events_accepted_total", k, s->accepted)),
                "delivered",
                u64(v[1], sizeof(v[1]), run_total(p, "lme_sink_events_delivered_total", k, s->delivered)),
                "dead_lettered",
                u64(v[2], sizeof(v[2]),
                    run_total(p, "lme_sink_events_dead_lettered_total", k, s->dead_lettered)),
                "retried",
                u64(v[3], sizeof(v[3]), run_total(p, "lme_sink_events_retried_total", k, s->retried)),
                "in_flight", u64(v[4], sizeof(v[4]), s->in_flight), NULL);
    }
    inputs_log_files(p->inputs);
}

/* ---- metrics ---- */

void pipeline_stopping(struct pipeline *p)
{
    p->ready = false;
    if (p->snap)
        metrics_snapshot_set_ready(p->snap, 0);
}

void pipeline_set_metrics(struct pipeline *p, struct metrics_snapshot *snap, int64_t started_ms)
{
    p->snap = snap;
    p->view.started_ms = started_ms;
}

/* Gathers the three parts' counters into the view pipeline_stats renders. */
static void gather_stats(struct pipeline *p)
{
    const struct inputs_stats *is = inputs_stats(p->inputs);
    const struct router_stats *rs = router_stats(p->router);
    const struct commit_stats *cs = commit_stats(p->commit);
    for (size_t i = 0; i < p->cfg->n_inputs; i++) {
        struct input_stats *v = &p->view.inputs[i];
        v->bytes = is->inputs[i].bytes;
        v->files = is->inputs[i].files;
        v->records = rs->inputs[i].records;
        v->parse_failures = rs->inputs[i].parse_failures;
        memcpy(v->diagnoses, rs->inputs[i].diagnoses, sizeof(v->diagnoses));
    }
    memcpy(p->view.by_code, rs->by_code, sizeof(p->view.by_code));
    p->view.truncations = is->truncations;
    p->view.files_waiting = is->waiting;
    p->view.files_refused = is->refused;
    p->view.open_files_budget = is->max_open;
    p->view.checkpoint_ok = cs->saves_ok;
    p->view.checkpoint_errors = cs->saves_failed;
    p->view.latency = cs->latency;
}

/* Renders every metric into metrics_text, counters carried. Returns 0 or LME_ENOMEM. */
static int render_metrics(struct pipeline *p, struct sink *const *sinks, size_t n_sinks,
                          const struct lag *lags, size_t n_lags)
{
    gather_stats(p);
    lme_buf_reset(&p->rendered);
    lme_buf_reset(&p->metrics_text);
    if (pipeline_stats_render(&p->view, p->cfg, sinks, n_sinks, router_enrich(p->router), lags,
                              n_lags, lme_wall_ms(), &p->rendered) != 0)
        return LME_ENOMEM;
    return metrics_carry_apply(&p->carry, p->rendered.data, p->rendered.len, &p->metrics_text);
}

int pipeline_carry_counters(struct pipeline *next, struct pipeline *prev)
{
    size_t n_sinks;
    struct sink *const *sinks = router_sinks(prev->router, &n_sinks);
    const struct lag *lags;
    size_t n_lags = inputs_lags(prev->inputs, &lags);
    if (render_metrics(prev, sinks, n_sinks, lags, n_lags) != 0)
        return LME_ENOMEM;
    return metrics_carry_take(&next->carry, prev->metrics_text.data, prev->metrics_text.len);
}

void pipeline_publish_metrics(struct pipeline *p)
{
    if (!p->snap)
        return;
    int64_t now = lme_mono_ms();
    p->last_metrics_ms = now;
    const struct lag *lags;
    size_t n_lags = inputs_lags(p->inputs, &lags);
    size_t n_sinks;
    struct sink *const *sinks = router_sinks(p->router, &n_sinks);
    char reason[512];
    bool healthy = pipeline_stats_healthy(&p->view, sinks, n_sinks, now, p->cfg->health_stall_ms,
                                          reason, sizeof(reason));
    if (!p->ready) { /* healthy means the inputs run */
        healthy = false;
        snprintf(reason, sizeof(reason), "inputs not running (starting, reloading or stopping)");
    }
    if (render_metrics(p, sinks, n_sinks, lags, n_lags) != 0)
        return; /* out of memory: the last snapshot stays */
    metrics_snapshot_publish(p->snap, p->metrics_text.data, p->metrics_text.len, healthy, reason,
                             p->ready);
}
