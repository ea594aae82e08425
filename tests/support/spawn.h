/* Test support: runs a program to its end with extra environment, its output in files, a time
 * limit, and what it cost (peak resident memory, wall time), for the crash and torture tests. */
#ifndef LME_TEST_SPAWN_H
#define LME_TEST_SPAWN_H

struct spawn_opts {
    char *const *argv;        /* argv[0] is a path; NULL-terminated */
    const char *const *env;   /* "NAME=VALUE" added to the environment, NULL-terminated; may be NULL */
    const char *out_path;     /* standard output goes here (truncated); NULL: /dev/null */
    const char *err_path;     /* standard error goes here (truncated); NULL: /dev/null */
    int timeout_ms;           /* past it the program is killed (SIGKILL) */
};

struct spawn_result {
    int status;        /* exit code, 128 + signal number, or -1 when it had to be killed */
    long max_rss_kb;   /* peak resident set size (getrusage's ru_maxrss) */
    long wall_ms;
};

/* Runs o->argv with standard input from /dev/null and waits for it. Returns 0, or -1 when it
 * could not be started. The child dies with the test (PR_SET_PDEATHSIG). */
int spawn_run(const struct spawn_opts *o, struct spawn_result *r);

#endif
