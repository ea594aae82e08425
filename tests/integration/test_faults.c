/* Faults, each with the real daemon on real files: the disk holding state_dir fills up (a small
 * tmpfs the test mounts), a broker away longer than librdkafka's message timeout, and a corrupt
 * checkpoint file read from the beginning or from the end as configured.
 * Usage: test_faults LME_INGEST FIXTURES_DIR MOCK_BROKER KCAT */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "events.h"
#include "proc.h"
#include "run_cmd.h"

static const char *binary, *fixtures, *mock_tool, *kcat;
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

static const char *record(int seq)
{
    static char line[256];
    snprintf(line, sizeof(line), "1998/03/17 22:22:50 - LME-NOTES-MEXNTS(018b) 1 41220:Error: no "
                                 "Notes Session Open seq=%d >> ntshcs(2317)\r\n", seq);
    return line;
}

static void append_records(const char *path, int from, int to)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    assert_true(fd >= 0);
    for (int i = from; i < to; i++)
        assert_true(write(fd, record(i), strlen(record(i))) > 0);
    close(fd);
}

/* The offset checkpoints.json in dir holds for file, or -1 when it cannot be read back. */
static long long checkpoint_offset_by_path(const char *dir, const char *file)
{
    char path[2 * PATH_MAX];
    snprintf(path, sizeof(path), "%s/checkpoints.json", dir);
    json_t *root = json_load_file(path, 0, NULL);
    long long off = -1;
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(root, "files"), i, e)
        if (strcmp(json_string_value(json_object_get(e, "path")), file) == 0)
            off = json_integer_value(json_object_get(e, "offset"));
    json_decref(root);
    return off;
}

static int wait_checkpoint(const char *dir, const char *file, long long want, int timeout_ms)
{
    for (int waited = 0; waited < timeout_ms; waited += 50) {
        if (checkpoint_offset_by_path(dir, file) == want)
            return 1;
        usleep(50000);
    }
    return 0;
}

/* Fills the file system holding dir: returns the filler's path. */
static const char *fill(const char *dir)
{
    static char path[3 * PATH_MAX];
    snprintf(path, sizeof(path), "%s/filler", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    char block[4096] = { 0 };
    while (write(fd, block, sizeof(block)) > 0)
        ;
    while (write(fd, block, 1) > 0) /* the last bytes too */
        ;
    assert_int_equal(errno, ENOSPC);
    close(fd);
    return path;
}

static void test_full_disk_keeps_the_last_good_checkpoint_and_recovers(void **state)
{
    (void)state;
    char state_dir[2 * PATH_MAX];
    snprintf(state_dir, sizeof(state_dir), "%s/state", tmp);
    assert_int_equal(mkdir(state_dir, 0750), 0);
    if (mount("tmpfs", state_dir, "tmpfs", 0, "size=64k,mode=0750") != 0) {
        print_message("skipped: cannot mount a small tmpfs here (%s): run as root\n", strerror(errno));
        skip();
        return;
    }
    mkdir(in_tmp("logs"), 0755);
    char text[4 * PATH_MAX];
    int n = snprintf(text, sizeof(text),
                     "{\"state_dir\":\"%s\",\"checkpoint_interval_ms\":100,\"inputs\":[{\"type\":"
                     "\"file\",\"paths\":[\"%s/*.log\"],\"multiline_flush_ms\":100}],"
                     "\"sinks\":[{\"type\":\"file\",\"path\":\"%s\"}]}",
                     state_dir, in_tmp("logs"), in_tmp("out.jsonl"));
    assert_int_equal(write_file(in_tmp("lme.json"), text, (size_t)n), 0);
    const char *log_file = in_tmp("logs/a.log");
    append_records(log_file, 0, 20);
    struct proc d;
    assert_int_equal(proc_start((char *const[]){ (char *)binary, "run", "--config",
                                                 (char *)in_tmp("lme.json"), NULL },
                                in_tmp("daemon.log"), &d), 0);
    long long first = file_size(log_file);
    assert_true(wait_checkpoint(state_dir, log_file, first, 10000));

    const char *filler = fill(state_dir);
    append_records(log_file, 20, 40);
    /* it says so, clearly, and keeps the last good checkpoint */
    assert_true(file_wait_for(in_tmp("daemon.log"), "No space left on device", 10000));
    assert_true(file_wait_for(in_tmp("daemon.log"), "cannot save checkpoints", 100));
    assert_int_equal(checkpoint_offset_by_path(state_dir, log_file), first);
    /* the events themselves still go out: the sink is elsewhere */
    char *out;
    size_t len;
    for (int waited = 0; waited < 10000; waited += 100) {
        out = read_file(in_tmp("out.jsonl"), &len);
        if (out && strstr(out, "seq=39 "))
            break;
        free(out);
        out = NULL;
        usleep(100000);
    }
    assert_non_null(out);
    free(out);

    unlink(filler); /* space returns: the next save goes through */
    assert_true(wait_checkpoint(state_dir, log_file, file_size(log_file), 10000));
    kill(d.pid, SIGTERM);
    assert_int_equal(proc_wait(&d, 10000), 0);
    proc_stop(&d);
    umount(state_dir);
}

/* librdkafka gives up on a message after message.timeout.ms; the sink must not: it keeps the
 * message and sends it again once the broker is back. Nothing is lost or dead-lettered. */
static void test_broker_away_longer_than_the_message_timeout(void **state)
{
    (void)state;
    struct proc mb;
    char brokers[512];
    const char *topics[] = { "lme.events:2", NULL };
    assert_int_equal(mock_broker_start(mock_tool, topics, &mb, brokers, sizeof(brokers)), 0);
    mkdir(in_tmp("logs"), 0755);
    char text[4 * PATH_MAX];
    int n = snprintf(text, sizeof(text),
                     "{\"state_dir\":\"%s\",\"inputs\":[{\"type\":\"file\",\"paths\":[\"%s/*.log\"],"
                     "\"multiline_flush_ms\":100}],\"sinks\":[{\"type\":\"kafka\",\"brokers\":\"%s\","
                     "\"rdkafka\":{\"message.timeout.ms\":1000}}]}",
                     in_tmp("state"), in_tmp("logs"), brokers);
    assert_int_equal(write_file(in_tmp("lme.json"), text, (size_t)n), 0);
    append_records(in_tmp("logs/a.log"), 0, 50);
    struct proc d;
    assert_int_equal(proc_start((char *const[]){ (char *)binary, "run", "--config",
                                                 (char *)in_tmp("lme.json"), NULL },
                                in_tmp("daemon.log"), &d), 0);
    assert_true(file_wait_for(in_tmp("daemon.log"), "msg=started", 10000));
    assert_int_equal(mock_broker_command(&mb, "down"), 0);
    append_records(in_tmp("logs/a.log"), 50, 100);
    sleep(4); /* four message timeouts */
    assert_int_equal(mock_broker_command(&mb, "up"), 0);
    /* everything arrives */
    int seen[100];
    for (int waited = 0; waited < 30000; waited += 500) {
        memset(seen, 0, sizeof(seen));
        struct run_result res;
        char *argv[] = { (char *)kcat, "-b", brokers, "-C", "-t", "lme.events", "-o", "beginning",
                         "-e", "-q", "-f", "%s\n", NULL };
        assert_int_equal(run_cmd(argv, NULL, 0, &res), 0);
        int count = 0;
        for (const char *p = res.out; (p = strstr(p, "seq=")); p++) {
            int s = atoi(p + 4);
            if (s >= 0 && s < 100 && !seen[s]++)
                count++;
        }
        run_result_free(&res);
        if (count == 100)
            break;
        usleep(500000);
    }
    for (int i = 0; i < 100; i++)
        if (!seen[i])
            fail_msg("seq=%d never arrived", i);
    kill(d.pid, SIGTERM);
    assert_int_equal(proc_wait(&d, 15000), 0);
    proc_stop(&d);
    proc_stop(&mb);
    size_t len;
    char *log = read_file(in_tmp("daemon.log"), &len);
    assert_non_null(strstr(log, "dead_lettered=0"));
    const char *retried = strstr(log, "retried=");
    assert_non_null(retried);
    assert_true(atol(retried + strlen("retried=")) > 0); /* the timed-out ones were sent again */
    free(log);
}

/* A checkpoint file that cannot be read back: the daemon starts, says what it did, and reads
 * from the beginning or from the end as configured. */
static void test_corrupt_checkpoints(void **state)
{
    (void)state;
    mkdir(in_tmp("logs"), 0755);
    mkdir(in_tmp("state"), 0750);
    append_records(in_tmp("logs/a.log"), 0, 10);
    for (int end = 0; end < 2; end++) {
        assert_int_equal(write_file(in_tmp("state/checkpoints.json"), "{\"version\":1,\"files\":[{\"pa", 26),
                         0);
        unlink(in_tmp("out.jsonl"));
        char text[4 * PATH_MAX];
        int n = snprintf(text, sizeof(text),
                         "{\"state_dir\":\"%s\",\"on_bad_checkpoints\":\"%s\",\"inputs\":[{\"type\":"
                         "\"file\",\"paths\":[\"%s/*.log\"],\"multiline_flush_ms\":100}],"
                         "\"sinks\":[{\"type\":\"file\",\"path\":\"%s\"}]}",
                         in_tmp("state"), end ? "end" : "beginning", in_tmp("logs"), in_tmp("out.jsonl"));
        assert_int_equal(write_file(in_tmp("lme.json"), text, (size_t)n), 0);
        struct proc d;
        assert_int_equal(proc_start((char *const[]){ (char *)binary, "run", "--config",
                                                     (char *)in_tmp("lme.json"), NULL },
                                    in_tmp("daemon.log"), &d), 0);
        assert_true(file_wait_for(in_tmp("daemon.log"),
                                  end ? "read from its end (on_bad_checkpoints)" : "read from its start",
                                  10000));
        assert_true(file_wait_for(in_tmp("daemon.log"), "following file", 5000));
        append_records(in_tmp("logs/a.log"), 100, 101);
        assert_true(file_wait_for(in_tmp("out.jsonl"), "seq=100 ", 10000));
        kill(d.pid, SIGTERM);
        assert_int_equal(proc_wait(&d, 10000), 0);
        proc_stop(&d);
        size_t len;
        char *out = read_file(in_tmp("out.jsonl"), &len);
        /* from the beginning: the old records again; from the end: only the new one */
        assert_int_equal(strstr(out, "seq=0 ") != NULL, !end);
        free(out);
        /* and the checkpoint file is whole again */
        json_t *cps = json_load_file(in_tmp("state/checkpoints.json"), 0, NULL);
        assert_non_null(cps);
        json_decref(cps);
    }
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
        cmocka_unit_test_setup_teardown(test_full_disk_keeps_the_last_good_checkpoint_and_recovers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_broker_away_longer_than_the_message_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_checkpoints, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
