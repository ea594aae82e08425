/* Loading and checking the configuration: see config.h. One generic reader takes each JSON object
 * against the key table of the stage that owns it (conf.h); what a table cannot say (the rdkafka
 * properties and their secrets, a connector's path map, the wiring between inputs and connectors)
 * is read here by hand. An unknown key is an error, never a silent default. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http.h"
#include "inputs.h"
#include "file_sink.h"
#include "log.h"
#include "tz.h"


/* What is being read: the file and the key path, for error messages. */
struct reader {
    const char *file;
    char path[256];
    struct lme_err *err;
};

static int fail(struct reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(struct reader *r, const char *fmt, ...)
{
    char what[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    return lme_err_set(r->err, LME_EINVAL, "%s: key '%s': %s", r->file, r->path, what);
}

/* Appends ".key" or "[i]" to the key path; returns the old length to restore it. */
static size_t push_key(struct reader *r, const char *key)
{
    size_t len = strlen(r->path);
    snprintf(r->path + len, sizeof(r->path) - len, "%s%s", len ? "." : "", key);
    return len;
}

static size_t push_index(struct reader *r, size_t i)
{
    size_t len = strlen(r->path);
    snprintf(r->path + len, sizeof(r->path) - len, "[%zu]", i);
    return len;
}

static void pop(struct reader *r, size_t len)
{
    r->path[len] = '\0';
}

/* Fails on the first key of obj not in the NULL-terminated list. */
static int only_keys(struct reader *r, json_t *obj, const char *const known[])
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        int found = 0;
        for (size_t i = 0; known[i] && !found; i++)
            found = strcmp(key, known[i]) == 0;
        if (found)
            continue;
        char list[1024] = "";
        for (size_t i = 0; known[i]; i++)
            snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? ", " : "", known[i]);
        size_t saved = push_key(r, key);
        int rc = fail(r, "unknown key (expected one of: %s)", list);
        pop(r, saved);
        return rc;
    }
    return 0;
}

/* Checks "type" is the string `want`. */
static int expect_type(struct reader *r, json_t *obj, const char *want)
{
    json_t *t = json_object_get(obj, "type");
    size_t saved = push_key(r, "type");
    int rc = 0;
    if (!json_is_string(t))
        rc = fail(r, "expected \"%s\"", want);
    else if (strcmp(json_string_value(t), want) != 0)
        rc = fail(r, "unknown type '%s' (expected \"%s\")", json_string_value(t), want);
    pop(r, saved);
    return rc;
}

/* ---- the generic reader: a JSON object against a key table (conf.h) ---- */

static int read_strings(struct reader *r, json_t *v, const struct conf_key *k, void *base)
{
    char ***out = (char ***)((char *)base + k->offset);
    size_t *n = (size_t *)((char *)base + k->count_offset);
    if (!json_is_array(v) || json_array_size(v) == 0)
        return fail(r, "expected a non-empty array of strings");
    if (!(*out = calloc(json_array_size(v), sizeof(char *))))
        return lme_err_set(r->err, LME_ENOMEM, "out of memory");
    size_t i;
    json_t *item;
    json_array_foreach(v, i, item) {
        if (!json_is_string(item) || json_string_length(item) == 0) {
            push_index(r, i);
            return fail(r, "expected a non-empty string");
        }
        if (!((*out)[i] = strdup(json_string_value(item))))
            return lme_err_set(r->err, LME_ENOMEM, "out of memory");
        *n = i + 1;
    }
    return 0;
}

static int read_choice(struct reader *r, json_t *v, const struct conf_key *k, void *base)
{
    for (int i = 0; k->choices[i]; i++)
        if (json_is_string(v) && strcmp(json_string_value(v), k->choices[i]) == 0) {
            conf_store_int(k, base, i);
            return 0;
        }
    char list[256] = "";
    for (int i = 0; k->choices[i]; i++)
        snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s\"%s\"", i ? " or " : "",
                 k->choices[i]);
    return fail(r, "expected %s", list);
}

/* One value of row k (the key path already names it). */
static int read_value(struct reader *r, json_t *v, const struct conf_key *k, void *base)
{
    char **str = (char **)((char *)base + k->offset);
    switch (k->type) {
    case CONF_BOOL:
        if (!json_is_boolean(v))
            return fail(r, "expected true or false");
        conf_store_int(k, base, json_is_true(v));
        return 0;
    case CONF_INT:
        if (!json_is_integer(v) || json_integer_value(v) < k->min || json_integer_value(v) > k->max)
            return fail(r, "expected an integer from %lld to %lld", k->min, k->max);
        conf_store_int(k, base, json_integer_value(v));
        return 0;
    case CONF_STRING:
        if (!json_is_string(v) || json_string_length(v) == 0)
            return fail(r, "expected a non-empty string");
        free(*str);
        *str = strdup(json_string_value(v));
        return *str ? 0 : lme_err_set(r->err, LME_ENOMEM, "out of memory");
    case CONF_CHOICE:
        return read_choice(r, v, k, base);
    case CONF_STRINGS:
        return read_strings(r, v, k, base);
    case CONF_OWN:
        return 0;
    }
    return 0;
}

/* Reads obj against table t into base: defaults, then every key present; an unknown key or a
 * required one missing is an error. Keys of type CONF_OWN are left to the caller. */
static int read_table(struct reader *r, json_t *obj, const struct conf_table *t, void *base)
{
    if (!json_is_object(obj))
        return fail(r, "expected an object");
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        if (conf_find(t, key))
            continue;
        char list[1024];
        size_t saved = push_key(r, key);
        int rc = fail(r, "unknown key (expected one of: %s)", conf_key_list(t, list, sizeof(list)));
        pop(r, saved);
        return rc;
    }
    if (conf_set_defaults(t, base) != 0)
        return lme_err_set(r->err, LME_ENOMEM, "out of memory");
    for (size_t i = 0; i < t->n; i++) {
        const struct conf_key *k = &t->keys[i];
        json_t *val = json_object_get(obj, k->name);
        if (!val && (!k->required || k->type == CONF_OWN))
            continue;
        size_t saved = push_key(r, k->name);
        int rc = val ? read_value(r, val, k, base) : fail(r, "missing (expected %s)", k->doc);
        pop(r, saved);
        if (rc)
            return rc;
    }
    return 0;
}

static int read_input(struct reader *r, json_t *obj, struct config_input *in)
{
    int rc = read_table(r, obj, &inputs_config_keys, in);
    if (!rc)
        rc = expect_type(r, obj, "file");
    if (!rc && in->close_inactive_ms <= in->multiline_flush_ms) {
        size_t saved = push_key(r, "close_inactive_ms");
        rc = fail(r, "%d is not more than multiline_flush_ms (%d): a file would be closed before "
                     "its last record is sent", in->close_inactive_ms, in->multiline_flush_ms);
        pop(r, saved);
    }
    if (rc || !in->timezone)
        return rc;
    struct lme_err tzerr;
    struct lme_tz *tz = lme_tz_open(in->timezone, &tzerr);
    if (!tz) {
        size_t saved = push_key(r, "timezone");
        rc = fail(r, "%s", tzerr.msg);
        pop(r, saved);
    }
    lme_tz_destroy(tz);
    return rc;
}

#define MAX_SECRET_BYTES 4096

/* A secret given as {"file": PATH} (its first line, the file not readable by others) or
 * {"env": NAME}, so that it need not sit in the config. Fills out (NUL-terminated). The value is
 * never put in an error. */
static int read_secret(struct reader *r, json_t *v, char *out, size_t size)
{
    static const char *const keys[] = { "file", "env", NULL };
    json_t *file = json_object_get(v, "file"), *env = json_object_get(v, "env");
    int rc = only_keys(r, v, keys);
    if (rc)
        return rc;
    if (!!file == !!env || !json_is_string(file ? file : env))
        return fail(r, "expected {\"file\": PATH} or {\"env\": NAME}");
    if (env) {
        const char *val = getenv(json_string_value(env));
        if (!val || !*val)
            return fail(r, "environment variable %s is not set", json_string_value(env));
        snprintf(out, size, "%s", val);
        return 0;
    }
    const char *path = json_string_value(file);
    /* O_NONBLOCK and a regular file only: a FIFO or a terminal named here must not hang start */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    struct stat st;
    if (fd < 0)
        return fail(r, "cannot read the secret file %s: %s", path, strerror(errno));
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return fail(r, "the secret file %s is not a regular file", path);
    }
    if (st.st_mode & S_IROTH) {
        close(fd);
        return fail(r, "the secret file %s is readable by others (chmod o-r)", path);
    }
    ssize_t n = read(fd, out, size - 1);
    close(fd);
    out[n > 0 ? n : 0] = '\0';
    out[strcspn(out, "\r\n")] = '\0';
    return out[0] ? 0 : fail(r, "the secret file %s is empty", path);
}

static int read_rdkafka(struct reader *r, json_t *obj, struct kafka_sink_config *k)
{
    json_t *props = json_object_get(obj, "rdkafka");
    if (!props)
        return 0;
    size_t saved = push_key(r, "rdkafka");
    int rc = 0;
    if (!json_is_object(props)) {
        rc = fail(r, "expected an object of librdkafka properties");
        goto done;
    }
    size_t n = json_object_size(props);
    k->prop_names = calloc(n ? n : 1, sizeof(char *));
    k->prop_values = calloc(n ? n : 1, sizeof(char *));
    if (!k->prop_names || !k->prop_values) {
        rc = lme_err_set(r->err, LME_ENOMEM, "out of memory");
        goto done;
    }
    const char *name;
    json_t *v;
    json_object_foreach(props, name, v) {
        char num[64], secret[MAX_SECRET_BYTES];
        const char *text = NULL;
        if (json_is_object(v) && kafka_sink_is_secret(name)) {
            size_t inner = push_key(r, name);
            rc = read_secret(r, v, secret, sizeof(secret));
            pop(r, inner);
            if (rc)
                goto done;
            text = secret;
        } else if (json_is_string(v))
            text = json_string_value(v);
        else if (json_is_integer(v))
            snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v)), text = num;
        else if (json_is_boolean(v))
            text = json_is_true(v) ? "true" : "false";
        if (!text) {
            size_t inner = push_key(r, name);
            rc = fail(r, kafka_sink_is_secret(name)
                             ? "expected a string, or {\"file\": PATH} or {\"env\": NAME}"
                             : "expected a string, an integer or a boolean");
            pop(r, inner);
            goto done;
        }
        k->prop_names[k->n_props] = strdup(name);
        k->prop_values[k->n_props] = strdup(text);
        explicit_bzero(secret, sizeof(secret));
        if (!k->prop_names[k->n_props] || !k->prop_values[k->n_props]) {
            free(k->prop_names[k->n_props]);
            free(k->prop_values[k->n_props]);
            rc = lme_err_set(r->err, LME_ENOMEM, "out of memory");
            goto done;
        }
        k->n_props++;
    }
done:
    pop(r, saved);
    return rc;
}

static int read_kafka_sink(struct reader *r, json_t *obj, struct config_sink *s,
                           const char *state_dir)
{
    struct kafka_sink_config *k = &s->kafka;
    s->type = CONFIG_SINK_KAFKA;
    int rc = read_table(r, obj, &kafka_sink_config_keys, k);
    if (!rc)
        rc = read_rdkafka(r, obj, k);
    if (rc)
        return rc;
    if (!k->dead_letter_path) {
        size_t len = strlen(state_dir) + sizeof("/dead-letter.jsonl");
        if (!(k->dead_letter_path = malloc(len)))
            return lme_err_set(r->err, LME_ENOMEM, "out of memory");
        snprintf(k->dead_letter_path, len, "%s/dead-letter.jsonl", state_dir);
    }
    struct lme_err kerr;
    if (kafka_sink_check(k, &kerr) != 0) {
        size_t saved = push_key(r, "rdkafka");
        rc = fail(r, "%s", kerr.msg);
        pop(r, saved);
    }
    return rc;
}

static int read_sink(struct reader *r, json_t *obj, struct config_sink *s, const char *state_dir)
{
    if (!json_is_object(obj))
        return fail(r, "expected an object");
    json_t *t = json_object_get(obj, "type");
    if (json_is_string(t) && strcmp(json_string_value(t), "kafka") == 0)
        return read_kafka_sink(r, obj, s, state_dir);
    if (json_is_string(t) && strcmp(json_string_value(t), "file") != 0) {
        size_t saved = push_key(r, "type");
        int bad = fail(r, "unknown type '%s' (expected \"kafka\" or \"file\")", json_string_value(t));
        pop(r, saved);
        return bad;
    }
    s->type = CONFIG_SINK_FILE;
    int rc = expect_type(r, obj, "file");
    return rc ? rc : read_table(r, obj, &file_sink_config_keys, &s->file);
}

static int read_list(struct reader *r, json_t *root, const char *key, size_t elem_size,
                     void **items, size_t *n)
{
    json_t *list = json_object_get(root, key);
    size_t saved = push_key(r, key);
    int rc = 0;
    if (!json_is_array(list) || json_array_size(list) == 0)
        rc = fail(r, "expected a non-empty array of objects");
    else if (!(*items = calloc(json_array_size(list), elem_size)))
        rc = lme_err_set(r->err, LME_ENOMEM, "out of memory");
    else
        *n = json_array_size(list);
    pop(r, saved);
    return rc;
}

/* path_map: {"C:\\": "/mnt/exch01/c/", ...} */
static int read_path_map(struct reader *r, json_t *obj, struct enrich_connector *c)
{
    json_t *map = json_object_get(obj, "path_map");
    if (!map)
        return 0;
    size_t saved = push_key(r, "path_map");
    int rc = 0;
    if (!json_is_object(map))
        rc = fail(r, "expected an object of Windows prefix to local path, e.g. {\"C:\\\\\": \"/mnt/exch01/c/\"}");
    else if (!(c->path_map = calloc(json_object_size(map) + 1, sizeof(*c->path_map))))
        rc = lme_err_set(r->err, LME_ENOMEM, "out of memory");
    const char *key;
    json_t *v;
    if (!rc)
        json_object_foreach(map, key, v) {
            if (!json_is_string(v) || json_string_length(v) == 0 || !*key) {
                push_key(r, key);
                rc = fail(r, "expected a non-empty local path");
                break;
            }
            struct enrich_path_map *m = &c->path_map[c->n_path_map];
            m->windows = strdup(key);
            m->local = strdup(json_string_value(v));
            c->n_path_map++;
            if (!m->windows || !m->local) {
                rc = lme_err_set(r->err, LME_ENOMEM, "out of memory");
                break;
            }
        }
    pop(r, saved);
    return rc;
}

static int read_notes_server(struct reader *r, json_t *obj, struct enrich_connector *c)
{
    json_t *server = json_object_get(obj, "notes_server");
    if (conf_set_defaults(&enrich_server_keys, c) != 0)
        return lme_err_set(r->err, LME_ENOMEM, "out of memory");
    if (!server)
        return 0;
    size_t saved = push_key(r, "notes_server");
    int rc = json_is_object(server) ? read_table(r, server, &enrich_server_keys, c)
                                    : fail(r, "expected {\"host\": NAME, \"port\": 1352}");
    pop(r, saved);
    return rc;
}

static int read_connector(struct reader *r, const char *name, json_t *obj,
                          struct enrich_connector *c)
{
    if (!(c->name = strdup(name)))
        return lme_err_set(r->err, LME_ENOMEM, "out of memory");
    int rc = read_table(r, obj, &enrich_connector_keys, c);
    if (!rc)
        rc = read_notes_server(r, obj, c);
    if (!rc)
        rc = read_path_map(r, obj, c);
    return rc;
}

static int read_connectors(struct reader *r, json_t *root, struct config *cfg)
{
    json_t *map = json_object_get(root, "connectors");
    if (!map)
        return 0;
    size_t saved = push_key(r, "connectors");
    int rc = 0;
    if (!json_is_object(map))
        rc = fail(r, "expected an object: connector name -> its files and Notes server");
    else if (!(cfg->connectors = calloc(json_object_size(map) + 1, sizeof(*cfg->connectors))))
        rc = lme_err_set(r->err, LME_ENOMEM, "out of memory");
    const char *name;
    json_t *v;
    if (!rc)
        json_object_foreach(map, name, v) {
            size_t k = push_key(r, name);
            rc = read_connector(r, name, v, &cfg->connectors[cfg->n_connectors++]);
            pop(r, k);
            if (rc)
                break;
        }
    pop(r, saved);
    return rc;
}

static int read_enrichment(struct reader *r, json_t *root, struct config *cfg)
{
    json_t *obj = json_object_get(root, "enrichment");
    int rc = conf_set_defaults(&enrich_config_keys, &cfg->enrichment);
    if (!rc && obj) {
        size_t saved = push_key(r, "enrichment");
        rc = read_table(r, obj, &enrich_config_keys, &cfg->enrichment);
        pop(r, saved);
    }
    cfg->enrichment.connectors = cfg->connectors;
    cfg->enrichment.n_connectors = cfg->n_connectors;
    return rc;
}

/* Every input's connector must be one of `connectors`. */
static int check_input_connectors(struct reader *r, struct config *cfg)
{
    for (size_t i = 0; i < cfg->n_inputs; i++) {
        const char *name = cfg->inputs[i].connector;
        bool known = !name;
        for (size_t k = 0; name && k < cfg->n_connectors && !known; k++)
            known = strcmp(cfg->connectors[k].name, name) == 0;
        if (known)
            continue;
        snprintf(r->path, sizeof(r->path), "inputs[%zu].connector", i);
        return fail(r, "no connector '%s' in 'connectors'", name);
    }
    return 0;
}

/* An alerts topic that would get nothing: it takes incidents, and there are none. */
static int check_alerts(struct reader *r, const struct config *cfg, const struct config_sink *s)
{
    if (s->type != CONFIG_SINK_KAFKA || !s->kafka.alerts_topic ||
        s->kafka.alerts != KAFKA_ALERTS_INCIDENTS ||
        (cfg->enrichment.enabled && cfg->enrichment.incidents))
        return 0;
    size_t saved = push_key(r, "alerts");
    int rc = fail(r, "\"incidents\" (the default), but enrichment.%s is false: alerts_topic would get "
                     "nothing; set \"alerts\": \"every_41220\" for each diagnosed 41220, or turn "
                     "incidents on", cfg->enrichment.enabled ? "incidents" : "enabled");
    pop(r, saved);
    return rc;
}

static int read_items(struct reader *r, json_t *root, struct config *cfg)
{
    int rc = read_list(r, root, "inputs", sizeof(struct config_input), (void **)&cfg->inputs,
                       &cfg->n_inputs);
    for (size_t i = 0; !rc && i < cfg->n_inputs; i++) {
        size_t saved = push_key(r, "inputs");
        push_index(r, i);
        rc = read_input(r, json_array_get(json_object_get(root, "inputs"), i), &cfg->inputs[i]);
        pop(r, saved);
    }
    if (!rc)
        rc = read_connectors(r, root, cfg);
    if (!rc)
        rc = read_enrichment(r, root, cfg);
    if (!rc)
        rc = check_input_connectors(r, cfg);
    if (rc)
        return rc;
    if (!json_object_get(root, "sinks")) { /* no sink: JSON lines on standard output */
        if (!(cfg->sinks = calloc(1, sizeof(*cfg->sinks))) ||
            !(cfg->sinks[0].file.path = strdup("-")))
            return lme_err_set(r->err, LME_ENOMEM, "out of memory");
        cfg->n_sinks = 1;
        return 0;
    }
    rc = read_list(r, root, "sinks", sizeof(struct config_sink), (void **)&cfg->sinks, &cfg->n_sinks);
    for (size_t i = 0; !rc && i < cfg->n_sinks; i++) {
        size_t saved = push_key(r, "sinks");
        push_index(r, i);
        rc = read_sink(r, json_array_get(json_object_get(root, "sinks"), i), &cfg->sinks[i],
                       cfg->state_dir);
        if (!rc)
            rc = check_alerts(r, cfg, &cfg->sinks[i]);
        pop(r, saved);
    }
    return rc;
}

static const char *const log_formats[] = { "logfmt", "json", NULL };
static const char *const log_levels[] = { "debug", "info", "warn", "error", NULL };
static const char *const start_ats[] = { "beginning", "end", NULL };

/* The top level: what no stage owns, and where each stage's own object goes. */
static const struct conf_key top_keys[] = {
    CONF_STRING_KEY(struct config, host_name, "host_name", NULL,
                    "host.name of every event; NULL: the machine's name"),
    CONF_STRING_KEY(struct config, state_dir, "state_dir", "/var/lib/lme-ingest",
                    "checkpoints.json and dead-letter.jsonl"),
    CONF_OWN_KEY("inputs", true, "where logs come from (inputs[])"),
    CONF_OWN_KEY("sinks", false, "where events go (sinks[])"),
    CONF_OWN_KEY("connectors", false, "what the 41220 diagnosis probes (connectors)"),
    CONF_OWN_KEY("enrichment", false, "the diagnosis stage (enrichment)"),
    CONF_OWN_KEY("metrics", false, "/metrics, /health, /ready (metrics)"),
    CONF_INT_KEY(struct config, max_record_bytes, "max_record_bytes", 64 * 1024, 64, 64LL << 20,
                 "records longer than this are cut and tagged lme_truncated"),
    CONF_INT_KEY(struct config, max_in_flight_bytes, "max_in_flight_bytes", 8 << 20, 1 << 20,
                 1LL << 40, "the byte budget of events read and not yet settled"),
    CONF_INT_KEY(struct config, drain_timeout_ms, "drain_timeout_ms", 10000, 0, 3600000,
                 "after SIGTERM/SIGINT, the longest wait for what is in flight"),
    CONF_INT_KEY(struct config, once_timeout_ms, "once_timeout_ms", 60000, 0, 86400000,
                 "run --once: the longest wait for every acknowledgement"),
    CONF_INT_KEY(struct config, checkpoint_interval_ms, "checkpoint_interval_ms", 500, 100, 3600000,
                 "the least time between two checkpoint saves"),
    CONF_INT_KEY(struct config, poll_interval_ms, "poll_interval_ms", 250, 10, 60000,
                 "how often open files are checked for growth without inotify"),
    CONF_INT_KEY(struct config, scan_interval_ms, "scan_interval_ms", 1000, 10, 3600000,
                 "how often the inputs' globs are matched again"),
    CONF_BOOL_KEY(struct config, inotify, "inotify", 1, "false: polling only"),
    CONF_CHOICE_KEY(struct config, log_format, "log_format", LME_LOG_LOGFMT, log_formats,
                    "the daemon's own log: logfmt or json"),
    CONF_CHOICE_KEY(struct config, log_level, "log_level", LME_LOG_INFO, log_levels,
                    "records below it are not written"),
    CONF_CHOICE_KEY(struct config, on_bad_checkpoints, "on_bad_checkpoints", CONFIG_START_BEGINNING,
                    start_ats, "where files start when checkpoints.json cannot be read"),
};

const struct conf_table config_top_keys = CONF_TABLE("top level", top_keys);

static const struct conf_key metrics_keys[] = {
    CONF_STRING_KEY(struct config, metrics_listen, "listen", NULL,
                    "IP address and port of /metrics, /health and /ready"),
    CONF_INT_KEY(struct config, health_stall_ms, "health_stall_ms", 60000, 1000, 86400000,
                 "a sink with events in flight and none delivered this long: unhealthy"),
};

const struct conf_table config_metrics_keys = CONF_TABLE("metrics", metrics_keys);

/* metrics: {"listen": "127.0.0.1:9464", "health_stall_ms": 60000} */
static int read_metrics(struct reader *r, json_t *root, struct config *cfg)
{
    json_t *obj = json_object_get(root, "metrics");
    if (!obj)
        return conf_set_defaults(&config_metrics_keys, cfg) ? lme_err_set(r->err, LME_ENOMEM, "out of memory") : 0;
    size_t saved = push_key(r, "metrics");
    int rc = json_is_object(obj) ? read_table(r, obj, &config_metrics_keys, cfg)
                                 : fail(r, "expected {\"listen\": \"127.0.0.1:9464\"}");
    struct sockaddr_storage addr;
    struct lme_err why;
    if (!rc && cfg->metrics_listen && http_parse_listen(cfg->metrics_listen, &addr, &why) != 0) {
        size_t k = push_key(r, "listen");
        rc = fail(r, "%s", why.msg);
        pop(r, k);
    }
    pop(r, saved);
    return rc;
}

static int read_top(struct reader *r, json_t *root, struct config *cfg)
{
    if (!json_is_object(root))
        return lme_err_set(r->err, LME_EINVAL, "%s: expected a JSON object at the top", r->file);
    int rc = read_table(r, root, &config_top_keys, cfg);
    if (!rc)
        rc = read_metrics(r, root, cfg);
    if (rc)
        return rc;
    if (!cfg->host_name) {
        char host[256] = "localhost";
        if (gethostname(host, sizeof(host)) == 0)
            host[sizeof(host) - 1] = '\0';
        if (!(cfg->host_name = strdup(host)))
            return lme_err_set(r->err, LME_ENOMEM, "out of memory");
    }
    return read_items(r, root, cfg);
}

/* Whoever can write the config decides what the daemon reads and where it connects: it must be
 * the daemon's own user's or root's, and not writable by others. */
static int check_owner_and_mode(const char *path, struct lme_err *err)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return 0; /* json_load_file says why it cannot be read */
    if (st.st_mode & S_IWOTH)
        return lme_err_set(err, LME_EINVAL, "%s: writable by others (chmod o-w): refused", path);
    if (st.st_uid != 0 && st.st_uid != geteuid())
        return lme_err_set(err, LME_EINVAL,
                           "%s: owned by uid %u, neither root nor the daemon's user: refused", path,
                           (unsigned)st.st_uid);
    return 0;
}

int config_load(const char *path, struct config **out, struct lme_err *err)
{
    if (check_owner_and_mode(path, err) != 0)
        return err->code;
    json_error_t jerr;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        if (jerr.line < 0)
            return lme_err_set(err, LME_EIO, "%s: %s", path, jerr.text);
        return lme_err_set(err, LME_EINVAL, "%s:%d:%d: %s", path, jerr.line, jerr.column, jerr.text);
    }
    struct config *cfg = calloc(1, sizeof(*cfg));
    struct reader r = { .file = path, .err = err };
    int rc = cfg ? 0 : lme_err_set(err, LME_ENOMEM, "out of memory");
    if (!rc && !(cfg->file = strdup(path)))
        rc = lme_err_set(err, LME_ENOMEM, "out of memory");
    if (!rc)
        rc = read_top(&r, root, cfg);
    json_decref(root);
    if (rc) {
        config_free(cfg);
        return rc;
    }
    *out = cfg;
    return 0;
}

static void free_strings(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

void config_free(struct config *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; cfg->inputs && i < cfg->n_inputs; i++)
        conf_free(&inputs_config_keys, &cfg->inputs[i]);
    for (size_t i = 0; cfg->sinks && i < cfg->n_sinks; i++) {
        struct config_sink *s = &cfg->sinks[i];
        conf_free(&file_sink_config_keys, &s->file);
        conf_free(&kafka_sink_config_keys, &s->kafka);
        free_strings(s->kafka.prop_names, s->kafka.n_props);
        free_strings(s->kafka.prop_values, s->kafka.n_props);
    }
    for (size_t i = 0; cfg->connectors && i < cfg->n_connectors; i++) {
        struct enrich_connector *c = &cfg->connectors[i];
        free(c->name);
        conf_free(&enrich_connector_keys, c);
        conf_free(&enrich_server_keys, c);
        for (size_t k = 0; c->path_map && k < c->n_path_map; k++) {
            free(c->path_map[k].windows);
            free(c->path_map[k].local);
        }
        free(c->path_map);
    }
    free(cfg->connectors);
    free(cfg->inputs);
    free(cfg->sinks);
    free(cfg->file);
    conf_free(&config_metrics_keys, cfg);
    conf_free(&config_top_keys, cfg);
    free(cfg);
}
