/* The daemon's configuration: a JSON file (docs/config.md), read with jansson against the key
 * tables each stage owns (conf.h) and checked strictly. Unknown keys and wrong types are errors naming the file, the key path and what was
 * expected, e.g. "lme.json: key 'inputs[0].paths': expected an array of strings". */
#ifndef LME_CONFIG_H
#define LME_CONFIG_H

#include <stddef.h>

#include "conf.h"
#include "enrich.h"
#include "err.h"
#include "file_sink.h"
#include "kafka_sink.h"

enum config_start_at { CONFIG_START_BEGINNING, CONFIG_START_END };

enum config_encoding {
    CONFIG_ENCODING_AUTO,    /* UTF-16LE when the file starts with its BOM, else as UTF-8 */
    CONFIG_ENCODING_UTF8,    /* UTF-8 or a single-byte code page (bytes carried as they are) */
    CONFIG_ENCODING_UTF16LE, /* with or without a BOM */
};

struct config_input {
    char **paths;      /* globs */
    size_t n_paths;
    char *timezone;    /* IANA name; NULL: the machine's */
    char *connector;   /* the connector the logs belong to; NULL: none */
    char *host_name;   /* host.name of its events; NULL: the config's host_name */
    enum config_start_at start_at;   /* files found at the very first start (no checkpoints) */
    long long max_read_back_bytes;   /* 0: no cap on how far back a new file is read */
    enum config_encoding encoding;
    int multiline_flush_ms;  /* a silent file's last record goes out after this */
    int rotate_wait_ms;      /* a renamed or deleted file is read this long after its last growth */
    int close_inactive_ms;   /* a file silent this long is closed (reopened when it changes) */
    int follow_symlinks;     /* 1: glob matches that are links are read, when inside the folders */
};

enum config_sink_type { CONFIG_SINK_FILE, CONFIG_SINK_KAFKA };

struct config_sink {
    enum config_sink_type type;
    struct file_sink_config file;
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
    int poll_interval_ms;       /* how often open files are checked for growth without inotify */
    int scan_interval_ms;       /* how often the inputs' globs are matched again */
    int inotify;                /* 0: polling only (as Fluent Bit's inotify_watcher false) */
    enum config_start_at on_bad_checkpoints; /* where files start when checkpoints.json is unreadable */
    char *metrics_listen;       /* `metrics.listen`: HOST:PORT of /metrics, /health, /ready; NULL: off */
    int health_stall_ms;        /* a sink with events in flight and no delivery this long: unhealthy */
    int log_format;             /* enum lme_log_format */
    int log_level;              /* enum lme_log_level */
    struct config_input *inputs;
    size_t n_inputs;
    struct config_sink *sinks;
    size_t n_sinks;
    struct enrich_connector *connectors; /* `connectors`, in file order */
    size_t n_connectors;
    struct enrich_config enrichment;     /* `enrichment`; connectors point at the above */
};

/* The keys of the top level and of `metrics` (conf.h), over struct config. Each stage's own keys
 * are in its table: inputs_config_keys, kafka_sink_config_keys, file_sink_config_keys, ... */
extern const struct conf_table config_top_keys;
extern const struct conf_table config_metrics_keys;

/* Reads and checks path. On success *out owns a config (free with config_free). Every value is
 * checked, time zones and librdkafka properties included; secrets never appear in err. */
int config_load(const char *path, struct config **out, struct lme_err *err);

/* NULL-safe. */
void config_free(struct config *cfg);

#endif
