/* The enrichment stage: watches every event for log context and gives each 41220 its diagnosis
 * (lme.diagnosis), from probes of its connector run on a thread of their own and cached, so a
 * burst of 41220s costs one probe round. A 41220 waits for a running round at most max_wait_ms;
 * then it goes out with what is known. */
#ifndef LME_ENRICH_H
#define LME_ENRICH_H

#include <stddef.h>
#include <stdint.h>

#include "diagnosis.h"
#include "err.h"
#include "event.h"
#include "probes.h"

struct enrich_config {
    int enabled;           /* 0: events pass through untouched (for comparisons) */
    const struct enrich_connector *connectors; /* borrowed; must outlive the stage */
    size_t n_connectors;
    int cache_ms;          /* a probe round's results serve this long */
    int max_wait_ms;       /* the longest a 41220 waits for its probes */
    int probe_timeout_ms;  /* a round's network budget */
    int context_records;   /* kept per host and component */
    int context_max_age_ms;
};

struct enrich_stats {
    uint64_t diagnosed;
    uint64_t probe_rounds;
    uint64_t late; /* 41220s sent before their probes finished */
    uint64_t by_cause[CAUSE_COUNT];
};

struct enrich;

/* Starts the probe thread. Returns NULL with err filled. */
struct enrich *enrich_create(const struct enrich_config *cfg, struct lme_err *err);

/* Stops the probe thread (waiting for a running round) and frees everything. NULL-safe. */
void enrich_destroy(struct enrich *e);

/* Called with every event, in order, but 41220s: keeps the log context. Cheap for events that
 * cannot explain a 41220. Returns 0 or LME_ENOMEM. */
int enrich_observe(struct enrich *e, const struct lme_event *ev);

/* Called with each 41220 (enrich_wants): fills ev->diagnosis (valid until the next call) and
 * sets LME_EV_DIAGNOSED; *cause tells which. connector: the name the event's input gives, or
 * NULL. While it waits for probes it calls waiting(ctx) about every 10 ms (the pipeline serves
 * its sinks then). Returns 0 or LME_ENOMEM. */
int enrich_event(struct enrich *e, const char *connector, struct lme_event *ev,
                 void (*waiting)(void *ctx), void *ctx, enum diagnosis_cause *cause);

/* Connector i's probe rounds so far and, when one finished (returns 1), its last report. */
int enrich_connector_state(struct enrich *e, size_t i, uint64_t *rounds,
                           struct probe_report *report);

/* A consistent copy of the counters (the probe thread updates some). */
void enrich_get_stats(struct enrich *e, struct enrich_stats *out);

/* 1 when the event is a 41220 (the only ones enrich_event changes). */
int enrich_wants(const struct lme_event *ev);

#endif
