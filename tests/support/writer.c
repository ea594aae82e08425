/* Test support: see writer.h. The child writes each burst with one write(2) of whole records and
 * paces bursts against absolute deadlines (CLOCK_MONOTONIC), so the rate stays steady whatever a
 * write costs. */
#include "writer.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_RECORD 512

/* Filler text for `pad`: words, so the records still read like log text. */
static const char filler[] = " while waiting for the Notes server to answer the session request";

static size_t put_pad(char *p, size_t pad)
{
    for (size_t i = 0; i < pad; i++)
        p[i] = filler[i % (sizeof(filler) - 1)];
    return pad;
}

size_t writer_record(uint32_t seq, size_t pad, char *buf, size_t size)
{
    if (size < MAX_RECORD + pad)
        return 0;
    uint32_t secs = seq / 20; /* a plausible clock: 20 records a second from midnight */
    char head[96];
    snprintf(head, sizeof(head), "1998/03/17 %02u:%02u:%02u - LME-NOTES-MEXNTS(018b) 1 41220:",
             (secs / 3600) % 24, (secs / 60) % 60, secs % 60);
    char *p = buf;
    p += sprintf(p, "%s", head);
    switch (seq % 10) {
    case 3: /* wrapped: the trailer on a line of its own */
        p += sprintf(p, "Error: no Notes Session Open seq=%07u", seq);
        p += put_pad(p, pad);
        p += sprintf(p, "\r\n>> ntshcs(2317)\r\n");
        break;
    case 7: /* wrapped twice: message over two lines, then the trailer */
        p += sprintf(p, "Error: no Notes\r\nSession Open seq=%07u", seq);
        p += put_pad(p, pad);
        p += sprintf(p, "\r\n>> ntshcs(2317)\r\n");
        break;
    default:
        p += sprintf(p, "Error: no Notes Session Open seq=%07u", seq);
        p += put_pad(p, pad);
        p += sprintf(p, " >> ntshcs(2317)\r\n");
    }
    return (size_t)(p - buf);
}

long writer_seq_of(const char *text)
{
    const char *s = text ? strstr(text, "seq=") : NULL;
    if (!s)
        return -1;
    char *end;
    long v = strtol(s + 4, &end, 10);
    return end == s + 11 ? v : -1;
}

static int write_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, data, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        data += w;
        len -= (size_t)w;
    }
    return 0;
}

static void add_ms(struct timespec *t, int ms)
{
    t->tv_nsec += (long)ms * 1000000L;
    t->tv_sec += t->tv_nsec / 1000000000L;
    t->tv_nsec %= 1000000000L;
}

static int write_records(const struct writer_plan *plan)
{
    int fd = open(plan->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    size_t cap = (size_t)plan->burst * (MAX_RECORD + plan->pad);
    char *buf = malloc(cap);
    if (fd < 0 || !buf)
        return -1;
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    uint32_t seq = plan->first_seq, end = plan->first_seq + plan->count;
    int rc = 0;
    while (seq < end && rc == 0) {
        size_t len = 0;
        for (uint32_t i = 0; i < plan->burst && seq < end; i++, seq++)
            len += writer_record(seq, plan->pad, buf + len, cap - len);
        rc = write_all(fd, buf, len);
        add_ms(&next, plan->interval_ms);
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL) == EINTR)
            ;
    }
    free(buf);
    close(fd);
    return rc;
}

int writer_start(const struct writer_plan *plan, struct writer *w)
{
    w->pid = fork();
    if (w->pid < 0)
        return -1;
    if (w->pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        _exit(write_records(plan) == 0 ? 0 : 1);
    }
    return 0;
}

int writer_wait(struct writer *w, int timeout_ms)
{
    for (int waited = 0;; waited += 10) {
        int st;
        pid_t r = w->pid > 0 ? waitpid(w->pid, &st, WNOHANG) : -1;
        if (r < 0)
            return -1;
        if (r == w->pid) {
            w->pid = 0;
            return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
        }
        if (waited >= timeout_ms)
            return 1;
        struct timespec ts = { 0, 10 * 1000000 };
        nanosleep(&ts, NULL);
    }
}

void writer_stop(struct writer *w)
{
    if (w->pid > 0) {
        kill(w->pid, SIGKILL);
        waitpid(w->pid, NULL, 0);
        w->pid = 0;
    }
}
