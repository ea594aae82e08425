/* Test support: reading lme-ingest's JSON events back (jansson), for the integration tests. */
#ifndef LME_TEST_EVENTS_H
#define LME_TEST_EVENTS_H

#include <jansson.h>
#include <stddef.h>

/* Parses JSON Lines into an array of objects (new reference). Returns NULL, after printing the
 * offending line, when a line is not a JSON object. Every line is also handed to events_seen. */
json_t *events_parse(const char *text, size_t len);

/* The same, with the records only: incident events (docs/incidents.md) left out. */
json_t *events_parse_records(const char *text, size_t len);

/* 1 when ev is an incident event (event.dataset lme.incident), not a record. */
int event_is_incident(json_t *ev);

/* An event a test read (one JSON line, no line end). When LME_EVENTS_SEEN names a folder, each
 * distinct line (the first 10,000 of a process) is appended to a file of this process's there,
 * so that a last test validates the events the suite saw against docs/event.schema.json
 * (tests/tools/validate_events.py). */
void events_seen(const char *line, size_t len);

/* Looks up a dotted path ("log.origin.file.name") through nested objects; borrowed or NULL. */
json_t *event_get(json_t *ev, const char *dotted);

/* The string at a dotted path, or NULL. */
const char *event_str(json_t *ev, const char *dotted);

/* 1 when the event's "tags" array holds tag. */
int event_has_tag(json_t *ev, const char *tag);

/* 1 when log (the daemon's standard error) says every *.log file of dir was settled up to
 * `expected`: its size when expected is -1, else that offset. */
int log_files_settled(const char *log, const char *dir, long long expected);

/* The size of the file at path, or -1. */
long long file_size(const char *path);

/* The committed offset state_dir/checkpoints.json holds for the file at path (matched by inode),
 * or -1 (no entry yet, or no file). */
long long checkpoint_offset(const char *state_dir, const char *path);

#endif
