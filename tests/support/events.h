/* Test support: reading lme-ingest's JSON events back (jansson), for the integration tests. */
#ifndef LME_TEST_EVENTS_H
#define LME_TEST_EVENTS_H

#include <jansson.h>
#include <stddef.h>

/* Parses JSON Lines into an array of objects (new reference). Returns NULL, after printing the
 * offending line, when a line is not a JSON object. */
json_t *events_parse(const char *text, size_t len);

/* Looks up a dotted path ("log.origin.file.name") through nested objects; borrowed or NULL. */
json_t *event_get(json_t *ev, const char *dotted);

/* The string at a dotted path, or NULL. */
const char *event_str(json_t *ev, const char *dotted);

/* 1 when the event's "tags" array holds tag. */
int event_has_tag(json_t *ev, const char *tag);

/* 1 when log (the daemon's standard error) says every *.log file of dir was settled up to
 * `expected`: its size when expected is -1, else that offset. */
int log_files_settled(const char *log, const char *dir, long long expected);

#endif
