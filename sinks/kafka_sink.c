/* The Kafka sink: see kafka_sink.h.
 *
 * The produce path allocates nothing per message of its own. An event sent with send_kept (as
 * sink_thread does) is produced from the owner's memory, which the owner keeps until the sink
 * releases it (sink.h): no copy at all. An event sent with send is copied once into the sink's
 * arena (arena.c: one region, the byte budget and a quarter more, carved into size classes),
 * after its struct held, and produced from there: librdkafka points at it until the report. What
 * producing and the report need is in a ticket (a dense table grown as needed, its free entries
 * reused); the message's opaque is the ticket's index. Header lists come from kafka_headers.c and
 * go back there from the report; topics are handles made with the producer.
 * What remains is librdkafka's own block for each message (the key is copied into it). An event
 * the arena has no room for is held in an allocation of its own (a spill), counted and logged at
 * the end.
 *
 * A delivery report without error is the broker's acknowledgement. A permanent error sends the
 * event to the dead-letter file; any other is transient: that copy moves to a spill of its own
 * (neither the arena nor the owner must wait for it) that waits on our retry list (backoff up to
 * 10 s) and is produced again, for as long as it takes. A fatal producer error (idempotence) purges the
 * producer, which returns every message through its report, recreates it and re-sends them all.
 * Reports arrive only inside rd_kafka_poll(), so everything here runs on the caller's thread
 * (sink_thread's, by default: see sink_thread.h), but for kafka_sink_wake and kafka_sink_copies. */
#include "kafka_sink.h"

#include <librdkafka/rdkafka.h>
#include <malloc.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "arena.h"
#include "clock.h"
#include "dead_letter.h"
#include "kafka_headers.h"
#include "log.h"
#include "prefetch.h"

#define RETRY_BACKOFF_MIN_MS 100
#define RETRY_BACKOFF_MAX_MS 10000
#define MAX_REASONS 32

/* An event kept until librdkafka reported every copy produced from it: what the report needs,
 * then the JSON, the payload librdkafka points at. In the arena, or after a struct spill. */
struct held {
    uint64_t token;     /* the pipeline's, for its settlement: set on a retry list's spill only */
    int64_t created_ms; /* the message's timestamp: when the record was read (0: at produce) */
    uint32_t len;       /* of the JSON */
    bool in_arena;
    char code[6];   /* event.code for the header, "" when absent: as token */
    char json[];
};

/* What producing an event and its delivery reports need, in a dense table: its message's opaque
 * is the ticket's index, so that a report reads nothing of the held event itself (cold by then, a
 * budget's worth of events ago: reading it was a cache miss per message). Only the number of
 * copies still due changes: it lives here alone. */
struct ticket {
    const char *json;   /* h's, or the owner's when lent (send_kept) */
    struct held *h;     /* NULL when lent */
    void *keeper;       /* the owner's, for sink_release, when lent */
    uint64_t token;
    int64_t created_ms; /* the message's timestamp */
    uint32_t len;
    uint32_t cls; /* the arena's class of h's block (arena_release_class) */
    uint8_t copies; /* reports still due: 2 when it goes to the alerts topic too */
    bool in_arena;
    char code[6];
};

/* Copies held but not produced yet: send() queues them and they are produced together, PENDING at
 * a time, or at the next poll. Producing in bursts keeps librdkafka's state in the cache while it
 * runs, and the parser's while the next events are made: interleaved one by one, each evicted the
 * other's (the producing thread's CPU 3 to 8% less: docs/performance.md). Keys are kept in
 * keys[]. */
#define PENDING 256
#define KEY_MAX 255 /* a message key's bytes at most ("host/component", cut) */

struct pending {
    uint32_t ticket;
    uint32_t key_at; /* in keys[] */
    uint8_t key_len; /* at most KEY_MAX */
    bool alerts;
};

/* The tickets: a table that grows as needed, and a stack of the free indexes. */
struct tickets {
    struct ticket *v;
    uint32_t *free;
    size_t n, cap, n_free;
};

/* An event held outside the arena: one the arena had no room for, or a copy that failed
 * transiently and waits on the retry list to be produced again. Its struct held follows, then
 * the JSON, then the message key. */
struct spill {
    struct spill *next; /* on the retry list */
    int64_t retry_at_ms;
    int attempts;
    bool alerts;        /* the copy for alerts_topic (a spill on the retry list is one copy) */
    size_t key_len;
};

struct reason_count {
    int code;
    uint64_t count;
};

struct kafka_sink {
    struct sink base;
    struct kafka_sink_config cfg; /* strings borrowed from copies below */
    char *brokers, *topic, *alerts_topic;
    char **names, **values;
    size_t n_props;
    size_t max_in_flight_bytes;
    rd_kafka_t *rk;
    rd_kafka_topic_t *rkt, *alerts_rkt; /* NULL: no alerts_topic */
    /* The producer's main queue, for kafka_sink_wake from another thread: the one field read
     * there, so it alone is guarded (rk is replaced after a fatal error). */
    pthread_mutex_t wake_lock;
    rd_kafka_queue_t *wake_queue;
    struct arena *arena;
    struct tickets tickets;
    struct pending pending[PENDING];
    size_t n_pending;
    char keys[PENDING * KEY_MAX];
    struct kafka_headers *headers;      /* NULL: no headers (`headers: false`) */
    uint64_t spilled;                   /* events the arena had no room for */
    struct spill *retry_head, *retry_tail;
    struct dead_letter *dl;
    struct reason_count reasons[MAX_REASONS];
    size_t n_reasons;
    struct {
        int code;
        int64_t at_ms;
    } logged[8]; /* when each kind of trouble was last logged */
    struct lme_err pending_err; /* a failure seen inside a delivery report */
};

static const char *const key_modes[] = { "host_component", "host", "none", NULL };
static const char *const alerts_modes[] = { "incidents", "every_41220", "both", NULL };

static const struct conf_key keys[] = {
    CONF_OWN_KEY("type", true, "kafka"),
    CONF_REQUIRED_STRING_KEY(struct kafka_sink_config, brokers, "brokers",
                             "host:port,host:port: bootstrap.servers"),
    CONF_STRING_KEY(struct kafka_sink_config, topic, "topic", "lme.events",
                    "every event goes here"),
    CONF_STRING_KEY(struct kafka_sink_config, alerts_topic, "alerts_topic", NULL,
                    "alerts go here too (see alerts)"),
    CONF_CHOICE_KEY(struct kafka_sink_config, alerts, "alerts", KAFKA_ALERTS_INCIDENTS, alerts_modes,
                    "what alerts_topic gets: incidents, every_41220 (each with its diagnosis), or both"),
    CONF_CHOICE_KEY(struct kafka_sink_config, key, "key", KAFKA_KEY_HOST_COMPONENT, key_modes,
                    "message key: host/component, host, or none"),
    CONF_BOOL_KEY(struct kafka_sink_config, headers, "headers", 1,
                  "the headers lme.schema_version and event.code on every message"),
    CONF_BOOL_KEY(struct kafka_sink_config, event_original, "event_original", 1,
                  "event.original (the raw record) in the events sent"),
    CONF_BOOL_KEY(struct kafka_sink_config, thread, "thread", 1,
                  "produce on a thread of its own, beside the one reading and parsing"),
    CONF_STRING_KEY(struct kafka_sink_config, dead_letter_path, "dead_letter_path", NULL,
                    "where events that can never be delivered are set aside"),
    CONF_OWN_KEY("rdkafka", false, "librdkafka producer properties, passed through"),
};

const struct conf_table kafka_sink_config_keys = CONF_TABLE("sinks[] (kafka)", keys);

int kafka_sink_is_secret(const char *p)
{
    return strstr(p, "password") || strstr(p, "secret") || strstr(p, "sasl.oauthbearer.config") ||
           strcmp(p, "ssl.key.pem") == 0 || strstr(p, "ssl_key") || strstr(p, "token");
}

/* ---- configuration ---- */

const char *const kafka_sink_producer_defaults[][2] = {
    { "enable.idempotence", "true" },
    { "acks", "all" },
    { "compression.type", "lz4" },
    { "linger.ms", "20" },
    { "client.id", "lme-ingest" },
};
const size_t kafka_sink_n_producer_defaults =
    sizeof(kafka_sink_producer_defaults) / sizeof(kafka_sink_producer_defaults[0]);

static int conf_set(rd_kafka_conf_t *conf, const char *name, const char *value,
                    struct lme_err *err)
{
    char errstr[512];
    if (rd_kafka_conf_set(conf, name, value, errstr, sizeof(errstr)) == RD_KAFKA_CONF_OK)
        return 0;
    if (kafka_sink_is_secret(name)) /* librdkafka's message may quote the value */
        return lme_err_set(err, LME_EINVAL, "librdkafka refused property '%s'", name);
    return lme_err_set(err, LME_EINVAL, "property '%s': %s", name, errstr);
}

/* Safe defaults first, then the user's properties (which may override them), then what this
 * sink cannot work without. */
static rd_kafka_conf_t *build_conf(const struct kafka_sink_config *cfg, size_t max_in_flight,
                                   struct lme_err *err)
{
    char kbytes[32];
    snprintf(kbytes, sizeof(kbytes), "%zu", max_in_flight / 1024 + 1);
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (!conf) {
        lme_err_set(err, LME_ENOMEM, "out of memory");
        return NULL;
    }
    int rc = conf_set(conf, "queue.buffering.max.kbytes", kbytes, err);
    for (size_t i = 0; !rc && i < kafka_sink_n_producer_defaults; i++)
        rc = conf_set(conf, kafka_sink_producer_defaults[i][0], kafka_sink_producer_defaults[i][1],
                      err);
    for (size_t i = 0; !rc && i < cfg->n_props; i++)
        rc = conf_set(conf, cfg->prop_names[i], cfg->prop_values[i], err);
    if (!rc)
        rc = conf_set(conf, "bootstrap.servers", cfg->brokers, err);
    if (rc) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    return conf;
}

int kafka_sink_check(const struct kafka_sink_config *cfg, struct lme_err *err)
{
    rd_kafka_conf_t *conf = build_conf(cfg, 16 << 20, err);
    if (!conf)
        return LME_EINVAL;
    rd_kafka_conf_destroy(conf);
    return 0;
}

/* ---- holding events ---- */

static struct held *spill_held(struct spill *sp)
{
    return (struct held *)(sp + 1);
}

static struct spill *spill_of(struct held *h)
{
    return (struct spill *)h - 1;
}

static char *spill_key(struct spill *sp)
{
    struct held *h = spill_held(sp);
    return h->json + h->len;
}

/* A spill for len bytes of JSON and the key; its struct held has only len set. */
static struct spill *spill_new(size_t len, const char *key, size_t key_len)
{
    struct spill *sp = malloc(sizeof(*sp) + sizeof(struct held) + len + key_len);
    if (!sp)
        return NULL;
    memset(sp, 0, sizeof(*sp) + sizeof(struct held));
    sp->key_len = key_len;
    spill_held(sp)->len = (uint32_t)len;
    memcpy(spill_key(sp), key, key_len);
    return sp;
}

/* ---- tickets ---- */

static void tickets_free_all(struct tickets *t)
{
    free(t->v);
    free(t->free);
    memset(t, 0, sizeof(*t));
}

/* A ticket for h, its other fields unset; -1: out of memory. */
static int64_t ticket_new(struct tickets *t, struct held *h)
{
    uint32_t i;
    if (t->n_free > 0) {
        i = t->free[--t->n_free]; /* the last freed: its line is the likeliest in the cache */
    } else {
        if (t->n == t->cap) {
            size_t cap = t->cap ? 2 * t->cap : 1024;
            if (cap > UINT32_MAX)
                return -1;
            struct ticket *v = realloc(t->v, cap * sizeof(*v));
            if (!v)
                return -1;
            t->v = v;
            uint32_t *f = realloc(t->free, cap * sizeof(*f));
            if (!f)
                return -1;
            t->free = f;
            t->cap = cap;
        }
        i = (uint32_t)t->n++;
    }
    t->v[i] = (struct ticket){ .h = h };
    if (t->n_free > 0) /* the next one's line, cold by now, arrives while this event is sent */
        lme_prefetch_for_write(&t->v[t->free[t->n_free - 1]]);
    return i;
}

static void ticket_free(struct tickets *t, uint32_t i)
{
    t->free[t->n_free++] = i; /* never more than t->n: room was made with the ticket */
}

/* ---- holding events ---- */

/* Keeps json: in the arena, or in a spill when the arena has no room. Returns its ticket (len,
 * in_arena and cls set), or -1 when out of memory. */
static int64_t hold(struct kafka_sink *ks, const char *json, size_t len, const char *key,
                    size_t key_len)
{
    unsigned cls = 0;
    struct held *h = arena_take(ks->arena, sizeof(*h) + len, &cls);
    struct spill *sp = NULL;
    if (h) {
        memset(h, 0, sizeof(*h));
        h->in_arena = true;
    } else {
        if (!(sp = spill_new(len, key, key_len)))
            return -1;
        h = spill_held(sp);
    }
    int64_t i = ticket_new(&ks->tickets, h);
    if (i < 0) {
        if (sp)
            free(sp);
        else
            arena_release(ks->arena, h);
        return -1;
    }
    ks->spilled += sp != NULL;
    struct ticket *t = &ks->tickets.v[i];
    t->in_arena = sp == NULL; /* not read back from h: its line may not have arrived yet */
    t->cls = cls;
    t->len = h->len = (uint32_t)len;
    t->json = h->json;
    memcpy(h->json, json, len);
    return i;
}

/* One copy of ticket i's event was reported for good: the event goes when none is left. */
static void release_copy(struct kafka_sink *ks, uint32_t i)
{
    struct ticket *t = &ks->tickets.v[i];
    if (--t->copies > 0)
        return;
    if (t->in_arena)
        arena_release_class(ks->arena, t->h, t->cls);
    else if (t->h)
        free(spill_of(t->h));
    else
        sink_release(&ks->base, t->keeper);
    ticket_free(&ks->tickets, i);
}

/* The spill that keeps one copy of ticket i's event on its own: the event's own when it is a
 * spill holding only that copy (the ticket ends), else a new one (and the event lets go of the
 * copy). NULL: out of memory, nothing changed. */
static struct spill *own_spill(struct kafka_sink *ks, uint32_t i, bool alerts, const char *key,
                               size_t key_len)
{
    struct ticket *t = &ks->tickets.v[i];
    struct held *h = t->h;
    struct spill *sp;
    if (h && !t->in_arena && t->copies == 1) {
        sp = spill_of(h);
    } else {
        if (!(sp = spill_new(t->len, key, key_len)))
            return NULL;
        memcpy(spill_held(sp)->json, t->json, t->len);
    }
    /* what its next ticket needs (ticket_of_spill): the ticket held it until now */
    struct held *c = spill_held(sp);
    c->created_ms = t->created_ms;
    c->token = t->token;
    memcpy(c->code, t->code, sizeof(c->code));
    if (c == h)
        ticket_free(&ks->tickets, i);
    else
        release_copy(ks, i);
    sp->alerts = alerts;
    return sp;
}

/* ---- settling messages ---- */

/* One copy left our hands for good (delivered, or set aside). */
static void settle_copy(struct kafka_sink *ks, uint32_t i)
{
    const struct ticket *t = &ks->tickets.v[i];
    uint64_t token = t->token;
    ks->base.stats.in_flight--;
    ks->base.stats.in_flight_bytes -= t->len;
    release_copy(ks, i);
    sink_settle(&ks->base, token);
}

/* The opaque of a produced message: its ticket and, in the low bit, whether it is the copy for
 * alerts_topic. */
static void *opaque_of(uint32_t ticket, bool alerts)
{
    return (void *)(((uintptr_t)ticket << 1) | (alerts ? 1 : 0));
}

static uint32_t ticket_of(const rd_kafka_message_t *msg, bool *alerts)
{
    uintptr_t o = (uintptr_t)msg->_private;
    *alerts = (o & 1) != 0;
    return (uint32_t)(o >> 1);
}

/* Errors no retry can mend: the message goes to the dead-letter file. */
static bool is_permanent(rd_kafka_resp_err_t e)
{
    switch (e) {
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_MSG:
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_POLICY_VIOLATION:
    case RD_KAFKA_RESP_ERR_INVALID_REQUIRED_ACKS:
    case RD_KAFKA_RESP_ERR_UNSUPPORTED_FOR_MESSAGE_FORMAT:
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
        return true;
    default:
        return false;
    }
}

static const char *destination(const struct kafka_sink *ks, bool alerts)
{
    return alerts ? ks->cfg.alerts_topic : ks->cfg.topic;
}

/* Counts the reason; the first time a reason is seen it is logged. */
static void count_reason(struct kafka_sink *ks, rd_kafka_resp_err_t e, const char *topic)
{
    for (size_t i = 0; i < ks->n_reasons; i++) {
        if (ks->reasons[i].code == (int)e) {
            ks->reasons[i].count++;
            return;
        }
    }
    if (ks->n_reasons < MAX_REASONS)
        ks->reasons[ks->n_reasons++] = (struct reason_count){ (int)e, 1 };
    lme_log(LME_LOG_ERROR, "event set aside in the dead-letter file", "sink", ks->base.name,
            "topic", topic, "reason", rd_kafka_err2name(e), "error", rd_kafka_err2str(e),
            "file", ks->cfg.dead_letter_path, NULL);
}

static void park(struct kafka_sink *ks, struct spill *sp, int64_t delay_ms)
{
    sp->retry_at_ms = lme_mono_ms() + delay_ms;
    sp->next = NULL;
    if (ks->retry_tail)
        ks->retry_tail->next = sp;
    else
        ks->retry_head = sp;
    ks->retry_tail = sp;
}

/* Keeps a copy that failed for a later attempt. */
static void retry_later(struct kafka_sink *ks, uint32_t i, bool alerts, const char *key,
                        size_t key_len)
{
    struct spill *sp = own_spill(ks, i, alerts, key, key_len);
    if (!sp) { /* cannot keep it: stop rather than lose it */
        lme_err_set(&ks->pending_err, LME_ENOMEM, "%s: out of memory", ks->base.name);
        return;
    }
    int backoff = RETRY_BACKOFF_MIN_MS << (sp->attempts < 7 ? sp->attempts : 7);
    sp->attempts++;
    ks->base.stats.retried++;
    park(ks, sp, backoff < RETRY_BACKOFF_MAX_MS ? backoff : RETRY_BACKOFF_MAX_MS);
}

/* Sets a copy aside for good. When the dead-letter file cannot be written the copy is kept
 * (tried again later) and the sink reports the failure at the next poll. */
static void dead_letter(struct kafka_sink *ks, uint32_t i, bool alerts, const char *key,
                        size_t key_len, rd_kafka_resp_err_t e)
{
    struct lme_err err;
    const char *topic = destination(ks, alerts);
    const struct ticket *t = &ks->tickets.v[i];
    if (dead_letter_write(ks->dl, ks->base.name, topic, rd_kafka_err2name(e), rd_kafka_err2str(e),
                          t->json, t->len, &err) != 0) {
        ks->pending_err = err;
        struct spill *sp = own_spill(ks, i, alerts, key, key_len);
        if (sp)
            park(ks, sp, RETRY_BACKOFF_MAX_MS);
        return;
    }
    count_reason(ks, e, topic);
    ks->base.stats.dead_lettered++;
    settle_copy(ks, i);
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
    (void)rk;
    struct kafka_sink *ks = opaque;
    bool alerts;
    uint32_t i = ticket_of(msg, &alerts);
    rd_kafka_headers_t *hdrs; /* the message ends with its report: its header list is ours again */
    if (ks->headers &&
        rd_kafka_message_detach_headers((rd_kafka_message_t *)msg, &hdrs) == 0)
        kafka_headers_put(ks->headers, hdrs, ks->tickets.v[i].code);
    if (!msg->err) {
        ks->base.stats.delivered++;
        settle_copy(ks, i);
    } else if (is_permanent(msg->err)) {
        dead_letter(ks, i, alerts, msg->key, msg->key_len, msg->err);
    } else {
        retry_later(ks, i, alerts, msg->key, msg->key_len);
    }
}

/* librdkafka reports trouble it is already retrying (brokers down, transport): say so, once per
 * kind of trouble and at most every 30 s, so an unreachable broker is visible but not noisy. */
static void on_error(rd_kafka_t *rk, int e, const char *reason, void *opaque)
{
    (void)rk;
    struct kafka_sink *ks = opaque;
    int64_t now = lme_mono_ms();
    size_t slot = 0, oldest = 0;
    for (; slot < 8 && ks->logged[slot].code != e; slot++)
        if (ks->logged[slot].at_ms < ks->logged[oldest].at_ms)
            oldest = slot;
    if (slot == 8) { /* a kind not seen lately: take the stalest slot, and say it */
        slot = oldest;
        ks->logged[slot].code = e;
    } else if (now - ks->logged[slot].at_ms < 30000) {
        return;
    }
    ks->logged[slot].at_ms = now;
    lme_log(LME_LOG_WARN, "kafka: retrying", "sink", ks->base.name, "error",
            rd_kafka_err2name((rd_kafka_resp_err_t)e), "detail", reason, NULL);
}

static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    lme_log(level <= 2 ? LME_LOG_ERROR : LME_LOG_DEBUG, "librdkafka", "facility", fac, "detail",
            buf, NULL);
}

/* ---- the producer ---- */

/* librdkafka looks up a topic it has not produced to yet only on its one-second timer, so the
 * first events would wait that long: ask for the topic's metadata now. Bounded, so that a broker
 * that is down delays the start by at most METADATA_WAIT_MS (delivery then retries as usual). */
#define METADATA_WAIT_MS 500

static rd_kafka_topic_t *topic_new(struct kafka_sink *ks, const char *topic, struct lme_err *err)
{
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(ks->rk, topic, NULL);
    if (!rkt) {
        lme_err_set(err, LME_EINVAL, "%s: topic '%s': %s", ks->base.name, topic,
                    rd_kafka_err2str(rd_kafka_last_error()));
        return NULL;
    }
    const struct rd_kafka_metadata *md;
    if (rd_kafka_metadata(ks->rk, 0, rkt, &md, METADATA_WAIT_MS) == RD_KAFKA_RESP_ERR_NO_ERROR)
        rd_kafka_metadata_destroy(md);
    return rkt;
}

/* Takes every message back from the producer: purged ones come back through delivery reports
 * (with a purge error, so onto the retry list). */
static void take_everything_back(struct kafka_sink *ks)
{
    rd_kafka_purge(ks->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    for (int i = 0; i < 1000 && rd_kafka_outq_len(ks->rk) > 0; i++)
        rd_kafka_poll(ks->rk, 10);
    if (rd_kafka_outq_len(ks->rk) > 0) { /* they stay counted in flight: never silently gone */
        char n[24];
        snprintf(n, sizeof(n), "%d", rd_kafka_outq_len(ks->rk));
        lme_log(LME_LOG_ERROR, "kafka: messages not returned by the producer", "sink",
                ks->base.name, "count", n, NULL);
    }
}

/* NULL-safe on a half-made producer. What librdkafka did not give back stays where it is held
 * (the arena outlives the producer). */
static void producer_destroy(struct kafka_sink *ks)
{
    if (!ks->rk)
        return;
    take_everything_back(ks);
    pthread_mutex_lock(&ks->wake_lock);
    if (ks->wake_queue)
        rd_kafka_queue_destroy(ks->wake_queue);
    ks->wake_queue = NULL;
    pthread_mutex_unlock(&ks->wake_lock);
    if (ks->rkt)
        rd_kafka_topic_destroy(ks->rkt);
    if (ks->alerts_rkt)
        rd_kafka_topic_destroy(ks->alerts_rkt);
    rd_kafka_destroy(ks->rk);
    ks->rk = NULL;
    ks->rkt = ks->alerts_rkt = NULL;
}

static int producer_new(struct kafka_sink *ks, struct lme_err *err)
{
    rd_kafka_conf_t *conf = build_conf(&ks->cfg, ks->max_in_flight_bytes, err);
    if (!conf)
        return err->code;
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_error_cb(conf, on_error);
    rd_kafka_conf_set_log_cb(conf, on_log);
    rd_kafka_conf_set_opaque(conf, ks);
    char errstr[512];
    ks->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (!ks->rk) {
        rd_kafka_conf_destroy(conf);
        return lme_err_set(err, LME_EINVAL, "%s: cannot create the producer: %s", ks->base.name,
                           errstr);
    }
    pthread_mutex_lock(&ks->wake_lock);
    ks->wake_queue = rd_kafka_queue_get_main(ks->rk);
    pthread_mutex_unlock(&ks->wake_lock);
    if (!(ks->rkt = topic_new(ks, ks->cfg.topic, err)) ||
        (ks->cfg.alerts_topic && !(ks->alerts_rkt = topic_new(ks, ks->cfg.alerts_topic, err)))) {
        producer_destroy(ks);
        return err->code;
    }
    return 0;
}

/* ---- producing ---- */

/* Produces one copy of ticket i's event without copying it: librdkafka points at its JSON until
 * the report. The timestamp is event.created's (librdkafka would read the clock again for it). */
static rd_kafka_resp_err_t produce(struct kafka_sink *ks, uint32_t i, bool alerts,
                                   const char *key, size_t key_len)
{
    const struct ticket *t = &ks->tickets.v[i];
    rd_kafka_headers_t *hdrs = ks->headers ? kafka_headers_get(ks->headers, t->code) : NULL;
    rd_kafka_resp_err_t e = rd_kafka_producev(
        ks->rk, RD_KAFKA_V_RKT(alerts ? ks->alerts_rkt : ks->rkt), RD_KAFKA_V_MSGFLAGS(0),
        RD_KAFKA_V_VALUE((void *)t->json, t->len), RD_KAFKA_V_KEY(key_len ? key : NULL, key_len),
        RD_KAFKA_V_TIMESTAMP(t->created_ms), RD_KAFKA_V_HEADERS(hdrs),
        RD_KAFKA_V_OPAQUE(opaque_of(i, alerts)), RD_KAFKA_V_END);
    if (e && hdrs)
        kafka_headers_put(ks->headers, hdrs, t->code);
    return e;
}

/* Hands one copy of ticket i's event to librdkafka, or sets it aside or parks it when that is
 * refused. */
static void submit(struct kafka_sink *ks, uint32_t i, bool alerts, const char *key,
                   size_t key_len)
{
    for (;;) {
        rd_kafka_resp_err_t e = produce(ks, i, alerts, key, key_len);
        if (!e)
            return;
        if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) { /* wait for room, serving reports */
            rd_kafka_poll(ks->rk, 10);
            continue;
        }
        if (is_permanent(e))
            dead_letter(ks, i, alerts, key, key_len, e);
        else
            retry_later(ks, i, alerts, key, key_len);
        return;
    }
}

/* Produces the queued copies, in the order sent. */
static void produce_pending(struct kafka_sink *ks)
{
    for (size_t k = 0; k < ks->n_pending; k++) {
        const struct pending *p = &ks->pending[k];
        submit(ks, p->ticket, p->alerts, ks->keys + p->key_at, p->key_len);
    }
    ks->n_pending = 0;
}

static void queue_copy(struct kafka_sink *ks, uint32_t ticket, bool alerts, const char *key,
                       size_t key_len)
{
    if (ks->n_pending == PENDING)
        produce_pending(ks);
    uint32_t at = ks->n_pending ? ks->pending[ks->n_pending - 1].key_at +
                                      ks->pending[ks->n_pending - 1].key_len : 0;
    memcpy(ks->keys + at, key, key_len);
    ks->pending[ks->n_pending++] = (struct pending){ ticket, at, (uint8_t)key_len, alerts };
}

/* "host/component" (or "host"), written without printf: this runs for every event. */
static size_t key_of(const struct kafka_sink *ks, const struct lme_event *ev, char *key, size_t size)
{
    if (ks->cfg.key == KAFKA_KEY_NONE)
        return 0;
    size_t n = ev->host.len < size ? ev->host.len : size;
    memcpy(key, ev->host.ptr, n);
    if (ks->cfg.key == KAFKA_KEY_HOST || ev->component.len == 0 || n + 1 >= size)
        return n;
    key[n++] = '/';
    size_t c = ev->component.len < size - n ? ev->component.len : size - n;
    memcpy(key + n, ev->component.ptr, c);
    return n + c;
}

static bool is_alert(enum kafka_alerts_mode mode, const struct lme_event *ev)
{
    if (ev->flags & LME_EV_INCIDENT)
        return mode != KAFKA_ALERTS_EVERY_41220;
    return (ev->flags & LME_EV_DIAGNOSED) && mode != KAFKA_ALERTS_INCIDENTS;
}

static int kafka_sink_copies(const struct sink *s, const struct lme_event *ev)
{
    const struct kafka_sink *ks = (const struct kafka_sink *)s;
    /* the configuration, not alerts_rkt: this may run on another thread (sink_thread) while a
     * fatal error replaces the producer */
    return 1 + (ks->cfg.alerts_topic && is_alert(ks->cfg.alerts, ev));
}

/* Ticket i (its JSON in place) for ev: its copies queued for producing. Returns as send. */
static int send_ticket(struct kafka_sink *ks, const struct lme_event *ev, uint32_t i,
                       uint64_t token, const char *key, size_t key_len, struct lme_err *err)
{
    int copies = kafka_sink_copies(&ks->base, ev);
    struct ticket *t = &ks->tickets.v[i];
    t->token = token;
    t->created_ms = ev->created_ms > 0 ? ev->created_ms : 0;
    t->copies = (uint8_t)copies; /* all of them before the first is produced */
    if (ev->code.len == 5)
        memcpy(t->code, ev->code.ptr, 5);
    for (int copy = 0; copy < copies; copy++) {
        ks->base.stats.accepted++;
        ks->base.stats.in_flight++;
        ks->base.stats.in_flight_bytes += t->len;
        queue_copy(ks, i, copy == 1, key, key_len);
    }
    if (ks->pending_err.code) {
        *err = ks->pending_err;
        return err->code;
    }
    return copies;
}

static int kafka_sink_send(struct sink *s, const struct lme_event *ev, const char *json,
                           size_t len, uint64_t token, struct lme_err *err)
{
    struct kafka_sink *ks = (struct kafka_sink *)s;
    if (len > UINT32_MAX)
        return lme_err_set(err, LME_EINVAL, "%s: an event of %zu bytes", s->name, len);
    char key[KEY_MAX];
    size_t key_len = key_of(ks, ev, key, sizeof(key));
    int64_t i = hold(ks, json, len, key, key_len);
    if (i < 0)
        return lme_err_set(err, LME_ENOMEM, "%s: out of memory", s->name);
    return send_ticket(ks, ev, (uint32_t)i, token, key, key_len, err);
}

/* The owner keeps json until it is released: it is produced from there, not copied into the
 * arena (a copy of every event, and the arena's cold lines: 4% of the run's CPU). */
static int kafka_sink_send_kept(struct sink *s, const struct lme_event *ev, const char *json,
                                size_t len, uint64_t token, void *keeper, struct lme_err *err)
{
    struct kafka_sink *ks = (struct kafka_sink *)s;
    if (len > UINT32_MAX)
        return lme_err_set(err, LME_EINVAL, "%s: an event of %zu bytes", s->name, len);
    int64_t i = ticket_new(&ks->tickets, NULL);
    if (i < 0)
        return lme_err_set(err, LME_ENOMEM, "%s: out of memory", s->name);
    struct ticket *t = &ks->tickets.v[i];
    t->json = json;
    t->keeper = keeper;
    t->len = (uint32_t)len;
    char key[KEY_MAX];
    size_t key_len = key_of(ks, ev, key, sizeof(key));
    return send_ticket(ks, ev, (uint32_t)i, token, key, key_len, err);
}

/* ---- fatal errors ---- */

static int recreate_producer(struct kafka_sink *ks, const char *reason, struct lme_err *err)
{
    lme_log(LME_LOG_ERROR, "kafka: fatal producer error, recreating the producer", "sink",
            ks->base.name, "error", reason, NULL);
    producer_destroy(ks);
    int rc = producer_new(ks, err);
    if (rc)
        return rc;
    for (struct spill *sp = ks->retry_head; sp; sp = sp->next)
        sp->retry_at_ms = 0; /* re-send all at once */
    return 0;
}

/* A ticket for a spill on the retry list (one copy), -1: out of memory. */
static int64_t ticket_of_spill(struct kafka_sink *ks, struct spill *sp)
{
    struct held *h = spill_held(sp);
    int64_t i = ticket_new(&ks->tickets, h);
    if (i < 0)
        return -1;
    struct ticket *t = &ks->tickets.v[i];
    t->json = h->json;
    t->token = h->token;
    t->created_ms = h->created_ms;
    t->len = h->len;
    t->copies = 1;
    memcpy(t->code, h->code, sizeof(t->code));
    return i;
}

static void resubmit_due(struct kafka_sink *ks)
{
    int64_t now = lme_mono_ms();
    struct spill *due = ks->retry_head, *keep = NULL, *keep_tail = NULL;
    ks->retry_head = ks->retry_tail = NULL;
    while (due) {
        struct spill *sp = due;
        due = sp->next;
        sp->next = NULL;
        if (sp->retry_at_ms <= now) { /* may put it back on the (new) retry list */
            int64_t i = ticket_of_spill(ks, sp);
            if (i >= 0) {
                submit(ks, (uint32_t)i, sp->alerts, spill_key(sp), sp->key_len);
                continue;
            }
            lme_err_set(&ks->pending_err, LME_ENOMEM, "%s: out of memory", ks->base.name);
        }
        if (keep_tail)
            keep_tail->next = sp;
        else
            keep = sp;
        keep_tail = sp;
    }
    if (keep) { /* still waiting: before what submit() just parked */
        keep_tail->next = ks->retry_head;
        ks->retry_head = keep;
        if (!ks->retry_tail)
            ks->retry_tail = keep_tail;
    }
}

/* rd_kafka_queue_yield wakes an rd_kafka_poll waiting on that queue in another thread. */
static void kafka_sink_wake(struct sink *s)
{
    struct kafka_sink *ks = (struct kafka_sink *)s;
    pthread_mutex_lock(&ks->wake_lock);
    if (ks->wake_queue)
        rd_kafka_queue_yield(ks->wake_queue);
    pthread_mutex_unlock(&ks->wake_lock);
}

static int kafka_sink_poll(struct sink *s, int timeout_ms, struct lme_err *err)
{
    struct kafka_sink *ks = (struct kafka_sink *)s;
    produce_pending(ks);
    rd_kafka_poll(ks->rk, ks->retry_head ? 0 : timeout_ms);
    char reason[512];
    if (rd_kafka_fatal_error(ks->rk, reason, sizeof(reason))) {
        int rc = recreate_producer(ks, reason, err);
        if (rc)
            return rc;
    }
    if (ks->pending_err.code) {
        *err = ks->pending_err;
        return err->code;
    }
    resubmit_due(ks);
    if (ks->retry_head && timeout_ms > 0)
        rd_kafka_poll(ks->rk, timeout_ms < 50 ? timeout_ms : 50);
    ks->base.stats.queue = rd_kafka_outq_len(ks->rk);
    return 0;
}

/* ---- life cycle ---- */

/* What the run cost in allocations of our own: none, unless the arena ran out of room. */
static void log_totals(const struct kafka_sink *ks)
{
    for (size_t i = 0; i < ks->n_reasons; i++) {
        char n[24];
        snprintf(n, sizeof(n), "%llu", (unsigned long long)ks->reasons[i].count);
        lme_log(LME_LOG_INFO, "dead-letter totals", "sink", ks->base.name, "reason",
                rd_kafka_err2name((rd_kafka_resp_err_t)ks->reasons[i].code), "count", n, NULL);
    }
    char spilled[24], built[24], peak[24];
    snprintf(spilled, sizeof(spilled), "%llu", (unsigned long long)ks->spilled);
    snprintf(built, sizeof(built), "%zu", ks->headers ? kafka_headers_built(ks->headers) : 0);
    snprintf(peak, sizeof(peak), "%zu", ks->arena ? arena_peak(ks->arena) : 0);
    lme_log(ks->spilled ? LME_LOG_INFO : LME_LOG_DEBUG, "kafka: memory", "sink", ks->base.name,
            "events_outside_the_arena", spilled, "arena_bytes_used_at_most", peak,
            "header_lists_built", built, NULL);
}

static void kafka_sink_destroy(struct sink *s)
{
    struct kafka_sink *ks = (struct kafka_sink *)s;
    if (!ks)
        return;
    log_totals(ks);
    produce_pending(ks); /* handed over, so that they are counted with the rest in flight */
    producer_destroy(ks); /* before the arena: librdkafka points into it */
    while (ks->retry_head) {
        struct spill *sp = ks->retry_head;
        ks->retry_head = sp->next;
        free(sp);
    }
    arena_destroy(ks->arena);
    tickets_free_all(&ks->tickets);
    kafka_headers_destroy(ks->headers);
    dead_letter_close(ks->dl);
    free(ks->brokers);
    free(ks->topic);
    free(ks->alerts_topic);
    for (size_t i = 0; i < ks->n_props; i++) {
        free(ks->names[i]);
        free(ks->values[i]);
    }
    free(ks->names);
    free(ks->values);
    free(ks->cfg.dead_letter_path);
    pthread_mutex_destroy(&ks->wake_lock);
    free(ks);
}

static const struct sink_ops kafka_sink_ops = {
    .type = "kafka",
    .send = kafka_sink_send,
    .send_kept = kafka_sink_send_kept,
    .copies = kafka_sink_copies,
    .poll = kafka_sink_poll,
    .wake = kafka_sink_wake,
    .destroy = kafka_sink_destroy,
};

static int copy_config(struct kafka_sink *ks, const struct kafka_sink_config *cfg)
{
    ks->cfg = *cfg; /* the key mode and counts; every string below is our own copy */
    ks->cfg.dead_letter_path = NULL;
    ks->cfg.prop_names = ks->cfg.prop_values = NULL;
    ks->cfg.brokers = ks->brokers = strdup(cfg->brokers);
    ks->cfg.topic = ks->topic = strdup(cfg->topic);
    ks->cfg.alerts_topic = ks->alerts_topic = cfg->alerts_topic ? strdup(cfg->alerts_topic) : NULL;
    ks->cfg.dead_letter_path = strdup(cfg->dead_letter_path);
    ks->names = calloc(cfg->n_props + 1, sizeof(char *));
    ks->values = calloc(cfg->n_props + 1, sizeof(char *));
    if (!ks->brokers || !ks->topic || (cfg->alerts_topic && !ks->alerts_topic) ||
        !ks->cfg.dead_letter_path || !ks->names || !ks->values)
        return LME_ENOMEM;
    for (; ks->n_props < cfg->n_props; ks->n_props++) {
        ks->names[ks->n_props] = strdup(cfg->prop_names[ks->n_props]);
        ks->values[ks->n_props] = strdup(cfg->prop_values[ks->n_props]);
        if (!ks->names[ks->n_props] || !ks->values[ks->n_props]) {
            ks->n_props++;
            return LME_ENOMEM;
        }
    }
    ks->cfg.prop_names = ks->names;
    ks->cfg.prop_values = ks->values;
    return 0;
}

void kafka_sink_keep_batch_memory(void)
{
#if defined(M_MMAP_THRESHOLD) && defined(M_TRIM_THRESHOLD)
    mallopt(M_MMAP_THRESHOLD, 4 << 20);
    mallopt(M_TRIM_THRESHOLD, 16 << 20);
#endif
}

/* Memory for the events in flight: the budget, and a quarter more for the size classes' rounding,
 * the per-event bookkeeping and the classes' free blocks that another class cannot use. */
static size_t arena_size(size_t max_in_flight_bytes)
{
    return max_in_flight_bytes + max_in_flight_bytes / 4;
}

/* Header lists kept idle: as many as messages of 512 bytes fill the budget. Lists come back in
 * bursts, as many as were in flight, and are taken again as the next events are produced; fewer
 * would be destroyed and built again (about 250 bytes and four allocations each). */
static size_t max_idle_headers(size_t max_in_flight_bytes)
{
    return max_in_flight_bytes / 512;
}

struct sink *kafka_sink_create(const struct kafka_sink_config *cfg, size_t max_in_flight_bytes,
                               struct lme_err *err)
{
    struct kafka_sink *ks = calloc(1, sizeof(*ks));
    if (!ks) {
        lme_err_set(err, LME_ENOMEM, "kafka sink: out of memory");
        return NULL;
    }
    ks->base.ops = &kafka_sink_ops;
    pthread_mutex_init(&ks->wake_lock, NULL);
    ks->base.json.no_original = !cfg->event_original;
    ks->max_in_flight_bytes = max_in_flight_bytes;
    snprintf(ks->base.name, sizeof(ks->base.name), "kafka");
    size_t budget = max_in_flight_bytes;
    if (copy_config(ks, cfg) != 0 || !(ks->arena = arena_create(arena_size(budget))) ||
        (cfg->headers && !(ks->headers = kafka_headers_create(max_idle_headers(budget))))) {
        lme_err_set(err, LME_ENOMEM, "kafka sink: out of memory");
        goto fail;
    }
    ks->dl = dead_letter_open(cfg->dead_letter_path, err);
    if (!ks->dl)
        goto fail;
    kafka_sink_keep_batch_memory();
    if (producer_new(ks, err) != 0)
        goto fail;
    return &ks->base;
fail:
    kafka_sink_destroy(&ks->base);
    return NULL;
}
