/* Unit tests of the decoder (ingest/decode.c): the encoding decided by a file's first bytes
 * whatever how the writes are cut, byte order marks dropped, nothing emitted before the
 * decision, held bytes read as text at the end, and file offsets in every event. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"

#define MAX_EVENTS 16

/* The last record's text, in UTF-8 and as written in Latin-1 (UTF-16LE code units). */
#define LAST_UTF8 "1998/03/17 22:22:51 - LME-NOTES-MEXNTS(018b) 3 41210:Terminating caf\xc3\xa9"
#define LAST_LATIN1 "1998/03/17 22:22:51 - LME-NOTES-MEXNTS(018b) 3 41210:Terminating caf\xe9"

static const char TWO_RECORDS[] =
    "1998/03/17 22:22:50 - LME-NOTES-MEXNTS(018b) 1 41220:Error: no Notes Session Open\r\n"
    ">> ntshcs(2317)\r\n"
    "1998/03/17 22:22:51 - LME-NOTES-MEXNTS(018b) 3 41210:Terminating caf\xe9"; /* no line end */

struct event {
    uint64_t offset, end_offset;
    char *original;
    enum lme_event_shape shape;
    uint32_t flags;
};

struct got {
    size_t n;
    struct event ev[MAX_EVENTS];
};

static int collect(const struct lme_event *ev, void *ctx)
{
    struct got *g = ctx;
    assert_true(g->n < MAX_EVENTS);
    struct event *e = &g->ev[g->n++];
    e->offset = ev->offset;
    e->end_offset = ev->end_offset;
    e->original = strndup(ev->original.ptr ? ev->original.ptr : "", ev->original.len);
    e->shape = ev->shape;
    e->flags = ev->flags;
    return 0;
}

static void got_free(struct got *g)
{
    for (size_t i = 0; i < g->n; i++)
        free(g->ev[i].original);
    g->n = 0;
}

static struct lme_tz *utc(void)
{
    static struct lme_tz *tz;
    struct lme_err err;
    if (!tz)
        tz = lme_tz_open("UTC", &err);
    assert_non_null(tz);
    return tz;
}

static struct decode *make(enum config_encoding encoding, uint64_t start)
{
    struct parser_config pc = { .host = "h", .tz = utc(), .start_offset = start };
    struct lme_err err;
    struct decode *d = decode_create(&pc, encoding, &err);
    if (!d)
        fail_msg("decode_create: %s", err.msg);
    return d;
}

/* Feeds data cut at `cut` (len: no cut), then byte by byte from `bytewise` on, then finishes. */
static void run(enum config_encoding encoding, const char *data, size_t len, size_t cut,
                size_t bytewise, struct got *g)
{
    struct decode *d = make(encoding, 0);
    memset(g, 0, sizeof(*g));
    size_t at = 0;
    while (at < len) {
        size_t n = at < cut ? cut - at : len - at;
        if (at >= bytewise)
            n = 1;
        else if (at + n > bytewise)
            n = bytewise - at;
        assert_int_equal(decode_feed(d, data + at, n, 42, collect, g), 0);
        at += n;
    }
    assert_int_equal(decode_finish(d, 42, collect, g), 0);
    assert_false(decode_holds(d));
    assert_true(decode_unemitted(d) == len);
    decode_destroy(d);
}

/* UTF-16LE of Latin-1 text, each byte one code unit; with the BOM first when bom. */
static size_t widen(const char *s, size_t len, int bom, char *out)
{
    size_t n = 0;
    if (bom) {
        out[n++] = '\xFF';
        out[n++] = '\xFE';
    }
    for (size_t i = 0; i < len; i++) {
        out[n++] = s[i];
        out[n++] = 0;
    }
    return n;
}

/* The two records read right: both parsed, in UTF-8, at file offsets `first` and `second`, the
 * last one ending at the file's end. */
static void assert_two_records(const struct got *g, uint64_t first, uint64_t second, uint64_t end,
                               const char *last_original)
{
    assert_int_equal(g->n, 2);
    assert_true(g->ev[0].offset == first);
    assert_true(g->ev[0].end_offset == second);
    assert_true(g->ev[1].offset == second);
    assert_true(g->ev[1].end_offset == end);
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(g->ev[i].shape, LME_SHAPE_BROWSE);
        assert_int_equal(g->ev[i].flags, 0);
    }
    assert_string_equal(g->ev[0].original,
                        "1998/03/17 22:22:50 - LME-NOTES-MEXNTS(018b) 1 41220:Error: no Notes "
                        "Session Open\r\n>> ntshcs(2317)");
    assert_string_equal(g->ev[1].original, last_original);
}

static void test_utf16_bom_read_however_the_writes_are_cut(void **state)
{
    (void)state;
    char u16[1024];
    size_t text = strlen(TWO_RECORDS), len = widen(TWO_RECORDS, text, 1, u16);
    size_t second = (size_t)(strstr(TWO_RECORDS, "1998/03/17 22:22:51") - TWO_RECORDS);
    static const enum config_encoding encodings[] = { CONFIG_ENCODING_AUTO,
                                                      CONFIG_ENCODING_UTF16LE };
    for (size_t e = 0; e < 2; e++) {
        for (size_t cut = 0; cut <= len; cut++) {
            struct got g;
            run(encodings[e], u16, len, cut, len, &g);
            assert_two_records(&g, 2, 2 + 2 * second, len, LAST_UTF8);
            got_free(&g);
        }
        struct got g;
        run(encodings[e], u16, len, len, 0, &g); /* a byte at a time */
        assert_two_records(&g, 2, 2 + 2 * second, len, LAST_UTF8);
        got_free(&g);
    }
}

static void test_utf16_without_bom_when_configured(void **state)
{
    (void)state;
    char u16[1024];
    size_t text = strlen(TWO_RECORDS), len = widen(TWO_RECORDS, text, 0, u16);
    size_t second = (size_t)(strstr(TWO_RECORDS, "1998/03/17 22:22:51") - TWO_RECORDS);
    struct got g;
    run(CONFIG_ENCODING_UTF16LE, u16, len, 1, 3, &g);
    assert_two_records(&g, 0, 2 * second, len, LAST_UTF8);
    got_free(&g);
}

static void test_utf8_read_as_it_is_however_cut(void **state)
{
    (void)state;
    size_t len = strlen(TWO_RECORDS);
    size_t second = (size_t)(strstr(TWO_RECORDS, "1998/03/17 22:22:51") - TWO_RECORDS);
    static const enum config_encoding encodings[] = { CONFIG_ENCODING_AUTO, CONFIG_ENCODING_UTF8 };
    for (size_t e = 0; e < 2; e++) {
        for (size_t cut = 0; cut <= 4; cut++) {
            struct got g;
            run(encodings[e], TWO_RECORDS, len, cut, cut == 4 ? 0 : len, &g);
            assert_two_records(&g, 0, second, len, LAST_LATIN1);
            got_free(&g);
        }
    }
}

static void test_utf8_bom_dropped(void **state)
{
    (void)state;
    char text[1024];
    size_t len = (size_t)snprintf(text, sizeof(text), "\xEF\xBB\xBF%s", TWO_RECORDS);
    size_t second = (size_t)(strstr(text, "1998/03/17 22:22:51") - text);
    static const enum config_encoding encodings[] = { CONFIG_ENCODING_AUTO, CONFIG_ENCODING_UTF8 };
    for (size_t e = 0; e < 2; e++) {
        for (size_t cut = 0; cut <= 5; cut++) {
            struct got g;
            run(encodings[e], text, len, cut, cut == 5 ? 0 : len, &g);
            assert_two_records(&g, 3, second, len, LAST_LATIN1);
            got_free(&g);
        }
    }
}

/* Bytes that only look like the start of a mark are text, and so is a mark the setting rules
 * out: FF FE under utf-8 (a single-byte "ÿþ"), EF BB BF under utf-16le (two code units). */
#define RECORD "A(0001) 1 00001:x"
static void test_what_is_no_mark_stays_text(void **state)
{
    (void)state;
    static const struct {
        enum config_encoding encoding;
        const char *data;
        size_t len;
        const char *original;
    } cases[] = {
        { CONFIG_ENCODING_AUTO, "\xFF" RECORD, 18, "\xFF" RECORD },
        { CONFIG_ENCODING_AUTO, "\xEF\xBB" RECORD, 19, "\xEF\xBB" RECORD },
        { CONFIG_ENCODING_AUTO, "\xEF" RECORD, 18, "\xEF" RECORD },
        { CONFIG_ENCODING_UTF8, "\xFF\xFE" RECORD, 19, "\xFF\xFE" RECORD },
        { CONFIG_ENCODING_UTF16LE, "\xEF\xBB\xBF\0", 4, "\xEB\xAF\xAF\xC2\xBF" },
        { CONFIG_ENCODING_AUTO, "\xFF", 1, "\xFF" },         /* the file ended: text */
        { CONFIG_ENCODING_AUTO, "\xEF\xBB", 2, "\xEF\xBB" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        for (size_t cut = 0; cut <= cases[i].len; cut++) {
            struct got g;
            run(cases[i].encoding, cases[i].data, cases[i].len, cut, cases[i].len, &g);
            if (g.n != 1 || strcmp(g.ev[0].original, cases[i].original) != 0)
                fail_msg("case %zu, cut %zu: %zu events, the first '%s'", i, cut, g.n,
                         g.n ? g.ev[0].original : "");
            assert_true(g.ev[0].offset == 0);
            assert_true(g.ev[0].end_offset == cases[i].len);
            got_free(&g);
        }
    }
}

/* While the first bytes cannot tell, nothing is parsed: no event, even on a flush, and reading
 * again would start at the file's start. */
static void test_nothing_emitted_before_the_decision(void **state)
{
    (void)state;
    struct decode *d = make(CONFIG_ENCODING_AUTO, 0);
    struct got g = { 0 };
    assert_int_equal(decode_feed(d, "\xFF", 1, 42, collect, &g), 0);
    assert_true(decode_holds(d));
    assert_int_equal(decode_flush(d, 42, collect, &g), 0);
    assert_int_equal(g.n, 0);
    assert_true(decode_unemitted(d) == 0);
    char u16[256];
    size_t len = widen("A(0001) 1 00001:x\r\nA(0001) 1 00002:y\r\n", 38, 1, u16);
    assert_int_equal(decode_feed(d, u16 + 1, len - 1, 42, collect, &g), 0);
    assert_int_equal(g.n, 1);
    assert_string_equal(g.ev[0].original, "A(0001) 1 00001:x");
    assert_true(g.ev[0].offset == 2);
    assert_true(decode_unemitted(d) == 2 + 38); /* the second record, pending */
    assert_int_equal(decode_flush(d, 42, collect, &g), 0);
    assert_int_equal(g.n, 2);
    assert_true(g.ev[1].end_offset == len);
    assert_true(decode_unemitted(d) == len);
    got_free(&g);
    decode_destroy(d);
}

/* A stream started past the file's start: the caller decided, offsets count from there. */
static void test_past_the_start(void **state)
{
    (void)state;
    const unsigned char bom[] = { 0xFF, 0xFE }, text[] = { '1', '9' };
    assert_int_equal(decode_file_encoding(CONFIG_ENCODING_AUTO, bom, 2), CONFIG_ENCODING_UTF16LE);
    assert_int_equal(decode_file_encoding(CONFIG_ENCODING_AUTO, bom, 1), CONFIG_ENCODING_UTF8);
    assert_int_equal(decode_file_encoding(CONFIG_ENCODING_AUTO, text, 2), CONFIG_ENCODING_UTF8);
    assert_int_equal(decode_file_encoding(CONFIG_ENCODING_UTF8, bom, 2), CONFIG_ENCODING_UTF8);
    assert_int_equal(decode_file_encoding(CONFIG_ENCODING_UTF16LE, text, 2),
                     CONFIG_ENCODING_UTF16LE);

    struct decode *d = make(CONFIG_ENCODING_UTF16LE, 1000);
    struct got g = { 0 };
    char u16[256];
    size_t len = widen("\xFF\xFE" "A(0001) 1 00001:x\nA(0001) 1 00002:y", 37, 0, u16);
    assert_int_equal(decode_feed(d, u16, len, 42, collect, &g), 0);
    assert_int_equal(decode_finish(d, 42, collect, &g), 0);
    assert_int_equal(g.n, 2); /* a mark past the start is text: U+00FF U+00FE */
    assert_string_equal(g.ev[0].original, "\xC3\xBF\xC3\xBE" "A(0001) 1 00001:x");
    assert_true(g.ev[0].offset == 1000);
    assert_true(g.ev[1].offset == 1000 + 2 * 20);
    assert_true(g.ev[1].end_offset == 1000 + len);
    got_free(&g);
    decode_destroy(d);

    struct parser_config pc = { .host = "h", .tz = utc(), .start_offset = 10 };
    struct lme_err err;
    assert_null(decode_create(&pc, CONFIG_ENCODING_AUTO, &err));
    assert_int_equal(err.code, LME_EINVAL);
}

static void test_destroy_null(void **state)
{
    (void)state;
    decode_destroy(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utf16_bom_read_however_the_writes_are_cut),
        cmocka_unit_test(test_utf16_without_bom_when_configured),
        cmocka_unit_test(test_utf8_read_as_it_is_however_cut),
        cmocka_unit_test(test_utf8_bom_dropped),
        cmocka_unit_test(test_what_is_no_mark_stays_text),
        cmocka_unit_test(test_nothing_emitted_before_the_decision),
        cmocka_unit_test(test_past_the_start),
        cmocka_unit_test(test_destroy_null),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
