/* The Kafka sink: one librdkafka producer; an event is delivered only when the broker
 * acknowledged it. Transient failures are retried for as long as it takes; permanent ones go to
 * the dead-letter file; a fatal producer error recreates the producer and re-sends. */
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

struct kafka_sink_config {
    char *brokers;          /* bootstrap.servers */
    char *topic;            /* every event */
    char *alerts_topic;     /* events carrying a diagnosis, too; NULL: none */
    enum kafka_key_mode key;
    char *dead_letter_path;
    size_t n_props;         /* librdkafka properties, passed through as given */
    char **prop_names;
    char **prop_values;
};

/* Its keys (conf.h), over struct kafka_sink_config: `rdkafka` (properties, secrets) is read by
 * the loader's own code, and dead_letter_path defaults to state_dir's dead-letter.jsonl. */
extern const struct conf_table kafka_sink_config_keys;

/* True for librdkafka properties whose values are secrets: never printed, logged or echoed. */
int kafka_sink_is_secret(const char *property);

/* Checks that every property is one librdkafka accepts with its value (without connecting).
 * Errors name the property, never a secret's value. */
int kafka_sink_check(const struct kafka_sink_config *cfg, struct lme_err *err);

/* Creates the sink (cfg is copied as needed and may be freed after). max_in_flight_bytes bounds
 * librdkafka's own queue. Returns NULL with err filled. */
struct sink *kafka_sink_create(const struct kafka_sink_config *cfg, size_t max_in_flight_bytes,
                               struct lme_err *err);

#endif
