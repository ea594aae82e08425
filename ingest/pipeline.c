/* The pipeline: see pipeline.h. Each event is encoded to JSON once and that text is handed to
 * every sink; the sinks' in-flight bytes, summed, are the one budget backpressure watches. Every
 * event gets a token from acks.c; the sinks' settlements move each file's committed offset: the
 * end of its last record such that it and everything before it was settled by every sink.
 * Files are sources (source.c) in a table whose slots stay put while their events are in flight,
 * since acks.c names a source by its slot. */
#include "pipeline.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
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
#include "hash.h"
#include "kafka_sink.h"
#include "log.h"
#include "metrics.h"
#include "pipeline_stats.h"
#include "sink.h"
#include "source.h"
#include "tz.h"
#include "watch.h"

#define READ_CHUNK (1024 * 1024)
#define CHUNKS_PER_TURN 4 /* per file and turn, so that one busy file does not starve the others */
#define BACKPRESSURE_POLL_MS 10
#define IN_FLIGHT_WAIT_MS 10 /* wait between turns while acknowledgements are due */
#define MAX_UNREADABLE 1024
#define METRICS_INTERVAL_MS 1000 /* how fresh /metrics and /health are */

struct pipeline {
    const struct config *cfg;
    bool *new_input;               /* per input: start_at applies to its files */
    struct source_config *source_cfgs; /* per input */
    struct lme_tz **zones;         /* per input */
    struct acks *acks;
    struct enrich *enrich;
    struct source *sources;        /* slots; used when tail.path is set */
    size_t n_sources;
    uint32_t current;              /* the source being read */
    struct checkpoints checkpoints; /* as loaded, updated by each save */
    int64_t last_save_ms;
    int64_t last_scan_ms;
    struct watch *watch;
    uint64_t unreadable[MAX_UNREADABLE]; /* hashes of paths already reported unreadable */
    size_t n_unreadable;
    struct sink **sinks;
    size_t n_sinks;
    char *chunk;
    struct lme_buf json;
    struct pipeline_stats stats;
    struct metrics_snapshot *snap; /* NULL: no metrics endpoint */
    struct lme_buf metrics_text;
    struct lag *lags;
    int64_t last_metrics_ms;
    int64_t commit_now_ms;         /* the time acks_advance's commits happen at */
    bool ready;                    /* the inputs were scanned */
    bool bad_checkpoints;          /* checkpoints.json could not be read at start */
    struct lme_err sink_err; /* a sink's failure seen inside the parser's callback */
    volatile sig_atomic_t *stop, *reload;
};

void pipeline_publish_metrics(struct pipeline *p);

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char *u64(char *buf, size_t size, uint64_t v)
{
    snprintf(buf, size, "%llu", (unsigned long long)v);
    return buf;
}

static bool interrupted(const struct pipeline *p)
{
    return (p->stop && *p->stop) || (p->reload && *p->reload);
}

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

static int64_t in_flight(const struct pipeline *p)
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

static bool source_used(const struct source *s)
{
    return s->tail.path != NULL;
}

/* Drops the entries of files no source follows and whose path no longer names them: deleted,
 * or renamed away from where they were last seen. */
static void prune_checkpoints(struct pipeline *p)
{
    for (size_t i = p->checkpoints.n; i-- > 0;) {
        const struct checkpoint *cp = &p->checkpoints.v[i];
        bool followed = false;
        for (size_t k = 0; k < p->n_sources && !followed; k++) {
            const struct source *s = &p->sources[k];
            followed = source_used(s) && !s->superseded && s->tail.dev == cp->dev &&
                       s->tail.ino == cp->ino;
        }
        struct stat st;
        if (!followed && (stat(cp->path, &st) != 0 || (uint64_t)st.st_dev != cp->dev ||
                          (uint64_t)st.st_ino != cp->ino))
            checkpoints_remove(&p->checkpoints, i);
    }
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
    prune_checkpoints(p);
    p->last_save_ms = mono_ms();
    int rc = checkpoints_save(p->cfg->state_dir, &p->checkpoints, err);
    p->stats.checkpoint_ok += rc == 0;
    p->stats.checkpoint_errors += rc != 0;
    return rc;
}

static int poll_sinks(struct pipeline *p, int timeout_ms, struct lme_err *err)
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
        poll_sinks(p, 0, &p->sink_err);
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
static int on_event(const struct lme_event *ev, void *ctx)
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
    if (acks_add(p->acks, p->current, ev->end_offset, mono_ms(), &token) != 0)
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
        rc = poll_sinks(p, BACKPRESSURE_POLL_MS, &p->sink_err);
        if (rc)
            return rc;
    }
    return 0;
}

/* A non-zero return of a parser call: the sink's failure, or memory. */
static int stage_failed(struct pipeline *p, int rc, const char *path, struct lme_err *err)
{
    if (p->sink_err.code)
        *err = p->sink_err;
    else
        lme_err_set(err, rc, "parsing %s: out of memory", path);
    return rc;
}

/* A free slot (reusing one whose file is done and settled), or -1 when memory runs out. */
static long take_slot(struct pipeline *p)
{
    for (size_t i = 0; i < p->n_sources; i++)
        if (!source_used(&p->sources[i]))
            return (long)i;
    struct source *v = realloc(p->sources, (p->n_sources + 1) * sizeof(*v));
    if (!v)
        return -1;
    p->sources = v;
    memset(&p->sources[p->n_sources], 0, sizeof(*v));
    return (long)p->n_sources++;
}

/* Logs a file that cannot be read once, not at every scan. */
static void report_unreadable(struct pipeline *p, const char *path, const char *why)
{
    uint64_t h = lme_hash64(path, strlen(path), 0);
    for (size_t i = 0; i < p->n_unreadable; i++)
        if (p->unreadable[i] == h)
            return;
    if (p->n_unreadable < MAX_UNREADABLE)
        p->unreadable[p->n_unreadable++] = h;
    lme_log(LME_LOG_ERROR, "cannot read input", "file", path, "error", why, NULL);
}

/* Where a file with no checkpoint starts: start_at, then the input's read-back cap. */
static uint64_t first_offset(struct pipeline *p, struct source *s, bool at_start, bool once)
{
    const struct config_input *in = &p->cfg->inputs[s->input];
    bool at_end = in->start_at == CONFIG_START_END && p->new_input[s->input];
    if (p->bad_checkpoints) /* we cannot know where we were: the operator chose */
        at_end = p->cfg->on_bad_checkpoints == CONFIG_START_END;
    if (!once && at_start && at_end)
        return tail_start_near_end(&s->tail, 0);
    if (in->max_read_back_bytes > 0)
        return tail_start_near_end(&s->tail, (uint64_t)in->max_read_back_bytes);
    return 0;
}

/* Where reading a file starts: the checkpoint's offset when one names this very file (same
 * device, inode and first bytes) and the file is not shorter than it; else first_offset. */
static uint64_t start_offset(struct pipeline *p, struct source *s, bool at_start, bool once)
{
    struct tail_file *t = &s->tail;
    struct checkpoint *cp = checkpoints_find(&p->checkpoints, t->dev, t->ino);
    if (!cp)
        return first_offset(p, s, at_start, once);
    uint64_t fp;
    uint32_t got;
    if (checkpoint_fingerprint(t->fd, cp->fingerprint_len, &fp, &got) != 0 ||
        got != cp->fingerprint_len || fp != cp->fingerprint) {
        lme_log(LME_LOG_INFO, "a new file in a known inode: reading it from its start", "file",
                t->path, NULL);
        return 0;
    }
    if (cp->offset > t->size) {
        lme_log(LME_LOG_WARN, "file shorter than its checkpoint (truncated): reading it from its start",
                "file", t->path, NULL);
        return 0;
    }
    char off[24];
    if (cp->offset > 0)
        lme_log(LME_LOG_INFO, "resuming", "file", t->path, "offset", u64(off, sizeof(off), cp->offset),
                NULL);
    return cp->offset;
}

static int add_source(struct pipeline *p, size_t input, const char *path, bool at_start,
                      bool once, struct lme_err *err)
{
    long slot = take_slot(p);
    if (slot < 0)
        return lme_err_set(err, LME_ENOMEM, "pipeline: out of memory");
    struct source *s = &p->sources[slot];
    struct lme_err oerr;
    if (source_open(s, path, &p->source_cfgs[input], &oerr) != 0) {
        report_unreadable(p, path, oerr.msg);
        source_free(s);
        return oerr.code == LME_ENOMEM ? lme_err_set(err, LME_ENOMEM, "%s", oerr.msg) : 0;
    }
    s->input = input;
    s->tail.offset = start_offset(p, s, at_start, once);
    s->committed = s->tail.offset;
    s->last_growth_ms = mono_ms();
    s->seen = true;
    if (source_start(s, &oerr) != 0) {
        report_unreadable(p, path, oerr.msg);
        source_free(s);
        return oerr.code == LME_ENOMEM ? lme_err_set(err, LME_ENOMEM, "%s", oerr.msg) : 0;
    }
    char off[24];
    lme_log(LME_LOG_INFO, "following file", "file", s->tail.path, "offset",
            u64(off, sizeof(off), s->tail.offset), NULL);
    return 0;
}

/* The source following (dev, ino), superseded readings aside; or NULL. */
static struct source *find_source(struct pipeline *p, uint64_t dev, uint64_t ino)
{
    for (size_t i = 0; i < p->n_sources; i++) {
        struct source *s = &p->sources[i];
        if (source_used(s) && !s->superseded && s->tail.dev == dev && s->tail.ino == ino)
            return s;
    }
    return NULL;
}

/* Whether the file at path is still the one s read: a closed file's inode may have been freed
 * (deleted) and given to a new file, which then starts otherwise. An open file's inode cannot. */
static bool same_file_content(const struct source *s, const char *path)
{
    if (s->tail.fd >= 0 || s->tail.fingerprint_len == 0)
        return true;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return true; /* gone meanwhile: nothing to mistake */
    uint64_t fp;
    uint32_t got;
    bool same = checkpoint_fingerprint(fd, s->tail.fingerprint_len, &fp, &got) == 0 &&
                got == s->tail.fingerprint_len && fp == s->tail.fingerprint;
    close(fd);
    return same;
}

/* A known file found by a scan: follows its new name, and opens it again when it changed while
 * closed (idle, or done after a rotation). Returns false when the inode now holds another file:
 * the caller lets s go and takes the file as new. */
static bool revisit(struct source *s, const char *path, const struct stat *st)
{
    if (!same_file_content(s, path)) {
        lme_log(LME_LOG_INFO, "a new file in a known inode: reading it from its start", "file",
                path, NULL);
        s->superseded = true; /* freed once settled; its checkpoint is not saved again */
        s->done = true;
        return false;
    }
    s->seen = true;
    char absolute[PATH_MAX];
    if (realpath(path, absolute) && strcmp(absolute, s->tail.path) != 0) {
        char *copy = strdup(absolute);
        if (copy) {
            free(s->tail.path);
            s->tail.path = copy;
            s->rotated = false; /* found again under a name the inputs follow */
        }
    }
    if (s->tail.fd >= 0 || (uint64_t)st->st_size == s->tail.offset)
        return true;
    struct lme_err err;
    if (source_resume(s, &err) != 0)
        return true; /* replaced meanwhile: the next scan meets the new file */
    s->done = false;
    s->rotated = false;
    s->last_growth_ms = mono_ms();
    lme_log(LME_LOG_INFO, "file changed: reopened", "file", s->tail.path, NULL);
    return true;
}

static int scan_glob(struct pipeline *p, size_t input, const char *pattern, bool at_start,
                     bool once, struct lme_err *err)
{
    glob_t g;
    int grc = glob(pattern, 0, NULL, &g);
    if (grc == GLOB_NOMATCH && at_start)
        lme_log(LME_LOG_WARN, "no file matches (yet)", "path", pattern, NULL);
    if (grc != 0)
        return 0;
    int rc = 0;
    for (size_t f = 0; f < g.gl_pathc && !rc; f++) {
        struct stat st;
        if (stat(g.gl_pathv[f], &st) != 0 || S_ISDIR(st.st_mode))
            continue;
        struct source *s = find_source(p, (uint64_t)st.st_dev, (uint64_t)st.st_ino);
        if (!s || !revisit(s, g.gl_pathv[f], &st))
            rc = add_source(p, input, g.gl_pathv[f], at_start, once, err);
    }
    globfree(&g);
    return rc;
}

/* Matches every glob again: new files are added, known ones revisited; a file done and settled
 * that no glob matches any more is let go. */
static int scan_inputs(struct pipeline *p, bool at_start, bool once, struct lme_err *err)
{
    for (size_t i = 0; i < p->n_sources; i++)
        p->sources[i].seen = false;
    for (size_t i = 0; i < p->cfg->n_inputs; i++) {
        const struct config_input *in = &p->cfg->inputs[i];
        for (size_t k = 0; k < in->n_paths; k++) {
            watch_add_glob(p->watch, in->paths[k]);
            int rc = scan_glob(p, i, in->paths[k], at_start, once, err);
            if (rc)
                return rc;
        }
    }
    for (size_t i = 0; i < p->n_sources; i++) {
        struct source *s = &p->sources[i];
        if (source_used(s) && (s->done || s->superseded || s->tail.fd < 0) && !s->seen &&
            s->pending == 0)
            source_free(s); /* the slot is free again */
    }
    p->last_scan_ms = mono_ms();
    return 0;
}

#define TO_THE_END (-1)

/* Reads up to max_chunks chunks of the file, stopping early when interrupted; TO_THE_END reads
 * it to its end whatever happens. *eof tells whether its end was reached. */
static int read_source(struct pipeline *p, size_t idx, int max_chunks, bool *eof,
                       struct lme_err *err)
{
    struct source *s = &p->sources[idx];
    *eof = false;
    p->current = (uint32_t)idx;
    for (int i = 0; max_chunks == TO_THE_END || (i < max_chunks && !interrupted(p)); i++) {
        size_t got;
        struct lme_err rerr = { 0 };
        int rc = source_read(s, p->chunk, READ_CHUNK, wall_ms(), on_event, p, &got, &rerr);
        if (rc == LME_EIO && rerr.code == LME_EIO) {
            report_unreadable(p, s->tail.path, rerr.msg);
            *eof = true;
            return 0;
        }
        if (rc && rerr.code) {
            *err = rerr;
            return rc;
        }
        if (rc)
            return stage_failed(p, rc, s->tail.path, err);
        if (got == 0) {
            *eof = true;
            return 0;
        }
        p->stats.inputs[s->input].bytes += got;
        s->last_growth_ms = mono_ms();
        s->flushed = false;
    }
    return 0;
}

static void log_file_done(const struct source *s, const char *msg)
{
    char records[24], offset[24];
    lme_log(LME_LOG_INFO, msg, "file", s->tail.path, "records",
            u64(records, sizeof(records), s->records), "offset",
            u64(offset, sizeof(offset), s->tail.offset), NULL);
}

static int finish_source(struct pipeline *p, size_t idx, const char *msg, struct lme_err *err)
{
    struct source *s = &p->sources[idx];
    p->current = (uint32_t)idx;
    int rc = source_finish(s, wall_ms(), on_event, p);
    s->done = true;
    log_file_done(s, msg);
    return rc ? stage_failed(p, rc, s->tail.path, err) : 0;
}

/* A file shorter than what was read (copy-and-truncate): the old reading is finished and set
 * aside (its events still settle, but no longer move the checkpoint) and a new reading of the
 * same file starts at 0. */
static int restart_truncated(struct pipeline *p, size_t idx, struct lme_err *err)
{
    char was[24];
    p->stats.truncations++;
    lme_log(LME_LOG_WARN, "file truncated: reading it again from its start", "file",
            p->sources[idx].tail.path, "offset",
            u64(was, sizeof(was), p->sources[idx].tail.offset), NULL);
    long slot = take_slot(p); /* may move the table */
    if (slot < 0)
        return lme_err_set(err, LME_ENOMEM, "pipeline: out of memory");
    struct source *old = &p->sources[idx], *s = &p->sources[slot];
    *s = (struct source){ .cfg = old->cfg, .input = old->input, .seen = true };
    s->tail = old->tail; /* the new reading takes the descriptor */
    if (!(s->tail.path = strdup(old->tail.path)))
        return lme_err_set(err, LME_ENOMEM, "pipeline: out of memory");
    old->tail.fd = -1;
    old->superseded = true;
    p->current = (uint32_t)idx;
    int rc = source_finish(old, wall_ms(), on_event, p);
    old->done = true;
    if (rc)
        return stage_failed(p, rc, old->tail.path, err);
    s->tail.offset = 0;
    s->tail.fingerprint_len = 0; /* the new content's first bytes, once there */
    s->last_growth_ms = mono_ms();
    struct lme_err serr;
    if (source_start(s, &serr) != 0) {
        report_unreadable(p, s->tail.path, serr.msg);
        s->done = true;
    }
    return 0;
}

/* After reading a file to its end: what happened to it, and what is due now that it is silent. */
static int check_source(struct pipeline *p, size_t idx, int64_t now, struct lme_err *err)
{
    struct source *s = &p->sources[idx];
    const struct config_input *in = &p->cfg->inputs[s->input];
    int64_t silent = now - s->last_growth_ms;
    enum tail_change change = tail_check(&s->tail);
    if (change == TAIL_TRUNCATED)
        return restart_truncated(p, idx, err);
    if ((change == TAIL_MOVED || change == TAIL_DELETED) && !s->rotated) {
        s->rotated = true;
        lme_log(LME_LOG_INFO,
                change == TAIL_MOVED ? "file renamed away: reading it to its end"
                                     : "file deleted: reading it to its end",
                "file", s->tail.path, NULL);
    }
    if (s->rotated && silent >= in->rotate_wait_ms)
        return finish_source(p, idx, "file done", err);
    if (source_holds(s) && !s->flushed && silent >= in->multiline_flush_ms) {
        p->current = (uint32_t)idx;
        s->flushed = true; /* a partial line left: it waits for its end, not for a timer */
        int rc = source_flush(s, wall_ms(), on_event, p);
        if (rc)
            return stage_failed(p, rc, s->tail.path, err);
    }
    if (!s->rotated && silent >= in->close_inactive_ms) {
        source_suspend(s);
        lme_log(LME_LOG_INFO, "file inactive: closed until it changes", "file", s->tail.path, NULL);
    }
    return 0;
}

/* One pass over the open files. *busy: some file had more to read than one turn takes. */
static int follow_turn(struct pipeline *p, bool *busy, struct lme_err *err)
{
    *busy = false;
    int64_t now = mono_ms();
    for (size_t i = 0; i < p->n_sources && !interrupted(p); i++) {
        if (!source_used(&p->sources[i]) || p->sources[i].tail.fd < 0)
            continue;
        bool eof;
        int rc = read_source(p, i, CHUNKS_PER_TURN, &eof, err);
        if (!rc && eof)
            rc = check_source(p, i, now, err);
        if (rc)
            return rc;
        *busy |= !eof;
    }
    return 0;
}

/* A backfill's progress on a terminal: files and bytes done, the rate, the time left. */
struct progress {
    bool on;
    size_t files, files_done;
    uint64_t bytes, bytes_at_start;
    int64_t start_ms, last_ms;
};

static uint64_t bytes_read_so_far(const struct pipeline *p)
{
    uint64_t n = 0;
    for (size_t i = 0; i < p->cfg->n_inputs; i++)
        n += p->stats.inputs[i].bytes;
    return n;
}

static void progress_start(struct pipeline *p, struct progress *pr)
{
    memset(pr, 0, sizeof(*pr));
    pr->on = isatty(STDERR_FILENO);
    pr->start_ms = pr->last_ms = mono_ms();
    for (size_t i = 0; i < p->n_sources; i++) {
        const struct source *s = &p->sources[i];
        if (!source_used(s) || s->done)
            continue;
        pr->files++;
        pr->bytes += s->tail.size > s->tail.offset ? s->tail.size - s->tail.offset : 0;
    }
    pr->bytes_at_start = bytes_read_so_far(p);
}

static void progress_show(struct pipeline *p, struct progress *pr, bool last)
{
    int64_t now = mono_ms();
    if (!pr->on || (!last && now - pr->last_ms < 1000))
        return;
    pr->last_ms = now;
    uint64_t done = bytes_read_so_far(p) - pr->bytes_at_start, records = 0;
    for (size_t i = 0; i < p->cfg->n_inputs; i++)
        records += p->stats.inputs[i].records;
    double secs = (double)(now - pr->start_ms) / 1000.0;
    double left = done > 0 && pr->bytes > done ? secs * (double)(pr->bytes - done) / (double)done : 0;
    fprintf(stderr, "\rlme-ingest: %zu/%zu files, %.1f of %.1f MB, %.0f records/s, %d:%02d left  %s",
            pr->files_done, pr->files, (double)done / 1e6, (double)pr->bytes / 1e6,
            secs > 0 ? (double)records / secs : 0, (int)left / 60, (int)left % 60, last ? "\n" : "");
    fflush(stderr);
}

int pipeline_read_inputs(struct pipeline *p, volatile sig_atomic_t *stop, struct lme_err *err)
{
    p->stop = stop;
    int rc = scan_inputs(p, true, true, err);
    p->ready = true;
    struct progress pr;
    progress_start(p, &pr);
    for (size_t i = 0; !rc && i < p->n_sources && !interrupted(p); i++) {
        if (!source_used(&p->sources[i]) || p->sources[i].done)
            continue;
        bool eof = false;
        while (!rc && !eof && !interrupted(p)) {
            rc = read_source(p, i, CHUNKS_PER_TURN, &eof, err);
            progress_show(p, &pr, false);
        }
        if (!rc && eof)
            rc = finish_source(p, i, "file read", err);
        pr.files_done++;
    }
    progress_show(p, &pr, true);
    return rc;
}

/* How long the follow loop may sleep: until the next poll, or sooner when a silent file's last
 * record falls due (multiline_flush_ms), so that it goes out on time. */
static int idle_wait_ms(const struct pipeline *p)
{
    int wait = in_flight(p) > 0 ? IN_FLIGHT_WAIT_MS : p->cfg->poll_interval_ms;
    int64_t now = mono_ms();
    for (size_t i = 0; i < p->n_sources; i++) {
        const struct source *s = &p->sources[i];
        if (!source_used(s) || s->tail.fd < 0 || s->flushed || !source_holds(s))
            continue;
        int64_t due = s->last_growth_ms + p->cfg->inputs[s->input].multiline_flush_ms - now;
        if (due < wait)
            wait = due > 1 ? (int)due : 1;
    }
    return wait;
}

int pipeline_follow(struct pipeline *p, volatile sig_atomic_t *stop,
                    volatile sig_atomic_t *reload, struct lme_err *err)
{
    p->stop = stop;
    p->reload = reload;
    int rc = scan_inputs(p, true, false, err);
    p->ready = true;
    if (p->snap)
        pipeline_publish_metrics(p);
    bool names_changed = false;
    while (!rc && !interrupted(p)) {
        if (names_changed || mono_ms() - p->last_scan_ms >= p->cfg->scan_interval_ms)
            rc = scan_inputs(p, false, false, err);
        bool busy = false;
        if (!rc)
            rc = follow_turn(p, &busy, err);
        if (!rc)
            rc = poll_sinks(p, 0, err);
        if (rc || busy)
            continue;
        names_changed = watch_wait(p->watch, idle_wait_ms(p)) == WATCH_NAMES;
    }
    return rc;
}

int pipeline_release_rotated(struct pipeline *p, struct lme_err *err)
{
    for (size_t i = 0; i < p->n_sources; i++) {
        struct source *s = &p->sources[i];
        if (!source_used(s) || s->done || s->tail.fd < 0 || (!s->rotated && !s->superseded))
            continue;
        /* the budget still holds unless stopping cuts its wait short: then what is left of
         * these files (normally the last moments' writes) goes over it */
        bool eof;
        int rc = read_source(p, i, TO_THE_END, &eof, err);
        if (!rc)
            rc = finish_source(p, i, "file done", err);
        if (rc)
            return rc;
    }
    return 0;
}

int64_t pipeline_drain(struct pipeline *p, int timeout_ms, volatile sig_atomic_t *stop,
                       struct lme_err *err)
{
    int64_t deadline = timeout_ms < 0 ? INT64_MAX : mono_ms() + timeout_ms;
    for (;;) {
        int rc = poll_sinks(p, 50, err);
        if (rc)
            return rc;
        int64_t left = in_flight(p);
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
