/* Unit tests of the daemon's own log (logfmt on standard error), its rate limit, and of the error
 * record. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "log.h"

/* Runs lme_log with stderr redirected into a pipe; returns what it wrote. */
static char captured[8192];

static const char *capture_begin(int fds[2], int *saved)
{
    assert_int_equal(pipe(fds), 0);
    *saved = dup(STDERR_FILENO);
    dup2(fds[1], STDERR_FILENO);
    return NULL;
}

static const char *capture_end(int fds[2], int saved)
{
    dup2(saved, STDERR_FILENO);
    close(saved);
    close(fds[1]);
    ssize_t n = read(fds[0], captured, sizeof(captured) - 1);
    close(fds[0]);
    captured[n > 0 ? n : 0] = '\0';
    return captured;
}

static void test_record_is_one_logfmt_line(void **state)
{
    (void)state;
    int fds[2], saved;
    capture_begin(fds, &saved);
    lme_log(LME_LOG_ERROR, "cannot open input", "file", "/x y/z.log", "error", "No such \"file\"",
            "plain", "v", NULL);
    const char *out = capture_end(fds, saved);
    assert_memory_equal(out, "time=", 5);
    assert_non_null(strstr(out, "Z level=error msg=\"cannot open input\" file=\"/x y/z.log\" "
                                "error=\"No such \\\"file\\\"\" plain=v\n"));
    assert_int_equal(strchr(out, '\n') - out, (long)strlen(out) - 1); /* one line */
}

static void test_newlines_and_controls_stay_on_one_line(void **state)
{
    (void)state;
    int fds[2], saved;
    capture_begin(fds, &saved);
    lme_log(LME_LOG_WARN, "two\nlines", "k", "a\x01" "b", "empty", "", NULL);
    const char *out = capture_end(fds, saved);
    assert_non_null(strstr(out, "level=warn msg=\"two\\nlines\" k=\"a\\x01b\" empty=\"\"\n"));
}

static void test_records_below_the_level_are_dropped(void **state)
{
    (void)state;
    int fds[2], saved;
    capture_begin(fds, &saved);
    lme_log_set_level(LME_LOG_WARN);
    lme_log(LME_LOG_INFO, "hidden", NULL);
    lme_log(LME_LOG_WARN, "shown", NULL);
    lme_log_set_level(LME_LOG_INFO);
    const char *out = capture_end(fds, saved);
    assert_null(strstr(out, "hidden"));
    assert_non_null(strstr(out, "msg=shown"));
}

static void test_long_record_is_cut_not_overflowed(void **state)
{
    (void)state;
    char big[6000];
    memset(big, 'v', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    int fds[2], saved;
    capture_begin(fds, &saved);
    lme_log(LME_LOG_INFO, "big", "k", big, NULL);
    const char *out = capture_end(fds, saved);
    assert_true(strlen(out) <= 4096);
    assert_int_equal(out[strlen(out) - 1], '\n');
}

static void test_json_format_is_one_object_per_line(void **state)
{
    (void)state;
    int fds[2], saved;
    capture_begin(fds, &saved);
    lme_log_set_format(LME_LOG_JSON);
    lme_log(LME_LOG_ERROR, "cannot open \"input\"", "file", "/x y\n.log", "b", "\x01\xe9", "utf8",
            "/mnt/exch01/d/caf\xc3\xa9.log", NULL);
    const char *out = capture_end(fds, saved);
    assert_memory_equal(out, "{\"time\":\"", 9);
    /* the shared escaper: a UTF-8 path stays itself (it became "caf\u00c3\u00a9" before), a
     * stray byte is its Windows-1252 character, controls are escaped */
    assert_non_null(strstr(out, "Z\",\"level\":\"error\",\"msg\":\"cannot open \\\"input\\\"\","
                                "\"file\":\"/x y\\n.log\",\"b\":\"\\u0001\xc3\xa9\","
                                "\"utf8\":\"/mnt/exch01/d/caf\xc3\xa9.log\"}\n"));

    char big[6000]; /* cut short, it still closes its string and object */
    memset(big, '\\', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    capture_begin(fds, &saved);
    lme_log(LME_LOG_INFO, "big", "k", big, NULL);
    out = capture_end(fds, saved);
    lme_log_set_format(LME_LOG_LOGFMT);
    size_t len = strlen(out);
    assert_true(len <= 4096);
    assert_memory_equal(out + len - 3, "\"}\n", 3);
    assert_int_equal(out[len - 4], '\\'); /* an escaped backslash pair, not a lone escape */
    assert_int_equal(out[len - 5], '\\');
}

/* The suppressed= values of the "log records suppressed" records in out, added up. */
static unsigned long long suppressed_in(const char *out)
{
    unsigned long long sum = 0;
    for (const char *p = out; (p = strstr(p, "suppressed=")); p++)
        sum += strtoull(p + strlen("suppressed="), NULL, 10);
    return sum;
}

static int count(const char *out, const char *needle)
{
    int n = 0;
    for (const char *p = out; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

static void test_limit_counts_what_it_drops(void **state)
{
    (void)state;
    struct lme_log_limit lim;
    lme_log_limit_init(&lim, "http", 10);
    int fds[2], saved;
    capture_begin(fds, &saved);
    for (int i = 0; i < 40; i++)
        lme_log_limited(&lim, LME_LOG_WARN, "noisy", "i", "x", NULL);
    lme_log_limit_flush(&lim);
    lme_log_limit_flush(&lim); /* nothing left: no second record */
    const char *out = capture_end(fds, saved);
    int written = count(out, "msg=noisy");
    /* the loop may straddle one second boundary, never two */
    assert_true(written >= 10 && written <= 20);
    assert_int_equal(written + (int)suppressed_in(out), 40);
    assert_non_null(
        strstr(out, "level=warn msg=\"log records suppressed\" source=http suppressed="));
    assert_non_null(strstr(out, " per_second=10\n"));
    assert_true(count(out, "log records suppressed") <= 2);
    lme_log_limit_destroy(&lim);
}

static void test_limit_ignores_records_below_the_level(void **state)
{
    (void)state;
    struct lme_log_limit lim;
    lme_log_limit_init(&lim, "http", 2);
    int fds[2], saved;
    capture_begin(fds, &saved);
    for (int i = 0; i < 50; i++)
        lme_log_limited(&lim, LME_LOG_DEBUG, "hidden", NULL);
    lme_log_limited(&lim, LME_LOG_ERROR, "shown", NULL);
    lme_log_limit_destroy(&lim);
    const char *out = capture_end(fds, saved);
    assert_non_null(strstr(out, "msg=shown"));
    assert_null(strstr(out, "suppressed"));
}

static void test_limit_report_follows_the_format(void **state)
{
    (void)state;
    struct lme_log_limit lim;
    lme_log_limit_init(&lim, "http", 1);
    int fds[2], saved;
    capture_begin(fds, &saved);
    lme_log_set_format(LME_LOG_JSON);
    lme_log_limited(&lim, LME_LOG_WARN, "a", NULL);
    lme_log_limited(&lim, LME_LOG_WARN, "b", NULL);
    lme_log_limited(&lim, LME_LOG_WARN, "c", NULL);
    lme_log_limit_destroy(&lim);
    lme_log_set_format(LME_LOG_LOGFMT);
    const char *out = capture_end(fds, saved);
    const char *report =
        strstr(out, "\"msg\":\"log records suppressed\",\"source\":\"http\",\"suppressed\":\"");
    assert_non_null(report);
    assert_non_null(strstr(report, "\"per_second\":\"1\"}\n"));
}

static void test_err_set_fills_and_returns_code(void **state)
{
    (void)state;
    struct lme_err err;
    assert_int_equal(lme_err_set(&err, LME_EINVAL, "key '%s': expected %d", "inputs", 3), LME_EINVAL);
    assert_int_equal(err.code, LME_EINVAL);
    assert_string_equal(err.msg, "key 'inputs': expected 3");
    assert_int_equal(lme_err_set(NULL, LME_ENOMEM, "x"), LME_ENOMEM);
    lme_err_clear(&err);
    assert_int_equal(err.code, LME_OK);
    assert_string_equal(err.msg, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_record_is_one_logfmt_line),
        cmocka_unit_test(test_newlines_and_controls_stay_on_one_line),
        cmocka_unit_test(test_records_below_the_level_are_dropped),
        cmocka_unit_test(test_long_record_is_cut_not_overflowed),
        cmocka_unit_test(test_json_format_is_one_object_per_line),
        cmocka_unit_test(test_limit_counts_what_it_drops),
        cmocka_unit_test(test_limit_ignores_records_below_the_level),
        cmocka_unit_test(test_limit_report_follows_the_format),
        cmocka_unit_test(test_err_set_fills_and_returns_code),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
