/* Test support: see spawn.h. wait4 gives the child's own rusage, so the peak memory is the
 * program's, not the test's. */
#include "spawn.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void redirect(const char *path, int to, int flags)
{
    int fd = open(path ? path : "/dev/null", flags, 0644);
    if (fd >= 0 && fd != to) {
        dup2(fd, to);
        close(fd);
    }
}

int spawn_run(const struct spawn_opts *o, struct spawn_result *r)
{
    memset(r, 0, sizeof(*r));
    long start = now_ms();
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        redirect(NULL, 0, O_RDONLY);
        redirect(o->out_path, 1, O_WRONLY | O_CREAT | O_TRUNC);
        redirect(o->err_path, 2, O_WRONLY | O_CREAT | O_TRUNC);
        for (int i = 0; o->env && o->env[i]; i++)
            putenv((char *)o->env[i]);
        execv(o->argv[0], o->argv);
        _exit(127);
    }
    int st = 0;
    struct rusage ru;
    memset(&ru, 0, sizeof(ru));
    int killed = 0;
    for (;;) {
        pid_t w = wait4(pid, &st, WNOHANG, &ru);
        if (w == pid)
            break;
        if (w < 0)
            return -1;
        if (!killed && now_ms() - start > o->timeout_ms) {
            kill(pid, SIGKILL);
            killed = 1;
        }
        struct timespec ts = { 0, 2 * 1000000 };
        nanosleep(&ts, NULL);
    }
    r->wall_ms = now_ms() - start;
    r->max_rss_kb = ru.ru_maxrss;
    r->status = killed ? -1 : WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return 0;
}
