/* A followed file turned into events: the file (tail.c), and its bytes decoded and parsed
 * (decode.c: the encoding decided by the file's first bytes, UTF-16LE converted to UTF-8). Event
 * offsets are always file offsets, whatever the encoding. */
#ifndef LME_SOURCE_H
#define LME_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "decode.h"
#include "err.h"
#include "parser.h"
#include "tail.h"
#include "tz.h"

/* What every file of one input shares. Borrowed by the sources. */
struct source_config {
    const char *host;
    struct lme_tz *tz;
    size_t max_record_bytes;
    enum config_encoding encoding;
    bool follow_symlinks;      /* a glob match that is a link may be opened */
};

struct source {
    struct tail_file tail;
    const struct source_config *cfg;
    struct decode *decode; /* decoder and parser; NULL while closed */

};

/* Opens path into s (zeroed first) without starting to read: set s->tail.offset, then
 * source_start. Returns 0 or an error with err filled. */
int source_open(struct source *s, const char *path, const struct source_config *cfg,
                struct lme_err *err);

/* Starts reading at s->tail.offset. From the file's start its first bytes decide the encoding
 * as they arrive (decode.h), so a file still empty is read right once written; past the start
 * they are read now, and a UTF-16LE file is read from a code unit's start (an odd offset, a
 * line start found by the LF's first byte, backs off by one). Returns 0 or an error with err
 * filled. */
int source_start(struct source *s, struct lme_err *err);

/* Reads at most cap bytes (into chunk, the caller's) and hands the events they complete to emit.
 * *got: bytes read, 0 at the end. Returns 0, LME_EIO with err filled when the file cannot be
 * read, or emit's non-zero value. */
int source_read(struct source *s, char *chunk, size_t cap, int64_t now_ms, parser_emit_fn emit,
                void *ctx, size_t *got, struct lme_err *err);

/* The file went silent: emits its pending record (see parser_flush). */
int source_flush(struct source *s, int64_t now_ms, parser_emit_fn emit, void *ctx);

/* The file is done: emits everything held, a last line without terminator included, and
 * closes it. */
int source_finish(struct source *s, int64_t now_ms, parser_emit_fn emit, void *ctx);

/* 1 when bytes read are held, not emitted yet. */
bool source_holds(const struct source *s);

/* Closes an idle file, dropping what the parser holds: reading resumes before it (see
 * source_resume), so nothing is lost. */
void source_suspend(struct source *s);

/* Opens a suspended file again (it must still be the same file) and starts reading. */
int source_resume(struct source *s, struct lme_err *err);

/* Releases everything; NULL-safe. */
void source_free(struct source *s);

#endif
