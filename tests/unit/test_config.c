/* Unit tests of the configuration loader on real files: defaults, every error naming the file,
 * the key path and what was expected, and secrets that never appear in an error. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"

static char dir[] = "/tmp/lme-config-XXXXXX";
static char path[256];

static int setup(void **state)
{
    (void)state;
    if (!mkdtemp(dir))
        return -1;
    snprintf(path, sizeof(path), "%s/lme.json", dir);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(path);
    rmdir(dir);
    return 0;
}

static int load(const char *text, struct config **cfg, struct lme_err *err)
{
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
    *cfg = NULL;
    return config_load(path, cfg, err);
}

/* Loads text expecting failure; the message must contain each of the NULL-ended strings. */
static void expect_error(const char *text, ...)
{
    struct config *cfg;
    struct lme_err err = { 0 };
    if (load(text, &cfg, &err) == 0)
        fail_msg("accepted: %s", text);
    assert_null(cfg);
    assert_non_null(strstr(err.msg, path));
    va_list ap;
    va_start(ap, text);
    for (const char *want; (want = va_arg(ap, const char *));)
        if (!strstr(err.msg, want))
            fail_msg("'%s' not in: %s", want, err.msg);
    va_end(ap);
}

#define INPUT "\"inputs\":[{\"type\":\"file\",\"paths\":[\"/logs/*.log\"]}]"

static void test_minimal_config_gets_defaults(void **state)
{
    (void)state;
    struct config *cfg;
    struct lme_err err;
    assert_int_equal(load("{" INPUT "}", &cfg, &err), 0);
    assert_string_equal(cfg->state_dir, "/var/lib/lme-ingest");
    assert_true(strlen(cfg->host_name) > 0);
    assert_int_equal(cfg->max_record_bytes, 65536);
    assert_int_equal(cfg->max_in_flight_bytes, 8 << 20);
    assert_int_equal(cfg->n_inputs, 1);
    assert_null(cfg->inputs[0].timezone);
    assert_int_equal(cfg->n_sinks, 1); /* no sink: JSON lines on standard output */
    assert_int_equal(cfg->sinks[0].type, CONFIG_SINK_FILE);
    assert_string_equal(cfg->sinks[0].file.path, "-");
    /* following */
    assert_int_equal(cfg->poll_interval_ms, 250);
    assert_int_equal(cfg->scan_interval_ms, 1000);
    assert_int_equal(cfg->inotify, 1);
    assert_int_equal(cfg->inputs[0].start_at, CONFIG_START_BEGINNING);
    assert_int_equal(cfg->inputs[0].encoding, CONFIG_ENCODING_AUTO);
    assert_int_equal(cfg->inputs[0].max_read_back_bytes, 0);
    assert_int_equal(cfg->inputs[0].multiline_flush_ms, 2000);
    assert_int_equal(cfg->inputs[0].rotate_wait_ms, 5000);
    assert_int_equal(cfg->inputs[0].close_inactive_ms, 300000);
    config_free(cfg);
}

static void test_follow_keys(void **state)
{
    (void)state;
    struct config *cfg;
    struct lme_err err;
    int rc = load("{\"inotify\":false,\"poll_interval_ms\":50,\"inputs\":[{\"type\":\"file\","
                  "\"paths\":[\"/l/*.log\"],\"start_at\":\"end\",\"encoding\":\"utf-16le\","
                  "\"max_read_back_bytes\":1048576,\"multiline_flush_ms\":0}]}", &cfg, &err);
    if (rc)
        fail_msg("%s", err.msg);
    assert_int_equal(cfg->inotify, 0);
    assert_int_equal(cfg->poll_interval_ms, 50);
    assert_int_equal(cfg->inputs[0].start_at, CONFIG_START_END);
    assert_int_equal(cfg->inputs[0].encoding, CONFIG_ENCODING_UTF16LE);
    assert_int_equal(cfg->inputs[0].max_read_back_bytes, 1048576);
    assert_int_equal(cfg->inputs[0].multiline_flush_ms, 0);
    config_free(cfg);
    expect_error("{\"inputs\":[{\"type\":\"file\",\"paths\":[\"/x\"],\"start_at\":\"middle\"}]}",
                 "key 'inputs[0].start_at'", "\"beginning\" or \"end\"", NULL);
    expect_error("{\"inputs\":[{\"type\":\"file\",\"paths\":[\"/x\"],\"encoding\":\"latin1\"}]}",
                 "key 'inputs[0].encoding'", "utf-16le", NULL);
    expect_error("{\"inputs\":[{\"type\":\"file\",\"paths\":[\"/x\"],\"close_inactive_ms\":5}]}",
                 "key 'inputs[0].close_inactive_ms'", "1000", NULL);
    /* a combination that cannot work: closed before its last record could be sent */
    expect_error("{\"inputs\":[{\"type\":\"file\",\"paths\":[\"/x\"],\"close_inactive_ms\":2000}]}",
                 "key 'inputs[0].close_inactive_ms'", "multiline_flush_ms (2000)", NULL);
    expect_error("{" INPUT ",\"inotify\":\"yes\"}", "key 'inotify'", "true or false", NULL);
    expect_error("{" INPUT ",\"poll_interval_ms\":0}", "key 'poll_interval_ms'", NULL);
}

static void test_full_kafka_sink(void **state)
{
    (void)state;
    struct config *cfg;
    struct lme_err err;
    int rc = load("{\"host_name\":\"exch01\",\"state_dir\":\"/srv/lme\"," INPUT ","
                  "\"sinks\":[{\"type\":\"kafka\",\"brokers\":\"k1:9092,k2:9092\",\"alerts_topic\":\"a\","
                  "\"key\":\"host\",\"rdkafka\":{\"linger.ms\":50,\"enable.idempotence\":true,"
                  "\"security.protocol\":\"sasl_plaintext\",\"sasl.mechanisms\":\"PLAIN\","
                  "\"sasl.username\":\"u\",\"sasl.password\":\"hunter2\"}},"
                  "{\"type\":\"file\",\"path\":\"/tmp/x.jsonl\"}]}", &cfg, &err);
    if (rc)
        fail_msg("%s", err.msg);
    struct kafka_sink_config *k = &cfg->sinks[0].kafka;
    assert_string_equal(k->topic, "lme.events");
    assert_string_equal(k->alerts_topic, "a");
    assert_int_equal(k->key, KAFKA_KEY_HOST);
    assert_string_equal(k->dead_letter_path, "/srv/lme/dead-letter.jsonl");
    assert_int_equal(k->n_props, 6);
    assert_string_equal(k->prop_names[0], "linger.ms");
    assert_string_equal(k->prop_values[0], "50");
    assert_string_equal(k->prop_values[1], "true");
    assert_string_equal(cfg->sinks[1].file.path, "/tmp/x.jsonl");
    config_free(cfg);
}

static void test_errors_name_file_key_and_expectation(void **state)
{
    (void)state;
    expect_error("{", "1:", NULL);
    expect_error("[]", "expected a JSON object", NULL);
    expect_error("{\"inputz\":[]," INPUT "}", "key 'inputz'", "unknown key", "inputs", NULL);
    /* the hint lists every key valid there, the last one too */
    expect_error("{\"inputz\":[]," INPUT "}", "on_bad_checkpoints", NULL);
    expect_error("{\"inputs\":[{\"type\":\"file\",\"paths\":[\"/x\"],\"pathz\":1}]}",
                 "key 'inputs[0].pathz'", "follow_symlinks", NULL);
    expect_error("{}", "key 'inputs'", "non-empty array", NULL);
    expect_error("{\"inputs\":[{\"type\":\"file\",\"paths\":\"/x\"}]}", "key 'inputs[0].paths'",
                 "array of strings", NULL);
    expect_error("{\"inputs\":[{\"type\":\"file\",\"paths\":[\"/x\",3]}]}", "key 'inputs[0].paths[1]'", NULL);
    expect_error("{\"inputs\":[{\"type\":\"tcp\",\"paths\":[\"/x\"]}]}", "key 'inputs[0].type'", "tcp", NULL);
    expect_error("{\"inputs\":[{\"type\":\"file\",\"paths\":[\"/x\"],\"timezone\":\"Mars/Base\"}]}",
                 "key 'inputs[0].timezone'", "Mars/Base", NULL);
    expect_error("{" INPUT ",\"max_record_bytes\":10}", "key 'max_record_bytes'", "64", NULL);
    expect_error("{" INPUT ",\"drain_timeout_ms\":\"5s\"}", "key 'drain_timeout_ms'", "integer", NULL);
    expect_error("{" INPUT ",\"sinks\":[{\"type\":\"kafka\"}]}", "key 'sinks[0].brokers'", "missing", NULL);
    expect_error("{" INPUT ",\"sinks\":[{\"type\":\"kafka\",\"brokers\":\"b:1\",\"key\":\"random\"}]}",
                 "key 'sinks[0].key'", "host_component", NULL);
    expect_error("{" INPUT ",\"sinks\":[{\"type\":\"kafka\",\"brokers\":\"b:1\",\"rdkafka\":{\"no.such.property\":1}}]}",
                 "key 'sinks[0].rdkafka'", "no.such.property", NULL);
    expect_error("{" INPUT ",\"sinks\":[{\"type\":\"kafka\",\"brokers\":\"b:1\",\"rdkafka\":{\"linger.ms\":[1]}}]}",
                 "key 'sinks[0].rdkafka.linger.ms'", NULL);
    expect_error("{" INPUT ",\"sinks\":[{\"type\":\"file\"}]}", "key 'sinks[0].path'", NULL);
    /* an alerts topic that could get nothing: it takes incidents, and they are off */
    expect_error("{" INPUT ",\"enrichment\":{\"incidents\":false},\"sinks\":[{\"type\":\"kafka\","
                 "\"brokers\":\"b:1\",\"alerts_topic\":\"a\"}]}",
                 "key 'sinks[0].alerts'", "enrichment.incidents is false", "every_41220", NULL);
    expect_error("{" INPUT ",\"sinks\":[{\"type\":\"s3\"}]}", "key 'sinks[0].type'", "s3", NULL);
    expect_error("{" INPUT ",\"sinks\":[{\"type\":\"file\",\"path\":\"-\",\"mode\":1}]}", "key 'sinks[0].mode'", NULL);
    expect_error("{\"host_name\":1," INPUT "}", "key 'host_name'", NULL);
    expect_error("{" INPUT "," INPUT "}", "duplicate", NULL);
}

static void test_secrets_never_appear_in_errors(void **state)
{
    (void)state;
    static const char *const texts[] = {
        /* a secret of the wrong type, and a refused property beside a secret */
        "{" INPUT ",\"sinks\":[{\"type\":\"kafka\",\"brokers\":\"b:1\",\"rdkafka\":"
        "{\"sasl.password\":{\"v\":\"hunter2\"}}}]}",
        "{" INPUT ",\"sinks\":[{\"type\":\"kafka\",\"brokers\":\"b:1\",\"rdkafka\":"
        "{\"sasl.password\":\"hunter2\",\"bogus\":1}}]}",
    };
    for (size_t i = 0; i < 2; i++) {
        struct config *cfg;
        struct lme_err err = { 0 };
        assert_int_not_equal(load(texts[i], &cfg, &err), 0);
        assert_null(strstr(err.msg, "hunter2"));
    }
}

static void test_config_writable_by_others_is_refused(void **state)
{
    (void)state;
    struct config *cfg;
    struct lme_err err = { 0 };
    assert_int_equal(load("{" INPUT "}", &cfg, &err), 0);
    config_free(cfg);
    chmod(path, 0666);
    assert_int_not_equal(config_load(path, &cfg, &err), 0);
    assert_non_null(strstr(err.msg, "writable by others"));
    chmod(path, 0644);
}

/* sasl.password and its kin may come from a file or the environment; never into an error. */
static void test_secrets_from_a_file_or_the_environment(void **state)
{
    (void)state;
    char secret_path[300], text[1024];
    snprintf(secret_path, sizeof(secret_path), "%s/kafka.pass", dir);
    FILE *f = fopen(secret_path, "w");
    fputs("s3cr3t-from-file\nsecond line ignored\n", f);
    fclose(f);
    chmod(secret_path, 0600);
    snprintf(text, sizeof(text),
             "{" INPUT ",\"sinks\":[{\"type\":\"kafka\",\"brokers\":\"b:1\",\"rdkafka\":"
             "{\"security.protocol\":\"sasl_plaintext\",\"sasl.mechanisms\":\"PLAIN\","
             "\"sasl.username\":\"u\",\"sasl.password\":{\"file\":\"%s\"}}}]}", secret_path);
    struct config *cfg;
    struct lme_err err = { 0 };
    if (load(text, &cfg, &err) != 0)
        fail_msg("%s", err.msg);
    struct kafka_sink_config *k = &cfg->sinks[0].kafka;
    assert_string_equal(k->prop_names[3], "sasl.password");
    assert_string_equal(k->prop_values[3], "s3cr3t-from-file");
    config_free(cfg);

    char fifo[320]; /* a FIFO named as a secret file must not hang the load */
    snprintf(fifo, sizeof(fifo), "%s/secret.fifo", dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    char fifo_text[1024];
    snprintf(fifo_text, sizeof(fifo_text),
             "{" INPUT ",\"sinks\":[{\"type\":\"kafka\",\"brokers\":\"b:1\",\"rdkafka\":"
             "{\"sasl.password\":{\"file\":\"%s\"}}}]}", fifo);
    assert_int_not_equal(load(fifo_text, &cfg, &err), 0);
    assert_non_null(strstr(err.msg, "not a regular file"));
    unlink(fifo);

    chmod(secret_path, 0644); /* readable by others: refused */
    assert_int_not_equal(load(text, &cfg, &err), 0);
    assert_non_null(strstr(err.msg, "readable by others"));
    assert_null(strstr(err.msg, "s3cr3t"));
    unlink(secret_path);

    setenv("LME_TEST_KAFKA_PASSWORD", "s3cr3t-from-env", 1);
    const char *env_text = "{" INPUT ",\"sinks\":[{\"type\":\"kafka\",\"brokers\":\"b:1\",\"rdkafka\":"
                           "{\"sasl.password\":{\"env\":\"LME_TEST_KAFKA_PASSWORD\"}}}]}";
    if (load(env_text, &cfg, &err) != 0)
        fail_msg("%s", err.msg);
    assert_string_equal(cfg->sinks[0].kafka.prop_values[0], "s3cr3t-from-env");
    config_free(cfg);
    unsetenv("LME_TEST_KAFKA_PASSWORD");
    expect_error(env_text, "key 'sinks[0].rdkafka.sasl.password'", "LME_TEST_KAFKA_PASSWORD", "not set",
                 NULL);
    /* only secrets take this form */
    expect_error("{" INPUT ",\"sinks\":[{\"type\":\"kafka\",\"brokers\":\"b:1\",\"rdkafka\":"
                 "{\"linger.ms\":{\"env\":\"X\"}}}]}", "key 'sinks[0].rdkafka.linger.ms'", NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_minimal_config_gets_defaults),
        cmocka_unit_test(test_full_kafka_sink),
        cmocka_unit_test(test_follow_keys),
        cmocka_unit_test(test_errors_name_file_key_and_expectation),
        cmocka_unit_test(test_secrets_never_appear_in_errors),
        cmocka_unit_test(test_config_writable_by_others_is_refused),
        cmocka_unit_test(test_secrets_from_a_file_or_the_environment),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
