/* logfmt records on standard error: see log.h. The record is built in a stack buffer and written
 * with one write(2) so concurrent records never interleave. A rate limit (struct lme_log_limit)
 * counts per monotonic second under its own mutex. */
#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "json_str.h"

static atomic_int min_level = LME_LOG_INFO;
static atomic_int format = LME_LOG_LOGFMT;

void lme_log_set_level(enum lme_log_level level)
{
    atomic_store(&min_level, (int)level);
}

void lme_log_set_format(enum lme_log_format f)
{
    atomic_store(&format, (int)f);
}

struct line {
    char buf[4096];
    size_t len;
};

static void put(struct line *l, const char *s, size_t n)
{
    size_t room = sizeof(l->buf) - 1 - l->len; /* keep one byte for '\n' */
    if (n > room)
        n = room;
    memcpy(l->buf + l->len, s, n);
    l->len += n;
}

static int needs_quotes(const char *v)
{
    if (*v == '\0')
        return 1;
    for (; *v; v++)
        if ((unsigned char)*v <= ' ' || *v == '"' || *v == '=' || *v == '\\')
            return 1;
    return 0;
}

static void put_value(struct line *l, const char *v)
{
    if (!needs_quotes(v)) {
        put(l, v, strlen(v));
        return;
    }
    put(l, "\"", 1);
    for (; *v; v++) {
        unsigned char c = (unsigned char)*v;
        if (c == '"' || c == '\\') {
            char esc[2] = { '\\', (char)c };
            put(l, esc, 2);
        } else if (c == '\n') {
            put(l, "\\n", 2);
        } else if (c < ' ') {
            char esc[8];
            int n = snprintf(esc, sizeof(esc), "\\x%02x", c);
            put(l, esc, (size_t)n);
        } else {
            put(l, (const char *)&c, 1);
        }
    }
    put(l, "\"", 1);
}

/* A JSON string through the shared escaper (json_str.h): UTF-8 stays UTF-8 (a path with an
 * accent reads as itself), other bytes are their Windows-1252 characters, controls are escaped.
 * Values past LOG_JSON_VALUE_MAX bytes are cut: the record is cut at its buffer anyway. */
#define LOG_JSON_VALUE_MAX 1024

static void put_json_string(struct line *l, const char *v)
{
    char esc[LME_JSON_STRING_MAX(LOG_JSON_VALUE_MAX)];
    bool non_utf8;
    char *end = lme_json_put_string(esc, v, strnlen(v, LOG_JSON_VALUE_MAX), &non_utf8);
    put(l, esc, (size_t)(end - esc));
}

static void put_time(struct line *l)
{
    struct timespec ts;
    struct tm tm;
    char out[40];
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(out, sizeof(out), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
    if (atomic_load(&format) == LME_LOG_JSON) {
        put(l, "{\"time\":\"", 9);
        put(l, out, (size_t)n);
        put(l, "\"", 1);
        return;
    }
    put(l, "time=", 5);
    put(l, out, (size_t)n);
}

/* One key and value: ` key=value` or `,"key":"value"`. */
static void put_pair(struct line *l, const char *key, const char *val)
{
    if (atomic_load(&format) == LME_LOG_JSON) {
        put(l, ",", 1);
        put_json_string(l, key);
        put(l, ":", 1);
        put_json_string(l, val);
        return;
    }
    put(l, " ", 1);
    put(l, key, strlen(key));
    put(l, "=", 1);
    put_value(l, val);
}

static int enabled(enum lme_log_level level)
{
    return (int)level >= atomic_load(&min_level);
}

static void write_record(enum lme_log_level level, const char *msg, va_list ap)
{
    static const char *const names[] = { "debug", "info", "warn", "error" };
    struct line l = { .len = 0 };
    put_time(&l);
    put_pair(&l, "level", names[level]);
    put_pair(&l, "msg", msg);
    for (;;) {
        const char *key = va_arg(ap, const char *);
        if (!key)
            break;
        const char *val = va_arg(ap, const char *);
        put_pair(&l, key, val ? val : "");
    }

    if (atomic_load(&format) == LME_LOG_JSON) {
        if (l.len >= sizeof(l.buf) - 2) { /* cut short: close the string so the line parses */
            l.len = sizeof(l.buf) - 4;
            size_t slashes = 0;
            while (slashes < l.len && l.buf[l.len - 1 - slashes] == '\\')
                slashes++;
            l.len -= slashes % 2; /* not inside an escape */
            put(&l, "\"", 1);
        }
        put(&l, "}", 1);
    }
    l.buf[l.len++] = '\n';
    ssize_t ignored = write(STDERR_FILENO, l.buf, l.len);
    (void)ignored;
}

void lme_log(enum lme_log_level level, const char *msg, ...)
{
    if (!enabled(level))
        return;
    va_list ap;
    va_start(ap, msg);
    write_record(level, msg, ap);
    va_end(ap);
}

void lme_log_limit_init(struct lme_log_limit *lim, const char *source, unsigned per_second)
{
    memset(lim, 0, sizeof(*lim));
    pthread_mutex_init(&lim->mu, NULL);
    lim->source = source;
    lim->per_second = per_second;
}

/* Called with lim->mu held, so that the count comes out before the records that follow it. */
static void report_suppressed(struct lme_log_limit *lim)
{
    if (lim->suppressed == 0)
        return;
    char n[24], per[16];
    snprintf(n, sizeof(n), "%llu", lim->suppressed);
    snprintf(per, sizeof(per), "%u", lim->per_second);
    lme_log(LME_LOG_WARN, "log records suppressed", "source", lim->source, "suppressed", n,
            "per_second", per, NULL);
    lim->suppressed = 0;
}

static int64_t monotonic_second(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec;
}

void lme_log_limited(struct lme_log_limit *lim, enum lme_log_level level, const char *msg, ...)
{
    if (!enabled(level))
        return;
    pthread_mutex_lock(&lim->mu);
    int64_t now = monotonic_second();
    if (now != lim->second) {
        report_suppressed(lim);
        lim->second = now;
        lim->written = 0;
    }
    if (lim->written < lim->per_second) {
        lim->written++;
        va_list ap;
        va_start(ap, msg);
        write_record(level, msg, ap);
        va_end(ap);
    } else {
        lim->suppressed++;
    }
    pthread_mutex_unlock(&lim->mu);
}

void lme_log_limit_flush(struct lme_log_limit *lim)
{
    pthread_mutex_lock(&lim->mu);
    report_suppressed(lim);
    pthread_mutex_unlock(&lim->mu);
}

void lme_log_limit_destroy(struct lme_log_limit *lim)
{
    lme_log_limit_flush(lim);
    pthread_mutex_destroy(&lim->mu);
}
