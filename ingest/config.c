/* Loading and checking the configuration: see config.h. Each object is read by one function
 * that lists the keys it knows; anything else is an error, never a silent default. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http.h"
#include "log.h"
#include "tz.h"

#define DEFAULT_STATE_DIR "/var/lib/lme-ingest"
#define DEFAULT_MAX_RECORD (64 * 1024)
#define DEFAULT_IN_FLIGHT (16 * 1024 * 1024)
#define DEFAULT_DRAIN_MS 10000
#define DEFAULT_ONCE_MS 60000
#define DEFAULT_CHECKPOINT_MS 5000
#define DEFAULT_POLL_MS 250
#define DEFAULT_SCAN_MS 1000
#define DEFAULT_FLUSH_MS 2000
#define DEFAULT_ROTATE_WAIT_MS 5000
#define DEFAULT_CLOSE_INACTIVE_MS 300000
#define DEFAULT_PROBE_CACHE_MS 60000
#define DEFAULT_PROBE_WAIT_MS 3000
#define DEFAULT_PROBE_TIMEOUT_MS 2000
#define DEFAULT_CONTEXT_RECORDS 16
#define DEFAULT_CONTEXT_AGE_MS 60000
#define DEFAULT_PROBE_HORIZON_MS 3600000
#define MAX_PROBE_HORIZON_MS (36500LL * 86400000) /* a century: backfills of any age */
#define NOTES_PORT 1352

/* What is being read: the file and the key path, for error messages. */
struct reader {
    const char *file;
    char path[256];
    struct lme_err *err;
};

static int fail(struct reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(struct reader *r, const char *fmt, ...)
{
    char what[256];
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
        char list[256] = "";
        for (size_t i = 0; known[i]; i++)
            snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? ", " : "", known[i]);
        size_t saved = push_key(r, key);
        int rc = fail(r, "unknown key (expected one of: %s)", list);
        pop(r, saved);
        return rc;
    }
    return 0;
}

/* Reads an optional string; *out stays NULL when the key is absent. */
static int get_string(struct reader *r, json_t *obj, const char *key, char **out)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return 0;
    size_t saved = push_key(r, key);
    int rc = 0;
    if (!json_is_string(v) || json_string_length(v) == 0)
        rc = fail(r, "expected a non-empty string");
    else if (!(*out = strdup(json_string_value(v))))
        rc = lme_err_set(r->err, LME_ENOMEM, "out of memory");
    pop(r, saved);
    return rc;
}

static int get_size(struct reader *r, json_t *obj, const char *key, long long min, long long max,
                    long long *out)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return 0;
    size_t saved = push_key(r, key);
    int rc = 0;
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
        rc = fail(r, "expected an integer from %lld to %lld", min, max);
    else
        *out = json_integer_value(v);
    pop(r, saved);
    return rc;
}

static int get_bool(struct reader *r, json_t *obj, const char *key, int *out, int dflt)
{
    json_t *v = json_object_get(obj, key);
    *out = dflt;
    if (!v)
        return 0;
    if (json_is_boolean(v)) {
        *out = json_is_true(v);
        return 0;
    }
    size_t saved = push_key(r, key);
    int rc = fail(r, "expected true or false");
    pop(r, saved);
    return rc;
}

static int get_string_array(struct reader *r, json_t *obj, const char *key, char ***out, size_t *n)
{
    json_t *v = json_object_get(obj, key);
    size_t saved = push_key(r, key);
    int rc = 0;
    if (!json_is_array(v) || json_array_size(v) == 0) {
        rc = fail(r, "expected a non-empty array of strings");
        goto done;
    }
    *out = calloc(json_array_size(v), sizeof(char *));
    if (!*out) {
        rc = lme_err_set(r->err, LME_ENOMEM, "out of memory");
        goto done;
    }
    size_t i;
    json_t *item;
    json_array_foreach(v, i, item) {
        if (!json_is_string(item) || json_string_length(item) == 0) {
            push_index(r, i);
            rc = fail(r, "expected a non-empty string");
            goto done;
        }
        if (!((*out)[i] = strdup(json_string_value(item)))) {
            rc = lme_err_set(r->err, LME_ENOMEM, "out of memory");
            goto done;
        }
        *n = i + 1;
    }
done:
    pop(r, saved);
    return rc;
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

/* Reads an optional string that must be one of `names`; *out is its index, unchanged when absent. */
static int get_choice(struct reader *r, json_t *obj, const char *key, const char *const names[],
                      int *out)
{
    json_t *v = json_object_get(obj, key);
    if (!v)
        return 0;
    for (int i = 0; names[i]; i++)
        if (json_is_string(v) && strcmp(json_string_value(v), names[i]) == 0) {
            *out = i;
            return 0;
        }
    char list[128] = "";
    for (int i = 0; names[i]; i++)
        snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s\"%s\"", i ? " or " : "",
                 names[i]);
    size_t saved = push_key(r, key);
    int rc = fail(r, "expected %s", list);
    pop(r, saved);
    return rc;
}

static int read_follow_keys(struct reader *r, json_t *obj, struct config_input *in)
{
    static const char *const starts[] = { "beginning", "end", NULL };
    static const char *const encodings[] = { "auto", "utf-8", "utf-16le", NULL };
    int start = CONFIG_START_BEGINNING, encoding = CONFIG_ENCODING_AUTO;
    long long back = 0, flush = DEFAULT_FLUSH_MS, rotate = DEFAULT_ROTATE_WAIT_MS;
    long long inactive = DEFAULT_CLOSE_INACTIVE_MS;
    int rc = get_choice(r, obj, "start_at", starts, &start);
    if (!rc)
        rc = get_choice(r, obj, "encoding", encodings, &encoding);
    if (!rc)
        rc = get_size(r, obj, "max_read_back_bytes", 0, 1LL << 50, &back);
    if (!rc)
        rc = get_size(r, obj, "multiline_flush_ms", 0, 3600000, &flush);
    if (!rc)
        rc = get_size(r, obj, "rotate_wait_ms", 0, 3600000, &rotate);
    if (!rc)
        rc = get_size(r, obj, "close_inactive_ms", 1000, 86400000, &inactive);
    in->start_at = (enum config_start_at)start;
    in->encoding = (enum config_encoding)encoding;
    in->max_read_back_bytes = back;
    in->multiline_flush_ms = (int)flush;
    in->rotate_wait_ms = (int)rotate;
    in->close_inactive_ms = (int)inactive;
    return rc;
}

static int read_input(struct reader *r, json_t *obj, struct config_input *in)
{
    static const char *const keys[] = { "type", "paths", "timezone", "connector", "host_name",
                                        "start_at", "encoding", "max_read_back_bytes",
                                        "multiline_flush_ms", "rotate_wait_ms",
                                        "close_inactive_ms", NULL };
    if (!json_is_object(obj))
        return fail(r, "expected an object");
    int rc = only_keys(r, obj, keys);
    if (!rc)
        rc = read_follow_keys(r, obj, in);
    if (!rc)
        rc = expect_type(r, obj, "file");
    if (!rc)
        rc = get_string_array(r, obj, "paths", &in->paths, &in->n_paths);
    if (!rc)
        rc = get_string(r, obj, "timezone", &in->timezone);
    if (!rc)
        rc = get_string(r, obj, "connector", &in->connector);
    if (!rc)
        rc = get_string(r, obj, "host_name", &in->host_name);
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

static int read_key_mode(struct reader *r, json_t *obj, enum kafka_key_mode *mode)
{
    static const char *const names[] = { "host_component", "host", "none" };
    json_t *v = json_object_get(obj, "key");
    if (!v)
        return 0;
    size_t saved = push_key(r, "key");
    int rc = fail(r, "expected one of \"host_component\", \"host\", \"none\"");
    for (int i = 0; i < 3; i++) {
        if (json_is_string(v) && strcmp(json_string_value(v), names[i]) == 0) {
            *mode = (enum kafka_key_mode)i;
            lme_err_clear(r->err);
            rc = 0;
        }
    }
    pop(r, saved);
    return rc;
}

static int read_kafka_sink(struct reader *r, json_t *obj, struct config_sink *s,
                           const char *state_dir)
{
    static const char *const keys[] = { "type", "brokers", "topic", "alerts_topic", "key",
                                        "rdkafka", "dead_letter_path", NULL };
    struct kafka_sink_config *k = &s->kafka;
    s->type = CONFIG_SINK_KAFKA;
    int rc = only_keys(r, obj, keys);
    if (!rc && !json_object_get(obj, "brokers")) {
        size_t saved = push_key(r, "brokers");
        rc = fail(r, "missing (expected \"host:port,...\")");
        pop(r, saved);
    }
    if (!rc)
        rc = get_string(r, obj, "brokers", &k->brokers);
    if (!rc)
        rc = get_string(r, obj, "topic", &k->topic);
    if (!rc)
        rc = get_string(r, obj, "alerts_topic", &k->alerts_topic);
    if (!rc)
        rc = read_key_mode(r, obj, &k->key);
    if (!rc)
        rc = get_string(r, obj, "dead_letter_path", &k->dead_letter_path);
    if (!rc)
        rc = read_rdkafka(r, obj, k);
    if (rc)
        return rc;
    if (!k->topic && !(k->topic = strdup("lme.events")))
        return lme_err_set(r->err, LME_ENOMEM, "out of memory");
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
    static const char *const file_keys[] = { "type", "path", NULL };
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
    int rc = expect_type(r, obj, "file");
    if (!rc)
        rc = only_keys(r, obj, file_keys);
    s->type = CONFIG_SINK_FILE;
    if (!rc && !json_object_get(obj, "path")) {
        size_t saved = push_key(r, "path");
        rc = fail(r, "missing (expected a file path or \"-\" for standard output)");
        pop(r, saved);
    }
    return rc ? rc : get_string(r, obj, "path", &s->path);
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
    static const char *const keys[] = { "host", "port", NULL };
    json_t *server = json_object_get(obj, "notes_server");
    c->server_port = NOTES_PORT;
    if (!server)
        return 0;
    size_t saved = push_key(r, "notes_server");
    long long port = NOTES_PORT;
    int rc = json_is_object(server) ? only_keys(r, server, keys)
                                    : fail(r, "expected {\"host\": NAME, \"port\": 1352}");
    if (!rc)
        rc = get_string(r, server, "host", &c->server_host);
    if (!rc && !c->server_host) {
        size_t k = push_key(r, "host");
        rc = fail(r, "missing (the Notes server's host name)");
        pop(r, k);
    }
    if (!rc)
        rc = get_size(r, server, "port", 1, 65535, &port);
    c->server_port = (int)port;
    pop(r, saved);
    return rc;
}

static int read_connector(struct reader *r, const char *name, json_t *obj,
                          struct enrich_connector *c)
{
    static const char *const keys[] = { "notes_ini", "id_file", "notes_server", "service_user",
                                        "exchconn_ini", "path_map", NULL };
    if (!(c->name = strdup(name)))
        return lme_err_set(r->err, LME_ENOMEM, "out of memory");
    if (!json_is_object(obj))
        return fail(r, "expected an object (notes_ini, id_file, notes_server, service_user, "
                       "exchconn_ini, path_map)");
    int rc = only_keys(r, obj, keys);
    if (!rc)
        rc = get_string(r, obj, "notes_ini", &c->notes_ini);
    if (!rc)
        rc = get_string(r, obj, "id_file", &c->id_file);
    if (!rc)
        rc = get_string(r, obj, "service_user", &c->service_user);
    if (!rc)
        rc = get_string(r, obj, "exchconn_ini", &c->exchconn_ini);
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
    static const char *const keys[] = { "enabled", "probe_cache_ms", "max_wait_ms",
                                        "probe_timeout_ms", "context_records",
                                        "context_max_age_ms", "probe_horizon_ms", NULL };
    int enabled = 1;
    long long cache = DEFAULT_PROBE_CACHE_MS, wait = DEFAULT_PROBE_WAIT_MS;
    long long timeout = DEFAULT_PROBE_TIMEOUT_MS, records = DEFAULT_CONTEXT_RECORDS;
    long long age = DEFAULT_CONTEXT_AGE_MS, horizon = DEFAULT_PROBE_HORIZON_MS;
    json_t *obj = json_object_get(root, "enrichment");
    size_t saved = push_key(r, "enrichment");
    int rc = 0;
    if (obj && !json_is_object(obj))
        rc = fail(r, "expected an object");
    else if (obj)
        rc = only_keys(r, obj, keys);
    if (!rc && obj)
        rc = get_bool(r, obj, "enabled", &enabled, 1);
    if (!rc && obj)
        rc = get_size(r, obj, "probe_cache_ms", 0, 86400000, &cache);
    if (!rc && obj)
        rc = get_size(r, obj, "max_wait_ms", 0, 60000, &wait);
    if (!rc && obj)
        rc = get_size(r, obj, "probe_timeout_ms", 10, 60000, &timeout);
    if (!rc && obj)
        rc = get_size(r, obj, "context_records", 1, 1024, &records);
    if (!rc && obj)
        rc = get_size(r, obj, "context_max_age_ms", 0, 86400000, &age);
    if (!rc && obj)
        rc = get_size(r, obj, "probe_horizon_ms", 0, MAX_PROBE_HORIZON_MS, &horizon);
    pop(r, saved);
    cfg->enrichment = (struct enrich_config){
        .enabled = enabled,
        .connectors = cfg->connectors,
        .n_connectors = cfg->n_connectors,
        .cache_ms = (int)cache,
        .max_wait_ms = (int)wait,
        .probe_timeout_ms = (int)timeout,
        .context_records = (int)records,
        .context_max_age_ms = (int)age,
        .probe_horizon_ms = horizon,
    };
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
        if (!(cfg->sinks = calloc(1, sizeof(*cfg->sinks))) || !(cfg->sinks[0].path = strdup("-")))
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
        pop(r, saved);
    }
    return rc;
}

/* metrics: {"listen": "127.0.0.1:9464", "health_stall_ms": 60000} */
static int read_metrics(struct reader *r, json_t *root, struct config *cfg)
{
    static const char *const keys[] = { "listen", "health_stall_ms", NULL };
    long long stall = 60000;
    cfg->health_stall_ms = (int)stall;
    json_t *obj = json_object_get(root, "metrics");
    if (!obj)
        return 0;
    size_t saved = push_key(r, "metrics");
    int rc = json_is_object(obj) ? only_keys(r, obj, keys)
                                 : fail(r, "expected {\"listen\": \"127.0.0.1:9464\"}");
    if (!rc)
        rc = get_string(r, obj, "listen", &cfg->metrics_listen);
    if (!rc)
        rc = get_size(r, obj, "health_stall_ms", 1000, 86400000, &stall);
    struct sockaddr_storage addr;
    struct lme_err why;
    if (!rc && cfg->metrics_listen && http_parse_listen(cfg->metrics_listen, &addr, &why) != 0) {
        size_t k = push_key(r, "listen");
        rc = fail(r, "%s", why.msg);
        pop(r, k);
    }
    cfg->health_stall_ms = (int)stall;
    pop(r, saved);
    return rc;
}

static int read_log_keys(struct reader *r, json_t *root, struct config *cfg)
{
    static const char *const formats[] = { "logfmt", "json", NULL };
    static const char *const levels[] = { "debug", "info", "warn", "error", NULL };
    static const char *const starts[] = { "beginning", "end", NULL };
    cfg->log_format = LME_LOG_LOGFMT;
    cfg->log_level = LME_LOG_INFO;
    int bad = CONFIG_START_BEGINNING;
    int rc = get_choice(r, root, "log_format", formats, &cfg->log_format);
    if (!rc)
        rc = get_choice(r, root, "log_level", levels, &cfg->log_level);
    if (!rc)
        rc = get_choice(r, root, "on_bad_checkpoints", starts, &bad);
    cfg->on_bad_checkpoints = (enum config_start_at)bad;
    return rc;
}

static int read_top(struct reader *r, json_t *root, struct config *cfg)
{
    static const char *const keys[] = { "host_name", "state_dir", "max_record_bytes",
                                        "max_in_flight_bytes", "drain_timeout_ms",
                                        "once_timeout_ms", "checkpoint_interval_ms",
                                        "poll_interval_ms", "scan_interval_ms", "inotify",
                                        "metrics", "log_format", "log_level",
                                        "on_bad_checkpoints",
                                        "inputs", "connectors", "enrichment",
                                        "sinks", NULL };
    long long max_record = DEFAULT_MAX_RECORD, in_flight = DEFAULT_IN_FLIGHT;
    long long drain = DEFAULT_DRAIN_MS, once = DEFAULT_ONCE_MS, interval = DEFAULT_CHECKPOINT_MS;
    long long poll_ms = DEFAULT_POLL_MS, scan_ms = DEFAULT_SCAN_MS;
    if (!json_is_object(root))
        return lme_err_set(r->err, LME_EINVAL, "%s: expected a JSON object at the top", r->file);
    int rc = only_keys(r, root, keys);
    if (!rc)
        rc = get_string(r, root, "host_name", &cfg->host_name);
    if (!rc)
        rc = get_string(r, root, "state_dir", &cfg->state_dir);
    if (!rc)
        rc = get_size(r, root, "max_record_bytes", 64, 64LL << 20, &max_record);
    if (!rc)
        rc = get_size(r, root, "max_in_flight_bytes", 1 << 20, 1LL << 40, &in_flight);
    if (!rc)
        rc = get_size(r, root, "drain_timeout_ms", 0, 3600000, &drain);
    if (!rc)
        rc = get_size(r, root, "once_timeout_ms", 0, 86400000, &once);
    if (!rc)
        rc = get_size(r, root, "checkpoint_interval_ms", 100, 3600000, &interval);
    if (!rc)
        rc = get_size(r, root, "poll_interval_ms", 10, 60000, &poll_ms);
    if (!rc)
        rc = get_size(r, root, "scan_interval_ms", 10, 3600000, &scan_ms);
    if (!rc)
        rc = get_bool(r, root, "inotify", &cfg->inotify, 1);
    if (!rc)
        rc = read_metrics(r, root, cfg);
    if (!rc)
        rc = read_log_keys(r, root, cfg);
    if (rc)
        return rc;
    cfg->max_record_bytes = (size_t)max_record;
    cfg->max_in_flight_bytes = (size_t)in_flight;
    cfg->drain_timeout_ms = (int)drain;
    cfg->once_timeout_ms = (int)once;
    cfg->checkpoint_interval_ms = (int)interval;
    cfg->poll_interval_ms = (int)poll_ms;
    cfg->scan_interval_ms = (int)scan_ms;
    if (!cfg->state_dir && !(cfg->state_dir = strdup(DEFAULT_STATE_DIR)))
        return lme_err_set(r->err, LME_ENOMEM, "out of memory");
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
    for (size_t i = 0; cfg->inputs && i < cfg->n_inputs; i++) {
        struct config_input *in = &cfg->inputs[i];
        free_strings(in->paths, in->n_paths);
        free(in->timezone);
        free(in->connector);
        free(in->host_name);
    }
    for (size_t i = 0; cfg->sinks && i < cfg->n_sinks; i++) {
        struct config_sink *s = &cfg->sinks[i];
        free(s->path);
        free(s->kafka.brokers);
        free(s->kafka.topic);
        free(s->kafka.alerts_topic);
        free(s->kafka.dead_letter_path);
        free_strings(s->kafka.prop_names, s->kafka.n_props);
        free_strings(s->kafka.prop_values, s->kafka.n_props);
    }
    for (size_t i = 0; cfg->connectors && i < cfg->n_connectors; i++) {
        struct enrich_connector *c = &cfg->connectors[i];
        free(c->name);
        free(c->notes_ini);
        free(c->id_file);
        free(c->server_host);
        free(c->service_user);
        free(c->exchconn_ini);
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
    free(cfg->metrics_listen);
    free(cfg->host_name);
    free(cfg->state_dir);
    free(cfg);
}
