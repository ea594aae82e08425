/* Event to JSON: see event_json.h. The buffer is reserved for the worst case up front (every
 * byte escaped as \u00XX is 6 bytes), so the writers below never check for room. */
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

static void put_u64(struct writer *wr, uint64_t v)
{
    char tmp[20];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n > 0)
        *wr->w++ = tmp[--n];
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

static void put_2d(struct writer *wr, int v)
{
    *wr->w++ = (char)('0' + v / 10);
    *wr->w++ = (char)('0' + v % 10);
}

/* "1998-03-17T21:22:50.000Z" */
static void put_time(struct writer *wr, int64_t ms)
{
    struct lme_civil c;
    lme_tz_civil_from_ms(ms, &c);
    *wr->w++ = '"';
    if (c.year < 0 || c.year > 9999)
        c.year = c.year < 0 ? 0 : 9999;
    put_2d(wr, c.year / 100);
    put_2d(wr, c.year % 100);
    *wr->w++ = '-';
    put_2d(wr, c.month);
    *wr->w++ = '-';
    put_2d(wr, c.day);
    *wr->w++ = 'T';
    put_2d(wr, c.hour);
    *wr->w++ = ':';
    put_2d(wr, c.min);
    *wr->w++ = ':';
    put_2d(wr, c.sec);
    *wr->w++ = '.';
    *wr->w++ = (char)('0' + c.msec / 100);
    put_2d(wr, c.msec % 100);
    put(wr, "Z\"", 2);
}

static void put_event_object(struct writer *wr, const struct lme_event *ev, bool original)
{
    char id[33];
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
    put_time(wr, ev->created_ms);
    if (ev->timezone.len) {
        PUT_LIT(wr, ",\"timezone\":");
        put_string(wr, ev->timezone);
    }
    PUT_LIT(wr, ",\"kind\":\"event\",\"module\":\"lme\",\"dataset\":\"lme.browse\"}");
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
    return 6 * text + ev->diagnosis.len + 1024; /* 1024: every key, number and constant */
}

int event_json_encode(const struct lme_event *ev, struct lme_buf *out)
{
    static const struct event_json_opts all = { 0 };
    return event_json_encode_with(ev, &all, out);
}

bool event_json_opts_equal(const struct event_json_opts *a, const struct event_json_opts *b)
{
    return a->no_original == b->no_original;
}

int event_json_encode_with(const struct lme_event *ev, const struct event_json_opts *opts,
                           struct lme_buf *out)
{
    bool original = !opts->no_original;
    if (lme_buf_reserve(out, worst_case(ev, original)) != 0)
        return LME_ENOMEM;
    struct writer wr = { out->data + out->len, false };
    static const char *const shapes[] = { "browse", "controller", "unparsed" };

    PUT_LIT(&wr, "{\"@timestamp\":");
    put_time(&wr, ev->time_ms);
    PUT_LIT(&wr, ",\"message\":");
    put_string(&wr, ev->message);
    put_event_object(&wr, ev, original);
    put_log_object(&wr, ev);
    put_process_object(&wr, ev);
    PUT_LIT(&wr, ",\"host\":{\"name\":");
    put_string(&wr, ev->host);
    *wr.w++ = '}';
    if (ev->error_type.len) {
        PUT_LIT(&wr, ",\"error\":{\"type\":");
        put_string(&wr, ev->error_type);
        *wr.w++ = '}';
    }
    PUT_LIT(&wr, ",\"ecs\":{\"version\":\"" ECS_VERSION "\"},\"lme\":{\"schema_version\":");
    put_i64(&wr, LME_SCHEMA_VERSION);
    PUT_LIT(&wr, ",\"shape\":");
    put_cstring(&wr, shapes[ev->shape]);
    if (ev->flags & LME_EV_TRUNCATED) {
        PUT_LIT(&wr, ",\"truncated_bytes\":");
        put_u64(&wr, ev->truncated_bytes);
    }
    if (ev->diagnosis.len) { /* already JSON, made by the enrichment stage */
        PUT_LIT(&wr, ",\"diagnosis\":");
        put(&wr, ev->diagnosis.ptr, ev->diagnosis.len);
    }
    *wr.w++ = '}';
    put_tags(&wr, ev);
    *wr.w++ = '}';
    out->len = (size_t)(wr.w - out->data);
    return 0;
}
