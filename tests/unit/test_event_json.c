/* Unit tests of event_json_encode (sinks/event_json.c): hand-built events are encoded, decoded
 * back with jansson, and checked field by field against docs/schema.md, escaping and UTF-8 included. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "event.h"
#include "event_json.h"
#include "json_str.h"

#define S(lit) ((struct lme_str){ (lit), sizeof(lit) - 1 })
#define NONE ((struct lme_str){ NULL, 0 })
#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- helpers ---- */

/* The smallest event: every optional field absent. */
static struct lme_event minimal_event(void)
{
    struct lme_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.host = S("exch01");
    ev.original = S("08226 Process terminated");
    ev.message = S("Process terminated");
    ev.thread_id = -1;
    ev.origin_line = -1;
    ev.severity = 0;
    ev.shape = LME_SHAPE_CONTROLLER;
    return ev;
}

static const char ex_original[] =
    "1998/03/17 22:22:50 - LME-NOTES-MEXNTS(018b) 1 41220:Error: no Notes\r\nSession Open\r\n"
    ">> ntshcs(2317)";

/* The example of docs/schema.md. */
static struct lme_event example_event(void)
{
    struct lme_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.path = S("/logs/exch01/980317ZZ.log");
    ev.host = S("exch01");
    ev.timezone = S("America/New_York");
    ev.file_dev = 2049;
    ev.file_ino = 1234567;
    ev.offset = 1187;
    ev.end_offset = 1187 + sizeof(ex_original) - 1 + 2;
    ev.time_ms = 890191370000;     /* 1998-03-18T03:22:50.000Z */
    ev.created_ms = 1795985221123; /* 2026-11-29T20:47:01.123Z */
    ev.original = S(ex_original);
    ev.message = S("Error: no Notes Session Open");
    ev.code = S("41220");
    ev.component = S("LME-NOTES-MEXNTS");
    ev.origin_file = S("ntshcs");
    ev.thread_id = 0x18b;
    ev.origin_line = 2317;
    ev.severity = 1;
    ev.shape = LME_SHAPE_BROWSE;
    return ev;
}

/* Encodes ev into a fresh buffer; the caller frees it. */
static struct lme_buf encode_raw(const struct lme_event *ev)
{
    struct lme_buf b = LME_BUF_INIT;
    assert_int_equal(event_json_encode(ev, &b), 0);
    assert_non_null(b.data);
    assert_true(b.len > 0 && b.len <= b.cap);
    /* One line of JSON Lines: no raw line end may be left in it. */
    assert_null(memchr(b.data, '\n', b.len));
    assert_null(memchr(b.data, '\r', b.len));
    return b;
}

static void assert_no_nulls(const json_t *v, const char *where)
{
    if (json_is_null(v))
        fail_msg("%s is null (absent fields must be left out)", where);
    if (json_is_object(v)) {
        const char *key;
        json_t *child;
        json_object_foreach((json_t *)v, key, child) assert_no_nulls(child, key);
    } else if (json_is_array(v)) {
        size_t i;
        json_t *child;
        json_array_foreach(v, i, child) assert_no_nulls(child, where);
    }
}

static json_t *decode(const char *data, size_t len, size_t flags)
{
    json_error_t e;
    json_t *j = json_loadb(data, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL | flags, &e);
    if (!j)
        fail_msg("not valid JSON (%s at byte %d): %.*s", e.text, e.position,
                 (int)(len > 2000 ? 2000 : len), data);
    assert_true(json_is_object(j));
    assert_no_nulls(j, "the event");
    return j;
}

/* Encodes and decodes; the caller json_decref()s the result. */
static json_t *encode(const struct lme_event *ev)
{
    struct lme_buf b = encode_raw(ev);
    json_t *j = decode(b.data, b.len, 0);
    lme_buf_free(&b);
    return j;
}

/* The value at a dotted path ("log.origin.file.name"), or NULL. */
static json_t *at(json_t *root, const char *path)
{
    char key[128];
    json_t *v = root;
    const char *p = path;
    while (v && *p) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        assert_true(n < sizeof(key));
        memcpy(key, p, n);
        key[n] = '\0';
        v = json_is_object(v) ? json_object_get(v, key) : NULL;
        p += n + (dot ? 1 : 0);
    }
    return v;
}

static const char *str_at(json_t *root, const char *path)
{
    json_t *v = at(root, path);
    if (!json_is_string(v))
        fail_msg("%s is %s, expected a string", path, v ? "not a string" : "absent");
    return json_string_value(v);
}

static json_int_t int_at(json_t *root, const char *path)
{
    json_t *v = at(root, path);
    if (!json_is_integer(v))
        fail_msg("%s is %s, expected an integer", path, v ? "not an integer" : "absent");
    return json_integer_value(v);
}

static void assert_str_at(json_t *root, const char *path, const char *want)
{
    const char *got = str_at(root, path);
    if (strcmp(got, want) != 0)
        fail_msg("%s is \"%s\", expected \"%s\"", path, got, want);
}

static void assert_absent(json_t *root, const char *path)
{
    if (at(root, path))
        fail_msg("%s is present, expected absent", path);
}

/* Asserts the string at path holds exactly want[0..want_len) (NULs included). */
static void assert_bytes_at(json_t *root, const char *path, const char *want, size_t want_len)
{
    json_t *v = at(root, path);
    if (!json_is_string(v))
        fail_msg("%s is not a string", path);
    size_t got_len = json_string_length(v);
    const char *got = json_string_value(v);
    if (got_len != want_len || memcmp(got, want, want_len) != 0) {
        char hex[600] = "";
        size_t o = 0;
        for (size_t i = 0; i < got_len && o + 4 < sizeof(hex); i++)
            o += (size_t)snprintf(hex + o, sizeof(hex) - o, "%02x ", (unsigned char)got[i]);
        fail_msg("%s: got %zu bytes [%s], expected %zu", path, got_len, hex, want_len);
    }
}

static bool has_tag(json_t *root, const char *tag)
{
    json_t *tags = json_object_get(root, "tags");
    size_t i;
    json_t *t;
    json_array_foreach(tags, i, t) {
        assert_true(json_is_string(t));
        if (strcmp(json_string_value(t), tag) == 0)
            return true;
    }
    return false;
}

/* Asserts the tags are exactly the given set (any order, each once); n == 0: no "tags" key. */
static void assert_tags(json_t *root, size_t n, const char *const *want)
{
    json_t *tags = json_object_get(root, "tags");
    if (n == 0) {
        if (tags)
            fail_msg("\"tags\" present (%zu entries), expected no tags key", json_array_size(tags));
        return;
    }
    if (!json_is_array(tags))
        fail_msg("\"tags\" is missing or not an array");
    assert_int_equal(json_array_size(tags), n);
    for (size_t i = 0; i < n; i++)
        if (!has_tag(root, want[i]))
            fail_msg("tag %s missing", want[i]);
}

static void assert_keys(json_t *obj, const char *what, size_t n, const char *const *want)
{
    if (!json_is_object(obj))
        fail_msg("%s is not an object", what);
    for (size_t i = 0; i < n; i++)
        if (!json_object_get(obj, want[i]))
            fail_msg("%s has no key %s", what, want[i]);
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        bool known = false;
        for (size_t i = 0; i < n; i++)
            known = known || strcmp(key, want[i]) == 0;
        if (!known)
            fail_msg("%s has unexpected key %s", what, key);
    }
}

static bool contains(const struct lme_buf *b, const char *needle, size_t n)
{
    return memmem(b->data, b->len, needle, n) != NULL;
}

/* ---- layout ---- */

static void test_minimal_event_has_exactly_the_required_fields(void **state)
{
    (void)state;
    struct lme_event ev = minimal_event();
    json_t *j = encode(&ev);
    static const char *const top[] = { "@timestamp", "message", "event", "log", "host", "ecs", "lme" };
    assert_keys(j, "the event", ARRAY_LEN(top), top);
    static const char *const event[] = { "id", "original", "created", "kind", "module", "dataset" };
    assert_keys(at(j, "event"), "event", ARRAY_LEN(event), event);
    static const char *const log[] = { "offset" };
    assert_keys(at(j, "log"), "log", ARRAY_LEN(log), log);
    static const char *const host[] = { "name" };
    assert_keys(at(j, "host"), "host", ARRAY_LEN(host), host);
    static const char *const ecs[] = { "version" };
    assert_keys(at(j, "ecs"), "ecs", ARRAY_LEN(ecs), ecs);
    static const char *const lme[] = { "schema_version", "shape" };
    assert_keys(at(j, "lme"), "lme", ARRAY_LEN(lme), lme);

    assert_str_at(j, "@timestamp", "1970-01-01T00:00:00.000Z");
    assert_str_at(j, "message", "Process terminated");
    assert_str_at(j, "event.original", "08226 Process terminated");
    assert_str_at(j, "event.created", "1970-01-01T00:00:00.000Z");
    assert_str_at(j, "event.kind", "event");
    assert_str_at(j, "event.module", "lme");
    assert_str_at(j, "event.dataset", "lme.browse");
    assert_int_equal(int_at(j, "log.offset"), 0);
    assert_str_at(j, "host.name", "exch01");
    assert_str_at(j, "ecs.version", "8.11.0");
    assert_int_equal(int_at(j, "lme.schema_version"), LME_SCHEMA_VERSION);
    assert_str_at(j, "lme.shape", "controller");
    json_decref(j);
}

static void test_schema_example_encodes_as_documented(void **state)
{
    (void)state;
    struct lme_event ev = example_event();
    json_t *j = encode(&ev);
    assert_str_at(j, "@timestamp", "1998-03-18T03:22:50.000Z");
    assert_str_at(j, "message", "Error: no Notes Session Open");
    assert_str_at(j, "event.code", "41220");
    assert_int_equal(int_at(j, "event.severity"), 1);
    assert_str_at(j, "event.original", ex_original);
    assert_str_at(j, "event.created", "2026-11-29T20:47:01.123Z");
    assert_str_at(j, "event.timezone", "America/New_York");
    assert_str_at(j, "event.kind", "event");
    assert_str_at(j, "event.module", "lme");
    assert_str_at(j, "event.dataset", "lme.browse");
    assert_int_equal(int_at(j, "log.offset"), 1187);
    assert_str_at(j, "log.level", "error");
    assert_str_at(j, "log.file.path", "/logs/exch01/980317ZZ.log");
    assert_str_at(j, "log.origin.file.name", "ntshcs");
    assert_int_equal(int_at(j, "log.origin.file.line"), 2317);
    assert_str_at(j, "process.name", "LME-NOTES-MEXNTS");
    assert_int_equal(int_at(j, "process.thread.id"), 395);
    assert_str_at(j, "host.name", "exch01");
    assert_str_at(j, "ecs.version", "8.11.0");
    assert_int_equal(int_at(j, "lme.schema_version"), 1);
    assert_str_at(j, "lme.shape", "browse");
    assert_absent(j, "error");
    assert_absent(j, "lme.truncated_bytes");
    assert_tags(j, 0, NULL);
    json_decref(j);
}

static void test_event_id_is_32_lowercase_hex_and_equals_lme_event_id(void **state)
{
    (void)state;
    for (int k = 0; k < 2; k++) {
        struct lme_event ev = k ? example_event() : minimal_event();
        char want[33];
        lme_event_id(&ev, want);
        json_t *j = encode(&ev);
        const char *id = str_at(j, "event.id");
        assert_int_equal(strlen(id), 32);
        for (int i = 0; i < 32; i++)
            assert_true((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f'));
        assert_string_equal(id, want);
        json_decref(j);
    }
}

/* ---- @timestamp and event.created ---- */

static void test_timestamp_is_rfc3339_utc_with_milliseconds(void **state)
{
    (void)state;
    static const struct {
        int64_t ms;
        const char *want;
    } cases[] = {
        { 0, "1970-01-01T00:00:00.000Z" },
        { 1, "1970-01-01T00:00:00.001Z" },
        { 999, "1970-01-01T00:00:00.999Z" },
        { 1000, "1970-01-01T00:00:01.000Z" },
        { 890169770000, "1998-03-17T21:22:50.000Z" },
        { 890191370123, "1998-03-18T03:22:50.123Z" },
        { 951782400000, "2000-02-29T00:00:00.000Z" },
        { 951868799999, "2000-02-29T23:59:59.999Z" },
        { 1795985221123, "2026-11-29T20:47:01.123Z" },
        { 253402300799999, "9999-12-31T23:59:59.999Z" },
        /* before 1970: milliseconds count up from the earlier second */
        { -1, "1969-12-31T23:59:59.999Z" },
        { -999, "1969-12-31T23:59:59.001Z" },
        { -1000, "1969-12-31T23:59:59.000Z" },
        { -1001, "1969-12-31T23:59:58.999Z" },
        { -86400000, "1969-12-31T00:00:00.000Z" },
        { -86400001, "1969-12-30T23:59:59.999Z" },
        { -315619200000, "1960-01-01T00:00:00.000Z" },
        { -2208988800000, "1900-01-01T00:00:00.000Z" },
        { -62135596800000, "0001-01-01T00:00:00.000Z" },
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        struct lme_event ev = minimal_event();
        ev.time_ms = cases[i].ms;
        ev.created_ms = cases[i].ms;
        json_t *j = encode(&ev);
        const char *ts = str_at(j, "@timestamp"), *cr = str_at(j, "event.created");
        if (strcmp(ts, cases[i].want) != 0)
            fail_msg("time_ms %lld: @timestamp \"%s\", expected \"%s\"", (long long)cases[i].ms,
                     ts, cases[i].want);
        if (strcmp(cr, cases[i].want) != 0)
            fail_msg("created_ms %lld: event.created \"%s\", expected \"%s\"",
                     (long long)cases[i].ms, cr, cases[i].want);
        json_decref(j);
    }
}

static void test_created_is_independent_of_timestamp(void **state)
{
    (void)state;
    struct lme_event ev = minimal_event();
    ev.time_ms = 890169770000;
    ev.created_ms = 1795985221123;
    json_t *j = encode(&ev);
    assert_str_at(j, "@timestamp", "1998-03-17T21:22:50.000Z");
    assert_str_at(j, "event.created", "2026-11-29T20:47:01.123Z");
    json_decref(j);
}

/* ---- event fields ---- */

static void test_event_code_is_a_string_keeping_leading_zeros(void **state)
{
    (void)state;
    static const char *const codes[] = { "00510", "00000", "08226", "99999" };
    for (size_t i = 0; i < ARRAY_LEN(codes); i++) {
        struct lme_event ev = minimal_event();
        ev.code = (struct lme_str){ codes[i], 5 };
        json_t *j = encode(&ev);
        assert_str_at(j, "event.code", codes[i]);
        json_decref(j);
    }
}

static void test_event_code_is_absent_when_empty(void **state)
{
    (void)state;
    struct lme_event ev = minimal_event();
    ev.code = NONE;
    json_t *j = encode(&ev);
    assert_absent(j, "event.code");
    json_decref(j);
}

static void test_severity_1_to_4_gives_integer_and_level_word(void **state)
{
    (void)state;
    static const char *const words[] = { NULL, "error", "warning", "info", "debug" };
    for (int sev = 1; sev <= 4; sev++) {
        struct lme_event ev = minimal_event();
        ev.severity = sev;
        json_t *j = encode(&ev);
        assert_int_equal(int_at(j, "event.severity"), sev);
        assert_str_at(j, "log.level", words[sev]);
        json_decref(j);
    }
}

static void test_severity_0_leaves_out_severity_and_level(void **state)
{
    (void)state;
    struct lme_event ev = example_event();
    ev.severity = 0;
    json_t *j = encode(&ev);
    assert_absent(j, "event.severity");
    assert_absent(j, "log.level");
    json_decref(j);
}

static void test_timezone_present_only_when_set(void **state)
{
    (void)state;
    struct lme_event ev = minimal_event();
    ev.timezone = S("Europe/Berlin");
    json_t *j = encode(&ev);
    assert_str_at(j, "event.timezone", "Europe/Berlin");
    json_decref(j);
    ev.timezone = NONE;
    j = encode(&ev);
    assert_absent(j, "event.timezone");
    json_decref(j);
}

static void test_event_original_keeps_line_ends_and_bytes(void **state)
{
    (void)state;
    static const char orig[] = "2000/01/01 00:00 - DXM(1) 3 00510:a\r\nb\n\tc  \r\n>> m(1)";
    struct lme_event ev = minimal_event();
    ev.original = S(orig);
    json_t *j = encode(&ev);
    assert_bytes_at(j, "event.original", orig, sizeof(orig) - 1);
    json_decref(j);
}

/* ---- process ---- */

static void test_process_name_and_thread_id_appear_independently(void **state)
{
    (void)state;
    struct lme_event ev = minimal_event();

    ev.component = S("DXM");
    ev.thread_id = 0xffffffff;
    json_t *j = encode(&ev);
    assert_str_at(j, "process.name", "DXM");
    assert_int_equal(int_at(j, "process.thread.id"), 0xffffffffLL);
    json_decref(j);

    ev.component = NONE;
    ev.thread_id = 0;
    j = encode(&ev);
    assert_absent(j, "process.name");
    assert_int_equal(int_at(j, "process.thread.id"), 0);
    json_decref(j);

    ev.component = S("control");
    ev.thread_id = -1;
    j = encode(&ev);
    assert_str_at(j, "process.name", "control");
    assert_absent(j, "process.thread");
    json_decref(j);

    ev.component = NONE;
    ev.thread_id = -1;
    j = encode(&ev);
    assert_absent(j, "process");
    json_decref(j);
}

static void test_thread_id_keeps_full_64_bit_range(void **state)
{
    (void)state;
    static const int64_t ids[] = { 1, 0x18b, 0x7fffffff, 0x80000000LL, 0xffffffffLL, 0x100000000LL,
                                   INT64_MAX };
    for (size_t i = 0; i < ARRAY_LEN(ids); i++) {
        struct lme_event ev = minimal_event();
        ev.thread_id = ids[i];
        json_t *j = encode(&ev);
        assert_true(int_at(j, "process.thread.id") == ids[i]);
        json_decref(j);
    }
}

/* ---- log ---- */

static void test_origin_file_name_and_line(void **state)
{
    (void)state;
    struct lme_event ev = minimal_event();
    ev.origin_file = S("ntshcs");
    ev.origin_line = 2317;
    json_t *j = encode(&ev);
    assert_str_at(j, "log.origin.file.name", "ntshcs");
    assert_int_equal(int_at(j, "log.origin.file.line"), 2317);
    json_decref(j);

    ev.origin_line = 0;
    j = encode(&ev);
    assert_int_equal(int_at(j, "log.origin.file.line"), 0);
    json_decref(j);

    ev.origin_line = INT32_MAX;
    j = encode(&ev);
    assert_int_equal(int_at(j, "log.origin.file.line"), INT32_MAX);
    json_decref(j);

    ev.origin_line = -1;
    j = encode(&ev);
    assert_str_at(j, "log.origin.file.name", "ntshcs");
    assert_absent(j, "log.origin.file.line");
    json_decref(j);

    ev.origin_file = NONE;
    ev.origin_line = -1;
    j = encode(&ev);
    assert_absent(j, "log.origin");
    json_decref(j);
}

static void test_log_offset_above_4_gib_is_exact(void **state)
{
    (void)state;
    static const uint64_t offsets[] = { 1, 4294967295ULL, 4294967296ULL, 4294967301ULL,
                                        9007199254740993ULL /* 2^53 + 1: not a double */,
                                        (uint64_t)INT64_MAX };
    for (size_t i = 0; i < ARRAY_LEN(offsets); i++) {
        struct lme_event ev = minimal_event();
        ev.offset = offsets[i];
        json_t *j = encode(&ev);
        assert_true((uint64_t)int_at(j, "log.offset") == offsets[i]);
        json_decref(j);
    }
    /* Beyond what a signed 64-bit reader holds: still the exact digits. */
    struct lme_event ev = minimal_event();
    ev.offset = UINT64_MAX;
    struct lme_buf b = encode_raw(&ev);
    static const char want[] = "\"offset\":18446744073709551615";
    assert_true(contains(&b, want, sizeof(want) - 1));
    json_decref(decode(b.data, b.len, JSON_DECODE_INT_AS_REAL));
    lme_buf_free(&b);
}

static void test_log_file_path_absent_when_length_is_0(void **state)
{
    (void)state;
    struct lme_event ev = minimal_event();
    ev.path = (struct lme_str){ "/not/this", 0 };
    json_t *j = encode(&ev);
    assert_absent(j, "log.file");
    json_decref(j);

    ev.path = S("/logs/a b/\xc3\xa9.log");
    j = encode(&ev);
    assert_str_at(j, "log.file.path", "/logs/a b/\xc3\xa9.log");
    json_decref(j);
}

/* ---- host, error, lme ---- */

static void test_host_name_is_always_present(void **state)
{
    (void)state;
    struct lme_event ev = minimal_event();
    ev.host = S("mail-01.example.org");
    json_t *j = encode(&ev);
    assert_str_at(j, "host.name", "mail-01.example.org");
    json_decref(j);
}

static void test_error_type_present_only_when_set(void **state)
{
    (void)state;
    struct lme_event ev = minimal_event();
    ev.error_type = S("Unknown error");
    json_t *j = encode(&ev);
    assert_str_at(j, "error.type", "Unknown error");
    json_decref(j);
    ev.error_type = NONE;
    j = encode(&ev);
    assert_absent(j, "error");
    json_decref(j);
}

static void test_shape_names_every_enum_value(void **state)
{
    (void)state;
    static const struct {
        enum lme_event_shape shape;
        const char *name;
    } cases[] = {
        { LME_SHAPE_BROWSE, "browse" },
        { LME_SHAPE_CONTROLLER, "controller" },
        { LME_SHAPE_UNPARSED, "unparsed" },
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        struct lme_event ev = minimal_event();
        ev.shape = cases[i].shape;
        json_t *j = encode(&ev);
        assert_str_at(j, "lme.shape", cases[i].name);
        assert_int_equal(int_at(j, "lme.schema_version"), LME_SCHEMA_VERSION);
        json_decref(j);
    }
}

static void test_truncated_bytes_only_with_truncated_flag(void **state)
{
    (void)state;
    struct lme_event ev = minimal_event();
    ev.flags = LME_EV_TRUNCATED;
    ev.truncated_bytes = 5000000000ULL;
    json_t *j = encode(&ev);
    assert_true(int_at(j, "lme.truncated_bytes") == 5000000000LL);
    json_decref(j);

    ev.truncated_bytes = 0;
    j = encode(&ev);
    assert_int_equal(int_at(j, "lme.truncated_bytes"), 0);
    json_decref(j);

    ev.flags = 0;
    ev.truncated_bytes = 123;
    j = encode(&ev);
    assert_absent(j, "lme.truncated_bytes");
    json_decref(j);

    ev.flags = LME_EV_PARSE_FAILURE | LME_EV_NO_TIMESTAMP;
    j = encode(&ev);
    assert_absent(j, "lme.truncated_bytes");
    json_decref(j);
}

/* ---- tags ---- */

static void test_no_tags_key_when_no_flag_applies(void **state)
{
    (void)state;
    struct lme_event ev = example_event();
    ev.flags = 0;
    json_t *j = encode(&ev);
    assert_null(json_object_get(j, "tags"));
    json_decref(j);
}

static void test_each_flag_gives_its_tag(void **state)
{
    (void)state;
    static const struct {
        uint32_t flags;
        size_t n;
        const char *tags[3];
    } cases[] = {
        { LME_EV_PARSE_FAILURE, 1, { "lme_parse_failure" } },
        { LME_EV_TRUNCATED, 1, { "lme_truncated" } },
        { LME_EV_NO_TIMESTAMP, 1, { "lme_no_timestamp" } },
        { LME_EV_PARSE_FAILURE | LME_EV_NO_TIMESTAMP, 2, { "lme_parse_failure", "lme_no_timestamp" } },
        { LME_EV_TRUNCATED | LME_EV_NO_TIMESTAMP, 2, { "lme_truncated", "lme_no_timestamp" } },
        { LME_EV_PARSE_FAILURE | LME_EV_TRUNCATED | LME_EV_NO_TIMESTAMP, 3,
          { "lme_parse_failure", "lme_truncated", "lme_no_timestamp" } },
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        struct lme_event ev = minimal_event();
        ev.flags = cases[i].flags;
        json_t *j = encode(&ev);
        assert_tags(j, cases[i].n, cases[i].tags);
        json_decref(j);
    }
}

static void test_non_utf8_tag_joins_the_flag_tags(void **state)
{
    (void)state;
    struct lme_event ev = minimal_event();
    ev.flags = LME_EV_PARSE_FAILURE | LME_EV_TRUNCATED;
    ev.message = S("caf\xe9");
    json_t *j = encode(&ev);
    static const char *const want[] = { "lme_parse_failure", "lme_truncated", "lme_non_utf8" };
    assert_tags(j, 3, want);
    json_decref(j);

    ev.flags = 0;
    j = encode(&ev);
    static const char *const only[] = { "lme_non_utf8" };
    assert_tags(j, 1, only);
    json_decref(j);
}

/* ---- escaping ---- */

/* Encodes in[0..n) as the message and checks it decodes to want[0..want_n) with or without the
 * lme_non_utf8 tag. */
static void check_message(const char *in, size_t n, const char *want, size_t want_n, bool non_utf8)
{
    struct lme_event ev = minimal_event();
    ev.message = (struct lme_str){ in, n };
    json_t *j = encode(&ev);
    assert_bytes_at(j, "message", want, want_n);
    if (has_tag(j, "lme_non_utf8") != non_utf8)
        fail_msg("lme_non_utf8 tag %s, expected %s", non_utf8 ? "missing" : "present",
                 non_utf8 ? "present" : "absent");
    json_decref(j);
}

static void test_quotes_and_backslashes_round_trip(void **state)
{
    (void)state;
    static const char s[] = "say \"hi\" \\ C:\\Exchsrvr\\bin\\ \\\" \"\\ \\u0041 /";
    check_message(s, sizeof(s) - 1, s, sizeof(s) - 1, false);
    check_message("\"", 1, "\"", 1, false);
    check_message("\\", 1, "\\", 1, false);
    check_message("\"\"\"\"\"\"\"\"\"", 9, "\"\"\"\"\"\"\"\"\"", 9, false);
    check_message("\\\\\\\\\\\\\\\\\\", 9, "\\\\\\\\\\\\\\\\\\", 9, false);
}

static void test_every_control_byte_round_trips(void **state)
{
    (void)state;
    char all[34];
    for (int c = 0; c < 0x20; c++)
        all[c] = (char)c;
    all[32] = 0x7f;
    all[33] = 'x';
    check_message(all, sizeof(all), all, sizeof(all), false);
    for (int c = 0; c < 0x20; c++) {
        char one[3] = { 'a', (char)c, 'b' };
        check_message(one, 3, one, 3, false);
        check_message(one + 1, 1, one + 1, 1, false);
    }
}

static void test_embedded_nul_inside_a_slice_round_trips(void **state)
{
    (void)state;
    static const char s[] = "before\0after\0\0end";
    check_message(s, sizeof(s) - 1, s, sizeof(s) - 1, false);
    check_message(s, sizeof(s), s, sizeof(s), false); /* and a trailing NUL */
}

static void test_slice_is_read_by_length_not_to_a_nul(void **state)
{
    (void)state;
    static const char s[] = "abc\"def";
    check_message(s, 3, "abc", 3, false);
    check_message(s, 0, "", 0, false);
}

static void test_every_text_field_is_escaped(void **state)
{
    (void)state;
    static const struct {
        const char *path;
        size_t off;
    } fields[] = {
        { "message", offsetof(struct lme_event, message) },
        { "event.original", offsetof(struct lme_event, original) },
        { "event.code", offsetof(struct lme_event, code) },
        { "event.timezone", offsetof(struct lme_event, timezone) },
        { "log.file.path", offsetof(struct lme_event, path) },
        { "log.origin.file.name", offsetof(struct lme_event, origin_file) },
        { "process.name", offsetof(struct lme_event, component) },
        { "host.name", offsetof(struct lme_event, host) },
        { "error.type", offsetof(struct lme_event, error_type) },
    };
    static const char in[] = "q\"b\\n\n\x01z\0";
    for (size_t i = 0; i < ARRAY_LEN(fields); i++) {
        struct lme_event ev = minimal_event();
        memcpy((char *)&ev + fields[i].off, &(struct lme_str){ in, sizeof(in) - 1 },
               sizeof(struct lme_str));
        json_t *j = encode(&ev);
        assert_bytes_at(j, fields[i].path, in, sizeof(in) - 1);
        assert_false(has_tag(j, "lme_non_utf8"));
        json_decref(j);
    }
}

static void test_non_utf8_byte_in_any_text_field_is_read_as_cp1252_and_tagged(void **state)
{
    (void)state;
    static const struct {
        const char *path;
        size_t off;
    } fields[] = {
        { "message", offsetof(struct lme_event, message) },
        { "event.original", offsetof(struct lme_event, original) },
        { "event.code", offsetof(struct lme_event, code) },
        { "event.timezone", offsetof(struct lme_event, timezone) },
        { "log.file.path", offsetof(struct lme_event, path) },
        { "log.origin.file.name", offsetof(struct lme_event, origin_file) },
        { "process.name", offsetof(struct lme_event, component) },
        { "host.name", offsetof(struct lme_event, host) },
        { "error.type", offsetof(struct lme_event, error_type) },
    };
    for (size_t i = 0; i < ARRAY_LEN(fields); i++) {
        struct lme_event ev = minimal_event();
        memcpy((char *)&ev + fields[i].off, &S("M\xfcller\x80"), sizeof(struct lme_str));
        json_t *j = encode(&ev);
        assert_str_at(j, fields[i].path, "M\xc3\xbcller\xe2\x82\xac");
        if (!has_tag(j, "lme_non_utf8"))
            fail_msg("a non-UTF-8 byte in %s does not tag the event lme_non_utf8", fields[i].path);
        json_decref(j);
    }
}

/* ---- UTF-8 ---- */

static void test_valid_multibyte_utf8_passes_through_unchanged(void **state)
{
    (void)state;
    static const char *const seqs[] = {
        "\xc2\x80",         /* U+0080, smallest 2-byte */
        "\xc3\xa9",         /* é */
        "\xdf\xbf",         /* U+07FF */
        "\xe0\xa0\x80",     /* U+0800, smallest 3-byte */
        "\xe2\x82\xac",     /* € */
        "\xed\x9f\xbf",     /* U+D7FF, last before the surrogates */
        "\xee\x80\x80",     /* U+E000, first after them */
        "\xef\xbf\xbf",     /* U+FFFF */
        "\xf0\x90\x80\x80", /* U+10000, smallest 4-byte */
        "\xf0\x9f\x98\x80", /* 😀 */
        "\xf4\x8f\xbf\xbf", /* U+10FFFF, the last code point */
    };
    for (size_t i = 0; i < ARRAY_LEN(seqs); i++) {
        char in[32];
        int n = snprintf(in, sizeof(in), "x%sy%s", seqs[i], seqs[i]);
        struct lme_event ev = minimal_event();
        ev.message = (struct lme_str){ in, (size_t)n };
        struct lme_buf b = encode_raw(&ev);
        /* unchanged in the output bytes, not escaped as \u */
        assert_true(contains(&b, in, (size_t)n));
        json_t *j = decode(b.data, b.len, 0);
        assert_bytes_at(j, "message", in, (size_t)n);
        if (has_tag(j, "lme_non_utf8"))
            fail_msg("valid sequence %zu tagged lme_non_utf8", i);
        json_decref(j);
        lme_buf_free(&b);
    }
}

/* Windows-1252 for 0x80..0x9F, the five undefined bytes as C1 controls (docs/schema.md). */
static const unsigned cp1252[32] = {
    0x20AC, 0x0081, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, /* 80..87 */
    0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008D, 0x017D, 0x008F, /* 88..8F */
    0x0090, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, /* 90..97 */
    0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x009D, 0x017E, 0x0178, /* 98..9F */
};

static size_t put_utf8(char *out, unsigned cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    out[0] = (char)(0xE0 | (cp >> 12));
    out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
}

static unsigned cp1252_char(unsigned char c)
{
    return c >= 0x80 && c < 0xA0 ? cp1252[c - 0x80] : c;
}

static void test_every_high_byte_alone_is_its_windows_1252_character(void **state)
{
    (void)state;
    /* 0x80..0xFF in order: no two neighbours form a UTF-8 sequence, so each stands alone. */
    char in[128], want[128 * 3];
    size_t wn = 0;
    for (int c = 0x80; c <= 0xFF; c++) {
        in[c - 0x80] = (char)c;
        wn += put_utf8(want + wn, cp1252_char((unsigned char)c));
    }
    check_message(in, sizeof(in), want, wn, true);
    /* And each one by itself, between ASCII letters. */
    for (int c = 0x80; c <= 0xFF; c++) {
        char one[3] = { 'a', (char)c, 'b' }, w[5];
        size_t n = 0;
        w[n++] = 'a';
        n += put_utf8(w + n, cp1252_char((unsigned char)c));
        w[n++] = 'b';
        check_message(one, 3, w, n, true);
    }
}

static void test_invalid_utf8_sequences_are_read_as_cp1252_and_tagged(void **state)
{
    (void)state;
    static const struct {
        const char *in, *want;
    } cases[] = {
        { "\xa0", "\xc2\xa0" },                        /* NT's padding byte: U+00A0 */
        { "a\xa0\xa0" "b", "a\xc2\xa0\xc2\xa0" "b" },
        { "\x80", "\xe2\x82\xac" },                    /* U+20AC */
        { "\x81", "\xc2\x81" },                        /* undefined in 1252: U+0081 */
        { "\x8d\x8f\x90\x9d", "\xc2\x8d\xc2\x8f\xc2\x90\xc2\x9d" },
        { "\xe9t\xe9", "\xc3\xa9t\xc3\xa9" },
        { "x\xe2\x82", "x\xc3\xa2\xe2\x80\x9a" },      /* truncated € at the end */
        { "\xe2\x82x", "\xc3\xa2\xe2\x80\x9ax" },      /* truncated € before ASCII */
        { "\xf0\x9f\x98", "\xc3\xb0\xc5\xb8\xcb\x9c" }, /* truncated 4-byte at the end */
        { "\xc3", "\xc3\x83" },                        /* lone lead at the end */
        { "\xc0\xaf", "\xc3\x80\xc2\xaf" },            /* overlong '/' */
        { "\xc1\xbf", "\xc3\x81\xc2\xbf" },            /* overlong U+007F */
        { "\xe0\x80\xaf", "\xc3\xa0\xe2\x82\xac\xc2\xaf" }, /* overlong 3-byte */
        { "\xf0\x80\x80\xaf", "\xc3\xb0\xe2\x82\xac\xe2\x82\xac\xc2\xaf" }, /* overlong 4-byte */
        { "\xed\xa0\x80", "\xc3\xad\xc2\xa0\xe2\x82\xac" }, /* surrogate U+D800 */
        { "\xed\xbf\xbf", "\xc3\xad\xc2\xbf\xc2\xbf" },     /* surrogate U+DFFF */
        { "\xf4\x90\x80\x80", "\xc3\xb4\xc2\x90\xe2\x82\xac\xe2\x82\xac" }, /* above U+10FFFF */
        { "\xf5\x80\x80\x80", "\xc3\xb5\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac" },
        { "\xf5", "\xc3\xb5" },
        { "\xff\xfe", "\xc3\xbf\xc3\xbe" },
        { "\xbf", "\xc2\xbf" },                        /* lone continuation byte */
        { "\xc3\xa9\xa9", "\xc3\xa9\xc2\xa9" },        /* é then a stray continuation */
        { "\xc3" "A", "\xc3\x83" "A" },                /* lead without continuation */
        { "\xe2\x82\xac\xe2\x82", "\xe2\x82\xac\xc3\xa2\xe2\x80\x9a" }, /* valid then truncated */
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++)
        check_message(cases[i].in, strlen(cases[i].in), cases[i].want, strlen(cases[i].want), true);
}

/* ---- the 8-bytes-at-a-time fast path ---- */

/* Plain filler, including the neighbours of the special bytes (0x20, 0x21, 0x23, 0x5B, 0x5D,
 * 0x7E, 0x7F) so that nothing is caught by near misses. */
static const char filler[] = " !#[]~\x7f" "AZaz09/{}";

static void fill(char *p, size_t n, size_t start)
{
    for (size_t i = 0; i < n; i++)
        p[i] = filler[(start + i) % (sizeof(filler) - 1)];
}

static void test_special_byte_at_every_offset_within_and_across_words(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        size_t n;
        const char *want;
        size_t want_n;
        bool non_utf8;
    } specials[] = {
        { "\"", 1, "\"", 1, false },
        { "\\", 1, "\\", 1, false },
        { "\0", 1, "\0", 1, false },
        { "\x01", 1, "\x01", 1, false },
        { "\x1f", 1, "\x1f", 1, false },
        { "\n", 1, "\n", 1, false },
        { "\t", 1, "\t", 1, false },
        { "\x80", 1, "\xe2\x82\xac", 3, true },
        { "\xa0", 1, "\xc2\xa0", 2, true },
        { "\xff", 1, "\xc3\xbf", 2, true },
        { "\xc3\xa9", 2, "\xc3\xa9", 2, false },
        { "\xe2\x82\xac", 3, "\xe2\x82\xac", 3, false },
        { "\xf0\x9f\x98\x80", 4, "\xf0\x9f\x98\x80", 4, false },
        { "\xe2\x82", 2, "\xc3\xa2\xe2\x80\x9a", 5, true },
        { "\xed\xa0\x80", 3, "\xc3\xad\xc2\xa0\xe2\x82\xac", 7, true },
    };
    static const size_t tails[] = { 0, 1, 7, 8, 9, 16 };
    char in[64], want[64];
    for (size_t s = 0; s < ARRAY_LEN(specials); s++)
        for (size_t pos = 0; pos <= 16; pos++)
            for (size_t t = 0; t < ARRAY_LEN(tails); t++) {
                size_t n = 0, wn = 0, tail = tails[t];
                fill(in, pos, 0);
                fill(want, pos, 0);
                n = wn = pos;
                memcpy(in + n, specials[s].in, specials[s].n);
                n += specials[s].n;
                memcpy(want + wn, specials[s].want, specials[s].want_n);
                wn += specials[s].want_n;
                fill(in + n, tail, pos + 1);
                fill(want + wn, tail, pos + 1);
                n += tail;
                wn += tail;
                struct lme_event ev = minimal_event();
                ev.message = (struct lme_str){ in, n };
                json_t *j = encode(&ev);
                json_t *m = json_object_get(j, "message");
                if (json_string_length(m) != wn || memcmp(json_string_value(m), want, wn) != 0)
                    fail_msg("special %zu at offset %zu with %zu bytes after it: message differs",
                             s, pos, tail);
                if (has_tag(j, "lme_non_utf8") != specials[s].non_utf8)
                    fail_msg("special %zu at offset %zu: wrong lme_non_utf8 tag", s, pos);
                json_decref(j);
            }
}

static void test_strings_longer_than_a_word_without_specials_are_copied(void **state)
{
    (void)state;
    char in[200];
    for (size_t n = 0; n <= sizeof(in); n++) {
        fill(in, n, n);
        check_message(in, n, in, n, false);
    }
}

static void test_specials_in_every_position_of_a_word_at_once(void **state)
{
    (void)state;
    /* Several specials per word, in all 2^8 patterns of one word followed by a plain word. */
    static const char specials[] = { '"', '\\', '\x01', '\x1f', '\0', '\n' };
    for (unsigned mask = 0; mask < 256; mask++) {
        char in[24];
        fill(in, sizeof(in), mask);
        for (int b = 0; b < 8; b++)
            if (mask & (1u << b))
                in[8 + b] = specials[(mask + (unsigned)b) % sizeof(specials)];
        check_message(in, sizeof(in), in, sizeof(in), false);
    }
}

/* Random mixes of pieces whose encoding is known, so that every combination of neighbours meets
 * every word boundary. A piece never changes how its neighbours read. */
struct piece {
    const char *in;
    const char *want;
    bool non_utf8;
};

static const struct piece pieces[] = {
    { "a", "a", false },
    { " ", " ", false },
    { "~", "~", false },
    { "]", "]", false },
    { "\x7f", "\x7f", false },
    { "\"", "\"", false },
    { "\\", "\\", false },
    { "\n", "\n", false },
    { "\r", "\r", false },
    { "\t", "\t", false },
    { "\x01", "\x01", false },
    { "\x1f", "\x1f", false },
    { "\xc2\x80", "\xc2\x80", false },
    { "\xc3\xa9", "\xc3\xa9", false },
    { "\xe0\xa0\x80", "\xe0\xa0\x80", false },
    { "\xe2\x82\xac", "\xe2\x82\xac", false },
    { "\xed\x9f\xbf", "\xed\x9f\xbf", false },
    { "\xef\xbf\xbf", "\xef\xbf\xbf", false },
    { "\xf0\x90\x80\x80", "\xf0\x90\x80\x80", false },
    { "\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf", false },
    { "\x80", "\xe2\x82\xac", true },
    { "\x81", "\xc2\x81", true },
    { "\x9f", "\xc5\xb8", true },
    { "\xa0", "\xc2\xa0", true },
    { "\xbf", "\xc2\xbf", true },
    { "\xc0", "\xc3\x80", true },
    { "\xf5", "\xc3\xb5", true },
    { "\xff", "\xc3\xbf", true },
    { "\xe2\x82" "a", "\xc3\xa2\xe2\x80\x9a" "a", true },
    { "\xc0\xaf", "\xc3\x80\xc2\xaf", true },
    { "\xed\xa0\x80", "\xc3\xad\xc2\xa0\xe2\x82\xac", true },
    { "\xf4\x90\x80\x80", "\xc3\xb4\xc2\x90\xe2\x82\xac\xe2\x82\xac", true },
};

static void test_random_mixes_of_plain_escaped_valid_and_invalid_bytes(void **state)
{
    (void)state;
    uint64_t rng = 0x9e3779b97f4a7c15ULL;
    char in[40 * 4 + 1], want[40 * 10 + 1];
    for (int iter = 0; iter < 3000; iter++) {
        rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
        size_t count = (size_t)(rng >> 33) % 41, n = 0, wn = 0;
        bool non_utf8 = false;
        for (size_t k = 0; k < count; k++) {
            rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
            const struct piece *p = &pieces[(rng >> 33) % ARRAY_LEN(pieces)];
            size_t pn = strlen(p->in), pw = strlen(p->want);
            memcpy(in + n, p->in, pn);
            memcpy(want + wn, p->want, pw);
            n += pn;
            wn += pw;
            non_utf8 = non_utf8 || p->non_utf8;
        }
        check_message(in, n, want, wn, non_utf8);
    }
}

/* ---- size ---- */

static void test_64_kib_of_control_bytes_encodes_and_decodes_back(void **state)
{
    (void)state;
    size_t n = 64 * 1024;
    char *s = malloc(n);
    assert_non_null(s);
    memset(s, 0x01, n);
    check_message(s, n, s, n, false);

    /* Every text field at its worst at once. */
    struct lme_event ev = minimal_event();
    struct lme_str w = { s, n };
    ev.original = ev.message = ev.code = ev.component = ev.origin_file = ev.error_type = ev.path =
        ev.host = ev.timezone = w;
    json_t *j = encode(&ev);
    static const char *const paths[] = { "message", "event.original", "event.code", "process.name",
                                         "log.origin.file.name", "error.type", "log.file.path",
                                         "host.name", "event.timezone" };
    for (size_t i = 0; i < ARRAY_LEN(paths); i++)
        assert_bytes_at(j, paths[i], s, n);
    json_decref(j);
    free(s);
}

static void test_64_kib_of_non_utf8_bytes_encodes_and_decodes_back(void **state)
{
    (void)state;
    size_t n = 64 * 1024;
    char *s = malloc(n), *want = malloc(3 * n);
    assert_non_null(s);
    assert_non_null(want);
    memset(s, 0x80, n);
    for (size_t i = 0; i < n; i++)
        memcpy(want + 3 * i, "\xe2\x82\xac", 3);
    check_message(s, n, want, 3 * n, true);
    free(s);
    free(want);
}

/* The smallest free space with which encoding does not grow the buffer: what the encoder reserves. */
static size_t reserved_by_encoder(const struct lme_event *ev)
{
    size_t lo = 0, hi = (size_t)1 << 24;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        struct lme_buf b = { malloc(mid ? mid : 1), 0, mid };
        assert_non_null(b.data);
        assert_int_equal(event_json_encode(ev, &b), 0);
        bool grew = b.cap != mid;
        free(b.data);
        if (grew)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void test_output_never_exceeds_the_space_the_encoder_reserved(void **state)
{
    (void)state;
    /* Every optional field present, numbers at their longest, all tags. */
    struct lme_event ev = minimal_event();
    ev.path = S("\x80");
    ev.host = S("\x80");
    ev.timezone = S("\x80");
    ev.original = S("\x80");
    ev.message = S("\x80");
    ev.code = S("\x80");
    ev.component = S("\x80");
    ev.origin_file = S("\x80");
    ev.error_type = S("\x80");
    ev.file_dev = ev.file_ino = UINT64_MAX;
    ev.offset = UINT64_MAX;
    ev.time_ms = -62135596800000;
    ev.created_ms = 253402300799999;
    ev.thread_id = INT64_MAX;
    ev.origin_line = INT32_MAX;
    ev.severity = 2; /* "warning": the longest level word */
    ev.shape = LME_SHAPE_CONTROLLER;
    ev.flags = LME_EV_PARSE_FAILURE | LME_EV_TRUNCATED | LME_EV_NO_TIMESTAMP;
    ev.truncated_bytes = UINT64_MAX;

    for (int k = 0; k < 2; k++) {
        if (k == 1) { /* and with nothing but the required fields, all empty */
            ev = minimal_event();
            ev.host = ev.original = ev.message = NONE;
        }
        size_t room = reserved_by_encoder(&ev);
        /* Exactly that much room, so AddressSanitizer sees any write past it. */
        struct lme_buf b = { malloc(room ? room : 1), 0, room };
        assert_non_null(b.data);
        assert_int_equal(event_json_encode(&ev, &b), 0);
        assert_int_equal(b.cap, room);
        assert_true(b.len <= room);
        json_t *j = decode(b.data, b.len, JSON_DECODE_INT_AS_REAL);
        json_decref(j);
        free(b.data);
    }
}

/* ---- the escaper's fast path ---- */

/* Random strings (control bytes, quotes, backslashes, non-UTF-8 and UTF-8 bytes at random places,
 * plain runs of every length around 16): the message in the event is byte for byte what
 * json_str.h's escaper writes, and the non-UTF-8 tag follows the same rule. */
static void test_strings_are_escaped_as_json_str_does(void **state)
{
    (void)state;
    static const unsigned char odd[] = { 0, 0x1f, '"', '\\', '\n', '\r', 0x7f, 0x80, 0x9d, 0xe9,
                                         0xc3, 0xa9, 0xe2, 0x82, 0xac, 0xf0, 0x9f, 0x98, 0x80 };
    unsigned seed = 2026;
    char str[200];
    char want[6 * sizeof(str) + 2];
    for (int round = 0; round < 20000; round++) {
        seed = seed * 1103515245u + 12345u;
        size_t n = (seed >> 16) % sizeof(str);
        unsigned rarity = round % 2 ? 8 : 64; /* odd bytes close together, or after long runs */
        for (size_t i = 0; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            str[i] = (seed >> 16) % rarity == 0 ? (char)odd[(seed >> 20) % sizeof(odd)]
                                                : (char)('a' + (seed >> 20) % 26);
        }
        struct lme_event ev = minimal_event();
        ev.message = (struct lme_str){ str, n };
        ev.original = S("x");
        bool non_utf8 = false;
        char *end = lme_json_put_string(want, str, n, &non_utf8);
        struct lme_buf b = LME_BUF_INIT;
        assert_int_equal(event_json_encode(&ev, &b), 0);
        const char *at = memmem(b.data, b.len, "\"message\":", 10);
        assert_non_null(at);
        if (memcmp(at + 10, want, (size_t)(end - want)) != 0)
            fail_msg("round %d: %.*s", round, (int)(end - want), want);
        assert_int_equal(memmem(b.data, b.len, "lme_non_utf8", 12) != NULL, non_utf8);
        lme_buf_free(&b);
    }
}

/* An encoder's memo spares the calendar (and a time written just before), never changes a byte:
 * times on the same day, the next day, before 1970, around midnight and beyond the year 9999, in
 * every order, each event encoded twice in a row. */
static void test_memo_changes_no_output(void **state)
{
    (void)state;
    static const int64_t times[] = { 890191370000, 890191370001, 890191399999, 890179200000,
                                     890265599999, 890265600000, 0, -1, -86400000, -86400001,
                                     951782400000, 253402300799999, 253402300800000,
                                     -62135596800000, 890191370000, 1795985221123 };
    static const struct event_json_opts whole = { 0 };
    struct event_json_memo memo = { 0 };
    size_t n = sizeof(times) / sizeof(times[0]);
    for (size_t i = 0; i < n * n; i++) {
        struct lme_event ev = example_event();
        ev.time_ms = times[i % n];
        ev.created_ms = times[(i / n + i) % n];
        struct lme_buf a = LME_BUF_INIT, b = LME_BUF_INIT;
        assert_int_equal(event_json_encode(&ev, &a), 0);
        for (int again = 0; again < 2; again++) {
            lme_buf_reset(&b);
            assert_int_equal(event_json_encode_with(&ev, &whole, &memo, &b), 0);
            if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0)
                fail_msg("%lld/%lld: %.*s\nwith memo: %.*s", (long long)ev.time_ms,
                         (long long)ev.created_ms, (int)a.len, a.data, (int)b.len, b.data);
        }
        lme_buf_free(&a);
        lme_buf_free(&b);
    }
}

/* ---- options ---- */

/* event_original: false leaves out exactly `,"original":...` and nothing else; the default is
 * the whole event, byte for byte what event_json_encode writes. */
static void test_without_original_only_that_field_is_left_out(void **state)
{
    (void)state;
    static const struct event_json_opts whole = { 0 }, lean = { .no_original = true };
    struct lme_event ev = example_event();
    ev.message = S("caf\xe9"); /* a non-UTF-8 byte elsewhere: the tag stays */
    struct lme_buf a = LME_BUF_INIT, b = LME_BUF_INIT, c = LME_BUF_INIT;
    assert_int_equal(event_json_encode(&ev, &a), 0);
    assert_int_equal(event_json_encode_with(&ev, &whole, NULL, &b), 0);
    assert_int_equal(event_json_encode_with(&ev, &lean, NULL, &c), 0);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.data, b.data, a.len);
    assert_int_equal(lme_buf_append(&a, "", 1), 0); /* NUL-terminated for strstr */
    const char *from = strstr(a.data, ",\"original\":"), *to = strstr(a.data, ",\"created\":");
    assert_non_null(from);
    assert_non_null(to);
    size_t head = (size_t)(from - a.data), cut = (size_t)(to - from);
    assert_int_equal(c.len, b.len - cut);
    assert_memory_equal(c.data, a.data, head);
    assert_memory_equal(c.data + head, to, c.len - head);
    json_t *j = decode(c.data, c.len, 0);
    assert_null(json_object_get(json_object_get(j, "event"), "original"));
    assert_true(has_tag(j, "lme_non_utf8"));
    json_decref(j);
    assert_true(event_json_opts_equal(&whole, &whole));
    assert_false(event_json_opts_equal(&whole, &lean));
    lme_buf_free(&a);
    lme_buf_free(&b);
    lme_buf_free(&c);
}

/* ---- appending ---- */

static void test_two_events_in_one_buffer_are_two_valid_objects_back_to_back(void **state)
{
    (void)state;
    struct lme_buf b = LME_BUF_INIT;
    struct lme_event first = example_event(), second = minimal_event();
    second.message = S("second \"one\"");
    assert_int_equal(event_json_encode(&first, &b), 0);
    size_t len1 = b.len;
    char *copy = malloc(len1);
    assert_non_null(copy);
    memcpy(copy, b.data, len1);
    assert_int_equal(event_json_encode(&second, &b), 0);
    assert_true(b.len > len1);
    /* The first object is untouched. */
    assert_memory_equal(b.data, copy, len1);

    json_t *a = decode(b.data, len1, 0);
    json_t *c = decode(b.data + len1, b.len - len1, 0);
    assert_str_at(a, "message", "Error: no Notes Session Open");
    assert_str_at(c, "message", "second \"one\"");
    json_decref(a);
    json_decref(c);
    free(copy);
    lme_buf_free(&b);
}

static void test_encoding_appends_after_existing_content(void **state)
{
    (void)state;
    struct lme_buf b = LME_BUF_INIT;
    assert_int_equal(lme_buf_append_str(&b, "PREFIX"), 0);
    struct lme_event ev = minimal_event();
    assert_int_equal(event_json_encode(&ev, &b), 0);
    assert_memory_equal(b.data, "PREFIX", 6);
    assert_int_equal(b.data[6], '{');
    assert_int_equal(b.data[b.len - 1], '}');
    json_decref(decode(b.data + 6, b.len - 6, 0));
    lme_buf_free(&b);
}

static void test_non_utf8_tag_of_one_event_does_not_leak_into_the_next(void **state)
{
    (void)state;
    struct lme_buf b = LME_BUF_INIT;
    struct lme_event bad = minimal_event(), good = minimal_event();
    bad.message = S("\xe9");
    assert_int_equal(event_json_encode(&bad, &b), 0);
    size_t len1 = b.len;
    assert_int_equal(event_json_encode(&good, &b), 0);
    json_t *j1 = decode(b.data, len1, 0), *j2 = decode(b.data + len1, b.len - len1, 0);
    assert_true(has_tag(j1, "lme_non_utf8"));
    assert_tags(j2, 0, NULL);
    json_decref(j1);
    json_decref(j2);
    lme_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_minimal_event_has_exactly_the_required_fields),
        cmocka_unit_test(test_schema_example_encodes_as_documented),
        cmocka_unit_test(test_event_id_is_32_lowercase_hex_and_equals_lme_event_id),
        cmocka_unit_test(test_timestamp_is_rfc3339_utc_with_milliseconds),
        cmocka_unit_test(test_created_is_independent_of_timestamp),
        cmocka_unit_test(test_event_code_is_a_string_keeping_leading_zeros),
        cmocka_unit_test(test_event_code_is_absent_when_empty),
        cmocka_unit_test(test_severity_1_to_4_gives_integer_and_level_word),
        cmocka_unit_test(test_severity_0_leaves_out_severity_and_level),
        cmocka_unit_test(test_timezone_present_only_when_set),
        cmocka_unit_test(test_event_original_keeps_line_ends_and_bytes),
        cmocka_unit_test(test_process_name_and_thread_id_appear_independently),
        cmocka_unit_test(test_thread_id_keeps_full_64_bit_range),
        cmocka_unit_test(test_origin_file_name_and_line),
        cmocka_unit_test(test_log_offset_above_4_gib_is_exact),
        cmocka_unit_test(test_log_file_path_absent_when_length_is_0),
        cmocka_unit_test(test_host_name_is_always_present),
        cmocka_unit_test(test_error_type_present_only_when_set),
        cmocka_unit_test(test_shape_names_every_enum_value),
        cmocka_unit_test(test_truncated_bytes_only_with_truncated_flag),
        cmocka_unit_test(test_no_tags_key_when_no_flag_applies),
        cmocka_unit_test(test_each_flag_gives_its_tag),
        cmocka_unit_test(test_non_utf8_tag_joins_the_flag_tags),
        cmocka_unit_test(test_quotes_and_backslashes_round_trip),
        cmocka_unit_test(test_every_control_byte_round_trips),
        cmocka_unit_test(test_embedded_nul_inside_a_slice_round_trips),
        cmocka_unit_test(test_slice_is_read_by_length_not_to_a_nul),
        cmocka_unit_test(test_every_text_field_is_escaped),
        cmocka_unit_test(test_non_utf8_byte_in_any_text_field_is_read_as_cp1252_and_tagged),
        cmocka_unit_test(test_valid_multibyte_utf8_passes_through_unchanged),
        cmocka_unit_test(test_every_high_byte_alone_is_its_windows_1252_character),
        cmocka_unit_test(test_invalid_utf8_sequences_are_read_as_cp1252_and_tagged),
        cmocka_unit_test(test_special_byte_at_every_offset_within_and_across_words),
        cmocka_unit_test(test_strings_longer_than_a_word_without_specials_are_copied),
        cmocka_unit_test(test_specials_in_every_position_of_a_word_at_once),
        cmocka_unit_test(test_random_mixes_of_plain_escaped_valid_and_invalid_bytes),
        cmocka_unit_test(test_64_kib_of_control_bytes_encodes_and_decodes_back),
        cmocka_unit_test(test_64_kib_of_non_utf8_bytes_encodes_and_decodes_back),
        cmocka_unit_test(test_output_never_exceeds_the_space_the_encoder_reserved),
        cmocka_unit_test(test_two_events_in_one_buffer_are_two_valid_objects_back_to_back),
        cmocka_unit_test(test_encoding_appends_after_existing_content),
        cmocka_unit_test(test_non_utf8_tag_of_one_event_does_not_leak_into_the_next),
        cmocka_unit_test(test_without_original_only_that_field_is_left_out),
        cmocka_unit_test(test_strings_are_escaped_as_json_str_does),
        cmocka_unit_test(test_memo_changes_no_output),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
