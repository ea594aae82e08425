/* The routing of events to sinks: see router.h. The sinks' in-flight bytes, summed, are the one
 * budget backpressure watches. */
#include "router.h"

#include <jansson.h>
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

#define BACKPRESSURE_POLL_MS 10
#define TICK_MS 100

/* Incident events are not records of a file: their settlements are the router's to count, with
 * tokens of their own (commit ignores tokens it does not know). */
#define OUTBOX_TOKEN (UINT64_C(1) << 63)

/* An incident event handed to the sinks and not settled by all of them yet: kept, and saved
 * with the checkpoints, so that a restart sends it again (docs/incidents.md). */
struct outbox_entry {
    uint64_t token;
    int copies;           /* settlements still due; the entry goes at 0 */
    struct lme_event ev;  /* its strings point into text */
    char id[33];
    char type[8];
    char *text;
};

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
    struct outbox_entry **outbox;
    size_t n_outbox, cap_outbox;
    uint64_t outbox_seq;
    int64_t last_tick_ms;
    struct lme_buf state;
    bool state_saved;   /* something was handed to commit_set_state */
    bool state_changed; /* the outbox or the ids changed since */
    uint64_t saved_version;
    struct incident_ids ids;     /* the incident of each 41220 not committed yet */
    struct lme_buf incident_ref; /* a 41220's lme.incident: {"id":...} */
};

static void outbox_free(struct outbox_entry *o)
{
    if (o)
        free(o->text);
    free(o);
}

/* A sink_settled_fn (ctx: the router): an incident event's copy, or a record's. */
static void router_settled(void *ctx, uint64_t token)
{
    struct router *r = ctx;
    if (!(token & OUTBOX_TOKEN)) {
        commit_settle(r->commit, token);
        return;
    }
    for (size_t i = 0; i < r->n_outbox; i++) {
        struct outbox_entry *o = r->outbox[i];
        if (o->token != token || --o->copies > 0)
            continue;
        outbox_free(o);
        r->outbox[i] = r->outbox[--r->n_outbox];
        r->state_changed = true;
        commit_touch(r->commit); /* the saved outbox no longer needs it */
        return;
    }
}

static int restore_state(struct router *r, struct lme_err *err);

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
    for (size_t i = 0; i < r->n_outbox; i++)
        outbox_free(r->outbox[i]);
    free(r->outbox);
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

/* The event to every sink, encoded once per distinct option set; *copies: how many settlements
 * will come. A record's token waits in commit for each. */
static int to_sinks(struct router *r, const struct lme_event *ev, uint64_t token, int *copies,
                    struct lme_err *err)
{
    static const struct event_json_opts whole = { 0 };
    const struct event_json_opts *made = r->n_sinks ? &r->sinks[0]->json : &whole;
    *copies = 0;
    if (encode(r, ev, made) != 0)
        return lme_err_set(err, LME_ENOMEM, "router: out of memory");
    for (size_t i = 0; i < r->n_sinks; i++) {
        if (!event_json_opts_equal(made, &r->sinks[i]->json)) { /* a sink that wants it otherwise */
            made = &r->sinks[i]->json;
            if (encode(r, ev, made) != 0)
                return lme_err_set(err, LME_ENOMEM, "router: out of memory");
        }
        int n = r->sinks[i]->ops->send(r->sinks[i], ev, r->json.data, r->json.len, token, err);
        if (n < 0)
            return n;
        *copies += n;
        if (!(token & OUTBOX_TOKEN))
            commit_expect(r->commit, token, n);
    }
    return 0;
}

/* ---- incident events ---- */

/* Settlements of an incident event may come inside send() (the file sink): its count starts
 * this high so that it cannot reach 0 before every sink has it. */
#define OUTBOX_GUARD (1 << 20)

static void outbox_remove(struct router *r, struct outbox_entry *o)
{
    for (size_t i = 0; i < r->n_outbox; i++) {
        if (r->outbox[i] == o) {
            r->outbox[i] = r->outbox[--r->n_outbox];
            outbox_free(o);
            return;
        }
    }
}

static struct lme_str keep(char **w, struct lme_str s)
{
    struct lme_str kept = { *w, s.len };
    if (s.len)
        memcpy(*w, s.ptr, s.len);
    *w += s.len;
    return kept;
}

/* A copy of an incident event that lives until every sink settled it. */
static struct outbox_entry *outbox_add(struct router *r, const struct lme_event *ev)
{
    if (r->n_outbox == r->cap_outbox) {
        size_t cap = r->cap_outbox ? 2 * r->cap_outbox : 8;
        struct outbox_entry **v = realloc(r->outbox, cap * sizeof(*v));
        if (!v)
            return NULL;
        r->outbox = v;
        r->cap_outbox = cap;
    }
    size_t len = ev->host.len + ev->component.len + ev->message.len + ev->diagnosis.len +
                 ev->incident.len;
    struct outbox_entry *o = calloc(1, sizeof(*o));
    if (!o || !(o->text = malloc(len ? len : 1))) {
        free(o);
        return NULL;
    }
    char *w = o->text;
    o->ev = *ev;
    o->ev.host = keep(&w, ev->host);
    o->ev.component = keep(&w, ev->component);
    o->ev.message = keep(&w, ev->message);
    o->ev.diagnosis = keep(&w, ev->diagnosis);
    o->ev.incident = keep(&w, ev->incident);
    memcpy(o->id, ev->given_id, 32);
    o->ev.given_id = o->id;
    snprintf(o->type, sizeof(o->type), "%s", ev->alert_type);
    o->ev.alert_type = o->type;
    o->token = OUTBOX_TOKEN | ++r->outbox_seq;
    r->outbox[r->n_outbox++] = o;
    return o;
}

/* Sends an outbox entry; it stays until its last settlement. */
static int send_entry(struct router *r, struct outbox_entry *o, struct lme_err *err)
{
    o->copies = OUTBOX_GUARD;
    int copies;
    int rc = to_sinks(r, &o->ev, o->token, &copies, err);
    if (rc)
        return rc; /* kept, guard and all: saved, and sent again at the next start */
    o->copies += copies - OUTBOX_GUARD;
    if (o->copies <= 0)
        outbox_remove(r, o);
    return 0;
}

static int send_incident(struct router *r, const struct lme_event *ev, struct lme_err *err)
{
    struct outbox_entry *o = outbox_add(r, ev);
    if (!o)
        return lme_err_set(err, LME_ENOMEM, "router: out of memory");
    r->state_changed = true;
    commit_touch(r->commit);
    return send_entry(r, o, err);
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

/* Log bytes (host, component, and the message that names them) as hex: the state file is JSON,
 * which takes only UTF-8. */
static int set_hex(json_t *e, const char *key, struct lme_str s, struct lme_buf *scratch)
{
    lme_buf_reset(scratch);
    return lme_buf_append_hex(scratch, s.ptr, s.len) ||
           json_object_set_new(e, key, json_stringn(scratch->data ? scratch->data : "", scratch->len));
}

static json_t *entry_json(const struct outbox_entry *o, struct lme_buf *scratch)
{
    const struct lme_event *ev = &o->ev;
    json_t *e = json_pack("{s:s, s:s, s:I, s:I, s:i, s:s%, s:s%}", "id", o->id, "type", o->type,
                          "time", (json_int_t)ev->time_ms, "created", (json_int_t)ev->created_ms,
                          "severity", ev->severity,
                          "diagnosis", ev->diagnosis.ptr ? ev->diagnosis.ptr : "", ev->diagnosis.len,
                          "incident", ev->incident.ptr ? ev->incident.ptr : "", ev->incident.len);
    if (e && (set_hex(e, "host_hex", ev->host, scratch) ||
              set_hex(e, "component_hex", ev->component, scratch) ||
              set_hex(e, "message_hex", ev->message, scratch))) {
        json_decref(e);
        return NULL;
    }
    return e;
}

/* {"incidents":[...],"outbox":[...]}, into r->state. */
static int state_text(struct router *r)
{
    lme_buf_reset(&r->state);
    int rc = lme_buf_append_str(&r->state, "{\"incidents\":") ||
             enrich_incidents_save(r->enrich, &r->state) ||
             lme_buf_append_str(&r->state, ",\"ids\":") || incident_ids_save(&r->ids, &r->state) ||
             lme_buf_append_str(&r->state, ",\"outbox\":[");
    struct lme_buf scratch = LME_BUF_INIT;
    for (size_t i = 0; !rc && i < r->n_outbox; i++) {
        json_t *e = entry_json(r->outbox[i], &scratch);
        char *text = e ? json_dumps(e, JSON_COMPACT) : NULL;
        json_decref(e);
        rc = !text || (i && lme_buf_append(&r->state, ",", 1)) || lme_buf_append_str(&r->state, text);
        free(text);
    }
    lme_buf_free(&scratch);
    return rc || lme_buf_append(&r->state, "]}", 3) ? LME_ENOMEM : 0;
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
    r->state_changed |= r->ids.n != before;
    uint64_t version = enrich_incidents_version(r->enrich);
    if (r->state_saved && version == r->saved_version && !r->state_changed)
        return 0; /* commit keeps what it was given last */
    if (state_text(r) != 0 || commit_set_state(r->commit, r->state.data) != 0)
        return lme_err_set(err, LME_ENOMEM, "incidents: out of memory");
    r->state_saved = true;
    r->saved_version = version;
    r->state_changed = false;
    return 0;
}

static struct lme_str str_of(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return (struct lme_str){ json_string_value(v), json_string_length(v) };
}

/* The hex member key's bytes, appended to b; their place in it into *at (b may move: fixed up
 * by the caller). */
static int unhex_of(json_t *obj, const char *key, struct lme_buf *b, size_t *at, size_t *len)
{
    struct lme_str hex = str_of(obj, key);
    *at = b->len;
    int rc = hex.ptr ? lme_buf_append_unhex(b, hex.ptr, hex.len) : -1;
    *len = b->len - *at;
    return rc;
}

/* Saved text an event carries as it is: a JSON object (or, where allowed, nothing). */
static bool object_text(struct lme_str s, bool may_be_empty)
{
    if (s.len == 0)
        return may_be_empty;
    json_t *v = json_loadb(s.ptr, s.len, 0, NULL);
    bool ok = json_is_object(v);
    json_decref(v);
    return ok;
}

/* An incident event saved unsettled: sent again now. */
static int resend(struct router *r, json_t *e, struct lme_err *err)
{
    struct lme_str id = str_of(e, "id");
    struct lme_str type = str_of(e, "type");
    struct lme_buf raw = LME_BUF_INIT;
    size_t at[3], len[3];
    if (lme_buf_reserve(&raw, 1) != 0)
        return lme_err_set(err, LME_ENOMEM, "router: out of memory");
    struct lme_str diagnosis = str_of(e, "diagnosis"), incident = str_of(e, "incident");
    bool type_ok = type.ptr && (strcmp(type.ptr, "start") == 0 || strcmp(type.ptr, "change") == 0 ||
                                strcmp(type.ptr, "end") == 0);
    if (id.len != 32 || strspn(id.ptr, "0123456789abcdef") != 32 || !type_ok || !diagnosis.ptr ||
        !object_text(diagnosis, true) ||
        !incident.ptr || !object_text(incident, false) ||
        unhex_of(e, "host_hex", &raw, &at[0], &len[0]) ||
        unhex_of(e, "component_hex", &raw, &at[1], &len[1]) ||
        unhex_of(e, "message_hex", &raw, &at[2], &len[2])) {
        lme_buf_free(&raw);
        lme_log(LME_LOG_WARN, "incident event dropped", "error", "a saved entry does not read back", NULL);
        return 0;
    }
    struct lme_event ev = { .host = { raw.data + at[0], len[0] },
                            .component = { raw.data + at[1], len[1] },
                            .message = { raw.data + at[2], len[2] },
                            .diagnosis = diagnosis, .incident = incident,
                            .given_id = id.ptr, .alert_type = type.ptr, .flags = LME_EV_INCIDENT,
                            .thread_id = -1, .origin_line = -1 };
    ev.time_ms = json_integer_value(json_object_get(e, "time"));
    ev.created_ms = json_integer_value(json_object_get(e, "created"));
    ev.severity = (int)json_integer_value(json_object_get(e, "severity"));
    int rc = send_incident(r, &ev, err);
    lme_buf_free(&raw);
    return rc;
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
