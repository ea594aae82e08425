/* Runs the real `lme-ingest parse` on real files and pipes: exit codes and messages for missing
 * files and bad options, empty and garbage input, huge records, standard input, non-UTF-8 bytes,
 * UTF-16LE found by its BOM and --encoding.
 * Usage: test_parse_cli BINARY FIXTURES_DIR */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events.h"
#include "run_cmd.h"

static const char *binary;
static const char *fixtures;
static char *tmp;

static int setup(void **state)
{
    (void)state;
    tmp = make_temp_dir();
    return tmp ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    remove_tree(tmp);
    free(tmp);
    return 0;
}

/* Runs lme-ingest with the given arguments (NULL-terminated) and optional stdin. */
static struct run_result run(const char *in, size_t in_len, const char *const args[])
{
    char *argv[32];
    int n = 0;
    argv[n++] = (char *)binary;
    for (int i = 0; args[i]; i++)
        argv[n++] = (char *)args[i];
    argv[n] = NULL;
    struct run_result res;
    assert_int_equal(run_cmd(argv, in, in_len, &res), 0);
    return res;
}

/* Every stdout line as JSON; fails the test on a line that is not a JSON object. */
static json_t *events_of(const struct run_result *res)
{
    json_t *events = events_parse(res->out, res->out_len);
    assert_non_null(events);
    return events;
}

static const char *tmp_path(const char *name)
{
    static char path[4][PATH_MAX];
    static int next;
    char *p = path[next++ % 4];
    snprintf(p, PATH_MAX, "%s/%s", tmp, name);
    return p;
}

static const char *sample(const char *name)
{
    static char path[4][PATH_MAX];
    static int next;
    char *p = path[next++ % 4];
    snprintf(p, PATH_MAX, "%s/samples/%s", fixtures, name);
    return p;
}

static void test_missing_file_is_named_and_others_still_parsed(void **state)
{
    (void)state;
    const char *missing = tmp_path("no-such-file.log");
    struct run_result res = run(NULL, 0, (const char *const[]){ "parse", "--timezone", "UTC",
        sample("Q197509.log"), missing, sample("Q228715.log"), NULL });
    assert_int_equal(res.status, 1);
    assert_non_null(strstr(res.err, "level=error"));
    assert_non_null(strstr(res.err, missing));
    json_t *events = events_of(&res);
    assert_int_equal(json_array_size(events), 10 + 7);
    json_decref(events);
    run_result_free(&res);
}

static void test_directory_as_input_fails_cleanly(void **state)
{
    (void)state;
    struct run_result res = run(NULL, 0, (const char *const[]){ "parse", "-q", tmp, NULL });
    assert_int_equal(res.status, 1);
    assert_non_null(strstr(res.err, tmp));
    assert_int_equal(res.out_len, 0);
    run_result_free(&res);
}

static void test_unknown_zone_is_a_usage_error(void **state)
{
    (void)state;
    struct run_result res = run(NULL, 0, (const char *const[]){ "parse", "--timezone", "Mars/Base",
        sample("Q197509.log"), NULL });
    assert_int_equal(res.status, 2);
    assert_non_null(strstr(res.err, "Mars/Base"));
    assert_int_equal(res.out_len, 0);
    run_result_free(&res);
}

static void test_bad_options_are_usage_errors(void **state)
{
    (void)state;
    const char *const *const cases[] = {
        (const char *const[]){ "parse", "--max-record-bytes", "abc", NULL },
        (const char *const[]){ "parse", "--max-record-bytes", "10", NULL },
        (const char *const[]){ "parse", "--no-such-option", NULL },
        (const char *const[]){ "parse", "--encoding", "utf-16", NULL },
        (const char *const[]){ "frobnicate", NULL },
        (const char *const[]){ NULL },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct run_result res = run("", 0, cases[i]);
        assert_int_equal(res.status, 2);
        assert_true(res.err_len > 0);
        assert_int_equal(res.out_len, 0);
        run_result_free(&res);
    }
}

static void test_help_and_version(void **state)
{
    (void)state;
    const char *const *const cases[] = {
        (const char *const[]){ "--help", NULL },
        (const char *const[]){ "parse", "--help", NULL },
        (const char *const[]){ "--version", NULL },
    };
    for (size_t i = 0; i < 3; i++) {
        struct run_result res = run(NULL, 0, cases[i]);
        assert_int_equal(res.status, 0);
        assert_true(res.out_len > 0);
        run_result_free(&res);
    }
    struct run_result res = run(NULL, 0, (const char *const[]){ "--version", NULL });
    assert_memory_equal(res.out, "lme-ingest ", 11);
    assert_true(res.out[11] >= '0' && res.out[11] <= '9');
    run_result_free(&res);
}

static void test_empty_input_gives_no_events(void **state)
{
    (void)state;
    const char *empty = tmp_path("empty.log");
    assert_int_equal(write_file(empty, "", 0), 0);
    struct run_result res = run(NULL, 0, (const char *const[]){ "parse", "-q", empty, NULL });
    assert_int_equal(res.status, 0);
    assert_int_equal(res.out_len, 0);
    run_result_free(&res);
    res = run("", 0, (const char *const[]){ "parse", "-q", NULL });
    assert_int_equal(res.status, 0);
    assert_int_equal(res.out_len, 0);
    run_result_free(&res);
}

static int blank_byte(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f' || c == 0xA0;
}

static void test_garbage_is_passed_on_flagged_and_counted(void **state)
{
    (void)state;
    size_t len = 200000;
    unsigned char *data = malloc(len);
    uint64_t x = 42;
    for (size_t i = 0; i < len; i++) { /* xorshift: fixed bytes, NULs and high bytes included */
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        data[i] = (unsigned char)(x % 61 == 0 ? '\n' : x >> 24);
    }
    const char *path = tmp_path("garbage.log");
    assert_int_equal(write_file(path, (char *)data, len), 0);

    /* the lines that carry text, and where they start */
    size_t want = 0, *starts = malloc(len * sizeof(size_t));
    for (size_t start = 0; start < len;) {
        size_t end = start;
        int blank = 1;
        while (end < len && data[end] != '\n')
            blank &= blank_byte(data[end++]);
        if (!blank)
            starts[want++] = start;
        start = end + 1;
    }

    struct run_result res = run(NULL, 0, (const char *const[]){ "parse", path, NULL });
    assert_int_equal(res.status, 0);
    json_t *events = events_of(&res);
    assert_int_equal(json_array_size(events), want);
    for (size_t i = 0; i < want; i++) {
        json_t *ev = json_array_get(events, i);
        assert_true(event_has_tag(ev, "lme_parse_failure"));
        assert_int_equal(json_integer_value(event_get(ev, "log.offset")), starts[i]);
    }
    char count[64];
    snprintf(count, sizeof(count), "parse_failures=%zu", want);
    assert_non_null(strstr(res.err, count));
    json_decref(events);
    run_result_free(&res);
    free(starts);
    free(data);
}

static const char HEADER[] = "1998/03/17 22:22:50 - LME-NOTES-MEXNTS(018b) 1 41220:";
static const char NEXT[] = "1998/03/17 22:22:51 - LME-NOTES-MEXNTS(018b) 3 41210:Terminating\r\n";

/* Checks the two events of HEADER+body then NEXT: the first cut at 64 KiB with the exact count. */
static void check_huge(const struct run_result *res, const char *data, size_t first_len)
{
    assert_int_equal(res->status, 0);
    json_t *events = events_of(res);
    assert_int_equal(json_array_size(events), 2);
    json_t *big = json_array_get(events, 0), *next = json_array_get(events, 1);
    assert_true(event_has_tag(big, "lme_truncated"));
    const char *orig = json_string_value(event_get(big, "event.original"));
    assert_int_equal(strlen(orig), 65536);
    assert_memory_equal(orig, data, 65536);
    assert_int_equal(json_integer_value(event_get(big, "lme.truncated_bytes")), first_len - 65536);
    assert_null(json_object_get(next, "tags"));
    assert_int_equal(json_integer_value(event_get(next, "log.offset")), first_len);
    assert_string_equal(json_string_value(event_get(next, "message")), "Terminating");
    json_decref(events);
}

static void test_huge_records_are_cut_and_counted(void **state)
{
    (void)state;
    size_t body = 1 << 20;
    char *data = malloc(body + 4096);
    /* one huge line */
    size_t n = (size_t)sprintf(data, "%s", HEADER);
    memset(data + n, 'x', body);
    n += body;
    n += (size_t)sprintf(data + n, "\r\n");
    size_t first_len = n;
    n += (size_t)sprintf(data + n, "%s", NEXT);
    const char *path = tmp_path("huge-line.log");
    assert_int_equal(write_file(path, data, n), 0);
    struct run_result res = run(NULL, 0, (const char *const[]){ "parse", "-q", path, NULL });
    check_huge(&res, data, first_len);
    run_result_free(&res);
    /* the same through a pipe, where it arrives in pieces */
    res = run(data, n, (const char *const[]){ "parse", "-q", NULL });
    check_huge(&res, data, first_len);
    run_result_free(&res);

    /* many continuation lines */
    n = (size_t)sprintf(data, "%s\r\n", HEADER);
    for (int i = 0; i < 10000; i++)
        n += (size_t)sprintf(data + n, "%098d\r\n", i);
    first_len = n;
    n += (size_t)sprintf(data + n, "%s", NEXT);
    path = tmp_path("huge-record.log");
    assert_int_equal(write_file(path, data, n), 0);
    res = run(NULL, 0, (const char *const[]){ "parse", "-q", path, NULL });
    check_huge(&res, data, first_len);
    run_result_free(&res);
    free(data);
}

static void test_record_limit_option_keeps_every_record(void **state)
{
    (void)state;
    struct run_result full = run(NULL, 0, (const char *const[]){ "parse", "-q", sample("Q181500.log"), NULL });
    struct run_result cut = run(NULL, 0, (const char *const[]){ "parse", "-q", "--max-record-bytes", "100",
                                                                sample("Q181500.log"), NULL });
    json_t *a = events_of(&full), *b = events_of(&cut);
    assert_int_equal(json_array_size(a), 34); /* Q181500's records, as in expected.jsonl */
    assert_int_equal(json_array_size(b), 34);
    for (size_t i = 0; i < 34; i++) {
        size_t len = strlen(json_string_value(event_get(json_array_get(a, i), "event.original")));
        assert_int_equal(event_has_tag(json_array_get(b, i), "lme_truncated"), len > 100);
    }
    json_decref(a);
    json_decref(b);
    run_result_free(&full);
    run_result_free(&cut);
}

static void test_standard_input_matches_the_file(void **state)
{
    (void)state;
    size_t len;
    char *raw = read_file(sample("Q197509.log"), &len);
    struct run_result file = run(NULL, 0, (const char *const[]){ "parse", "-q", sample("Q197509.log"), NULL });
    struct run_result pipe = run(raw, len, (const char *const[]){ "parse", "-q", "-", NULL });
    json_t *a = events_of(&file), *b = events_of(&pipe);
    assert_int_equal(json_array_size(b), 10);
    for (size_t i = 0; i < 10; i++) {
        json_t *ea = json_array_get(a, i), *eb = json_array_get(b, i);
        assert_null(event_get(eb, "log.file.path"));
        assert_non_null(event_get(ea, "log.file.path"));
        assert_int_equal(json_integer_value(event_get(eb, "log.offset")), json_integer_value(event_get(ea, "log.offset")));
        assert_string_equal(json_string_value(event_get(eb, "message")), json_string_value(event_get(ea, "message")));
    }
    json_decref(a);
    json_decref(b);
    run_result_free(&file);
    run_result_free(&pipe);
    free(raw);
}

static void test_non_utf8_bytes_become_cp1252_characters(void **state)
{
    (void)state;
    const char data[] = "1998/03/17 22:22:50 - LME-NOTES(0001) 2 00001:caf\xE9 \xA0\xA0\r\n";
    const char *path = tmp_path("cp1252.log");
    assert_int_equal(write_file(path, data, sizeof(data) - 1), 0);
    struct run_result res = run(NULL, 0, (const char *const[]){ "parse", "-q", path, NULL });
    json_t *events = events_of(&res);
    json_t *ev = json_array_get(events, 0);
    assert_string_equal(json_string_value(event_get(ev, "message")), "caf\xC3\xA9");
    assert_true(event_has_tag(ev, "lme_non_utf8"));
    const char *orig = json_string_value(event_get(ev, "event.original"));
    assert_non_null(strstr(orig, "caf\xC3\xA9 \xC2\xA0\xC2\xA0"));
    json_decref(events);
    run_result_free(&res);
}

static void test_last_line_without_line_end_is_emitted(void **state)
{
    (void)state;
    const char data[] = "1998/03/17 22:22:50 - A(0001) 2 00001:one\r\n"
                        "1998/03/17 22:22:51 - A(0001) 2 00002:two\r\nwrapped";
    const char *path = tmp_path("no-final-newline.log");
    assert_int_equal(write_file(path, data, sizeof(data) - 1), 0);
    struct run_result res = run(NULL, 0, (const char *const[]){ "parse", "-q", path, NULL });
    json_t *events = events_of(&res);
    assert_int_equal(json_array_size(events), 2);
    assert_string_equal(json_string_value(event_get(json_array_get(events, 1), "message")), "two wrapped");
    json_decref(events);
    run_result_free(&res);
}

/* The text of a fixture written as UTF-16LE (each byte one code unit: the fixtures are
 * ASCII), behind a BOM when bom; its length in *len. */
static char *fixture_as_utf16(const char *name, int bom, size_t *len)
{
    size_t n;
    char *text = read_file(sample(name), &n);
    assert_non_null(text);
    char *wide = malloc(2 * n + 2);
    assert_non_null(wide);
    size_t k = 0;
    if (bom) {
        wide[k++] = '\xFF';
        wide[k++] = '\xFE';
    }
    for (size_t i = 0; i < n; i++) {
        wide[k++] = text[i];
        wide[k++] = 0;
    }
    free(text);
    *len = k;
    return wide;
}

/* The events of a re-encoded fixture are the fixture's, at the offsets its encoding gives them
 * (file offset = skip + width * the UTF-8 offset). */
static void assert_same_events(const struct run_result *want_res, const struct run_result *got_res,
                               long long skip, long long width)
{
    json_t *want = events_of(want_res), *got = events_of(got_res);
    assert_true(json_array_size(want) > 0);
    assert_int_equal(json_array_size(got), json_array_size(want));
    static const char *const fields[] = { "message", "event.code", "process.name",
                                          "log.origin.file.name", "event.original", "@timestamp" };
    for (size_t i = 0; i < json_array_size(want); i++) {
        json_t *a = json_array_get(want, i), *b = json_array_get(got, i);
        for (size_t f = 0; f < sizeof(fields) / sizeof(fields[0]); f++) {
            json_t *va = event_get(a, fields[f]), *vb = event_get(b, fields[f]);
            if (va || vb)
                assert_true(json_equal(va, vb));
        }
        assert_true(json_integer_value(event_get(b, "log.offset")) ==
                    skip + width * json_integer_value(event_get(a, "log.offset")));
        assert_false(event_has_tag(b, "lme_parse_failure"));
    }
    json_decref(want);
    json_decref(got);
}

static void test_utf16le_bom_is_detected_in_files_and_pipes(void **state)
{
    (void)state;
    size_t len;
    char *wide = fixture_as_utf16("Q197509.log", 1, &len);
    const char *path = tmp_path("utf16.log");
    assert_int_equal(write_file(path, wide, len), 0);
    struct run_result plain = run(NULL, 0, (const char *const[]){ "parse", "-q", "-z", "UTC",
        sample("Q197509.log"), NULL });
    struct run_result file = run(NULL, 0, (const char *const[]){ "parse", "-q", "-z", "UTC", path, NULL });
    struct run_result pipe = run(wide, len, (const char *const[]){ "parse", "-q", "-z", "UTC", NULL });
    assert_int_equal(file.status, 0);
    assert_int_equal(pipe.status, 0);
    assert_same_events(&plain, &file, 2, 2);
    assert_same_events(&plain, &pipe, 2, 2);
    run_result_free(&plain);
    run_result_free(&file);
    run_result_free(&pipe);
    free(wide);
}

static void test_encoding_option(void **state)
{
    (void)state;
    size_t len;
    char *wide = fixture_as_utf16("Q181500.log", 0, &len);
    const char *path = tmp_path("utf16-no-bom.log");
    assert_int_equal(write_file(path, wide, len), 0);
    struct run_result plain = run(NULL, 0, (const char *const[]){ "parse", "-q", "-z", "UTC",
        sample("Q181500.log"), NULL });
    struct run_result told = run(NULL, 0, (const char *const[]){ "parse", "-q", "-z", "UTC",
        "--encoding", "utf-16le", path, NULL });
    assert_same_events(&plain, &told, 0, 2);
    run_result_free(&told);
    free(wide);

    /* a UTF-8 BOM is dropped; utf-8 keeps a UTF-16 BOM as the text it then is */
    size_t n;
    char *text = read_file(sample("Q181500.log"), &n);
    char *marked = malloc(n + 3);
    memcpy(marked, "\xEF\xBB\xBF", 3);
    memcpy(marked + 3, text, n);
    struct run_result bom8 = run(marked, n + 3, (const char *const[]){ "parse", "-q", "-z", "UTC",
        "-e", "utf-8", NULL });
    assert_same_events(&plain, &bom8, 3, 1);
    wide = fixture_as_utf16("Q181500.log", 1, &len);
    struct run_result as8 = run(wide, len, (const char *const[]){ "parse", "-q", "-e", "utf-8", NULL });
    json_t *events = events_of(&as8);
    assert_true(event_has_tag(json_array_get(events, 0), "lme_parse_failure"));
    json_decref(events);
    run_result_free(&as8);
    run_result_free(&bom8);
    run_result_free(&plain);
    free(wide);
    free(marked);
    free(text);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s LME_INGEST_BINARY FIXTURES_DIR\n", argv[0]);
        return 2;
    }
    binary = argv[1];
    fixtures = argv[2];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_missing_file_is_named_and_others_still_parsed),
        cmocka_unit_test(test_directory_as_input_fails_cleanly),
        cmocka_unit_test(test_unknown_zone_is_a_usage_error),
        cmocka_unit_test(test_bad_options_are_usage_errors),
        cmocka_unit_test(test_help_and_version),
        cmocka_unit_test(test_empty_input_gives_no_events),
        cmocka_unit_test(test_garbage_is_passed_on_flagged_and_counted),
        cmocka_unit_test(test_huge_records_are_cut_and_counted),
        cmocka_unit_test(test_record_limit_option_keeps_every_record),
        cmocka_unit_test(test_standard_input_matches_the_file),
        cmocka_unit_test(test_non_utf8_bytes_become_cp1252_characters),
        cmocka_unit_test(test_last_line_without_line_end_is_emitted),
        cmocka_unit_test(test_utf16le_bom_is_detected_in_files_and_pipes),
        cmocka_unit_test(test_encoding_option),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
