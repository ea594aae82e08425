/* `lme-ingest run --config FILE [--once]` and `lme-ingest check-config --config FILE`.
 * run --once reads every input to its end and waits for every acknowledgement; run follows the
 * inputs until SIGTERM/SIGINT, then drains within drain_timeout_ms. SIGHUP reloads the config. */
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

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
            printf("Usage: lme-ingest %s --config FILE%s\n", argv[0], allow_once ? " [--once]" : "");
            return 1;
        } else {
            fprintf(stderr, "lme-ingest %s: try 'lme-ingest %s --help'\n", argv[0], argv[0]);
            return -1;
        }
    }
    if (!*config || optind < argc) {
        fprintf(stderr, "lme-ingest %s: --config FILE is required (and nothing else)\n", argv[0]);
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

static int64_t wall_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void apply_log_settings(const struct config *cfg)
{
    lme_log_set_format((enum lme_log_format)cfg->log_format);
    lme_log_set_level((enum lme_log_level)cfg->log_level);
}

/* Starts, moves or stops the metrics endpoint to match cfg; on failure the endpoint is off and
 * the reason logged (the pipeline runs without it). */
static void update_metrics_endpoint(struct services *sv, const struct config *cfg)
{
    const char *want = cfg->metrics_listen;
    if (sv->http && want && strcmp(sv->listen, want) == 0)
        return;
    http_stop(sv->http);
    sv->http = NULL;
    free(sv->listen);
    sv->listen = NULL;
    if (!want)
        return;
    struct lme_err err;
    if (!sv->snap && !(sv->snap = metrics_snapshot_create(&err))) {
        lme_log(LME_LOG_ERROR, "metrics endpoint off", "error", err.msg, NULL);
        return;
    }
    if (!(sv->http = http_start(want, sv->snap, &err))) {
        lme_log(LME_LOG_ERROR, "metrics endpoint off", "error", err.msg, NULL);
        return;
    }
    sv->listen = strdup(want);
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
    pipeline_destroy(*p);
    config_free(*cfg);
    *p = next;
    *cfg = next_cfg;
    apply_log_settings(next_cfg);
    update_metrics_endpoint(sv, next_cfg);
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
    if (pipeline_checkpoint(p, &cperr) != 0)
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
    return EXIT_OK;
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
    struct services sv = { .started_ms = wall_now_ms() };
    struct pipeline *p = pipeline_create(cfg, NULL, &err);
    if (!p) {
        lme_log(LME_LOG_ERROR, "cannot start", "error", err.msg, NULL);
        config_free(cfg);
        return EXIT_USAGE;
    }
    update_metrics_endpoint(&sv, cfg);
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
