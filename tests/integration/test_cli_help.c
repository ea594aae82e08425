/* Each command's --help tells its options, its signals (run) and its exit status and points to
 * the man page; a missing --config is a usage error whose line is the one README.md quotes.
 * Usage: test_cli_help LME_INGEST FIXTURES_DIR */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run_cmd.h"

static const char *binary, *fixtures;

static void run(const char *cmd, const char *arg, struct run_result *res)
{
    char *argv[] = { (char *)binary, (char *)cmd, (char *)arg, NULL };
    assert_int_equal(run_cmd(argv, NULL, 0, res), 0);
}

/* cmd --help: exit 0, and every one of the NULL-ended texts in what it prints. */
static void help_has(const char *cmd, ...)
{
    struct run_result res;
    run(cmd, "--help", &res);
    assert_int_equal(res.status, 0);
    char usage[64];
    snprintf(usage, sizeof(usage), "Usage: lme-ingest %s", cmd);
    va_list ap;
    va_start(ap, cmd);
    for (const char *want = usage; want; want = va_arg(ap, const char *))
        if (!strstr(res.out, want))
            fail_msg("'lme-ingest %s --help' lacks \"%s\":\n%s", cmd, want, res.out);
    va_end(ap);
    run_result_free(&res);
}

static void test_each_command_tells_options_and_exit_status(void **state)
{
    (void)state;
    help_has("run", "--config FILE", "--once", "--help", "SIGTERM, SIGINT", "SIGHUP",
             "Exit status:", "  0  ", "  1  ", "  2  ", "metrics.listen", "lme-ingest(8)", NULL);
    help_has("check-config", "--config FILE", "--help", "Exit status:", "  0  ", "  2  ",
             "lme-ingest(8)", NULL);
    help_has("diagnose", "--config FILE", "--connector NAME", "--json", "--help", "Exit status:",
             "  0  ", "  1  ", "  2  ", "lme-ingest(8)", NULL);
    help_has("parse", "--timezone ZONE", "--host NAME", "--max-record-bytes N", "--quiet",
             "--help", "Exit status:", "  0  ", "  1  ", "  2  ", "lme-ingest(8)", NULL);
    struct run_result res;
    run("--help", NULL, &res);
    assert_int_equal(res.status, 0);
    assert_non_null(strstr(res.out, "lme-ingest(8)"));
    assert_non_null(strstr(res.out, "COMMAND --help"));
    run_result_free(&res);
}

/* The first line of what `lme-ingest cmd [arg]` writes to standard error, after exit 2. */
static char *usage_error(const char *cmd, const char *arg)
{
    struct run_result res;
    run(cmd, arg, &res);
    assert_int_equal(res.status, 2);
    assert_string_equal(res.out, "");
    res.err[strcspn(res.err, "\n")] = '\0';
    char *line = strdup(res.err);
    run_result_free(&res);
    return line;
}

static void test_config_is_required_as_readme_says(void **state)
{
    (void)state;
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/../../README.md", fixtures);
    size_t len;
    char *readme = read_file(path, &len);
    assert_non_null(readme);
    char *line = usage_error("run", NULL);
    if (!strstr(readme, line))
        fail_msg("README.md does not quote \"%s\"", line);
    free(line);
    const char *cmds[] = { "check-config", "diagnose" };
    for (size_t i = 0; i < 2; i++) {
        line = usage_error(cmds[i], NULL);
        assert_non_null(strstr(line, "--config FILE is required"));
        free(line);
    }
    line = usage_error("run", "extra");
    assert_non_null(strstr(line, "unexpected argument 'extra'"));
    free(line);
    free(readme);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s LME_INGEST FIXTURES_DIR\n", argv[0]);
        return 2;
    }
    binary = argv[1];
    fixtures = argv[2];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_command_tells_options_and_exit_status),
        cmocka_unit_test(test_config_is_required_as_readme_says),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
