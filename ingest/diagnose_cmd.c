/* `lme-ingest diagnose --config FILE [--connector NAME] [--json]`: runs every probe of each
 * configured connector now and prints what an operator can act on. Exit 0 when every check was
 * made and passed, 1 when a fault was found, 2 on a usage or configuration error, 3 when nothing
 * failed but some check could not be made (docs/diagnosis.md). */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "config.h"
#include "enrich.h"
#include "log.h"

/* Its own status: "could not tell" must not read as healthy (0) nor as a fault (1). */

struct options {
    const char *config;
    const char *connector;
    bool json;
};

static void diagnose_usage(void)
{
    printf("Usage: lme-ingest diagnose --config FILE [--connector NAME] [--json]\n"
           "\n"
           "Probes each connector of the configuration now (its Notes.ini, its ID file and\n"
           "its Notes server) and prints the probable cause of 41220 \"no Notes Session\n"
           "Open\" errors, the evidence, the fix and what else is possible\n"
           "(docs/diagnosis.md).\n"
           "\n"
           "Options:\n"
           "  -c, --config FILE     the JSON configuration (required)\n"
           "      --connector NAME  probe only this connector of the configuration\n"
           "      --json            one JSON object per connector, with the fields of\n"
           "                        lme.diagnosis (cause \"none\" when every probe passed)\n"
           "  -h, --help            show this help\n"
           "\n"
           "Exit status:\n"
           "  0  every probe of every connector passed\n"
           "  1  a fault was found\n"
           "  2  usage or configuration error, an unknown connector, or none configured\n"
           "\n"
           "See lme-ingest(8) (man lme-ingest).\n");
}

/* Returns 0, 1 after --help, -1 on a usage error. */
static int parse_options(int argc, char **argv, struct options *o)
{
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' },
        { "connector", required_argument, NULL, 'n' },
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int c;
    while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
        if (c == 'c') {
            o->config = optarg;
        } else if (c == 'n') {
            o->connector = optarg;
        } else if (c == 'j') {
            o->json = true;
        } else if (c == 'h') {
            diagnose_usage();
            return 1;
        } else {
            fprintf(stderr, "lme-ingest diagnose: try 'lme-ingest diagnose --help'\n");
            return -1;
        }
    }
    if (!o->config || optind < argc) {
        fprintf(stderr, "lme-ingest diagnose: --config FILE is required\n");
        return -1;
    }
    return 0;
}

/* Probes one connector and prints its report. Returns 0 or LME_ENOMEM; *cause tells what was
 * found. */
static int diagnose_one(const struct config *cfg, const struct enrich_connector *c, bool json,
                        enum diagnosis_cause *cause)
{
    struct lme_buf out = LME_BUF_INIT;
    int rc = enrich_diagnose(&cfg->enrichment, c, json, &out, cause);
    if (!rc)
        rc = lme_buf_append_str(&out, "\n");
    if (!rc)
        fwrite(out.data, 1, out.len, stdout);
    lme_buf_free(&out);
    return rc;
}

int diagnose_cmd_main(int argc, char **argv)
{
    struct options o = { 0 };
    int opt = parse_options(argc, argv, &o);
    if (opt)
        return opt > 0 ? EXIT_OK : EXIT_USAGE;
    struct config *cfg;
    struct lme_err err;
    if (config_load(o.config, &cfg, &err) != 0) {
        lme_log(LME_LOG_ERROR, "invalid configuration", "error", err.msg, NULL);
        return EXIT_USAGE;
    }
    int status = EXIT_USAGE, faults = 0, unverified = 0, checked = 0;
    for (size_t i = 0; i < cfg->n_connectors; i++) {
        if (o.connector && strcmp(o.connector, cfg->connectors[i].name) != 0)
            continue;
        enum diagnosis_cause cause;
        if (diagnose_one(cfg, &cfg->connectors[i], o.json, &cause) != 0) {
            lme_log(LME_LOG_ERROR, "diagnose: out of memory", NULL);
            goto done;
        }
        faults += cause != CAUSE_NONE && cause != CAUSE_UNVERIFIED;
        unverified += cause == CAUSE_UNVERIFIED;
        checked++;
    }
    if (checked == 0) {
        lme_log(LME_LOG_ERROR, o.connector ? "no such connector in the configuration"
                                           : "the configuration has no connectors",
                "config", o.config, "connector", o.connector ? o.connector : "", NULL);
        goto done;
    }
    status = faults ? EXIT_INPUT : unverified ? EXIT_UNVERIFIED : EXIT_OK;
done:
    fflush(stdout);
    config_free(cfg);
    return status;
}
