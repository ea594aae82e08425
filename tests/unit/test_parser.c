/* Unit tests of the parser stage's interface: source fields on every event, counters, offsets
 * that continue from start_offset, read time for records without one, stopping on request. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "parser.h"

struct seen {
    int n;
    int stop_after;
    uint64_t offsets[8];
    int64_t times[8];
    uint32_t flags[8];
};

static int on_event(const struct lme_event *ev, void *ctx)
{
    struct seen *s = ctx;
    assert_int_equal(ev->host.len, 5);
    assert_memory_equal(ev->host.ptr, "exch1", 5);
    assert_int_equal(ev->path.len, strlen("/logs/a.log"));
    assert_string_equal(ev->timezone.ptr, "UTC");
    assert_int_equal(ev->file_dev, 7);
    assert_int_equal(ev->file_ino, 9);
    assert_int_equal(ev->created_ms, 5000);
    s->offsets[s->n] = ev->offset;
    s->times[s->n] = ev->time_ms;
    s->flags[s->n] = ev->flags;
    s->n++;
    return s->n == s->stop_after ? -99 : 0;
}

static const char LOG[] = "1998/03/17 22:22:50 - A(0001) 1 41220:one\n"
                          "<date> <time>- A(0001) 1 41220:two\n"
                          "1998/03/17 22:22:50 - ???\n"
                          "A(0001) 1 41220:four";

static struct parser *make(struct lme_tz *tz, uint64_t start, size_t max)
{
    struct lme_err err;
    struct parser_config cfg = { .path = "/logs/a.log", .host = "exch1", .tz = tz, .file_dev = 7,
                                 .file_ino = 9, .start_offset = start, .max_record_bytes = max };
    struct parser *p = parser_create(&cfg, &err);
    assert_non_null(p);
    return p;
}

static void test_events_carry_source_and_counts(void **state)
{
    (void)state;
    struct lme_err err;
    struct lme_tz *tz = lme_tz_open("UTC", &err);
    struct parser *p = make(tz, 4096, 0);
    struct seen s = { 0 };
    assert_int_equal(parser_feed(p, LOG, strlen(LOG), 5000, on_event, &s), 0);
    assert_int_equal(s.n, 2); /* "???" waits for the next line, "four" for its line end */
    assert_int_equal(parser_finish(p, 5000, on_event, &s), 0);
    assert_int_equal(s.n, 4);
    assert_int_equal(s.offsets[0], 4096);
    assert_int_equal(s.offsets[1], 4096 + strlen("1998/03/17 22:22:50 - A(0001) 1 41220:one\n"));
    assert_int_equal(s.times[0], 890173370000LL);
    assert_int_equal(s.times[1], 5000); /* no usable time: when it was read */
    assert_true(s.flags[1] & LME_EV_NO_TIMESTAMP);
    assert_true(s.flags[2] & LME_EV_PARSE_FAILURE);

    const struct parser_stats *st = parser_stats(p);
    assert_int_equal(st->records, 4);
    assert_int_equal(st->parse_failures, 1);
    assert_int_equal(st->no_timestamp, 2); /* "two" and "four" */
    assert_int_equal(st->truncated, 0);
    parser_destroy(p);
    lme_tz_destroy(tz);
}

static void test_truncated_records_are_counted(void **state)
{
    (void)state;
    struct lme_err err;
    struct lme_tz *tz = lme_tz_open("UTC", &err);
    struct parser *p = make(tz, 0, 64);
    struct seen s = { 0 };
    char big[300];
    int n = snprintf(big, sizeof(big), "A(0001) 1 41220:%0200d\n", 1);
    assert_int_equal(parser_feed(p, big, (size_t)n, 5000, on_event, &s), 0);
    assert_int_equal(parser_finish(p, 5000, on_event, &s), 0);
    assert_int_equal(s.n, 1);
    assert_true(s.flags[0] & LME_EV_TRUNCATED);
    assert_int_equal(parser_stats(p)->truncated, 1);
    parser_destroy(p);
    lme_tz_destroy(tz);
}

static void test_callback_can_stop_the_parser(void **state)
{
    (void)state;
    struct lme_err err;
    struct lme_tz *tz = lme_tz_open("UTC", &err);
    struct parser *p = make(tz, 0, 0);
    struct seen s = { .stop_after = 2 };
    assert_int_equal(parser_feed(p, LOG, strlen(LOG), 5000, on_event, &s), -99);
    assert_int_equal(s.n, 2);
    parser_destroy(p);
    lme_tz_destroy(tz);
}

static void test_bad_limit_is_an_error(void **state)
{
    (void)state;
    struct lme_err err = { 0 };
    struct lme_tz *tz = lme_tz_open("UTC", &err);
    struct parser_config cfg = { .host = "h", .tz = tz, .max_record_bytes = 8 };
    assert_null(parser_create(&cfg, &err));
    assert_int_equal(err.code, LME_EINVAL);
    parser_destroy(NULL);
    lme_tz_destroy(tz);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_events_carry_source_and_counts),
        cmocka_unit_test(test_truncated_records_are_counted),
        cmocka_unit_test(test_callback_can_stop_the_parser),
        cmocka_unit_test(test_bad_limit_is_an_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
