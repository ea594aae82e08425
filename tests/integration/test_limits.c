/* Limits and hostile neighbours in the log folder, with the real binary, real files and real
 * sockets:
 *  - 5,000 matching files under a descriptor limit of 1024 (soft and hard, so that raising it does
 *    not help): every record arrives exactly once, later growth of files that had to be closed
 *    arrives too, /health answers 200 throughout, checkpoints are saved for every file and never
 *    fail for lack of a descriptor;
 *  - symbolic links: a link to a file outside the folder, a link to the daemon's own config and a
 *    link inside the folder are not read by default (logged, counted); with follow_symlinks the
 *    inside one is read and the outside ones still refused; a followed file replaced by a link
 *    is let go, and what the link points to is never shipped.
 * Usage: test_limits LME_INGEST FIXTURES_DIR */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "events.h"
#include "proc.h"
#include "run_cmd.h"

static const char *binary;
static char *tmp;

#define HEADER "1998/03/17 22:22:50 - LME-NOTES-MEXNTS(018b) 3 41207:Successfully "

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

static void append(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

/* /health's status through curl within a second, or -1. */
static int health(int port)
{
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/health", port);
    struct run_result r;
    if (run_cmd((char *const[]){ "/usr/bin/curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                                 "--max-time", "1", url, NULL },
                NULL, 0, &r) != 0)
        return -1;
    int code = r.status == 0 ? atoi(r.out) : -1;
    run_result_free(&r);
    return code;
}

/* How often each seq=N (N < n) arrived in the output file; returns the events read. */
static size_t tally(const char *out, int *count, int n, bool *foreign)
{
    size_t len = 0, events = 0;
    char *text = read_file(out, &len);
    memset(count, 0, (size_t)n * sizeof(*count));
    for (char *line = text ? strtok(text, "\n") : NULL; line; line = strtok(NULL, "\n")) {
        events++;
        const char *s = strstr(line, "seq=");
        int seq = s ? atoi(s + 4) : -1;
        if (seq >= 0 && seq < n)
            count[seq]++;
        else if (foreign)
            *foreign = true;
    }
    free(text);
    return events;
}

static int lines_with(const char *path, const char *text)
{
    char *all = read_file(path, NULL);
    int n = 0;
    for (char *p = all; p && (p = strstr(p, text)) != NULL; p++)
        n++;
    free(all);
    return n;
}

#define MANY 5000
#define GROWN 200

static void test_5000_files_under_a_limit_of_1024(void **state)
{
    (void)state;
    assert_int_equal(mkdir(in_tmp("logs"), 0755), 0);
    char name[64], rec[256];
    for (int i = 0; i < MANY; i++) {
        snprintf(name, sizeof(name), "logs/f%04d.log", i);
        snprintf(rec, sizeof(rec), HEADER "seq=%d\r\n" HEADER "seq=%d\r\n", 2 * i, 2 * i + 1);
        assert_int_equal(write_file(in_tmp(name), rec, strlen(rec)), 0);
    }
    int port = free_port();
    char cfg[4096];
    int n = snprintf(cfg, sizeof(cfg),
                     "{\"host_name\":\"h\",\"state_dir\":\"%s/state\",\"poll_interval_ms\":50,"
                     "\"scan_interval_ms\":200,\"checkpoint_interval_ms\":200,"
                     "\"metrics\":{\"listen\":\"127.0.0.1:%d\"},"
                     "\"inputs\":[{\"type\":\"file\",\"paths\":[\"%s/logs/*.log\"],"
                     "\"timezone\":\"UTC\",\"multiline_flush_ms\":100}],"
                     "\"sinks\":[{\"type\":\"file\",\"path\":\"%s/out.jsonl\"}]}",
                     tmp, port, tmp, tmp);
    assert_int_equal(write_file(in_tmp("lme.json"), cfg, (size_t)n), 0);
    char cmd[3 * PATH_MAX];
    snprintf(cmd, sizeof(cmd), "ulimit -n 1024 && exec '%s' run --config '%s'", binary,
             in_tmp("lme.json"));
    struct proc d;
    assert_int_equal(proc_start((char *const[]){ "/bin/bash", "-c", cmd, NULL }, in_tmp("d.log"),
                                &d), 0);
    assert_true(file_wait_for(in_tmp("d.log"), "msg=started", 20000));
    /* ready once the first scan has taken in every file: from then on, always healthy */
    int64_t ready_by = mono_ms() + 60000;
    while (health(port) != 200 && mono_ms() < ready_by)
        sleep_ms(50);

    enum { ALL = 2 * MANY + GROWN };
    int *count = calloc(ALL, sizeof(int));
    int checks = 0, healthy = 0, slowest = 0;
    size_t events = 0;
    for (int64_t end = mono_ms() + 180000; mono_ms() < end && events < 2 * MANY; sleep_ms(200)) {
        int64_t t0 = mono_ms();
        int code = health(port);
        int took = (int)(mono_ms() - t0);
        slowest = took > slowest ? took : slowest;
        checks++;
        healthy += code == 200;
        events = tally(in_tmp("out.jsonl"), count, ALL, NULL);
    }
    fprintf(stderr, "5000 files: %zu events, /health 200 in %d of %d checks (slowest %d ms)\n",
            events, healthy, checks, slowest);
    assert_int_equal(events, 2 * MANY);
    assert_int_equal(healthy, checks);
    /* most files had to be closed for others: their growth must still be seen and read */
    assert_true(lines_with(in_tmp("d.log"), "files wait for a descriptor") >= 1);
    for (int i = 0; i < GROWN; i++) {
        snprintf(name, sizeof(name), "logs/f%04d.log", (i * 97) % MANY);
        snprintf(rec, sizeof(rec), HEADER "seq=%d\r\n", 2 * MANY + i);
        append(in_tmp(name), rec);
    }
    for (int64_t end = mono_ms() + 120000; mono_ms() < end && events < ALL; sleep_ms(200)) {
        assert_int_equal(health(port), 200);
        events = tally(in_tmp("out.jsonl"), count, ALL, NULL);
    }
    assert_int_equal(events, ALL);
    for (int s = 0; s < ALL; s++)
        if (count[s] != 1)
            fail_msg("seq=%d arrived %d times", s, count[s]);
    if (!file_wait_for(in_tmp("d.log"), "every file has a descriptor again", 60000)) {
        char *log = read_file(in_tmp("d.log"), NULL);
        for (char *l = log ? strtok(log, "\n") : NULL; l; l = strtok(NULL, "\n"))
            if (strstr(l, "descriptor") || strstr(l, "level=error"))
                fprintf(stderr, "%s\n", l);
        free(log);
        fail_msg("files still wait for a descriptor");
    }
    kill(d.pid, SIGTERM);
    assert_int_equal(proc_wait(&d, 30000), 0);
    proc_stop(&d);
    /* every file has its checkpoint, and no save ever failed */
    assert_int_equal(lines_with(in_tmp("d.log"), "cannot save checkpoints"), 0);
    assert_int_equal(lines_with(in_tmp("d.log"), "Too many open files"), 0);
    json_t *cps = json_load_file(in_tmp("state/checkpoints.json"), 0, NULL);
    assert_non_null(cps);
    assert_int_equal(json_array_size(json_object_get(cps, "files")), MANY);
    json_decref(cps);
    free(count);
}

/* ---- symbolic links ---- */

static void write_link_config(const char *name, bool follow)
{
    char cfg[4096];
    int n = snprintf(cfg, sizeof(cfg),
                     "{\"host_name\":\"h\",\"state_dir\":\"%s/state-%s\",\"poll_interval_ms\":50,"
                     "\"scan_interval_ms\":100,\"checkpoint_interval_ms\":100,"
                     "\"inputs\":[{\"type\":\"file\",\"paths\":[\"%s/logs/*.log\"],"
                     "\"timezone\":\"UTC\",\"multiline_flush_ms\":100,\"rotate_wait_ms\":200%s}],"
                     "\"sinks\":[{\"type\":\"file\",\"path\":\"%s/%s.out\"}]}",
                     tmp, name, tmp, follow ? ",\"follow_symlinks\":true" : "", tmp, name);
    char file[64];
    snprintf(file, sizeof(file), "%s.json", name);
    assert_int_equal(write_file(in_tmp(file), cfg, (size_t)n), 0);
}

static void link_fixture(void)
{
    assert_int_equal(mkdir(in_tmp("logs"), 0755), 0);
    assert_int_equal(mkdir(in_tmp("logs/sub"), 0755), 0);
    assert_int_equal(mkdir(in_tmp("outside"), 0755), 0);
    append(in_tmp("logs/inside.log"), HEADER "seq=0\r\n");
    append(in_tmp("logs/sub/real.log"), HEADER "seq=1\r\n"); /* the glob does not match sub/ */
    append(in_tmp("outside/secret.log"), HEADER "SECRET seq=99\r\n");
    assert_int_equal(symlink("../outside/secret.log", in_tmp("logs/evil.log")), 0);
    assert_int_equal(symlink(in_tmp("plain.json"), in_tmp("logs/config.log")), 0);
    assert_int_equal(symlink("sub/real.log", in_tmp("logs/alias.log")), 0);
    assert_int_equal(symlink("../outside", in_tmp("logs/dirlink")), 0);
}

/* run --once with config name; returns its output's text (free it). */
static char *run_once(const char *name, char *log, size_t size)
{
    char cfg[64];
    snprintf(cfg, sizeof(cfg), "%s.json", name);
    struct run_result r;
    assert_int_equal(run_cmd((char *const[]){ (char *)binary, "run", "--once", "--config",
                                              (char *)in_tmp(cfg), NULL },
                             NULL, 0, &r), 0);
    if (r.status != 0)
        fprintf(stderr, "%s", r.err);
    assert_int_equal(r.status, 0);
    snprintf(log, size, "%s", r.err);
    run_result_free(&r);
    char out[64];
    snprintf(out, sizeof(out), "%s.out", name);
    char *text = read_file(in_tmp(out), NULL);
    return text ? text : strdup("");
}

static void test_symlinks_are_not_followed_by_default(void **state)
{
    (void)state;
    link_fixture();
    write_link_config("plain", false);
    char log[65536];
    char *out = run_once("plain", log, sizeof(log));
    assert_non_null(strstr(out, "seq=0"));
    assert_null(strstr(out, "seq=1"));          /* alias.log: a link, not followed */
    assert_null(strstr(out, "SECRET"));         /* evil.log */
    assert_null(strstr(out, "state_dir"));      /* config.log: the config's text */
    assert_non_null(strstr(log, "logs/evil.log"));
    assert_non_null(strstr(log, "not followed"));
    assert_non_null(strstr(log, "logs/config.log"));
    free(out);
}

static void test_follow_symlinks_stays_inside_the_folder(void **state)
{
    (void)state;
    link_fixture();
    write_link_config("follow", true);
    assert_int_equal(write_file(in_tmp("plain.json"), "{}", 2), 0);
    char log[65536];
    char *out = run_once("follow", log, sizeof(log));
    assert_non_null(strstr(out, "seq=0"));
    assert_non_null(strstr(out, "seq=1"));      /* alias.log -> sub/real.log: inside */
    assert_null(strstr(out, "SECRET"));
    assert_null(strstr(out, "\"{}\""));
    assert_non_null(strstr(log, "outside the input's folder"));
    free(out);
}

static void test_followed_file_replaced_by_a_link_is_let_go(void **state)
{
    (void)state;
    link_fixture();
    write_link_config("swap", false);
    append(in_tmp("logs/swap.log"), HEADER "seq=2\r\n");
    struct proc d;
    assert_int_equal(proc_start((char *const[]){ (char *)binary, "run", "--config",
                                                 (char *)in_tmp("swap.json"), NULL },
                                in_tmp("swap.log.err"), &d), 0);
    assert_true(file_wait_for(in_tmp("swap.out"), "seq=2", 10000));
    /* swap.log replaced by a link to the secret, which then grows */
    assert_int_equal(symlink("../outside/secret.log", in_tmp("logs/swap.tmp")), 0);
    assert_int_equal(rename(in_tmp("logs/swap.tmp"), in_tmp("logs/swap.log")), 0);
    append(in_tmp("outside/secret.log"), HEADER "SECRET seq=98\r\n");
    /* the old file lost its name (renamed over): read to its end through the descriptor */
    assert_true(file_wait_for(in_tmp("swap.log.err"), "reading it to its end", 10000));
    /* scans go on over the link: wait for its refusal, then a little growth elsewhere */
    assert_true(file_wait_for(in_tmp("swap.log.err"), "not followed", 10000));
    append(in_tmp("logs/inside.log"), HEADER "seq=3\r\n");
    assert_true(file_wait_for(in_tmp("swap.out"), "seq=3", 10000));
    kill(d.pid, SIGTERM);
    assert_int_equal(proc_wait(&d, 15000), 0);
    proc_stop(&d);
    char *out = read_file(in_tmp("swap.out"), NULL);
    assert_null(strstr(out, "SECRET"));
    free(out);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s LME_INGEST FIXTURES_DIR\n", argv[0]);
        return 2;
    }
    binary = argv[1];
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_symlinks_are_not_followed_by_default, setup, teardown),
        cmocka_unit_test_setup_teardown(test_follow_symlinks_stays_inside_the_folder, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_followed_file_replaced_by_a_link_is_let_go, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_5000_files_under_a_limit_of_1024, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
