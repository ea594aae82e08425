/* Fuzz target for the parser stage (record.c, browse_log.c, parser.c) and the event's JSON
 * encoding (event_json.c): browse-log bytes go in, fed in fuzzed chunks with fuzzed flushes, and
 * every event that comes out must encode as valid JSON and stay inside the bytes fed.
 *
 * Input layout (6 control bytes, then the log):
 *   byte 0     max_record_bytes: 64 + b * 4032 / 255, so 64..4096 (the cut path is reached)
 *   byte 1     flushes: bit i set calls parser_flush after chunk i (mod 8); bit 0 also flushes
 *              once more before parser_finish
 *   bytes 2-5  chunk sizes, used in turn: code c is ((c & 63) + 1) << 3 * (c >> 6) bytes, so
 *              1..64, 8..512, 64..4096 or 512..32768
 * Checked for each event, beyond what ASan and UBSan see:
 *   - event.original is the log's bytes at [offset, offset + len), len <= max_record_bytes,
 *     and offset + len <= end_offset <= the bytes fed so far; offsets never go back;
 *   - no text is lost (record.h): what lies between two events, and between an event's original
 *     and its end_offset unless it is tagged truncated, is blank (line ends, blank lines);
 *   - code is absent or 5 digits, severity 0..4;
 *   - event_json_encode's output loads with jansson, and when not tagged lme_non_utf8 its
 *     event.original and message read back byte for byte;
 *   - the wrap and marker properties (tests/support/rewrap.h): the record in its canonical
 *     one-line form parses to its fields, and so do a few other forms of it, drawn from a
 *     generator seeded by the input and the event's place (wrapped at a width, broken at random
 *     spaces, around the trailer's marker, with ">>", "<<" or no marker).
 * And every line of the log classifies as the PCRE2 patterns alone classify it
 * (browse_log_classify_pcre2: the hand-written header scan must agree with them).
 * After parser_finish the parser holds nothing, parser_unemitted is the length fed and what
 * follows the last event is blank. */
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "browse_log.h"
#include "buf.h"
#include "event_json.h"
#include "hash.h"
#include "parser.h"
#include "rewrap.h"
#include "tz.h"

#define CONTROL_BYTES 6
#define NOW_MS 1700000000000LL /* event.created of every event: 2023-11-14 */
#define REWRAP_FORMS 4           /* forms of each record checked besides its canonical one */
#define REWRAP_MAX_GAPS 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct run {
    uint64_t seed;   /* of the forms drawn for the wrap properties */
    const char *log; /* all the log bytes of the input */
    size_t fed;      /* how many of them the parser has been given */
    size_t max_record;
    uint64_t prev_end;
    uint64_t events;
    struct lme_buf json;
};

static struct lme_tz *utc;     /* opened once; lives as long as the process */
static struct rewrap *rewrap; /* likewise */
static struct browse_log *classifier; /* likewise */

static void die(const char *what, const struct lme_event *ev)
{
    fprintf(stderr, "fuzz_record: %s (event at offset %llu, end %llu, original %zu bytes)\n",
            what, ev ? (unsigned long long)ev->offset : 0ULL,
            ev ? (unsigned long long)ev->end_offset : 0ULL, ev ? ev->original.len : 0);
    abort();
}

/* Bytes record.c may skip without losing text: line ends, and what is_blank calls blank. */
static bool all_blank(const char *s, uint64_t from, uint64_t to)
{
    for (uint64_t i = from; i < to; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c != ' ' && c != '\t' && c != '\r' && c != '\n' && c != '\v' && c != '\f' && c != 0xA0)
            return false;
    }
    return true;
}

static bool has_tag(json_t *root, const char *tag)
{
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(root, "tags"), i, t) {
        if (json_is_string(t) && strcmp(json_string_value(t), tag) == 0)
            return true;
    }
    return false;
}

static bool same_string(json_t *v, struct lme_str s)
{
    return json_is_string(v) && json_string_length(v) == s.len &&
           (s.len == 0 || memcmp(json_string_value(v), s.ptr, s.len) == 0);
}

static void check_json(struct run *run, const struct lme_event *ev)
{
    lme_buf_reset(&run->json);
    if (event_json_encode(ev, &run->json) != 0)
        die("event_json_encode failed", ev);
    json_error_t jerr;
    json_t *root = json_loadb(run->json.data, run->json.len, JSON_ALLOW_NUL, &jerr);
    if (!root) {
        fprintf(stderr, "fuzz_record: invalid JSON at %d: %s\n%.*s\n", jerr.position, jerr.text,
                (int)run->json.len, run->json.data);
        die("event_json_encode wrote invalid JSON", ev);
    }
    if (!json_is_object(root))
        die("event JSON is not an object", ev);
    if (!has_tag(root, "lme_non_utf8")) {
        if (!same_string(json_object_get(json_object_get(root, "event"), "original"),
                         ev->original))
            die("event.original does not read back as the record's bytes", ev);
        if (!same_string(json_object_get(root, "message"), ev->message))
            die("message does not read back as the event's message", ev);
    }
    json_decref(root);
}

static uint64_t next_random(uint64_t *state) /* splitmix64 */
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static void check_form(const struct lme_event *ev, const struct rewrap_style *st)
{
    if (rewrap_check(rewrap, st) == REWRAP_FAILED) {
        fprintf(stderr, "fuzz_record: %s\n", rewrap_why(rewrap));
        die("a form of the record parses to other fields", ev);
    }
}

/* The wrap and marker properties on this record: its canonical form, then forms drawn from the
 * input's seed and the event's place. */
static void check_wraps(struct run *run, const struct lme_event *ev)
{
    enum rewrap_result r = rewrap_load(rewrap, ev);
    if (r == REWRAP_FAILED) {
        fprintf(stderr, "fuzz_record: %s\n", rewrap_why(rewrap));
        die("the record and its canonical one-line form parse to other fields", ev);
    }
    size_t gaps = rewrap_gaps(rewrap);
    if (r != REWRAP_OK || gaps > REWRAP_MAX_GAPS)
        return;
    static uint8_t breaks[REWRAP_MAX_GAPS + 2];
    uint64_t rng = run->seed ^ (ev->offset * 0x9e3779b97f4a7c15ULL);
    for (int i = 0; i < REWRAP_FORMS; i++) {
        uint64_t x = next_random(&rng);
        struct rewrap_style st = {
            .breaks = breaks,
            .crlf = x & 1,
            .indent = (x >> 1) & 1,
            .marker = rewrap_has_trailer(rewrap) ? (enum rewrap_marker)((x >> 2) % 3) : REWRAP_GT,
            .open = (x >> 4) & 1,
        };
        unsigned kind = (unsigned)(x >> 5) % 3, percent = (unsigned)(x >> 8) % 101;
        if (kind == 0) {
            rewrap_at_width(rewrap, 1 + (size_t)(x >> 16) % (ev->original.len + 2), &st, breaks);
        } else {
            for (size_t g = 0; g < gaps; g++)
                breaks[g] = kind == 1 && next_random(&rng) % 100 < percent;
            size_t m = rewrap_gap_before_marker(rewrap);
            if (kind == 2 && m < gaps) { /* just before the marker, just after it, or both */
                breaks[m] = (x >> 16) & 1;
                breaks[m + 1] = (x >> 17) & 1 || !breaks[m];
            }
        }
        check_form(ev, &st);
    }
}

static bool same_span(struct browse_log_span a, struct browse_log_span b)
{
    return a.off == b.off && a.len == b.len;
}

/* Every line of the log classifies as the PCRE2 patterns alone classify it: the hand-written
 * scan of the common header shape decides only where they would decide alike. */
static void check_classify(const char *log, size_t len)
{
    struct browse_log_header a, b;
    size_t pos = 0;
    while (pos < len) {
        const char *nl = memchr(log + pos, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - (log + pos)) : len - pos;
        enum browse_log_kind ka = browse_log_classify(classifier, log + pos, n, &a);
        enum browse_log_kind kb = browse_log_classify_pcre2(classifier, log + pos, n, &b);
        if (ka != kb || a.kind != b.kind || a.text_off != b.text_off || !same_span(a.date, b.date) ||
            !same_span(a.time, b.time) || !same_span(a.component, b.component) ||
            !same_span(a.thread, b.thread) || !same_span(a.level, b.level) ||
            !same_span(a.code, b.code)) {
            fprintf(stderr, "fuzz_record: line at %zu: kind %d by classify, %d by PCRE2\n", pos,
                    (int)ka, (int)kb);
            die("browse_log_classify differs from the PCRE2 patterns", NULL);
        }
        pos += n + 1;
    }
}

static int on_event(const struct lme_event *ev, void *ctx)
{
    struct run *run = ctx;
    run->events++;
    if (ev->offset < run->prev_end)
        die("event starts before the previous one ended", ev);
    if (ev->end_offset > run->fed || ev->offset > ev->end_offset ||
        ev->original.len > ev->end_offset - ev->offset)
        die("event lies outside the bytes fed", ev);
    if (ev->original.len > run->max_record)
        die("event.original is longer than max_record_bytes", ev);
    if (ev->original.len > 0 && memcmp(ev->original.ptr, run->log + ev->offset, ev->original.len))
        die("event.original is not the log's bytes at its offset", ev);
    if (!all_blank(run->log, run->prev_end, ev->offset))
        die("text between two events was skipped", ev);
    uint64_t rest = ev->end_offset - ev->offset - ev->original.len;
    bool truncated = (ev->flags & LME_EV_TRUNCATED) != 0;
    if (truncated != (ev->truncated_bytes > 0) || ev->truncated_bytes > rest)
        die("truncated_bytes does not match the flag or the bytes the event covers", ev);
    if (!truncated && !all_blank(run->log, ev->offset + ev->original.len, ev->end_offset))
        die("text after event.original was lost without the lme_truncated tag", ev);
    if (ev->code.len != 0 && ev->code.len != 5)
        die("code is neither absent nor 5 digits", ev);
    for (size_t i = 0; i < ev->code.len; i++)
        if (ev->code.ptr[i] < '0' || ev->code.ptr[i] > '9')
            die("code is neither absent nor 5 digits", ev);
    if (ev->severity < 0 || ev->severity > 4)
        die("severity out of 0..4", ev);
    run->prev_end = ev->end_offset;
    check_json(run, ev);
    check_wraps(run, ev);
    return 0;
}

static size_t chunk_size(uint8_t code)
{
    return (size_t)((code & 63) + 1) << (3 * (code >> 6));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < CONTROL_BYTES)
        return 0;
    struct lme_err err;
    if (!utc && !(utc = lme_tz_open("UTC", &err))) {
        fprintf(stderr, "fuzz_record: %s\n", err.msg);
        abort();
    }
    if (!classifier && !(classifier = browse_log_create(&err))) {
        fprintf(stderr, "fuzz_record: browse_log_create: %s\n", err.msg);
        abort();
    }
    if (!rewrap && !(rewrap = rewrap_create())) {
        fprintf(stderr, "fuzz_record: rewrap_create failed\n");
        abort();
    }
    uint8_t flushes = data[1];
    const uint8_t *sizes = data + 2;
    struct run run = {
        .log = (const char *)data + CONTROL_BYTES,
        .max_record = 64 + (size_t)data[0] * 4032 / 255,
        .seed = lme_hash64(data, size, 0),
        .json = LME_BUF_INIT,
    };
    size_t len = size - CONTROL_BYTES;
    check_classify(run.log, len);
    struct parser_config cfg = {
        .path = "/var/log/exchconn/fuzz.log",
        .host = "fuzz",
        .tz = utc,
        .max_record_bytes = run.max_record,
    };
    struct parser *p = parser_create(&cfg, &err);
    if (!p) {
        fprintf(stderr, "fuzz_record: parser_create: %s\n", err.msg);
        abort();
    }

    for (size_t i = 0; run.fed < len; i++) {
        size_t n = chunk_size(sizes[i % 4]);
        if (n > len - run.fed)
            n = len - run.fed;
        const char *chunk = run.log + run.fed;
        run.fed += n;
        if (parser_feed(p, chunk, n, NOW_MS, on_event, &run) != 0)
            die("parser_feed failed", NULL);
        if ((flushes >> (i % 8)) & 1)
            if (parser_flush(p, NOW_MS, on_event, &run) != 0)
                die("parser_flush failed", NULL);
    }
    if ((flushes & 1) && parser_flush(p, NOW_MS, on_event, &run) != 0)
        die("parser_flush failed", NULL);
    if (parser_finish(p, NOW_MS, on_event, &run) != 0)
        die("parser_finish failed", NULL);

    if (parser_holds(p))
        die("the parser still holds bytes after parser_finish", NULL);
    if (parser_unemitted(p) != len)
        die("parser_unemitted is not the length fed after parser_finish", NULL);
    if (parser_stats(p)->records != run.events)
        die("stats.records is not the number of events emitted", NULL);
    if (!all_blank(run.log, run.prev_end, len))
        die("text after the last event was skipped", NULL);

    parser_destroy(p);
    lme_buf_free(&run.json);
    return 0;
}
