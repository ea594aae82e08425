/* Unit tests of time-zone conversion: offsets in and out of DST, DST gaps and repeated hours,
 * zone validation, field validation, and the civil arithmetic. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tz.h"

/* Converts y-m-d h:mi:s in zone; fails the test when the conversion fails. */
static int64_t utc_of(const char *zone, int y, int m, int d, int h, int mi, int s)
{
    struct lme_err err;
    struct lme_tz *tz = lme_tz_open(zone, &err);
    if (!tz)
        fail_msg("%s", err.msg);
    struct lme_civil c = { y, m, d, h, mi, s, 0 };
    int64_t ms = 0;
    assert_int_equal(lme_tz_to_utc(tz, &c, &ms), 0);
    lme_tz_destroy(tz);
    return ms / 1000;
}

/* Seconds since the epoch of a UTC time, by the test's own arithmetic (timegm). */
static int64_t utc(int y, int m, int d, int h, int mi, int s)
{
    struct tm tm = { .tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d, .tm_hour = h,
                     .tm_min = mi, .tm_sec = s };
    return (int64_t)timegm(&tm);
}

static void test_utc_is_identity(void **state)
{
    (void)state;
    assert_int_equal(utc_of("UTC", 1998, 3, 17, 22, 22, 50), utc(1998, 3, 17, 22, 22, 50));
    assert_int_equal(utc_of("Etc/UTC", 2000, 2, 29, 0, 0, 0), utc(2000, 2, 29, 0, 0, 0));
    assert_int_equal(utc_of("UTC", 1900, 1, 1, 0, 0, 0), utc(1900, 1, 1, 0, 0, 0));
}

static void test_standard_and_summer_offsets(void **state)
{
    (void)state;
    assert_int_equal(utc_of("America/New_York", 1998, 3, 17, 22, 22, 50), utc(1998, 3, 18, 3, 22, 50));
    assert_int_equal(utc_of("America/New_York", 1998, 9, 11, 13, 12, 11), utc(1998, 9, 11, 17, 12, 11));
    assert_int_equal(utc_of("Europe/Berlin", 1999, 1, 15, 12, 0, 0), utc(1999, 1, 15, 11, 0, 0));
    assert_int_equal(utc_of("Europe/Berlin", 1999, 7, 15, 12, 0, 0), utc(1999, 7, 15, 10, 0, 0));
    assert_int_equal(utc_of("Asia/Kolkata", 1998, 9, 11, 13, 12, 11), utc(1998, 9, 11, 7, 42, 11));
    /* Lord Howe: +10:30 in winter, +11 in summer (a 30-minute DST) */
    assert_int_equal(utc_of("Australia/Lord_Howe", 2021, 7, 1, 12, 0, 0), utc(2021, 7, 1, 1, 30, 0));
    assert_int_equal(utc_of("Australia/Lord_Howe", 2021, 1, 1, 12, 0, 0), utc(2021, 1, 1, 1, 0, 0));
}

static void test_dst_gap_uses_offset_before_it(void **state)
{
    (void)state;
    /* 2021-03-14 02:30 does not exist in New York; read with EST (-5) */
    assert_int_equal(utc_of("America/New_York", 2021, 3, 14, 2, 30, 0), utc(2021, 3, 14, 7, 30, 0));
    assert_int_equal(utc_of("America/New_York", 2021, 3, 14, 3, 30, 0), utc(2021, 3, 14, 7, 30, 0));
    assert_int_equal(utc_of("America/New_York", 2021, 3, 14, 1, 59, 59), utc(2021, 3, 14, 6, 59, 59));
}

static void test_repeated_hour_reads_first_occurrence(void **state)
{
    (void)state;
    /* 2021-11-07 01:30 happens twice in New York: first in EDT (-4) */
    assert_int_equal(utc_of("America/New_York", 2021, 11, 7, 1, 30, 0), utc(2021, 11, 7, 5, 30, 0));
    assert_int_equal(utc_of("America/New_York", 2021, 11, 7, 2, 30, 0), utc(2021, 11, 7, 7, 30, 0));
    assert_int_equal(utc_of("America/New_York", 2021, 11, 7, 0, 59, 0), utc(2021, 11, 7, 4, 59, 0));
}

static void test_cache_agrees_with_fresh_lookups(void **state)
{
    (void)state;
    struct lme_err err;
    struct lme_tz *tz = lme_tz_open("Europe/Berlin", &err);
    assert_non_null(tz);
    /* walk through a DST change minute by minute, reusing one object (and its cache) */
    for (int minute = 0; minute < 6 * 60; minute++) {
        struct lme_civil c = { 1999, 3, 28, minute / 60, minute % 60, 7, 0 };
        int64_t ms;
        assert_int_equal(lme_tz_to_utc(tz, &c, &ms), 0);
        assert_int_equal(ms / 1000, utc_of("Europe/Berlin", 1999, 3, 28, minute / 60, minute % 60, 7));
    }
    lme_tz_destroy(tz);
}

static void test_unknown_zones_are_refused(void **state)
{
    (void)state;
    static const char *const bad[] = { "Mars/Base", "../../etc/passwd", "/etc/localtime",
                                       "America", "Europe/Berlin/x" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct lme_err err = { 0 };
        assert_null(lme_tz_open(bad[i], &err));
        assert_int_equal(err.code, LME_EINVAL);
        assert_non_null(strstr(err.msg, bad[i]));
    }
}

static void test_machine_zone_follows_tz_variable(void **state)
{
    (void)state;
    struct lme_err err;
    setenv("TZ", "Asia/Tokyo", 1);
    struct lme_tz *tz = lme_tz_open(NULL, &err);
    assert_non_null(tz);
    assert_string_equal(lme_tz_name(tz), "Asia/Tokyo");
    struct lme_civil c = { 1998, 3, 17, 9, 0, 0, 0 };
    int64_t ms;
    assert_int_equal(lme_tz_to_utc(tz, &c, &ms), 0);
    assert_int_equal(ms / 1000, utc(1998, 3, 17, 0, 0, 0));
    assert_string_equal(getenv("TZ"), "Asia/Tokyo"); /* restored after the lookup */
    lme_tz_destroy(tz);
    setenv("TZ", "Mars/Base", 1);
    assert_null(lme_tz_open("", &err));
    unsetenv("TZ");
    tz = lme_tz_open("", &err); /* /etc/localtime */
    assert_non_null(tz);
    assert_true(strlen(lme_tz_name(tz)) > 0);
    lme_tz_destroy(tz);
}

static void test_impossible_fields_are_refused(void **state)
{
    (void)state;
    struct lme_err err;
    struct lme_tz *tz = lme_tz_open("UTC", &err);
    static const struct lme_civil bad[] = {
        { 1999, 2, 29, 0, 0, 0, 0 }, { 1900, 2, 29, 0, 0, 0, 0 }, { 1998, 13, 1, 0, 0, 0, 0 },
        { 1998, 4, 31, 0, 0, 0, 0 }, { 1998, 1, 1, 24, 0, 0, 0 }, { 1998, 1, 1, 0, 60, 0, 0 },
        { 1998, 1, 1, 0, 0, 61, 0 }, { 1998, 1, 0, 0, 0, 0, 0 }, { 1998, 1, 1, 0, 0, 0, 1000 },
    };
    int64_t ms = 12345;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(lme_tz_to_utc(tz, &bad[i], &ms), LME_EINVAL);
        assert_int_equal(ms, 12345);
    }
    struct lme_civil leap = { 2000, 2, 29, 0, 0, 0, 0 }, leap_second = { 1998, 12, 31, 23, 59, 60, 0 };
    assert_int_equal(lme_tz_to_utc(tz, &leap, &ms), 0);
    assert_int_equal(lme_tz_to_utc(tz, &leap_second, &ms), 0);
    assert_int_equal(ms / 1000, utc(1998, 12, 31, 23, 59, 59));
    lme_tz_destroy(tz);
}

/* A local time whose UTC time lies outside the years 0001-9999 is refused, not clamped into a
 * wrong year; the edges themselves convert. */
static void test_utc_outside_years_1_to_9999_is_refused(void **state)
{
    (void)state;
    static const struct {
        const char *zone;
        struct lme_civil local;
        int rc;
        int64_t secs; /* when rc is 0 */
    } cases[] = {
        { "Europe/Berlin", { 1, 1, 1, 0, 0, 0, 0 }, LME_ERANGE, 0 },        /* 0000-12-31 UTC */
        { "America/New_York", { 9999, 12, 31, 23, 0, 0, 0 }, LME_ERANGE, 0 }, /* 10000-01-01 */
        { "America/New_York", { 9999, 12, 31, 18, 0, 0, 0 }, 0, 253402297200LL },
        { "UTC", { 1, 1, 1, 0, 0, 0, 0 }, 0, -62135596800LL },
        { "UTC", { 9999, 12, 31, 23, 59, 59, 999 }, 0, 253402300799LL },
        { "Asia/Tokyo", { 1, 1, 1, 12, 0, 0, 0 }, 0, -62135596800LL + 12 * 3600 - 33539 },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct lme_err err;
        struct lme_tz *tz = lme_tz_open(cases[i].zone, &err);
        assert_non_null(tz);
        int64_t ms = 12345;
        int rc = lme_tz_to_utc(tz, &cases[i].local, &ms);
        if (rc != cases[i].rc)
            fail_msg("case %zu (%s): got %d, want %d", i, cases[i].zone, rc, cases[i].rc);
        if (rc == 0)
            assert_int_equal(ms / 1000, cases[i].secs);
        else
            assert_int_equal(ms, 12345);
        lme_tz_destroy(tz);
    }
}

static void test_civil_from_ms_round_trips(void **state)
{
    (void)state;
    struct lme_err err;
    struct lme_tz *tz = lme_tz_open("UTC", &err);
    const int64_t day = 86400000;
    for (int64_t ms = -800 * 365 * day; ms < 200 * 365 * day; ms += 7 * day + 3723123) {
        struct lme_civil c;
        int64_t back;
        lme_tz_civil_from_ms(ms, &c);
        assert_int_equal(lme_tz_to_utc(tz, &c, &back), 0);
        assert_int_equal(back, ms);
    }
    struct lme_civil c;
    lme_tz_civil_from_ms(-1, &c); /* one ms before the epoch */
    assert_int_equal(c.year, 1969);
    assert_int_equal(c.month, 12);
    assert_int_equal(c.day, 31);
    assert_int_equal(c.sec, 59);
    assert_int_equal(c.msec, 999);
    lme_tz_civil_from_ms(utc(2100, 3, 1, 0, 0, 0) * 1000, &c);
    assert_int_equal(c.year, 2100);
    assert_int_equal(c.month, 3);
    assert_int_equal(c.day, 1);
    lme_tz_destroy(tz);
}

/* The UTC text of state files and incident events, against the C library's calendar. */
static void test_utc_format(void **state)
{
    (void)state;
    char out[25];
    lme_utc_format(890191370000LL, out);
    assert_string_equal(out, "1998-03-18T03:22:50.000Z");
    lme_utc_format(-1, out);
    assert_string_equal(out, "1969-12-31T23:59:59.999Z");
    lme_utc_format(951782400123LL, out); /* 2000-02-29, a leap day of a century */
    assert_string_equal(out, "2000-02-29T00:00:00.123Z");
    lme_utc_format(INT64_MAX, out);
    assert_string_equal(out, "9999-12-31T23:59:59.999Z");
    lme_utc_format(INT64_MIN, out);
    assert_string_equal(out, "0000-01-01T00:00:00.000Z");
    for (int64_t s = -86400LL * 400; s < 86400LL * 365 * 60; s += 7919 * 13) {
        time_t t = (time_t)s;
        struct tm tm;
        gmtime_r(&t, &tm);
        char want[64];
        snprintf(want, sizeof(want), "%04d-%02d-%02dT%02d:%02d:%02d.000Z", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
        lme_utc_format(s * 1000, out);
        assert_string_equal(out, want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utc_format),
        cmocka_unit_test(test_utc_is_identity),
        cmocka_unit_test(test_standard_and_summer_offsets),
        cmocka_unit_test(test_dst_gap_uses_offset_before_it),
        cmocka_unit_test(test_repeated_hour_reads_first_occurrence),
        cmocka_unit_test(test_cache_agrees_with_fresh_lookups),
        cmocka_unit_test(test_unknown_zones_are_refused),
        cmocka_unit_test(test_machine_zone_follows_tz_variable),
        cmocka_unit_test(test_impossible_fields_are_refused),
        cmocka_unit_test(test_utc_outside_years_1_to_9999_is_refused),
        cmocka_unit_test(test_civil_from_ms_round_trips),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
