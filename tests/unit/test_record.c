/* Unit tests of record assembly: lines to records across any chunking, CRLF, wrapped headers,
 * orphan lines, the length limit, and the offsets every record carries. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "record.h"

#define MAX_RECS 64

struct got {
    size_t n;
    struct {
        char *text;
        char *header;
        size_t body_off;
        enum browse_log_kind kind;
        uint64_t offset, end_offset, truncated;
    } r[MAX_RECS];
};

static int collect(const struct browse_log_record *rec, void *ctx)
{
    struct got *g = ctx;
    assert_true(g->n < MAX_RECS);
    g->r[g->n].text = strndup(rec->text ? rec->text : "", rec->len);
    g->r[g->n].header = strndup(rec->header ? rec->header : "", rec->header_len);
    g->r[g->n].body_off = rec->body_off;
    g->r[g->n].kind = rec->hdr.kind;
    g->r[g->n].offset = rec->offset;
    g->r[g->n].end_offset = rec->end_offset;
    g->r[g->n].truncated = rec->truncated_bytes;
    g->n++;
    return 0;
}

static void got_free(struct got *g)
{
    for (size_t i = 0; i < g->n; i++) {
        free(g->r[i].text);
        free(g->r[i].header);
    }
    g->n = 0;
}

/* Feeds data in chunks of `chunk` bytes (0: all at once), then finishes. */
static void run(const char *data, size_t len, size_t chunk, size_t max, struct got *g)
{
    struct lme_err err;
    struct browse_log *bl = browse_log_create(&err);
    struct record_reader *r = record_reader_create(bl, max, 1000, &err);
    assert_non_null(r);
    memset(g, 0, sizeof(*g));
    if (chunk == 0)
        chunk = len ? len : 1;
    for (size_t off = 0; off < len; off += chunk)
        assert_int_equal(record_reader_feed(r, data + off, off + chunk > len ? len - off : chunk,
                                            collect, g), 0);
    assert_int_equal(record_reader_finish(r, collect, g), 0);
    record_reader_destroy(r);
    browse_log_destroy(bl);
}

static const char SAMPLE[] =
    "1998/03/17 22:22:50 - LME-NOTES-MEXNTS(018b) 2 01211:Error {Timeout on\r\n"
    "resource lock}: Unable to lock the LME-NOTESOPEN shared memory object\r\n"
    ">> ntshcs(1765)\r\n"
    "\r\n"
    "1998/03/17 22:22:50 - LME-NOTES-MEXNTS(018b) 1 41220:Error: no Notes Session Open >> ntshcs(2317)\r\n"
    "08226 Process LME-NOTES-NTSMEX terminated abnormally\r\n"
    "1998/03/17 22:22:51 - LME-NOTES-MEXNTS(018b) 3 41210:Terminating Notes\r\n"
    "Interface\r\n"
    "   \r\n";

static void test_records_and_offsets(void **state)
{
    (void)state;
    struct got g;
    run(SAMPLE, strlen(SAMPLE), 0, 65536, &g);
    assert_int_equal(g.n, 4);
    assert_int_equal(g.r[0].kind, BROWSE_LOG_HEADER);
    /* CRLF inside kept, trailing blank line and final terminator not */
    assert_string_equal(g.r[0].text,
                        "1998/03/17 22:22:50 - LME-NOTES-MEXNTS(018b) 2 01211:Error {Timeout on\r\n"
                        "resource lock}: Unable to lock the LME-NOTESOPEN shared memory object\r\n"
                        ">> ntshcs(1765)");
    assert_string_equal(g.r[0].header,
                        "1998/03/17 22:22:50 - LME-NOTES-MEXNTS(018b) 2 01211:Error {Timeout on");
    assert_int_equal(g.r[0].offset, 1000);
    assert_int_equal(g.r[0].end_offset, g.r[1].offset);
    assert_int_equal(g.r[1].offset, 1000 + strstr(SAMPLE, "1998/03/17 22:22:50 - LME-NOTES-MEXNTS(018b) 1") - SAMPLE);
    assert_int_equal(g.r[2].kind, BROWSE_LOG_CONTROLLER);
    assert_int_equal(g.r[2].offset, 1000 + strstr(SAMPLE, "08226") - SAMPLE);
    assert_string_equal(g.r[3].text, "1998/03/17 22:22:51 - LME-NOTES-MEXNTS(018b) 3 41210:Terminating Notes\r\nInterface");
    assert_int_equal(g.r[3].end_offset, 1000 + strlen(SAMPLE));
    for (size_t i = 0; i < g.n; i++)
        assert_int_equal(g.r[i].truncated, 0);
    got_free(&g);
}

static void test_any_chunking_gives_the_same_records(void **state)
{
    (void)state;
    struct got whole, part;
    run(SAMPLE, strlen(SAMPLE), 0, 65536, &whole);
    for (size_t chunk = 1; chunk <= 80; chunk++) {
        run(SAMPLE, strlen(SAMPLE), chunk, 65536, &part);
        assert_int_equal(part.n, whole.n);
        for (size_t i = 0; i < whole.n; i++) {
            assert_string_equal(part.r[i].text, whole.r[i].text);
            assert_string_equal(part.r[i].header, whole.r[i].header);
            assert_int_equal(part.r[i].offset, whole.r[i].offset);
            assert_int_equal(part.r[i].end_offset, whole.r[i].end_offset);
        }
        got_free(&part);
    }
    got_free(&whole);
}

static void test_last_line_without_terminator_waits_for_finish(void **state)
{
    (void)state;
    const char *data = "A(0001) 1 00001:one\nA(0001) 1 00002:two\nA(0001) 1 00003:three";
    struct lme_err err;
    struct got g = { 0 };
    struct browse_log *bl = browse_log_create(&err);
    struct record_reader *r = record_reader_create(bl, 65536, 0, &err);
    assert_int_equal(record_reader_feed(r, data, strlen(data), collect, &g), 0);
    /* "two" may still grow; "three" may not even be a header until its line ends */
    assert_int_equal(g.n, 1);
    assert_int_equal(record_reader_finish(r, collect, &g), 0);
    assert_int_equal(g.n, 3);
    assert_string_equal(g.r[1].text, "A(0001) 1 00002:two");
    assert_string_equal(g.r[2].text, "A(0001) 1 00003:three");
    record_reader_destroy(r);
    browse_log_destroy(bl);
    got_free(&g);
}

/* A file that stops growing: the pending record goes out at flush, a partial line keeps it
 * waiting, and the reader reports what it still holds and where that starts. */
static void test_flush_emits_the_pending_record_of_complete_lines(void **state)
{
    (void)state;
    struct lme_err err;
    struct got g = { 0 };
    struct browse_log *bl = browse_log_create(&err);
    struct record_reader *r = record_reader_create(bl, 65536, 100, &err);
    const char *a = "A(0001) 1 00001:one\nA(0001) 1 00002:two\n  more of two\n";
    assert_int_equal(record_reader_feed(r, a, strlen(a), collect, &g), 0);
    assert_int_equal(g.n, 1);
    assert_true(record_reader_holds(r));
    assert_int_equal(record_reader_unemitted(r), 100 + 20);

    const char *b = "  still two, partial";
    assert_int_equal(record_reader_feed(r, b, strlen(b), collect, &g), 0);
    assert_int_equal(record_reader_flush(r, collect, &g), 0);
    assert_int_equal(g.n, 1); /* the partial line may belong to "two" */

    assert_int_equal(record_reader_feed(r, "\n", 1, collect, &g), 0);
    assert_int_equal(record_reader_flush(r, collect, &g), 0);
    assert_int_equal(g.n, 2);
    assert_string_equal(g.r[1].text, "A(0001) 1 00002:two\n  more of two\n  still two, partial");
    assert_int_equal(g.r[1].end_offset, 100 + strlen(a) + strlen(b) + 1);
    assert_false(record_reader_holds(r));
    assert_int_equal(record_reader_unemitted(r), g.r[1].end_offset);
    assert_int_equal(record_reader_flush(r, collect, &g), 0); /* nothing held: nothing emitted */
    assert_int_equal(g.n, 2);

    /* a continuation arriving after the flush is a record of its own */
    const char *c = "  late continuation\nA(0001) 1 00003:three\n";
    assert_int_equal(record_reader_feed(r, c, strlen(c), collect, &g), 0);
    assert_int_equal(g.n, 3);
    assert_int_equal(g.r[2].kind, BROWSE_LOG_ORPHAN);
    assert_int_equal(record_reader_finish(r, collect, &g), 0);
    assert_int_equal(g.n, 4);
    record_reader_destroy(r);
    browse_log_destroy(bl);
    got_free(&g);
}

static void test_orphan_lines_are_records_of_their_own(void **state)
{
    (void)state;
    const char *data = "\n  \njunk one\njunk two\nA(0001) 1 00001:x\nnot junk: continuation\n";
    struct got g;
    run(data, strlen(data), 0, 65536, &g);
    assert_int_equal(g.n, 3);
    assert_int_equal(g.r[0].kind, BROWSE_LOG_ORPHAN);
    assert_string_equal(g.r[0].text, "junk one");
    assert_int_equal(g.r[0].offset, 1000 + 4);
    assert_int_equal(g.r[0].end_offset, 1000 + 13);
    assert_int_equal(g.r[1].kind, BROWSE_LOG_ORPHAN);
    assert_string_equal(g.r[1].text, "junk two");
    assert_int_equal(g.r[2].kind, BROWSE_LOG_HEADER);
    assert_string_equal(g.r[2].text, "A(0001) 1 00001:x\nnot junk: continuation");
    got_free(&g);
}

static void test_wrapped_header_is_joined(void **state)
{
    (void)state;
    const char *data = "1998/03/17 22:22:50 -\n"
                       "  LME-NOTES-MEXNTS(018b) 1 41220:Error: no Notes\n"
                       "Session Open\n"
                       "1998/03/17 22:22:50 - LME-NOTES-\n"
                       "MEXNTS(018b) 3 41210:Terminating\n"
                       "1998/03/17 22:22:50 - cannot be read\n"
                       "1998/03/17 22:22:51 - LME-NOTES(0001) 3 41210:next\n";
    struct got g;
    run(data, strlen(data), 0, 65536, &g);
    assert_int_equal(g.n, 4);
    assert_int_equal(g.r[0].kind, BROWSE_LOG_HEADER);
    assert_string_equal(g.r[0].header,
                        "1998/03/17 22:22:50 - LME-NOTES-MEXNTS(018b) 1 41220:Error: no Notes");
    assert_int_equal(g.r[0].body_off, strlen("1998/03/17 22:22:50 -\n  LME-NOTES-MEXNTS(018b) 1 41220:Error: no Notes\n"));
    assert_string_equal(g.r[1].header, "1998/03/17 22:22:50 - LME-NOTES-MEXNTS(018b) 3 41210:Terminating");
    assert_int_equal(g.r[2].kind, BROWSE_LOG_BROKEN);
    assert_string_equal(g.r[2].text, "1998/03/17 22:22:50 - cannot be read");
    assert_int_equal(g.r[3].kind, BROWSE_LOG_HEADER);
    got_free(&g);
}

static void test_long_record_is_cut_and_counted(void **state)
{
    (void)state;
    char data[1024];
    int n = snprintf(data, sizeof(data), "A(0001) 1 00001:%0200d\n%0300d\nB(0002) 2 00002:short\n", 7, 8);
    for (size_t chunk = 0; chunk <= 7; chunk++) {
        struct got g;
        run(data, (size_t)n, chunk, 64, &g);
        assert_int_equal(g.n, 2);
        assert_int_equal(strlen(g.r[0].text), 64);
        assert_memory_equal(g.r[0].text, data, 64);
        /* everything past the limit up to the next header, terminators included */
        assert_int_equal(g.r[0].truncated, (strchr(data, 'B') - data) - 64);
        assert_int_equal(g.r[1].offset, 1000 + (strchr(data, 'B') - data));
        assert_string_equal(g.r[1].text, "B(0002) 2 00002:short");
        assert_int_equal(g.r[1].truncated, 0);
        got_free(&g);
    }
}

/* Regression: a record whose text fits the limit exactly was tagged truncated because its line
 * end (which event.original excludes anyway) did not fit. */
static void test_text_that_fits_is_not_truncated_by_its_line_end(void **state)
{
    (void)state;
    char data[256];
    int head = snprintf(data, sizeof(data), "A(0001) 1 00001:%047d", 1); /* 63 bytes */
    int n = snprintf(data + head, sizeof(data) - (size_t)head, "x\r\n  \r\nB(0002) 2 00002:y\n");
    struct got g;
    run(data, (size_t)(head + n), 0, 64, &g);
    assert_int_equal(g.n, 2);
    assert_int_equal(strlen(g.r[0].text), 64);
    assert_int_equal(g.r[0].truncated, 0);
    got_free(&g);
    /* one byte more of text is a cut, and every byte not kept is counted */
    data[head] = 'z';
    memmove(data + head + 1, data + head, (size_t)n + 1);
    run(data, (size_t)(head + n + 1), 0, 64, &g);
    assert_int_equal(g.r[0].truncated, strlen("x\r\n  \r\n"));
    got_free(&g);
}

static void test_header_longer_than_the_limit_stays_in_bounds(void **state)
{
    (void)state;
    /* the limit falls inside the header (before its code, then inside it) */
    char data[256];
    snprintf(data, sizeof(data), "1998/02/03 07:37:55-%60sDXM(01a2) 3 62501:Starting\n", "");
    size_t code_end = strstr(data, "62501") + 5 - data; /* 97 */
    for (size_t max = 64; max <= code_end + 4; max++) {
        struct got g;
        run(data, strlen(data), 0, max, &g);
        assert_int_equal(g.n, 1);
        assert_int_equal(strlen(g.r[0].text), max);
        assert_int_equal(g.r[0].kind, max >= code_end ? BROWSE_LOG_HEADER : BROWSE_LOG_BROKEN);
        got_free(&g);
    }
}

static void test_huge_line_is_bounded(void **state)
{
    (void)state;
    size_t len = 5 * 1024 * 1024;
    char *data = malloc(len + 64);
    size_t n = (size_t)sprintf(data, "A(0001) 1 00001:");
    memset(data + n, 'x', len - n);
    n = len;
    n += (size_t)sprintf(data + n, "\nB(0002) 2 00002:y\n");
    for (size_t chunk = 0; chunk <= 4096; chunk += 4096) {
        struct got g;
        run(data, n, chunk, 65536, &g);
        assert_int_equal(g.n, 2);
        assert_int_equal(strlen(g.r[0].text), 65536);
        assert_int_equal(g.r[0].truncated, len + 1 - 65536);
        assert_int_equal(g.r[1].offset, 1000 + len + 1);
        got_free(&g);
    }
    free(data);
}

/* A line whose first max bytes are blank but which has text after them is not dropped (it was,
 * silently, when no record was open). */
static void test_long_line_blank_at_first_is_not_dropped(void **state)
{
    (void)state;
    char data[400];
    memset(data, ' ', 300);
    strcpy(data + 300, "text after the blanks\nA(0001) 1 00001:next\n");
    struct got g;
    run(data, strlen(data), 0, 100, &g);
    assert_int_equal(g.n, 2);
    assert_int_equal(g.r[0].kind, BROWSE_LOG_ORPHAN);
    assert_true(g.r[0].truncated > 0);
    assert_string_equal(g.r[1].text, "A(0001) 1 00001:next");
    got_free(&g);
}

/* A cut at the limit never splits a UTF-8 character; Windows-1252 text is cut where it falls. */
static void test_cut_keeps_utf8_characters_whole(void **state)
{
    (void)state;
    char data[400] = "A(0001) 1 00001:";
    size_t len = strlen(data);
    while (len < 200) { /* "é" is C3 A9 */
        data[len++] = (char)0xC3;
        data[len++] = (char)0xA9;
    }
    data[len++] = '\n';
    for (size_t max = 64; max < 70; max++) {
        struct got g;
        run(data, len, 0, max, &g);
        assert_int_equal(g.n, 1);
        size_t n = strlen(g.r[0].text);
        assert_true(n <= max);
        assert_int_equal((n - 16) % 2, 0); /* whole characters only */
        assert_int_equal(g.r[0].truncated, len - 1 - n + 1);
        got_free(&g);
    }
    /* 0xE9 is "é" in Windows-1252: followed by plain text it is not the start of a split
     * character, and the cut stays where it falls */
    char latin[200] = "A(0001) 1 00001:";
    len = strlen(latin);
    while (len < 120) {
        latin[len++] = (char)0xE9;
        latin[len++] = 'x';
    }
    latin[len++] = '\n';
    struct got g;
    run(latin, len, 0, 64, &g);
    assert_int_equal(strlen(g.r[0].text), 64);
    got_free(&g);
}

static void test_limit_below_minimum_is_refused(void **state)
{
    (void)state;
    struct lme_err err;
    assert_null(record_reader_create(NULL, 10, 0, &err));
    assert_int_equal(err.code, LME_EINVAL);
    assert_non_null(strstr(err.msg, "10"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_records_and_offsets),
        cmocka_unit_test(test_any_chunking_gives_the_same_records),
        cmocka_unit_test(test_last_line_without_terminator_waits_for_finish),
        cmocka_unit_test(test_flush_emits_the_pending_record_of_complete_lines),
        cmocka_unit_test(test_orphan_lines_are_records_of_their_own),
        cmocka_unit_test(test_wrapped_header_is_joined),
        cmocka_unit_test(test_long_record_is_cut_and_counted),
        cmocka_unit_test(test_text_that_fits_is_not_truncated_by_its_line_end),
        cmocka_unit_test(test_header_longer_than_the_limit_stays_in_bounds),
        cmocka_unit_test(test_huge_line_is_bounded),
        cmocka_unit_test(test_long_line_blank_at_first_is_not_dropped),
        cmocka_unit_test(test_cut_keeps_utf8_characters_whole),
        cmocka_unit_test(test_limit_below_minimum_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
