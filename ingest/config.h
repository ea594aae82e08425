/* The daemon's configuration: a JSON file (docs/config.md), read with jansson and checked
 * strictly. Unknown keys and wrong types are errors naming the file, the key path and what was
 * expected, e.g. "lme.json: key 'inputs[0].paths': expected an array of strings". */
#ifndef LME_CONFIG_H
#define LME_CONFIG_H

#include <stddef.h>

#include "err.h"
#include "kafka_sink.h"

struct config_input {
    char **paths;      /* globs */
    size_t n_paths;
    char *timezone;    /* IANA name; NULL: the machine's */
    char *connector;   /* the connector the logs belong to; NULL: none */
    char *host_name;   /* host.name of its events; NULL: the config's host_name */
};

enum config_sink_type { CONFIG_SINK_FILE, CONFIG_SINK_KAFKA };

struct config_sink {
    enum config_sink_type type;
    char *path;                    /* file: a path or "-" */
    struct kafka_sink_config kafka;
};

struct config {
    char *file;              /* where it was read from */
    char *host_name;
    char *state_dir;
    size_t max_record_bytes;
    size_t max_in_flight_bytes; /* the one byte budget of everything in flight */
    int drain_timeout_ms;       /* at SIGTERM/SIGINT */
    int once_timeout_ms;        /* run --once: longest wait for acknowledgements */
    int checkpoint_interval_ms; /* how often settled offsets are written to state_dir */
    struct config_input *inputs;
    size_t n_inputs;
    struct config_sink *sinks;
    size_t n_sinks;
};

/* Reads and checks path. On success *out owns a config (free with config_free). Every value is
 * checked, time zones and librdkafka properties included; secrets never appear in err. */
int config_load(const char *path, struct config **out, struct lme_err *err);

/* NULL-safe. */
void config_free(struct config *cfg);

#endif
