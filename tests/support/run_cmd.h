/* Test support: runs a real program (the lme-ingest binary) with arguments and optional standard
 * input, capturing its standard output and error. */
#ifndef LME_TEST_RUN_CMD_H
#define LME_TEST_RUN_CMD_H

#include <stddef.h>

struct run_result {
    int status;  /* exit code, or 128 + signal number */
    char *out;   /* standard output, NUL-terminated; free with run_result_free */
    size_t out_len;
    char *err;   /* standard error, NUL-terminated */
    size_t err_len;
};

/* Runs argv[0] (a path) with argv (NULL-terminated); feeds in[0, in_len) to its standard input
 * (none when in is NULL). Returns 0, or -1 when the program could not be started. */
int run_cmd(char *const argv[], const char *in, size_t in_len, struct run_result *res);

void run_result_free(struct run_result *res);

/* Reads a whole file; returns a NUL-terminated malloc'd buffer (NULL on failure). */
char *read_file(const char *path, size_t *len);

/* Writes a whole file; returns 0 or -1. */
int write_file(const char *path, const char *data, size_t len);

/* Appends text to path (created if missing), in one write of the C library. Returns 0 or -1. */
int append_text(const char *path, const char *text);

/* Makes a fresh temporary directory; returns a malloc'd path. remove_tree deletes it. */
char *make_temp_dir(void);
void remove_tree(const char *path);

#endif
