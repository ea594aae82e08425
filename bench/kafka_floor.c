/* kafka-floor: the least a producer must do to ship lme-ingest's events to Kafka, the floor
 * `lme-ingest run --once` is judged against (bench/run.sh, docs/performance.md).
 *
 *   kafka-floor prepare [--no-original] EVENTS.jsonl OUT
 *       reads the events `lme-ingest parse` wrote, one JSON object a line, and writes OUT: each
 *       event with its message key and event.code beside it, so that sending finds them without
 *       scanning the JSON (lme-ingest has them from the parsed event). --no-original cuts
 *       event.original out of each event, as the sink's `event_original: false` does. Not timed.
 *   kafka-floor send BROKERS TOPIC PREPARED [--naive] [--copy] [--fresh-headers]
 *                    [--default-malloc] [--headers both|version|none] [--key MODE]
 *                    [--budget BYTES] [--wire-bytes] [--rdkafka NAME=VALUE]...
 *       produces every event of PREPARED with what the Kafka sink produces (its producer defaults
 *       from kafka_sink.h, the key host/component, the headers lme.schema_version and event.code)
 *       and nothing else, waits for every delivery report and exits 0 when all were delivered.
 *       --wire-bytes prints the bytes librdkafka sent to the brokers (its statistics), compressed
 *       batches and protocol, after a last wait of 1.2 s for them.
 *
 * By default it produces the way the sink does, the cheapest way librdkafka offers: payloads
 * without a copy, header lists reused (kafka_headers.c), a topic handle, glibc's thresholds fixed
 * (kafka_sink_keep_batch_memory), the timestamp read once per block (as lme-ingest reads it once
 * per chunk for event.created). --copy lets librdkafka copy each payload (RD_KAFKA_MSG_F_COPY),
 * --fresh-headers builds each message's header list, --default-malloc leaves glibc's thresholds
 * alone; --naive is all three, and lets librdkafka read the clock for each message: a producer
 * written the obvious way.
 *
 * Sending reads PREPARED in blocks of 1 MiB. Without --copy a message's payload is the block
 * itself; a block is read into again once every message in it was reported, and BYTES (16 MiB,
 * twice the default max_in_flight_bytes: fewer 1 MiB blocks stall the floor) worth of blocks
 * bound what is in flight. With --copy a block
 * is free at once. */
#include <fcntl.h>
#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kafka_headers.h"
#include "kafka_sink.h"

#define BLOCK (1u << 20)
#define MAX_BLOCKS 64

/* One event in the prepared file: this header, the key, the code, then the JSON. */
struct rec {
    uint32_t len;
    uint16_t key_len;
    uint8_t code_len;
    uint8_t pad;
};

struct block {
    char *data;
    int pending; /* messages produced from it and not reported yet */
};

struct floor {
    rd_kafka_t *rk;
    rd_kafka_topic_t *rkt;
    bool copy, version_header, code_header;
    struct kafka_headers *reuse; /* NULL: a header list built for each message */
    enum kafka_key_mode key;
    struct block blocks[MAX_BLOCKS];
    size_t n_blocks;
    uint64_t produced, delivered, failed;
    long long tx_bytes; /* from librdkafka's last statistics; -1: none yet */
    bool clock_per_message; /* --naive: librdkafka reads the clock for each timestamp */
    int64_t read_ms;        /* else: when the block was read, as lme-ingest's event.created */
};

static void die(const char *what)
{
    fprintf(stderr, "kafka-floor: %s\n", what);
    exit(1);
}

/* ---- prepare ---- */

/* The JSON string value after `field` in line (names need no unescaping: none has escapes in
 * practice): its bytes up to the closing quote. */
static size_t field_value(const char *line, const char *field, const char **v)
{
    const char *p = strstr(line, field);
    if (!p)
        return 0;
    p += strlen(field);
    const char *q = strchr(p, '"');
    *v = p;
    return q ? (size_t)(q - p) : 0;
}

/* Cuts `,"original":"..."` out of line; returns the new length. */
static size_t cut_original(char *line, size_t len)
{
    char *from = strstr(line, ",\"original\":\"");
    if (!from)
        return len;
    char *p = from + strlen(",\"original\":\"");
    while (*p && *p != '"')
        p += *p == '\\' ? 2 : 1;
    if (!*p)
        die("an event.original without its end");
    p++;
    memmove(from, p, (size_t)(line + len - p) + 1);
    return len - (size_t)(p - from);
}

static void prepare_line(FILE *out, char *line, size_t len)
{
    const char *host = NULL, *comp = NULL, *code = NULL;
    size_t host_len = field_value(line, "\"host\":{\"name\":\"", &host);
    size_t comp_len = field_value(line, "\"process\":{\"name\":\"", &comp);
    size_t code_len = field_value(line, "\"code\":\"", &code);
    char key[512], code_copy[6] = "";
    size_t key_len = (size_t)snprintf(key, sizeof(key), "%.*s%s%.*s", (int)host_len, host,
                                      comp_len ? "/" : "", (int)comp_len, comp ? comp : "");
    if (key_len >= sizeof(key) || code_len > 5)
        die("an event with an unexpected key or code");
    memcpy(code_copy, code, code_len);
    struct rec r = { (uint32_t)len, (uint16_t)key_len, (uint8_t)code_len, 0 };
    if (fwrite(&r, sizeof(r), 1, out) != 1 || fwrite(key, 1, key_len, out) != key_len ||
        fwrite(code_copy, 1, code_len, out) != code_len || fwrite(line, 1, len, out) != len)
        die("cannot write the prepared file");
}

static int prepare(const char *events, const char *out_path, bool no_original)
{
    FILE *in = fopen(events, "r"), *out = fopen(out_path, "w");
    if (!in || !out)
        die("cannot open the events or the output");
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    uint64_t count = 0, bytes = 0;
    while ((n = getline(&line, &cap, in)) > 0) {
        if (line[n - 1] == '\n')
            line[--n] = '\0';
        size_t len = no_original ? cut_original(line, (size_t)n) : (size_t)n;
        prepare_line(out, line, len);
        count++;
        bytes += len;
    }
    free(line);
    fclose(in);
    if (fclose(out) != 0)
        die("cannot write the prepared file");
    fprintf(stderr, "kafka-floor: %llu events prepared, %llu bytes of JSON\n",
            (unsigned long long)count, (unsigned long long)bytes);
    return 0;
}

/* ---- send ---- */

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    struct floor *f = opaque;
    rd_kafka_headers_t *h;
    if (f->reuse && rd_kafka_message_detach_headers((rd_kafka_message_t *)m, &h) == 0) {
        const void *code = "";
        size_t size = 0;
        char c[6] = "";
        if (rd_kafka_header_get_last(h, "event.code", &code, &size) == 0 && size < sizeof(c))
            memcpy(c, code, size);
        kafka_headers_put(f->reuse, h, c);
    }
    if (m->err)
        f->failed++;
    else
        f->delivered++;
    if (m->_private)
        ((struct block *)m->_private)->pending--;
}

/* The sum of every broker's "txbytes" in librdkafka's statistics (JSON, scanned: the brokers'
 * object comes before the topics', whose partitions count their own "txbytes"). */
static int on_stats(rd_kafka_t *rk, char *json, size_t len, void *opaque)
{
    (void)rk;
    (void)len;
    struct floor *f = opaque;
    long long sum = 0;
    const char *p = strstr(json, "\"brokers\":"), *end = strstr(json, "\"topics\":");
    while (p && (p = strstr(p, "\"txbytes\":")) && (!end || p < end)) {
        p += strlen("\"txbytes\":");
        sum += atoll(p);
    }
    f->tx_bytes = sum;
    return 0;
}

static void set(rd_kafka_conf_t *conf, const char *name, const char *value)
{
    char errstr[512];
    if (rd_kafka_conf_set(conf, name, value, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "kafka-floor: %s: %s\n", name, errstr);
        exit(2);
    }
}

/* The sink's producer: its defaults, the budget as librdkafka's queue bound, then overrides. */
static void producer_new(struct floor *f, const char *brokers, const char *topic, size_t budget,
                         char **props, int n_props, bool wire_bytes)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char kbytes[32];
    snprintf(kbytes, sizeof(kbytes), "%zu", budget / 1024 + 1);
    set(conf, "queue.buffering.max.kbytes", kbytes);
    for (size_t i = 0; i < kafka_sink_n_producer_defaults; i++)
        set(conf, kafka_sink_producer_defaults[i][0], kafka_sink_producer_defaults[i][1]);
    for (int i = 0; i < n_props; i++) {
        char *eq = strchr(props[i], '=');
        if (!eq)
            die("--rdkafka takes NAME=VALUE");
        *eq = '\0';
        set(conf, props[i], eq + 1);
    }
    set(conf, "bootstrap.servers", brokers);
    if (wire_bytes) {
        set(conf, "statistics.interval.ms", "1000");
        rd_kafka_conf_set_stats_cb(conf, on_stats);
    }
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_opaque(conf, f);
    char errstr[512];
    if (!(f->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr))))
        die(errstr);
    f->rkt = rd_kafka_topic_new(f->rk, topic, NULL);
    const struct rd_kafka_metadata *md; /* as the sink does: no wait for the first metadata */
    if (rd_kafka_metadata(f->rk, 0, f->rkt, &md, 500) == RD_KAFKA_RESP_ERR_NO_ERROR)
        rd_kafka_metadata_destroy(md);
}

static size_t key_len_of(const struct floor *f, const char *key, size_t len)
{
    if (f->key == KAFKA_KEY_NONE)
        return 0;
    if (f->key == KAFKA_KEY_HOST) {
        const char *slash = memchr(key, '/', len);
        return slash ? (size_t)(slash - key) : len;
    }
    return len;
}

static rd_kafka_headers_t *headers_for(struct floor *f, const char *code, size_t code_len)
{
    static const char version[] = { '0' + LME_SCHEMA_VERSION };
    char c[6] = "";
    if (f->code_header)
        memcpy(c, code, code_len);
    if (f->reuse)
        return kafka_headers_get(f->reuse, c);
    rd_kafka_headers_t *h = rd_kafka_headers_new(2);
    rd_kafka_header_add(h, "lme.schema_version", -1, version, 1);
    if (c[0])
        rd_kafka_header_add(h, "event.code", -1, c, -1);
    return h;
}

static void produce(struct floor *f, struct block *b, const char *key, size_t key_len,
                    const char *code, size_t code_len, const char *payload, size_t len)
{
    for (;;) {
        rd_kafka_headers_t *h = f->version_header ? headers_for(f, code, code_len) : NULL;
        rd_kafka_resp_err_t e = rd_kafka_producev(
            f->rk, RD_KAFKA_V_RKT(f->rkt), RD_KAFKA_V_MSGFLAGS(f->copy ? RD_KAFKA_MSG_F_COPY : 0),
            RD_KAFKA_V_VALUE((void *)payload, len), RD_KAFKA_V_KEY(key_len ? key : NULL, key_len),
            RD_KAFKA_V_TIMESTAMP(f->clock_per_message ? 0 : f->read_ms), RD_KAFKA_V_HEADERS(h),
            RD_KAFKA_V_OPAQUE(f->copy ? NULL : b), RD_KAFKA_V_END);
        if (!e) {
            f->produced++;
            b->pending += !f->copy;
            return;
        }
        if (h)
            rd_kafka_headers_destroy(h);
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL)
            die(rd_kafka_err2str(e));
        rd_kafka_poll(f->rk, 10);
    }
}

/* Produces every whole record of b->data[0, len); returns the bytes of the partial last one. */
static size_t produce_block(struct floor *f, struct block *b, size_t len)
{
    size_t at = 0;
    while (len - at >= sizeof(struct rec)) {
        struct rec r;
        memcpy(&r, b->data + at, sizeof(r));
        size_t size = sizeof(r) + r.key_len + r.code_len + r.len;
        if (size > BLOCK)
            die("an event larger than a block");
        if (len - at < size)
            break;
        const char *key = b->data + at + sizeof(r), *code = key + r.key_len;
        produce(f, b, key, key_len_of(f, key, r.key_len), code, r.code_len, code + r.code_len,
                r.len);
        at += size;
    }
    rd_kafka_poll(f->rk, 0);
    return len - at;
}

static void send_file(struct floor *f, int fd)
{
    size_t carry = 0, cur = 0;
    struct block *prev = NULL;
    for (;;) {
        struct block *b = &f->blocks[cur];
        while (b->pending > 0) /* every message of this block must be reported first */
            rd_kafka_poll(f->rk, 1);
        if (carry)
            memcpy(b->data, prev->data + BLOCK - carry, carry);
        size_t len = carry;
        ssize_t n;
        while (len < BLOCK && (n = read(fd, b->data + len, BLOCK - len)) > 0)
            len += (size_t)n;
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        f->read_ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
        if (len == 0)
            return;
        size_t left = produce_block(f, b, len);
        if (len < BLOCK) { /* the end of the file */
            if (left)
                die("the prepared file ends inside an event");
            return;
        }
        carry = left;
        prev = b;
        cur = (cur + 1) % f->n_blocks;
    }
}

static void usage(void)
{
    fprintf(stderr, "usage: kafka-floor prepare [--no-original] EVENTS.jsonl OUT\n"
                    "       kafka-floor send BROKERS TOPIC PREPARED [--naive] [--copy]\n"
                    "                   [--fresh-headers] [--default-malloc]\n"
                    "                   [--headers both|version|none]\n"
                    "                   [--key host_component|host|none] [--budget BYTES]\n"
                    "                   [--wire-bytes] [--rdkafka NAME=VALUE]...\n");
    exit(2);
}

struct send_opts {
    bool fresh_headers, default_malloc, wire_bytes;
    size_t budget;
    char *props[64];
    int n_props;
};

static void parse_send_args(int argc, char **argv, struct floor *f, struct send_opts *o)
{
    for (int i = 5; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--naive") == 0) {
            f->copy = o->fresh_headers = o->default_malloc = f->clock_per_message = true;
        } else if (strcmp(a, "--copy") == 0) {
            f->copy = true;
        } else if (strcmp(a, "--fresh-headers") == 0) {
            o->fresh_headers = true;
        } else if (strcmp(a, "--default-malloc") == 0) {
            o->default_malloc = true;
        } else if (strcmp(a, "--wire-bytes") == 0) {
            o->wire_bytes = true;
        } else if (strcmp(a, "--headers") == 0 && v) {
            f->version_header = strcmp(v, "none") != 0;
            f->code_header = strcmp(v, "both") == 0;
            i++;
        } else if (strcmp(a, "--key") == 0 && v) {
            f->key = strcmp(v, "none") == 0   ? KAFKA_KEY_NONE
                     : strcmp(v, "host") == 0 ? KAFKA_KEY_HOST
                                              : KAFKA_KEY_HOST_COMPONENT;
            i++;
        } else if (strcmp(a, "--budget") == 0 && v) {
            o->budget = strtoull(v, NULL, 10);
            i++;
        } else if (strcmp(a, "--rdkafka") == 0 && v && o->n_props < 64) {
            o->props[o->n_props++] = argv[++i];
        } else {
            usage();
        }
    }
}

static int send_cmd(int argc, char **argv)
{
    struct floor f = { .version_header = true, .code_header = true,
                       .key = KAFKA_KEY_HOST_COMPONENT, .tx_bytes = -1 };
    struct send_opts o = { .budget = 16u << 20 };
    parse_send_args(argc, argv, &f, &o);
    f.n_blocks = o.budget / BLOCK < 2 ? 2 : o.budget / BLOCK > MAX_BLOCKS ? MAX_BLOCKS
                                                                          : o.budget / BLOCK;
    for (size_t i = 0; i < f.n_blocks; i++)
        if (!(f.blocks[i].data = malloc(BLOCK)))
            die("out of memory");
    int fd = open(argv[4], O_RDONLY);
    if (fd < 0)
        die("cannot open the prepared file");
    if (!o.default_malloc)
        kafka_sink_keep_batch_memory();
    if (f.version_header && !o.fresh_headers && !(f.reuse = kafka_headers_create(o.budget / 512)))
        die("out of memory");
    producer_new(&f, argv[2], argv[3], o.budget, o.props, o.n_props, o.wire_bytes);
    send_file(&f, fd);
    close(fd);
    while (rd_kafka_outq_len(f.rk) > 0)
        rd_kafka_poll(f.rk, 50);
    if (o.wire_bytes) /* one more statistics interval, so that the last batches are counted */
        for (int i = 0; i < 24; i++)
            rd_kafka_poll(f.rk, 50);
    fprintf(stderr, "kafka-floor: produced=%llu delivered=%llu failed=%llu",
            (unsigned long long)f.produced, (unsigned long long)f.delivered,
            (unsigned long long)f.failed);
    if (o.wire_bytes)
        fprintf(stderr, " wire_bytes=%lld", f.tx_bytes);
    fprintf(stderr, "\n");
    rd_kafka_topic_destroy(f.rkt);
    rd_kafka_destroy(f.rk);
    kafka_headers_destroy(f.reuse);
    for (size_t i = 0; i < f.n_blocks; i++)
        free(f.blocks[i].data);
    return f.failed == 0 && f.delivered == f.produced ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "prepare") == 0)
        return prepare(argv[2], argv[3], false);
    if (argc == 5 && strcmp(argv[1], "prepare") == 0 && strcmp(argv[2], "--no-original") == 0)
        return prepare(argv[3], argv[4], true);
    if (argc >= 5 && strcmp(argv[1], "send") == 0)
        return send_cmd(argc, argv);
    usage();
    return 2;
}
