/* struct lme_event: one browse-log record, parsed. The type every stage meets through.
 *
 * Text fields are slices (pointer + length) into memory the producer of the event owns; an event
 * handed to a callback is borrowed until the callback returns. A slice with len 0 is "absent". */
#ifndef LME_EVENT_H
#define LME_EVENT_H

#include <stddef.h>
#include <stdint.h>

struct lme_str {
    const char *ptr;
    size_t len;
};

/* Schema version of the JSON event (docs/schema.md); bumped on any incompatible change. */
#define LME_SCHEMA_VERSION 1

enum lme_event_flag {
    LME_EV_PARSE_FAILURE = 1u << 0, /* no header could be parsed: tags lme_parse_failure */
    LME_EV_TRUNCATED = 1u << 1,     /* cut at the record length limit: tags lme_truncated */
    LME_EV_NO_TIMESTAMP = 1u << 2,  /* no usable time; time_ms is when it was read */
    LME_EV_DIAGNOSED = 1u << 3,     /* enrichment attached a diagnosis: routed to alerts too */
    LME_EV_INCIDENT = 1u << 4,      /* not a record: a change of an incident's state (alert) */
};

/* What kind of line started the record. */
enum lme_event_shape {
    LME_SHAPE_BROWSE = 0,     /* [date time -] COMPONENT(thread) LEVEL CODE:text */
    LME_SHAPE_CONTROLLER = 1, /* CODE text (Connectivity Controller) */
    LME_SHAPE_UNPARSED = 2,   /* nothing recognisable: parse failure */
};

struct lme_event {
    /* Where the record came from. */
    struct lme_str path;     /* log.file.path */
    struct lme_str host;     /* host.name */
    struct lme_str timezone; /* the IANA zone local times were read in */
    uint64_t file_dev;       /* file identity (device, inode); 0, 0 for a stream */
    uint64_t file_ino;
    uint64_t offset;         /* byte offset of the record's first line */
    uint64_t end_offset;     /* byte offset just past the record (its last line terminator) */

    /* Times, in milliseconds since the Unix epoch, UTC. */
    int64_t time_ms;    /* @timestamp */
    int64_t created_ms; /* when the record was read: event.created */

    /* The record. */
    struct lme_str original;    /* raw bytes, all its lines; final line terminator excluded */
    struct lme_str message;     /* text after CODE:, lines trimmed and joined, trailer removed */
    struct lme_str code;        /* 5 digits, or absent */
    struct lme_str component;   /* process.name, or absent */
    struct lme_str origin_file; /* trailer module, or absent */
    struct lme_str error_type;  /* status word of "Error {X}: ...", or absent */
    int64_t thread_id;          /* -1 when absent */
    int32_t origin_line;        /* -1 when absent */
    int severity;               /* 1..4, 0 when absent */
    enum lme_event_shape shape;
    uint32_t flags;             /* enum lme_event_flag */
    uint64_t truncated_bytes;   /* bytes cut off when LME_EV_TRUNCATED */

    /* Added by enrichment: lme.diagnosis as a JSON object's text (docs/diagnosis.md), written
     * as it is; absent for events without one. */
    struct lme_str diagnosis;

    /* Added by the incident tracker: lme.incident as a JSON object's text; on a 41220 only its
     * id. An incident's own event (LME_EV_INCIDENT) has no record: its event.id is given here
     * and its event.type is alert_type ("start", "change", "end"). */
    struct lme_str incident;
    const char *given_id; /* 32 hex digits, or NULL */
    const char *alert_type;
};

/* Writes the event's stable id: 32 lowercase hex digits and a NUL into out.
 * Derived from host, file identity, offset and the record's bytes, so a record re-sent after a
 * restart keeps its id while a different record at a reused offset (copy-truncate) gets another. */
void lme_event_id(const struct lme_event *ev, char out[33]);

/* "error", "warning", "info", "debug" for severity 1..4; NULL otherwise. */
const char *lme_event_level_name(int severity);

#endif
