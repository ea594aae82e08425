/* A log's bytes to events whatever their encoding: the parser (parsers/parser.h) behind the
 * decision, for the daemon's files (source.c) and for `lme-ingest parse`.
 *
 * Read from its start, a file's first bytes decide: with encoding auto, FF FE (the UTF-16LE byte
 * order mark) makes it UTF-16LE, anything else bytes as they are (UTF-8, or a single-byte code
 * page). A mark is no text and is dropped: FF FE unless the encoding is utf-8, EF BB BF (UTF-8's)
 * unless it is utf-16le. The decision waits for the bytes, not for the file: the first bytes
 * that may start a mark are held (two at most) until the next ones tell, and nothing is parsed
 * before; so a file created empty and written a moment later, in writes cut anywhere, is read
 * right. UTF-16LE is converted to UTF-8 (utf16.c) and every offset given out (events,
 * decode_unemitted) is a file offset, whatever the encoding. Single-threaded: one per stream. */
#ifndef LME_DECODE_H
#define LME_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "err.h"
#include "parser.h"

struct decode;

/* Starts a stream whose first byte fed lies at file offset pc->start_offset (pc as for
 * parser_create). At offset 0, `encoding` is applied to the bytes as they come (see above);
 * past 0 the file's first bytes are not fed, so the caller decides with decode_file_encoding
 * and passes CONFIG_ENCODING_UTF8 or CONFIG_ENCODING_UTF16LE. Returns the stream, freed with
 * decode_destroy, or NULL with err filled (LME_ENOMEM; LME_EINVAL when UTF-16LE is possible and
 * iconv cannot convert it). */
struct decode *decode_create(const struct parser_config *pc, enum config_encoding encoding,
                             struct lme_err *err);

/* NULL-safe. */
void decode_destroy(struct decode *d);

/* What a file whose first bytes are head[0, n) is read as: UTF-16LE or UTF-8 (never auto).
 * n may be less than 2 when the file is shorter. */
enum config_encoding decode_file_encoding(enum config_encoding configured,
                                          const unsigned char *head, size_t n);

/* As parser_feed: feeds the next len bytes of the file (data borrowed for the call) and emits,
 * with file offsets, the events they complete. Returns 0, LME_ENOMEM or emit's non-zero value. */
int decode_feed(struct decode *d, const char *data, size_t len, int64_t now_ms,
                parser_emit_fn emit, void *ctx);

/* As parser_flush. Bytes held for the decision wait, as a partial line does. */
int decode_flush(struct decode *d, int64_t now_ms, parser_emit_fn emit, void *ctx);

/* As parser_finish: the stream ended, so the bytes held are no mark and are read as text. */
int decode_finish(struct decode *d, int64_t now_ms, parser_emit_fn emit, void *ctx);

/* Whether bytes fed are held, not emitted yet. */
bool decode_holds(const struct decode *d);

/* As parser_unemitted, as a file offset: where to read again to rebuild what is held. Calls
 * must come with the stream's progress (never for an earlier point than the last answer). */
uint64_t decode_unemitted(struct decode *d);

/* The parser's counters. Borrowed until decode_destroy. */
const struct parser_stats *decode_stats(const struct decode *d);

#endif
