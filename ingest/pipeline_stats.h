/* The pipeline's counters for /metrics and /health (docs/metrics.md): what the pipeline counts as
 * it goes, and how it is rendered. pipeline.c gathers the counters of the inputs, the router and
 * the commit into one of these before rendering it. */
#ifndef LME_PIPELINE_STATS_H
#define LME_PIPELINE_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "config.h"
#include "enrich.h"
#include "event.h"
#include "inputs.h"
#include "metrics.h"
#include "sink.h"

#define STATS_CODES 10 /* the codes counted one by one; then "other" and "none" */

struct input_stats {
    uint64_t bytes, records, parse_failures;
    uint64_t diagnoses[CAUSE_COUNT];
    uint64_t files; /* followed now, refreshed before each render */
};

struct sink_progress {
    uint64_t settled;     /* delivered + dead-lettered when last looked at */
    int64_t last_move_ms; /* when that last grew, or nothing was in flight */
};

struct pipeline_stats {
    struct input_stats *inputs; /* per config input */
    uint64_t by_code[STATS_CODES + 2];
    uint64_t truncations;
    uint64_t files_waiting, files_refused, open_files_budget;
    uint64_t checkpoint_ok, checkpoint_errors;
    struct metrics_histogram latency;
    struct sink_progress *sinks; /* per sink */
    int64_t started_ms;          /* wall clock, for uptime */
};

/* Returns 0 or LME_ENOMEM. */
int pipeline_stats_init(struct pipeline_stats *st, size_t n_inputs, size_t n_sinks,
                        int64_t started_ms);
void pipeline_stats_free(struct pipeline_stats *st);

/* Where an event is counted in by_code: its code's index among the codes counted one by one,
 * STATS_CODES for another code, STATS_CODES + 1 for none. */
size_t pipeline_stats_code_index(const struct lme_event *ev);

/* Health: unhealthy when a sink had events in flight and settled none for stall_ms (reason
 * filled). Also updates each sink's progress. */
bool pipeline_stats_healthy(struct pipeline_stats *st, struct sink *const *sinks, size_t n_sinks,
                            int64_t now_ms, int stall_ms, char *reason, size_t size);

/* Renders every metric. lags: one per followed file. Returns 0 or LME_ENOMEM. */
int pipeline_stats_render(const struct pipeline_stats *st, const struct config *cfg,
                          struct sink *const *sinks, size_t n_sinks, struct enrich *enrich,
                          const struct lag *lags, size_t n_lags, int64_t now_ms,
                          struct lme_buf *out);

#endif
