/* Unit tests of the incident tracker: a storm is one incident, updates are rate-limited, a cause
 * change is said, quiet periods and 41207 resolve, probe rounds predict and clear, replayed
 * records change nothing, the state survives a save and restore (any bytes in it), and a random
 * run with restarts gives exactly the notes of the same run without them, checked against a
 * model of the states. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "incident.h"

#define MIN_MS 60000LL
#define T0 890173370000LL /* 1998-03-17 22:22:50 UTC */

static const struct incident_config config = { 15 * MIN_MS, 5 * MIN_MS };

/* What a test saw: the notes of every call, as JSON objects (lme.incident, plus type). */
static json_t *seen;

static void collect(const struct incident_note *notes, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        json_t *inc = json_loadb(notes[i].incident.data, notes[i].incident.len, 0, NULL);
        assert_non_null(inc);
        json_object_set_new(inc, "_type", json_string(notes[i].type));
        json_object_set_new(inc, "_event_id", json_string(notes[i].event_id));
        json_object_set_new(inc, "_time", json_integer(notes[i].time_ms));
        json_object_set_new(inc, "_message", json_stringn(notes[i].message.data, notes[i].message.len));
        json_array_append_new(seen, inc);
    }
}

static int setup(void **state)
{
    (void)state;
    seen = json_array();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    json_decref(seen);
    return 0;
}

static const char *str(json_t *note, const char *key)
{
    return json_string_value(json_object_get(note, key));
}

static json_int_t num(json_t *note, const char *key)
{
    return json_integer_value(json_object_get(note, key));
}

/* A record of connector (NULL: keyed by host and component) at log time t. */
static struct incident_record record(const char *connector, const char *component, int64_t t,
                                     const char *code, enum diagnosis_cause cause)
{
    static char ids[64][33];
    static int next;
    struct incident_record rec = { .connector = connector, .host = { "exch01", 6 },
                                   .component = { component, strlen(component) }, .time_ms = t,
                                   .timed = true, .read_ms = t / 1000, .wall_ms = t };
    rec.is_41220 = strcmp(code, "41220") == 0;
    rec.is_41207 = strcmp(code, "41207") == 0;
    if (rec.is_41220) {
        char *id = ids[next++ % 64];
        snprintf(id, 33, "%032llx", (unsigned long long)t * 7 + (unsigned long long)cause);
        rec.event_id = id;
        rec.cause = cause;
        rec.diagnosis = "{\"cause\":\"x\"}";
        rec.diagnosis_len = strlen(rec.diagnosis);
    }
    return rec;
}

/* Judges a record; returns the incident id a 41220 got. */
static const char *judge(struct incident_tracker *t, const struct incident_record *rec, bool replayed)
{
    static char id[33];
    const struct incident_note *notes;
    size_t n;
    assert_int_equal(incident_record(t, rec, replayed, id, &notes, &n), 0);
    collect(notes, n);
    return id;
}

static void judge_code(struct incident_tracker *t, const char *connector, const char *component,
                       int64_t time, const char *code, enum diagnosis_cause cause)
{
    struct incident_record rec = record(connector, component, time, code, cause);
    judge(t, &rec, false);
}

static void round_of(struct incident_tracker *t, const char *connector, enum diagnosis_cause cause,
                     int64_t started, int64_t wall)
{
    struct incident_round r = { connector, cause, "{\"cause\":\"r\"}", 13, started, wall };
    const struct incident_note *notes;
    size_t n;
    assert_int_equal(incident_round(t, &r, &notes, &n), 0);
    collect(notes, n);
}

static void test_a_storm_is_one_incident(void **state)
{
    (void)state;
    struct incident_tracker *t = incident_tracker_create(&(struct incident_config){ 15 * MIN_MS, 3600 * MIN_MS });
    char first_id[33] = "";
    for (int i = 0; i < 500; i++) {
        struct incident_record rec = record("notes-main", "LME-NOTES-MEXNTS", T0 + i * 1000LL, "41220",
                                            CAUSE_KEYFILENAME_MISMATCH);
        const char *id = judge(t, &rec, false);
        assert_int_equal(strlen(id), 32);
        if (i == 0)
            memcpy(first_id, id, 33);
        assert_string_equal(id, first_id); /* every 41220 names the same incident */
    }
    judge_code(t, "notes-main", "LME-NOTES-MEXNTS", T0 + 600000, "41207", CAUSE_NONE);
    assert_int_equal(json_array_size(seen), 2);
    json_t *open = json_array_get(seen, 0), *resolved = json_array_get(seen, 1);
    assert_string_equal(str(open, "change"), "open");
    assert_string_equal(str(open, "_type"), "start");
    assert_int_equal(num(open, "count"), 1);
    assert_string_equal(str(open, "id"), first_id);
    assert_string_equal(str(open, "cause"), "keyfilename_mismatch");
    assert_string_equal(str(open, "connector"), "notes-main");
    assert_string_equal(str(open, "first_seen"), "1998-03-17T22:22:50.000Z");
    assert_string_equal(str(resolved, "change"), "resolved");
    assert_string_equal(str(resolved, "state"), "resolved");
    assert_string_equal(str(resolved, "_type"), "end");
    assert_string_equal(str(resolved, "resolution"), "41207");
    assert_int_equal(num(resolved, "count"), 500);
    assert_string_equal(str(resolved, "id"), first_id);
    assert_string_equal(str(resolved, "last_seen"), "1998-03-17T22:31:09.000Z");
    assert_string_not_equal(str(open, "_event_id"), str(resolved, "_event_id"));
    incident_tracker_destroy(t);
}

static void test_updates_at_most_every_update_ms_and_on_a_new_cause(void **state)
{
    (void)state;
    struct incident_tracker *t = incident_tracker_create(&config);
    for (int m = 0; m <= 20; m++) /* one a minute: updates at 5, 10, 15, 20 minutes */
        judge_code(t, NULL, "LME-NOTES-MEXNTS", T0 + m * MIN_MS, "41220", CAUSE_NOTES_SERVER_UNREACHABLE);
    judge_code(t, NULL, "LME-NOTES-MEXNTS", T0 + 20 * MIN_MS + 1000, "41220", CAUSE_ID_FILE_MISSING);
    assert_int_equal(json_array_size(seen), 6);
    static const int counts[] = { 1, 6, 11, 16, 21, 22 };
    for (size_t i = 0; i < 6; i++) {
        json_t *n = json_array_get(seen, i);
        assert_int_equal(num(n, "count"), counts[i]);
        assert_string_equal(str(n, "change"), i == 0 ? "open" : "updated");
        assert_string_equal(str(n, "state"), "open");
        assert_string_equal(str(n, "key"), "exch01/LME-NOTES-MEXNTS");
    }
    assert_string_equal(str(json_array_get(seen, 4), "cause"), "notes_server_unreachable");
    assert_string_equal(str(json_array_get(seen, 5), "cause"), "id_file_missing");
    incident_tracker_destroy(t);
}

static void test_quiet_in_log_time_resolves_and_the_next_41220_opens_anew(void **state)
{
    (void)state;
    struct incident_tracker *t = incident_tracker_create(&config);
    judge_code(t, NULL, "MEXNTS", T0, "41220", CAUSE_UNKNOWN);
    judge_code(t, NULL, "MEXNTS", T0 + 14 * MIN_MS, "41210", CAUSE_NONE); /* not quiet enough */
    judge_code(t, NULL, "OTHER", T0 + 30 * MIN_MS, "41210", CAUSE_NONE);  /* another key's clock */
    assert_int_equal(json_array_size(seen), 1);
    judge_code(t, NULL, "MEXNTS", T0 + 16 * MIN_MS, "41220", CAUSE_UNKNOWN);
    assert_int_equal(json_array_size(seen), 3);
    json_t *resolved = json_array_get(seen, 1), *again = json_array_get(seen, 2);
    assert_string_equal(str(resolved, "resolution"), "quiet");
    assert_string_equal(str(resolved, "resolved_at"), "1998-03-17T22:37:50.000Z");
    assert_int_equal(num(resolved, "_time"), T0 + 15 * MIN_MS);
    assert_string_equal(str(again, "change"), "open");
    assert_string_not_equal(str(again, "id"), str(resolved, "id"));
    incident_tracker_destroy(t);
}

static void test_41207_of_another_process_does_not_resolve(void **state)
{
    (void)state;
    struct incident_tracker *t = incident_tracker_create(&config);
    judge_code(t, "notes-main", "LME-NOTES-MEXNTS", T0, "41220", CAUSE_UNKNOWN);
    judge_code(t, "notes-main", "LME-NOTES-NTSMEX", T0 + 1000, "41207", CAUSE_NONE);
    judge_code(t, "other", "LME-NOTES-MEXNTS", T0 + 2000, "41207", CAUSE_NONE);
    assert_int_equal(json_array_size(seen), 1);
    judge_code(t, "notes-main", "LME-NOTES-MEXNTS", T0 + 3000, "41207", CAUSE_NONE);
    assert_int_equal(json_array_size(seen), 2);
    incident_tracker_destroy(t);
}

static void test_two_connectors_at_once(void **state)
{
    (void)state;
    struct incident_tracker *t = incident_tracker_create(&config);
    for (int i = 0; i < 10; i++) {
        judge_code(t, "a", "MEXNTS", T0 + i * 1000, "41220", CAUSE_UNKNOWN);
        judge_code(t, "b", "MEXNTS", T0 + i * 1000 + 500, "41220", CAUSE_ID_FILE_MISSING);
    }
    judge_code(t, "b", "MEXNTS", T0 + 20000, "41207", CAUSE_NONE);
    assert_int_equal(json_array_size(seen), 3);
    assert_string_equal(str(json_array_get(seen, 0), "key"), "a");
    assert_string_equal(str(json_array_get(seen, 1), "key"), "b");
    assert_string_equal(str(json_array_get(seen, 2), "key"), "b");
    assert_int_equal(num(json_array_get(seen, 2), "count"), 10);
    struct incident_view v[4];
    assert_int_equal(incident_list(t, v, 4), 1); /* the open ones */
    assert_string_equal(v[0].key, "a");
    assert_string_equal(v[0].host, "exch01"); /* a C string: the metrics label it */
    assert_int_equal(v[0].state, INCIDENT_OPEN);
    assert_int_equal(v[0].count, 10);
    size_t open, predicted;
    incident_count(t, &open, &predicted);
    assert_int_equal(open, 1);
    assert_int_equal(predicted, 0);
    incident_tracker_destroy(t);
}

static void test_probe_rounds_predict_open_and_clear(void **state)
{
    (void)state;
    struct incident_tracker *t = incident_tracker_create(&config);
    round_of(t, "c", CAUSE_UNVERIFIED, 1, T0);           /* cannot tell: nothing */
    round_of(t, "c", CAUSE_NOTES_API_LOCK_TIMEOUT, 2, T0); /* not a probe's cause: nothing */
    round_of(t, "c", CAUSE_SHARE_UNAVAILABLE, 2, T0);     /* the collector's blind spot: nothing */
    assert_int_equal(json_array_size(seen), 0);
    round_of(t, "c", CAUSE_ID_FILE_MISSING, 3, T0 + 1000);
    round_of(t, "c", CAUSE_ID_FILE_MISSING, 4, T0 + 2000); /* the same: nothing new */
    assert_int_equal(json_array_size(seen), 1);
    json_t *predicted = json_array_get(seen, 0);
    assert_string_equal(str(predicted, "state"), "predicted");
    assert_string_equal(str(predicted, "_type"), "start");
    assert_int_equal(num(predicted, "count"), 0);
    assert_non_null(strstr(str(predicted, "_message"), "will fail to open a Notes session"));
    /* the connector trips on it: the same incident, now open */
    struct incident_record rec = record("c", "MEXNTS", T0 + 5000, "41220", CAUSE_ID_FILE_MISSING);
    rec.read_ms = 100;
    const char *id = judge(t, &rec, false);
    json_t *open = json_array_get(seen, 1);
    assert_string_equal(str(open, "change"), "open");
    assert_string_equal(str(open, "_type"), "change");
    assert_string_equal(str(open, "id"), str(predicted, "id"));
    assert_string_equal(id, str(predicted, "id"));
    /* a pass from a round that started before the 41220 was read proves nothing */
    round_of(t, "c", CAUSE_NONE, 99, T0 + 6000);
    assert_int_equal(json_array_size(seen), 2);
    round_of(t, "c", CAUSE_NONE, 101, T0 + 7000);
    assert_int_equal(json_array_size(seen), 3);
    assert_string_equal(str(json_array_get(seen, 2), "resolution"), "probes");
    /* predicted, then fixed before the connector tripped */
    round_of(t, "c", CAUSE_KEYFILENAME_MISMATCH, 200, T0 + 8000);
    round_of(t, "c", CAUSE_NOTES_SERVER_UNREACHABLE, 201, T0 + 9000);
    round_of(t, "c", CAUSE_NONE, 202, T0 + 10000);
    assert_int_equal(json_array_size(seen), 6);
    assert_string_equal(str(json_array_get(seen, 4), "change"), "updated");
    assert_string_equal(str(json_array_get(seen, 4), "cause"), "notes_server_unreachable");
    assert_string_equal(str(json_array_get(seen, 5), "state"), "resolved");
    assert_string_equal(str(json_array_get(seen, 5), "id"), str(json_array_get(seen, 3), "id"));
    assert_string_not_equal(str(json_array_get(seen, 3), "id"), str(predicted, "id"));
    incident_tracker_destroy(t);
}

static void test_a_log_gone_silent_resolves_while_following(void **state)
{
    (void)state;
    struct incident_tracker *t = incident_tracker_create(&config);
    struct incident_record rec = record(NULL, "MEXNTS", T0, "41220", CAUSE_UNKNOWN);
    rec.read_ms = 1000;
    judge(t, &rec, false);
    const struct incident_note *notes;
    size_t n;
    assert_int_equal(incident_idle(t, 1000 + 15 * MIN_MS - 1, &notes, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(incident_idle(t, 1000 + 15 * MIN_MS, &notes, &n), 0);
    assert_int_equal(n, 1);
    collect(notes, n);
    assert_string_equal(str(json_array_get(seen, 1), "resolution"), "quiet");
    assert_int_equal(num(json_array_get(seen, 1), "_time"), T0 + 15 * MIN_MS);
    assert_int_equal(incident_idle(t, 1000 + 30 * MIN_MS, &notes, &n), 0);
    assert_int_equal(n, 0);
    incident_tracker_destroy(t);
}

static void test_replayed_records_change_nothing(void **state)
{
    (void)state;
    struct incident_tracker *t = incident_tracker_create(&config);
    struct incident_record first = record(NULL, "MEXNTS", T0, "41220", CAUSE_UNKNOWN);
    char id[33];
    memcpy(id, judge(t, &first, false), 33);
    judge_code(t, NULL, "MEXNTS", T0 + 1000, "41220", CAUSE_UNKNOWN);
    size_t before = json_array_size(seen);
    struct incident_record again = record(NULL, "MEXNTS", T0 + 1000, "41220", CAUSE_ID_FILE_MISSING);
    assert_string_equal(judge(t, &again, true), id); /* it learns its id, nothing else moves */
    struct incident_record ok = record(NULL, "MEXNTS", T0 + 2000, "41207", CAUSE_NONE);
    judge(t, &ok, true);
    assert_int_equal(json_array_size(seen), before);
    judge_code(t, NULL, "MEXNTS", T0 + 3000, "41207", CAUSE_NONE);
    assert_int_equal(num(json_array_get(seen, before), "count"), 2);
    incident_tracker_destroy(t);
}

/* Saved and restored mid-incident, with log bytes that are not UTF-8 in its key. */
static void test_state_survives_save_and_restore(void **state)
{
    (void)state;
    struct incident_tracker *t = incident_tracker_create(&config);
    const char *component = "MEX\xe9NTS\xff";
    judge_code(t, NULL, component, T0, "41220", CAUSE_ID_FILE_MISSING);
    judge_code(t, NULL, component, T0 + 1000, "41220", CAUSE_ID_FILE_MISSING);
    round_of(t, "c", CAUSE_NOTES_INI_MISSING, 1, T0);
    struct lme_buf text = LME_BUF_INIT;
    assert_int_equal(incident_save(t, &text), 0);
    assert_int_equal(lme_buf_append(&text, "", 1), 0);
    incident_tracker_destroy(t);

    struct incident_tracker *back = incident_tracker_create(&config);
    struct lme_err err;
    assert_int_equal(incident_restore(back, text.data, 0, &err), 0);
    judge_code(back, NULL, component, T0 + 2000, "41207", CAUSE_NONE);
    json_t *resolved = json_array_get(seen, 2);
    assert_string_equal(str(resolved, "change"), "resolved");
    assert_int_equal(num(resolved, "count"), 2);
    assert_string_equal(str(resolved, "id"), str(json_array_get(seen, 0), "id"));
    assert_string_equal(str(resolved, "component"), "MEX\xc3\xa9NTS\xc3\xbf"); /* shown as 1252 */
    struct incident_view v[4];
    assert_int_equal(incident_list(back, v, 4), 1); /* the well host/component entry went */
    assert_int_equal(v[0].state, INCIDENT_PREDICTED);
    incident_tracker_destroy(back);
    lme_buf_free(&text);
}

static void test_state_that_does_not_read_back_is_refused(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "", "{", "{}", "[1]", "{\"entries\":[1],\"diagnoses\":[]}",
        "{\"entries\":[{\"host_hex\":\"zz\"}],\"diagnoses\":[]}",
        "{\"entries\":[{\"host_hex\":\"61\",\"component_hex\":\"\",\"state\":\"open\",\"cause\":\"nope\","
        "\"diagnosis\":0}],\"diagnoses\":[\"\"]}",
        "{\"entries\":[{\"host_hex\":\"61\",\"component_hex\":\"\",\"state\":\"open\",\"cause\":\"unknown\","
        "\"diagnosis\":1}],\"diagnoses\":[\"\"]}",
        "{\"entries\":[{\"host_hex\":\"61\",\"component_hex\":\"\",\"state\":\"open\",\"cause\":\"unknown\","
        "\"diagnosis\":0,\"id\":\"x\",\"last_id\":\"0123456789abcdef0123456789abcdef0\"}],\"diagnoses\":[\"\"]}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct incident_tracker *t = incident_tracker_create(&config);
        struct lme_err err;
        assert_int_not_equal(incident_restore(t, bad[i], 0, &err), 0);
        assert_non_null(strstr(err.msg, "incidents:"));
        struct incident_view v[2];
        assert_int_equal(incident_list(t, v, 2), 0);
        incident_tracker_destroy(t);
    }
}

/* A log of countless components in failure is bounded: beyond INCIDENT_MAX_KEYS keys, a new
 * key's 41220 gets no incident and is counted; the keys tracked go on. */
static void test_keys_are_bounded(void **state)
{
    (void)state;
    struct incident_tracker *t = incident_tracker_create(&config);
    char component[32];
    for (int i = 0; i <= INCIDENT_MAX_KEYS; i++) {
        snprintf(component, sizeof(component), "C%d", i);
        struct incident_record rec = record(NULL, component, T0 + i, "41220", CAUSE_UNKNOWN);
        const char *id = judge(t, &rec, false);
        assert_int_equal(strlen(id), i < INCIDENT_MAX_KEYS ? 32 : 0);
    }
    assert_int_equal(incident_untracked(t), 1);
    size_t open, predicted;
    incident_count(t, &open, &predicted);
    assert_int_equal(open, INCIDENT_MAX_KEYS);
    judge_code(t, NULL, "C7", T0 + 9000, "41207", CAUSE_NONE);
    assert_int_equal(json_array_size(seen), INCIDENT_MAX_KEYS + 1);
    incident_tracker_destroy(t);
}

/* ---- a random run, with and without restarts, against a model ---- */

#define KEYS 3
#define OPS 4000

struct op {
    int kind; /* 0 41220, 1 41207 same process, 2 41207 other process, 3 other record, 4 round */
    int key;
    int64_t time;
    enum diagnosis_cause cause;
    bool restart_before; /* save, restore, and replay the last few records */
};

static const char *const components[KEYS] = { "MEXNTS", "NTSMEX", "DXANOTWS" };

static struct incident_record op_record(const struct op *o)
{
    static const char *const codes[] = { "41220", "41207", "41207", "41210" };
    const char *component = o->kind == 2 ? "ELSEWHERE" : components[o->key];
    struct incident_record rec = record(o->key == 0 ? "conn" : NULL, component, o->time,
                                        codes[o->kind], o->cause);
    if (o->key == 0 && o->kind == 2)
        rec.component = (struct lme_str){ "ELSEWHERE", 9 };
    rec.read_ms = o->time;
    return rec;
}

/* Runs ops through a tracker, restarting where the op says: the state is saved, the last
 * `replay` records are judged again as replayed (what a restart re-reads), then the run goes on. */
static void run_ops(const struct op *ops, size_t n, bool restarts)
{
    struct incident_tracker *t = incident_tracker_create(&config);
    for (size_t i = 0; i < n; i++) {
        const struct op *o = &ops[i];
        if (restarts && o->restart_before) {
            struct lme_buf text = LME_BUF_INIT;
            assert_int_equal(incident_save(t, &text), 0);
            assert_int_equal(lme_buf_append(&text, "", 1), 0);
            incident_tracker_destroy(t);
            t = incident_tracker_create(&config);
            struct lme_err err;
            assert_int_equal(incident_restore(t, text.data, i ? ops[i - 1].time : 0, &err), 0);
            lme_buf_free(&text);
            for (size_t k = i > 5 ? i - 5 : 0; k < i; k++) { /* re-read, already judged */
                if (ops[k].kind == 4)
                    continue;
                struct incident_record rec = op_record(&ops[k]);
                judge(t, &rec, true);
            }
        }
        if (o->kind == 4) {
            round_of(t, "conn", o->cause, o->time, o->time);
        } else {
            struct incident_record rec = op_record(o);
            judge(t, &rec, false);
        }
    }
    incident_tracker_destroy(t);
}

/* The model: per key, well, predicted or open, with its count, cause and last 41220; written
 * from docs/incidents.md, not from the tracker. Every note must be one it expects, in order
 * (updates aside, which only repeat the count). */
struct model_key {
    enum incident_state state;
    uint64_t count;
    enum diagnosis_cause cause;
    int64_t last_seen, last_read;
    char id[33];
};

struct expected {
    const char *change, *resolution;
    uint64_t count;
    bool same_id; /* the id the key had */
};

static bool model_probe_cause(enum diagnosis_cause c)
{
    return c == CAUSE_ID_FILE_MISSING || c == CAUSE_NOTES_SERVER_UNREACHABLE;
}

/* What op does to the model, the notes it must make into e (returns how many). */
static int model_step(struct model_key *k, const struct op *o, struct expected e[2])
{
    int n = 0;
    if (o->kind == 4) {
        if (model_probe_cause(o->cause) && k->state == INCIDENT_WELL) {
            e[n++] = (struct expected){ "predicted", NULL, 0, false };
            k->state = INCIDENT_PREDICTED;
            k->cause = o->cause;
        } else if (o->cause == CAUSE_NONE &&
                   (k->state == INCIDENT_PREDICTED ||
                    (k->state == INCIDENT_OPEN && model_probe_cause(k->cause) && o->time > k->last_read))) {
            e[n++] = (struct expected){ "resolved", "probes", k->count, true };
            k->state = INCIDENT_WELL;
            k->count = 0;
        }
        return n;
    }
    if (o->kind == 2 && o->key != 0)
        return 0; /* ELSEWHERE is a key of its own, never failing */
    if (k->state == INCIDENT_OPEN && o->time - k->last_seen >= config.quiet_ms) {
        e[n++] = (struct expected){ "resolved", "quiet", k->count, true };
        k->state = INCIDENT_WELL;
        k->count = 0;
    }
    if (o->kind == 1 && k->state == INCIDENT_OPEN) {
        e[n++] = (struct expected){ "resolved", "41207", k->count, true };
        k->state = INCIDENT_WELL;
        k->count = 0;
    }
    if (o->kind == 0) {
        if (k->state != INCIDENT_OPEN)
            e[n++] = (struct expected){ "open", NULL, 1, k->state == INCIDENT_PREDICTED };
        k->state = INCIDENT_OPEN;
        k->count++;
        k->cause = o->cause;
        k->last_seen = k->last_read = o->time;
    }
    return n;
}

static void check_against_model(const struct op *ops, size_t n, json_t *notes)
{
    struct model_key m[KEYS] = { 0 };
    size_t next = 0;
    for (size_t i = 0; i < n; i++) {
        struct model_key *k = &m[ops[i].key];
        struct expected e[2];
        int want = model_step(k, &ops[i], e);
        for (int w = 0; w < want; w++) {
            while (next < json_array_size(notes) &&
                   strcmp(str(json_array_get(notes, next), "change"), "updated") == 0)
                next++;
            json_t *note = json_array_get(notes, next++);
            if (!note)
                fail_msg("op %zu: expected %s, no note", i, e[w].change);
            if (strcmp(str(note, "change"), e[w].change) != 0)
                fail_msg("op %zu: expected %s, got %s", i, e[w].change, str(note, "change"));
            if (e[w].resolution)
                assert_string_equal(str(note, "resolution"), e[w].resolution);
            assert_int_equal(num(note, "count"), e[w].count);
            if (e[w].same_id)
                assert_string_equal(str(note, "id"), k->id);
            snprintf(k->id, sizeof(k->id), "%s", str(note, "id"));
        }
    }
    while (next < json_array_size(notes) &&
           strcmp(str(json_array_get(notes, next), "change"), "updated") == 0)
        next++;
    assert_int_equal(next, json_array_size(notes));
}

static void test_random_runs_with_restarts_match_the_model(void **state)
{
    (void)state;
    const char *env = getenv("LME_INCIDENT_SEED");
    unsigned seed = env ? (unsigned)strtoul(env, NULL, 10) : (unsigned)time(NULL);
    int runs = getenv("LME_INCIDENT_RUNS") ? atoi(getenv("LME_INCIDENT_RUNS")) : 20;
    fprintf(stderr, "incident model: seed=%u runs=%d (LME_INCIDENT_SEED, LME_INCIDENT_RUNS)\n", seed, runs);
    srand(seed);
    static struct op ops[OPS];
    for (int r = 0; r < runs; r++) {
        int64_t now = T0;
        for (size_t i = 0; i < OPS; i++) {
            struct op *o = &ops[i];
            int dice = rand() % 100;
            o->kind = dice < 45 ? 0 : dice < 52 ? 1 : dice < 55 ? 2 : dice < 90 ? 3 : 4;
            o->key = rand() % KEYS;
            /* storms in seconds, now and then a long silence */
            now += rand() % 50 == 0 ? (rand() % 40) * MIN_MS : (rand() % 3000);
            o->time = now;
            static const enum diagnosis_cause causes[] = { CAUSE_ID_FILE_MISSING, CAUSE_NONE,
                                                           CAUSE_UNVERIFIED };
            o->cause = o->kind == 4 ? causes[rand() % 3]
                                    : (rand() % 10 ? CAUSE_UNKNOWN : CAUSE_NOTES_SERVER_UNREACHABLE);
            if (o->kind == 4)
                o->key = 0;
            o->restart_before = rand() % 100 == 0;
        }
        json_decref(seen);
        seen = json_array();
        run_ops(ops, OPS, false);
        json_t *straight = json_incref(seen);
        json_decref(seen);
        seen = json_array();
        run_ops(ops, OPS, true);
        /* a restart changes nothing: the same notes, ids and all, with or without them */
        if (!json_equal(straight, seen))
            fail_msg("seed %u run %d: restarts changed the notes (%zu without, %zu with)", seed, r,
                     json_array_size(straight), json_array_size(seen));
        check_against_model(ops, OPS, straight);
        json_decref(straight);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_a_storm_is_one_incident, setup, teardown),
        cmocka_unit_test_setup_teardown(test_updates_at_most_every_update_ms_and_on_a_new_cause, setup, teardown),
        cmocka_unit_test_setup_teardown(test_quiet_in_log_time_resolves_and_the_next_41220_opens_anew, setup, teardown),
        cmocka_unit_test_setup_teardown(test_41207_of_another_process_does_not_resolve, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_connectors_at_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_probe_rounds_predict_open_and_clear, setup, teardown),
        cmocka_unit_test_setup_teardown(test_a_log_gone_silent_resolves_while_following, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replayed_records_change_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_state_survives_save_and_restore, setup, teardown),
        cmocka_unit_test_setup_teardown(test_state_that_does_not_read_back_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keys_are_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_random_runs_with_restarts_match_the_model, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
