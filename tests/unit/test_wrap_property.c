/* Property tests of the browse-log parser: every record of the fixtures and of a generated
 * bench corpus parses to the same fields however it is wrapped and whatever its trailer's
 * marker (the properties and what "the same" means: tests/support/rewrap.h). Each record is
 * written wrapped at every width, with its trailer's marker ">>", "<<" or none, with breaks
 * just before and after the marker, and in random shapes drawn from a seed. The seed is printed
 * (and named in a failure); LME_WRAP_SEED=N runs with seed N again.
 * Usage: test_wrap_property FIXTURES_DIR CORPUS_GEN */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log_samples.h"
#include "parser.h"
#include "rewrap.h"
#include "tz.h"

#define CORPUS_RECORDS 3000
#define RANDOM_FORMS 24 /* per record */
#define MAX_GAPS 4096

static const char *fixtures;
static const char *corpus_gen;
static uint64_t seed;

struct run {
    struct rewrap *w;
    uint64_t rng;
    const char *source; /* for messages */
    size_t records, skipped_records, forms, skipped_forms;
    uint8_t breaks[MAX_GAPS], previous[MAX_GAPS];
};

static void check(struct run *run, const struct rewrap_style *st)
{
    enum rewrap_result r = rewrap_check(run->w, st);
    run->forms++;
    run->skipped_forms += r == REWRAP_SKIPPED;
    if (r == REWRAP_FAILED)
        fail_msg("%s (seed %" PRIu64 ", LME_WRAP_SEED=%" PRIu64 " replays it): %s", run->source,
                 seed, seed, rewrap_why(run->w));
}

/* Wrapped at every width a line can have, each trailer marker at each. */
static void check_widths(struct run *run, size_t gaps, size_t longest)
{
    int markers = rewrap_has_trailer(run->w) ? 3 : 1;
    for (int m = 0; m < markers; m++) {
        memset(run->previous, 2, gaps);
        for (size_t width = 1; width <= longest + 1; width++) {
            struct rewrap_style st = { .breaks = run->breaks, .crlf = width % 2,
                                       .indent = width / 2 % 2, .marker = (enum rewrap_marker)m };
            rewrap_at_width(run->w, width, &st, run->breaks);
            if (memcmp(run->breaks, run->previous, gaps) == 0)
                continue; /* the same lines as the width before */
            memcpy(run->previous, run->breaks, gaps);
            check(run, &st);
        }
    }
}

/* Lines ending just before the trailer's marker, just after it, or both; with either marker,
 * its ")" or not, indented or not. */
static void check_around_marker(struct run *run, size_t gaps)
{
    size_t before = rewrap_gap_before_marker(run->w);
    for (int shape = 0; shape < 16; shape++) {
        memset(run->breaks, 0, gaps);
        run->breaks[before] = shape & 1;
        run->breaks[before + 1] = (shape >> 1) & 1;
        struct rewrap_style st = { .breaks = run->breaks, .crlf = shape & 4, .indent = shape & 8,
                                   .marker = REWRAP_GT };
        for (int m = 0; m < 2; m++) {
            st.marker = m ? REWRAP_LT : REWRAP_GT;
            st.open = false;
            check(run, &st);
            st.open = true;
            check(run, &st);
        }
        st.marker = REWRAP_NONE;
        st.open = false;
        check(run, &st);
    }
}

static void check_random(struct run *run, size_t gaps)
{
    for (int i = 0; i < RANDOM_FORMS; i++) {
        uint64_t r = log_samples_random(&run->rng);
        unsigned percent = (unsigned)(r % 101);
        for (size_t g = 0; g < gaps; g++)
            run->breaks[g] = log_samples_random(&run->rng) % 100 < percent;
        struct rewrap_style st = {
            .breaks = run->breaks,
            .crlf = (r >> 8) & 1,
            .indent = (r >> 9) & 1,
            .marker = rewrap_has_trailer(run->w) ? (enum rewrap_marker)((r >> 10) % 3) : REWRAP_GT,
            .open = (r >> 12) & 1,
        };
        check(run, &st);
    }
}

static int on_record(const struct lme_event *ev, void *ctx)
{
    struct run *run = ctx;
    enum rewrap_result r = rewrap_load(run->w, ev);
    if (r == REWRAP_FAILED)
        fail_msg("%s: %s", run->source, rewrap_why(run->w));
    if (r == REWRAP_SKIPPED) {
        run->skipped_records++;
        return 0;
    }
    run->records++;
    size_t gaps = rewrap_gaps(run->w);
    assert_true(gaps <= MAX_GAPS);
    check_widths(run, gaps, ev->original.len + 64);
    if (rewrap_has_trailer(run->w))
        check_around_marker(run, gaps);
    check_random(run, gaps);
    return 0;
}

/* Parses a whole stream, checking every record it holds. */
static void check_stream(FILE *f, const char *name, void *ctx)
{
    struct run *run = ctx;
    struct lme_err err;
    struct lme_tz *tz = lme_tz_open("UTC", &err);
    struct parser_config pc = { .host = "h", .tz = tz };
    struct parser *p = parser_create(&pc, &err);
    assert_non_null(p);
    run->source = name;
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        assert_int_equal(parser_feed(p, chunk, n, 42, on_record, run), 0);
    assert_int_equal(parser_finish(p, 42, on_record, run), 0);
    parser_destroy(p);
    lme_tz_destroy(tz);
}

static struct run *run_new(void)
{
    struct run *run = calloc(1, sizeof(*run));
    assert_non_null(run);
    run->w = rewrap_create();
    assert_non_null(run->w);
    run->rng = seed;
    return run;
}

static void run_free(struct run *run, const char *what)
{
    printf("%s: %zu records (%zu not covered), %zu forms (%zu not wraps)\n", what, run->records,
           run->skipped_records, run->forms, run->skipped_forms);
    rewrap_destroy(run->w);
    free(run);
}

static void test_fixture_records_read_alike_however_wrapped(void **state)
{
    (void)state;
    struct run *run = run_new();
    assert_true(log_samples_each_fixture(fixtures, check_stream, run) > 0);
    /* every record of the fixtures is covered, and every form written is a wrap */
    assert_true(run->records >= 130);
    assert_int_equal(run->skipped_records, 0);
    assert_int_equal(run->skipped_forms, 0);
    run_free(run, "fixtures");
}

static void test_bench_corpus_records_read_alike_however_wrapped(void **state)
{
    (void)state;
    struct run *run = run_new();
    assert_int_equal(log_samples_corpus(corpus_gen, CORPUS_RECORDS, seed, check_stream, run), 0);
    assert_true(run->records >= CORPUS_RECORDS * 99 / 100);
    assert_int_equal(run->skipped_records, 0);
    assert_true(run->skipped_forms <= run->forms / 1000);
    run_free(run, "bench corpus");
}

int main(int argc, char **argv)
{
    if (log_samples_args(argc, argv, "LME_WRAP_SEED", &fixtures, &corpus_gen, &seed) != 0)
        return 2;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixture_records_read_alike_however_wrapped),
        cmocka_unit_test(test_bench_corpus_records_read_alike_however_wrapped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
