/* The daemon's own log: one logfmt (or JSON) line per record on standard error, e.g.
 *   time=2026-11-24T20:47:01.123Z level=error msg="cannot open input" file=/x error="No such file"
 * Times are UTC. Values are quoted when they hold spaces, quotes or '=' and escaped so one record
 * is always one line. Callers never pass secrets. Thread-safe (one write(2) per record). */
#ifndef LME_LOG_H
#define LME_LOG_H

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

#endif
