/* Input torture: `lme-ingest run` (with --once unless a test follows files) on real files built
 * to hurt: a 100 MB line (cut, tagged, in bounded memory), NUL bytes and bytes that are not UTF-8,
 * a directory and a FIFO where the glob expects files, a file the daemon may not read, symlink
 * loops, and lines crafted to make the header patterns backtrack. The daemon must finish in
 * bounded time, pass every record on (flagged when it could not be read), and say once what it
 * could not open. Events go to a file sink.
 * Usage: test_torture LME_INGEST FIXTURES_DIR */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <pwd.h>
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
#include "spawn.h"

#define MB (1024L * 1024L)
#define HEADER "1998/03/17 22:22:50 - LME-NOTES-MEXNTS(018b) 1 41220:Error: "
#define RUN_TIMEOUT_MS 60000

static const char *binary;
static char *tmp; /* per test */
static struct proc daemon_proc = { .pid = 0, .in_fd = -1, .out_fd = -1 }; /* a daemon a test follows with */
static json_t *held; /* what read_events returned, freed at teardown whatever a test's checks did */
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
    held = json_array();
    return mkdir(logs, 0755);
}

static int teardown(void **state)
{
    (void)state;
    /* a failed check leaves its daemon running: a daemon run as nobody no longer dies with us */
    proc_stop(&daemon_proc);
    json_decref(held);
    held = NULL;
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

/* A config following every .log file of logs (and extra_paths: JSON strings after a comma) with short timings;
 * top_extra holds JSON members added at the top level. */
static void write_config(const char *top_extra, const char *extra_paths)
{
    char text[8192];
    int n = snprintf(text, sizeof(text),
                     "{\"host_name\":\"h\",\"state_dir\":\"%s/state\",\"poll_interval_ms\":20,"
                     "\"scan_interval_ms\":50,\"checkpoint_interval_ms\":100%s,"
                     "\"inputs\":[{\"type\":\"file\",\"paths\":[\"%s/*.log\"%s],"
                     "\"timezone\":\"UTC\",\"multiline_flush_ms\":100}],"
                     "\"sinks\":[{\"type\":\"file\",\"path\":\"%s\"}]}",
                     tmp, top_extra ? top_extra : "", logs, extra_paths ? extra_paths : "", out);
    assert_int_equal(write_file(cfg_path, text, (size_t)n), 0);
}

/* Writes bytes to logs/name (created or replaced). */
static void write_log(const char *name, const char *data, size_t len)
{
    assert_int_equal(write_file(in_logs(name), data, len), 0);
}

/* One record: the header, "seq=N ", then text[0, len), then CRLF. */
static size_t record(char *buf, size_t size, int seq, const char *text, size_t len)
{
    int n = snprintf(buf, size, HEADER "seq=%d ", seq);
    assert_true(n > 0 && (size_t)n + len + 2 <= size);
    memcpy(buf + n, text, len);
    memcpy(buf + n + len, "\r\n", 2);
    return (size_t)n + len + 2;
}

static void append_log(const char *name, const char *text)
{
    int fd = open(in_logs(name), O_WRONLY | O_CREAT | O_APPEND, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

/* Runs `run --once` (env: extra "NAME=VALUE" strings or NULL); returns what it cost. */
static struct spawn_result run_once_with(const char *const *env)
{
    struct spawn_opts o = {
        .argv = (char *const[]){ (char *)binary, "run", "--config", cfg_path, "--once", NULL },
        .env = env,
        .err_path = err_log,
        .timeout_ms = RUN_TIMEOUT_MS,
    };
    struct spawn_result r;
    assert_int_equal(spawn_run(&o, &r), 0);
    if (r.status != 0) {
        char *err = read_file(err_log, NULL);
        fprintf(stderr, "run --once exited %d after %ld ms:\n%s\n", r.status, r.wall_ms,
                err ? err : "");
        free(err);
    }
    return r;
}

static struct spawn_result run_once(void)
{
    return run_once_with(NULL);
}

static json_t *parse_out(void)
{
    size_t len = 0;
    char *text = read_file(out, &len);
    json_t *events = text ? events_parse_records(text, len) : json_array();
    free(text);
    assert_non_null(events);
    return events;
}

/* Every event the sink wrote (borrowed until the test ends); fails unless each line is a JSON
 * object. */
static json_t *read_events(void)
{
    json_t *events = parse_out();
    json_array_append_new(held, events);
    return events;
}

/* The event whose event.original holds "seq=N " (NULL when none, fails when several). */
static json_t *event_of(json_t *events, int seq)
{
    char want[32];
    snprintf(want, sizeof(want), "seq=%d ", seq);
    json_t *found = NULL;
    size_t i;
    json_t *ev;
    json_array_foreach(events, i, ev) {
        json_t *orig = event_get(ev, "event.original");
        const char *s = json_string_value(orig);
        /* original may hold NUL bytes: look at its whole length */
        if (s && memmem(s, json_string_length(orig), want, strlen(want))) {
            assert_null(found);
            found = ev;
        }
    }
    return found;
}

/* How many times the daemon's log holds both a and b on one line. */
static int log_lines_with(const char *a, const char *b)
{
    char *text = read_file(err_log, NULL);
    int n = 0;
    for (char *line = text ? strtok(text, "\n") : NULL; line; line = strtok(NULL, "\n"))
        n += strstr(line, a) && strstr(line, b);
    free(text);
    return n;
}

/* Waits up to 15 s until the daemon (at log_level debug) scanned its inputs n more times. */
static void wait_scans(int n)
{
    int target = log_lines_with("inputs scanned", "") + n;
    for (int waited = 0; waited < 15000 && log_lines_with("inputs scanned", "") < target;
         waited += 20)
        usleep(20000);
    assert_true(log_lines_with("inputs scanned", "") >= target);
}

/* Waits up to 15 s until the sink wrote at least n events; returns how many it wrote. */
static size_t wait_events(size_t n)
{
    size_t got = 0;
    for (int waited = 0; waited < 15000; waited += 20) {
        json_t *events = parse_out();
        got = json_array_size(events);
        json_decref(events);
        if (got >= n)
            break;
        usleep(20000);
    }
    return got;
}

static void start(struct proc *d, char *const argv[])
{
    assert_int_equal(proc_start(argv, err_log, d), 0);
}

static void stop(struct proc *d)
{
    kill(d->pid, SIGTERM);
    assert_int_equal(proc_wait(d, 15000), 0);
    proc_stop(d);
}

/* ---- a 100 MB line ---- */

/* Appends len bytes of c at the file's end. */
static void fill(int fd, char c, size_t len)
{
    char *block = malloc(MB);
    assert_non_null(block);
    memset(block, c, MB);
    for (size_t done = 0; done < len;) {
        size_t n = len - done < (size_t)MB ? len - done : (size_t)MB;
        assert_int_equal(write(fd, block, n), (ssize_t)n);
        done += n;
    }
    free(block);
}

static void test_hundred_megabyte_lines_are_cut_in_bounded_memory(void **state)
{
    (void)state;
    /* Two lines of 100 MB, mostly holes (read as NUL bytes): written in no time. The first ends
     * with CRLF and a normal record follows it; the second is the file's last line, unended. */
    int fd = open(in_logs("huge.log"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, HEADER "seq=1 ", strlen(HEADER "seq=1 ")), (ssize_t)strlen(HEADER "seq=1 "));
    fill(fd, 'x', MB);
    assert_true(lseek(fd, 98 * MB, SEEK_CUR) > 0);
    fill(fd, 'y', MB);
    assert_int_equal(write(fd, "\r\n", 2), 2);
    off_t first_len = lseek(fd, 0, SEEK_CUR);
    char rec[256];
    size_t n = record(rec, sizeof(rec), 2, "after the first", strlen("after the first"));
    assert_int_equal(write(fd, rec, n), (ssize_t)n);
    off_t third_at = lseek(fd, 0, SEEK_CUR);
    assert_int_equal(write(fd, HEADER "seq=3 ", strlen(HEADER "seq=3 ")), (ssize_t)strlen(HEADER "seq=3 "));
    fill(fd, 'w', MB);
    off_t end = lseek(fd, 0, SEEK_CUR) + 99 * MB;
    assert_int_equal(ftruncate(fd, end), 0);
    close(fd);

    write_config(NULL, NULL);
    struct spawn_result r = run_once();
    fprintf(stderr, "200 MB in two lines: %ld ms, peak RSS %ld kB\n", r.wall_ms, r.max_rss_kb);
    assert_int_equal(r.status, 0);
    assert_true(r.max_rss_kb < 64 * 1024); /* the default limit keeps 64 KiB of each */

    json_t *events = read_events();
    assert_int_equal(json_array_size(events), 3);
    json_t *first = event_of(events, 1), *second = event_of(events, 2), *third = event_of(events, 3);
    assert_non_null(first);
    assert_non_null(second);
    assert_non_null(third);
    assert_true(event_has_tag(first, "lme_truncated"));
    assert_true(event_has_tag(third, "lme_truncated"));
    assert_false(event_has_tag(second, "lme_truncated"));
    /* what was kept and what was dropped make up each record */
    size_t kept1 = json_string_length(event_get(first, "event.original"));
    size_t kept3 = json_string_length(event_get(third, "event.original"));
    assert_int_equal(kept1, 65536);
    assert_int_equal(kept3, 65536);
    assert_int_equal(json_integer_value(event_get(first, "lme.truncated_bytes")) + (json_int_t)kept1,
                     first_len);
    assert_int_equal(json_integer_value(event_get(third, "lme.truncated_bytes")) + (json_int_t)kept3,
                     end - third_at);
    assert_int_equal(json_integer_value(event_get(second, "log.offset")), first_len);
    assert_int_equal(json_integer_value(event_get(third, "log.offset")), third_at);
}

/* ---- bytes ---- */

struct odd_record {
    const char *text; /* after "seq=N " */
    size_t len;
    bool non_utf8;    /* expect lme_non_utf8 */
    const char *shown; /* expected event.original after the header, as UTF-8; NULL: the bytes */
};

#define ODD(s, bad, shown) { s, sizeof(s) - 1, bad, shown }

static void test_nul_bytes_and_invalid_utf8_arrive_tagged(void **state)
{
    (void)state;
    static const struct odd_record odd[] = {
        ODD("nul\0in\0the\0middle", false, NULL),
        ODD("valid: \xc3\xa9 \xe2\x82\xac \xf0\x9d\x84\x9e \xe6\x97\xa5\xe6\x9c\xac", false, NULL),
        ODD("latin-1: caf\xe9", true, "latin-1: caf\xc3\xa9"),
        ODD("cp1252: \x80 \x9d", true, "cp1252: \xe2\x82\xac \xc2\x9d"),
        ODD("overlong: \xc0\xaf", true, "overlong: \xc3\x80\xc2\xaf"),
        ODD("surrogate: \xed\xa0\x80", true, "surrogate: \xc3\xad\xc2\xa0\xe2\x82\xac"),
        ODD("five bytes: \xf8\x88\x80\x80\x80", true, NULL),
        ODD("ff fe: \xff\xfe", true, "ff fe: \xc3\xbf\xc3\xbe"),
        ODD("lone continuation: \xbf", true, "lone continuation: \xc2\xbf"),
        ODD("cut sequence at the end: \xe2\x82", true, NULL),
        ODD("nul and latin-1: \0\xe9\0", true, NULL),
        ODD("controls: \x01\x1b\x7f\t\b\f end", false, NULL),
    };
    size_t n_odd = sizeof(odd) / sizeof(odd[0]);
    static char text[16384];
    size_t len = 0;
    for (size_t i = 0; i < n_odd; i++)
        len += record(text + len, sizeof(text) - len, (int)i, odd[i].text, odd[i].len);
    /* a wrapped record whose continuation line holds a bad byte */
    static const char wrapped[] = HEADER "seq=100 wrapped\r\nsecond line caf\xe9\r\n";
    memcpy(text + len, wrapped, sizeof(wrapped) - 1);
    len += sizeof(wrapped) - 1;
    write_log("odd.log", text, len);
    /* a block of NUL bytes where a crash left a file's end unwritten, then records again */
    static char zeros[8192];
    size_t zn = 4096 + 2;
    memcpy(zeros + 4096, "\r\n", 2);
    zn += record(zeros + zn, sizeof(zeros) - zn, 101, "after the zeros", strlen("after the zeros"));
    write_log("zeros.log", zeros, zn);

    write_config(NULL, NULL);
    assert_int_equal(run_once().status, 0);
    json_t *events = read_events(); /* every line a JSON object */
    assert_int_equal(json_array_size(events), n_odd + 3);
    for (size_t i = 0; i < n_odd; i++) {
        json_t *ev = event_of(events, (int)i);
        if (!ev)
            fail_msg("record %zu (%s) did not arrive", i, odd[i].text);
        if (event_has_tag(ev, "lme_non_utf8") != odd[i].non_utf8)
            fail_msg("record %zu (%s): lme_non_utf8 expected %d", i, odd[i].text, odd[i].non_utf8);
        assert_false(event_has_tag(ev, "lme_parse_failure"));
        json_t *orig = event_get(ev, "event.original");
        const char *s = json_string_value(orig);
        char prefix[128];
        size_t plen = (size_t)snprintf(prefix, sizeof(prefix), HEADER "seq=%zu ", i);
        const char *want = odd[i].shown ? odd[i].shown : odd[i].text;
        size_t want_len = odd[i].shown ? strlen(odd[i].shown) : odd[i].len;
        if (odd[i].non_utf8 && !odd[i].shown)
            continue; /* checked: tagged, arrived */
        assert_int_equal(json_string_length(orig), plen + want_len);
        assert_memory_equal(s, prefix, plen);
        assert_memory_equal(s + plen, want, want_len);
    }
    assert_true(event_has_tag(event_of(events, 100), "lme_non_utf8"));
    json_t *after = event_of(events, 101);
    assert_non_null(after);
    assert_false(event_has_tag(after, "lme_parse_failure"));
    /* the NUL block: a record of its own, its text kept, flagged */
    size_t i;
    json_t *ev;
    bool zero_block = false;
    json_array_foreach(events, i, ev) {
        json_t *orig = event_get(ev, "event.original");
        if (json_string_length(orig) == 4096 && json_string_value(orig)[0] == '\0') {
            zero_block = true;
            assert_true(event_has_tag(ev, "lme_parse_failure"));
        }
    }
    assert_true(zero_block);
}

/* A valid UTF-8 record longer than the limit, cut where a character's bytes straddle it: what is
 * kept must end on a whole character, and the record was UTF-8, so no lme_non_utf8. */
static void test_utf8_record_cut_at_the_limit_keeps_whole_characters(void **state)
{
    (void)state;
    static char text[1024];
    size_t len = 0;
    /* the header and "seq=0 x" take 67 bytes; then two-byte characters: byte 100 falls inside one */
    char chars[400];
    for (size_t i = 0; i < 200; i += 2)
        memcpy(chars + i, "\xc3\xa9", 2);
    len += record(text + len, sizeof(text) - len, 0, "x\xc3\xa9", 3);
    len -= 2; /* no CRLF yet: the same record goes on */
    memcpy(text + len, chars, 200);
    len += 200;
    memcpy(text + len, "\r\n", 2);
    len += 2;
    write_log("utf8.log", text, len);
    write_config(",\"max_record_bytes\":100", NULL);
    assert_int_equal(run_once().status, 0);
    json_t *events = read_events();
    assert_int_equal(json_array_size(events), 1);
    json_t *ev = json_array_get(events, 0);
    assert_true(event_has_tag(ev, "lme_truncated"));
    const char *orig = event_str(ev, "event.original");
    size_t olen = json_string_length(event_get(ev, "event.original"));
    fprintf(stderr, "kept %zu bytes, ending \"%s\"; tags: %s\n", olen, orig + olen - 6,
            event_has_tag(ev, "lme_non_utf8") ? "lme_truncated lme_non_utf8" : "lme_truncated");
    assert_true(olen >= 2 && memcmp(orig + olen - 2, "\xc3\xa9", 2) == 0);
    assert_false(event_has_tag(ev, "lme_non_utf8"));
}

/* ---- what is not a regular file ---- */

static void test_directory_and_fifo_matching_the_glob_are_reported_once(void **state)
{
    (void)state;
    char rec[256];
    size_t n = record(rec, sizeof(rec), 1, "regular", 7);
    write_log("a.log", rec, n);
    assert_int_equal(mkdir(in_logs("d.log"), 0755), 0);
    assert_int_equal(mkfifo(in_logs("f.log"), 0644), 0);
    write_config(NULL, NULL);
    struct spawn_result r = run_once();
    assert_int_equal(r.status, 0);
    assert_true(r.wall_ms < 10000);
    json_t *events = read_events();
    assert_int_equal(json_array_size(events), 1);
    assert_non_null(event_of(events, 1));
    assert_int_equal(log_lines_with("cannot read input", "f.log"), 1);
    assert_int_equal(log_lines_with("f.log", "not a regular file"), 1);
}

static void test_followed_files_replaced_by_a_directory_and_a_fifo(void **state)
{
    (void)state;
    append_log("a.log", HEADER "seq=1 a\r\n");
    append_log("b.log", HEADER "seq=2 b\r\n");
    append_log("c.log", HEADER "seq=3 c\r\n");
    write_config(",\"log_level\":\"debug\"", NULL);
    start(&daemon_proc, (char *const[]){ (char *)binary, "run", "--config", cfg_path, NULL });
    assert_int_equal(wait_events(3), 3);

    assert_int_equal(unlink(in_logs("a.log")), 0);
    assert_int_equal(mkdir(in_logs("a.log"), 0755), 0);
    assert_int_equal(unlink(in_logs("c.log")), 0);
    assert_int_equal(mkfifo(in_logs("c.log"), 0644), 0);
    assert_true(file_wait_for(err_log, "not a regular file", 5000));
    /* the daemon goes on: b.log's growth arrives */
    append_log("b.log", HEADER "seq=4 b\r\n");
    assert_int_equal(wait_events(4), 4);
    wait_scans(10); /* ten more scans: the FIFO is still reported only once */
    append_log("b.log", HEADER "seq=5 b\r\n");
    assert_int_equal(wait_events(5), 5);
    assert_int_equal(log_lines_with("cannot read input", "c.log"), 1);
    stop(&daemon_proc);
}

/* ---- a file the daemon may not read ---- */

static void test_unreadable_file_is_reported_once_and_read_once_allowed(void **state)
{
    (void)state;
    const char *setpriv = "/usr/bin/setpriv";
    struct passwd *nobody = getpwnam("nobody");
    if (geteuid() == 0 && (access(setpriv, X_OK) != 0 || !nobody)) {
        fprintf(stderr, "skipped: running as root without setpriv or user nobody, a chmod 000 "
                        "file stays readable\n");
        skip();
    }
    append_log("a.log", HEADER "seq=1 readable\r\n");
    append_log("secret.log", HEADER "seq=2 secret\r\n");
    assert_int_equal(chmod(in_logs("secret.log"), 0), 0);
    write_config(",\"log_level\":\"debug\"", NULL);
    char state_dir[PATH_MAX + 16];
    snprintf(state_dir, sizeof(state_dir), "%s/state", tmp);
    assert_int_equal(mkdir(state_dir, 0750), 0);

    if (geteuid() == 0) {
        /* as nobody: everything it needs is readable or its own */
        char reuid[32], regid[32];
        snprintf(reuid, sizeof(reuid), "--reuid=%u", (unsigned)nobody->pw_uid);
        snprintf(regid, sizeof(regid), "--regid=%u", (unsigned)nobody->pw_gid);
        assert_int_equal(chmod(tmp, 0755), 0);
        assert_int_equal(chown(state_dir, nobody->pw_uid, nobody->pw_gid), 0);
        assert_int_equal(write_file(out, "", 0), 0);
        assert_int_equal(chown(out, nobody->pw_uid, nobody->pw_gid), 0);
        start(&daemon_proc, (char *const[]){ (char *)setpriv, reuid, regid, "--clear-groups", (char *)binary,
                                   "run", "--config", cfg_path, NULL });
    } else {
        start(&daemon_proc, (char *const[]){ (char *)binary, "run", "--config", cfg_path, NULL });
    }
    assert_int_equal(wait_events(1), 1);
    assert_true(file_wait_for(err_log, "Permission denied", 5000));
    wait_scans(10); /* ten more scans: still reported once */
    assert_int_equal(log_lines_with("cannot read input", "secret.log"), 1);
    assert_int_equal(log_lines_with("secret.log", "Permission denied"), 1);

    /* allowed now: read at the next scan */
    assert_int_equal(chmod(in_logs("secret.log"), 0644), 0);
    assert_int_equal(wait_events(2), 2);
    json_t *events = read_events();
    assert_non_null(event_of(events, 2));
    stop(&daemon_proc);
}

/* ---- symlink loops ---- */

static void test_symlink_loops_in_the_glob_directory(void **state)
{
    (void)state;
    append_log("c.log", HEADER "seq=1 c\r\n" HEADER "seq=2 c\r\n");
    assert_int_equal(symlink("b.log", in_logs("a.log")), 0); /* a -> b -> a */
    assert_int_equal(symlink("a.log", in_logs("b.log")), 0);
    assert_int_equal(symlink("self.log", in_logs("self.log")), 0);
    assert_int_equal(symlink(".", in_logs("dir.log")), 0);        /* the directory itself */
    assert_int_equal(symlink("nowhere", in_logs("dangling.log")), 0);
    assert_int_equal(symlink("c.log", in_logs("link.log")), 0);   /* c.log again: read once */
    assert_int_equal(symlink(".", in_logs("loop")), 0);           /* logs/loop/c.log is c.log */
    char extra[PATH_MAX + 32];
    snprintf(extra, sizeof(extra), ",\"%s/*/*.log\"", logs);
    write_config(",\"log_level\":\"debug\"", extra);

    struct spawn_result r = run_once();
    assert_int_equal(r.status, 0);
    assert_true(r.wall_ms < 10000);
    json_t *events = read_events();
    assert_int_equal(json_array_size(events), 2);

    /* following: scan after scan over the loops, growth still arrives */
    unlink(out);
    char state_dir[PATH_MAX + 16];
    snprintf(state_dir, sizeof(state_dir), "%s/state", tmp);
    remove_tree(state_dir);
    start(&daemon_proc, (char *const[]){ (char *)binary, "run", "--config", cfg_path, NULL });
    assert_int_equal(wait_events(2), 2);
    wait_scans(6); /* scan after scan over the loops */
    append_log("c.log", HEADER "seq=3 c\r\n");
    assert_int_equal(wait_events(3), 3);
    stop(&daemon_proc);
    events = read_events();
    assert_int_equal(json_array_size(events), 3);
}

/* A line before the first header whose first 64 KiB (the limit) are blanks and whose text comes
 * after: the daemon cannot keep that text, but the record must still be passed on, flagged, like
 * any record cut at the limit, not skipped as a blank line. */
static void test_blank_run_longer_than_the_limit_then_text_is_not_dropped(void **state)
{
    (void)state;
    size_t blanks = 70000;
    char *text = malloc(blanks + 512);
    memset(text, ' ', blanks);
    size_t len = blanks;
    memcpy(text + len, "text after the limit\r\n", 22);
    len += 22;
    len += record(text + len, 512, 1, "after", 5);
    write_log("blank.log", text, len);
    free(text);
    write_config(NULL, NULL);
    assert_int_equal(run_once().status, 0);
    json_t *events = read_events();
    fprintf(stderr, "%zu event(s): the blank run %s\n", json_array_size(events),
            json_array_size(events) == 2 ? "arrived" : "was dropped");
    assert_non_null(event_of(events, 1));
    assert_int_equal(json_array_size(events), 2);
    json_t *first = json_array_get(events, 0);
    assert_int_equal(json_integer_value(event_get(first, "log.offset")), 0);
    assert_true(event_has_tag(first, "lme_truncated"));
    assert_true(event_has_tag(first, "lme_parse_failure"));
}

/* ---- lines made to make the header patterns backtrack ---- */

struct crafted {
    const char *name;
    const char *unit; /* repeated to about 1 MB */
    const char *head; /* once before the repetitions ("" for none) */
};

static void test_backtracking_lines_finish_promptly_and_arrive_flagged(void **state)
{
    (void)state;
    static const struct crafted crafted[] = {
        { "dated", "1998/03/17 22:22:50 - ", "" },
        { "parens", "(", "" },
        { "digits", "1", "" },
        { "long code", "4", "1998/03/17 22:22:50 - LME-NOTES-MEXNTS(018b) 1 " },
        { "components", "LME-NOTES-MEXNTS(", "" },
        { "thread", "0", "A(" },
        { "blanks", " \t\xa0", "" },
        { "controller", "12345 ", "" },
        { "placeholders", "<date> <time> - ", "" },
        { "dashes", "-", "1998/03/17 22:22:50 " },
        { "header prefixes", "1998/03/17 22:22:50 - LME(1) 1 1234", "" },
        { "zeros", "0", "0000/00/00 00:00:00 - A(0) 1 00000" },
    };
    size_t n = sizeof(crafted) / sizeof(crafted[0]);
    char **lines = calloc(n, sizeof(*lines));
    size_t *lens = calloc(n, sizeof(*lens));
    for (size_t i = 0; i < n; i++) {
        size_t unit = strlen(crafted[i].unit), head = strlen(crafted[i].head);
        size_t reps = (size_t)MB / unit;
        lines[i] = malloc(head + reps * unit + 512);
        memcpy(lines[i], crafted[i].head, head);
        for (size_t k = 0; k < reps; k++)
            memcpy(lines[i] + head + k * unit, crafted[i].unit, unit);
        lens[i] = head + reps * unit;
        /* the crafted line, then a record the parser must still read */
        size_t len = lens[i];
        memcpy(lines[i] + len, "x\r\n", 3); /* ends on text: kept whole, nothing trimmed */
        lens[i] += 1;
        len += 3;
        len += record(lines[i] + len, 512, (int)i, "after", 5);
        char name[32];
        snprintf(name, sizeof(name), "p%02zu.log", i);
        write_log(name, lines[i], len);
    }
    /* and 40,000 short near-headers, each a record of its own */
    size_t many_len = 0;
    char *many = malloc(40000 * 64);
    for (int i = 0; i < 40000; i++)
        many_len += (size_t)sprintf(many + many_len, "1998/03/17 22:22:50 - LME-NOTES(%04x) 1 4122:\r\n", i);
    write_log("q.log", many, many_len);

    /* the largest limit, so that the patterns see each 1 MB line whole */
    write_config(",\"max_record_bytes\":67108864", NULL);
    struct spawn_result r = run_once();
    fprintf(stderr, "%zu crafted lines of 1 MB and 40,000 near-headers: %ld ms\n", n, r.wall_ms);
    assert_int_equal(r.status, 0);
    assert_true(r.wall_ms < 10000);
    json_t *events = read_events();
    size_t flagged = 0, whole = 0;
    size_t i;
    json_t *ev;
    json_array_foreach(events, i, ev) {
        const char *path = event_str(ev, "log.file.path");
        if (strstr(path, "/q.log")) {
            flagged += event_has_tag(ev, "lme_parse_failure");
            continue;
        }
        if (json_integer_value(event_get(ev, "log.offset")) != 0)
            continue; /* the record after: checked below */
        size_t k = (size_t)atoi(strrchr(path, '/') + 2);
        if (!event_has_tag(ev, "lme_parse_failure"))
            fail_msg("%s: the crafted line was not flagged lme_parse_failure", crafted[k].name);
        json_t *orig = event_get(ev, "event.original");
        if (!event_has_tag(ev, "lme_non_utf8")) { /* else its bytes are shown as characters */
            assert_int_equal(json_string_length(orig), lens[k]);
            assert_memory_equal(json_string_value(orig), lines[k], lens[k]);
        }
        whole++;
    }
    assert_int_equal(whole, n);
    assert_int_equal(flagged, 40000);
    for (size_t k = 0; k < n; k++) {
        json_t *after = event_of(events, (int)k);
        if (!after || event_has_tag(after, "lme_parse_failure"))
            fail_msg("%s: the record after the crafted line was not read", crafted[k].name);
    }
    assert_int_equal(json_array_size(events), 2 * n + 40000);
    for (size_t k = 0; k < n; k++)
        free(lines[k]);
    free(lines);
    free(lens);
    free(many);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s LME_INGEST FIXTURES_DIR\n", argv[0]);
        return 2;
    }
    binary = argv[1];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_hundred_megabyte_lines_are_cut_in_bounded_memory, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_nul_bytes_and_invalid_utf8_arrive_tagged, setup, teardown),
        cmocka_unit_test_setup_teardown(test_utf8_record_cut_at_the_limit_keeps_whole_characters,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_directory_and_fifo_matching_the_glob_are_reported_once,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_followed_files_replaced_by_a_directory_and_a_fifo, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_unreadable_file_is_reported_once_and_read_once_allowed,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_symlink_loops_in_the_glob_directory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backtracking_lines_finish_promptly_and_arrive_flagged,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_blank_run_longer_than_the_limit_then_text_is_not_dropped,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
