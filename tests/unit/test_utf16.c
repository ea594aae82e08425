/* Unit tests of the UTF-16LE to UTF-8 converter and its map back to file offsets: exact bytes
 * out, input cut anywhere, unpaired surrogates, line ends, forgetting, a large input. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "utf16.h"

#define BOM_END 2 /* the usual create offset: just after FF FE */

/* A mixed sample, each piece with its UTF-8 below. Ends with a high surrogate whose pair never
 * comes, so it is kept and not converted. */
static const char SAMPLE[] = "a\0b\0\r\0\n\0"            /* ab CR LF */
                             "\xE9\0\xAC\x20\x2D\x4E\n\0" /* U+00E9 U+20AC U+4E2D LF */
                             "\x3D\xD8\x00\xDE"           /* U+1F600 as a pair */
                             "\x00\xD8x\0\x00\xDC\n\0"    /* unpaired high, x, unpaired low, LF */
                             "\x41\x0A\x00\x4E"           /* U+0A41 U+4E00: "0A 00" across units */
                             "\x00\xD8\n\0"               /* unpaired high, LF */
                             "z\0"
                             "\x3D\xD8"; /* a high surrogate waiting for its pair */
static const char SAMPLE_UTF8[] = "ab\r\n"
                                  "\xC3\xA9\xE2\x82\xAC\xE4\xB8\xAD\n"
                                  "\xF0\x9F\x98\x80"
                                  "\xEF\xBF\xBDx\xEF\xBF\xBD\n"
                                  "\xE0\xA9\x81\xE4\xB8\x80"
                                  "\xEF\xBF\xBD\n"
                                  "z";
#define SAMPLE_LEN (sizeof(SAMPLE) - 1)
#define SAMPLE_UTF8_LEN (sizeof(SAMPLE_UTF8) - 1)

/* The file offset every UTF-8 offset of SAMPLE_UTF8 maps to, relative to the create offset. */
static uint64_t sample_map(uint64_t utf8_off)
{
    if (utf8_off < 4)
        return 0;
    if (utf8_off < 13)
        return 8;
    if (utf8_off < 25)
        return 16;
    if (utf8_off < 35)
        return 28;
    if (utf8_off < SAMPLE_UTF8_LEN)
        return 36;
    return 38; /* the end: exact, before the high surrogate kept */
}

static struct utf16 *make(uint64_t file_offset)
{
    struct lme_err err = { 0 };
    struct utf16 *u = utf16_create(file_offset, &err);
    assert_non_null(u);
    return u;
}

static void feed(struct utf16 *u, const char *in, size_t len, struct lme_buf *out)
{
    assert_int_equal(utf16_feed(u, in, len, out), 0);
}

static void assert_bytes(const struct lme_buf *b, const char *want, size_t n)
{
    assert_int_equal(b->len, n);
    if (n > 0)
        assert_memory_equal(b->data, want, n);
}

/* Asserts the whole sample came out and maps as sample_map says, querying every offset. */
static void assert_sample(struct utf16 *u, const struct lme_buf *out, uint64_t base)
{
    assert_bytes(out, SAMPLE_UTF8, SAMPLE_UTF8_LEN);
    for (uint64_t off = 0; off <= SAMPLE_UTF8_LEN; off++)
        assert_true(utf16_file_offset(u, off) == base + sample_map(off));
}

/* Widens ASCII text to UTF-16LE. */
static void widen(const char *ascii, struct lme_buf *b)
{
    for (; *ascii; ascii++)
        assert_int_equal(lme_buf_append(b, (const char[2]){ *ascii, 0 }, 2), 0);
}

/* Appends code point cp as UTF-16LE to u16 and as UTF-8 to u8: the reference the converter is
 * checked against, written without iconv. */
static void put(uint32_t cp, struct lme_buf *u16, struct lme_buf *u8)
{
    unsigned char w[4], e[4];
    size_t nw = 2, ne;
    if (cp >= 0x10000) {
        uint32_t v = cp - 0x10000, hi = 0xD800 | (v >> 10), lo = 0xDC00 | (v & 0x3FF);
        w[0] = hi & 0xFF, w[1] = (unsigned char)(hi >> 8), w[2] = lo & 0xFF, w[3] = (unsigned char)(lo >> 8);
        nw = 4;
    } else {
        w[0] = cp & 0xFF, w[1] = (unsigned char)(cp >> 8);
    }
    if (cp < 0x80) {
        e[0] = (unsigned char)cp, ne = 1;
    } else if (cp < 0x800) {
        e[0] = (unsigned char)(0xC0 | (cp >> 6)), e[1] = 0x80 | (cp & 0x3F), ne = 2;
    } else if (cp < 0x10000) {
        e[0] = (unsigned char)(0xE0 | (cp >> 12)), e[1] = 0x80 | ((cp >> 6) & 0x3F);
        e[2] = 0x80 | (cp & 0x3F), ne = 3;
    } else {
        e[0] = (unsigned char)(0xF0 | (cp >> 18)), e[1] = 0x80 | ((cp >> 12) & 0x3F);
        e[2] = 0x80 | ((cp >> 6) & 0x3F), e[3] = 0x80 | (cp & 0x3F), ne = 4;
    }
    assert_int_equal(lme_buf_append(u16, w, nw), 0);
    assert_int_equal(lme_buf_append(u8, e, ne), 0);
}

/* Lines of varied length and width, with where each ends in both streams. */
struct lines {
    struct lme_buf u16, u8;
    uint64_t *utf8_end, *file_end; /* file offsets relative to the create offset */
    size_t n;
};

static void make_lines(struct lines *ls, size_t max_lines, size_t max_u16_bytes)
{
    static const uint32_t alphabet[] = { 'a', 'Z', 0xE9, 0x20AC, 0x4E2D, 0x1F600, '\r', 0xFEFF };
    memset(ls, 0, sizeof(*ls));
    ls->utf8_end = malloc(max_lines * sizeof(uint64_t));
    ls->file_end = malloc(max_lines * sizeof(uint64_t));
    assert_non_null(ls->utf8_end);
    assert_non_null(ls->file_end);
    while (ls->n < max_lines && ls->u16.len < max_u16_bytes) {
        size_t i = ls->n;
        for (size_t k = 0; k < i % 13; k++)
            put(alphabet[(i + k) % 8], &ls->u16, &ls->u8);
        put('\n', &ls->u16, &ls->u8);
        ls->utf8_end[i] = ls->u8.len;
        ls->file_end[i] = ls->u16.len;
        ls->n++;
    }
}

static void free_lines(struct lines *ls)
{
    lme_buf_free(&ls->u16);
    lme_buf_free(&ls->u8);
    free(ls->utf8_end);
    free(ls->file_end);
}

static void test_ascii_lines(void **state)
{
    (void)state;
    struct utf16 *u = make(BOM_END);
    struct lme_buf in = LME_BUF_INIT, out = LME_BUF_INIT;
    widen("ab\ncd\nef", &in);
    feed(u, in.data, in.len, &out);
    assert_bytes(&out, "ab\ncd\nef", 8);
    assert_true(utf16_file_offset(u, 0) == 2);
    assert_true(utf16_file_offset(u, 3) == 8);  /* after "ab\n": 2 + 6 */
    assert_true(utf16_file_offset(u, 6) == 14); /* after "cd\n" */
    assert_true(utf16_file_offset(u, 7) == 14); /* inside "ef", which has no line end yet */
    assert_true(utf16_file_offset(u, 8) == 18); /* the end of what was fed: exact */
    lme_buf_free(&in);
    lme_buf_free(&out);
    utf16_destroy(u);
}

static void test_bmp_characters(void **state)
{
    (void)state;
    struct utf16 *u = make(BOM_END);
    struct lme_buf out = LME_BUF_INIT;
    /* U+00E9 U+20AC U+4E2D LF x LF */
    feed(u, "\xE9\0\xAC\x20\x2D\x4E\n\0x\0\n\0", 12, &out);
    assert_bytes(&out, "\xC3\xA9\xE2\x82\xAC\xE4\xB8\xAD\nx\n", 11);
    assert_true(utf16_file_offset(u, 9) == 10);
    assert_true(utf16_file_offset(u, 11) == 14);
    lme_buf_free(&out);
    utf16_destroy(u);
}

static void test_surrogate_pair(void **state)
{
    (void)state;
    struct utf16 *u = make(BOM_END);
    struct lme_buf out = LME_BUF_INIT;
    feed(u, "a\0\x3D\xD8\x00\xDE\n\0", 8, &out); /* a U+1F600 LF */
    assert_bytes(&out, "a\xF0\x9F\x98\x80\n", 6);
    assert_true(utf16_file_offset(u, 5) == 2);
    assert_true(utf16_file_offset(u, 6) == 10);
    lme_buf_free(&out);
    utf16_destroy(u);
}

static void test_sample_in_one_feed(void **state)
{
    (void)state;
    struct utf16 *u = make(BOM_END);
    struct lme_buf out = LME_BUF_INIT;
    feed(u, SAMPLE, SAMPLE_LEN, &out);
    assert_sample(u, &out, BOM_END);
    /* the kept high surrogate meets its pair */
    feed(u, "\x00\xDE", 2, &out);
    assert_int_equal(out.len, SAMPLE_UTF8_LEN + 4);
    assert_memory_equal(out.data + SAMPLE_UTF8_LEN, "\xF0\x9F\x98\x80", 4);
    lme_buf_free(&out);
    utf16_destroy(u);
}

static void test_every_split_gives_the_same_output(void **state)
{
    (void)state;
    for (size_t cut = 0; cut <= SAMPLE_LEN; cut++) {
        struct utf16 *u = make(BOM_END);
        struct lme_buf out = LME_BUF_INIT;
        feed(u, SAMPLE, cut, &out);
        feed(u, SAMPLE + cut, SAMPLE_LEN - cut, &out);
        assert_sample(u, &out, BOM_END);
        lme_buf_free(&out);
        utf16_destroy(u);
    }
    struct utf16 *u = make(BOM_END);
    struct lme_buf out = LME_BUF_INIT;
    for (size_t i = 0; i < SAMPLE_LEN; i++)
        feed(u, SAMPLE + i, 1, &out);
    assert_sample(u, &out, BOM_END);
    lme_buf_free(&out);
    utf16_destroy(u);
}

static void test_crlf_lines(void **state)
{
    (void)state;
    struct utf16 *u = make(BOM_END);
    struct lme_buf in = LME_BUF_INIT, out = LME_BUF_INIT;
    widen("a\r\nbc\r\n", &in);
    feed(u, in.data, in.len, &out);
    assert_bytes(&out, "a\r\nbc\r\n", 7);
    assert_true(utf16_file_offset(u, 2) == 2); /* between CR and LF: not a line end */
    assert_true(utf16_file_offset(u, 3) == 8); /* after the 6 bytes of "a\r\n" */
    assert_true(utf16_file_offset(u, 6) == 8);
    assert_true(utf16_file_offset(u, 7) == 16);
    lme_buf_free(&in);
    lme_buf_free(&out);
    utf16_destroy(u);
}

static void test_nonzero_create_offset(void **state)
{
    (void)state;
    uint64_t resume = 5000000000ULL; /* a checkpoint past 4 GiB */
    struct utf16 *u = make(resume);
    struct lme_buf out = LME_BUF_INIT;
    feed(u, SAMPLE, SAMPLE_LEN, &out);
    assert_sample(u, &out, resume);
    lme_buf_free(&out);
    utf16_destroy(u);
}

static void test_unpaired_surrogates_become_replacement(void **state)
{
    (void)state;
    struct utf16 *u = make(0);
    struct lme_buf out = LME_BUF_INIT;
    /* high then 'A', lone low then 'B', high then a pair (U+10000), high then LF */
    feed(u, "\x00\xD8" "A\0" "\x00\xDC" "B\0" "\x00\xD8\x00\xD8\x00\xDC" "\x00\xD8\n\0", 18, &out);
    assert_bytes(&out,
                 "\xEF\xBF\xBD" "A" "\xEF\xBF\xBD" "B" "\xEF\xBF\xBD\xF0\x90\x80\x80"
                 "\xEF\xBF\xBD\n",
                 19);
    assert_true(utf16_file_offset(u, 18) == 0);
    assert_true(utf16_file_offset(u, 19) == 18);
    /* a high surrogate at the end waits: it may be completed by the next feed */
    feed(u, "\x00\xD8", 2, &out);
    assert_int_equal(out.len, 19);
    feed(u, "C\0", 2, &out);
    assert_bytes(&out,
                 "\xEF\xBF\xBD" "A" "\xEF\xBF\xBD" "B" "\xEF\xBF\xBD\xF0\x90\x80\x80"
                 "\xEF\xBF\xBD\n" "\xEF\xBF\xBD" "C",
                 23);
    lme_buf_free(&out);
    utf16_destroy(u);
}

static void test_offsets_inside_a_line_map_to_the_previous_line_end(void **state)
{
    (void)state;
    static const uint64_t want[] = { 100, 100, 100, 100, 108, 108, 108, 114, 114, 118 };
    struct utf16 *u = make(100);
    struct lme_buf in = LME_BUF_INIT, out = LME_BUF_INIT;
    widen("abc\nde\nfg", &in);
    feed(u, in.data, in.len, &out);
    assert_int_equal(out.len, 9);
    for (uint64_t off = 0; off < sizeof(want) / sizeof(want[0]); off++)
        assert_true(utf16_file_offset(u, off) == want[off]);
    /* an earlier offset after forgetting gets the last answer rather than a wrong older one */
    assert_true(utf16_file_offset(u, 1) == 118);
    lme_buf_free(&in);
    lme_buf_free(&out);
    utf16_destroy(u);
}

/* Queries lines [*next, upto): just before each LF (inside the line, or for an empty one the
 * line end before) and just after it. */
static void query_lines(struct utf16 *u, const struct lines *ls, size_t *next, size_t upto,
                        uint64_t *prev_end)
{
    for (; *next < upto; (*next)++) {
        assert_true(utf16_file_offset(u, ls->utf8_end[*next] - 1) == *prev_end);
        *prev_end = BOM_END + ls->file_end[*next];
        assert_true(utf16_file_offset(u, ls->utf8_end[*next]) == *prev_end);
    }
}

/* Feeds, queries and forgets in turn, the queries lagging LAG lines behind the feeds (as sink
 * acknowledgements do), so the queue is compacted while it grows. */
static void test_forgetting_keeps_answers_right_over_100k_lines(void **state)
{
    (void)state;
    enum { LAG = 300, CHUNK = 4099 /* odd: chunks end mid-character */ };
    struct lines ls;
    make_lines(&ls, 100000, (size_t)-1);
    assert_int_equal(ls.n, 100000);
    struct utf16 *u = make(BOM_END);
    struct lme_buf out = LME_BUF_INIT;
    size_t next = 0, ready = 0;
    uint64_t prev_end = BOM_END;
    for (size_t at = 0; at < ls.u16.len; at += CHUNK) {
        size_t len = ls.u16.len - at < CHUNK ? ls.u16.len - at : CHUNK;
        feed(u, ls.u16.data + at, len, &out);
        while (ready < ls.n && ls.utf8_end[ready] <= out.len)
            ready++;
        if (ready > LAG)
            query_lines(u, &ls, &next, ready - LAG, &prev_end);
    }
    assert_int_equal(ready, ls.n);
    query_lines(u, &ls, &next, ls.n, &prev_end);
    assert_bytes(&out, ls.u8.data, ls.u8.len);
    assert_true(utf16_file_offset(u, UINT64_MAX) == prev_end);
    lme_buf_free(&out);
    utf16_destroy(u);
    free_lines(&ls);
}

static void test_one_megabyte_input(void **state)
{
    (void)state;
    struct lines ls;
    make_lines(&ls, 1 << 20, 1 << 20);
    assert_true(ls.u16.len >= 1 << 20);
    struct utf16 *u = make(BOM_END);
    struct lme_buf out = LME_BUF_INIT;
    feed(u, ls.u16.data, ls.u16.len, &out);
    assert_bytes(&out, ls.u8.data, ls.u8.len);
    /* every line end queued in one feed is still there for queries made afterwards */
    for (size_t i = 0; i < ls.n; i++)
        assert_true(utf16_file_offset(u, ls.utf8_end[i]) == BOM_END + ls.file_end[i]);
    lme_buf_free(&out);
    utf16_destroy(u);
    free_lines(&ls);
}

static void test_failed_feed_keeps_nothing(void **state)
{
    (void)state;
    struct utf16 *u = make(0);
    struct lme_buf out = LME_BUF_INIT;
    feed(u, "a\0\n\0b", 5, &out); /* "b" is half a character, kept */
    /* a buffer that cannot grow (len + anything would wrap) fails the feed */
    struct lme_buf full = { NULL, SIZE_MAX, SIZE_MAX };
    assert_int_equal(utf16_feed(u, "\0\n\0c\0", 5, &full), LME_ENOMEM);
    assert_true(full.len == SIZE_MAX);
    /* the same bytes again: as if the failed call had not happened */
    feed(u, "\0\n\0c\0", 5, &out);
    assert_bytes(&out, "a\nb\nc", 5);
    assert_true(utf16_file_offset(u, 2) == 4);
    assert_true(utf16_file_offset(u, 4) == 8);
    assert_true(utf16_file_offset(u, 5) == 10); /* the end: exact */
    lme_buf_free(&out);
    utf16_destroy(u);
}

/* The last record of a file without a final line end ends at the end of what was converted:
 * its checkpoint must be the file's end, or every run reads it again (found with run --once).
 * A character still incomplete there is not part of it. */
static void test_end_of_converted_text_maps_exactly(void **state)
{
    (void)state;
    struct utf16 *u = make(BOM_END);
    struct lme_buf in = LME_BUF_INIT, out = LME_BUF_INIT;
    widen("ab\r\ncd", &in);
    feed(u, in.data, in.len, &out);
    assert_true(utf16_file_offset(u, 0) == BOM_END);
    assert_true(utf16_file_offset(u, 4) == BOM_END + 8);
    assert_true(utf16_file_offset(u, 6) == BOM_END + 12);
    feed(u, "e", 1, &out); /* half a code unit */
    assert_int_equal(out.len, 6);
    assert_true(utf16_file_offset(u, 6) == BOM_END + 12);
    feed(u, "\0\x3D\xD8", 3, &out); /* "e", then a high surrogate waiting for its pair */
    assert_int_equal(out.len, 7);
    assert_true(utf16_file_offset(u, 7) == BOM_END + 14);
    /* later line ends still map exactly */
    feed(u, "\x00\xDE\n\0", 4, &out);
    assert_int_equal(out.len, 12);
    assert_true(utf16_file_offset(u, 11) == BOM_END + 14);
    assert_true(utf16_file_offset(u, 12) == BOM_END + 20);
    lme_buf_free(&in);
    lme_buf_free(&out);
    utf16_destroy(u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ascii_lines),
        cmocka_unit_test(test_bmp_characters),
        cmocka_unit_test(test_surrogate_pair),
        cmocka_unit_test(test_sample_in_one_feed),
        cmocka_unit_test(test_every_split_gives_the_same_output),
        cmocka_unit_test(test_crlf_lines),
        cmocka_unit_test(test_nonzero_create_offset),
        cmocka_unit_test(test_unpaired_surrogates_become_replacement),
        cmocka_unit_test(test_offsets_inside_a_line_map_to_the_previous_line_end),
        cmocka_unit_test(test_forgetting_keeps_answers_right_over_100k_lines),
        cmocka_unit_test(test_one_megabyte_input),
        cmocka_unit_test(test_failed_feed_keeps_nothing),
        cmocka_unit_test(test_end_of_converted_text_maps_exactly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
