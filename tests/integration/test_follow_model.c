/* A model-based random test of following: a seeded generator of steps (append, append a partial
 * line, rename rotation, copy-truncate, delete a rotated file, restart the daemon, kill -9 it,
 * pause) runs against the real daemon, and what arrived is checked against a model of what must:
 * every complete record at least once, in order per file within each run, nothing invented or
 * torn. Seeds run until a time budget is spent; a failure prints its seed.
 * Usage: test_follow_model LME_INGEST FIXTURES_DIR
 * Environment: LME_MODEL_SEED (first seed; default: the time), LME_MODEL_SECONDS (budget, 40). */
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "events.h"
#include "proc.h"
#include "run_cmd.h"

#define STREAMS 2
#define MAX_RECORDS 20000
#define MAX_RUNS 64
#define MAX_ROTATED 64
#define STEPS 30

static const char *binary;

struct model {
    uint64_t rng;
    char dir[PATH_MAX];
    char logs[PATH_MAX + 8];
    char *text[MAX_RECORDS]; /* each record's text as event.original must show it */
    int gen[MAX_RECORDS];    /* the physical file content it was written to */
    int n_records;
    int gen_of[STREAMS];     /* current generation of each stream's live file */
    int partial[STREAMS];    /* seq of a record half written, or -1 */
    int partial_cut[STREAMS];
    char rotated[MAX_ROTATED][PATH_MAX + 64];
    int rotated_from[MAX_ROTATED], rotated_to[MAX_ROTATED]; /* seqs [from, to) it may hold */
    int rotated_gen[MAX_ROTATED];                           /* the generation it holds */
    int n_rotated;
    int next_gen, n_names;
    int runs;                /* outputs out.0 .. out.runs-1 */
    bool running;
    struct proc daemon;
    int truncations_seen;
};

static uint64_t next_rand(struct model *m)
{
    uint64_t z = (m->rng += 0x9e3779b97f4a7c15ULL); /* splitmix64 */
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static int pick(struct model *m, int n)
{
    return (int)(next_rand(m) % (uint64_t)n);
}

static int failf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return -1;
}

static void live_path(const struct model *m, int stream, char *path, size_t size)
{
    snprintf(path, size, "%s/s%d.log", m->logs, stream);
}

static int append_bytes(const char *path, const char *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd < 0)
        return -1;
    ssize_t n = write(fd, data, len);
    close(fd);
    return n == (ssize_t)len ? 0 : -1;
}

/* The raw bytes of record seq: one line, or three (a wrapped record). */
static void record_bytes(const struct model *m, int seq, char *buf, size_t size)
{
    if (seq % 4 == 3)
        snprintf(buf, size, "1998/03/17 22:22:51 - LME-NOTES-MEXNTS(018b) 3 41210:Terminating "
                            "g=%d seq=%d\r\nNotes Interface\r\n>> ntshcs(100)\r\n", m->gen[seq], seq);
    else
        snprintf(buf, size, "1998/03/17 22:22:50 - LME-NOTES-MEXNTS(018b) 1 41220:Error: no "
                            "Notes Session Open g=%d seq=%d >> ntshcs(2317)\r\n", m->gen[seq], seq);
}

static int new_record(struct model *m, int stream)
{
    int seq = m->n_records++;
    m->gen[seq] = m->gen_of[stream];
    char buf[256];
    record_bytes(m, seq, buf, sizeof(buf));
    size_t len = strlen(buf);
    buf[len - 2] = '\0'; /* event.original ends before the last line end */
    m->text[seq] = strdup(buf);
    return seq;
}

static int complete_partial(struct model *m, int stream)
{
    int seq = m->partial[stream];
    if (seq < 0)
        return 0;
    char buf[256], path[PATH_MAX + 32];
    record_bytes(m, seq, buf, sizeof(buf));
    live_path(m, stream, path, sizeof(path));
    m->partial[stream] = -1;
    return append_bytes(path, buf + m->partial_cut[stream], strlen(buf) - (size_t)m->partial_cut[stream]);
}

static int step_append(struct model *m, int stream, int count)
{
    if (complete_partial(m, stream) != 0)
        return failf("cannot write");
    char path[PATH_MAX + 32], all[256 * 64];
    live_path(m, stream, path, sizeof(path));
    size_t len = 0;
    for (int i = 0; i < count && m->n_records < MAX_RECORDS; i++) {
        record_bytes(m, new_record(m, stream), all + len, sizeof(all) - len);
        len += strlen(all + len);
    }
    return append_bytes(path, all, len);
}

static int step_partial(struct model *m, int stream)
{
    if (complete_partial(m, stream) != 0 || m->n_records >= MAX_RECORDS)
        return 0;
    int seq = new_record(m, stream);
    char buf[256], path[PATH_MAX + 32];
    record_bytes(m, seq, buf, sizeof(buf));
    live_path(m, stream, path, sizeof(path));
    m->partial[stream] = seq;
    /* cut inside the first line: a line without its end waits for it, however long. A cut
     * after a complete line would let the record's first lines go out alone once the file is
     * silent for multiline_flush_ms (documented: the rest then comes as records of its own) */
    m->partial_cut[stream] = 1 + pick(m, (int)strcspn(buf, "\n"));
    return append_bytes(path, buf, (size_t)m->partial_cut[stream]);
}

/* Seqs [from, to) of one file's records: the first and last+1 written with its generation. */
static void gen_range(const struct model *m, int gen, int *from, int *to)
{
    *from = m->n_records;
    *to = 0;
    for (int i = 0; i < m->n_records; i++)
        if (m->gen[i] == gen) {
            if (i < *from)
                *from = i;
            *to = i + 1;
        }
}

static void remember_rotated(struct model *m, const char *path, int gen)
{
    if (m->n_rotated == MAX_ROTATED)
        return;
    snprintf(m->rotated[m->n_rotated], sizeof(m->rotated[0]), "%s", path);
    gen_range(m, gen, &m->rotated_from[m->n_rotated], &m->rotated_to[m->n_rotated]);
    m->rotated_gen[m->n_rotated] = gen;
    m->n_rotated++;
}

/* Rename rotation to a name the glob still matches: the file stays known by its inode. */
static int step_rename(struct model *m, int stream)
{
    char path[PATH_MAX + 32], to[PATH_MAX + 64];
    live_path(m, stream, path, sizeof(path));
    if (complete_partial(m, stream) != 0)
        return failf("cannot write");
    if (access(path, F_OK) != 0)
        return 0;
    snprintf(to, sizeof(to), "%s.r%d", path, m->n_names++);
    if (rename(path, to) != 0)
        return failf("rename failed");
    remember_rotated(m, to, m->gen_of[stream]);
    m->gen_of[stream] = m->next_gen++;
    return 0;
}

/* Every event of every output so far, as JSON (lines cut short by a kill skipped). */
static json_t *read_outputs(const struct model *m, int upto_run)
{
    json_t *all = json_array();
    for (int r = 0; r < upto_run; r++) {
        char path[PATH_MAX + 32];
        snprintf(path, sizeof(path), "%s/out.%d", m->dir, r);
        size_t len;
        char *text = read_file(path, &len);
        if (!text)
            continue;
        for (char *line = text, *nl; (nl = memchr(line, '\n', len - (size_t)(line - text)));
             line = nl + 1) {
            json_t *ev = json_loadb(line, (size_t)(nl - line), 0, NULL);
            if (!ev) {
                fprintf(stderr, "run %d: not JSON: %.*s\n", r, (int)(nl - line), line);
                json_decref(all);
                free(text);
                return NULL;
            }
            json_object_set_new(ev, "_run", json_integer(r));
            json_array_append_new(all, ev);
        }
        free(text);
    }
    return all;
}

static int seq_of(json_t *ev)
{
    json_t *event = json_object_get(ev, "event");
    const char *orig = json_string_value(json_object_get(event, "original"));
    const char *s = orig ? strstr(orig, "seq=") : NULL;
    return s ? atoi(s + 4) : -1;
}

/* 1 when every seq of [from, to) written to generation gen (any: -1) arrived at least once. */
static int delivered(const struct model *m, int from, int to, int gen)
{
    json_t *all = read_outputs(m, m->runs);
    if (!all)
        return 0;
    char *seen = calloc((size_t)m->n_records + 1, 1);
    size_t i;
    json_t *ev;
    json_array_foreach(all, i, ev) {
        int seq = seq_of(ev);
        if (seq >= 0 && seq < m->n_records)
            seen[seq] = 1;
    }
    int ok = 1;
    for (int s = from; s < to && ok; s++)
        ok = seen[s] || (gen >= 0 && m->gen[s] != gen);
    free(seen);
    json_decref(all);
    return ok;
}

static int wait_delivered(const struct model *m, int from, int to, int gen, int timeout_ms)
{
    for (int waited = 0; waited < timeout_ms; waited += 50) {
        if (delivered(m, from, to, gen))
            return 1;
        usleep(50000);
    }
    return 0;
}

static int write_config(const struct model *m)
{
    char text[4 * PATH_MAX], path[PATH_MAX + 32];
    int n = snprintf(text, sizeof(text),
                     "{\"host_name\":\"h\",\"state_dir\":\"%s/state\",\"poll_interval_ms\":20,"
                     "\"scan_interval_ms\":50,\"checkpoint_interval_ms\":100,\"drain_timeout_ms\":5000,"
                     "\"inputs\":[{\"type\":\"file\",\"paths\":[\"%s/*.log*\"],\"timezone\":\"UTC\","
                     "\"multiline_flush_ms\":100,\"rotate_wait_ms\":200}],"
                     "\"sinks\":[{\"type\":\"file\",\"path\":\"%s/out.%d\"}]}",
                     m->dir, m->logs, m->dir, m->runs);
    snprintf(path, sizeof(path), "%s/lme.json", m->dir);
    return write_file(path, text, (size_t)n);
}

/* Occurrences of needle in the current run's log. */
static int count_in_log(const struct model *m, const char *needle)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof(path), "%s/daemon.%d.log", m->dir, m->runs - 1);
    size_t len;
    char *text = read_file(path, &len);
    int n = 0;
    for (char *p = text; p && (p = strstr(p, needle)); p++)
        n++;
    free(text);
    return n;
}

static int start_daemon(struct model *m)
{
    if (m->runs == MAX_RUNS || write_config(m) != 0)
        return failf("cannot write config");
    char cfg[PATH_MAX + 32], log[PATH_MAX + 32];
    snprintf(cfg, sizeof(cfg), "%s/lme.json", m->dir);
    snprintf(log, sizeof(log), "%s/daemon.%d.log", m->dir, m->runs);
    m->runs++;
    m->truncations_seen = 0;
    if (proc_start((char *const[]){ (char *)binary, "run", "--config", cfg, NULL }, log,
                   &m->daemon) != 0)
        return failf("cannot start the daemon");
    m->running = true;
    /* signals sent before its handlers are in place would kill it: wait until it says it runs */
    for (int waited = 0; waited < 10000; waited += 10) {
        if (count_in_log(m, "msg=started") > 0)
            return 0;
        usleep(10000);
    }
    return failf("the daemon did not start (run %d)", m->runs - 1);
}

static int stop_daemon(struct model *m, bool kill9)
{
    if (!m->running)
        return 0;
    m->running = false;
    if (kill9) {
        proc_stop(&m->daemon);
        return 0;
    }
    kill(m->daemon.pid, SIGTERM);
    int status = proc_wait(&m->daemon, 15000);
    proc_stop(&m->daemon);
    return status == 0 ? 0 : failf("the daemon exited with %d at SIGTERM", status);
}

/* Copy and truncate, as logrotate's copytruncate does: only once the daemon has read the file,
 * since what a copy-truncate cuts before any reader saw it is gone for every shipper. */
static int step_copy_truncate(struct model *m, int stream)
{
    char path[PATH_MAX + 32], to[PATH_MAX + 64];
    live_path(m, stream, path, sizeof(path));
    if (!m->running || access(path, F_OK) != 0 || complete_partial(m, stream) != 0)
        return 0;
    int from, upto;
    gen_range(m, m->gen_of[stream], &from, &upto);
    if (upto > from && !wait_delivered(m, from, upto, m->gen_of[stream], 10000))
        return failf("records %d..%d not delivered before copy-truncate", from, upto - 1);
    size_t len;
    char *text = read_file(path, &len);
    snprintf(to, sizeof(to), "%s.c%d", path, m->n_names++);
    int rc = text && write_file(to, text, len) == 0 && truncate(path, 0) == 0 ? 0 : -1;
    free(text);
    if (rc)
        return failf("copy-truncate failed");
    remember_rotated(m, to, m->gen_of[stream]);
    m->gen_of[stream] = m->next_gen++;
    /* new writes must not outgrow the old size before the daemon sees the file shrink */
    int want = m->truncations_seen + 1;
    for (int waited = 0; waited < 5000 && count_in_log(m, "file truncated") < want; waited += 20)
        usleep(20000);
    m->truncations_seen = count_in_log(m, "file truncated");
    return 0;
}

/* Deletes a rotated file, once everything it holds arrived (as logrotate's maxcount would). */
static int step_delete(struct model *m)
{
    if (m->n_rotated == 0 || !m->running)
        return 0;
    int i = pick(m, m->n_rotated);
    if (m->rotated_to[i] > m->rotated_from[i] &&
        !wait_delivered(m, m->rotated_from[i], m->rotated_to[i], m->rotated_gen[i], 10000))
        return failf("rotated %s not delivered before deletion", m->rotated[i]);
    unlink(m->rotated[i]);
    m->n_rotated--;
    memmove(&m->rotated[i], &m->rotated[i + 1], sizeof(m->rotated[0]) * (size_t)(m->n_rotated - i));
    memmove(&m->rotated_from[i], &m->rotated_from[i + 1], sizeof(int) * (size_t)(m->n_rotated - i));
    memmove(&m->rotated_to[i], &m->rotated_to[i + 1], sizeof(int) * (size_t)(m->n_rotated - i));
    memmove(&m->rotated_gen[i], &m->rotated_gen[i + 1], sizeof(int) * (size_t)(m->n_rotated - i));
    return 0;
}

static int step(struct model *m, char *trace, size_t size)
{
    int stream = pick(m, STREAMS);
    int r = pick(m, 100);
    size_t len = strlen(trace);
    char *t = trace + len;
    size = size - len;
    if (!m->running && r < 30) {
        snprintf(t, size, " start");
        return start_daemon(m);
    }
    if (r < 40) {
        int n = 1 + pick(m, 60);
        snprintf(t, size, " append(s%d,%d)", stream, n);
        return step_append(m, stream, n);
    }
    if (r < 50) {
        snprintf(t, size, " partial(s%d)", stream);
        return step_partial(m, stream);
    }
    if (r < 58) {
        snprintf(t, size, " rename(s%d)", stream);
        return step_rename(m, stream);
    }
    if (r < 63) {
        snprintf(t, size, " copytruncate(s%d)", stream);
        return step_copy_truncate(m, stream);
    }
    if (r < 67) {
        snprintf(t, size, " delete");
        return step_delete(m);
    }
    if (r < 74 && m->running) {
        snprintf(t, size, " restart");
        return stop_daemon(m, false) ? -1 : start_daemon(m);
    }
    if (r < 82 && m->running) {
        snprintf(t, size, " kill9");
        return stop_daemon(m, true);
    }
    int ms = pick(m, 300);
    snprintf(t, size, " sleep(%d)", ms);
    usleep((useconds_t)ms * 1000);
    return 0;
}

/* The model's promises, checked against every output. */
static int check(const struct model *m)
{
    json_t *all = read_outputs(m, m->runs);
    if (!all)
        return -1;
    int *count = calloc((size_t)m->n_records + 1, sizeof(int));
    int last[MAX_RUNS][256]; /* per run and (generation, copy or not): last seq seen */
    memset(last, -1, sizeof(last));
    int rc = 0;
    size_t i;
    json_t *ev;
    json_array_foreach(all, i, ev) {
        if (event_is_incident(ev)) /* the model's 41220s make incidents: not records */
            continue;
        int seq = seq_of(ev);
        const char *orig = json_string_value(json_object_get(json_object_get(ev, "event"), "original"));
        if (seq < 0 || seq >= m->n_records || !orig || strcmp(orig, m->text[seq]) != 0) {
            rc = failf("invented or torn: %s", orig ? orig : "(no event.original)");
            break;
        }
        count[seq]++;
        const char *file = json_string_value(json_object_get(
            json_object_get(json_object_get(ev, "log"), "file"), "path"));
        int key = (m->gen[seq] * 2 + (file && strstr(file, ".log.c") != NULL)) % 256;
        int run = (int)json_integer_value(json_object_get(ev, "_run"));
        if (seq <= last[run][key]) {
            rc = failf("out of order in run %d: seq=%d after seq=%d (%s)", run, seq, last[run][key], file);
            break;
        }
        last[run][key] = seq;
    }
    for (int s = 0; !rc && s < m->n_records; s++)
        if (count[s] == 0)
            rc = failf("lost: seq=%d (%s)", s, m->text[s]);
    int dups = 0;
    for (int s = 0; s < m->n_records; s++)
        dups += count[s] > 1 ? count[s] - 1 : 0;
    if (!rc)
        printf("  %d records, %zu events, %d re-sent or copied, %d runs\n", m->n_records,
               json_array_size(all), dups, m->runs);
    free(count);
    json_decref(all);
    return rc;
}

static int run_seed(uint64_t seed)
{
    struct model *m = calloc(1, sizeof(*m));
    char *dir = make_temp_dir();
    char trace[8192] = "";
    int rc = m && dir ? 0 : -1;
    if (!rc) {
        m->rng = seed;
        snprintf(m->dir, sizeof(m->dir), "%s", dir);
        snprintf(m->logs, sizeof(m->logs), "%s/logs", dir);
        rc = mkdir(m->logs, 0755);
        for (int s = 0; s < STREAMS; s++) {
            m->partial[s] = -1;
            m->gen_of[s] = m->next_gen++;
        }
    }
    if (!rc)
        rc = start_daemon(m);
    for (int i = 0; !rc && i < STEPS; i++)
        rc = step(m, trace, sizeof(trace));
    for (int s = 0; !rc && s < STREAMS; s++)
        rc = complete_partial(m, s);
    if (!rc && !m->running)
        rc = start_daemon(m);
    if (!rc && !wait_delivered(m, 0, m->n_records, -1, 20000))
        fprintf(stderr, "not everything arrived within 20 s\n");
    if (!rc)
        rc = stop_daemon(m, false);
    if (!rc)
        rc = check(m);
    if (rc) {
        fprintf(stderr, "FAILED seed=%llu: reproduce with LME_MODEL_SEED=%llu LME_MODEL_SECONDS=1\n"
                        "steps:%s\nkept: %s\n", (unsigned long long)seed,
                (unsigned long long)seed, trace, dir);
        stop_daemon(m, true);
    } else {
        remove_tree(dir);
    }
    for (int i = 0; m && i < m->n_records; i++)
        free(m->text[i]);
    free(m);
    free(dir);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s LME_INGEST FIXTURES_DIR\n", argv[0]);
        return 2;
    }
    binary = argv[1];
    const char *env = getenv("LME_MODEL_SEED");
    uint64_t seed = env ? strtoull(env, NULL, 10) : (uint64_t)time(NULL);
    int budget = getenv("LME_MODEL_SECONDS") ? atoi(getenv("LME_MODEL_SECONDS")) : 40;
    time_t end = time(NULL) + budget;
    int seeds = 0;
    do {
        printf("seed=%llu\n", (unsigned long long)seed);
        fflush(stdout);
        if (run_seed(seed) != 0)
            return 1;
        seed++;
        seeds++;
    } while (time(NULL) < end);
    printf("%d seeds passed\n", seeds);
    return 0;
}
