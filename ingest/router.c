/* The routing of events to sinks: see router.h. The sinks' in-flight bytes, summed, are the one
 * budget backpressure watches. */
#include "router.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "event_json.h"
#include "file_sink.h"
#include "kafka_sink.h"
#include "log.h"

#define BACKPRESSURE_POLL_MS 10

struct router {
    const struct config *cfg;
    struct commit *commit;
    struct sink **sinks;
    size_t n_sinks;
    struct enrich *enrich;
    struct lme_buf json;
    struct event_json_memo memo;
    struct router_stats stats;
    router_waiting_fn waiting;
    void *waiting_ctx;
};

static struct sink *sink_create(const struct config *cfg, const struct config_sink *cs,
                                struct lme_err *err)
{
    if (cs->type == CONFIG_SINK_FILE)
        return file_sink_create(cs->file.path, err);
    return kafka_sink_create(&cs->kafka, cfg->max_in_flight_bytes, err);
}

static int create_sinks(struct router *r, struct lme_err *err)
{
    for (; r->n_sinks < r->cfg->n_sinks; r->n_sinks++) {
        struct sink *s = sink_create(r->cfg, &r->cfg->sinks[r->n_sinks], err);
        if (!s)
            return err->code;
        snprintf(s->name, sizeof(s->name), "%s[%zu]", s->ops->type, r->n_sinks);
        s->settled = commit_settle;
        s->settled_ctx = r->commit;
        r->sinks[r->n_sinks] = s;
    }
    return 0;
}

struct router *router_create(const struct config *cfg, struct commit *commit,
                             router_waiting_fn waiting, void *waiting_ctx, struct lme_err *err)
{
    struct router *r = calloc(1, sizeof(*r));
    if (!r || !(r->sinks = calloc(cfg->n_sinks ? cfg->n_sinks : 1, sizeof(*r->sinks))) ||
        !(r->stats.inputs = calloc(cfg->n_inputs ? cfg->n_inputs : 1, sizeof(*r->stats.inputs)))) {
        lme_err_set(err, LME_ENOMEM, "router: out of memory");
        goto fail;
    }
    r->cfg = cfg;
    r->commit = commit;
    r->waiting = waiting;
    r->waiting_ctx = waiting_ctx;
    if (!(r->enrich = enrich_create(&cfg->enrichment, err)) || create_sinks(r, err) != 0)
        goto fail;
    return r;
fail:
    router_destroy(r);
    return NULL;
}

void router_destroy(struct router *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_sinks; i++)
        r->sinks[i]->ops->destroy(r->sinks[i]);
    enrich_destroy(r->enrich);
    free(r->sinks);
    free(r->stats.inputs);
    lme_buf_free(&r->json);
    free(r);
}

int router_poll(struct router *r, int timeout_ms, struct lme_err *err)
{
    for (size_t i = 0; i < r->n_sinks; i++) {
        int rc = r->sinks[i]->ops->poll(r->sinks[i], i == 0 ? timeout_ms : 0, err);
        if (rc)
            return rc;
    }
    return 0;
}

static uint64_t in_flight_bytes(const struct router *r)
{
    uint64_t total = 0;
    for (size_t i = 0; i < r->n_sinks; i++)
        total += r->sinks[i]->stats.in_flight_bytes;
    return total;
}

int64_t router_in_flight(const struct router *r)
{
    int64_t total = 0;
    for (size_t i = 0; i < r->n_sinks; i++)
        total += (int64_t)r->sinks[i]->stats.in_flight;
    return total;
}

/* While a 41220 waits for its probes, acknowledgements keep flowing; a sink's failure is kept
 * here and returned by the send that waited. */
struct probe_wait {
    struct router *r;
    struct lme_err *err;
    int rc;
};

static void serve_while_probing(void *ctx)
{
    struct probe_wait *w = ctx;
    if (w->rc)
        return;
    w->rc = router_poll(w->r, 0, w->err);
    if (!w->rc && w->r->waiting)
        w->r->waiting(w->r->waiting_ctx);
}

/* Enrichment: every event feeds the log context; a 41220 leaves with its diagnosis (in
 * *diagnosed, which *ev then points at). */
static int enrich(struct router *r, const struct lme_event **ev, struct lme_event *diagnosed,
                  uint32_t input, struct lme_err *err)
{
    if (!r->cfg->enrichment.enabled)
        return 0;
    if (!enrich_wants(*ev))
        return enrich_observe(r->enrich, *ev) ? lme_err_set(err, LME_ENOMEM, "enrichment: out of memory") : 0;
    *diagnosed = **ev;
    struct probe_wait w = { r, err, 0 };
    enum diagnosis_cause cause;
    if (enrich_event(r->enrich, r->cfg->inputs[input].connector, diagnosed, serve_while_probing, &w,
                     &cause) != 0)
        return lme_err_set(err, LME_ENOMEM, "enrichment: out of memory");
    r->stats.inputs[input].diagnoses[cause]++;
    *ev = diagnosed;
    return w.rc;
}

static void count(struct router *r, uint32_t input, const struct lme_event *ev)
{
    struct router_counts *c = &r->stats.inputs[input];
    c->records++;
    c->parse_failures += (ev->flags & LME_EV_PARSE_FAILURE) != 0;
    r->stats.by_code[pipeline_stats_code_index(ev)]++;
}

/* Reading waits while the budget is spent, serving the sinks. */
static int wait_for_budget(struct router *r, struct lme_err *err)
{
    while (in_flight_bytes(r) >= r->cfg->max_in_flight_bytes) {
        int rc = router_poll(r, BACKPRESSURE_POLL_MS, err);
        if (rc)
            return rc;
        if (r->waiting && !r->waiting(r->waiting_ctx))
            return 0;
    }
    return 0;
}

static int encode(struct router *r, const struct lme_event *ev, const struct event_json_opts *opts)
{
    lme_buf_reset(&r->json);
    return event_json_encode_with(ev, opts, &r->memo, &r->json);
}

int router_send(void *ctx, const struct lme_event *ev, const struct origin *from,
                struct lme_err *err)
{
    struct router *r = ctx;
    struct lme_event diagnosed;
    int rc = enrich(r, &ev, &diagnosed, from->input, err);
    if (rc)
        return rc;
    count(r, from->input, ev);
    static const struct event_json_opts whole = { 0 };
    const struct event_json_opts *made = r->n_sinks ? &r->sinks[0]->json : &whole;
    if (encode(r, ev, made) != 0)
        return lme_err_set(err, LME_ENOMEM, "router: out of memory");
    uint64_t token;
    if (commit_add(r->commit, from->file, ev->end_offset, from->read_ms, &token) != 0)
        return lme_err_set(err, LME_ENOMEM, "router: out of memory");
    /* held until every sink took it: a send that fails leaves it uncommitted for good, and a
     * sink that settles inside send() cannot let it commit before the next sink has it */
    commit_expect(r->commit, token, 1);
    for (size_t i = 0; i < r->n_sinks; i++) {
        if (!event_json_opts_equal(made, &r->sinks[i]->json)) { /* a sink that wants it otherwise */
            made = &r->sinks[i]->json;
            if (encode(r, ev, made) != 0)
                return lme_err_set(err, LME_ENOMEM, "router: out of memory");
        }
        int copies = r->sinks[i]->ops->send(r->sinks[i], ev, r->json.data, r->json.len, token, err);
        if (copies < 0)
            return copies;
        commit_expect(r->commit, token, copies);
    }
    commit_settle(r->commit, token);
    return wait_for_budget(r, err);
}

struct sink *const *router_sinks(const struct router *r, size_t *n)
{
    *n = r->n_sinks;
    return r->sinks;
}

struct enrich *router_enrich(const struct router *r)
{
    return r->enrich;
}

const struct router_stats *router_stats(const struct router *r)
{
    return &r->stats;
}
