/* tail-bench LME_INGEST BOOTSTRAP RATE SECONDS WORKDIR [FLUSH_MS [RDKAFKA]]: the tailing
 * scenario of the benchmark (bench/tail.sh drives it). It writes a daemon config into WORKDIR,
 * starts `lme-ingest run` (following, no --once) on WORKDIR/tail.log with a Kafka sink to
 * BOOTSTRAP, then appends RATE records a second for SECONDS seconds to that file (one write(2) a
 * millisecond, whole records only, one in ten wrapped over three lines), while a consumer thread
 * reads lme.events back. Every record carries `seq=N t=NS`, NS being CLOCK_REALTIME just before
 * its write; a message's latency is its receive time minus t. So it is measured at a consumer:
 * write -> read by the daemon -> produced -> acknowledged by the broker -> fetched (with
 * fetch.wait.max.ms=5), an upper bound of write-to-acknowledgement.
 *
 * Reports (stdout) what was written and received (every record exactly once, or exit 1), the
 * writer's achieved rate, the rate the daemon sustained while the writer ran, the lag when the
 * writer stopped and the time to drain it, latency percentiles, the daemon's CPU time and peak
 * RSS; the last line, `result ...`, is key=value pairs for the script. Then it SIGTERMs the
 * daemon and expects exit 0. Progress, once a second, goes to stderr. The daemon's own log is
 * WORKDIR/daemon.log. FLUSH_MS is the input's multiline_flush_ms (default 100): only the very
 * last record written waits for it, since a record is complete when the next one's header
 * arrives; its latency is reported apart. RDKAFKA, a JSON object, becomes the sink's `rdkafka`
 * (producer settings over the defaults, e.g. {"linger.ms":5}). */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define TOPIC "lme.events"
#define TICK_NS 1000000LL         /* the writer appends once a millisecond */
#define WRITE_BUF (8 << 20)       /* largest single append (a writer far behind catches up) */
#define READY_TIMEOUT_MS 30000    /* daemon start, warm-up record */
#define DRAIN_TIMEOUT_MS 120000   /* after the writer stops */
#define STOP_TIMEOUT_MS 30000     /* SIGTERM to exit */
#define MAX_RECORD 512

struct bench {
    const char *lme, *brokers, *work, *rdkafka; /* rdkafka: JSON object text, or NULL */
    uint64_t rate, seconds, total; /* total: records of the timed run, seq 1..total */
    int flush_ms;
    char log_path[PATH_MAX], config_path[PATH_MAX], state_path[PATH_MAX], daemon_log[PATH_MAX];
    pid_t daemon;

    rd_kafka_t *rk;
    pthread_t consumer;
    atomic_bool stop_consumer;
    atomic_uint_fast64_t received;   /* distinct records (seq 0 = warm-up included) */
    atomic_uint_fast64_t duplicates, foreign, consume_errors, parse_failures, incident_events;
    int64_t *latency_ns;             /* per seq, -1 until received; written by the consumer */
};

static int64_t clock_ns(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };
    nanosleep(&ts, NULL);
}

/* ---- records ---- */

struct message {
    const char *code, *text, *module;
    int level, line;
};

/* Real code/message pairs (as in corpus_gen.c); components vary so that keys spread over
 * partitions (the sink's key is host/component). */
static const struct message messages[] = {
    { "41220", "Error: no Notes Session Open", "ntshcs", 1, 2317 },
    { "01211",
      "Error {Timeout on resource lock}: Unable to lock the LME-NOTESOPEN shared memory object",
      "ntshcs", 2, 1765 },
    { "41207", "Successfully Initialized Notes Interface", "ntshcs", 3, 1480 },
    { "00019",
      "The value of the NOTESSERVER keyword in the LME-NOTES-NTSMEX section is 'Test/Notes'",
      "ntshcs", 4, 3935 },
    { "60277", "Opening the MIF read queue dxm.in", "mif", 4, 362 },
    { "62501", "Starting DX work item 327 for agent LINKAGE(DXAMEX): RequestDXAUpdates Full",
      "dxmpo", 3, 417 },
};
#define N_MESSAGES (sizeof(messages) / sizeof(messages[0]))

static const char *const components[] = {
    "LME-NOTES-MEXNTS", "LME-NOTES-NTSMEX", "LME-NOTES-DXANOTES",
    "DXM",              "DXAMEX",           "CONTROL-SERVICE",
};
#define N_COMPONENTS (sizeof(components) / sizeof(components[0]))

/* A record is date + head + seq + " t=" + ns + tail; head and tail are prepared once. */
struct shape {
    char head[256], tail[64];
    size_t head_len, tail_len;
};

static struct shape shapes[N_MESSAGES][N_COMPONENTS][2]; /* [..][..][wrapped] */

static void shapes_init(void)
{
    for (size_t m = 0; m < N_MESSAGES; m++) {
        const struct message *msg = &messages[m];
        size_t len = strlen(msg->text);
        const char *cut = strchr(msg->text + len / 2, ' ');
        for (size_t c = 0; c < N_COMPONENTS; c++) {
            struct shape *one = &shapes[m][c][0], *wrapped = &shapes[m][c][1];
            one->head_len =
                (size_t)snprintf(one->head, sizeof(one->head), " - %s(018b) %d %s:%s seq=",
                                 components[c], msg->level, msg->code, msg->text);
            one->tail_len = (size_t)snprintf(one->tail, sizeof(one->tail), " >> %s(%d)\r\n",
                                             msg->module, msg->line);
            /* wrapped as the connector does: text cut after a word, trailer on its own line */
            wrapped->head_len = (size_t)snprintf(wrapped->head, sizeof(wrapped->head),
                                                 " - %s(018b) %d %s:%.*s\r\n%s seq=", components[c],
                                                 msg->level, msg->code, (int)(cut - msg->text),
                                                 msg->text, cut + 1);
            wrapped->tail_len = (size_t)snprintf(wrapped->tail, sizeof(wrapped->tail),
                                                 "\r\n>> %s(%d)\r\n", msg->module, msg->line);
        }
    }
}

static char *put_u64(char *p, uint64_t v)
{
    char digits[20];
    int n = 0;
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = digits[--n];
    return p;
}

/* Formats record seq written at real time t_ns into p (MAX_RECORD bytes); returns its end. */
static char *put_record(char *p, uint64_t seq, int64_t t_ns, const char date[20])
{
    size_t m = seq % N_MESSAGES, c = (seq / N_MESSAGES) % N_COMPONENTS;
    const struct shape *s = &shapes[m][c][seq % 10 == 7];
    memcpy(p, date, 19);
    p += 19;
    memcpy(p, s->head, s->head_len);
    p = put_u64(p + s->head_len, seq);
    memcpy(p, " t=", 3);
    p = put_u64(p + 3, (uint64_t)t_ns);
    memcpy(p, s->tail, s->tail_len);
    return p + s->tail_len;
}

/* The header's date, YYYY/MM/DD HH:MM:SS in UTC (the input's zone), remade once a second. */
static void format_date(int64_t t_ns, char date[20], time_t *cached)
{
    time_t sec = (time_t)(t_ns / 1000000000);
    if (sec == *cached)
        return;
    struct tm tm;
    gmtime_r(&sec, &tm);
    strftime(date, 20, "%Y/%m/%d %H:%M:%S", &tm);
    *cached = sec;
}

static int write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Appends records first .. first + count - 1 in one write(2), all stamped with now. */
static int append_records(int fd, char *buf, uint64_t first, uint64_t count, char date[20],
                          time_t *cached)
{
    int64_t t = clock_ns(CLOCK_REALTIME);
    format_date(t, date, cached);
    char *p = buf;
    for (uint64_t seq = first; seq < first + count; seq++)
        p = put_record(p, seq, t, date);
    return write_all(fd, buf, (size_t)(p - buf));
}

/* ---- the consumer ---- */

/* The number after `key` in the payload, or -1. */
static int64_t number_after(const char *payload, size_t len, const char *key, size_t key_len)
{
    const char *p = memmem(payload, len, key, key_len);
    if (!p)
        return -1;
    p += key_len;
    const char *end = payload + len;
    int64_t v = 0;
    if (p >= end || *p < '0' || *p > '9')
        return -1;
    for (; p < end && *p >= '0' && *p <= '9'; p++)
        v = v * 10 + (*p - '0');
    return v;
}

static void consume_one(struct bench *b, const rd_kafka_message_t *msg)
{
    int64_t now = clock_ns(CLOCK_REALTIME);
    if (msg->err) {
        atomic_fetch_add(&b->consume_errors, 1);
        fprintf(stderr, "tail-bench: consumer: %s\n", rd_kafka_message_errstr(msg));
        return;
    }
    const char *payload = msg->payload;
    /* the writer's 41220s and 41207s make incidents: their events are not records, and their
     * diagnosis quotes other records' text, seq= included */
    static const char incident[] = "\"dataset\":\"lme.incident\"";
    if (memmem(payload, msg->len, incident, sizeof(incident) - 1)) {
        atomic_fetch_add(&b->incident_events, 1);
        return;
    }
    /* the first "seq=" is in event.original (or in message, which holds the same text) */
    const char *at = memmem(payload, msg->len, "seq=", 4);
    size_t rest = at ? msg->len - (size_t)(at - payload) : 0;
    int64_t seq = at ? number_after(at, rest, "seq=", 4) : -1;
    int64_t t = at ? number_after(at, rest, " t=", 3) : -1;
    if (seq < 0 || t < 0 || (uint64_t)seq > b->total) {
        atomic_fetch_add(&b->foreign, 1);
        return;
    }
    if (b->latency_ns[seq] >= 0) {
        atomic_fetch_add(&b->duplicates, 1);
        return;
    }
    b->latency_ns[seq] = now - t;
    atomic_fetch_add(&b->received, 1);
    if (memmem(payload, msg->len, "lme_parse_failure", 17))
        atomic_fetch_add(&b->parse_failures, 1);
}

static void *consumer_main(void *arg)
{
    struct bench *b = arg;
    while (!atomic_load(&b->stop_consumer)) {
        rd_kafka_message_t *msg = rd_kafka_consumer_poll(b->rk, 100);
        if (!msg)
            continue;
        consume_one(b, msg);
        rd_kafka_message_destroy(msg);
    }
    return NULL;
}

static int conf_set(rd_kafka_conf_t *conf, const char *name, const char *value)
{
    char errstr[512];
    if (rd_kafka_conf_set(conf, name, value, errstr, sizeof(errstr)) == RD_KAFKA_CONF_OK)
        return 0;
    fprintf(stderr, "tail-bench: consumer %s: %s\n", name, errstr);
    return -1;
}

/* Creates the consumer and assigns it every partition of the topic at its current end, so
 * messages left by earlier runs on the same cluster are not read. Returns 0 or -1. */
static int consumer_create(struct bench *b)
{
    char group[64], errstr[512];
    snprintf(group, sizeof(group), "lme-tail-bench-%ld", (long)getpid());
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (conf_set(conf, "bootstrap.servers", b->brokers) || conf_set(conf, "group.id", group) ||
        conf_set(conf, "client.id", "lme-tail-bench") ||
        conf_set(conf, "enable.auto.commit", "false") ||
        conf_set(conf, "auto.offset.reset", "earliest") ||
        conf_set(conf, "fetch.wait.max.ms", "5") || conf_set(conf, "fetch.min.bytes", "1")) {
        rd_kafka_conf_destroy(conf);
        return -1;
    }
    if (!(b->rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr)))) {
        fprintf(stderr, "tail-bench: consumer: %s\n", errstr);
        return -1;
    }
    rd_kafka_poll_set_consumer(b->rk);
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(b->rk, TOPIC, NULL);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t e = rd_kafka_metadata(b->rk, 0, rkt, &md, 10000);
    rd_kafka_topic_destroy(rkt);
    if (e || md->topic_cnt != 1 || md->topics[0].err || md->topics[0].partition_cnt == 0) {
        if (!e)
            e = md->topic_cnt ? md->topics[0].err : RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC;
        fprintf(stderr, "tail-bench: no topic %s at %s: %s\n", TOPIC, b->brokers,
                rd_kafka_err2str(e ? e : RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC)); /* no partitions */
        if (md)
            rd_kafka_metadata_destroy(md);
        return -1;
    }
    int partitions = md->topics[0].partition_cnt;
    rd_kafka_metadata_destroy(md);
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(partitions);
    for (int32_t i = 0; i < partitions; i++) {
        int64_t low, high;
        if ((e = rd_kafka_query_watermark_offsets(b->rk, TOPIC, i, &low, &high, 10000))) {
            fprintf(stderr, "tail-bench: watermarks of partition %d: %s\n", (int)i,
                    rd_kafka_err2str(e));
            rd_kafka_topic_partition_list_destroy(list);
            return -1;
        }
        rd_kafka_topic_partition_list_add(list, TOPIC, i)->offset = high;
    }
    e = rd_kafka_assign(b->rk, list);
    rd_kafka_topic_partition_list_destroy(list);
    if (e) {
        fprintf(stderr, "tail-bench: assign: %s\n", rd_kafka_err2str(e));
        return -1;
    }
    printf("consumer: %d partitions of %s, from their current end\n", partitions, TOPIC);
    return 0;
}

/* ---- the daemon ---- */

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

/* A fresh WORKDIR/tail.log (empty) and state dir, and the daemon's config. Returns 0 or -1. */
static int prepare_workdir(struct bench *b)
{
    if (mkdir(b->work, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "tail-bench: %s: %s\n", b->work, strerror(errno));
        return -1;
    }
    snprintf(b->log_path, sizeof(b->log_path), "%s/tail.log", b->work);
    snprintf(b->state_path, sizeof(b->state_path), "%s/state", b->work);
    snprintf(b->config_path, sizeof(b->config_path), "%s/tail-bench.json", b->work);
    snprintf(b->daemon_log, sizeof(b->daemon_log), "%s/daemon.log", b->work);
    nftw(b->state_path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    int fd = open(b->log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    FILE *f = fopen(b->config_path, "w");
    if (fd < 0 || !f) {
        fprintf(stderr, "tail-bench: cannot create files in %s: %s\n", b->work, strerror(errno));
        if (f)
            fclose(f);
        return -1;
    }
    close(fd);
    fprintf(f,
            "{\"host_name\":\"bench\",\"state_dir\":\"%s\",\n"
            " \"inputs\":[{\"type\":\"file\",\"paths\":[\"%s\"],\"timezone\":\"UTC\","
            "\"multiline_flush_ms\":%d}],\n"
            " \"sinks\":[{\"type\":\"kafka\",\"brokers\":\"%s\",\"topic\":\"%s\"%s%s}]}\n",
            b->state_path, b->log_path, b->flush_ms, b->brokers, TOPIC,
            b->rdkafka ? ",\"rdkafka\":" : "", b->rdkafka ? b->rdkafka : "");
    return fclose(f) == 0 ? 0 : -1;
}

static pid_t daemon_start(const struct bench *b)
{
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    int out = open("/dev/null", O_WRONLY);
    int err = open(b->daemon_log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (out < 0 || err < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
        _exit(127);
    execl(b->lme, b->lme, "run", "--config", b->config_path, (char *)NULL);
    _exit(127);
}

/* Whether the file holds text, checked every 20 ms up to timeout_ms. */
static bool file_wait_for(const char *path, const char *text, int timeout_ms)
{
    for (int waited = 0; waited <= timeout_ms; waited += 20) {
        FILE *f = fopen(path, "r");
        char line[4096];
        while (f && fgets(line, sizeof(line), f))
            if (strstr(line, text)) {
                fclose(f);
                return true;
            }
        if (f)
            fclose(f);
        sleep_ms(20);
    }
    return false;
}

/* CPU seconds (user + system) the process used so far, from /proc; -1 when unknown. */
static double proc_cpu_s(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    unsigned long utime, stime;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime,
                     &stime) != 2)
        return -1;
    return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

/* Bytes the daemon has read with read(2)/pread(2) so far (rchar of /proc/PID/io): its log file,
 * and a little of inotify and librdkafka's wake-ups (its sockets use recvmsg, not counted); -1
 * when unknown. Tells reading lag apart from delivery lag in the progress lines. */
static long long daemon_read_bytes(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%ld/io", (long)pid);
    FILE *f = fopen(path, "r");
    long long rchar = -1;
    if (f && fscanf(f, "rchar: %lld", &rchar) != 1)
        rchar = -1;
    if (f)
        fclose(f);
    return rchar;
}

/* Sends SIGTERM and waits for the exit; returns its exit code, 128 + signal, or -1 on timeout
 * (then it is killed). ru gets its resource usage. */
static int daemon_stop(pid_t pid, struct rusage *ru)
{
    kill(pid, SIGTERM);
    int status;
    for (int waited = 0; waited < STOP_TIMEOUT_MS; waited += 10) {
        pid_t got = wait4(pid, &status, WNOHANG, ru);
        if (got == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        sleep_ms(10);
    }
    kill(pid, SIGKILL);
    wait4(pid, &status, 0, ru);
    return -1;
}

/* ---- the run ---- */

struct outcome {
    double write_s;            /* first to last append */
    uint64_t received_at_end;  /* timed records received when the writer stopped */
    double drain_s;            /* writer stopped -> every record received; -1: never */
    double drain_but_last_s;   /* the same without the last record (which waits FLUSH_MS) */
    double cpu_s;              /* the daemon's, from the first append to the drain's end */
    double wall_s;
    long rss_kb;
    int exit_code;
};

/* Timed records received so far: once the warm-up (seq 0) came back, it is counted too. */
static uint64_t received_timed(struct bench *b)
{
    return atomic_load(&b->received) - 1;
}

/* Waits until the consumer holds n distinct records (warm-up included) or timeout_ms passes. */
static bool wait_received(struct bench *b, uint64_t n, int timeout_ms)
{
    int64_t deadline = clock_ns(CLOCK_MONOTONIC) + (int64_t)timeout_ms * 1000000;
    while (atomic_load(&b->received) < n) {
        if (clock_ns(CLOCK_MONOTONIC) > deadline)
            return false;
        sleep_ms(1);
    }
    return true;
}

/* Appends seq 1..total at the fixed rate: at each millisecond tick, every record due by then. */
static int writer_run(struct bench *b, int fd, char *buf, struct outcome *o)
{
    char date[20];
    time_t cached = -1;
    int64_t start = clock_ns(CLOCK_MONOTONIC), last = start;
    uint64_t written = 0, max_batch = WRITE_BUF / MAX_RECORD;
    long long size0 = lseek(fd, 0, SEEK_END), size = size0, read0 = daemon_read_bytes(b->daemon);
    uint64_t last_received = 0;
    for (int64_t tick = 1; written < b->total; tick++) {
        struct timespec due_at = { (time_t)((start + tick * TICK_NS) / 1000000000),
                                   (long)((start + tick * TICK_NS) % 1000000000) };
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &due_at, NULL);
        int64_t now = clock_ns(CLOCK_MONOTONIC);
        uint64_t due = (uint64_t)((double)(now - start) * (double)b->rate / 1e9);
        if (due > b->total)
            due = b->total;
        while (written < due) {
            uint64_t n = due - written < max_batch ? due - written : max_batch;
            if (append_records(fd, buf, written + 1, n, date, &cached) != 0) {
                fprintf(stderr, "tail-bench: write %s: %s\n", b->log_path, strerror(errno));
                return -1;
            }
            written += n;
        }
        size = lseek(fd, 0, SEEK_CUR);
        last = clock_ns(CLOCK_MONOTONIC);
        if (tick % 1000 == 0) {
            uint64_t got = received_timed(b);
            long long read = daemon_read_bytes(b->daemon);
            fprintf(stderr, "tail-bench: %3" PRId64 " s: written %" PRIu64 ", received %" PRIu64
                    " (+%" PRIu64 "/s), lag %" PRIu64 " records; daemon read %.1f of %.1f MB\n",
                    tick / 1000, written, got, got - last_received, written - got,
                    (double)(read - read0) / 1e6, (double)(size - size0) / 1e6);
            last_received = got;
        }
    }
    o->write_s = (double)(last - start) / 1e9;
    o->received_at_end = received_timed(b);
    return 0;
}

/* After the writer: waits for every record, timing the drain with and without the last one. */
static void drain(struct bench *b, struct outcome *o)
{
    int64_t stopped = clock_ns(CLOCK_MONOTONIC);
    o->drain_but_last_s = o->drain_s = -1;
    int64_t deadline = stopped + (int64_t)DRAIN_TIMEOUT_MS * 1000000;
    while (clock_ns(CLOCK_MONOTONIC) < deadline) {
        uint64_t got = received_timed(b);
        double since = (double)(clock_ns(CLOCK_MONOTONIC) - stopped) / 1e9;
        if (o->drain_but_last_s < 0 && got >= b->total - 1)
            o->drain_but_last_s = since;
        if (got >= b->total) {
            o->drain_s = since;
            return;
        }
        sleep_ms(1);
    }
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static double ms(int64_t ns)
{
    return (double)ns / 1e6;
}

static double tv_s(struct timeval tv)
{
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

static int report(struct bench *b, const struct outcome *o)
{
    uint64_t missing = 0;
    for (uint64_t seq = 0; seq <= b->total; seq++)
        missing += b->latency_ns[seq] < 0;
    uint64_t received = atomic_load(&b->received) - (b->latency_ns[0] >= 0);
    uint64_t dups = atomic_load(&b->duplicates), foreign = atomic_load(&b->foreign);
    uint64_t failures = atomic_load(&b->parse_failures), errors = atomic_load(&b->consume_errors);
    /* percentiles over seq 1 .. total-1: the last record waits multiline_flush_ms by design */
    int64_t last = b->latency_ns[b->total];
    size_t n = 0;
    int64_t *v = malloc(b->total * sizeof(*v));
    for (uint64_t seq = 1; v && seq < b->total; seq++)
        if (b->latency_ns[seq] >= 0)
            v[n++] = b->latency_ns[seq];
    if (!v || n == 0) {
        fprintf(stderr, "tail-bench: no latency to report\n");
        free(v);
        return -1;
    }
    qsort(v, n, sizeof(*v), cmp_i64);
    int64_t p50 = v[n * 50 / 100], p90 = v[n * 90 / 100], p99 = v[n * 99 / 100], max = v[n - 1];
    free(v);

    double writer_rate = (double)b->total / o->write_s;
    double sustained = (double)o->received_at_end / o->write_s;
    uint64_t lag = b->total - o->received_at_end;
    bool kept_up = o->drain_but_last_s >= 0 && o->drain_but_last_s <= 1.0;
    double cpu_pct = 100.0 * o->cpu_s / o->wall_s;
    printf("latency: measured at a consumer (write -> daemon -> broker acknowledgement -> fetch, "
           "fetch.wait.max.ms=5): an upper bound of write-to-acknowledgement\n");
    printf("records: written %" PRIu64 " (+1 warm-up), received %" PRIu64 " distinct, %" PRIu64
           " duplicates, %" PRIu64 " missing, %" PRIu64 " unrecognised messages, %" PRIu64
           " tagged lme_parse_failure, %" PRIu64 " consumer errors; %" PRIu64
           " incident events (docs/incidents.md)\n",
           b->total, received, dups, missing, foreign, failures, errors,
           (uint64_t)atomic_load(&b->incident_events));
    printf("writer: %.0f records/s achieved over %.3f s (target %" PRIu64 ")\n", writer_rate,
           o->write_s, b->rate);
    printf("daemon: sustained %.0f records/s while the writer ran; lag when it stopped %" PRIu64
           " records; drained all but the last in %.3f s, all in %.3f s (last waits "
           "multiline_flush_ms=%d); kept up: %s\n",
           sustained, lag, o->drain_but_last_s, o->drain_s, b->flush_ms, kept_up ? "yes" : "no");
    printf("latency ms (all but the last record): p50 %.1f, p90 %.1f, p99 %.1f, max %.1f; last "
           "record %.1f\n", ms(p50), ms(p90), ms(p99), ms(max), last >= 0 ? ms(last) : -1.0);
    printf("daemon: %.2f CPU s over %.2f s (%.0f%% of one core), peak RSS %.1f MB, exit %d\n",
           o->cpu_s, o->wall_s, cpu_pct, (double)o->rss_kb / 1024, o->exit_code);
    struct rusage self, children;
    getrusage(RUSAGE_SELF, &self);
    getrusage(RUSAGE_CHILDREN, &children);
    double self_s = tv_s(self.ru_utime) + tv_s(self.ru_stime);
    double all_s = self_s + tv_s(children.ru_utime) + tv_s(children.ru_stime);
    printf("tail-bench itself (writer + consumer): %.2f CPU s; with the daemon, whole lifetime: "
           "%.2f CPU s\n", self_s, all_s);
    printf("result rate=%" PRIu64 " written=%" PRIu64 " received=%" PRIu64 " duplicates=%" PRIu64
           " writer_rate=%.0f sustained=%.0f lag_end=%" PRIu64 " drain_s=%.3f drain_but_last_s=%.3f"
           " kept_up=%s p50_ms=%.1f p90_ms=%.1f p99_ms=%.1f max_ms=%.1f last_ms=%.1f cpu_s=%.2f"
           " cpu_pct=%.0f rss_mb=%.1f exit=%d flush_ms=%d bench_cpu_s=%.2f all_cpu_s=%.2f\n",
           b->rate, b->total, received, dups, writer_rate, sustained, lag, o->drain_s,
           o->drain_but_last_s, kept_up ? "yes" : "no", ms(p50), ms(p90), ms(p99), ms(max),
           last >= 0 ? ms(last) : -1.0, o->cpu_s, cpu_pct, (double)o->rss_kb / 1024, o->exit_code,
           b->flush_ms, self_s, all_s);
    if (failures) {
        fprintf(stderr, "tail-bench: %" PRIu64 " records were not parsed\n", failures);
        return -1;
    }
    if (missing || dups || received != b->total) {
        fprintf(stderr, "tail-bench: received %" PRIu64 " of %" PRIu64 " records (%" PRIu64
                " missing, %" PRIu64 " duplicates)\n", received, b->total, missing, dups);
        return -1;
    }
    if (o->exit_code != 0) {
        fprintf(stderr, "tail-bench: the daemon exited %d after SIGTERM (see %s)\n", o->exit_code,
                b->daemon_log);
        return -1;
    }
    return 0;
}

/* Starts everything, writes, drains, stops the daemon. Returns 0 or -1. */
static int bench_run(struct bench *b, struct outcome *o)
{
    int fd = open(b->log_path, O_WRONLY | O_APPEND);
    char *buf = malloc(WRITE_BUF);
    if (fd < 0 || !buf) {
        fprintf(stderr, "tail-bench: %s: %s\n", b->log_path, strerror(errno));
        free(buf);
        return -1;
    }
    char date[20];
    time_t cached = -1;
    int rc = -1;
    /* a warm-up record (seq 0) sets up the daemon's and the consumer's connections */
    if (!file_wait_for(b->daemon_log, "following file", READY_TIMEOUT_MS)) {
        fprintf(stderr, "tail-bench: the daemon did not start following (see %s)\n",
                b->daemon_log);
        goto out;
    }
    if (append_records(fd, buf, 0, 1, date, &cached) != 0 ||
        !wait_received(b, 1, READY_TIMEOUT_MS + b->flush_ms)) {
        fprintf(stderr, "tail-bench: the warm-up record did not come back (see %s)\n",
                b->daemon_log);
        goto out;
    }
    int64_t t0 = clock_ns(CLOCK_MONOTONIC);
    double cpu0 = proc_cpu_s(b->daemon);
    if (writer_run(b, fd, buf, o) != 0)
        goto out;
    drain(b, o);
    o->cpu_s = proc_cpu_s(b->daemon) - cpu0;
    o->wall_s = (double)(clock_ns(CLOCK_MONOTONIC) - t0) / 1e9;
    if (o->drain_s < 0)
        fprintf(stderr, "tail-bench: not every record arrived within %d s of the writer's end\n",
                DRAIN_TIMEOUT_MS / 1000);
    rc = 0;
out:
    close(fd);
    free(buf);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 6 || argc > 8) {
        fprintf(stderr, "usage: tail-bench LME_INGEST BOOTSTRAP RATE SECONDS WORKDIR "
                        "[FLUSH_MS [RDKAFKA]]\n");
        return 2;
    }
    struct bench b = { .lme = argv[1], .brokers = argv[2], .work = argv[5], .daemon = -1 };
    b.rate = strtoull(argv[3], NULL, 10);
    b.seconds = strtoull(argv[4], NULL, 10);
    b.flush_ms = argc >= 7 ? atoi(argv[6]) : 100;
    b.rdkafka = argc == 8 && argv[7][0] ? argv[7] : NULL;
    b.total = b.rate * b.seconds;
    if (b.total < 2 || b.flush_ms < 0) {
        fprintf(stderr, "tail-bench: RATE x SECONDS must be at least 2, FLUSH_MS not negative\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    shapes_init();
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (!(b.latency_ns = malloc((b.total + 1) * sizeof(*b.latency_ns))))
        return 1;
    memset(b.latency_ns, 0xff, (b.total + 1) * sizeof(*b.latency_ns)); /* -1: not received */

    int rc = 1;
    if (prepare_workdir(&b) != 0 || consumer_create(&b) != 0)
        goto out;
    if (pthread_create(&b.consumer, NULL, consumer_main, &b) != 0) {
        fprintf(stderr, "tail-bench: cannot start the consumer thread\n");
        goto out;
    }
    struct outcome o = { .exit_code = -1 };
    int run = -1;
    if ((b.daemon = daemon_start(&b)) < 0) {
        fprintf(stderr, "tail-bench: fork: %s\n", strerror(errno));
    } else {
        printf("daemon: pid %ld, config %s, log %s, multiline_flush_ms %d, rdkafka %s\n",
               (long)b.daemon, b.config_path, b.daemon_log, b.flush_ms,
               b.rdkafka ? b.rdkafka : "(defaults)");
        run = bench_run(&b, &o);
        struct rusage ru = { 0 };
        o.exit_code = daemon_stop(b.daemon, &ru);
        o.rss_kb = ru.ru_maxrss;
    }
    atomic_store(&b.stop_consumer, true);
    pthread_join(b.consumer, NULL); /* report() reads what the consumer wrote */
    if (run == 0 && report(&b, &o) == 0)
        rc = 0;
out:
    if (b.rk) {
        rd_kafka_consumer_close(b.rk);
        rd_kafka_destroy(b.rk);
    }
    free(b.latency_ns);
    return rc;
}
