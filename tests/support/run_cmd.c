/* Test support: see run_cmd.h. poll(2) drains both pipes while feeding stdin, so a program
 * writing megabytes never blocks against the test. */
#include "run_cmd.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct sink {
    char *data;
    size_t len, cap;
};

static int sink_read(struct sink *s, int fd)
{
    if (s->cap - s->len < 65536 + 1) {
        size_t cap = s->cap ? s->cap * 2 : 131072;
        char *p = realloc(s->data, cap);
        if (!p)
            return -1;
        s->data = p;
        s->cap = cap;
    }
    ssize_t n = read(fd, s->data + s->len, 65536);
    if (n > 0)
        s->len += (size_t)n;
    return (int)n;
}

static void child(char *const argv[], int in_fd, int out_fd, int err_fd)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the test */
    dup2(in_fd, 0);
    dup2(out_fd, 1);
    dup2(err_fd, 2);
    execv(argv[0], argv);
    _exit(127);
}

int run_cmd(char *const argv[], const char *in, size_t in_len, struct run_result *res)
{
    int pin[2], pout[2], perr[2];
    memset(res, 0, sizeof(*res));
    if (pipe2(pin, O_CLOEXEC) || pipe2(pout, O_CLOEXEC) || pipe2(perr, O_CLOEXEC))
        return -1;
    signal(SIGPIPE, SIG_IGN);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0)
        child(argv, pin[0], pout[1], perr[1]);
    close(pin[0]);
    close(pout[1]);
    close(perr[1]);
    if (!in) {
        close(pin[1]);
        pin[1] = -1;
    }

    struct sink out = { 0 }, err = { 0 };
    size_t fed = 0;
    struct pollfd fds[3] = { { pout[0], POLLIN, 0 }, { perr[0], POLLIN, 0 }, { pin[1], POLLOUT, 0 } };
    while (fds[0].fd >= 0 || fds[1].fd >= 0) {
        if (poll(fds, 3, -1) < 0 && errno != EINTR)
            break;
        for (int i = 0; i < 2; i++) {
            if (fds[i].fd >= 0 && (fds[i].revents & (POLLIN | POLLHUP)) &&
                sink_read(i == 0 ? &out : &err, fds[i].fd) <= 0) {
                close(fds[i].fd);
                fds[i].fd = -1;
            }
        }
        if (fds[2].fd >= 0 && (fds[2].revents & (POLLOUT | POLLERR | POLLHUP))) {
            ssize_t w = fds[2].revents & POLLOUT ? write(fds[2].fd, in + fed, in_len - fed) : -1;
            if (w > 0)
                fed += (size_t)w;
            if (w < 0 || fed == in_len) {
                close(fds[2].fd);
                fds[2].fd = -1;
            }
        }
    }
    if (fds[2].fd >= 0)
        close(fds[2].fd);

    int st;
    waitpid(pid, &st, 0);
    res->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    res->out = out.data ? out.data : calloc(1, 1);
    res->out_len = out.len;
    res->err = err.data ? err.data : calloc(1, 1);
    res->err_len = err.len;
    if (out.data)
        out.data[out.len] = '\0';
    if (err.data)
        err.data[err.len] = '\0';
    return 0;
}

void run_result_free(struct run_result *res)
{
    free(res->out);
    free(res->err);
    res->out = res->err = NULL;
}

char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (!buf)
        return NULL;
    buf[n] = '\0';
    if (len)
        *len = (size_t)n;
    return buf;
}

int write_file(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    int rc = fwrite(data, 1, len, f) == len ? 0 : -1;
    return fclose(f) == 0 ? rc : -1;
}

int append_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "ab");
    if (!f)
        return -1;
    size_t len = strlen(text);
    int rc = fwrite(text, 1, len, f) == len ? 0 : -1;
    return fclose(f) == 0 ? rc : -1;
}

char *make_temp_dir(void)
{
    const char *base = getenv("TMPDIR");
    char tmpl[4096];
    snprintf(tmpl, sizeof(tmpl), "%s/lme-test-XXXXXX", base && *base ? base : "/tmp");
    return mkdtemp(tmpl) ? strdup(tmpl) : NULL;
}

#include <ftw.h>

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void remove_tree(const char *path)
{
    if (path)
        nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}
