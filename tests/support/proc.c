/* Test support: see proc.h. */
#include "proc.h"
#include "run_cmd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int proc_start(char *const argv[], const char *err_path, struct proc *p)
{
    int in[2], out[2];
    if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC))
        return -1;
    signal(SIGPIPE, SIG_IGN);
    p->pid = fork();
    if (p->pid < 0)
        return -1;
    if (p->pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* a failed test leaves no broker behind */
        dup2(in[0], 0);
        dup2(out[1], 1);
        if (err_path) {
            int fd = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
            if (fd >= 0)
                dup2(fd, 2);
        }
        execv(argv[0], argv);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    p->in_fd = in[1];
    p->out_fd = out[0];
    return 0;
}

int proc_read_line(struct proc *p, char *buf, size_t size, int timeout_ms)
{
    size_t n = 0;
    while (n + 1 < size) {
        struct pollfd pfd = { p->out_fd, POLLIN, 0 };
        if (poll(&pfd, 1, timeout_ms) <= 0)
            return -1;
        ssize_t r = read(p->out_fd, buf + n, 1);
        if (r <= 0)
            return -1;
        if (buf[n] == '\n')
            break;
        n++;
    }
    buf[n] = '\0';
    return 0;
}

int proc_send(struct proc *p, const char *line)
{
    size_t len = strlen(line);
    return write(p->in_fd, line, len) == (ssize_t)len && write(p->in_fd, "\n", 1) == 1 ? 0 : -1;
}

int proc_wait(struct proc *p, int timeout_ms)
{
    for (int waited = 0;; waited += 10) {
        int st;
        pid_t r = waitpid(p->pid, &st, WNOHANG);
        if (r == p->pid) {
            p->pid = 0;
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        }
        if (r < 0 || waited >= timeout_ms)
            return -1;
        struct timespec ts = { 0, 10 * 1000000 };
        nanosleep(&ts, NULL);
    }
}

void proc_stop(struct proc *p)
{
    if (p->pid > 0) {
        kill(p->pid, SIGKILL);
        waitpid(p->pid, NULL, 0);
        p->pid = 0;
    }
    if (p->in_fd >= 0)
        close(p->in_fd);
    if (p->out_fd >= 0)
        close(p->out_fd);
    p->in_fd = p->out_fd = -1;
}

int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void sleep_ms(int ms)
{
    struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof(a);
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

int file_wait_for(const char *path, const char *text, int timeout_ms)
{
    for (int waited = 0;; waited += 20) {
        /* the whole file: a daemon following thousands of files logs far more than 64 KiB */
        char *all = read_file(path, NULL);
        bool found = all && strstr(all, text);
        free(all);
        if (found)
            return 1;
        if (waited >= timeout_ms)
            return 0;
        struct timespec ts = { 0, 20 * 1000000 };
        nanosleep(&ts, NULL);
    }
}

int mock_broker_start(const char *tool, const char *const topics[], struct proc *p,
                      char *bootstrap, size_t size)
{
    char *argv[32];
    int n = 0;
    argv[n++] = (char *)tool;
    for (int i = 0; topics[i] && n < 29; i++) {
        argv[n++] = "--topic";
        argv[n++] = (char *)topics[i];
    }
    argv[n] = NULL;
    char line[1024];
    if (proc_start(argv, NULL, p) != 0 || proc_read_line(p, line, sizeof(line), 10000) != 0 ||
        strncmp(line, "bootstrap=", 10) != 0)
        return -1;
    snprintf(bootstrap, size, "%s", line + 10);
    return 0;
}

int mock_broker_command(struct proc *p, const char *cmd)
{
    char line[64];
    if (proc_send(p, cmd) != 0 || proc_read_line(p, line, sizeof(line), 10000) != 0)
        return -1;
    return strcmp(line, "ok") == 0 ? 0 : -1;
}
