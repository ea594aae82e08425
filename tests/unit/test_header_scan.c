/* The hand-written header scan (parsers/header_scan.c) against the PCRE2 patterns, its judge:
 * wherever the scan decides, kind, every capture and where the text starts must be PCRE2's, and
 * browse_log_classify must classify every line as browse_log_classify_pcre2 does. Lines come
 * from the fixtures, from a generated bench corpus, from headers built of random variants of
 * each part of the pattern, and from random edits of all of those. The seed is printed;
 * LME_SCAN_SEED=N runs with seed N again.
 * Usage: test_header_scan FIXTURES_DIR CORPUS_GEN */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "browse_log.h"
#include "buf.h"
#include "header_scan.h"
#include "log_samples.h"

#define CORPUS_RECORDS 5000
#define EDITS_PER_LINE 12
#define BUILT_LINES 200000
#define LINE_MAX_BYTES 70000

static const char *fixtures;
static const char *corpus_gen;
static uint64_t seed;

struct run {
    struct browse_log *bl;
    uint64_t rng;
    const char *source;
    size_t lines, decided, headers;
    char edited[LINE_MAX_BYTES];
};

static size_t below(struct run *run, size_t n)
{
    return n ? (size_t)(log_samples_random(&run->rng) % n) : 0;
}

static bool same_span(struct browse_log_span a, struct browse_log_span b)
{
    return a.off == b.off && a.len == b.len;
}

static bool same_header(const struct browse_log_header *a, const struct browse_log_header *b)
{
    return a->kind == b->kind && same_span(a->date, b->date) && same_span(a->time, b->time) &&
           same_span(a->component, b->component) && same_span(a->thread, b->thread) &&
           same_span(a->level, b->level) && same_span(a->code, b->code) &&
           a->text_off == b->text_off;
}

/* One line, compared both ways. */
static void compare(struct run *run, const char *line, size_t len)
{
    struct browse_log_header scanned, judged, classified;
    bool decided = header_scan(line, len, &scanned);
    enum browse_log_kind kind = browse_log_classify_pcre2(run->bl, line, len, &judged);
    browse_log_classify(run->bl, line, len, &classified);
    run->lines++;
    run->decided += decided;
    run->headers += kind == BROWSE_LOG_HEADER;
    if (same_header(&classified, &judged) && (!decided || same_header(&scanned, &judged)))
        return;
    fail_msg("%s (seed %" PRIu64 ", LME_SCAN_SEED=%" PRIu64 " replays it): the scan %s, PCRE2 "
             "says kind %d text at %u, for the line '%.*s'",
             run->source, seed, seed, decided ? "decided otherwise" : "changed classify",
             (int)kind, judged.text_off, (int)(len > 300 ? 300 : len), line);
}

/* The line as it is, then edited at random: bytes replaced, inserted, deleted or repeated, the
 * line cut short; drawn mostly from the bytes the pattern cares about. */
static void compare_with_edits(struct run *run, const char *line, size_t len)
{
    static const char alphabet[] = " \t\xA0-:/.,()<>0123456789aAfFgZz_$\r{}";
    compare(run, line, len);
    if (len > LINE_MAX_BYTES / 2)
        return;
    for (int e = 0; e < EDITS_PER_LINE; e++) {
        size_t n = len;
        memcpy(run->edited, line, n);
        for (size_t k = 1 + below(run, 3); k > 0; k--) {
            size_t at = below(run, n + 1);
            char c = below(run, 8) == 0 ? (char)below(run, 256)
                                        : alphabet[below(run, sizeof(alphabet) - 1)];
            switch (below(run, 5)) {
            case 0: /* replace */
                if (at < n)
                    run->edited[at] = c;
                break;
            case 1: /* insert */
                memmove(run->edited + at + 1, run->edited + at, n - at);
                run->edited[at] = c;
                n++;
                break;
            case 2: /* delete */
                if (at < n) {
                    memmove(run->edited + at, run->edited + at + 1, n - at - 1);
                    n--;
                }
                break;
            case 3: { /* repeat the byte there a few times */
                size_t times = 1 + below(run, 10);
                if (at < n && n + times < sizeof(run->edited)) {
                    memmove(run->edited + at + times, run->edited + at, n - at);
                    memset(run->edited + at, run->edited[at + times], times);
                    n += times;
                }
                break;
            }
            default: /* cut */
                n = at;
                break;
            }
        }
        compare(run, run->edited, n);
    }
}

/* Every line of a stream ('\n' ends a line; a '\r' before it stays, as classify gets it). */
static void compare_stream(FILE *f, const char *source, void *ctx)
{
    struct run *run = ctx;
    struct lme_buf all = { 0 };
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        assert_int_equal(lme_buf_append(&all, chunk, n), 0);
    run->source = source;
    size_t pos = 0;
    while (pos < all.len) {
        const char *nl = memchr(all.data + pos, '\n', all.len - pos);
        size_t len = nl ? (size_t)(nl - (all.data + pos)) : all.len - pos;
        compare_with_edits(run, all.data + pos, len);
        pos += len + 1;
    }
    lme_buf_free(&all);
}

static struct run *run_new(void)
{
    struct run *run = calloc(1, sizeof(*run));
    assert_non_null(run);
    struct lme_err err = { 0 };
    run->bl = browse_log_create(&err);
    assert_non_null(run->bl);
    run->rng = seed;
    return run;
}

static void run_free(struct run *run, const char *what)
{
    printf("%s: %zu lines, %zu headers by PCRE2, %zu decided by the scan\n", what, run->lines,
           run->headers, run->decided);
    browse_log_destroy(run->bl);
    free(run);
}

static void test_fixture_lines_classify_as_pcre2_does(void **state)
{
    (void)state;
    struct run *run = run_new();
    assert_true(log_samples_each_fixture(fixtures, compare_stream, run) > 0);
    assert_true(run->decided > 0);
    run_free(run, "fixtures");
}

static void test_bench_corpus_lines_classify_as_pcre2_does(void **state)
{
    (void)state;
    struct run *run = run_new();
    assert_int_equal(log_samples_corpus(corpus_gen, CORPUS_RECORDS, seed, compare_stream, run), 0);
    /* the scan is worth having: it decides the corpus's headers, PCRE2 only the rest */
    assert_true(run->decided >= CORPUS_RECORDS * 95 / 100);
    run_free(run, "bench corpus");
}

/* A header of random variants of each part, valid or nearly: separators, date and time shapes
 * (the scan's own and those it leaves to PCRE2), digits one too few or too many. */
static size_t build_header(struct run *run, char *out)
{
    static const char *const ws[] = { "", " ", "  ", "\t", "\xA0", " \xA0 ", "          " };
    static const char *const dates[] = { "1998/03/17", "1998-3-7", "1998.12.31", "98/03/17",
                                         "19980/03/17", "1998/003/17", "1998/03/170", "08-Aug-2000",
                                         "8-aug-00", "<date>", "1998/03", "1998//17" };
    static const char *const times[] = { "22:22:50", "2:22", "22:22:50.1", "22:22:50,123456",
                                         "22:22:50.1234567", "22:2", "222:22", "22:22:5",
                                         "22:22:50.", "<time>", "22:22:50:" };
    static const char *const dashes[] = { "-", "", "--", " - " };
    static const char *const comps[] = { "LME-NOTES-MEXNTS", "control", "_x", "$a.b-c", "9LDE",
                                         "-LDE", "LDE ", "A" };
    static const char *const tids[] = { "018b", "0", "12345678", "123456789", "", "0x1", "AbCd" };
    static const char *const levels[] = { "1", "4", "0", "5", "3 ", "" };
    static const char *const codes[] = { "41220", "4122", "412201", "00001", "41220a" };
    static const char *const colons[] = { ":", "", "::", " : " };
    static const char *const texts[] = { "Error: no Notes Session Open", "", "\r", "  text  \r",
                                         "1 2 3" };
/* the first of each is a usual one: taken half the time, so that many lines are headers */
#define PICK(a) (a)[below(run, 2) ? 0 : below(run, sizeof(a) / sizeof((a)[0]))]
    int n = 0;
    n += sprintf(out + n, "%s", PICK(ws));
    if (below(run, 4) != 0)
        n += sprintf(out + n, "%s%s%s%s%s%s", PICK(dates), PICK(ws), PICK(times), PICK(ws),
                     PICK(dashes), PICK(ws));
    n += sprintf(out + n, "%s%s(%s%s%s)%s%s%s%s%s%s%s", PICK(comps), PICK(ws), PICK(ws), PICK(tids),
                 PICK(ws), PICK(ws), PICK(levels), PICK(ws), PICK(codes), PICK(ws), PICK(colons),
                 PICK(texts));
#undef PICK
    return (size_t)n;
}

static void test_built_headers_classify_as_pcre2_does(void **state)
{
    (void)state;
    struct run *run = run_new();
    char line[1024];
    run->source = "built headers";
    for (int i = 0; i < BUILT_LINES; i++) {
        size_t n = build_header(run, line);
        compare(run, line, n);
        if (i % 16 == 0)
            compare_with_edits(run, line, n);
    }
    assert_true(run->decided > 0 && run->decided < run->lines);
    run_free(run, "built headers");
}

/* Runs as long as a record may be: the scan reads them to the end as PCRE2 does. */
static void test_long_runs_classify_as_pcre2_does(void **state)
{
    (void)state;
    struct run *run = run_new();
    static char line[LINE_MAX_BYTES];
    run->source = "long runs";
    size_t runs[] = { 1, 255, 256, 4096, 65535, 65536 };
    for (size_t i = 0; i < sizeof(runs) / sizeof(runs[0]); i++) {
        size_t k = runs[i];
        memset(line, ' ', k); /* padding before the component */
        int n = snprintf(line + k, sizeof(line) - k, "LDE(0305) 3 02002:text");
        compare(run, line, k + (size_t)n);
        line[0] = 'C'; /* a component that long */
        memset(line + 1, 'x', k - 1);
        compare(run, line, k + (size_t)n);
        memcpy(line, "1998/03/17 22:22:50-", 20); /* a date, then the padding */
        memset(line + 20, '\t', k);
        n = snprintf(line + 20 + k, sizeof(line) - 20 - k, "LDE(0305) 3 02002:text");
        compare(run, line, 20 + k + (size_t)n);
    }
    run_free(run, "long runs");
}

int main(int argc, char **argv)
{
    if (log_samples_args(argc, argv, "LME_SCAN_SEED", &fixtures, &corpus_gen, &seed) != 0)
        return 2;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixture_lines_classify_as_pcre2_does),
        cmocka_unit_test(test_bench_corpus_lines_classify_as_pcre2_does),
        cmocka_unit_test(test_built_headers_classify_as_pcre2_does),
        cmocka_unit_test(test_long_runs_classify_as_pcre2_does),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
