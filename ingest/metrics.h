/* Metrics in the Prometheus text format (docs/metrics.md): a small writer, a latency histogram,
 * and the snapshot the HTTP thread serves. The pipeline's thread renders the text and publishes
 * it; the HTTP thread only copies the last snapshot, so a scrape never touches live state. */
#ifndef LME_METRICS_H
#define LME_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"

#define METRICS_LATENCY_BUCKETS 14

struct metrics_histogram {
    uint64_t buckets[METRICS_LATENCY_BUCKETS]; /* observations <= each bound (not cumulative) */
    uint64_t count;
    double sum;
};

/* The bucket bounds of lme_delivery_latency_seconds, in seconds. */
extern const double metrics_latency_bounds[METRICS_LATENCY_BUCKETS];

void metrics_histogram_observe(struct metrics_histogram *h, double seconds);

/* Formats label pairs (key, value, ..., NULL) as `k1="v1",k2="v2"`, values escaped. Returns
 * out; a label set that does not fit is cut at a pair boundary. */
const char *metrics_labels(char *out, size_t size, ...) __attribute__((sentinel));

/* `# HELP name help` and `# TYPE name type`. Returns 0 or LME_ENOMEM. */
int metrics_family(struct lme_buf *b, const char *name, const char *type, const char *help);

/* `name{labels} value` (labels NULL or "": none). Returns 0 or LME_ENOMEM. */
int metrics_sample(struct lme_buf *b, const char *name, const char *labels, double value);

/* The _bucket, _sum and _count samples of a histogram family. */
int metrics_histogram_write(struct lme_buf *b, const char *name, const char *labels,
                            const struct metrics_histogram *h);

/* Counters carried across a reload: Prometheus counters must not go down while the process
 * lives, but a reload builds new stages whose counts start at 0. What the old pipeline last
 * showed is taken as an offset per series (name and labels) and added to what the new one shows.
 * Counters and histograms (_bucket, _sum, _count) are carried; gauges are not. */
struct metrics_carry {
    struct metrics_carried *v; /* sorted by series */
    size_t n;
};

/* Replaces c with the counter series of an exposition text (what a pipeline last published,
 * offsets included). Returns 0 or LME_ENOMEM (c is then empty). */
int metrics_carry_take(struct metrics_carry *c, const char *text, size_t len);

/* in with every carried counter series raised by its offset, appended to out. Returns 0 or
 * LME_ENOMEM. */
int metrics_carry_apply(const struct metrics_carry *c, const char *in, size_t len,
                        struct lme_buf *out);

/* The offset of one series ("name" or "name{labels}"), 0 when none. */
double metrics_carry_get(const struct metrics_carry *c, const char *series);

void metrics_carry_free(struct metrics_carry *c);

enum metrics_page { METRICS_PAGE_METRICS, METRICS_PAGE_HEALTH, METRICS_PAGE_READY };

struct metrics_snapshot;

/* Returns NULL with err filled. Shared by the pipeline (publishes) and the HTTP server (reads). */
struct metrics_snapshot *metrics_snapshot_create(struct lme_err *err);
void metrics_snapshot_destroy(struct metrics_snapshot *s); /* NULL-safe */

/* Replaces what is served: the metrics text, whether the daemon is healthy (and why not), and
 * whether it is ready. Returns 0 or LME_ENOMEM (the previous snapshot stays). */
int metrics_snapshot_publish(struct metrics_snapshot *s, const char *text, size_t len,
                             int healthy, const char *reason, int ready);

/* Sets only readiness (reloading, stopping). */
void metrics_snapshot_set_ready(struct metrics_snapshot *s, int ready);

/* A copy of a page's body (malloc'd, the caller frees) and its HTTP status. Returns 0 or
 * LME_ENOMEM. */
int metrics_snapshot_page(struct metrics_snapshot *s, enum metrics_page page, char **body,
                          size_t *len, int *status);

#endif
