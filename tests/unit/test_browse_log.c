/* Unit tests of the browse-log grammar: which lines are headers, and how a record's fields are
 * read (lenient separators, date forms, trailers, status words). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "browse_log.h"

struct fixture {
    struct browse_log *bl;
    struct lme_tz *tz;
};

static int setup(void **state)
{
    static struct fixture f;
    struct lme_err err;
    f.bl = browse_log_create(&err);
    f.tz = lme_tz_open("UTC", &err);
    *state = &f;
    return f.bl && f.tz ? 0 : -1;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    browse_log_destroy(f->bl);
    lme_tz_destroy(f->tz);
    return 0;
}

static enum browse_log_kind classify(void **state, const char *line, struct browse_log_header *h)
{
    struct fixture *f = *state;
    return browse_log_classify(f->bl, line, strlen(line), h);
}

static void assert_span(const char *line, struct browse_log_span sp, const char *want)
{
    assert_int_equal(sp.len, strlen(want));
    assert_memory_equal(line + sp.off, want, sp.len);
}

static void test_standard_header_fields(void **state)
{
    const char *l = "1998/03/17 22:22:50 - LME-NOTES-MEXNTS(018b) 1 41220:Error: no Notes Session Open";
    struct browse_log_header h;
    assert_int_equal(classify(state, l, &h), BROWSE_LOG_HEADER);
    assert_span(l, h.date, "1998/03/17");
    assert_span(l, h.time, "22:22:50");
    assert_span(l, h.component, "LME-NOTES-MEXNTS");
    assert_span(l, h.thread, "018b");
    assert_span(l, h.level, "1");
    assert_span(l, h.code, "41220");
    assert_string_equal(l + h.text_off, "Error: no Notes Session Open");
}

static void test_header_variants_are_headers(void **state)
{
    static const char *const lines[] = {
        "1998/02/03 07:37:55-                     DXM(01a2) 3 62501:Starting DX work",
        "LME-NOTES-NTSMEX(0130) 1 41220:Error: no Notes Session Open",
        "<date>  <time>-        LME-NOTES-MEXNTS(0a18) 1 64210:Unable to connect to",
        "08-Aug-2000 22:39:17 - LME-NOTES(0120) 2 00510:x",
        "1998-03-17 22:22:50 - LME-NOTES(0120) 2 00510:x",
        "1998/03/17 22:22:50\t-\tLME-NOTES(0120)\t2\t00510:x",
        "1998/03/17 22:22:50 \xA0\xA0- \xA0LME-NOTES(0120) 2 00510:x", /* 0xA0 padding */
        "1998/03/17 22:22:50 LME-NOTES(0120) 2 00510:x",                 /* no dash */
        "1998/03/17 22:22:50.123 - LME-NOTES( 0120 ) 2 00510 : x",
        "  control(01ba) 1 00001:Operating system error",
        "1997/09/22 17:57:34- LDE(01a8) 2 10158: DXANOTES> The ID file being used",
        "1998/03/17 22:22:50 - LME-NOTES-MEXNTS(018b) 1 41220",           /* text on next line */
    };
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        struct browse_log_header h;
        if (classify(state, lines[i], &h) != BROWSE_LOG_HEADER)
            fail_msg("not a header: %s", lines[i]);
    }
}

static void test_continuation_lines_are_not_headers(void **state)
{
    static const char *const lines[] = {
        "Lotus Notes Interface",
        ">> ntshcs(2317)",
        " >> dxmpo(417)",
        "1998 4 15 11:41:54",
        "1998/03/17 22:22:50 text after a date but no separator",
        "Subtask DXANOTES(lsdxants.exe)",
        "item 327 for agent LINKAGE(DXAMEX): RequestDXAUpdates Full",
        "12345 bytes were copied",       /* digits, then lower case: not the controller's shape */
        "LME-NOTES(0120) 7 00510:x",      /* level out of 1..4 */
        "LME-NOTES(0120) 2 005101:x",     /* six digits */
        "",
        "   ",
        "\xA0\xA0",
    };
    for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
        struct browse_log_header h;
        if (classify(state, lines[i], &h) != BROWSE_LOG_CONTINUATION)
            fail_msg("should continue a record: '%s'", lines[i]);
    }
}

static void test_controller_line(void **state)
{
    const char *l = "08226 Process LME-NOTES-NTSMEX terminated abnormally";
    struct browse_log_header h;
    assert_int_equal(classify(state, l, &h), BROWSE_LOG_CONTROLLER);
    assert_span(l, h.code, "08226");
    assert_string_equal(l + h.text_off, "Process LME-NOTES-NTSMEX terminated abnormally");
}

static void test_dated_line_without_header_is_broken(void **state)
{
    const char *l = "1998/03/17 22:22:50 - something we cannot read";
    struct browse_log_header h;
    assert_int_equal(classify(state, l, &h), BROWSE_LOG_BROKEN);
    assert_span(l, h.date, "1998/03/17");
    assert_span(l, h.time, "22:22:50");
    assert_int_equal(h.text_off, 0);
}

static void test_pathological_lines_finish(void **state)
{
    size_t n = 60000;
    char *l = malloc(n + 1);
    struct browse_log_header h;
    memset(l, 'A', n);
    l[n] = '\0';
    l[n - 1] = '(';
    assert_int_equal(classify(state, l, &h), BROWSE_LOG_CONTINUATION);
    for (size_t i = 0; i < n; i++)
        l[i] = "1998/03/17 "[i % 11];
    assert_int_equal(classify(state, l, &h), BROWSE_LOG_CONTINUATION);
    memset(l, ' ', n);
    assert_int_equal(classify(state, l, &h), BROWSE_LOG_CONTINUATION);
    free(l);
}

/* Parses a whole record given as text whose first line is the header. */
static struct lme_event parse_record(void **state, const char *text)
{
    struct fixture *f = *state;
    struct browse_log_record rec = { .text = text, .len = strlen(text), .header = text };
    const char *nl = strchr(text, '\n');
    rec.header_len = nl ? (size_t)(nl - text) : rec.len;
    rec.body_off = nl ? rec.header_len + 1 : rec.len;
    if (browse_log_classify(f->bl, text, rec.header_len, &rec.hdr) == BROWSE_LOG_CONTINUATION)
        rec.hdr.kind = BROWSE_LOG_ORPHAN;
    struct lme_event ev = { .created_ms = 42 };
    assert_int_equal(browse_log_parse(f->bl, &rec, f->tz, &ev), 0);
    return ev;
}

static void assert_str(struct lme_str s, const char *want)
{
    if (!want) {
        assert_int_equal(s.len, 0);
        return;
    }
    if (s.len != strlen(want) || memcmp(s.ptr, want, s.len) != 0)
        fail_msg("got '%.*s', want '%s'", (int)s.len, s.ptr ? s.ptr : "", want);
}

static void test_multiline_message_is_trimmed_and_joined(void **state)
{
    struct lme_event ev = parse_record(state,
        "1998/09/24 03:55:23-      LME-NOTES-DXANOTES(0129) 1 60014:Error  \n"
        "   evaluating\t\n"
        "\n"
        "mapping function NAMEL\n"
        " >> dxgmap(907)");
    assert_str(ev.message, "Error evaluating mapping function NAMEL");
    assert_str(ev.origin_file, "dxgmap");
    assert_int_equal(ev.origin_line, 907);
    assert_str(ev.component, "LME-NOTES-DXANOTES");
    assert_int_equal(ev.thread_id, 0x129);
    assert_int_equal(ev.severity, 1);
    assert_str(ev.code, "60014");
    assert_int_equal(ev.time_ms, 906609323000LL);
    assert_int_equal(ev.flags, 0);
    assert_int_equal(ev.shape, LME_SHAPE_BROWSE);
}

static void test_trailer_forms(void **state)
{
    static const struct {
        const char *text, *message, *module;
        int line;
    } cases[] = {
        { "A(0001) 2 41351:Message is missing >> ntshcm(2546", "Message is missing", "ntshcm", 2546 },
        { "A(0001) 2 41351:text >> stdserv(1198) ", "text", "stdserv", 1198 },
        { "A(0001) 2 41351:text\n>>stdserv ( 12 )", "text", "stdserv", 12 },
        { "A(0001) 2 41351:text\n>> ntshcs(2317)\n", "text", "ntshcs", 2317 },
        { "A(0001) 2 41351:a>>b(1)", "a>>b(1)", NULL, -1 },       /* no space before >> */
        { "A(0001) 2 41351:see >> here", "see >> here", NULL, -1 }, /* no (line) */
        { "A(0001) 2 41351:x >> 9abc(1)", "x >> 9abc(1)", NULL, -1 },
        { "A(0001) 2 41351:>> only(5)", "", "only", 5 },
        { "A(0001) 2 41351:text >> m(12345678901)", "text >> m(12345678901)", NULL, -1 },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct lme_event ev = parse_record(state, cases[i].text);
        assert_str(ev.message, cases[i].message);
        assert_str(ev.origin_file, cases[i].module);
        assert_int_equal(ev.origin_line, cases[i].line);
    }
}

/* The shapes the wrapping leaves a trailer in: marker and module on two lines, "<<" for ">>",
 * no marker on a line of its own; and the real text that must not be taken for one. */
static void test_trailer_wrapped_or_without_marker(void **state)
{
    static const struct {
        const char *text, *message, *module;
        int line;
    } cases[] = {
        { "A(0001) 2 41351:text >>\nntshcs(2317)", "text", "ntshcs", 2317 },
        { "A(0001) 2 41351:text >>\r\n ntshcs(2317)\r\n", "text", "ntshcs", 2317 },
        { "A(0001) 2 41351:text\n>>\nntshcs(2317)", "text", "ntshcs", 2317 },
        { "A(0001) 2 41351:two\nlines >>\nntshcs(2317\n", "two lines", "ntshcs", 2317 },
        { "A(0001) 2 41351:text << ntshcs(2317)", "text", "ntshcs", 2317 },
        { "A(0001) 2 41351:text\n << vm2dia(1300)", "text", "vm2dia", 1300 },
        { "A(0001) 2 41351:text <<\nvm2dia(1300)", "text", "vm2dia", 1300 },
        { "A(0001) 2 41351:text\nNtshcs(2317)", "text", "Ntshcs", 2317 },
        { "A(0001) 2 41351:text\r\n Ntshcs(2317) \r\n\r\n  \r\n", "text", "Ntshcs", 2317 },
        { "A(0001) 2 41351:text\n >> ntshcs ( 2317 ", "text", "ntshcs", 2317 },
        { "A(0001) 2 41351:\nNtshcs(2317)", "", "Ntshcs", 2317 },
        /* not trailers */
        { "A(0001) 2 41351:text Ntshcs(2317)", "text Ntshcs(2317)", NULL, -1 },
        { "A(0001) 2 41351:Ntshcs(2317)", "Ntshcs(2317)", NULL, -1 },
        { "A(0001) 2 41351:text\nNtshcs(2317", "text Ntshcs(2317", NULL, -1 },
        { "A(0001) 2 41351:text\nNtshcs (2317)", "text Ntshcs (2317)", NULL, -1 },
        { "A(0001) 2 41351:text\nNtshcs( 2317)", "text Ntshcs( 2317)", NULL, -1 },
        { "A(0001) 2 41351:text\nNtshcs(2317 )", "text Ntshcs(2317 )", NULL, -1 },
        { "A(0001) 2 41351:text\nsee Ntshcs(2317)", "text see Ntshcs(2317)", NULL, -1 },
        { "A(0001) 4 04107:Queue dxm.in has\nbeen opened (physical location is q\\dxm.in)",
          "Queue dxm.in has been opened (physical location is q\\dxm.in)", NULL, -1 },
        { "A(0001) 4 04107:Queue dxm.in has been opened\n(physical location is q\\dxm.in)",
          "Queue dxm.in has been opened (physical location is q\\dxm.in)", NULL, -1 },
        { "A(0001) 2 41301:Notes returned code:\nb0 (12)", "Notes returned code: b0 (12)", NULL, -1 },
        { "A(0001) 2 41351:text\n(12)", "text (12)", NULL, -1 },
        { "A(0001) 2 41351:a<<b(1)", "a<<b(1)", NULL, -1 },
        { "A(0001) 2 41351:text >\n> m(1)", "text > > m(1)", NULL, -1 },
        { "A(0001) 2 41351:text\n>< m(1)", "text >< m(1)", NULL, -1 },
        { "A(0001) 2 41351:text\n9abc(1)", "text 9abc(1)", NULL, -1 },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct lme_event ev = parse_record(state, cases[i].text);
        assert_str(ev.message, cases[i].message);
        assert_str(ev.origin_file, cases[i].module);
        assert_int_equal(ev.origin_line, cases[i].line);
    }
}

static void test_status_words(void **state)
{
    static const struct {
        const char *text, *word;
    } cases[] = {
        { "A(0001) 1 00510:Error {Mail system failure}: The application failed", "Mail system failure" },
        { "A(0001) 1 00510:Error (Timeout on resource lock}: The application", "Timeout on resource lock" },
        { "A(0001) 1 00510:ERROR{WIN32:5(Access is denied.)}: x", "WIN32:5(Access is denied.)" },
        { "A(0001) 1 04067:{The filename was invalid}: Unable", "The filename was invalid" },
        { "A(0001) 1 00510:Error (bad thing): text", "bad thing" },
        { "A(0001) 1 00510:eRRoR (mixed case}: text", "mixed case" },
        { "A(0001) 1 00510:Errxr (not the word}: text", NULL },
        { "A(0001) 1 00510:Erro", NULL },
        { "A(0001) 1 41220:Error: no Notes Session Open", NULL },
        { "A(0001) 1 41220:(hex) value", NULL },
        { "A(0001) 1 41220:Error {}: empty", NULL },
        { "A(0001) 1 41220:Error {never closed", NULL },
        { "A(0001) 3 00505:A is ending, last return code was {X}", NULL },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_str(parse_record(state, cases[i].text).error_type, cases[i].word);
}

static void test_record_without_usable_time_gets_read_time(void **state)
{
    static const char *const texts[] = {
        "<date> <time>- A(0001) 1 41220:x",
        "1998/02/30 10:00:00 - A(0001) 1 41220:x", /* no 30 February */
        "1998/03/17 25:00:00 - A(0001) 1 41220:x",
        "A(0001) 1 41220:x",
    };
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
        struct lme_event ev = parse_record(state, texts[i]);
        assert_int_equal(ev.time_ms, 42);
        assert_true(ev.flags & LME_EV_NO_TIMESTAMP);
        assert_false(ev.flags & LME_EV_PARSE_FAILURE);
    }
}

/* A local time whose UTC time leaves the years 0001-9999 is no usable time: never shipped with
 * its year clamped (9999-12-31 23:00 in New York is 10000-01-01 04:00 UTC). */
static void test_time_beyond_year_9999_in_utc_gets_read_time(void **state)
{
    struct fixture *f = *state;
    struct lme_err err;
    struct lme_tz *utc = f->tz;
    static const struct {
        const char *zone, *text;
    } cases[] = {
        { "America/New_York", "9999/12/31 23:00:00 - A(0001) 1 41220:x" },
        { "Europe/Berlin", "0001/01/01 00:30:00 - A(0001) 1 41220:x" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        f->tz = lme_tz_open(cases[i].zone, &err);
        assert_non_null(f->tz);
        struct lme_event ev = parse_record(state, cases[i].text);
        lme_tz_destroy(f->tz);
        f->tz = utc;
        assert_int_equal(ev.time_ms, 42);
        assert_true(ev.flags & LME_EV_NO_TIMESTAMP);
    }
}

static void test_unparsed_record_keeps_all_text(void **state)
{
    struct lme_event ev = parse_record(state, "1998/03/17 22:22:50 - garbage {x}: here\n  more  ");
    assert_true(ev.flags & LME_EV_PARSE_FAILURE);
    assert_int_equal(ev.shape, LME_SHAPE_UNPARSED);
    assert_str(ev.message, "1998/03/17 22:22:50 - garbage {x}: here more");
    assert_str(ev.error_type, NULL);
    assert_str(ev.code, NULL);
    assert_int_equal(ev.time_ms, 890173370000LL); /* the date still counts */

    ev = parse_record(state, "\x01\x02 junk");
    assert_true(ev.flags & LME_EV_PARSE_FAILURE);
    assert_true(ev.flags & LME_EV_NO_TIMESTAMP);
    assert_str(ev.message, "\x01\x02 junk");
}

static void test_padding_trim_keeps_utf8(void **state)
{
    /* 0xA0 padding goes; the A0 that ends U+00E0 (C3 A0) stays. */
    struct lme_event ev = parse_record(state, "A(0001) 2 00001:\xA0 voil\xC3\xA0\xA0\xA0");
    assert_str(ev.message, "voil\xC3\xA0");
}

static void test_parse_time_forms(void **state)
{
    (void)state;
    struct lme_civil c;
    assert_int_equal(browse_log_parse_time("1998/03/17", 10, "22:22:50", 8, &c), 0);
    assert_int_equal(c.year, 1998);
    assert_int_equal(c.month, 3);
    assert_int_equal(c.day, 17);
    assert_int_equal(c.hour, 22);
    assert_int_equal(c.min, 22);
    assert_int_equal(c.sec, 50);
    assert_int_equal(browse_log_parse_time("08-Aug-2000", 11, "22:39:17", 8, &c), 0);
    assert_int_equal(c.year, 2000);
    assert_int_equal(c.month, 8);
    assert_int_equal(c.day, 8);
    assert_int_equal(browse_log_parse_time("8-aug-98", 8, "9:05", 4, &c), 0);
    assert_int_equal(c.year, 1998);
    assert_int_equal(c.hour, 9);
    assert_int_equal(c.min, 5);
    assert_int_equal(c.sec, 0);
    assert_int_equal(browse_log_parse_time("1998.3.7", 8, "01:02:03,5", 10, &c), 0);
    assert_int_equal(c.day, 7);
    assert_int_equal(c.msec, 500);
    assert_int_equal(browse_log_parse_time("<date>", 6, "<time>", 6, &c), LME_EINVAL);
    assert_int_equal(browse_log_parse_time("08-Foo-2000", 11, "22:39:17", 8, &c), LME_EINVAL);
    assert_int_equal(browse_log_parse_time("08-Aug-200", 10, "22:39:17", 8, &c), LME_EINVAL);
}

/* The last header's time is kept and reused when the next is written the same: records in
 * any order of same, other and unusable times each read as on their own. */
static void test_time_kept_from_the_last_header_changes_nothing(void **state)
{
    static const char *const headers[] = {
        "1998/03/17 22:22:50 - A(1) 3 04108:x", "1998/03/17 22:22:50 - A(1) 3 04108:y",
        "1998/03/17 22:22:51 - A(1) 3 04108:x", "1998/03/18 22:22:51 - A(1) 3 04108:x",
        "1998/03/18  22:22:51 - A(1) 3 04108:x", "1998/3/18 22:22:51 - A(1) 3 04108:x",
        "1998/03/18 22:22 - A(1) 3 04108:x",    "1998/13/18 22:22:51 - A(1) 3 04108:x",
        "17-Mar-1998 22:22:50 - A(1) 3 04108:x", "1998/03/18 2:22:51.5 - A(1) 3 04108:x",
        "<date> <time> - A(1) 3 04108:x",        "A(1) 3 04108:no time",
    };
    size_t n = sizeof(headers) / sizeof(headers[0]);
    int64_t alone[sizeof(headers) / sizeof(headers[0])];
    struct fixture *f = *state;
    for (size_t i = 0; i < n; i++) {
        struct browse_log *fresh = browse_log_create(&(struct lme_err){ 0 });
        assert_non_null(fresh);
        struct browse_log *kept = f->bl;
        f->bl = fresh;
        alone[i] = parse_record(state, headers[i]).time_ms;
        f->bl = kept;
        browse_log_destroy(fresh);
    }
    for (size_t i = 0, before = 0; i < n * n; i++) {
        size_t k = (i / n + i * 7) % n;
        int64_t got = parse_record(state, headers[k]).time_ms;
        if (got != alone[k])
            fail_msg("'%s' after '%s': %lld, alone %lld", headers[k], headers[before],
                     (long long)got, (long long)alone[k]);
        before = k;
    }
}

/* The kept time is the UTC time of the last header in the zone it was read in: the same header
 * read in another zone is converted again, not taken from the one before. */
static void test_time_kept_only_for_the_same_zone(void **state)
{
    struct fixture *f = *state;
    struct lme_err err;
    struct lme_tz *berlin = lme_tz_open("Europe/Berlin", &err);
    assert_non_null(berlin);
    static const char header[] = "1998/03/17 22:22:50 - A(1) 3 04108:x";
    struct lme_tz *utc = f->tz;
    int64_t in_utc = parse_record(state, header).time_ms;
    f->tz = berlin;
    int64_t in_berlin = parse_record(state, header).time_ms;
    f->tz = utc;
    int64_t again_in_utc = parse_record(state, header).time_ms;
    lme_tz_destroy(berlin);
    assert_int_equal(in_utc, INT64_C(890173370000));          /* 1998-03-17T22:22:50Z */
    assert_int_equal(in_berlin, in_utc - 3600 * 1000);        /* CET, UTC+1 */
    assert_int_equal(again_in_utc, in_utc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_standard_header_fields),
        cmocka_unit_test(test_header_variants_are_headers),
        cmocka_unit_test(test_continuation_lines_are_not_headers),
        cmocka_unit_test(test_controller_line),
        cmocka_unit_test(test_dated_line_without_header_is_broken),
        cmocka_unit_test(test_pathological_lines_finish),
        cmocka_unit_test(test_multiline_message_is_trimmed_and_joined),
        cmocka_unit_test(test_trailer_forms),
        cmocka_unit_test(test_trailer_wrapped_or_without_marker),
        cmocka_unit_test(test_status_words),
        cmocka_unit_test(test_record_without_usable_time_gets_read_time),
        cmocka_unit_test(test_time_beyond_year_9999_in_utc_gets_read_time),
        cmocka_unit_test(test_unparsed_record_keeps_all_text),
        cmocka_unit_test(test_padding_trim_keeps_utf8),
        cmocka_unit_test(test_parse_time_forms),
        cmocka_unit_test(test_time_kept_from_the_last_header_changes_nothing),
        cmocka_unit_test(test_time_kept_only_for_the_same_zone),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
