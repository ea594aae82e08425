/* Lines to records: splits a byte stream into lines (LF or CRLF), groups each header line with the
 * continuation lines after it, and hands every complete record to a callback.
 *
 * A record is complete when the next header arrives or the stream ends. Memory is bounded: a
 * record is kept up to a byte limit; what lies beyond is counted and dropped, and when text was
 * lost (not just a line end or blank lines) the record is flagged truncated. Lines before the first header of a stream are each a record of their own
 * (an orphan: a parse failure); blank orphan lines carry no text and are skipped. */
#ifndef LME_RECORD_H
#define LME_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "browse_log.h"
#include "err.h"

/* Called with each complete record, borrowed until it returns. A non-zero return stops the
 * reader and is passed back to the caller of record_reader_feed/finish. */
typedef int (*record_emit_fn)(const struct browse_log_record *rec, void *ctx);

struct record_reader;

/* bl is borrowed and must outlive the reader. max_record_bytes bounds each record (>= 64);
 * start_offset is the absolute offset of the first byte that will be fed.
 * Returns NULL with err filled on failure. */
struct record_reader *record_reader_create(struct browse_log *bl, size_t max_record_bytes,
                                           uint64_t start_offset, struct lme_err *err);

/* NULL-safe. */
void record_reader_destroy(struct record_reader *r);

/* Feeds bytes; emits every record completed by them. A trailing partial line is kept until its
 * line terminator arrives. Returns 0, LME_ENOMEM, or the callback's non-zero value. */
int record_reader_feed(struct record_reader *r, const char *data, size_t len, record_emit_fn emit,
                       void *ctx);

/* No continuation came in time (a file that stopped growing): emits the pending record, made of
 * complete lines only. A partial line is kept, since its end may still arrive. Returns as
 * record_reader_feed. */
int record_reader_flush(struct record_reader *r, record_emit_fn emit, void *ctx);

/* 1 when bytes fed are held (a pending record or a partial line), else 0. */
int record_reader_holds(const struct record_reader *r);

/* Offset of the first byte fed that is not part of an emitted record (nor a skipped blank line):
 * where reading must start again to rebuild what the reader holds. */
uint64_t record_reader_unemitted(const struct record_reader *r);

/* End of stream: a last line without a terminator counts as a line, and the pending record is
 * emitted. The reader can be fed again afterwards. Returns as record_reader_feed. */
int record_reader_finish(struct record_reader *r, record_emit_fn emit, void *ctx);

#endif
