/* The browse-log grammar: which lines start a record, and how an assembled record becomes the
 * fields of a struct lme_event.
 *
 * A record starts with a header line, in one of three shapes:
 *   HEADER      [date time -] COMPONENT(thread) LEVEL CODE:text [>> module(line)]
 *   CONTROLLER  CODE Text                     (Connectivity Controller; Text starts upper case)
 *   BROKEN      date time - <anything else>   (a date and separator make a header: a parse failure,
 *                                              unless joining the next line completes a HEADER)
 * Every other line continues the record before it. The trailer ">> module(line)" is looked for
 * at the end of the record's text with its lines joined, so it reads the same wherever the
 * record was wrapped; "<<" for ">>", and a last line "Module(123)" without marker, count too
 * (docs/schema.md, "Trailers"). The patterns are PCRE2, compiled once per process with JIT and
 * a match limit; a struct browse_log holds the per-thread match state. The common header shape
 * is read by hand first (header_scan.h); the patterns decide whatever that scan does not. */
#ifndef LME_BROWSE_LOG_H
#define LME_BROWSE_LOG_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "event.h"
#include "tz.h"

enum browse_log_kind {
    BROWSE_LOG_CONTINUATION = 0,
    BROWSE_LOG_HEADER,
    BROWSE_LOG_CONTROLLER,
    BROWSE_LOG_BROKEN,
    BROWSE_LOG_ORPHAN, /* a record of lines with no header before them (start of a stream) */
};

/* Offset and length of a captured field inside the header text; len 0 means absent. */
struct browse_log_span {
    uint32_t off;
    uint32_t len;
};

/* What classifying a header line found. Offsets are relative to the header text. */
struct browse_log_header {
    enum browse_log_kind kind;
    struct browse_log_span date, time, component, thread, level, code;
    uint32_t text_off; /* where the message text begins */
};

/* An assembled record, as the record reader hands it over. All pointers borrowed. */
struct browse_log_record {
    const char *text;   /* raw bytes of all lines; the final line terminator excluded */
    size_t len;
    const char *header; /* header text: the first line, or the first two joined when wrapped */
    size_t header_len;
    size_t body_off;    /* offset in text of the first line after the header's line(s); == len if none */
    struct browse_log_header hdr;
    uint64_t offset;    /* absolute offset of the first byte */
    uint64_t end_offset;
    uint64_t truncated_bytes; /* > 0: cut at the length limit, this many bytes dropped */
};

struct browse_log;

/* Creates the per-thread match state (the patterns themselves are compiled once per process).
 * Returns NULL with err filled when a pattern fails to compile or memory runs out.
 * Free with browse_log_destroy. */
struct browse_log *browse_log_create(struct lme_err *err);

/* NULL-safe. */
void browse_log_destroy(struct browse_log *bl);

/* Classifies one line (no line terminator; a trailing '\r' is allowed). Fills *h for header kinds;
 * returns the kind. Never fails: a line the patterns cannot decide on (match limit hit) is a
 * continuation. */
enum browse_log_kind browse_log_classify(struct browse_log *bl, const char *line, size_t len,
                                         struct browse_log_header *h);

/* The same, by the patterns alone: without the hand-written scan of the common header shape
 * (header_scan.h) that browse_log_classify tries first. The judge of that scan: tests and the
 * fuzz target compare the two. */
enum browse_log_kind browse_log_classify_pcre2(struct browse_log *bl, const char *line, size_t len,
                                               struct browse_log_header *h);

/* Parses a record into ev's record fields: original, message, code, component, thread_id,
 * severity, origin_file/line, error_type, shape, flags and time_ms (set to ev->created_ms and
 * flagged LME_EV_NO_TIMESTAMP when the record has no usable time, so set created_ms first).
 * Slices point into rec's memory or into bl's scratch buffer: valid until the next call with bl.
 * bl remembers the last time it converted and the zone it used (by address): a tz passed to it
 * must stay open as long as bl. Returns 0, or LME_ENOMEM. */
int browse_log_parse(struct browse_log *bl, const struct browse_log_record *rec, struct lme_tz *tz,
                     struct lme_event *ev);

/* Parses a date and a time as written in a header ("1998/03/17", "08-Aug-2000", "22:22:50").
 * Returns 0, or LME_EINVAL for a placeholder or an impossible value. Exposed for tests. */
int browse_log_parse_time(const char *date, size_t date_len, const char *time, size_t time_len,
                          struct lme_civil *out);

#endif
