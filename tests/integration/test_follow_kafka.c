/* `lme-ingest run` following a growing file into a real Kafka-protocol broker (lme-mock-broker,
 * its own process: 3 brokers, a topic of 6 partitions), read back with kcat. A writer process
 * appends numbered records (`seq=NNNNNNN`, single-line and wrapped) at a steady rate while:
 *  - the daemon is SIGKILLed at random moments and restarted, resuming from its checkpoints:
 *    every record arrives, none is invented, duplicates are bounded and keep their event.id;
 *  - every broker is down: reading pauses once max_in_flight_bytes is spent, memory stays
 *    bounded however much is written, and once the brokers are back everything arrives.
 * The kill moments come from a seed printed at the start; LME_TEST_SEED=N repeats a run.
 * Usage: test_follow_kafka LME_INGEST FIXTURES_DIR MOCK_BROKER KCAT */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "events.h"
#include "proc.h"
#include "run_cmd.h"
#include "writer.h"

static const char *binary, *mock_tool, *kcat;
static char *tmp;

#define TOPIC "lme.events"
#define PARTITIONS 6
#define IN_FLIGHT_BYTES (1 << 20) /* the smallest budget the daemon accepts */
#define CHECKPOINT_MS 200

/* tmp/name into path (PATH_MAX bytes); returns path. */
static char *path_in_tmp(char *path, const char *name)
{
    snprintf(path, PATH_MAX, "%s/%s", tmp, name);
    return path;
}

/* Writes a config following dir/ *.log into the broker, with the short intervals these tests
 * need, to tmp/name; its path goes to path (PATH_MAX bytes). The mock cluster keeps only the last
 * 5 MiB of each partition (librdkafka's rdkafka_mock.c), which one partition of lz4 batches would
 * overflow within 70,000 events: so messages go without a key, spread over the partitions, and
 * zstd-compressed (twice as many fit), and the read-back can see every one. */
static void write_config_saving(const char *name, const char *dir, const char *brokers,
                                int checkpoint_ms, char *path)
{
    char text[4096], interval[64] = "";
    if (checkpoint_ms > 0) /* else the default */
        snprintf(interval, sizeof(interval), "\"checkpoint_interval_ms\":%d,", checkpoint_ms);
    int n = snprintf(text, sizeof(text),
                     "{\"host_name\":\"test-host\",\"state_dir\":\"%s/%s.state\","
                     "\"max_in_flight_bytes\":%d,%s"
                     "\"inputs\":[{\"type\":\"file\",\"paths\":[\"%s/*.log\"],\"timezone\":\"UTC\","
                     "\"start_at\":\"beginning\",\"multiline_flush_ms\":200}],"
                     "\"sinks\":[{\"type\":\"kafka\",\"brokers\":\"%s\",\"topic\":\"" TOPIC "\","
                     "\"key\":\"none\",\"rdkafka\":{\"compression.type\":\"zstd\"}}]}",
                     tmp, name, IN_FLIGHT_BYTES, interval, dir, brokers);
    path_in_tmp(path, name);
    assert_int_equal(write_file(path, text, (size_t)n), 0);
}

static void write_config(const char *name, const char *dir, const char *brokers, char *path)
{
    write_config_saving(name, dir, brokers, CHECKPOINT_MS, path);
}

static void start_broker(struct proc *mb, char *brokers, size_t size)
{
    static const char *const topics[] = { TOPIC ":6", NULL }; /* PARTITIONS */
    assert_int_equal(mock_broker_start(mock_tool, topics, mb, brokers, size), 0);
}

static void start_daemon(const char *cfg, const char *log, struct proc *d)
{
    assert_int_equal(proc_start((char *const[]){ (char *)binary, "run", "--config", (char *)cfg,
                                                 NULL }, log, d), 0);
}

/* Waits until the checkpoints say the whole file at path was settled: every record in it
 * acknowledged by the broker. Returns 1, or 0 after timeout_ms. */
static int wait_settled(const char *state_dir, const char *path, int timeout_ms)
{
    for (int64_t end = mono_ms() + timeout_ms; mono_ms() < end; sleep_ms(50)) {
        long long size = file_size(path);
        if (size > 0 && checkpoint_offset(state_dir, path) == size)
            return 1;
    }
    return 0;
}

/* The process's resident set in KiB, or -1. */
static long rss_kb(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long kb = -1;
    while (f && fgets(line, sizeof(line), f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            kb = atol(line + 6);
    if (f)
        fclose(f);
    return kb;
}

/* Bytes the process has read (read(2), pread(2)...: its files, not its sockets), or -1. */
static long long bytes_read(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/io", (int)pid);
    FILE *f = fopen(path, "r");
    long long n = -1;
    while (f && fgets(line, sizeof(line), f))
        if (strncmp(line, "rchar:", 6) == 0)
            n = atoll(line + 6);
    if (f)
        fclose(f);
    return n;
}

/* What the topic holds, by record number: how often each seq arrived, and the event.id of its
 * first copy. */
struct tally {
    uint32_t n;         /* seqs 0 .. n-1 were written */
    uint16_t *count;
    char (*id)[33];
    size_t messages;
    size_t duplicates;  /* copies beyond the first */
    size_t incidents;   /* incident events (not counted as records) */
    size_t shortest;    /* bytes of the shortest value */
    long long next_offset[PARTITIONS];
};

/* Reads the whole topic back with kcat and counts it into t. Fails the test on a value that is
 * not a JSON event of ours, a seq never written, a copy with another id, or a partition that does
 * not start at offset 0 and go on without a gap (then the mock dropped its oldest messages, and
 * what is missing would not be the daemon's doing). */
static void tally_topic(const char *brokers, uint32_t n, struct tally *t)
{
    *t = (struct tally){ .n = n, .count = calloc(n, sizeof(uint16_t)),
                         .id = calloc(n, sizeof(*t->id)), .shortest = SIZE_MAX };
    assert_non_null(t->count);
    assert_non_null(t->id);
    struct run_result res;
    assert_int_equal(run_cmd((char *const[]){ (char *)kcat, "-b", (char *)brokers, "-C", "-t", TOPIC,
                                              "-o", "beginning", "-e", "-q", "-f", "%p %o %s\n", NULL },
                             NULL, 0, &res), 0);
    if (res.status != 0)
        fprintf(stderr, "kcat: %s", res.err);
    assert_int_equal(res.status, 0);
    char *save = NULL;
    for (char *line = strtok_r(res.out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        t->messages++;
        int partition;
        long long offset;
        int skip = 0;
        if (sscanf(line, "%d %lld %n", &partition, &offset, &skip) != 2 || skip == 0 ||
            partition < 0 || partition >= PARTITIONS)
            fail_msg("kcat: unexpected line: %.200s", line);
        if (offset != t->next_offset[partition])
            fail_msg("partition %d: offset %lld where %lld was due: the mock broker dropped "
                     "messages (it keeps 5 MiB a partition), the read-back is incomplete",
                     partition, offset, t->next_offset[partition]);
        t->next_offset[partition]++;
        line += skip;
        size_t len = strlen(line);
        if (len < t->shortest)
            t->shortest = len;
        json_error_t jerr;
        json_t *ev = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
        if (!json_is_object(ev))
            fail_msg("message value is not a JSON object (%s): %s", jerr.text, line);
        events_seen(line, len);
        if (event_is_incident(ev)) { /* the writer's 41220s make incidents: not records */
            t->incidents++;
            json_decref(ev);
            continue;
        }
        long seq = writer_seq_of(event_str(ev, "event.original"));
        const char *id = event_str(ev, "event.id");
        if (seq < 0 || (uint32_t)seq >= n || !id || strlen(id) != 32)
            fail_msg("an event nobody wrote: %s", line);
        if (t->count[seq]++ == 0) {
            memcpy(t->id[seq], id, 33);
        } else {
            t->duplicates++;
            if (strcmp(t->id[seq], id) != 0)
                fail_msg("seq %ld delivered again with another event.id: %s, then %s", seq,
                         t->id[seq], id);
        }
        json_decref(ev);
    }
    run_result_free(&res);
}

/* Every seq written arrived (at least once). */
static void assert_all_arrived(const struct tally *t)
{
    size_t missing = 0;
    long first = -1;
    for (uint32_t s = 0; s < t->n; s++)
        if (t->count[s] == 0 && missing++ == 0)
            first = (long)s;
    if (missing)
        fail_msg("%zu of %u records never arrived (the first: seq=%07ld)", missing, t->n, first);
}

static void tally_free(struct tally *t)
{
    free(t->count);
    free(t->id);
}

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

#define KILL_RECORDS 200000

/* End offsets of the records a writer with this pad writes from seq 0: ends[seq]. */
static uint64_t *record_ends(uint32_t n, size_t pad)
{
    uint64_t *ends = malloc(n * sizeof(*ends)), at = 0;
    char buf[1024];
    for (uint32_t seq = 0; ends && seq < n; seq++)
        ends[seq] = at += writer_record(seq, pad, buf, sizeof(buf));
    return ends;
}

/* How many records have bytes in [from, to). */
static size_t records_between(const uint64_t *ends, uint32_t n, uint64_t from, uint64_t to)
{
    size_t first = 0, last = 0; /* first record ending after from; first starting at to or later */
    while (first < n && ends[first] <= from)
        first++;
    while (last < n && (last == 0 ? 0 : ends[last - 1]) < to)
        last++;
    return last > first ? last - first : 0;
}

static void test_kill_9_while_following_loses_nothing_and_resends_with_the_same_id(void **state)
{
    (void)state;
    const char *env = getenv("LME_TEST_SEED");
    unsigned seed = env && *env ? (unsigned)strtoul(env, NULL, 10)
                                : (unsigned)time(NULL) ^ ((unsigned)getpid() << 16);
    fprintf(stderr, "kill -9 test: seed=%u (LME_TEST_SEED=%u repeats it)\n", seed, seed);
    unsigned rnd = seed;
    int kills = 5 + rand_r(&rnd) % 4;

    struct proc mb, d;
    char brokers[512];
    start_broker(&mb, brokers, sizeof(brokers));
    /* a directory of its own, so that the input's glob matches only the followed file */
    char dir[PATH_MAX], log[PATH_MAX + 16], state_dir[PATH_MAX];
    assert_int_equal(mkdir(path_in_tmp(dir, "kill-logs"), 0755), 0);
    snprintf(log, sizeof(log), "%s/980317ZZ.log", dir);
    path_in_tmp(state_dir, "kill.json.state");
    char cfg[PATH_MAX];
    write_config("kill.json", dir, brokers, cfg);
    uint64_t *ends = record_ends(KILL_RECORDS, 0);
    assert_non_null(ends);

    /* 200,000 records over about 8 s: the kills fall while the file grows */
    struct writer_plan plan = { .path = log, .count = KILL_RECORDS, .burst = 1000,
                                .interval_ms = 40 };
    struct writer w;
    assert_int_equal(writer_start(&plan, &w), 0);
    int64_t t0 = mono_ms();
    /* What a kill may cost in re-sends: the records between the checkpoint saved at that moment
     * and what that run had read (read but not settled, or settled since the last save). */
    size_t resend_bound = 0;
    long long resumed_at = 0; /* where the run starts: the checkpoint the previous one left */
    for (int k = 0; k < kills; k++) {
        char name[32], err_log[PATH_MAX];
        snprintf(name, sizeof(name), "kill-%d.err", k);
        start_daemon(cfg, path_in_tmp(err_log, name), &d);
        int delay = 100 + rand_r(&rnd) % 1401;
        sleep_ms(delay);
        /* still running: it did not die on its own */
        assert_int_equal(proc_wait(&d, 0), -1);
        /* frozen, so that what it saved and what it read stay as measured until it dies */
        assert_int_equal(kill(d.pid, SIGSTOP), 0);
        int st;
        assert_int_equal(waitpid(d.pid, &st, WUNTRACED), d.pid);
        assert_true(WIFSTOPPED(st));
        long long saved = checkpoint_offset(state_dir, log), size = file_size(log);
        long long read = resumed_at + bytes_read(d.pid); /* rchar: an upper bound */
        assert_int_equal(kill(d.pid, SIGKILL), 0);
        assert_int_equal(proc_wait(&d, 5000), 128 + SIGKILL);
        proc_stop(&d);
        if (saved < 0)
            saved = 0; /* no checkpoint yet: the next run starts at the beginning */
        assert_true(saved >= resumed_at); /* a checkpoint never goes back */
        size_t at_risk = records_between(ends, KILL_RECORDS, (uint64_t)saved, (uint64_t)read);
        resend_bound += at_risk;
        fprintf(stderr,
                "kill %d at +%lld ms, %d ms after its start: file %lld bytes, checkpoint %lld, "
                "read up to %lld (%zu records may be sent again)\n",
                k + 1, (long long)(mono_ms() - t0), delay, size, saved, read, at_risk);
        resumed_at = saved;
    }

    /* the last run sees the writer finish, settles everything, and stops on SIGTERM */
    char last_log[PATH_MAX];
    path_in_tmp(last_log, "kill-last.err");
    start_daemon(cfg, last_log, &d);
    assert_int_equal(writer_wait(&w, 60000), 0);
    long long size = file_size(log);
    assert_int_equal(size, (long long)ends[KILL_RECORDS - 1]);
    int settled = wait_settled(state_dir, log, 60000);
    if (!settled)
        fprintf(stderr, "checkpoint %lld of %lld bytes\n", checkpoint_offset(state_dir, log), size);
    assert_true(settled);
    /* signals before its handlers are in place would kill it: wait until it says it runs */
    assert_true(file_wait_for(last_log, "msg=started", 10000));
    assert_int_equal(kill(d.pid, SIGTERM), 0);
    assert_int_equal(proc_wait(&d, 30000), 0);
    proc_stop(&d);
    char *text = read_file(last_log, NULL);
    assert_non_null(text);
    assert_true(log_files_settled(text, dir, -1));
    free(text);
    fprintf(stderr, "kill -9 test: %d kills, everything settled at +%lld ms (%lld bytes)\n", kills,
            (long long)(mono_ms() - t0), size);

    struct tally t;
    tally_topic(brokers, KILL_RECORDS, &t);
    assert_all_arrived(&t);
    size_t window = IN_FLIGHT_BYTES / t.shortest + 1; /* events one in-flight budget holds */
    fprintf(stderr,
            "kill -9 test: %zu messages for %u records: %zu duplicates (at most %zu: what each "
            "kill left read but not saved as settled; %d kills x %zu events in flight = %zu), "
            "wall %lld ms\n",
            t.messages, t.n, t.duplicates, resend_bound, kills, window, (size_t)kills * window,
            (long long)(mono_ms() - t0));
    assert_true(t.duplicates <= resend_bound);
    tally_free(&t);
    free(ends);
    proc_stop(&mb);
}

#define STEADY_RECORDS 40000 /* 10 s at 4,000 records/s */
#define STEADY_RESEND_LIMIT 10000

/* The issue-14 scenario: a writer at 4,000 records/s and two kill -9, 3 and 4 s apart, with the
 * default checkpoint_interval_ms. Checkpoints follow the acknowledgements within a second, so
 * what a crash sends again is what was in flight plus about a second of input, not what a 5 s
 * timer let pile up (37,539 of 40,000 records were sent twice when checkpoints were saved every
 * 5 s from a timer). */
static void test_kill_9_resends_about_a_second_of_input_not_a_timer(void **state)
{
    (void)state;
    struct proc mb, d;
    char brokers[512];
    start_broker(&mb, brokers, sizeof(brokers));
    char dir[PATH_MAX], log[PATH_MAX + 16], cfg[PATH_MAX];
    assert_int_equal(mkdir(path_in_tmp(dir, "steady-logs"), 0755), 0);
    snprintf(log, sizeof(log), "%s/980317ZZ.log", dir);
    write_config_saving("steady.json", dir, brokers, 0, cfg);
    struct writer_plan plan = { .path = log, .count = STEADY_RECORDS, .burst = 40,
                                .interval_ms = 10 };
    struct writer w;
    assert_int_equal(writer_start(&plan, &w), 0);
    static const int run_ms[] = { 3000, 4000 };
    for (int k = 0; k < 2; k++) {
        char name[32], err_log[PATH_MAX];
        snprintf(name, sizeof(name), "steady-%d.err", k);
        start_daemon(cfg, path_in_tmp(err_log, name), &d);
        sleep_ms(run_ms[k]);
        assert_int_equal(proc_wait(&d, 0), -1); /* still running */
        assert_int_equal(kill(d.pid, SIGKILL), 0);
        assert_int_equal(proc_wait(&d, 5000), 128 + SIGKILL);
        proc_stop(&d);
    }
    char last_log[PATH_MAX], state_dir[PATH_MAX];
    start_daemon(cfg, path_in_tmp(last_log, "steady-last.err"), &d);
    assert_int_equal(writer_wait(&w, 60000), 0);
    assert_true(wait_settled(path_in_tmp(state_dir, "steady.json.state"), log, 60000));
    assert_true(file_wait_for(last_log, "msg=started", 10000));
    assert_int_equal(kill(d.pid, SIGTERM), 0);
    assert_int_equal(proc_wait(&d, 30000), 0);
    proc_stop(&d);

    struct tally t;
    tally_topic(brokers, STEADY_RECORDS, &t);
    assert_all_arrived(&t);
    fprintf(stderr, "steady writer, two kill -9: %zu messages for %u records, %zu sent again "
                    "(at most %d)\n", t.messages, t.n, t.duplicates, STEADY_RESEND_LIMIT);
    assert_true(t.duplicates <= STEADY_RESEND_LIMIT);
    tally_free(&t);
    proc_stop(&mb);
}

#define DOWN_FIRST 10000   /* written and settled while the brokers are up */
#define DOWN_RECORDS 100000 /* written while they are down */
#define RSS_GROWTH_LIMIT_KB (16 * 1024) /* what an outage may add */

static void test_brokers_down_pause_reading_and_bound_memory_then_everything_arrives(void **state)
{
    (void)state;
    struct proc mb, d;
    char brokers[512];
    start_broker(&mb, brokers, sizeof(brokers));
    /* a directory of its own, so that the input's glob matches only the followed file */
    char dir[PATH_MAX], log[PATH_MAX + 16], state_dir[PATH_MAX];
    assert_int_equal(mkdir(path_in_tmp(dir, "down-logs"), 0755), 0);
    snprintf(log, sizeof(log), "%s/980317ZZ.log", dir);
    path_in_tmp(state_dir, "down.json.state");
    char cfg[PATH_MAX];
    write_config("down.json", dir, brokers, cfg);
    char err_log[PATH_MAX];
    path_in_tmp(err_log, "down.err");
    start_daemon(cfg, err_log, &d);
    int64_t t0 = mono_ms();

    struct writer w;
    struct writer_plan plan = { .path = log, .count = DOWN_FIRST, .burst = 2000, .interval_ms = 10,
                                .pad = 40 };
    assert_int_equal(writer_start(&plan, &w), 0);
    assert_int_equal(writer_wait(&w, 30000), 0);
    assert_true(wait_settled(state_dir, log, 30000));
    long long before = file_size(log);
    long base_kb = rss_kb(d.pid);

    assert_int_equal(mock_broker_command(&mb, "down"), 0);
    long long read_at_down = bytes_read(d.pid);
    assert_true(read_at_down > 0);
    /* ~15 MB while nobody acknowledges: 15 times the in-flight budget */
    plan = (struct writer_plan){ .path = log, .first_seq = DOWN_FIRST, .count = DOWN_RECORDS,
                                 .burst = 1000, .interval_ms = 30, .pad = 40 };
    assert_int_equal(writer_start(&plan, &w), 0);
    long peak_kb = base_kb;
    int64_t writer_done = 0;
    for (;;) { /* sample while the writer writes, and one second more */
        long kb = rss_kb(d.pid);
        assert_true(kb > 0); /* still running */
        if (kb > peak_kb)
            peak_kb = kb;
        int wrote = writer_done ? 0 : writer_wait(&w, 0);
        if (!writer_done && wrote != 1) {
            assert_int_equal(wrote, 0);
            writer_done = mono_ms();
        }
        if (writer_done && mono_ms() - writer_done >= 1000)
            break;
        assert_true(mono_ms() - t0 < 60000);
        sleep_ms(100);
    }
    long long written = file_size(log) - before;
    long long read_down = bytes_read(d.pid) - read_at_down;
    long long settled_down = checkpoint_offset(state_dir, log);
    fprintf(stderr,
            "brokers down: %lld bytes written, %lld read; RSS %ld kB before, peak %ld kB; "
            "settled %lld (before: %lld)\n",
            written, read_down, base_kb, peak_kb, settled_down, before);
    assert_true(file_wait_for(err_log, "kafka: retrying", 1000)); /* it saw the trouble */
    assert_int_equal(settled_down, before); /* nothing acknowledged, nothing settled */
    /* bounded: what the outage adds stays small, whatever the process held before it (one CI
     * run saw 94 MB before the outage, under load, where runs alone see 15 MB: the absolute
     * figure belongs to the benchmark, the growth to this test) */
    assert_true((peak_kb - base_kb) < RSS_GROWTH_LIMIT_KB);
    assert_true((peak_kb - base_kb) * 1024 < written / 4); /* not growing with what is written */
    /* reading paused: past the settled offset, at most the read chunk (1 MiB) that was being
     * parsed when the budget ran out */
    assert_true(read_down <= 4LL << 20);

    assert_int_equal(mock_broker_command(&mb, "up"), 0);
    int64_t up_at = mono_ms();
    long catch_up_kb = 0;
    int settled = 0;
    for (int64_t end = mono_ms() + 60000; !settled && mono_ms() < end; sleep_ms(50)) {
        long kb = rss_kb(d.pid);
        if (kb > catch_up_kb)
            catch_up_kb = kb;
        settled = checkpoint_offset(state_dir, log) == file_size(log);
    }
    fprintf(stderr, "brokers up: %s after %lld ms, peak RSS meanwhile %ld kB\n",
            settled ? "everything settled" : "NOT everything settled", (long long)(mono_ms() - up_at),
            catch_up_kb);
    assert_true(settled);
    assert_int_equal(kill(d.pid, SIGTERM), 0);
    assert_int_equal(proc_wait(&d, 30000), 0);
    proc_stop(&d);
    char *text = read_file(err_log, NULL);
    assert_non_null(text);
    assert_true(log_files_settled(text, dir, -1));
    free(text);

    struct tally t;
    tally_topic(brokers, DOWN_FIRST + DOWN_RECORDS, &t);
    assert_all_arrived(&t);
    fprintf(stderr, "brokers down test: %zu messages for %u records (%zu duplicates), wall %lld ms\n",
            t.messages, t.n, t.duplicates, (long long)(mono_ms() - t0));
    tally_free(&t);
    proc_stop(&mb);
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: %s LME_INGEST FIXTURES_DIR MOCK_BROKER KCAT\n", argv[0]);
        return 2;
    }
    binary = argv[1];
    mock_tool = argv[3];
    kcat = argv[4];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kill_9_resends_about_a_second_of_input_not_a_timer),
        cmocka_unit_test(test_kill_9_while_following_loses_nothing_and_resends_with_the_same_id),
        cmocka_unit_test(test_brokers_down_pause_reading_and_bound_memory_then_everything_arrives),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
