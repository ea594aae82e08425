/* `lme-ingest run --once` against a real Kafka-protocol broker (lme-mock-broker, its own
 * process on loopback), read back with kcat: every fixture record arrives exactly once, as the
 * schema's JSON, keyed and ordered per key, with its headers and event.created as its timestamp;
 * a broker down at start; a broker that never answers; the dead-letter path; a fatal producer
 * error survived; a Kafka sink without event.original and headers beside a file sink that keeps
 * them (two encodings of each event).
 * Usage: test_run_kafka LME_INGEST FIXTURES_DIR MOCK_BROKER KCAT */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <glob.h>
#include <jansson.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "events.h"
#include "proc.h"
#include "run_cmd.h"

static const char *binary, *fixtures, *mock_tool, *kcat;
static char *tmp;
static json_t *expected; /* `parse` of the same files: the events, in pipeline order */

#define TOPIC "lme.events"
#define HOST "test-host"

static struct run_result run(const char *const args[])
{
    char *argv[32];
    int n = 0;
    for (int i = 0; args[i]; i++)
        argv[n++] = (char *)args[i];
    argv[n] = NULL;
    struct run_result res;
    assert_int_equal(run_cmd(argv, NULL, 0, &res), 0);
    return res;
}

static const char *path_in_tmp(const char *name)
{
    static char path[8][PATH_MAX];
    static int next;
    char *p = path[next++ % 8];
    snprintf(p, PATH_MAX, "%s/%s", tmp, name);
    return p;
}

/* Writes a config reading every sample into one Kafka sink; sink_extra and top_extra are JSON
 * members (",\"k\":v") added to the sink and the top level. These tests count records exactly:
 * incidents are off (test_incidents has them through Kafka). */
static const char *write_config(const char *name, const char *brokers, const char *sink_extra,
                                const char *top_extra)
{
    char text[4096];
    int n = snprintf(text, sizeof(text),
                     "{\"host_name\":\"" HOST "\",\"state_dir\":\"%s/%s.state\"%s,"
                     "\"enrichment\":{\"incidents\":false},"
                     "\"inputs\":[{\"type\":\"file\",\"paths\":[\"%s/samples/*.log\"],"
                     "\"timezone\":\"UTC\"}],"
                     "\"sinks\":[{\"type\":\"kafka\",\"brokers\":\"%s\",\"topic\":\"" TOPIC "\"%s}]}",
                     tmp, name, top_extra ? top_extra : "", fixtures, brokers,
                     sink_extra ? sink_extra : "");
    const char *path = path_in_tmp(name);
    assert_int_equal(write_file(path, text, (size_t)n), 0);
    return path;
}

/* Every message of the topic: [{"partition", "offset", "key", "headers", "timestamp",
 * "value"}, ...]. */
static json_t *consume(const char *brokers)
{
    struct run_result res = run((const char *const[]){ kcat, "-b", brokers, "-C", "-t", TOPIC,
        "-o", "beginning", "-e", "-q", "-f", "%p\t%o\t%k\t%h\t%T\t%s\n", NULL });
    assert_int_equal(res.status, 0);
    json_t *msgs = json_array();
    char *save = NULL;
    for (char *line = strtok_r(res.out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *f[6];
        for (int i = 0; i < 5; i++) {
            f[i] = line;
            line = strchr(line, '\t');
            assert_non_null(line);
            *line++ = '\0';
        }
        f[5] = line;
        json_error_t jerr;
        json_t *value = json_loads(f[5], JSON_REJECT_DUPLICATES, &jerr);
        if (!value)
            fail_msg("message value is not JSON (%s): %s", jerr.text, f[5]);
        json_array_append_new(msgs, json_pack("{s:i, s:I, s:s, s:s, s:I, s:o}", "partition",
                                              atoi(f[0]), "offset", (json_int_t)atoll(f[1]),
                                              "key", f[2], "headers", f[3], "timestamp",
                                              (json_int_t)atoll(f[4]), "value", value));
    }
    run_result_free(&res);
    return msgs;
}

static size_t expected_index(const char *id)
{
    size_t i;
    json_t *ev;
    json_array_foreach(expected, i, ev)
        if (strcmp(event_str(ev, "event.id"), id) == 0)
            return i;
    fail_msg("unexpected event.id %s", id);
    return 0;
}

static int setup(void **state)
{
    (void)state;
    tmp = make_temp_dir();
    char pattern[PATH_MAX];
    snprintf(pattern, sizeof(pattern), "%s/samples/*.log", fixtures);
    glob_t g; /* the same files in the same (sorted) order as the daemon's glob */
    if (!tmp || glob(pattern, 0, NULL, &g) != 0)
        return -1;
    char *argv[64] = { (char *)binary, "parse", "-q", "--timezone", "UTC", "--host", HOST };
    int n = 7;
    for (size_t i = 0; i < g.gl_pathc && n < 63; i++)
        argv[n++] = g.gl_pathv[i];
    argv[n] = NULL;
    struct run_result res;
    int rc = run_cmd(argv, NULL, 0, &res);
    globfree(&g);
    if (rc != 0 || res.status != 0)
        return -1;
    expected = events_parse_records(res.out, res.out_len);
    run_result_free(&res);
    return expected && json_array_size(expected) == 134 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    json_decref(expected);
    remove_tree(tmp);
    free(tmp);
    return 0;
}

static void check_message(json_t *msg)
{
    json_t *value = json_object_get(msg, "value");
    json_t *want = json_array_get(expected, expected_index(event_str(value, "event.id")));
    /* the value is the schema's event, field for field (but for when it was read) */
    json_t *a = json_deep_copy(value), *b = json_deep_copy(want);
    /* every 41220 carries its diagnosis (test_diagnose checks what it says); others none */
    const char *code = event_str(value, "event.code");
    assert_int_equal(event_get(value, "lme.diagnosis") != NULL, code && strcmp(code, "41220") == 0);
    json_object_del(json_object_get(a, "lme"), "diagnosis");
    json_object_del(json_object_get(a, "event"), "created");
    json_object_del(json_object_get(b, "event"), "created");
    if (event_has_tag(value, "lme_no_timestamp")) { /* then @timestamp is when it was read, too */
        json_object_del(a, "@timestamp");
        json_object_del(b, "@timestamp");
    }
    if (!json_equal(a, b)) {
        char *ga = json_dumps(a, JSON_SORT_KEYS), *gb = json_dumps(b, JSON_SORT_KEYS);
        fprintf(stderr, "delivered: %s\nexpected:  %s\n", ga, gb);
        free(ga);
        free(gb);
    }
    assert_true(json_equal(a, b));
    json_decref(a);
    json_decref(b);

    /* the message's timestamp is event.created: when the record was read */
    struct tm tm = { 0 };
    int ms = 0;
    const char *created = event_str(value, "event.created");
    assert_non_null(strptime(created, "%Y-%m-%dT%H:%M:%S", &tm));
    assert_int_equal(sscanf(strchr(created, '.'), ".%3dZ", &ms), 1);
    assert_int_equal(json_integer_value(json_object_get(msg, "timestamp")),
                     (json_int_t)timegm(&tm) * 1000 + ms);

    const char *component = event_str(value, "process.name");
    char key[256];
    snprintf(key, sizeof(key), component ? HOST "/%s" : HOST, component);
    assert_string_equal(json_string_value(json_object_get(msg, "key")), key);
    const char *headers = json_string_value(json_object_get(msg, "headers"));
    assert_non_null(strstr(headers, "lme.schema_version=1"));
    char want_header[32];
    snprintf(want_header, sizeof(want_header), "event.code=%s", code ? code : "");
    if (code)
        assert_non_null(strstr(headers, want_header));
}

/* Per key, messages in partition-offset order follow the log's order. */
static void check_order_per_key(json_t *msgs)
{
    size_t n = json_array_size(msgs);
    for (size_t i = 0; i < n; i++) {
        json_t *a = json_array_get(msgs, i);
        for (size_t j = i + 1; j < n; j++) {
            json_t *b = json_array_get(msgs, j);
            if (strcmp(json_string_value(json_object_get(a, "key")),
                       json_string_value(json_object_get(b, "key"))) != 0)
                continue;
            assert_int_equal(json_integer_value(json_object_get(a, "partition")),
                             json_integer_value(json_object_get(b, "partition")));
            int a_first = json_integer_value(json_object_get(a, "offset")) <
                          json_integer_value(json_object_get(b, "offset"));
            size_t ia = expected_index(event_str(json_object_get(a, "value"), "event.id"));
            size_t ib = expected_index(event_str(json_object_get(b, "value"), "event.id"));
            assert_int_equal(a_first, ia < ib);
        }
    }
}

/* Asserts every expected event is among msgs' values; returns how many times each id came. */
static void check_all_arrived(json_t *msgs, int exactly_once)
{
    size_t n = json_array_size(expected);
    int *seen = calloc(n, sizeof(int));
    size_t i;
    json_t *msg;
    json_array_foreach(msgs, i, msg)
        seen[expected_index(event_str(json_object_get(msg, "value"), "event.id"))]++;
    for (i = 0; i < n; i++) {
        if (seen[i] == 0 || (exactly_once && seen[i] != 1))
            fail_msg("event %zu arrived %d times", i, seen[i]);
    }
    free(seen);
}

static void start_broker(struct proc *mb, char *brokers, size_t size)
{
    static const char *const topics[] = { TOPIC ":6", NULL };
    assert_int_equal(mock_broker_start(mock_tool, topics, mb, brokers, size), 0);
}

static void test_every_record_arrives_once_keyed_and_in_order(void **state)
{
    (void)state;
    struct proc mb;
    char brokers[512];
    start_broker(&mb, brokers, sizeof(brokers));
    const char *cfg = write_config("ok.json", brokers, NULL, NULL);
    struct run_result res = run((const char *const[]){ binary, "run", "--config", cfg, "--once", NULL });
    if (res.status != 0)
        fprintf(stderr, "%s", res.err);
    assert_int_equal(res.status, 0);
    assert_non_null(strstr(res.err, "delivered=134 dead_lettered=0"));
    cpu_set_t cpus; /* on two CPUs or more, the sink has its own thread */
    if (sched_getaffinity(0, sizeof(cpus), &cpus) == 0 && CPU_COUNT(&cpus) > 1)
        assert_null(strstr(res.err, "one CPU"));
    char samples[PATH_MAX];
    snprintf(samples, sizeof(samples), "%s/samples", fixtures);
    assert_true(log_files_settled(res.err, samples, -1));
    run_result_free(&res);

    json_t *msgs = consume(brokers);
    assert_int_equal(json_array_size(msgs), 134);
    size_t i;
    json_t *msg;
    json_array_foreach(msgs, i, msg)
        check_message(msg);
    check_all_arrived(msgs, 1);
    check_order_per_key(msgs);
    json_decref(msgs);
    proc_stop(&mb);
}

/* With one CPU to run on (the affinity a child inherits), the sink stays on the reading thread,
 * says so, and every record arrives once as with its own thread. */
static void test_one_cpu_produces_on_the_reading_thread(void **state)
{
    (void)state;
    cpu_set_t all, one;
    assert_int_equal(sched_getaffinity(0, sizeof(all), &all), 0);
    CPU_ZERO(&one);
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &all)) {
            CPU_SET(c, &one);
            break;
        }
    struct proc mb;
    char brokers[512];
    start_broker(&mb, brokers, sizeof(brokers));
    const char *cfg = write_config("one-cpu.json", brokers, NULL, NULL);
    assert_int_equal(sched_setaffinity(0, sizeof(one), &one), 0);
    struct run_result res = run((const char *const[]){ binary, "run", "--config", cfg, "--once", NULL });
    assert_int_equal(sched_setaffinity(0, sizeof(all), &all), 0);
    if (res.status != 0)
        fprintf(stderr, "%s", res.err);
    assert_int_equal(res.status, 0);
    assert_non_null(strstr(res.err, "one CPU: the Kafka sink produces on the reading thread"));
    assert_non_null(strstr(res.err, "delivered=134 dead_lettered=0"));
    run_result_free(&res);
    json_t *msgs = consume(brokers);
    check_all_arrived(msgs, 1);
    check_order_per_key(msgs);
    json_decref(msgs);
    proc_stop(&mb);
}

static void test_broker_down_at_start_then_up(void **state)
{
    (void)state;
    struct proc mb, daemon;
    char brokers[512];
    start_broker(&mb, brokers, sizeof(brokers));
    assert_int_equal(mock_broker_command(&mb, "down"), 0);
    const char *cfg = write_config("down.json", brokers, NULL, NULL);
    const char *log = path_in_tmp("down.log");
    assert_int_equal(proc_start((char *const[]){ (char *)binary, "run", "--config", (char *)cfg,
                                                 "--once", NULL }, log, &daemon), 0);
    /* it says so clearly, and keeps trying */
    assert_true(file_wait_for(log, "kafka: retrying", 20000));
    assert_int_equal(proc_wait(&daemon, 0), -1);
    assert_int_equal(mock_broker_command(&mb, "up"), 0);
    assert_int_equal(proc_wait(&daemon, 60000), 0);
    json_t *msgs = consume(brokers);
    assert_int_equal(json_array_size(msgs), 134);
    check_all_arrived(msgs, 1);
    json_decref(msgs);
    proc_stop(&daemon);
    proc_stop(&mb);
}

static void test_unreachable_broker_ends_once_with_the_count(void **state)
{
    (void)state;
    /* a port with nothing listening: a broker that cannot be reached at all */
    const char *cfg = write_config("unreachable.json", "127.0.0.1:1", NULL, ",\"once_timeout_ms\":1500");
    struct run_result res = run((const char *const[]){ binary, "run", "--config", cfg, "--once", NULL });
    assert_int_equal(res.status, 1);
    assert_non_null(strstr(res.err, "kafka: retrying"));
    assert_non_null(strstr(res.err, "undelivered=134"));
    char samples[PATH_MAX];
    snprintf(samples, sizeof(samples), "%s/samples", fixtures);
    assert_true(log_files_settled(res.err, samples, 0)); /* nothing acknowledged: nothing settled */
    /* said clearly, but once per kind of trouble, not at every reconnection attempt */
    const char *first = strstr(res.err, "error=_TRANSPORT");
    assert_non_null(first);
    assert_null(strstr(first + 1, "error=_TRANSPORT"));
    run_result_free(&res);
}

static void test_too_large_events_go_to_the_dead_letter_file(void **state)
{
    (void)state;
    struct proc mb;
    char brokers[512];
    start_broker(&mb, brokers, sizeof(brokers));
    const char *dead = path_in_tmp("dead.jsonl");
    char extra[512];
    snprintf(extra, sizeof(extra), ",\"dead_letter_path\":\"%s\",\"rdkafka\":{\"message.max.bytes\":1000}", dead);
    const char *cfg = write_config("dead.json", brokers, extra, NULL);
    struct run_result res = run((const char *const[]){ binary, "run", "--config", cfg, "--once", NULL });
    assert_int_equal(res.status, 0);
    char samples[PATH_MAX];
    snprintf(samples, sizeof(samples), "%s/samples", fixtures);
    assert_true(log_files_settled(res.err, samples, -1)); /* set aside counts as settled */
    /* logged once for the reason, however many events it cost */
    const char *first = strstr(res.err, "dead-letter");
    assert_non_null(first);
    assert_null(strstr(first + 1, "msg=\"event set aside"));

    size_t len;
    char *text = read_file(dead, &len);
    assert_non_null(text);
    json_t *dead_events = events_parse_records(text, len);
    assert_non_null(dead_events);
    json_t *msgs = consume(brokers);
    assert_true(json_array_size(dead_events) > 0);
    assert_true(json_array_size(msgs) > 0);
    assert_int_equal(json_array_size(dead_events) + json_array_size(msgs), 134);
    size_t i;
    json_t *d;
    json_array_foreach(dead_events, i, d) {
        assert_string_equal(event_str(d, "reason"), "MSG_SIZE_TOO_LARGE");
        assert_string_equal(event_str(d, "destination"), TOPIC);
        json_array_append_new(msgs, json_pack("{s:O}", "value", json_object_get(d, "event")));
    }
    check_all_arrived(msgs, 1); /* every event exactly once: delivered or set aside */
    char count[64];
    snprintf(count, sizeof(count), "dead_lettered=%zu", json_array_size(dead_events));
    assert_non_null(strstr(res.err, count));
    snprintf(count, sizeof(count), "reason=MSG_SIZE_TOO_LARGE count=%zu", json_array_size(dead_events));
    assert_non_null(strstr(res.err, count)); /* counted by reason */
    json_decref(msgs);
    json_decref(dead_events);
    free(text);
    run_result_free(&res);
    proc_stop(&mb);
}

static void test_fatal_producer_error_recreates_the_producer(void **state)
{
    (void)state;
    struct proc mb;
    char brokers[512];
    start_broker(&mb, brokers, sizeof(brokers));
    /* OUT_OF_ORDER_SEQUENCE_NUMBER (45) on Produce: fatal for the idempotent producer */
    assert_int_equal(mock_broker_command(&mb, "produce-errors 3 45"), 0);
    const char *cfg = write_config("fatal.json", brokers, NULL, NULL);
    struct run_result res = run((const char *const[]){ binary, "run", "--config", cfg, "--once", NULL });
    assert_int_equal(res.status, 0);
    assert_non_null(strstr(res.err, "fatal producer error"));
    assert_non_null(strstr(res.err, "delivered=134"));
    json_t *msgs = consume(brokers);
    check_all_arrived(msgs, 0); /* at least once: re-sent messages may have landed before */
    json_decref(msgs);
    run_result_free(&res);
    proc_stop(&mb);
}

static void test_kafka_without_original_and_headers_beside_a_whole_file(void **state)
{
    (void)state;
    struct proc mb;
    char brokers[512];
    start_broker(&mb, brokers, sizeof(brokers));
    const char *out = path_in_tmp("whole.jsonl");
    char extra[1024];
    snprintf(extra, sizeof(extra),
             ",\"event_original\":false,\"headers\":false}"
             ",{\"type\":\"file\",\"path\":\"%s\"", out);
    const char *cfg = write_config("lean.json", brokers, extra, NULL);
    struct run_result res = run((const char *const[]){ binary, "run", "--config", cfg, "--once", NULL });
    assert_int_equal(res.status, 0);
    size_t len;
    char *text = read_file(out, &len);
    assert_non_null(text);
    json_t *whole = events_parse_records(text, len), *msgs = consume(brokers);
    assert_int_equal(json_array_size(whole), 134);
    assert_int_equal(json_array_size(msgs), 134);
    size_t i;
    json_t *msg;
    json_array_foreach(msgs, i, msg) { /* the file's event but for event.original; no headers */
        assert_string_equal(json_string_value(json_object_get(msg, "headers")), "");
        json_t *value = json_object_get(msg, "value");
        assert_null(event_get(value, "event.original"));
        json_t *w = NULL, *e; /* consumed partition by partition: found by id */
        size_t j;
        json_array_foreach(whole, j, e)
            if (strcmp(event_str(e, "event.id"), event_str(value, "event.id")) == 0)
                w = e;
        assert_non_null(w);
        assert_non_null(event_get(w, "event.original"));
        json_t *trimmed = json_deep_copy(w);
        json_object_del(json_object_get(trimmed, "event"), "original");
        assert_true(json_equal(trimmed, value));
        json_decref(trimmed);
    }
    json_decref(whole);
    json_decref(msgs);
    free(text);
    run_result_free(&res);
    proc_stop(&mb);
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: %s LME_INGEST FIXTURES_DIR MOCK_BROKER KCAT\n", argv[0]);
        return 2;
    }
    binary = argv[1];
    fixtures = argv[2];
    mock_tool = argv[3];
    kcat = argv[4];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_record_arrives_once_keyed_and_in_order),
        cmocka_unit_test(test_one_cpu_produces_on_the_reading_thread),
        cmocka_unit_test(test_broker_down_at_start_then_up),
        cmocka_unit_test(test_unreachable_broker_ends_once_with_the_count),
        cmocka_unit_test(test_too_large_events_go_to_the_dead_letter_file),
        cmocka_unit_test(test_fatal_producer_error_recreates_the_producer),
        cmocka_unit_test(test_kafka_without_original_and_headers_beside_a_whole_file),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
