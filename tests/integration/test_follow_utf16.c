/* `lme-ingest run` following UTF-16LE files as they appear: created empty and written a moment
 * later (the BOM even cut across two writes), created and written at once, under inotify and
 * under polling; the BOM dropped with encoding utf-16le; the last record of a file without a final
 * line end sent once by three run --once; a UTF-16LE file read from near its end (start_at end).
 * Events go to a file sink; each record carries "seq=N".
 * Usage: test_follow_utf16 LME_INGEST FIXTURES_DIR */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "events.h"
#include "proc.h"
#include "run_cmd.h"

#define MAX_SEQ 2048
#define BARRIER_SEQ 1000 /* seqs of the UTF-8 records written to know the daemon had a turn */

static const char *binary;
static char *tmp; /* per test */
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

/* A config following the *.log files of logs/; input_extra and top_extra are JSON members. */
static void write_config(const char *input_extra, const char *top_extra)
{
    char text[4 * PATH_MAX];
    int n = snprintf(text, sizeof(text),
                     "{\"host_name\":\"h\",\"state_dir\":\"%s/state\",\"poll_interval_ms\":20,"
                     "\"scan_interval_ms\":50,\"checkpoint_interval_ms\":100%s,"
                     "\"inputs\":[{\"type\":\"file\",\"paths\":[\"%s/*.log\"],"
                     "\"timezone\":\"UTC\",\"multiline_flush_ms\":150%s}],"
                     "\"sinks\":[{\"type\":\"file\",\"path\":\"%s\"}]}",
                     tmp, top_extra ? top_extra : "", logs, input_extra ? input_extra : "", out);
    assert_int_equal(write_file(cfg_path, text, (size_t)n), 0);
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
                     "Notes Interface >>\r\n ntshcs(100)\r\n", seq);
    return t;
}

static void append_bytes(const char *path, const char *data, size_t n)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, n), (ssize_t)n);
    close(fd);
}

/* UTF-16LE of ASCII text (each byte one code unit), behind the BOM when bom. */
static size_t utf16_of(const char *text, bool bom, char *buf, size_t size)
{
    size_t n = 0;
    if (bom) {
        buf[n++] = '\xFF';
        buf[n++] = '\xFE';
    }
    for (; *text && n + 2 <= size; text++) {
        buf[n++] = *text;
        buf[n++] = 0;
    }
    return n;
}

static void append_utf16(const char *path, const char *text, bool bom)
{
    char buf[4096];
    append_bytes(path, buf, utf16_of(text, bom, buf, sizeof(buf)));
}

/* Three records, the second wrapped with its trailer cut after the marker. */
static void append_three(const char *path, int from, bool bom)
{
    append_utf16(path, single(from), bom);
    append_utf16(path, wrapped(from + 1), false);
    append_utf16(path, single(from + 2), false);
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

/* Waits until `events` events arrived; then checks each seq of [from, to) arrived once, and
 * that every event was parsed: header fields, the trailer, no lme_parse_failure. */
static void expect_parsed(size_t events, int from, int to)
{
    struct arrived a = { 0 };
    for (int waited = 0; waited < 15000; waited += 20) {
        read_arrived(&a);
        if (a.events >= events)
            break;
        json_decref(a.all);
        a.all = NULL;
        usleep(20000);
    }
    if (a.events != events)
        fprintf(stderr, "expected %zu events, got %zu\n", events, a.events);
    assert_int_equal(a.events, events);
    for (int i = from; i < to; i++) {
        if (a.count[i] != 1)
            fprintf(stderr, "seq=%d arrived %d times\n", i, a.count[i]);
        assert_int_equal(a.count[i], 1);
    }
    for (size_t i = 0; i < a.events; i++) {
        json_t *ev = json_array_get(a.all, i);
        if (event_has_tag(ev, "lme_parse_failure"))
            fail_msg("not parsed: %s", event_str(ev, "event.original"));
        assert_string_equal(event_str(ev, "process.name"), "LME-NOTES-MEXNTS");
        assert_string_equal(event_str(ev, "log.origin.file.name"), "ntshcs");
        assert_null(strstr(event_str(ev, "message"), ">>"));
    }
    json_decref(a.all);
}

/* The log.offset of the event carrying seq. */
static long long offset_of(int seq)
{
    struct arrived a;
    read_arrived(&a);
    char want[32];
    snprintf(want, sizeof(want), "seq=%d ", seq);
    long long offset = -1;
    for (size_t i = 0; i < a.events; i++) {
        json_t *ev = json_array_get(a.all, i);
        if (strstr(event_str(ev, "event.original"), want))
            offset = json_integer_value(event_get(ev, "log.offset"));
    }
    json_decref(a.all);
    return offset;
}

/* A UTF-8 record to another file, waited for: when it arrived, the daemon has since read every
 * file it follows (each turn reads them all, and a record goes out only a turn after its file
 * went silent). `events` counts what arrived before it. */
static void barrier(int n, size_t events)
{
    append_bytes(in_logs("barrier.log"), single(BARRIER_SEQ + n), strlen(single(BARRIER_SEQ + n)));
    expect_parsed(events + 1, BARRIER_SEQ + n, BARRIER_SEQ + n + 1);
}

static void created_empty_then_written(bool polling)
{
    write_config(NULL, polling ? ",\"inotify\":false" : NULL);
    struct proc d;
    start(&d);
    barrier(0, 0);
    append_bytes(in_logs("a.log"), "", 0); /* two new empty files */
    append_bytes(in_logs("b.log"), "", 0);
    assert_true(file_wait_for(err_log, in_logs("a.log"), 5000));
    assert_true(file_wait_for(err_log, in_logs("b.log"), 5000));
    barrier(1, 1);

    /* a.log in one write; b.log's BOM cut in two, the daemon reading in between */
    char buf[4096];
    size_t n = utf16_of(single(0), true, buf, sizeof(buf));
    n += utf16_of(wrapped(1), false, buf + n, sizeof(buf) - n);
    n += utf16_of(single(2), false, buf + n, sizeof(buf) - n);
    append_bytes(in_logs("a.log"), buf, n);
    append_bytes(in_logs("b.log"), "\xFF", 1);
    barrier(2, 2 + 3);
    append_bytes(in_logs("b.log"), "\xFE", 1);
    barrier(3, 2 + 3 + 1);
    append_three(in_logs("b.log"), 10, false);
    expect_parsed(2 + 3 + 2 + 3, 0, 3);
    expect_parsed(2 + 3 + 2 + 3, 10, 13);
    assert_int_equal(offset_of(0), 2);  /* the BOM is no text */
    assert_int_equal(offset_of(10), 2);
    stop(&d);
}

static void test_created_empty_then_written_inotify(void **state)
{
    (void)state;
    created_empty_then_written(false);
}

static void test_created_empty_then_written_polling(void **state)
{
    (void)state;
    created_empty_then_written(true);
}

/* A file that appears whole (written elsewhere, renamed into the glob), while the daemon runs. */
static void created_and_written_at_once(bool polling)
{
    write_config(NULL, polling ? ",\"inotify\":false" : NULL);
    struct proc d;
    start(&d);
    barrier(0, 0);
    char part[2 * PATH_MAX];
    snprintf(part, sizeof(part), "%s/c.part", logs);
    append_three(part, 0, true);
    assert_int_equal(rename(part, in_logs("c.log")), 0);
    expect_parsed(1 + 3, 0, 3);
    assert_int_equal(offset_of(0), 2);
    append_three(in_logs("c.log"), 3, false); /* and it grows */
    expect_parsed(1 + 6, 0, 6);
    stop(&d);
}

static void test_created_and_written_at_once_inotify(void **state)
{
    (void)state;
    created_and_written_at_once(false);
}

static void test_created_and_written_at_once_polling(void **state)
{
    (void)state;
    created_and_written_at_once(true);
}

/* With encoding utf-16le the BOM of a file created empty is dropped too, and a file without
 * one is read as well. */
static void test_utf16le_setting_drops_the_bom(void **state)
{
    (void)state;
    write_config(",\"encoding\":\"utf-16le\"", NULL);
    struct proc d;
    start(&d);
    append_bytes(in_logs("a.log"), "", 0);
    assert_true(file_wait_for(err_log, in_logs("a.log"), 5000));
    append_three(in_logs("a.log"), 0, true);
    append_three(in_logs("b.log"), 3, false);
    expect_parsed(6, 0, 6);
    assert_int_equal(offset_of(0), 2);
    assert_int_equal(offset_of(3), 0);
    stop(&d);
}

/* The last record of a UTF-16LE file without a final line end is checkpointed at the file's
 * end, as in UTF-8: three runs send it once. */
static void test_run_once_three_times_sends_the_last_record_once(void **state)
{
    (void)state;
    write_config(NULL, NULL);
    append_three(in_logs("a.log"), 0, true);
    char last[256];
    snprintf(last, sizeof(last), "%s", single(3));
    last[strlen(last) - 2] = '\0'; /* no CRLF */
    append_utf16(in_logs("a.log"), last, false);
    for (int i = 0; i < 3; i++) {
        struct run_result res;
        assert_int_equal(run_cmd((char *const[]){ (char *)binary, "run", "--config", cfg_path,
                                                  "--once", NULL }, NULL, 0, &res), 0);
        if (res.status != 0)
            fprintf(stderr, "%s", res.err);
        assert_int_equal(res.status, 0);
        run_result_free(&res);
    }
    expect_parsed(4, 0, 4);
}

/* start_at end finds where to start by the byte 0A, which in UTF-16LE is the first byte of the
 * LF's code unit: reading must still start on a code unit. */
static void test_start_at_end_reads_utf16_from_a_code_unit(void **state)
{
    (void)state;
    write_config(",\"start_at\":\"end\"", NULL);
    append_three(in_logs("a.log"), 0, true);
    append_three(in_logs("a.log"), 3, false);
    struct proc d;
    start(&d);
    assert_true(file_wait_for(err_log, "following file", 5000));
    append_three(in_logs("a.log"), 6, false);
    expect_parsed(3, 6, 9);
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
        cmocka_unit_test_setup_teardown(test_created_empty_then_written_inotify, setup, teardown),
        cmocka_unit_test_setup_teardown(test_created_empty_then_written_polling, setup, teardown),
        cmocka_unit_test_setup_teardown(test_created_and_written_at_once_inotify, setup, teardown),
        cmocka_unit_test_setup_teardown(test_created_and_written_at_once_polling, setup, teardown),
        cmocka_unit_test_setup_teardown(test_utf16le_setting_drops_the_bom, setup, teardown),
        cmocka_unit_test_setup_teardown(test_run_once_three_times_sends_the_last_record_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_start_at_end_reads_utf16_from_a_code_unit, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
