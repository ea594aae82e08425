/* check-config tells the truth: every configuration `run` refuses to start on, check-config
 * refuses too, with the same reason, and one it accepts, run starts on. Each case is a real file
 * on disk and the real binary: state_dir writable by others, a file, owned by another user,
 * missing and not creatable; a TLS file librdkafka would fail to read; a dead-letter or output
 * file that cannot be written; a combination of keys that cannot work; a bad key.
 * Usage: test_check_config LME_INGEST FIXTURES_DIR */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "run_cmd.h"

static const char *binary;
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

/* The config: a log, state_dir and sinks (JSON text) as given. */
static void write_config(const char *state_dir, const char *extra_input, const char *sinks)
{
    char text[8192];
    int n = snprintf(text, sizeof(text),
                     "{\"host_name\":\"h\",\"state_dir\":\"%s\",\"once_timeout_ms\":2000,"
                     "\"inputs\":[{\"type\":\"file\",\"paths\":[\"%s\"],\"timezone\":\"UTC\"%s}],"
                     "\"sinks\":%s}",
                     state_dir, in_tmp("logs/*.log"), extra_input, sinks);
    assert_int_equal(write_file(in_tmp("lme.json"), text, (size_t)n), 0);
}

struct outcome {
    int status;
    char reason[1024];
};

static void run(const char *command, bool once, struct outcome *o)
{
    struct run_result r;
    char *argv[] = { (char *)binary, (char *)command, "--config", (char *)in_tmp("lme.json"),
                     once ? "--once" : NULL, NULL };
    assert_int_equal(run_cmd(argv, NULL, 0, &r), 0);
    o->status = r.status;
    const char *e = strstr(r.err, "error=");
    snprintf(o->reason, sizeof(o->reason), "%.*s", e ? (int)strcspn(e, "\n") : 0, e ? e : "");
    run_result_free(&r);
}

/* check-config and run --once agree: both refuse with the same reason, or both go. */
static void expect_agreement(const char *what, bool refused, const char *because)
{
    struct outcome check, start;
    run("check-config", false, &check);
    run("run", true, &start);
    fprintf(stderr, "%s: check-config %d, run %d: %s\n", what, check.status, start.status,
            start.reason);
    if (!refused) {
        assert_int_equal(check.status, 0);
        assert_int_equal(start.status, 0);
        return;
    }
    assert_int_equal(check.status, 2);
    assert_int_equal(start.status, 2);
    assert_string_equal(check.reason, start.reason);
    if (!strstr(check.reason, because))
        fail_msg("%s: expected the reason to say '%s': %s", what, because, check.reason);
}

static const char *file_sink(const char *path)
{
    static char text[PATH_MAX + 64];
    snprintf(text, sizeof(text), "[{\"type\":\"file\",\"path\":\"%s\"}]", path);
    return text;
}

static void test_check_config_refuses_what_run_refuses(void **state)
{
    (void)state;
    assert_int_equal(mkdir(in_tmp("logs"), 0755), 0);
    assert_int_equal(write_file(in_tmp("logs/a.log"), "x\r\n", 3), 0);
    const char *out = in_tmp("out.jsonl");

    write_config(in_tmp("state"), "", file_sink(out));
    expect_agreement("a good config", false, NULL);

    assert_int_equal(mkdir(in_tmp("open-state"), 0777), 0);
    assert_int_equal(chmod(in_tmp("open-state"), 0777), 0);
    write_config(in_tmp("open-state"), "", file_sink(out));
    expect_agreement("state_dir writable by others", true, "writable by others");

    assert_int_equal(write_file(in_tmp("state-file"), "", 0), 0);
    write_config(in_tmp("state-file"), "", file_sink(out));
    expect_agreement("state_dir is a file", true, "not a folder");

    write_config("/proc/lme-ingest/state", "", file_sink(out));
    expect_agreement("state_dir cannot be created", true, "cannot be created");

    struct passwd *nobody = getpwnam("nobody");
    if (geteuid() == 0 && nobody) {
        assert_int_equal(mkdir(in_tmp("their-state"), 0750), 0);
        assert_int_equal(chown(in_tmp("their-state"), nobody->pw_uid, nobody->pw_gid), 0);
        write_config(in_tmp("their-state"), "", file_sink(out));
        expect_agreement("state_dir owned by another user", true, "owned by uid");
    }

    write_config(in_tmp("state"), "", file_sink(in_tmp("no-such-dir/sub/out.jsonl")));
    assert_int_equal(write_file(in_tmp("no-such-dir"), "", 0), 0); /* a file where a folder goes */
    expect_agreement("output file cannot be created", true, "cannot be created");

    char kafka[4 * PATH_MAX];
    snprintf(kafka, sizeof(kafka),
             "[{\"type\":\"kafka\",\"brokers\":\"127.0.0.1:1\",\"rdkafka\":{\"security.protocol\":"
             "\"ssl\",\"ssl.ca.location\":\"%s\"}}]", in_tmp("no-such-ca.pem"));
    write_config(in_tmp("state"), "", kafka);
    expect_agreement("a TLS file that is not there", true, "ssl.ca.location");

    snprintf(kafka, sizeof(kafka),
             "[{\"type\":\"kafka\",\"brokers\":\"127.0.0.1:1\",\"dead_letter_path\":\"%s\"}]",
             in_tmp("logs"));
    write_config(in_tmp("state"), "", kafka);
    expect_agreement("a dead-letter path that is a folder", true, "dead-letter");

    write_config(in_tmp("state"), ",\"multiline_flush_ms\":5000,\"close_inactive_ms\":4000",
                 file_sink(out));
    expect_agreement("close_inactive_ms below multiline_flush_ms", true, "multiline_flush_ms");

    write_config(in_tmp("state"), ",\"timezone_\":\"UTC\"", file_sink(out));
    expect_agreement("an unknown key", true, "unknown key");
}

/* run --once that delivered everything but could not save its checkpoints exits 1: the next run
 * would send it all again, and a backfill script must know. The save is made to fail by a folder
 * where the temporary checkpoints file goes. */
static void test_once_exits_1_when_checkpoints_cannot_be_saved(void **state)
{
    (void)state;
    assert_int_equal(mkdir(in_tmp("logs"), 0755), 0);
    const char *rec = "1998/03/17 22:22:50 - LME-NOTES-MEXNTS(018b) 1 41220:Error: no Notes "
                      "Session Open >> ntshcs(2317)\r\n";
    assert_int_equal(write_file(in_tmp("logs/a.log"), rec, strlen(rec)), 0);
    write_config(in_tmp("state"), "", file_sink(in_tmp("out.jsonl")));
    struct outcome o;
    run("run", true, &o);
    assert_int_equal(o.status, 0);
    assert_int_equal(mkdir(in_tmp("state/.checkpoints.json.tmp"), 0750), 0);
    assert_int_equal(write_file(in_tmp("logs/b.log"), rec, strlen(rec)), 0);
    run("run", true, &o);
    fprintf(stderr, "checkpoints not saved: run --once exit %d: %s\n", o.status, o.reason);
    assert_int_equal(o.status, 1);
    assert_non_null(strstr(o.reason, "checkpoints"));
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s LME_INGEST FIXTURES_DIR\n", argv[0]);
        return 2;
    }
    binary = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_check_config_refuses_what_run_refuses, setup, teardown),
        cmocka_unit_test_setup_teardown(test_once_exits_1_when_checkpoints_cannot_be_saved, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
