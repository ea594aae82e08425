/* The subcommands of lme-ingest; each returns the process exit code (see EXIT_* below). */
#ifndef LME_COMMANDS_H
#define LME_COMMANDS_H

enum {
    EXIT_OK = 0,
    EXIT_INPUT = 1, /* an input could not be read, or the output could not be written */
    EXIT_USAGE = 2, /* bad command line or configuration */
    EXIT_UNVERIFIED = 3, /* diagnose: nothing failed, but some check could not be made */
};

/* lme-ingest parse [--timezone ZONE] [--host NAME] [--max-record-bytes N] [--encoding ENC] [-q]
 *                  [FILE...] */
int parse_cmd_main(int argc, char **argv);
void parse_cmd_usage(void);

/* lme-ingest run --config FILE [--once] */
int run_cmd_main(int argc, char **argv);

/* lme-ingest diagnose --config FILE [--connector NAME] [--json] */
int diagnose_cmd_main(int argc, char **argv);

/* lme-ingest check-config --config FILE */
int check_config_main(int argc, char **argv);

#endif
