/* `lme-ingest run --config FILE [--once]` and `lme-ingest check-config --config FILE`.
 * run: reads every input, hands events to the sinks, then either waits for every acknowledgement
 * and exits (--once), or serves the sinks until SIGTERM/SIGINT and drains within drain_timeout_ms. */
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "config.h"
#include "log.h"
#include "pipeline.h"

static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
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

/* Without --once: serve the sinks until asked to stop. */
static int serve_until_stopped(struct pipeline *p, struct lme_err *err)
{
    while (!stop_requested) {
        int64_t rc = pipeline_drain(p, 200, &stop_requested, err);
        if (rc < 0)
            return (int)rc;
    }
    return 0;
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
    struct config *cfg;
    struct lme_err err;
    if (config_load(file, &cfg, &err) != 0) {
        lme_log(LME_LOG_ERROR, "invalid configuration: not starting", "error", err.msg, NULL);
        return EXIT_USAGE;
    }
    install_signals();
    struct pipeline *p = pipeline_create(cfg, &err);
    if (!p) {
        lme_log(LME_LOG_ERROR, "cannot start", "error", err.msg, NULL);
        config_free(cfg);
        return EXIT_USAGE;
    }
    lme_log(LME_LOG_INFO, "started", "config", file, "mode", once ? "once" : "daemon", NULL);
    int rc = pipeline_read_inputs(p, &stop_requested, &err);
    if (!rc && !once)
        rc = serve_until_stopped(p, &err);
    int status = EXIT_INPUT;
    if (rc)
        lme_log(LME_LOG_ERROR, "pipeline failed", "error", err.msg, NULL);
    else
        status = finish(p, cfg, once);
    pipeline_destroy(p);
    config_free(cfg);
    return status;
}
