/* `lme-ingest run --config FILE [--once]` and `lme-ingest check-config --config FILE`.
 * run --once reads every input to its end and waits for every acknowledgement; run follows the
 * inputs until SIGTERM/SIGINT, then drains within drain_timeout_ms. SIGHUP reloads the config. */
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "config.h"
#include "log.h"
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

/* Hands over from the running pipeline to one built from the new config: everything in flight is
 * settled and checkpointed first, so the files that stay resume exactly where they were. An
 * invalid config, or one that cannot start, leaves the running one in place. */
static void reload(struct pipeline **p, struct config **cfg, const char *file)
{
    struct config *next_cfg;
    struct lme_err err;
    if (config_load(file, &next_cfg, &err) != 0) {
        lme_log(LME_LOG_ERROR, "reload refused: invalid configuration, the running one stays",
                "error", err.msg, NULL);
        return;
    }
    lme_log(LME_LOG_INFO, "reloading", "config", file, NULL);
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
        return;
    }
    pipeline_destroy(*p);
    config_free(*cfg);
    *p = next;
    *cfg = next_cfg;
    lme_log(LME_LOG_INFO, "reloaded", "config", file, NULL);
}

/* Without --once: follow the inputs until asked to stop, reloading on SIGHUP. */
static int follow_until_stopped(struct pipeline **p, struct config **cfg, const char *file,
                                struct lme_err *err)
{
    while (!stop_requested) {
        int rc = pipeline_follow(*p, &stop_requested, &reload_requested, err);
        if (rc)
            return rc;
        if (reload_requested && !stop_requested) {
            reload_requested = 0;
            reload(p, cfg, file);
        }
    }
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
    struct config *cfg;
    struct lme_err err;
    if (config_load(file, &cfg, &err) != 0) {
        lme_log(LME_LOG_ERROR, "invalid configuration: not starting", "error", err.msg, NULL);
        return EXIT_USAGE;
    }
    install_signals();
    struct pipeline *p = pipeline_create(cfg, NULL, &err);
    if (!p) {
        lme_log(LME_LOG_ERROR, "cannot start", "error", err.msg, NULL);
        config_free(cfg);
        return EXIT_USAGE;
    }
    lme_log(LME_LOG_INFO, "started", "config", file, "mode", once ? "once" : "daemon", NULL);
    int rc = once ? pipeline_read_inputs(p, &stop_requested, &err)
                  : follow_until_stopped(&p, &cfg, file, &err);
    int status = EXIT_INPUT;
    if (rc)
        lme_log(LME_LOG_ERROR, "pipeline failed", "error", err.msg, NULL);
    else
        status = finish(p, cfg, once);
    pipeline_destroy(p);
    config_free(cfg);
    return status;
}
