/* `lme-ingest run` following real files while a writer works on them: growth and partial
 * lines, the last record's flush, rename and copy-truncate rotation, deletion, new files,
 * restarts from checkpoints, inode reuse, files that start alike, start_at, the read-back cap,
 * UTF-16LE, and SIGHUP reloads. Events go to a file sink; each record carries "seq=N".
 * Usage: test_follow LME_INGEST FIXTURES_DIR */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "events.h"
#include "proc.h"
#include "run_cmd.h"

#define MAX_SEQ 4096

static const char *binary;
static char *tmp;   /* per test */
static char logs[PATH_MAX + 16], out[PATH_MAX + 16], cfg_path[PATH_MAX + 16], err_log[PATH_MAX + 16];

static int setup(void **state)
{
    (void)state;
    if (!(tmp = make_temp_dir()))
        return -1;
    snprintf(logs, sizeof(logs), "%s/logs", tmp);
    snprintf(out, sizeof(out), "%s/out.jsonl", tmp);
    snprintf(cfg_path, sizeof(cfg_path), "%s/lme.json", tmp);
    snprintf(err_log, sizeof(err_log), "%s/daemon.log", tmp);
    return mkdir(logs, 0755);
}

static int teardown(void **state)
{
    (void)state;
    remove_tree(tmp);
    free(tmp);
    return 0;
}

static const char *in_logs(const char *name)
{
    static char path[4][2 * PATH_MAX];
    static int next;
    char *p = path[next++ % 4];
    snprintf(p, 2 * PATH_MAX, "%s/%s", logs, name);
    return p;
}

/* A config following logs/GLOB with short timings; input_extra and top_extra are JSON members. */
static void write_config_for(const char *inputs, const char *top_extra)
{
    char text[16384];
    int n = snprintf(text, sizeof(text),
                     "{\"host_name\":\"h\",\"state_dir\":\"%s/state\",\"poll_interval_ms\":20,"
                     "\"scan_interval_ms\":50,\"checkpoint_interval_ms\":100%s,"
                     "\"inputs\":[%s],\"sinks\":[{\"type\":\"file\",\"path\":\"%s\"}]}",
                     tmp, top_extra ? top_extra : "", inputs, out);
    assert_int_equal(write_file(cfg_path, text, (size_t)n), 0);
}

static void write_config(const char *input_extra)
{
    char input[PATH_MAX + 1024];
    snprintf(input, sizeof(input),
             "{\"type\":\"file\",\"paths\":[\"%s/*.log\"],\"timezone\":\"UTC\","
             "\"multiline_flush_ms\":150,\"rotate_wait_ms\":300%s}",
             logs, input_extra ? input_extra : "");
    write_config_for(input, NULL);
}

static void start(struct proc *d)
{
    assert_int_equal(proc_start((char *const[]){ (char *)binary, "run", "--config", cfg_path, NULL },
                                err_log, d), 0);
}

static void stop(struct proc *d)
{
    kill(d->pid, SIGTERM);
    assert_int_equal(proc_wait(d, 15000), 0);
    proc_stop(d);
}

static const char *single(int seq)
{
    static char line[4][256];
    static int next;
    char *l = line[next++ % 4];
    snprintf(l, 256, "1998/03/17 22:22:50 - LME-NOTES-MEXNTS(018b) 1 41220:Error: no Notes "
                     "Session Open seq=%d >> ntshcs(2317)\r\n", seq);
    return l;
}

static const char *wrapped(int seq)
{
    static char text[4][256];
    static int next;
    char *t = text[next++ % 4];
    snprintf(t, 256, "1998/03/17 22:22:51 - LME-NOTES-MEXNTS(018b) 3 41210:Terminating seq=%d\r\n"
                     "Notes Interface\r\n>> ntshcs(100)\r\n", seq);
    return t;
}

static void append(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

/* Appends records from..to-1, every fifth one wrapped over three lines. */
static void append_records(const char *path, int from, int to)
{
    for (int i = from; i < to; i++)
        append(path, i % 5 == 4 ? wrapped(i) : single(i));
}

/* What arrived: how many times each seq, and the events. */
struct arrived {
    int count[MAX_SEQ];
    size_t events;
    json_t *all;
};

static void read_arrived(struct arrived *a)
{
    memset(a->count, 0, sizeof(a->count));
    a->events = 0;
    a->all = NULL;
    size_t len;
    char *text = read_file(out, &len);
    if (!text)
        return;
    while (len > 0 && text[len - 1] != '\n')
        len--; /* a line the daemon is writing right now: not there yet */
    a->all = events_parse_records(text, len);
    free(text);
    assert_non_null(a->all);
    a->events = json_array_size(a->all);
    for (size_t i = 0; i < a->events; i++) {
        const char *orig = event_str(json_array_get(a->all, i), "event.original");
        const char *s = orig ? strstr(orig, "seq=") : NULL;
        if (s && atoi(s + 4) >= 0 && atoi(s + 4) < MAX_SEQ)
            a->count[atoi(s + 4)]++;
    }
}

/* Waits until `events` events arrived; then checks each seq of [from, to) arrived exactly
 * `times` times. */
static void expect_seqs(size_t events, int from, int to, int times)
{
    struct arrived a = { 0 };
    for (int waited = 0; waited < 15000; waited += 20) {
        read_arrived(&a);
        if (a.events >= events)
            break;
        json_decref(a.all);
        usleep(20000);
    }
    if (a.events != events)
        fprintf(stderr, "expected %zu events, got %zu\n", events, a.events);
    assert_int_equal(a.events, events);
    for (int i = from; i < to; i++) {
        if (a.count[i] != times)
            fprintf(stderr, "seq=%d arrived %d times\n", i, a.count[i]);
        assert_int_equal(a.count[i], times);
    }
    json_decref(a.all);
}

/* No more events than `events` arrive within ms. */
static void expect_no_more(size_t events, int ms)
{
    usleep((useconds_t)ms * 1000);
    struct arrived a;
    read_arrived(&a);
    assert_int_equal(a.events, events);
    json_decref(a.all);
}

static json_t *last_event(void)
{
    struct arrived a;
    read_arrived(&a);
    assert_non_null(a.all);
    json_t *ev = json_incref(json_array_get(a.all, a.events - 1));
    json_decref(a.all);
    return ev;
}

static void test_growth_partial_lines_and_the_last_record(void **state)
{
    (void)state;
    write_config(NULL);
    struct proc d;
    start(&d); /* nothing to follow yet */
    assert_true(file_wait_for(err_log, "no file matches", 5000));
    append_records(in_logs("a.log"), 0, 3); /* a new file */
    expect_seqs(3, 0, 3, 1); /* the last one once the file is silent for multiline_flush_ms */

    /* a partial line waits for its end, however long */
    append(in_logs("a.log"), "1998/03/17 22:22:52 - LME-NOTES-MEXNTS(018b) 1 41220:Er");
    expect_no_more(3, 600);
    append(in_logs("a.log"), "ror: no Notes Session Open seq=3 >> ntshcs(2317)\r\n");
    expect_seqs(4, 0, 4, 1);
    json_t *ev = last_event();
    assert_string_equal(event_str(ev, "event.original"),
                        "1998/03/17 22:22:52 - LME-NOTES-MEXNTS(018b) 1 41220:Error: no Notes "
                        "Session Open seq=3 >> ntshcs(2317)");
    json_decref(ev);

    /* a wrapped record written in pieces, quicker than the flush, stays one record */
    append(in_logs("a.log"), "1998/03/17 22:22:53 - LME-NOTES-MEXNTS(018b) 3 41210:Terminating seq=4\r\n");
    usleep(50000);
    append(in_logs("a.log"), "Notes Interface\r\n");
    usleep(50000);
    append(in_logs("a.log"), ">> ntshcs(100)\r\n");
    expect_seqs(5, 0, 5, 1);
    ev = last_event();
    assert_string_equal(event_str(ev, "event.original"),
                        "1998/03/17 22:22:53 - LME-NOTES-MEXNTS(018b) 3 41210:Terminating seq=4\r\n"
                        "Notes Interface\r\n>> ntshcs(100)");
    json_decref(ev);
    stop(&d);
}

static void test_rename_rotation_reads_the_old_file_to_its_end(void **state)
{
    (void)state;
    write_config(NULL);
    struct proc d;
    start(&d);
    append_records(in_logs("a.log"), 0, 50);
    int fd = open(in_logs("a.log"), O_WRONLY | O_APPEND); /* the writer keeps it open */
    assert_true(fd >= 0);
    expect_seqs(50, 0, 50, 1);
    char rotated[2 * PATH_MAX];
    snprintf(rotated, sizeof(rotated), "%s/a.log.1", logs); /* outside the glob */
    assert_int_equal(rename(in_logs("a.log"), rotated), 0);
    for (int i = 50; i < 55; i++) /* late writes to the renamed file */
        assert_true(write(fd, single(i), strlen(single(i))) > 0);
    close(fd);
    append_records(in_logs("a.log"), 55, 100);
    expect_seqs(100, 0, 100, 1);
    assert_true(file_wait_for(err_log, "file renamed away", 1000));
    stop(&d);
}

static void test_copy_truncate_reads_the_new_content_from_its_start(void **state)
{
    (void)state;
    write_config(NULL);
    struct proc d;
    start(&d);
    append_records(in_logs("a.log"), 0, 50);
    expect_seqs(50, 0, 50, 1);
    assert_int_equal(truncate(in_logs("a.log"), 0), 0);
    append_records(in_logs("a.log"), 50, 70); /* fewer bytes than before */
    expect_seqs(70, 0, 70, 1);
    assert_true(file_wait_for(err_log, "file truncated", 1000));
    stop(&d);
    /* a restart resumes within the new content, not at the old offset */
    append_records(in_logs("a.log"), 70, 80);
    start(&d);
    expect_seqs(80, 0, 80, 1);
    stop(&d);
}

static void test_deleted_file_is_read_to_its_end_and_new_files_are_picked_up(void **state)
{
    (void)state;
    write_config(NULL);
    struct proc d;
    start(&d);
    append_records(in_logs("a.log"), 0, 30);
    int fd = open(in_logs("a.log"), O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    expect_seqs(30, 0, 30, 1);
    assert_int_equal(unlink(in_logs("a.log")), 0);
    for (int i = 30; i < 35; i++)
        assert_true(write(fd, single(i), strlen(single(i))) > 0);
    close(fd);
    append_records(in_logs("b.log"), 35, 45);
    expect_seqs(45, 0, 45, 1);
    if (!file_wait_for(err_log, "file deleted", 10000)) { /* say what the daemon saw of a.log */
        char *log = read_file(err_log, NULL);
        for (char *l = log ? strtok(log, "\n") : NULL; l; l = strtok(NULL, "\n"))
            if (strstr(l, "a.log"))
                fprintf(stderr, "%s\n", l);
        free(log);
        fail_msg("the deletion of a.log was not logged");
    }
    stop(&d);
}

static void test_restart_resumes_where_it_stopped(void **state)
{
    (void)state;
    write_config(NULL);
    struct proc d;
    append_records(in_logs("a.log"), 0, 20);
    start(&d);
    expect_seqs(20, 0, 20, 1);
    stop(&d);
    append_records(in_logs("a.log"), 20, 30);
    append_records(in_logs("b.log"), 30, 40); /* appeared while it was down */
    start(&d);
    expect_seqs(40, 0, 40, 1);
    assert_true(file_wait_for(err_log, "resuming", 1000));
    stop(&d);
}

/* The checkpoint of a deleted file names the inode a new file now has (what a file system
 * does when it reuses inodes): its first bytes differ, so it is read from its start. */
static void test_reused_inode_is_read_from_its_start(void **state)
{
    (void)state;
    write_config(NULL);
    struct proc d;
    append_records(in_logs("a.log"), 0, 20);
    start(&d);
    expect_seqs(20, 0, 20, 1);
    stop(&d);

    char state_file[2 * PATH_MAX];
    snprintf(state_file, sizeof(state_file), "%s/state/checkpoints.json", tmp);
    json_t *cps = json_load_file(state_file, 0, NULL);
    assert_non_null(cps);
    json_t *entry = json_array_get(json_object_get(cps, "files"), 0);
    assert_non_null(entry);
    assert_int_equal(unlink(in_logs("a.log")), 0);
    append_records(in_logs("c.log"), 100, 110); /* shorter than the old checkpoint's offset? no matter */
    append_records(in_logs("c.log"), 110, 140);
    struct stat st;
    assert_int_equal(stat(in_logs("c.log"), &st), 0);
    char num[32];
    snprintf(num, sizeof(num), "%llu", (unsigned long long)st.st_dev);
    json_object_set_new(entry, "dev", json_string(num));
    snprintf(num, sizeof(num), "%llu", (unsigned long long)st.st_ino);
    json_object_set_new(entry, "ino", json_string(num));
    json_object_set_new(entry, "path", json_string(in_logs("c.log")));
    assert_int_equal(json_dump_file(cps, state_file, 0), 0);
    json_decref(cps);

    start(&d);
    assert_true(file_wait_for(err_log, "a new file in a known inode", 5000));
    expect_seqs(20 + 40, 100, 140, 1);
    stop(&d);
}

/* Browse logs start alike: two files with the same first kilobytes are two files. */
static void test_files_that_start_alike_are_kept_apart(void **state)
{
    (void)state;
    write_config(NULL);
    struct proc d;
    append_records(in_logs("x.log"), 0, 30); /* about 3 KiB, identical in both */
    append_records(in_logs("y.log"), 0, 30);
    start(&d);
    expect_seqs(60, 0, 30, 2);
    stop(&d);
    append_records(in_logs("x.log"), 30, 35);
    append_records(in_logs("y.log"), 35, 40);
    start(&d);
    expect_seqs(70, 30, 40, 1);
    stop(&d);
}

static void test_start_at_end_skips_what_was_there_at_first_start(void **state)
{
    (void)state;
    write_config(",\"start_at\":\"end\"");
    append_records(in_logs("a.log"), 0, 10);
    /* a line still being written when the daemon starts is read whole */
    append(in_logs("a.log"), "1998/03/17 22:22:50 - LME-NOTES-MEXNTS(018b) 1 41220:Error: no Notes");
    struct proc d;
    start(&d);
    assert_true(file_wait_for(err_log, "following file", 5000));
    append(in_logs("a.log"), " Session Open seq=10 >> ntshcs(2317)\r\n");
    append_records(in_logs("a.log"), 11, 15);
    expect_seqs(5, 10, 15, 1);
    stop(&d);
    /* a restart is no first start: what came meanwhile is read, new files from their start */
    append_records(in_logs("a.log"), 15, 20);
    append_records(in_logs("b.log"), 20, 25);
    start(&d);
    expect_seqs(15, 10, 25, 1);
    stop(&d);
}

static void test_read_back_cap(void **state)
{
    (void)state;
    write_config(",\"max_read_back_bytes\":1000");
    append_records(in_logs("a.log"), 0, 100); /* about 10 KiB */
    struct proc d;
    start(&d);
    struct arrived a = { 0 };
    for (int waited = 0; waited < 15000; waited += 20) { /* until the last record is in */
        read_arrived(&a);
        if (a.count[99] > 0)
            break;
        json_decref(a.all);
        usleep(20000);
    }
    assert_true(a.events > 5 && a.events < 15);
    assert_int_equal(a.count[99], 1); /* the end, read whole */
    assert_int_equal(a.count[0], 0);
    /* reading started on a line, at most 1000 bytes before the end */
    size_t len;
    char *text = read_file(in_logs("a.log"), &len);
    json_int_t first = json_integer_value(event_get(json_array_get(a.all, 0), "log.offset"));
    assert_true(first > 0 && (size_t)first >= len - 1000);
    assert_int_equal(text[first - 1], '\n');
    free(text);
    json_decref(a.all);
    stop(&d);
}

/* UTF-16LE text of an ASCII/Latin-1 string (each byte one code unit). */
static size_t to_utf16(const char *s, unsigned char *buf)
{
    size_t n = 0;
    for (; *s; s++) {
        buf[n++] = (unsigned char)*s;
        buf[n++] = 0;
    }
    return n;
}

static void append_utf16(const char *path, const char *text, int bom)
{
    unsigned char buf[4096];
    size_t n = 0;
    if (bom) {
        buf[n++] = 0xFF;
        buf[n++] = 0xFE;
    }
    n += to_utf16(text, buf + n);
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, buf, n), (ssize_t)n);
    close(fd);
}

static void test_utf16le_with_bom_is_read_as_utf8_with_file_offsets(void **state)
{
    (void)state;
    write_config(NULL);
    append_utf16(in_logs("w.log"), single(0), 1);
    append_utf16(in_logs("w.log"), wrapped(1), 0);
    append_utf16(in_logs("w.log"), "1998/03/17 22:22:50 - LME-NOTES-MEXNTS(018b) 1 41220:caf\xe9 seq=2\r\n", 0);
    struct proc d;
    start(&d);
    expect_seqs(3, 0, 3, 1);
    struct arrived a;
    read_arrived(&a);
    json_t *second = json_array_get(a.all, 1), *third = json_array_get(a.all, 2);
    assert_int_equal(json_integer_value(event_get(second, "log.offset")), 2 + 2 * strlen(single(0)));
    assert_string_equal(event_str(second, "event.original"),
                        "1998/03/17 22:22:51 - LME-NOTES-MEXNTS(018b) 3 41210:Terminating seq=1\r\n"
                        "Notes Interface\r\n>> ntshcs(100)");
    assert_non_null(strstr(event_str(third, "event.original"), "caf\xc3\xa9 seq=2"));
    json_decref(a.all);
    stop(&d);
    append_utf16(in_logs("w.log"), single(3), 0); /* resumed at a file offset */
    start(&d);
    expect_seqs(4, 0, 4, 1);
    stop(&d);
}

static void test_sighup_reload_adds_an_input_and_keeps_the_others(void **state)
{
    (void)state;
    char other[PATH_MAX + 16];
    snprintf(other, sizeof(other), "%s/other", tmp);
    assert_int_equal(mkdir(other, 0755), 0);
    write_config(NULL);
    struct proc d;
    start(&d);
    append_records(in_logs("a.log"), 0, 20);
    expect_seqs(20, 0, 20, 1);

    char inputs[3 * PATH_MAX];
    snprintf(inputs, sizeof(inputs),
             "{\"type\":\"file\",\"paths\":[\"%s/*.log\"],\"multiline_flush_ms\":150},"
             "{\"type\":\"file\",\"paths\":[\"%s/*.log\"],\"multiline_flush_ms\":150,"
             "\"host_name\":\"other-host\"}", logs, other);
    write_config_for(inputs, NULL);
    char b_log[2 * PATH_MAX];
    snprintf(b_log, sizeof(b_log), "%s/b.log", other);
    append_records(b_log, 20, 30);
    kill(d.pid, SIGHUP);
    assert_true(file_wait_for(err_log, "reloaded", 10000));
    append_records(in_logs("a.log"), 30, 40);
    expect_seqs(40, 0, 40, 1);

    /* a broken config on reload: the running one stays and says why */
    assert_int_equal(write_file(cfg_path, "{\"inputs\": 3}", 13), 0);
    kill(d.pid, SIGHUP);
    assert_true(file_wait_for(err_log, "reload refused", 10000));
    assert_true(file_wait_for(err_log, "key 'inputs'", 100));
    append_records(b_log, 40, 45);
    expect_seqs(45, 0, 45, 1);
    stop(&d);
}

/* Without inotify (as on network mounts): growth, new files and rotation are still seen, by
 * polling; a file silent past close_inactive_ms is closed and opened again when it grows. */
static void test_polling_only_and_idle_files_closed_and_reopened(void **state)
{
    (void)state;
    char input[PATH_MAX + 256];
    snprintf(input, sizeof(input),
             "{\"type\":\"file\",\"paths\":[\"%s/*.log\"],\"multiline_flush_ms\":100,"
             "\"rotate_wait_ms\":200,\"close_inactive_ms\":1000}", logs);
    write_config_for(input, ",\"inotify\":false");
    struct proc d;
    start(&d);
    append_records(in_logs("a.log"), 0, 10);
    expect_seqs(10, 0, 10, 1);
    assert_true(file_wait_for(err_log, "file inactive: closed until it changes", 5000));
    append_records(in_logs("a.log"), 10, 20);
    expect_seqs(20, 0, 20, 1);
    assert_true(file_wait_for(err_log, "file changed: reopened", 1000));
    char rotated[2 * PATH_MAX];
    snprintf(rotated, sizeof(rotated), "%s/a.old", logs);
    assert_int_equal(rename(in_logs("a.log"), rotated), 0);
    append_records(in_logs("a.log"), 20, 30);
    expect_seqs(30, 0, 30, 1);
    stop(&d);
}

/* A closed file whose inode now holds other content (here rewritten while idle and closed, as
 * when a deleted file's inode goes to a new file) is read from its start, not from the old
 * offset: a regression test for records torn in two (found by the model test). */
static void test_closed_file_with_new_content_is_read_from_its_start(void **state)
{
    (void)state;
    char input[PATH_MAX + 256];
    snprintf(input, sizeof(input),
             "{\"type\":\"file\",\"paths\":[\"%s/*.log\"],\"multiline_flush_ms\":100,"
             "\"close_inactive_ms\":1000}", logs);
    write_config_for(input, NULL);
    struct proc d;
    start(&d);
    append_records(in_logs("a.log"), 0, 10);
    expect_seqs(10, 0, 10, 1);
    assert_true(file_wait_for(err_log, "file inactive: closed until it changes", 5000));
    /* new content, longer than the old, in the same inode, written in one go */
    char text[8192];
    size_t len = 0;
    for (int i = 100; i < 130; i++)
        len += (size_t)snprintf(text + len, sizeof(text) - len, "%s", single(i));
    int fd = open(in_logs("a.log"), O_WRONLY | O_TRUNC);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    close(fd);
    expect_seqs(40, 100, 130, 1);
    assert_true(file_wait_for(err_log, "a new file in a known inode", 1000));
    stop(&d);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s LME_INGEST FIXTURES_DIR\n", argv[0]);
        return 2;
    }
    binary = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_growth_partial_lines_and_the_last_record, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rename_rotation_reads_the_old_file_to_its_end, setup, teardown),
        cmocka_unit_test_setup_teardown(test_copy_truncate_reads_the_new_content_from_its_start, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deleted_file_is_read_to_its_end_and_new_files_are_picked_up, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restart_resumes_where_it_stopped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reused_inode_is_read_from_its_start, setup, teardown),
        cmocka_unit_test_setup_teardown(test_files_that_start_alike_are_kept_apart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_start_at_end_skips_what_was_there_at_first_start, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_back_cap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_utf16le_with_bom_is_read_as_utf8_with_file_offsets, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sighup_reload_adds_an_input_and_keeps_the_others, setup, teardown),
        cmocka_unit_test_setup_teardown(test_polling_only_and_idle_files_closed_and_reopened, setup, teardown),
        cmocka_unit_test_setup_teardown(test_closed_file_with_new_content_is_read_from_its_start, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
