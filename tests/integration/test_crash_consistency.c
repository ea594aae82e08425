/* Crash consistency of every file `lme-ingest run` writes: state_dir/checkpoints.json (a
 * temporary file written, fsync'ed, renamed over it, then the directory fsync'ed),
 * state_dir/dead-letter.jsonl (one write, then fdatasync, per event set aside) and a file sink's
 * output (appended). The daemon runs `run --once` on the fixture logs with lme_crashpoint
 * preloaded (tests/support/crashpoint.c): a first run lists every call touching the file's
 * directory; then, for each of those calls, a fresh run is cut there with _exit(137): before the
 * call, after it, and, for writes, in its middle (half the bytes written: what a kill -9 landing
 * in a multi-page write leaves, since Linux checks for fatal signals between pages).
 *
 * After each cut we check what a restart reads: checkpoints.json absent, or exactly the earlier
 * version, or the new one naming every file at its end, never anything else; every line of the
 * JSON-lines files whole, a torn last line aside. Then the restart: `run --once` again, without
 * the library, must start without "checkpoints ignored", exit 0, deliver exactly the records the
 * surviving checkpoint does not cover, and leave no line but the torn one unreadable; the runs
 * together deliver every one of the 134 fixture records (records are told apart by file name and
 * offset; event.id would do as well, but depends on the copy's inode).
 *
 * What this cannot show: a power loss. A process that dies leaves what it wrote in the page
 * cache, and the kernel still writes it out. Losing writes that were not fsync'ed yet (the reason
 * for the fsyncs and for the directory's) needs a device that drops unsynced writes (dm-log-writes,
 * dm-flakey, a virtual machine cut off), which this suite cannot have. So these tests show that no
 * cut of the process between the steps leaves a broken state; that each fsync makes its step
 * durable is taken as given.
 * Usage: test_crash_consistency LME_INGEST FIXTURES_DIR CRASHPOINT_SO MOCK_BROKER KCAT */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <glob.h>
#include <jansson.h>
#include <limits.h>
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

#define FIXTURE_RECORDS 134
#define MAX_FIXTURES 32
#define MAX_STEPS 64
#define RUN_TIMEOUT_MS 60000
#define TOPIC "lme.crash"

static const char *binary, *fixtures, *shim, *mock_tool, *kcat;
static char fixture_logs[MAX_FIXTURES][PATH_MAX];
static size_t n_fixture_logs;
static json_t *reference; /* "file@offset" -> event.original of every fixture record */
static char *tmp;         /* per test */
static int failures;      /* per test: checks that failed (each printed), so that one run reports all */

#define EXPECT(cond, ...)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "FAILED %s:%d: ", __FILE__, __LINE__);                                 \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fprintf(stderr, "\n");                                                                 \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

/* ---- files and runs ---- */

static const char *path_in(const char *dir, const char *name)
{
    static char path[8][2 * PATH_MAX];
    static int next;
    char *p = path[next++ % 8];
    snprintf(p, 2 * PATH_MAX, "%s/%s", dir, name);
    return p;
}

static void make_dir(const char *path)
{
    assert_int_equal(mkdir(path, 0755), 0);
}

/* Copies fixture logs [from, to) (in name order) into dir. */
static void copy_fixtures(const char *dir, size_t from, size_t to)
{
    for (size_t i = from; i < to && i < n_fixture_logs; i++) {
        size_t len;
        char *text = read_file(fixture_logs[i], &len);
        assert_non_null(text);
        const char *name = strrchr(fixture_logs[i], '/') + 1;
        assert_int_equal(write_file(path_in(dir, name), text, len), 0);
        free(text);
    }
}

/* A config reading every .log file of logs into sink (a JSON object). Checkpoints are saved only
 * at exit (an interval longer than any run): each save is the same code cut at the same steps,
 * and one save per run is what lets a cut be compared with "the earlier or the new version". */
static void write_config(const char *path, const char *host, const char *state, const char *logs,
                         const char *sink)
{
    char text[8192];
    int n = snprintf(text, sizeof(text),
                     "{\"host_name\":\"%s\",\"state_dir\":\"%s\",\"checkpoint_interval_ms\":3600000,"
                     "\"inputs\":[{\"type\":\"file\","
                     "\"paths\":[\"%s/*.log\"],\"timezone\":\"UTC\"}],\"sinks\":[%s]}",
                     host, state, logs, sink);
    assert_int_equal(write_file(path, text, (size_t)n), 0);
}

static void file_sink_config(const char *path, const char *state, const char *logs, const char *out)
{
    char sink[2 * PATH_MAX + 64];
    snprintf(sink, sizeof(sink), "{\"type\":\"file\",\"path\":\"%s\"}", out);
    write_config(path, "h", state, logs, sink);
}

/* Where a run is cut: the n-th call of kind touching dir, `when` (see crashpoint.c). */
struct cut {
    const char *dir;
    const char *kind; /* NULL: not cut (with trace set: only list the steps) */
    long n;
    const char *when;
    const char *trace;
};

/* Runs `run --config cfg --once`, its standard error to err_path; returns its status. */
static int run_once(const char *cfg, const struct cut *cut, const char *err_path)
{
    char preload[PATH_MAX + 16], dir[PATH_MAX + 16], at[64], when[64], trace[PATH_MAX + 32],
        asan[1024];
    const char *env[8];
    int n = 0;
    if (cut) {
        const char *asan_options = getenv("ASAN_OPTIONS");
        snprintf(preload, sizeof(preload), "LD_PRELOAD=%s", shim);
        snprintf(dir, sizeof(dir), "LME_CRASH_DIR=%s", cut->dir);
        /* an AddressSanitizer build wants its runtime first; the library only wraps calls */
        snprintf(asan, sizeof(asan), "ASAN_OPTIONS=%s%sverify_asan_link_order=0",
                 asan_options ? asan_options : "", asan_options && *asan_options ? ":" : "");
        env[n++] = preload;
        env[n++] = dir;
        env[n++] = asan;
        if (cut->kind) {
            snprintf(at, sizeof(at), "LME_CRASH_AT=%s:%ld", cut->kind, cut->n);
            snprintf(when, sizeof(when), "LME_CRASH_WHEN=%s", cut->when);
            env[n++] = at;
            env[n++] = when;
        }
        if (cut->trace) {
            snprintf(trace, sizeof(trace), "LME_CRASH_TRACE=%s", cut->trace);
            env[n++] = trace;
        }
    }
    env[n] = NULL;
    struct spawn_opts o = {
        .argv = (char *const[]){ (char *)binary, "run", "--config", (char *)cfg, "--once", NULL },
        .env = env,
        .err_path = err_path,
        .timeout_ms = RUN_TIMEOUT_MS,
    };
    struct spawn_result r;
    assert_int_equal(spawn_run(&o, &r), 0);
    return r.status;
}

static char *slurp(const char *path)
{
    char *text = read_file(path, NULL);
    return text ? text : strdup("");
}

/* One call the library counted: "KIND N PATH". */
struct step {
    char kind[16];
    long n;
    char path[PATH_MAX];
};

static size_t read_steps(const char *trace, struct step *steps, size_t max)
{
    FILE *f = fopen(trace, "r");
    assert_non_null(f);
    size_t n = 0;
    char line[PATH_MAX + 64];
    while (n < max && fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\n")] = '\0';
        struct step *s = &steps[n];
        int used = 0;
        if (sscanf(line, "%15s %ld %n", s->kind, &s->n, &used) == 2 && used > 0) {
            snprintf(s->path, sizeof(s->path), "%s", line + used);
            n++;
        }
    }
    fclose(f);
    return n;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* ---- what arrived ---- */

static const char *key_of(json_t *ev, char *buf, size_t size)
{
    const char *path = event_str(ev, "log.file.path");
    json_t *off = event_get(ev, "log.offset");
    if (!path || !json_is_integer(off))
        return NULL;
    const char *name = strrchr(path, '/');
    snprintf(buf, size, "%s@%lld", name ? name + 1 : path, (long long)json_integer_value(off));
    return buf;
}

static void add_key(json_t *set, json_t *ev)
{
    char key[PATH_MAX + 32];
    if (key_of(ev, key, sizeof(key)))
        json_object_set_new(set, key, json_true());
}

/* A JSON-lines file the daemon appends to, read line by line. */
struct jsonl {
    json_t *objs;    /* every whole ('\n'-ended) line that is a JSON object */
    size_t bad;      /* whole lines that are not, the accepted one aside */
    char *tail;      /* an unterminated last line (a torn write), or NULL */
    size_t tail_len;
};

/* Reads path; a whole line equal to accepted[0, accepted_len) (the torn line a cut left) is
 * skipped without counting as bad. A missing file reads as empty. */
static void jsonl_read(const char *path, const char *accepted, size_t accepted_len, struct jsonl *j)
{
    memset(j, 0, sizeof(*j));
    j->objs = json_array();
    size_t len = 0;
    char *text = read_file(path, &len);
    if (!text)
        return;
    for (const char *p = text, *end = text + len; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) {
            j->tail_len = (size_t)(end - p);
            j->tail = malloc(j->tail_len + 1);
            memcpy(j->tail, p, j->tail_len);
            j->tail[j->tail_len] = '\0';
            break;
        }
        size_t n = (size_t)(nl - p);
        json_t *obj = json_loadb(p, n, JSON_ALLOW_NUL, NULL);
        if (json_is_object(obj)) {
            json_array_append(j->objs, obj);
        } else if (!(accepted && n == accepted_len && memcmp(p, accepted, n) == 0)) {
            fprintf(stderr, "%s: unreadable line of %zu bytes: %.120s...\n", path, n, p);
            j->bad++;
        }
        json_decref(obj);
        p = nl + 1;
    }
    free(text);
}

static void jsonl_free(struct jsonl *j)
{
    json_decref(j->objs);
    free(j->tail);
    memset(j, 0, sizeof(*j));
}

/* Adds the keys of a file sink's events (or, with member "event", a dead-letter file's). */
static void add_keys_of_file(json_t *set, const char *path, const char *member)
{
    struct jsonl j;
    jsonl_read(path, NULL, 0, &j);
    size_t i;
    json_t *o;
    json_array_foreach(j.objs, i, o)
        add_key(set, member ? json_object_get(o, member) : o);
    jsonl_free(&j);
}

/* Counts the reference records missing from set (each printed, with what). */
static size_t missing_from(json_t *set, const char *what)
{
    size_t missing = 0;
    const char *key;
    json_t *v;
    json_object_foreach(reference, key, v) {
        if (!json_object_get(set, key)) {
            if (missing < 5)
                fprintf(stderr, "%s: record %s never arrived\n", what, key);
            missing++;
        }
    }
    return missing;
}

/* ---- checkpoints.json ---- */

/* Which records a checkpoint file covers: file name -> offset (an empty object when absent). */
static json_t *covered_offsets(const char *state)
{
    json_t *covered = json_object();
    json_t *root = json_load_file(path_in(state, "checkpoints.json"), 0, NULL);
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(root, "files"), i, e) {
        const char *path = json_string_value(json_object_get(e, "path"));
        const char *name = path ? strrchr(path, '/') : NULL;
        if (name)
            json_object_set(covered, name + 1, json_object_get(e, "offset"));
    }
    json_decref(root);
    return covered;
}

/* 1 when checkpoints.json names every *.log of logs, by path, device and inode, at its end: what
 * a run that settled everything saves. */
static bool checkpoints_complete(const char *state, const char *logs)
{
    json_t *root = json_load_file(path_in(state, "checkpoints.json"), 0, NULL);
    json_t *files = json_object_get(root, "files");
    char pattern[PATH_MAX];
    snprintf(pattern, sizeof(pattern), "%s/*.log", logs);
    glob_t g;
    if (!root || glob(pattern, 0, NULL, &g) != 0) {
        json_decref(root);
        return false;
    }
    bool ok = json_integer_value(json_object_get(root, "version")) == 1 && json_is_array(files) &&
              json_array_size(files) == g.gl_pathc;
    for (size_t f = 0; ok && f < g.gl_pathc; f++) {
        struct stat st;
        char dev[24], ino[24];
        ok = stat(g.gl_pathv[f], &st) == 0;
        snprintf(dev, sizeof(dev), "%llu", (unsigned long long)st.st_dev);
        snprintf(ino, sizeof(ino), "%llu", (unsigned long long)st.st_ino);
        bool found = false;
        size_t i;
        json_t *e;
        json_array_foreach(files, i, e) {
            const char *path = json_string_value(json_object_get(e, "path"));
            const char *d = json_string_value(json_object_get(e, "dev"));
            const char *n = json_string_value(json_object_get(e, "ino"));
            found |= path && d && n && strcmp(path, g.gl_pathv[f]) == 0 && strcmp(d, dev) == 0 &&
                     strcmp(n, ino) == 0 &&
                     json_integer_value(json_object_get(e, "offset")) == st.st_size;
        }
        ok = ok && found;
    }
    globfree(&g);
    json_decref(root);
    return ok;
}

/* The reference records a checkpoint state leaves to the next run. */
static json_t *uncovered_keys(json_t *covered)
{
    json_t *keys = json_object();
    const char *key;
    json_t *v;
    json_object_foreach(reference, key, v) {
        char name[PATH_MAX];
        snprintf(name, sizeof(name), "%s", key);
        char *at = strrchr(name, '@');
        *at = '\0';
        json_t *off = json_object_get(covered, name);
        if (!off || atoll(at + 1) >= json_integer_value(off))
            json_object_set_new(keys, key, json_true());
    }
    return keys;
}

/* The restart after a cut: exits 0 having read the checkpoints (if any) without complaint and
 * settled every file to its end. */
static void restart(const char *cfg, const char *logs, const char *what)
{
    const char *err_path = path_in(tmp, "restart.log");
    int status = run_once(cfg, NULL, err_path);
    char *err = slurp(err_path);
    EXPECT(status == 0, "%s: the restart exited %d:\n%s", what, status, err);
    EXPECT(!strstr(err, "checkpoints ignored"), "%s: the restart could not read the checkpoints:\n%s",
           what, err);
    EXPECT(log_files_settled(err, logs, -1), "%s: the restart did not settle every file", what);
    free(err);
}

/* ---- the tests ---- */

static int setup(void **state)
{
    (void)state;
    failures = 0;
    char *made = make_temp_dir();
    /* the library compares canonical paths */
    tmp = made ? realpath(made, NULL) : NULL;
    free(made);
    return tmp ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    remove_tree(tmp);
    free(tmp);
    return 0;
}

/* Lists the steps of a run of cfg: every call the library counts in dir. */
static size_t list_steps(const char *cfg, const char *dir, struct step *steps)
{
    const char *trace = path_in(tmp, "trace.txt");
    unlink(trace);
    struct cut c = { .dir = dir, .trace = trace };
    assert_int_equal(run_once(cfg, &c, path_in(tmp, "trace.log")), 0);
    size_t n = read_steps(trace, steps, MAX_STEPS);
    for (size_t i = 0; i < n; i++)
        fprintf(stderr, "step: %s %ld %s\n", steps[i].kind, steps[i].n, steps[i].path);
    return n;
}

static const char *const WHEN_WRITE[] = { "before", "torn", "after", NULL };
static const char *const WHEN_OTHER[] = { "before", "after", NULL };

static const char *const *whens_of(const struct step *s)
{
    return strcmp(s->kind, "write") == 0 ? WHEN_WRITE : WHEN_OTHER;
}

/* A case of the checkpoint tests: its own logs, state and outputs under tmp/NAME. When
 * `earlier`, half the fixtures are read by a run that completes first (checkpoints.json v1, its
 * bytes kept in c->v1), then the other half is added. */
#define CASE_PATH (PATH_MAX + 64)
struct ckpt_case {
    char dir[PATH_MAX], logs[CASE_PATH], state[CASE_PATH], cfg_cut[CASE_PATH], cfg_restart[CASE_PATH];
    char out_earlier[CASE_PATH], out_cut[CASE_PATH], out_restart[CASE_PATH];
    char *v1;
};

static void ckpt_case_make(struct ckpt_case *c, const char *name, bool earlier)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->dir, sizeof(c->dir), "%.*s/%s", PATH_MAX - 128, tmp, name);
    snprintf(c->logs, sizeof(c->logs), "%s/logs", c->dir);
    snprintf(c->state, sizeof(c->state), "%s/state", c->dir);
    snprintf(c->cfg_cut, sizeof(c->cfg_cut), "%s/cut.json", c->dir);
    snprintf(c->cfg_restart, sizeof(c->cfg_restart), "%s/restart.json", c->dir);
    snprintf(c->out_earlier, sizeof(c->out_earlier), "%s/out-earlier.jsonl", c->dir);
    snprintf(c->out_cut, sizeof(c->out_cut), "%s/out-cut.jsonl", c->dir);
    snprintf(c->out_restart, sizeof(c->out_restart), "%s/out-restart.jsonl", c->dir);
    make_dir(c->dir);
    make_dir(c->logs);
    make_dir(c->state);
    file_sink_config(c->cfg_cut, c->state, c->logs, c->out_cut);
    file_sink_config(c->cfg_restart, c->state, c->logs, c->out_restart);
    if (earlier) {
        char cfg[PATH_MAX + 16];
        snprintf(cfg, sizeof(cfg), "%s/earlier.json", c->dir);
        file_sink_config(cfg, c->state, c->logs, c->out_earlier);
        copy_fixtures(c->logs, 0, n_fixture_logs / 2);
        assert_int_equal(run_once(cfg, NULL, path_in(c->dir, "earlier.log")), 0);
        c->v1 = read_file(path_in(c->state, "checkpoints.json"), NULL);
        assert_non_null(c->v1);
        copy_fixtures(c->logs, n_fixture_logs / 2, n_fixture_logs);
    } else {
        copy_fixtures(c->logs, 0, n_fixture_logs);
    }
}

/* Cuts a run saving checkpoints at every step, then restarts. */
static void checkpoints_cut_at_every_step(bool earlier)
{
    struct ckpt_case c;
    ckpt_case_make(&c, "trace", earlier);
    struct step steps[MAX_STEPS];
    size_t n = list_steps(c.cfg_cut, c.state, steps);
    /* one save at the end of the run: write, fsync, rename, fsync of the directory */
    bool renamed = false;
    for (size_t i = 0; i < n; i++)
        renamed |= strcmp(steps[i].kind, "rename") == 0 && ends_with(steps[i].path, "/checkpoints.json");
    assert_true(n >= 4 && renamed);
    free(c.v1);

    int cases = 0;
    for (size_t s = 0; s < n; s++) {
        for (const char *const *w = whens_of(&steps[s]); *w; w++) {
            char name[64], what[256];
            snprintf(name, sizeof(name), "cut-%d", cases++);
            snprintf(what, sizeof(what), "cut %s %.15s #%ld (%.64s)", *w, steps[s].kind, steps[s].n,
                     strrchr(steps[s].path, '/'));
            ckpt_case_make(&c, name, earlier);
            struct cut cut = { c.state, steps[s].kind, steps[s].n, *w, NULL };
            int status = run_once(c.cfg_cut, &cut, path_in(c.dir, "cut.log"));
            EXPECT(status == 137, "%s: the run was not cut there (exit %d)", what, status);

            /* what the restart will read: nothing, the earlier version, or the complete new one */
            char *now = read_file(path_in(c.state, "checkpoints.json"), NULL);
            bool is_earlier = earlier ? now && strcmp(now, c.v1) == 0 : !now;
            EXPECT(is_earlier || checkpoints_complete(c.state, c.logs),
                   "%s: checkpoints.json is neither the earlier version nor the new one: %s", what,
                   now ? now : "(absent)");
            json_t *covered = covered_offsets(c.state);
            json_t *expected = uncovered_keys(covered);

            restart(c.cfg_restart, c.logs, what);
            /* the restart delivers exactly what the checkpoint does not cover... */
            json_t *again = json_object();
            add_keys_of_file(again, c.out_restart, NULL);
            EXPECT(json_equal(again, expected),
                   "%s: the restart delivered %zu records, the checkpoint left %zu", what,
                   json_object_size(again), json_object_size(expected));
            /* ...and with the runs before it, everything */
            json_t *all = json_object();
            add_keys_of_file(all, c.out_earlier, NULL);
            add_keys_of_file(all, c.out_cut, NULL);
            add_keys_of_file(all, c.out_restart, NULL);
            EXPECT(missing_from(all, what) == 0, "%s: records lost", what);
            fprintf(stderr, "%s: checkpoints %s, restart re-sent %zu\n", what,
                    !now ? "absent" : is_earlier ? "earlier" : "new", json_object_size(again));
            json_decref(all);
            json_decref(again);
            json_decref(expected);
            json_decref(covered);
            free(now);
            free(c.v1);
        }
    }
    assert_int_equal(failures, 0);
}

static void test_first_checkpoint_save_cut_at_every_step(void **state)
{
    (void)state;
    checkpoints_cut_at_every_step(false);
}

static void test_checkpoint_save_over_an_earlier_one_cut_at_every_step(void **state)
{
    (void)state;
    checkpoints_cut_at_every_step(true);
}

/* ---- the dead-letter file, through a Kafka sink that refuses messages over 1,000 bytes ---- */

struct kafka_case {
    char host[32];
    char state[2 * PATH_MAX];
    json_t *dead; /* keys of the events the dead-letter file holds, readable */
};

/* Cuts runs whose Kafka sink sets events aside at each step in state_dir that `pick` selects
 * (with the `whens` given), restarts each, then checks, for each, that the broker and the
 * dead-letter file hold every record between them. */
static void dead_letter_cuts(bool (*pick)(const struct step *), const char *const *whens)
{
    struct proc mb;
    char brokers[512], sink[1024], logs[PATH_MAX + 8], cfg[2 * PATH_MAX + 8];
    static const char *const topics[] = { TOPIC ":3", NULL };
    assert_int_equal(mock_broker_start(mock_tool, topics, &mb, brokers, sizeof(brokers)), 0);
    snprintf(sink, sizeof(sink),
             "{\"type\":\"kafka\",\"brokers\":\"%s\",\"topic\":\"" TOPIC "\","
             "\"rdkafka\":{\"message.max.bytes\":1000}}", brokers);
    snprintf(logs, sizeof(logs), "%s/logs", tmp);
    make_dir(logs);
    copy_fixtures(logs, 0, n_fixture_logs);

    static struct kafka_case cases[MAX_STEPS * 3];
    size_t n_cases = 0;
    struct step steps[MAX_STEPS];
    struct kafka_case *trace = &cases[n_cases++];
    /* host names of one length: an event's size, which decides whether it is set aside, must
     * not change from case to case */
    snprintf(trace->host, sizeof(trace->host), "c000");
    snprintf(trace->state, sizeof(trace->state), "%s", path_in(tmp, trace->host));
    make_dir(trace->state);
    snprintf(cfg, sizeof(cfg), "%s.json", trace->state);
    write_config(cfg, trace->host, trace->state, logs, sink);
    size_t n = list_steps(cfg, trace->state, steps);
    size_t dead_writes = 0;
    for (size_t i = 0; i < n; i++)
        dead_writes += strcmp(steps[i].kind, "write") == 0 && ends_with(steps[i].path, "/dead-letter.jsonl");
    assert_true(dead_writes > 0); /* some events are set aside */

    for (size_t s = 0; s < n; s++) {
        if (!pick(&steps[s]))
            continue;
        for (const char *const *w = whens; *w; w++) {
            if (strcmp(*w, "torn") == 0 && strcmp(steps[s].kind, "write") != 0)
                continue;
            assert_true(n_cases < MAX_STEPS * 3);
            struct kafka_case *c = &cases[n_cases];
            char host[32];
            snprintf(host, sizeof(host), "c%03zu", n_cases++);
            snprintf(c->host, sizeof(c->host), "%s", host);
            snprintf(c->state, sizeof(c->state), "%s", path_in(tmp, host));
            make_dir(c->state);
            snprintf(cfg, sizeof(cfg), "%s.json", c->state);
            write_config(cfg, c->host, c->state, logs, sink);
            char what[256];
            snprintf(what, sizeof(what), "%s: cut %s %.15s #%ld (%.64s)", c->host, *w, steps[s].kind,
                     steps[s].n, strrchr(steps[s].path, '/'));
            const char *dead_path = path_in(c->state, "dead-letter.jsonl");

            struct cut cut = { c->state, steps[s].kind, steps[s].n, *w, NULL };
            int status = run_once(cfg, &cut, path_in(tmp, "cut.log"));
            EXPECT(status == 137, "%s: the run was not cut there (exit %d)", what, status);
            struct jsonl before;
            jsonl_read(dead_path, NULL, 0, &before);
            EXPECT(before.bad == 0, "%s: the dead-letter file holds broken lines", what);
            EXPECT(!before.tail || strcmp(*w, "torn") == 0,
                   "%s: the dead-letter file ends inside a line", what);
            char *now = read_file(path_in(c->state, "checkpoints.json"), NULL);
            EXPECT(!now || checkpoints_complete(c->state, logs),
                   "%s: checkpoints.json is neither absent nor the new one: %s", what, now);
            free(now);

            restart(cfg, logs, what);
            /* the line the cut tore may stay unreadable; nothing written after it may */
            struct jsonl after;
            jsonl_read(dead_path, before.tail, before.tail_len, &after);
            EXPECT(after.bad == 0 && !after.tail,
                   "%s: after the restart the dead-letter file holds %zu unreadable line(s)%s "
                   "(the torn line the cut left was %zu bytes)",
                   what, after.bad, after.tail ? " and ends inside a line" : "", before.tail_len);
            c->dead = json_object();
            size_t i;
            json_t *o;
            json_array_foreach(after.objs, i, o) {
                EXPECT(strcmp(event_str(o, "reason"), "MSG_SIZE_TOO_LARGE") == 0,
                       "%s: dead letter for another reason: %s", what, event_str(o, "reason"));
                add_key(c->dead, json_object_get(o, "event"));
            }
            fprintf(stderr, "%s: %zu dead letters before the restart (torn tail: %zu bytes), "
                    "%zu after\n", what, json_array_size(before.objs), before.tail_len,
                    json_array_size(after.objs));
            jsonl_free(&before);
            jsonl_free(&after);
        }
    }

    /* what the broker holds, by the host name each case ran under */
    struct run_result res;
    assert_int_equal(run_cmd((char *const[]){ (char *)kcat, "-b", brokers, "-C", "-t", TOPIC,
                                              "-o", "beginning", "-e", "-q", "-f", "%s\n", NULL },
                             NULL, 0, &res), 0);
    assert_int_equal(res.status, 0);
    json_t *msgs = events_parse_records(res.out, res.out_len);
    assert_non_null(msgs);
    run_result_free(&res);
    json_t *by_host = json_object();
    size_t i;
    json_t *m;
    json_array_foreach(msgs, i, m) {
        const char *host = event_str(m, "host.name");
        if (!json_object_get(by_host, host))
            json_object_set_new(by_host, host, json_object());
        add_key(json_object_get(by_host, host), m);
    }
    for (size_t k = 1; k < n_cases; k++) {
        struct kafka_case *c = &cases[k];
        json_t *all = json_object();
        if (json_object_get(by_host, c->host))
            json_object_update(all, json_object_get(by_host, c->host));
        json_object_update(all, c->dead);
        EXPECT(missing_from(all, c->host) == 0,
               "%s: records neither delivered nor in the dead-letter file", c->host);
        json_decref(all);
        json_decref(c->dead);
    }
    json_decref(by_host);
    json_decref(msgs);
    proc_stop(&mb);
    assert_int_equal(failures, 0);
}

static bool every_step(const struct step *s)
{
    (void)s;
    return true;
}

static bool dead_letter_write(const struct step *s)
{
    return strcmp(s->kind, "write") == 0 && ends_with(s->path, "/dead-letter.jsonl");
}

/* Every step of a run that sets events aside: each dead letter's write and fdatasync, and the
 * checkpoint save after them; cut before and after each. */
static void test_dead_letter_run_cut_before_and_after_every_step(void **state)
{
    (void)state;
    dead_letter_cuts(every_step, WHEN_OTHER);
}

/* A dead-letter line torn by the cut: the restart must not glue its next entry onto it. */
static void test_dead_letter_torn_line_does_not_swallow_the_next_entry(void **state)
{
    (void)state;
    static const char *const torn[] = { "torn", NULL };
    dead_letter_cuts(dead_letter_write, torn);
}

/* ---- a file sink's output ---- */

static void file_sink_cuts(const char *const *whens)
{
    struct ckpt_case c;
    ckpt_case_make(&c, "trace", false);
    char outdir[PATH_MAX + 8];
    snprintf(outdir, sizeof(outdir), "%s/out", c.dir);
    make_dir(outdir);
    file_sink_config(c.cfg_cut, c.state, c.logs, path_in(outdir, "events.jsonl"));
    struct step steps[MAX_STEPS];
    size_t n = list_steps(c.cfg_cut, outdir, steps);
    assert_true(n >= 1);

    int cases = 0;
    for (size_t s = 0; s < n; s++) {
        for (const char *const *w = whens; *w; w++) {
            char name[64], what[256];
            snprintf(name, sizeof(name), "cut-%d", cases++);
            snprintf(what, sizeof(what), "cut %s %.15s #%ld of the file sink", *w, steps[s].kind,
                     steps[s].n);
            ckpt_case_make(&c, name, false);
            snprintf(outdir, sizeof(outdir), "%s/out", c.dir);
            make_dir(outdir);
            const char *out = path_in(outdir, "events.jsonl");
            file_sink_config(c.cfg_cut, c.state, c.logs, out); /* the restart appends to it too */
            struct cut cut = { outdir, steps[s].kind, steps[s].n, *w, NULL };
            int status = run_once(c.cfg_cut, &cut, path_in(c.dir, "cut.log"));
            EXPECT(status == 137, "%s: the run was not cut there (exit %d)", what, status);
            struct jsonl before;
            jsonl_read(out, NULL, 0, &before);
            EXPECT(before.bad == 0, "%s: the output holds broken lines", what);

            restart(c.cfg_cut, c.logs, what);
            struct jsonl after;
            jsonl_read(out, before.tail, before.tail_len, &after);
            EXPECT(after.bad == 0 && !after.tail,
                   "%s: after the restart the output holds %zu unreadable line(s) (the torn "
                   "line the cut left was %zu bytes)", what, after.bad, before.tail_len);
            json_t *all = json_object();
            size_t i;
            json_t *o;
            json_array_foreach(after.objs, i, o)
                add_key(all, o);
            EXPECT(missing_from(all, what) == 0, "%s: records lost", what);
            json_decref(all);
            jsonl_free(&before);
            jsonl_free(&after);
        }
    }
    assert_int_equal(failures, 0);
}

static void test_file_sink_output_cut_before_and_after_its_writes(void **state)
{
    (void)state;
    file_sink_cuts(WHEN_OTHER);
}

/* An output line torn by the cut: the restart must not glue its first event onto it. */
static void test_file_sink_torn_line_does_not_swallow_the_next_event(void **state)
{
    (void)state;
    static const char *const torn[] = { "torn", NULL };
    file_sink_cuts(torn);
}

/* ---- the reference: a run without cuts ---- */

static int group_setup(void **state)
{
    (void)state;
    char pattern[PATH_MAX];
    snprintf(pattern, sizeof(pattern), "%s/samples/*.log", fixtures);
    glob_t g;
    if (glob(pattern, 0, NULL, &g) != 0 || g.gl_pathc > MAX_FIXTURES)
        return -1;
    for (size_t i = 0; i < g.gl_pathc; i++)
        snprintf(fixture_logs[n_fixture_logs++], PATH_MAX, "%s", g.gl_pathv[i]);
    globfree(&g);

    if (setup(state) != 0)
        return -1;
    char logs[PATH_MAX + 8], out[PATH_MAX + 16], cfg[PATH_MAX + 16];
    snprintf(logs, sizeof(logs), "%s/logs", tmp);
    snprintf(out, sizeof(out), "%s/out.jsonl", tmp);
    snprintf(cfg, sizeof(cfg), "%s/lme.json", tmp);
    mkdir(logs, 0755);
    copy_fixtures(logs, 0, n_fixture_logs);
    file_sink_config(cfg, path_in(tmp, "state"), logs, out);
    int status = run_once(cfg, NULL, path_in(tmp, "run.log"));
    reference = json_object();
    struct jsonl j;
    jsonl_read(out, NULL, 0, &j);
    size_t i;
    json_t *ev;
    json_array_foreach(j.objs, i, ev) {
        char key[PATH_MAX + 32];
        if (key_of(ev, key, sizeof(key)))
            json_object_set(reference, key, event_get(ev, "event.original"));
    }
    jsonl_free(&j);
    teardown(state);
    if (status != 0 || json_object_size(reference) != FIXTURE_RECORDS) {
        fprintf(stderr, "reference run: exit %d, %zu records\n", status, json_object_size(reference));
        return -1;
    }
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    json_decref(reference);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: %s LME_INGEST FIXTURES_DIR CRASHPOINT_SO MOCK_BROKER KCAT\n", argv[0]);
        return 2;
    }
    binary = argv[1];
    fixtures = argv[2];
    shim = argv[3];
    mock_tool = argv[4];
    kcat = argv[5];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_first_checkpoint_save_cut_at_every_step, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checkpoint_save_over_an_earlier_one_cut_at_every_step,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_dead_letter_run_cut_before_and_after_every_step, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_dead_letter_torn_line_does_not_swallow_the_next_entry,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_sink_output_cut_before_and_after_its_writes, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_file_sink_torn_line_does_not_swallow_the_next_event,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
