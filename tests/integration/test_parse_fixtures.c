/* Runs every real log excerpt of tests/fixtures/samples through the real `lme-ingest parse` and
 * checks every field of every record against expected.jsonl; then the same with CRLF line ends,
 * in other time zones, and for stable event ids. Usage: test_parse_fixtures BINARY FIXTURES_DIR */
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

/* expected.jsonl rows grouped by excerpt, in file order. */
struct excerpt {
    char name[64];
    char path[PATH_MAX]; /* the fixture file */
    json_t *rows;        /* array of expected rows */
};
static struct excerpt excerpts[32];
static size_t n_excerpts;

static void load_expected(const char *dir)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/expected.jsonl", dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[8192];
    while (fgets(line, sizeof(line), f)) {
        json_error_t jerr;
        json_t *row = json_loads(line, 0, &jerr);
        assert_non_null(row);
        const char *file = json_string_value(json_object_get(row, "file"));
        struct excerpt *ex = NULL;
        for (size_t i = 0; i < n_excerpts; i++)
            if (strcmp(excerpts[i].name, file) == 0)
                ex = &excerpts[i];
        if (!ex) {
            assert_true(n_excerpts < 32);
            ex = &excerpts[n_excerpts++];
            snprintf(ex->name, sizeof(ex->name), "%s", file);
            snprintf(ex->path, sizeof(ex->path), "%s/%s", dir, file);
            ex->rows = json_array();
        }
        json_array_append_new(ex->rows, row);
    }
    fclose(f);
}

static int setup(void **state)
{
    (void)state;
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s/samples", fixtures);
    load_expected(dir);
    snprintf(dir, sizeof(dir), "%s/samples/other", fixtures);
    load_expected(dir);
    return n_excerpts >= 13 ? 0 : -1;
}

/* Runs the binary with extra options on one file; returns its events as a JSON array. */
static json_t *parse_file(const char *path, const char *const extra[])
{
    char *argv[16];
    int n = 0;
    argv[n++] = (char *)binary;
    argv[n++] = "parse";
    argv[n++] = "-q";
    argv[n++] = "--host";
    argv[n++] = "test-host";
    for (int i = 0; extra && extra[i]; i++)
        argv[n++] = (char *)extra[i];
    argv[n++] = (char *)path;
    argv[n] = NULL;

    struct run_result res;
    assert_int_equal(run_cmd(argv, NULL, 0, &res), 0);
    if (res.status != 0)
        fprintf(stderr, "parse %s failed (%d): %s\n", path, res.status, res.err);
    assert_int_equal(res.status, 0);
    assert_int_equal(res.err_len, 0);

    json_t *events = events_parse(res.out, res.out_len);
    assert_non_null(events);
    run_result_free(&res);
    return events;
}

static void check_optional_str(json_t *ev, const char *field, json_t *want, const char *ctx)
{
    const char *got = event_str(ev, field);
    if (json_is_null(want)) {
        if (event_get(ev, field))
            fprintf(stderr, "%s: %s should be absent\n", ctx, field);
        assert_null(event_get(ev, field));
        return;
    }
    if (!got || strcmp(got, json_string_value(want)) != 0)
        fprintf(stderr, "%s: %s = '%s', want '%s'\n", ctx, field, got ? got : "(absent)",
                json_string_value(want));
    assert_non_null(got);
    assert_string_equal(got, json_string_value(want));
}

static void check_optional_int(json_t *ev, const char *field, json_int_t want, int present,
                               const char *ctx)
{
    json_t *got = event_get(ev, field);
    if (!present) {
        assert_null(got);
        return;
    }
    if (!json_is_integer(got) || json_integer_value(got) != want)
        fprintf(stderr, "%s: %s wrong (want %lld)\n", ctx, field, (long long)want);
    assert_true(json_is_integer(got));
    assert_int_equal(json_integer_value(got), want);
}

/* The record's raw text must be the file's bytes at log.offset. */
static void check_original(json_t *ev, const char *raw, size_t raw_len, const char *ctx)
{
    const char *orig = event_str(ev, "event.original");
    json_int_t off = json_integer_value(event_get(ev, "log.offset"));
    assert_non_null(orig);
    size_t n = strlen(orig);
    assert_true((size_t)off + n <= raw_len);
    if (memcmp(raw + off, orig, n) != 0)
        fprintf(stderr, "%s: event.original is not the file's bytes at %lld\n", ctx, (long long)off);
    assert_memory_equal(raw + off, orig, n);
}

static void check_record(json_t *ev, json_t *want, const char *raw, size_t raw_len,
                         const char *ctx)
{
    json_t *ts = json_object_get(want, "timestamp");
    if (json_is_null(ts)) {
        assert_true(event_has_tag(ev, "lme_no_timestamp"));
    } else {
        char utc[40];
        snprintf(utc, sizeof(utc), "%s.000Z", json_string_value(ts));
        assert_string_equal(event_str(ev, "@timestamp"), utc);
        assert_false(event_has_tag(ev, "lme_no_timestamp"));
    }
    check_optional_str(ev, "process.name", json_object_get(want, "component"), ctx);
    json_t *thread = json_object_get(want, "thread");
    check_optional_int(ev, "process.thread.id",
                       json_is_null(thread) ? 0 : strtol(json_string_value(thread), NULL, 16),
                       !json_is_null(thread), ctx);
    json_t *level = json_object_get(want, "level");
    check_optional_int(ev, "event.severity", json_integer_value(level), !json_is_null(level), ctx);
    if (!json_is_null(level)) {
        static const char *const words[] = { "", "error", "warning", "info", "debug" };
        assert_string_equal(event_str(ev, "log.level"), words[json_integer_value(level)]);
    }
    check_optional_str(ev, "event.code", json_object_get(want, "code"), ctx);
    check_optional_str(ev, "message", json_object_get(want, "message"), ctx);
    check_optional_str(ev, "log.origin.file.name", json_object_get(want, "source_module"), ctx);
    json_t *line = json_object_get(want, "source_line");
    check_optional_int(ev, "log.origin.file.line", json_integer_value(line), !json_is_null(line),
                       ctx);
    assert_false(event_has_tag(ev, "lme_parse_failure"));
    assert_string_equal(event_str(ev, "host.name"), "test-host");
    assert_int_equal(strlen(event_str(ev, "event.id")), 32);
    assert_string_equal(event_str(ev, "lme.shape"), json_is_null(level) ? "controller" : "browse");
    check_original(ev, raw, raw_len, ctx);
}

static void check_excerpt(const struct excerpt *ex, const char *path)
{
    size_t raw_len;
    char *raw = read_file(path, &raw_len);
    assert_non_null(raw);
    char real[PATH_MAX];
    assert_non_null(realpath(path, real));

    json_t *events = parse_file(path, (const char *const[]){ "--timezone", "UTC", NULL });
    if (json_array_size(events) != json_array_size(ex->rows))
        fprintf(stderr, "%s: %zu events, want %zu\n", ex->name, json_array_size(events),
                json_array_size(ex->rows));
    assert_int_equal(json_array_size(events), json_array_size(ex->rows));

    json_int_t last_offset = -1;
    for (size_t i = 0; i < json_array_size(events); i++) {
        json_t *ev = json_array_get(events, i);
        char ctx[128];
        snprintf(ctx, sizeof(ctx), "%s record %zu", ex->name, i);
        check_record(ev, json_array_get(ex->rows, i), raw, raw_len, ctx);
        assert_string_equal(event_str(ev, "log.file.path"), real);
        json_int_t off = json_integer_value(event_get(ev, "log.offset"));
        assert_true(off > last_offset);
        last_offset = off;
    }
    json_decref(events);
    free(raw);
}

static void test_every_sample_record_matches_expected(void **state)
{
    (void)state;
    for (size_t i = 0; i < n_excerpts; i++)
        check_excerpt(&excerpts[i], excerpts[i].path);
}

static char *to_crlf(const char *raw, size_t len, size_t *out_len)
{
    char *out = malloc(2 * len + 1);
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (raw[i] == '\n')
            out[n++] = '\r';
        out[n++] = raw[i];
    }
    *out_len = n;
    return out;
}

static void test_crlf_samples_match_expected(void **state)
{
    (void)state;
    char *dir = make_temp_dir();
    assert_non_null(dir);
    for (size_t i = 0; i < n_excerpts; i++) {
        size_t len, crlf_len;
        char *raw = read_file(excerpts[i].path, &len);
        assert_non_null(raw);
        char *crlf = to_crlf(raw, len, &crlf_len);
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/%s", dir, excerpts[i].name);
        assert_int_equal(write_file(path, crlf, crlf_len), 0);
        check_excerpt(&excerpts[i], path);
        free(raw);
        free(crlf);
    }
    remove_tree(dir);
    free(dir);
}

static json_t *parse_sample(const char *name, const char *const extra[])
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/samples/%s", fixtures, name);
    return parse_file(path, extra);
}

static void test_local_time_is_read_in_the_given_zone(void **state)
{
    (void)state;
    const char *const ny[] = { "--timezone", "America/New_York", NULL };
    json_t *winter = parse_sample("Q197509.log", ny); /* March 1998: EST, UTC-5 */
    json_t *ev = json_array_get(winter, 0);
    assert_string_equal(event_str(ev, "@timestamp"), "1998-03-18T03:19:48.000Z");
    assert_string_equal(event_str(ev, "event.timezone"), "America/New_York");
    json_t *summer = parse_sample("Q228715.log", ny); /* September 1998: EDT, UTC-4 */
    assert_string_equal(event_str(json_array_get(summer, 0), "@timestamp"), "1998-09-11T17:12:11.000Z");
    json_t *india = parse_sample("Q228715.log", (const char *const[]){ "--timezone", "Asia/Kolkata", NULL });
    assert_string_equal(event_str(json_array_get(india, 0), "@timestamp"), "1998-09-11T07:42:11.000Z");
    json_decref(winter);
    json_decref(summer);
    json_decref(india);
}

static void test_status_word_becomes_error_type(void **state)
{
    (void)state;
    const char *const utc[] = { "--timezone", "UTC", NULL };
    json_t *q197509 = parse_sample("Q197509.log", utc);
    assert_string_equal(event_str(json_array_get(q197509, 5), "error.type"), "Timeout on resource lock");
    /* the real log's "Error (Timeout on resource lock}:" typo */
    assert_string_equal(event_str(json_array_get(q197509, 6), "error.type"), "Timeout on resource lock");
    assert_null(event_get(json_array_get(q197509, 8), "error.type")); /* "Error: no Notes Session Open" */
    json_t *q240277 = parse_sample("Q240277.log", utc);
    assert_string_equal(event_str(json_array_get(q240277, 0), "error.type"), "WIN32:5(Access is denied.)");
    json_t *q216541 = parse_sample("Q216541.log", utc);
    assert_string_equal(event_str(json_array_get(q216541, 0), "error.type"), "The filename was invalid");
    json_t *q320032 = parse_sample("Q320032.log", utc);
    assert_string_equal(event_str(json_array_get(q320032, 1), "error.type"), "Mail system failure");
    json_decref(q197509);
    json_decref(q240277);
    json_decref(q216541);
    json_decref(q320032);
}

static void test_event_ids_are_stable_and_unique(void **state)
{
    (void)state;
    const char *const utc[] = { "--timezone", "UTC", NULL };
    json_t *a = parse_sample("Q181500.log", utc);
    json_t *b = parse_sample("Q181500.log", utc);
    json_t *other_host = parse_sample("Q181500.log",
                                      (const char *const[]){ "--timezone", "UTC", "--host", "h2", NULL });
    assert_true(json_array_size(a) > 10);
    for (size_t i = 0; i < json_array_size(a); i++) {
        const char *id = event_str(json_array_get(a, i), "event.id");
        assert_string_equal(id, event_str(json_array_get(b, i), "event.id"));
        assert_string_not_equal(id, event_str(json_array_get(other_host, i), "event.id"));
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(id, event_str(json_array_get(a, j), "event.id"));
        assert_int_equal(strspn(id, "0123456789abcdef"), 32);
    }
    json_decref(a);
    json_decref(b);
    json_decref(other_host);
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
        cmocka_unit_test(test_every_sample_record_matches_expected),
        cmocka_unit_test(test_crlf_samples_match_expected),
        cmocka_unit_test(test_local_time_is_read_in_the_given_zone),
        cmocka_unit_test(test_status_word_becomes_error_type),
        cmocka_unit_test(test_event_ids_are_stable_and_unique),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
