/* Connector incidents (issue 15) through the whole daemon: real log files the test writes, the
 * real binary (`run --once`, and `run` following growing files, stopped by SIGTERM or kill -9),
 * a file sink, and a real Kafka-protocol broker (lme-mock-broker, its own process) read back with
 * kcat. Each case says what it proves:
 *  - a storm of 500 41220s then a 41207 is one open and one resolved with count 500, every 41220
 *    names it, the alerts topic holds exactly the incident events, the main topic everything;
 *  - a SIGTERM restart and a kill -9 in the middle of a storm change nothing: the same incident
 *    events (by event.id) as one uninterrupted run over the final file with a fresh state_dir;
 *  - two connectors at once: two incidents, counts and resolves of their own;
 *  - a probable cause that changes mid-incident (the ID file deleted): `updated`, same id;
 *  - a quiet period in log time resolves at last_seen + incident_quiet_ms, and the next 41220
 *    opens another incident;
 *  - periodic probes of a connector whose log is quiet: `predicted`, then `resolved` (probes)
 *    once the Notes.ini is fixed, or `open` with the same id when a 41220 comes;
 *  - the alerts topic's modes: incidents, every_41220, both;
 *  - a random run (storms, 41207s, quiet gaps, other records, two connectors, growing files,
 *    SIGTERM and kill -9 restarts) gives the incident events of one uninterrupted run, and those
 *    are what a model of the incident rules says. LME_TEST_SEED=N repeats a seed,
 *    LME_INCIDENT_SOAK_S=N runs it N seconds instead of 20.
 * Usage: test_incidents LME_INGEST FIXTURES_DIR MOCK_BROKER KCAT */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "events.h"
#include "proc.h"
#include "run_cmd.h"

static const char *binary, *mock_tool, *kcat;
static char *tmp;

#define HOST "exch01"
#define COMPONENT "LME-NOTES-MEXNTS"
#define MIN_MS 60000LL
#define T0_MS 1709287200000LL /* 2024-03-01T10:00:00Z */

/* ---- paths, logs, configs ---- */

/* tmp/name, in one of a few rotating buffers: for immediate use only. */
static const char *in_tmp(const char *name)
{
    static char path[16][2 * PATH_MAX];
    static int next;
    char *p = path[next++ % 16];
    snprintf(p, sizeof(path[0]), "%s/%s", tmp, name);
    return p;
}

/* A browse log being built: records appended as the connector writes them. */
struct log {
    char *p;
    size_t len, cap;
};

static void log_printf(struct log *l, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (l->len + (size_t)n + 1 > l->cap) {
        l->cap = 2 * (l->len + (size_t)n + 1);
        l->p = realloc(l->p, l->cap);
        assert_non_null(l->p);
    }
    va_start(ap, fmt);
    vsnprintf(l->p + l->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    l->len += (size_t)n;
}

/* One record of component at log time t_ms (UTC), its trailer on the next line: "41220" (no
 * Notes session), "41207" (session again) or any other code. */
static void log_record(struct log *l, int64_t t_ms, const char *component, const char *code)
{
    time_t t = (time_t)(t_ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    char when[32];
    strftime(when, sizeof(when), "%Y/%m/%d %H:%M:%S", &tm);
    const char *text = strcmp(code, "41220") == 0   ? "Error: no Notes Session Open."
                       : strcmp(code, "41207") == 0 ? "Successfully Initialized Notes Interface"
                                                    : "Information: mail transfer complete";
    log_printf(l, "%s - %s(0a18) 1 %s:%s\r\n>> ntshcs(2055)\r\n", when, component, code, text);
}

static void log_free(struct log *l)
{
    free(l->p);
    *l = (struct log){ 0 };
}

static void append_file(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "ab");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

/* "2024-03-01T10:15:00.000Z": how lme.incident writes log times. */
static const char *iso(int64_t ms, char out[32])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    char s[24];
    strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, 32, "%s.%03dZ", s, (int)(ms % 1000));
    return out;
}

/* One input: the files glob matches, of connector (NULL: none), into buf. */
static const char *input_json(char *buf, size_t size, const char *glob, const char *connector)
{
    char conn[128] = "";
    if (connector)
        snprintf(conn, sizeof(conn), ",\"connector\":\"%s\"", connector);
    snprintf(buf, size,
             "{\"type\":\"file\",\"paths\":[\"%s\"],\"timezone\":\"UTC\",\"start_at\":\"beginning\","
             "\"multiline_flush_ms\":100%s}",
             glob, conn);
    return buf;
}

/* Writes tmp/name.json: state in tmp/name.state, the given inputs (JSON array members), sinks
 * (members; NULL: one file sink, tmp/name.out), members of enrichment and connectors (NULL:
 * none). Returns its path (in_tmp's buffer). */
static const char *write_config(const char *name, const char *inputs, const char *sinks,
                                const char *enrichment, const char *connectors)
{
    static char text[32768];
    char file_sink[PATH_MAX + 64];
    snprintf(file_sink, sizeof(file_sink), "{\"type\":\"file\",\"path\":\"%s/%s.out\"}", tmp, name);
    int n = snprintf(text, sizeof(text),
                     "{\"host_name\":\"" HOST "\",\"state_dir\":\"%s/%s.state\","
                     "\"checkpoint_interval_ms\":100,\"inputs\":[%s],\"sinks\":[%s],"
                     "\"enrichment\":{\"incidents\":true%s%s},\"connectors\":{%s}}",
                     tmp, name, inputs, sinks ? sinks : file_sink, enrichment ? "," : "",
                     enrichment ? enrichment : "", connectors ? connectors : "");
    assert_true(n < (int)sizeof(text));
    char cfg[64];
    snprintf(cfg, sizeof(cfg), "%s.json", name);
    const char *path = in_tmp(cfg);
    assert_int_equal(write_file(path, text, (size_t)n), 0);
    return path;
}

static void run_once(const char *cfg)
{
    struct run_result res;
    char *argv[] = { (char *)binary, "run", "--config", (char *)cfg, "--once", NULL };
    assert_int_equal(run_cmd(argv, NULL, 0, &res), 0);
    if (res.status != 0)
        fprintf(stderr, "run --once: %s\n", res.err);
    assert_int_equal(res.status, 0);
    run_result_free(&res);
}

/* Every event of a file sink's output (each validated later against the schema). */
static json_t *read_events(const char *path)
{
    size_t len = 0;
    char *text = read_file(path, &len);
    json_t *all = events_parse(text ? text : "", text ? len : 0);
    free(text);
    assert_non_null(all);
    return all;
}

/* The incident events of events, in their order (new array). */
static json_t *incidents_of(json_t *events)
{
    json_t *out = json_array();
    size_t i;
    json_t *ev;
    json_array_foreach(events, i, ev)
        if (event_is_incident(ev))
            json_array_append(out, ev);
    return out;
}

static size_t count_incidents(json_t *events)
{
    json_t *all = incidents_of(events);
    size_t n = json_array_size(all);
    json_decref(all);
    return n;
}

/* The 41220 records of events (new array). */
static json_t *storm_of(json_t *events)
{
    json_t *out = json_array();
    size_t i;
    json_t *ev;
    json_array_foreach(events, i, ev) {
        const char *code = event_str(ev, "event.code");
        if (!event_is_incident(ev) && code && strcmp(code, "41220") == 0)
            json_array_append(out, ev);
    }
    return out;
}

static size_t count_records(json_t *events)
{
    size_t n = 0, i;
    json_t *ev;
    json_array_foreach(events, i, ev)
        n += !event_is_incident(ev);
    return n;
}

static json_int_t num(json_t *ev, const char *dotted)
{
    return json_integer_value(event_get(ev, dotted));
}

/* What lme.incident.change and count the event says, as "open:1". */
static const char *change_of(json_t *ev, char out[64])
{
    snprintf(out, 64, "%s:%" JSON_INTEGER_FORMAT, event_str(ev, "lme.incident.change"),
             num(ev, "lme.incident.count"));
    return out;
}

static void print_incidents(const char *what, json_t *incidents)
{
    size_t i;
    json_t *ev;
    fprintf(stderr, "%s: %zu incident events\n", what, json_array_size(incidents));
    json_array_foreach(incidents, i, ev) {
        char *s = json_dumps(event_get(ev, "lme.incident"), JSON_SORT_KEYS);
        fprintf(stderr, "  %s %s\n", event_str(ev, "event.id"), s);
        free(s);
    }
}

/* Asserts incidents are, in order, the changes ("open:1", "resolved:500", ...) given. */
static void expect_changes(json_t *incidents, const char *const changes[])
{
    size_t n = 0;
    while (changes[n])
        n++;
    bool ok = json_array_size(incidents) == n;
    for (size_t i = 0; ok && i < n; i++) {
        char got[64];
        ok = strcmp(change_of(json_array_get(incidents, i), got), changes[i]) == 0;
    }
    if (!ok) {
        print_incidents("unexpected", incidents);
        for (size_t i = 0; i < n; i++)
            fprintf(stderr, "  expected %s\n", changes[i]);
    }
    assert_true(ok);
}

/* A storm of n 41220s one second apart from t_ms, then (when resolve) a 41207 a minute after. */
static void log_storm(struct log *l, int64_t t_ms, int n, bool resolve)
{
    for (int i = 0; i < n; i++)
        log_record(l, t_ms + i * 1000LL, COMPONENT, "41220");
    if (resolve)
        log_record(l, t_ms + (n - 1) * 1000LL + MIN_MS, COMPONENT, "41207");
}

/* Every 41220 of events names incident id (and there are n of them). */
static void expect_storm_named(json_t *events, const char *id, size_t n)
{
    json_t *storm = storm_of(events);
    assert_int_equal(json_array_size(storm), n);
    size_t i;
    json_t *ev;
    json_array_foreach(storm, i, ev) {
        const char *got = event_str(ev, "lme.incident.id");
        if (!got || strcmp(got, id) != 0)
            fail_msg("41220 %zu names incident %s, not %s", i, got ? got : "(none)", id);
        assert_non_null(event_get(ev, "lme.diagnosis.cause"));
    }
    json_decref(storm);
}

/* One open and one resolved (41207) with count n, the same incident id, which every 41220 of
 * events names; returns that id (static). */
static const char *expect_one_incident(json_t *events, size_t n, const char *key)
{
    static char id[33];
    json_t *inc = incidents_of(events);
    char resolved[64];
    snprintf(resolved, sizeof(resolved), "resolved:%zu", n);
    expect_changes(inc, (const char *const[]){ "open:1", resolved, NULL });
    json_t *open = json_array_get(inc, 0), *end = json_array_get(inc, 1);
    assert_string_equal(event_str(open, "event.kind"), "alert");
    assert_string_equal(event_str(open, "event.dataset"), "lme.incident");
    assert_string_equal(json_string_value(json_array_get(event_get(open, "event.type"), 0)), "start");
    assert_string_equal(json_string_value(json_array_get(event_get(end, "event.type"), 0)), "end");
    assert_string_equal(event_str(open, "lme.incident.state"), "open");
    assert_string_equal(event_str(end, "lme.incident.state"), "resolved");
    assert_string_equal(event_str(end, "lme.incident.resolution"), "41207");
    assert_string_equal(event_str(end, "lme.incident.key"), key);
    assert_string_equal(event_str(open, "lme.incident.id"), event_str(end, "lme.incident.id"));
    assert_string_not_equal(event_str(open, "event.id"), event_str(end, "event.id"));
    snprintf(id, sizeof(id), "%s", event_str(open, "lme.incident.id"));
    assert_int_equal(strlen(id), 32);
    expect_storm_named(events, id, n);
    json_decref(inc);
    return id;
}

/* ---- Kafka ---- */

static void start_broker(struct proc *mb, const char *const topics[], char *brokers, size_t size)
{
    assert_int_equal(mock_broker_start(mock_tool, topics, mb, brokers, size), 0);
}

/* The values of every message of topic, as events (new array). */
static json_t *consume(const char *brokers, const char *topic)
{
    struct run_result res;
    char *argv[] = { (char *)kcat, "-b", (char *)brokers, "-C", "-t", (char *)topic, "-o", "beginning",
                     "-e", "-q", "-f", "%s\n", NULL };
    assert_int_equal(run_cmd(argv, NULL, 0, &res), 0);
    if (res.status != 0)
        fprintf(stderr, "kcat: %s", res.err);
    assert_int_equal(res.status, 0);
    json_t *events = events_parse(res.out, res.out_len);
    assert_non_null(events);
    run_result_free(&res);
    return events;
}

static int by_string(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The distinct event.ids of events, sorted, as one string "id,id,...": for comparing sets. */
static char *id_set(json_t *events)
{
    size_t n = json_array_size(events), i;
    const char **ids = calloc(n ? n : 1, sizeof(*ids));
    json_t *ev;
    json_array_foreach(events, i, ev)
        ids[i] = event_str(ev, "event.id");
    qsort(ids, n, sizeof(*ids), by_string);
    char *out = calloc(n * 33 + 1, 1);
    for (i = 0; i < n; i++) {
        if (i && strcmp(ids[i], ids[i - 1]) == 0)
            continue;
        strcat(out, ids[i]);
        strcat(out, ",");
    }
    free(ids);
    return out;
}

/* A storm of storm_n 41220s and a 41207 through `run --once` into a Kafka sink with alerts as
 * given (NULL: the default); returns the main topic's events and *alerts the alerts topic's. */
static json_t *storm_through_kafka(const char *name, const char *alerts, int storm_n,
                                   json_t **alerts_got)
{
    char topic[64], alerts_topic[64];
    snprintf(topic, sizeof(topic), "%s.events", name);
    snprintf(alerts_topic, sizeof(alerts_topic), "%s.alerts", name);
    char spec_a[80], spec_b[80];
    snprintf(spec_a, sizeof(spec_a), "%s:1", topic);
    snprintf(spec_b, sizeof(spec_b), "%s:1", alerts_topic);
    struct proc mb;
    char brokers[512];
    start_broker(&mb, (const char *const[]){ spec_a, spec_b, NULL }, brokers, sizeof(brokers));

    char dir[64], glob[PATH_MAX], log_path[PATH_MAX], input[2 * PATH_MAX], sink[2048];
    snprintf(dir, sizeof(dir), "%s-logs", name);
    assert_int_equal(mkdir(in_tmp(dir), 0755), 0);
    snprintf(glob, sizeof(glob), "%s/*.log", in_tmp(dir));
    snprintf(log_path, sizeof(log_path), "%s/storm.log", in_tmp(dir));
    struct log l = { 0 };
    log_storm(&l, T0_MS, storm_n, true);
    assert_int_equal(write_file(log_path, l.p, l.len), 0);
    log_free(&l);
    char mode[64] = "";
    if (alerts)
        snprintf(mode, sizeof(mode), ",\"alerts\":\"%s\"", alerts);
    snprintf(sink, sizeof(sink),
             "{\"type\":\"kafka\",\"brokers\":\"%s\",\"topic\":\"%s\",\"alerts_topic\":\"%s\"%s}",
             brokers, topic, alerts_topic, mode);
    /* 500 seconds of storm: no running count on the way (incident_update_ms) */
    run_once(write_config(name, input_json(input, sizeof(input), glob, NULL), sink,
                          "\"incident_update_ms\":3600000", NULL));
    json_t *events = consume(brokers, topic);
    *alerts_got = consume(brokers, alerts_topic);
    proc_stop(&mb);
    return events;
}

/* Asserts a and b hold the same event.ids (each at most once in a). */
static void expect_same_events(json_t *a, json_t *b)
{
    char *ia = id_set(a), *ib = id_set(b);
    assert_int_equal(strlen(ia), json_array_size(a) * 33); /* no duplicates */
    assert_string_equal(ia, ib);
    free(ia);
    free(ib);
}


/* ---- a daemon following ---- */

static void start_daemon(const char *cfg, const char *err_name, struct proc *d)
{
    const char *err_log = in_tmp(err_name);
    unlink(err_log);
    assert_int_equal(proc_start((char *const[]){ (char *)binary, "run", "--config", (char *)cfg,
                                                 NULL }, err_log, d), 0);
    /* signals before its handlers are in place would kill it: wait until it says it runs */
    assert_true(file_wait_for(err_log, "msg=started", 10000));
}

static void stop_daemon(struct proc *d)
{
    assert_int_equal(kill(d->pid, SIGTERM), 0);
    assert_int_equal(proc_wait(d, 30000), 0);
    proc_stop(d);
}

static void kill_daemon(struct proc *d)
{
    assert_int_equal(kill(d->pid, SIGKILL), 0);
    assert_int_equal(proc_wait(d, 10000), 128 + SIGKILL);
    proc_stop(d);
}

/* Waits until the checkpoints of config `name` say every file of paths (NULL-ended) was
 * settled to its end. */
static void wait_settled(const char *name, const char *const paths[])
{
    char state_dir[PATH_MAX];
    snprintf(state_dir, sizeof(state_dir), "%s/%s.state", tmp, name);
    for (int64_t end = mono_ms() + 30000;; sleep_ms(20)) {
        bool all = true;
        for (size_t i = 0; paths[i] && all; i++)
            all = checkpoint_offset(state_dir, paths[i]) == file_size(paths[i]);
        if (all)
            return;
        if (mono_ms() > end)
            fail_msg("%s: the checkpoints never reached the end of the files", name);
    }
}

/* The incident events of events, each event.id once (the first copy), after checking that every
 * copy of an event.id says the same (new array). */
static json_t *distinct_incidents(json_t *events)
{
    json_t *by_id = json_object(), *out = json_array();
    size_t i;
    json_t *ev;
    json_array_foreach(events, i, ev) {
        if (!event_is_incident(ev))
            continue;
        const char *id = event_str(ev, "event.id");
        json_t *was = json_object_get(by_id, id);
        if (!was) {
            json_object_set(by_id, id, ev);
            json_array_append(out, ev);
        } else if (!json_equal(event_get(was, "lme.incident"), event_get(ev, "lme.incident")) ||
                   strcmp(event_str(was, "@timestamp"), event_str(ev, "@timestamp")) != 0) {
            print_incidents("two copies of one event.id differ", json_pack("[O,O]", was, ev));
            fail_msg("incident event %s sent again with other content", id);
        }
    }
    json_decref(by_id);
    return out;
}

/* An incident event as two runs over the same files must both say it: without when it was sent
 * (event.created) and the diagnosis of the moment (probed at another time), its cause kept
 * (new reference). */
static json_t *comparable(json_t *ev)
{
    json_t *c = json_deep_copy(ev);
    const char *cause = event_str(ev, "lme.diagnosis.cause");
    json_object_del(json_object_get(c, "event"), "created");
    json_object_del(json_object_get(c, "lme"), "diagnosis");
    json_object_set_new(json_object_get(c, "lme"), "diagnosis_cause", json_string(cause ? cause : ""));
    return c;
}

/* Asserts got and want are the same incident events, in the same order, with the same content
 * (as comparable() sees it). */
static void expect_same_incidents(json_t *got, json_t *want)
{
    bool same = json_array_size(got) == json_array_size(want);
    for (size_t i = 0; same && i < json_array_size(got); i++) {
        json_t *a = comparable(json_array_get(got, i)), *b = comparable(json_array_get(want, i));
        same = json_equal(a, b);
        if (!same) {
            char *ga = json_dumps(a, JSON_SORT_KEYS), *gb = json_dumps(b, JSON_SORT_KEYS);
            fprintf(stderr, "incident event %zu:\n got:  %s\n want: %s\n", i, ga, gb);
            free(ga);
            free(gb);
        }
        json_decref(a);
        json_decref(b);
    }
    if (!same) {
        print_incidents("got", got);
        print_incidents("want", want);
    }
    assert_true(same);
}

/* ---- the tests ---- */

static void test_storm_is_one_incident_through_kafka(void **state)
{
    (void)state;
    json_t *alerts;
    json_t *events = storm_through_kafka("storm", NULL, 500, &alerts);
    /* the main topic: the 501 records and the two incident events */
    assert_int_equal(count_records(events), 501);
    assert_int_equal(json_array_size(events), 503);
    expect_one_incident(events, 500, HOST "/" COMPONENT);
    /* each incident event goes just before the record that caused it */
    json_t *first = json_array_get(events, 0), *second = json_array_get(events, 1);
    assert_true(event_is_incident(first));
    assert_string_equal(event_str(second, "event.code"), "41220");
    assert_true(event_is_incident(json_array_get(events, 501)));
    assert_string_equal(event_str(json_array_get(events, 502), "event.code"), "41207");
    /* the alerts topic (default `incidents`): exactly the incident events */
    json_t *inc = incidents_of(events);
    assert_int_equal(json_array_size(alerts), 2);
    expect_same_events(alerts, inc);
    json_decref(inc);
    json_decref(alerts);
    json_decref(events);
}

/* A storm of 40 through the Kafka sink with alerts mode (NULL: the default): the alerts topic
 * holds exactly the diagnosed 41220s when records, and the incident events when incidents. */
static void expect_alerts_mode(const char *name, const char *mode, bool records, bool incidents)
{
    json_t *alerts;
    json_t *events = storm_through_kafka(name, mode, 40, &alerts);
    expect_one_incident(events, 40, HOST "/" COMPONENT);
    json_t *want = records ? storm_of(events) : json_array();
    json_t *inc = incidents_of(events);
    if (incidents)
        json_array_extend(want, inc);
    assert_int_equal(json_array_size(alerts), (records ? 40 : 0) + (incidents ? 2 : 0));
    expect_same_events(alerts, want);
    json_decref(inc);
    json_decref(want);
    json_decref(alerts);
    json_decref(events);
}

static void test_alerts_topic_modes(void **state)
{
    (void)state;
    expect_alerts_mode("every", "every_41220", true, false); /* as before incidents */
    expect_alerts_mode("both", "both", true, true);
    expect_alerts_mode("incidents", "incidents", false, true);
}

#define STORM_ENRICHMENT "\"incident_update_ms\":3600000"

/* The storm of test_storm (500 41220s, then a 41207) to be written into a file of its own under
 * tmp/name-logs, which a config (tmp/name.json) follows. */
struct storm {
    char path[PATH_MAX], glob[PATH_MAX], cfg[PATH_MAX];
    struct log l;
    size_t ends[501]; /* where each record ends in l */
};

static void storm_prepare(const char *name, const char *brokers, struct storm *s)
{
    char dir[64], input[2 * PATH_MAX];
    snprintf(dir, sizeof(dir), "%s-logs", name);
    assert_int_equal(mkdir(in_tmp(dir), 0755), 0);
    snprintf(s->path, sizeof(s->path), "%s/storm.log", in_tmp(dir));
    snprintf(s->glob, sizeof(s->glob), "%s/*.log", in_tmp(dir));
    s->l = (struct log){ 0 };
    for (int i = 0; i < 500; i++) {
        log_record(&s->l, T0_MS + i * 1000LL, COMPONENT, "41220");
        s->ends[i] = s->l.len;
    }
    log_record(&s->l, T0_MS + 499 * 1000LL + MIN_MS, COMPONENT, "41207");
    s->ends[500] = s->l.len;
    /* with a broker, a Kafka sink beside the file sink: its acknowledgements come later, so
     * checkpoints lag what was read, and a restart re-reads records already judged */
    char sinks[2048] = "";
    if (brokers)
        snprintf(sinks, sizeof(sinks),
                 "{\"type\":\"file\",\"path\":\"%s/%s.out\"},{\"type\":\"kafka\",\"brokers\":\"%s\","
                 "\"topic\":\"%s\"}", tmp, name, brokers, name);
    snprintf(s->cfg, sizeof(s->cfg), "%s",
             write_config(name, input_json(input, sizeof(input), s->glob, NULL),
                          brokers ? sinks : NULL, STORM_ENRICHMENT, NULL));
}

/* Appends records [from, to) of the storm to its file. */
static void storm_write(struct storm *s, size_t from, size_t to)
{
    size_t start = from ? s->ends[from - 1] : 0;
    append_file(s->path, s->l.p + start, s->ends[to - 1] - start);
}

/* What an interrupted reading of the storm's file sent (tmp/name.out) against one uninterrupted
 * `run --once` over the final file with a fresh state_dir: the same incident events (ids and
 * content), one open and one resolved with count 500; every copy of a 41220 names the incident. */
static void expect_as_uninterrupted(const char *name, const char *glob)
{
    char input[2 * PATH_MAX], fresh[64], out[80];
    snprintf(fresh, sizeof(fresh), "%s-fresh", name);
    run_once(write_config(fresh, input_json(input, sizeof(input), glob, NULL), NULL,
                          STORM_ENRICHMENT, NULL));
    snprintf(out, sizeof(out), "%s.out", fresh);
    json_t *want = read_events(in_tmp(out));
    const char *id = expect_one_incident(want, 500, HOST "/" COMPONENT);
    json_t *want_inc = incidents_of(want);

    snprintf(out, sizeof(out), "%s.out", name);
    json_t *got = read_events(in_tmp(out));
    json_t *got_inc = distinct_incidents(got);
    expect_same_incidents(got_inc, want_inc);
    /* every 41220 was sent (some twice, after a kill) and names the one incident */
    json_t *storm = storm_of(got);
    assert_true(json_array_size(storm) >= 500);
    json_t *want_storm = storm_of(want);
    char *want_ids = id_set(want_storm), *got_ids = id_set(storm);
    json_decref(want_storm);
    assert_string_equal(got_ids, want_ids);
    free(want_ids);
    free(got_ids);
    expect_storm_named(got, id, json_array_size(storm));
    fprintf(stderr, "%s: %zu events sent for 503, %zu incident events for 2\n", name,
            json_array_size(got), count_incidents(got));
    json_decref(storm);
    json_decref(got_inc);
    json_decref(got);
    json_decref(want_inc);
    json_decref(want);
}

static void test_sigterm_restarts_in_a_storm_change_nothing(void **state)
{
    (void)state;
    struct storm s;
    storm_prepare("term", NULL, &s);
    struct proc d;
    /* 200 41220s read and settled, then a restart */
    storm_write(&s, 0, 200);
    start_daemon(s.cfg, "term-1.err", &d);
    wait_settled("term", (const char *const[]){ s.path, NULL });
    stop_daemon(&d);
    /* 150 more, stopped as soon as it runs: whatever it read by then */
    storm_write(&s, 200, 350);
    start_daemon(s.cfg, "term-2.err", &d);
    stop_daemon(&d);
    /* the rest, the 41207 included */
    storm_write(&s, 350, 501);
    start_daemon(s.cfg, "term-3.err", &d);
    wait_settled("term", (const char *const[]){ s.path, NULL });
    stop_daemon(&d);
    log_free(&s.l);
    expect_as_uninterrupted("term", s.glob);
}

/* A reload (SIGHUP) in the middle of a storm keeps the incident open: the 41207 after it resolves
 * the same incident with the whole count, as if nothing had happened. */
static void test_reload_in_a_storm_changes_nothing(void **state)
{
    (void)state;
    struct storm s;
    storm_prepare("reload", NULL, &s);
    struct proc d;
    storm_write(&s, 0, 200);
    start_daemon(s.cfg, "reload.err", &d);
    wait_settled("reload", (const char *const[]){ s.path, NULL });
    assert_int_equal(kill(d.pid, SIGHUP), 0);
    assert_true(file_wait_for(in_tmp("reload.err"), "msg=reloaded", 20000));
    storm_write(&s, 200, 501);
    wait_settled("reload", (const char *const[]){ s.path, NULL });
    stop_daemon(&d);
    log_free(&s.l);
    expect_as_uninterrupted("reload", s.glob);
}

static void test_kill_9_in_a_storm_changes_nothing(void **state)
{
    (void)state;
    struct storm s;
    struct proc mb, d;
    char brokers[512];
    start_broker(&mb, (const char *const[]){ "kill:1", NULL }, brokers, sizeof(brokers));
    storm_prepare("kill", brokers, &s);
    /* 20 records every 15 ms while it follows; killed twice, at random moments, restarted */
    const char *env = getenv("LME_TEST_SEED");
    unsigned seed = env && *env ? (unsigned)strtoul(env, NULL, 10) : (unsigned)time(NULL);
    fprintf(stderr, "kill -9 in a storm: seed=%u (LME_TEST_SEED=%u repeats it)\n", seed, seed);
    int kill_at[2] = { 2 + rand_r(&seed) % 8, 12 + rand_r(&seed) % 10 };
    start_daemon(s.cfg, "kill-0.err", &d);
    for (size_t chunk = 0, done = 0, runs = 1; done < 501; chunk++) {
        size_t next = done + 20 > 501 ? 501 : done + 20;
        storm_write(&s, done, next);
        done = next;
        sleep_ms(15);
        if (chunk == (size_t)kill_at[0] || chunk == (size_t)kill_at[1]) {
            kill_daemon(&d);
            char err[32];
            snprintf(err, sizeof(err), "kill-%zu.err", runs++);
            start_daemon(s.cfg, err, &d);
        }
    }
    wait_settled("kill", (const char *const[]){ s.path, NULL });
    stop_daemon(&d);
    proc_stop(&mb);
    log_free(&s.l);
    expect_as_uninterrupted("kill", s.glob);
}

/* The incident events of events whose lme.incident.key is key (new array). */
static json_t *incidents_of_key(json_t *events, const char *key)
{
    json_t *all = incidents_of(events), *out = json_array();
    size_t i;
    json_t *ev;
    json_array_foreach(all, i, ev)
        if (strcmp(event_str(ev, "lme.incident.key"), key) == 0)
            json_array_append(out, ev);
    json_decref(all);
    return out;
}

/* A folder tmp/dir with one log file name holding l; returns the glob of the folder's logs
 * (in_tmp's buffer). */
static const char *logs_in(const char *dir, const char *name, const struct log *l)
{
    char file[128], glob[128];
    assert_int_equal(mkdir(in_tmp(dir), 0755), 0);
    snprintf(file, sizeof(file), "%s/%s", dir, name);
    assert_int_equal(write_file(in_tmp(file), l->p, l->len), 0);
    snprintf(glob, sizeof(glob), "%s/*.log", dir);
    return in_tmp(glob);
}

static void test_two_connectors_have_incidents_of_their_own(void **state)
{
    (void)state;
    /* the same host and component, two connectors: conn-a's 41207 comes in the middle of
     * conn-b's storm, and must end only conn-a's incident */
    struct log a = { 0 }, b = { 0 };
    for (int i = 0; i < 50; i++) {
        if (i < 30)
            log_record(&a, T0_MS + 2000LL * i, COMPONENT, "41220");
        if (i == 35)
            log_record(&a, T0_MS + 2000LL * i, COMPONENT, "41207");
        log_record(&b, T0_MS + 2000LL * i + 1000, COMPONENT, "41220");
        if (i % 7 == 0)
            log_record(&b, T0_MS + 2000LL * i + 1500, COMPONENT, "10012");
    }
    log_record(&b, T0_MS + 200000, COMPONENT, "41207");
    char inputs[4 * PATH_MAX], *w = inputs;
    w += strlen(input_json(w, 2 * PATH_MAX, logs_in("two-a", "a.log", &a), "conn-a"));
    *w++ = ',';
    input_json(w, 2 * PATH_MAX, logs_in("two-b", "b.log", &b), "conn-b");
    log_free(&a);
    log_free(&b);
    run_once(write_config("two", inputs, NULL, NULL, "\"conn-a\":{},\"conn-b\":{}"));
    json_t *events = read_events(in_tmp("two.out"));
    json_t *inc_a = incidents_of_key(events, "conn-a"), *inc_b = incidents_of_key(events, "conn-b");
    assert_int_equal(count_incidents(events), 4);
    expect_changes(inc_a, (const char *const[]){ "open:1", "resolved:30", NULL });
    expect_changes(inc_b, (const char *const[]){ "open:1", "resolved:50", NULL });
    const char *id_a = event_str(json_array_get(inc_a, 0), "lme.incident.id");
    const char *id_b = event_str(json_array_get(inc_b, 0), "lme.incident.id");
    assert_string_not_equal(id_a, id_b);
    assert_string_equal(event_str(json_array_get(inc_a, 1), "lme.incident.id"), id_a);
    assert_string_equal(event_str(json_array_get(inc_b, 1), "lme.incident.id"), id_b);
    assert_string_equal(event_str(json_array_get(inc_a, 0), "lme.incident.connector"), "conn-a");
    assert_string_equal(event_str(json_array_get(inc_b, 0), "lme.incident.connector"), "conn-b");
    assert_string_equal(event_str(json_array_get(inc_a, 1), "lme.incident.resolution"), "41207");
    assert_string_equal(event_str(json_array_get(inc_b, 1), "lme.incident.resolution"), "41207");
    char when[32];
    assert_string_equal(event_str(json_array_get(inc_a, 1), "lme.incident.resolved_at"),
                        iso(T0_MS + 70000, when));
    assert_string_equal(event_str(json_array_get(inc_b, 1), "lme.incident.resolved_at"),
                        iso(T0_MS + 200000, when));
    /* each file's 41220s name their own connector's incident */
    size_t i, n_a = 0, n_b = 0;
    json_t *ev;
    json_t *storm = storm_of(events);
    json_array_foreach(storm, i, ev) {
        bool in_a = strstr(event_str(ev, "log.file.path"), "/two-a/") != NULL;
        assert_string_equal(event_str(ev, "lme.incident.id"), in_a ? id_a : id_b);
        n_a += in_a;
        n_b += !in_a;
    }
    assert_int_equal(n_a, 30);
    assert_int_equal(n_b, 50);
    json_decref(storm);
    json_decref(inc_a);
    json_decref(inc_b);
    json_decref(events);
}

static void test_quiet_log_time_resolves_and_the_next_41220_opens_another(void **state)
{
    (void)state;
    struct log l = { 0 };
    for (int i = 0; i < 10; i++) /* 10:00:00 .. 10:00:09 */
        log_record(&l, T0_MS + i * 1000LL, COMPONENT, "41220");
    log_record(&l, T0_MS + 18 * MIN_MS, "LME-NOTES-OTHER", "10012"); /* another key: nothing */
    log_record(&l, T0_MS + 20 * MIN_MS, COMPONENT, "10012");         /* 20 minutes on: resolved */
    log_record(&l, T0_MS + 25 * MIN_MS, COMPONENT, "41220");         /* a new incident */
    log_record(&l, T0_MS + 26 * MIN_MS, COMPONENT, "41207");
    char input[2 * PATH_MAX];
    input_json(input, sizeof(input), logs_in("quiet-logs", "q.log", &l), NULL);
    log_free(&l);
    run_once(write_config("quiet", input, NULL, "\"incident_quiet_ms\":900000", NULL));
    json_t *events = read_events(in_tmp("quiet.out"));
    json_t *inc = incidents_of(events);
    expect_changes(inc, (const char *const[]){ "open:1", "resolved:10", "open:1", "resolved:1", NULL });
    json_t *quiet = json_array_get(inc, 1);
    char when[32];
    assert_string_equal(event_str(quiet, "lme.incident.resolution"), "quiet");
    assert_string_equal(event_str(quiet, "lme.incident.resolved_at"), iso(T0_MS + 9000 + 15 * MIN_MS, when));
    assert_string_equal(event_str(quiet, "@timestamp"), when);
    assert_string_equal(event_str(quiet, "lme.incident.last_seen"), iso(T0_MS + 9000, when));
    const char *first = event_str(json_array_get(inc, 0), "lme.incident.id");
    const char *second = event_str(json_array_get(inc, 2), "lme.incident.id");
    assert_string_equal(event_str(quiet, "lme.incident.id"), first);
    assert_string_not_equal(first, second);
    assert_string_equal(event_str(json_array_get(inc, 3), "lme.incident.id"), second);
    assert_string_equal(event_str(json_array_get(inc, 3), "lme.incident.resolution"), "41207");
    /* the resolve goes out just before the record that showed the quiet */
    size_t i;
    json_t *ev;
    json_array_foreach(events, i, ev)
        if (ev == quiet)
            break;
    json_t *after = json_array_get(events, i + 1);
    assert_string_equal(event_str(after, "event.code"), "10012");
    assert_string_equal(event_str(after, "process.name"), COMPONENT);
    json_decref(inc);
    json_decref(events);
}

/* ---- connectors with probes ---- */

/* A connector's disks under tmp/dir: c/winnt/Notes.ini naming key_file_name (relative to
 * d:\notes\data) and d/Notes/Data/Connector.ID; the Notes.ini replaced whole (rename). */
static void write_tree(const char *dir, const char *key_file_name)
{
    static const char *const dirs[] = { "", "/c", "/c/winnt", "/d", "/d/Notes", "/d/Notes/Data" };
    char path[PATH_MAX], text[512];
    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
        snprintf(path, sizeof(path), "%s%s", dir, dirs[i]);
        mkdir(in_tmp(path), 0755);
    }
    snprintf(path, sizeof(path), "%s/d/Notes/Data/Connector.ID", dir);
    assert_int_equal(write_file(in_tmp(path), "id-file-bytes", 13), 0);
    chmod(in_tmp(path), 0644);
    int n = snprintf(text, sizeof(text), "[Notes]\r\nDirectory=d:\\notes\\data\r\nKeyFileName=%s\r\n",
                     key_file_name);
    snprintf(path, sizeof(path), "%s/c/winnt/Notes.ini.new", dir);
    assert_int_equal(write_file(in_tmp(path), text, (size_t)n), 0);
    char final[PATH_MAX];
    snprintf(final, sizeof(final), "%s/c/winnt/Notes.ini", dir);
    assert_int_equal(rename(in_tmp(path), in_tmp(final)), 0);
}

/* The connectors member naming connector, probing tmp/dir's tree (server: NULL for none, else
 * "host\",\"port\":N"-style members), probed every interval_ms (0: only for 41220s). */
static const char *connector_json(char *buf, size_t size, const char *connector, const char *dir,
                                  const char *server, int interval_ms)
{
    char root[PATH_MAX];
    snprintf(root, sizeof(root), "%s/%s", tmp, dir);
    snprintf(buf, size,
             "\"%s\":{\"notes_ini\":\"%s/c/winnt/Notes.ini\",\"id_file\":\"%s/d/Notes/Data/Connector.ID\","
             "\"service_user\":\"nobody\",\"path_map\":{\"C:\\\\\":\"%s/c/\",\"d:/\":\"%s/d/\"},"
             "\"probe_interval_ms\":%d%s%s}",
             connector, root, root, root, root, interval_ms, server ? ",\"notes_server\":" : "",
             server ? server : "");
    return buf;
}

/* Waits (up to timeout_ms) until the file sink's output at out holds an incident event whose
 * lme.incident.change is change, and returns it (new reference), or fails. */
static json_t *wait_incident(const char *out, const char *change, int timeout_ms)
{
    for (int64_t end = mono_ms() + timeout_ms;; sleep_ms(50)) {
        size_t len = 0;
        char *text = read_file(out, &len);
        json_t *found = NULL;
        if (text && len && text[len - 1] == '\n') {
            json_t *all = events_parse(text, len), *inc = incidents_of(all), *ev;
            size_t i;
            json_array_foreach(inc, i, ev)
                if (!found && strcmp(event_str(ev, "lme.incident.change"), change) == 0)
                    found = json_incref(ev);
            json_decref(inc);
            json_decref(all);
        }
        free(text);
        if (found)
            return found;
        if (mono_ms() > end)
            fail_msg("no `%s` incident event in %s within %d ms", change, out, timeout_ms);
    }
}

/* Asserts the incident events of the file sink's output tmp/out are changes (expect_changes);
 * returns all its events. */
static json_t *expect_changes_in(const char *out, const char *const changes[])
{
    json_t *events = read_events(in_tmp(out)), *inc = incidents_of(events);
    expect_changes(inc, changes);
    json_decref(inc);
    return events;
}

/* A 41220 (or code) of COMPONENT logged now, appended to path. */
static void log_now(const char *path, const char *code)
{
    struct log l = { 0 };
    log_record(&l, (int64_t)time(NULL) * 1000, COMPONENT, code);
    append_file(path, l.p, l.len);
    log_free(&l);
}

/* A connector probed every 200 ms whose Notes.ini names the wrong ID file, with a quiet log
 * (one ordinary record): followed by a daemon started here (config tmp/name.json, output
 * tmp/name.out); *predicted gets the `predicted` event. */
static void start_predicted(const char *name, char *log_path, struct proc *d, json_t **predicted)
{
    char tree[64], dir[64], conn[8 * PATH_MAX], input[2 * PATH_MAX], glob[PATH_MAX], out[80];
    snprintf(tree, sizeof(tree), "%s-tree", name);
    snprintf(dir, sizeof(dir), "%s-logs", name);
    write_tree(tree, "admin.id");
    struct log l = { 0 };
    log_record(&l, (int64_t)time(NULL) * 1000, COMPONENT, "10012");
    snprintf(glob, PATH_MAX, "%s", logs_in(dir, "p.log", &l));
    log_free(&l);
    snprintf(log_path, PATH_MAX, "%s/%s/p.log", tmp, dir);
    const char *cfg = write_config(name, input_json(input, sizeof(input), glob, "notes-p"), NULL,
                                   NULL, connector_json(conn, sizeof(conn), "notes-p", tree, NULL, 200));
    start_daemon(cfg, "p.err", d);
    snprintf(out, sizeof(out), "%s.out", name);
    *predicted = wait_incident(in_tmp(out), "predicted", 10000);
    assert_string_equal(event_str(*predicted, "lme.incident.state"), "predicted");
    assert_string_equal(event_str(*predicted, "lme.incident.cause"), "keyfilename_mismatch");
    assert_string_equal(event_str(*predicted, "lme.incident.connector"), "notes-p");
    assert_int_equal(num(*predicted, "lme.incident.count"), 0);
    assert_string_equal(json_string_value(json_array_get(event_get(*predicted, "event.type"), 0)), "start");
    assert_string_equal(event_str(*predicted, "lme.diagnosis.cause"), "keyfilename_mismatch");
}

static void test_periodic_probes_predict_and_a_fix_resolves(void **state)
{
    (void)state;
    char log_path[PATH_MAX];
    struct proc d;
    json_t *predicted;
    start_predicted("pred", log_path, &d, &predicted);
    write_tree("pred-tree", "connector.id"); /* fixed: the next round passes */
    json_t *resolved = wait_incident(in_tmp("pred.out"), "resolved", 10000);
    stop_daemon(&d);
    assert_string_equal(event_str(resolved, "lme.incident.resolution"), "probes");
    assert_string_equal(event_str(resolved, "lme.incident.id"), event_str(predicted, "lme.incident.id"));
    assert_string_equal(json_string_value(json_array_get(event_get(resolved, "event.type"), 0)), "end");
    /* nothing else: no 41220 was logged */
    json_decref(expect_changes_in("pred.out", (const char *const[]){ "predicted:0", "resolved:0", NULL }));
    json_decref(resolved);
    json_decref(predicted);
}

static void test_a_41220_while_predicted_opens_the_same_incident(void **state)
{
    (void)state;
    char log_path[PATH_MAX];
    struct proc d;
    json_t *predicted;
    start_predicted("pred41220", log_path, &d, &predicted);
    log_now(log_path, "41220");
    json_t *open = wait_incident(in_tmp("pred41220.out"), "open", 10000);
    stop_daemon(&d);
    assert_string_equal(event_str(open, "lme.incident.id"), event_str(predicted, "lme.incident.id"));
    assert_string_equal(event_str(open, "lme.incident.state"), "open");
    assert_string_equal(event_str(open, "lme.incident.cause"), "keyfilename_mismatch");
    assert_int_equal(num(open, "lme.incident.count"), 1);
    /* a change of the incident the prediction started, not a start of another */
    assert_string_equal(json_string_value(json_array_get(event_get(open, "event.type"), 0)), "change");
    json_t *events = expect_changes_in("pred41220.out", (const char *const[]){ "predicted:0", "open:1", NULL });
    expect_storm_named(events, event_str(open, "lme.incident.id"), 1);
    json_decref(events);
    json_decref(open);
    json_decref(predicted);
}

static void test_a_cause_that_changes_mid_incident_is_updated(void **state)
{
    (void)state;
    /* the ID file is there and the Notes server refuses (a closed port): notes_server_unreachable;
     * then the ID file is deleted, and once the probes' cache expired, id_file_missing */
    write_tree("cause-tree", "connector.id");
    char server[64], conn[8 * PATH_MAX], input[2 * PATH_MAX], glob[PATH_MAX], log_path[PATH_MAX];
    snprintf(server, sizeof(server), "{\"host\":\"127.0.0.1\",\"port\":%d}", free_port());
    struct log l = { 0 };
    log_record(&l, (int64_t)time(NULL) * 1000, COMPONENT, "10012");
    snprintf(glob, sizeof(glob), "%s", logs_in("cause-logs", "c.log", &l));
    log_free(&l);
    snprintf(log_path, sizeof(log_path), "%s/cause-logs/c.log", tmp);
    const char *cfg = write_config("cause", input_json(input, sizeof(input), glob, "notes-c"), NULL,
                                   "\"probe_cache_ms\":100,\"probe_timeout_ms\":1500",
                                   connector_json(conn, sizeof(conn), "notes-c", "cause-tree", server, 0));
    struct proc d;
    start_daemon(cfg, "cause.err", &d);
    for (int i = 0; i < 3; i++)
        log_now(log_path, "41220");
    json_t *open = wait_incident(in_tmp("cause.out"), "open", 10000);
    assert_string_equal(event_str(open, "lme.incident.cause"), "notes_server_unreachable");
    wait_settled("cause", (const char *const[]){ log_path, NULL });
    unlink(in_tmp("cause-tree/d/Notes/Data/Connector.ID"));
    int written = 3;
    json_t *updated = NULL;
    for (int64_t end = mono_ms() + 10000; !updated && mono_ms() < end; written++) {
        sleep_ms(150); /* past probe_cache_ms: the next 41220 gets a new round */
        log_now(log_path, "41220");
        wait_settled("cause", (const char *const[]){ log_path, NULL });
        json_t *events = read_events(in_tmp("cause.out")), *inc = incidents_of(events);
        if (json_array_size(inc) > 1)
            updated = json_incref(json_array_get(inc, 1));
        json_decref(inc);
        json_decref(events);
    }
    assert_non_null(updated);
    log_now(log_path, "41207");
    json_t *resolved = wait_incident(in_tmp("cause.out"), "resolved", 10000);
    stop_daemon(&d);
    assert_string_equal(event_str(updated, "lme.incident.change"), "updated");
    assert_string_equal(event_str(updated, "lme.incident.cause"), "id_file_missing");
    assert_string_equal(event_str(updated, "lme.diagnosis.cause"), "id_file_missing");
    assert_string_equal(event_str(updated, "lme.incident.id"), event_str(open, "lme.incident.id"));
    assert_int_equal(num(updated, "lme.incident.count"), written);
    assert_string_equal(event_str(resolved, "lme.incident.id"), event_str(open, "lme.incident.id"));
    assert_string_equal(event_str(resolved, "lme.incident.cause"), "id_file_missing");
    assert_int_equal(num(resolved, "lme.incident.count"), written);
    json_t *events = read_events(in_tmp("cause.out")), *inc = incidents_of(events);
    assert_int_equal(json_array_size(inc), 3); /* open, updated, resolved: nothing more */
    expect_storm_named(events, event_str(open, "lme.incident.id"), (size_t)written);
    json_decref(inc);
    json_decref(events);
    json_decref(resolved);
    json_decref(updated);
    json_decref(open);
}

/* ---- the model-based random run ---- */

#define MODEL_QUIET_MS (10 * MIN_MS)  /* in wall time too long for the idle rule to fire */
#define MODEL_UPDATE_MS (2 * MIN_MS)
#define MODEL_KEYS 2

/* A model of the incident rules (docs/incidents.md) for one key, fed the records the test writes,
 * in order: what incident events the daemon must send. */
struct model_key {
    const char *connector;
    bool open;
    int incident;   /* the current (or last) incident's number, -1 before the first */
    long long count;
    int64_t first_seen, last_seen, last_update;
    json_t *expected; /* [{change, state, count, first_seen, last_seen, opened_at, resolved_at,
                         resolution, incident}] */
    json_t *named;    /* per 41220 written, the number of the incident it belongs to */
};

static int model_incidents; /* numbers incidents across keys */

static void model_note(struct model_key *k, const char *change, int64_t resolved_at,
                       const char *resolution)
{
    char a[32], b[32], c[32];
    json_t *e = json_pack("{s:s, s:s, s:I, s:s, s:s, s:s, s:i}", "change", change, "state",
                          resolution ? "resolved" : "open", "count", (json_int_t)k->count,
                          "first_seen", iso(k->first_seen, a), "last_seen", iso(k->last_seen, b),
                          "opened_at", iso(k->first_seen, c), "incident", k->incident);
    if (resolution) {
        json_object_set_new(e, "resolved_at", json_string(iso(resolved_at, a)));
        json_object_set_new(e, "resolution", json_string(resolution));
    }
    json_array_append_new(k->expected, e);
}

static void model_record(struct model_key *k, int64_t t, const char *code)
{
    if (k->open && t - k->last_seen >= MODEL_QUIET_MS) {
        model_note(k, "resolved", k->last_seen + MODEL_QUIET_MS, "quiet");
        k->open = false;
    }
    if (strcmp(code, "41207") == 0 && k->open) {
        model_note(k, "resolved", t, "41207");
        k->open = false;
    }
    if (strcmp(code, "41220") != 0)
        return;
    if (!k->open) {
        k->open = true;
        k->incident = model_incidents++;
        k->count = 1;
        k->first_seen = k->last_seen = k->last_update = t;
        model_note(k, "open", 0, NULL);
    } else {
        k->count++;
        k->last_seen = t;
        if (t - k->last_update >= MODEL_UPDATE_MS) {
            k->last_update = t;
            model_note(k, "updated", 0, NULL);
        }
    }
    json_array_append_new(k->named, json_integer(k->incident));
}

/* One chunk of a key's log: a storm, a recovery, a quiet gap, or ordinary records; written to
 * the log l and fed to the model. *t is the key's log clock. */
static void model_chunk(struct model_key *k, struct log *l, int64_t *t, unsigned *rnd)
{
    int kind = rand_r(rnd) % 10, n;
    if (kind < 4) { /* a storm */
        n = 1 + rand_r(rnd) % 30;
        for (int i = 0; i < n; i++) {
            *t += 1000 * (1 + rand_r(rnd) % 8); /* the log has seconds */
            log_record(l, *t, COMPONENT, "41220");
            model_record(k, *t, "41220");
        }
    } else if (kind < 6) { /* the connector has a session again */
        *t += 1000 * (1 + rand_r(rnd) % 60);
        log_record(l, *t, COMPONENT, "41207");
        model_record(k, *t, "41207");
    } else if (kind < 7) { /* quiet: the next record, whatever it is, comes after the period */
        *t += MODEL_QUIET_MS - 2000 + 1000 * (rand_r(rnd) % 300);
    } else { /* ordinary records */
        n = 1 + rand_r(rnd) % 5;
        for (int i = 0; i < n; i++) {
            *t += 1000 * (1 + rand_r(rnd) % 20);
            log_record(l, *t, COMPONENT, "10012");
            model_record(k, *t, "10012");
        }
    }
}

/* The fields of an incident event the model predicts, as the model writes them (new). */
static json_t *as_model(json_t *ev)
{
    json_t *inc = event_get(ev, "lme.incident");
    json_t *m = json_object();
    static const char *const keys[] = { "change", "state", "count", "first_seen", "last_seen",
                                        "opened_at", "resolved_at", "resolution" };
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        if (json_object_get(inc, keys[i]))
            json_object_set(m, keys[i], json_object_get(inc, keys[i]));
    return m;
}

/* The daemon's incident events of one key against the model's: the same changes with the same
 * fields, one incident id per model incident (none shared); every 41220 of the key's file names
 * its model incident's id. */
static void expect_model(json_t *events, struct model_key *k, const char *file_part)
{
    json_t *got = incidents_of_key(events, k->connector);
    bool same = json_array_size(got) == json_array_size(k->expected);
    json_t *ids = json_object(); /* model incident number -> id */
    for (size_t i = 0; same && i < json_array_size(got); i++) {
        json_t *ev = json_array_get(got, i), *want = json_deep_copy(json_array_get(k->expected, i));
        char number[16];
        snprintf(number, sizeof(number), "%" JSON_INTEGER_FORMAT,
                 json_integer_value(json_object_get(want, "incident")));
        json_object_del(want, "incident");
        json_t *m = as_model(ev);
        same = json_equal(m, want);
        const char *id = event_str(ev, "lme.incident.id");
        json_t *was = json_object_get(ids, number);
        if (!was) {
            for (const char *key = NULL, *other = NULL; same;) { /* a new incident: a new id */
                json_t *v;
                json_object_foreach(ids, key, v)
                    if (strcmp(json_string_value(v), id) == 0)
                        other = key;
                same = !other;
                break;
            }
            json_object_set_new(ids, number, json_string(id));
        } else {
            same = same && strcmp(json_string_value(was), id) == 0;
        }
        if (!same) {
            char *a = json_dumps(m, JSON_SORT_KEYS), *b = json_dumps(want, JSON_SORT_KEYS);
            fprintf(stderr, "%s: event %zu (incident %s, id %s)\n got:   %s\n model: %s\n",
                    k->connector, i, number, id, a, b);
            free(a);
            free(b);
        }
        json_decref(m);
        json_decref(want);
    }
    if (json_array_size(got) != json_array_size(k->expected))
        fprintf(stderr, "%s: %zu incident events, the model says %zu\n", k->connector,
                json_array_size(got), json_array_size(k->expected));
    assert_true(same);
    json_t *storm = storm_of(events), *ev;
    size_t i, n = 0;
    json_array_foreach(storm, i, ev) {
        if (!strstr(event_str(ev, "log.file.path"), file_part))
            continue;
        char number[16];
        snprintf(number, sizeof(number), "%" JSON_INTEGER_FORMAT,
                 json_integer_value(json_array_get(k->named, n++)));
        const char *want = json_string_value(json_object_get(ids, number));
        assert_non_null(want);
        assert_string_equal(event_str(ev, "lme.incident.id"), want);
    }
    assert_int_equal(n, json_array_size(k->named));
    json_decref(storm);
    json_decref(ids);
    json_decref(got);
}

static void test_random_run_with_restarts_matches_one_run_and_the_model(void **state)
{
    (void)state;
    const char *env = getenv("LME_TEST_SEED");
    unsigned seed = env && *env ? (unsigned)strtoul(env, NULL, 10)
                                : (unsigned)time(NULL) ^ ((unsigned)getpid() << 16);
    const char *soak = getenv("LME_INCIDENT_SOAK_S");
    int seconds = soak && *soak ? atoi(soak) : 20;
    fprintf(stderr, "model run: seed=%u (LME_TEST_SEED=%u repeats it), %d s "
            "(LME_INCIDENT_SOAK_S)\n", seed, seed, seconds);
    unsigned rnd = seed;
    static const char *const names[MODEL_KEYS] = { "conn-a", "conn-b" };
    struct model_key keys[MODEL_KEYS];
    char paths[MODEL_KEYS][PATH_MAX], inputs[4 * PATH_MAX] = "";
    int64_t clock[MODEL_KEYS];
    for (int i = 0; i < MODEL_KEYS; i++) {
        keys[i] = (struct model_key){ .connector = names[i], .incident = -1,
                                      .expected = json_array(), .named = json_array() };
        clock[i] = T0_MS + i * 7000;
        char dir[32], input[2 * PATH_MAX], glob[PATH_MAX];
        snprintf(dir, sizeof(dir), "model-%d", i);
        assert_int_equal(mkdir(in_tmp(dir), 0755), 0);
        snprintf(paths[i], PATH_MAX, "%s/%s.log", in_tmp(dir), names[i]);
        snprintf(glob, sizeof(glob), "%s/*.log", in_tmp(dir));
        if (i)
            strcat(inputs, ",");
        strcat(inputs, input_json(input, sizeof(input), glob, names[i]));
    }
    char enrichment[128];
    snprintf(enrichment, sizeof(enrichment), "\"incident_quiet_ms\":%lld,\"incident_update_ms\":%lld",
             (long long)MODEL_QUIET_MS, (long long)MODEL_UPDATE_MS);
    const char *connectors = "\"conn-a\":{},\"conn-b\":{}";
    /* a Kafka sink beside the file sink: its acknowledgements lag, so a restart re-reads records
     * already judged (commit_replayed) */
    struct proc mb;
    char brokers[512], sinks[2048], cfg[PATH_MAX];
    start_broker(&mb, (const char *const[]){ "model:1", NULL }, brokers, sizeof(brokers));
    snprintf(sinks, sizeof(sinks),
             "{\"type\":\"file\",\"path\":\"%s/model.out\"},{\"type\":\"kafka\",\"brokers\":\"%s\","
             "\"topic\":\"model\"}", tmp, brokers);
    snprintf(cfg, sizeof(cfg), "%s", write_config("model", inputs, sinks, enrichment, connectors));

    /* chunks every 10-40 ms; a stop (SIGTERM or kill -9) every 0.3-1.5 s, chunks written while
     * it is down, then a restart */
    int64_t end = mono_ms() + seconds * 1000LL, next_stop = mono_ms() + 300 + rand_r(&rnd) % 1200;
    int runs = 0, kills = 0, terms = 0;
    size_t chunks = 0;
    struct proc d;
    start_daemon(cfg, "model-0.err", &d);
    while (mono_ms() < end) {
        int i = rand_r(&rnd) % MODEL_KEYS;
        struct log l = { 0 };
        model_chunk(&keys[i], &l, &clock[i], &rnd);
        if (l.len)
            append_file(paths[i], l.p, l.len);
        log_free(&l);
        chunks++;
        sleep_ms(10 + rand_r(&rnd) % 30);
        if (mono_ms() < next_stop)
            continue;
        if (rand_r(&rnd) % 2) {
            kill_daemon(&d);
            kills++;
        } else {
            stop_daemon(&d);
            terms++;
        }
        char err[32];
        snprintf(err, sizeof(err), "model-%d.err", ++runs);
        start_daemon(cfg, err, &d);
        next_stop = mono_ms() + 300 + rand_r(&rnd) % 1200;
    }
    wait_settled("model", (const char *const[]){ paths[0], paths[1], NULL });
    stop_daemon(&d);
    proc_stop(&mb);

    /* one uninterrupted run over the final files, with a fresh state_dir */
    run_once(write_config("model-fresh", inputs, NULL, enrichment, connectors));
    json_t *want = read_events(in_tmp("model-fresh.out"));
    json_t *got = read_events(in_tmp("model.out"));
    size_t n_model = 0;
    for (int i = 0; i < MODEL_KEYS; i++) {
        expect_model(want, &keys[i], i ? "/model-1/" : "/model-0/");
        n_model += json_array_size(keys[i].expected);
        json_t *a = incidents_of_key(want, names[i]), *all = distinct_incidents(got);
        json_t *b = incidents_of_key(all, names[i]);
        expect_same_incidents(b, a);
        json_decref(a);
        json_decref(b);
        json_decref(all);
    }
    /* every record arrived, under its own event.id, and each copy of a 41220 names the
     * incident the uninterrupted run gave it */
    json_t *want_storm = storm_of(want), *got_storm = storm_of(got), *ev;
    char *a = id_set(got), *b = id_set(want);
    assert_string_equal(a, b);
    free(a);
    free(b);
    json_t *incident_of = json_object();
    size_t i;
    json_array_foreach(want_storm, i, ev)
        json_object_set_new(incident_of, event_str(ev, "event.id"),
                            json_string(event_str(ev, "lme.incident.id")));
    json_array_foreach(got_storm, i, ev)
        assert_string_equal(event_str(ev, "lme.incident.id"),
                            json_string_value(json_object_get(incident_of, event_str(ev, "event.id"))));
    fprintf(stderr, "model run: %zu chunks, %d SIGTERM and %d kill -9 restarts; %zu records "
            "(%zu 41220s), %zu incident events, %zu incidents; %zu events sent\n",
            chunks, terms, kills, count_records(want), json_array_size(want_storm), n_model,
            (size_t)model_incidents, json_array_size(got));
    json_decref(incident_of);
    json_decref(want_storm);
    json_decref(got_storm);
    json_decref(got);
    json_decref(want);
    for (int k = 0; k < MODEL_KEYS; k++) {
        json_decref(keys[k].expected);
        json_decref(keys[k].named);
    }
}

/* ---- main ---- */

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: %s LME_INGEST FIXTURES_DIR MOCK_BROKER KCAT\n", argv[0]);
        return 2;
    }
    binary = argv[1], mock_tool = argv[3], kcat = argv[4];
    if (!(tmp = make_temp_dir()))
        return 1;
    chmod(tmp, 0755); /* the probes' service account must be able to look inside */
    const char *only = getenv("LME_TEST_ONLY");
    struct CMUnitTest tests[] = {
        cmocka_unit_test(test_storm_is_one_incident_through_kafka),
        cmocka_unit_test(test_alerts_topic_modes),
        cmocka_unit_test(test_sigterm_restarts_in_a_storm_change_nothing),
        cmocka_unit_test(test_reload_in_a_storm_changes_nothing),
        cmocka_unit_test(test_kill_9_in_a_storm_changes_nothing),
        cmocka_unit_test(test_two_connectors_have_incidents_of_their_own),
        cmocka_unit_test(test_quiet_log_time_resolves_and_the_next_41220_opens_another),
        cmocka_unit_test(test_periodic_probes_predict_and_a_fix_resolves),
        cmocka_unit_test(test_a_41220_while_predicted_opens_the_same_incident),
        cmocka_unit_test(test_a_cause_that_changes_mid_incident_is_updated),
        cmocka_unit_test(test_random_run_with_restarts_matches_one_run_and_the_model),
    };
    if (only && *only)
        cmocka_set_test_filter(only);
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    if (!failed)
        remove_tree(tmp);
    free(tmp);
    return failed;
}
