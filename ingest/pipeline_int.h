/* Inside the pipeline: what pipeline.c (sinks, acknowledgements, checkpoints, metrics) and
 * follow.c (the file inputs) share. Nothing outside these two files includes it. */
#ifndef LME_PIPELINE_INT_H
#define LME_PIPELINE_INT_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "acks.h"
#include "buf.h"
#include "checkpoint.h"
#include "config.h"
#include "enrich.h"
#include "err.h"
#include "event.h"
#include "metrics.h"
#include "pipeline.h"
#include "pipeline_stats.h"
#include "sink.h"
#include "source.h"
#include "tz.h"
#include "watch.h"

#define READ_CHUNK (1024 * 1024)
#define MAX_UNREADABLE 1024

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
    int64_t read_at_ms;            /* when the chunk being parsed was read (monotonic) */
    bool ready;                    /* the inputs were scanned */
    bool bad_checkpoints;          /* checkpoints.json could not be read at start */
    struct lme_err sink_err; /* a sink's failure seen inside the parser's callback */
    volatile sig_atomic_t *stop, *reload;
};

static inline int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline const char *u64(char *buf, size_t size, uint64_t v)
{
    snprintf(buf, size, "%llu", (unsigned long long)v);
    return buf;
}

static inline bool interrupted(const struct pipeline *p)
{
    return (p->stop && *p->stop) || (p->reload && *p->reload);
}

/* A slot of the source table in use (a file followed or being settled). */
static inline bool source_used(const struct source *s)
{
    return s->tail.path != NULL;
}

/* pipeline.c, for follow.c: */

/* The parser's callback: every event to every sink (parser_emit_fn). */
int pipeline_on_event(const struct lme_event *ev, void *ctx);

/* Serves the sinks (acknowledgements, checkpoints, metrics), waiting up to timeout_ms. */
int pipeline_poll_sinks(struct pipeline *p, int timeout_ms, struct lme_err *err);

/* A non-zero return of a parser call: fills err with the sink's failure, or memory. */
int pipeline_stage_failed(struct pipeline *p, int rc, const char *path, struct lme_err *err);

/* Events handed to the sinks and not settled yet. */
int64_t pipeline_in_flight(const struct pipeline *p);

/* follow.c, for pipeline.c: */

/* Drops the checkpoint entries of files no source follows and whose path no longer names them. */
void follow_prune_checkpoints(struct pipeline *p);

#endif
