/* The daemon's own log: one logfmt (or JSON) line per record on standard error, e.g.
 *   time=2026-11-24T20:47:01.123Z level=error msg="cannot open input" file=/x error="No such file"
 * Times are UTC. Values are quoted when they hold spaces, quotes or '=' and escaped so one record
 * is always one line. Callers never pass secrets. Thread-safe (one write(2) per record). */
#ifndef LME_LOG_H
#define LME_LOG_H

#include <pthread.h>
#include <stdint.h>

enum lme_log_level { LME_LOG_DEBUG, LME_LOG_INFO, LME_LOG_WARN, LME_LOG_ERROR };

enum lme_log_format { LME_LOG_LOGFMT, LME_LOG_JSON };

/* Records below `level` are dropped. Default LME_LOG_INFO. */
void lme_log_set_level(enum lme_log_level level);

/* LME_LOG_JSON: one JSON object per line instead, with the same keys
 * ({"time":"...","level":"error","msg":"cannot open input","file":"/x",...}). */
void lme_log_set_format(enum lme_log_format format);

/* Logs msg with key/value string pairs; the list ends with NULL:
 *   lme_log(LME_LOG_ERROR, "cannot open input", "file", path, "error", strerror(e), NULL); */
void lme_log(enum lme_log_level level, const char *msg, ...) __attribute__((sentinel));

/* A budget of records a second for one source that others can make noisy (a library's messages,
 * what clients of the metrics port provoke). Records past the budget are only counted; the count
 * comes out as one record when the next second begins or at lme_log_limit_flush:
 *   level=warn msg="log records suppressed" source=http suppressed=123 per_second=10
 * Thread-safe between lme_log_limit_init and lme_log_limit_destroy. */
struct lme_log_limit {
    pthread_mutex_t mu;
    const char *source;     /* the value of source= in the suppressed record */
    unsigned per_second;
    int64_t second;         /* the monotonic second `written` counts */
    unsigned written;
    unsigned long long suppressed; /* not yet reported */
};

/* source is borrowed (a string constant, usually). */
void lme_log_limit_init(struct lme_log_limit *lim, const char *source, unsigned per_second);

/* Reports what is still suppressed, then releases lim. */
void lme_log_limit_destroy(struct lme_log_limit *lim);

/* lme_log within lim's budget. Records below the log level neither count nor cost. */
void lme_log_limited(struct lme_log_limit *lim, enum lme_log_level level, const char *msg, ...)
    __attribute__((sentinel));

/* Reports the records suppressed so far, if any: call it once a second or so, so that a count
 * does not wait for the source's next record. */
void lme_log_limit_flush(struct lme_log_limit *lim);

#endif
