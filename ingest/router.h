/* The routing of events to sinks: each event from the inputs goes through the enrichment (log
 * context; a 41220 gets its diagnosis), is encoded to JSON once, gets a token from commit.h and
 * goes to every sink; while the sinks' in-flight bytes are at the budget (max_in_flight_bytes),
 * sending waits, serving the sinks. Owns the sinks and the enrichment stage.
 *
 * Threads: one. The sinks settle on this thread, inside router_send and router_poll (sink.h),
 * also a Kafka sink that produces on a thread of its own (sink_thread.h); settlements only mark
 * records in commit. */
#ifndef LME_ROUTER_H
#define LME_ROUTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "commit.h"
#include "config.h"
#include "enrich.h"
#include "err.h"
#include "origin.h"
#include "pipeline_stats.h"
#include "sink.h"

/* Counters of one config input's events. */
struct router_counts {
    uint64_t records, parse_failures;
    uint64_t diagnoses[CAUSE_COUNT];
};

struct router_stats {
    struct router_counts *inputs;         /* per config input */
    uint64_t by_code[STATS_CODES + 2];    /* see pipeline_stats_code_index */
};

/* Called about every 10 ms while sending waits (for the budget, or for a 41220's probes), after
 * the sinks were served. Returns false to stop waiting for the budget (stopping: what is read goes
 * over it). Must not change the inputs or save anything: it runs inside a parser callback. */
typedef bool (*router_waiting_fn)(void *ctx);

struct router;

/* Creates cfg's sinks (settling into commit) and the enrichment stage. cfg and commit are
 * borrowed until router_destroy. Returns NULL with err filled. */
struct router *router_create(const struct config *cfg, struct commit *commit,
                             router_waiting_fn waiting, void *waiting_ctx, struct lme_err *err);

/* NULL-safe. Events in flight are abandoned: drain first. */
void router_destroy(struct router *r);

/* An origin_emit_fn (ctx: the router): the event to every sink, then waits while the budget is
 * spent. Returns 0, or a negative code with err filled when a sink fails for good or memory runs
 * out. */
int router_send(void *ctx, const struct lme_event *ev, const struct origin *from,
                struct lme_err *err);

/* While following, from the main loop: periodic probe rounds, their verdicts and incidents whose
 * log went quiet (docs/incidents.md); the incident events they make go to the sinks. At most every
 * 100 ms, whatever the calls. Returns 0 or a sink's failure with err filled. */
int router_tick(struct router *r, struct lme_err *err);

/* Hands the incidents' state and the incident events not settled yet to commit_set_state, for the
 * next commit_save: call just before it, so that it matches the offsets saved. */
int router_save_state(struct router *r, struct lme_err *err);

/* Serves the sinks' acknowledgements and retries, waiting up to timeout_ms for the first.
 * Returns 0 or a sink's failure with err filled. */
int router_poll(struct router *r, int timeout_ms, struct lme_err *err);

/* Events handed to the sinks and not settled yet. */
int64_t router_in_flight(const struct router *r);

/* The sinks, for statistics and health. Borrowed until router_destroy. */
struct sink *const *router_sinks(const struct router *r, size_t *n);

/* The enrichment stage, for its statistics. Borrowed until router_destroy. */
struct enrich *router_enrich(const struct router *r);

/* Counters. Borrowed until router_destroy. */
const struct router_stats *router_stats(const struct router *r);

#endif
