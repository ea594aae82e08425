/* Test support: real processes run in the background (the mock broker, a daemon under test),
 * with a pipe to their standard input and from their standard output. */
#ifndef LME_TEST_PROC_H
#define LME_TEST_PROC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct proc {
    pid_t pid;
    int in_fd;  /* write end of its standard input */
    int out_fd; /* read end of its standard output */
};

/* Milliseconds on the monotonic clock, for deadlines. */
int64_t mono_ms(void);

/* Sleeps ms milliseconds (only between checks of a condition, never instead of one). */
void sleep_ms(int ms);

/* A loopback TCP port nobody listens on now. Returns it, or -1. */
int free_port(void);

/* Starts argv[0] with argv; its standard error goes to err_path (NULL: inherited).
 * Returns 0 or -1. */
int proc_start(char *const argv[], const char *err_path, struct proc *p);

/* Reads one line of its standard output (without '\n') within timeout_ms. Returns 0 or -1. */
int proc_read_line(struct proc *p, char *buf, size_t size, int timeout_ms);

/* Writes a line to its standard input. Returns 0 or -1. */
int proc_send(struct proc *p, const char *line);

/* Waits up to timeout_ms for it to exit; returns its exit code (128 + signal), or -1 on timeout. */
int proc_wait(struct proc *p, int timeout_ms);

/* SIGKILLs it (if still running) and reaps it; closes the pipes. */
void proc_stop(struct proc *p);

/* Waits, checking every 20 ms up to timeout_ms, until the file at path holds text: how tests
 * wait on a daemon's log instead of sleeping. Returns 1 when found, 0 otherwise. */
int file_wait_for(const char *path, const char *text, int timeout_ms);

/* Starts tests/tools' lme-mock-broker with the given topic specs ("name:partitions", NULL-ended)
 * and fills bootstrap (host:port,...). Returns 0 or -1. */
int mock_broker_start(const char *tool, const char *const topics[], struct proc *p,
                      char *bootstrap, size_t size);

/* Sends a command to the mock broker and waits for its "ok". Returns 0 or -1. */
int mock_broker_command(struct proc *p, const char *cmd);

#endif
