/* Event to JSON: see event_json.h. The buffer is reserved for the worst case up front (every
 * byte escaped as \u00XX is 6 bytes), so the writers below never check for room. The hot parts,
 * measured with callgrind on the benchmark: strings are scanned 16 bytes at a time for what needs
 * escaping (json_str.h), numbers written two digits at a time, and a time's calendar date is
 * taken from the caller's memo when the previous event's was the same day. */
#include "event_json.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "err.h"
#include "json_str.h"
#include "tz.h"

#define ECS_VERSION "8.11.0"

struct writer {
    char *w;
    bool non_utf8;
};

static void put(struct writer *wr, const char *s, size_t n)
{
    memcpy(wr->w, s, n);
    wr->w += n;
}

#define PUT_LIT(wr, lit) put((wr), (lit), sizeof(lit) - 1)

/* "00" to "99": two digits at a time. */
static const char digit_pairs[201] =
    "0001020304050607080910111213141516171819202122232425262728293031323334353637383940414243444546"
    "4748495051525354555657585960616263646566676869707172737475767778798081828384858687888990919293"
    "949596979899";

static void put_2d(char *w, unsigned v)
{
    memcpy(w, digit_pairs + 2 * v, 2);
}

/* Written two digits at a time from the last one back, into the end of a scratch of 20
 * bytes, then copied as 20 bytes whatever its length (one move, no call): the writer always has
 * room for that (worst_case), and what lies past the number is written over next. */
static void put_u64(struct writer *wr, uint64_t v)
{
    char tmp[40]; /* the number ends at tmp + 20; the copy reads 20 bytes from its start */
    char *p = tmp + 20;
    for (; v >= 100; v /= 100) {
        p -= 2;
        put_2d(p, (unsigned)(v % 100));
    }
    if (v >= 10) {
        p -= 2;
        put_2d(p, (unsigned)v);
    } else {
        *--p = (char)('0' + v);
    }
    memcpy(wr->w, p, 20);
    wr->w += tmp + 20 - p;
}

static void put_i64(struct writer *wr, int64_t v)
{
    if (v < 0) {
        *wr->w++ = '-';
        put_u64(wr, (uint64_t)0 - (uint64_t)v);
        return;
    }
    put_u64(wr, (uint64_t)v);
}

static void put_string(struct writer *wr, struct lme_str str)
{
    wr->w = lme_json_put_string(wr->w, str.ptr, str.len, &wr->non_utf8);
}

/* Copies s as it is: for text that is already JSON. */
static void put_cstring_raw(struct writer *wr, const char *s)
{
    put(wr, s, strlen(s));
}

static void put_cstring(struct writer *wr, const char *s)
{
    put_string(wr, (struct lme_str){ s, strlen(s) });
}

#define DAY_MS INT64_C(86400000)

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b < 0);
}

/* "1998-03-17" of the day ms falls in, from the memo when it was that day's last time too. */
static void put_date(char *w, int64_t ms, struct event_json_day *memo)
{
    int64_t day = floor_div(ms, DAY_MS);
    if (memo && memo->known && memo->day == day) {
        memcpy(w, memo->text, 10);
        return;
    }
    struct lme_civil c;
    lme_tz_civil_from_ms(ms, &c);
    if (c.year < 0 || c.year > 9999)
        c.year = c.year < 0 ? 0 : 9999;
    put_2d(w, (unsigned)c.year / 100);
    put_2d(w + 2, (unsigned)c.year % 100);
    w[4] = '-';
    put_2d(w + 5, (unsigned)c.month);
    w[7] = '-';
    put_2d(w + 8, (unsigned)c.day);
    if (memo) {
        memo->known = true;
        memo->day = day;
        memcpy(memo->text, w, 10);
    }
}

/* "1998-03-17T21:22:50.000Z", quoted */
static void put_time(struct writer *wr, int64_t ms, struct event_json_day *memo)
{
    char *w = wr->w;
    if (memo && memo->time_known && memo->time_ms == ms) {
        memcpy(w, memo->time_text, 26);
        wr->w = w + 26;
        return;
    }
    w[0] = '"';
    put_date(w + 1, ms, memo);
    unsigned rem = (unsigned)(ms - floor_div(ms, DAY_MS) * DAY_MS); /* of the day */
    unsigned secs = rem / 1000;
    w[11] = 'T';
    put_2d(w + 12, secs / 3600);
    w[14] = ':';
    put_2d(w + 15, secs / 60 % 60);
    w[17] = ':';
    put_2d(w + 18, secs % 60);
    w[20] = '.';
    w[21] = (char)('0' + rem % 1000 / 100);
    put_2d(w + 22, rem % 100);
    memcpy(w + 24, "Z\"", 2);
    wr->w = w + 26;
    if (memo) {
        memo->time_known = true;
        memo->time_ms = ms;
        memcpy(memo->time_text, w, 26);
    }
}

static void put_event_object(struct writer *wr, const struct lme_event *ev, bool original,
                             struct event_json_memo *memo)
{
    char id[33];
    if (ev->given_id)
        memcpy(id, ev->given_id, 32);
    else
        lme_event_id(ev, id);
    PUT_LIT(wr, ",\"event\":{\"id\":\"");
    put(wr, id, 32);
    *wr->w++ = '"';
    if (ev->code.len) {
        PUT_LIT(wr, ",\"code\":");
        put_string(wr, ev->code);
    }
    if (ev->severity) {
        PUT_LIT(wr, ",\"severity\":");
        put_i64(wr, ev->severity);
    }
    if (original) {
        PUT_LIT(wr, ",\"original\":");
        put_string(wr, ev->original);
    }
    PUT_LIT(wr, ",\"created\":");
    put_time(wr, ev->created_ms, memo ? &memo->created : NULL);
    if (ev->timezone.len) {
        PUT_LIT(wr, ",\"timezone\":");
        put_string(wr, ev->timezone);
    }
    if (!(ev->flags & LME_EV_INCIDENT)) {
        PUT_LIT(wr, ",\"kind\":\"event\",\"module\":\"lme\",\"dataset\":\"lme.browse\"}");
        return;
    }
    PUT_LIT(wr, ",\"kind\":\"alert\",\"type\":[");
    put_cstring(wr, ev->alert_type);
    PUT_LIT(wr, "],\"module\":\"lme\",\"dataset\":\"lme.incident\"}");
}

static void put_log_object(struct writer *wr, const struct lme_event *ev)
{
    const char *level = lme_event_level_name(ev->severity);
    PUT_LIT(wr, ",\"log\":{\"offset\":");
    put_u64(wr, ev->offset);
    if (level) {
        PUT_LIT(wr, ",\"level\":");
        put_cstring(wr, level);
    }
    if (ev->path.len) {
        PUT_LIT(wr, ",\"file\":{\"path\":");
        put_string(wr, ev->path);
        *wr->w++ = '}';
    }
    if (ev->origin_file.len) {
        PUT_LIT(wr, ",\"origin\":{\"file\":{\"name\":");
        put_string(wr, ev->origin_file);
        if (ev->origin_line >= 0) {
            PUT_LIT(wr, ",\"line\":");
            put_i64(wr, ev->origin_line);
        }
        PUT_LIT(wr, "}}");
    }
    *wr->w++ = '}';
}

static void put_process_object(struct writer *wr, const struct lme_event *ev)
{
    if (!ev->component.len && ev->thread_id < 0)
        return;
    PUT_LIT(wr, ",\"process\":{");
    const char *sep = "";
    if (ev->component.len) {
        PUT_LIT(wr, "\"name\":");
        put_string(wr, ev->component);
        sep = ",";
    }
    if (ev->thread_id >= 0) {
        put_cstring_raw(wr, sep);
        PUT_LIT(wr, "\"thread\":{\"id\":");
        put_i64(wr, ev->thread_id);
        *wr->w++ = '}';
    }
    *wr->w++ = '}';
}

static void put_tags(struct writer *wr, const struct lme_event *ev)
{
    static const struct {
        uint32_t flag;
        const char *tag;
    } tags[] = {
        { LME_EV_PARSE_FAILURE, "\"lme_parse_failure\"" },
        { LME_EV_TRUNCATED, "\"lme_truncated\"" },
        { LME_EV_NO_TIMESTAMP, "\"lme_no_timestamp\"" },
    };
    bool any = false;
    for (size_t i = 0; i < sizeof(tags) / sizeof(tags[0]); i++) {
        if (!(ev->flags & tags[i].flag))
            continue;
        put_cstring_raw(wr, any ? "," : ",\"tags\":[");
        put_cstring_raw(wr, tags[i].tag);
        any = true;
    }
    if (wr->non_utf8) {
        put_cstring_raw(wr, any ? "," : ",\"tags\":[");
        PUT_LIT(wr, "\"lme_non_utf8\"");
        any = true;
    }
    if (any)
        *wr->w++ = ']';
}

static size_t worst_case(const struct lme_event *ev, bool original)
{
    size_t text = (original ? ev->original.len : 0) + ev->message.len + ev->code.len +
                  ev->component.len + ev->origin_file.len + ev->error_type.len + ev->path.len +
                  ev->host.len + ev->timezone.len;
    return 6 * text + ev->diagnosis.len + ev->incident.len + 1024; /* 1024: every key, number and constant */
}

int event_json_encode(const struct lme_event *ev, struct lme_buf *out)
{
    static const struct event_json_opts all = { 0 };
    return event_json_encode_with(ev, &all, NULL, out);
}

bool event_json_opts_equal(const struct event_json_opts *a, const struct event_json_opts *b)
{
    return a->no_original == b->no_original;
}

int event_json_encode_with(const struct lme_event *ev, const struct event_json_opts *opts,
                           struct event_json_memo *memo, struct lme_buf *out)
{
    bool original = !opts->no_original;
    if (lme_buf_reserve(out, worst_case(ev, original)) != 0)
        return LME_ENOMEM;
    struct writer wr = { out->data + out->len, false };
    static const char *const shapes[] = { "browse", "controller", "unparsed" };

    PUT_LIT(&wr, "{\"@timestamp\":");
    put_time(&wr, ev->time_ms, memo ? &memo->timestamp : NULL);
    PUT_LIT(&wr, ",\"message\":");
    put_string(&wr, ev->message);
    put_event_object(&wr, ev, original && !(ev->flags & LME_EV_INCIDENT), memo);
    if (!(ev->flags & LME_EV_INCIDENT))
        put_log_object(&wr, ev);
    put_process_object(&wr, ev);
    if (ev->host.len || !(ev->flags & LME_EV_INCIDENT)) { /* a predicted incident may know none */
        PUT_LIT(&wr, ",\"host\":{\"name\":");
        put_string(&wr, ev->host);
        *wr.w++ = '}';
    }
    if (ev->error_type.len) {
        PUT_LIT(&wr, ",\"error\":{\"type\":");
        put_string(&wr, ev->error_type);
        *wr.w++ = '}';
    }
    PUT_LIT(&wr, ",\"ecs\":{\"version\":\"" ECS_VERSION "\"},\"lme\":{\"schema_version\":");
    put_i64(&wr, LME_SCHEMA_VERSION);
    if (!(ev->flags & LME_EV_INCIDENT)) {
        PUT_LIT(&wr, ",\"shape\":");
        put_cstring(&wr, shapes[ev->shape]);
    }
    if (ev->flags & LME_EV_TRUNCATED) {
        PUT_LIT(&wr, ",\"truncated_bytes\":");
        put_u64(&wr, ev->truncated_bytes);
    }
    if (ev->diagnosis.len) { /* already JSON, made by the enrichment stage */
        PUT_LIT(&wr, ",\"diagnosis\":");
        put(&wr, ev->diagnosis.ptr, ev->diagnosis.len);
    }
    if (ev->incident.len) { /* already JSON, made by the incident tracker */
        PUT_LIT(&wr, ",\"incident\":");
        put(&wr, ev->incident.ptr, ev->incident.len);
    }
    *wr.w++ = '}';
    put_tags(&wr, ev);
    *wr.w++ = '}';
    out->len = (size_t)(wr.w - out->data);
    return 0;
}
