/* The pipeline's counters and their rendering: see pipeline_stats.h and docs/metrics.md. */
#include "pipeline_stats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"

static const char *const counted_codes[STATS_CODES] = {
    "41220", "41210", "41207", "01211", "00510", "00505", "64210", "41300", "41217", "08226",
};

int pipeline_stats_init(struct pipeline_stats *st, size_t n_inputs, size_t n_sinks,
                        int64_t started_ms)
{
    memset(st, 0, sizeof(*st));
    st->inputs = calloc(n_inputs ? n_inputs : 1, sizeof(*st->inputs));
    st->sinks = calloc(n_sinks ? n_sinks : 1, sizeof(*st->sinks));
    st->started_ms = started_ms;
    return st->inputs && st->sinks ? 0 : LME_ENOMEM;
}

void pipeline_stats_free(struct pipeline_stats *st)
{
    free(st->inputs);
    free(st->sinks);
    st->inputs = NULL;
    st->sinks = NULL;
}

/* The five digits as one integer: ten integer comparisons per event instead of ten memcmp. */
static uint64_t code_key(const char *code)
{
    uint64_t k = 0;
    memcpy(&k, code, 5);
    return k;
}

size_t pipeline_stats_code_index(const struct lme_event *ev)
{
    static uint64_t keys[STATS_CODES];
    if (!keys[0])
        for (size_t i = 0; i < STATS_CODES; i++)
            keys[i] = code_key(counted_codes[i]);
    if (ev->code.len != 5)
        return STATS_CODES + 1; /* none */
    uint64_t k = code_key(ev->code.ptr);
    for (size_t i = 0; i < STATS_CODES; i++)
        if (k == keys[i])
            return i;
    return STATS_CODES; /* other */
}

bool pipeline_stats_healthy(struct pipeline_stats *st, struct sink *const *sinks, size_t n_sinks,
                            int64_t now_ms, int stall_ms, char *reason, size_t size)
{
    bool healthy = true;
    reason[0] = '\0';
    for (size_t i = 0; i < n_sinks; i++) {
        const struct sink_stats *s = &sinks[i]->stats;
        struct sink_progress *p = &st->sinks[i];
        uint64_t settled = s->delivered + s->dead_lettered;
        if (settled != p->settled || s->in_flight == 0 || p->last_move_ms == 0) {
            p->settled = settled;
            p->last_move_ms = now_ms;
            continue;
        }
        if (now_ms - p->last_move_ms < stall_ms || !healthy)
            continue;
        healthy = false;
        snprintf(reason, size, "%s: %llu events in flight, none delivered for %lld s", sinks[i]->name,
                 (unsigned long long)s->in_flight, (long long)((now_ms - p->last_move_ms) / 1000));
    }
    return healthy;
}

/* The distinct host names of the inputs, in input order; returns how many. */
static size_t input_hosts(const struct config *cfg, const char **hosts)
{
    size_t n = 0;
    for (size_t i = 0; i < cfg->n_inputs; i++) {
        const char *h = cfg->inputs[i].host_name ? cfg->inputs[i].host_name : cfg->host_name;
        size_t k = 0;
        while (k < n && strcmp(hosts[k], h) != 0)
            k++;
        if (k == n)
            hosts[n++] = h;
    }
    return n;
}

static const char *host_of(const struct config *cfg, size_t i)
{
    return cfg->inputs[i].host_name ? cfg->inputs[i].host_name : cfg->host_name;
}

static int render_inputs(const struct pipeline_stats *st, const struct config *cfg,
                         struct lme_buf *b)
{
    static const struct {
        const char *name, *type, *help;
        size_t field; /* offset in struct input_stats */
    } families[] = {
        { "lme_input_bytes_read_total", "counter", "Bytes read from the input's files.",
          offsetof(struct input_stats, bytes) },
        { "lme_input_records_total", "counter", "Records read (events made).",
          offsetof(struct input_stats, records) },
        { "lme_input_parse_failures_total", "counter", "Records tagged lme_parse_failure.",
          offsetof(struct input_stats, parse_failures) },
        { "lme_input_files", "gauge", "Files followed now.", offsetof(struct input_stats, files) },
    };
    int rc = 0;
    for (size_t f = 0; f < sizeof(families) / sizeof(families[0]) && !rc; f++) {
        rc = metrics_family(b, families[f].name, families[f].type, families[f].help);
        for (size_t i = 0; i < cfg->n_inputs && !rc; i++) {
            char idx[24], labels[600];
            snprintf(idx, sizeof(idx), "%zu", i);
            uint64_t v;
            memcpy(&v, (const char *)&st->inputs[i] + families[f].field, sizeof(v));
            rc = metrics_sample(b, families[f].name,
                                metrics_labels(labels, sizeof(labels), "input", idx, "host",
                                               host_of(cfg, i), NULL),
                                (double)v);
        }
    }
    return rc;
}

static int render_events(const struct pipeline_stats *st, const struct config *cfg,
                         struct lme_buf *b)
{
    char labels[600];
    int rc = metrics_family(b, "lme_events_by_code_total", "counter",
                            "Events by code, for the codes that tell a connector's health.");
    for (size_t i = 0; i < STATS_CODES + 2 && !rc; i++)
        rc = metrics_sample(b, "lme_events_by_code_total",
                            metrics_labels(labels, sizeof(labels), "code",
                                           i < STATS_CODES ? counted_codes[i]
                                           : i == STATS_CODES ? "other" : "none", NULL),
                            (double)st->by_code[i]);
    if (!rc)
        rc = metrics_family(b, "lme_diagnoses_total", "counter",
                            "41220 events diagnosed, by probable cause.");
    const char *hosts[cfg->n_inputs ? cfg->n_inputs : 1];
    size_t n_hosts = input_hosts(cfg, hosts);
    for (size_t h = 0; h < n_hosts && !rc; h++)
        for (int c = 0; c < CAUSE_COUNT && !rc; c++) {
            uint64_t n = 0;
            for (size_t i = 0; i < cfg->n_inputs; i++)
                if (strcmp(host_of(cfg, i), hosts[h]) == 0)
                    n += st->inputs[i].diagnoses[c];
            if (n == 0 && c == CAUSE_NONE)
                continue; /* never made for an event */
            rc = metrics_sample(b, "lme_diagnoses_total",
                                metrics_labels(labels, sizeof(labels), "cause",
                                               enrich_cause_name((enum diagnosis_cause)c),
                                               "host", hosts[h], NULL),
                                (double)n);
        }
    return rc;
}

static int render_probes(const struct config *cfg, struct enrich *enrich, struct lme_buf *b)
{
    char labels[600];
    int rc = metrics_family(b, "lme_probe_rounds_total", "counter", "Probe rounds run.");
    if (!rc)
        rc = metrics_family(b, "lme_probe_ok", "gauge",
                            "1 when the check passed in the last probe round, 0 when it failed; "
                            "absent when it could not be made (unverified).");
    for (size_t i = 0; i < cfg->n_connectors && !rc && enrich; i++) {
        uint64_t rounds = 0;
        struct enrich_check checks[ENRICH_MAX_CHECKS];
        size_t n = 0;
        enrich_connector_checks(enrich, i, &rounds, checks, &n);
        const char *name = cfg->connectors[i].name;
        rc = metrics_sample(b, "lme_probe_rounds_total",
                            metrics_labels(labels, sizeof(labels), "connector", name, NULL),
                            (double)rounds);
        for (size_t k = 0; k < n && !rc; k++) /* unverified: neither passed nor failed */
            if (checks[k].result != ENRICH_CHECK_UNVERIFIED)
                rc = metrics_sample(b, "lme_probe_ok",
                                    metrics_labels(labels, sizeof(labels), "connector", name,
                                                   "check", checks[k].name, NULL),
                                    checks[k].result == ENRICH_CHECK_PASSED ? 1 : 0);
    }
    return rc;
}

#define MAX_INCIDENT_SERIES 64

/* Incidents (docs/incidents.md): counters by cause, and each open or predicted one's age. */
static int render_incidents(struct enrich *enrich, int64_t wall_ms, struct lme_buf *b)
{
    static const struct {
        const char *name, *help;
    } families[] = {
        { "lme_incidents_opened_total", "Incidents opened (a first 41220), by probable cause." },
        { "lme_incidents_resolved_total", "Incidents resolved, by probable cause." },
        { "lme_incidents_predicted_total", "Incidents predicted by a failing probe round, by cause." },
    };
    const struct enrich_incident_stats *st = enrich_incidents_stats(enrich);
    const uint64_t *counts[] = { st->opened, st->resolved, st->predicted };
    char labels[1200];
    int rc = 0;
    for (size_t f = 0; f < 3 && !rc; f++) {
        rc = metrics_family(b, families[f].name, "counter", families[f].help);
        for (int c = 0; c < CAUSE_COUNT && !rc; c++)
            if (counts[f][c])
                rc = metrics_sample(b, families[f].name,
                                    metrics_labels(labels, sizeof(labels), "cause",
                                                   enrich_cause_name((enum diagnosis_cause)c), NULL),
                                    (double)counts[f][c]);
    }
    struct enrich_incident_view v[MAX_INCIDENT_SERIES];
    size_t n = enrich_incidents_list(enrich, v, MAX_INCIDENT_SERIES);
    if (!rc)
        rc = metrics_family(b, "lme_incident_age_seconds", "gauge",
                            "Each open or predicted incident: seconds since it opened.");
    for (size_t i = 0; i < n && !rc; i++) {
        rc = metrics_sample(b, "lme_incident_age_seconds",
                            metrics_labels(labels, sizeof(labels), "key", v[i].key, "host", v[i].host,
                                           "cause", v[i].cause, "state", v[i].state, NULL),
                            (double)(wall_ms - v[i].opened_wall_ms) / 1000.0);
    }
    if (!rc)
        rc = metrics_family(b, "lme_incidents", "gauge", "Incidents open or predicted now.") ||
             metrics_sample(b, "lme_incidents", "state=\"open\"", (double)st->open_now) ||
             metrics_sample(b, "lme_incidents", "state=\"predicted\"", (double)st->predicted_now) ||
             metrics_family(b, "lme_incidents_untracked_total", "counter",
                            "41220s of a new key that got no incident: 4096 keys were tracked.") ||
             metrics_sample(b, "lme_incidents_untracked_total", NULL, (double)st->untracked);
    return rc;
}

static int render_sinks(struct sink *const *sinks, size_t n, struct lme_buf *b)
{
    static const struct {
        const char *name, *type, *help;
    } families[] = {
        { "lme_sink_events_accepted_total", "counter", "Events handed to the sink." },
        { "lme_sink_events_delivered_total", "counter", "Events the sink settled as delivered." },
        { "lme_sink_events_retried_total", "counter", "Re-sends after transient errors." },
        { "lme_sink_events_dead_lettered_total", "counter", "Events set aside in the dead-letter file." },
        { "lme_sink_events_in_flight", "gauge", "Events handed to the sink, not settled yet." },
        { "lme_sink_in_flight_bytes", "gauge", "Bytes of the events in flight." },
        { "lme_kafka_producer_queue_messages", "gauge", "Messages in librdkafka's queue." },
    };
    int rc = 0;
    for (size_t f = 0; f < sizeof(families) / sizeof(families[0]) && !rc; f++) {
        rc = metrics_family(b, families[f].name, families[f].type, families[f].help);
        for (size_t i = 0; i < n && !rc; i++) {
            const struct sink_stats *s = &sinks[i]->stats;
            double v[7] = { (double)s->accepted, (double)s->delivered, (double)s->retried,
                            (double)s->dead_lettered, (double)s->in_flight,
                            (double)s->in_flight_bytes, (double)s->queue };
            if (f == 6 && s->queue < 0)
                continue; /* not a Kafka sink */
            char labels[300];
            rc = metrics_sample(b, families[f].name,
                                metrics_labels(labels, sizeof(labels), "sink", sinks[i]->name, NULL),
                                v[f]);
        }
    }
    return rc;
}

static int render_files(const struct pipeline_stats *st, const struct lag *lags, size_t n_lags,
                        struct lme_buf *b)
{
    char labels[4200];
    int rc = metrics_family(b, "lme_checkpoint_lag_bytes", "gauge",
                            "Bytes of the file after its settled offset.");
    for (size_t i = 0; i < n_lags && !rc; i++)
        rc = metrics_sample(b, "lme_checkpoint_lag_bytes",
                            metrics_labels(labels, sizeof(labels), "file", lags[i].path, NULL),
                            (double)lags[i].bytes);
    if (!rc)
        rc = metrics_family(b, "lme_files_truncated_total", "counter",
                            "Files seen shrinking (copy-truncate) and read again.") ||
             metrics_sample(b, "lme_files_truncated_total", NULL, (double)st->truncations);
    if (!rc)
        rc = metrics_family(b, "lme_files_waiting", "gauge",
                            "Files waiting for a descriptor (more files than the budget).") ||
             metrics_sample(b, "lme_files_waiting", NULL, (double)st->files_waiting) ||
             metrics_family(b, "lme_open_files_budget", "gauge",
                            "Input files that may be open at once.") ||
             metrics_sample(b, "lme_open_files_budget", NULL, (double)st->open_files_budget) ||
             metrics_family(b, "lme_files_refused_total", "counter",
                            "Glob matches the symlink policy refused (each path once).") ||
             metrics_sample(b, "lme_files_refused_total", NULL, (double)st->files_refused);
    if (!rc)
        rc = metrics_family(b, "lme_checkpoint_saves_total", "counter", "Checkpoint writes.") ||
             metrics_sample(b, "lme_checkpoint_saves_total", "result=\"ok\"", (double)st->checkpoint_ok) ||
             metrics_sample(b, "lme_checkpoint_saves_total", "result=\"error\"",
                            (double)st->checkpoint_errors);
    if (!rc)
        rc = metrics_family(b, "lme_delivery_latency_seconds", "histogram",
                            "From reading a record to its settlement by every sink.") ||
             metrics_histogram_write(b, "lme_delivery_latency_seconds", NULL, &st->latency);
    return rc ? LME_ENOMEM : 0;
}

int pipeline_stats_render(const struct pipeline_stats *st, const struct config *cfg,
                          struct sink *const *sinks, size_t n_sinks, struct enrich *enrich,
                          const struct lag *lags, size_t n_lags, int64_t now_ms,
                          struct lme_buf *out)
{
    char labels[200];
    char schema[8];
    snprintf(schema, sizeof(schema), "%d", LME_SCHEMA_VERSION);
    int rc = metrics_family(out, "lme_build_info", "gauge", "What is running.") ||
             metrics_sample(out, "lme_build_info",
                            metrics_labels(labels, sizeof(labels), "version", LME_VERSION,
                                           "schema_version", schema, NULL), 1) ||
             metrics_family(out, "lme_uptime_seconds", "gauge", "Since the daemon started.") ||
             metrics_sample(out, "lme_uptime_seconds", NULL, (double)(now_ms - st->started_ms) / 1000.0);
    if (!rc)
        rc = render_inputs(st, cfg, out);
    if (!rc)
        rc = render_events(st, cfg, out);
    if (!rc)
        rc = render_probes(cfg, enrich, out);
    if (!rc && enrich)
        rc = render_incidents(enrich, lme_wall_ms(), out);
    if (!rc)
        rc = render_sinks(sinks, n_sinks, out);
    if (!rc)
        rc = render_files(st, lags, n_lags, out);
    return rc ? LME_ENOMEM : 0;
}
