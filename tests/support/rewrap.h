/* Test support: the wrap and marker properties of the browse-log parser. A parsed record is
 * rebuilt in its canonical one-line form, its words joined by one space:
 *
 *   HEADER-PREFIX word word ... word >> module(line)
 *
 * (the header up to its message, the message's words, the trailer when it has one), which must
 * parse to the fields of the record as it was read (the message compared with every run of
 * whitespace read as one space: a wrap turns a line break and the spaces around it into one).
 * Then the canonical form is written again in other shapes, each of which must parse to exactly
 * its fields: broken into lines at any of its spaces (CRLF or LF, continuation lines indented by
 * one space or not), the trailer's marker ">>", "<<" or none (then on a line of its own), the
 * trailer's ")" left off (with a marker). Shared by tests/unit/test_wrap_property.c and
 * tests/fuzz/fuzz_record.c.
 *
 * Two forms are not wraps and are never written: a break that makes a line read as a header (it
 * starts a new record), and, in a record without trailer whose last word reads "Module(123)", a
 * break that leaves that word alone on the last line (it then is a trailer whose marker was
 * lost, as the parser is asked to read it); nor is a form without marker written when the
 * message itself ends with a marker word. */
#ifndef LME_TEST_REWRAP_H
#define LME_TEST_REWRAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event.h"

enum rewrap_marker {
    REWRAP_GT,   /* ">> module(line)" */
    REWRAP_LT,   /* "<< module(line)" */
    REWRAP_NONE, /* "module(line)" alone on the last line */
};

/* How a form is written. breaks has rewrap_gaps() entries: breaks[i] set puts a line end in
 * the i-th space of the canonical form (the trailer's spaces last: before its marker, after
 * it); forms without marker break before the trailer whatever breaks says. */
struct rewrap_style {
    const uint8_t *breaks;
    bool crlf;
    bool indent;
    enum rewrap_marker marker;
    bool open; /* the trailer without its ")"; with a marker only */
};

enum rewrap_result {
    REWRAP_OK = 0,
    REWRAP_SKIPPED = 1, /* not applicable: see rewrap_load and rewrap_check */
    REWRAP_FAILED = -1, /* a field differs: rewrap_why says which */
};

struct rewrap;

/* A checker with its own parser (zone UTC, records up to 1 MiB). NULL when memory runs out. */
struct rewrap *rewrap_create(void);

/* NULL-safe. */
void rewrap_destroy(struct rewrap *w);

/* Loads the record an event was parsed from (ev borrowed for the call) and checks that its
 * canonical form parses to its fields. REWRAP_SKIPPED for records the properties do not cover:
 * unparsed ones, truncated ones and those whose header was wrapped over two lines. */
enum rewrap_result rewrap_load(struct rewrap *w, const struct lme_event *ev);

/* Spaces of the loaded record's canonical form where a line may end. */
size_t rewrap_gaps(const struct rewrap *w);

/* Whether the loaded record has a trailer (marker variants apply). */
bool rewrap_has_trailer(const struct rewrap *w);

/* Fills breaks (rewrap_gaps() entries) as a writer wrapping lines at `width` columns would. */
void rewrap_at_width(const struct rewrap *w, size_t width, const struct rewrap_style *st,
                     uint8_t *breaks);

/* The gap just before the trailer's marker, and just after it (>= rewrap_gaps() without one). */
size_t rewrap_gap_before_marker(const struct rewrap *w);

/* Writes the loaded record in style st and parses it: REWRAP_OK when the fields are the canonical
 * form's, REWRAP_SKIPPED when the form is no wrap (see above). */
enum rewrap_result rewrap_check(struct rewrap *w, const struct rewrap_style *st);

/* After REWRAP_FAILED: what differed, the form and the record as read. Borrowed until the next
 * call. */
const char *rewrap_why(const struct rewrap *w);

#endif
