/* `lme-ingest run` and `check-config` without a broker: the default sink (standard output), a
 * file sink, configuration errors, and stopping on SIGTERM: draining, within drain_timeout_ms
 * even when the broker cannot be reached. Usage: test_run_daemon LME_INGEST FIXTURES_DIR */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <time.h>

#include "events.h"
#include "proc.h"
#include "run_cmd.h"

static const char *binary, *fixtures;
static char *tmp;

static int setup(void **state)
{
    (void)state;
    tmp = make_temp_dir();
    return tmp ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    remove_tree(tmp);
    free(tmp);
    return 0;
}

static const char *path_in_tmp(const char *name)
{
    static char path[8][PATH_MAX];
    static int next;
    char *p = path[next++ % 8];
    snprintf(p, PATH_MAX, "%s/%s", tmp, name);
    return p;
}

/* A config over every sample; `rest` is JSON members added at the top level. */
/* input_extra: members added to the input (",\"k\":v"); rest: to the top level. The tests count
 * records exactly: incidents are off (test_incidents has them). */
static const char *write_config_with(const char *name, const char *input_extra, const char *rest)
{
    char text[4096];
    int n = snprintf(text, sizeof(text),
                     "{\"host_name\":\"h\",\"state_dir\":\"%s/%s.state\",\"enrichment\":{\"incidents\":false},"
                     "\"inputs\":[{\"type\":\"file\","
                     "\"paths\":[\"%s/samples/*.log\"],\"timezone\":\"UTC\"%s}]%s}",
                     tmp, name, fixtures, input_extra, rest ? rest : "");
    const char *path = path_in_tmp(name);
    assert_int_equal(write_file(path, text, (size_t)n), 0);
    return path;
}

static const char *write_config(const char *name, const char *rest)
{
    return write_config_with(name, "", rest);
}

static struct run_result run(const char *cmd, const char *cfg, int once)
{
    char *argv[] = { (char *)binary, (char *)cmd, "--config", (char *)cfg, once ? "--once" : NULL, NULL };
    struct run_result res;
    assert_int_equal(run_cmd(argv, NULL, 0, &res), 0);
    return res;
}

static size_t count_events(const char *text, size_t len)
{
    json_t *events = events_parse_records(text, len);
    assert_non_null(events);
    size_t n = json_array_size(events);
    json_decref(events);
    return n;
}

/* Waits until the file holds `want` events (JSON lines), checking every 20 ms. */
static int wait_for_events(const char *path, size_t want, int timeout_ms)
{
    for (int waited = 0; waited <= timeout_ms; waited += 20) {
        size_t len;
        char *text = read_file(path, &len);
        size_t n = text ? count_events(text, len) : 0;
        free(text);
        if (n == want)
            return 1;
        usleep(20000);
    }
    return 0;
}

static void test_without_sinks_events_go_to_standard_output(void **state)
{
    (void)state;
    struct run_result res = run("run", write_config("stdout.json", NULL), 1);
    assert_int_equal(res.status, 0);
    assert_int_equal(count_events(res.out, res.out_len), 134);
    run_result_free(&res);
}

static void test_file_sink_gets_every_event(void **state)
{
    (void)state;
    char rest[PATH_MAX + 64];
    const char *out = path_in_tmp("events.jsonl");
    snprintf(rest, sizeof(rest), ",\"sinks\":[{\"type\":\"file\",\"path\":\"%s\"}]", out);
    struct run_result res = run("run", write_config("file.json", rest), 1);
    assert_int_equal(res.status, 0);
    assert_int_equal(res.out_len, 0);
    assert_non_null(strstr(res.err, "delivered=134"));
    char samples[PATH_MAX];
    snprintf(samples, sizeof(samples), "%s/samples", fixtures);
    assert_true(log_files_settled(res.err, samples, -1)); /* every file settled to its end */
    size_t len;
    char *text = read_file(out, &len);
    assert_int_equal(count_events(text, len), 134);
    free(text);
    run_result_free(&res);
}

/* Others who can write state_dir could forge checkpoints (records skipped): run refuses it. */
static void test_state_dir_writable_by_others_is_refused(void **state)
{
    (void)state;
    const char *cfg = write_config("open.json", NULL);
    char dir[PATH_MAX + 32];
    snprintf(dir, sizeof(dir), "%s/open.json.state", tmp);
    assert_int_equal(mkdir(dir, 0755), 0);
    assert_int_equal(chmod(dir, 0777), 0);
    struct run_result res = run("run", cfg, 1);
    assert_int_equal(res.status, 2);
    assert_non_null(strstr(res.err, "writable by others"));
    assert_int_equal(count_events(res.out, res.out_len), 0);
    run_result_free(&res);
}

static void test_check_config(void **state)
{
    (void)state;
    const char *good = write_config("good.json", ",\"sinks\":[{\"type\":\"kafka\",\"brokers\":\"b:9092\","
                                    "\"rdkafka\":{\"sasl.username\":\"u\",\"sasl.password\":\"hunter2\"}}]");
    struct run_result res = run("check-config", good, 0);
    assert_int_equal(res.status, 0);
    assert_non_null(strstr(res.out, "ok (1 input, 1 sink)"));
    assert_null(strstr(res.out, "hunter2"));
    assert_null(strstr(res.err, "hunter2"));
    run_result_free(&res);

    const char *bad = write_config("bad.json", ",\"sinks\":[{\"type\":\"kafka\",\"brokers\":\"b:9092\","
                                   "\"rdkafka\":{\"sasl.password\":\"hunter2\",\"no.such\":1}}]");
    res = run("check-config", bad, 0);
    assert_int_equal(res.status, 2);
    assert_non_null(strstr(res.err, bad));
    assert_non_null(strstr(res.err, "sinks[0].rdkafka"));
    assert_non_null(strstr(res.err, "no.such"));
    assert_null(strstr(res.err, "hunter2"));
    run_result_free(&res);

    /* run refuses to start on it: nothing read, nothing written */
    res = run("run", bad, 1);
    assert_int_equal(res.status, 2);
    assert_int_equal(res.out_len, 0);
    assert_null(strstr(res.err, "file read"));
    assert_null(strstr(res.err, "hunter2"));
    run_result_free(&res);
}

static void test_shipped_configs_are_valid(void **state)
{
    (void)state;
    static const char *const names[] = { "quickstart.json", "lme-ingest.json" };
    for (size_t i = 0; i < 2; i++) {
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/../../deploy/config/%s", fixtures, names[i]);
        struct run_result res = run("check-config", path, 0);
        if (res.status != 0)
            fprintf(stderr, "%s", res.err);
        assert_int_equal(res.status, 0);
        assert_null(strstr(res.out, "change-me")); /* the example's password */
        run_result_free(&res);
    }
}

/* Runs --once over the logs folder in its own state_dir with a file sink; returns the output's events
 * so far (the sink appends) and leaves the daemon's log in *log_out (free it). */
static json_t *run_resumable(const char *name, char **log_out)
{
    char text[2048];
    int n = snprintf(text, sizeof(text),
                     "{\"host_name\":\"h\",\"state_dir\":\"%s/%s.state\",\"inputs\":[{\"type\":\"file\","
                     "\"paths\":[\"%s/logs/*.log\"],\"timezone\":\"UTC\"}],"
                     "\"sinks\":[{\"type\":\"file\",\"path\":\"%s/%s.jsonl\"}]}",
                     tmp, name, tmp, tmp, name);
    char cfg[PATH_MAX];
    snprintf(cfg, sizeof(cfg), "%s/%s.json", tmp, name);
    assert_int_equal(write_file(cfg, text, (size_t)n), 0);
    struct run_result res = run("run", cfg, 1);
    assert_int_equal(res.status, 0);
    *log_out = res.err;
    free(res.out);
    char out[PATH_MAX];
    snprintf(out, sizeof(out), "%s/%s.jsonl", tmp, name);
    size_t len = 0;
    char *events_text = read_file(out, &len);
    json_t *events = events_parse_records(events_text ? events_text : "", len);
    free(events_text);
    return events;
}

static void append_file(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "ab");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
}

static void test_restart_resumes_where_it_was(void **state)
{
    (void)state;
    char logs[PATH_MAX], log_path[PATH_MAX], sample[PATH_MAX];
    snprintf(logs, sizeof(logs), "%s/logs", tmp);
    snprintf(log_path, sizeof(log_path), "%s/logs/a.log", tmp);
    snprintf(sample, sizeof(sample), "%s/samples/Q197509.log", fixtures);
    assert_int_equal(mkdir(logs, 0755), 0);
    size_t len;
    char *q197509 = read_file(sample, &len);
    assert_int_equal(write_file(log_path, q197509, len), 0);

    char *log;
    json_t *events = run_resumable("resume", &log);
    assert_int_equal(json_array_size(events), 10);
    free(log);
    json_decref(events);

    /* again: nothing new, nothing sent twice */
    events = run_resumable("resume", &log);
    assert_int_equal(json_array_size(events), 10);
    assert_non_null(strstr(log, "msg=resuming"));
    free(log);
    json_decref(events);

    /* records appended: only they are read, at their offsets */
    const char more[] = "1998/03/17 22:23:00 - LME-NOTES-MEXNTS(018b) 3 00504:LME-NOTES-MEXNTS started\n"
                        "1998/03/17 22:23:01 - LME-NOTES-MEXNTS(018b) 3 41207:Successfully\n"
                        "Initialized Notes Interface\n";
    append_file(log_path, more, sizeof(more) - 1);
    events = run_resumable("resume", &log);
    assert_int_equal(json_array_size(events), 12);
    assert_int_equal(json_integer_value(event_get(json_array_get(events, 10), "log.offset")), len);
    assert_string_equal(event_str(json_array_get(events, 11), "message"),
                        "Successfully Initialized Notes Interface");
    free(log);
    json_decref(events);

    /* a corrupt checkpoint file: said, and every file read from its start */
    char cp[PATH_MAX];
    snprintf(cp, sizeof(cp), "%s/resume.state/checkpoints.json", tmp);
    assert_int_equal(write_file(cp, "{\"version\":1,\"fi", 17), 0);
    events = run_resumable("resume", &log);
    assert_non_null(strstr(log, "checkpoints ignored"));
    assert_int_equal(json_array_size(events), 12 + 12);
    free(log);
    json_decref(events);

    /* the file replaced by another (other first bytes): read from its start */
    char *q228715;
    snprintf(sample, sizeof(sample), "%s/samples/Q228715.log", fixtures);
    q228715 = read_file(sample, &len);
    unlink(log_path);
    assert_int_equal(write_file(log_path, q228715, len), 0);
    events = run_resumable("resume", &log);
    assert_int_equal(json_array_size(events), 24 + 7);
    assert_int_equal(json_integer_value(event_get(json_array_get(events, 24), "log.offset")), 0);
    free(log);
    json_decref(events);
    free(q197509);
    free(q228715);
}

static void test_sigterm_drains_and_exits(void **state)
{
    (void)state;
    char rest[PATH_MAX + 64];
    const char *out = path_in_tmp("daemon.jsonl");
    snprintf(rest, sizeof(rest), ",\"sinks\":[{\"type\":\"file\",\"path\":\"%s\"}]", out);
    const char *cfg = write_config("daemon.json", rest);
    const char *log = path_in_tmp("daemon.log");
    struct proc d;
    assert_int_equal(proc_start((char *const[]){ (char *)binary, "run", "--config", (char *)cfg, NULL },
                                log, &d), 0);
    /* every file's last record goes out once the file has been silent for multiline_flush_ms */
    assert_true(wait_for_events(out, 134, 10000));
    assert_int_equal(proc_wait(&d, 300), -1); /* and it keeps running */
    kill(d.pid, SIGTERM);
    assert_int_equal(proc_wait(&d, 10000), 0);
    assert_true(file_wait_for(log, "stopping", 1000));
    size_t len;
    char *text = read_file(out, &len);
    assert_int_equal(count_events(text, len), 134);
    free(text);
    proc_stop(&d);
}

static void test_sigterm_with_broker_away_ends_within_drain_time(void **state)
{
    (void)state;
    const char *cfg = write_config_with("away.json", ",\"multiline_flush_ms\":0",
                                        ",\"drain_timeout_ms\":1000,\"sinks\":[{\"type\":\"kafka\","
                                   "\"brokers\":\"127.0.0.1:1\"}]");
    const char *log = path_in_tmp("away.log");
    struct proc d;
    assert_int_equal(proc_start((char *const[]){ (char *)binary, "run", "--config", (char *)cfg, NULL },
                                log, &d), 0);
    assert_true(file_wait_for(log, "kafka: retrying", 20000));
    kill(d.pid, SIGTERM);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int status = proc_wait(&d, 10000);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_int_equal(status, 1); /* it says what it could not deliver */
    assert_true(t1.tv_sec - t0.tv_sec < 5);
    /* it says how many it could not deliver: every record it read (all 134 when reading won the
     * race with the signal, as it does unless the machine is very busy) */
    size_t len;
    char *text = read_file(log, &len);
    const char *n = text ? strstr(text, "undelivered=") : NULL;
    assert_non_null(n);
    long undelivered = atol(n + strlen("undelivered="));
    assert_true(undelivered > 0 && undelivered <= 134);
    free(text);
    proc_stop(&d);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s LME_INGEST FIXTURES_DIR\n", argv[0]);
        return 2;
    }
    binary = argv[1];
    fixtures = argv[2];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_without_sinks_events_go_to_standard_output),
        cmocka_unit_test(test_file_sink_gets_every_event),
        cmocka_unit_test(test_check_config),
        cmocka_unit_test(test_state_dir_writable_by_others_is_refused),
        cmocka_unit_test(test_shipped_configs_are_valid),
        cmocka_unit_test(test_restart_resumes_where_it_was),
        cmocka_unit_test(test_sigterm_drains_and_exits),
        cmocka_unit_test(test_sigterm_with_broker_away_ends_within_drain_time),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
