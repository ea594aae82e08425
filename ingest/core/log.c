/* logfmt records on standard error: see log.h. The record is built in a stack buffer and written
 * with one write(2) so concurrent records never interleave. */
#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static atomic_int min_level = LME_LOG_INFO;

void lme_log_set_level(enum lme_log_level level)
{
    atomic_store(&min_level, (int)level);
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

static void put_time(struct line *l)
{
    struct timespec ts;
    struct tm tm;
    char out[40];
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(out, sizeof(out), "time=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
    put(l, out, (size_t)n);
}

void lme_log(enum lme_log_level level, const char *msg, ...)
{
    static const char *const names[] = { "debug", "info", "warn", "error" };
    if ((int)level < atomic_load(&min_level))
        return;

    struct line l = { .len = 0 };
    put_time(&l);
    put(&l, " level=", 7);
    put(&l, names[level], strlen(names[level]));
    put(&l, " msg=", 5);
    put_value(&l, msg);

    va_list ap;
    va_start(ap, msg);
    for (;;) {
        const char *key = va_arg(ap, const char *);
        if (!key)
            break;
        const char *val = va_arg(ap, const char *);
        put(&l, " ", 1);
        put(&l, key, strlen(key));
        put(&l, "=", 1);
        put_value(&l, val ? val : "");
    }
    va_end(ap);

    l.buf[l.len++] = '\n';
    ssize_t ignored = write(STDERR_FILENO, l.buf, l.len);
    (void)ignored;
}
