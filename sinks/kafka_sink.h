/* The Kafka sink: one librdkafka producer; an event is delivered only when the broker
 * acknowledged it. Transient failures are retried for as long as it takes; permanent ones go to
 * the dead-letter file; a fatal producer error recreates the producer and re-sends. The events
 * in flight are produced without a copy from the memory they are kept in until acknowledged:
 * the owner's, lent with send_kept (sink_thread's batches), or else the sink's own, carved from
 * the byte budget (max_in_flight_bytes). The produce path allocates nothing per message of its
 * own. */
#ifndef LME_KAFKA_SINK_H
#define LME_KAFKA_SINK_H

#include <stddef.h>

#include "conf.h"
#include "err.h"
#include "sink.h"

enum kafka_key_mode {
    KAFKA_KEY_HOST_COMPONENT = 0, /* "exch01/LME-NOTES-MEXNTS": each connector stays in order */
    KAFKA_KEY_HOST,
    KAFKA_KEY_NONE,
};

enum kafka_alerts_mode {
    KAFKA_ALERTS_INCIDENTS = 0, /* incident events (docs/incidents.md) */
    KAFKA_ALERTS_EVERY_41220,   /* each 41220 with its diagnosis */
    KAFKA_ALERTS_BOTH,
};

struct kafka_sink_config {
    char *brokers;          /* bootstrap.servers */
    char *topic;            /* every event */
    char *alerts_topic;     /* alerts, too (see alerts); NULL: none */
    enum kafka_alerts_mode alerts; /* which events alerts_topic gets */
    enum kafka_key_mode key;
    int headers;            /* the headers lme.schema_version and event.code (default 1) */
    int event_original;     /* event.original in the JSON (default 1) */
    int thread;             /* run on a thread of its own (sink_thread.h; default 1) */
    char *dead_letter_path;
    size_t n_props;         /* librdkafka properties, passed through as given */
    char **prop_names;
    char **prop_values;
};

/* Its keys (conf.h), over struct kafka_sink_config: `rdkafka` (properties, secrets) is read by
 * the loader's own code, and dead_letter_path defaults to state_dir's dead-letter.jsonl. */
extern const struct conf_table kafka_sink_config_keys;

/* The producer properties the sink starts from, before the user's `rdkafka` ones (name, value);
 * bench/kafka_floor.c produces with the same. */
extern const char *const kafka_sink_producer_defaults[][2];
extern const size_t kafka_sink_n_producer_defaults;

/* librdkafka builds each batch in buffers of up to batch.size (1 MB) in its broker threads and
 * frees them when the broker answers. glibc's sliding thresholds give that memory back to the
 * kernel and the next batch faults it in again: on the benchmark 80,000 to 110,000 page faults a
 * run, and for librdkafka alone (bench/kafka_floor.c) half its CPU on these virtual machines.
 * This fixes the thresholds so that it is kept (peak memory is the same; memory is given back
 * only above 16 MiB free). Process-wide (mallopt); kafka_sink_create calls it, so a process that
 * produces nothing is left alone. */
void kafka_sink_keep_batch_memory(void);

/* True for librdkafka properties whose values are secrets: never printed, logged or echoed. */
int kafka_sink_is_secret(const char *property);

/* Checks that every property is one librdkafka accepts with its value (without connecting).
 * Errors name the property, never a secret's value. */
int kafka_sink_check(const struct kafka_sink_config *cfg, struct lme_err *err);

/* Creates the sink (cfg is copied as needed and may be freed after). max_in_flight_bytes bounds
 * librdkafka's own queue and sizes the memory the sink keeps events in until their delivery
 * reports (about 1.25 times it, touched as it is used). Calls kafka_sink_keep_batch_memory.
 * Returns NULL with err filled. */
struct sink *kafka_sink_create(const struct kafka_sink_config *cfg, size_t max_in_flight_bytes,
                               struct lme_err *err);

#endif
