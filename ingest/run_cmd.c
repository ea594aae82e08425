/* `lme-ingest run --config FILE [--once]` and `lme-ingest check-config --config FILE`.
 * run --once reads every input to its end and waits for every acknowledgement; run follows the
 * inputs until SIGTERM/SIGINT, then drains within drain_timeout_ms. SIGHUP reloads the config.
 * The metrics endpoint starts before the pipeline (an address it cannot listen on stops the
 * start) and survives reloads (one that cannot move it keeps it where it is). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "commands.h"
#include "config.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "pipeline.h"

static volatile sig_atomic_t stop_requested, reload_requested;

static void on_stop_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void on_reload_signal(int sig)
{
    (void)sig;
    reload_requested = 1;
}

static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = on_reload_signal;
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static void run_usage(void)
{
    printf("Usage: lme-ingest run --config FILE [--once]\n"
           "\n"
           "Follows the configured inputs as they grow and rotate and hands every event to\n"
           "every sink (Kafka, files, standard output). A file's checkpoint only moves past\n"
           "events every sink acknowledged: delivery is at least once. The daemon's own log\n"
           "goes to standard error (log_format: logfmt or json).\n"
           "\n"
           "Options:\n"
           "  -c, --config FILE  the JSON configuration (required)\n"
           "      --once         read every input to its end instead of following it, wait\n"
           "                     at most once_timeout_ms for every acknowledgement, exit\n"
           "  -h, --help         show this help\n"
           "\n"
           "Signals:\n"
           "  SIGTERM, SIGINT    stop reading, drain what is in flight within\n"
           "                     drain_timeout_ms, save the checkpoints, exit; a second one\n"
           "                     cuts the drain short (what is unacknowledged is sent again\n"
           "                     at the next start)\n"
           "  SIGHUP             reload the configuration; an invalid one is refused and the\n"
           "                     running one stays\n"
           "\n"
           "Exit status:\n"
           "  0  stopped and drained; with --once, every event acknowledged or set aside\n"
           "     in the dead-letter file\n"
           "  1  events left unacknowledged, or an input or a sink failed\n"
           "  2  usage or configuration error, or nothing could start (such as a\n"
           "     metrics.listen address that cannot be listened on)\n"
           "\n"
           "See lme-ingest(8) (man lme-ingest) and docs/config.md.\n");
}

static void check_config_usage(void)
{
    printf("Usage: lme-ingest check-config --config FILE\n"
           "\n"
           "Checks a configuration as run does (every key, type and value, the secrets, the\n"
           "file's permissions) without starting anything, and prints\n"
           "\"FILE: ok (N inputs, M sinks)\". Whether metrics.listen can be listened on is\n"
           "only known when run starts.\n"
           "\n"
           "Options:\n"
           "  -c, --config FILE  the JSON configuration (required)\n"
           "  -h, --help         show this help\n"
           "\n"
           "Exit status:\n"
           "  0  the configuration is valid\n"
           "  2  usage error, or the configuration is invalid: the error names the file,\n"
           "     the key and what was expected\n"
           "\n"
           "See lme-ingest(8) (man lme-ingest) and docs/config.md.\n");
}

/* Reads --config FILE and --once; returns 0, 1 after --help, -1 on a usage error. */
static int parse_options(int argc, char **argv, const char **config, bool *once, bool allow_once)
{
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' },
        { "once", no_argument, NULL, 'o' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int c;
    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        if (c == 'c') {
            *config = optarg;
        } else if (c == 'o' && allow_once) {
            *once = true;
        } else if (c == 'h') {
            if (allow_once)
                run_usage();
            else
                check_config_usage();
            return 1;
        } else {
            fprintf(stderr, "lme-ingest %s: try 'lme-ingest %s --help'\n", argv[0], argv[0]);
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "lme-ingest %s: unexpected argument '%s' (try 'lme-ingest %s --help')\n",
                argv[0], argv[optind], argv[0]);
        return -1;
    }
    if (!*config) {
        fprintf(stderr, "lme-ingest %s: --config FILE is required (try 'lme-ingest %s --help')\n",
                argv[0], argv[0]);
        return -1;
    }
    return 0;
}

int check_config_main(int argc, char **argv)
{
    const char *file = NULL;
    bool once = false;
    int opt = parse_options(argc, argv, &file, &once, false);
    if (opt)
        return opt > 0 ? EXIT_OK : EXIT_USAGE;
    struct config *cfg;
    struct lme_err err;
    if (config_load(file, &cfg, &err) != 0) {
        lme_log(LME_LOG_ERROR, "invalid configuration", "error", err.msg, NULL);
        return EXIT_USAGE;
    }
    if (pipeline_preflight(cfg, &err) != 0) { /* what run checks before it starts */
        lme_log(LME_LOG_ERROR, "invalid configuration", "error", err.msg, NULL);
        config_free(cfg);
        return EXIT_USAGE;
    }
    printf("%s: ok (%zu input%s, %zu sink%s)\n", file, cfg->n_inputs, cfg->n_inputs == 1 ? "" : "s",
           cfg->n_sinks, cfg->n_sinks == 1 ? "" : "s");
    config_free(cfg);
    return EXIT_OK;
}

/* What a run keeps across reloads: the metrics snapshot and the HTTP server that serves it. */
struct services {
    struct metrics_snapshot *snap;
    struct http_server *http;
    char *listen; /* what http listens on */
    int64_t started_ms;
};

static void apply_log_settings(const struct config *cfg)
{
    lme_log_set_format((enum lme_log_format)cfg->log_format);
    lme_log_set_level((enum lme_log_level)cfg->log_level);
}

/* The soft limit on open descriptors up to the hard one: each followed file holds one, and
 * services often start with a soft limit of 1024 under a far higher hard one. */
static void raise_nofile_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return;
    rlim_t was = rl.rlim_cur;
    if (rl.rlim_cur < rl.rlim_max) {
        struct rlimit want = { .rlim_cur = rl.rlim_max, .rlim_max = rl.rlim_max };
        if (setrlimit(RLIMIT_NOFILE, &want) == 0)
            rl.rlim_cur = rl.rlim_max;
        else
            lme_log(LME_LOG_WARN, "cannot raise the descriptor limit", "error", strerror(errno),
                    NULL);
    }
    char now_s[24], was_s[24];
    snprintf(now_s, sizeof(now_s), "%" PRIuMAX, (uintmax_t)rl.rlim_cur);
    snprintf(was_s, sizeof(was_s), "%" PRIuMAX, (uintmax_t)was);
    if (rl.rlim_cur != was)
        lme_log(LME_LOG_INFO, "descriptor limit raised", "nofile", now_s, "was", was_s, NULL);
    else
        lme_log(LME_LOG_INFO, "descriptor limit", "nofile", now_s, NULL);
}

/* Starts the endpoint cfg asks for, if any. Returns 0, or a negative code with err naming the
 * key: "FILE: key 'metrics.listen': cannot listen on 127.0.0.1:9464: Address already in use". */
static int start_metrics_endpoint(struct services *sv, const struct config *cfg, const char *file,
                                  struct lme_err *err)
{
    if (!cfg->metrics_listen)
        return 0;
    if (!(sv->snap = metrics_snapshot_create(err)))
        return err->code;
    struct lme_err why;
    if (!(sv->http = http_start(cfg->metrics_listen, sv->snap, &why)))
        return lme_err_set(err, why.code, "%s: key 'metrics.listen': %.400s", file, why.msg);
    if (!(sv->listen = strdup(cfg->metrics_listen)))
        return lme_err_set(err, LME_ENOMEM, "out of memory");
    lme_log(LME_LOG_INFO, "metrics endpoint", "listen", cfg->metrics_listen, NULL);
    return 0;
}

static bool same_port(const char *a, const char *b)
{
    int port = http_listen_port(a);
    return port > 0 && port == http_listen_port(b);
}

/* Listens on want while the old endpoint still serves. When both use one port, the old one may
 * be what is in the way (127.0.0.1:9464 to 0.0.0.0:9464): it then steps aside for a second
 * try and comes back if that fails too. Returns the new server or NULL with err filled. */
static struct http_server *listen_instead(struct services *sv, const char *want,
                                         struct lme_err *err)
{
    struct http_server *next = http_start(want, sv->snap, err);
    if (next || !sv->http || !same_port(sv->listen, want))
        return next;
    http_stop(sv->http);
    sv->http = NULL;
    if ((next = http_start(want, sv->snap, err)))
        return next;
    struct lme_err again;
    if (!(sv->http = http_start(sv->listen, sv->snap, &again))) {
        lme_log(LME_LOG_ERROR, "metrics endpoint off: cannot listen on the old address again",
                "listen", sv->listen, "error", again.msg, NULL);
        free(sv->listen);
        sv->listen = NULL;
    }
    return NULL;
}

/* After a reload: starts, moves or stops the endpoint to match cfg. An address it cannot
 * listen on is logged and the endpoint stays where it was (or off). */
static void move_metrics_endpoint(struct services *sv, const struct config *cfg, const char *file)
{
    const char *want = cfg->metrics_listen;
    if (sv->listen && want && strcmp(sv->listen, want) == 0)
        return;
    struct lme_err err;
    if (!want) {
        http_stop(sv->http);
        sv->http = NULL;
        free(sv->listen);
        sv->listen = NULL;
        lme_log(LME_LOG_INFO, "metrics endpoint off", NULL);
        return;
    }
    if (!sv->snap && !(sv->snap = metrics_snapshot_create(&err))) {
        lme_log(LME_LOG_ERROR, "metrics endpoint not started", "error", err.msg, NULL);
        return;
    }
    char *copy = strdup(want);
    struct http_server *next = copy ? listen_instead(sv, want, &err) : NULL;
    if (!next) {
        char why[LME_ERR_MSG_MAX];
        snprintf(why, sizeof(why), "%s: key 'metrics.listen': %.400s", file,
                 copy ? err.msg : "out of memory");
        lme_log(LME_LOG_ERROR, "metrics endpoint not moved: it stays where it was", "error", why,
                "listen", sv->listen ? sv->listen : "off", NULL);
        free(copy);
        return;
    }
    http_stop(sv->http);
    free(sv->listen);
    sv->http = next;
    sv->listen = copy;
    lme_log(LME_LOG_INFO, "metrics endpoint", "listen", want, NULL);
}

static void services_free(struct services *sv)
{
    http_stop(sv->http);
    metrics_snapshot_destroy(sv->snap);
    free(sv->listen);
}

/* Hands over from the running pipeline to one built from the new config: everything in flight is
 * settled and checkpointed first, so the files that stay resume exactly where they were. An
 * invalid config, or one that cannot start, leaves the running one in place. */
static void reload(struct pipeline **p, struct config **cfg, const char *file, struct services *sv)
{
    struct config *next_cfg;
    struct lme_err err;
    if (config_load(file, &next_cfg, &err) != 0) {
        lme_log(LME_LOG_ERROR, "reload refused: invalid configuration, the running one stays",
                "error", err.msg, NULL);
        return;
    }
    lme_log(LME_LOG_INFO, "reloading", "config", file, NULL);
    sd_notify(0, "RELOADING=1");
    pipeline_stopping(*p);
    if (pipeline_release_rotated(*p, &err) != 0)
        lme_log(LME_LOG_ERROR, "pipeline failed", "error", err.msg, NULL);
    int64_t left = pipeline_drain(*p, (*cfg)->drain_timeout_ms, &stop_requested, &err);
    if (left != 0)
        lme_log(LME_LOG_WARN, "reloading with events not acknowledged: they will be sent again",
                NULL);
    if (pipeline_checkpoint(*p, &err) != 0)
        lme_log(LME_LOG_ERROR, "cannot save checkpoints", "error", err.msg, NULL);
    struct pipeline *next = pipeline_create(next_cfg, *cfg, &err);
    if (!next) {
        lme_log(LME_LOG_ERROR, "reload failed: the running configuration stays", "error", err.msg,
                NULL);
        config_free(next_cfg);
        sd_notify(0, "READY=1");
        return;
    }
    if (pipeline_carry_counters(next, *p) != 0)
        lme_log(LME_LOG_WARN, "counters restart from 0: out of memory while carrying them", NULL);
    pipeline_destroy(*p);
    config_free(*cfg);
    *p = next;
    *cfg = next_cfg;
    apply_log_settings(next_cfg);
    move_metrics_endpoint(sv, next_cfg, file);
    if (sv->snap)
        pipeline_set_metrics(next, sv->snap, sv->started_ms);
    lme_log(LME_LOG_INFO, "reloaded", "config", file, NULL);
    sd_notify(0, "READY=1");
}

/* Without --once: follow the inputs until asked to stop, reloading on SIGHUP. */
static int follow_until_stopped(struct pipeline **p, struct config **cfg, const char *file,
                                struct services *sv, struct lme_err *err)
{
    sd_notify(0, "READY=1"); /* the pipeline is built: its first scan comes at once */
    while (!stop_requested) {
        int rc = pipeline_follow(*p, &stop_requested, &reload_requested, err);
        if (rc)
            return rc;
        if (reload_requested && !stop_requested) {
            reload_requested = 0;
            reload(p, cfg, file, sv);
        }
    }
    sd_notify(0, "STOPPING=1");
    pipeline_stopping(*p);
    return pipeline_release_rotated(*p, err);
}

static int finish(struct pipeline *p, const struct config *cfg, bool once)
{
    struct lme_err err;
    int timeout = once ? cfg->once_timeout_ms : cfg->drain_timeout_ms;
    if (!once)
        lme_log(LME_LOG_INFO, "stopping: draining what is in flight", NULL);
    /* The signal that stopped the reading must not cut the drain short; a second one does. */
    stop_requested = 0;
    int64_t left = pipeline_drain(p, timeout, &stop_requested, &err);
    struct lme_err cperr;
    bool saved = pipeline_checkpoint(p, &cperr) == 0;
    if (!saved)
        lme_log(LME_LOG_ERROR, "cannot save checkpoints", "error", cperr.msg, NULL);
    pipeline_log_stats(p);
    if (left < 0) {
        lme_log(LME_LOG_ERROR, "sink failed", "error", err.msg, NULL);
        return EXIT_INPUT;
    }
    if (left > 0) {
        char n[24];
        snprintf(n, sizeof(n), "%lld", (long long)left);
        lme_log(LME_LOG_ERROR, "events not acknowledged in time", "undelivered", n, NULL);
        return EXIT_INPUT;
    }
    /* everything was delivered, but a next run would not know: it would send it all again */
    return saved ? EXIT_OK : EXIT_INPUT;
}

int run_cmd_main(int argc, char **argv)
{
    const char *file = NULL;
    bool once = false;
    int opt = parse_options(argc, argv, &file, &once, true);
    if (opt)
        return opt > 0 ? EXIT_OK : EXIT_USAGE;
    install_signals(); /* first: a SIGTERM during the start must stop it cleanly, not kill it */
    struct config *cfg;
    struct lme_err err;
    if (config_load(file, &cfg, &err) != 0) {
        lme_log(LME_LOG_ERROR, "invalid configuration: not starting", "error", err.msg, NULL);
        return EXIT_USAGE;
    }
    apply_log_settings(cfg);
    if (geteuid() == 0)
        lme_log(LME_LOG_WARN, "running as root: it needs only read access to the logs and the "
                              "connectors' files and write access to state_dir (docs/deploy.md)",
                NULL);
    raise_nofile_limit();
    struct services sv = { .started_ms = lme_wall_ms() };
    struct pipeline *p = NULL;
    if (start_metrics_endpoint(&sv, cfg, file, &err) != 0 ||
        !(p = pipeline_create(cfg, NULL, &err))) {
        lme_log(LME_LOG_ERROR, "cannot start", "error", err.msg, NULL);
        services_free(&sv);
        config_free(cfg);
        return EXIT_USAGE;
    }
    if (sv.snap)
        pipeline_set_metrics(p, sv.snap, sv.started_ms);
    lme_log(LME_LOG_INFO, "started", "config", file, "mode", once ? "once" : "daemon", NULL);
    int rc = once ? pipeline_read_inputs(p, &stop_requested, &err)
                  : follow_until_stopped(&p, &cfg, file, &sv, &err);
    int status = EXIT_INPUT;
    if (rc)
        lme_log(LME_LOG_ERROR, "pipeline failed", "error", err.msg, NULL);
    else
        status = finish(p, cfg, once);
    pipeline_stopping(p);
    pipeline_publish_metrics(p); /* the final counts, for a last scrape */
    pipeline_destroy(p);
    services_free(&sv);
    config_free(cfg);
    return status;
}
