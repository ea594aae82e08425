/* Metrics: see metrics.h. Numbers are written with %.17g (counters are exact up to 2^53, far
 * beyond what a daemon counts between restarts). */
#include "metrics.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
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

/* ---- counters carried across a reload ---- */

struct metrics_carried {
    char *series;
    double value;
};

static int carried_cmp(const void *a, const void *b)
{
    return strcmp(((const struct metrics_carried *)a)->series,
                  ((const struct metrics_carried *)b)->series);
}

void metrics_carry_free(struct metrics_carry *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++)
        free(c->v[i].series);
    free(c->v);
    c->v = NULL;
    c->n = 0;
}

/* Whether a sample of family `family` (its # TYPE) is carried. */
static bool carried_type(const char *type)
{
    return strcmp(type, "counter") == 0 || strcmp(type, "histogram") == 0;
}

/* One sample line of an exposition text: its series (name and labels), its value, and whether
 * its family is a counter or a histogram. */
struct sample_line {
    const char *start; /* the line */
    size_t len;
    size_t series_len; /* up to the last space */
    double value;
    bool carried;
};

/* The next sample line at *p (type: the family's TYPE, kept across calls). */
static bool next_sample(const char **p, const char *end, char *type, size_t type_size,
                        struct sample_line *s)
{
    while (*p < end) {
        const char *line = *p, *nl = memchr(line, '\n', (size_t)(end - line));
        size_t len = nl ? (size_t)(nl - line) : (size_t)(end - line);
        *p = nl ? nl + 1 : end;
        if (len > 7 && strncmp(line, "# TYPE ", 7) == 0) {
            const char *t = memrchr(line, ' ', len);
            snprintf(type, type_size, "%.*s", (int)(line + len - t - 1), t + 1);
        }
        if (len == 0 || line[0] == '#')
            continue;
        const char *sp = memrchr(line, ' ', len);
        if (!sp)
            continue;
        *s = (struct sample_line){ line, len, (size_t)(sp - line), strtod(sp + 1, NULL),
                                   carried_type(type) };
        return true;
    }
    return false;
}

int metrics_carry_take(struct metrics_carry *c, const char *text, size_t len)
{
    metrics_carry_free(c);
    const char *p = text, *end = text + len;
    char type[32] = "";
    struct sample_line s;
    size_t cap = 0;
    while (next_sample(&p, end, type, sizeof(type), &s)) {
        if (!s.carried)
            continue;
        if (c->n == cap) {
            size_t ncap = cap ? 2 * cap : 64;
            struct metrics_carried *v = realloc(c->v, ncap * sizeof(*v));
            if (!v)
                goto fail;
            c->v = v;
            cap = ncap;
        }
        if (!(c->v[c->n].series = strndup(s.start, s.series_len)))
            goto fail;
        c->v[c->n++].value = s.value;
    }
    if (c->n)
        qsort(c->v, c->n, sizeof(*c->v), carried_cmp);
    return 0;
fail:
    metrics_carry_free(c);
    return LME_ENOMEM;
}

double metrics_carry_get(const struct metrics_carry *c, const char *series)
{
    if (!c->n)
        return 0;
    struct metrics_carried key = { (char *)series, 0 };
    const struct metrics_carried *hit = bsearch(&key, c->v, c->n, sizeof(*c->v), carried_cmp);
    return hit ? hit->value : 0;
}

int metrics_carry_apply(const struct metrics_carry *c, const char *in, size_t len,
                        struct lme_buf *out)
{
    const char *p = in, *end = in + len, *copied = in;
    char type[32] = "", series[4096];
    struct sample_line s;
    while (next_sample(&p, end, type, sizeof(type), &s)) {
        if (!s.carried || !c->n || s.series_len >= sizeof(series))
            continue;
        snprintf(series, sizeof(series), "%.*s", (int)s.series_len, s.start);
        double offset = metrics_carry_get(c, series);
        if (offset == 0)
            continue;
        char line[4200];
        int n = snprintf(line, sizeof(line), "%s %.17g", series, s.value + offset);
        if (lme_buf_append(out, copied, (size_t)(s.start - copied)) != 0 ||
            lme_buf_append(out, line, (size_t)n) != 0)
            return LME_ENOMEM;
        copied = s.start + s.len;
    }
    return lme_buf_append(out, copied, (size_t)(end - copied)) ? LME_ENOMEM : 0;
}
