/* Metrics: see metrics.h. Numbers are written with %.17g (counters are exact up to 2^53, far
 * beyond what a daemon counts between restarts). */
#include "metrics.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_str.h"

const double metrics_latency_bounds[METRICS_LATENCY_BUCKETS] = {
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300,
};

void metrics_histogram_observe(struct metrics_histogram *h, double seconds)
{
    for (int i = 0; i < METRICS_LATENCY_BUCKETS; i++)
        if (seconds <= metrics_latency_bounds[i]) {
            h->buckets[i]++;
            break;
        }
    h->count++;
    h->sum += seconds;
}

/* A label value with \\, " and newlines escaped, as the text format asks. */
static size_t escape_value(char *out, size_t size, const char *v)
{
    size_t n = 0;
    for (; *v && n + 2 < size; v++) {
        if (*v == '\\' || *v == '"' || *v == '\n') {
            out[n++] = '\\';
            out[n++] = *v == '\n' ? 'n' : *v;
        } else {
            out[n++] = *v;
        }
    }
    out[n] = '\0';
    return n;
}

const char *metrics_labels(char *out, size_t size, ...)
{
    va_list ap;
    va_start(ap, size);
    size_t len = 0;
    out[0] = '\0';
    for (;;) {
        const char *key = va_arg(ap, const char *);
        if (!key)
            break;
        const char *val = va_arg(ap, const char *);
        char esc[512];
        escape_value(esc, sizeof(esc), val ? val : "");
        int n = snprintf(out + len, size - len, "%s%s=\"%s\"", len ? "," : "", key, esc);
        if (n < 0 || (size_t)n >= size - len) {
            out[len] = '\0'; /* does not fit: keep the pairs before it */
            break;
        }
        len += (size_t)n;
    }
    va_end(ap);
    return out;
}

int metrics_family(struct lme_buf *b, const char *name, const char *type, const char *help)
{
    char line[512];
    int n = snprintf(line, sizeof(line), "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
    return lme_buf_append(b, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

int metrics_sample(struct lme_buf *b, const char *name, const char *labels, double value)
{
    char line[1024];
    int n = labels && *labels ? snprintf(line, sizeof(line), "%s{%s} %.17g\n", name, labels, value)
                              : snprintf(line, sizeof(line), "%s %.17g\n", name, value);
    return lme_buf_append(b, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

int metrics_histogram_write(struct lme_buf *b, const char *name, const char *labels,
                            const struct metrics_histogram *h)
{
    char metric[128], lab[768];
    uint64_t cumulative = 0;
    int rc = 0;
    snprintf(metric, sizeof(metric), "%s_bucket", name);
    for (int i = 0; i <= METRICS_LATENCY_BUCKETS && !rc; i++) {
        char le[32];
        if (i < METRICS_LATENCY_BUCKETS) {
            cumulative += h->buckets[i];
            snprintf(le, sizeof(le), "%g", metrics_latency_bounds[i]);
        } else {
            cumulative = h->count;
            snprintf(le, sizeof(le), "+Inf");
        }
        snprintf(lab, sizeof(lab), "%s%sle=\"%s\"", labels ? labels : "", labels && *labels ? "," : "", le);
        rc = metrics_sample(b, metric, lab, (double)cumulative);
    }
    snprintf(metric, sizeof(metric), "%s_sum", name);
    if (!rc)
        rc = metrics_sample(b, metric, labels, h->sum);
    snprintf(metric, sizeof(metric), "%s_count", name);
    return rc ? rc : metrics_sample(b, metric, labels, (double)h->count);
}

struct metrics_snapshot {
    pthread_mutex_t mu;
    struct lme_buf text;
    int healthy, ready;
    char reason[512];
};

struct metrics_snapshot *metrics_snapshot_create(struct lme_err *err)
{
    struct metrics_snapshot *s = calloc(1, sizeof(*s));
    if (!s) {
        lme_err_set(err, LME_ENOMEM, "metrics: out of memory");
        return NULL;
    }
    pthread_mutex_init(&s->mu, NULL);
    snprintf(s->reason, sizeof(s->reason), "starting");
    return s;
}

void metrics_snapshot_destroy(struct metrics_snapshot *s)
{
    if (!s)
        return;
    pthread_mutex_destroy(&s->mu);
    lme_buf_free(&s->text);
    free(s);
}

int metrics_snapshot_publish(struct metrics_snapshot *s, const char *text, size_t len,
                             int healthy, const char *reason, int ready)
{
    pthread_mutex_lock(&s->mu);
    size_t old = s->text.len;
    lme_buf_reset(&s->text);
    int rc = lme_buf_append(&s->text, text, len);
    if (rc)
        s->text.len = old; /* the buffer only grows, so the old text is still there */
    s->healthy = healthy;
    s->ready = ready;
    snprintf(s->reason, sizeof(s->reason), "%s", reason ? reason : "");
    pthread_mutex_unlock(&s->mu);
    return rc;
}

void metrics_snapshot_set_ready(struct metrics_snapshot *s, int ready)
{
    pthread_mutex_lock(&s->mu);
    s->ready = ready;
    pthread_mutex_unlock(&s->mu);
}

/* {"status":"ok"} or {"status":"unhealthy","reason":"..."}, malloc'd; NULL when memory runs out. */
static char *status_json(const char *status, const char *reason, size_t *len)
{
    struct lme_buf b = LME_BUF_INIT;
    int rc = lme_buf_append_str(&b, "{\"status\":") || lme_json_append_string(&b, status, strlen(status));
    if (!rc && reason && *reason)
        rc = lme_buf_append_str(&b, ",\"reason\":") ||
             lme_json_append_string(&b, reason, strlen(reason));
    if (!rc)
        rc = lme_buf_append(&b, "}\n", 3); /* with its NUL, so the body is a C string too */
    if (rc) {
        lme_buf_free(&b);
        return NULL;
    }
    *len = b.len - 1;
    return b.data;
}

int metrics_snapshot_page(struct metrics_snapshot *s, enum metrics_page page, char **body,
                          size_t *len, int *status)
{
    pthread_mutex_lock(&s->mu);
    if (page == METRICS_PAGE_METRICS) {
        *status = 200;
        *len = s->text.len;
        *body = malloc(s->text.len + 1);
        if (*body)
            memcpy(*body, s->text.data ? s->text.data : "", s->text.len);
    } else if (page == METRICS_PAGE_HEALTH) {
        *status = s->healthy ? 200 : 503;
        *body = status_json(s->healthy ? "ok" : "unhealthy", s->healthy ? NULL : s->reason, len);
    } else {
        *status = s->ready ? 200 : 503;
        *body = status_json(s->ready ? "ready" : "not ready", NULL, len);
    }
    pthread_mutex_unlock(&s->mu);
    return *body ? 0 : LME_ENOMEM;
}
