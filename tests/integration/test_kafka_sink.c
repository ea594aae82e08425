/* The Kafka sink on its own, against a real broker process (lme-mock-broker) and read back with
 * kcat: routing of diagnosed events to alerts_topic, the three key modes, the headers (reused
 * lists carry each event's own code; none with `headers: false`), a permanent error at produce
 * time settled in the dead-letter file, events the arena has no room for, messages timed out
 * while the brokers are down and re-sent from our own copies, and a fatal producer error with
 * hundreds of events in flight.
 * Usage: test_kafka_sink MOCK_BROKER KCAT */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kafka_sink.h"
#include "proc.h"
#include "run_cmd.h"
#include "sink_thread.h"

static const char *mock_tool, *kcat;
static struct proc broker;
static char brokers[512];
static char *tmp;

static int setup(void **state)
{
    (void)state;
    static const char *const topics[] = { "events:3", "alerts:1", NULL };
    tmp = make_temp_dir();
    return tmp && mock_broker_start(mock_tool, topics, &broker, brokers, sizeof(brokers)) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    proc_stop(&broker);
    remove_tree(tmp);
    free(tmp);
    return 0;
}

static struct lme_event event(const char *component, const char *code, uint32_t flags)
{
    struct lme_event ev = { 0 };
    ev.host = (struct lme_str){ "exch01", 6 };
    if (component)
        ev.component = (struct lme_str){ component, strlen(component) };
    if (code)
        ev.code = (struct lme_str){ code, strlen(code) };
    ev.flags = flags;
    return ev;
}

/* What alerts_topic gets; the tests of copies send 41220s, so every_41220 unless a test says. */
static enum kafka_alerts_mode alerts_mode = KAFKA_ALERTS_EVERY_41220;

static struct sink *make_sink_with(enum kafka_key_mode key, const char *topic, const char *alerts,
                                   size_t n_props, char **names, char **values, int headers)
{
    char dead[PATH_MAX];
    snprintf(dead, sizeof(dead), "%s/dead.jsonl", tmp);
    struct kafka_sink_config cfg = {
        .brokers = brokers, .topic = (char *)topic, .alerts_topic = (char *)alerts, .key = key,
        .headers = headers, .event_original = 1, .alerts = alerts_mode,
        .dead_letter_path = dead, .n_props = n_props, .prop_names = names, .prop_values = values,
    };
    struct lme_err err;
    struct sink *s = kafka_sink_create(&cfg, 1 << 20, &err);
    if (!s)
        fail_msg("%s", err.msg);
    return s;
}

static struct sink *make_sink(enum kafka_key_mode key, const char *topic, const char *alerts,
                              size_t n_props, char **names, char **values)
{
    return make_sink_with(key, topic, alerts, n_props, names, values, 1);
}

/* Settlements reported by the sink, per token. */
#define MAX_TOKENS 8192
static int settled[MAX_TOKENS];

static pthread_t owner; /* settlements come on the caller's thread (sink.h), threaded or not */

static void on_settled(void *ctx, uint64_t token)
{
    (void)ctx;
    assert_true(token < MAX_TOKENS);
    assert_true(pthread_equal(pthread_self(), owner));
    settled[token]++;
}

/* Sends with a token, serves the sink until nothing is in flight, and checks the settlements
 * reported equal the copies announced. */
static uint64_t next_token = 1;

static void send_and_settle(struct sink *s, const struct lme_event *ev, const char *json)
{
    uint64_t token = next_token++;
    struct lme_err err;
    s->settled = on_settled;
    int copies = s->ops->send(s, ev, json, strlen(json), token, &err);
    assert_true(copies >= 1);
    for (int i = 0; i < 200 && s->stats.in_flight > 0; i++)
        assert_int_equal(s->ops->poll(s, 50, &err), 0);
    assert_int_equal(s->stats.in_flight, 0);
    assert_int_equal(settled[token], copies);
}

/* "key|headers|value" lines of a topic. */
static char *read_topic(const char *topic)
{
    struct run_result res;
    char *argv[] = { (char *)kcat, "-b", brokers, "-C", "-t", (char *)topic, "-o", "beginning",
                     "-e", "-q", "-f", "%k|%h|%s\n", NULL };
    assert_int_equal(run_cmd(argv, NULL, 0, &res), 0);
    assert_int_equal(res.status, 0);
    free(res.err);
    return res.out;
}

/* alerts_topic gets incident events (the default), each diagnosed 41220, or both; the topic gets
 * everything in every mode. */
static void test_alerts_modes(void **state)
{
    (void)state;
    static const struct {
        enum kafka_alerts_mode mode;
        const char *alerts, *expected;
    } modes[] = {
        { KAFKA_ALERTS_INCIDENTS, "alerts-incidents", "exch01/LME-NOTES-MEXNTS|lme.schema_version=1|{\"n\":3}\n" },
        { KAFKA_ALERTS_EVERY_41220, "alerts-every",
          "exch01/LME-NOTES-MEXNTS|lme.schema_version=1,event.code=41220|{\"n\":2}\n" },
        { KAFKA_ALERTS_BOTH, "alerts-both",
          "exch01/LME-NOTES-MEXNTS|lme.schema_version=1,event.code=41220|{\"n\":2}\n"
          "exch01/LME-NOTES-MEXNTS|lme.schema_version=1|{\"n\":3}\n" },
    };
    for (size_t m = 0; m < sizeof(modes) / sizeof(modes[0]); m++) {
        alerts_mode = modes[m].mode;
        char topic[64];
        snprintf(topic, sizeof(topic), "events-%zu", m);
        struct sink *s = make_sink(KAFKA_KEY_HOST_COMPONENT, topic, modes[m].alerts, 0, NULL, NULL);
        alerts_mode = KAFKA_ALERTS_EVERY_41220;
        struct lme_event plain = event("LME-NOTES-MEXNTS", "41210", 0);
        struct lme_event diagnosed = event("LME-NOTES-MEXNTS", "41220", LME_EV_DIAGNOSED);
        struct lme_event incident = event("LME-NOTES-MEXNTS", NULL, LME_EV_INCIDENT);
        send_and_settle(s, &plain, "{\"n\":1}");
        send_and_settle(s, &diagnosed, "{\"n\":2}");
        send_and_settle(s, &incident, "{\"n\":3}");
        uint64_t copies = 3 + (modes[m].mode != KAFKA_ALERTS_INCIDENTS) +
                          (modes[m].mode != KAFKA_ALERTS_EVERY_41220);
        assert_int_equal(s->stats.delivered, copies);
        s->ops->destroy(s);

        char *events = read_topic(topic), *alerts = read_topic(modes[m].alerts);
        assert_non_null(strstr(events, "|{\"n\":1}\n"));
        assert_non_null(strstr(events, "|{\"n\":2}\n"));
        assert_non_null(strstr(events, "|{\"n\":3}\n"));
        assert_string_equal(alerts, modes[m].expected);
        free(events);
        free(alerts);
    }
}

static void test_key_modes_and_absent_code(void **state)
{
    (void)state;
    struct lme_event controller = event(NULL, NULL, 0);
    struct lme_event comp = event("DXM", "60277", 0);
    struct sink *host = make_sink(KAFKA_KEY_HOST, "keys", NULL, 0, NULL, NULL);
    send_and_settle(host, &comp, "{\"k\":\"host\"}");
    host->ops->destroy(host);
    struct sink *none = make_sink(KAFKA_KEY_NONE, "keys", NULL, 0, NULL, NULL);
    send_and_settle(none, &comp, "{\"k\":\"none\"}");
    none->ops->destroy(none);
    struct sink *hc = make_sink(KAFKA_KEY_HOST_COMPONENT, "keys", NULL, 0, NULL, NULL);
    send_and_settle(hc, &controller, "{\"k\":\"controller\"}");
    hc->ops->destroy(hc);

    char *got = read_topic("keys"); /* auto-created with one partition: in order */
    assert_non_null(strstr(got, "exch01|lme.schema_version=1,event.code=60277|{\"k\":\"host\"}\n"));
    assert_non_null(strstr(got, "|lme.schema_version=1,event.code=60277|{\"k\":\"none\"}\n"));
    assert_null(strstr(got, "exch01|lme.schema_version=1,event.code=60277|{\"k\":\"none\"}"));
    assert_non_null(strstr(got, "exch01|lme.schema_version=1|{\"k\":\"controller\"}\n"));
    free(got);
}

static void test_too_large_at_produce_time_is_dead_lettered(void **state)
{
    (void)state;
    char *names[] = { "message.max.bytes" }, *values[] = { "1000" };
    struct sink *s = make_sink(KAFKA_KEY_HOST, "events", NULL, 1, names, values);
    char big[3000];
    memset(big, 'x', sizeof(big));
    memcpy(big, "{\"big\":\"", 8);
    memcpy(big + sizeof(big) - 3, "\"}", 3);
    struct lme_event ev = event("DXM", "60277", 0);
    send_and_settle(s, &ev, big);
    assert_int_equal(s->stats.dead_lettered, 1);
    assert_int_equal(s->stats.delivered, 0);
    s->ops->destroy(s);
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/dead.jsonl", tmp);
    char *text = read_file(path, NULL);
    assert_non_null(text);
    assert_non_null(strstr(text, "\"reason\":\"MSG_SIZE_TOO_LARGE\""));
    assert_non_null(strstr(text, "\"event\":{\"big\":\"xxx"));
    free(text);
}

/* Sends n events without waiting (json_of(i) makes the i-th), then serves the sink until none is
 * in flight; every token must be settled once per copy announced. */
struct batch {
    uint64_t first;
    int copies[MAX_TOKENS];
};

static void send_all(struct sink *s, int n, const struct lme_event *(*ev_of)(int),
                     const char *(*json_of)(int), struct batch *b, int serve_ms)
{
    struct lme_err err;
    s->settled = on_settled;
    b->first = next_token;
    for (int i = 0; i < n; i++) {
        const char *json = json_of(i);
        int copies = s->ops->send(s, ev_of(i), json, strlen(json), next_token++, &err);
        if (copies < 1)
            fail_msg("send %d: %s", i, err.msg);
        b->copies[i] = copies;
    }
    for (int t = 0; t < serve_ms / 50 && s->stats.in_flight > 0; t++)
        assert_int_equal(s->ops->poll(s, 50, &err), 0);
}

static void assert_settled(const struct sink *s, int n, const struct batch *b)
{
    assert_int_equal(s->stats.in_flight, 0);
    assert_int_equal(s->stats.in_flight_bytes, 0);
    for (int i = 0; i < n; i++)
        if (settled[b->first + (uint64_t)i] != b->copies[i])
            fail_msg("event %d settled %d times, %d copies", i, settled[b->first + (uint64_t)i],
                     b->copies[i]);
}

static struct batch batch;
static const char *const codes[] = { "41220", "04108", "02002", NULL, "60277" };
static struct lme_event coded[5];

static const struct lme_event *coded_event(int i)
{
    return &coded[i % 5];
}

static const char *coded_json(int i)
{
    static char json[64];
    snprintf(json, sizeof(json), "{\"i\":%d,\"code\":\"%s\"}", i, codes[i % 5] ? codes[i % 5] : "");
    return json;
}

/* Counts the lines of text; each "key|headers|value" must carry the headers its value names. */
static int check_coded_lines(char *text, int with_headers)
{
    int n = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *headers = strchr(line, '|') + 1, *value = strchr(headers, '|') + 1;
        char code[8] = "";
        sscanf(strstr(value, "\"code\":\"") + 8, "%5[0-9]", code);
        char want[96] = "";
        if (with_headers)
            snprintf(want, sizeof(want), "lme.schema_version=1%s%s", code[0] ? ",event.code=" : "",
                     code);
        if (strncmp(headers, want, strlen(want)) != 0 || headers[strlen(want)] != '|')
            fail_msg("headers of %s: %.*s", value, (int)(value - headers - 1), headers);
        n++;
    }
    return n;
}

static void test_reused_header_lists_carry_each_events_own_code(void **state)
{
    (void)state;
    for (int i = 0; i < 5; i++)
        coded[i] = event("DXM", codes[i], 0);
    struct sink *s = make_sink(KAFKA_KEY_HOST, "codes", NULL, 0, NULL, NULL);
    for (int round = 0; round < 3; round++) { /* later rounds produce with lists given back */
        send_all(s, 500, coded_event, coded_json, &batch, 20000);
        assert_settled(s, 500, &batch);
    }
    s->ops->destroy(s);
    char *got = read_topic("codes");
    assert_int_equal(check_coded_lines(got, 1), 1500);
    free(got);
}

/* Copies are produced in bursts, their keys kept beside them: every message keeps its own key,
 * of any length up to the 255 bytes a key is cut at (never after a bare '/'), across bursts and
 * with both copies of an alert. */
#define KEYED 700
static char keyed_hosts[KEYED][300];
static struct lme_event keyed[KEYED];

static const struct lme_event *keyed_event(int i)
{
    return &keyed[i];
}

static const char *keyed_json(int i)
{
    static char json[32];
    snprintf(json, sizeof(json), "{\"i\":%d}", i);
    return json;
}

static void test_each_message_keeps_its_own_key_across_bursts(void **state)
{
    (void)state;
    for (int i = 0; i < KEYED; i++) {
        int len = 1 + (i * 7) % 299; /* host/component from 3 to 300 bytes */
        memset(keyed_hosts[i], 'a' + i % 26, (size_t)len);
        keyed_hosts[i][len] = '\0';
        keyed[i] = event("DXM", i % 3 ? "60277" : "41220", i % 3 ? 0 : LME_EV_DIAGNOSED);
        keyed[i].host = (struct lme_str){ keyed_hosts[i], (size_t)len };
    }
    struct sink *s = make_sink(KAFKA_KEY_HOST_COMPONENT, "keyed", "keyed-alerts", 0, NULL, NULL);
    send_all(s, KEYED, keyed_event, keyed_json, &batch, 20000);
    assert_settled(s, KEYED, &batch);
    s->ops->destroy(s);
    const char *topics[] = { "keyed", "keyed-alerts" };
    for (int t = 0; t < 2; t++) {
        char *got = read_topic(topics[t]);
        int n = 0;
        char *save = NULL;
        for (char *line = strtok_r(got, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
            int i = -1;
            char *value = strrchr(line, '|') + 1;
            assert_int_equal(sscanf(value, "{\"i\":%d}", &i), 1);
            assert_true(i >= 0 && i < KEYED);
            char want[512]; /* cut at 255 bytes, never ending in the bare '/' */
            snprintf(want, sizeof(want), strlen(keyed_hosts[i]) + 1 >= 255 ? "%s" : "%s/DXM",
                     keyed_hosts[i]);
            want[255] = '\0';
            size_t key_len = (size_t)(strchr(line, '|') - line);
            if (key_len != strlen(want) || strncmp(line, want, key_len) != 0)
                fail_msg("event %d in %s: key of %zu bytes, want %zu", i, topics[t], key_len,
                         strlen(want));
            n++;
        }
        assert_int_equal(n, t == 0 ? KEYED : (KEYED + 2) / 3);
        free(got);
    }
}

static void test_headers_false_sends_none(void **state)
{
    (void)state;
    for (int i = 0; i < 5; i++)
        coded[i] = event("DXM", codes[i], 0);
    struct sink *s = make_sink_with(KAFKA_KEY_HOST, "bare", NULL, 0, NULL, NULL, 0);
    send_all(s, 50, coded_event, coded_json, &batch, 20000);
    assert_settled(s, 50, &batch);
    s->ops->destroy(s);
    char *got = read_topic("bare");
    assert_int_equal(check_coded_lines(got, 0), 50);
    free(got);
}

/* Events of every size from 100 bytes to 70 KB, half of them also for the alerts topic: some do
 * not fit the arena's blocks (a 64th of it: 32 KiB for this sink's 2 MiB), all arrive. */
static struct lme_event sized[2];

static const struct lme_event *sized_event(int i)
{
    return &sized[i % 2];
}

static const char *sized_json(int i)
{
    static char json[80 * 1024];
    size_t len = 100 + (size_t)i * 997 % (70 * 1024);
    int n = snprintf(json, sizeof(json), "{\"i\":%d,\"pad\":\"", i);
    memset(json + n, 'a' + i % 26, len);
    memcpy(json + n + len, "\"}", 3);
    return json;
}

static void test_events_beyond_the_arena_are_kept_and_delivered(void **state)
{
    (void)state;
    sized[0] = event("DXM", "60277", 0);
    sized[1] = event("DXM", "41220", LME_EV_DIAGNOSED);
    struct sink *s = make_sink(KAFKA_KEY_HOST, "sized", "sized-alerts", 0, NULL, NULL);
    send_all(s, 300, sized_event, sized_json, &batch, 30000);
    assert_settled(s, 300, &batch);
    assert_int_equal(s->stats.delivered, 450);
    s->ops->destroy(s);
    char *got = read_topic("sized"), *alerts = read_topic("sized-alerts");
    for (int i = 0; i < 300; i++) { /* each once, whole */
        const char *json = sized_json(i);
        char *at = strstr(got, json);
        if (!at || strstr(at + 1, json))
            fail_msg("event %d (%zu bytes) not delivered once", i, strlen(json));
        assert_true((strstr(alerts, json) != NULL) == (i % 2 == 1));
    }
    free(got);
    free(alerts);
}

/* The brokers go away for longer than message.timeout.ms: every message comes back timed out,
 * is copied out of the arena onto the retry list, and is delivered once they are back. */
static void test_timed_out_messages_are_sent_again_from_our_copies(void **state)
{
    (void)state;
    for (int i = 0; i < 5; i++)
        coded[i] = event("DXM", codes[i], i % 2 ? LME_EV_DIAGNOSED : 0);
    char *names[] = { "message.timeout.ms" }, *values[] = { "300" };
    struct sink *s = make_sink(KAFKA_KEY_HOST, "again", "again-alerts", 1, names, values);
    assert_int_equal(mock_broker_command(&broker, "down"), 0);
    send_all(s, 200, coded_event, coded_json, &batch, 0);
    /* librdkafka scans for timed-out messages about once a second: on a loaded machine the last
     * of them may take a few (a fixed 1.5 s failed here once, and left the brokers down for the
     * next test) */
    struct lme_err poll_err;
    for (int t = 0; t < 300 && s->stats.retried < 200; t++)
        assert_int_equal(s->ops->poll(s, 50, &poll_err), 0);
    assert_true(s->stats.retried >= 200);
    assert_int_equal(s->stats.delivered, 0);
    assert_int_equal(mock_broker_command(&broker, "up"), 0);
    struct lme_err err;
    for (int t = 0; t < 600 && s->stats.in_flight > 0; t++)
        assert_int_equal(s->ops->poll(s, 50, &err), 0);
    assert_settled(s, 200, &batch);
    s->ops->destroy(s);
    char *got = read_topic("again");
    for (int i = 0; i < 200; i++)
        if (!strstr(got, coded_json(i)))
            fail_msg("event %d lost", i);
    assert_true(check_coded_lines(got, 1) >= 200); /* at least once */
    free(got);
}

/* A fatal error of the idempotent producer with hundreds of messages in flight: the producer is
 * recreated and every event is settled once per copy, none lost. */
static void test_fatal_error_with_messages_in_flight(void **state)
{
    (void)state;
    for (int i = 0; i < 5; i++)
        coded[i] = event("DXM", codes[i], i == 0 ? LME_EV_DIAGNOSED : 0);
    struct sink *s = make_sink(KAFKA_KEY_HOST, "fatal", "fatal-alerts", 0, NULL, NULL);
    /* OUT_OF_ORDER_SEQUENCE_NUMBER (45) on Produce: fatal for the idempotent producer */
    assert_int_equal(mock_broker_command(&broker, "produce-errors 3 45"), 0);
    send_all(s, 600, coded_event, coded_json, &batch, 30000);
    assert_settled(s, 600, &batch);
    assert_int_equal(s->stats.delivered, 720);
    s->ops->destroy(s);
    char *got = read_topic("fatal");
    for (int i = 0; i < 600; i++)
        if (!strstr(got, coded_json(i)))
            fail_msg("event %d lost", i);
    free(got);
}

/* The sink on a thread of its own (sink_thread.h), as the daemon runs it by default: what crosses
 * the thread of each event (host and component for the key, the code for its header, the flags
 * for the alerts copy) arrives intact, every copy settles on the caller's thread, and a fatal
 * producer error in the middle is recovered as on the caller's thread. */
static void test_on_its_own_thread(void **state)
{
    (void)state;
    for (int i = 0; i < 5; i++)
        coded[i] = event("DXM", codes[i], i == 0 ? LME_EV_DIAGNOSED : 0);
    struct lme_err err;
    struct sink *s = sink_thread_create(
        make_sink(KAFKA_KEY_HOST_COMPONENT, "threaded", "threaded-alerts", 0, NULL, NULL),
        (size_t)10 << 20, &err);
    if (!s)
        fail_msg("%s", err.msg);
    assert_int_equal(mock_broker_command(&broker, "produce-errors 3 45"), 0);
    send_all(s, 1000, coded_event, coded_json, &batch, 30000);
    assert_settled(s, 1000, &batch);
    assert_int_equal(s->stats.delivered, 1200);
    assert_int_equal(s->stats.held_bytes, 0); /* every batch back: librdkafka produced from them */
    s->ops->destroy(s);
    const char *topics[] = { "threaded", "threaded-alerts" };
    for (int t = 0; t < 2; t++) {
        char *got = read_topic(topics[t]);
        for (int i = 0; i < 1000; i += t ? 5 : 1) /* the alerts topic: the 41220s, every fifth */
            if (!strstr(got, coded_json(i)))
                fail_msg("event %d missing from %s", i, topics[t]);
        for (char *line = got; *line; line = strchr(line, '\n') + 1)
            if (strncmp(line, "exch01/DXM|", 11) != 0)
                fail_msg("key of %.60s", line);
        int n = check_coded_lines(got, 1);
        assert_true(t == 0 ? n >= 1000 : n >= 200);
        free(got);
    }
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s MOCK_BROKER KCAT\n", argv[0]);
        return 2;
    }
    mock_tool = argv[1];
    kcat = argv[2];
    owner = pthread_self();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alerts_modes),
        cmocka_unit_test(test_key_modes_and_absent_code),
        cmocka_unit_test(test_too_large_at_produce_time_is_dead_lettered),
        cmocka_unit_test(test_reused_header_lists_carry_each_events_own_code),
        cmocka_unit_test(test_each_message_keeps_its_own_key_across_bursts),
        cmocka_unit_test(test_headers_false_sends_none),
        cmocka_unit_test(test_events_beyond_the_arena_are_kept_and_delivered),
        cmocka_unit_test(test_timed_out_messages_are_sent_again_from_our_copies),
        cmocka_unit_test(test_fatal_error_with_messages_in_flight),
        cmocka_unit_test(test_on_its_own_thread),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
