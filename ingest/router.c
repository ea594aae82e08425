/* The routing of events to sinks: see router.h. The sinks' in-flight bytes, summed, are the one
 * budget backpressure watches. */
#include "router.h"

#include <jansson.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "clock.h"
#include "event_json.h"
#include "file_sink.h"
#include "incident_ids.h"
#include "kafka_sink.h"
#include "log.h"
#include "outbox.h"
#include "sink_thread.h"

#define BACKPRESSURE_POLL_MS 10
#define TICK_MS 100

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
    struct outbox outbox;        /* incident events not settled yet */
    int64_t last_tick_ms;
    struct lme_buf state;
    bool state_saved;   /* something was handed to commit_set_state */
    bool state_changed; /* the outbox or the ids changed since */
    uint64_t saved_version;
    struct incident_ids ids;     /* the incident of each 41220 not committed yet */
    struct lme_buf incident_ref; /* a 41220's lme.incident: {"id":...} */
};

/* A sink_settled_fn (ctx: the router): a copy of an incident event, or of a record. */
static void router_settled(void *ctx, uint64_t token)
{
    struct router *r = ctx;
    if (!outbox_owns(token))
        commit_settle(r->commit, token);
    else if (outbox_settle(&r->outbox, token))
        commit_touch(r->commit); /* the saved outbox no longer needs it */
}

static int restore_state(struct router *r, struct lme_err *err);

/* The memory the sinks may hold for what is in flight: the events' bytes are the budget, and
 * the memory holding them twice that. A Kafka sink on its thread produces from the batches the
 * events came in, each kept until its last event is acknowledged: at 1.25 times the budget
 * (what the arena they replaced was) the batches ran out before the budget did and the run took
 * 45% longer; at twice, the wall time was 4% under the arena's (docs/performance.md). */
static size_t max_held_bytes(const struct config *cfg)
{
    return 2 * cfg->max_in_flight_bytes;
}

/* The CPUs this process may run on (its affinity mask), at least 1. */
static int usable_cpus(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) != 0)
        return 1;
    int n = CPU_COUNT(&set);
    return n > 0 ? n : 1;
}

/* Sink i, named; a Kafka sink on a thread of its own unless configured otherwise or the process
 * has one CPU (where the thread only adds its hand-overs: 5% slower, measured). */
static struct sink *sink_create(const struct config *cfg, size_t i, struct lme_err *err)
{
    const struct config_sink *cs = &cfg->sinks[i];
    struct sink *s = cs->type == CONFIG_SINK_FILE
                         ? file_sink_create(cs->file.path, err)
                         : kafka_sink_create(&cs->kafka, cfg->max_in_flight_bytes, err);
    if (!s)
        return NULL;
    snprintf(s->name, sizeof(s->name), "%s[%zu]", s->ops->type, i);
    if (cs->type != CONFIG_SINK_KAFKA || !cs->kafka.thread)
        return s;
    if (usable_cpus() < 2) {
        lme_log(LME_LOG_INFO, "one CPU: the Kafka sink produces on the reading thread", "sink",
                s->name, NULL);
        return s;
    }
    return sink_thread_create(s, max_held_bytes(cfg), err);
}

static int create_sinks(struct router *r, struct lme_err *err)
{
    for (; r->n_sinks < r->cfg->n_sinks; r->n_sinks++) {
        struct sink *s = sink_create(r->cfg, r->n_sinks, err);
        if (!s)
            return err->code;
        s->settled = router_settled;
        s->settled_ctx = r;
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
    if (!(r->enrich = enrich_create(&cfg->enrichment, err)) || create_sinks(r, err) != 0 ||
        restore_state(r, err) != 0)
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
    outbox_free(&r->outbox);
    lme_buf_free(&r->state);
    incident_ids_free(&r->ids);
    lme_buf_free(&r->incident_ref);
    free(r->sinks);
    free(r->stats.inputs);
    lme_buf_free(&r->json);
    free(r);
}

int router_poll(struct router *r, int timeout_ms, struct lme_err *err)
{
    /* the first sink waits, last: the others have handed on what they hold by then (a Kafka sink
     * produces the copies it queued when polled) */
    for (size_t i = r->n_sinks; i-- > 0;) {
        int rc = r->sinks[i]->ops->poll(r->sinks[i], i == 0 ? timeout_ms : 0, err);
        if (rc)
            return rc;
    }
    return 0;
}

/* Whether the sinks hold their budget's worth: reading waits then. */
static bool over_budget(const struct router *r)
{
    uint64_t bytes = 0, held = 0;
    for (size_t i = 0; i < r->n_sinks; i++) {
        bytes += r->sinks[i]->stats.in_flight_bytes;
        held += r->sinks[i]->stats.held_bytes;
    }
    return bytes >= r->cfg->max_in_flight_bytes || held >= max_held_bytes(r->cfg);
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
    while (over_budget(r)) {
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

/* json to sink i; adds the settlements that will come to *copies. */
static int send_to(struct router *r, size_t i, const struct lme_event *ev, const char *json,
                   size_t len, uint64_t token, int *copies, struct lme_err *err)
{
    int n = r->sinks[i]->ops->send(r->sinks[i], ev, json, len, token, err);
    if (n < 0)
        return n;
    *copies += n;
    if (!(token & OUTBOX_TOKEN))
        commit_expect(r->commit, token, n);
    return 0;
}

/* The one sink lends a buffer (sink.h): the event is encoded straight into it, which spares a
 * copy of every event's JSON. */
static int to_lending_sink(struct router *r, const struct lme_event *ev, uint64_t token,
                           int *copies, struct lme_err *err)
{
    struct sink *s = r->sinks[0];
    struct lme_buf *b;
    int rc = s->ops->json_buffer(s, &b, err);
    if (rc)
        return rc;
    size_t from = b->len;
    if (event_json_encode_with(ev, &s->json, &r->memo, b) != 0)
        return lme_err_set(err, LME_ENOMEM, "router: out of memory");
    return send_to(r, 0, ev, b->data + from, b->len - from, token, copies, err);
}

/* The event to every sink, encoded once per distinct option set; *copies: how many settlements
 * will come. A record's token waits in commit for each. */
static int to_sinks(struct router *r, const struct lme_event *ev, uint64_t token, int *copies,
                    struct lme_err *err)
{
    static const struct event_json_opts whole = { 0 };
    const struct event_json_opts *made = r->n_sinks ? &r->sinks[0]->json : &whole;
    *copies = 0;
    if (r->n_sinks == 1 && r->sinks[0]->ops->json_buffer)
        return to_lending_sink(r, ev, token, copies, err);
    if (encode(r, ev, made) != 0)
        return lme_err_set(err, LME_ENOMEM, "router: out of memory");
    for (size_t i = 0; i < r->n_sinks; i++) {
        if (!event_json_opts_equal(made, &r->sinks[i]->json)) { /* a sink that wants it otherwise */
            made = &r->sinks[i]->json;
            if (encode(r, ev, made) != 0)
                return lme_err_set(err, LME_ENOMEM, "router: out of memory");
        }
        int rc = send_to(r, i, ev, r->json.data, r->json.len, token, copies, err);
        if (rc)
            return rc;
    }
    return 0;
}

/* ---- incident events ---- */

/* An incident event to every sink, kept in the outbox until each settled it. */
static int send_incident(struct router *r, const struct lme_event *ev, struct lme_err *err)
{
    struct outbox_entry *e = outbox_add(&r->outbox, ev);
    if (!e)
        return lme_err_set(err, LME_ENOMEM, "router: out of memory");
    commit_touch(r->commit);
    int copies;
    int rc = to_sinks(r, &e->ev, e->token, &copies, err);
    if (rc)
        return rc; /* kept: saved, and sent again at the next start */
    outbox_sent(&r->outbox, e, copies);
    return 0;
}

static bool incidents_on(const struct router *r)
{
    return r->cfg->enrichment.enabled && r->cfg->enrichment.incidents;
}

/* The incident id a 41220 carries: the tracker's, but for one sent again after a restart, the one
 * it carried then (the incident may have ended and another begun among the records read again). */
static int incident_of_41220(struct router *r, const struct lme_event *ev, bool replayed,
                             char id[33])
{
    const char *was = replayed ? incident_ids_find(&r->ids, ev->file_dev, ev->file_ino,
                                                   ev->end_offset) : NULL;
    if (was) {
        memcpy(id, was, 33);
        return 0;
    }
    if (!id[0]) /* no incident: a new key while the tracker was full */
        return 0;
    r->state_changed = true; /* the saved state names it */
    return incident_ids_add(&r->ids, ev->file_dev, ev->file_ino, ev->end_offset, id);
}

/* The event's incident is judged: the changes it made go out before it, and a 41220 learns its
 * incident's id (in *diagnosed, which *ev then points at). */
static int judge(struct router *r, const struct lme_event **ev, struct lme_event *diagnosed,
                 const struct origin *from, struct lme_err *err)
{
    if (!incidents_on(r))
        return 0;
    bool replayed = commit_replayed(r->commit, from->file, (*ev)->end_offset);
    char id[33];
    const struct lme_event *out;
    size_t n;
    if (enrich_incidents_record(r->enrich, r->cfg->inputs[from->input].connector, *ev, replayed,
                                id, &out, &n) != 0)
        return lme_err_set(err, LME_ENOMEM, "incidents: out of memory");
    for (size_t k = 0; k < n; k++) {
        int rc = send_incident(r, &out[k], err);
        if (rc)
            return rc;
    }
    if (!enrich_wants(*ev))
        return 0;
    if (incident_of_41220(r, *ev, replayed, id) != 0)
        return lme_err_set(err, LME_ENOMEM, "incidents: out of memory");
    if (!id[0])
        return 0;
    lme_buf_reset(&r->incident_ref);
    if (lme_buf_append_str(&r->incident_ref, "{\"id\":\"") || lme_buf_append(&r->incident_ref, id, 32) ||
        lme_buf_append_str(&r->incident_ref, "\"}"))
        return lme_err_set(err, LME_ENOMEM, "incidents: out of memory");
    if (*ev != diagnosed) {
        *diagnosed = **ev;
        *ev = diagnosed;
    }
    diagnosed->incident = (struct lme_str){ r->incident_ref.data, r->incident_ref.len };
    return 0;
}

int router_tick(struct router *r, struct lme_err *err)
{
    int64_t now = lme_mono_ms();
    if (!incidents_on(r) || now - r->last_tick_ms < TICK_MS)
        return 0;
    r->last_tick_ms = now;
    for (;;) {
        const struct lme_event *out;
        size_t n;
        if (enrich_incidents_tick(r->enrich, &out, &n) != 0)
            return lme_err_set(err, LME_ENOMEM, "incidents: out of memory");
        if (n == 0)
            return 0;
        for (size_t k = 0; k < n; k++) {
            int rc = send_incident(r, &out[k], err);
            if (rc)
                return rc;
        }
    }
}

int router_send(void *ctx, const struct lme_event *ev, const struct origin *from,
                struct lme_err *err)
{
    struct router *r = ctx;
    struct lme_event diagnosed;
    int rc = enrich(r, &ev, &diagnosed, from->input, err);
    if (!rc)
        rc = judge(r, &ev, &diagnosed, from, err);
    if (rc)
        return rc;
    count(r, from->input, ev);
    uint64_t token;
    if (commit_add(r->commit, from->file, ev->end_offset, from->read_ms, &token) != 0)
        return lme_err_set(err, LME_ENOMEM, "router: out of memory");
    /* held until every sink took it: a send that fails leaves it uncommitted for good, and a
     * sink that settles inside send() cannot let it commit before the next sink has it */
    commit_expect(r->commit, token, 1);
    int copies;
    if ((rc = to_sinks(r, ev, token, &copies, err)) != 0)
        return rc;
    commit_settle(r->commit, token);
    return wait_for_budget(r, err);
}

/* ---- the state kept with the checkpoints ---- */

/* {"incidents":[...],"outbox":[...]}, into r->state. */
static int state_text(struct router *r)
{
    lme_buf_reset(&r->state);
    int rc = lme_buf_append_str(&r->state, "{\"incidents\":") ||
             enrich_incidents_save(r->enrich, &r->state) ||
             lme_buf_append_str(&r->state, ",\"ids\":") || incident_ids_save(&r->ids, &r->state) ||
             lme_buf_append_str(&r->state, ",\"outbox\":") || outbox_save(&r->outbox, &r->state);
    return rc || lme_buf_append(&r->state, "}", 2) ? LME_ENOMEM : 0;
}

static bool position_settled(void *ctx, uint64_t dev, uint64_t ino, uint64_t end)
{
    return commit_position_settled(ctx, dev, ino, end);
}

int router_save_state(struct router *r, struct lme_err *err)
{
    if (!incidents_on(r))
        return 0;
    size_t before = r->ids.n;
    incident_ids_prune(&r->ids, position_settled, r->commit);
    r->state_changed |= r->ids.n != before || r->outbox.changed;
    uint64_t version = enrich_incidents_version(r->enrich);
    if (r->state_saved && version == r->saved_version && !r->state_changed)
        return 0; /* commit keeps what it was given last */
    if (state_text(r) != 0 || commit_set_state(r->commit, r->state.data) != 0)
        return lme_err_set(err, LME_ENOMEM, "incidents: out of memory");
    r->state_saved = true;
    r->saved_version = version;
    r->state_changed = r->outbox.changed = false;
    return 0;
}

/* An incident event saved unsettled: sent again now. */
static int resend(struct router *r, json_t *entry, struct lme_err *err)
{
    struct lme_buf raw = LME_BUF_INIT;
    struct lme_event ev;
    int rc = outbox_saved_event(entry, &raw, &ev);
    if (rc == LME_EINVAL)
        lme_log(LME_LOG_WARN, "incident event dropped", "error", "a saved entry does not read back", NULL);
    else if (rc)
        lme_err_set(err, rc, "incidents: out of memory");
    else
        rc = send_incident(r, &ev, err);
    lme_buf_free(&raw);
    return rc == LME_EINVAL ? 0 : rc;
}

/* Takes back what the last run saved with its checkpoints: the incidents, and the incident events
 * not settled then, which go out again. State that does not read back is said and dropped. */
static int restore_state(struct router *r, struct lme_err *err)
{
    const char *text = commit_state(r->commit);
    if (!incidents_on(r) || !text)
        return 0;
    json_t *root = json_loads(text, 0, NULL);
    json_t *incidents = json_object_get(root, "incidents");
    char *inc_text = incidents ? json_dumps(incidents, JSON_COMPACT) : NULL;
    struct lme_err why = { 0 };
    if (!inc_text || enrich_incidents_restore(r->enrich, inc_text, &why) != 0)
        lme_log(LME_LOG_WARN, "incident state dropped", "error",
                why.code ? why.msg : "it does not read back", NULL);
    free(inc_text);
    if (incident_ids_load(&r->ids, json_object_get(root, "ids")) != 0) {
        json_decref(root);
        return lme_err_set(err, LME_ENOMEM, "incidents: out of memory");
    }
    size_t i;
    json_t *e;
    int rc = 0;
    json_array_foreach(json_object_get(root, "outbox"), i, e) {
        if ((rc = resend(r, e, err)) != 0)
            break;
    }
    json_decref(root);
    return rc;
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
