/* Test support: a browse-log writer in a child process, appending numbered records to a file at
 * a steady rate while a daemon follows it. Every record carries its number as `seq=NNNNNNN`;
 * most are one line, some are wrapped over two or three lines (CRLF, as the connectors write
 * them), so the set of numbers a consumer reads back can be compared with the set written. */
#ifndef LME_TEST_WRITER_H
#define LME_TEST_WRITER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct writer_plan {
    const char *path;     /* appended to (created when missing) */
    uint32_t first_seq;   /* records first_seq .. first_seq + count - 1, in that order */
    uint32_t count;
    uint32_t burst;       /* records per write(2): whole records only */
    int interval_ms;      /* between the starts of two bursts */
    size_t pad;           /* extra message bytes per record, to make records longer */
};

struct writer {
    pid_t pid;
};

/* Formats record seq into buf (its line ends included, no NUL needed); returns its length, or 0
 * when size is too small. Records with seq % 10 == 3 take two lines, seq % 10 == 7 three. */
size_t writer_record(uint32_t seq, size_t pad, char *buf, size_t size);

/* The number after the first "seq=" in text (an event.original), or -1. */
long writer_seq_of(const char *text);

/* Forks the writer (killed with the test process, should it die). Returns 0 or -1. */
int writer_start(const struct writer_plan *plan, struct writer *w);

/* Waits up to timeout_ms (0: just looks) for the writer to finish. Returns 0 when it wrote
 * everything, -1 when it failed, 1 when it is still writing (it goes on). */
int writer_wait(struct writer *w, int timeout_ms);

/* Kills the writer if it is still running, and reaps it. */
void writer_stop(struct writer *w);

#endif
