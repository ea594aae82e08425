/* The pipeline: see pipeline.h. Each event is encoded to JSON once and that text is handed to
 * every sink; the sinks' in-flight bytes, summed, are the one budget backpressure watches. Every
 * event gets a token from acks.c; the sinks' settlements move each file's committed offset: the
 * end of its last record such that it and everything before it was settled by every sink. */
#include "pipeline.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "acks.h"
#include "buf.h"
#include "checkpoint.h"
#include "event_json.h"
#include "file_sink.h"
#include "kafka_sink.h"
#include "log.h"
#include "parser.h"
#include "sink.h"
#include "tz.h"

#define READ_CHUNK (1024 * 1024)
#define BACKPRESSURE_POLL_MS 10

/* A file read by this run, and how far every sink has settled it. */
struct source {
    char *path;
    uint64_t dev, ino;
    uint64_t fingerprint;
    uint32_t fingerprint_len;
    uint64_t read;      /* bytes read (from the start of the file, resumed ones included) */
    uint64_t committed; /* offset every record before which is settled by every sink */
};

struct pipeline {
    const struct config *cfg;
    struct acks *acks;
    struct source *sources;
    size_t n_sources, cap_sources;
    uint32_t current; /* the source being read */
    struct checkpoints checkpoints; /* as loaded, updated by each save */
    int64_t last_save_ms;
    struct sink **sinks;
    size_t n_sinks;
    struct lme_tz **zones; /* one per input */
    char *chunk;
    struct lme_buf json;
    uint64_t records;
    uint64_t files;
    struct lme_err sink_err; /* a sink's failure seen inside the parser's callback */
    volatile sig_atomic_t *stop;
};

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

struct pipeline *pipeline_create(const struct config *cfg, struct lme_err *err)
{
    struct pipeline *p = calloc(1, sizeof(*p));
    if (!p || !(p->sinks = calloc(cfg->n_sinks, sizeof(*p->sinks))) ||
        !(p->zones = calloc(cfg->n_inputs, sizeof(*p->zones))) || !(p->chunk = malloc(READ_CHUNK))) {
        lme_err_set(err, LME_ENOMEM, "pipeline: out of memory");
        goto fail;
    }
    p->cfg = cfg;
    if (!(p->acks = acks_create(err)) || make_state_dir(cfg->state_dir, err) != 0)
        goto fail;
    p->last_save_ms = mono_ms();
    struct lme_err cperr;
    if (checkpoints_load(cfg->state_dir, &p->checkpoints, &cperr) != 0)
        lme_log(LME_LOG_WARN, "checkpoints ignored: every file is read from its start", "error",
                cperr.msg, NULL);
    for (size_t i = 0; i < cfg->n_inputs; i++)
        if (!(p->zones[i] = lme_tz_open(cfg->inputs[i].timezone, err)))
            goto fail;
    for (; p->n_sinks < cfg->n_sinks; p->n_sinks++) {
        struct sink *s = sink_create(cfg, &cfg->sinks[p->n_sinks], err);
        if (!s)
            goto fail;
        snprintf(s->name, sizeof(s->name), "%s[%zu]", s->ops->type, p->n_sinks);
        s->settled = on_settled;
        s->settled_ctx = p->acks;
        p->sinks[p->n_sinks] = s;
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
        free(p->sources[i].path);
    free(p->sources);
    acks_destroy(p->acks);
    checkpoints_free(&p->checkpoints);
    free(p->sinks);
    free(p->zones);
    free(p->chunk);
    lme_buf_free(&p->json);
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

static void on_committed(void *ctx, uint32_t source, uint64_t end_offset)
{
    struct pipeline *p = ctx;
    p->sources[source].committed = end_offset;
}

int pipeline_checkpoint(struct pipeline *p, struct lme_err *err)
{
    for (size_t i = 0; i < p->n_sources; i++) {
        const struct source *s = &p->sources[i];
        struct checkpoint cp = { s->path, s->dev, s->ino, s->fingerprint, s->fingerprint_len,
                                 s->committed };
        if (checkpoints_set(&p->checkpoints, &cp) != 0)
            return lme_err_set(err, LME_ENOMEM, "checkpoints: out of memory");
    }
    p->last_save_ms = mono_ms();
    return checkpoints_save(p->cfg->state_dir, &p->checkpoints, err);
}

static int poll_sinks(struct pipeline *p, int timeout_ms, struct lme_err *err)
{
    for (size_t i = 0; i < p->n_sinks; i++) {
        int rc = p->sinks[i]->ops->poll(p->sinks[i], i == 0 ? timeout_ms : 0, err);
        if (rc)
            return rc;
    }
    acks_advance(p->acks, on_committed, p);
    if (mono_ms() - p->last_save_ms >= p->cfg->checkpoint_interval_ms) {
        struct lme_err cperr;
        /* a failed save keeps the last good file; the next interval tries again */
        if (pipeline_checkpoint(p, &cperr) != 0)
            lme_log(LME_LOG_ERROR, "cannot save checkpoints", "error", cperr.msg, NULL);
    }
    return 0;
}

/* Every event goes to every sink; then reading waits while the budget is spent. */
static int on_event(const struct lme_event *ev, void *ctx)
{
    struct pipeline *p = ctx;
    lme_buf_reset(&p->json);
    if (event_json_encode(ev, &p->json) != 0)
        return lme_err_set(&p->sink_err, LME_ENOMEM, "pipeline: out of memory");
    p->records++;
    uint64_t token;
    if (acks_add(p->acks, p->current, ev->end_offset, &token) != 0)
        return lme_err_set(&p->sink_err, LME_ENOMEM, "pipeline: out of memory");
    for (size_t i = 0; i < p->n_sinks; i++) {
        int copies = p->sinks[i]->ops->send(p->sinks[i], ev, p->json.data, p->json.len, token,
                                            &p->sink_err);
        if (copies < 0)
            return copies;
        acks_expect(p->acks, token, copies);
    }
    while (in_flight_bytes(p) >= p->cfg->max_in_flight_bytes && !*p->stop) {
        int rc = poll_sinks(p, BACKPRESSURE_POLL_MS, &p->sink_err);
        if (rc)
            return rc;
    }
    return 0;
}

static int add_source(struct pipeline *p, const char *path, const struct source *identity,
                      struct lme_err *err)
{
    if (p->n_sources == p->cap_sources) {
        size_t cap = p->cap_sources ? 2 * p->cap_sources : 16;
        struct source *s = realloc(p->sources, cap * sizeof(*s));
        if (!s)
            return lme_err_set(err, LME_ENOMEM, "pipeline: out of memory");
        p->sources = s;
        p->cap_sources = cap;
    }
    char *copy = strdup(path);
    if (!copy)
        return lme_err_set(err, LME_ENOMEM, "pipeline: out of memory");
    p->sources[p->n_sources] = *identity;
    p->sources[p->n_sources].path = copy;
    p->current = (uint32_t)p->n_sources++;
    return 0;
}

/* Where reading fd starts: the checkpoint's offset when one names this very file (same device,
 * inode and first bytes) and the file is not shorter than it; else the start. Fills the source's
 * identity. */
static uint64_t resume_offset(struct pipeline *p, int fd, const struct stat *st, const char *path,
                              struct source *src)
{
    src->dev = (uint64_t)st->st_dev;
    src->ino = (uint64_t)st->st_ino;
    if (checkpoint_fingerprint(fd, CHECKPOINT_FINGERPRINT_BYTES, &src->fingerprint,
                               &src->fingerprint_len) != 0)
        src->fingerprint_len = 0;
    struct checkpoint *cp = checkpoints_find(&p->checkpoints, src->dev, src->ino);
    if (!cp)
        return 0;
    uint64_t fp;
    uint32_t got;
    if (checkpoint_fingerprint(fd, cp->fingerprint_len, &fp, &got) != 0 ||
        got != cp->fingerprint_len || fp != cp->fingerprint) {
        lme_log(LME_LOG_INFO, "a new file in a known inode: reading it from its start", "file",
                path, NULL);
        return 0;
    }
    if (cp->offset > (uint64_t)st->st_size) {
        lme_log(LME_LOG_WARN, "file shorter than its checkpoint (truncated): reading it from its start",
                "file", path, NULL);
        return 0;
    }
    if (cp->offset > 0) {
        char off[24];
        snprintf(off, sizeof(off), "%llu", (unsigned long long)cp->offset);
        lme_log(LME_LOG_INFO, "resuming", "file", path, "offset", off, NULL);
    }
    return cp->offset;
}

static int read_file(struct pipeline *p, size_t input, const char *path, struct lme_err *err)
{
    const struct config_input *in = &p->cfg->inputs[input];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        lme_log(LME_LOG_ERROR, "cannot read input", "file", path, "error",
                fd < 0 ? strerror(errno) : "not a regular file", NULL);
        if (fd >= 0)
            close(fd);
        return 0;
    }
    char absolute[PATH_MAX]; /* log.file.path is absolute, whatever the glob was */
    const char *abs_path = realpath(path, absolute) ? absolute : path;
    struct source src = { 0 };
    uint64_t start = resume_offset(p, fd, &st, abs_path, &src);
    if (start > 0 && lseek(fd, (off_t)start, SEEK_SET) < 0)
        start = 0;
    src.read = src.committed = start;
    struct parser_config pc = {
        .path = abs_path,
        .host = in->host_name ? in->host_name : p->cfg->host_name,
        .tz = p->zones[input],
        .file_dev = (uint64_t)st.st_dev,
        .file_ino = (uint64_t)st.st_ino,
        .max_record_bytes = p->cfg->max_record_bytes,
        .start_offset = start,
    };
    int rc = add_source(p, pc.path, &src, err);
    struct parser *parser = rc ? NULL : parser_create(&pc, err);
    if (!rc && !parser)
        rc = err->code;
    while (!rc && !*p->stop) {
        ssize_t n = read(fd, p->chunk, READ_CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            lme_log(LME_LOG_ERROR, "cannot read input", "file", path, "error", strerror(errno), NULL);
            break;
        }
        p->sources[p->current].read += (uint64_t)n;
        rc = n == 0 ? parser_finish(parser, wall_ms(), on_event, p)
                    : parser_feed(parser, p->chunk, (size_t)n, wall_ms(), on_event, p);
        if (n == 0)
            break;
    }
    if (rc && parser) { /* a sink's failure, or the parser's own */
        if (p->sink_err.code)
            *err = p->sink_err;
        else
            lme_err_set(err, rc, "parsing %s: out of memory", path);
    }
    if (parser) {
        const struct parser_stats *s = parser_stats(parser);
        char records[24], failures[24];
        snprintf(records, sizeof(records), "%llu", (unsigned long long)s->records);
        snprintf(failures, sizeof(failures), "%llu", (unsigned long long)s->parse_failures);
        lme_log(LME_LOG_INFO, "file read", "file", path, "records", records, "parse_failures",
                failures, NULL);
    }
    parser_destroy(parser);
    close(fd);
    p->files++;
    return rc;
}

int pipeline_read_inputs(struct pipeline *p, volatile sig_atomic_t *stop, struct lme_err *err)
{
    p->stop = stop;
    for (size_t i = 0; i < p->cfg->n_inputs && !*stop; i++) {
        const struct config_input *in = &p->cfg->inputs[i];
        for (size_t k = 0; k < in->n_paths && !*stop; k++) {
            glob_t g;
            int grc = glob(in->paths[k], GLOB_ERR, NULL, &g);
            if (grc == GLOB_NOMATCH)
                lme_log(LME_LOG_WARN, "no file matches", "path", in->paths[k], NULL);
            for (size_t f = 0; grc == 0 && f < g.gl_pathc && !*stop; f++) {
                int rc = read_file(p, i, g.gl_pathv[f], err);
                if (rc) {
                    globfree(&g);
                    return rc;
                }
            }
            if (grc == 0)
                globfree(&g);
        }
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
        snprintf(v[0], sizeof(v[0]), "%llu", (unsigned long long)s->accepted);
        snprintf(v[1], sizeof(v[1]), "%llu", (unsigned long long)s->delivered);
        snprintf(v[2], sizeof(v[2]), "%llu", (unsigned long long)s->dead_lettered);
        snprintf(v[3], sizeof(v[3]), "%llu", (unsigned long long)s->retried);
        snprintf(v[4], sizeof(v[4]), "%llu", (unsigned long long)s->in_flight);
        lme_log(LME_LOG_INFO, "sink totals", "sink", p->sinks[i]->name, "accepted", v[0],
                "delivered", v[1], "dead_lettered", v[2], "retried", v[3], "in_flight", v[4], NULL);
    }
    for (size_t i = 0; i < p->n_sources; i++) {
        char committed[24], read[24];
        snprintf(committed, sizeof(committed), "%llu", (unsigned long long)p->sources[i].committed);
        snprintf(read, sizeof(read), "%llu", (unsigned long long)p->sources[i].read);
        lme_log(LME_LOG_INFO, "file settled up to", "file", p->sources[i].path, "offset", committed,
                "read", read, NULL);
    }
}
