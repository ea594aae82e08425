/* The Kafka sink on its own, against a real broker process (lme-mock-broker) and read back with
 * kcat: routing of diagnosed events to alerts_topic, the three key modes, the headers, and a
 * permanent error at produce time settled in the dead-letter file.
 * Usage: test_kafka_sink MOCK_BROKER KCAT */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kafka_sink.h"
#include "proc.h"
#include "run_cmd.h"

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

static struct sink *make_sink(enum kafka_key_mode key, const char *topic, const char *alerts,
                              size_t n_props, char **names, char **values)
{
    char dead[PATH_MAX];
    snprintf(dead, sizeof(dead), "%s/dead.jsonl", tmp);
    struct kafka_sink_config cfg = {
        .brokers = brokers, .topic = (char *)topic, .alerts_topic = (char *)alerts, .key = key,
        .headers = 1, .event_original = 1,
        .dead_letter_path = dead, .n_props = n_props, .prop_names = names, .prop_values = values,
    };
    struct lme_err err;
    struct sink *s = kafka_sink_create(&cfg, 1 << 20, &err);
    if (!s)
        fail_msg("%s", err.msg);
    return s;
}

/* Settlements reported by the sink, per token. */
static int settled[16];

static void on_settled(void *ctx, uint64_t token)
{
    (void)ctx;
    assert_true(token < 16);
    settled[token]++;
}

/* Sends with a token, serves the sink until nothing is in flight, and checks the settlements
 * reported equal the copies announced. */
static void send_and_settle(struct sink *s, const struct lme_event *ev, const char *json)
{
    static uint64_t next_token = 1;
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

static void test_diagnosed_events_also_go_to_alerts(void **state)
{
    (void)state;
    struct sink *s = make_sink(KAFKA_KEY_HOST_COMPONENT, "events", "alerts", 0, NULL, NULL);
    struct lme_event plain = event("LME-NOTES-MEXNTS", "41210", 0);
    struct lme_event diagnosed = event("LME-NOTES-MEXNTS", "41220", LME_EV_DIAGNOSED);
    send_and_settle(s, &plain, "{\"n\":1}");
    send_and_settle(s, &diagnosed, "{\"n\":2}");
    assert_int_equal(s->stats.delivered, 3); /* one event twice */
    assert_int_equal(settled[2], 2);         /* and settled twice, once per copy */
    s->ops->destroy(s);

    char *events = read_topic("events"), *alerts = read_topic("alerts");
    assert_non_null(strstr(events, "exch01/LME-NOTES-MEXNTS|lme.schema_version=1,event.code=41210|{\"n\":1}\n"));
    assert_non_null(strstr(events, "exch01/LME-NOTES-MEXNTS|lme.schema_version=1,event.code=41220|{\"n\":2}\n"));
    assert_string_equal(alerts, "exch01/LME-NOTES-MEXNTS|lme.schema_version=1,event.code=41220|{\"n\":2}\n");
    free(events);
    free(alerts);
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

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s MOCK_BROKER KCAT\n", argv[0]);
        return 2;
    }
    mock_tool = argv[1];
    kcat = argv[2];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_diagnosed_events_also_go_to_alerts),
        cmocka_unit_test(test_key_modes_and_absent_code),
        cmocka_unit_test(test_too_large_at_produce_time_is_dead_lettered),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
