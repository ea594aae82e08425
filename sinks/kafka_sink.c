/* The Kafka sink: see kafka_sink.h.
 *
 * librdkafka copies each message (RD_KAFKA_MSG_F_COPY: one allocation, its own), so the happy
 * path keeps nothing of ours per message. A delivery report without error is the broker's
 * acknowledgement. A permanent error sends the event to the dead-letter file; any other is
 * transient: the report's payload, key and headers are copied into a struct pending that waits
 * on our retry list (backoff up to 10 s) and is produced again, for as long as it takes. A fatal
 * producer error (idempotence) purges the producer, which returns every message through its
 * report, recreates it and re-sends them all. Reports arrive only inside rd_kafka_poll(), so
 * everything here runs on the caller's thread. */
#include "kafka_sink.h"

#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "clock.h"
#include "dead_letter.h"
#include "log.h"

#define RETRY_BACKOFF_MIN_MS 100
#define RETRY_BACKOFF_MAX_MS 10000
#define MAX_REASONS 32

/* One message to produce, borrowed: an event's JSON with its routing. */
struct message {
    const char *key;
    size_t key_len;
    const char *payload;
    size_t len;
    char code[6];   /* event.code for the header; "" when absent */
    bool alerts;    /* produced to alerts_topic */
    uint64_t token; /* the pipeline's, for its settlement */
};

/* A message we hold ourselves: one that failed transiently and waits to be produced again. */
struct pending {
    struct pending *next; /* on the retry list */
    int64_t retry_at_ms;
    int attempts;
    struct message msg;   /* key and payload point into data */
    char data[];
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
    struct pending *retry_head, *retry_tail;
    struct dead_letter *dl;
    struct reason_count reasons[MAX_REASONS];
    size_t n_reasons;
    struct {
        int code;
        int64_t at_ms;
    } logged[8]; /* when each kind of trouble was last logged */
    struct lme_err pending_err; /* a dead-letter failure seen inside a delivery report */
};

static const char *const key_modes[] = { "host_component", "host", "none", NULL };

static const struct conf_key keys[] = {
    CONF_OWN_KEY("type", true, "kafka"),
    CONF_REQUIRED_STRING_KEY(struct kafka_sink_config, brokers, "brokers",
                             "host:port,host:port: bootstrap.servers"),
    CONF_STRING_KEY(struct kafka_sink_config, topic, "topic", "lme.events",
                    "every event goes here"),
    CONF_STRING_KEY(struct kafka_sink_config, alerts_topic, "alerts_topic", NULL,
                    "events carrying a diagnosis go here too"),
    CONF_CHOICE_KEY(struct kafka_sink_config, key, "key", KAFKA_KEY_HOST_COMPONENT, key_modes,
                    "message key: host/component, host, or none"),
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
    static const char *const defaults[][2] = {
        { "enable.idempotence", "true" },
        { "acks", "all" },
        { "compression.type", "lz4" },
        { "linger.ms", "20" },
        { "client.id", "lme-ingest" },
    };
    char kbytes[32];
    snprintf(kbytes, sizeof(kbytes), "%zu", max_in_flight / 1024 + 1);
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (!conf) {
        lme_err_set(err, LME_ENOMEM, "out of memory");
        return NULL;
    }
    int rc = conf_set(conf, "queue.buffering.max.kbytes", kbytes, err);
    for (size_t i = 0; !rc && i < sizeof(defaults) / sizeof(defaults[0]); i++)
        rc = conf_set(conf, defaults[i][0], defaults[i][1], err);
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

/* ---- settling messages ---- */

/* One message left our hands for good (delivered, or set aside). */
static void settled(struct kafka_sink *ks, const struct message *m)
{
    ks->base.stats.in_flight--;
    ks->base.stats.in_flight_bytes -= m->len;
    sink_settle(&ks->base, m->token);
}

static struct pending *pending_new(const struct message *m)
{
    struct pending *p = malloc(sizeof(*p) + m->key_len + m->len + 1);
    if (!p)
        return NULL;
    memset(p, 0, sizeof(*p));
    p->msg = *m;
    p->msg.key = memcpy(p->data, m->key, m->key_len);
    p->msg.payload = memcpy(p->data + m->key_len, m->payload, m->len);
    return p;
}

/* The opaque of a produced message: the token and, in its low bit, whether it is the alert copy. */
static void *opaque_of(const struct message *m)
{
    return (void *)(uintptr_t)(m->token << 1 | (m->alerts ? 1 : 0));
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

static void park(struct kafka_sink *ks, struct pending *p, int64_t delay_ms)
{
    p->retry_at_ms = lme_mono_ms() + delay_ms;
    p->next = NULL;
    if (ks->retry_tail)
        ks->retry_tail->next = p;
    else
        ks->retry_head = p;
    ks->retry_tail = p;
}

/* Keeps a failed message for a later attempt: p is its copy when it has one already. */
static void retry_later(struct kafka_sink *ks, struct pending *p, const struct message *m)
{
    if (!p && !(p = pending_new(m))) { /* cannot keep it: stop rather than lose it */
        lme_err_set(&ks->pending_err, LME_ENOMEM, "%s: out of memory", ks->base.name);
        return;
    }
    int backoff = RETRY_BACKOFF_MIN_MS << (p->attempts < 7 ? p->attempts : 7);
    p->attempts++;
    ks->base.stats.retried++;
    park(ks, p, backoff < RETRY_BACKOFF_MAX_MS ? backoff : RETRY_BACKOFF_MAX_MS);
}

/* Sets a message aside for good. When the dead-letter file cannot be written the message is
 * kept (tried again later) and the sink reports the failure at the next poll. */
static void dead_letter(struct kafka_sink *ks, struct pending *p, const struct message *m,
                        rd_kafka_resp_err_t e)
{
    struct lme_err err;
    const char *topic = destination(ks, m->alerts);
    if (dead_letter_write(ks->dl, ks->base.name, topic, rd_kafka_err2name(e), rd_kafka_err2str(e),
                          m->payload, m->len, &err) != 0) {
        ks->pending_err = err;
        if (!p)
            p = pending_new(m);
        if (p)
            park(ks, p, RETRY_BACKOFF_MAX_MS);
        return;
    }
    count_reason(ks, e, topic);
    ks->base.stats.dead_lettered++;
    settled(ks, m);
    free(p);
}

/* Rebuilds what we produced from a delivery report. */
static struct message message_of(const rd_kafka_message_t *msg)
{
    struct message m = {
        .key = msg->key, .key_len = msg->key_len, .payload = msg->payload, .len = msg->len,
        .alerts = ((uintptr_t)msg->_private & 1) != 0, .token = (uintptr_t)msg->_private >> 1,
    };
    const void *value;
    size_t size;
    rd_kafka_headers_t *h;
    if (rd_kafka_message_headers(msg, &h) == 0 &&
        rd_kafka_header_get_last(h, "event.code", &value, &size) == 0 && size < sizeof(m.code))
        memcpy(m.code, value, size);
    return m;
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
    (void)rk;
    struct kafka_sink *ks = opaque;
    struct message m = message_of(msg);
    if (!msg->err) {
        ks->base.stats.delivered++;
        settled(ks, &m);
    } else if (is_permanent(msg->err)) {
        dead_letter(ks, NULL, &m, msg->err);
    } else {
        retry_later(ks, NULL, &m);
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

/* librdkafka looks up a topic it has not produced to yet only on its one-second timer, so the
 * first events would wait that long: ask for the topic's metadata now. Bounded, so that a broker
 * that is down delays the start by at most METADATA_WAIT_MS (delivery then retries as usual). */
#define METADATA_WAIT_MS 500

static void warm_metadata(rd_kafka_t *rk, const char *topic)
{
    rd_kafka_topic_t *rkt = topic ? rd_kafka_topic_new(rk, topic, NULL) : NULL;
    const struct rd_kafka_metadata *md;
    if (rkt && rd_kafka_metadata(rk, 0, rkt, &md, METADATA_WAIT_MS) == RD_KAFKA_RESP_ERR_NO_ERROR)
        rd_kafka_metadata_destroy(md);
    if (rkt)
        rd_kafka_topic_destroy(rkt);
}

static rd_kafka_t *producer_new(struct kafka_sink *ks, struct lme_err *err)
{
    rd_kafka_conf_t *conf = build_conf(&ks->cfg, ks->max_in_flight_bytes, err);
    if (!conf)
        return NULL;
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_error_cb(conf, on_error);
    rd_kafka_conf_set_log_cb(conf, on_log);
    rd_kafka_conf_set_opaque(conf, ks);
    char errstr[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        lme_err_set(err, LME_EINVAL, "%s: cannot create the producer: %s", ks->base.name, errstr);
        return NULL;
    }
    warm_metadata(rk, ks->cfg.topic);
    warm_metadata(rk, ks->cfg.alerts_topic);
    return rk;
}

/* ---- producing ---- */

static rd_kafka_resp_err_t produce(struct kafka_sink *ks, const struct message *m)
{
    static const char version[] = { '0' + LME_SCHEMA_VERSION, '\0' };
    rd_kafka_headers_t *h = rd_kafka_headers_new(2);
    rd_kafka_header_add(h, "lme.schema_version", -1, version, 1);
    if (m->code[0])
        rd_kafka_header_add(h, "event.code", -1, m->code, (ssize_t)strlen(m->code));
    rd_kafka_resp_err_t e = rd_kafka_producev(
        ks->rk, RD_KAFKA_V_TOPIC(destination(ks, m->alerts)),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_VALUE((void *)m->payload, m->len),
        RD_KAFKA_V_KEY(m->key_len ? m->key : NULL, m->key_len), RD_KAFKA_V_HEADERS(h),
        RD_KAFKA_V_OPAQUE(opaque_of(m)), RD_KAFKA_V_END);
    if (e)
        rd_kafka_headers_destroy(h);
    return e;
}

/* Hands a message to librdkafka, or sets it aside or parks it when that is refused. p is the
 * message's own copy when it has one (freed once librdkafka took the message). */
static void submit(struct kafka_sink *ks, struct pending *p, const struct message *m)
{
    for (;;) {
        rd_kafka_resp_err_t e = produce(ks, m);
        if (!e) {
            free(p);
            return;
        }
        if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) { /* wait for room, serving reports */
            rd_kafka_poll(ks->rk, 10);
            continue;
        }
        if (is_permanent(e))
            dead_letter(ks, p, m, e);
        else
            retry_later(ks, p, m);
        return;
    }
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

static int kafka_sink_send(struct sink *s, const struct lme_event *ev, const char *json,
                           size_t len, uint64_t token, struct lme_err *err)
{
    struct kafka_sink *ks = (struct kafka_sink *)s;
    char key[256];
    struct message m = { .key = key, .payload = json, .len = len, .token = token };
    m.key_len = key_of(ks, ev, key, sizeof(key));
    if (ev->code.len == 5)
        memcpy(m.code, ev->code.ptr, 5);
    int copies = 1 + (ks->cfg.alerts_topic && (ev->flags & LME_EV_DIAGNOSED));
    for (int copy = 0; copy < copies; copy++) {
        m.alerts = copy == 1;
        s->stats.accepted++;
        s->stats.in_flight++;
        s->stats.in_flight_bytes += len;
        submit(ks, NULL, &m);
    }
    if (ks->pending_err.code) {
        *err = ks->pending_err;
        return err->code;
    }
    return copies;
}

/* ---- fatal errors ---- */

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

static int recreate_producer(struct kafka_sink *ks, const char *reason, struct lme_err *err)
{
    lme_log(LME_LOG_ERROR, "kafka: fatal producer error, recreating the producer", "sink",
            ks->base.name, "error", reason, NULL);
    take_everything_back(ks);
    rd_kafka_destroy(ks->rk);
    ks->rk = producer_new(ks, err);
    if (!ks->rk)
        return err->code;
    for (struct pending *m = ks->retry_head; m; m = m->next)
        m->retry_at_ms = 0; /* re-send all at once */
    return 0;
}

static void resubmit_due(struct kafka_sink *ks)
{
    int64_t now = lme_mono_ms();
    struct pending *due = ks->retry_head, *keep = NULL, *keep_tail = NULL;
    ks->retry_head = ks->retry_tail = NULL;
    while (due) {
        struct pending *m = due;
        due = m->next;
        m->next = NULL;
        if (m->retry_at_ms <= now) {
            submit(ks, m, &m->msg); /* may put it back on the (new) retry list */
            continue;
        }
        if (keep_tail)
            keep_tail->next = m;
        else
            keep = m;
        keep_tail = m;
    }
    if (keep) { /* still waiting: before what submit() just parked */
        keep_tail->next = ks->retry_head;
        ks->retry_head = keep;
        if (!ks->retry_tail)
            ks->retry_tail = keep_tail;
    }
}

static int kafka_sink_poll(struct sink *s, int timeout_ms, struct lme_err *err)
{
    struct kafka_sink *ks = (struct kafka_sink *)s;
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

static void kafka_sink_destroy(struct sink *s)
{
    struct kafka_sink *ks = (struct kafka_sink *)s;
    if (!ks)
        return;
    for (size_t i = 0; i < ks->n_reasons; i++) {
        char n[24];
        snprintf(n, sizeof(n), "%llu", (unsigned long long)ks->reasons[i].count);
        lme_log(LME_LOG_INFO, "dead-letter totals", "sink", ks->base.name, "reason",
                rd_kafka_err2name((rd_kafka_resp_err_t)ks->reasons[i].code), "count", n, NULL);
    }
    if (ks->rk) {
        take_everything_back(ks);
        rd_kafka_destroy(ks->rk);
    }
    while (ks->retry_head) {
        struct pending *m = ks->retry_head;
        ks->retry_head = m->next;
        free(m);
    }
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
    free(ks);
}

static const struct sink_ops kafka_sink_ops = {
    .type = "kafka",
    .send = kafka_sink_send,
    .poll = kafka_sink_poll,
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

struct sink *kafka_sink_create(const struct kafka_sink_config *cfg, size_t max_in_flight_bytes,
                               struct lme_err *err)
{
    struct kafka_sink *ks = calloc(1, sizeof(*ks));
    if (!ks) {
        lme_err_set(err, LME_ENOMEM, "kafka sink: out of memory");
        return NULL;
    }
    ks->base.ops = &kafka_sink_ops;
    ks->max_in_flight_bytes = max_in_flight_bytes;
    snprintf(ks->base.name, sizeof(ks->base.name), "kafka");
    if (copy_config(ks, cfg) != 0) {
        lme_err_set(err, LME_ENOMEM, "kafka sink: out of memory");
        goto fail;
    }
    ks->dl = dead_letter_open(cfg->dead_letter_path, err);
    if (!ks->dl)
        goto fail;
    ks->rk = producer_new(ks, err);
    if (!ks->rk)
        goto fail;
    return &ks->base;
fail:
    kafka_sink_destroy(&ks->base);
    return NULL;
}
