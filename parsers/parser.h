/* The parser stage's interface: browse-log bytes of one source in, struct lme_event out.
 * One struct parser per source (file or stream); single-threaded. */
#ifndef LME_PARSER_H
#define LME_PARSER_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "event.h"
#include "tz.h"

#define PARSER_DEFAULT_MAX_RECORD (64 * 1024)

struct parser_config {
    const char *path;        /* log.file.path; NULL for a stream. Copied. */
    const char *host;        /* host.name. Copied. */
    struct lme_tz *tz;       /* zone local times are read in; borrowed, must outlive the parser */
    uint64_t file_dev;       /* file identity for event.id; 0, 0 for a stream */
    uint64_t file_ino;
    uint64_t start_offset;   /* absolute offset of the first byte fed */
    size_t max_record_bytes; /* 0: PARSER_DEFAULT_MAX_RECORD */
};

struct parser_stats {
    uint64_t records;        /* events emitted */
    uint64_t parse_failures; /* of which tagged lme_parse_failure */
    uint64_t truncated;      /* of which tagged lme_truncated */
    uint64_t no_timestamp;   /* of which tagged lme_no_timestamp */
};

/* Receives each event, borrowed until it returns. A non-zero return stops the parser and is
 * returned by parser_feed/parser_finish. */
typedef int (*parser_emit_fn)(const struct lme_event *ev, void *ctx);

struct parser;

/* Returns NULL with err filled on failure. Free with parser_destroy. */
struct parser *parser_create(const struct parser_config *cfg, struct lme_err *err);

/* NULL-safe. */
void parser_destroy(struct parser *p);

/* Feeds bytes read at now_ms (ms since the epoch, UTC: event.created, and @timestamp of records
 * without a usable time). Emits each record these bytes complete. Returns 0, LME_ENOMEM or the
 * callback's non-zero value. */
int parser_feed(struct parser *p, const char *data, size_t len, int64_t now_ms,
                parser_emit_fn emit, void *ctx);

/* The source stopped growing for a while: emits the pending record if only complete lines make
 * it (a partial last line keeps waiting for its end). A continuation line arriving later becomes
 * a record of its own. Returns as parser_feed. */
int parser_flush(struct parser *p, int64_t now_ms, parser_emit_fn emit, void *ctx);

/* 1 when the parser holds bytes not emitted yet (a pending record or a partial line). */
int parser_holds(const struct parser *p);

/* Absolute offset of the first byte fed that no emitted event covers (blank lines skipped
 * count as covered): where to read from again to rebuild what the parser holds. */
uint64_t parser_unemitted(const struct parser *p);

/* End of the source: emits what is still pending (a last line without terminator included). */
int parser_finish(struct parser *p, int64_t now_ms, parser_emit_fn emit, void *ctx);

/* Counters since creation. Borrowed until parser_destroy. */
const struct parser_stats *parser_stats(const struct parser *p);

#endif
