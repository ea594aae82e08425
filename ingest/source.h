/* A followed file turned into events: the file (tail.c), its decoding (UTF-16LE to UTF-8 when it
 * is written so) and its parser. Event offsets are always file offsets, whatever the encoding. */
#ifndef LME_SOURCE_H
#define LME_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "config.h"
#include "err.h"
#include "parser.h"
#include "tail.h"
#include "tz.h"
#include "utf16.h"

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
    struct parser *parser; /* NULL while closed */
    struct utf16 *utf16;   /* NULL: bytes go to the parser as they are */
    struct lme_buf utf8;   /* the converted bytes of one read */
};

/* Opens path into s (zeroed first) without starting to read: set s->tail.offset, then
 * source_start. Returns 0 or an error with err filled. */
int source_open(struct source *s, const char *path, const struct source_config *cfg,
                struct lme_err *err);

/* Starts reading at s->tail.offset: decides the encoding (a UTF-16LE BOM at the start, or the
 * configured one) and creates the parser. Returns 0 or an error with err filled. */
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
