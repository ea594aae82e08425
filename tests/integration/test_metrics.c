/* Running it in production: /metrics read with curl during a run and checked against what was
 * sent; /health turning 503 while the broker is away and 200 once it is back; /ready; the
 * READY/RELOADING/STOPPING notifications systemd would get; the JSON log format; the backfill
 * progress line on a terminal and not elsewhere.
 * Usage: test_metrics LME_INGEST FIXTURES_DIR MOCK_BROKER KCAT */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <jansson.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "proc.h"
#include "run_cmd.h"

static const char *binary, *fixtures, *mock_tool;
static char *tmp;

static int setup(void **state)
{
    (void)state;
    return (tmp = make_temp_dir()) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    remove_tree(tmp);
    free(tmp);
    return 0;
}

static const char *in_tmp(const char *name)
{
    static char path[8][2 * PATH_MAX];
    static int next;
    char *p = path[next++ % 8];
    snprintf(p, sizeof(path[0]), "%s/%s", tmp, name);
    return p;
}

/* GETs a page with curl; returns its body (free it) and sets *status. */
static char *get(int port, const char *path, int *status)
{
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
    char *argv[] = { "/usr/bin/curl", "-s", "-o", "-", "-w", "\n%{http_code}", "--max-time", "5",
                     url, NULL };
    struct run_result res;
    assert_int_equal(run_cmd(argv, NULL, 0, &res), 0);
    char *last = strrchr(res.out, '\n');
    *status = last ? atoi(last + 1) : 0;
    if (last)
        *last = '\0';
    char *body = strdup(res.out);
    run_result_free(&res);
    return body;
}

/* The value of a sample line `name{labels} value` (exact name and labels), or -1. */
static double sample(const char *text, const char *series)
{
    size_t n = strlen(series);
    for (const char *p = text; (p = strstr(p, series)); p += n)
        if ((p == text || p[-1] == '\n') && p[n] == ' ')
            return atof(p + n + 1);
    return -1;
}

/* Waits until the page's sample reaches want. */
static int wait_sample(int port, const char *series, double want, int timeout_ms)
{
    for (int waited = 0; waited < timeout_ms; waited += 100) {
        int status;
        char *body = get(port, "/metrics", &status);
        double v = status == 200 ? sample(body, series) : -1;
        free(body);
        if (v == want)
            return 1;
        usleep(100000);
    }
    return 0;
}

static int wait_status(int port, const char *path, int want, int timeout_ms, char **body)
{
    for (int waited = 0; waited < timeout_ms; waited += 100) {
        int status;
        char *b = get(port, path, &status);
        if (status == want) {
            if (body)
                *body = b;
            else
                free(b);
            return 1;
        }
        free(b);
        usleep(100000);
    }
    return 0;
}

/* The enrichment object of the configs written: the tests count records, so no incidents but in
 * the incident test. */
static const char *enrichment = "{\"incidents\":false}";

static void write_config(const char *name, int port, const char *sinks, const char *extra)
{
    char text[8192];
    int n = snprintf(text, sizeof(text),
                     "{\"host_name\":\"exch01\",\"state_dir\":\"%s/%s.state\","
                     "\"enrichment\":%s,"
                     "\"metrics\":{\"listen\":\"127.0.0.1:%d\",\"health_stall_ms\":1000}%s,"
                     "\"inputs\":[{\"type\":\"file\",\"paths\":[\"%s/logs/*.log\"],"
                     "\"multiline_flush_ms\":100}],\"sinks\":[%s]}",
                     tmp, name, enrichment, port, extra ? extra : "", tmp, sinks);
    assert_int_equal(write_file(in_tmp(name), text, (size_t)n), 0);
}

static void copy_samples(void)
{
    mkdir(in_tmp("logs"), 0755);
    char *argv[] = { "/bin/sh", "-c", NULL, NULL };
    char cmd[3 * PATH_MAX];
    snprintf(cmd, sizeof(cmd), "cp '%s'/samples/*.log '%s/logs/'", fixtures, tmp);
    argv[2] = cmd;
    struct run_result res;
    assert_int_equal(run_cmd(argv, NULL, 0, &res), 0);
    assert_int_equal(res.status, 0);
    run_result_free(&res);
}

static void test_metrics_count_what_was_sent(void **state)
{
    (void)state;
    copy_samples();
    int port = free_port();
    char sinks[PATH_MAX + 64];
    snprintf(sinks, sizeof(sinks), "{\"type\":\"file\",\"path\":\"%s\"}", in_tmp("out.jsonl"));
    write_config("m.json", port, sinks, ",\"log_format\":\"json\"");
    struct proc d;
    assert_int_equal(proc_start((char *const[]){ (char *)binary, "run", "--config",
                                                 (char *)in_tmp("m.json"), NULL },
                                in_tmp("m.log"), &d), 0);
    assert_true(wait_sample(port, "lme_sink_events_delivered_total{sink=\"file[0]\"}", 134, 10000));
    int status;
    char *body = get(port, "/metrics", &status);
    assert_int_equal(status, 200);
    assert_true(sample(body, "lme_input_records_total{input=\"0\",host=\"exch01\"}") == 134);
    assert_true(sample(body, "lme_input_parse_failures_total{input=\"0\",host=\"exch01\"}") == 0);
    assert_true(sample(body, "lme_input_files{input=\"0\",host=\"exch01\"}") == 12);
    assert_true(sample(body, "lme_events_by_code_total{code=\"41220\"}") == 3);
    assert_true(sample(body, "lme_diagnoses_total{cause=\"notes_api_lock_timeout\",host=\"exch01\"}") == 1);
    assert_true(sample(body, "lme_delivery_latency_seconds_count") == 134);
    assert_true(sample(body, "lme_delivery_latency_seconds_bucket{le=\"+Inf\"}") == 134);
    assert_true(sample(body, "lme_build_info{version=\"" LME_VERSION "\",schema_version=\"1\"}") == 1);
    assert_non_null(strstr(body, "# TYPE lme_input_bytes_read_total counter"));
    free(body);
    body = get(port, "/health", &status);
    assert_int_equal(status, 200);
    assert_string_equal(body, "{\"status\":\"ok\"}\n");
    free(body);
    body = get(port, "/ready", &status);
    assert_int_equal(status, 200);
    free(body);
    body = get(port, "/nothing", &status);
    assert_int_equal(status, 404);
    free(body);
    kill(d.pid, SIGTERM);
    assert_int_equal(proc_wait(&d, 10000), 0);
    proc_stop(&d);
    /* log_format json: every line of its log is a JSON object */
    size_t len;
    char *log = read_file(in_tmp("m.log"), &len);
    int lines = 0;
    for (char *line = log, *nl; (nl = strchr(line, '\n')); line = nl + 1, lines++) {
        json_t *j = json_loadb(line, (size_t)(nl - line), 0, NULL);
        if (!j)
            fail_msg("not JSON: %.*s", (int)(nl - line), line);
        assert_non_null(json_object_get(j, "msg"));
        json_decref(j);
    }
    assert_true(lines > 5);
    free(log);
}

/* Every counter sample (and histogram _bucket/_sum/_count) of before that after also has is not
 * lower in after. Returns how many were compared. */
static int counters_never_went_down(const char *before, const char *after)
{
    int compared = 0;
    bool counter = false;
    char *copy = strdup(before);
    for (char *line = strtok(copy, "\n"); line; line = strtok(NULL, "\n")) {
        if (strncmp(line, "# TYPE ", 7) == 0) {
            counter = strstr(line, " counter") || strstr(line, " histogram");
            continue;
        }
        char *sp = strrchr(line, ' ');
        if (line[0] == '#' || !counter || !sp)
            continue;
        *sp = '\0';
        double was = atof(sp + 1), now = sample(after, line);
        if (now < 0)
            continue; /* a series the new configuration has not shown yet */
        if (now < was)
            fail_msg("counter %s went down across the reload: %g, then %g", line, was, now);
        compared++;
    }
    free(copy);
    return compared;
}

/* Prometheus counters are monotonic while the process lives: a SIGHUP reload rebuilds the
 * pipeline, but no counter starts again from 0, and the exit totals count the whole run. */
static void test_counters_survive_a_reload(void **state)
{
    (void)state;
    copy_samples();
    int port = free_port();
    char sinks[PATH_MAX + 64];
    snprintf(sinks, sizeof(sinks), "{\"type\":\"file\",\"path\":\"%s\"}", in_tmp("out.jsonl"));
    write_config("r.json", port, sinks, NULL);
    struct proc d;
    assert_int_equal(proc_start((char *const[]){ (char *)binary, "run", "--config",
                                                 (char *)in_tmp("r.json"), NULL },
                                in_tmp("r.log"), &d), 0);
    assert_true(wait_sample(port, "lme_sink_events_delivered_total{sink=\"file[0]\"}", 134, 10000));
    int status;
    char *before = get(port, "/metrics", &status);
    assert_int_equal(status, 200);
    assert_true(file_wait_for(in_tmp("r.log"), "msg=started", 10000));
    kill(d.pid, SIGHUP);
    assert_true(file_wait_for(in_tmp("r.log"), "msg=reloaded", 10000));
    /* the new pipeline's first snapshot, then one more record through it */
    char *mid = NULL;
    assert_true(wait_status(port, "/ready", 200, 10000, NULL));
    const char *rec = "1998/03/17 22:22:50 - LME-NOTES-MEXNTS(018b) 1 41220:Error: no Notes "
                      "Session Open >> ntshcs(2317)\r\n";
    assert_int_equal(write_file(in_tmp("logs/new.log"), rec, strlen(rec)), 0);
    assert_true(wait_sample(port, "lme_sink_events_delivered_total{sink=\"file[0]\"}", 135, 10000));
    mid = get(port, "/metrics", &status);
    int compared = counters_never_went_down(before, mid);
    fprintf(stderr, "%d counter series compared across the reload\n", compared);
    assert_true(compared > 20);
    assert_true(sample(mid, "lme_input_records_total{input=\"0\",host=\"exch01\"}") == 135);
    assert_true(sample(mid, "lme_events_by_code_total{code=\"41220\"}") == 4);
    free(before);
    free(mid);
    kill(d.pid, SIGTERM);
    assert_int_equal(proc_wait(&d, 10000), 0);
    proc_stop(&d);
    assert_true(file_wait_for(in_tmp("r.log"), "sink=file[0] accepted=135 delivered=135", 1000));
}

static void test_health_follows_the_broker(void **state)
{
    (void)state;
    copy_samples();
    struct proc mb;
    char brokers[512];
    const char *topics[] = { "lme.events:1", NULL };
    assert_int_equal(mock_broker_start(mock_tool, topics, &mb, brokers, sizeof(brokers)), 0);
    int port = free_port();
    char sinks[1024];
    snprintf(sinks, sizeof(sinks), "{\"type\":\"kafka\",\"brokers\":\"%s\"}", brokers);
    write_config("h.json", port, sinks, NULL);
    struct proc d;
    assert_int_equal(proc_start((char *const[]){ (char *)binary, "run", "--config",
                                                 (char *)in_tmp("h.json"), NULL },
                                in_tmp("h.log"), &d), 0);
    assert_true(wait_sample(port, "lme_sink_events_delivered_total{sink=\"kafka[0]\"}", 134, 15000));
    assert_true(wait_status(port, "/health", 200, 5000, NULL));

    assert_int_equal(mock_broker_command(&mb, "down"), 0);
    const char *more = "1998/03/17 22:22:50 - LME-NOTES-MEXNTS(018b) 1 41220:Error: no Notes "
                       "Session Open >> ntshcs(2317)\r\n";
    assert_int_equal(write_file(in_tmp("logs/new.log"), more, strlen(more)), 0);
    char *body = NULL;
    assert_true(wait_status(port, "/health", 503, 15000, &body));
    assert_non_null(strstr(body, "\"status\":\"unhealthy\""));
    assert_non_null(strstr(body, "kafka[0]: 1 events in flight"));
    free(body);

    assert_int_equal(mock_broker_command(&mb, "up"), 0);
    assert_true(wait_status(port, "/health", 200, 30000, NULL));
    assert_true(wait_sample(port, "lme_sink_events_delivered_total{sink=\"kafka[0]\"}", 135, 10000));
    kill(d.pid, SIGTERM);
    assert_int_equal(proc_wait(&d, 15000), 0);
    proc_stop(&d);
    proc_stop(&mb);
}

/* A datagram socket standing in for systemd's notification socket. */
static int notify_socket(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    struct sockaddr_un a = { .sun_family = AF_UNIX };
    snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    return fd;
}

static int wait_notification(int fd, const char *want, int timeout_ms)
{
    char msg[512];
    for (;;) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (poll(&p, 1, timeout_ms) <= 0)
            return 0;
        ssize_t n = recv(fd, msg, sizeof(msg) - 1, 0);
        if (n <= 0)
            return 0;
        msg[n] = '\0';
        if (strstr(msg, want))
            return 1;
    }
}

static void test_systemd_notifications(void **state)
{
    (void)state;
    copy_samples();
    char sinks[PATH_MAX + 64];
    snprintf(sinks, sizeof(sinks), "{\"type\":\"file\",\"path\":\"%s\"}", in_tmp("n.jsonl"));
    write_config("n.json", free_port(), sinks, NULL);
    char sock[108];
    snprintf(sock, sizeof(sock), "/tmp/lme-notify-%d.sock", (int)getpid());
    unlink(sock);
    int fd = notify_socket(sock);
    setenv("NOTIFY_SOCKET", sock, 1);
    struct proc d;
    int started = proc_start((char *const[]){ (char *)binary, "run", "--config",
                                              (char *)in_tmp("n.json"), NULL },
                             in_tmp("n.log"), &d);
    unsetenv("NOTIFY_SOCKET");
    assert_int_equal(started, 0);
    assert_true(wait_notification(fd, "READY=1", 10000));
    kill(d.pid, SIGHUP);
    assert_true(wait_notification(fd, "RELOADING=1", 10000));
    assert_true(wait_notification(fd, "READY=1", 10000));
    kill(d.pid, SIGTERM);
    assert_true(wait_notification(fd, "STOPPING=1", 10000));
    assert_int_equal(proc_wait(&d, 10000), 0);
    proc_stop(&d);
    close(fd);
    unlink(sock);
}

static void test_backfill_progress_only_on_a_terminal(void **state)
{
    (void)state;
    copy_samples();
    char sinks[PATH_MAX + 64];
    snprintf(sinks, sizeof(sinks), "{\"type\":\"file\",\"path\":\"%s\"}", in_tmp("b.jsonl"));
    write_config("b.json", free_port(), sinks, NULL);
    /* a terminal: script(1) gives the daemon one */
    char cmd[4 * PATH_MAX];
    snprintf(cmd, sizeof(cmd), "%s run --config %s --once", binary, in_tmp("b.json"));
    char *tty[] = { "/usr/bin/script", "-qec", cmd, "/dev/null", NULL };
    struct run_result res;
    assert_int_equal(run_cmd(tty, NULL, 0, &res), 0);
    assert_int_equal(res.status, 0);
    assert_non_null(strstr(res.out, "lme-ingest: 12/12 files"));
    assert_non_null(strstr(res.out, "records/s"));
    run_result_free(&res);
    /* not a terminal: no progress line */
    remove_tree(in_tmp("b.json.state"));
    char *plain[] = { (char *)binary, "run", "--config", (char *)in_tmp("b.json"), "--once", NULL };
    assert_int_equal(run_cmd(plain, NULL, 0, &res), 0);
    assert_int_equal(res.status, 0);
    assert_null(strstr(res.err, "records/s"));
    run_result_free(&res);
}

/* Incidents as metrics: a storm of 41220s is one open incident with its age, counted opened by
 * cause; a 41207 resolves it. */
static void test_incident_metrics(void **state)
{
    (void)state;
    enrichment = "{\"incidents\":true}";
    mkdir(in_tmp("logs"), 0755);
    const char *storm = "1998/03/17 22:22:50 - LME-NOTES-MEXNTS(018b) 1 41220:Error: no Notes Session Open\n"
                        "1998/03/17 22:22:51 - LME-NOTES-MEXNTS(018b) 1 41220:Error: no Notes Session Open\n"
                        "1998/03/17 22:22:52 - LME-NOTES-MEXNTS(018b) 1 41220:Error: no Notes Session Open\n";
    assert_int_equal(write_file(in_tmp("logs/c.log"), storm, strlen(storm)), 0);
    int port = free_port();
    char sinks[PATH_MAX + 64];
    snprintf(sinks, sizeof(sinks), "{\"type\":\"file\",\"path\":\"%s\"}", in_tmp("out.jsonl"));
    write_config("i.json", port, sinks, NULL);
    enrichment = "{\"incidents\":false}";
    struct proc d;
    assert_int_equal(proc_start((char *const[]){ (char *)binary, "run", "--config",
                                                 (char *)in_tmp("i.json"), NULL },
                                in_tmp("i.log"), &d), 0);
    assert_true(wait_sample(port, "lme_incidents{state=\"open\"}", 1, 10000));
    int status;
    char *body = get(port, "/metrics", &status);
    assert_true(sample(body, "lme_incidents_opened_total{cause=\"unknown\"}") == 1);
    assert_true(sample(body, "lme_incidents{state=\"predicted\"}") == 0);
    double age = sample(body, "lme_incident_age_seconds{key=\"exch01/LME-NOTES-MEXNTS\",host=\"exch01\","
                              "cause=\"unknown\",state=\"open\"}");
    assert_true(age >= 0 && age < 60);
    free(body);
    const char *ok = "1998/03/17 22:23:00 - LME-NOTES-MEXNTS(018b) 3 41207:Successfully Initialized Notes Interface\n"
                     "1998/03/17 22:23:01 - LME-NOTES-MEXNTS(018b) 3 41210:Notes Interface Ready\n";
    assert_int_equal(append_text(in_tmp("logs/c.log"), ok), 0);
    assert_true(wait_sample(port, "lme_incidents_resolved_total{cause=\"unknown\"}", 1, 10000));
    body = get(port, "/metrics", &status);
    assert_true(sample(body, "lme_incidents{state=\"open\"}") == 0);
    assert_null(strstr(body, "lme_incident_age_seconds{"));
    free(body);
    proc_stop(&d);
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
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_metrics_count_what_was_sent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_counters_survive_a_reload, setup, teardown),
        cmocka_unit_test_setup_teardown(test_health_follows_the_broker, setup, teardown),
        cmocka_unit_test_setup_teardown(test_systemd_notifications, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backfill_progress_only_on_a_terminal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_incident_metrics, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
