/* `lme-ingest parse`: reads each file (or standard input) to its end and writes one JSON event a
 * line to standard output. Bytes go through the decoder (decode.c) as the daemon's do, so the
 * encoding is decided the same way. Events are encoded into one buffer flushed with write(2)
 * when full. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "clock.h"
#include "commands.h"
#include "config.h"
#include "decode.h"
#include "event_json.h"
#include "io.h"
#include "log.h"
#include "parser.h"
#include "tz.h"

#define READ_CHUNK (1024 * 1024)
#define OUT_FLUSH_AT (256 * 1024)

struct parse_run {
    struct lme_tz *tz;
    const char *host;
    size_t max_record;
    enum config_encoding encoding;
    bool quiet;
    char *chunk;
    struct lme_buf out;
    struct event_json_memo memo; /* the encoder's, from one event to the next */
    bool out_failed;
};

void parse_cmd_usage(void)
{
    printf("Usage: lme-ingest parse [OPTIONS] [FILE...]\n"
           "\n"
           "Parses browse logs and writes one JSON event per line to standard output\n"
           "(schema: docs/schema.md). Without FILE, or with '-', reads standard input.\n"
           "\n"
           "Options:\n"
           "  -z, --timezone ZONE        IANA zone the logs' local times are in\n"
           "                             (default: this machine's zone)\n"
           "  -H, --host NAME            host.name of the events (default: this machine's name)\n"
           "  -m, --max-record-bytes N   cut records longer than N bytes (default 65536)\n"
           "  -e, --encoding ENC         auto (default: UTF-16LE when the input starts with\n"
           "                             its BOM, else bytes as they are), utf-8 or utf-16le\n"
           "  -q, --quiet                no per-file summary on standard error\n"
           "  -h, --help                 show this help\n"
           "\n"
           "Records it cannot read are never dropped: they are passed on tagged\n"
           "lme_parse_failure and counted in the summary.\n"
           "\n"
           "Exit status:\n"
           "  0  every input was read\n"
           "  1  an input could not be read (the others are still processed), or the\n"
           "     output could not be written\n"
           "  2  usage error, such as an unknown time zone\n"
           "\n"
           "See lme-ingest(8) (man lme-ingest) and docs/schema.md.\n");
}

static int flush_out(struct parse_run *run)
{
    if (run->out.len == 0)
        return 0;
    int rc = lme_write_all(STDOUT_FILENO, run->out.data, run->out.len);
    lme_buf_reset(&run->out);
    if (rc != 0) {
        lme_log(LME_LOG_ERROR, "cannot write output", "error", strerror(-rc), NULL);
        run->out_failed = true;
        return LME_EIO;
    }
    return 0;
}

static int on_event(const struct lme_event *ev, void *ctx)
{
    struct parse_run *run = ctx;
    static const struct event_json_opts whole = { 0 };
    if (event_json_encode_with(ev, &whole, &run->memo, &run->out) != 0 ||
        lme_buf_append(&run->out, "\n", 1) != 0)
        return LME_ENOMEM;
    return run->out.len >= OUT_FLUSH_AT ? flush_out(run) : 0;
}

static void log_summary(const struct parse_run *run, const char *name, const struct decode *d)
{
    if (run->quiet)
        return;
    const struct parser_stats *st = decode_stats(d);
    char records[24], failures[24], truncated[24], no_ts[24];
    snprintf(records, sizeof(records), "%llu", (unsigned long long)st->records);
    snprintf(failures, sizeof(failures), "%llu", (unsigned long long)st->parse_failures);
    snprintf(truncated, sizeof(truncated), "%llu", (unsigned long long)st->truncated);
    snprintf(no_ts, sizeof(no_ts), "%llu", (unsigned long long)st->no_timestamp);
    lme_log(LME_LOG_INFO, "parsed", "file", name, "records", records, "parse_failures", failures,
            "truncated", truncated, "no_timestamp", no_ts, NULL);
}

static int read_into_parser(struct parse_run *run, int fd, const char *name, struct decode *d)
{
    for (;;) {
        ssize_t n = read(fd, run->chunk, READ_CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            lme_log(LME_LOG_ERROR, "cannot read input", "file", name, "error", strerror(errno), NULL);
            return EXIT_INPUT;
        }
        int rc = n == 0 ? decode_finish(d, lme_wall_ms(), on_event, run)
                        : decode_feed(d, run->chunk, (size_t)n, lme_wall_ms(), on_event, run);
        if (rc == LME_ENOMEM)
            lme_log(LME_LOG_ERROR, "out of memory", "file", name, NULL);
        if (rc != 0)
            return EXIT_INPUT;
        if (n == 0)
            return EXIT_OK;
    }
}

/* Parses one input; returns an exit code. `path` NULL means standard input. */
static int parse_one(struct parse_run *run, const char *path)
{
    const char *name = path ? path : "-";
    int fd = path ? open(path, O_RDONLY | O_CLOEXEC) : STDIN_FILENO;
    if (fd < 0) {
        lme_log(LME_LOG_ERROR, "cannot open input", "file", name, "error", strerror(errno), NULL);
        return EXIT_INPUT;
    }
    struct stat st;
    char resolved[PATH_MAX];
    struct parser_config cfg = {
        .host = run->host,
        .tz = run->tz,
        .max_record_bytes = run->max_record,
    };
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
        cfg.file_dev = (uint64_t)st.st_dev;
        cfg.file_ino = (uint64_t)st.st_ino;
    }
    if (path)
        cfg.path = realpath(path, resolved) ? resolved : path;

    struct lme_err err;
    struct decode *d = decode_create(&cfg, run->encoding, &err);
    int rc = EXIT_INPUT;
    if (!d)
        lme_log(LME_LOG_ERROR, "cannot start parser", "file", name, "error", err.msg, NULL);
    else
        rc = read_into_parser(run, fd, name, d);
    if (d && rc == EXIT_OK)
        log_summary(run, name, d);
    decode_destroy(d);
    if (path)
        close(fd);
    return rc;
}

/* --encoding's value; -1 for an unknown one. */
static int encoding_of(const char *name)
{
    static const char *const names[] = { "auto", "utf-8", "utf-16le" };
    static const enum config_encoding values[] = { CONFIG_ENCODING_AUTO, CONFIG_ENCODING_UTF8,
                                                   CONFIG_ENCODING_UTF16LE };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcmp(name, names[i]) == 0)
            return (int)values[i];
    return -1;
}

static int parse_options(int argc, char **argv, const char **zone, const char **host,
                         size_t *max_record, enum config_encoding *encoding, bool *quiet)
{
    static const struct option opts[] = {
        { "timezone", required_argument, NULL, 'z' },
        { "host", required_argument, NULL, 'H' },
        { "max-record-bytes", required_argument, NULL, 'm' },
        { "encoding", required_argument, NULL, 'e' },
        { "quiet", no_argument, NULL, 'q' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int c;
    while ((c = getopt_long(argc, argv, "z:H:m:e:qh", opts, NULL)) != -1) {
        char *end;
        switch (c) {
        case 'z': *zone = optarg; break;
        case 'H': *host = optarg; break;
        case 'q': *quiet = true; break;
        case 'h': parse_cmd_usage(); return 1;
        case 'e':
            if (encoding_of(optarg) < 0) {
                fprintf(stderr, "lme-ingest parse: --encoding: '%s' is not auto, utf-8 or "
                                "utf-16le\n", optarg);
                return -1;
            }
            *encoding = (enum config_encoding)encoding_of(optarg);
            break;
        case 'm':
            errno = 0;
            unsigned long long v = strtoull(optarg, &end, 10);
            if (errno || *end || v < 64 || v > 64ULL * 1024 * 1024) {
                fprintf(stderr, "lme-ingest parse: --max-record-bytes: '%s' is not a number "
                                "from 64 to 67108864\n", optarg);
                return -1;
            }
            *max_record = (size_t)v;
            break;
        default:
            fprintf(stderr, "lme-ingest parse: try 'lme-ingest parse --help'\n");
            return -1;
        }
    }
    return 0;
}

int parse_cmd_main(int argc, char **argv)
{
    const char *zone = NULL, *host = NULL;
    size_t max_record = 0;
    enum config_encoding encoding = CONFIG_ENCODING_AUTO;
    bool quiet = false;
    int opt = parse_options(argc, argv, &zone, &host, &max_record, &encoding, &quiet);
    if (opt != 0)
        return opt > 0 ? EXIT_OK : EXIT_USAGE;

    char hostname[256] = "localhost";
    if (!host) {
        if (gethostname(hostname, sizeof(hostname)) == 0)
            hostname[sizeof(hostname) - 1] = '\0';
        host = hostname;
    }
    struct lme_err err;
    struct parse_run run = { .host = host, .max_record = max_record, .encoding = encoding,
                             .quiet = quiet };
    run.tz = lme_tz_open(zone, &err);
    if (!run.tz) {
        lme_log(LME_LOG_ERROR, "bad --timezone", "error", err.msg, NULL);
        return EXIT_USAGE;
    }
    run.chunk = malloc(READ_CHUNK);
    if (!run.chunk) {
        lme_log(LME_LOG_ERROR, "out of memory", NULL);
        lme_tz_destroy(run.tz);
        return EXIT_INPUT;
    }

    int status = EXIT_OK;
    if (optind >= argc) {
        status = parse_one(&run, NULL);
    } else {
        for (int i = optind; i < argc && !run.out_failed; i++) {
            const char *path = strcmp(argv[i], "-") == 0 ? NULL : argv[i];
            if (parse_one(&run, path) != EXIT_OK)
                status = EXIT_INPUT;
        }
    }
    if (flush_out(&run) != 0)
        status = EXIT_INPUT;
    free(run.chunk);
    lme_buf_free(&run.out);
    lme_tz_destroy(run.tz);
    return status;
}
