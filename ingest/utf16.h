/* UTF-16LE to UTF-8 for the browse logs written in UTF-16, with the way back from offsets in the
 * UTF-8 stream (what the parser counts) to offsets in the file (what checkpoints and events
 * need). Records end at line ends (the last one of a file perhaps at its end), so the map only
 * keeps the position of each LF and where the text converted so far ends; it forgets the LFs a
 * query has passed, so memory stays bounded by the lines not yet settled.
 * Single-threaded: one object per stream, used by one thread at a time. */
#ifndef LME_UTF16_H
#define LME_UTF16_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"

struct utf16;

/* Starts a stream whose first fed byte is at file_offset: just after the BOM (which must not be
 * fed: it would come out as U+FEFF), or a checkpoint's offset (which is always a line end). The
 * UTF-8 stream produced starts at offset 0. Returns the stream, owned by the caller and freed
 * with utf16_destroy, or NULL with err filled (LME_ENOMEM, or LME_EINVAL when iconv cannot
 * convert UTF-16LE to UTF-8). */
struct utf16 *utf16_create(uint64_t file_offset, struct lme_err *err);

/* NULL-safe. */
void utf16_destroy(struct utf16 *u);

/* Before anything was fed: the stream starts n bytes further in the file (a BOM found at the
 * create offset, which the caller drops). */
void utf16_skip(struct utf16 *u, uint64_t n);

/* Converts the next len bytes of UTF-16LE (in is borrowed for the call) and appends the UTF-8
 * to out (owned by the caller; appended, never reset). An odd trailing byte, or a high
 * surrogate whose pair has not arrived, is kept for the next call; unpaired surrogates become
 * U+FFFD (EF BF BD). Records the position of every LF produced: the UTF-8 offset just after it
 * and the file offset just after its two bytes. Returns 0, or LME_ENOMEM and then nothing of
 * this call is kept (out, the line ends and the kept bytes are as before it): the same bytes
 * can be fed again. */
int utf16_feed(struct utf16 *u, const char *in, size_t len, struct lme_buf *out);

/* The file offset matching UTF-8 stream offset utf8_off: exact at 0 (the create offset), just
 * after any LF fed, and at the end of the UTF-8 produced so far (the file offset of the first
 * byte not converted: the last record of a file without a final line end ends there); for any
 * other offset, the file offset of the last of these points before it, so a checkpoint taken
 * from it never skips bytes. Forgets the points before the one used: calls must come with
 * non-decreasing utf8_off (an earlier offset gets the answer for the last one used). */
uint64_t utf16_file_offset(struct utf16 *u, uint64_t utf8_off);

#endif
