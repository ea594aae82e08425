/* lme-ingest: entry point. Dispatches the subcommand; the only place that exits. */
#include <stdio.h>
#include <string.h>

#include "commands.h"

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: lme-ingest COMMAND [OPTIONS]\n"
            "\n"
            "Ships Exchange connectivity browse logs (Connector for Lotus Notes and its kin)\n"
            "as ECS-aligned JSON events.\n"
            "\n"
            "Commands:\n"
            "  run --config FILE [--once]\n"
            "                    run the pipeline: follow the configured inputs and publish\n"
            "                    every event to the configured sinks (Kafka, files) until\n"
            "                    SIGTERM (SIGHUP reloads); --once: read every input to its\n"
            "                    end, wait for every acknowledgement, exit\n"
            "  diagnose --config FILE [--connector NAME] [--json]\n"
            "                    probe each connector now (Notes.ini, ID file, Notes\n"
            "                    server) and report the probable cause of 41220 errors;\n"
            "                    exit 0 healthy, 1 a fault found\n"
            "  check-config --config FILE\n"
            "                    validate a configuration without starting\n"
            "  parse [FILE...]   parse browse logs (or standard input) and print one JSON\n"
            "                    event per line; see 'lme-ingest parse --help'\n"
            "\n"
            "--config FILE is required by run, check-config and diagnose.\n"
            "'lme-ingest COMMAND --help' tells a command's options, signals and exit status.\n"
            "\n"
            "Options:\n"
            "  -h, --help        show this help\n"
            "  -V, --version     show the version\n"
            "\n"
            "Exit status: 0 ok; 1 an input, a sink or a delivery failed (diagnose: a fault\n"
            "was found); 2 usage or configuration error.\n"
            "\n"
            "See lme-ingest(8) (man lme-ingest).\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return EXIT_OK;
    }
    if (strcmp(cmd, "-V") == 0 || strcmp(cmd, "--version") == 0) {
        printf("lme-ingest %s\n", LME_VERSION);
        return EXIT_OK;
    }
    if (strcmp(cmd, "parse") == 0)
        return parse_cmd_main(argc - 1, argv + 1);
    if (strcmp(cmd, "run") == 0)
        return run_cmd_main(argc - 1, argv + 1);
    if (strcmp(cmd, "diagnose") == 0)
        return diagnose_cmd_main(argc - 1, argv + 1);
    if (strcmp(cmd, "check-config") == 0)
        return check_config_main(argc - 1, argv + 1);

    fprintf(stderr, "lme-ingest: unknown command '%s' (try 'lme-ingest --help')\n", cmd);
    return EXIT_USAGE;
}
